"""Projections for the catalogue, items, lists, recalls and corrections; the owner vault; idempotency.

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-23
"""
from alembic import op
import sqlalchemy as sa

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None

TZ = sa.DateTime(timezone=True)
S = sa.String
BI = sa.BigInteger


def upgrade() -> None:
    op.create_table(
        "certificates",
        sa.Column("number", S(16), nullable=False),
        sa.Column("product_kind", S(16), nullable=False),
        sa.Column("model", S(64), nullable=False),
        sa.Column("holder_org_id", S(32), nullable=False),
        sa.Column("issued_on", S(10), nullable=False),
        sa.Column("expires_on", S(10), nullable=False),
        sa.Column("status", S(16), nullable=False),
        sa.Column("registered_index", BI(), nullable=False),
        sa.Column("status_index", BI(), nullable=False),
        sa.PrimaryKeyConstraint("number", name="pk_certificates"),
    )
    op.create_index("ix_certificates_holder_org_id", "certificates", ["holder_org_id"])
    op.create_table(
        "product_models",
        sa.Column("model", S(64), nullable=False),
        sa.Column("kind", S(16), nullable=False),
        sa.Column("maker_org_id", S(32), nullable=False),
        sa.Column("certificate", S(16), nullable=True),
        sa.Column("specs", sa.Text(), nullable=False),
        sa.Column("standard", S(16), nullable=True),
        sa.Column("transition_deadline", S(10), nullable=True),
        sa.Column("registered_index", BI(), nullable=False),
        sa.PrimaryKeyConstraint("model", name="pk_product_models"),
    )
    op.create_index("ix_product_models_kind", "product_models", ["kind"])
    op.create_index("ix_product_models_maker_org_id", "product_models", ["maker_org_id"])
    op.create_table(
        "model_approvals",
        sa.Column("vehicle_model", S(64), nullable=False),
        sa.Column("part_model", S(64), nullable=False),
        sa.Column("part_kind", S(16), nullable=False),
        sa.Column("approval", S(16), nullable=False),
        sa.PrimaryKeyConstraint("vehicle_model", "part_model", name="pk_model_approvals"),
    )
    op.create_table(
        "items",
        sa.Column("subject", S(80), nullable=False),
        sa.Column("kind", S(16), nullable=False),
        sa.Column("identifier", S(64), nullable=False),
        sa.Column("model", S(64), nullable=True),
        sa.Column("maker_org_id", S(32), nullable=True),
        sa.Column("produced_on", S(10), nullable=True),
        sa.Column("batch", S(64), nullable=True),
        sa.Column("state", S(16), nullable=False),
        sa.Column("holder_org_id", S(32), nullable=True),
        sa.Column("shipped_to_org_id", S(32), nullable=True),
        sa.Column("owner", S(64), nullable=True),
        sa.Column("installed_in", S(80), nullable=True),
        sa.Column("battery", S(80), nullable=True),
        sa.Column("charger", S(80), nullable=True),
        sa.Column("plate", S(32), nullable=True),
        sa.Column("sold_by_org_id", S(32), nullable=True),
        sa.Column("sold_at", S(32), nullable=True),
        sa.Column("reused", sa.Boolean(), nullable=False),
        sa.Column("legacy", sa.Boolean(), nullable=False),
        sa.Column("backfilled", sa.Boolean(), nullable=False),
        sa.Column("stolen", sa.Boolean(), nullable=False),
        sa.Column("assessed_on", S(10), nullable=True),
        sa.Column("code", sa.Text(), nullable=True),
        sa.Column("commissioned_index", BI(), nullable=False),
        sa.Column("last_index", BI(), nullable=False),
        sa.PrimaryKeyConstraint("subject", name="pk_items"),
        sa.UniqueConstraint("plate", name="uq_items_plate"),
    )
    for col in ("identifier", "model", "maker_org_id", "state", "holder_org_id", "owner", "installed_in"):
        op.create_index(f"ix_items_{col}", "items", [col])
    op.create_table(
        "org_listings",
        sa.Column("list", S(16), nullable=False),
        sa.Column("org_id", S(32), nullable=False),
        sa.Column("listed_index", BI(), nullable=False),
        sa.PrimaryKeyConstraint("list", "org_id", name="pk_org_listings"),
    )
    op.create_table(
        "recalls",
        sa.Column("id", S(36), nullable=False),
        sa.Column("model", S(64), nullable=True),
        sa.Column("batch", S(64), nullable=True),
        sa.Column("produced_from", S(10), nullable=True),
        sa.Column("produced_to", S(10), nullable=True),
        sa.Column("certificate", S(16), nullable=True),
        sa.Column("reason", sa.Text(), nullable=False),
        sa.Column("org_id", S(32), nullable=False),
        sa.Column("opened_index", BI(), nullable=False),
        sa.Column("closed_index", BI(), nullable=True),
        sa.PrimaryKeyConstraint("id", name="pk_recalls"),
    )
    op.create_index("ix_recalls_model", "recalls", ["model"])
    op.create_index("ix_recalls_certificate", "recalls", ["certificate"])
    op.create_table(
        "recall_remedies",
        sa.Column("recall_id", S(36), nullable=False),
        sa.Column("subject", S(80), nullable=False),
        sa.Column("remedied_index", BI(), nullable=False),
        sa.PrimaryKeyConstraint("recall_id", "subject", name="pk_recall_remedies"),
    )
    op.create_table(
        "corrections",
        sa.Column("corrected_index", BI(), autoincrement=False, nullable=False),
        sa.Column("correction_index", BI(), nullable=False),
        sa.Column("reason", S(16), nullable=False),
        sa.PrimaryKeyConstraint("corrected_index", name="pk_corrections"),
    )
    op.create_table(
        "persons",
        sa.Column("pseudonym", S(64), nullable=False),
        sa.Column("ciphertext", sa.LargeBinary(), nullable=False),
        sa.Column("created_at", TZ, nullable=False),
        sa.PrimaryKeyConstraint("pseudonym", name="pk_persons"),
    )
    op.create_table(
        "reveals",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("at", TZ, nullable=False),
        sa.Column("org_id", S(32), nullable=False),
        sa.Column("user_id", S(32), nullable=False),
        sa.Column("pseudonym", S(64), nullable=False),
        sa.Column("case_number", S(100), nullable=True),
        sa.Column("purpose", S(32), nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_reveals"),
    )
    op.create_index("ix_reveals_pseudonym", "reveals", ["pseudonym"])
    op.create_table(
        "idempotent_requests",
        sa.Column("user_id", S(32), nullable=False),
        sa.Column("key", S(200), nullable=False),
        sa.Column("request_hash", S(64), nullable=False),
        sa.Column("status", sa.Integer(), nullable=False),
        sa.Column("response", sa.LargeBinary(), nullable=False),
        sa.Column("created_at", TZ, nullable=False),
        sa.PrimaryKeyConstraint("user_id", "key", name="pk_idempotent_requests"),
    )


def downgrade() -> None:
    for table in ("idempotent_requests", "reveals", "persons", "corrections", "recall_remedies", "recalls",
                  "org_listings", "items", "model_approvals", "product_models", "certificates"):
        op.drop_table(table)
