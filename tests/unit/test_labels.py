"""Signed code tokens and QR labels (registry.labels): pure, no database."""

from __future__ import annotations

import glob
import hashlib
import io
import shutil
import string
import subprocess
import xml.etree.ElementTree as ET

import pytest
import qrcode
import qrcode.constants
import zxingcpp
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from PIL import Image

from registry.labels import (
    DecodedCode,
    InvalidCode,
    decode_token,
    make_token,
    payload_url,
    token_from_payload,
    verify_code_offline,
    verify_token,
)
from registry.labels import codes, render
from registry.labels.codes import KINDS, MAX_TOKEN_LEN, MIN_TOKEN_LEN, signed_message
from registry.labels.render import (
    KIND_EN,
    KIND_ZH,
    Label,
    label_png,
    label_svg,
    qr_matrix,
    qr_text,
    qr_version,
    render_many_png,
    roll_png_pages,
    roll_zpl,
    sheet_pdf,
)

from tests.conftest import unavailable

B36 = string.digits + string.ascii_uppercase
IDENT_ALPHABET = B36 + "-"
LOCAL_URL = "http://127.0.0.1:5000"
PUBLIC_URL = "https://traceability.ningbo-police.gov.cn"  # ~40 characters

FRAME = "117322500000001"
BATTERY = "CATLF48V2026000001"
BATTERY_40 = "CATL" + "F48V2026" * 4 + "0001"
CHARGER = "MA2H3K8L1-26-48-000001"
PLATE = "浙B·A0001"
LEGACY = "AB12345678"

SAMPLES = [
    ("vehicle", FRAME),
    ("vehicle", "LEGACY0001"),
    ("battery", BATTERY),
    ("battery", BATTERY_40),
    ("battery", "CATLF48V2026-R0001"),
    ("charger", CHARGER),
    ("plate", PLATE),
    ("plate", "沪A12345"),
]

no_db = settings(database=None, deadline=None, suppress_health_check=[HealthCheck.too_slow])


class Signer:
    """An Ed25519 key with its 4-byte id, as the registry publishes it."""

    def __init__(self) -> None:
        self.private = Ed25519PrivateKey.generate()
        self.public_raw = self.private.public_key().public_bytes_raw()
        self.key_id = hashlib.sha256(self.public_raw).digest()[:4]

    @property
    def published(self) -> dict[str, bytes]:
        return {self.key_id.hex(): self.public_raw}

    def token(self, kind: str, identifier: str) -> str:
        return make_token(kind, identifier, self.key_id, self.private.sign)


KEY = Signer()
OTHER = Signer()


def _decode_png(data: bytes) -> list[str]:
    with Image.open(io.BytesIO(data)) as img:
        return [r.text for r in zxingcpp.read_barcodes(img)]


def _labels(samples=SAMPLES, base=LOCAL_URL) -> list[Label]:
    return [
        Label(kind, ident, payload_url(base, KEY.token(kind, ident)), caption="雅迪 TDT1234Z")
        for kind, ident in samples
    ]


# --------------------------------------------------------------------------- tokens


@pytest.mark.parametrize("kind,identifier", SAMPLES)
def test_a_token_round_trips_kind_identifier_and_key_id(kind, identifier):
    token = KEY.token(kind, identifier)

    decoded = verify_token(token, KEY.published)

    assert decoded == DecodedCode(kind, identifier, KEY.key_id.hex(), token, 1)
    assert decode_token(token) == decoded


@pytest.mark.parametrize("kind,identifier", SAMPLES)
def test_a_token_holds_only_qr_alphanumeric_characters_and_starts_with_its_version(
    kind, identifier
):
    token = KEY.token(kind, identifier)

    assert set(token) <= set(B36)
    assert token.upper() == token
    assert token[0] == "1"
    assert MIN_TOKEN_LEN <= len(token) <= MAX_TOKEN_LEN


def test_tokens_are_compact_for_the_common_identifiers():
    assert len(KEY.token("vehicle", FRAME)) == 121
    assert len(KEY.token("battery", BATTERY)) == 128
    assert len(KEY.token("battery", BATTERY_40)) <= 152


