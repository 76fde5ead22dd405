"""Identifiers of DOMAIN.md: normalise, validate and mask them.

Pure Python (stdlib and ``stdnum`` only).  Every public function takes what a
user typed or a scanner read, and either returns the canonical form of the
identifier or raises :class:`InvalidIdentifier` -- never any other exception,
whatever it is given (``None``, numbers, bytes, lists, odd Unicode).

Common rules, applied by every function before anything else:

* a value that is not a ``str`` is refused with code ``not_a_string``;
* a value longer than :data:`MAX_INPUT_LENGTH` (64) characters, *before*
  normalising, is refused with code ``too_long``;
* the value is then normalised (see :func:`normalise`); a value that is empty
  after normalising is refused with code ``empty``.

Every error carries the field it concerns, a stable snake_case ``code`` and a
message in Chinese and English that names the field.
"""

from __future__ import annotations

import datetime
import re
import unicodedata
from typing import Any, Callable

from stdnum.cn import ric as _ric
from stdnum.exceptions import ValidationError as _StdnumValidationError

__all__ = [
    "InvalidIdentifier",
    "MAX_INPUT_LENGTH",
    "normalise",
    "frame_code",
    "battery_code",
    "is_reused_battery",
    "charger_code",
    "charger_model",
    "charger_model_code",
    "legacy_identifier",
    "ccc_certificate",
    "ccc_category",
    "E_BIKE_CCC_CATEGORY",
    "ID_TYPES",
    "id_document",
    "mobile_phone",
    "plate",
    "ITEM_KINDS",
    "item_identifier",
    "guess_kind",
    "mask_id_number",
    "mask_phone",
    "mask_name",
]

#: Longest input any function looks at (checked before normalising).
MAX_INPUT_LENGTH = 64

#: CCC product category of electric bicycles.
E_BIKE_CCC_CATEGORY = "1119"

ID_TYPES = ("resident_id", "passport", "hk_macau_permit", "taiwan_permit", "foreigner_permanent_id")

ITEM_KINDS = ("vehicle", "battery", "charger")


class InvalidIdentifier(ValueError):
    """An identifier that fails validation.

    ``field`` is the input field it concerns (``vehicle``, ``battery``,
    ``id_number``, ...), ``code`` a stable snake_case reason, and
    ``message_zh`` / ``message_en`` human messages naming the field.
    ``str(error)`` is the English message.
    """

    field: str
    code: str
    message_zh: str
    message_en: str

    def __init__(self, field: str, code: str, message_zh: str, message_en: str) -> None:
        super().__init__(message_en)
        self.field = field
        self.code = code
        self.message_zh = message_zh
        self.message_en = message_en

    def message(self, lang: str = "zh") -> str:
        """The message in ``lang``: Chinese for ``zh`` (``zh-CN``, ``zh_Hans``...), English otherwise."""
        if isinstance(lang, str) and lang.strip().lower().startswith("zh"):
            return self.message_zh
        return self.message_en

    def as_dict(self, lang: str = "zh") -> dict[str, str]:
        """``{"field", "code", "message"}``, ready for a field-level error response."""
        return {"field": self.field, "code": self.code, "message": self.message(lang)}

    def __reduce__(self) -> tuple[Any, ...]:
        return (type(self), (self.field, self.code, self.message_zh, self.message_en))

    def __repr__(self) -> str:
        return f"InvalidIdentifier(field={self.field!r}, code={self.code!r}, message_en={self.message_en!r})"


# --------------------------------------------------------------------------
# Messages

# field -> (Chinese label, English label)
_LABELS: dict[str, tuple[str, str]] = {
    "identifier": ("编码", "identifier"),
    "vehicle": ("整车编码", "vehicle frame code"),
    "battery": ("蓄电池编码", "battery code"),
    "charger": ("充电器编码", "charger code"),
    "charger_model": ("充电器型号编码", "charger model code"),
    "legacy": ("旧编码（补码）", "legacy identifier"),
    "certificate": ("3C证书编号", "CCC certificate number"),
    "id_type": ("证件类型", "identity document type"),
    "id_number": ("证件号码", "identity document number"),
    "phone": ("手机号码", "mobile phone number"),
    "plate": ("号牌号码", "plate number"),
    "kind": ("物品类型", "item kind"),
    "name": ("姓名", "name"),
}

