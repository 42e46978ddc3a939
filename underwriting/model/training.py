"""Train a monotone WoE logistic-regression scorecard on any table with a binary target.

Steps, each recorded in the artifact:

1. The target is read with a known polarity: 1/0 (any numeric type), a Boolean flag
   (True = bad) or bad/good text; anything else, or a "bad" class that is the majority, needs `bad_value`.
2. Rows are put in an order of their own content and split by a seeded hash of it
   (train, test; an out-of-time part by date), so neither the file's row order nor the
   columns excluded change the split.
3. Candidates: protected attributes (`model.protected`) are refused unless explicitly
   allowed with a reason; columns with no values or one value are left out.
4. Monotone binning on the training part (direction from the feature registry, or from
   the data for features it does not know).
5. Selection with written thresholds: information value; then evidence that holds out of
   sample: each feature's WoE for a row comes from bins built without the row's fold
   (k-fold), and a one-sided score test of it must pass a Bonferroni bar over the
   candidates (a stated family-wise false-keep rate), so noise columns are not kept; a cap
   on the candidates; pairwise correlation; VIF; the sign and p-value of each coefficient,
   judged on the out-of-fold WoE.
6. The logistic regression (statsmodels' Logit on the WoE columns); when a feature
   separates the classes, a ridge-penalised fit instead, with a warning in the artifact.
7. Optionally the final bins and coefficients are refitted on all rows once the held-out
   parts have given the metrics.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import math
import warnings
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, replace
from typing import Any

import numpy as np
import polars as pl
import statsmodels.api as sm
from statsmodels.tools.sm_exceptions import (
    ConvergenceWarning,
    PerfectSeparationError,
    PerfectSeparationWarning,
)

from underwriting.errors import InputError, PolicyError
from underwriting.features.registry import FEATURES_BY_NAME
from underwriting.model.artifact import (
    CategoricalBinning,
    Dropped,
    GradeCalibration,
    ModelFeature,
    NumericBinning,
    Scorecard,
    ScoreDistribution,
    Training,
)
from underwriting.model.binning import (
    BinningLimits,
    Trend,
    bin_categorical,
    bin_index,
    bin_numeric,
    infer_trend,
    information_value,
    woe_table,
)
from underwriting.model.drift import baseline_bands
from underwriting.model.metrics import discrimination, hosmer_lemeshow
from underwriting.model.protected import protected_columns, refusal
from underwriting.model.scoring import score_arrays, score_arrays_of
from underwriting.policy.parameters import Policy

Progress = Callable[[str], object]

_BAD_WORDS = {"1", "bad", "default", "defaulted"}
_GOOD_WORDS = {"0", "good", "non-default", "not defaulted"}
_RIDGE = 1.0  # the penalty of a separated fit, on the WoE scale (about unit variance)


@dataclass(frozen=True)
class TrainingOptions:
    """What to train on and the thresholds selection works to."""

    target: str
    features: tuple[str, ...] | None = None
    exclude: tuple[str, ...] = ("merchant_id",)
    date_column: str | None = "as_of"
    out_of_time: dt.date | None = None
    test_share: float = 0.3
    seed: int = 7
    limits: BinningLimits = field(default_factory=BinningLimits)
    min_information_value: float = 0.01
    max_correlation: float = 0.7
    max_vif: float = 5.0
    max_p_value: float = 0.05
    bad_value: str | None = None
    """The target's value that means bad (default); None: read it from the values."""
    good_value: str | None = None
    """The value that means good; the other one is bad."""
    allow_protected: tuple[tuple[str, str], ...] = ()
    """Protected columns allowed as features, each with the reason recorded."""
    declared_protected: tuple[str, ...] = ()
    """Columns to treat as protected whatever their names."""
    protected_terms: tuple[str, ...] = ()
    """Words the policy adds to the protected-attribute list."""
    refit_all: bool = False
    """Refit the final bins and coefficients on all rows after the held-out metrics."""
    folds: int = 5
    false_keep_rate: float = 0.05
    """The chance, across all candidates, that any pure-noise column passes the
    out-of-fold screen (Bonferroni)."""
    max_candidates: int = 40
    min_class_rows: int = 20
    keys: tuple[str, ...] | None = None
    """Columns that identify a row, whose hash decides its part (see `key_columns`)."""


