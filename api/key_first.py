"""Authenticate before the body is read: a request to `/v1/...` without a valid key is
answered 401 at once, so nobody without a key can make the server read (or a worker
buffer) a large body. The key found is left on the request for the routes' dependency."""

from __future__ import annotations

from starlette.concurrency import run_in_threadpool
from starlette.types import ASGIApp, Receive, Scope, Send

from api.problems import ApiProblem, problem_response
from api.security import authenticate

PROTECTED_PREFIX = "/v1/"
KEY_STATE = "api_key"
"""Where in the request's state the authenticated key is left (`request.state.api_key`)."""


class KeyFirst:
    """ASGI middleware: authenticate `/v1/...` requests from their headers alone."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or not scope["path"].startswith(PROTECTED_PREFIX):
            await self.app(scope, receive, send)
            return
        runtime = scope["app"].state.runtime
        header = dict(scope["headers"]).get(b"authorization", b"").decode("latin-1")
        try:
            key = await run_in_threadpool(authenticate, header, runtime.database)
        except ApiProblem as problem:
            answer = problem_response(None, problem.status, problem.detail, None, problem.headers)
            await answer(scope, receive, send)
            return
        scope.setdefault("state", {})[KEY_STATE] = key
        await self.app(scope, receive, send)