def test_a_token_has_a_fixed_length_for_a_given_identifier_shape():
    lengths = {len(Signer().token("vehicle", f"1173225{n:08d}")) for n in range(20)}

    assert lengths == {121}


def test_the_signed_message_is_domain_separated_and_names_kind_key_and_identifier():
    message = signed_message("battery", BATTERY, KEY.key_id)

    assert message.startswith(b"yima-code/v1\n")
    key_hex = KEY.key_id.hex().encode()
    assert message == b"yima-code/v1\nbattery\n" + key_hex + b"\n" + BATTERY.encode()
    assert signed_message("charger", BATTERY, KEY.key_id) != message


@given(
    kind=st.sampled_from(KINDS),
    identifier=st.text(alphabet=IDENT_ALPHABET, min_size=1, max_size=40),
)
@no_db
def test_any_identifier_from_the_alphabet_round_trips(kind, identifier):
    token = KEY.token(kind, identifier)

    decoded = verify_token(token, KEY.published)

    assert (decoded.kind, decoded.identifier, decoded.token) == (kind, identifier, token)


@given(
    identifier=st.text(
        alphabet=st.characters(
            codec="utf-8", exclude_categories=("Cc", "Cs", "Zs", "Zl", "Zp", "Cf", "Co", "Cn")
        ),
        min_size=1,
        max_size=15,
    )
)
@no_db
def test_any_printable_unicode_identifier_round_trips(identifier):
    token = KEY.token("plate", identifier)

    assert verify_token(token, KEY.published).identifier == identifier


def test_an_identifier_too_long_or_with_spaces_cannot_be_coded():
    for bad in ["", "A" * 64, "浙B A0001", "AB\n12"]:
        with pytest.raises(ValueError):
            KEY.token("vehicle", bad)
    with pytest.raises(ValueError):
        KEY.token("bicycle", FRAME)


def _refused(token: str) -> bool:
    """Return whether verify_token refuses the token with InvalidCode (anything else propagates)."""
    try:
        verify_token(token, KEY.published)
    except InvalidCode:
        return True
    return False


@pytest.mark.parametrize(
    "kind,identifier", [("vehicle", FRAME), ("charger", CHARGER), ("plate", PLATE)]
)
def test_changing_any_single_character_of_a_token_is_refused(kind, identifier):
    token = KEY.token(kind, identifier)

    for i, original in enumerate(token):
        for c in B36:
            if c != original:
                altered = token[:i] + c + token[i + 1 :]
                assert _refused(altered), (i, c)


@pytest.mark.parametrize("kind,identifier", [("vehicle", FRAME), ("battery", BATTERY)])
def test_dropping_or_adding_a_character_anywhere_is_refused(kind, identifier):
    token = KEY.token(kind, identifier)

    for i in range(len(token)):
        assert _refused(token[:i] + token[i + 1 :]), i
    for i in range(len(token) + 1):
        for c in "019AZ":
            assert _refused(token[:i] + c + token[i:]), (i, c)


def test_a_lower_case_token_is_refused_by_the_strict_decoder_but_read_from_a_payload():
    token = KEY.token("vehicle", FRAME)

    with pytest.raises(InvalidCode) as caught:
        decode_token(token.lower())
    assert caught.value.code == "token_malformed"
    assert token_from_payload(token.lower()) == token


def test_a_token_signed_with_another_key_under_the_same_id_fails_its_signature():
    forged = make_token("vehicle", FRAME, KEY.key_id, OTHER.private.sign)

    assert decode_token(forged).identifier == FRAME  # decoding alone does not check
    with pytest.raises(InvalidCode) as caught:
        verify_token(forged, KEY.published)
    assert caught.value.code == "signature_invalid"


def test_a_token_from_an_unpublished_key_is_an_unknown_key():
    token = OTHER.token("vehicle", FRAME)

    with pytest.raises(InvalidCode) as caught:
        verify_token(token, KEY.published)
    assert caught.value.code == "unknown_key"


def test_a_rotated_key_keeps_old_codes_verifiable():
    old = KEY.token("battery", BATTERY)
    new = OTHER.token("battery", BATTERY)
    keys = {**KEY.published, **OTHER.published}

    assert verify_token(old, keys).key_id == KEY.key_id.hex()
    assert verify_token(new, keys).key_id == OTHER.key_id.hex()


