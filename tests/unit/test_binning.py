"""Monotone WoE binning on data with a known relation."""

from __future__ import annotations

import numpy as np

from underwriting.model.binning import (
    OTHER,
    BinningLimits,
    bin_categorical,
    bin_index,
    bin_numeric,
    infer_trend,
    information_value,
)


def logistic_sample(
    n: int = 20_000, slope: float = 0.8, seed: int = 0
) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    x = rng.normal(size=n)
    bad = rng.random(n) < 1 / (1 + np.exp(2.5 - slope * x))
    return x, bad


def test_bins_follow_the_trend_and_hold_a_minimum_share() -> None:
    x, bad = logistic_sample()
    x[:400] = np.nan
    bins = bin_numeric(x, bad, "ascending")
    assert all(b > a for a, b in zip(bins.woe, bins.woe[1:], strict=False))
    rates = [b / c for b, c in zip(bins.bads, bins.counts, strict=True)]
    assert rates == sorted(rates)
    assert min(bins.counts) >= 0.05 * x.size
    assert len(bins.counts) <= BinningLimits().max_bins
    assert sum(bins.counts) + bins.missing_count == x.size
    assert bins.missing_count == 400
    index = bin_index(bins, np.array([np.nan, -10.0, 10.0]))
    assert index.tolist() == [len(bins.counts), 0, len(bins.counts) - 1]


def test_a_direction_the_data_contradicts_leaves_one_flat_bin() -> None:
    x, bad = logistic_sample()
    bins = bin_numeric(x, bad, "descending")
    assert len(bins.counts) == 1
    assert information_value(bins.bads, bins.counts) < 1e-6


def test_trend_is_inferred_from_the_data() -> None:
    x, bad = logistic_sample()
    assert infer_trend(x, bad) == "ascending"
    assert infer_trend(-x, bad) == "descending"


def test_rare_categories_pool_in_other() -> None:
    rng = np.random.default_rng(1)
    labels = rng.choice(
        ["grocery", "hotel", "florist", "betting"], p=[0.6, 0.3, 0.095, 0.005], size=10_000
    )
    bad = rng.random(10_000) < np.where(labels == "hotel", 0.15, 0.05)
    bins = bin_categorical(labels.tolist(), bad)
    assert bins.categories[-1] == OTHER
    assert "betting" not in bins.categories
    assert bins.counts[-1] == (labels == "betting").sum()
    woe = dict(zip(bins.categories, bins.woe, strict=True))
    assert woe["hotel"] > woe["grocery"]
