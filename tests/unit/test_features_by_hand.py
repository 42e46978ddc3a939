"""Features of small fixture merchants against values computed by hand."""

from __future__ import annotations

import datetime as dt
import math

import polars as pl
import pytest

from underwriting.contract.tables import (
    CASHFLOW,
    INDUSTRY_BENCHMARKS,
    MERCHANTS,
    SEASONAL_INDEX_COLUMNS,
    TRAFFIC,
)
from underwriting.features.compute import build_features
from underwriting.features.registry import feature_schema

T = dt.date(2025, 1, 1)


def day(age: int) -> dt.date:
    """The date `age` days before the as-of date."""
    return T - dt.timedelta(days=age)


def benchmarks(seasonal: list[float] | None = None) -> pl.DataFrame:
    row = {
        "industry_code": "5651",
        "industry_name": "Apparel stores",
        "median_monthly_sales": 3000.0,
        "sales_q1": 2000.0,
        "sales_q3": 4000.0,
        "median_growth": 0.1,
        "median_volatility": 0.2,
        "default_rate": 0.06,
        **dict(zip(SEASONAL_INDEX_COLUMNS, seasonal or [1.0] * 12, strict=True)),
        "risk_tier": 3,
        "max_limit": 70000.0,
        "allowed": True,
    }
    return pl.DataFrame([row], schema=INDUSTRY_BENCHMARKS.schema)


def merchants() -> pl.DataFrame:
    return pl.DataFrame(
        [
            ("A", "5651", "north", dt.date(2023, 1, 1), 1000.0, 5000.0),
            ("B", "5651", "south", dt.date(2024, 12, 1), 0.0, None),
            ("C", "5651", "east", dt.date(2024, 6, 1), 0.0, None),
        ],
        schema=MERCHANTS.schema,
        orient="row",
    )


def cashflow_a() -> list[tuple[str, dt.date, float, float, float, int]]:
    """500 days: 200/day in the last 30, nothing on days 31-40, 100/day before that."""
    rows = []
    for age in range(1, 501):
        sales = 200.0 if age <= 30 else 0.0 if age <= 40 else 100.0
        rows.append(("A", day(age), sales, 2.0, 1.0 if age <= 10 else 0.0, 4 if sales > 0 else 0))
    return rows


def cashflow_b() -> list[tuple[str, dt.date, float, float, float, int]]:
    """A thin file: 20 days of 50/day, no traffic."""
    return [("B", day(age), 50.0, 0.0, 0.0, 2) for age in range(1, 21)]


def traffic_a() -> list[tuple[str, dt.date, int, int]]:
    return [("A", day(age), 50, 5) for age in range(1, 181)]


@pytest.fixture(scope="module")
def features() -> dict[str, dict[str, object]]:
    cash = pl.DataFrame(cashflow_a() + cashflow_b(), schema=CASHFLOW.schema, orient="row")
    shop = pl.DataFrame(traffic_a(), schema=TRAFFIC.schema, orient="row")
    frame = build_features(
        merchants().lazy(), cash.lazy(), shop.lazy(), benchmarks().lazy(), T
    ).collect()
    assert frame.schema == feature_schema()
    return {row["merchant_id"]: row for row in frame.iter_rows(named=True)}


def test_sales_windows(features: dict[str, dict[str, object]]) -> None:
    a = features["A"]
    assert a["sales_30d"] == 6000.0
    assert a["sales_90d"] == 11000.0  # 6000 + 50 selling days x 100
    assert a["sales_365d"] == 38500.0  # 6000 + 5000 + 275 x 100
    assert a["avg_monthly_sales"] == pytest.approx(38500 / 12)
    assert a["days_of_history"] == 500
    assert a["months_with_data"] == 12
    assert a["cashflow_days"] == 500
    assert a["traffic_days"] == 180
    assert a["tenure_days"] == (T - dt.date(2023, 1, 1)).days


def test_growth_and_shape(features: dict[str, dict[str, object]]) -> None:
    a = features["A"]
    assert a["growth_qoq"] == pytest.approx(11000 / 9000 - 1)
    assert a["growth_yoy"] == pytest.approx(11000 / 9000 - 1)
    periods = [6000.0, 2000.0] + [3000.0] * 10
    mean = sum(periods) / 12
    sd = math.sqrt(sum((p - mean) ** 2 for p in periods) / 11)
    assert a["sales_volatility"] == pytest.approx(sd / mean)
    assert a["max_monthly_drop"] == pytest.approx(1 - 2000 / 3000)
    assert a["zero_sales_share"] == pytest.approx(10 / 365)