def test_a_signature_for_one_identifier_does_not_verify_another():
    token = KEY.token("vehicle", FRAME)
    body_sig = make_token("vehicle", "117322500000002", KEY.key_id, lambda _m: KEY.private.sign(
        signed_message("vehicle", FRAME, KEY.key_id)))

    assert token != body_sig
    with pytest.raises(InvalidCode) as caught:
        verify_token(body_sig, KEY.published)
    assert caught.value.code == "signature_invalid"


@pytest.mark.parametrize(
    "text,code",
    [
        ("", "token_malformed"),
        ("1" * 121, "token_malformed"),
        ("2" + KEY.token("vehicle", FRAME)[1:], "token_unsupported_version"),
        ("1" + "Z" * 120, "token_not_canonical"),
        ("1" + "0" * 119, "token_malformed"),
        ("1" + "0" * 2000, "token_malformed"),
    ],
)
def test_broken_tokens_name_what_is_wrong(text, code):
    with pytest.raises(InvalidCode) as caught:
        decode_token(text)
    assert caught.value.code == code


@given(text=st.text(max_size=300))
@no_db
def test_random_text_only_ever_raises_invalid_code_or_is_not_a_payload(text):
    _only_invalid_code(text)


@given(text=st.text(alphabet=B36, min_size=100, max_size=220).map(lambda t: "1" + t))
@no_db
def test_random_token_shaped_text_only_ever_raises_invalid_code(text):
    _only_invalid_code(text)


@given(data=st.data())
@no_db
def test_randomly_mangled_tokens_only_ever_raise_invalid_code(data):
    kind = data.draw(st.sampled_from(KINDS))
    token = KEY.token(kind, data.draw(st.sampled_from([FRAME, CHARGER, PLATE])))
    i = data.draw(st.integers(0, len(token) - 1))
    j = data.draw(st.integers(i, len(token)))
    mangled = token[:i] + data.draw(st.text(alphabet=B36, max_size=4)) + token[j:]
    if mangled != token:
        assert _refused(mangled)
        _only_invalid_code(payload_url(LOCAL_URL, mangled))


def _only_invalid_code(text: str) -> None:
    checks = (
        decode_token,
        lambda t: verify_token(t, KEY.published),
        lambda t: verify_code_offline(t, KEY.published),
    )
    for check in checks:
        try:
            check(text)
        except InvalidCode as exc:
            assert exc.code and exc.code == exc.code.lower()
    token = token_from_payload(text)
    assert token is None or (token and set(token) <= set(B36))


# --------------------------------------------------------------------------- payloads


def test_payload_url_joins_the_public_url_and_the_token():
    assert payload_url("https://example.org/", "1ABC") == "https://example.org/c/1ABC"
    assert payload_url(LOCAL_URL, "1ABC") == "http://127.0.0.1:5000/c/1ABC"


@pytest.mark.parametrize(
    "template",
    [
        "http://127.0.0.1:5000/c/{t}",
        "HTTP://127.0.0.1:5000/C/{t}",
        "https://traceability.example.gov.cn/c/{t}",
        "HTTPS://TRACEABILITY.EXAMPLE.GOV.CN/C/{t}/",
        "  https://example.org/yima/c/{t}\n",
        "{t}",
        " {t} ",
    ],
)
def test_a_scanned_payload_yields_the_upper_cased_token(template):
    token = KEY.token("battery", BATTERY)

    assert token_from_payload(template.format(t=token)) == token
    assert token_from_payload(template.format(t=token).lower()) == token


@pytest.mark.parametrize(
    "text",
    [FRAME, BATTERY, BATTERY_40, CHARGER, PLATE, LEGACY, "1" * 63, "", "   ",
     "http://127.0.0.1:5000/",
     "ftp://example.org/c/1ABC", "http://example.org/x/1ABC", "http://example.org/c/1AB C"],
)
def test_a_bare_identifier_or_other_text_is_not_a_code(text):
    assert token_from_payload(text) is None


def test_verify_code_offline_checks_a_scanned_payload():
    token = KEY.token("vehicle", FRAME)

    decoded = verify_code_offline(payload_url(LOCAL_URL, token).upper(), KEY.published)

    assert (decoded.kind, decoded.identifier) == ("vehicle", FRAME)
    with pytest.raises(InvalidCode) as caught:
        verify_code_offline(FRAME, KEY.published)
    assert caught.value.code == "not_a_code_url"