def _label(value: object) -> str:
    """A target value as text: integral numbers without a decimal point."""
    if isinstance(value, bool):
        return "true" if value else "false"
    text = str(value).strip().lower()
    try:
        number = float(text)
    except ValueError:
        return text
    return str(int(number)) if number.is_integer() else text


def target_values(
    frame: pl.DataFrame,
    target: str,
    bad_value: str | None = None,
    good_value: str | None = None,
) -> np.ndarray:
    """The target as booleans (True = bad); anything but a clear binary with a known
    polarity is an InputError naming the flag that settles it."""
    if target not in frame.columns:
        raise InputError(
            f"target column {target!r} is not in the table; columns are {frame.columns}"
        )
    column = frame.get_column(target)
    if column.null_count():
        raise InputError(
            f"target {target!r} has {column.null_count()} missing values; drop or fill them"
        )
    if column.dtype.is_numeric():
        column = column.cast(pl.Float64())
    values = column.unique(maintain_order=True)
    labels = [_label(v) for v in values.to_list()]
    text = column.replace_strict(values, labels, return_dtype=pl.String())
    if len(labels) > 2:
        raise InputError(
            f"target {target!r} must be binary; it has {len(labels)} values "
            f"({', '.join(sorted(labels)[:5])}{', ...' if len(labels) > 5 else ''})"
        )
    named = [_label(v) for v in (bad_value, good_value) if v is not None]
    for value in named:
        if value not in labels:
            raise InputError(
                f"target {target!r} has no value {value!r}; its values are {sorted(labels)}"
            )
    if bad_value is not None:
        bad_label = _label(bad_value)
    elif good_value is not None:
        others = [v for v in labels if v != _label(good_value)]
        bad_label = others[0] if others else ""  # one class only: no bads (refused later)
    elif column.dtype == pl.Boolean():
        bad_label = "true"  # a Boolean target is a flag of the event: True = defaulted
    else:
        readable = [v for v in labels if v in _BAD_WORDS]
        if len(readable) != 1 or any(v not in _BAD_WORDS | _GOOD_WORDS for v in labels):
            raise InputError(
                f"target {target!r} has values {sorted(labels)}, which do not say which "
                "is bad; add --bad VALUE naming the bad (default) class"
            )
        bad_label = readable[0]
    bad = (text == bad_label).to_numpy().astype(bool)
    if not named and bad.mean() > 0.5:
        good_label = next((v for v in labels if v != bad_label), "?")
        raise InputError(
            f"target {target!r} = {bad_label} is read as bad but is {bad.mean():.0%} of rows; "
            f"if {good_label!r} means bad, add --bad {good_label}; if {bad_label!r} does, "
            f"add --bad {bad_label}"
        )
    return bad


def _candidates(
    frame: pl.DataFrame, options: TrainingOptions
) -> tuple[list[str], list[Dropped], dict[str, str]]:
    """The candidate features, those left out and why, and the protected ones allowed."""
    skip = {options.target, *options.exclude}
    if options.date_column:
        skip.add(options.date_column)
    # Industry figures kept for people (registry "context") are never model candidates.
    skip |= {f.name for f in FEATURES_BY_NAME.values() if f.context}
    names = (
        list(options.features) if options.features else [c for c in frame.columns if c not in skip]
    )
    missing = [n for n in names if n not in frame.columns]
    if missing:
        raise InputError(f"--features names column(s) not in the table: {', '.join(missing)}")
    allowed = dict(options.allow_protected)
    unknown = [c for c in allowed if c not in frame.columns]
    if unknown:
        raise InputError(f"--allow-protected names column(s) not in the table: {unknown}")
    found = protected_columns(names, options.protected_terms, options.declared_protected)
    refused = {c: why for c, why in found.items() if c not in allowed}
    if refused:
        raise InputError(refusal(refused))
    kept, dropped = [], []
    for name in names:
        column = frame.get_column(name)
        dtype = column.dtype
        if not (dtype.is_numeric() or dtype in (pl.String(), pl.Boolean(), pl.Categorical())):
            dropped.append(
                Dropped(feature=name, reason=f"type {dtype} is neither numeric nor categorical")
            )
            continue
        present = column.cast(pl.Float64()).fill_nan(None) if dtype.is_float() else column
        if present.null_count() == frame.height:
            dropped.append(Dropped(feature=name, reason="no values: every row is missing"))
            continue
        if present.drop_nulls().n_unique() < 2 and present.null_count() == 0:
            dropped.append(Dropped(feature=name, reason="one value in every row"))
            continue
        if dtype.is_float() and column.is_infinite().any():
            rows = column.is_infinite().arg_true().head(3).to_list()
            raise InputError(
                f"column {name!r} holds {column.is_infinite().sum()} infinite values (rows "
                f"{', '.join(str(r) for r in rows)}, ...); replace them with null (missing) or "
                "a capped value, or --exclude the column"
            )
        kept.append(name)
    return kept, dropped, {c: allowed[c] for c in found if c in allowed and c in kept}


