"""Monotone weight-of-evidence binning, as small pure functions on arrays.

WoE of a bin = ln(share of all bads in the bin / share of all goods in the bin), with half
a count added to each side so an empty side never gives infinity. A higher WoE is riskier.
A numeric feature's bins are merged until the bad rate moves in one direction only (pool
adjacent violators), then until every bin holds a minimum share of the sample; missing
values get a bin of their own. After smoothing, the stored WoE itself is made strictly
monotone in the bin's direction (neighbours whose smoothed WoE do not move that way are
merged), so points never reverse where neighbouring bad rates are close. A categorical
feature gets a bin per frequent category and one for the rest ("other"), which also takes
categories never seen in training and, unless missing values were frequent enough for a
bin of their own, missing values.

A bin with no training rows (the missing bin of a feature never missing in training, an
"other" bin no rare category fell into) has WoE 0: the population's average, neutral
evidence, rather than a smoothed guess from no data.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Literal

import numpy as np

from underwriting.model.artifact import CategoricalBinning, NumericBinning

Trend = Literal["ascending", "descending"]
"""How the bad rate moves as the feature's value rises."""

OTHER = "__other__"


@dataclass(frozen=True)
class BinningLimits:
    """The thresholds binning works to; they are recorded in the model artifact."""

    prebins: int = 20
    min_bin_share: float = 0.05
    max_bins: int = 8
    min_category_share: float = 0.02


def bin_index(binning: NumericBinning, values: np.ndarray) -> np.ndarray:
    """Each value's bin number: the count of edges at or below it (int8, exact, fast);
    missing values (NaN) get len(edges) + 1, the missing bin after the regular ones."""
    index = np.zeros(values.size, dtype=np.int8)
    for edge in binning.edges:
        np.add(index, values >= edge, out=index, casting="unsafe")
    index[np.isnan(values)] = len(binning.edges) + 1
    return index


def woe_table(binning: NumericBinning) -> np.ndarray:
    """WoE per bin as `bin_index` numbers them: the regular bins, then the missing bin."""
    return np.append(np.asarray(binning.woe, dtype=float), binning.missing_woe)


def woe(bads: np.ndarray, goods: np.ndarray, total_bads: int, total_goods: int) -> np.ndarray:
    """Weight of evidence per bin (riskier bins higher), smoothed by half a count; a bin
    with no rows is neutral (0)."""
    bad_share = (bads + 0.5) / (total_bads + 0.5)
    good_share = (goods + 0.5) / (total_goods + 0.5)
    result: np.ndarray = np.where(bads + goods > 0, np.log(bad_share / good_share), 0.0)
    return result


def information_value(bads: Sequence[int], counts: Sequence[int]) -> float:
    """Information value of a binning (including any missing or other bin)."""
    b = np.asarray(bads, dtype=float)
    g = np.asarray(counts, dtype=float) - b
    total_b, total_g = b.sum(), g.sum()
    if total_b == 0 or total_g == 0:
        return 0.0
    w = woe(b, g, int(total_b), int(total_g))
    bad_share = (b + 0.5) / (total_b + 0.5)
    good_share = (g + 0.5) / (total_g + 0.5)
    return float(np.sum((bad_share - good_share) * w))


def _prebin_edges(values: np.ndarray, prebins: int) -> np.ndarray:
    """Distinct inner quantile cut points of the non-missing values."""
    quantiles = np.quantile(values, np.linspace(0, 1, prebins + 1)[1:-1], method="lower")
    edges = np.unique(quantiles)
    # A cut at the minimum would leave the first bin empty.
    inner: np.ndarray = edges[edges > values.min()]
    return inner


def _pool_adjacent_violators(
    counts: list[int], bads: list[int], edges: list[float], trend: Trend
) -> None:
    """Merge neighbouring bins until bad rates move in `trend` only (in place)."""
    sign = 1 if trend == "ascending" else -1
    i = 0
    while i < len(counts) - 1:
        left, right = bads[i] / counts[i], bads[i + 1] / counts[i + 1]
        if sign * (right - left) < 0 or right == left:
            counts[i] += counts.pop(i + 1)
            bads[i] += bads.pop(i + 1)
            edges.pop(i)
            i = max(i - 1, 0)
        else:
            i += 1


def _merge_smallest(counts: list[int], bads: list[int], edges: list[float]) -> None:
    """Merge the smallest bin into its neighbour with the closer bad rate (in place)."""
    i = int(np.argmin(counts))
    rate = bads[i] / counts[i]
    if i == 0:
        j = 1
    elif i == len(counts) - 1:
        j = i - 1
    else:
        left = abs(bads[i - 1] / counts[i - 1] - rate)
        right = abs(bads[i + 1] / counts[i + 1] - rate)
        j = i - 1 if left <= right else i + 1
    low, high = min(i, j), max(i, j)
    counts[low] += counts.pop(high)
    bads[low] += bads.pop(high)
    edges.pop(low)


