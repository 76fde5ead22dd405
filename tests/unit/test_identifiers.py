"""Identifiers of DOMAIN.md: every format, its normal form and its field-level errors."""

from __future__ import annotations

import datetime
import pickle

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from stdnum.cn import ric

from registry.domain import identifiers as ids
from registry.domain.identifiers import (
    ID_TYPES,
    ITEM_KINDS,
    InvalidIdentifier,
    battery_code,
    ccc_category,
    ccc_certificate,
    charger_code,
    charger_model,
    charger_model_code,
    frame_code,
    guess_kind,
    id_document,
    is_reused_battery,
    item_identifier,
    legacy_identifier,
    mask_id_number,
    mask_name,
    mask_phone,
    mobile_phone,
    normalise,
    plate,
)

# No example database on disk, no flaky deadlines.
SETTINGS = settings(database=None, deadline=None, max_examples=150)
FUZZ = settings(database=None, deadline=None, max_examples=300)


def resident_id(region: str = "330206", born: str = "19900101", sequence: str = "123") -> str:
    """A resident ID number with its check digit computed by stdnum."""
    body = region + born + sequence
    return body + ric.calc_check_digit(body + "0")


def wrong_check_digit(number: str) -> str:
    return number[:-1] + ("1" if number[-1] != "1" else "2")


def fullwidth(text: str) -> str:
    """ASCII → full-width forms (U+FF01..U+FF5E), space → ideographic space."""
    return "".join(
        "\u3000" if c == " " else chr(ord(c) + 0xFEE0) if "!" <= c <= "~" else c for c in text
    )


def refused(call, *args, **kwargs) -> InvalidIdentifier:
    with pytest.raises(InvalidIdentifier) as caught:
        call(*args, **kwargs)
    error = caught.value
    assert error.message_zh and error.message_en
    assert error.message("zh") == error.message_zh
    assert error.message("en") == error.message_en
    return error


VALID_FRAME = "117322500000001"
VALID_BATTERY = "CATLF48V2026000001"
VALID_CHARGER = "MA2H3K8L1-26-48-000001"
VALID_CERTIFICATE = "2024011119000123"


# --------------------------------------------------------------------------
# Errors


def test_an_invalid_identifier_is_a_value_error_with_field_code_and_two_messages():
    error = refused(frame_code, "12345")
    assert isinstance(error, ValueError)
    assert (error.field, error.code) == ("vehicle", "frame_code_length")
    assert error.message() == error.message_zh
    assert error.message("zh-CN") == error.message_zh
    assert error.message("en") == str(error) == error.message_en
    assert error.as_dict("en") == {"field": "vehicle", "code": "frame_code_length", "message": error.message_en}


def test_an_invalid_identifier_survives_pickling():
    error = refused(battery_code, "")
    copy = pickle.loads(pickle.dumps(error))
    assert (copy.field, copy.code, copy.message_zh, copy.message_en) == (
        error.field,
        error.code,
        error.message_zh,
        error.message_en,
    )


def test_the_messages_name_the_field_in_chinese_and_english():
    error = refused(frame_code, "1173225")
    assert "整车编码" in error.message_zh and "15位数字" in error.message_zh
    assert "frame code" in error.message_en.lower()
    error = refused(mobile_phone, "123")
    assert "手机号码" in error.message_zh and "phone" in error.message_en


def test_a_caller_given_field_name_appears_in_both_messages():
    error = refused(battery_code, "CATL", field="new_battery")
    assert error.field == "new_battery"
    assert "new_battery" in error.message_zh and "蓄电池编码" in error.message_zh
    assert "new_battery" in error.message_en and "battery code" in error.message_en.lower()


# --------------------------------------------------------------------------
# Normalising


def test_normalising_strips_every_kind_of_white_space():
    assert normalise(" 1173\t2250\u3000000\n0001 \u00a0") == VALID_FRAME


def test_normalising_turns_full_width_into_half_width_and_upper_case():
    assert normalise("ｃａｔｌ－ｆ４８ｖ") == "CATL-F48V"


def test_normalising_maps_hyphen_variants_to_a_hyphen():
    assert normalise("A－B—C–D‐E‑F−G") == "A-B-C-D-E-F-G"


def test_normalising_maps_middle_dot_variants_to_the_middle_dot():
    assert normalise("浙B・A") == normalise("浙B•A") == normalise("浙B･A") == "浙B·A"


