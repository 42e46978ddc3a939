"""Drift: the population stability index (PSI) of scores against a baseline, and each
model feature's characteristic stability index (CSI) against its development bins.

The baseline's scores are cut at their deciles; the PSI compares the share of scores in
each band now with the baseline's share there:

    PSI = sum over bands of (now - base) * ln(now / base)

Read with the usual bands: under 0.1 stable, 0.1 to 0.25 a shift to watch, 0.25 and over a
shift that needs action (re-check the model on recent data). Shares are floored at
`FLOOR` so an empty band does not make the index infinite. Pure functions on arrays.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

import numpy as np
import polars as pl

from underwriting.model.artifact import ModelFeature, NumericBinning, Scorecard
from underwriting.model.binning import bin_index

WATCH: float = 0.1
ACT: float = 0.25
FLOOR: float = 1e-4
Stability = Literal["stable", "watch", "act"]


@dataclass(frozen=True)
class ScoreBands:
    """A baseline's score bands: inner cut points (band i holds edges[i-1] <= score <
    edges[i]) and the baseline's share in each band."""

    edges: tuple[float, ...]
    shares: tuple[float, ...]


def baseline_bands(scores: np.ndarray, bands: int = 10) -> ScoreBands:
    """Bands at the deciles (or `bands` quantiles) of a baseline's scores; tied cut points
    merge, so integer scores may give fewer bands."""
    if scores.size == 0:
        raise ValueError("a PSI baseline needs at least one score")
    cuts = np.quantile(scores, np.linspace(0, 1, bands + 1)[1:-1], method="higher")
    edges = tuple(float(e) for e in np.unique(cuts) if e > scores.min())
    return ScoreBands(edges, shares_in(scores, edges))


def shares_in(scores: np.ndarray, edges: tuple[float, ...]) -> tuple[float, ...]:
    """The share of `scores` in each band cut by `edges`."""
    counts = np.bincount(np.searchsorted(edges, scores, side="right"), minlength=len(edges) + 1)
    return tuple(float(c) for c in counts / max(scores.size, 1))


def psi(base: tuple[float, ...], now: tuple[float, ...]) -> float:
    """Population stability index between two share vectors over the same bands."""
    if len(base) != len(now):
        raise ValueError(f"PSI needs the same bands: {len(base)} against {len(now)}")
    b = np.maximum(np.asarray(base), FLOOR)
    n = np.maximum(np.asarray(now), FLOOR)
    return float(np.sum((n - b) * np.log(n / b)))


def stability(index: float) -> Stability:
    """The usual reading of a PSI: stable (< 0.1), watch (0.1 to 0.25), act (>= 0.25)."""
    return "stable" if index < WATCH else "watch" if index < ACT else "act"


@dataclass(frozen=True)
class FeatureStability:
    """One model feature now against development: its characteristic stability index
    (the PSI over the feature's own scorecard bins, the missing bin among them) and its
    share of missing values in each."""

    feature: str
    index: float
    development_missing: float
    missing: float

    @property
    def stability(self) -> Stability:
        return stability(self.index)


def scorecard_bins(feature: ModelFeature, column: pl.Series) -> tuple[np.ndarray, np.ndarray]:
    """Each value's bin in the feature's scorecard binning, and the development counts per
    bin. A numeric feature's bins are its edges' plus the missing bin; a categorical
    feature's unknown categories fall in its last ("__other__") bin, as in scoring."""
    binning = feature.binning
    if isinstance(binning, NumericBinning):
        counts = np.array([*binning.counts, binning.missing_count], dtype=float)
        return bin_index(binning, column.cast(pl.Float64()).to_numpy()), counts
    position = {c: i for i, c in enumerate(binning.categories)}
    last = len(binning.categories) - 1
    missing = position.get("", last)  # a missing category reads as "", as in training
    texts = column.cast(pl.String()).to_list()  # as scoring reads them ("true")
    index = np.array([missing if v is None else position.get(v, last) for v in texts])
    return index, np.asarray(binning.counts, dtype=float)


def characteristic_stability(model: Scorecard, features: pl.DataFrame) -> list[FeatureStability]:
    """The CSI and missing-value rates of every model feature of `features` (a frame of
    the feature table's columns) against the development counts the artifact records per
    bin (`scorecard_bins`)."""
    found = []
    for feature in model.features:
        column = features.get_column(feature.name)
        index, counts = scorecard_bins(feature, column)
        binning = feature.binning
        development_missing = (
            binning.missing_count / max(counts.sum(), 1.0)
            if isinstance(binning, NumericBinning)
            else 0.0
        )
        now = np.bincount(index, minlength=len(counts)) / max(column.len(), 1)
        base = counts / max(counts.sum(), 1.0)
        found.append(
            FeatureStability(
                feature.name,
                psi(tuple(base), tuple(now)),
                float(development_missing),
                float(column.null_count() / max(column.len(), 1)),
            )
        )
    return found
