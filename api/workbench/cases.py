"""The workbench's reads of the store: the referral queue (referrals with no review yet,
oldest first, filtered by industry and grade, paged), and a merchant's decisions."""

from __future__ import annotations

import datetime as dt
import json
from dataclasses import dataclass
from typing import Any

import sqlalchemy as sa

from api import store

PER_PAGE = 25


@dataclass(frozen=True)
class Case:
    """A referral waiting for review, as the queue lists it."""

    id: str
    merchant_id: str
    industry_code: str | None
    grade: str
    limit: int
    created_at: dt.datetime
    first_reason: str

    def age(self, now: dt.datetime) -> str:
        """How long it has waited, in words."""
        minutes = int((now - self.created_at).total_seconds() // 60)
        if minutes < 60:
            return f"{minutes} min"
        if minutes < 48 * 60:
            return f"{minutes // 60} h"
        return f"{minutes // (24 * 60)} days"


def _waiting() -> sa.ColumnElement[bool]:
    d, r = store.decisions, store.reviews
    reviewed = sa.exists().where(r.c.decision_id == d.c.id)
    return sa.and_(d.c.outcome == "refer", ~reviewed)


def waiting_count(database: sa.Engine) -> int:
    """Referrals with no review yet."""
    query = sa.select(sa.func.count()).select_from(store.decisions).where(_waiting())
    with database.connect() as connection:
        return int(connection.execute(query).scalar_one())


def referral_queue(
    database: sa.Engine, industry: str | None, grade: str | None, page: int
) -> tuple[list[Case], int]:
    """One page of waiting referrals, oldest first (filtered), and how many match."""
    d = store.decisions
    where = [_waiting()]
    if industry:
        where.append(d.c.industry_code == industry)
    if grade:
        where.append(d.c.grade == grade)
    columns = (d.c.id, d.c.merchant_id, d.c.industry_code, d.c.grade, d.c.loan_limit,
               d.c.created_at, d.c.decision)  # fmt: skip
    query = (
        sa.select(*columns)
        .where(*where)
        .order_by(d.c.created_at, d.c.seq)
        .limit(PER_PAGE)
        .offset((page - 1) * PER_PAGE)
    )
    count = sa.select(sa.func.count()).select_from(d).where(*where)
    with database.connect() as connection:
        rows = list(connection.execute(query).mappings())
        total = int(connection.execute(count).scalar_one())
    cases = []
    for row in rows:
        reasons = json.loads(row["decision"]).get("reasons") or []
        created = store.utc(row["created_at"])
        assert created is not None
        cases.append(
            Case(
                row["id"],
                row["merchant_id"],
                row["industry_code"],
                row["grade"],
                int(row["loan_limit"]),
                created,
                str(reasons[0]) if reasons else "",
            )
        )
    return cases, total


def queue_choices(database: sa.Engine) -> tuple[list[str], list[str]]:
    """The industries and grades of the waiting referrals, for the queue's filters."""
    d = store.decisions
    with database.connect() as connection:
        industries = connection.execute(
            sa.select(d.c.industry_code).where(_waiting()).distinct().order_by(d.c.industry_code)
        ).scalars()
        grades = connection.execute(
            sa.select(d.c.grade).where(_waiting()).distinct().order_by(d.c.grade)
        ).scalars()
        return [str(i) for i in industries if i], [str(g) for g in grades]


def merchant_history(database: sa.Engine, merchant_id: str) -> list[dict[str, Any]]:
    """Every stored decision of a merchant, newest first, with its review when it has one."""
    return [
        {**s.decision, "id": s.id, "created_at": s.created_at, "review": s.review}
        for s in store.list_decisions(database, merchant_id, store.MAX_SEQ, None)
    ]
