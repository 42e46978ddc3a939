"""The shadow challenger: every new decision is made again by a challenger rule set (and
model) and stored beside it, never answered and off the answer's path.

A decision's features go to a queue when its answer is stored; one thread of the worker
takes what queued over a linger of a second, has it decided in one engine call by the
challenger's own process (`api.shadow_child`, niced, so the challenger never holds up the
worker's engine) and writes it in one transaction: at any load the challenger costs one
call and one write per batch, not per request. The queue is bounded: when the challenger falls behind, decisions past the
bound go without a shadow and are counted as dropped, and the answers never wait. A
stopped server's queued decisions are lost the same way; the summary counts every
decision without a challenger's beside it.

The stored challenger decision records its versions, and replays like any decision: from
the decision's stored input, with the challenger's recorded model and rule set.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import json
import logging
import os
import threading
import time
from collections import deque
from dataclasses import dataclass
from typing import Any

import polars as pl
import sqlalchemy as sa

from api import store
from api.shadow_child import ChallengerProcess
from underwriting.decision import OUTCOMES, Decision

log = logging.getLogger("api.shadow")

NICENESS = 10
"""The challenger's thread yields the CPU to the threads that answer (Linux schedules
threads by their own niceness)."""


@dataclass(frozen=True)
class _Job:
    decision_id: str
    features: pl.DataFrame


@dataclass(frozen=True)
class ShadowCounts:
    """What this worker's challenger has done since it started."""

    waiting: int
    stored: int
    dropped: int
    failed: int


class ShadowChallenger:
    """Has each submitted decision decided again by the challenger's process (`child`)
    and stores it (see the module's docstring)."""

    def __init__(
        self,
        child: ChallengerProcess,
        database: sa.Engine,
        *,
        linger: float = 1.0,
        max_batch: int = 500,
        max_waiting: int = 20_000,
    ) -> None:
        self._child = child
        self._database = database
        self._linger = linger
        self._max_batch = max_batch
        self._max_waiting = max_waiting
        self._queue: deque[_Job] = deque()
        self._ready = threading.Condition()
        self._busy = 0
        self._stored = self._dropped = self._failed = 0
        self._closing = False
        self._thread = threading.Thread(target=self._run, name="shadow-challenger", daemon=True)
        self._thread.start()

    def submit(self, decision_id: str, features: pl.DataFrame) -> None:
        """Queue a stored decision's features for the challenger; never waits."""
        with self._ready:
            if self._closing or len(self._queue) >= self._max_waiting:
                self._dropped += 1
                return
            self._queue.append(_Job(decision_id, features))
            self._ready.notify()

    def counts(self) -> ShadowCounts:
        with self._ready:
            waiting = len(self._queue) + self._busy
            return ShadowCounts(waiting, self._stored, self._dropped, self._failed)

    def flush(self, timeout: float = 30.0) -> bool:
        """Wait until every queued decision is stored (or failed); whether it was in time."""
        deadline = time.monotonic() + timeout
        with self._ready:
            self._ready.notify_all()
            while self._queue or self._busy:
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    return False
                self._ready.wait(min(remaining, 0.05))
        return True

    def close(self, timeout: float = 10.0) -> None:
        """Store what is queued (within `timeout`), then stop the thread."""
        self.flush(timeout)
        with self._ready:
            self._closing = True
            self._ready.notify_all()
        self._thread.join(timeout)
        self._child.close()

    def _take(self) -> list[_Job]:
        """The next call's jobs, after a linger to gather more: each merchant once (a
        second decision of a merchant waits for the next call)."""
        with self._ready:
            while not self._queue and not self._closing:
                self._ready.wait()
            deadline = time.monotonic() + self._linger
            while len(self._queue) < self._max_batch and not self._closing:
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    break
                self._ready.wait(remaining)
            taken: list[_Job] = []
            merchants: set[str] = set()
            later: deque[_Job] = deque()
            while self._queue and len(taken) < self._max_batch:
                job = self._queue.popleft()
                merchant = str(job.features["merchant_id"][0])
                if merchant in merchants:
                    later.append(job)
                else:
                    merchants.add(merchant)
                    taken.append(job)
            self._queue.extendleft(reversed(later))
            self._busy = len(taken)
            return taken

    def _run(self) -> None:
        with contextlib.suppress(OSError, AttributeError):  # Linux: a thread's own niceness
            os.setpriority(os.PRIO_PROCESS, threading.get_native_id(), NICENESS)
        while True:
            jobs = self._take()
            if not jobs:
                return  # closing, nothing left
            try:
                decided = self._child.decide(pl.concat([job.features for job in jobs]))
                rows = shadow_rows(decided, jobs)
                with store.writing(self._database) as connection:
                    connection.execute(store.shadow_decisions.insert(), rows)
                stored, failed = len(jobs), 0
            except Exception:  # the challenger must never take the server down
                log.exception("the shadow challenger failed on %d decisions", len(jobs))
                stored, failed = 0, len(jobs)
            with self._ready:
                self._stored += stored
                self._failed += failed
                self._busy = 0
                self._ready.notify_all()


