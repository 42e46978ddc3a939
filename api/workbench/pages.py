"""The loan officer's workbench: server-rendered pages under /workbench on the same app,
store and roles as the API. Sign in with a key; the referral queue; a new decision by
merchant id or from an applicant's files; the decision page (why, with the limit's
build-up, the rules, the charts and a replay); the review; a merchant's history.

Every page needs a session (`sessions`); every form carries the session's CSRF token, and
a form posted without it, or after signing out, is refused. Officers and admins act;
auditors read only. Pages are plain HTML forms (no scripts), escaped by Jinja2.
"""

from __future__ import annotations

import contextlib
import secrets
from collections.abc import Callable
from pathlib import Path
from typing import Annotated, Any

import sqlalchemy as sa
from fastapi import APIRouter, FastAPI, Form, Request, UploadFile
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from fastapi.staticfiles import StaticFiles
from jinja2 import Environment, FileSystemLoader, select_autoescape
from pydantic import TypeAdapter, ValidationError
from starlette.concurrency import run_in_threadpool

from api import intake, store
from api.deps import Runtime
from api.problems import ApiProblem, validation_problems
from api.routes.reviews import record_review
from api.schemas import DecisionRequest
from api.security import PERMISSIONS
from api.service import Service
from api.workbench import cases, sessions, uploads
from api.workbench.views import decision_page
from underwriting.decision import DECIDED

HERE = Path(__file__).parent
PREFIX = "/workbench"
templates = Environment(
    loader=FileSystemLoader(HERE / "templates"),
    autoescape=select_autoescape(["html"]),
    trim_blocks=True,
    lstrip_blocks=True,
)
router = APIRouter(prefix=PREFIX, include_in_schema=False)
_REQUEST = TypeAdapter(DecisionRequest)


class Refused(Exception):
    """A page or form the caller may not have: shown as a page with the reason."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.message = message


def _runtime(request: Request) -> Runtime:
    runtime: Runtime = request.app.state.runtime
    return runtime


def _service(request: Request) -> Service:
    service = _runtime(request).service
    if service is None:
        raise Refused(503, f"the engine is not ready: {_runtime(request).not_ready}")
    return service


def _page(
    request: Request,
    template: str,
    session: sessions.Session | None,
    status: int = 200,
    **context: Any,
) -> HTMLResponse:
    database = _runtime(request).database
    waiting = cases.waiting_count(database) if session is not None else None
    role = session.key.role if session else None
    html = templates.get_template(template).render(
        prefix=PREFIX,
        session=session,
        can_act=role is not None and "decide" in PERMISSIONS.get(role, frozenset()),
        waiting=waiting,
        **context,
    )
    return HTMLResponse(html, status_code=status, headers={"Cache-Control": "no-store"})


def _session(request: Request) -> sessions.Session | None:
    return sessions.session_of(_runtime(request).database, request.cookies.get(sessions.COOKIE))


def _to_sign_in(request: Request) -> RedirectResponse:
    return RedirectResponse(f"{PREFIX}/sign-in?next={request.url.path}", status_code=303)


def _form_session(request: Request, csrf: str | None, act: bool = False) -> sessions.Session:
    """The session of a posted form: refused without a live session, without the
    session's CSRF token, or (`act`) for a role that may not act."""
    session = _session(request)
    if session is None:
        raise Refused(403, "You are signed out: sign in again, then repeat what you did.")
    if not sessions.csrf_matches(session.csrf, csrf):
        raise Refused(403, "This form is stale or not from this workbench; open the page again.")
    if act and "decide" not in PERMISSIONS.get(session.key.role, frozenset()):
        raise Refused(403, f"The {session.key.role} role reads only; use an officer's key.")
    return session


def _cookie_flags(request: Request) -> dict[str, Any]:
    return {
        "httponly": True,
        "samesite": "strict",
        "secure": request.url.scheme == "https",
        "path": PREFIX,
    }


@router.get("/")
def home(request: Request) -> Response:
    session = _session(request)
    return RedirectResponse(f"{PREFIX}/queue" if session else f"{PREFIX}/sign-in", status_code=303)


@router.get("/sign-in")
def sign_in_page(request: Request, next: str = "") -> Response:
    nonce = secrets.token_urlsafe(16)
    token = sessions.sign_in_token(_runtime(request).database, nonce)
    answer = _page(request, "sign_in.html", None, csrf=token, next=_safe_next(next), error=None)
    answer.set_cookie(sessions.SIGN_IN_COOKIE, nonce, max_age=3600, **_cookie_flags(request))
    return answer


def _safe_next(target: str) -> str:
    """Where to go after signing in: a workbench page, never elsewhere."""
    if target.startswith(f"{PREFIX}/") and "//" not in target and "\\" not in target:
        return target
    return f"{PREFIX}/queue"


