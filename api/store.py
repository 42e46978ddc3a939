"""The decision store: API keys, decisions with their input, officers' reviews, and the
shadow challenger's decisions.

SQLAlchemy Core over SQLite (the default file) or PostgreSQL (a database URL). The schema
is owned by the Alembic migrations in `api/migrations`; `TABLES` mirrors it for queries.
A decision row is written once and never updated; a review sits beside it.
"""

from __future__ import annotations

import datetime as dt
import fcntl
import hashlib
import json
import secrets
import uuid
import zlib
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Engine

from api.batching import Batcher
from underwriting.decision import Decision

metadata = sa.MetaData()

MAX_SEQ = 2**31 - 1
"""The largest decision sequence number (a cursor): the range of the `seq` column, a
32-bit integer on PostgreSQL."""

api_keys = sa.Table(
    "api_keys",
    metadata,
    sa.Column("id", sa.String(32), primary_key=True),
    sa.Column("secret_sha256", sa.String(64), nullable=False, unique=True),
    sa.Column("role", sa.String(16), nullable=False),
    sa.Column("label", sa.String(200), nullable=False),
    sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
    sa.Column("revoked_at", sa.DateTime(timezone=True), nullable=True),
)

decisions = sa.Table(
    "decisions",
    metadata,
    sa.Column("seq", sa.Integer, primary_key=True, autoincrement=True),  # see MAX_SEQ
    sa.Column("id", sa.String(36), nullable=False, unique=True),
    sa.Column("merchant_id", sa.String(200), nullable=False, index=True),
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
    sa.Column("industry_code", sa.String(200), nullable=True, index=True),
    sa.UniqueConstraint("caller", "idempotency_key", name="uq_decisions_idempotency"),
)

reviews = sa.Table(
    "reviews",
    metadata,
    sa.Column("id", sa.String(36), primary_key=True),
    sa.Column(
        "decision_id", sa.String(36), sa.ForeignKey("decisions.id"), nullable=False, unique=True
    ),
    sa.Column("outcome", sa.String(16), nullable=False),
    sa.Column("loan_limit", sa.BigInteger, nullable=False),
    sa.Column("note", sa.Text, nullable=False),
    sa.Column("reviewer", sa.String(32), nullable=False),
    sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
    sa.Column("reason", sa.String(200), nullable=True),
)

shadow_decisions = sa.Table(
    "shadow_decisions",
    metadata,
    sa.Column("decision_id", sa.String(36), sa.ForeignKey("decisions.id"), primary_key=True),
    sa.Column("outcome", sa.String(16), nullable=False),
    sa.Column("loan_limit", sa.BigInteger, nullable=False),
    sa.Column("grade", sa.String(8), nullable=False),
    sa.Column("pd_12m", sa.Float, nullable=False),
    sa.Column("model_version", sa.String(100), nullable=False),
    sa.Column("rule_set_version", sa.String(100), nullable=False),
    sa.Column("decision", sa.Text, nullable=False),
    sa.Column("created_at", sa.DateTime(timezone=True), nullable=False, index=True),
)
"""The challenger's decision beside a decision (`api.shadow`): never the answer."""

workbench_sessions = sa.Table(
    "workbench_sessions",
    metadata,
    sa.Column("token_sha256", sa.String(64), primary_key=True),
    sa.Column("key_id", sa.String(32), sa.ForeignKey("api_keys.id"), nullable=False),
    sa.Column("csrf", sa.String(64), nullable=False),
    sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
    sa.Column("expires_at", sa.DateTime(timezone=True), nullable=False),
    sa.Column("ended_at", sa.DateTime(timezone=True), nullable=True),
)
"""The workbench's signed-in sessions (`api.workbench.sessions`): the cookie's token is
stored hashed, and signing out ends the session here, whatever the browser keeps."""

app_secrets = sa.Table(
    "app_secrets",
    metadata,
    sa.Column("name", sa.String(64), primary_key=True),
    sa.Column("secret", sa.String(128), nullable=False),
    sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
)
"""Secrets the app makes for itself on first use and shares across its workers (the
workbench's cookie signing key)."""

ROLES = ("officer", "auditor", "admin")
KEY_PREFIX = "uwk_"


# Connections kept open per process: as many as the threads that serve requests at once
# (anyio's default limit is 40), so a busy worker reuses connections instead of opening
# and closing one per request (SQLAlchemy's default keeps 5, so a worker serving 16
# requests at once opened a new SQLite connection, and ran its pragmas, for most of them).
POOL_SIZE = 40