SHADOW_COPIED = ("outcome", "loan_limit", "grade", "pd_12m", "model_version", "rule_set_version")
"""The shadow_decisions columns that copy a field of the challenger's decision."""


def shadow_rows(decided: pl.DataFrame, jobs: list[_Job]) -> list[dict[str, Any]]:
    """The challenger's decisions (`decided`) of `jobs` (distinct merchants) as
    shadow_decisions rows."""
    by_merchant = {row["merchant_id"]: row for row in decided.iter_rows(named=True)}
    created = store.now()
    rows = []
    for job in jobs:
        decision = Decision.from_row(by_merchant[str(job.features["merchant_id"][0])])
        copied = {c: getattr(decision, store.DECISION_COLUMNS[c]) for c in SHADOW_COPIED}
        rows.append(
            {
                "decision_id": job.decision_id,
                **copied,
                "decision": store.canonical_json(decision.model_dump(mode="json")).decode(),
                "created_at": created,
            }
        )
    return rows


def get_shadow(database: sa.Engine, decision_id: str) -> dict[str, Any] | None:
    """The stored challenger decision beside a decision, with when it was made."""
    table = store.shadow_decisions
    with database.connect() as connection:
        row = (
            connection.execute(sa.select(table).where(table.c.decision_id == decision_id))
            .mappings()
            .first()
        )
    if row is None:
        return None
    return {
        "decision_id": row["decision_id"],
        "created_at": store.utc(row["created_at"]),
        "decision": json.loads(row["decision"]),
    }


def summary(database: sa.Engine, since: dt.datetime, until: dt.datetime | None) -> dict[str, Any]:
    """Decisions made in [since, until) and their challengers' beside them: per pair of
    champion and challenger versions, the agreement and the swap set (champion outcome by
    challenger outcome: decisions and each side's total limit); and how many decisions
    have no challenger's decision."""
    d, s = store.decisions, store.shadow_decisions
    period = d.c.created_at >= since
    if until is not None:
        period = sa.and_(period, d.c.created_at < until)
    same_limit = sa.case(
        (sa.and_(d.c.outcome == s.c.outcome, d.c.loan_limit == s.c.loan_limit), 1), else_=0
    )
    query = (
        sa.select(
            d.c.model_version,
            d.c.rule_set_version,
            s.c.model_version.label("challenger_model_version"),
            s.c.rule_set_version.label("challenger_rule_set_version"),
            d.c.outcome,
            s.c.outcome.label("challenger_outcome"),
            sa.func.count().label("decisions"),
            sa.func.sum(d.c.loan_limit).label("limit"),
            sa.func.sum(s.c.loan_limit).label("challenger_limit"),
            sa.func.sum(same_limit).label("same_limit"),
        )
        .select_from(d.join(s, s.c.decision_id == d.c.id))
        .where(period)
        .group_by(
            d.c.model_version,
            d.c.rule_set_version,
            s.c.model_version,
            s.c.rule_set_version,
            d.c.outcome,
            s.c.outcome,
        )
    )
    without = (
        sa.select(sa.func.count())
        .select_from(d.outerjoin(s, s.c.decision_id == d.c.id))
        .where(period, s.c.decision_id.is_(None))
    )
    total = sa.select(sa.func.count()).select_from(d).where(period)
    with database.connect() as connection:
        rows = list(connection.execute(query).mappings())
        missing = int(connection.execute(without).scalar_one())
        decided = int(connection.execute(total).scalar_one())
    pairs: dict[tuple[str, str, str, str], list[Any]] = {}
    for row in rows:
        key = (
            row["model_version"],
            row["rule_set_version"],
            row["challenger_model_version"],
            row["challenger_rule_set_version"],
        )
        pairs.setdefault(key, []).append(row)
    return {
        "decisions": decided,
        "with_challenger": decided - missing,
        "without_challenger": missing,
        "pairs": [_pair(key, cells) for key, cells in sorted(pairs.items())],
    }


def _pair(key: tuple[str, str, str, str], rows: list[Any]) -> dict[str, Any]:
    cells = {(r["outcome"], r["challenger_outcome"]): r for r in rows}
    swap_set: list[dict[str, Any]] = []
    for champion in OUTCOMES:
        for challenger in OUTCOMES:
            row = cells.get((champion, challenger))
            swap_set.append(
                {
                    "champion_outcome": champion,
                    "challenger_outcome": challenger,
                    "decisions": int(row["decisions"]) if row else 0,
                    "champion_limit": int(row["limit"] or 0) if row else 0,
                    "challenger_limit": int(row["challenger_limit"] or 0) if row else 0,
                }
            )
    decisions = sum(c["decisions"] for c in swap_set)
    same = sum(c["decisions"] for c in swap_set if c["champion_outcome"] == c["challenger_outcome"])
    return {
        "model_version": key[0],
        "rule_set_version": key[1],
        "challenger_model_version": key[2],
        "challenger_rule_set_version": key[3],
        "decisions": decisions,
        "same_outcome": same,
        "same_outcome_and_limit": sum(int(r["same_limit"] or 0) for r in rows),
        "agreement": same / decisions if decisions else None,
        "swap_set": swap_set,
    }
