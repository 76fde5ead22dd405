"""Printable labels: which label an organisation may print for an item, and sheets and rolls of them."""

from __future__ import annotations

import io
import zipfile
from typing import Sequence

from registry.domain.errors import DomainError, Problem, conflict, invalid, not_allowed
from registry.domain.identifiers import InvalidIdentifier
from registry.domain.roles import Actor
from registry.labels import make_token, payload_url
from registry.labels.render import Label, label_png, label_svg, roll_png_pages, roll_zpl, sheet_pdf
from registry.services.items import find_item
from registry.store.models import Item
from registry.store.uow import UnitOfWork

PAGE_MM = {"A4": (210.0, 297.0), "A5": (148.0, 210.0), "A3": (297.0, 420.0), "Letter": (215.9, 279.4)}
DEFAULT_LAYOUT = {
    "page": "A4", "cols": 3, "rows": 8, "label_w_mm": None, "label_h_mm": None, "margin_mm": 8.0, "gap_mm": 2.0,
    "width_mm": 40.0, "height_mm": 30.0, "dpi": 203,
}
#: Smallest label cell that still holds a scannable QR code and a line of text.
MIN_CELL_MM = (20.0, 10.0)


def plate_label(uow: UnitOfWork, item: Item) -> Label:
    """Return the plate label of a registered vehicle (码牌合一): the plate's own signed code."""
    key = uow.registry.keys.current
    token = make_token("plate", item.plate, key.key_hash, key.sign)  # Ed25519 is deterministic: same token each time
    return Label("plate", item.plate, payload_url(uow.registry.public_url, token), item.identifier)


def label_of(uow: UnitOfWork, actor: Actor | None, item: Item) -> Label:
    """Return the label *actor* may print for *item*: the maker its items', a registration point plates.

    *actor* None is the command line on the server itself, which may print any.
    """
    if actor is None or (actor.org_kind == "manufacturer" and item.maker_org_id == actor.org_id):
        if not item.code:
            raise conflict("item_has_no_code", "该物品没有二维码", "this item has no code")
        return Label(item.kind, item.identifier, item.code, item.model)
    if actor.org_kind == "registration_point":
        if item.kind == "vehicle" and item.plate:
            return plate_label(uow, item)
        if item.backfilled and item.code:
            return Label(item.kind, item.identifier, item.code, item.model)
        raise conflict("label_not_available", "登记点只能打印号牌码（码牌合一）或补码标签", "a registration point prints plate labels and backfilled items' labels only")
    raise not_allowed("not_your_item", "只能打印本企业生产物品的标签", "only the item's maker may print its label")


def resolve_labels(uow: UnitOfWork, actor: Actor | None, refs: Sequence[dict]) -> list[Label]:
    """Return the labels for ``[{kind, identifier}]``, naming every unknown or forbidden item by position."""
    errors: dict[str, list[tuple[str, str]]] = {}
    labels: list[Label] = []
    refused: list[tuple[int, DomainError]] = []
    for i, ref in enumerate(refs):
        field = f"items.{i}.identifier"
        try:
            item = find_item(uow, ref["identifier"], ref.get("kind"), field=field)
            labels.append(label_of(uow, actor, item))
        except InvalidIdentifier as err:
            errors.setdefault(field, []).append((err.message_zh, err.message_en))
        except DomainError as err:
            if err.status in (403, 409):
                refused.append((i, err))
            else:
                for f, msgs in (err.errors or {field: [(err.message_zh, err.message_en)]}).items():
                    errors.setdefault(f, []).extend(msgs)
    if errors:
        raise invalid(errors, code="invalid_items")
    if refused:
        first = refused[0][1]
        problems = [Problem(err.code, f"items.{i}", err.message_zh, err.message_en) for i, err in refused]
        raise DomainError(first.code, first.message_zh, first.message_en, status=first.status, problems=problems)
    return labels


def check_layout(layout: dict, fmt: str) -> dict:
    """Return the layout with defaults, or refuse (422) one whose labels do not fit the page."""
    out = {**DEFAULT_LAYOUT, **{k: v for k, v in (layout or {}).items() if v is not None}}
    if fmt != "pdf":
        return out
    page_w, page_h = PAGE_MM[out["page"]]
    cols, rows, margin, gap = out["cols"], out["rows"], out["margin_mm"], out["gap_mm"]
    lw = out["label_w_mm"] or (page_w - 2 * margin - (cols - 1) * gap) / cols
    lh = out["label_h_mm"] or (page_h - 2 * margin - (rows - 1) * gap) / rows
    errors = {}
    if 2 * margin + cols * lw + (cols - 1) * gap > page_w + 0.01:
        errors["layout.cols"] = [("标签超出页面宽度", "the labels do not fit the page's width")]
    if 2 * margin + rows * lh + (rows - 1) * gap > page_h + 0.01:
        errors["layout.rows"] = [("标签超出页面高度", "the labels do not fit the page's height")]
    if lw < MIN_CELL_MM[0] or lh < MIN_CELL_MM[1]:
        errors["layout"] = [(f"标签至少需要{MIN_CELL_MM[0]:.0f}×{MIN_CELL_MM[1]:.0f}毫米", f"labels must be at least {MIN_CELL_MM[0]:.0f} x {MIN_CELL_MM[1]:.0f} mm")]
    if errors:
        raise invalid(errors, code="invalid_layout")
    return out


def render(labels: Sequence[Label], fmt: str = "pdf", layout: dict | None = None) -> tuple[bytes, str, str]:
    """Return ``(bytes, mimetype, filename)``: A4 sheets (pdf), roll pages (png, zipped when several) or ZPL."""
    lay = check_layout(layout or {}, fmt)
    if fmt == "pdf":
        data = sheet_pdf(
            labels, page=PAGE_MM[lay["page"]], cols=lay["cols"], rows=lay["rows"], label_w_mm=lay["label_w_mm"],
            label_h_mm=lay["label_h_mm"], margin_mm=lay["margin_mm"], gap_mm=lay["gap_mm"],
        )
        return data, "application/pdf", "labels.pdf"
    if fmt == "zpl":
        text = roll_zpl(labels, width_mm=lay["width_mm"], height_mm=lay["height_mm"], dpi=lay["dpi"])
        return text.encode("utf-8"), "text/plain; charset=utf-8", "labels.zpl"
    if fmt == "png":
        pages = roll_png_pages(labels, width_mm=lay["width_mm"], height_mm=lay["height_mm"], dpi=lay["dpi"])
        if len(pages) == 1:
            return pages[0], "image/png", "label.png"
        buf = io.BytesIO()
        with zipfile.ZipFile(buf, "w", zipfile.ZIP_STORED) as z:
            for i, (label, page) in enumerate(zip(labels, pages), 1):
                z.writestr(f"{i:04d}-{label.kind}-{_safe(label.identifier)}.png", page)
        return buf.getvalue(), "application/zip", "labels.zip"
    raise invalid({"format": [("应为 pdf、png 或 zpl", "must be pdf, png or zpl")]})


def _safe(text: str) -> str:
    return "".join(c if c.isascii() and (c.isalnum() or c in "-_") else "_" for c in text)


def single(label: Label, fmt: str) -> tuple[bytes, str]:
    """Return one label as PNG or SVG and its mimetype."""
    if fmt == "svg":
        return label_svg(label).encode("utf-8"), "image/svg+xml"
    return label_png(label), "image/png"
