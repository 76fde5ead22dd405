"""Self-verifying code tokens: an item's kind and identifier signed with Ed25519, in 0-9A-Z.

Token layout (version 1)::

    "1" + base36(body), zero-padded to the fixed width that len(body) implies

    body = kind (1 byte, index into KINDS)
         | key_id (4 bytes)
         | header (1 byte: mode << 6 | length, length 1..63)
         | identifier (packed by mode, fixed size for a given mode and length)
         | signature (64 bytes, Ed25519 over signed_message())

    mode 0: digits only, packed as one base-10 number  (vehicle frame codes)
    mode 1: 0-9 A-Z '-', packed as one base-37 number  (battery, charger, legacy)
    mode 2: anything else, UTF-8 bytes; length counts bytes (plates)

The encoder always picks the densest mode, pads base36 to a fixed width and the
decoder re-encodes what it parsed and compares, so every item has exactly one
token and any changed, added or removed character is refused. Only 0-9A-Z is
used, so an upper-cased URL stays in QR alphanumeric mode and upper-casing
never breaks a token.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass
from typing import Callable, Mapping

KINDS = ("vehicle", "battery", "charger", "plate")

VERSION = 1
VERSION_CHAR = "1"
SIGNATURE_DOMAIN = b"yima-code/v1\n"

_B36 = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ"
_B36_INDEX = {c: i for i, c in enumerate(_B36)}
_ALNUM37 = _B36 + "-"
_ALNUM37_INDEX = {c: i for i, c in enumerate(_ALNUM37)}

MODE_DIGITS, MODE_ALNUM, MODE_UTF8 = 0, 1, 2
MAX_IDENTIFIER_LEN = 63  # characters (modes 0, 1) or UTF-8 bytes (mode 2)
KEY_ID_LEN = 4
SIGNATURE_LEN = 64
_FIXED_LEN = 1 + KEY_ID_LEN + 1 + SIGNATURE_LEN  # everything but the packed identifier
_LOG2_36 = math.log2(36)


class InvalidCode(ValueError):
    """A code token or payload that is malformed, forged or signed by an unknown key."""

    def __init__(self, code: str, message: str | None = None):
        super().__init__(message or code)
        #: stable snake_case reason: token_malformed, token_unsupported_version,
        #: token_not_canonical, unknown_key, signature_invalid, not_a_code_url
        self.code = code


@dataclass(frozen=True)
class DecodedCode:
    """The fields a token carries (signature checked only when from verify_token)."""

    kind: str
    identifier: str
    key_id: str  # 8 lowercase hex digits
    token: str
    version: int


def _b36_width(nbytes: int) -> int:
    """Return the number of base36 digits that can hold any nbytes-byte number."""
    # Exact integer test rather than floats: smallest w with 36**w >= 256**nbytes.
    w = max(1, math.floor(nbytes * 8 / _LOG2_36))
    while 36**w < 256**nbytes:
        w += 1
    return w


# Width -> byte count. 8/log2(36) > 1 so widths are distinct; the table covers
# every body the encoder can produce (and a little more).
_WIDTH_TO_NBYTES = {_b36_width(n): n for n in range(1, _FIXED_LEN + MAX_IDENTIFIER_LEN + 2)}

#: Shortest and longest possible token; no identifier is anywhere near as long.
MIN_TOKEN_LEN = 1 + _b36_width(_FIXED_LEN + 1)
MAX_TOKEN_LEN = 1 + _b36_width(_FIXED_LEN + MAX_IDENTIFIER_LEN)


def _packed_len(mode: int, length: int) -> int:
    """Return how many bytes an identifier of `length` units takes in `mode`."""
    if mode == MODE_UTF8:
        return length
    base = 10 if mode == MODE_DIGITS else 37
    return ((base**length - 1).bit_length() + 7) // 8


def _pack_identifier(identifier: str) -> bytes:
    """Return header byte + packed identifier, choosing the densest mode."""
    if identifier.isascii() and identifier.isdigit():
        mode, base, index, length = MODE_DIGITS, 10, _B36_INDEX, len(identifier)
    elif all(c in _ALNUM37_INDEX for c in identifier):
        mode, base, index, length = MODE_ALNUM, 37, _ALNUM37_INDEX, len(identifier)
    else:
        raw = identifier.encode("utf-8")
        mode, length = MODE_UTF8, len(raw)
    if not 1 <= length <= MAX_IDENTIFIER_LEN:
        raise ValueError(f"identifier must be 1..{MAX_IDENTIFIER_LEN} characters/bytes")
    header = bytes([mode << 6 | length])
    if mode == MODE_UTF8:
        return header + raw
    value = 0
    for c in identifier:
        value = value * base + index[c]
    return header + value.to_bytes(_packed_len(mode, length), "big")


def _unpack_identifier(mode: int, length: int, data: bytes) -> str:
    """Return the identifier from its packed bytes (canonicality is checked by re-encoding)."""
    if mode == MODE_UTF8:
        try:
            return data.decode("utf-8")
        except UnicodeDecodeError:
            raise InvalidCode("token_malformed", "identifier is not valid UTF-8") from None
    base, alphabet = (10, _B36) if mode == MODE_DIGITS else (37, _ALNUM37)
    value = int.from_bytes(data, "big")
    chars = []
    for _ in range(length):
        value, r = divmod(value, base)
        chars.append(alphabet[r])
    return "".join(reversed(chars))


def _check_identifier(identifier: str) -> None:
    if not isinstance(identifier, str) or not identifier:
        raise ValueError("identifier must be a non-empty string")
    if not identifier.isprintable() or any(c.isspace() for c in identifier):
        raise ValueError("identifier must not contain spaces or control characters")


def _key_id_bytes(key_id: bytes) -> bytes:
    if not isinstance(key_id, (bytes, bytearray)) or len(key_id) != KEY_ID_LEN:
        raise ValueError(f"key_id must be {KEY_ID_LEN} bytes")
    return bytes(key_id)


def signed_message(kind: str, identifier: str, key_id: bytes) -> bytes:
    """Return the domain-separated bytes that a code's signature covers."""
    if kind not in KINDS:
        raise ValueError(f"kind must be one of {KINDS}")
    key_id = _key_id_bytes(key_id)
    # Identifier last: kind has no newline and key_id hex is fixed width, so the
    # split is unambiguous whatever the identifier holds.
    return SIGNATURE_DOMAIN + b"%s\n%s\n%s" % (
        kind.encode("ascii"),
        key_id.hex().encode("ascii"),
        identifier.encode("utf-8"),
    )


