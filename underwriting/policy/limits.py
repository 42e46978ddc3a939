"""The limit engine: how much to lend, as pure polars expressions.

    base sales S  = the smaller of average monthly sales and the last quarter's monthly rate
    limit         = min(multiple(grade) x S,
                        holdback(grade) x stressed daily sales x term / (1 + fee),
                        industry maximum, programme maximum, every limit cap that fired)
                    - existing exposure, rounded down to the loan unit (never below 0)

All parameters come from the rule set's policy (`[limits]`), never from code. The design
also asks for the seasonally adjusted lower-quartile month in S; the feature set does not
carry that figure yet, so S uses the two it has (both conservative) and says so here.
"""

from __future__ import annotations

from functools import lru_cache

import polars as pl

from underwriting.contract.units import DAYS_PER_MONTH
from underwriting.policy.parameters import Limits

CONSTRAINTS = ("multiple", "capacity", "industry_max", "programme_max", "rule_cap")
"""The ceilings a limit is the smallest of, in the order ties are named."""


def apply_limits(frame: pl.LazyFrame | pl.DataFrame, limits: Limits) -> pl.LazyFrame:
    """Add base_sales, each ceiling, the smallest, headroom, limit, binding_constraint,
    expected_loss and daily_repayment to a frame holding avg_monthly_sales, sales_90d,
    existing_exposure, industry_max_limit, grade, pd_12m and rule_cap (the smallest limit
    cap that fired, null when none did)."""
    query = frame.lazy()
    for stage in _stages(limits):
        query = query.with_columns(stage)
    return query


@lru_cache(maxsize=64)  # immutable; building them costs more than running them on one row
def _stages(limits: Limits) -> tuple[tuple[pl.Expr, ...], ...]:
    """`apply_limits`' columns, in the stages that compute them one after another."""
    multiples = {g.grade: g.multiple for g in limits.grade}
    holdbacks = {g.grade: g.holdback for g in limits.grade}
    base = pl.min_horizontal(
        pl.col("avg_monthly_sales"), pl.col("sales_90d") / 90 * DAYS_PER_MONTH
    ).clip(lower_bound=0.0)
    stressed_daily = pl.col("base_sales") / DAYS_PER_MONTH * limits.stress
    ceilings = {
        "multiple": pl.col("grade")
        .cast(pl.String())
        .replace_strict(multiples, return_dtype=pl.Float64())
        * pl.col("base_sales"),
        "capacity": pl.col("grade")
        .cast(pl.String())
        .replace_strict(holdbacks, return_dtype=pl.Float64())
        * stressed_daily
        * limits.term_days
        / (1 + limits.fee),
        "industry_max": pl.col("industry_max_limit").cast(pl.Float64()),
        "programme_max": pl.lit(float(limits.max_loan)),
        "rule_cap": pl.col("rule_cap").cast(pl.Float64()).clip(lower_bound=0.0),
    }
    ceiling = pl.col("ceiling")
    binding = pl.lit(None, dtype=pl.String())
    for name in reversed(CONSTRAINTS):
        binding = (
            pl.when(pl.col(f"ceiling_{name}") == ceiling).then(pl.lit(name)).otherwise(binding)
        )
    headroom = (ceiling - pl.col("existing_exposure")).clip(lower_bound=0.0)
    unit = limits.loan_unit
    # In whole currency units and integer division: polars divides a float by a constant
    # through its inverse, which can land a whole number of loan units one short
    # (49 x (1/49) < 1); this is exactly the largest multiple of the unit within the headroom.
    whole = pl.col("headroom").floor().cast(pl.Int64())
    return (
        (base.alias("base_sales"),),
        tuple(ceiling_expr.alias(f"ceiling_{name}") for name, ceiling_expr in ceilings.items()),
        (pl.min_horizontal(pl.col(f"ceiling_{name}") for name in CONSTRAINTS).alias("ceiling"),),
        (headroom.alias("headroom"), binding.alias("binding_constraint")),
        ((whole // unit * unit).alias("limit"),),
        (
            (pl.col("pd_12m") * limits.lgd * pl.col("limit")).round(2).alias("expected_loss"),
            (pl.col("limit") * (1 + limits.fee) / limits.term_days)
            .round(2)
            .alias("daily_repayment"),
        ),
    )
