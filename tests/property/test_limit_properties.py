"""Invariants of the limit engine, for any merchant figures and the v1 policy."""

from __future__ import annotations

from typing import Any

import polars as pl
from hypothesis import given
from hypothesis import strategies as st

from tests.conftest import RULES_V1
from underwriting.limits import apply_limits
from underwriting.policy import load_policy

POLICY = load_policy(RULES_V1)[0]
assert POLICY.limits is not None
LIMITS = POLICY.limits
GRADES = [b.grade for b in POLICY.master_scale]

money = st.floats(0, 2_000_000, allow_nan=False)


@st.composite
def applicants(draw: st.DrawFn) -> dict[str, Any]:
    return {
        "avg_monthly_sales": draw(money),
        "sales_90d": draw(money),
        "existing_exposure": draw(st.one_of(st.just(0.0), money)),
        "industry_max_limit": draw(st.sampled_from([0.0, 30_000.0, 150_000.0, 1e9])),
        "grade": draw(st.sampled_from(GRADES)),
        "pd_12m": draw(st.floats(0.0001, 0.9999)),
        "rule_cap": draw(st.one_of(st.none(), money)),
    }


def limit_of(rows: list[dict[str, Any]]) -> list[int]:
    frame = pl.DataFrame(
        rows,
        schema={
            "avg_monthly_sales": pl.Float64(),
            "sales_90d": pl.Float64(),
            "existing_exposure": pl.Float64(),
            "industry_max_limit": pl.Float64(),
            "grade": pl.String(),
            "pd_12m": pl.Float64(),
            "rule_cap": pl.Float64(),
        },
    )
    return apply_limits(frame, LIMITS).collect()["limit"].to_list()


@given(applicants())
def test_limit_respects_every_ceiling_and_the_unit(row: dict[str, Any]) -> None:
    (limit,) = limit_of([row])
    assert limit % LIMITS.loan_unit == 0
    assert 0 <= limit <= LIMITS.max_loan
    assert limit <= row["industry_max_limit"]
    if row["rule_cap"] is not None:
        assert limit <= row["rule_cap"]


@given(applicants(), st.floats(1.0, 10.0))
def test_more_sales_never_lowers_the_limit(row: dict[str, Any], factor: float) -> None:
    richer = {
        **row,
        "avg_monthly_sales": row["avg_monthly_sales"] * factor,
        "sales_90d": row["sales_90d"] * factor,
    }
    before, after = limit_of([row, richer])
    assert after >= before


@given(applicants())
def test_a_worse_grade_never_gets_a_higher_limit(row: dict[str, Any]) -> None:
    limits = limit_of([{**row, "grade": g} for g in GRADES])
    assert limits == sorted(limits, reverse=True)


def test_worse_grades_never_get_higher_multiples() -> None:
    multiples = [g.multiple for g in LIMITS.grade]
    assert multiples == sorted(multiples, reverse=True)
