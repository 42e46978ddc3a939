"""The population stability index and its bands."""

from __future__ import annotations

import numpy as np
import pytest

from underwriting.model.drift import baseline_bands, psi, shares_in, stability


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
