"""Discrimination and calibration measures of a PD model, as pure functions on arrays."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True)
class Discrimination:
    """How well PDs separate defaulters from the rest, and how accurate they are."""

    rows: int
    bads: int
    auc: float
    gini: float
    ks: float
    brier: float


def auc(pd_12m: np.ndarray, bad: np.ndarray) -> float:
    """Area under the ROC curve (Mann-Whitney, ties counted half)."""
    bad = np.asarray(bad, dtype=bool)
    positives, negatives = int(bad.sum()), int((~bad).sum())
    if positives == 0 or negatives == 0:
        return float("nan")
    from scipy.stats import rankdata  # scipy.stats takes a third of a second to import

    ranks = rankdata(pd_12m)
    return float((ranks[bad].sum() - positives * (positives + 1) / 2) / (positives * negatives))


def ks(pd_12m: np.ndarray, bad: np.ndarray) -> float:
    """Kolmogorov-Smirnov: the largest gap between the PD distributions of bads and goods."""
    bad = np.asarray(bad, dtype=bool)
    if bad.all() or not bad.any():
        return float("nan")
    thresholds = np.unique(pd_12m)
    bad_cdf = np.searchsorted(np.sort(pd_12m[bad]), thresholds, side="right") / bad.sum()
    good_cdf = np.searchsorted(np.sort(pd_12m[~bad]), thresholds, side="right") / (~bad).sum()
    return float(np.max(np.abs(bad_cdf - good_cdf)))


def discrimination(pd_12m: np.ndarray, bad: np.ndarray) -> Discrimination:
    """AUC, Gini, KS and Brier score of PDs against observed defaults."""
    pd_12m = np.asarray(pd_12m, dtype=float)
    bad = np.asarray(bad, dtype=bool)
    area = auc(pd_12m, bad)
    return Discrimination(
        rows=int(bad.size),
        bads=int(bad.sum()),
        auc=area,
        gini=2 * area - 1,
        ks=ks(pd_12m, bad),
        brier=float(np.mean((pd_12m - bad) ** 2)),
    )


def hosmer_lemeshow(pd_12m: np.ndarray, bad: np.ndarray, groups: int = 10) -> tuple[float, float]:
    """Hosmer-Lemeshow statistic over PD deciles and its p-value (groups - 2 dof)."""
    order = np.argsort(pd_12m, kind="stable")
    statistic = 0.0
    for part in np.array_split(order, groups):
        if part.size == 0:
            continue
        expected = pd_12m[part].sum()
        observed = bad[part].sum()
        n = part.size
        mean = expected / n
        if 0 < mean < 1:
            statistic += (observed - expected) ** 2 / (n * mean * (1 - mean))
    from scipy.stats import chi2

    return float(statistic), float(chi2.sf(statistic, groups - 2))