@router.post("/sign-in")
def sign_in(
    request: Request,
    key: Annotated[str, Form(max_length=200)] = "",
    csrf: Annotated[str, Form(max_length=200)] = "",
    next: Annotated[str, Form(max_length=500)] = "",
) -> Response:
    database = _runtime(request).database
    nonce = request.cookies.get(sessions.SIGN_IN_COOKIE, "")
    if not nonce or not sessions.csrf_matches(sessions.sign_in_token(database, nonce), csrf):
        raise Refused(403, "This sign-in form is stale; open the sign-in page again.")
    found = store.key_for_secret(database, key.strip()) if key.strip() else None
    if found is None:
        token = sessions.sign_in_token(database, nonce)
        error = "Unknown or revoked key. Paste the whole key (it starts with uwk_)."
        return _page(request, "sign_in.html", None, 401, csrf=token, next=_safe_next(next),
                     error=error)  # fmt: skip
    cookie, _ = sessions.sign_in(database, found)
    answer = RedirectResponse(_safe_next(next), status_code=303)
    lifetime = int(sessions.LIFETIME.total_seconds())
    answer.set_cookie(sessions.COOKIE, cookie, max_age=lifetime, **_cookie_flags(request))
    answer.delete_cookie(sessions.SIGN_IN_COOKIE, path=PREFIX)
    return answer


@router.post("/sign-out")
def sign_out(request: Request, csrf: Annotated[str, Form(max_length=200)] = "") -> Response:
    _form_session(request, csrf)
    sessions.sign_out(_runtime(request).database, request.cookies.get(sessions.COOKIE))
    answer = RedirectResponse(f"{PREFIX}/sign-in", status_code=303)
    answer.delete_cookie(sessions.COOKIE, path=PREFIX)
    return answer


