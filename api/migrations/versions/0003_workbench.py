"""The workbench: signed-in sessions, the app's own secrets, each decision's industry (for
the referral queue's filter; filled in for decisions stored before) and a review's
override reason.

Revision ID: 0003
Revises: 0002
Create Date: 2026-12-03
"""

from __future__ import annotations

import json
import zlib

import sqlalchemy as sa
from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "workbench_sessions",
        sa.Column("token_sha256", sa.String(64), primary_key=True),
        sa.Column("key_id", sa.String(32), sa.ForeignKey("api_keys.id"), nullable=False),
        sa.Column("csrf", sa.String(64), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("ended_at", sa.DateTime(timezone=True), nullable=True),
    )
    op.create_table(
        "app_secrets",
        sa.Column("name", sa.String(64), primary_key=True),
        sa.Column("secret", sa.String(128), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
    )
    op.add_column("reviews", sa.Column("reason", sa.String(200), nullable=True))
    op.add_column("decisions", sa.Column("industry_code", sa.String(200), nullable=True))
    op.create_index("ix_decisions_industry_code", "decisions", ["industry_code"])
    decisions = sa.table(
        "decisions",
        sa.column("id", sa.String),
        sa.column("input", sa.LargeBinary),
        sa.column("industry_code", sa.String),
    )
    connection = op.get_bind()
    rows = connection.execute(sa.select(decisions.c.id, decisions.c.input)).all()
    for decision_id, stored in rows:  # each stored input names the merchant's industry
        industry = json.loads(zlib.decompress(stored)).get("merchant", {}).get("industry_code")
        connection.execute(
            decisions.update()
            .where(decisions.c.id == decision_id)
            .values(industry_code=None if industry is None else str(industry))
        )


def downgrade() -> None:
    op.drop_index("ix_decisions_industry_code", "decisions")
    with op.batch_alter_table("decisions") as table:
        table.drop_column("industry_code")
    with op.batch_alter_table("reviews") as table:
        table.drop_column("reason")
    op.drop_table("app_secrets")
    op.drop_table("workbench_sessions")