def _trend(name: str, values: np.ndarray, bad: np.ndarray) -> tuple[Trend, str]:
    declared = FEATURES_BY_NAME.get(name)
    if declared is not None and declared.direction is not None:
        return ("ascending" if declared.direction == "riskier" else "descending"), "registry"
    return infer_trend(values, bad), "data"


def _numeric(column: pl.Series) -> np.ndarray:
    values: np.ndarray = column.cast(pl.Float64()).fill_nan(None).to_numpy().astype(float)
    return values


def _bin(
    name: str, column: pl.Series, bad: np.ndarray, limits: BinningLimits
) -> tuple[NumericBinning | CategoricalBinning, str]:
    if column.dtype.is_numeric():
        values = _numeric(column)
        trend, source = _trend(name, values, bad)
        return bin_numeric(values, bad, trend, limits), source
    labels = column.cast(pl.String()).to_list()
    return bin_categorical(labels, bad, limits), "data"


def _woe_column(bins: NumericBinning | CategoricalBinning, column: pl.Series) -> np.ndarray:
    if isinstance(bins, NumericBinning):
        numeric: np.ndarray = woe_table(bins).take(bin_index(bins, _numeric(column)))
        return numeric
    lookup = {c: i for i, c in enumerate(bins.categories)}
    index = (
        column.cast(pl.String())
        .fill_null("")
        .replace_strict(lookup, default=len(bins.categories) - 1, return_dtype=pl.Int64())
        .to_numpy()
    )
    mapped: np.ndarray = np.asarray(bins.woe, dtype=float)[index]
    return mapped


def _iv(bins: NumericBinning | CategoricalBinning) -> float:
    if isinstance(bins, NumericBinning):
        return information_value(
            [*bins.bads, bins.missing_bads], [*bins.counts, bins.missing_count]
        )
    return information_value(bins.bads, bins.counts)


def _out_of_fold_woe(
    name: str, column: pl.Series, bad: np.ndarray, fold: np.ndarray, options: TrainingOptions
) -> np.ndarray:
    """Each row's WoE from bins built on the other folds' rows only."""
    result = np.zeros(column.len())
    for k in range(options.folds):
        held = fold == k
        if not held.any() or held.all():
            continue
        rest = pl.Series(~held)
        bins, _ = _bin(name, column.filter(rest), bad[~held], options.limits)
        result[held] = _woe_column(bins, column.filter(pl.Series(held)))
    return result


def _score_test(x: np.ndarray, bad: np.ndarray) -> tuple[float, float]:
    """The one-sided score test that a logistic coefficient on `x` is positive: (z, p)."""
    y = bad.astype(float)
    centred = x - x.mean()
    spread = float(np.dot(centred, centred)) * y.mean() * (1 - y.mean())
    z = float(np.dot(centred, y)) / math.sqrt(spread) if spread > 0 else 0.0
    return z, 0.5 * math.erfc(z / math.sqrt(2))


@dataclass(frozen=True)
class _Fit:
    params: np.ndarray
    bse: np.ndarray
    pvalues: np.ndarray
    penalised: bool


