"""A seeded, reproducible simulator of a merchant lending book.

Every merchant has a latent health h ~ N(0, 1) that drives its sales trend, volatility,
zero-sales days, refund and chargeback rates, shop conversion and existing debt. Its
12-month default follows a known logistic process of those traits; the true PD is written
to `ground_truth.parquet` so a model's AUC can be compared with the oracle's. The owners'
self-reported demographics go to `owners.parquet` (`underwriting.simulate.owners`), for
the fair-lending screen only.

Merchants apply in quarterly cohorts (`cohorts`, the last one on `as_of`); the daily data
of a merchant cover the `days` before its own application date (from onboarding, if
later). Nothing after a merchant's application is written: the book is what a lender
knows at decision time. Merchants are generated in fixed blocks of `BLOCK` so the result
depends on the seed and the size only, and is streamed block by block to Parquet parts.
"""

from __future__ import annotations

import datetime as dt
import json
import math
from collections.abc import Callable
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np
import polars as pl

from underwriting.contract.tables import CASHFLOW, MERCHANTS, OUTCOMES, TRAFFIC
from underwriting.fairness.owners import OWNERS_FILE
from underwriting.features.compute import own_features
from underwriting.simulate.industries import CATALOGUE, REGIONS, Industry
from underwriting.simulate.industry_benchmarks import industry_benchmarks, seasonal_sales
from underwriting.simulate.owners import simulate_owners

BLOCK = 10_000
"""Merchants per generated block (and per Parquet part); fixed for reproducibility."""

INDUSTRY_WEIGHTS = np.array([14, 16, 9, 6, 4, 6, 4, 4, 10, 8, 5, 4, 5, 4, 1], dtype=float)

GROUND_TRUTH_SCHEMA = pl.Schema(
    {
        "merchant_id": pl.String(),
        "as_of": pl.Date(),
        "pd_true": pl.Float64(),
        "health": pl.Float64(),
    }
)


@dataclass(frozen=True)
class SimulationConfig:
    """What to simulate; the same config and seed always give the same files."""

    merchants: int = 10_000
    as_of: dt.date = dt.date(2026, 10, 1)
    days: int = 730
    cohorts: int = 4
    seed: int = 7
    full_history: bool = False
    """Every merchant trades the whole window and reports traffic (a worst case for sizing)."""


def _sigmoid(x: np.ndarray) -> np.ndarray:
    result: np.ndarray = 1.0 / (1.0 + np.exp(-x))
    return result


def _logit(p: float) -> float:
    return math.log(p / (1 - p))


def merchant_id(index: int) -> str:
    """The id of the index-th simulated merchant (zero-padded, so ids sort by index)."""
    return f"M{index + 1:08d}"


@dataclass(frozen=True)
class Block:
    """One block of simulated merchants, as contract tables."""

    merchants: pl.DataFrame
    cashflow: pl.DataFrame
    traffic: pl.DataFrame
    outcomes: pl.DataFrame
    ground_truth: pl.DataFrame