def connect(url: str) -> Engine:
    """An engine for `url`; SQLite files get WAL and full sync so an answered decision
    survives a killed server, and wait for each other's writes instead of failing."""
    if url.startswith("sqlite"):
        engine = sa.create_engine(
            url, connect_args={"timeout": 30}, pool_size=POOL_SIZE, max_overflow=POOL_SIZE
        )

        @sa.event.listens_for(engine, "connect")
        def _pragmas(connection: Any, _record: Any) -> None:
            cursor = connection.cursor()
            cursor.execute("PRAGMA journal_mode=WAL")
            cursor.execute("PRAGMA synchronous=FULL")
            cursor.execute("PRAGMA foreign_keys=ON")
            cursor.close()

        return engine
    # PostgreSQL: 30 connections at most per process, so two workers stay well inside the
    # server's default limit of 100; a request beyond them waits for one to free up.
    return sa.create_engine(url, pool_pre_ping=True, pool_size=POOL_SIZE // 2, max_overflow=10)


@contextmanager
def writing(engine: Engine) -> Iterator[sa.Connection]:
    """A write transaction, committed on leaving (rolled back on an error).

    Writers to one SQLite file (the API's workers, the CLI) take turns through a lock
    file beside it, and a waiting writer wakes as soon as the lock is free. Left to
    SQLite, a writer that finds the file locked polls with sleeps of up to 100 ms, which
    under load costs throughput and puts the slowest answers in seconds (the figures are
    in benchmarks/RESULTS.md).
    """
    database = engine.url.database if engine.url.get_backend_name() == "sqlite" else None
    if not database or database == ":memory:":
        with engine.begin() as connection:
            yield connection
        return
    with Path(f"{database}.write-lock").open("a") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)  # released when the file is closed
        with engine.begin() as connection:
            yield connection


def now() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


def utc(value: dt.datetime | None) -> dt.datetime | None:
    """Times as stored are UTC; SQLite hands them back without the zone."""
    if value is None or value.tzinfo is not None:
        return value
    return value.replace(tzinfo=dt.UTC)


def _utc_required(value: dt.datetime) -> dt.datetime:
    found = utc(value)
    assert found is not None
    return found


def sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


@dataclass(frozen=True)
class Encoded:
    """A value already written as `canonical_json` would write it (by polars, say): a
    dict's values may be given so, and are then written as they are."""

    text: bytes


def canonical_json(value: Any) -> bytes:
    """JSON with sorted keys and no spaces: the same value always gives the same bytes.
    The values of a dict `value` may be `Encoded` (at that level only)."""
    if isinstance(value, dict) and any(isinstance(v, Encoded) for v in value.values()):
        items = sorted(value.items(), key=lambda item: item[0])  # as sort_keys orders them
        return b"{%s}" % b",".join(
            _dumps(key) + b":" + (v.text if isinstance(v, Encoded) else _dumps(v))
            for key, v in items
        )
    return _dumps(value)


def _dumps(value: Any) -> bytes:
    return json.dumps(value, sort_keys=True, separators=(",", ":"), default=str).encode()


# --- keys --------------------------------------------------------------------------------


@dataclass(frozen=True)
class ApiKey:
    id: str
    role: str
    label: str
    created_at: dt.datetime
    revoked_at: dt.datetime | None


def create_key(engine: Engine, role: str, label: str) -> tuple[ApiKey, str]:
    """A new key of `role`; returns it and its secret, which is stored only as a hash."""
    if role not in ROLES:
        raise ValueError(f"unknown role {role!r}; choose one of {', '.join(ROLES)}")
    key_id = f"key_{secrets.token_hex(6)}"
    secret = f"{KEY_PREFIX}{secrets.token_urlsafe(32)}"
    created = now()
    with writing(engine) as connection:
        connection.execute(
            api_keys.insert().values(
                id=key_id,
                secret_sha256=sha256(secret.encode()),
                role=role,
                label=label,
                created_at=created,
            )
        )
    return ApiKey(key_id, role, label, created, None), secret


class LastAdminKey(Exception):
    """Revoking the key would leave no active admin key: nobody could manage keys."""


def revoke_key(engine: Engine, key_id: str) -> bool:
    """Revoke a key; False when no active key has that id. The last active admin key
    cannot be revoked (LastAdminKey): create another admin key first."""
    with writing(engine) as connection:
        admins = connection.execute(  # locked, so two revocations cannot pass each other
            sa.select(api_keys.c.id)
            .where(api_keys.c.role == "admin", api_keys.c.revoked_at.is_(None))
            .with_for_update()
        ).scalars()
        if list(admins) == [key_id]:
            raise LastAdminKey(key_id)
        result = connection.execute(
            api_keys.update()
            .where(api_keys.c.id == key_id, api_keys.c.revoked_at.is_(None))
            .values(revoked_at=now())
        )
    return result.rowcount == 1