def test_normalising_keeps_chinese_characters():
    assert normalise(" 浙 b ") == "浙B"


def test_normalising_removes_invisible_format_characters():
    assert normalise("\ufeff1173\u200b22500000001") == VALID_FRAME


def test_normalising_a_blank_value_gives_an_empty_string():
    assert normalise(" \u3000\t") == ""


# --------------------------------------------------------------------------
# Common refusals of every validator

VALIDATORS = [
    ("vehicle", frame_code),
    ("battery", battery_code),
    ("charger", charger_code),
    ("legacy", legacy_identifier),
    ("certificate", ccc_certificate),
    ("id_number", lambda raw: id_document("resident_id", raw)),
    ("id_number", lambda raw: id_document("passport", raw)),
    ("phone", mobile_phone),
    ("plate", plate),
    ("vehicle", lambda raw: item_identifier("vehicle", raw, legacy=True)),
]


@pytest.mark.parametrize("field, validate", VALIDATORS)
@pytest.mark.parametrize("raw", ["", "   ", "\u3000\t\n"])
def test_an_empty_or_blank_value_is_refused_as_empty(field, validate, raw):
    error = refused(validate, raw)
    assert (error.field, error.code) == (field, "empty")


@pytest.mark.parametrize("field, validate", VALIDATORS)
@pytest.mark.parametrize("raw", [None, 117322500000001, b"117322500000001", ["117322500000001"], 1.5, object()])
def test_a_value_that_is_not_text_is_refused(field, validate, raw):
    error = refused(validate, raw)
    assert (error.field, error.code) == (field, "not_a_string")


@pytest.mark.parametrize("field, validate", VALIDATORS)
@pytest.mark.parametrize("raw", ["1" * 65, " " * 65, "浙" * 1000])
def test_a_value_longer_than_64_characters_is_refused_before_normalising(field, validate, raw):
    error = refused(validate, raw)
    assert (error.field, error.code) == (field, "too_long")


def test_a_value_of_64_characters_is_not_too_long():
    assert frame_code(" " * 49 + VALID_FRAME) == VALID_FRAME


def test_a_subclass_of_str_is_read_as_plain_text():
    class Scanned(str):
        pass

    value = frame_code(Scanned(VALID_FRAME))
    assert value == VALID_FRAME and type(value) is str


# --------------------------------------------------------------------------
# Vehicle frame codes


def test_a_valid_frame_code_is_accepted():
    assert frame_code(VALID_FRAME) == VALID_FRAME


def test_a_full_width_frame_code_is_accepted_and_normalised():
    assert frame_code("１１７３２２５０００００００１") == VALID_FRAME


def test_a_frame_code_of_14_digits_is_refused():
    error = refused(frame_code, "11732250000000")
    assert (error.field, error.code) == ("vehicle", "frame_code_length")


def test_a_frame_code_of_16_digits_is_refused():
    assert refused(frame_code, "1173225000000001").code == "frame_code_length"


def test_a_frame_code_whose_fifth_digit_is_not_2_is_refused():
    error = refused(frame_code, "117312500000001")
    assert (error.field, error.code) == ("vehicle", "frame_code_type")
    assert "2" in error.message_zh


def test_a_frame_code_with_letters_is_refused():
    error = refused(frame_code, "1173225A0000001")
    assert (error.field, error.code) == ("vehicle", "frame_code_not_digits")


def test_a_frame_code_in_other_scripts_digits_is_refused():
    # Arabic-Indic digits match Python's \d, but not a frame code.
    assert refused(frame_code, "١١٧٣٢٢٥٠٠٠٠٠٠٠١").code == "frame_code_not_digits"


# --------------------------------------------------------------------------
# Battery codes


def test_a_valid_battery_code_is_accepted():
    assert battery_code(VALID_BATTERY) == VALID_BATTERY
    assert battery_code("CATL-F48V-2026-000001") == "CATL-F48V-2026-000001"


def test_a_lower_case_full_width_battery_code_is_accepted_and_normalised():
    assert battery_code("ｃａｔｌｆ４８ｖ２０２６０００００１－ｒ") == VALID_BATTERY + "-R"


@pytest.mark.parametrize("raw", ["CATL123", "C" * 41])
def test_a_battery_code_shorter_than_8_or_longer_than_40_is_refused(raw):
    error = refused(battery_code, raw)
    assert (error.field, error.code) == ("battery", "battery_code_length")