_ID_TYPE_LABELS: dict[str, tuple[str, str]] = {
    "resident_id": ("居民身份证", "resident identity card"),
    "passport": ("护照", "passport"),
    "hk_macau_permit": ("港澳通行证", "Hong Kong / Macao permit"),
    "taiwan_permit": ("台湾居民来往大陆通行证", "Taiwan compatriot permit"),
    "foreigner_permanent_id": ("外国人永久居留身份证", "foreigner's permanent residence ID card"),
}


def _label(field: str, default: str, qualifier: tuple[str, str] | None = None) -> tuple[str, str]:
    """Chinese and English names of ``field``; an unknown field is named by its kind and its key."""
    if field in _LABELS:
        zh, en = _LABELS[field]
    else:
        base_zh, base_en = _LABELS.get(default, _LABELS["identifier"])
        zh, en = f"{base_zh}（{field}）", f"{base_en} ({field})"
    if qualifier is not None:
        zh, en = f"{zh}（{qualifier[0]}）", f"{en} ({qualifier[1]})"
    return zh, en


def _error(
    field: str,
    default: str,
    code: str,
    zh: str,
    en: str,
    qualifier: tuple[str, str] | None = None,
) -> InvalidIdentifier:
    label_zh, label_en = _label(field, default, qualifier)
    return InvalidIdentifier(field, code, f"{label_zh}{zh}", f"{label_en[:1].upper()}{label_en[1:]} {en}")


# --------------------------------------------------------------------------
# Normalising

_HYPHENS = "\u2010\u2011\u2012\u2013\u2014\u2015\u2043\u2212\u2796\ufe58\ufe63\uff0d"
_MIDDLE_DOTS = "\u00b7\u0387\u16eb\u2022\u2027\u2219\u22c5\u2e31\u30fb\ua78f\uff65"
MIDDLE_DOT = "\u00b7"
_CHAR_MAP = {**{c: "-" for c in _HYPHENS}, **{c: MIDDLE_DOT for c in _MIDDLE_DOTS}}


def _as_str(raw: object, field: str, default: str, qualifier: tuple[str, str] | None = None) -> str:
    if not isinstance(raw, str):
        raise _error(
            field,
            default,
            "not_a_string",
            "应为文本",
            f"must be text, not {type(raw).__name__}",
            qualifier,
        )
    raw = str.__str__(raw)  # a plain str, whatever subclass we were given
    if len(raw) > MAX_INPUT_LENGTH:
        raise _error(
            field,
            default,
            "too_long",
            f"过长（最多{MAX_INPUT_LENGTH}个字符）",
            f"is too long (at most {MAX_INPUT_LENGTH} characters)",
            qualifier,
        )
    return raw


def _normalise_str(raw: str) -> str:
    if raw.isascii():
        # The common case, the same result: no ASCII character is mapped or folded, and the
        # white space that ``str.split`` splits on is exactly what ``str.isspace`` drops.
        return "".join(raw.split()).upper()
    return _normalise_chars(raw)


def _normalise_chars(raw: str) -> str:
    """:func:`normalise`, character by character (any text)."""
    out = []
    for ch in raw:
        ch = _CHAR_MAP.get(ch, ch)
        if ord(ch) >= 128 and ch != MIDDLE_DOT:
            # Full-width (and other compatibility) forms of ASCII characters;
            # anything whose NFKC form is not one ASCII character is kept as is.
            folded = unicodedata.normalize("NFKC", ch)
            if len(folded) == 1 and ord(folded) < 128:
                ch = folded
        if ch.isspace() or unicodedata.category(ch) == "Cf":
            continue  # spaces of every kind, and invisible format characters (BOM, ZWSP...)
        if "a" <= ch <= "z":
            ch = chr(ord(ch) - 32)
        out.append(ch)
    return "".join(out)