@router.get("/queue")
def queue(request: Request, industry: str = "", grade: str = "", page: int = 1) -> Response:
    session = _session(request)
    if session is None:
        return _to_sign_in(request)
    database = _runtime(request).database
    page = max(1, min(page, 10_000))
    found, total = cases.referral_queue(database, industry or None, grade or None, page)
    industries, grades = cases.queue_choices(database)
    pages = max(1, -(-total // cases.PER_PAGE))
    return _page(
        request,
        "queue.html",
        session,
        cases=found,
        total=total,
        page=page,
        pages=pages,
        industry=industry,
        grade=grade,
        industries=industries,
        grades=grades,
        now=store.now(),
    )


@router.get("/decide")
def decide_page(request: Request) -> Response:
    session = _session(request)
    if session is None:
        return _to_sign_in(request)
    return _page(request, "decide.html", session, problems=[], error=None, form={})


def _decide(
    request: Request, session: sessions.Session, body: dict[str, Any], form: dict[str, str]
) -> Response:
    """Decide a request as the API does, and show the decision, or the form with every
    problem of it."""
    service = _service(request)
    runtime = _runtime(request)
    try:
        parsed = _REQUEST.validate_python(body)
        taken = intake.take(
            service, runtime.database, runtime.writer, parsed, session.key, None, runtime.shadow
        )
    except ValidationError as invalid:
        errors = validation_problems([{**e, "loc": ("body", *e["loc"])} for e in invalid.errors()])
        return _page(request, "decide.html", session, 422, problems=uploads.file_problems(errors),
                     error="The request has problems; fix them and send it again.", form=form)  # fmt: skip
    except ApiProblem as problem:
        return _page(request, "decide.html", session, problem.status,
                     problems=uploads.file_problems(problem.errors or []), error=problem.detail,
                     form=form)  # fmt: skip
    return RedirectResponse(f"{PREFIX}/decisions/{taken.stored.id}", status_code=303)


@router.post("/decide")
async def decide_by_id(
    request: Request,
    csrf: Annotated[str, Form(max_length=200)] = "",
    merchant_id: Annotated[str, Form(max_length=300)] = "",
    as_of: Annotated[str, Form(max_length=40)] = "",
    requested_amount: Annotated[str, Form(max_length=40)] = "",
) -> Response:
    session = await run_in_threadpool(_form_session, request, csrf, True)
    body: dict[str, Any] = {"merchant_id": merchant_id.strip()}
    if as_of:
        body["as_of"] = as_of
    if requested_amount:
        body["requested_amount"] = requested_amount
    form = {"merchant_id": merchant_id, "as_of": as_of, "requested_amount": requested_amount}
    return await run_in_threadpool(_decide, request, session, body, form)


@router.post("/decide/upload")
async def decide_upload(
    request: Request,
    profile: UploadFile,
    cashflow: UploadFile,
    traffic: UploadFile | None = None,
    csrf: Annotated[str, Form(max_length=200)] = "",
    as_of: Annotated[str, Form(max_length=40)] = "",
    requested_amount: Annotated[str, Form(max_length=40)] = "",
) -> Response:
    session = await run_in_threadpool(_form_session, request, csrf, True)
    files = {"merchant": await profile.read(), "cashflow": await cashflow.read()}
    if traffic is not None:
        files["traffic"] = await traffic.read()
    form = {"as_of": as_of, "requested_amount": requested_amount}
    try:
        body = uploads.request_body(files, as_of or None, requested_amount or None)
    except uploads.UploadError as error:
        return _page(request, "decide.html", session, 422, problems=[], error=str(error),
                     form=form)  # fmt: skip
    return await run_in_threadpool(_decide, request, session, body, form)


def _stored(request: Request, decision_id: str) -> store.StoredDecision:
    found = store.get_decision(_runtime(request).database, decision_id[:64])
    if found is None:
        raise Refused(404, f"No decision {decision_id}. Find it in a merchant's history.")
    return found


@router.get("/decisions/{decision_id}")
def decision(request: Request, decision_id: str) -> Response:
    session = _session(request)
    if session is None:
        return _to_sign_in(request)
    return _decision_page(request, session, _stored(request, decision_id))


def _decision_page(
    request: Request,
    session: sessions.Session,
    stored: store.StoredDecision,
    status: int = 200,
    *,
    replay: dict[str, Any] | None = None,
    review_error: str | None = None,
) -> HTMLResponse:
    service = _service(request)
    reviewer = None
    if stored.review is not None:
        reviewer = _key_label(_runtime(request).database, stored.review["reviewer"])
    return _page(
        request,
        "decision.html",
        session,
        status,
        stored=stored,
        d=stored.decision,
        view=decision_page(service, stored),
        reasons=service.reasons,
        reviewer=reviewer,
        replay=replay,
        review_error=review_error,
    )


def _key_label(database: sa.Engine, key_id: str) -> str:
    keys = store.api_keys
    with database.connect() as connection:
        label = connection.execute(
            sa.select(keys.c.label).where(keys.c.id == key_id)
        ).scalar_one_or_none()
    return f"{label} ({key_id})" if label else key_id


@router.post("/decisions/{decision_id}/replay")
def replay(
    request: Request, decision_id: str, csrf: Annotated[str, Form(max_length=200)] = ""
) -> Response:
    session = _form_session(request, csrf)
    stored = _stored(request, decision_id)
    service = _service(request)
    try:
        _, differences = service.replay(stored.input, stored.decision)
        outcome: dict[str, Any] = {"identical": not differences, "differences": differences}
    except LookupError as error:
        outcome = {"identical": False, "differences": {}, "error": str(error)}
    outcome["compared"] = len(DECIDED)
    return _decision_page(request, session, stored, replay=outcome)


@router.post("/decisions/{decision_id}/review")
def review(
    request: Request,
    decision_id: str,
    csrf: Annotated[str, Form(max_length=200)] = "",
    outcome: Annotated[str, Form(max_length=20)] = "",
    limit: Annotated[str, Form(max_length=20)] = "",
    reason: Annotated[str, Form(max_length=200)] = "",
    note: Annotated[str, Form(max_length=2000)] = "",
) -> Response:
    session = _form_session(request, csrf, act=True)
    stored = _stored(request, decision_id)
    service = _service(request)

    def again(message: str) -> Response:
        return _decision_page(request, session, stored, 422, review_error=message)

    if outcome not in ("approve", "decline"):
        return again("Choose approve or decline.")
    if not reason:
        return again("Choose the override reason.")
    if len(note.strip()) < 3:
        return again("Write a note (at least 3 characters) saying what you checked.")
    amount = 0
    if outcome == "approve":
        try:
            amount = int(limit.replace(",", "").strip())
        except ValueError:
            return again("Give the approved limit as a whole amount, e.g. 20000.")
        if amount < 1:
            return again("An approval needs a limit of at least 1.")
    try:
        record_review(
            _runtime(request).database, stored, outcome, amount, note.strip(), reason,
            session.key.id, service.reasons,
        )  # fmt: skip
    except ApiProblem as problem:
        return again(problem.detail)
    return RedirectResponse(f"{PREFIX}/decisions/{decision_id}", status_code=303)


@router.get("/merchants/{merchant_id:path}")
def merchant(request: Request, merchant_id: str) -> Response:
    session = _session(request)
    if session is None:
        return _to_sign_in(request)
    history = cases.merchant_history(_runtime(request).database, merchant_id[:200])
    return _page(request, "merchant.html", session, merchant_id=merchant_id, history=history)


def _refused_handler() -> Callable[[Request, Exception], Any]:
    def handle(request: Request, error: Exception) -> HTMLResponse:
        assert isinstance(error, Refused)
        session = None
        with contextlib.suppress(sa.exc.SQLAlchemyError):  # a store that cannot be read
            session = _session(request)
        return _page(request, "refused.html", session, error.status, message=error.message)

    return handle


def install(app: FastAPI) -> None:
    """Serve the workbench and its static assets on `app`."""
    app.include_router(router)
    app.mount(f"{PREFIX}/static", StaticFiles(directory=HERE / "static"), name="workbench-static")
    app.add_exception_handler(Refused, _refused_handler())