@pytest.mark.parametrize("raw", ["IATL12345678", "CAOL12345678", "CAT-12345678"])
def test_a_battery_code_whose_enterprise_code_has_i_o_or_a_hyphen_is_refused(raw):
    error = refused(battery_code, raw)
    assert (error.field, error.code) == ("battery", "battery_code_enterprise")


@pytest.mark.parametrize("raw", ["-CATL12345678", "CATL12345678-", "CATL--12345678"])
def test_a_battery_code_with_a_leading_trailing_or_double_hyphen_is_refused(raw):
    assert refused(battery_code, raw).code == "battery_code_format"


@pytest.mark.parametrize("raw", ["CATL_12345678", "CATL/12345678", "CATL·12345678", "CATL电池12345678"])
def test_a_battery_code_with_other_characters_is_refused(raw):
    assert refused(battery_code, raw).code == "battery_code_format"


@pytest.mark.parametrize(
    "code", [VALID_BATTERY + "-R", VALID_BATTERY + "-R-01", "CATL-R-F48V2026000001", "catlf48v2026000001－ｒ"]
)
def test_a_battery_code_with_an_r_part_is_reused(code):
    assert is_reused_battery(code) is True


@pytest.mark.parametrize(
    "code", [VALID_BATTERY, "CATLR48V2026000001", VALID_BATTERY + "-R01", VALID_BATTERY + "-RE", "RRRR12345678"]
)
def test_a_battery_code_without_an_r_part_is_not_reused(code):
    assert is_reused_battery(code) is False


def test_reuse_detection_refuses_what_is_not_an_identifier():
    assert refused(is_reused_battery, None).code == "not_a_string"
    assert refused(is_reused_battery, " ").code == "empty"


# --------------------------------------------------------------------------
# Charger codes


def test_a_valid_charger_code_is_accepted():
    assert charger_code(VALID_CHARGER) == VALID_CHARGER


def test_a_lower_case_charger_code_with_dash_variants_is_accepted():
    assert charger_code(" ma2h3k8l1—26－48 ‐000001 ") == VALID_CHARGER


def test_the_model_code_of_a_charger_is_its_first_three_parts():
    assert charger_model_code(VALID_CHARGER) == "MA2H3K8L1-26-48"
    assert charger_model_code("ma2h3k8l1-26-48-ABCDEF0123456789") == "MA2H3K8L1-26-48"


def test_a_bare_charger_model_code_is_validated_on_its_own():
    assert charger_model("ma2h3k8l1-26-48") == "MA2H3K8L1-26-48"
    assert refused(charger_model, VALID_CHARGER).code == "charger_code_format"


def test_the_model_code_of_an_invalid_charger_code_is_refused():
    error = refused(charger_model_code, "MA2H3K8L1-26-48")
    assert (error.field, error.code) == ("charger", "charger_code_format")


@pytest.mark.parametrize("maker", ["MA2H3K8LI", "MA2H3K8LO", "MA2H3K8LZ", "MA2H3K8LS", "MA2H3K8LV", "MA2H3K8L", "MA2H3K8L12"])
def test_a_charger_code_whose_maker_part_is_not_9_credit_code_characters_is_refused(maker):
    error = refused(charger_code, f"{maker}-26-48-000001")
    assert (error.field, error.code) == ("charger", "charger_code_maker")


@pytest.mark.parametrize("year", ["2A", "2", "026"])
def test_a_charger_code_whose_year_is_not_2_digits_is_refused(year):
    assert refused(charger_code, f"MA2H3K8L1-{year}-48-000001").code == "charger_code_year"


@pytest.mark.parametrize("spec", ["4Z", "I8", "O8", "4", "480"])
def test_a_charger_code_whose_spec_is_not_2_characters_without_i_o_z_is_refused(spec):
    assert refused(charger_code, f"MA2H3K8L1-26-{spec}-000001").code == "charger_code_spec"


@pytest.mark.parametrize("serial", ["001", "0" * 17])
def test_a_charger_code_whose_serial_is_not_4_to_16_characters_is_refused(serial):
    assert refused(charger_code, f"MA2H3K8L1-26-48-{serial}").code == "charger_code_serial"


@pytest.mark.parametrize("raw", ["MA2H3K8L1-26-48", "MA2H3K8L1-26-48-0001-02", "MA2H3K8L1264800001", "MA2H3K8L1-26-48-00_01"])
def test_a_charger_code_without_four_hyphen_separated_parts_is_refused(raw):
    assert refused(charger_code, raw).code == "charger_code_format"


