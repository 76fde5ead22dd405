"""Registrations ask whether a plate is in use, written with or without its middle dot: by index.

Adds ``items.plate_key`` (the plate with the middle dot and full stops removed, as
``registry.domain.rules.plate_key`` compares plates), fills it for existing rows
(projections, not the log) and indexes it. Before, each registration scanned every
item's plate.

Revision ID: 0005
Revises: 0004
Create Date: 2026-12-04
"""
from alembic import op
import sqlalchemy as sa

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column("items", sa.Column("plate_key", sa.String(32), nullable=True))
    # Stored plates are already normalised: removing the dots is all plate_key adds.
    op.execute("UPDATE items SET plate_key = replace(replace(replace(plate, '\u00b7', ''), '.', ''), '\u3002', '') "
               "WHERE plate IS NOT NULL")
    op.create_index("ix_items_plate_key", "items", ["plate_key"])


def downgrade() -> None:
    op.drop_index("ix_items_plate_key", table_name="items")
    with op.batch_alter_table("items") as batch:
        batch.drop_column("plate_key")
