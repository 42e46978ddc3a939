"""Score a frame of merchants with a scorecard: PD, score, grade and principal reasons.

Vectorised: each feature's value is mapped to its bin with a binary search, points are
looked up per bin, and the reasons are the features that lost the most points against
their best bin (never one at its best bin), at most four, in order of points lost.
"""

from __future__ import annotations

from collections.abc import Collection
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from functools import cache
from itertools import pairwise

import numpy as np
import polars as pl

from underwriting.columns.token_lists import enum_values, token_lists
from underwriting.errors import InputError
from underwriting.model.artifact import CategoricalBinning, NumericBinning, Scorecard
from underwriting.model.binning import bin_index, woe_table
from underwriting.policy.parameters import Policy

MAX_REASONS = 4
_EPSILON = 1e-9


_THREADS = 2  # numpy releases the GIL in these loops; the machine has two cores
_PARALLEL_ROWS = 20_000  # below this, starting work on threads costs more than it saves


@cache
def _pool() -> ThreadPoolExecutor:
    """One pool for the process: starting threads per call would cost more than it saves."""
    return ThreadPoolExecutor(_THREADS, thread_name_prefix="scoring")


@dataclass(frozen=True)
class _CompiledFeature:
    name: str
    binning: NumericBinning | CategoricalBinning
    table: np.ndarray  # points per bin; last: the missing bin (numeric) or OTHER (categorical)
    best: float  # the most points any regular bin gives


def _compile(model: Scorecard) -> list[_CompiledFeature]:
    factor = model.scaling.factor
    compiled = []
    for feature in model.features:
        binning = feature.binning
        regular = -factor * feature.coefficient * np.asarray(binning.woe, dtype=float)
        table = (
            -factor * feature.coefficient * woe_table(binning)
            if isinstance(binning, NumericBinning)
            else regular  # OTHER is already the last bin
        )
        best = float(regular.max())
        compiled.append(_CompiledFeature(feature.name, binning, table, best))
    return compiled


def _bin_index(feature: _CompiledFeature, column: pl.Series) -> np.ndarray:
    """Each row's bin number; the last number is the missing (or OTHER) bin."""
    binning = feature.binning
    if isinstance(binning, NumericBinning):
        return bin_index(binning, column.cast(pl.Float64()).to_numpy())  # nulls arrive as NaN
    # Each category's position through an Enum of the categories (other text and nulls
    # become null): far cheaper than replace_strict on a frame of one merchant.
    categories = binning.categories
    text = column.cast(pl.String())
    found = text.cast(enum_values(categories).dtype, strict=False).to_physical().to_numpy()
    codes = (
        np.where(np.isnan(found), len(categories) - 1, found) if found.dtype.kind == "f" else found
    )
    if "" in categories:  # a missing category reads as "", as in training
        codes = np.where(text.is_null().to_numpy(), categories.index(""), codes)
    return np.asarray(codes, dtype=np.int32)


def _bin_indices(compiled: list[_CompiledFeature], frame: pl.DataFrame) -> list[np.ndarray]:
    missing = [f.name for f in compiled if f.name not in frame.columns]
    if missing:
        raise InputError(f"features table lacks column(s) the model needs: {', '.join(missing)}")
    for feature in compiled:
        dtype = frame.schema[feature.name]
        numeric = dtype.is_numeric() or dtype in (pl.Boolean(), pl.Null())
        if isinstance(feature.binning, NumericBinning) and not numeric:
            column = frame.get_column(feature.name).cast(pl.String())
            bad = column.filter(
                column.cast(pl.Float64(), strict=False).is_null() & column.is_not_null()
            )
            raise InputError(
                f"column {feature.name!r} must be numeric for the model but is {dtype}"
                f"{f' (e.g. {bad[0]!r} in row {column.index_of(bad[0])})' if bad.len() else ''}; "
                "fix those values or leave them empty (missing)"
            )

    def index(feature: _CompiledFeature) -> np.ndarray:
        return _bin_index(feature, frame.get_column(feature.name))

    if frame.height < _PARALLEL_ROWS:
        return [index(f) for f in compiled]
    return list(_pool().map(index, compiled))


def _points(compiled: list[_CompiledFeature], indices: list[np.ndarray]) -> list[np.ndarray]:
    """Each feature's points per row, looked up from its bin numbers."""
    return [f.table.take(i) for f, i in zip(compiled, indices, strict=True)]


def _pd(model: Scorecard, points: list[np.ndarray], rows: int) -> tuple[np.ndarray, np.ndarray]:
    """Total points (summed feature by feature, so always in the same order) and PD."""
    total = np.zeros(rows)
    for feature_points in points:
        total += feature_points
    # logit(PD) = intercept + sum(coefficient x WoE) = intercept - (sum of points) / factor
    logit = model.intercept - total / model.scaling.factor
    return total, 1.0 / (1.0 + np.exp(-logit))