def normalise(raw: str, field: str = "identifier") -> str:
    """The normal form of ``raw`` used by every validator.

    * hyphen and dash variants (``－ — – ‐ ‑ ‒ ― −`` ...) become ``-``;
    * middle-dot variants (``・ ･ • ‧ ∙ ⋅`` ...) become ``·`` (U+00B7);
    * full-width and other compatibility forms of ASCII characters become
      ASCII (per character NFKC, kept only when the result is one ASCII
      character, so Chinese characters are never touched);
    * every white-space character (including U+3000) and every invisible
      format character (BOM, zero-width space...) is removed;
    * ASCII letters are upper-cased (only ASCII: nothing else changes length).

    Returns ``""`` for an empty or blank value (the validators refuse that
    with code ``empty``).  The result is idempotent:
    ``normalise(normalise(x)) == normalise(x)``.
    """
    return _normalise_str(_as_str(raw, field, "identifier"))


def _prepare(raw: object, field: str, default: str, qualifier: tuple[str, str] | None = None) -> str:
    value = _normalise_str(_as_str(raw, field, default, qualifier))
    if not value:
        raise _error(field, default, "empty", "不能为空", "must not be empty", qualifier)
    return value


# --------------------------------------------------------------------------
# Items: vehicle, battery, charger, legacy

_DIGITS = re.compile(r"[0-9]+")
_ALNUM = re.compile(r"[0-9A-Z]+")
_CODE_CHARS = re.compile(r"[0-9A-Z-]+")
_ENTERPRISE = re.compile(r"[0-9A-HJ-NP-Z]{4}")  # letters and digits without I and O
_MAKER = re.compile(r"[0-9A-HJ-NP-RTUW-Y]{9}")  # GB 32100 characters: no I, O, Z, S, V
_YEAR2 = re.compile(r"[0-9]{2}")
_SPEC = re.compile(r"[0-9A-HJ-NP-Y]{2}")  # no I, O, Z
_SERIAL = re.compile(r"[0-9A-Z]{4,16}")


def frame_code(raw: object, field: str = "vehicle") -> str:
    """A vehicle frame code (整车编码): 15 digits ``^\\d{4}2\\d{2}\\d{8}$``.

    4 digits enterprise code, ``2`` (e-bike), 2 digits year, 8 digits serial.
    Codes: ``frame_code_not_digits``, ``frame_code_length``, ``frame_code_type``.
    """
    value = _prepare(raw, field, "vehicle")
    if not _DIGITS.fullmatch(value):
        raise _error(
            field,
            "vehicle",
            "frame_code_not_digits",
            "应为15位数字，不能含字母或其他字符",
            "must be 15 digits, with no letters or other characters",
        )
    if len(value) != 15:
        raise _error(
            field,
            "vehicle",
            "frame_code_length",
            f"应为15位数字（当前为{len(value)}位）",
            f"must be 15 digits (got {len(value)})",
        )
    if value[4] != "2":
        raise _error(
            field,
            "vehicle",
            "frame_code_type",
            "第5位（车辆类型）应为2（电动自行车）",
            "must have 2 (electric bicycle) as its 5th digit (vehicle type)",
        )
    return value


def battery_code(raw: object, field: str = "battery") -> str:
    """A battery code (蓄电池编码, GB/T 45565-2025 style).

    Upper-case letters, digits and ``-``; 8 to 40 characters; no ``-`` at the
    start or end and never two in a row; the first 4 characters are the
    enterprise code (letters or digits, no ``I`` or ``O``).
    Codes: ``battery_code_format``, ``battery_code_length``, ``battery_code_enterprise``.
    A reused battery (see :func:`is_reused_battery`) is a valid battery code.
    """
    value = _prepare(raw, field, "battery")
    if not _CODE_CHARS.fullmatch(value):
        raise _error(
            field,
            "battery",
            "battery_code_format",
            "只能包含大写字母、数字和连字符“-”",
            "may contain only upper-case letters, digits and '-'",
        )
    if not 8 <= len(value) <= 40:
        raise _error(
            field,
            "battery",
            "battery_code_length",
            f"长度应为8至40个字符（当前为{len(value)}个）",
            f"must be 8 to 40 characters long (got {len(value)})",
        )
    if value.startswith("-") or value.endswith("-") or "--" in value:
        raise _error(
            field,
            "battery",
            "battery_code_format",
            "的连字符“-”不能位于开头或结尾，也不能连续出现",
            "must not start or end with '-' nor contain '--'",
        )
    if not _ENTERPRISE.fullmatch(value[:4]):
        raise _error(
            field,
            "battery",
            "battery_code_enterprise",
            "前4位应为企业代码（字母或数字，不含I和O）",
            "must start with a 4-character enterprise code (letters or digits, no I or O)",
        )
    return value


