"""QR labels for items: PNG, SVG, A4 sheets (PDF) and thermal rolls (PNG pages, ZPL II)."""

from __future__ import annotations

import functools
import io
import math
import multiprocessing
import os
import re
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass
from typing import Callable, Iterable, Sequence
from xml.sax.saxutils import escape as _xml_escape

import qrcode
import qrcode.constants
from PIL import Image, ImageDraw, ImageFont

KIND_ZH = {"vehicle": "整车", "battery": "蓄电池", "charger": "充电器", "plate": "号牌"}
#: Shown instead of KIND_ZH when no CJK font is installed (scripts/install_fonts).
KIND_EN = {"vehicle": "VEHICLE", "battery": "BATTERY", "charger": "CHARGER", "plate": "PLATE"}

#: Tried in order after $REGISTRY_CJK_FONT; the first is Debian's fonts-noto-cjk.
CJK_FONT_PATHS = (
    "/usr/share/fonts/opentype/noto/NotoSansCJK-Regular.ttc",
    "/usr/share/fonts/opentype/noto/NotoSansCJK-Medium.ttc",
    "/usr/share/fonts/opentype/noto/NotoSansCJK-Bold.ttc",
    "/usr/share/fonts/noto-cjk/NotoSansCJK-Regular.ttc",
    "/usr/share/fonts/google-noto-cjk/NotoSansCJK-Regular.ttc",
    "/usr/share/fonts/opentype/noto/NotoSerifCJK-Regular.ttc",
    "/usr/share/fonts/truetype/wqy/wqy-microhei.ttc",
    "/usr/share/fonts/truetype/wqy/wqy-zenhei.ttc",
    "/usr/share/fonts/truetype/arphic/uming.ttc",
    "/usr/share/fonts/truetype/droid/DroidSansFallbackFull.ttf",
)
_BUNDLED_FONT_DIR = os.path.join(os.path.dirname(os.path.dirname(__file__)), "static", "fonts")
_FONT_EXTS = (".ttc", ".otc", ".ttf", ".otf")

QUIET_MODULES = 4  # the quiet zone ISO/IEC 18004 asks for
_QR_ALNUM = frozenset("0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ $%*+-./:")
_URL_PARTS = re.compile(r"(https?://[^/\s?#]+)(/[^\s?#]*)?(/c/[0-9A-Za-z]+/?)", re.IGNORECASE)
MM_PER_INCH = 25.4


@dataclass
class Label:
    """One printable label: the item, its QR payload and an optional caption (e.g. model)."""

    kind: str
    identifier: str
    payload: str
    caption: str | None = None


# --------------------------------------------------------------------------- fonts


def find_cjk_font() -> str | None:
    """Return the path of a font with Chinese glyphs, or None when none is installed."""
    override = os.environ.get("REGISTRY_CJK_FONT")
    if override and os.path.isfile(override):
        return override
    for path in CJK_FONT_PATHS:
        if os.path.isfile(path):
            return path
    try:
        bundled = sorted(f for f in os.listdir(_BUNDLED_FONT_DIR) if f.lower().endswith(_FONT_EXTS))
    except OSError:
        bundled = []
    return os.path.join(_BUNDLED_FONT_DIR, bundled[0]) if bundled else None


@functools.lru_cache(maxsize=8)
def _face_index(path: str) -> int:
    """Return the face of a collection to use: Simplified Chinese when it has one."""
    if not path.lower().endswith((".ttc", ".otc")):
        return 0
    for index in range(32):
        try:
            family = ImageFont.truetype(path, 12, index=index).getname()[0] or ""
        except OSError:
            break
        if family.endswith(" SC") or " SC " in family:
            return index
    return 0


@functools.lru_cache(maxsize=1)
def _cjk_font() -> tuple[str, int] | None:
    path = find_cjk_font()
    if path is None:
        return None
    try:
        index = _face_index(path)
        ImageFont.truetype(path, 12, index=index)
    except OSError:
        return None  # unreadable file: behave as if there were no CJK font
    return path, index


@functools.lru_cache(maxsize=256)
def _pil_font(size: int) -> ImageFont.FreeTypeFont | ImageFont.ImageFont:
    size = max(1, int(size))
    cjk = _cjk_font()
    if cjk is not None:
        return ImageFont.truetype(cjk[0], size, index=cjk[1])
    return ImageFont.load_default(size)