def test_ratios(features: dict[str, dict[str, object]]) -> None:
    a = features["A"]
    assert a["refund_ratio"] == pytest.approx(730 / 38500)
    assert a["chargeback_ratio"] == pytest.approx(10 / 38500)
    assert a["avg_ticket"] == pytest.approx(38500 / (355 * 4))
    assert a["exposure_to_monthly_sales"] == pytest.approx(1000 / (38500 / 12))
    assert a["requested_to_monthly_sales"] == pytest.approx(5000 / (38500 / 12))


def test_traffic(features: dict[str, dict[str, object]]) -> None:
    a = features["A"]
    assert a["has_traffic"] is True
    assert a["visits_30d"] == 1500
    assert a["visit_trend"] == pytest.approx(0.0)
    assert a["conversion_rate"] == pytest.approx(0.1)
    assert a["conversion_trend"] == pytest.approx(0.0)


def test_against_industry(features: dict[str, dict[str, object]]) -> None:
    a = features["A"]
    monthly = 38500 / 12
    assert a["sales_vs_industry"] == pytest.approx(math.log(monthly / 3000))
    assert a["sales_industry_percentile"] == pytest.approx(0.5 + 0.25 * (monthly - 3000) / 1000)
    assert a["growth_vs_industry"] == pytest.approx(11000 / 9000 - 1 - 0.1)
    assert a["volatility_vs_industry"] == pytest.approx(a["sales_volatility"] / 0.2)  # type: ignore[operator]
    assert a["seasonal_adj_trend"] == pytest.approx(11000 / 9000 - 1)
    assert a["industry_default_rate"] == 0.06
    assert a["industry_risk_tier"] == 3
    assert a["industry_allowed"] is True
    assert (a["industry_median_monthly_sales"], a["industry_median_growth"]) == (3000.0, 0.1)
    assert a["industry_median_volatility"] == 0.2


def test_thin_file_gives_defined_values(features: dict[str, dict[str, object]]) -> None:
    b = features["B"]
    assert b["days_of_history"] == 20
    assert b["cashflow_days"] == 20 and b["traffic_days"] == 0
    assert b["sales_30d"] == 1000.0
    assert b["avg_monthly_sales"] == pytest.approx(1000 / 20 * 365 / 12)
    assert b["months_with_data"] == 1
    for undefined in ("growth_yoy", "growth_qoq", "sales_volatility", "max_monthly_drop"):
        assert b[undefined] is None, undefined
    assert b["has_traffic"] is False
    assert b["visits_30d"] is None and b["conversion_rate"] is None
    assert b["requested_to_monthly_sales"] is None


def test_merchant_without_sales_records(features: dict[str, dict[str, object]]) -> None:
    c = features["C"]
    assert c["sales_365d"] == 0.0 and c["avg_monthly_sales"] == 0.0
    assert c["days_of_history"] == 0 and c["months_with_data"] == 0
    assert c["zero_sales_share"] is None
    assert c["sales_industry_percentile"] == 0.0
    assert c["sales_vs_industry"] == pytest.approx(math.log(1 / 3000))


def test_no_nan_or_infinity(features: dict[str, dict[str, object]]) -> None:
    for row in features.values():
        for name, value in row.items():
            if isinstance(value, float):
                assert math.isfinite(value), name


def test_seasonal_adjustment_removes_a_seasonal_swing() -> None:
    """Sales that follow the industry's seasonal index exactly have no adjusted trend."""
    seasonal = [0.5, 0.5, 0.5, 0.5, 0.5, 0.5, 1.0, 1.0, 1.0, 1.5, 1.5, 2.0]
    rows = [
        ("A", day(age), 100.0 * seasonal[day(age).month - 1], 0.0, 0.0, 1) for age in range(1, 400)
    ]
    cash = pl.DataFrame(rows, schema=CASHFLOW.schema, orient="row")
    frame = build_features(
        merchants().head(1).lazy(),
        cash.lazy(),
        pl.LazyFrame(schema=TRAFFIC.schema),
        benchmarks(seasonal).lazy(),
        T,
    ).collect()
    assert frame["growth_qoq"][0] > 0.3  # the raw quarter-on-quarter change is seasonal
    assert frame["seasonal_adj_trend"][0] == pytest.approx(0.0, abs=1e-9)