# --------------------------------------------------------------------------
# Legacy identifiers


@pytest.mark.parametrize("raw", ["ab1234", "X" * 24, "YADEA20150812"])
def test_a_legacy_identifier_of_6_to_24_letters_or_digits_is_accepted(raw):
    assert legacy_identifier(raw, "vehicle") == raw.upper()


@pytest.mark.parametrize("raw", ["AB123", "X" * 25])
def test_a_legacy_identifier_of_another_length_is_refused(raw):
    error = refused(legacy_identifier, raw, "battery")
    assert (error.field, error.code) == ("battery", "legacy_identifier_length")


def test_a_legacy_identifier_with_a_hyphen_is_refused():
    assert refused(legacy_identifier, "AB-1234", "vehicle").code == "legacy_identifier_format"


# --------------------------------------------------------------------------
# CCC certificates


def test_a_valid_ccc_certificate_is_accepted_and_its_category_read():
    assert ccc_certificate(" 2024 01 1119 000123 ") == VALID_CERTIFICATE
    assert ccc_category(VALID_CERTIFICATE) == "1119" == ids.E_BIKE_CCC_CATEGORY


@pytest.mark.parametrize("raw, code", [
    ("202401111900012", "certificate_length"),
    ("20240111190001234", "certificate_length"),
    ("2024O11119000123", "certificate_not_digits"),
    ("1999011119000123", "certificate_year"),
    ("2124011119000123", "certificate_year"),
])
def test_a_malformed_ccc_certificate_is_refused(raw, code):
    error = refused(ccc_certificate, raw)
    assert (error.field, error.code) == ("certificate", code)


def test_the_category_of_a_malformed_certificate_is_refused():
    assert refused(ccc_category, "1119").code == "certificate_length"


# --------------------------------------------------------------------------
# Identity documents


def test_a_resident_id_with_a_correct_check_digit_is_accepted():
    number = resident_id()
    assert ric.is_valid(number)
    assert id_document("resident_id", number) == number


def test_a_resident_id_whose_check_digit_is_x_may_be_typed_in_lower_case():
    born = next(
        f"1990{m:02d}{d:02d}"
        for m in range(1, 13)
        for d in range(1, 29)
        if resident_id(born=f"1990{m:02d}{d:02d}").endswith("X")
    )
    number = resident_id(born=born)
    assert id_document("resident_id", number.lower()) == number


def test_a_resident_id_with_a_wrong_check_digit_is_refused():
    error = refused(id_document, "resident_id", wrong_check_digit(resident_id()))
    assert (error.field, error.code) == ("id_number", "id_number_checksum")
    assert "居民身份证" in error.message_zh and "resident" in error.message_en


@pytest.mark.parametrize("born", ["19900230", "19901301", "18991231", "20991231"])
def test_a_resident_id_with_an_impossible_birth_date_is_refused(born):
    error = refused(id_document, "resident_id", resident_id(born=born))
    assert error.code == "id_number_birth_date"


def test_a_resident_id_with_an_unknown_province_is_refused():
    assert refused(id_document, "resident_id", resident_id(region="990101")).code == "id_number_region"


@pytest.mark.parametrize("raw, code", [
    ("33020619900101123", "id_number_length"),
    ("3302061990010112345", "id_number_length"),
    ("33020619900101123A", "id_number_format"),
    ("X30206199001011235", "id_number_format"),
])
def test_a_malformed_resident_id_is_refused(raw, code):
    assert refused(id_document, "resident_id", raw).code == code


@pytest.mark.parametrize("id_type, raw, expected", [
    ("passport", "e12345678", "E12345678"),
    ("passport", "G1234", "G1234"),
    ("hk_macau_permit", "H12345678", "H12345678"),
    ("hk_macau_permit", "m1234567890", "M1234567890"),
    ("hk_macau_permit", "CA1234567", "CA1234567"),
    ("taiwan_permit", "12345678", "12345678"),
    ("taiwan_permit", "1234567890", "1234567890"),
    ("foreigner_permanent_id", "usa330075012345", "USA330075012345"),
    ("foreigner_permanent_id", "93101840912345678X", "93101840912345678X"),
])
def test_other_identity_documents_in_their_formats_are_accepted(id_type, raw, expected):
    assert id_document(id_type, raw) == expected


