"""The catalogue's input rules: model names, dates, CCC certificates and specs with units (pure).

Numbers in specs are stored without floats, since a hashed log body cannot hold
one (registry.ledger.canonical):

* whole quantities are JSON integers: ``voltage_v`` (nominal pack voltage),
  ``energy_wh``, ``max_speed_kmh``;
* quantities that are commonly fractional are **decimal strings** with at most
  two decimal places, normalised (``"20.8"``, ``"54.6"``, ``"2"``): ``capacity_ah``,
  ``output_v``, ``output_a``, ``mass_kg``.

Input may give either kind of quantity as a JSON number or a numeric string; a
whole quantity with a fractional part (``48.5``) is refused rather than rounded.
Every failure is a field-level error ``{field: [(zh, en), …]}``; nothing here
raises anything else.
"""

from __future__ import annotations

import datetime
import re
from decimal import Decimal, InvalidOperation

from registry.domain.identifiers import E_BIKE_CCC_CATEGORY, ITEM_KINDS, InvalidIdentifier, ccc_certificate, normalise

Errors = dict[str, list[tuple[str, str]]]

KIND_ZH = {"vehicle": "整车", "battery": "蓄电池", "charger": "充电器"}

CHEMISTRIES = ("lithium_ion", "lead_acid", "sodium_ion", "other")
STANDARDS = ("GB17761-2024", "GB17761-2018", "non_standard")
#: 标配 (the set the vehicle is sold with) and 互认 (mutually recognised alternative).
APPROVALS = ("standard", "mutual")
#: GB 17761 caps the design speed of an electric bicycle at 25 km/h (both editions).
GB17761_MAX_SPEED_KMH = 25
#: energy_wh may differ from voltage_v x capacity_ah by this share (nominal vs rated figures).
ENERGY_TOLERANCE = Decimal("0.25")

_MODEL = re.compile(r"[0-9A-Z][0-9A-Z._/+-]{0,63}")
_DATE = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}")


class CatalogueInvalid(ValueError):
    """Input that fails the catalogue's rules; ``errors`` names every bad field."""

    def __init__(self, errors: Errors):
        super().__init__("; ".join(f"{f}: {m[0][1]}" for f, m in errors.items()))
        self.errors = errors


def _add(errors: Errors, field: str, zh: str, en: str) -> None:
    errors.setdefault(field, []).append((zh, en))


def model_name(raw: object, field: str = "model") -> str:
    """A model name normalised like an identifier (spaces out, full-width folded, upper case).

    1 to 64 characters: letters, digits and ``. _ / + -``, starting with a letter or digit.
    """
    if not isinstance(raw, str):
        raise InvalidIdentifier(field, "not_a_string", "型号应为文本", "Model must be text")
    if len(raw) > 64:
        raise InvalidIdentifier(field, "too_long", "型号过长（最多64个字符）", "Model is too long (at most 64 characters)")
    value = normalise(raw, field)
    if not value:
        raise InvalidIdentifier(field, "empty", "型号不能为空", "Model must not be empty")
    if not _MODEL.fullmatch(value):
        raise InvalidIdentifier(
            field, "model_format",
            "型号只能包含字母、数字和 . _ / + -，以字母或数字开头，最多64个字符",
            "Model may contain only letters, digits and . _ / + - (starting with a letter or digit, at most 64 characters)",
        )
    return value


def iso_date(raw: object, field: str, errors: Errors) -> str | None:
    """Return a ``YYYY-MM-DD`` date, or record why it is not one and return None."""
    if not isinstance(raw, str) or not _DATE.fullmatch(raw.strip()):
        _add(errors, field, "日期格式应为 YYYY-MM-DD", "must be a date written YYYY-MM-DD")
        return None
    try:
        return datetime.date.fromisoformat(raw.strip()).isoformat()
    except ValueError:
        _add(errors, field, "不是有效的日期", "is not a valid date")
        return None


def _whole(raw: object, field: str, errors: Errors, lo: int, hi: int) -> int | None:
    number = _decimal(raw, field, errors)
    if number is None:
        return None
    if number != number.to_integral_value():
        _add(errors, field, "应为整数", "must be a whole number")
        return None
    value = int(number)
    if not lo <= value <= hi:
        _add(errors, field, f"应在{lo}至{hi}之间", f"must be between {lo} and {hi}")
        return None
    return value


def _decimal(raw: object, field: str, errors: Errors) -> Decimal | None:
    if isinstance(raw, bool) or not isinstance(raw, (int, float, str)):
        _add(errors, field, "应为数字", "must be a number")
        return None
    try:
        # str() of a float parsed from JSON is its shortest round-trip spelling: 20.8 -> "20.8".
        number = Decimal(str(raw).strip())
    except InvalidOperation:
        _add(errors, field, "应为数字", "must be a number")
        return None
    if not number.is_finite():
        _add(errors, field, "应为有限数字", "must be a finite number")
        return None
    # Bound the exponent before any arithmetic: "1e999999" would otherwise become a
    # million-digit integer (a denial of service through one request).
    if number and not -6 <= number.adjusted() <= 9:
        _add(errors, field, "数值超出范围", "is out of range")
        return None
    return number


