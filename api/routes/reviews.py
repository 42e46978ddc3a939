"""An officer's review: the final word on a referral, beside the decision, which never
changes."""

from __future__ import annotations

from fastapi import APIRouter

from api import store
from api.deps import DatabaseDep, Reviewer, StoredDep
from api.problems import ApiProblem, problem_responses
from api.schemas import Approval, Decision, ReviewRequest

router = APIRouter(tags=["decisions"])


@router.post(
    "/v1/decisions/{decision_id}/review",
    status_code=201,
    responses=problem_responses(401, 403, 404, 409, 422),
)
def review_decision(
    key: Reviewer, stored: StoredDep, body: ReviewRequest, database: DatabaseDep
) -> Decision:
    """An officer's final word on a referral; the decision itself never changes."""
    decided, decision_id = stored.decision, stored.id
    if decided["outcome"] != "refer":
        raise ApiProblem(409, f"decision {decision_id} is a {decided['outcome']}, not a referral")
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
        store.save_review(database, decision_id, body.outcome, limit, body.note, key.id)
    except store.AlreadyReviewed:
        raise ApiProblem(409, f"decision {decision_id} was reviewed already") from None
    reviewed = store.get_decision(database, decision_id)
    assert reviewed is not None  # a decision is never deleted
    return Decision.of(reviewed)
