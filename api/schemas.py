"""Request and response bodies of the API. Input rows are the data contract's records
(`underwriting.contract.tables`), so the API checks exactly what a batch checks; a
decision is the engine's (`underwriting.decision.Decision`) with what the store adds."""

from __future__ import annotations

import datetime as dt
from typing import TYPE_CHECKING, Annotated, Any, Literal

from pydantic import (
    AfterValidator,
    BaseModel,
    ConfigDict,
    Discriminator,
    Field,
    Tag,
    model_validator,
)

from underwriting.contract.tables import (
    CashflowRecord,
    Identifier,
    MerchantRecord,
    TrafficRecord,
)
from underwriting.decision import Decision as EngineDecision

if TYPE_CHECKING:  # the store's engine need not load where bodies are only validated
    from api.store import StoredDecision

MAX_DAYS = 3700  # ten years of daily rows per table
UNION_TAGS = frozenset({"lookup", "inline", "approve", "decline"})
"""Which member of a request union pydantic checked; not part of a field's path."""


class CashflowDay(CashflowRecord):
    """One day of sales; `merchant_id` may be left out (it is the profile's)."""

    merchant_id: Identifier | None = None  # type: ignore[assignment]


class TrafficDay(TrafficRecord):
    """One day of shop traffic; `merchant_id` may be left out (it is the profile's)."""

    merchant_id: Identifier | None = None  # type: ignore[assignment]


class MerchantData(BaseModel):
    """A merchant's data sent with the request: profile, daily cash flow and traffic."""

    model_config = ConfigDict(extra="forbid")

    merchant: MerchantRecord
    cashflow: Annotated[list[CashflowDay], Field(max_length=MAX_DAYS)]
    traffic: Annotated[list[TrafficDay], Field(default_factory=list, max_length=MAX_DAYS)]

    @model_validator(mode="after")
    def _rows_belong_to_the_merchant(self) -> MerchantData:
        owner = self.merchant.merchant_id
        for table, ids in (
            ("cashflow", [r.merchant_id for r in self.cashflow]),
            ("traffic", [r.merchant_id for r in self.traffic]),
        ):
            for i, merchant_id in enumerate(ids):
                if merchant_id is not None and merchant_id != owner:
                    raise ValueError(
                        f"{table}[{i}].merchant_id is {merchant_id!r}, not the profile's "
                        f"{owner!r}; send one merchant per request"
                    )
        return self


EARLIEST_AS_OF = dt.date(2000, 1, 1)
LATEST_AS_OF = dt.date(2100, 12, 31)


def _not_in_the_future(as_of: dt.date) -> dt.date:
    tomorrow = dt.date.today() + dt.timedelta(days=1)
    if as_of > tomorrow:
        raise ValueError(
            f"{as_of} is in the future; a decision uses data dated before its as-of date, so "
            f"give a date up to {tomorrow} (or leave it out for the data's last day)"
        )
    return as_of


AsOf = Annotated[
    Annotated[
        dt.date, Field(ge=EARLIEST_AS_OF, le=LATEST_AS_OF), AfterValidator(_not_in_the_future)
    ]
    | None,
    Field(
        default=None,
        description="Decision date: only data dated before it is used. When left out, the day "
        "after the last day of the data (the data source's, or the cash flow sent inline); the "
        "answer's `as_of` says which date was used",
    ),
]
RequestedAmount = Annotated[float | None, Field(default=None, gt=0, le=1e12, allow_inf_nan=False)]


class ByMerchantId(BaseModel):
    """Decide for a merchant of the data source."""

    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={"examples": [{"merchant_id": "M00000001", "as_of": "2026-10-01"}]},
    )

    merchant_id: Identifier
    as_of: AsOf = None
    requested_amount: RequestedAmount = None


class WithData(BaseModel):
    """Decide on the data sent with the request."""

    model_config = ConfigDict(extra="forbid")

    data: MerchantData
    as_of: AsOf = None
    requested_amount: RequestedAmount = None


def _source(body: Any) -> str:
    if isinstance(body, dict):
        return "inline" if "data" in body else "lookup"
    return "inline" if isinstance(body, WithData) else "lookup"


DecisionRequest = Annotated[
    Annotated[ByMerchantId, Tag("lookup")] | Annotated[WithData, Tag("inline")],
    Discriminator(_source),
]
"""Either `merchant_id` (looked up in the data source) or `data` (sent inline)."""


class Review(BaseModel):
    id: str
    outcome: Literal["approve", "decline"]
    limit: int
    note: str
    reason: str | None = None
    """The override reason, from the rule set's list (review.toml)."""
    reviewer: str
    created_at: dt.datetime


class InputProblem(BaseModel):
    table: str
    key: str
    field: str
    reason: str