@pytest.mark.parametrize("base", [LOCAL_URL, PUBLIC_URL, PUBLIC_URL + "/"])
@pytest.mark.parametrize(
    "kind,identifier", [("battery", BATTERY_40), ("charger", "MA2H3K8L1-26-48-0000000000000001")]
)
def test_the_longest_payload_fits_a_qr_code_of_version_10_at_level_m(base, kind, identifier):
    payload = payload_url(base, KEY.token(kind, identifier))
    # Byte mode as others might print it, alphanumeric as we print it.
    for text in (payload, payload.upper()):
        qr = qrcode.QRCode(error_correction=qrcode.constants.ERROR_CORRECT_M)
        qr.add_data(text)
        qr.make(fit=True)
        assert qr.version <= 10, (len(text), qr.version)
    assert qr_version(payload) <= 8


def test_the_qr_text_is_upper_cased_only_when_that_is_safe():
    token = KEY.token("vehicle", FRAME)

    assert qr_text(payload_url(PUBLIC_URL, token)) == payload_url(PUBLIC_URL, token).upper()
    mixed_prefix = payload_url("https://example.org/Yima", token)
    upper_prefix = payload_url("https://example.org/YIMA", token)
    not_alnum = payload_url("https://ex_ample.org", token)
    assert qr_text(mixed_prefix) == mixed_prefix
    assert qr_text(upper_prefix) == upper_prefix.upper()
    assert qr_text(not_alnum) == not_alnum


def test_qr_matrix_is_square_with_the_size_of_its_version():
    matrix = qr_matrix(payload_url(LOCAL_URL, KEY.token("vehicle", FRAME)))

    assert len(matrix) == len(matrix[0]) and (len(matrix) - 17) % 4 == 0
    assert all(isinstance(m, bool) for row in matrix for m in row)


# --------------------------------------------------------------------------- labels


@pytest.mark.parametrize("label", _labels(), ids=lambda label: label.identifier)
def test_a_label_png_scans_back_to_its_payload(label):
    (text,) = _decode_png(label_png(label))

    assert text.lower() == label.payload.lower()
    assert token_from_payload(text) == token_from_payload(label.payload)
    assert verify_code_offline(text, KEY.published).identifier == label.identifier


def test_a_label_png_carries_its_print_resolution():
    with Image.open(io.BytesIO(label_png(_labels()[0], dpi=300))) as img:
        assert tuple(round(v) for v in img.info["dpi"]) == (300, 300)


def test_the_kind_is_printed_in_chinese_when_a_cjk_font_is_installed():
    if render.find_cjk_font() is None:
        unavailable("no CJK font: run scripts/install_fonts")
    assert render.kind_caption("battery") == KIND_ZH["battery"] == "蓄电池"


def test_find_cjk_font_prefers_the_environment_override(monkeypatch, tmp_path):
    font = tmp_path / "mine.ttf"
    font.write_bytes(b"not really a font")
    monkeypatch.setenv("REGISTRY_CJK_FONT", str(font))

    assert render.find_cjk_font() == str(font)


def test_labels_still_render_in_english_without_any_cjk_font(monkeypatch, tmp_path):
    monkeypatch.setenv("REGISTRY_CJK_FONT", str(tmp_path / "missing.ttc"))
    monkeypatch.setattr(render, "CJK_FONT_PATHS", ())
    monkeypatch.setattr(render, "_BUNDLED_FONT_DIR", str(tmp_path))
    render.clear_font_cache()
    try:
        assert render.find_cjk_font() is None
        assert render.kind_caption("plate") == KIND_EN["plate"]
        plate = _labels([("plate", PLATE)])[0]
        (text,) = _decode_png(label_png(plate))
        assert token_from_payload(text) == token_from_payload(plate.payload)
        assert sheet_pdf([plate]).startswith(b"%PDF")
        assert "^BQ" in roll_zpl([plate])
        ET.fromstring(label_svg(plate))
    finally:
        monkeypatch.undo()
        render.clear_font_cache()