def _quantity(raw: object, field: str, errors: Errors, lo: Decimal, hi: Decimal) -> str | None:
    """Return a positive decimal with at most 2 places as its shortest string ("20.8", "2")."""
    number = _decimal(raw, field, errors)
    if number is None:
        return None
    if number != number.quantize(Decimal("0.01"), rounding="ROUND_DOWN"):
        _add(errors, field, "最多保留两位小数", "may have at most two decimal places")
        return None
    if not lo <= number <= hi:
        _add(errors, field, f"应在{lo}至{hi}之间", f"must be between {lo} and {hi}")
        return None
    return format(number.normalize(), "f")


def _choice(raw: object, field: str, errors: Errors, choices: tuple[str, ...]) -> str | None:
    if raw not in choices:
        _add(errors, field, "应为以下之一：" + "、".join(choices), "must be one of " + ", ".join(choices))
        return None
    return raw


SPEC_FIELDS = {
    "battery": ("chemistry", "voltage_v", "capacity_ah", "energy_wh"),
    "charger": ("output_v", "output_a"),
    "vehicle": ("standard", "transition_deadline", "max_speed_kmh", "mass_kg"),
}


def specs(kind: str, raw: object, errors: Errors, prefix: str = "specs") -> dict:
    """Return the specs of a model of *kind* in stored form; record every problem in *errors*."""
    if not isinstance(raw, dict):
        _add(errors, prefix, "应为对象", "must be an object")
        return {}
    out: dict = {}
    allowed = SPEC_FIELDS[kind]
    for key in raw:
        if key not in allowed:
            _add(errors, f"{prefix}.{key}", f"不是{KIND_ZH[kind]}型号的参数", f"is not a {kind} spec (expected {', '.join(allowed)})")
    required = [k for k in allowed if k != "transition_deadline"]
    for key in required:
        if raw.get(key) is None:
            _add(errors, f"{prefix}.{key}", "为必填项", "is required")
    f = lambda key: f"{prefix}.{key}"  # noqa: E731
    if kind == "battery":
        if raw.get("chemistry") is not None:
            out["chemistry"] = _choice(raw["chemistry"], f("chemistry"), errors, CHEMISTRIES)
        if raw.get("voltage_v") is not None:
            out["voltage_v"] = _whole(raw["voltage_v"], f("voltage_v"), errors, 6, 200)
        if raw.get("capacity_ah") is not None:
            out["capacity_ah"] = _quantity(raw["capacity_ah"], f("capacity_ah"), errors, Decimal("0.1"), Decimal("1000"))
        if raw.get("energy_wh") is not None:
            out["energy_wh"] = _whole(raw["energy_wh"], f("energy_wh"), errors, 1, 100000)
        if all(out.get(k) is not None for k in ("voltage_v", "capacity_ah", "energy_wh")):
            expected = out["voltage_v"] * Decimal(out["capacity_ah"])
            if abs(out["energy_wh"] - expected) > expected * ENERGY_TOLERANCE:
                _add(
                    errors, f("energy_wh"),
                    f"与电压×容量（约{expected:.0f} Wh）不符，请确认单位为瓦时（Wh）",
                    f"does not match voltage x capacity (about {expected:.0f} Wh): is it in watt-hours?",
                )
    elif kind == "charger":
        if raw.get("output_v") is not None:
            out["output_v"] = _quantity(raw["output_v"], f("output_v"), errors, Decimal("1"), Decimal("200"))
        if raw.get("output_a") is not None:
            out["output_a"] = _quantity(raw["output_a"], f("output_a"), errors, Decimal("0.1"), Decimal("100"))
    else:
        standard = None
        if raw.get("standard") is not None:
            standard = out["standard"] = _choice(raw["standard"], f("standard"), errors, STANDARDS)
        deadline = raw.get("transition_deadline")
        if standard == "non_standard":
            if deadline is None:
                _add(errors, f("transition_deadline"), "非标车型必须填写过渡期截止日期", "is required for a non_standard model")
            else:
                out["transition_deadline"] = iso_date(deadline, f("transition_deadline"), errors)
        elif deadline is not None and standard is not None:
            _add(errors, f("transition_deadline"), "仅适用于非标车型", "applies only to non_standard models")
        if raw.get("max_speed_kmh") is not None:
            speed = out["max_speed_kmh"] = _whole(raw["max_speed_kmh"], f("max_speed_kmh"), errors, 1, 100)
            if speed is not None and standard in ("GB17761-2024", "GB17761-2018") and speed > GB17761_MAX_SPEED_KMH:
                _add(
                    errors, f("max_speed_kmh"),
                    f"符合GB 17761的车型最高车速不得超过{GB17761_MAX_SPEED_KMH} km/h",
                    f"may not exceed {GB17761_MAX_SPEED_KMH} km/h for a GB 17761 model",
                )
        if raw.get("mass_kg") is not None:
            out["mass_kg"] = _quantity(raw["mass_kg"], f("mass_kg"), errors, Decimal("1"), Decimal("500"))
    return {k: v for k, v in out.items() if v is not None}