def simulate_block(config: SimulationConfig, block: int) -> Block:
    """Simulate merchants block*BLOCK .. min(merchants, (block+1)*BLOCK) - 1."""
    start = block * BLOCK
    n = min(BLOCK, config.merchants - start)
    rng = np.random.default_rng([config.seed, block])
    industries: list[Industry] = list(CATALOGUE)
    ind = rng.choice(len(industries), size=n, p=INDUSTRY_WEIGHTS / INDUSTRY_WEIGHTS.sum())

    def per_industry(attribute: Callable[[Industry], float]) -> np.ndarray:
        return np.array([attribute(i) for i in industries])[ind]

    median_sales = per_industry(lambda i: i.median_monthly_sales)
    ind_vol = per_industry(lambda i: i.volatility)
    ind_growth = per_industry(lambda i: i.growth)
    ind_rate = per_industry(lambda i: i.default_rate)
    ind_ticket = per_industry(lambda i: i.avg_ticket)
    online = per_industry(lambda i: i.online_share)
    seasonality = np.array([i.seasonality for i in industries])[ind]  # n x 12

    health = rng.standard_normal(n)
    cohort = rng.integers(0, config.cohorts, size=n)
    as_of = np.datetime64(config.as_of, "D") - (91 * cohort).astype("timedelta64[D]")
    young = rng.random(n) < 0.2
    tenure = np.where(
        young,
        rng.integers(30, 540, size=n),
        np.minimum(365 * 15, np.exp(rng.normal(math.log(3 * 365), 0.7, size=n))).astype(int),
    )
    if config.full_history:
        tenure = np.maximum(tenure, config.days)
    onboarded = as_of - tenure.astype("timedelta64[D]")

    level = median_sales * np.exp(0.55 * (0.35 * health + 0.94 * rng.standard_normal(n)))
    growth = ind_growth + 0.12 * health + 0.12 * rng.standard_normal(n)
    shock_sd = ind_vol * np.exp(-0.25 * health + 0.25 * rng.standard_normal(n))
    zero_prob = _sigmoid(-3.4 - 0.6 * health + 0.5 * rng.standard_normal(n))
    refund_rate = 0.02 * np.exp(-0.3 * health + 0.4 * rng.standard_normal(n))
    chargeback_rate = 0.003 * np.exp(-0.5 * health + 0.5 * rng.standard_normal(n))
    ticket = ind_ticket * np.exp(0.3 * rng.standard_normal(n))
    has_traffic = (rng.random(n) < online) | config.full_history
    conversion = np.clip(0.03 * np.exp(0.2 * health + 0.3 * rng.standard_normal(n)), 0.002, 0.5)
    conversion_slope = 0.15 * health + 0.1 * rng.standard_normal(n)
    in_debt = rng.random(n) < _sigmoid(-0.6 - 0.5 * health)
    exposure = np.where(
        in_debt, level * np.exp(rng.normal(-0.4, 0.6, size=n) - 0.3 * health), 0.0
    ).round(2)
    requested = (level * rng.uniform(0.5, 2.5, size=n) / 500).round() * 500 + 500

    # The known default process: logit-linear in the merchant's traits.
    risk = (
        _logit(0.035)
        + 0.9 * (np.log(ind_rate) - math.log(0.06))
        - 2.0 * (growth - ind_growth)
        + 1.2 * np.log(shock_sd / ind_vol)
        + 5.0 * (zero_prob - 0.04)
        + 0.4 * np.log(chargeback_rate / 0.003)
        + 0.2 * np.log(refund_rate / 0.02)
        - 0.3 * np.log(level / median_sales)
        + 0.4 * np.log1p(exposure / level)
        - 0.2 * np.log(np.maximum(tenure, 30) / 1095)
        - 0.8 * np.where(has_traffic, conversion_slope, 0.0)
        + 0.25 * rng.standard_normal(n)
    )
    pd_true = _sigmoid(risk)
    defaulted = rng.random(n) < pd_true

    # Daily paths over the `days` before each merchant's application date.
    days = config.days
    offset = np.arange(days)
    dates = (as_of - np.timedelta64(days, "D"))[:, None] + offset[None, :].astype("timedelta64[D]")
    valid = dates >= onboarded[:, None]
    month = dates.astype("datetime64[M]").astype(int) % 12
    weekday = (dates.astype(int) + 3) % 7  # 0 = Monday
    years_before = (offset - days)[None, :] / 365.0
    period = (days - 1 - offset) // 30
    shocks = rng.standard_normal((n, days // 30 + 1)) * shock_sd[:, None]
    log_mean = (
        np.log(level / 30.4)[:, None]
        + growth[:, None] * years_before
        + np.log(np.take_along_axis(seasonality, month, axis=1))
        + np.take_along_axis(shocks, np.broadcast_to(period, (n, days)), axis=1)
        + np.where(weekday >= 5, 0.12, -0.05)
    )
    noise = rng.standard_normal((n, days)) * 0.3 - 0.045
    closed = rng.random((n, days)) < zero_prob[:, None]
    sales = np.where(closed, 0.0, np.exp(log_mean + noise)).round(2)
    transactions = rng.poisson(np.maximum(sales / ticket[:, None], 0.0))
    sales = np.where(transactions == 0, 0.0, sales)
    refunds = (sales * refund_rate[:, None] * rng.exponential(1.0, (n, days))).round(2)
    has_chargeback = rng.random((n, days)) < np.minimum(1.0, chargeback_rate[:, None] * 20)
    chargebacks = np.where(has_chargeback, (sales * 0.05).round(2), 0.0)
    conversion_path = np.clip(
        conversion[:, None] * np.exp(conversion_slope[:, None] * years_before), 0.001, 0.9
    )
    visits = rng.poisson(np.maximum(transactions, 0.3) / conversion_path)
    orders = np.minimum(transactions, visits)

    ids = pl.Series("merchant_id", [merchant_id(start + i) for i in range(n)])
    rows = np.nonzero(valid)
    owner = ids.gather(rows[0])
    cashflow = pl.DataFrame(
        {
            "merchant_id": owner,
            "date": dates[rows],
            "gross_sales": sales[rows],
            "refunds": refunds[rows],
            "chargebacks": chargebacks[rows],
            "transaction_count": transactions[rows].astype(np.int64),
        },
        schema=CASHFLOW.schema,
    )
    traffic_rows = np.nonzero(valid & has_traffic[:, None])
    traffic = pl.DataFrame(
        {
            "merchant_id": ids.gather(traffic_rows[0]),
            "date": dates[traffic_rows],
            "visits": visits[traffic_rows].astype(np.int64),
            "orders": orders[traffic_rows].astype(np.int64),
        },
        schema=TRAFFIC.schema,
    )
    merchants = pl.DataFrame(
        {
            "merchant_id": ids,
            "industry_code": [industries[i].code for i in ind],
            "region": np.array(REGIONS)[rng.integers(0, len(REGIONS), size=n)],
            "onboarded_on": onboarded,
            "existing_exposure": exposure,
            "requested_amount": requested,
        },
        schema=MERCHANTS.schema,
    )
    outcomes = pl.DataFrame(
        {"merchant_id": ids, "as_of": as_of, "defaulted_12m": defaulted}, schema=OUTCOMES.schema
    )
    truth = pl.DataFrame(
        {"merchant_id": ids, "as_of": as_of, "pd_true": pd_true, "health": health},
        schema=GROUND_TRUTH_SCHEMA,
    )
    return Block(merchants, cashflow, traffic, outcomes, truth)


def industry_policy() -> pl.DataFrame:
    """The lender's per-industry policy columns of the benchmarks table."""
    return pl.DataFrame(
        {
            "industry_code": [i.code for i in CATALOGUE],
            "industry_name": [i.name for i in CATALOGUE],
            "max_limit": [float(i.max_limit) for i in CATALOGUE],
            "allowed": [i.allowed for i in CATALOGUE],
        }
    )


def _write_atomically(frame: pl.DataFrame, path: Path) -> None:
    partial = path.with_suffix(".partial")
    frame.write_parquet(partial, compression="zstd", statistics=True, row_group_size=1_000_000)
    partial.replace(path)


def simulate(
    config: SimulationConfig,
    out_dir: Path,
    progress: Callable[[int], object] | None = None,
) -> dict[str, int]:
    """Write the five contract tables plus ground truth and the owners' demographics to
    `out_dir`; returns row counts.

    Daily tables are written as one Parquet part per block under `cashflow/` and
    `traffic/`, so memory stays bounded by one block whatever the book's size.
    `progress` is called with the number of merchants finished in each block.
    """
    out_dir.mkdir(parents=True, exist_ok=True)
    (out_dir / "cashflow").mkdir(exist_ok=True)
    (out_dir / "traffic").mkdir(exist_ok=True)
    profiles, labels, truths, owners, statistics, seasonal = [], [], [], [], [], []
    counts = {"merchants": 0, "cashflow": 0, "traffic": 0}
    for block in range(math.ceil(config.merchants / BLOCK)):
        part = simulate_block(config, block)
        _write_atomically(part.cashflow, out_dir / "cashflow" / f"part-{block:05d}.parquet")
        _write_atomically(part.traffic, out_dir / "traffic" / f"part-{block:05d}.parquet")
        own = own_features(
            part.merchants.lazy(), part.cashflow.lazy(), part.traffic.lazy(), part.outcomes.lazy()
        )
        statistics.append(
            own.select(
                "merchant_id",
                "industry_code",
                "avg_monthly_sales",
                "growth_yoy",
                "sales_volatility",
            ).collect()
        )
        seasonal.append(seasonal_sales(part.cashflow.lazy(), part.merchants.lazy()).collect())
        profiles.append(part.merchants)
        labels.append(part.outcomes)
        truths.append(part.ground_truth)
        owners.append(simulate_owners(part.merchants, config.seed, block))
        counts["merchants"] += part.merchants.height
        counts["cashflow"] += part.cashflow.height
        counts["traffic"] += part.traffic.height
        if progress is not None:
            progress(part.merchants.height)
    outcomes = pl.concat(labels)
    _write_atomically(pl.concat(profiles), out_dir / "merchants.parquet")
    _write_atomically(outcomes, out_dir / "outcomes.parquet")
    _write_atomically(pl.concat(truths), out_dir / "ground_truth.parquet")
    _write_atomically(pl.concat(owners), out_dir / OWNERS_FILE)
    benchmarks = industry_benchmarks(
        pl.concat(statistics).lazy(),
        pl.concat(seasonal).lazy(),
        outcomes.lazy(),
        industry_policy().lazy(),
    )
    _write_atomically(benchmarks, out_dir / "industry_benchmarks.parquet")
    counts["industry_benchmarks"] = benchmarks.height
    counts["outcomes"] = outcomes.height
    counts["owners"] = counts["merchants"]
    manifest = {"config": {**asdict(config), "as_of": config.as_of.isoformat()}, "rows": counts}
    (out_dir / "simulation.json").write_text(json.dumps(manifest, indent=2) + "\n")
    return counts