def test_a_broken_font_file_falls_back_instead_of_crashing(monkeypatch, tmp_path):
    font = tmp_path / "broken.ttc"
    font.write_bytes(b"garbage")
    monkeypatch.setenv("REGISTRY_CJK_FONT", str(font))
    render.clear_font_cache()
    try:
        assert _decode_png(label_png(_labels()[0]))
    finally:
        monkeypatch.undo()
        render.clear_font_cache()


def test_a_label_svg_is_well_formed_with_the_qr_as_a_path_and_the_text():
    label = _labels([("plate", PLATE)])[0]

    root = ET.fromstring(label_svg(label))

    ns = {"s": "http://www.w3.org/2000/svg"}
    assert root.find("s:path", ns).get("d").startswith("M")
    texts = [t.text for t in root.iter("{http://www.w3.org/2000/svg}text")]
    assert render.kind_caption("plate") in texts
    assert "".join(texts[1:]).startswith(PLATE)


def _pdf_pages_as_png(pdf: bytes, tmp_path, dpi: int) -> list[str]:
    if shutil.which("pdftoppm") is None:
        unavailable("pdftoppm not installed (apt-get install -y poppler-utils)")
    (tmp_path / "sheet.pdf").write_bytes(pdf)
    subprocess.run(
        ["pdftoppm", "-r", str(dpi), "-png", str(tmp_path / "sheet.pdf"), str(tmp_path / "page")],
        check=True,
        timeout=60,
    )
    return sorted(glob.glob(str(tmp_path / "page*.png")))


def test_an_a4_sheet_of_24_labels_scans_label_by_label_at_200_dpi(tmp_path):
    samples = [(kind, ident) for kind, ident in SAMPLES] * 3
    labels = _labels(samples, base=PUBLIC_URL)
    assert len(labels) == 24

    (page,) = _pdf_pages_as_png(sheet_pdf(labels), tmp_path, 200)

    with Image.open(page) as img:
        assert img.size == (1654, 2339)  # A4 at 200 dpi
        found = [r.text for r in zxingcpp.read_barcodes(img)]
    assert sorted(t.lower() for t in found) == sorted(label.payload.lower() for label in labels)


def test_a_sheet_starts_a_new_page_after_24_labels(tmp_path):
    labels = _labels() * 3 + _labels()[:1]  # 25

    pages = _pdf_pages_as_png(sheet_pdf(labels), tmp_path, 50)

    assert len(pages) == 2


def test_a_sheet_takes_a_custom_grid_and_label_size():
    pdf = sheet_pdf(
        _labels()[:4], cols=2, rows=2, label_w_mm=90, label_h_mm=50, margin_mm=10, gap_mm=5
    )

    assert pdf.startswith(b"%PDF-") and pdf.rstrip().endswith(b"%%EOF")


@pytest.mark.parametrize("dpi", [203, 300])
def test_roll_pages_scan_at_thermal_printer_resolutions(dpi):
    labels = _labels()

    pages = roll_png_pages(labels, dpi=dpi)

    assert len(pages) == len(labels)
    for label, page in zip(labels, pages):
        with Image.open(io.BytesIO(page)) as img:
            assert img.size == (round(40 / 25.4 * dpi), round(30 / 25.4 * dpi))
            assert img.mode == "1"
        (text,) = _decode_png(page)
        assert token_from_payload(text) == token_from_payload(label.payload)


def test_roll_zpl_has_one_format_per_label_with_a_native_qr_and_its_payload():
    labels = _labels()

    zpl = roll_zpl(labels)

    assert zpl.count("^XA") == zpl.count("^XZ") == len(labels)
    assert zpl.count("^BQN,2,") == len(labels)
    assert "^CI28" in zpl
    for label in labels:
        assert "^FDMA," + qr_text(label.payload) + "^FS" in zpl
        assert label.payload.lower() in zpl.lower()
        assert f"^FX {label.kind} {label.identifier}" in zpl


def test_render_many_png_matches_one_by_one_rendering_on_both_cores():
    labels = _labels()

    assert render_many_png(labels, processes=2) == [label_png(label) for label in labels]
    assert render_many_png(labels[:1]) == [label_png(labels[0])]
    assert render_many_png([]) == []

