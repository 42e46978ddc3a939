"""Typed dependencies of the routes: what the app loaded at start-up (the database, the
decision writer, the engine's service, the shadow challenger), the caller's key with its role, and a stored
decision by the id in the path.

The app's lifespan (`api.main`) puts one `Runtime` in `app.state.runtime`; the routes
never read `app.state` themselves. Dependencies that only look something up are `async`,
so they run on the event loop instead of taking a trip through the thread pool.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Annotated

import sqlalchemy as sa
from fastapi import Depends, Path, Request

from api import store
from api.key_first import KEY_STATE
from api.problems import ApiProblem
from api.security import Permission, authenticate, authorize
from api.service import Service
from api.shadow import ShadowChallenger
from underwriting.contract.units import NO_CONTROL_CHARACTERS


@dataclass
class Runtime:
    """What the app holds while it serves: the database, the group-commit writer, and the
    service (None, with the reason in `not_ready`, until it has loaded)."""

    database: sa.Engine
    writer: store.DecisionWriter
    service: Service | None = None
    not_ready: str = "starting"
    shadow: ShadowChallenger | None = None
    """The shadow challenger's worker, when the service has a challenger."""


async def get_runtime(request: Request) -> Runtime:
    runtime: Runtime = request.app.state.runtime
    return runtime


RuntimeDep = Annotated[Runtime, Depends(get_runtime)]


async def get_database(runtime: RuntimeDep) -> sa.Engine:
    return runtime.database


async def get_writer(runtime: RuntimeDep) -> store.DecisionWriter:
    return runtime.writer


async def get_service(runtime: RuntimeDep) -> Service:
    """The engine's service; 503 with the reason while it is not ready."""
    if runtime.service is None:
        raise ApiProblem(503, f"the engine is not ready: {runtime.not_ready}")
    return runtime.service


async def get_shadow(runtime: RuntimeDep) -> ShadowChallenger | None:
    return runtime.shadow


DatabaseDep = Annotated[sa.Engine, Depends(get_database)]
ShadowDep = Annotated[ShadowChallenger | None, Depends(get_shadow)]
WriterDep = Annotated[store.DecisionWriter, Depends(get_writer)]
ServiceDep = Annotated[Service, Depends(get_service)]


def get_caller(request: Request, database: DatabaseDep) -> store.ApiKey:
    """The key the request is made with (`Authorization: Bearer <key>`); 401 without one.
    `KeyFirst` has usually checked it before the body was read, and left it here."""
    found = getattr(request.state, KEY_STATE, None)
    if isinstance(found, store.ApiKey):
        return found
    return authenticate(request.headers.get("authorization", ""), database)


CallerDep = Annotated[store.ApiKey, Depends(get_caller)]


def requires(permission: Permission) -> Callable[[store.ApiKey], Awaitable[store.ApiKey]]:
    """A dependency: the caller's key, which must grant `permission` (else 403)."""

    async def check(key: CallerDep) -> store.ApiKey:
        authorize(key, permission)
        return key

    return check


Decider = Annotated[store.ApiKey, Depends(requires("decide"))]
"""An officer or an admin: may ask for decisions."""
Reviewer = Annotated[store.ApiKey, Depends(requires("review"))]
"""An officer or an admin: may review referrals."""
Reader = Annotated[store.ApiKey, Depends(requires("read"))]
"""Any role: may read decisions, replay them and see the versions."""
Auditor = Annotated[store.ApiKey, Depends(requires("audit"))]
"""An auditor or an admin: may see the shadow challenger's decisions."""
KeyAdmin = Annotated[store.ApiKey, Depends(requires("keys"))]
"""An admin: may create, list and revoke keys."""

DecisionId = Annotated[
    str,
    Path(min_length=1, max_length=64, pattern=NO_CONTROL_CHARACTERS, description="a decision's id"),
]


def stored_decision(decision_id: DecisionId, database: DatabaseDep) -> store.StoredDecision:
    """The stored decision of the path's id; 404 when there is none."""
    stored = store.get_decision(database, decision_id)
    if stored is None:
        raise ApiProblem(404, f"no decision {decision_id}; list them at /v1/decisions")
    return stored


StoredDep = Annotated[store.StoredDecision, Depends(stored_decision)]
