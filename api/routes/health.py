"""Liveness and readiness, for load balancers and orchestrators (no key needed)."""

from __future__ import annotations

from fastapi import APIRouter

from api.deps import ServiceDep
from api.problems import problem_responses
from api.schemas import Readiness

router = APIRouter(tags=["health"])


@router.get("/healthz")
def healthz() -> dict[str, str]:
    """The process is up (no key needed)."""
    return {"status": "ok"}


@router.get("/readyz", responses=problem_responses(503))
def readyz(service: ServiceDep) -> Readiness:
    """The engine, its model and rule set (and a shadow challenger's), and the database
    are loaded (no key needed)."""
    return Readiness.model_validate({"status": "ready", **service.versions()})