def clear_font_cache() -> None:
    """Forget the font found, e.g. after installing one or changing REGISTRY_CJK_FONT."""
    _face_index.cache_clear()
    _cjk_font.cache_clear()
    _pil_font.cache_clear()
    _measure_px.cache_clear()


def kind_caption(kind: str) -> str:
    """Return the kind as printed: Chinese with a CJK font, English without."""
    if _cjk_font() is not None:
        return KIND_ZH.get(kind, kind)
    return KIND_EN.get(kind, kind.upper())


def _printable(text: str) -> str:
    """Return text the current font can draw (non-ASCII becomes '?' without a CJK font)."""
    if _cjk_font() is not None:
        return text
    return "".join(c if c.isascii() else "?" for c in text)


# --------------------------------------------------------------------------- QR


def qr_text(payload: str) -> str:
    """Return the text to encode: the payload upper-cased when that keeps it valid."""
    upper = payload.upper()
    if upper == payload or not payload.isascii() or not set(upper) <= _QR_ALNUM:
        return payload
    m = _URL_PARTS.fullmatch(payload)
    if m is None:
        return payload
    # Scheme, host and the /c/ segment are case-insensitive and tokens are 0-9A-Z;
    # a path prefix of the public URL might not be, so keep it as it is.
    prefix = m.group(2) or ""
    if prefix.upper() != prefix:
        return payload
    return upper


@functools.lru_cache(maxsize=4096)
def _qr_matrix_cached(text: str) -> tuple[tuple[bool, ...], ...]:
    try:
        return _zxing_matrix(text)
    except (ImportError, ValueError, RuntimeError):
        pass  # no zxing-cpp, or a text it refuses: the pure-Python encoder is the reference
    qr = qrcode.QRCode(error_correction=qrcode.constants.ERROR_CORRECT_M, border=0, box_size=1)
    qr.add_data(text)
    qr.make(fit=True)
    return tuple(tuple(bool(m) for m in row) for row in qr.get_matrix())


def _zxing_matrix(text: str) -> tuple[tuple[bool, ...], ...]:
    """Encode with zxing-cpp's C++ writer: same version and level as qrcode, ~100x faster.

    Choosing the mask (8 trial encodings scored by penalty rules) makes the
    pure-Python encoder the bulk of a label's cost; see scripts/bench_labels.py.
    """
    import zxingcpp

    image = zxingcpp.create_barcode(text, zxingcpp.BarcodeFormat.QRCode, ec_level="M").to_image(scale=1, add_quiet_zones=False)
    height, width = image.shape
    data = bytes(memoryview(image))
    return tuple(tuple(v < 128 for v in data[y * width : (y + 1) * width]) for y in range(height))


def qr_matrix(payload: str) -> list[list[bool]]:
    """Return the QR modules (True = dark, no quiet zone) for a payload at error correction M."""
    return [list(row) for row in _qr_matrix_cached(qr_text(payload))]


def qr_version(payload: str) -> int:
    """Return the QR version a payload needs."""
    return (len(_qr_matrix_cached(qr_text(payload))) - 17) // 4


def _runs(matrix: Sequence[Sequence[bool]]) -> Iterable[tuple[int, int, int]]:
    """Yield (row, column, length) for each horizontal run of dark modules."""
    for y, row in enumerate(matrix):
        x, n = 0, len(row)
        while x < n:
            if row[x]:
                start = x
                while x < n and row[x]:
                    x += 1
                yield y, start, x - start
            else:
                x += 1


def _qr_image(matrix: Sequence[Sequence[bool]], module_px: int) -> Image.Image:
    n = len(matrix)
    small = Image.frombytes("L", (n, n), bytes(0 if m else 255 for row in matrix for m in row))
    return small.resize((n * module_px, n * module_px), Image.Resampling.NEAREST)


# --------------------------------------------------------------------------- text layout


@dataclass
class _Line:
    text: str
    size: float  # em height, in the unit of the layout
    y: float  # top of the line box, relative to the text box


def _wrap(text: str, width: float, measure: Callable[[str], float]) -> list[str]:
    """Break text into lines no wider than width, preferring breaks after '-'."""
    chunks = re.findall(r"[^-]*-|[^-]+", text) or [text]
    lines: list[str] = []
    current = ""
    for chunk in chunks:
        if measure(current + chunk) <= width:
            current += chunk
            continue
        if current:
            lines.append(current)
            current = ""
        for c in chunk:  # chunk alone too wide: break between characters
            if current and measure(current + c) > width:
                lines.append(current)
                current = ""
            current += c
    if current:
        lines.append(current)
    return lines