def _ridge(design: np.ndarray, y: np.ndarray) -> _Fit:
    """Logistic regression with an L2 penalty on the slopes (Newton steps): finite where
    a feature separates the classes and the unpenalised fit has no maximum."""
    penalty = np.full(design.shape[1], _RIDGE)
    penalty[0] = 0.0
    beta = np.zeros(design.shape[1])
    for _ in range(100):
        p = 1 / (1 + np.exp(-design @ beta))
        gradient = design.T @ (y - p) - penalty * beta
        hessian = (design * (p * (1 - p))[:, None]).T @ design + np.diag(penalty)
        step = np.linalg.solve(hessian, gradient)
        beta += step
        if np.abs(step).max() < 1e-10:
            break
    p = 1 / (1 + np.exp(-design @ beta))
    hessian = (design * (p * (1 - p))[:, None]).T @ design + np.diag(penalty)
    bse = np.sqrt(np.diag(np.linalg.inv(hessian)))
    pvalues = np.array(
        [math.erfc(abs(b / e) / math.sqrt(2)) for b, e in zip(beta, bse, strict=True)]
    )
    return _Fit(beta, bse, pvalues, True)


def _fit(woe: dict[str, np.ndarray], names: Sequence[str], bad: np.ndarray) -> _Fit:
    design = (
        sm.add_constant(np.column_stack([woe[n] for n in names]), has_constant="add")
        if names
        else np.ones((bad.size, 1))
    )
    y = bad.astype(float)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        warnings.simplefilter("error", PerfectSeparationWarning)
        warnings.simplefilter("error", ConvergenceWarning)
        try:
            result: Any = sm.Logit(y, design).fit(disp=0, method="newton", maxiter=100)
            fitted = _Fit(
                np.asarray(result.params),
                np.asarray(result.bse),
                np.asarray(result.pvalues),
                False,
            )
        except (
            np.linalg.LinAlgError,
            PerfectSeparationError,
            PerfectSeparationWarning,
            ConvergenceWarning,
        ):
            return _ridge(design, y)
    if not (np.isfinite(fitted.bse).all() and np.isfinite(fitted.params).all()):
        return _ridge(design, y)
    return fitted


def _vifs(woe: dict[str, np.ndarray], names: Sequence[str]) -> np.ndarray:
    """Variance inflation factors: the diagonal of the inverse correlation matrix (the
    same as regressing each column on the others with an intercept, in one step)."""
    correlation = np.atleast_2d(np.corrcoef(np.column_stack([woe[n] for n in names]), rowvar=False))
    result: np.ndarray = np.diag(np.linalg.pinv(correlation))
    return result


@dataclass
class _Selection:
    kept: list[str]
    dropped: list[Dropped]
    notes: list[str]


def _screen(
    names: list[str],
    ivs: dict[str, float],
    judged: dict[str, np.ndarray],
    bad: np.ndarray,
    options: TrainingOptions,
) -> _Selection:
    """Information value, then out-of-fold evidence at a Bonferroni bar, then the cap."""
    selection = _Selection([], [], [])
    floor = options.min_information_value
    strong = []
    for name in sorted(names, key=lambda n: (-ivs[n], n)):
        if ivs[name] < floor:
            selection.dropped.append(
                Dropped(
                    feature=name,
                    reason=f"information value {ivs[name]:.4f} is below {floor} "
                    "(no useful, monotone relation to default)",
                )
            )
        else:
            strong.append(name)
    bar = options.false_keep_rate / max(len(names), 1)
    evidence = {n: _score_test(judged[n], bad) for n in strong}
    for name in strong:
        z, p = evidence[name]
        if p >= bar:
            selection.dropped.append(
                Dropped(
                    feature=name,
                    reason=f"out-of-fold evidence too weak: z = {z:.2f}, p = {p:.2g}, "
                    f"above the bar {bar:.2g} ({options.false_keep_rate:.0%} over "
                    f"{len(names)} candidates); in-sample information value {ivs[name]:.4f}",
                )
            )
        else:
            selection.kept.append(name)
    if len(selection.kept) > options.max_candidates:
        ranked = sorted(selection.kept, key=lambda n: (-evidence[n][0], n))
        for name in ranked[options.max_candidates :]:
            selection.dropped.append(
                Dropped(
                    feature=name,
                    reason=f"not among the {options.max_candidates} candidates with the "
                    "strongest out-of-fold evidence",
                )
            )
        keep = set(ranked[: options.max_candidates])
        selection.kept = [n for n in selection.kept if n in keep]
    return selection


