"""The feature pipeline: one lazy polars query from validated input tables to one row of
features per merchant and as-of date.

Only data dated strictly before the as-of date T is used. A "30-day period" w (w = 0 the
most recent) covers days T-30(w+1) .. T-30w-1; a period counts as observed when the
merchant's history reaches back over all of it. Undefined ratios (no history, zero
denominators) are null, never NaN or infinity; see `registry.FEATURES` for every name.
"""

from __future__ import annotations

import datetime as dt
import operator
from collections.abc import Iterable
from functools import cache, reduce

import polars as pl

from underwriting.contract.tables import SEASONAL_INDEX_COLUMNS, AsOf
from underwriting.contract.units import DAYS_PER_MONTH
from underwriting.features.registry import KEY_COLUMNS, feature_schema

PERIODS = 12  # 30-day periods in the "last 12 months" statistics

_AGE = "__age_days"
_SALES = pl.col("gross_sales")


def _applications(merchants: pl.LazyFrame, as_of: AsOf) -> pl.LazyFrame:
    """One row per (merchant, as-of date) to compute features for."""
    if isinstance(as_of, dt.date):
        return merchants.with_columns(pl.lit(as_of, dtype=pl.Date()).alias("as_of"))
    pairs = as_of.lazy().select(
        pl.col("merchant_id").cast(pl.String()), pl.col("as_of").cast(pl.Date())
    )
    return merchants.join(pairs.unique(), on="merchant_id", how="inner")


def _dated_rows(daily: pl.LazyFrame, keys: pl.LazyFrame, as_of: AsOf) -> pl.LazyFrame:
    """Daily rows with their as-of date and age in days; rows on or after it are dropped."""
    if isinstance(as_of, dt.date):
        dated = daily.filter(pl.col("date") < as_of).with_columns(
            pl.lit(as_of, dtype=pl.Date()).alias("as_of")
        )
    else:
        dated = daily.join(keys, on="merchant_id", how="inner").filter(
            pl.col("date") < pl.col("as_of")
        )
    return dated.with_columns((pl.col("as_of") - pl.col("date")).dt.total_days().alias(_AGE))


def _period(w: int) -> str:
    return f"__period_{w}"


