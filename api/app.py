"""The internal scoring API for loan officers.

Run it with `make run`, or `uvicorn api.app:create_app --factory`. Configuration comes from
the environment (see `api.settings`); the database must be migrated (`underwrite db
upgrade`), and `/readyz` says what is missing when it is not ready.
"""

from __future__ import annotations

import datetime as dt
import gc
import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Annotated, Any

import polars as pl
from fastapi import Depends, FastAPI, Header, Path, Query, Request, Response
from starlette.concurrency import run_in_threadpool
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from api import migrate, store
from api.problems import MEDIA_TYPE, ApiProblem, install, problem_response
from api.schemas import (
    Approval,
    Decision,
    DecisionPage,
    DecisionRequest,
    Key,
    KeyRequest,
    NewKey,
    Problem,
    Replay,
    ReviewRequest,
    Versions,
    WithData,
)
from api.security import requires
from api.service import ById, Service, UnknownMerchant, VersionUnavailable, differences
from api.settings import Settings
from underwriting.errors import UnderwritingError

log = logging.getLogger("api")

_PROBLEM = {"model": Problem, "content": {MEDIA_TYPE: {}}}
DecisionId = Annotated[str, Path(min_length=1, max_length=64, description="a decision's id")]


def _responses(*statuses: int) -> dict[int | str, dict[str, Any]]:
    return {status: {**_PROBLEM, "description": f"problem ({status})"} for status in statuses}


class BodyLimit:
    """Refuse request bodies over `limit` bytes with 413, by header or while reading."""

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
        seen = 0

        async def counted() -> Message:
            nonlocal seen
            message = await receive()
            if message["type"] == "http.request":
                seen += len(message.get("body", b""))
                if seen > self.limit:
                    raise ApiProblem(413, detail)
            return message

        await self.app(scope, counted, send)


def _service(request: Request) -> Service:
    service: Service | None = request.app.state.service
    if service is None:
        raise ApiProblem(503, f"the engine is not ready: {request.app.state.not_ready}")
    return service


def _decision(stored: store.StoredDecision) -> Decision:
    body = {
        **stored.decision,
        "id": stored.id,
        "input_sha256": stored.input_sha256,
        "source": stored.source,
        "caller": stored.caller,
        "created_at": stored.created_at,
        "review": stored.review,
    }
    return Decision.model_validate(body)


def _quarantine_errors(held: pl.DataFrame) -> list[dict[str, str]]:
    return [
        {"pointer": f"#/data/{row['table']}", "detail": f"row {row['key']}: {row['reason']}"}
        for row in held.iter_rows(named=True)
    ]


