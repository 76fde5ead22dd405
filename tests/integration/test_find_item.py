"""find_item, the shared resolver: bare identifier or scanned code, any kind, on SQLite and PostgreSQL."""

from __future__ import annotations

import pytest

from registry.domain.errors import DomainError
from registry.domain.identifiers import InvalidIdentifier
from registry.services.items import find_item, subject
from registry.store.models import Item

pytestmark = pytest.mark.db


@pytest.fixture
def items(make_catalogue):
    cat = make_catalogue()
    return {kind: cat.commission(kind)[0] for kind in ("vehicle", "battery", "charger")}


def test_subject_names_an_items_chain():
    assert subject("battery", "CATLF48V2026000001") == "battery:CATLF48V2026000001"


@pytest.mark.parametrize("kind", ["vehicle", "battery", "charger"])
def test_the_bare_identifier_and_the_scanned_payload_lead_to_the_same_item(registry, items, kind):
    done = items[kind]
    token = done["code"].rsplit("/", 1)[1]
    with registry.reading() as uow:
        found = {find_item(uow, v, k).subject for v in (done["identifier"], done["identifier"].lower(), done["code"], done["code"].upper(), token) for k in (None, kind)}
    assert found == {subject(kind, done["identifier"])}


def test_a_payload_whose_double_slash_was_merged_still_resolves(registry, items):
    done = items["vehicle"]
    with registry.reading() as uow:
        assert find_item(uow, done["code"].replace("://", ":/")).identifier == done["identifier"]


def test_an_altered_code_is_not_genuine_and_names_why(registry, items):
    code = items["battery"]["code"]
    forged = code[:-3] + ("AAA" if not code.endswith("AAA") else "BBB")
    with registry.reading() as uow, pytest.raises(DomainError) as err:
        find_item(uow, forged, field="battery")
    assert err.value.status == 422 and err.value.code == "code_not_genuine"
    assert err.value.problems[0].subject == "battery" and "battery" in err.value.errors


def test_an_unknown_identifier_is_404_in_both_languages(registry, items):
    with registry.reading() as uow, pytest.raises(DomainError) as err:
        find_item(uow, "117322699999999", "vehicle", field="vehicle")
    assert err.value.status == 404 and err.value.code == "item_not_found"
    assert err.value.message("zh") != err.value.message("en") and "vehicle" in err.value.errors


@pytest.mark.parametrize("value", ["", "   ", "1173-22", "汉字", None, 42, "x" * 70])
def test_an_invalid_identifier_is_a_field_error(registry, items, value):
    with registry.reading() as uow, pytest.raises(InvalidIdentifier) as err:
        find_item(uow, value, field="vehicle")
    assert err.value.field == "vehicle"


def test_a_legacy_identifier_is_found_by_its_value_whatever_it_looks_like(registry, items):
    with registry.writing() as uow:
        uow.session.add(Item(subject="vehicle:AB12345678", kind="vehicle", identifier="AB12345678", state="registered",
                             legacy=True, backfilled=True, commissioned_index=0, last_index=0))
        uow.commit()
    with registry.reading() as uow:
        assert find_item(uow, "ab12345678").subject == "vehicle:AB12345678"
        assert find_item(uow, "AB12345678", "vehicle").legacy is True
        with pytest.raises(DomainError):
            find_item(uow, "AB12345678", "battery")


def test_the_code_of_one_kind_is_refused_where_another_is_expected(registry, items):
    with registry.reading() as uow, pytest.raises(DomainError) as err:
        find_item(uow, items["charger"]["code"], "battery", field="battery")
    assert err.value.code == "code_wrong_kind" and err.value.status == 422