@pytest.mark.parametrize("id_type, raw, code", [
    ("passport", "E123", "id_number_length"),
    ("passport", "E" * 18, "id_number_length"),
    ("passport", "E1234-5678", "id_number_format"),
    ("hk_macau_permit", "H1234567", "id_number_format"),
    ("hk_macau_permit", "K12345678", "id_number_format"),
    ("taiwan_permit", "123456789", "id_number_format"),
    ("foreigner_permanent_id", "US330075012345", "id_number_format"),
    ("foreigner_permanent_id", "831018409123456789", "id_number_format"),
])
def test_other_identity_documents_in_other_formats_are_refused(id_type, raw, code):
    error = refused(id_document, id_type, raw)
    assert (error.field, error.code) == ("id_number", code)


@pytest.mark.parametrize("id_type", ["driving_licence", "Resident_ID", "", None, 3])
def test_an_unknown_identity_document_type_is_refused_on_the_id_type_field(id_type):
    error = refused(id_document, id_type, resident_id())
    assert error.field == "id_type"
    assert error.code in ("id_type_unknown", "not_a_string")
    if isinstance(id_type, str):
        assert error.code == "id_type_unknown"


def test_an_identity_document_error_can_name_another_field():
    assert refused(id_document, "passport", "E1", field="buyer_id_number").field == "buyer_id_number"


# --------------------------------------------------------------------------
# Mobile phones


@pytest.mark.parametrize("raw", [
    "13800138000", "+86 138 0013 8000", "8613800138000", "008613800138000", "138-0013-8000", "１３８００１３８０００",
])
def test_a_mobile_phone_number_is_accepted_with_or_without_86(raw):
    assert mobile_phone(raw) == "13800138000"


@pytest.mark.parametrize("raw, code", [
    ("12800138000", "phone_prefix"),
    ("1380013800", "phone_length"),
    ("138001380000", "phone_length"),
    ("1380013800A", "phone_not_digits"),
    ("+8512800138000", "phone_not_digits"),
])
def test_a_malformed_mobile_phone_number_is_refused(raw, code):
    error = refused(mobile_phone, raw)
    assert (error.field, error.code) == ("phone", code)


# --------------------------------------------------------------------------
# Plates


@pytest.mark.parametrize("raw", ["浙Ｂ·Ａ０００１", "浙B.A0001", "浙b・a0001", "浙 B • A0001", "浙B･A0001", "浙B。A0001"])
def test_a_plate_with_any_middle_dot_variant_is_accepted_and_normalised(raw):
    assert plate(raw) == "浙B·A0001"


@pytest.mark.parametrize("raw", ["杭州123456", "沪C·12345", "内蒙古A123"])
def test_a_plate_with_a_city_prefix_or_no_dot_is_accepted(raw):
    assert plate(raw) == raw


@pytest.mark.parametrize("raw, code", [
    ("B·A0001", "plate_prefix"),
    ("·浙BA0001", "plate_prefix"),
    ("浙B·A·0001", "plate_format"),
    ("浙B·", "plate_format"),
    ("浙·BA0001", "plate_format"),
    ("浙B-A0001", "plate_format"),
    ("浙BA0001警", "plate_format"),
    ("浙B1", "plate_length"),
    ("浙B12345678901", "plate_length"),
    ("浙江省杭州市A1234567·89", "plate_length"),
])
def test_a_malformed_plate_is_refused(raw, code):
    error = refused(plate, raw)
    assert (error.field, error.code) == ("plate", code)


# --------------------------------------------------------------------------
# Items by kind


def test_an_item_identifier_is_validated_by_its_kind():
    assert item_identifier("vehicle", VALID_FRAME) == VALID_FRAME
    assert item_identifier("battery", VALID_BATTERY.lower()) == VALID_BATTERY
    assert item_identifier("charger", VALID_CHARGER) == VALID_CHARGER
    assert refused(item_identifier, "battery", VALID_FRAME[:7]).field == "battery"


def test_an_item_identifier_error_names_the_field_given():
    error = refused(item_identifier, "battery", "CATL", field="old_battery")
    assert (error.field, error.code) == ("old_battery", "battery_code_length")


def test_a_legacy_identifier_is_accepted_only_for_backfill():
    assert refused(item_identifier, "vehicle", "YADEA2015X").code == "frame_code_not_digits"
    assert item_identifier("vehicle", "yadea2015x", legacy=True) == "YADEA2015X"


