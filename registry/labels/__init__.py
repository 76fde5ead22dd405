"""Item codes (signed tokens in QR payloads) and printable labels."""

from __future__ import annotations

from typing import Mapping

from .codes import (
    KINDS,
    DecodedCode,
    InvalidCode,
    decode_token,
    make_token,
    payload_url,
    signed_message,
    token_from_payload,
    verify_token,
)

__all__ = [
    "KINDS",
    "DecodedCode",
    "InvalidCode",
    "decode_token",
    "make_token",
    "payload_url",
    "signed_message",
    "token_from_payload",
    "verify_code_offline",
    "verify_token",
]


def verify_code_offline(payload_or_token: str, public_keys: Mapping[str, bytes]) -> DecodedCode:
    """Check a scanned payload or bare token against published public keys, with no registry."""
    token = token_from_payload(payload_or_token)
    if token is None:
        raise InvalidCode("not_a_code_url", "not a code: expected …/c/<TOKEN> or a bare token")
    return verify_token(token, public_keys)
