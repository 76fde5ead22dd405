"""Traceback and search: items' look-alike skeleton (indexed), items by production date, log entries by kind, remedies by item.

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-23
"""
from alembic import op
import sqlalchemy as sa

from registry.domain.lookalike import sql_skeleton

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column("items", sa.Column("skeleton", sa.String(64), nullable=True))
    # Existing rows get the same fold the model applies on insert (projections, not the log).
    op.execute(f"UPDATE items SET skeleton = {sql_skeleton('identifier')}")
    op.create_index("ix_items_skeleton", "items", ["skeleton"])
    op.create_index("ix_items_produced_on", "items", ["produced_on"])
    op.create_index("ix_recall_remedies_subject", "recall_remedies", ["subject"])
    # An index is not an UPDATE: the append-only triggers on log_entries do not mind.
    op.create_index("ix_log_entries_kind", "log_entries", ["kind"])


def downgrade() -> None:
    op.drop_index("ix_log_entries_kind", table_name="log_entries")
    op.drop_index("ix_recall_remedies_subject", table_name="recall_remedies")
    op.drop_index("ix_items_produced_on", table_name="items")
    op.drop_index("ix_items_skeleton", table_name="items")
    with op.batch_alter_table("items") as batch:
        batch.drop_column("skeleton")
