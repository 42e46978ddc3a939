"""Shared fixtures and the Hypothesis profiles (`ci` is derandomised for reproducible CI)."""

from __future__ import annotations

import datetime as dt
import os
from pathlib import Path

import polars as pl
import pytest
from hypothesis import HealthCheck, settings

from underwriting.io.rule_sets import load_policy
from underwriting.model.artifact import Scorecard
from underwriting.model.training import TrainingOptions, train
from underwriting.policy.parameters import Policy
from underwriting.simulate.book import SimulationConfig, simulate

RULES_V1 = Path(__file__).resolve().parents[1] / "rules" / "v1"

settings.register_profile(
    "ci",
    derandomize=True,
    deadline=None,
    print_blob=True,
    max_examples=40,
    suppress_health_check=[HealthCheck.too_slow],
)
settings.register_profile(
    "dev", deadline=None, max_examples=40, suppress_health_check=[HealthCheck.too_slow]
)
settings.load_profile("ci" if os.environ.get("CI") else os.environ.get("HYPOTHESIS_PROFILE", "dev"))

SMALL_BOOK = SimulationConfig(
    merchants=600, as_of=dt.date(2026, 10, 1), days=730, cohorts=1, seed=11
)


@pytest.fixture(scope="session")
def small_book(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A simulated book of 600 merchants with two years of daily data, as Parquet."""
    folder = tmp_path_factory.mktemp("book")
    simulate(SMALL_BOOK, folder)
    return folder


@pytest.fixture(scope="session")
def book_tables(small_book: Path) -> dict[str, pl.DataFrame]:
    """The small book's tables, read eagerly."""
    return {
        "merchants": pl.read_parquet(small_book / "merchants.parquet"),
        "cashflow": pl.read_parquet(small_book / "cashflow"),
        "traffic": pl.read_parquet(small_book / "traffic"),
        "industry_benchmarks": pl.read_parquet(small_book / "industry_benchmarks.parquet"),
        "outcomes": pl.read_parquet(small_book / "outcomes.parquet"),
    }


TRAINING_BOOK = SimulationConfig(
    merchants=5000, as_of=dt.date(2026, 10, 1), days=730, cohorts=4, seed=21
)


@pytest.fixture(scope="session")
def training_table(tmp_path_factory: pytest.TempPathFactory) -> pl.DataFrame:
    """Features as of each application date with the outcome, for 5,000 simulated merchants."""
    from underwriting.batch.feature_table import build_feature_table

    folder = tmp_path_factory.mktemp("training")
    simulate(TRAINING_BOOK, folder / "book")
    build = build_feature_table(folder / "book", "outcomes", folder / "train.parquet")
    return pl.read_parquet(build.features)


@pytest.fixture(scope="session")
def trained(training_table: pl.DataFrame) -> tuple[Scorecard, Policy]:
    """A scorecard trained on `training_table`, with the v1 policy."""
    policy, version = load_policy(RULES_V1)
    options = TrainingOptions(target="defaulted_12m", out_of_time=dt.date(2026, 10, 1))
    return train(training_table, options, policy, version, "test-fixture"), policy
