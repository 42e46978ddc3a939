"""API keys and roles. Every route but health needs `Authorization: Bearer <key>`; keys are
stored hashed. Officers decide and review; auditors read and replay, and see the shadow
challenger's decisions (audit); admins do all of it and manage keys."""

from __future__ import annotations

from typing import Literal

from sqlalchemy import Engine

from api.problems import ApiProblem
from api.store import ApiKey, key_for_secret

Permission = Literal["decide", "review", "read", "audit", "keys"]

PERMISSIONS: dict[str, frozenset[Permission]] = {
    "officer": frozenset({"decide", "review", "read"}),
    "auditor": frozenset({"read", "audit"}),
    "admin": frozenset({"decide", "review", "read", "audit", "keys"}),
}

_CHALLENGE = {"WWW-Authenticate": 'Bearer realm="underwriting"'}


def authenticate(authorization: str, database: Engine) -> ApiKey:
    """The key of an `Authorization` header's value; 401 when it is missing, malformed,
    unknown or revoked."""
    scheme, _, secret = authorization.partition(" ")
    if scheme.lower() != "bearer" or not secret.strip():
        raise ApiProblem(
            401,
            "send an API key as `Authorization: Bearer <key>`; create one with "
            "`underwrite keys create --role officer`",
            headers=_CHALLENGE,
        )
    key = key_for_secret(database, secret.strip())
    if key is None:
        raise ApiProblem(401, "unknown or revoked API key", headers=_CHALLENGE)
    return key


def authorize(key: ApiKey, permission: Permission) -> None:
    """403 unless the key's role grants `permission`."""
    if permission not in PERMISSIONS.get(key.role, frozenset()):
        raise ApiProblem(403, f"the {key.role} role may not {permission}; use another key")