def is_reused_battery(code: object, field: str = "battery") -> bool:
    """Whether a battery identifier marks a reused / repurposed battery.

    Rule: after normalising, the identifier is split on ``-``; it is reused
    when any part *after the first* is exactly ``R`` -- e.g.
    ``CATLF48V2026000001-R`` or ``CATLF48V2026000001-R-01``.  ``-R01`` or
    ``-RE`` do not count, nor does an ``R`` inside a part.  The identifier is
    not otherwise validated (a legacy identifier, having no ``-``, is never
    reused), but non-text, too long or empty values raise
    :class:`InvalidIdentifier`.
    """
    value = _prepare(code, field, "battery")
    return "R" in value.split("-")[1:]


def _charger_model_parts(parts: list[str], field: str, default: str) -> None:
    maker, year, spec = parts
    if not _MAKER.fullmatch(maker):
        raise _error(
            field,
            default,
            "charger_code_maker",
            "前9位应取自生产企业统一社会信用代码（数字或大写字母，不含I、O、Z、S、V）",
            "must start with 9 characters of the maker's unified social credit code "
            "(digits or upper-case letters, no I, O, Z, S or V)",
        )
    if not _YEAR2.fullmatch(year):
        raise _error(
            field,
            default,
            "charger_code_year",
            "第二段应为2位数字年份",
            "must have a 2-digit year as its second part",
        )
    if not _SPEC.fullmatch(spec):
        raise _error(
            field,
            default,
            "charger_code_spec",
            "第三段应为2位规格代码（数字或大写字母，不含I、O、Z）",
            "must have a 2-character specification code (digits or letters, no I, O or Z) as its third part",
        )


def charger_code(raw: object, field: str = "charger") -> str:
    """A charger code (充电器编码): ``MMMMMMMMM-YY-ZZ (M: maker credit-code characters)-SERIAL``.

    The model code ``MMMMMMMMM-YY-ZZ (M: maker credit-code characters)`` (GB 42296 amendment): 9 characters of the
    maker's unified social credit code (digits and upper-case letters except
    I, O, Z, S, V), a 2-digit year and a 2-character spec (digits and letters
    except I, O, Z); then ``-`` and a unit serial of 4 to 16 letters or digits,
    e.g. ``MA2H3K8L1-26-48-000001``.
    Codes: ``charger_code_format``, ``charger_code_maker``, ``charger_code_year``,
    ``charger_code_spec``, ``charger_code_serial``.
    """
    value = _prepare(raw, field, "charger")
    parts = value.split("-")
    if not _CODE_CHARS.fullmatch(value) or len(parts) != 4:
        raise _error(
            field,
            "charger",
            "charger_code_format",
            "格式应为“9位企业代码-2位年份-2位规格-4至16位序列号”，例如 MA2H3K8L1-26-48-000001",
            "must look like MAKERCODE-YY-ZZ-SERIAL (9 + 2 + 2 + 4 to 16 characters), e.g. MA2H3K8L1-26-48-000001",
        )
    _charger_model_parts(parts[:3], field, "charger")
    if not _SERIAL.fullmatch(parts[3]):
        raise _error(
            field,
            "charger",
            "charger_code_serial",
            "的序列号应为4至16位字母或数字",
            "must end with a unit serial of 4 to 16 letters or digits",
        )
    return value


