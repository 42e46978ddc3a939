"""API keys and roles. Every route but health needs `Authorization: Bearer <key>`; keys are
stored hashed. Officers decide and review; auditors read and replay; admins do both and
manage keys."""

from __future__ import annotations

from collections.abc import Callable
from typing import Literal

from fastapi import Request

from api.problems import ApiProblem
from api.store import ApiKey, key_for_secret

Permission = Literal["decide", "review", "read", "keys"]

PERMISSIONS: dict[str, frozenset[Permission]] = {
    "officer": frozenset({"decide", "review", "read"}),
    "auditor": frozenset({"read"}),
    "admin": frozenset({"decide", "review", "read", "keys"}),
}

_CHALLENGE = {"WWW-Authenticate": 'Bearer realm="underwriting"'}


def caller(request: Request) -> ApiKey:
    """The key the request is made with; 401 when missing, malformed, unknown or revoked."""
    header = request.headers.get("authorization", "")
    scheme, _, secret = header.partition(" ")
    if scheme.lower() != "bearer" or not secret.strip():
        raise ApiProblem(
            401,
            "send an API key as `Authorization: Bearer <key>`; create one with "
            "`underwrite keys create --role officer`",
            headers=_CHALLENGE,
        )
    key = key_for_secret(request.app.state.database, secret.strip())
    if key is None:
        raise ApiProblem(401, "unknown or revoked API key", headers=_CHALLENGE)
    return key


def requires(permission: Permission) -> Callable[[Request], ApiKey]:
    """A dependency: the caller's key, which must grant `permission` (else 403)."""

    def check(request: Request) -> ApiKey:
        key = caller(request)
        if permission not in PERMISSIONS.get(key.role, frozenset()):
            raise ApiProblem(403, f"the {key.role} role may not {permission}; use another key")
        return key

    return check