class Decision(EngineDecision):
    """A stored decision: what the engine decided (`underwriting.Decision`, with which
    versions), the input's hash and its rows that failed validation, for whom and when,
    and the officer's review."""

    model_config = ConfigDict(extra="ignore")  # what an older version stored beside

    id: str
    input_sha256: str
    input_problems: list[InputProblem]
    source: str
    caller: str
    created_at: dt.datetime
    review: Review | None = None

    @classmethod
    def of(cls, stored: StoredDecision) -> Decision:
        """The answer for a decision as the store holds it."""
        return cls.model_validate(
            {
                **stored.decision,
                "id": stored.id,
                "input_sha256": stored.input_sha256,
                "source": stored.source,
                "caller": stored.caller,
                "created_at": stored.created_at,
                "review": stored.review,
            }
        )


class DecisionPage(BaseModel):
    items: list[Decision]
    next_cursor: int | None = Field(
        description="Pass as `cursor` for the next (older) page; null on the last page"
    )


Note = Annotated[
    str,
    Field(
        min_length=10,
        max_length=4000,
        pattern=r"^[^\x00]*$",
        description="Why; kept for audit (no NUL characters)",
    ),
]


OverrideReason = Annotated[
    str | None,
    Field(
        min_length=1,
        max_length=200,
        description="Why: one of the rule set's override reasons (its review.toml)",
    ),
]


class Approval(BaseModel):
    """An officer approves a referral, at most at the engine's limit."""

    model_config = ConfigDict(extra="forbid")

    outcome: Literal["approve"]
    limit: Annotated[int, Field(ge=1, le=10**12, description="Approved amount")]
    note: Note
    reason: OverrideReason = None


class Decline(BaseModel):
    """An officer declines a referral."""

    model_config = ConfigDict(extra="forbid")

    outcome: Literal["decline"]
    note: Note
    reason: OverrideReason = None


ReviewRequest = Annotated[
    Annotated[Approval, Tag("approve")] | Annotated[Decline, Tag("decline")],
    Discriminator("outcome"),
]
"""An officer's final word on a referral."""


class Replay(BaseModel):
    decision_id: str
    identical: bool
    model_version: str
    rule_set_version: str
    differences: dict[str, dict[str, Any]]
    replayed: dict[str, Any]


class ChallengerVersions(BaseModel):
    """The shadow challenger's model and rule set."""

    model_version: str
    rule_set_version: str
    model_path: str
    rule_set_path: str


class Versions(BaseModel):
    model_version: str
    rule_set_version: str
    model_path: str
    rule_set_path: str
    data_source: str
    data_fingerprint: str
    challenger: ChallengerVersions | None = None
    """The shadow challenger, when one is configured: its decisions are stored beside,
    never answered."""


class Readiness(Versions):
    """Ready: the versions and data the app serves with."""

    status: Literal["ready"]


class ShadowDecision(BaseModel):
    """The shadow challenger's decision beside a stored decision: never the answer."""

    decision_id: str
    created_at: dt.datetime
    decision: EngineDecision


class SwapCell(BaseModel):
    """Decisions with this champion outcome and this challenger outcome, with each side's
    total limit."""

    champion_outcome: Literal["approve", "refer", "decline"]
    challenger_outcome: Literal["approve", "refer", "decline"]
    decisions: int
    champion_limit: int
    challenger_limit: int


class ShadowPair(BaseModel):
    """One champion's and one challenger's versions, and how their decisions compare."""

    model_version: str
    rule_set_version: str
    challenger_model_version: str
    challenger_rule_set_version: str
    decisions: int
    same_outcome: int
    same_outcome_and_limit: int
    agreement: float | None
    """The share of decisions with the same outcome."""
    swap_set: list[SwapCell]


class ShadowQueue(BaseModel):
    """This worker's challenger since it started: decisions waiting, stored, dropped (the
    queue was full) and failed."""

    waiting: int
    stored: int
    dropped: int
    failed: int


class ShadowSummary(BaseModel):
    """Decisions made since a time, and their shadow challenger's decisions."""

    since: dt.datetime
    until: dt.datetime | None
    challenger: ChallengerVersions | None
    """The challenger configured now (None: no shadow runs)."""
    decisions: int
    with_challenger: int
    without_challenger: int
    """Decisions with no challenger's beside: made with no challenger configured, or
    dropped or lost in a restart."""
    pairs: list[ShadowPair]
    queue: ShadowQueue | None


class KeyRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    role: Literal["officer", "auditor", "admin"]
    label: Identifier


class Key(BaseModel):
    id: str
    role: str
    label: str
    created_at: dt.datetime
    revoked_at: dt.datetime | None = None


class NewKey(Key):
    secret: str = Field(description="Shown once; only its hash is stored")


class ProblemError(BaseModel):
    pointer: str = Field(description="Where in the request, e.g. #/data/cashflow/3/gross_sales")
    detail: str


class Problem(BaseModel):
    """RFC 9457 problem details."""

    type: str = "about:blank"
    title: str
    status: int
    detail: str
    instance: str | None = None
    errors: list[ProblemError] | None = None
