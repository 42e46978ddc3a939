"""Industry benchmarks computed from a lender's own book, as the contract defines them.

The same feature definitions that score a merchant summarise the book: the median and
quartiles of average monthly sales, the median year-on-year growth and volatility, the
observed 12-month default rate, and a seasonal index per calendar month (mean daily sales
per merchant in that month over the mean of the twelve months).
"""

from __future__ import annotations

import polars as pl

from underwriting.contract.tables import INDUSTRY_BENCHMARKS, SEASONAL_INDEX_COLUMNS

RISK_TIER_BOUNDS: tuple[float, ...] = (0.03, 0.05, 0.07, 0.10)
"""Default-rate upper bounds of risk tiers 1-4; higher rates are tier 5."""


def seasonal_sales(cashflow: pl.LazyFrame, merchants: pl.LazyFrame) -> pl.LazyFrame:
    """Sales (in whole cents, so totals are exact) and merchant-days per industry and
    calendar month; sums over parts of a book add up to the book's."""
    return (
        cashflow.join(merchants.select("merchant_id", "industry_code"), on="merchant_id")
        .group_by("industry_code", pl.col("date").dt.month().alias("month"))
        .agg(
            (pl.col("gross_sales") * 100).round().cast(pl.Int64()).sum().alias("sales_cents"),
            pl.len().alias("merchant_days"),
        )
    )


def seasonal_index(sales_by_month: pl.LazyFrame) -> pl.LazyFrame:
    """One row per industry with seasonal_index_01..12 (mean 1) from `seasonal_sales` sums.

    A calendar month with no data in the book gets index 1 (no seasonal adjustment).
    """
    daily = (
        sales_by_month.group_by("industry_code", "month")
        .agg((pl.col("sales_cents").sum() / pl.col("merchant_days").sum()).alias("daily"))
        .sort("industry_code", "month")
    )
    # The mean of the twelve months is summed in month order, so the index is reproducible.
    mean = pl.col("daily").sort_by("month").cumulative_eval(pl.element().mean()).last()
    daily = daily.with_columns((pl.col("daily") / mean.over("industry_code")).alias("index"))
    return daily.group_by("industry_code").agg(
        pl.col("index").filter(pl.col("month") == m).first().fill_null(1.0).alias(column)
        for m, column in enumerate(SEASONAL_INDEX_COLUMNS, start=1)
    )


def risk_tier(default_rate: pl.Expr) -> pl.Expr:
    """Risk tier 1-5 of an industry's default rate."""
    tier = pl.lit(1, dtype=pl.Int64())
    for bound in RISK_TIER_BOUNDS:
        tier = tier + (default_rate >= bound).cast(pl.Int64())
    return tier


def industry_benchmarks(
    merchant_statistics: pl.LazyFrame,
    sales_by_month: pl.LazyFrame,
    outcomes: pl.LazyFrame,
    policy: pl.LazyFrame,
) -> pl.DataFrame:
    """The industry_benchmarks table of the contract.

    `merchant_statistics` holds merchant_id, industry_code, avg_monthly_sales, growth_yoy
    and sales_volatility (from `features.own_features`); `outcomes` the book's labels;
    `policy` the lender's industry_code, industry_name, max_limit and allowed.
    """
    levels = merchant_statistics.group_by("industry_code").agg(
        pl.col("avg_monthly_sales").median().alias("median_monthly_sales"),
        pl.col("avg_monthly_sales").quantile(0.25, "linear").alias("sales_q1"),
        pl.col("avg_monthly_sales").quantile(0.75, "linear").alias("sales_q3"),
        pl.col("growth_yoy").median().fill_null(0.0).alias("median_growth"),
        pl.col("sales_volatility").median().fill_null(0.0).alias("median_volatility"),
    )
    defaults = (
        outcomes.join(
            merchant_statistics.select("merchant_id", "industry_code").unique(), on="merchant_id"
        )
        .group_by("industry_code")
        .agg(pl.col("defaulted_12m").cast(pl.Float64()).mean().alias("default_rate"))
    )
    table = (
        policy.join(levels, on="industry_code", how="inner")
        .join(defaults, on="industry_code", how="left")
        .join(seasonal_index(sales_by_month), on="industry_code", how="left")
        .with_columns(pl.col("default_rate").fill_null(0.0))
        .with_columns(risk_tier(pl.col("default_rate")).alias("risk_tier"))
    )
    schema = INDUSTRY_BENCHMARKS.schema
    return (
        table.select(pl.col(name).cast(dtype) for name, dtype in schema.items())
        .sort("industry_code")
        .collect()
    )