def test_a_standard_code_is_still_accepted_for_backfill():
    assert item_identifier("charger", VALID_CHARGER, legacy=True) == VALID_CHARGER
    assert item_identifier("battery", VALID_BATTERY + "-R", legacy=True) == VALID_BATTERY + "-R"


def test_a_value_that_is_neither_standard_nor_legacy_is_refused_for_backfill():
    error = refused(item_identifier, "battery", "AB-1", legacy=True)
    assert (error.field, error.code) == ("battery", "legacy_identifier_format")
    assert "旧编码" in error.message_zh and "legacy" in error.message_en


@pytest.mark.parametrize("kind", ["car", "Vehicle", "", None])
def test_an_unknown_item_kind_is_refused_on_the_kind_field(kind):
    error = refused(item_identifier, kind, VALID_FRAME)
    assert error.field == "kind"
    assert error.code == ("not_a_string" if kind is None else "kind_unknown")


@pytest.mark.parametrize("raw, kind", [
    (VALID_FRAME, "vehicle"),
    ("１１７３２２５０００００００１", "vehicle"),
    (VALID_CHARGER.lower(), "charger"),
    (VALID_BATTERY, "battery"),
    ("117312500000001", "battery"),
    ("浙B·A0001", None),
    ("hello", None),
    ("", None),
])
def test_the_kind_of_an_identifier_is_guessed_from_its_format(raw, kind):
    assert guess_kind(raw) == kind


def test_guessing_the_kind_of_something_that_is_not_text_is_refused():
    assert refused(guess_kind, 42).code == "not_a_string"


# --------------------------------------------------------------------------
# Masking


def test_a_resident_id_is_masked_but_for_its_first_6_and_last_4_characters():
    number = resident_id()
    assert mask_id_number(number) == number[:6] + "*" * 8 + number[-4:]
    assert mask_id_number("330206199001011235") == "330206********1235"


@pytest.mark.parametrize("raw, masked", [("E12345678", "E12****78"), ("AB", "**"), ("", "")])
def test_short_document_numbers_are_masked_too(raw, masked):
    assert mask_id_number(raw) == masked


@pytest.mark.parametrize("raw", ["13800138000", "+86 138 0013 8000"])
def test_a_phone_number_is_masked_but_for_its_first_3_and_last_4_digits(raw):
    assert mask_phone(raw) == "138****8000"


@pytest.mark.parametrize("raw, masked", [("张三", "张*"), ("张小三", "张*三"), ("欧阳娜娜", "欧**娜"), ("张", "*"), (" 李四 ", "李*"), ("", "")])
def test_a_name_is_masked_but_for_its_ends(raw, masked):
    assert mask_name(raw) == masked


@pytest.mark.parametrize("mask", [mask_id_number, mask_phone, mask_name])
def test_masking_refuses_what_is_not_text(mask):
    assert refused(mask, None).code == "not_a_string"
    assert refused(mask, "x" * 65).code == "too_long"


# --------------------------------------------------------------------------
# Properties: valid values round-trip, variants give the same value

DIGITS = "0123456789"
UPPER = "ABCDEFGHIJKLMNOPQRSTUVWXYZ"
ALNUM = DIGITS + UPPER
ENTERPRISE = "".join(c for c in ALNUM if c not in "IO")
MAKER = "".join(c for c in ALNUM if c not in "IOZSV")
SPEC = "".join(c for c in ALNUM if c not in "IOZ")


def text_of(alphabet: str, size: int | None = None, min_size: int = 0, max_size: int | None = None):
    if size is not None:
        min_size = max_size = size
    return st.text(alphabet=st.sampled_from(alphabet), min_size=min_size, max_size=max_size)


frame_codes = st.builds(lambda a, y, s: a + "2" + y + s, text_of(DIGITS, 4), text_of(DIGITS, 2), text_of(DIGITS, 8))

battery_codes = st.builds(
    lambda e, rest, parts: "-".join([e + rest, *parts]),
    text_of(ENTERPRISE, 4),
    text_of(ALNUM, min_size=4, max_size=16),
    st.lists(st.one_of(st.just("R"), text_of(ALNUM, min_size=1, max_size=4)), max_size=4),
)

