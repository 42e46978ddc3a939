"""API keys: an admin creates (the secret is shown once), lists and revokes them."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Path, Response

from api import store
from api.deps import DatabaseDep, KeyAdmin
from api.problems import ApiProblem, problem_responses
from api.schemas import Key, KeyRequest, NewKey
from underwriting.contract.units import NO_CONTROL_CHARACTERS

router = APIRouter(tags=["keys"])


@router.post("/v1/keys", status_code=201, responses=problem_responses(401, 403, 422))
def create_key(_key: KeyAdmin, body: KeyRequest, database: DatabaseDep) -> NewKey:
    """A new API key; its secret is in this answer only."""
    made, secret = store.create_key(database, body.role, body.label)
    return NewKey(**made.__dict__, secret=secret)


@router.get("/v1/keys", responses=problem_responses(401, 403))
def list_keys(_key: KeyAdmin, database: DatabaseDep) -> list[Key]:
    """Every key, active and revoked (never a secret)."""
    return [Key(**k.__dict__) for k in store.list_keys(database)]


@router.delete(
    "/v1/keys/{key_id}", status_code=204, responses=problem_responses(401, 403, 404, 409)
)
def revoke_key(
    _key: KeyAdmin,
    key_id: Annotated[str, Path(min_length=1, max_length=64, pattern=NO_CONTROL_CHARACTERS)],
    database: DatabaseDep,
) -> Response:
    """Revoke a key; requests with it are refused from now on."""
    try:
        revoked = store.revoke_key(database, key_id)
    except store.LastAdminKey:
        raise ApiProblem(
            409, f"{key_id} is the last active admin key; create another admin key first"
        ) from None
    if not revoked:
        raise ApiProblem(404, f"no active key {key_id}")
    return Response(status_code=204)
