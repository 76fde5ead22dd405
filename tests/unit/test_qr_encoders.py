"""The QR matrix of a label: zxing-cpp's writer when installed, the pure-Python encoder otherwise, same symbol size."""

from __future__ import annotations

import sys

import pytest
import qrcode
import qrcode.constants
import zxingcpp
from PIL import Image

from registry.labels import make_token, payload_url
from registry.labels import render
from registry.ledger import SigningKey

KEY = SigningKey.generate("t")
PAYLOADS = [
    payload_url(base, make_token(kind, ident, KEY.key_hash, KEY.sign))
    for base in ("http://127.0.0.1:5000", "https://traceability.ningbo-police.gov.cn", "https://example.org/Yima")
    for kind, ident in (("vehicle", "117322600000001"), ("battery", "CATL" + "F48V2026" * 4 + "0001"), ("plate", "浙B·A0001"))
]


def _qrcode_matrix(text):
    qr = qrcode.QRCode(error_correction=qrcode.constants.ERROR_CORRECT_M, border=0, box_size=1)
    qr.add_data(text)
    qr.make(fit=True)
    return qr.get_matrix()


def _decode(matrix) -> str:
    n = len(matrix)
    img = Image.new("L", (n + 8, n + 8), 255)  # with the quiet zone
    img.paste(Image.frombytes("L", (n, n), bytes(0 if m else 255 for row in matrix for m in row)), (4, 4))
    (found,) = zxingcpp.read_barcodes(img.resize(((n + 8) * 4, (n + 8) * 4), Image.Resampling.NEAREST))
    return found.text


@pytest.mark.parametrize("payload", PAYLOADS)
def test_the_fast_encoder_gives_the_reference_symbol_size_and_the_same_text(payload):
    text = render.qr_text(payload)
    fast = render._zxing_matrix(text)
    assert len(fast) == len(_qrcode_matrix(text))
    assert _decode(fast) == text


def test_without_zxing_cpp_labels_fall_back_to_the_pure_python_encoder(monkeypatch):
    text = render.qr_text(PAYLOADS[0]) + "/fallback"
    monkeypatch.setitem(sys.modules, "zxingcpp", None)  # import zxingcpp raises ImportError
    render._qr_matrix_cached.cache_clear()
    try:
        matrix = render._qr_matrix_cached(text)
    finally:
        render._qr_matrix_cached.cache_clear()
    assert [list(row) for row in matrix] == [[bool(m) for m in row] for row in _qrcode_matrix(text)]
