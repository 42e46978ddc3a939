"""The baseline of the API load benchmark: a bare FastAPI endpoint that only validates the
same request body as `POST /v1/decisions` and answers 200."""

from __future__ import annotations

from typing import Annotated

from fastapi import Body, FastAPI

from api.schemas import DecisionRequest


def create_app() -> FastAPI:
    app = FastAPI(title="bare baseline")

    @app.post("/v1/decisions")
    def validate_only(body: Annotated[DecisionRequest, Body()]) -> dict[str, bool]:
        return {"valid": body is not None}

    return app
