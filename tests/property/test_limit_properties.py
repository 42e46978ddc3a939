"""Invariants of the limit engine, for any merchant figures and the v1 policy."""

from __future__ import annotations

import math
from fractions import Fraction
from typing import Any

import polars as pl
from hypothesis import example, given
from hypothesis import strategies as st

from tests.conftest import RULES_V1
from underwriting.io.rule_sets import load_policy
from underwriting.policy.limits import apply_limits

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


@given(
    # 49, 98, 103, 499 and 501 are units whose inverse rounds so that k x unit x (1/unit)
    # falls just below k for many k; 500 and 1,000 are the usual ones
    unit=st.one_of(st.sampled_from([49, 98, 103, 499, 500, 501, 1000]), st.integers(1, 10_000)),
    units=st.integers(0, 400),
    off=st.sampled_from([0.0, 1e-9, -1e-9, 0.5, -0.5]),
)
@example(unit=49, units=1, off=0.0)  # 49 x (1/49) < 1
@example(unit=98, units=3, off=0.0)
@example(unit=499, units=5, off=0.0)
def test_the_limit_is_the_largest_whole_number_of_units_within_the_headroom(
    unit: int, units: int, off: float
) -> None:
    # polars divides by the unit through its inverse (49 x (1/49) < 1): exact multiples
    # of the unit, and headroom just below one, must still come out exactly.
    headroom = max(units * unit + off, 0.0)
    limits = LIMITS.model_copy(
        update={"loan_unit": unit, "min_loan": unit, "max_loan": unit * 1_000_000}
    )
    frame = pl.DataFrame(
        {
            "avg_monthly_sales": [1e12, 1e12],
            "sales_90d": [1e12, 1e12],
            "existing_exposure": [0.0, 0.0],
            "industry_max_limit": [1e12, 1e12],
            "grade": [GRADES[0], GRADES[0]],
            "pd_12m": [0.01, 0.01],
            "rule_cap": [headroom, 7.0 * unit],  # a second merchant: divided as in a batch
        }
    )
    decided = apply_limits(frame, limits).collect(engine="in-memory")  # as `decide` runs it
    assert decided["limit"][0] == unit * math.floor(Fraction(headroom) / unit)
