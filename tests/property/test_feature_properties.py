"""Properties of the feature pipeline that must hold for every portfolio."""

from __future__ import annotations

import datetime as dt
import math

import polars as pl
from hypothesis import given
from hypothesis import strategies as st

from tests.strategies import AS_OF, Portfolio, portfolios
from underwriting.features.compute import build_features
from underwriting.features.registry import FEATURES

SALES_SCALED = [f.name for f in FEATURES if f.scaling == "sales"]
INVARIANT = [f.name for f in FEATURES if f.scaling == "invariant"]


def features_of(p: Portfolio, as_of: dt.date = AS_OF) -> pl.DataFrame:
    return (
        build_features(
            p.merchants.lazy(), p.cashflow.lazy(), p.traffic.lazy(), p.benchmarks.lazy(), as_of
        )
        .collect()
        .sort("merchant_id")
    )


def close(a: object, b: object, rel: float = 1e-6) -> bool:
    if a is None or b is None:
        return a is b
    if isinstance(a, float) and isinstance(b, float):
        return math.isclose(a, b, rel_tol=rel, abs_tol=1e-9)
    return a == b


@given(portfolios(), st.integers(1, 1000).map(lambda m: m / 100))
def test_scaling_sales_scales_levels_and_keeps_ratios(p: Portfolio, k: float) -> None:
    money = ["gross_sales", "refunds", "chargebacks"]
    scaled = Portfolio(
        p.merchants,
        p.cashflow.with_columns(pl.col(money) * k),
        p.traffic,
        p.benchmarks,
    )
    # Amounts are whole units and k a whole number of hundredths: the scaled cents are exact.
    before, after = features_of(p), features_of(scaled)
    for row_a, row_b in zip(before.iter_rows(named=True), after.iter_rows(named=True), strict=True):
        for name in SALES_SCALED:
            expected = None if row_a[name] is None else row_a[name] * k
            assert close(expected, row_b[name], rel=1e-9), (name, row_a[name], row_b[name], k)
        for name in INVARIANT:
            assert close(row_a[name], row_b[name], rel=1e-9), (name, row_a[name], row_b[name], k)


@given(portfolios(), st.integers(0, 400), st.floats(0.0, 1e6))
def test_data_after_the_as_of_date_changes_nothing(
    p: Portfolio, extra_days: int, amount: float
) -> None:
    later = [AS_OF + dt.timedelta(days=d) for d in range(extra_days + 1)]
    future = pl.DataFrame(
        {
            "merchant_id": [m for m in p.merchants["merchant_id"] for _ in later],
            "date": later * p.merchants.height,
            "gross_sales": amount,
            "refunds": amount / 10,
            "chargebacks": amount / 5,
            "transaction_count": 7,
        },
        schema=p.cashflow.schema,
    )
    visits = future.select(
        "merchant_id", "date", pl.lit(999).alias("visits"), pl.lit(99).alias("orders")
    )
    with_future = Portfolio(
        p.merchants,
        pl.concat([p.cashflow, future]),
        pl.concat([p.traffic, visits.cast(p.traffic.schema)]),
        p.benchmarks,
    )
    assert features_of(with_future).equals(features_of(p))


@given(portfolios(), st.randoms(use_true_random=False))
def test_shuffling_rows_changes_nothing(p: Portfolio, rnd: object) -> None:
    seed = rnd.randint(0, 2**31)  # type: ignore[attr-defined]
    shuffled = Portfolio(
        p.merchants.sample(fraction=1.0, shuffle=True, seed=seed),
        p.cashflow.sample(fraction=1.0, shuffle=True, seed=seed),
        p.traffic.sample(fraction=1.0, shuffle=True, seed=seed),
        p.benchmarks.sample(fraction=1.0, shuffle=True, seed=seed),
    )
    assert features_of(shuffled).equals(features_of(p))


@given(portfolios(min_size=2, max_size=4))
def test_a_merchants_features_do_not_depend_on_other_merchants(p: Portfolio) -> None:
    together = features_of(p)
    for merchant in p.merchants["merchant_id"]:
        mine = pl.col("merchant_id") == merchant
        alone = Portfolio(
            p.merchants.filter(mine), p.cashflow.filter(mine), p.traffic.filter(mine), p.benchmarks
        )
        assert features_of(alone).equals(together.filter(mine))


@given(portfolios())
def test_no_nan_or_infinity_ever(p: Portfolio) -> None:
    frame = features_of(p)
    floats = [n for n, t in frame.schema.items() if t == pl.Float64()]
    assert not frame.select(
        pl.any_horizontal(pl.col(floats).is_nan() | pl.col(floats).is_infinite()).any()
    ).item()
