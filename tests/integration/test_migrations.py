"""Migrations and models agree, and every revision runs both ways on the lane's engine."""

import pytest
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import create_engine

from registry.cli import alembic_config
from registry.config import normalise_database_url
from registry.store.models import Base

pytestmark = pytest.mark.db


def test_the_migrated_schema_matches_the_models(db_url):
    engine = create_engine(normalise_database_url(db_url))
    with engine.connect() as conn:
        diff = compare_metadata(MigrationContext.configure(conn), Base.metadata)
    engine.dispose()
    assert diff == []


def test_every_revision_downgrades_and_upgrades_again(db_url):
    from alembic import command

    cfg = alembic_config(db_url)
    command.downgrade(cfg, "base")
    command.upgrade(cfg, "head")