def _encode(kind_index: int, key_id: bytes, packed_identifier: bytes, signature: bytes) -> str:
    body = bytes([kind_index]) + key_id + packed_identifier + signature
    digits = []
    value = int.from_bytes(body, "big")
    for _ in range(_b36_width(len(body))):
        value, r = divmod(value, 36)
        digits.append(_B36[r])
    return VERSION_CHAR + "".join(reversed(digits))


def make_token(kind: str, identifier: str, key_id: bytes, sign: Callable[[bytes], bytes]) -> str:
    """Return the token for an item, signed by `sign` (64-byte Ed25519 signature)."""
    _check_identifier(identifier)
    key_id = _key_id_bytes(key_id)
    signature = sign(signed_message(kind, identifier, key_id))
    if len(signature) != SIGNATURE_LEN:
        raise ValueError("sign() must return a 64-byte Ed25519 signature")
    return _encode(KINDS.index(kind), key_id, _pack_identifier(identifier), bytes(signature))


def _parse(token: str) -> tuple[DecodedCode, bytes]:
    """Return the decoded fields and the signature; raise InvalidCode on any defect."""
    if not isinstance(token, str):
        raise InvalidCode("token_malformed", "token must be a string")
    if not token or not token.isascii() or not all(c in _B36_INDEX for c in token):
        raise InvalidCode("token_malformed", "token may only hold 0-9 and A-Z")
    if token[0] != VERSION_CHAR:
        raise InvalidCode("token_unsupported_version", f"unknown token version {token[0]!r}")
    digits = token[1:]
    nbytes = _WIDTH_TO_NBYTES.get(len(digits))
    if nbytes is None or nbytes < _FIXED_LEN + 1:
        raise InvalidCode("token_malformed", "token has the wrong length")
    value = 0
    for c in digits:
        value = value * 36 + _B36_INDEX[c]
    if value >= 256**nbytes:
        raise InvalidCode("token_not_canonical", "token is out of range")
    body = value.to_bytes(nbytes, "big")

    kind_index, key_id, header = body[0], body[1:5], body[5]
    if kind_index >= len(KINDS):
        raise InvalidCode("token_malformed", "unknown item kind")
    mode, length = header >> 6, header & 0x3F
    if mode > MODE_UTF8 or length == 0:
        raise InvalidCode("token_malformed", "bad identifier header")
    packed_len = _packed_len(mode, length)
    if len(body) != _FIXED_LEN + packed_len:
        raise InvalidCode("token_malformed", "token has the wrong length for its identifier")
    identifier = _unpack_identifier(mode, length, body[6 : 6 + packed_len])
    signature = body[6 + packed_len :]
    try:
        _check_identifier(identifier)
        canonical = _encode(kind_index, key_id, _pack_identifier(identifier), signature)
    except ValueError:
        raise InvalidCode("token_malformed", "identifier is not acceptable") from None
    if canonical != token:
        raise InvalidCode("token_not_canonical", "token is not in canonical form")
    decoded = DecodedCode(
        kind=KINDS[kind_index],
        identifier=identifier,
        key_id=key_id.hex(),
        token=token,
        version=VERSION,
    )
    return decoded, signature