def charger_model(raw: object, field: str = "charger_model") -> str:
    """A bare charger model code ``MMMMMMMMM-YY-ZZ (M: maker credit-code characters)`` (same rules as in :func:`charger_code`)."""
    value = _prepare(raw, field, "charger_model")
    parts = value.split("-")
    if not _CODE_CHARS.fullmatch(value) or len(parts) != 3:
        raise _error(
            field,
            "charger_model",
            "charger_code_format",
            "格式应为“9位企业代码-2位年份-2位规格”，例如 MA2H3K8L1-26-48",
            "must look like MAKERCODE-YY-ZZ (9 + 2 + 2 characters), e.g. MA2H3K8L1-26-48",
        )
    _charger_model_parts(parts, field, "charger_model")
    return value


def charger_model_code(code: object, field: str = "charger") -> str:
    """The model code ``MMMMMMMMM-YY-ZZ (M: maker credit-code characters)`` of a full charger code (validated by :func:`charger_code`)."""
    return charger_code(code, field).rsplit("-", 1)[0]


def legacy_identifier(raw: object, field: str = "legacy") -> str:
    """A legacy identifier (补码 only): 6 to 24 letters or digits as stamped on an old frame or battery.

    Codes: ``legacy_identifier_format``, ``legacy_identifier_length``.
    """
    value = _prepare(raw, field, "legacy")
    if not _ALNUM.fullmatch(value):
        raise _error(
            field,
            "legacy",
            "legacy_identifier_format",
            "作为旧编码只能包含字母和数字",
            "as a legacy identifier may contain only letters and digits",
        )
    if not 6 <= len(value) <= 24:
        raise _error(
            field,
            "legacy",
            "legacy_identifier_length",
            f"作为旧编码长度应为6至24位（当前为{len(value)}位）",
            f"as a legacy identifier must be 6 to 24 characters long (got {len(value)})",
        )
    return value


# --------------------------------------------------------------------------
# CCC certificates


def ccc_certificate(raw: object, field: str = "certificate") -> str:
    """A CCC certificate number (3C证书编号): 16 digits.

    4 digits year (2000 to 2099), 2 certification body, 4 product category,
    6 serial.  Codes: ``certificate_not_digits``, ``certificate_length``,
    ``certificate_year``.
    """
    value = _prepare(raw, field, "certificate")
    if not _DIGITS.fullmatch(value):
        raise _error(
            field,
            "certificate",
            "certificate_not_digits",
            "应为16位数字，不能含字母或其他字符",
            "must be 16 digits, with no letters or other characters",
        )
    if len(value) != 16:
        raise _error(
            field,
            "certificate",
            "certificate_length",
            f"应为16位数字（当前为{len(value)}位）",
            f"must be 16 digits (got {len(value)})",
        )
    if not value.startswith("20"):
        raise _error(
            field,
            "certificate",
            "certificate_year",
            "前4位应为发证年份（2000至2099）",
            "must start with its year of issue (2000 to 2099)",
        )
    return value


def ccc_category(number: object, field: str = "certificate") -> str:
    """The product category of a CCC certificate number (digits 7 to 10); e-bikes are ``1119``."""
    return ccc_certificate(number, field)[6:10]


# --------------------------------------------------------------------------
# Identity documents

# GB/T 2260 province-level codes (first two digits of a resident ID), with 81,
# 82, 83 for the residence permits of Hong Kong, Macao and Taiwan residents.
_PROVINCES = frozenset(
    "11 12 13 14 15 21 22 23 31 32 33 34 35 36 37 41 42 43 44 45 46 "
    "50 51 52 53 54 61 62 63 64 65 71 81 82 83".split()
)
_RESIDENT_ID_SHAPE = re.compile(r"[0-9]{17}[0-9X]")
_HK_MACAU = re.compile(r"[HM](?:[0-9]{8}|[0-9]{10})|C[0-9A-Z]{8}")
_TAIWAN = re.compile(r"[0-9]{8}(?:[0-9]{2})?")
_FOREIGNER = re.compile(r"[A-Z]{3}[0-9]{12}|9[0-9]{16}[0-9X]")
_EARLIEST_BIRTH = datetime.date(1900, 1, 1)


