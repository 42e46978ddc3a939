"""Refuse request bodies over a size with 413: by their Content-Length, or, for a chunked
body (no length given), while it is read, before the app sees any of it."""

from __future__ import annotations

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from api.problems import problem_response


class BodyLimit:
    """ASGI middleware: a body over `limit` bytes is answered 413 (problem+json)."""

    def __init__(self, app: ASGIApp, limit: int) -> None:
        self.app = app
        self.limit = limit

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        detail = f"the body is larger than {self.limit:,} bytes; send at most that"
        headers = dict(scope["headers"])
        declared = headers.get(b"content-length")
        if declared is not None and declared.isdigit() and int(declared) > self.limit:
            await problem_response(None, 413, detail)(scope, receive, send)
            return
        if declared is None:  # chunked: read it here, so an oversize body is a 413 too
            body = bytearray()
            while True:
                message = await receive()
                if message["type"] != "http.request":
                    break
                body += message.get("body", b"")
                if len(body) > self.limit:
                    await problem_response(None, 413, detail)(scope, receive, send)
                    return
                if not message.get("more_body", False):
                    break
            await self.app(scope, _replay(bytes(body), receive), send)
            return
        await self.app(scope, receive, send)  # the server holds it to its Content-Length


def _replay(body: bytes, receive: Receive) -> Receive:
    """A receive that gives `body` whole once, then whatever the connection sends."""
    given = False

    async def replayed() -> Message:
        nonlocal given
        if not given:
            given = True
            return {"type": "http.request", "body": body, "more_body": False}
        return await receive()

    return replayed
