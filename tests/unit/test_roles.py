"""Who may record which event (DOMAIN.md, normative), without a database: every cell."""

from __future__ import annotations

import pytest

from registry.domain.errors import DomainError
from registry.domain.roles import EVENT_KINDS, ORG_KINDS, Actor, may_record, require
from tests.lifecycle_world import DOMAIN_TABLE

CELLS = [(event, org) for event in DOMAIN_TABLE for org in ORG_KINDS]


def test_the_table_covers_every_event_kind_and_organisation_kind():
    assert set(EVENT_KINDS) == set(DOMAIN_TABLE) and len(CELLS) == 28 * 9


@pytest.mark.parametrize(("event", "org"), CELLS)
def test_each_cell_allows_or_refuses_with_403_role_not_allowed(event, org):
    actor = Actor("org-1", org, "user-1")
    assert may_record(org, event) is (org in DOMAIN_TABLE[event])
    if org in DOMAIN_TABLE[event]:
        require(actor, event)
    else:
        with pytest.raises(DomainError) as refused:
            require(actor, event)
        assert (refused.value.status, refused.value.code) == (403, "role_not_allowed")
        assert event in refused.value.message_en and refused.value.message_zh


def test_unknown_kinds_are_refused():
    assert not may_record("public", "ship") and not may_record("dealer", "teleport")
