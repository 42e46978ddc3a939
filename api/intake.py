"""A request for a decision, from its body to a stored decision: the retry of an earlier
request answered from the store (Idempotency-Key), the decision input built (looked up
by merchant id, or the data sent inline), decided, and stored with its input before the
answer goes out."""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass
from typing import Any

import polars as pl
import sqlalchemy as sa

from api import store
from api.problems import ApiProblem
from api.schemas import DecisionRequest, WithData
from api.service import ById, Service, UnknownMerchant
from api.shadow import ShadowChallenger


@dataclass(frozen=True)
class Taken:
    """A request's stored decision; `new` is false for a retry answered from the store."""

    stored: store.StoredDecision
    new: bool


def take(
    service: Service,
    database: sa.Engine,
    writer: store.DecisionWriter,
    body: DecisionRequest,
    caller: store.ApiKey,
    idempotency_key: str | None,
    shadow: ShadowChallenger | None = None,
) -> Taken:
    """Decide and store the request `body` of `caller` (see the module's docstring).

    A retry with the same key and body is answered with the stored decision; the same key
    with another body is a 409. An unknown merchant is a 404; inline data with a row that
    fails validation is a 422 naming every such row, and nothing is stored. A new stored
    decision goes to the `shadow` challenger, when there is one.
    """
    request_hash = store.sha256(store.canonical_json(body.model_dump(mode="json")))
    if idempotency_key is not None:
        earlier = store.find_by_idempotency_key(database, caller.id, idempotency_key)
        if earlier is not None:
            return _repeat(earlier, request_hash, idempotency_key)
    as_of = body.as_of or default_as_of(service, body)
    request: ById | dict[str, Any]
    if isinstance(body, WithData):
        request, source = _inline_input(service, body, as_of), "inline"
    else:
        request = ById(body.merchant_id, as_of, body.requested_amount)
        source = f"data:{service.data_fingerprint}"
    try:
        decided = service.decide(request)
    except UnknownMerchant as unknown:
        raise ApiProblem(
            404,
            f"merchant {unknown} is not in the data source "
            f"({service.settings.data}); check the id or send its data inline",
        ) from None
    inputs, decision, held = decided.input, decided.decision, decided.quarantine
    if source == "inline" and not held.is_empty():
        raise ApiProblem(
            422,
            f"{held.height} row(s) of the data failed validation; fix them and send again",
            errors=_quarantine_errors(held, body),
        )
    problems = held.select("table", "key", "field", "reason").to_dicts() if held.height else []
    try:
        stored, new = store.save_decision(
            database,
            decision,
            problems,
            inputs,
            source=source,
            caller=caller.id,
            idempotency_key=idempotency_key,
            request_sha256=request_hash,
            writer=writer,
        )
    except store.IdempotencyConflict:
        raise _conflict(idempotency_key) from None
    if not new:
        return _repeat(stored, request_hash, idempotency_key)
    if shadow is not None:
        shadow.submit(stored.id, decided.features)
    return Taken(stored, True)


def default_as_of(service: Service, body: DecisionRequest) -> dt.date:
    """The as-of date of a request that gives none: the day after the last day of its
    data (the data source's, or the cash flow sent inline), so the decision uses all of
    it and gives the same answer whatever day it is asked; today when there is no data."""
    if isinstance(body, WithData):
        last = max((r.date for r in body.data.cashflow), default=None)
    else:
        last = service.data_end
    return last + dt.timedelta(days=1) if last is not None else dt.date.today()


def _inline_input(service: Service, body: WithData, as_of: dt.date) -> dict[str, Any]:
    """The decision input of data sent inline: as stored, with the industry's benchmark."""
    merchant = body.data.merchant.model_dump(mode="json")
    if body.requested_amount is not None:
        merchant["requested_amount"] = body.requested_amount
    return {
        "as_of": as_of.isoformat(),
        "merchant": merchant,
        "cashflow": [
            {**r.model_dump(mode="json"), "merchant_id": merchant["merchant_id"]}
            for r in body.data.cashflow
        ],
        "traffic": [
            {**r.model_dump(mode="json"), "merchant_id": merchant["merchant_id"]}
            for r in body.data.traffic
        ],
        "benchmark": service.benchmark_row(merchant["industry_code"]),
    }


def _repeat(earlier: store.StoredDecision, request_hash: str, key: str | None) -> Taken:
    if earlier.request_sha256 != request_hash:
        raise _conflict(key)
    return Taken(earlier, False)


def _conflict(key: str | None) -> ApiProblem:
    return ApiProblem(
        409,
        f"Idempotency-Key {key!r} was used with another request body; "
        "use a new key for a new request",
    )


def _quarantine_errors(held: pl.DataFrame, body: DecisionRequest) -> list[dict[str, str]]:
    """Each held row as problems whose pointers name the row of the request and each
    field (`#/data/cashflow/5/date`), the row found by its date."""
    assert isinstance(body, WithData)
    positions: dict[tuple[str, str], list[int]] = {}
    dates = {
        "cashflow": [r.date for r in body.data.cashflow],
        "traffic": [r.date for r in body.data.traffic],
    }
    for name, days in dates.items():
        for i, day in enumerate(days):
            positions.setdefault((name, day.isoformat()), []).append(i)
    errors = []
    for problem in held.iter_rows(named=True):
        table, key = str(problem["table"]), str(problem["key"])
        fields = [f for f in str(problem["field"] or "").split(", ") if f]
        dated = _DATE.search(key)
        rows = positions.get((table, dated.group(0)), []) if dated else []
        base = [f"#/data/{table}/{i}" for i in rows] or [
            "#/data/merchant" if table == "merchants" else f"#/data/{table}"
        ]
        pointers = [f"{b}/{f}" for b in base for f in fields] if fields else base
        detail = f"row {key}: {problem['reason']}"
        errors += [{"pointer": pointer, "detail": detail} for pointer in pointers]
    return errors


_DATE = re.compile(r"\d{4}-\d{2}-\d{2}")