def create_app(settings: Settings | None = None) -> FastAPI:
    """The app for `settings` (default: from the environment)."""
    settings = settings or Settings.from_environment()

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        # A request holds thousands of objects until it ends (a 90-day body validates
        # into 180 models), and reference counting frees them then. The cycle collector's
        # default (a pass every 700 allocations) scans them, alive, several times per
        # request and promotes them to older generations it scans again. A pass every
        # 50,000 served about 12% more inline decisions (in-process, 16 at a time).
        thresholds = gc.get_threshold()
        gc.set_threshold(50_000, *thresholds[1:])
        app.state.database = store.connect(settings.database_url)
        app.state.writer = store.DecisionWriter(app.state.database)
        app.state.service = None
        app.state.not_ready = "starting"
        try:
            revision = migrate.current(app.state.database)
            if revision != migrate.head():
                raise RuntimeError(
                    f"database schema is at {revision or 'nothing'}, not {migrate.head()}; "
                    "run `underwrite db upgrade`"
                )
            app.state.service = Service.load(settings)
            app.state.not_ready = ""
        except (UnderwritingError, RuntimeError, OSError) as error:
            app.state.not_ready = str(error)
            log.error("not ready: %s", error)
        except Exception as error:  # a database that cannot be reached, among others
            app.state.not_ready = f"{type(error).__name__}: {str(error).splitlines()[0]}"
            log.error("not ready: %s", app.state.not_ready)
        yield
        app.state.database.dispose()
        gc.set_threshold(*thresholds)

    app = FastAPI(
        title="Underwriting API",
        version="1",
        summary="Credit decisions for merchants: approve, refer or decline, a limit, a grade, "
        "and the reasons.",
        lifespan=lifespan,
        responses=_responses(413, 422, 500),
    )
    install(app)
    app.add_middleware(BodyLimit, limit=settings.max_body_bytes)

    @app.get("/healthz", tags=["health"])
    def healthz() -> dict[str, str]:
        """The process is up (no key needed)."""
        return {"status": "ok"}

    @app.get("/readyz", tags=["health"], responses=_responses(503))
    def readyz(request: Request) -> dict[str, str]:
        """The engine, its model and rule set, and the database are loaded (no key needed)."""
        service = _service(request)
        return {"status": "ready", **service.versions()}

    @app.get("/v1/versions", tags=["decisions"], responses=_responses(401, 403, 503))
    def versions(
        request: Request, _key: Annotated[store.ApiKey, Depends(requires("read"))]
    ) -> Versions:
        """The active model and rule set, and the data source."""
        return Versions.model_validate(_service(request).versions())

    @app.post(
        "/v1/decisions",
        tags=["decisions"],
        status_code=201,
        responses={
            200: {"model": Decision, "description": "an idempotent retry"},
            **_responses(401, 403, 404, 409, 413, 422, 503),
        },
    )
    async def create_decision(
        request: Request,
        response: Response,
        body: DecisionRequest,
        key: Annotated[store.ApiKey, Depends(requires("decide"))],
        idempotency_key: Annotated[
            str | None,
            Header(
                alias="Idempotency-Key",
                min_length=1,
                max_length=200,
                description="Retries with the same key and body get the same decision",
            ),
        ] = None,
    ) -> Decision:
        """Decide for a merchant, looked up by `merchant_id` or sent inline as `data`."""
        # The work waits on the engine and the store, so it runs in a worker thread. An
        # async route hands it over once; a plain one is run in a thread and then hands
        # its answer's validation to another (FastAPI 0.165), a third trip per request.
        return await run_in_threadpool(
            _create_decision, request, response, body, key, idempotency_key
        )

    def _create_decision(
        request: Request,
        response: Response,
        body: DecisionRequest,
        key: store.ApiKey,
        idempotency_key: str | None,
    ) -> Decision:
        service = _service(request)
        database = request.app.state.database
        request_hash = store.sha256(store.canonical_json(body.model_dump(mode="json")))
        if idempotency_key is not None:
            earlier = store.find_by_idempotency_key(database, key.id, idempotency_key)
            if earlier is not None:
                return _repeat(earlier, request_hash, idempotency_key, response)
        as_of = body.as_of or dt.date.today()
        request_to_decide: ById | dict[str, Any]
        if isinstance(body, WithData):
            merchant = body.data.merchant.model_dump(mode="json")
            if body.requested_amount is not None:
                merchant["requested_amount"] = body.requested_amount
            request_to_decide = {
                "as_of": as_of.isoformat(),
                "merchant": merchant,
                "cashflow": [
                    {**r.model_dump(mode="json"), "merchant_id": merchant["merchant_id"]}
                    for r in body.data.cashflow
                ],
                "traffic": [
                    {**r.model_dump(mode="json"), "merchant_id": merchant["merchant_id"]}
                    for r in body.data.traffic
                ],
                "benchmark": service.benchmark_row(merchant["industry_code"]),
            }
            source = "inline"
        else:
            request_to_decide = ById(body.merchant_id, as_of, body.requested_amount)
            source = f"data:{service.data_fingerprint}"
        try:
            inputs, decision, held = service.decide(request_to_decide)
        except UnknownMerchant as unknown:
            raise ApiProblem(
                404,
                f"merchant {unknown} is not in the data source "
                f"({service.settings.data}); check the id or send its data inline",
            ) from None
        if source == "inline" and not held.is_empty():
            raise ApiProblem(
                422,
                f"{held.height} row(s) of the data failed validation; fix them and send again",
                errors=_quarantine_errors(held),
            )
        decision["input_problems"] = (
            held.select("table", "key", "field", "reason").to_dicts() if held.height else []
        )
        try:
            stored, new = store.save_decision(
                database,
                decision,
                inputs,
                source=source,
                caller=key.id,
                idempotency_key=idempotency_key,
                request_sha256=request_hash,
                writer=request.app.state.writer,
            )
        except store.IdempotencyConflict:
            raise _conflict(idempotency_key) from None
        if not new:
            return _repeat(stored, request_hash, idempotency_key, response)
        response.headers["Location"] = f"/v1/decisions/{stored.id}"
        return _decision(stored)

    def _repeat(
        earlier: store.StoredDecision, request_hash: str, key: str | None, response: Response
    ) -> Decision:
        if earlier.request_sha256 != request_hash:
            raise _conflict(key)
        response.status_code = 200
        response.headers["Idempotent-Replayed"] = "true"
        response.headers["Location"] = f"/v1/decisions/{earlier.id}"
        return _decision(earlier)

    def _conflict(key: str | None) -> ApiProblem:
        return ApiProblem(
            409,
            f"Idempotency-Key {key!r} was used with another request body; "
            "use a new key for a new request",
        )

    @app.get("/v1/decisions", tags=["decisions"], responses=_responses(401, 403, 422, 503))
    def list_decisions(
        request: Request,
        _key: Annotated[store.ApiKey, Depends(requires("read"))],
        merchant_id: Annotated[str | None, Query(min_length=1, max_length=200)] = None,
        limit: Annotated[int, Query(ge=1, le=200)] = 50,
        cursor: Annotated[int | None, Query(ge=1, le=2**62)] = None,
    ) -> DecisionPage:
        """Stored decisions, newest first, optionally of one merchant; page with `cursor`."""
        found = store.list_decisions(request.app.state.database, merchant_id, limit + 1, cursor)
        page = found[:limit]
        more = len(found) > limit
        return DecisionPage(
            items=[_decision(s) for s in page], next_cursor=page[-1].seq if more else None
        )

    def _stored(request: Request, decision_id: str) -> store.StoredDecision:
        stored = store.get_decision(request.app.state.database, decision_id)
        if stored is None:
            raise ApiProblem(404, f"no decision {decision_id}; list them at /v1/decisions")
        return stored

    @app.get("/v1/decisions/{decision_id}", tags=["decisions"], responses=_responses(401, 403, 404))
    def get_decision(
        request: Request,
        decision_id: DecisionId,
        _key: Annotated[store.ApiKey, Depends(requires("read"))],
    ) -> Decision:
        """One stored decision, with its review if there is one."""
        return _decision(_stored(request, decision_id))

    @app.post(
        "/v1/decisions/{decision_id}/review",
        tags=["decisions"],
        status_code=201,
        responses=_responses(401, 403, 404, 409, 422),
    )
    def review_decision(
        request: Request,
        decision_id: DecisionId,
        body: ReviewRequest,
        key: Annotated[store.ApiKey, Depends(requires("review"))],
    ) -> Decision:
        """An officer's final word on a referral; the decision itself never changes."""
        stored = _stored(request, decision_id)
        decided = stored.decision
        if decided["outcome"] != "refer":
            raise ApiProblem(
                409, f"decision {decision_id} is a {decided['outcome']}, not a referral"
            )
        if stored.review is not None:
            raise ApiProblem(409, f"decision {decision_id} was reviewed already")
        limit = body.limit if isinstance(body, Approval) else 0
        if limit > decided["limit"]:
            raise ApiProblem(
                409,
                f"the approved limit {limit:,} is above the engine's {decided['limit']:,}; "
                "an officer may lower a limit, never raise it",
                errors=[{"pointer": "#/limit", "detail": f"at most {decided['limit']}"}],
            )
        try:
            store.save_review(
                request.app.state.database, decision_id, body.outcome, limit, body.note, key.id
            )
        except store.AlreadyReviewed:
            raise ApiProblem(409, f"decision {decision_id} was reviewed already") from None
        return _decision(_stored(request, decision_id))

    @app.post(
        "/v1/decisions/{decision_id}/replay",
        tags=["decisions"],
        responses=_responses(401, 403, 404, 409, 503),
    )
    def replay_decision(
        request: Request,
        decision_id: DecisionId,
        _key: Annotated[store.ApiKey, Depends(requires("read"))],
    ) -> Replay:
        """Re-run the stored input with the recorded model and rule-set versions."""
        service = _service(request)
        stored = _stored(request, decision_id)
        recorded = stored.decision
        try:
            engine = service.engine_for(recorded["model_version"], recorded["rule_set_version"])
        except VersionUnavailable as error:
            raise ApiProblem(409, f"cannot replay: {error}") from None
        replayed, _ = service.decide_alone(stored.input, engine)
        found = differences(recorded, replayed)
        return Replay(
            decision_id=decision_id,
            identical=not found,
            model_version=recorded["model_version"],
            rule_set_version=recorded["rule_set_version"],
            differences=found,
            replayed=replayed,
        )

    @app.post("/v1/keys", tags=["keys"], status_code=201, responses=_responses(401, 403, 422))
    def create_key(
        request: Request,
        body: KeyRequest,
        _key: Annotated[store.ApiKey, Depends(requires("keys"))],
    ) -> NewKey:
        """A new API key; its secret is in this answer only."""
        made, secret = store.create_key(request.app.state.database, body.role, body.label)
        return NewKey(**made.__dict__, secret=secret)

    @app.get("/v1/keys", tags=["keys"], responses=_responses(401, 403))
    def list_keys(
        request: Request, _key: Annotated[store.ApiKey, Depends(requires("keys"))]
    ) -> list[Key]:
        """Every key, active and revoked (never a secret)."""
        return [Key(**k.__dict__) for k in store.list_keys(request.app.state.database)]

    @app.delete(
        "/v1/keys/{key_id}", tags=["keys"], status_code=204, responses=_responses(401, 403, 404)
    )
    def revoke_key(
        request: Request,
        key_id: Annotated[str, Path(min_length=1, max_length=64)],
        _key: Annotated[store.ApiKey, Depends(requires("keys"))],
    ) -> Response:
        """Revoke a key; requests with it are refused from now on."""
        if not store.revoke_key(request.app.state.database, key_id):
            raise ApiProblem(404, f"no active key {key_id}")
        return Response(status_code=204)

    return app
