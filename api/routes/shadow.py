"""The shadow challenger, for auditors and admins: the agreement and swap set of the
decisions made since a time, one decision's challenger decision, and its replay."""

from __future__ import annotations

import datetime as dt
from typing import Annotated

from fastapi import APIRouter, Query

from api import shadow, store
from api.deps import Auditor, DatabaseDep, RuntimeDep, ServiceDep, StoredDep
from api.problems import ApiProblem, problem_responses
from api.routes.decisions import replay
from api.schemas import ChallengerVersions, Replay, ShadowDecision, ShadowQueue, ShadowSummary

router = APIRouter(tags=["shadow"])


def _utc(moment: dt.datetime) -> dt.datetime:
    """A time without a zone is taken as UTC."""
    return moment if moment.tzinfo is not None else moment.replace(tzinfo=dt.UTC)


@router.get("/v1/shadow", responses=problem_responses(401, 403, 422))
def shadow_summary(
    _key: Auditor,
    runtime: RuntimeDep,
    database: DatabaseDep,
    since: Annotated[
        dt.datetime | None,
        Query(description="decisions made at or after this time (ISO 8601; default: 24 hours ago)"),
    ] = None,
    until: Annotated[
        dt.datetime | None, Query(description="and before this time (default: now)")
    ] = None,
) -> ShadowSummary:
    """How the shadow challenger's decisions compare with the decisions made since a time:
    per pair of versions, the agreement and the swap set."""
    start = _utc(since) if since else store.now() - dt.timedelta(hours=24)
    end = _utc(until) if until else None
    if end is not None and end <= start:
        raise ApiProblem(
            422, f"until ({end.isoformat()}) must be after since ({start.isoformat()})"
        )
    found = shadow.summary(database, start, end)
    service = runtime.service
    versions = service.versions()["challenger"] if service is not None else None
    queue = runtime.shadow.counts() if runtime.shadow is not None else None
    return ShadowSummary.model_validate(
        {
            **found,
            "since": start,
            "until": end,
            "challenger": ChallengerVersions.model_validate(versions) if versions else None,
            "queue": ShadowQueue.model_validate(queue.__dict__) if queue else None,
        }
    )


def _shadow_of(database: DatabaseDep, stored: StoredDep) -> ShadowDecision:
    found = shadow.get_shadow(database, stored.id)
    if found is None:
        raise ApiProblem(
            404,
            f"decision {stored.id} has no challenger decision beside it (no challenger was "
            "configured, or it was dropped); see GET /v1/shadow",
        )
    return ShadowDecision.model_validate(found)


@router.get("/v1/shadow/{decision_id}", responses=problem_responses(401, 403, 404))
def get_shadow(_key: Auditor, database: DatabaseDep, stored: StoredDep) -> ShadowDecision:
    """The shadow challenger's decision beside a stored decision, with its versions."""
    return _shadow_of(database, stored)


@router.post(
    "/v1/shadow/{decision_id}/replay", responses=problem_responses(401, 403, 404, 409, 503)
)
def replay_shadow(
    _key: Auditor, service: ServiceDep, database: DatabaseDep, stored: StoredDep
) -> Replay:
    """Re-run the decision's stored input with the challenger's recorded model and rule
    set, and compare with the stored challenger decision."""
    found = _shadow_of(database, stored)
    return replay(service, stored.id, stored.input, found.decision.model_dump(mode="json"))
