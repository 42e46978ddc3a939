"""Metrics against values worked out by hand."""

from __future__ import annotations

import numpy as np
import pytest

from underwriting.model.metrics import auc, discrimination, hosmer_lemeshow, ks


def test_auc_counts_ordered_pairs_and_half_ties() -> None:
    bad = np.array([True, False, True, False])
    assert auc(np.array([0.9, 0.1, 0.8, 0.2]), bad) == 1.0
    assert auc(np.array([0.1, 0.9, 0.2, 0.8]), bad) == 0.0
    # pairs (bad, good): (0.9,0.1) yes, (0.9,0.9) tie, (0.5,0.1) yes, (0.5,0.9) no -> 2.5 / 4
    assert auc(np.array([0.9, 0.1, 0.5, 0.9]), bad) == pytest.approx(0.625)


def test_ks_and_gini() -> None:
    bad = np.array([True, True, False, False])
    pd = np.array([0.9, 0.4, 0.5, 0.1])
    assert ks(pd, bad) == pytest.approx(0.5)
    result = discrimination(pd, bad)
    assert result.gini == pytest.approx(2 * result.auc - 1)
    assert result.brier == pytest.approx(np.mean((pd - bad) ** 2))


def test_hosmer_lemeshow_accepts_calibrated_pds_and_rejects_biased_ones() -> None:
    rng = np.random.default_rng(3)
    pd = rng.uniform(0.01, 0.3, 50_000)
    bad = rng.random(50_000) < pd
    assert hosmer_lemeshow(pd, bad)[1] > 0.01
    assert hosmer_lemeshow(pd * 0.5, bad)[1] < 1e-6