def _select(
    woe: dict[str, np.ndarray],
    judged: dict[str, np.ndarray],
    ivs: dict[str, float],
    bad: np.ndarray,
    options: TrainingOptions,
    progress: Progress,
) -> tuple[list[str], list[Dropped], _Fit, list[str]]:
    selection = _screen(sorted(ivs), ivs, judged, bad, options)
    dropped = selection.dropped
    kept: list[str] = []
    for name in selection.kept:  # highest information value first
        partner = next(
            (
                k
                for k in kept
                if abs(np.corrcoef(woe[name], woe[k])[0, 1]) > options.max_correlation
            ),
            None,
        )
        if partner is not None:
            r = np.corrcoef(woe[name], woe[partner])[0, 1]
            dropped.append(
                Dropped(
                    feature=name,
                    reason=f"collinear with {partner} (correlation {r:.2f} above "
                    f"{options.max_correlation}), which has the higher information value",
                )
            )
            continue
        kept.append(name)
    progress(
        f"{len(kept)} features pass information value, out-of-fold evidence and correlation checks"
    )
    while len(kept) > 1:
        vifs = _vifs(woe, kept)
        worst = int(np.argmax(vifs))
        if vifs[worst] <= options.max_vif:
            break
        dropped.append(
            Dropped(
                feature=kept[worst],
                reason=f"variance inflation factor {vifs[worst]:.1f} above {options.max_vif}",
            )
        )
        kept.pop(worst)
    # Signs and p-values are judged on the out-of-fold WoE (bins that did not see the
    # row), then the coefficients are fitted on the training bins' WoE.
    for stage, columns in (("out-of-fold", judged), ("training", woe)):
        while True:
            result = _fit(columns, kept, bad)
            coefficients, p_values = result.params[1:], result.pvalues[1:]
            if kept and coefficients.min() <= 0:
                worst = int(np.argmin(coefficients))
                reason = (
                    f"fitted coefficient {coefficients[worst]:.3f} ({stage} WoE) contradicts "
                    "the direction of its bins (must be positive on the WoE scale)"
                )
            elif stage == "out-of-fold" and kept and p_values.max() > options.max_p_value:
                worst = int(np.argmax(p_values))
                reason = (
                    f"p-value {p_values[worst]:.3f} (out-of-fold WoE) above {options.max_p_value}"
                )
            else:
                break
            dropped.append(Dropped(feature=kept.pop(worst), reason=reason))
    notes = selection.notes
    if result.penalised:
        notes.append(
            f"the classes are separated (perfectly or nearly) by {', '.join(kept) or 'the data'}: "
            f"coefficients are ridge-penalised (lambda {_RIDGE}); check the feature is not the "
            "target in disguise"
        )
    progress(f"fitted logistic regression on {len(kept)} features")
    return kept, dropped, result, notes


_HASHABLE = (pl.String, pl.Categorical, pl.Enum, pl.Boolean, pl.Date, pl.Datetime, pl.Duration)


def key_columns(frame: pl.DataFrame, options: TrainingOptions) -> list[str]:
    """The columns whose values decide a row's part: `options.keys`; else merchant_id and
    the date column when the table has them; else every column of a plain type (a
    keyless table: its row content)."""
    if options.keys:
        missing = [k for k in options.keys if k not in frame.columns]
        if missing:
            raise InputError(f"--key names column(s) not in the table: {', '.join(missing)}")
        return list(options.keys)
    if "merchant_id" in frame.columns:
        return ["merchant_id", *[c for c in (options.date_column,) if c and c in frame.columns]]
    return _plain_columns(frame)


def _plain_columns(frame: pl.DataFrame) -> list[str]:
    return [c for c, t in frame.schema.items() if t.is_numeric() or isinstance(t, _HASHABLE)]


def _as_text(columns: Sequence[str]) -> pl.Expr:
    return pl.concat_str(
        [pl.col(c).cast(pl.String()).fill_null("\x00") for c in columns], separator="\x1f"
    )