def list_keys(engine: Engine) -> list[ApiKey]:
    with engine.connect() as connection:
        rows = connection.execute(
            sa.select(api_keys).order_by(api_keys.c.created_at, api_keys.c.id)
        ).mappings()
        return [
            ApiKey(
                r["id"],
                r["role"],
                r["label"],
                _utc_required(r["created_at"]),
                utc(r["revoked_at"]),
            )
            for r in rows
        ]


_ACTIVE_KEY = sa.select(api_keys).where(
    api_keys.c.secret_sha256 == sa.bindparam("secret_sha256"), api_keys.c.revoked_at.is_(None)
)
"""Built once, as every request runs it; the hash is bound when it runs."""


def key_for_secret(engine: Engine, secret: str) -> ApiKey | None:
    """The active key with this secret, or None."""
    with engine.connect() as connection:
        found = connection.execute(_ACTIVE_KEY, {"secret_sha256": sha256(secret.encode())})
        row = found.mappings().first()
    if row is None:
        return None
    return ApiKey(row["id"], row["role"], row["label"], _utc_required(row["created_at"]), None)


# --- decisions ---------------------------------------------------------------------------


@dataclass(frozen=True)
class StoredDecision:
    id: str
    seq: int
    decision: dict[str, Any]
    input: dict[str, Any]
    input_sha256: str
    source: str
    caller: str
    created_at: dt.datetime
    request_sha256: str | None
    review: dict[str, Any] | None


def _stored(row: Any, review: Any | None) -> StoredDecision:
    return StoredDecision(
        id=row["id"],
        seq=row["seq"],
        decision=json.loads(row["decision"]),
        input=json.loads(zlib.decompress(row["input"])),
        input_sha256=row["input_sha256"],
        source=row["source"],
        caller=row["caller"],
        created_at=_utc_required(row["created_at"]),
        request_sha256=row["request_sha256"],
        review=None if review is None else _review_dict(review),
    )


def _review_dict(row: Any) -> dict[str, Any]:
    return {
        "id": row["id"],
        "outcome": row["outcome"],
        "limit": row["loan_limit"],
        "note": row["note"],
        "reviewer": row["reviewer"],
        "created_at": utc(row["created_at"]),
        "reason": row["reason"],
    }


class IdempotencyConflict(Exception):
    """The idempotency key was used before with another request body."""


_INSERT_DECISIONS = decisions.insert().returning(decisions.c.id, decisions.c.seq)
"""Built once: the rows are bound when it runs (a statement built per row costs more
than its write)."""


def _insert(connection: sa.Connection, rows: Sequence[dict[str, Any]]) -> list[int]:
    """Insert decision rows (one executemany); their sequence numbers, in their order."""
    inserted = connection.execute(_INSERT_DECISIONS, list(rows))
    seqs: dict[str, int] = {decision_id: seq for decision_id, seq in inserted}
    return [seqs[values["id"]] for values in rows]


class DecisionWriter:
    """Group commit: the decisions that queue while a write is in progress are written in
    one transaction when it ends (one sync to disk for many, and fewer waits on SQLite's
    write lock). Each caller returns only once its decision is committed. If the group
    breaks a constraint (an idempotency key used twice), each is written alone so only
    the offending one fails."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        self._batcher: Batcher[dict[str, Any], int] = Batcher(
            self._insert_all, name="decision-writes"
        )

    def insert(self, values: dict[str, Any]) -> int:
        """Insert one decision row; its sequence number once committed."""
        return self._batcher.submit(values, values["id"])

    def _insert_all(self, rows: Sequence[dict[str, Any]]) -> list[int | BaseException]:
        try:
            with writing(self.engine) as connection:
                return list(_insert(connection, rows))
        except sa.exc.IntegrityError as error:
            if len(rows) == 1:
                return [error]
        alone: list[int | BaseException] = []
        for values in rows:
            try:
                with writing(self.engine) as connection:
                    alone.extend(_insert(connection, [values]))
            except sa.exc.IntegrityError as error:
                alone.append(error)
        return alone


DECISION_COLUMNS = {
    "merchant_id": "merchant_id",
    "as_of": "as_of",
    "outcome": "outcome",
    "loan_limit": "limit",
    "grade": "grade",
    "pd_12m": "pd_12m",
    "model_version": "model_version",
    "rule_set_version": "rule_set_version",
}
"""The decisions table's columns that copy a field of the decision, for queries (column:
field). The whole decision is the `decision` column's JSON."""