def _fit(text: str, width: float, measure: Callable[[str], float]) -> str:
    """Cut text to width with an ellipsis."""
    if measure(text) <= width:
        return text
    ellipsis = "…" if _cjk_font() is not None else "..."
    while text and measure(text + ellipsis) > width:
        text = text[:-1]
    return text + ellipsis


def _layout_text(
    label: Label, box_w: float, box_h: float, measure: Callable[[str, float], float]
) -> list[_Line]:
    """Place kind, identifier and caption in a box at the largest size that fits."""
    if box_w <= 0 or box_h <= 0:
        return []
    kind_text = kind_caption(label.kind)
    ident = _printable(label.identifier)
    caption = _printable(label.caption) if label.caption else None
    leading, cap_ratio, min_size = 1.2, 0.8, box_h / 40
    # Shrinking the text lets the identifier take fewer lines. Keep, for each line
    # count, the largest size that fits; then trade size against breaks, since an
    # unbroken identifier is easier to read back and to type.
    candidates: dict[int, tuple[float, list[str]]] = {}
    size = box_h / (leading * 3.2)
    while size >= min_size:
        wrapped = _wrap(ident, box_w, lambda t: measure(t, size))
        lines_h = leading * size * (1 + len(wrapped) + (cap_ratio if caption else 0))
        if lines_h <= box_h and measure(kind_text, size) <= box_w:
            candidates.setdefault(len(wrapped), (size, wrapped))
            if len(wrapped) == 1:
                break
        size *= 0.93
    if candidates:
        size, id_lines = max(candidates.values(), key=lambda c: c[0] * 0.8 ** (len(c[1]) - 1))
    else:  # nothing fits: draw at the smallest size and let it clip
        size = min_size
        id_lines = _wrap(ident, box_w, lambda t: measure(t, size))
    cap_size = size * cap_ratio
    lines = [_Line(kind_text, size, 0.0)]
    y = leading * size
    for text in id_lines:
        lines.append(_Line(text, size, y))
        y += leading * size
    if caption:
        lines.append(_Line(_fit(caption, box_w, lambda t: measure(t, cap_size)), cap_size, y))
    return lines


def _pil_measure(text: str, size: float) -> float:
    return _measure_px(text, round(size))


@functools.lru_cache(maxsize=65536)
def _measure_px(text: str, size: int) -> float:
    # Layout tries several sizes and wraps by prefixes; a batch repeats both.
    return _pil_font(size).getlength(text)


# --------------------------------------------------------------------------- PNG


