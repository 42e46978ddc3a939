"""A decision's fields and types, defined once: `DECISION_SCHEMA` for frames of decisions
(what `Engine.decide_frame` returns, a re-scoring run stores) and `Decision` for one
(what `Engine.decide` returns, the API answers and stores). The API's response model,
the store's columns, replays and the portfolio report derive theirs from these two.
"""

from __future__ import annotations

import datetime as dt
import typing
from collections.abc import Mapping
from typing import Any, Literal

import polars as pl
from pydantic import BaseModel, ConfigDict

Outcome = Literal["approve", "refer", "decline"]
OUTCOMES: tuple[Outcome, ...] = typing.get_args(Outcome)
"""Best first: an outcome's position is its order (a move to a later one is a move toward
decline)."""


class Decision(BaseModel):
    """One merchant's decision: the outcome, limit, grade, PD and score, the principal
    reasons (codes and sentences), the rules that fired, and the versions that decided."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    merchant_id: str
    as_of: dt.date
    outcome: Outcome
    limit: int
    grade: str
    model_grade: str
    pd_12m: float
    score: int
    reason_codes: list[str]
    reasons: list[str]
    rules_fired: list[str]
    binding_constraint: str | None
    expected_loss: float
    daily_repayment: float
    model_version: str
    rule_set_version: str

    @classmethod
    def from_row(cls, row: Mapping[str, Any]) -> Decision:
        """The decision in one row of a frame of `DECISION_SCHEMA`."""
        return cls.model_validate(row)


GRADE = pl.Enum
"""A grade column: an Enum of the rule set's master-scale grades, best first."""

DECISION_SCHEMA: Mapping[str, pl.DataType | type[pl.DataType]] = {
    "merchant_id": pl.String(),
    "as_of": pl.Date(),
    "outcome": pl.Enum(OUTCOMES),
    "limit": pl.Int64(),
    "grade": GRADE,
    "model_grade": GRADE,
    "pd_12m": pl.Float64(),
    "score": pl.Int64(),
    "reason_codes": pl.List(pl.String()),
    "reasons": pl.List(pl.String()),
    "rules_fired": pl.List(pl.String()),
    "binding_constraint": pl.String(),
    "expected_loss": pl.Float64(),
    "daily_repayment": pl.Float64(),
    "model_version": pl.String(),
    "rule_set_version": pl.String(),
}
"""The columns of a frame of decisions, in order. `reasons` (the sentences) is there only
when asked for: portfolio runs keep the codes, whose sentences follow from the model and
rule set of the recorded versions."""

CODES_ONLY = tuple(name for name in DECISION_SCHEMA if name != "reasons")
"""The columns of a frame of decisions with the reasons as codes only."""

DECIDED = tuple(
    name
    for name in DECISION_SCHEMA
    if name not in {"merchant_id", "as_of", "model_version", "rule_set_version"}
)
"""What the engine decided (every field but whom, as of when, and with which versions):
what a replay compares."""


def decision_fields(*names: str) -> tuple[str, ...]:
    """`names`, each checked to be a field of a decision (a KeyError names one that is not)."""
    for name in names:
        if name not in DECISION_SCHEMA:
            raise KeyError(f"{name!r} is not a field of a decision; see DECISION_SCHEMA")
    return names


def conforms(schema: Mapping[str, pl.DataType], *, words: bool = True) -> bool:
    """Whether a frame's schema is a frame of decisions' (with or without the sentences)."""
    expected = DECISION_SCHEMA if words else {n: DECISION_SCHEMA[n] for n in CODES_ONLY}
    return list(schema) == list(expected) and all(
        schema[name] == dtype for name, dtype in expected.items()
    )