def _resident_id(value: str, field: str, q: tuple[str, str]) -> str:
    if len(value) != 18:
        raise _error(
            field, "id_number", "id_number_length",
            f"应为18位（当前为{len(value)}位）", f"must be 18 characters (got {len(value)})", q,
        )
    if not _RESIDENT_ID_SHAPE.fullmatch(value):
        raise _error(
            field, "id_number", "id_number_format",
            "应为17位数字加1位校验码（数字或X）",
            "must be 17 digits followed by a check digit (a digit or X)", q,
        )
    try:
        check = _ric.calc_check_digit(value)
    except (_StdnumValidationError, ValueError):  # pragma: no cover - digits were checked above
        check = ""
    if value[-1] != check:
        raise _error(
            field, "id_number", "id_number_checksum",
            "校验码错误，请核对号码", "has a wrong check digit: please check the number", q,
        )
    try:
        born = _ric.get_birth_date(value)
    except (_StdnumValidationError, ValueError):
        born = None
    if born is None or not _EARLIEST_BIRTH <= born <= datetime.date.today():
        raise _error(
            field, "id_number", "id_number_birth_date",
            "中的出生日期无效", "contains an impossible date of birth", q,
        )
    if value[:2] not in _PROVINCES:
        raise _error(
            field, "id_number", "id_number_region",
            "前两位不是有效的省级行政区划代码", "does not start with a valid province code", q,
        )
    return value


def id_document(id_type: object, raw: object, field: str = "id_number") -> str:
    """The number of a person's identity document of type ``id_type`` (one of :data:`ID_TYPES`).

    * ``resident_id``: 18 characters, GB 11643 check digit (``stdnum.cn.ric``),
      a real birth date between 1900-01-01 and today, and a province-level
      region code (the county is not checked: stdnum's table lags new codes);
    * ``passport``: 5 to 17 letters or digits;
    * ``hk_macau_permit``: ``H``/``M`` and 8 or 10 digits, or ``C`` and 8 letters or digits;
    * ``taiwan_permit``: 8 or 10 digits;
    * ``foreigner_permanent_id``: 3 letters and 12 digits (old), or 18 characters
      starting with ``9`` (new: 17 digits and a digit or ``X``).

    Codes: ``id_type_unknown`` / ``not_a_string`` (field ``id_type``),
    ``id_number_length``, ``id_number_format``, ``id_number_checksum``,
    ``id_number_birth_date``, ``id_number_region``.
    """
    if not isinstance(id_type, str):
        raise _error("id_type", "id_type", "not_a_string", "应为文本", f"must be text, not {type(id_type).__name__}")
    if id_type not in ID_TYPES:
        raise _error(
            "id_type",
            "id_type",
            "id_type_unknown",
            "无效，应为以下之一：" + "、".join(ID_TYPES),
            "is unknown: must be one of " + ", ".join(ID_TYPES),
        )
    q = _ID_TYPE_LABELS[id_type]
    value = _prepare(raw, field, "id_number", q)
    if id_type == "resident_id":
        return _resident_id(value, field, q)
    if id_type == "passport":
        if not _ALNUM.fullmatch(value):
            raise _error(
                field, "id_number", "id_number_format",
                "只能包含字母和数字", "may contain only letters and digits", q,
            )
        if not 5 <= len(value) <= 17:
            raise _error(
                field, "id_number", "id_number_length",
                f"长度应为5至17位（当前为{len(value)}位）", f"must be 5 to 17 characters (got {len(value)})", q,
            )
        return value
    if id_type == "hk_macau_permit":
        if not _HK_MACAU.fullmatch(value):
            raise _error(
                field, "id_number", "id_number_format",
                "应为H或M加8位或10位数字，或C加8位字母数字",
                "must be H or M followed by 8 or 10 digits, or C followed by 8 letters or digits", q,
            )
        return value
    if id_type == "taiwan_permit":
        if not _TAIWAN.fullmatch(value):
            raise _error(
                field, "id_number", "id_number_format",
                "应为8位或10位数字", "must be 8 or 10 digits", q,
            )
        return value
    # foreigner_permanent_id
    if not _FOREIGNER.fullmatch(value):
        raise _error(
            field, "id_number", "id_number_format",
            "应为3位字母加12位数字（旧版），或以9开头的18位号码（新版）",
            "must be 3 letters and 12 digits (old format) or 18 characters starting with 9 (new format)", q,
        )
    return value