def _draw_label(label: Label, width: int, height: int, module_px: int | None = None) -> Image.Image:
    """Return a grayscale image of a label: QR on the left (or top) and the text beside it."""
    matrix = _qr_matrix_cached(qr_text(label.payload))
    n = len(matrix) + 2 * QUIET_MODULES
    landscape = width >= height
    side = height if landscape else width
    if module_px is None:
        module_px = max(1, side // n)
    qr_side = n * module_px
    img = Image.new("L", (width, height), 255)
    offset = (side - qr_side) // 2 + QUIET_MODULES * module_px
    img.paste(_qr_image(matrix, module_px), (offset, offset))

    pad = max(2, module_px * 2)
    if landscape:
        box_x, box_y = qr_side + (side - qr_side) // 2, pad
        box_w, box_h = width - box_x - pad, height - 2 * pad
    else:
        box_x, box_y = pad, qr_side + (side - qr_side) // 2
        box_w, box_h = width - 2 * pad, height - box_y - pad
    if box_w > 0 and box_h > 0:
        draw = ImageDraw.Draw(img)
        for line in _layout_text(label, box_w, box_h, _pil_measure):
            draw.text((box_x, box_y + line.y), line.text, fill=0, font=_pil_font(round(line.size)))
    return img


def _png(img: Image.Image, dpi: int) -> bytes:
    buf = io.BytesIO()
    # Level 3: labels are mostly flat runs, so it is nearly as small as the default 6 at half the time.
    img.save(buf, "PNG", dpi=(dpi, dpi), optimize=False, compress_level=3)
    return buf.getvalue()


def label_png(label: Label, *, module_px: int = 6, dpi: int = 300) -> bytes:
    """Return one label as PNG: the QR with the kind and identifier in readable text beside it."""
    n = len(_qr_matrix_cached(qr_text(label.payload))) + 2 * QUIET_MODULES
    height = n * module_px
    return _png(_draw_label(label, round(height * 2.1), height, module_px), dpi)


def _render_one(label: Label) -> bytes:
    return label_png(label)


def render_many_png(labels: Sequence[Label], *, processes: int | None = None) -> list[bytes]:
    """Return label_png for many labels, spread over the machine's cores."""
    labels = list(labels)
    workers = processes or os.cpu_count() or 1
    workers = min(workers, len(labels))
    if workers <= 1:
        return [_render_one(label) for label in labels]
    # forkserver: forking a threaded web server is unsafe; spawn is the portable fallback.
    methods = multiprocessing.get_all_start_methods()
    context = multiprocessing.get_context("forkserver" if "forkserver" in methods else "spawn")
    chunksize = max(1, math.ceil(len(labels) / (workers * 4)))
    with ProcessPoolExecutor(max_workers=workers, mp_context=context) as pool:
        return list(pool.map(_render_one, labels, chunksize=chunksize))


def roll_png_pages(
    labels: Sequence[Label], *, width_mm: float = 40, height_mm: float = 30, dpi: int = 203
) -> list[bytes]:
    """Return one 1-bit PNG per label, sized for a 203 or 300 dpi thermal roll."""
    width = round(width_mm / MM_PER_INCH * dpi)
    height = round(height_mm / MM_PER_INCH * dpi)
    pages = []
    for label in labels:
        img = _draw_label(label, width, height)
        pages.append(_png(img.convert("1", dither=Image.Dither.NONE), dpi))
    return pages


# --------------------------------------------------------------------------- SVG


def label_svg(label: Label) -> str:
    """Return one label as SVG (QR as a path, 0.5 mm modules)."""
    matrix = _qr_matrix_cached(qr_text(label.payload))
    n = len(matrix) + 2 * QUIET_MODULES
    width, height = n * 2.1, float(n)
    q = QUIET_MODULES
    path = "".join(f"M{x + q} {y + q}h{w}v1h-{w}z" for y, x, w in _runs(matrix))
    box_x, box_y, pad = float(n), 2.0, 2.0
    lines = _layout_text(
        label,
        width - box_x - pad,
        height - 2 * pad,
        lambda t, s: _pil_font(100).getlength(t) * s / 100,
    )
    family = "Noto Sans CJK SC, Noto Sans SC, Source Han Sans SC, WenQuanYi Micro Hei, sans-serif"
    texts = "".join(
        f'<text x="{box_x:.2f}" y="{box_y + line.y + line.size * 0.88:.2f}" '
        f'font-size="{line.size:.2f}">{_xml_escape(line.text)}</text>'
        for line in lines
    )
    mm = 0.5
    return (
        '<?xml version="1.0" encoding="UTF-8"?>\n'
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{width * mm:.2f}mm" '
        f'height="{height * mm:.2f}mm" viewBox="0 0 {width:.2f} {height:.2f}">'
        f'<rect width="100%" height="100%" fill="#fff"/>'
        f'<path d="{path}" fill="#000" shape-rendering="crispEdges"/>'
        f'<g font-family="{family}" fill="#000">{texts}</g>'
        f"<desc>{_xml_escape(label.payload)}</desc></svg>\n"
    )


# --------------------------------------------------------------------------- PDF


def sheet_pdf(
    labels: Sequence[Label],
    *,
    page: str = "A4",
    cols: int = 3,
    rows: int = 8,
    label_w_mm: float | None = None,
    label_h_mm: float | None = None,
    margin_mm: float = 8.0,
    gap_mm: float = 2.0,
) -> bytes:
    """Return printable label sheets (default A4, 3 x 8 = 24 per page) with vector QR codes."""
    from fpdf import FPDF  # imported here: only sheets need it

    if cols < 1 or rows < 1:
        raise ValueError("cols and rows must be at least 1")
    pdf = FPDF(orientation="portrait", unit="mm", format=page)
    pdf.set_auto_page_break(False)
    pdf.set_margin(0)
    pdf.set_creator("yima")
    cjk = _cjk_font()
    if cjk is not None:
        pdf.add_font("cjk", fname=cjk[0], collection_font_number=cjk[1])
        family = "cjk"
    else:
        family = "helvetica"

    lw = label_w_mm or (pdf.w - 2 * margin_mm - (cols - 1) * gap_mm) / cols
    lh = label_h_mm or (pdf.h - 2 * margin_mm - (rows - 1) * gap_mm) / rows
    pt_per_mm = 72 / MM_PER_INCH

    def measure(text: str, size_mm: float) -> float:
        pdf.set_font(family, size=size_mm * pt_per_mm)
        return pdf.get_string_width(text)

    def text_for_pdf(text: str) -> str:
        return text if cjk is not None else text.encode("latin-1", "replace").decode("latin-1")

    per_page = cols * rows
    pdf.set_fill_color(0, 0, 0)
    if not labels:
        pdf.add_page()
    for i, label in enumerate(labels):
        if i % per_page == 0:
            pdf.add_page()
        col, row = (i % per_page) % cols, (i % per_page) // cols
        x0 = margin_mm + col * (lw + gap_mm)
        y0 = margin_mm + row * (lh + gap_mm)
        matrix = _qr_matrix_cached(qr_text(label.payload))
        n = len(matrix) + 2 * QUIET_MODULES
        side = min(lh, lw * 0.6)
        m = side / n
        qx = x0 + QUIET_MODULES * m
        qy = y0 + (lh - side) / 2 + QUIET_MODULES * m
        # Runs of modules as rectangles, slightly overlapping so no hairlines show.
        for y, x, w in _runs(matrix):
            pdf.rect(qx + x * m, qy + y * m, w * m + 0.01, m + 0.01, style="F")
        box_x, pad = x0 + side, min(1.5, lh / 12)
        lines = _layout_text(
            Label(label.kind, text_for_pdf(label.identifier), label.payload,
                  text_for_pdf(label.caption) if label.caption else None),
            lw - side - pad,
            lh - 2 * pad,
            measure,
        )
        for line in lines:
            pdf.set_font(family, size=line.size * pt_per_mm)
            pdf.text(box_x, y0 + pad + line.y + line.size * 0.88, text_for_pdf(line.text))
    return bytes(pdf.output())


# --------------------------------------------------------------------------- ZPL


def _zpl_escape(text: str) -> str:
    """Escape ZPL's command characters for a field preceded by ^FH."""
    return text.replace("_", "_5F").replace("^", "_5E").replace("~", "_7E")


def _zpl_field(data: str) -> str:
    """Return ^FD data, with ^FH hex escapes only when the data needs them."""
    escaped = _zpl_escape(data)
    return f"^FD{data}" if escaped == data else f"^FH^FD{escaped}"


def _zpl_graphic(img: Image.Image) -> str:
    """Return a ^GFA field (ASCII hex, 1 = black) for a 1-bit image."""
    # PIL's "1" mode stores white as 1; ZPL wants black as 1, so invert first.
    bw = img.point(lambda v: 0 if v >= 128 else 255).convert("1", dither=Image.Dither.NONE)
    row_bytes = (bw.width + 7) // 8
    data = bw.tobytes()
    total = len(data)
    return f"^GFA,{total},{total},{row_bytes},{data.hex().upper()}"


def roll_zpl(
    labels: Sequence[Label], *, width_mm: float = 40, height_mm: float = 30, dpi: int = 203
) -> str:
    """Return ZPL II for a thermal roll: native ^BQ QR codes, text as bitmaps (no printer font)."""
    width = round(width_mm / MM_PER_INCH * dpi)
    height = round(height_mm / MM_PER_INCH * dpi)
    out = []
    for label in labels:
        text = qr_text(label.payload)
        matrix = _qr_matrix_cached(text)
        mag = max(1, min(10, min(height, width * 2 // 3) // (len(matrix) + 2 * QUIET_MODULES)))
        quiet = QUIET_MODULES * mag
        qr_side = len(matrix) * mag
        qr_y = max(0, (height - qr_side) // 2)
        box_x, pad = quiet + qr_side + quiet, 8
        box_w, box_h = width - box_x - pad, height - 2 * pad
        text_img = Image.new("L", (max(box_w, 8), max(box_h, 8)), 255)
        draw = ImageDraw.Draw(text_img)
        for line in _layout_text(label, box_w, box_h, _pil_measure):
            draw.text((0, line.y), line.text, fill=0, font=_pil_font(round(line.size)))
        comment = _zpl_escape(f"{label.kind} {label.identifier}")
        out.append(
            "^XA\n"
            "^CI28\n"
            f"^PW{width}\n^LL{height}\n^LH0,0\n"
            f"^FX {comment}\n"  # a comment naming the item, for whoever reads the job
            f"^FO{quiet},{qr_y}^BQN,2,{mag}{_zpl_field('MA,' + text)}^FS\n"
            f"^FO{box_x},{pad}{_zpl_graphic(text_img)}^FS\n"
            "^PQ1\n"
            "^XZ\n"
        )
    return "".join(out)