# Age buckets of the first aggregation stage: the twelve 30-day periods (0-11), then
# ages 361-365 (12), 366-455 (13, the quarter a year back) and older (14).
_BUCKET = "__bucket"
_AGE_BUCKET = (
    pl.when(pl.col(_AGE) <= 30 * PERIODS)
    .then((pl.col(_AGE) - 1) // 30)
    .when(pl.col(_AGE) <= 365)
    .then(12)
    .when(pl.col(_AGE) <= 455)
    .then(13)
    .otherwise(14)
    .cast(pl.Int8())
)


def _cents(money: pl.Expr) -> pl.Expr:
    """Sum of amounts in whole cents: exact, so the order of rows never changes a total."""
    return (money * 100).round().cast(pl.Int64()).sum()


# Expressions are immutable, so the builders below that take no data are cached
# (@cache): building them costs more than planning or running them on one merchant's rows.


@cache
def _cashflow_bucket_sums() -> tuple[tuple[pl.Expr, ...], tuple[pl.Expr, ...]]:
    """The first cash-flow stage's keys (besides merchant and as-of date) and sums."""
    keys = (_AGE_BUCKET.alias(_BUCKET), pl.col("date").dt.month().alias("__month"))
    return keys, (
        _cents(_SALES).alias("sales"),
        _cents(pl.col("refunds")).alias("refunds"),
        _cents(pl.col("chargebacks")).alias("chargebacks"),
        pl.col("transaction_count").sum().alias("transactions"),
        (_SALES > 0).sum().alias("selling_days"),
        pl.col(_AGE).max().alias("oldest"),
        pl.len().alias("records"),
    )


@cache
def _cashflow_merchant_sums() -> tuple[tuple[pl.Expr, ...], pl.Expr]:
    """The second cash-flow stage's sums per merchant, and its money columns in units."""
    bucket = pl.col(_BUCKET)
    sales = pl.col("sales")

    def in_buckets(value: pl.Expr, first: int, last: int) -> pl.Expr:
        return value.filter(bucket.is_between(first, last)).sum()

    aggregates = [
        pl.col("oldest").max().alias("__history"),
        pl.col("records").sum().alias("cashflow_days"),
        in_buckets(sales, 0, 0).alias("sales_30d"),
        in_buckets(sales, 0, 2).alias("sales_90d"),
        in_buckets(sales, 3, 5).alias("__sales_prev_90d"),
        in_buckets(sales, 13, 13).alias("__sales_yago_90d"),
        in_buckets(sales, 0, 12).alias("sales_365d"),
        in_buckets(pl.col("refunds"), 0, 12).alias("__refunds_365d"),
        in_buckets(pl.col("chargebacks"), 0, 12).alias("__chargebacks_365d"),
        in_buckets(pl.col("transactions"), 0, 12).alias("__transactions_365d"),
        in_buckets(pl.col("selling_days"), 0, 12).alias("__selling_days_365d"),
        bucket.filter(bucket < PERIODS).n_unique().alias("months_with_data"),
    ]
    aggregates += [in_buckets(sales, w, w).alias(_period(w)) for w in range(PERIODS)]
    month = pl.col("__month")
    for m in range(1, 13):
        aggregates.append(sales.filter((bucket <= 2) & (month == m)).sum().alias(f"__recent_m{m}"))
        aggregates.append(
            sales.filter(bucket.is_between(3, 5) & (month == m)).sum().alias(f"__prior_m{m}")
        )
    money = [
        "sales_30d",
        "sales_90d",
        "__sales_prev_90d",
        "__sales_yago_90d",
        "sales_365d",
        "__refunds_365d",
        "__chargebacks_365d",
        *(_period(w) for w in range(PERIODS)),
        *(f"__{span}_m{m}" for span in ("recent", "prior") for m in range(1, 13)),
    ]
    # times 0.01, not divided by 100: polars divides a chunk of many rows by a constant
    # as a multiplication by its inverse but a one-row chunk exactly, so only a
    # multiplication gives a merchant the same figure alone as in a batch
    return tuple(aggregates), pl.col(money).cast(pl.Float64()) * 0.01


def _cashflow_aggregates(rows: pl.LazyFrame) -> pl.LazyFrame:
    """Two stages: sums per (merchant, as-of, age bucket, calendar month), then per merchant.

    The first stage reads every daily row once; the second works on a few dozen rows per
    merchant, so the many windowed sums cost little. Money is summed in whole cents.
    """
    keys, sums = _cashflow_bucket_sums()
    aggregates, in_units = _cashflow_merchant_sums()
    buckets = rows.group_by(*KEY_COLUMNS, *keys).agg(*sums)
    return buckets.group_by(KEY_COLUMNS).agg(*aggregates).with_columns(in_units)


@cache
def _traffic_sums() -> tuple[pl.Expr, tuple[pl.Expr, ...], tuple[pl.Expr, ...]]:
    """The traffic stages' period key, sums per period and sums per merchant."""
    period = pl.min_horizontal((pl.col(_AGE) - 1) // 30, pl.lit(6)).alias(_BUCKET)
    per_period = (pl.col("visits").sum(), pl.col("orders").sum(), pl.len().alias("records"))
    bucket = pl.col(_BUCKET)

    def in_periods(value: str, first: int, last: int) -> pl.Expr:
        return pl.col(value).filter(bucket.is_between(first, last)).sum()

    return (
        period,
        per_period,
        (
            in_periods("visits", 0, 0).alias("visits_30d"),
            in_periods("visits", 0, 2).alias("__visits_90d"),
            in_periods("visits", 3, 5).alias("__visits_prev_90d"),
            in_periods("orders", 0, 2).alias("__orders_90d"),
            in_periods("orders", 3, 5).alias("__orders_prev_90d"),
            in_periods("records", 0, 2).alias("__traffic_days_90d"),
            in_periods("records", 3, 5).alias("__traffic_days_prev_90d"),
            pl.col("records").sum().alias("traffic_days"),
        ),
    )


def _traffic_aggregates(rows: pl.LazyFrame) -> pl.LazyFrame:
    """Two stages, as for cash flow: per 30-day period (older ones pooled), then per merchant."""
    period, per_period, per_merchant = _traffic_sums()
    periods = rows.group_by(*KEY_COLUMNS, period).agg(*per_period)
    return periods.group_by(KEY_COLUMNS).agg(*per_merchant)


def _ratio(numerator: pl.Expr, denominator: pl.Expr) -> pl.Expr:
    """numerator / denominator, null when the denominator is not positive."""
    return pl.when(denominator > 0).then(numerator / denominator)


def _growth(recent: pl.Expr, earlier: pl.Expr, history_needed: int) -> pl.Expr:
    return pl.when(pl.col("__history") >= history_needed).then(_ratio(recent, earlier) - 1)


def _sum_in_order(terms: Iterable[pl.Expr]) -> pl.Expr:
    """Row-wise sum of float terms, added left to right (nulls count as zero).

    Not `pl.sum_horizontal`: it may add a row's terms in an order that depends on thread
    scheduling, so a merchant's figure could differ in its last bit from call to call.
    """
    return reduce(operator.add, (term.fill_null(0.0) for term in terms))


_OBSERVED = "__observed_periods"
_MEAN = "__mean_period_sales"


def _observed(w: int) -> pl.Expr:
    return pl.col("__history") >= 30 * (w + 1)


@cache
def _period_count_and_mean() -> tuple[pl.Expr, ...]:
    """How many 30-day periods are observed and their mean sales (the volatility's inputs)."""
    n = pl.sum_horizontal(_observed(w).cast(pl.Int64()) for w in range(PERIODS))
    total = _sum_in_order(
        pl.when(_observed(w)).then(pl.col(_period(w))).otherwise(0.0) for w in range(PERIODS)
    )
    return n.alias(_OBSERVED), (total / n).alias(_MEAN)


@cache
def _period_statistics() -> tuple[pl.Expr, ...]:
    """Volatility and largest drop over the observed 30-day periods.

    Needs the columns of `_period_count_and_mean` from an earlier stage: as columns, not
    repeated inside each term, they keep the expressions small (planning a one-merchant
    decision costs what the expressions weigh, not what the rows do).
    """
    n, mean = pl.col(_OBSERVED), pl.col(_MEAN)
    periods = [pl.col(_period(w)) for w in range(PERIODS)]
    squares = _sum_in_order(
        pl.when(_observed(w)).then((p - mean) ** 2).otherwise(0.0) for w, p in enumerate(periods)
    )
    volatility = pl.when((n >= 3) & (mean > 0)).then((squares / (n - 1)).sqrt() / mean)
    drops = [
        pl.when(_observed(w + 1) & (periods[w + 1] > 0)).then(1 - periods[w] / periods[w + 1])
        for w in range(PERIODS - 1)
    ]
    largest = pl.max_horizontal(drops)
    max_drop = pl.when(n >= 2).then(pl.max_horizontal(largest.fill_null(0.0), pl.lit(0.0)))
    return volatility.alias("sales_volatility"), max_drop.alias("max_monthly_drop")


@cache
def _seasonally_adjusted(prefix: str) -> pl.Expr:
    return _sum_in_order(
        pl.col(f"{prefix}{m}") / pl.col(SEASONAL_INDEX_COLUMNS[m - 1]) for m in range(1, 13)
    )


@cache
def _industry_percentile() -> pl.Expr:
    """Sales position in the industry, linear between 0, the quartiles and the median."""
    x = pl.col("avg_monthly_sales")
    q1, med, q3 = pl.col("sales_q1"), pl.col("median_monthly_sales"), pl.col("sales_q3")
    return (
        pl.when(x <= q1)
        .then(0.25 * _ratio(x, q1).fill_null(1.0))
        .when(x <= med)
        .then(0.25 + 0.25 * _ratio(x - q1, med - q1).fill_null(1.0))
        .when(x <= q3)
        .then(0.5 + 0.25 * _ratio(x - med, q3 - med).fill_null(1.0))
        .otherwise(1.0 - 0.25 * q3 / x)
    )


def own_features(
    merchants: pl.LazyFrame,
    cashflow: pl.LazyFrame,
    traffic: pl.LazyFrame,
    as_of: AsOf,
) -> pl.LazyFrame:
    """The features that need no industry benchmark, per merchant and as-of date.

    A merchant with no sales history still gets a row: zero sales, zero days of history
    and null ratios. A merchant without traffic data gets `has_traffic = false` and null
    traffic features. Internal columns (prefixed "__") carry the seasonal sums on to
    `build_features`; industry benchmarks are computed from this frame too.
    """
    applications = _applications(merchants, as_of)
    keys = applications.select(KEY_COLUMNS)
    cash = _cashflow_aggregates(_dated_rows(cashflow, keys, as_of))
    shop = _traffic_aggregates(_dated_rows(traffic, keys, as_of))
    own = applications.join(cash, on=KEY_COLUMNS, how="left").join(shop, on=KEY_COLUMNS, how="left")
    for stage in _own_stages():
        own = own.with_columns(stage)
    return own


@cache
def _own_stages() -> tuple[tuple[pl.Expr, ...], ...]:
    """`own_features`' columns, in the stages that compute them one after another."""
    history = pl.col("__history").fill_null(0)
    span = pl.min_horizontal(history, pl.lit(365))
    has_traffic = pl.col("__traffic_days_90d").fill_null(0) > 0
    conversion = _ratio(pl.col("__orders_90d"), pl.col("__visits_90d"))
    prior_conversion = _ratio(pl.col("__orders_prev_90d"), pl.col("__visits_prev_90d"))
    filled = (
        history.alias("__history"),
        pl.col("sales_30d", "sales_90d", "sales_365d").fill_null(0.0),
        pl.col("months_with_data", "cashflow_days", "traffic_days").fill_null(0).cast(pl.Int64()),
    )
    own = (
        pl.when(span > 0)
        .then(pl.col("sales_365d") / span * DAYS_PER_MONTH)
        .otherwise(0.0)
        .alias("avg_monthly_sales"),
        pl.when(span > 0)
        .then(1 - pl.col("__selling_days_365d").fill_null(0) / span)
        .alias("zero_sales_share"),
        *_period_statistics(),
        (pl.col("as_of") - pl.col("onboarded_on")).dt.total_days().alias("tenure_days"),
        _growth(pl.col("sales_90d"), pl.col("__sales_yago_90d"), 455).alias("growth_yoy"),
        _growth(pl.col("sales_90d"), pl.col("__sales_prev_90d"), 180).alias("growth_qoq"),
        _ratio(pl.col("__refunds_365d"), pl.col("sales_365d")).alias("refund_ratio"),
        _ratio(pl.col("__chargebacks_365d"), pl.col("sales_365d")).alias("chargeback_ratio"),
        _ratio(pl.col("sales_365d"), pl.col("__transactions_365d")).alias("avg_ticket"),
        has_traffic.alias("has_traffic"),
        pl.when(has_traffic).then(pl.col("visits_30d")).alias("visits_30d"),
        pl.when(has_traffic & (pl.col("__traffic_days_prev_90d") > 0))
        .then(_ratio(pl.col("__visits_90d"), pl.col("__visits_prev_90d")) - 1)
        .alias("visit_trend"),
        pl.when(has_traffic).then(conversion).alias("conversion_rate"),
        pl.when(has_traffic).then(conversion - prior_conversion).alias("conversion_trend"),
        history.alias("days_of_history"),
    )
    exposure = (
        _ratio(pl.col("existing_exposure"), pl.col("avg_monthly_sales")).alias(
            "exposure_to_monthly_sales"
        ),
        _ratio(pl.col("requested_amount"), pl.col("avg_monthly_sales")).alias(
            "requested_to_monthly_sales"
        ),
    )
    return filled, _period_count_and_mean(), own, exposure


def against_industry(own: pl.LazyFrame, benchmarks: pl.LazyFrame) -> pl.LazyFrame:
    """Add the features that compare a merchant with its industry's benchmarks."""
    joined = own.join(benchmarks, on="industry_code", how="left")
    return joined.with_columns(*_industry_columns())


@cache
def _industry_columns() -> tuple[pl.Expr, ...]:
    sales = pl.col("avg_monthly_sales")
    return (
        (pl.max_horizontal(sales, pl.lit(1.0)) / pl.col("median_monthly_sales"))
        .log()
        .alias("sales_vs_industry"),
        _industry_percentile().alias("sales_industry_percentile"),
        _growth(_seasonally_adjusted("__recent_m"), _seasonally_adjusted("__prior_m"), 180).alias(
            "seasonal_adj_trend"
        ),
        pl.col("default_rate").alias("industry_default_rate"),
        pl.col("risk_tier").alias("industry_risk_tier"),
        pl.col("allowed").alias("industry_allowed"),
        pl.col("median_monthly_sales").alias("industry_median_monthly_sales"),
        pl.col("median_growth").alias("industry_median_growth"),
        pl.col("median_volatility").alias("industry_median_volatility"),
        pl.col("max_limit").alias("industry_max_limit"),
        (pl.col("growth_yoy") - pl.col("median_growth")).alias("growth_vs_industry"),
        _ratio(pl.col("sales_volatility"), pl.col("median_volatility")).alias(
            "volatility_vs_industry"
        ),
    )


def build_features(
    merchants: pl.LazyFrame,
    cashflow: pl.LazyFrame,
    traffic: pl.LazyFrame,
    benchmarks: pl.LazyFrame,
    as_of: AsOf,
) -> pl.LazyFrame:
    """Every registered feature of every merchant as of its as-of date(s).

    Inputs are validated tables (`underwriting.contract.validation`); the result has the
    columns of `registry.feature_schema()`, one row per (merchant_id, as_of).
    """
    features = against_industry(own_features(merchants, cashflow, traffic, as_of), benchmarks)
    return features.select(*_registered_columns()).sort(KEY_COLUMNS)


@cache
def _registered_columns() -> tuple[pl.Expr, ...]:
    return tuple(pl.col(name).cast(dtype) for name, dtype in feature_schema().items())


__all__ = ["against_industry", "build_features", "own_features"]
