"""The workbench's sessions: an API key exchanged for a signed, HttpOnly, SameSite=Strict
cookie that expires, and a CSRF token for every form.

The cookie holds a random token and its HMAC under the app's signing secret (made on first
use and kept in the database, so every worker shares it). The session row, keyed by the
token's hash, holds the key, the CSRF token and the expiry; signing out ends it there, so a
copied cookie stops working too, and so does a session whose key is revoked.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import hmac
import secrets
from dataclasses import dataclass

import sqlalchemy as sa

from api import store

COOKIE = "uw_workbench"
SIGN_IN_COOKIE = "uw_sign_in"
LIFETIME = dt.timedelta(hours=8)
SECRET_NAME = "workbench-cookies"


@dataclass(frozen=True)
class Session:
    """A signed-in officer, auditor or admin: the key, and the token every form carries."""

    key: store.ApiKey
    csrf: str
    expires_at: dt.datetime


def signing_secret(database: sa.Engine) -> bytes:
    """The app's cookie signing secret, made on first use (race-safe across workers)."""
    table = store.app_secrets
    query = sa.select(table.c.secret).where(table.c.name == SECRET_NAME)
    with database.connect() as connection:
        found = connection.execute(query).scalar_one_or_none()
    if found is None:
        try:
            with store.writing(database) as connection:
                connection.execute(
                    table.insert().values(
                        name=SECRET_NAME, secret=secrets.token_hex(32), created_at=store.now()
                    )
                )
        except sa.exc.IntegrityError:
            pass  # another worker made it first
        with database.connect() as connection:
            found = connection.execute(query).scalar_one()
    return bytes.fromhex(found)


def _mac(secret: bytes, text: str) -> str:
    return hmac.new(secret, text.encode(), hashlib.sha256).hexdigest()


def sign_in(database: sa.Engine, key: store.ApiKey) -> tuple[str, Session]:
    """A new session of `key`: the cookie's value and the session."""
    token = secrets.token_urlsafe(32)
    created = store.now()
    session = Session(key, secrets.token_urlsafe(32), created + LIFETIME)
    with store.writing(database) as connection:
        connection.execute(
            store.workbench_sessions.insert().values(
                token_sha256=store.sha256(token.encode()),
                key_id=key.id,
                csrf=session.csrf,
                created_at=created,
                expires_at=session.expires_at,
            )
        )
    return f"{token}.{_mac(signing_secret(database), token)}", session


def session_of(database: sa.Engine, cookie: str | None) -> Session | None:
    """The live session of a cookie: signed by this app, not ended, not expired, and its
    key not revoked; else None."""
    token, _, mac = (cookie or "").partition(".")
    if not token or not mac:
        return None
    if not hmac.compare_digest(mac, _mac(signing_secret(database), token)):
        return None
    sessions, keys = store.workbench_sessions, store.api_keys
    query = (
        sa.select(
            keys.c.id,
            keys.c.role,
            keys.c.label,
            keys.c.created_at,
            sessions.c.csrf,
            sessions.c.expires_at,
        )
        .select_from(sessions.join(keys, keys.c.id == sessions.c.key_id))
        .where(
            sessions.c.token_sha256 == store.sha256(token.encode()),
            sessions.c.ended_at.is_(None),
            keys.c.revoked_at.is_(None),
        )
    )
    with database.connect() as connection:
        row = connection.execute(query).mappings().first()
    if row is None:
        return None
    expires = store.utc(row["expires_at"])
    assert expires is not None
    if expires <= store.now():
        return None
    created = store.utc(row["created_at"])
    assert created is not None
    key = store.ApiKey(row["id"], row["role"], row["label"], created, None)
    return Session(key, row["csrf"], expires)


def sign_out(database: sa.Engine, cookie: str | None) -> None:
    """End the session of a cookie (nothing when there is none)."""
    token = (cookie or "").partition(".")[0]
    if not token:
        return
    sessions = store.workbench_sessions
    with store.writing(database) as connection:
        connection.execute(
            sessions.update()
            .where(sessions.c.token_sha256 == store.sha256(token.encode()))
            .values(ended_at=store.now())
        )


def csrf_matches(expected: str, given: str | None) -> bool:
    """Whether a form's CSRF token is the session's (in constant time)."""
    return given is not None and hmac.compare_digest(expected.encode(), given.encode())


def sign_in_token(database: sa.Engine, nonce: str) -> str:
    """The sign-in form's CSRF token: bound to the browser's sign-in cookie (`nonce`)."""
    return _mac(signing_secret(database), f"sign-in:{nonce}")
