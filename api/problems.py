"""Errors as RFC 9457 problem details (application/problem+json), never a stack trace."""

from __future__ import annotations

import logging
import uuid
from collections.abc import Mapping, Sequence
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException as StarletteHTTPException

from api.schemas import UNION_TAGS, Problem
from underwriting.errors import InputError

MEDIA_TYPE = "application/problem+json"
log = logging.getLogger("api")

TITLES = {
    400: "Bad request",
    401: "Not authenticated",
    403: "Not allowed",
    404: "Not found",
    405: "Method not allowed",
    409: "Conflict",
    413: "Request body too large",
    422: "Invalid request",
    500: "Internal error",
    503: "Not ready",
}


def problem_responses(*statuses: int) -> dict[int | str, dict[str, Any]]:
    """The OpenAPI `responses` of a route that may answer with these problem statuses."""
    return {
        status: {
            "model": Problem,
            "content": {MEDIA_TYPE: {}},
            "description": f"problem ({status})",
        }
        for status in statuses
    }


class ApiProblem(Exception):
    """Raise to answer with a problem: status, what went wrong and what to do."""

    def __init__(
        self,
        status: int,
        detail: str,
        *,
        errors: list[dict[str, str]] | None = None,
        headers: dict[str, str] | None = None,
    ) -> None:
        super().__init__(detail)
        self.status = status
        self.detail = detail
        self.errors = errors
        self.headers = headers


def problem_response(
    request: Request | None,
    status: int,
    detail: str,
    errors: list[dict[str, str]] | None = None,
    headers: dict[str, str] | None = None,
) -> JSONResponse:
    body: dict[str, Any] = {
        "type": "about:blank",
        "title": TITLES.get(status, "Error"),
        "status": status,
        "detail": detail,
    }
    if request is not None:
        body["instance"] = request.url.path
    if errors:
        body["errors"] = errors
    return JSONResponse(body, status_code=status, media_type=MEDIA_TYPE, headers=headers)


def _pointer(location: tuple[Any, ...]) -> str:
    parts = [str(p) for p in location]
    if parts and parts[0] == "body":
        inside = parts[2:] if len(parts) > 1 and parts[1] in UNION_TAGS else parts[1:]
        return "#/" + "/".join(inside)
    return "/".join(parts)  # query/limit, header/idempotency-key, path/decision_id


def validation_problems(errors: Sequence[Mapping[str, Any]]) -> list[dict[str, str]]:
    """Pydantic's errors of a request as problems: a JSON pointer (`#/data/cashflow/3/date`
    for a body's field) and what is wrong there."""
    found = []
    for e in errors:
        message = str(e.get("msg", "invalid")).removeprefix("Value error, ")
        found.append({"pointer": _pointer(tuple(e.get("loc", ()))), "detail": message})
    return found


def install(app: FastAPI) -> None:
    """Answer every error of `app` as problem+json."""

    @app.exception_handler(ApiProblem)
    async def _problem(request: Request, error: ApiProblem) -> JSONResponse:
        return problem_response(request, error.status, error.detail, error.errors, error.headers)

    @app.exception_handler(RequestValidationError)
    async def _invalid(request: Request, error: RequestValidationError) -> JSONResponse:
        errors = validation_problems(error.errors())
        detail = f"{len(errors)} problem(s) in the request; see errors (each names where and what)"
        return problem_response(request, 422, detail, errors)

    @app.exception_handler(InputError)
    async def _input(request: Request, error: InputError) -> JSONResponse:
        return problem_response(request, 422, str(error))

    @app.exception_handler(StarletteHTTPException)
    async def _http(request: Request, error: StarletteHTTPException) -> JSONResponse:
        detail = str(error.detail) if error.detail else TITLES.get(error.status_code, "Error")
        if error.status_code == 404 and detail == "Not Found":
            detail = f"no route {request.url.path}; see /docs for the routes"
        headers = dict(error.headers) if error.headers else None
        return problem_response(request, error.status_code, detail, headers=headers)

    @app.exception_handler(Exception)
    async def _unexpected(request: Request, error: Exception) -> JSONResponse:
        reference = uuid.uuid4().hex[:12]
        log.exception("unexpected error %s on %s %s", reference, request.method, request.url.path)
        return problem_response(
            request, 500, f"unexpected error; quote reference {reference} to the operators"
        )
