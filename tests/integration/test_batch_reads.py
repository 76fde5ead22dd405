"""A batch (one writing unit of work, flushed only when it must) reads what it wrote itself.

Reads inside a batch skip the flush before them where pending changes cannot alter the answer
(product models and vault persons by primary key, as items in ``load_item``); these tests pin
the cases where the answer *is* pending: a model recorded earlier in the same batch, a person
stored twice, a person dropped by a rolled-back savepoint. SQLite and PostgreSQL.
"""

from __future__ import annotations

import pytest
from sqlalchemy import func, select

from registry.domain.errors import DomainError
from registry.domain.roles import Actor
from registry.services import catalogue, commissioning
from registry.services.vault import PersonDetails, store_person
from registry.store.models import Item, Person, ProductModel, User
from registry.store.verify import verify_log
from tests.conftest import next_serial

pytestmark = pytest.mark.db


def actor_of(registry, org: dict) -> Actor:
    with registry.reading() as uow:
        user = uow.session.scalars(select(User).where(User.org_id == org["id"])).first()
        return Actor(org["id"], org["kind"], user.id)


def test_a_batch_commissions_items_of_a_model_added_and_not_yet_flushed(registry, make_org):
    maker = actor_of(registry, make_org("manufacturer")[0])
    tag = next_serial()
    number, model = f"2026011120{tag:06d}", f"BM-B{tag:05d}"
    ids = [f"TSTB48V2026{next_serial():06d}" for _ in range(3)]
    with registry.writing() as uow:
        uow.start_batch()
        _, appended = catalogue.record_certificate(uow, maker, catalogue.RecordCertificate(number, "battery", model, "2026-01-01", "2031-01-01"))
        # The services flush a model they record (they read it back); a row added and not yet
        # flushed is the case the read without flushing must still find.
        uow.session.add(ProductModel(model=model, kind="battery", maker_org_id=maker.org_id, certificate=number,
                                     specs='{"capacity_ah":20,"chemistry":"lithium_ion","energy_wh":960,"voltage_v":48}',
                                     registered_index=appended.index))
        assert uow.session.new
        done = commissioning.commission_items(uow, maker, [
            {"kind": "battery", "identifier": i, "model": model, "produced_on": "2026-03-01", "batch": "B1"} for i in ids])
        uow.finish()
    assert [d.identifier for d in done] == ids
    with registry.reading() as uow:
        assert {i.identifier: i.model for i in uow.session.scalars(select(Item).where(Item.identifier.in_(ids)))} == dict.fromkeys(ids, model)
        assert verify_log(uow.session, registry.hasher, registry.origin, registry.keys.by_id()).ok


def test_an_unknown_model_is_still_refused_in_a_batch_with_pending_rows(registry, make_catalogue):
    cat = make_catalogue()
    maker = actor_of(registry, cat.org)
    with registry.writing() as uow:
        uow.start_batch()
        commissioning.commission_items(uow, maker, [{"kind": "battery", "identifier": f"TSTB48V2026{next_serial():06d}",
                                                     "model": cat.battery_model, "produced_on": "2026-03-01", "batch": "B1"}])
        assert uow.session.new
        with pytest.raises(DomainError) as err:
            commissioning.commission_items(uow, maker, [{"kind": "battery", "identifier": f"TSTB48V2026{next_serial():06d}",
                                                         "model": "NO-SUCH-MODEL", "produced_on": "2026-03-01", "batch": "B1"}])
        assert err.value.code == "invalid_items" and any(k.endswith(".model") for k in err.value.errors)


def person(number: str, name: str = "张三") -> PersonDetails:
    return PersonDetails(name=name, id_type="resident_id", id_number=number, phone="13800138000")


def test_a_person_stored_twice_in_one_batch_is_one_row_with_the_latest_details(registry):
    number = f"11010519491231{next_serial() % 1000:03d}"
    with registry.writing() as uow:
        uow.start_batch()
        first = store_person(uow, registry.vault, person(number, "张三"))
        assert uow.session.new
        second = store_person(uow, registry.vault, person(number, "张三丰"))
        uow.finish()
    assert first == second
    with registry.reading() as uow:
        rows = uow.session.scalars(select(Person).where(Person.pseudonym == first)).all()
        assert len(rows) == 1
        assert registry.vault.open(rows[0].ciphertext, first).name == "张三丰"


def test_a_person_dropped_by_a_rolled_back_savepoint_is_stored_again(registry):
    number = f"11010519491231{next_serial() % 1000:03d}"
    with registry.writing() as uow:
        before = uow.session.scalar(select(func.count()).select_from(Person))
        savepoint = uow.session.begin_nested()
        pseudonym = store_person(uow, registry.vault, person(number))
        savepoint.rollback()
        assert store_person(uow, registry.vault, person(number, "李四")) == pseudonym
        uow.commit()
    with registry.reading() as uow:
        assert uow.session.scalar(select(func.count()).select_from(Person)) == before + 1
        row = uow.session.get(Person, pseudonym)
        assert registry.vault.open(row.ciphertext, pseudonym).name == "李四"


def test_a_person_added_before_the_held_set_started_afresh_is_still_found(registry, monkeypatch):
    """Past HOLD_LIMIT the held set is cleared: a miss no longer proves absence, and the look-up
    flushes rather than add a second row for a person still pending."""
    from registry.store import uow as uow_module

    monkeypatch.setattr(uow_module, "HOLD_LIMIT", 2)
    numbers = [f"11010519491231{next_serial() % 1000:03d}" for _ in range(3)]
    with registry.writing() as uow:
        uow.start_batch()
        pseudonyms = [store_person(uow, registry.vault, person(n)) for n in numbers]
        assert uow.session.info.get(uow_module.HOLD_CLEARED)
        again = store_person(uow, registry.vault, person(numbers[0], "王五"))
        uow.finish()
    assert again == pseudonyms[0]
    with registry.reading() as uow:
        rows = uow.session.scalars(select(Person).where(Person.pseudonym.in_(pseudonyms))).all()
        assert len(rows) == 3
        assert registry.vault.open(uow.session.get(Person, again).ciphertext, again).name == "王五"
