"""The shadow challenger's decisions, one beside each decision it made again.

Revision ID: 0002
Revises: 0001
Create Date: 2026-12-03
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "shadow_decisions",
        sa.Column("decision_id", sa.String(36), sa.ForeignKey("decisions.id"), primary_key=True),
        sa.Column("outcome", sa.String(16), nullable=False),
        sa.Column("loan_limit", sa.BigInteger, nullable=False),
        sa.Column("grade", sa.String(8), nullable=False),
        sa.Column("pd_12m", sa.Float, nullable=False),
        sa.Column("model_version", sa.String(100), nullable=False),
        sa.Column("rule_set_version", sa.String(100), nullable=False),
        sa.Column("decision", sa.Text, nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
    )
    op.create_index("ix_shadow_decisions_created_at", "shadow_decisions", ["created_at"])


def downgrade() -> None:
    op.drop_index("ix_shadow_decisions_created_at", "shadow_decisions")
    op.drop_table("shadow_decisions")