def _smoothed_woe_monotone(
    counts: list[int],
    bads: list[int],
    edges: list[float],
    trend: Trend,
    totals: tuple[int, int],
) -> None:
    """Merge neighbours until the smoothed WoE moves strictly in `trend` (in place)."""
    sign = 1 if trend == "ascending" else -1
    while len(counts) > 1:
        b = np.asarray(bads, dtype=float)
        weights = woe(b, np.asarray(counts, dtype=float) - b, *totals)
        steps = sign * np.diff(weights)
        if steps.min() > 0:
            return
        i = int(np.argmin(steps))
        counts[i] += counts.pop(i + 1)
        bads[i] += bads.pop(i + 1)
        edges.pop(i)


def infer_trend(values: np.ndarray, bad: np.ndarray) -> Trend:
    """The direction of the bad rate along the values (rank correlation sign)."""
    present = ~np.isnan(values)
    if present.sum() < 3:
        return "ascending"
    ranks = values[present].argsort().argsort()
    correlation = np.corrcoef(ranks, bad[present])[0, 1]
    return "descending" if correlation < 0 else "ascending"


def bin_numeric(
    values: np.ndarray, bad: np.ndarray, trend: Trend, limits: BinningLimits = BinningLimits()
) -> NumericBinning:
    """Monotone bins of a numeric feature; NaN marks missing values."""
    values = np.asarray(values, dtype=float)
    bad = np.asarray(bad, dtype=bool)
    present = ~np.isnan(values)
    total_bads, total_goods = int(bad.sum()), int((~bad).sum())
    x, y = values[present], bad[present]
    edges: list[float] = []
    counts: list[int] = []
    bads: list[int] = []
    if x.size:
        inner = _prebin_edges(x, limits.prebins)
        index = np.searchsorted(inner, x, side="right")
        counts = np.bincount(index, minlength=inner.size + 1).tolist()
        bads = np.bincount(index, weights=y, minlength=inner.size + 1).astype(int).tolist()
        edges = inner.tolist()
        keep = [i for i, c in enumerate(counts) if c > 0]
        edges = [edges[i] for i in keep[:-1]] if keep else []
        counts = [counts[i] for i in keep]
        bads = [bads[i] for i in keep]
        _pool_adjacent_violators(counts, bads, edges, trend)
        min_count = max(1, math.ceil(limits.min_bin_share * values.size))
        while len(counts) > 1 and (min(counts) < min_count or len(counts) > limits.max_bins):
            _merge_smallest(counts, bads, edges)
            _pool_adjacent_violators(counts, bads, edges, trend)
        _smoothed_woe_monotone(counts, bads, edges, trend, (total_bads, total_goods))
    missing_count = int((~present).sum())
    missing_bads = int(bad[~present].sum())
    weights = woe(
        np.asarray(bads, dtype=float),
        np.asarray(counts, dtype=float) - np.asarray(bads, dtype=float),
        total_bads,
        total_goods,
    )
    missing_woe = float(
        woe(
            np.array([missing_bads], dtype=float),
            np.array([missing_count - missing_bads], dtype=float),
            total_bads,
            total_goods,
        )[0]
    )
    return NumericBinning(
        edges=tuple(float(e) for e in edges),
        woe=tuple(float(w) for w in weights),
        counts=tuple(int(c) for c in counts),
        bads=tuple(int(b) for b in bads),
        missing_woe=missing_woe if missing_count else 0.0,
        missing_count=missing_count,
        missing_bads=missing_bads,
        trend=trend,
    )


def bin_categorical(
    values: Sequence[str | None], bad: np.ndarray, limits: BinningLimits = BinningLimits()
) -> CategoricalBinning:
    """A bin per category holding at least `min_category_share`; the rest pool in OTHER."""
    labels = np.array(["" if v is None else str(v) for v in values], dtype=object)
    bad = np.asarray(bad, dtype=bool)
    total_bads, total_goods = int(bad.sum()), int((~bad).sum())
    names, inverse, sizes = np.unique(labels, return_inverse=True, return_counts=True)
    frequent = sizes >= max(1, math.ceil(limits.min_category_share * labels.size))
    group = np.where(frequent[inverse], inverse, -1)
    categories, counts, bads = [], [], []
    for position, name in enumerate(names):
        if frequent[position]:
            members = group == position
            categories.append(str(name))
            counts.append(int(members.sum()))
            bads.append(int(bad[members].sum()))
    rare = group == -1
    categories.append(OTHER)
    counts.append(int(rare.sum()))
    bads.append(int(bad[rare].sum()))
    weights = woe(
        np.asarray(bads, dtype=float),
        np.asarray(counts, dtype=float) - np.asarray(bads, dtype=float),
        total_bads,
        total_goods,
    )
    return CategoricalBinning(
        categories=tuple(categories),
        woe=tuple(float(w) for w in weights),
        counts=tuple(counts),
        bads=tuple(bads),
    )
