"""A diagnostic for the API load benchmark: the real app with the decision made free.

Each merchant's decision is computed once by the real service (the first 500 merchants
of the data source before the server listens, an inline body on its first request) and
then repeated from memory. Everything else a decision request does is real: the body's
validation, the key check against the database, the request hash, the input assembled
for storage, its canonical JSON, hash and compression, the SQLite group commit and the
response. Its throughput is the most the API could serve with an engine that cost
nothing: the ceiling any speed-up of the engine or the data lookup can reach.

Not a way to serve decisions: a repeated answer ignores any change in the data source.
"""

from __future__ import annotations

import datetime as dt
import os
from collections.abc import AsyncIterator, Hashable
from contextlib import asynccontextmanager
from typing import Any

from fastapi import FastAPI

from api.main import create_app as create_real_app
from api.service import ById, Decided, Service

MERCHANTS = 500  # as many as bench_api.py cycles through by id
CHUNK = 50


class RepeatedDecisions:
    """`Service.decide` that computes each distinct request once and then repeats it."""

    def __init__(self, service: Service) -> None:
        self.service = service
        self.decide = service.decide  # the real one, before it is replaced by this
        self.answers: dict[Hashable, Decided] = {}

    @staticmethod
    def key(request: ById | dict[str, Any]) -> Hashable:
        if isinstance(request, ById):
            return ("id", request.merchant_id, request.as_of, request.requested_amount)
        merchant = request["merchant"]
        return ("inline", merchant["merchant_id"], request["as_of"], len(request["cashflow"]))

    def warm(self, merchant_ids: list[str], as_of: dt.date) -> None:
        for start in range(0, len(merchant_ids), CHUNK):
            requests = [ById(m, as_of) for m in merchant_ids[start : start + CHUNK]]
            for request, answer in zip(requests, self.service._decide_many(requests), strict=True):
                if not isinstance(answer, BaseException):
                    self.answers[self.key(request)] = answer

    def __call__(self, request: ById | dict[str, Any]) -> Decided:
        key = self.key(request)
        if key not in self.answers:
            self.answers[key] = self.decide(request)
        return self.answers[key]


def create_app() -> FastAPI:
    app = create_real_app()
    real_lifespan = app.router.lifespan_context
    as_of = dt.date.fromisoformat(os.environ.get("UW_BENCH_AS_OF", "2026-10-01"))

    @asynccontextmanager
    async def lifespan(application: FastAPI) -> AsyncIterator[None]:
        async with real_lifespan(application):
            service: Service | None = application.state.runtime.service
            assert service is not None, application.state.runtime.not_ready
            repeated = RepeatedDecisions(service)
            ids = service.merchants.profiles.get_column("merchant_id").head(MERCHANTS).to_list()
            repeated.warm(ids, as_of)
            service.decide = repeated  # type: ignore[method-assign]
            yield

    app.router.lifespan_context = lifespan
    return app