charger_codes = st.builds(
    lambda m, y, z, s: f"{m}-{y}-{z}-{s}",
    text_of(MAKER, 9),
    text_of(DIGITS, 2),
    text_of(SPEC, 2),
    text_of(ALNUM, min_size=4, max_size=16),
)

legacy_identifiers = text_of(ALNUM, min_size=6, max_size=24)

ccc_certificates = st.builds(
    lambda y, body, cat, serial: f"20{y}{body}{cat}{serial}",
    text_of(DIGITS, 2),
    text_of(DIGITS, 2),
    st.one_of(st.just("1119"), text_of(DIGITS, 4)),
    text_of(DIGITS, 6),
)

resident_ids = st.builds(
    lambda region, born, seq: resident_id(region, born.strftime("%Y%m%d"), seq),
    st.sampled_from(["110101", "310115", "330206", "440305", "510107", "650102", "810000"]),
    st.dates(datetime.date(1900, 1, 1), datetime.date(2020, 12, 31)),
    text_of(DIGITS, 3),
)

phones = st.builds(lambda second, rest: "1" + second + rest, text_of("3456789", 1), text_of(DIGITS, 9))

plates = st.builds(
    lambda prefix, body, dot_at: prefix + (body if dot_at is None else body[:dot_at] + "·" + body[dot_at:]),
    st.sampled_from(["浙", "沪", "京", "粤", "杭州", "内蒙古"]),
    text_of(ALNUM, min_size=3, max_size=10),
    st.one_of(st.none(), st.integers(1, 2)),
)

PARSERS = [
    ("frame_code", frame_code, frame_codes),
    ("battery_code", battery_code, battery_codes),
    ("charger_code", charger_code, charger_codes),
    ("legacy_identifier", lambda raw: legacy_identifier(raw, "vehicle"), legacy_identifiers),
    ("ccc_certificate", ccc_certificate, ccc_certificates),
    ("resident_id", lambda raw: id_document("resident_id", raw), resident_ids),
    ("mobile_phone", mobile_phone, phones),
    ("plate", plate, plates),
    ("item_vehicle", lambda raw: item_identifier("vehicle", raw), frame_codes),
    ("item_battery_legacy", lambda raw: item_identifier("battery", raw, legacy=True), legacy_identifiers),
]

SPACES = [" ", "\t", "\u3000", "\n", "\u00a0"]


@st.composite
def variant_of(draw, value: str) -> str:
    """``value`` as someone might type it: mixed case, full-width characters, dash and dot variants, spaces."""
    chars = []
    for c in value:
        if "A" <= c <= "Z" and draw(st.booleans()):
            c = c.lower()
        if c == "-":
            c = draw(st.sampled_from(["-", "－", "—", "–", "‐"]))
        elif c == "·":
            c = draw(st.sampled_from(["·", "・", "•", "･", "．"]))
        elif "!" <= c <= "~" and draw(st.booleans()):
            c = fullwidth(c)
        chars.append(c)
    room = ids.MAX_INPUT_LENGTH - len(chars)
    for _ in range(draw(st.integers(0, min(room, 6)))):
        chars.insert(draw(st.integers(0, len(chars))), draw(st.sampled_from(SPACES)))
    return "".join(chars)


@pytest.mark.parametrize("name, parse, values", PARSERS, ids=[p[0] for p in PARSERS])
@SETTINGS
@given(data=st.data())
def test_a_valid_value_is_its_own_normal_form_and_parses_to_itself(name, parse, values, data):
    value = data.draw(values)
    assert normalise(value) == value
    assert parse(value) == value


@pytest.mark.parametrize("name, parse, values", PARSERS, ids=[p[0] for p in PARSERS])
@SETTINGS
@given(data=st.data())
def test_a_valid_value_typed_in_full_width_lower_case_or_with_spaces_parses_to_the_same_value(
    name, parse, values, data
):
    value = data.draw(values)
    assert parse(data.draw(variant_of(value))) == value


@SETTINGS
@given(value=phones, prefix=st.sampled_from(["", "+86", "86", "0086", "+86 ", "＋８６"]))
def test_a_mobile_phone_with_a_country_prefix_parses_to_its_11_digits(value, prefix):
    assert mobile_phone(prefix + value) == value


@SETTINGS
@given(code=battery_codes)
def test_a_battery_is_reused_exactly_when_a_part_after_the_first_is_r(code):
    assert is_reused_battery(code) == ("R" in code.split("-")[1:])


