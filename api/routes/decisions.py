"""Decisions: ask for one (by merchant id or with the data inline), read them, replay one
with its recorded versions, and see the versions in use."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Header, Query, Response
from starlette.concurrency import run_in_threadpool

from api import intake, store
from api.deps import DatabaseDep, Decider, Reader, ServiceDep, ShadowDep, StoredDep, WriterDep
from api.problems import ApiProblem, problem_responses
from api.schemas import Decision, DecisionPage, DecisionRequest, Replay, Versions
from api.service import Service, VersionUnavailable
from api.store import MAX_SEQ
from underwriting.contract.units import MAX_ID_LENGTH, NO_CONTROL_CHARACTERS

router = APIRouter(tags=["decisions"])


@router.get("/v1/versions", responses=problem_responses(401, 403, 503))
def versions(_key: Reader, service: ServiceDep) -> Versions:
    """The active model and rule set, and the data source."""
    return Versions.model_validate(service.versions())


@router.post(
    "/v1/decisions",
    status_code=201,
    responses={
        200: {"model": Decision, "description": "an idempotent retry"},
        **problem_responses(401, 403, 404, 409, 413, 422, 503),
    },
)
async def create_decision(
    key: Decider,
    service: ServiceDep,
    response: Response,
    body: DecisionRequest,
    database: DatabaseDep,
    writer: WriterDep,
    shadow: ShadowDep,
    idempotency_key: Annotated[
        str | None,
        Header(
            alias="Idempotency-Key",
            min_length=1,
            max_length=MAX_ID_LENGTH,
            pattern=NO_CONTROL_CHARACTERS,
            description="Retries with the same key and body get the same decision",
        ),
    ] = None,
) -> Decision:
    """Decide for a merchant, looked up by `merchant_id` or sent inline as `data`."""
    # The work waits on the engine and the store, so it runs in a worker thread. An async
    # route hands it over once; a plain one is run in a thread and then hands its answer's
    # validation to another, a third trip per request.
    taken = await run_in_threadpool(
        intake.take, service, database, writer, body, key, idempotency_key, shadow
    )
    response.headers["Location"] = f"/v1/decisions/{taken.stored.id}"
    if not taken.new:
        response.status_code = 200
        response.headers["Idempotent-Replayed"] = "true"
    return Decision.of(taken.stored)


@router.get("/v1/decisions", responses=problem_responses(401, 403, 422, 503))
def list_decisions(
    _key: Reader,
    database: DatabaseDep,
    merchant_id: Annotated[
        str | None, Query(min_length=1, max_length=MAX_ID_LENGTH, pattern=NO_CONTROL_CHARACTERS)
    ] = None,
    limit: Annotated[int, Query(ge=1, le=200)] = 50,
    cursor: Annotated[int | None, Query(ge=1, le=MAX_SEQ)] = None,
) -> DecisionPage:
    """Stored decisions, newest first, optionally of one merchant; page with `cursor`."""
    found = store.list_decisions(database, merchant_id, limit + 1, cursor)
    page = found[:limit]
    more = len(found) > limit
    return DecisionPage(
        items=[Decision.of(s) for s in page], next_cursor=page[-1].seq if more else None
    )


@router.get("/v1/decisions/{decision_id}", responses=problem_responses(401, 403, 404))
def get_decision(_key: Reader, stored: StoredDep) -> Decision:
    """One stored decision, with its review if there is one."""
    return Decision.of(stored)


@router.post(
    "/v1/decisions/{decision_id}/replay", responses=problem_responses(401, 403, 404, 409, 503)
)
def replay_decision(_key: Reader, service: ServiceDep, stored: StoredDep) -> Replay:
    """Re-run the stored input with the recorded model and rule-set versions."""
    return replay(service, stored.id, stored.input, stored.decision)


def replay(
    service: Service, decision_id: str, inputs: dict[str, Any], recorded: dict[str, Any]
) -> Replay:
    """The replay of a recorded decision (the decision's or its shadow challenger's) from
    the decision's stored input; 409 when its versions are no longer on disk."""
    try:
        replayed, found = service.replay(inputs, recorded)
    except VersionUnavailable as error:
        raise ApiProblem(409, f"cannot replay: {error}") from None
    return Replay(
        decision_id=decision_id,
        identical=not found,
        model_version=recorded["model_version"],
        rule_set_version=recorded["rule_set_version"],
        differences=found,
        replayed=replayed.model_dump(mode="json"),
    )
