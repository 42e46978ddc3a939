"""The decision store: API keys, decisions with their input, reviews.

Revision ID: 0001
Revises:
Create Date: 2026-11-25
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "api_keys",
        sa.Column("id", sa.String(32), primary_key=True),
        sa.Column("secret_sha256", sa.String(64), nullable=False, unique=True),
        sa.Column("role", sa.String(16), nullable=False),
        sa.Column("label", sa.String(200), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("revoked_at", sa.DateTime(timezone=True), nullable=True),
    )
    op.create_table(
        "decisions",
        sa.Column("seq", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("id", sa.String(36), nullable=False, unique=True),
        sa.Column("merchant_id", sa.String(200), nullable=False),
        sa.Column("as_of", sa.Date, nullable=False),
        sa.Column("outcome", sa.String(16), nullable=False),
        sa.Column("loan_limit", sa.BigInteger, nullable=False),
        sa.Column("grade", sa.String(8), nullable=False),
        sa.Column("pd_12m", sa.Float, nullable=False),
        sa.Column("model_version", sa.String(100), nullable=False),
        sa.Column("rule_set_version", sa.String(100), nullable=False),
        sa.Column("decision", sa.Text, nullable=False),
        sa.Column("input_sha256", sa.String(64), nullable=False),
        sa.Column("input", sa.LargeBinary, nullable=False),
        sa.Column("source", sa.String(200), nullable=False),
        sa.Column("caller", sa.String(32), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("idempotency_key", sa.String(200), nullable=True),
        sa.Column("request_sha256", sa.String(64), nullable=True),
        sa.UniqueConstraint("caller", "idempotency_key", name="uq_decisions_idempotency"),
    )
    op.create_index("ix_decisions_merchant_id", "decisions", ["merchant_id"])
    op.create_table(
        "reviews",
        sa.Column("id", sa.String(36), primary_key=True),
        sa.Column(
            "decision_id",
            sa.String(36),
            sa.ForeignKey("decisions.id"),
            nullable=False,
            unique=True,
        ),
        sa.Column("outcome", sa.String(16), nullable=False),
        sa.Column("loan_limit", sa.BigInteger, nullable=False),
        sa.Column("note", sa.Text, nullable=False),
        sa.Column("reviewer", sa.String(32), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
    )


def downgrade() -> None:
    op.drop_table("reviews")
    op.drop_index("ix_decisions_merchant_id", "decisions")
    op.drop_table("decisions")
    op.drop_table("api_keys")
