"""Named Hypothesis strategies for the engine's inputs."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

import numpy as np
import polars as pl
from hypothesis import strategies as st

from underwriting.contract.tables import (
    CASHFLOW,
    INDUSTRY_BENCHMARKS,
    MERCHANTS,
    SEASONAL_INDEX_COLUMNS,
    TRAFFIC,
)
from underwriting.simulate.industries import CATALOGUE

AS_OF = dt.date(2026, 10, 1)


@dataclass(frozen=True)
class Portfolio:
    """Validated-shape input tables of a few merchants."""

    merchants: pl.DataFrame
    cashflow: pl.DataFrame
    traffic: pl.DataFrame
    benchmarks: pl.DataFrame


def benchmark_table() -> pl.DataFrame:
    """Plausible benchmarks for every catalogue industry, with real seasonal shapes."""
    rows = []
    for industry in CATALOGUE:
        rows.append(
            {
                "industry_code": industry.code,
                "industry_name": industry.name,
                "median_monthly_sales": industry.median_monthly_sales,
                "sales_q1": industry.median_monthly_sales * 0.6,
                "sales_q3": industry.median_monthly_sales * 1.5,
                "median_growth": industry.growth,
                "median_volatility": industry.volatility * 2,
                "default_rate": industry.default_rate,
                **dict(zip(SEASONAL_INDEX_COLUMNS, industry.seasonality, strict=True)),
                "risk_tier": 3,
                "max_limit": float(industry.max_limit),
                "allowed": industry.allowed,
            }
        )
    return pl.DataFrame(rows, schema=INDUSTRY_BENCHMARKS.schema)


@st.composite
def merchant_history(
    draw: st.DrawFn, merchant_id: str
) -> tuple[dict[str, object], pl.DataFrame, pl.DataFrame]:
    """One merchant: a profile and daily cash flow and traffic before AS_OF.

    Hypothesis draws the shape (history length, level, zero-day share, traffic or not);
    a drawn seed fills in the days, so examples stay small and reproducible.
    """
    days = draw(
        st.sampled_from([0, 1, 15, 29, 30, 31, 89, 90, 91, 179, 180, 181, 400, 455, 456, 600])
    )
    level = draw(st.floats(1.0, 20_000.0))
    zero_share = draw(st.sampled_from([0.0, 0.1, 0.5, 1.0]))
    with_traffic = draw(st.booleans())
    seed = draw(st.integers(0, 2**32 - 1))
    industry = draw(st.sampled_from(CATALOGUE))
    rng = np.random.default_rng(seed)
    dates = [AS_OF - dt.timedelta(days=age) for age in range(days, 0, -1)]
    # Whole currency units, so that scaling by k = m/100 stays exact in cents.
    sales = np.where(
        rng.random(days) < zero_share, 0.0, (level * rng.lognormal(0, 0.5, days)).round()
    )
    cash = pl.DataFrame(
        {
            "merchant_id": [merchant_id] * days,
            "date": dates,
            "gross_sales": sales,
            "refunds": (sales * rng.uniform(0, 0.05, days)).round(),
            "chargebacks": (sales * (rng.random(days) < 0.05) * 0.1).round(),
            "transaction_count": rng.poisson(sales / 30).astype(np.int64),
        },
        schema=CASHFLOW.schema,
    )
    traffic_days = days if with_traffic else 0
    visits = rng.poisson(200, traffic_days).astype(np.int64)
    shop = pl.DataFrame(
        {
            "merchant_id": [merchant_id] * traffic_days,
            "date": dates[:traffic_days],
            "visits": visits,
            "orders": rng.binomial(visits, 0.05).astype(np.int64),
        },
        schema=TRAFFIC.schema,
    )
    profile = {
        "merchant_id": merchant_id,
        "industry_code": industry.code,
        "region": "north",
        "onboarded_on": AS_OF - dt.timedelta(days=draw(st.integers(1, 4000))),
        "existing_exposure": draw(st.sampled_from([0.0, 5_000.0, 80_000.0])),
        "requested_amount": draw(st.sampled_from([None, 10_000.0])),
    }
    return profile, cash, shop


@st.composite
def portfolios(draw: st.DrawFn, min_size: int = 1, max_size: int = 4) -> Portfolio:
    """A handful of merchants with the catalogue's benchmarks."""
    size = draw(st.integers(min_size, max_size))
    parts = [draw(merchant_history(f"M{i:03d}")) for i in range(size)]
    return Portfolio(
        merchants=pl.DataFrame([p for p, _, _ in parts], schema=MERCHANTS.schema),
        cashflow=pl.concat([c for _, c, _ in parts]),
        traffic=pl.concat([t for _, _, t in parts]),
        benchmarks=benchmark_table(),
    )