def approvals(raw: object, field: str, errors: Errors) -> list[dict]:
    """Return approved part models as ``[{model, approval}]``; a bare name means ``standard`` (标配)."""
    if raw is None:
        return []
    if not isinstance(raw, list):
        _add(errors, field, "应为型号列表", "must be a list of models")
        return []
    out, seen = [], set()
    for i, entry in enumerate(raw):
        name, approval = entry, "standard"
        if isinstance(entry, dict):
            extra = set(entry) - {"model", "approval"}
            if extra:
                _add(errors, f"{field}.{i}", "只能包含 model 和 approval", "may hold only model and approval")
                continue
            name, approval = entry.get("model"), entry.get("approval", "standard")
            if approval not in APPROVALS:
                _add(errors, f"{field}.{i}.approval", "应为 standard（标配）或 mutual（互认）", "must be standard (标配) or mutual (互认)")
                continue
        try:
            name = model_name(name, f"{field}.{i}")
        except InvalidIdentifier as err:
            _add(errors, err.field, err.message_zh, err.message_en)
            continue
        if name in seen:
            _add(errors, f"{field}.{i}", "型号重复", "lists the same model twice")
            continue
        seen.add(name)
        out.append({"model": name, "approval": approval})
    return out


def certificate_fields(number: object, product_kind: object, model: object, issued_on: object, expires_on: object) -> dict:
    """Return a certificate's fields in stored form, or raise CatalogueInvalid naming every bad one."""
    errors: Errors = {}
    out: dict = {}
    try:
        out["number"] = ccc_certificate(number, "number")
    except InvalidIdentifier as err:
        _add(errors, "number", err.message_zh, err.message_en)
    if product_kind not in ITEM_KINDS:
        _add(errors, "product_kind", "应为 vehicle、battery 或 charger", "must be vehicle, battery or charger")
    else:
        out["product_kind"] = product_kind
        if product_kind == "vehicle" and "number" in out and out["number"][6:10] != E_BIKE_CCC_CATEGORY:
            _add(
                errors, "number",
                f"不是电动自行车类别（第7至10位应为{E_BIKE_CCC_CATEGORY}）",
                f"is not an electric bicycle certificate (digits 7 to 10 must be {E_BIKE_CCC_CATEGORY})",
            )
    try:
        out["model"] = model_name(model, "model")
    except InvalidIdentifier as err:
        _add(errors, "model", err.message_zh, err.message_en)
    issued = iso_date(issued_on, "issued_on", errors)
    expires = iso_date(expires_on, "expires_on", errors)
    if issued and expires and expires <= issued:
        _add(errors, "expires_on", "应晚于发证日期", "must be after issued_on")
    out["issued_on"], out["expires_on"] = issued, expires
    if errors:
        raise CatalogueInvalid(errors)
    return out


def model_fields(kind: object, model: object, raw_specs: object, certificate: object,
                 approved_batteries: object, approved_chargers: object) -> dict:
    """Return a model's fields in stored form, or raise CatalogueInvalid naming every bad one."""
    errors: Errors = {}
    out: dict = {}
    if kind not in ITEM_KINDS:
        _add(errors, "kind", "应为 vehicle、battery 或 charger", "must be vehicle, battery or charger")
    else:
        out["kind"] = kind
    try:
        out["model"] = model_name(model, "model")
    except InvalidIdentifier as err:
        _add(errors, "model", err.message_zh, err.message_en)
    if kind in ITEM_KINDS:
        out["specs"] = specs(kind, raw_specs, errors)
    out["certificate"] = None
    if certificate is not None:
        try:
            out["certificate"] = ccc_certificate(certificate, "certificate")
        except InvalidIdentifier as err:
            _add(errors, "certificate", err.message_zh, err.message_en)
    out["approved_batteries"] = approvals(approved_batteries, "approved_batteries", errors)
    out["approved_chargers"] = approvals(approved_chargers, "approved_chargers", errors)
    if kind == "vehicle":
        for name in ("approved_batteries", "approved_chargers"):
            if not out[name] and name not in errors:
                _add(errors, name, "整车型号至少需要一个核准型号", "a vehicle model needs at least one approved model")
    elif kind in ITEM_KINDS:
        for name in ("approved_batteries", "approved_chargers"):
            if out[name]:
                _add(errors, name, "只有整车型号可以列出核准配套型号", "only vehicle models list approved pairings")
    if errors:
        raise CatalogueInvalid(errors)
    return out