def score_arrays(
    model: Scorecard, frame: pl.DataFrame
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Points (rows x features), points lost against each feature's best bin, and PD."""
    compiled = _compile(model)
    indices = _bin_indices(compiled, frame)
    columns = _points(compiled, indices)
    points = np.column_stack(columns) if compiled else np.zeros((frame.height, 0))
    lost = np.array([f.best for f in compiled])[None, :] - points
    _, pd_12m = _pd(model, columns, frame.height)
    return points, lost, pd_12m


def _loss_ranks(compiled: list[_CompiledFeature], silent: Collection[str]) -> list[np.ndarray]:
    """Per feature and bin, the rank of the points lost among all features' bins (0: none lost).

    Equal losses share a rank, so ranking rows by these small integers orders them exactly
    as the points lost do. A feature in `silent` (a protected attribute allowed in the
    model) loses nothing here, so it is never a reason.
    """
    losses = [np.zeros_like(f.table) if f.name in silent else f.best - f.table for f in compiled]
    distinct = np.unique(np.concatenate([loss[loss > _EPSILON] for loss in losses] + [np.zeros(0)]))
    return [
        np.where(loss > _EPSILON, np.searchsorted(distinct, loss) + 1, 0).astype(np.uint32)
        for loss in losses
    ]


def _reason_codes(ranks: list[np.ndarray], indices: list[np.ndarray], slots: int) -> np.ndarray:
    """(rows x slots) feature positions of the reasons, most points lost first; -1: none.

    Each feature's loss rank is packed with its position (earlier features win ties) into
    one integer per row and feature, so a row's keys are all different; the reasons are
    the row's `slots` largest keys, kept in order as each feature's key is inserted among
    them (a maximum and a minimum per slot: element-wise, at memory speed).
    """
    rows = indices[0].size if indices else 0
    wide = max((int(r.max()) for r in ranks), default=0) > 255
    key_type = np.uint32 if wide else np.uint16
    top: list[np.ndarray] = [np.zeros(rows, dtype=key_type) for _ in range(slots)]  # < any key
    larger: np.ndarray = np.empty(rows, dtype=key_type)
    for j, (rank, index) in enumerate(zip(ranks, indices, strict=True)):
        key: np.ndarray = ((rank.astype(key_type) << 8) | (255 - j)).take(index)  # type: ignore[operator]
        for k in range(slots):  # key goes in at slot k; what it displaces moves down
            np.maximum(top[k], key, out=larger)
            np.minimum(top[k], key, out=key)
            top[k], larger = larger, top[k]
    codes = np.empty((rows, slots), dtype=np.int16)
    for k, keys in enumerate(top):
        codes[:, k] = np.where(keys >> 8 > 0, 255 - (keys & 255).astype(np.int16), -1)
    return codes


@dataclass(frozen=True)
class Scores:
    """A frame's scores as arrays: PD, score, grade number on the master scale, and the
    reasons as feature positions (rows x slots, most points lost first, -1 for none)."""

    pd_12m: np.ndarray
    score: np.ndarray
    grade_index: np.ndarray
    reasons: np.ndarray


def score_arrays_of(model: Scorecard, policy: Policy, frame: pl.DataFrame) -> Scores:
    """PD, score, grade and up to four principal reasons per row, as arrays (see `score`).

    Large frames are worked in two halves in parallel; each row's arithmetic is the same
    whichever half it is in.
    """
    if len(model.features) > 255:
        raise InputError("a scorecard of more than 255 features cannot rank reasons; select fewer")
    compiled = _compile(model)
    indices = _bin_indices(compiled, frame)
    ranks = _loss_ranks(compiled, model.training.protected_allowed)
    slots = min(MAX_REASONS, len(compiled))
    rows = frame.height

    def block(span: tuple[int, int]) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        part = [index[span[0] : span[1]] for index in indices]
        total, pd_part = _pd(model, _points(compiled, part), span[1] - span[0])
        codes = (
            _reason_codes(ranks, part, slots)
            if slots
            else np.empty((span[1] - span[0], 0), np.int16)
        )
        return total, pd_part, codes

    spans = pairwise(int(b) for b in np.linspace(0, rows, _THREADS + 1).astype(int))
    blocks = [block((0, rows))] if rows < _PARALLEL_ROWS else list(_pool().map(block, spans))
    total = np.concatenate([b[0] for b in blocks])
    pd_12m = np.concatenate([b[1] for b in blocks])
    codes = np.concatenate([b[2] for b in blocks])
    factor, offset = model.scaling.factor, model.scaling.offset
    card_score = np.rint(offset - factor * model.intercept + total).astype(np.int64)
    return Scores(pd_12m, card_score, policy.grade_index(pd_12m), codes)


def grade_series(policy: Policy, grade_index: np.ndarray, name: str = "grade") -> pl.Series:
    """Grade numbers on the master scale as a column of grade names (an Enum, best first)."""
    grades = enum_values(tuple(b.grade for b in policy.master_scale))
    return grades.gather(pl.Series(grade_index, dtype=pl.UInt32())).alias(name)


def score(model: Scorecard, policy: Policy, frame: pl.DataFrame) -> pl.DataFrame:
    """PD, score, grade and up to four principal reasons (feature names) per row.

    The score is the scorecard's sum: intercept points plus each feature's points. Reasons
    are the features that lost the most points, most first; the list ends once no feature
    lost points, so a feature at its best bin is never a reason.
    """
    scores = score_arrays_of(model, policy, frame)
    keys = [c for c in ("merchant_id", "as_of") if c in frame.columns]
    return pl.DataFrame(
        [
            *(frame.get_column(k) for k in keys),
            pl.Series("pd_12m", scores.pd_12m),
            pl.Series("score", scores.score),
            grade_series(policy, scores.grade_index),
            token_lists("reasons", scores.reasons, [f.name for f in model.features]),
        ]
    )
