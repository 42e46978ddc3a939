"""The internal scoring API for loan officers: `create_app` assembles it.

Run it with `make run`, or `uvicorn api.main:create_app --factory`. Configuration comes
from the environment (`api.settings`); the database must be migrated (`underwrite db
upgrade`), and `/readyz` says what is missing when it is not ready.
"""

from __future__ import annotations

import gc
import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI

from api import migrate, store
from api.body_limit import BodyLimit
from api.deps import Runtime
from api.key_first import KeyFirst
from api.problems import install, problem_responses
from api.routes import decisions, docs, health, keys, reviews, shadow
from api.service import Service
from api.settings import Settings
from api.shadow import ShadowChallenger
from api.shadow_child import ChallengerProcess
from api.workbench import pages as workbench
from underwriting.errors import UnderwritingError

log = logging.getLogger("api")


def create_app(settings: Settings | None = None) -> FastAPI:
    """The app for `settings` (default: from the environment)."""
    app = FastAPI(
        title="Underwriting API",
        version="1",
        summary="Credit decisions for merchants: approve, refer or decline, a limit, a grade, "
        "and the reasons.",
        lifespan=lifespan,
        responses=problem_responses(413, 422, 500),
        docs_url=None,  # served offline by api.routes.docs
        redoc_url=None,
    )
    app.state.settings = settings or Settings.from_environment()
    install(app)
    app.add_middleware(BodyLimit, limit=app.state.settings.max_body_bytes)
    app.add_middleware(KeyFirst)  # added last, so it runs first: no key, no body read
    for routes in (health, decisions, reviews, shadow, keys):
        app.include_router(routes.router)
    docs.install(app)
    workbench.install(app)
    return app


@asynccontextmanager
async def lifespan(app: FastAPI) -> AsyncIterator[None]:
    """Connect the database, then load the engine's service once; while it cannot load,
    the app serves and says why it is not ready (`/readyz`, 503 on the routes)."""
    settings: Settings = app.state.settings
    # A request holds thousands of objects until it ends (a 90-day body validates into 180
    # models), and reference counting frees them then. The cycle collector's default (a
    # pass every 700 allocations) scans them, alive, several times per request and
    # promotes them to older generations it scans again; a pass every 50,000 does not.
    thresholds = gc.get_threshold()
    gc.set_threshold(50_000, *thresholds[1:])
    database = store.connect(settings.database_url)
    runtime = app.state.runtime = Runtime(database, store.DecisionWriter(database))
    try:
        revision = migrate.current(database)
        if revision != migrate.head():
            raise RuntimeError(
                f"database schema is at {revision or 'nothing'}, not {migrate.head()}; "
                "run `underwrite db upgrade`"
            )
        runtime.service = Service.load(settings)
        challenger = runtime.service.challenger
        if challenger is not None and settings.challenger_rules is not None:
            child = ChallengerProcess(
                settings.challenger_model or settings.model,
                settings.challenger_rules,
                (challenger.model.version, challenger.rules.version),
            )
            runtime.shadow = ShadowChallenger(child, database)
        runtime.not_ready = ""
    except (UnderwritingError, RuntimeError, OSError) as error:
        runtime.not_ready = str(error)
        log.error("not ready: %s", error)
    except Exception as error:  # a database that cannot be reached, among others
        runtime.not_ready = f"{type(error).__name__}: {str(error).splitlines()[0]}"
        log.error("not ready: %s", runtime.not_ready)
    yield
    if runtime.shadow is not None:
        runtime.shadow.close()
    database.dispose()
    gc.set_threshold(*thresholds)