def save_decision(
    engine: Engine,
    decision: Decision,
    input_problems: list[dict[str, str]],
    inputs: dict[str, Any],
    *,
    source: str,
    caller: str,
    idempotency_key: str | None,
    request_sha256: str,
    writer: DecisionWriter | None = None,
) -> tuple[StoredDecision, bool]:
    """Store a decision, its input rows that failed validation and its input in one
    transaction (shared with the decisions queued beside it when `writer` is given),
    committed before returning.

    With an idempotency key already used by this caller, nothing is written: the stored
    decision is returned (False: not new) if the request is the same, else
    IdempotencyConflict.
    """
    raw_input = canonical_json(inputs)
    recorded = {**decision.model_dump(mode="json"), "input_problems": input_problems}
    values = {
        "id": str(uuid.uuid4()),
        **{column: getattr(decision, field) for column, field in DECISION_COLUMNS.items()},
        "decision": canonical_json(recorded).decode(),
        "input_sha256": sha256(raw_input),
        "input": zlib.compress(raw_input, 6),
        "source": source,
        "caller": caller,
        "created_at": now(),
        "idempotency_key": idempotency_key,
        "request_sha256": request_sha256,
        "industry_code": str(inputs.get("merchant", {}).get("industry_code") or "") or None,
    }
    try:
        if writer is not None:
            seq = writer.insert(values)
        else:
            with writing(engine) as connection:
                (seq,) = _insert(connection, [values])
    except sa.exc.IntegrityError:
        if idempotency_key is None:
            raise
        earlier = find_by_idempotency_key(engine, caller, idempotency_key)
        if earlier is None:
            raise
        if earlier.request_sha256 != request_sha256:
            raise IdempotencyConflict(idempotency_key) from None
        return earlier, False
    stored = StoredDecision(  # as a read would give it, but the input as given (not read back)
        id=values["id"],
        seq=seq,
        decision=recorded,
        input=inputs,
        input_sha256=values["input_sha256"],
        source=source,
        caller=caller,
        created_at=values["created_at"],
        request_sha256=request_sha256,
        review=None,
    )
    return stored, True


def find_by_idempotency_key(engine: Engine, caller: str, key: str) -> StoredDecision | None:
    with engine.connect() as connection:
        row = (
            connection.execute(
                sa.select(decisions).where(
                    decisions.c.caller == caller, decisions.c.idempotency_key == key
                )
            )
            .mappings()
            .first()
        )
        if row is None:
            return None
        review = _review_of(connection, row["id"])
    return _stored(row, review)


def _review_of(connection: sa.Connection, decision_id: str) -> Any | None:
    return (
        connection.execute(sa.select(reviews).where(reviews.c.decision_id == decision_id))
        .mappings()
        .first()
    )


def get_decision(engine: Engine, decision_id: str) -> StoredDecision | None:
    with engine.connect() as connection:
        row = (
            connection.execute(sa.select(decisions).where(decisions.c.id == decision_id))
            .mappings()
            .first()
        )
        if row is None:
            return None
        review = _review_of(connection, decision_id)
    return _stored(row, review)


def list_decisions(
    engine: Engine, merchant_id: str | None, limit: int, before: int | None
) -> list[StoredDecision]:
    """Newest first; `before` is the `seq` to continue below (the page cursor)."""
    query = sa.select(decisions).order_by(decisions.c.seq.desc()).limit(limit)
    if merchant_id is not None:
        query = query.where(decisions.c.merchant_id == merchant_id)
    if before is not None:
        query = query.where(decisions.c.seq < before)
    with engine.connect() as connection:
        rows = list(connection.execute(query).mappings())
        ids = [r["id"] for r in rows]
        found = (
            {
                r["decision_id"]: r
                for r in connection.execute(
                    sa.select(reviews).where(reviews.c.decision_id.in_(ids))
                ).mappings()
            }
            if ids
            else {}
        )
    return [_stored(r, found.get(r["id"])) for r in rows]


class AlreadyReviewed(Exception):
    """A decision has one review; a second is refused."""


def save_review(
    engine: Engine,
    decision_id: str,
    outcome: str,
    limit: int,
    note: str,
    reviewer: str,
    reason: str | None = None,
) -> dict[str, Any]:
    """Store a review beside its decision (one per decision: AlreadyReviewed else)."""
    values = {
        "id": str(uuid.uuid4()),
        "decision_id": decision_id,
        "outcome": outcome,
        "loan_limit": limit,
        "note": note,
        "reviewer": reviewer,
        "created_at": now(),
        "reason": reason,
    }
    try:
        with writing(engine) as connection:
            connection.execute(reviews.insert().values(**values))
    except sa.exc.IntegrityError:
        raise AlreadyReviewed(decision_id) from None
    return _review_dict(values)