def decode_token(token: str) -> DecodedCode:
    """Parse a token strictly without checking its signature."""
    return _parse(token)[0]


def verify_token(token: str, public_keys: Mapping[str, bytes]) -> DecodedCode:
    """Parse a token and check its signature against the published key it names."""
    # Imported here so that decoding needs no cryptography.
    from cryptography.exceptions import InvalidSignature
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

    decoded, signature = _parse(token)
    raw = public_keys.get(decoded.key_id)
    if raw is None:
        raise InvalidCode("unknown_key", f"no published key with id {decoded.key_id}")
    try:
        key = Ed25519PublicKey.from_public_bytes(bytes(raw))
    except ValueError:
        raise InvalidCode("unknown_key", f"key {decoded.key_id} is not an Ed25519 key") from None
    message = signed_message(decoded.kind, decoded.identifier, bytes.fromhex(decoded.key_id))
    try:
        key.verify(signature, message)
    except InvalidSignature:
        raise InvalidCode("signature_invalid", "the code's signature does not verify") from None
    return decoded


_URL_RE = re.compile(
    r"https?://[^/\s?#]+(?:/[^\s?#]*)?/c/([0-9a-z]+)/?",
    re.IGNORECASE | re.ASCII,
)
_BARE_RE = re.compile(
    rf"{VERSION_CHAR}[0-9A-Z]{{{MIN_TOKEN_LEN - 1},{MAX_TOKEN_LEN - 1}}}",
    re.IGNORECASE | re.ASCII,
)


def token_from_payload(text: str) -> str | None:
    """Return the upper-cased token in a scanned payload or bare token, or None if it is no code."""
    if not isinstance(text, str):
        return None
    text = text.strip()
    m = _URL_RE.fullmatch(text)
    if m:
        return m.group(1).upper()
    # A bare identifier is at most 63 characters; a token is far longer and starts
    # with the version character, so the two can never be confused.
    if _BARE_RE.fullmatch(text):
        return text.upper()
    return None


def payload_url(public_url: str, token: str) -> str:
    """Return the URL printed into an item's QR code."""
    return public_url.rstrip("/") + "/c/" + token
