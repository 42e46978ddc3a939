"""Liveness and readiness, for load balancers and orchestrators (no key needed)."""

from __future__ import annotations

from fastapi import APIRouter

from api.deps import ServiceDep
from api.problems import problem_responses

router = APIRouter(tags=["health"])


@router.get("/healthz")
def healthz() -> dict[str, str]:
    """The process is up (no key needed)."""
    return {"status": "ok"}


@router.get("/readyz", responses=problem_responses(503))
def readyz(service: ServiceDep) -> dict[str, str]:
    """The engine, its model and rule set, and the database are loaded (no key needed)."""
    return {"status": "ready", **service.versions()}