@SETTINGS
@given(code=charger_codes)
def test_the_model_code_is_the_charger_code_without_its_serial(code):
    model = charger_model_code(code)
    assert code.startswith(model + "-") and len(model) == 15
    assert charger_model(model) == model


@SETTINGS
@given(number=ccc_certificates)
def test_the_category_is_digits_7_to_10_of_the_certificate(number):
    assert ccc_category(number) == number[6:10]


@SETTINGS
@given(number=resident_ids)
def test_every_generated_resident_id_is_valid_for_stdnum_and_a_wrong_check_digit_is_refused(number):
    assert ric.calc_check_digit(number) == number[-1]
    assert refused(id_document, "resident_id", wrong_check_digit(number)).code == "id_number_checksum"


@SETTINGS
@given(value=st.one_of(frame_codes, charger_codes))
def test_the_kind_of_a_generated_code_is_guessed(value):
    assert guess_kind(value) == ("vehicle" if "-" not in value else "charger")


# --------------------------------------------------------------------------
# Properties: nothing but InvalidIdentifier, whatever comes in

NEAR_IDENTIFIERS = DIGITS + "ABCRIOZXabcrx-·. \u3000－—・浙沪Ｂ１２＋+_/"

junk_text = st.one_of(
    st.text(max_size=80),
    text_of(NEAR_IDENTIFIERS, max_size=70),
    st.binary(max_size=80).map(lambda b: b.decode("utf-8", errors="replace")),
    st.binary(max_size=80).map(lambda b: b.decode("utf-8", errors="surrogateescape")),
    st.binary(max_size=80).map(lambda b: b.decode("latin-1")),
)
junk_objects = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(),
    st.floats(),
    st.binary(max_size=20),
    st.lists(st.integers(), max_size=3),
    st.lists(st.text(max_size=5), max_size=3),
    st.dictionaries(st.text(max_size=3), st.integers(), max_size=2),
    st.tuples(st.text(max_size=5)),
)
junk = st.one_of(junk_text, junk_objects)

PARSING_CALLS = [
    frame_code,
    battery_code,
    charger_code,
    charger_model,
    lambda raw: legacy_identifier(raw, "battery"),
    ccc_certificate,
    mobile_phone,
    plate,
    *[lambda raw, t=t: id_document(t, raw) for t in ID_TYPES],
    *[lambda raw, k=k: item_identifier(k, raw) for k in ITEM_KINDS],
    *[lambda raw, k=k: item_identifier(k, raw, legacy=True) for k in ITEM_KINDS],
]
OTHER_CALLS = [
    normalise,
    is_reused_battery,
    charger_model_code,
    ccc_category,
    guess_kind,
    mask_id_number,
    mask_phone,
    mask_name,
]


@FUZZ
@given(raw=junk)
def test_parsing_anything_raises_nothing_but_invalid_identifier_and_a_result_parses_to_itself(raw):
    for parse in PARSING_CALLS:
        try:
            value = parse(raw)
        except InvalidIdentifier as error:
            assert error.code and error.field and error.message_zh and error.message_en
            continue
        assert type(value) is str
        assert parse(value) == value
        assert normalise(value) == value


@FUZZ
@given(raw=junk)
def test_the_other_functions_raise_nothing_but_invalid_identifier(raw):
    for call in OTHER_CALLS:
        try:
            call(raw)
        except InvalidIdentifier as error:
            assert error.code and error.field and error.message_zh and error.message_en


@FUZZ
@given(id_type=st.one_of(st.sampled_from(ID_TYPES), junk), kind=st.one_of(st.sampled_from(ITEM_KINDS), junk), raw=junk)
def test_a_document_type_or_item_kind_of_any_value_raises_nothing_but_invalid_identifier(id_type, kind, raw):
    for call in (lambda: id_document(id_type, raw), lambda: item_identifier(kind, raw, legacy=True)):
        try:
            call()
        except InvalidIdentifier as error:
            assert error.code


@FUZZ
@given(raw=junk_text)
def test_normalising_is_idempotent(raw):
    try:
        once = normalise(raw)
    except InvalidIdentifier as error:
        assert error.code == "too_long"
        return
    assert normalise(once) == once


@given(raw=st.text(alphabet=st.characters(max_codepoint=127), max_size=64))
def test_ascii_text_is_normalised_as_character_by_character(raw):
    assert ids._normalise_str(raw) == ids._normalise_chars(raw)

