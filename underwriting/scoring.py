"""Score a frame of merchants with a scorecard: PD, score, grade and principal reasons.

Vectorised: each feature's value is mapped to its bin with a binary search, points are
looked up per bin, and the reasons are the features that lost the most points against
their best bin (never one at its best bin), at most four, in order of points lost.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import polars as pl
import pyarrow as pa

from underwriting.errors import InputError
from underwriting.model import CategoricalBinning, NumericBinning, Scorecard
from underwriting.policy import Policy

MAX_REASONS = 4
_EPSILON = 1e-9


@dataclass(frozen=True)
class _CompiledFeature:
    name: str
    binning: NumericBinning | CategoricalBinning
    points: np.ndarray  # per regular bin
    missing_points: float  # numeric: missing bin; categorical: the OTHER bin
    best: float


def _compile(model: Scorecard) -> list[_CompiledFeature]:
    factor = model.scaling.factor
    compiled = []
    for feature in model.features:
        woe = np.asarray(feature.binning.woe, dtype=float)
        points = -factor * feature.coefficient * woe
        if isinstance(feature.binning, NumericBinning):
            missing = -factor * feature.coefficient * feature.binning.missing_woe
            best = float(points.max())
        else:
            missing = float(points[-1])  # the OTHER bin
            best = float(points.max())
        compiled.append(_CompiledFeature(feature.name, feature.binning, points, missing, best))
    return compiled


def _feature_points(feature: _CompiledFeature, column: pl.Series) -> np.ndarray:
    binning = feature.binning
    if isinstance(binning, NumericBinning):
        values = column.cast(pl.Float64()).to_numpy()  # nulls arrive as NaN: the missing bin
        index = np.searchsorted(np.asarray(binning.edges, dtype=float), values, side="right")
        result: np.ndarray = np.where(
            np.isnan(values),
            feature.missing_points,
            feature.points[np.minimum(index, feature.points.size - 1)],
        )
        return result
    lookup = {category: i for i, category in enumerate(binning.categories)}
    other = len(binning.categories) - 1
    index = (
        column.cast(pl.String())
        .fill_null("")
        .replace_strict(lookup, default=other, return_dtype=pl.Int64())
        .to_numpy()
    )
    points: np.ndarray = feature.points[index]
    return points


def score_arrays(
    model: Scorecard, frame: pl.DataFrame
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Points (rows x features), points lost against each feature's best bin, and PD."""
    compiled = _compile(model)
    missing = [f.name for f in compiled if f.name not in frame.columns]
    if missing:
        raise InputError(f"features table lacks column(s) the model needs: {', '.join(missing)}")
    points = (
        np.column_stack([_feature_points(f, frame.get_column(f.name)) for f in compiled])
        if compiled
        else np.zeros((frame.height, 0))
    )
    best = np.array([f.best for f in compiled])
    lost = best[None, :] - points
    factor = model.scaling.factor
    # logit(PD) = intercept + sum(coefficient x WoE) = -(sum of points) / factor + intercept
    logit = model.intercept - points.sum(axis=1) / factor
    pd_12m = 1.0 / (1.0 + np.exp(-logit))
    return points, lost, pd_12m


def _reasons(names: list[str], lost: np.ndarray) -> pl.Series:
    """Per row, the features that lost the most points, most first, at most four.

    The k-th reason is the feature with the k-th most points lost; the list ends once no
    feature lost points, so a feature at its best bin is never a reason. Built as an Arrow
    list over the model's feature names (an Enum), so a million rows take milliseconds.
    """
    rows = lost.shape[0]
    remaining = lost.copy()
    codes = np.full((rows, min(MAX_REASONS, len(names))), -1, dtype=np.int64)
    for k in range(codes.shape[1]):
        top = remaining.argmax(axis=1)
        taken = np.take_along_axis(remaining, top[:, None], axis=1)[:, 0]
        np.put_along_axis(remaining, top[:, None], -np.inf, axis=1)
        codes[:, k] = np.where(taken > _EPSILON, top, -1)
    present = codes >= 0
    offsets = np.zeros(rows + 1, dtype=np.int32)
    np.cumsum(present.sum(axis=1), out=offsets[1:])
    enum = pl.Enum(names)
    values = pl.Series(names, dtype=enum).gather(pl.Series(codes[present], dtype=pl.UInt32()))
    lists = pa.ListArray.from_arrays(pa.array(offsets), values.to_arrow())
    return pl.Series("reasons", lists).cast(pl.List(enum))


def score(model: Scorecard, policy: Policy, frame: pl.DataFrame) -> pl.DataFrame:
    """PD, score, grade and up to four principal reasons (feature names) per row.

    The score is the scorecard's sum: intercept points plus each feature's points.
    """
    points, lost, pd_12m = score_arrays(model, frame)
    factor, offset = model.scaling.factor, model.scaling.offset
    card_score = np.rint(offset - factor * model.intercept + points.sum(axis=1)).astype(np.int64)
    reasons = _reasons([f.name for f in model.features], lost)
    keys = [c for c in ("merchant_id", "as_of") if c in frame.columns]
    return (
        frame.select(keys)
        .with_columns(pl.Series("pd_12m", pd_12m), pl.Series("score", card_score))
        .with_columns(policy.grade(pl.col("pd_12m")).alias("grade"), reasons.alias("reasons"))
    )