# --------------------------------------------------------------------------
# Phone and plate

_PHONE = re.compile(r"1[3-9][0-9]{9}")


def mobile_phone(raw: object, field: str = "phone") -> str:
    """A mainland mobile phone number ``^1[3-9]\\d{9}$``.

    ``-`` separators are dropped, and a leading ``+86`` or ``0086`` (or ``86``
    when 13 digits are given) is removed.
    Codes: ``phone_not_digits``, ``phone_length``, ``phone_prefix``.
    """
    value = _prepare(raw, field, "phone").replace("-", "")
    if value.startswith("+86"):
        value = value[3:]
    elif value.startswith("0086"):
        value = value[4:]
    elif value.startswith("86") and len(value) == 13:
        value = value[2:]
    if not _DIGITS.fullmatch(value):
        raise _error(
            field, "phone", "phone_not_digits",
            "应为11位数字", "must be 11 digits",
        )
    if len(value) != 11:
        raise _error(
            field, "phone", "phone_length",
            f"应为11位数字（当前为{len(value)}位）", f"must be 11 digits (got {len(value)})",
        )
    if not _PHONE.fullmatch(value):
        raise _error(
            field, "phone", "phone_prefix",
            "应以13至19开头", "must start with 13 to 19",
        )
    return value


_CJK = "\u3400-\u4dbf\u4e00-\u9fff"
_PLATE = re.compile(f"([{_CJK}]{{1,6}})([0-9A-Z]+(?:{MIDDLE_DOT}[0-9A-Z]+)?)")
_PLATE_DOTS = str.maketrans({".": MIDDLE_DOT, "\u3002": MIDDLE_DOT})


def plate(raw: object, field: str = "plate") -> str:
    """A plate number (号牌): a Chinese province or city prefix, then letters and digits.

    One to six Chinese characters, then 3 to 10 letters or digits with at most
    one middle dot ``·`` between two of them (``.``, ``。``, ``•``, ``・``,
    ``･`` and other dot variants are written ``·``); at most 16 characters in
    all, e.g. ``浙B·A0001``.  The dot is kept where it was typed.
    Codes: ``plate_prefix``, ``plate_format``, ``plate_length``.
    """
    value = _prepare(raw, field, "plate").translate(_PLATE_DOTS)
    if not re.match(f"[{_CJK}]", value):
        raise _error(
            field, "plate", "plate_prefix",
            "应以省、市简称汉字开头，例如 浙B·A0001", "must start with a Chinese province or city prefix, e.g. 浙B·A0001",
        )
    match = _PLATE.fullmatch(value)
    if match is None:
        raise _error(
            field, "plate", "plate_format",
            "格式无效：汉字前缀后应为字母和数字，最多一个间隔点“·”，例如 浙B·A0001",
            "must be a Chinese prefix followed by letters and digits, with at most one middle dot, e.g. 浙B·A0001",
        )
    body = match.group(2).replace(MIDDLE_DOT, "")
    if not 3 <= len(body) <= 10 or len(value) > 16:
        raise _error(
            field, "plate", "plate_length",
            "的字母数字部分应为3至10位，总长不超过16个字符",
            "must have 3 to 10 letters or digits after its prefix and at most 16 characters in all",
        )
    return value


# --------------------------------------------------------------------------
# Items by kind

_ITEM_PARSERS: dict[str, Callable[[object, str], str]] = {
    "vehicle": frame_code,
    "battery": battery_code,
    "charger": charger_code,
}


