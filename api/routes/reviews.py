"""An officer's review: the final word on a referral, beside the decision, which never
changes."""

from __future__ import annotations

from fastapi import APIRouter

from api import store
from api.deps import DatabaseDep, Reviewer, ServiceDep, StoredDep
from api.problems import ApiProblem, problem_responses
from api.schemas import Approval, Decision, ReviewRequest

router = APIRouter(tags=["decisions"])


@router.post(
    "/v1/decisions/{decision_id}/review",
    status_code=201,
    responses=problem_responses(401, 403, 404, 409, 422, 503),
)
def review_decision(
    key: Reviewer,
    stored: StoredDep,
    body: ReviewRequest,
    database: DatabaseDep,
    service: ServiceDep,
) -> Decision:
    """An officer's final word on a referral, with an override reason from the rule set's
    list (`review.toml`); the decision itself never changes."""
    limit = body.limit if isinstance(body, Approval) else 0
    reviewed = record_review(
        database, stored, body.outcome, limit, body.note, body.reason, key.id, service.reasons
    )
    return Decision.of(reviewed)


def record_review(
    database: DatabaseDep,
    stored: store.StoredDecision,
    outcome: str,
    limit: int,
    note: str,
    reason: str | None,
    reviewer: str,
    reasons: tuple[str, ...],
) -> store.StoredDecision:
    """Store a review of a referral; ApiProblem 409 for a decision that is not a
    referral, is reviewed already or would get a limit above the engine's, 422 for a
    reason not on the rule set's list."""
    decided, decision_id = stored.decision, stored.id
    if decided["outcome"] != "refer":
        raise ApiProblem(409, f"decision {decision_id} is a {decided['outcome']}, not a referral")
    if stored.review is not None:
        raise ApiProblem(409, f"decision {decision_id} was reviewed already")
    if reason is not None and reason not in reasons:
        choices = "; ".join(reasons) or "none: the rule set has no review.toml"
        raise ApiProblem(
            422,
            f"the override reason {reason!r} is not one of the rule set's ({choices})",
            errors=[{"pointer": "#/reason", "detail": "choose one of the rule set's reasons"}],
        )
    if limit > decided["limit"]:
        raise ApiProblem(
            409,
            f"the approved limit {limit:,} is above the engine's {decided['limit']:,}; "
            "an officer may lower a limit, never raise it",
            errors=[{"pointer": "#/limit", "detail": f"at most {decided['limit']}"}],
        )
    try:
        store.save_review(database, decision_id, outcome, limit, note, reviewer, reason)
    except store.AlreadyReviewed:
        raise ApiProblem(409, f"decision {decision_id} was reviewed already") from None
    reviewed = store.get_decision(database, decision_id)
    assert reviewed is not None  # a decision is never deleted
    return reviewed
