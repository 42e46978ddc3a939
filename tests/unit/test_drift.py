"""The population stability index and its bands."""

from __future__ import annotations

import numpy as np
import polars as pl
import pytest

from underwriting.model.artifact import NumericBinning, Scorecard
from underwriting.model.drift import (
    baseline_bands,
    characteristic_stability,
    psi,
    shares_in,
    stability,
)
from underwriting.policy.parameters import Policy


def test_the_same_population_is_stable_and_a_shifted_one_is_not() -> None:
    rng = np.random.default_rng(3)
    base = rng.normal(600, 50, 50_000).round()
    bands = baseline_bands(base)
    assert len(bands.shares) == 10 and sum(bands.shares) == pytest.approx(1.0)
    assert max(bands.shares) - min(bands.shares) < 0.02  # deciles hold a tenth each
    same = psi(bands.shares, shares_in(rng.normal(600, 50, 50_000).round(), bands.edges))
    assert same < 0.01 and stability(same) == "stable"
    moved = psi(bands.shares, shares_in(rng.normal(620, 50, 50_000).round(), bands.edges))
    far = psi(bands.shares, shares_in(rng.normal(680, 50, 50_000).round(), bands.edges))
    assert 0.1 <= moved < 0.25 and stability(moved) == "watch"
    assert far >= 0.25 and stability(far) == "act"


def test_psi_by_hand_and_an_empty_band_stays_finite() -> None:
    base, now = (0.5, 0.5), (0.25, 0.75)
    expected = (0.25 - 0.5) * np.log(0.25 / 0.5) + (0.75 - 0.5) * np.log(0.75 / 0.5)
    assert psi(base, now) == pytest.approx(expected)
    assert np.isfinite(psi(base, (1.0, 0.0)))
    with pytest.raises(ValueError, match="same bands"):
        psi(base, (1.0,))


def test_tied_scores_merge_their_bands() -> None:
    bands = baseline_bands(np.array([500.0] * 90 + [600.0] * 10))
    assert bands.edges == (600.0,) and bands.shares == (0.9, 0.1)
    assert shares_in(np.array([450.0, 600.0, 700.0, 599.0]), bands.edges) == (0.5, 0.5)


def test_characteristic_stability_against_the_development_bins(
    training_table: pl.DataFrame, trained: tuple[Scorecard, Policy]
) -> None:
    model = trained[0]
    names = [f.name for f in model.features]
    same = {s.feature: s for s in characteristic_stability(model, training_table)}
    assert list(same) == names
    for found in same.values():  # the table the model was developed on: stable
        assert found.stability == "stable", found
        assert abs(found.missing - found.development_missing) < 0.05
    numeric = next(f.name for f in model.features if isinstance(f.binning, NumericBinning))
    shifted = training_table.with_columns(pl.col(numeric) * 5 + 1)
    moved = {s.feature: s for s in characteristic_stability(model, shifted)}
    assert moved[numeric].stability == "act"
    assert all(moved[n].index == same[n].index for n in names if n != numeric)
    blanked = training_table.with_columns(pl.lit(None, dtype=pl.Float64).alias(numeric))
    gone = {s.feature: s for s in characteristic_stability(model, blanked)}[numeric]
    assert gone.missing == 1.0 and gone.stability == "act"