def item_identifier(kind: object, raw: object, *, legacy: bool = False, field: str | None = None) -> str:
    """The identifier of an item of ``kind`` (one of :data:`ITEM_KINDS`).

    ``field`` defaults to the kind.  With ``legacy=True`` (补码), a valid
    standard code is still accepted, and otherwise a legacy identifier
    (:func:`legacy_identifier`); a value that is neither is refused with the
    legacy error code (``legacy_identifier_format`` / ``_length``) and a
    message naming both possibilities.  Unknown kind: field ``kind``, code
    ``kind_unknown``.
    """
    if not isinstance(kind, str):
        raise _error("kind", "kind", "not_a_string", "应为文本", f"must be text, not {type(kind).__name__}")
    if kind not in ITEM_KINDS:
        raise _error(
            "kind", "kind", "kind_unknown",
            "无效，应为以下之一：" + "、".join(ITEM_KINDS),
            "is unknown: must be one of " + ", ".join(ITEM_KINDS),
        )
    name = kind if field is None else field
    parser = _ITEM_PARSERS[kind]
    if not legacy:
        return parser(raw, name)
    try:
        return parser(raw, name)
    except InvalidIdentifier as standard_error:
        if standard_error.code in ("not_a_string", "too_long", "empty"):
            raise
    try:
        return legacy_identifier(raw, name)
    except InvalidIdentifier as legacy_error:
        raise _error(
            name,
            kind,
            legacy_error.code,
            "既不是有效的标准编码，也不是由6至24位字母或数字组成的旧编码（补码）",
            "is neither a valid standard code nor a legacy identifier of 6 to 24 letters or digits",
        ) from None


def guess_kind(raw: object) -> str | None:
    """Which item kind ``raw`` looks like once normalised, or ``None``.

    Checked in this order, first match wins (a frame code and a charger code
    are also well-formed battery codes): ``vehicle`` (a valid frame code),
    ``charger`` (a valid charger code), ``battery`` (a valid battery code).
    An empty value gives ``None``; non-text or too long values raise.
    """
    value = normalise(raw)
    if not value:
        return None
    for kind in ("vehicle", "charger", "battery"):
        try:
            _ITEM_PARSERS[kind](value, kind)
        except InvalidIdentifier:
            continue
        return kind
    return None


# --------------------------------------------------------------------------
# Masking personal data (for everyone but investigators and the registering point)


def _keep_ends(value: str, head: int, tail: int) -> str:
    hidden = len(value) - head - tail
    if hidden <= 0:
        return "*" * len(value)
    return value[:head] + "*" * hidden + (value[-tail:] if tail else "")


def mask_id_number(v: object) -> str:
    """An identity document number with its middle hidden: ``330206********1235``.

    Keeps the first ``min(6, n // 3)`` and last ``min(4, n // 4)`` characters
    of the normalised number (so 18 → 6 + 8 stars + 4); ``""`` stays ``""``.
    """
    value = _normalise_str(_as_str(v, "id_number", "id_number"))
    n = len(value)
    return _keep_ends(value, min(6, n // 3), min(4, n // 4))


def mask_phone(v: object) -> str:
    """A phone number with its middle hidden: ``138****8000``.

    A valid mobile number is first reduced to its 11 digits (``+86`` removed);
    anything of 8 characters or more keeps its first 3 and last 4, shorter
    values keep at most their last 2; ``""`` stays ``""``.
    """
    value = _normalise_str(_as_str(v, "phone", "phone"))
    try:
        value = mobile_phone(value)
    except InvalidIdentifier:
        pass
    n = len(value)
    if n >= 8:
        return _keep_ends(value, 3, 4)
    return _keep_ends(value, 0, min(2, n // 3))


def mask_name(v: object) -> str:
    """A person's name with all but its ends hidden: ``张*`` (2), ``张*三`` (3), ``欧**娜`` (4).

    Surrounding white space is removed; one character gives ``*``; ``""`` stays ``""``.
    """
    value = _as_str(v, "name", "name").strip()
    n = len(value)
    if n <= 1:
        return "*" * n
    if n == 2:
        return value[0] + "*"
    return value[0] + "*" * (n - 2) + value[-1]