def row_keys(
    frame: pl.DataFrame, seed: int, columns: Sequence[str]
) -> tuple[np.ndarray, pl.Series]:
    """Each row's seeded 64-bit hash of its values in `columns`, and those values as text:
    the same rows give the same keys in any file order, whatever other columns the table
    has. Rows alike in `columns` are told apart by their number among themselves, counted
    in the order of their whole content (rows alike in that are interchangeable), so
    they spread over the parts and folds."""
    text = (
        frame.select(
            _as_text(columns).alias("key"),
            _as_text(_plain_columns(frame)).alias("whole"),
            pl.int_range(pl.len()).alias("position"),
        )
        .sort("key", "whole")
        .with_columns(pl.format("{}\x1e{}", "key", pl.int_range(pl.len()).over("key")).alias("key"))
        .sort("position")
        .get_column("key")
    )
    salt = seed.to_bytes(8, "big", signed=True)
    keys = np.fromiter(
        (
            int.from_bytes(hashlib.blake2b(t.encode(), digest_size=8, key=salt).digest(), "big")
            for t in text
        ),
        dtype=np.uint64,
        count=text.len(),
    )
    return keys, text


def canonical_order(frame: pl.DataFrame, options: TrainingOptions) -> pl.DataFrame:
    """The rows in the order of their keys' seeded hash (`key_columns`; ties: the whole
    row), so the same rows in any order are the same table."""
    return _ordered(frame, options)[0]


def _ordered(frame: pl.DataFrame, options: TrainingOptions) -> tuple[pl.DataFrame, np.ndarray]:
    """`canonical_order`'s frame and, in its order, each row's key hash (for `split`)."""
    keys, text = row_keys(frame, options.seed, key_columns(frame, options))
    ordered = frame.with_columns(
        pl.Series("__key", keys),
        text.alias("__row"),
        _as_text(_plain_columns(frame)).alias("__all"),
    ).sort("__key", "__row", "__all")
    return ordered.drop("__key", "__row", "__all"), ordered.get_column("__key").to_numpy()


