"""The simulator: reproducible, realistic in shape, and honest about its ground truth."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import numpy as np
import polars as pl
import pytest

from tests.conftest import SMALL_BOOK
from underwriting.contract.tables import TABLES
from underwriting.simulate.book import SimulationConfig, simulate, simulate_block


def auc(score: np.ndarray, label: np.ndarray) -> float:
    """Mann-Whitney AUC (scores here are continuous: no ties to average)."""
    ranks = score.argsort().argsort() + 1
    positives = label.sum()
    negatives = len(label) - positives
    return float((ranks[label].sum() - positives * (positives + 1) / 2) / (positives * negatives))


def test_same_seed_same_book_and_another_seed_another() -> None:
    config = SimulationConfig(merchants=50, days=120, seed=3)
    a, b = simulate_block(config, 0), simulate_block(config, 0)
    assert a.cashflow.equals(b.cashflow) and a.merchants.equals(b.merchants)
    c = simulate_block(SimulationConfig(merchants=50, days=120, seed=4), 0)
    assert not a.cashflow.equals(c.cashflow)


def test_tables_follow_the_contract(book_tables: dict[str, pl.DataFrame]) -> None:
    for name, frame in book_tables.items():
        assert frame.schema == TABLES[name].schema, name  # type: ignore[index]


def test_no_data_on_or_after_the_application_date(book_tables: dict[str, pl.DataFrame]) -> None:
    assert book_tables["cashflow"]["date"].max() < SMALL_BOOK.as_of  # type: ignore[operator]
    days = book_tables["cashflow"].group_by("merchant_id").len()["len"]
    assert days.max() == SMALL_BOOK.days


def test_books_written_in_blocks_are_reproducible(tmp_path: Path) -> None:
    config = SimulationConfig(merchants=30, days=60, cohorts=2, seed=5)
    simulate(config, tmp_path / "a")
    simulate(config, tmp_path / "b")
    for part in (
        "merchants.parquet",
        "outcomes.parquet",
        "industry_benchmarks.parquet",
        "cashflow",
    ):
        assert pl.read_parquet(tmp_path / "a" / part).equals(pl.read_parquet(tmp_path / "b" / part))


def test_industries_have_their_own_seasons(book_tables: dict[str, pl.DataFrame]) -> None:
    bench = {
        r["industry_code"]: r for r in book_tables["industry_benchmarks"].iter_rows(named=True)
    }
    assert len(bench) >= 12
    assert bench["5651"]["seasonal_index_12"] > 1.4  # apparel: December peak
    assert bench["7011"]["seasonal_index_07"] > 1.4  # hotels: summer peak
    assert bench["7011"]["seasonal_index_01"] < 0.8
    assert 0.9 < bench["5411"]["seasonal_index_06"] < 1.1  # grocery: flat
    assert bench["7995"]["allowed"] is False
    medians = [b["median_monthly_sales"] for b in bench.values()]
    assert max(medians) > 3 * min(medians)


def test_benchmarks_are_computed_from_the_book(book_tables: dict[str, pl.DataFrame]) -> None:
    bench = book_tables["industry_benchmarks"]
    outcomes = book_tables["outcomes"].join(book_tables["merchants"], on="merchant_id")
    observed = outcomes.group_by("industry_code").agg(pl.col("defaulted_12m").mean().alias("rate"))
    joined = bench.join(observed, on="industry_code")
    assert (joined["default_rate"] - joined["rate"]).abs().max() < 1e-12  # type: ignore[operator]
    assert (bench["sales_q1"] <= bench["median_monthly_sales"]).all()
    assert (bench["median_monthly_sales"] <= bench["sales_q3"]).all()


def test_default_process_is_known_and_informative(small_book: Path) -> None:
    truth = pl.read_parquet(small_book / "ground_truth.parquet")
    outcomes = pl.read_parquet(small_book / "outcomes.parquet")
    joined = truth.join(outcomes, on=["merchant_id", "as_of"])
    rate = joined["defaulted_12m"].mean()
    assert 0.03 < rate < 0.15  # type: ignore[operator]
    assert joined["pd_true"].mean() == pytest.approx(rate, abs=0.03)
    oracle = auc(joined["pd_true"].to_numpy(), joined["defaulted_12m"].to_numpy())
    assert 0.7 < oracle < 0.9
    # Healthier merchants default less.
    assert np.corrcoef(joined["health"].to_numpy(), joined["pd_true"].to_numpy())[0, 1] < -0.5


def test_cohorts_spread_application_dates() -> None:
    block = simulate_block(SimulationConfig(merchants=400, days=60, cohorts=4), 0)
    dates = block.outcomes["as_of"].unique().sort().to_list()
    assert dates[-1] == SimulationConfig().as_of
    assert len(dates) == 4
    assert dates[0] == SimulationConfig().as_of - dt.timedelta(days=3 * 91)
    per_merchant_last = block.cashflow.group_by("merchant_id").agg(pl.col("date").max())
    joined = per_merchant_last.join(block.outcomes, on="merchant_id")
    assert (joined["date"] < joined["as_of"]).all()