def split(
    frame: pl.DataFrame, options: TrainingOptions, keys: np.ndarray | None = None
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Masks of the train, test and out-of-time rows of `frame`: a row is in the test part
    when its keys' seeded hash (`key_columns`) falls in the first `test_share` of the hash
    range, so the split depends on neither the row order nor the columns used as features."""
    if options.out_of_time is not None:
        if not options.date_column or options.date_column not in frame.columns:
            raise InputError(
                f"--out-of-time needs a date column; {options.date_column!r} is not in the table"
            )
        out_of_time = (
            frame.get_column(options.date_column).cast(pl.Date()) >= options.out_of_time
        ).to_numpy()
    else:
        out_of_time = np.zeros(frame.height, dtype=bool)
    if keys is None:  # `_ordered` gives them with the frame; hashing rows is not free
        keys, _ = row_keys(frame, options.seed, key_columns(frame, options))
    test = ~out_of_time & (keys < np.uint64(int(options.test_share * 2.0**64)))
    return ~out_of_time & ~test, test, out_of_time


def _folds(frame: pl.DataFrame, options: TrainingOptions) -> np.ndarray:
    keys, _ = row_keys(frame, options.seed + 1, key_columns(frame, options))
    folds: np.ndarray = (keys % np.uint64(options.folds)).astype(np.int64)
    return folds


def options_of(model: Scorecard) -> TrainingOptions:
    """The split options a model was trained with, read back from its artifact."""
    recorded = model.training.split
    if recorded.get("order") != "key hash":
        raise PolicyError(
            f"model {model.version} was trained before splits were made by row content; its "
            "split cannot be recomputed: retrain it with `underwrite train`"
        )
    start = recorded.get("out_of_time_from")
    return TrainingOptions(
        target=model.training.target,
        date_column=recorded.get("date_column"),
        out_of_time=dt.date.fromisoformat(start) if start else None,
        test_share=float(recorded["test_share"]),
        seed=int(recorded["seed"]),
        bad_value=recorded.get("bad_value"),
        keys=tuple(recorded["keys"]) if recorded.get("keys") else None,
    )


def _features(
    kept: Sequence[str],
    bins: dict[str, NumericBinning | CategoricalBinning],
    sources: dict[str, str],
    ivs: dict[str, float],
    result: _Fit,
) -> tuple[ModelFeature, ...]:
    return tuple(
        ModelFeature(
            name=n,
            binning=bins[n],
            coefficient=float(result.params[i + 1]),
            std_error=float(result.bse[i + 1]),
            p_value=float(result.pvalues[i + 1]),
            information_value=ivs[n],
            direction_source="registry" if sources[n] == "registry" else "data",
        )
        for i, n in enumerate(kept)
    )


def _check_classes(bad: np.ndarray, options: TrainingOptions) -> None:
    bads, goods = int(bad.sum()), int((~bad).sum())
    need = options.min_class_rows
    if bads < need or goods < need:
        fewer, count = ("bads", bads) if bads < goods else ("goods", goods)
        raise InputError(
            f"the training part has {count} {fewer} of {bad.size:,} rows; fitting a scorecard "
            f"needs at least {need} bads and {need} goods there (use more rows or a longer "
            f"outcome window for {options.target!r})"
        )


def train(
    frame: pl.DataFrame,
    options: TrainingOptions,
    policy: Policy,
    policy_version: str,
    fingerprint: str,
    progress: Progress = lambda _: None,
) -> Scorecard:
    """Fit a scorecard to `frame`; returns the versioned artifact (not yet saved).

    Rows are first put in the order of their content (`canonical_order`), so the same rows
    in any order give the same model, bit for bit.
    """
    options = _with_policy_terms(options, policy)
    names, dropped, allowed = _candidates(frame, options)  # row numbers as in the file
    frame, keys = _ordered(frame, options)
    bad = target_values(frame, options.target, options.bad_value, options.good_value)
    bad_label = _bad_label(frame, options, bad)
    train_rows, test, out_of_time = split(frame, options, keys)
    _check_classes(bad[train_rows], options)
    progress(
        f"split: {train_rows.sum():,} train, {test.sum():,} test, {out_of_time.sum():,} out of time"
    )

    training = frame.filter(pl.Series(train_rows))
    bad_train = bad[train_rows]
    bins: dict[str, NumericBinning | CategoricalBinning] = {}
    sources: dict[str, str] = {}
    for name in names:
        bins[name], sources[name] = _bin(name, training.get_column(name), bad_train, options.limits)
    progress(f"binned {len(names)} candidate features")
    woe = {n: _woe_column(bins[n], training.get_column(n)) for n in names}
    ivs = {n: _iv(bins[n]) for n in names}
    fold = _folds(training, options)
    judged = {
        n: _out_of_fold_woe(n, training.get_column(n), bad_train, fold, options)
        for n in names
        if ivs[n] >= options.min_information_value
    }
    progress(f"out-of-fold WoE of {len(judged)} features ({options.folds} folds)")
    kept, dropped_now, result, notes = _select(woe, judged, ivs, bad_train, options, progress)
    if not kept:
        notes.append("no feature holds out of sample: the model is the intercept alone")
    for note in notes:
        progress(f"warning: {note}")
    draft = Scorecard(
        intercept=float(result.params[0]),
        intercept_std_error=float(result.bse[0]),
        features=_features(kept, bins, sources, ivs, result),
        scaling=policy.scorecard,
        dropped=tuple(dropped + dropped_now),
        training=_placeholder_training(
            options, fingerprint, frame, policy_version, bad_label, allowed, notes
        ),
    )
    _, _, pd_12m = score_arrays(draft, frame)
    parts = {"train": train_rows, "test": test, "out_of_time": out_of_time}
    metrics = {
        part: discrimination(pd_12m[mask], bad[mask])
        for part, mask in parts.items()
        if mask.any() and bad[mask].any() and not bad[mask].all()
    }
    holdout = out_of_time if out_of_time.any() else test
    statistic, p_value = hosmer_lemeshow(pd_12m[holdout], bad[holdout])
    calibration = _calibration(policy, pd_12m[holdout], bad[holdout])
    baseline_rows = train_rows
    if options.refit_all and kept:
        draft = _refit_all(draft, frame, bad, kept, ivs, options)
        baseline_rows = np.ones(frame.height, dtype=bool)
        progress(
            f"refitted bins and coefficients of {len(kept)} features on all {frame.height:,} rows"
        )
    bands = baseline_bands(score_arrays_of(draft, policy, frame).score[baseline_rows])
    record = draft.training.model_copy(
        update={
            "score_distribution": ScoreDistribution(
                part="all" if baseline_rows.all() and options.refit_all else "train",
                edges=bands.edges,
                shares=bands.shares,
            ),
            "metrics": metrics,
            "calibration": calibration,
            "hosmer_lemeshow": {
                "statistic": statistic,
                "p_value": p_value,
                "groups": 10.0,
                "on": 1.0 if out_of_time.any() else 0.0,
            },
        }
    )
    return draft.model_copy(update={"training": record}).with_version()


def _refit_all(
    draft: Scorecard,
    frame: pl.DataFrame,
    bad: np.ndarray,
    kept: list[str],
    ivs: dict[str, float],
    options: TrainingOptions,
) -> Scorecard:
    """The draft with its kept features' bins and coefficients fitted on every row."""
    bins: dict[str, NumericBinning | CategoricalBinning] = {}
    sources: dict[str, str] = {}
    for name in kept:
        bins[name], sources[name] = _bin(name, frame.get_column(name), bad, options.limits)
    woe = {n: _woe_column(bins[n], frame.get_column(n)) for n in kept}
    result = _fit(woe, kept, bad)
    return draft.model_copy(
        update={
            "intercept": float(result.params[0]),
            "intercept_std_error": float(result.bse[0]),
            "features": _features(kept, bins, sources, {n: _iv(bins[n]) for n in kept}, result),
        }
    )


def _with_policy_terms(options: TrainingOptions, policy: Policy) -> TrainingOptions:
    return replace(
        options, protected_terms=(*options.protected_terms, *policy.protected_attributes)
    )


def _bad_label(frame: pl.DataFrame, options: TrainingOptions, bad: np.ndarray) -> str:
    """The target's bad value as text, for the artifact (so reports read it back)."""
    column = frame.get_column(options.target)
    if column.dtype.is_numeric():
        column = column.cast(pl.Float64())
    return _label(column.filter(pl.Series(bad)).first()) if bad.any() else ""


def _calibration(
    policy: Policy, pd_12m: np.ndarray, bad: np.ndarray
) -> tuple[GradeCalibration, ...]:
    """Mean predicted PD against observed default rate per master-scale grade (numpy
    sums, so the figures are the same on every run)."""
    index = policy.grade_index(pd_12m)
    found = []
    for position, band in enumerate(policy.master_scale):
        members = index == position
        if members.any():
            found.append(
                GradeCalibration(
                    grade=band.grade,
                    rows=int(members.sum()),
                    predicted_pd=float(pd_12m[members].mean()),
                    observed_rate=float(bad[members].mean()),
                )
            )
    return tuple(found)


def _placeholder_training(
    options: TrainingOptions,
    fingerprint: str,
    frame: pl.DataFrame,
    policy_version: str,
    bad_label: str,
    allowed: dict[str, str],
    notes: list[str],
) -> Training:
    return Training(
        target=options.target,
        data_fingerprint=fingerprint,
        rows=frame.height,
        columns=tuple(frame.columns),
        split={
            "test_share": options.test_share,
            "seed": options.seed,
            "date_column": options.date_column,
            "out_of_time_from": options.out_of_time.isoformat() if options.out_of_time else None,
            "order": "key hash",
            "keys": list(options.keys) if options.keys else None,
            "bad_value": bad_label,
            "refit_all": options.refit_all,
        },
        selection={
            "min_information_value": options.min_information_value,
            "max_correlation": options.max_correlation,
            "max_vif": options.max_vif,
            "max_p_value": options.max_p_value,
            "prebins": float(options.limits.prebins),
            "min_bin_share": options.limits.min_bin_share,
            "max_bins": float(options.limits.max_bins),
            "min_category_share": options.limits.min_category_share,
            "folds": float(options.folds),
            "false_keep_rate": options.false_keep_rate,
            "max_candidates": float(options.max_candidates),
            "min_class_rows": float(options.min_class_rows),
        },
        metrics={},
        calibration=(),
        hosmer_lemeshow={},
        policy_version=policy_version,
        protected_allowed=dict(allowed),
        warnings=tuple(notes),
    )
