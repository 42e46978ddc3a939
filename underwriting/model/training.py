"""Train a monotone WoE logistic-regression scorecard on any table with a binary target.

Steps, each recorded in the artifact: split (random train/test, plus an out-of-time part
by date), monotone binning on the training part (direction from the feature registry, or
from the data for features it does not know), then selection with written thresholds:
information value, pairwise correlation and VIF of the WoE columns, the sign of each fitted
coefficient (it must agree with the binning's direction) and its p-value. The logistic
regression is statsmodels' Logit on the WoE columns.
"""

from __future__ import annotations

import datetime as dt
import warnings
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import polars as pl
import statsmodels.api as sm
from statsmodels.stats.outliers_influence import variance_inflation_factor

from underwriting.errors import InputError
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
from underwriting.model.scoring import score_arrays, score_arrays_of
from underwriting.policy.parameters import Policy

Progress = Callable[[str], object]

_TRUE = {"1", "true", "t", "yes", "y", "bad", "default", "defaulted"}
_FALSE = {"0", "false", "f", "no", "n", "good"}


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
    min_information_value: float = 0.02
    max_correlation: float = 0.7
    max_vif: float = 5.0
    max_p_value: float = 0.05


def target_values(frame: pl.DataFrame, target: str) -> np.ndarray:
    """The target as booleans (True = bad); anything but a clear binary is an InputError."""
    if target not in frame.columns:
        raise InputError(
            f"target column {target!r} is not in the table; columns are {frame.columns}"
        )
    column = frame.get_column(target)
    if column.null_count():
        raise InputError(
            f"target {target!r} has {column.null_count()} missing values; drop or fill them"
        )
    if column.dtype == pl.Boolean():
        return column.to_numpy().astype(bool)
    text = column.cast(pl.String()).str.strip_chars().str.to_lowercase()
    unknown = sorted(set(text.unique().to_list()) - _TRUE - _FALSE)
    if unknown:
        raise InputError(
            f"target {target!r} must be binary (1/0, true/false, yes/no, bad/good); found {unknown[:5]}"
        )
    return text.is_in(sorted(_TRUE)).to_numpy().astype(bool)


def _candidates(frame: pl.DataFrame, options: TrainingOptions) -> tuple[list[str], list[Dropped]]:
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
    kept, dropped = [], []
    for name in names:
        dtype = frame.schema[name]
        if dtype.is_numeric() or dtype in (pl.String(), pl.Boolean(), pl.Categorical()):
            kept.append(name)
        else:
            dropped.append(
                Dropped(feature=name, reason=f"type {dtype} is neither numeric nor categorical")
            )
    return kept, dropped


def _bin(
    name: str, column: pl.Series, bad: np.ndarray, limits: BinningLimits
) -> tuple[NumericBinning | CategoricalBinning, str]:
    if column.dtype.is_numeric():
        values = column.cast(pl.Float64()).fill_nan(None).to_numpy().astype(float)
        declared = FEATURES_BY_NAME.get(name)
        if declared is not None and declared.direction is not None:
            trend: Trend = "ascending" if declared.direction == "riskier" else "descending"
            return bin_numeric(values, bad, trend, limits), "registry"
        return bin_numeric(values, bad, infer_trend(values, bad), limits), "data"
    labels = column.cast(pl.String()).to_list()
    return bin_categorical(labels, bad, limits), "data"


def _woe_column(bins: NumericBinning | CategoricalBinning, column: pl.Series) -> np.ndarray:
    if isinstance(bins, NumericBinning):
        values = column.cast(pl.Float64()).to_numpy()  # nulls arrive as NaN
        numeric: np.ndarray = woe_table(bins).take(bin_index(bins, values))
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


def _fit(woe: dict[str, np.ndarray], names: Sequence[str], bad: np.ndarray) -> Any:
    design = (
        sm.add_constant(np.column_stack([woe[n] for n in names]), has_constant="add")
        if names
        else np.ones((bad.size, 1))
    )
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return sm.Logit(bad.astype(float), design).fit(disp=0, method="newton", maxiter=100)


def _select(
    woe: dict[str, np.ndarray],
    ivs: dict[str, float],
    bad: np.ndarray,
    options: TrainingOptions,
    progress: Progress,
) -> tuple[list[str], list[Dropped], object]:
    dropped: list[Dropped] = []
    names = sorted(ivs, key=lambda n: (-ivs[n], n))
    kept: list[str] = []
    for name in names:
        if ivs[name] < options.min_information_value:
            dropped.append(
                Dropped(
                    feature=name,
                    reason=f"information value {ivs[name]:.4f} is below {options.min_information_value} (no useful, monotone relation to default)",
                )
            )
            continue
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
                    reason=f"collinear with {partner} (correlation {r:.2f} above {options.max_correlation}), which has the higher information value",
                )
            )
            continue
        kept.append(name)
    progress(f"{len(kept)} features pass information value and correlation checks")
    while len(kept) > 1:
        design = sm.add_constant(np.column_stack([woe[n] for n in kept]), has_constant="add")
        vifs = [variance_inflation_factor(design, i + 1) for i in range(len(kept))]
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
    while True:
        result = _fit(woe, kept, bad)
        coefficients = np.asarray(result.params)[1:]
        p_values = np.asarray(result.pvalues)[1:]
        # Drop one feature at a time and refit: first any wrong sign, then any weak one.
        if kept and coefficients.min() <= 0:
            worst = int(np.argmin(coefficients))
            reason = (
                f"fitted coefficient {coefficients[worst]:.3f} contradicts the direction of its "
                "bins (must be positive on the WoE scale)"
            )
        elif kept and p_values.max() > options.max_p_value:
            worst = int(np.argmax(p_values))
            reason = f"p-value {p_values[worst]:.3f} above {options.max_p_value}"
        else:
            progress(f"fitted logistic regression on {len(kept)} features")
            return kept, dropped, result
        dropped.append(Dropped(feature=kept.pop(worst), reason=reason))


def canonical_order(frame: pl.DataFrame, options: TrainingOptions) -> pl.DataFrame:
    """The rows sorted by their keys (id columns, then date), when the table has them."""
    keys = [c for c in (*options.exclude, options.date_column) if c and c in frame.columns]
    return frame.sort(keys, maintain_order=True) if keys else frame


def split(
    frame: pl.DataFrame, options: TrainingOptions
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Masks of the train, test and out-of-time rows of `frame` in canonical order:
    reproducible from the options (see `canonical_order`)."""
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
    rng = np.random.default_rng(options.seed)
    in_time = np.flatnonzero(~out_of_time)
    test = np.zeros(frame.height, dtype=bool)
    test[rng.permutation(in_time)[: round(options.test_share * in_time.size)]] = True
    return ~out_of_time & ~test, test, out_of_time


def options_of(model: Scorecard) -> TrainingOptions:
    """The split options a model was trained with, read back from its artifact."""
    recorded = model.training.split
    start = recorded.get("out_of_time_from")
    return TrainingOptions(
        target=model.training.target,
        date_column=recorded.get("date_column"),
        out_of_time=dt.date.fromisoformat(start) if start else None,
        test_share=float(recorded["test_share"]),
        seed=int(recorded["seed"]),
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

    Rows are first put in the order of their keys (the excluded id columns and the date
    column), so the same rows in any order give the same model, bit for bit.
    """
    frame = canonical_order(frame, options)
    bad = target_values(frame, options.target)
    train_rows, test, out_of_time = split(frame, options)
    if bad[train_rows].all() or not bad[train_rows].any():
        raise InputError(
            f"the training part has only one class of {options.target!r}; it needs goods and bads"
        )
    progress(
        f"split: {train_rows.sum():,} train, {test.sum():,} test, {out_of_time.sum():,} out of time"
    )

    names, dropped = _candidates(frame, options)
    training = frame.filter(pl.Series(train_rows))
    bins: dict[str, NumericBinning | CategoricalBinning] = {}
    sources: dict[str, str] = {}
    for name in names:
        bins[name], sources[name] = _bin(
            name, training.get_column(name), bad[train_rows], options.limits
        )
    progress(f"binned {len(names)} candidate features")
    woe = {n: _woe_column(bins[n], training.get_column(n)) for n in names}
    ivs = {n: _iv(bins[n]) for n in names}
    kept, dropped_now, result = _select(woe, ivs, bad[train_rows], options, progress)
    params = np.asarray(result.params)  # type: ignore[attr-defined]
    errors = np.asarray(result.bse)  # type: ignore[attr-defined]
    p_values = np.asarray(result.pvalues)  # type: ignore[attr-defined]
    features = tuple(
        ModelFeature(
            name=n,
            binning=bins[n],
            coefficient=float(params[i + 1]),
            std_error=float(errors[i + 1]),
            p_value=float(p_values[i + 1]),
            information_value=ivs[n],
            direction_source="registry" if sources[n] == "registry" else "data",
        )
        for i, n in enumerate(kept)
    )
    draft = Scorecard(
        intercept=float(params[0]),
        intercept_std_error=float(errors[0]),
        features=features,
        scaling=policy.scorecard,
        dropped=tuple(dropped + dropped_now),
        training=_placeholder_training(options, fingerprint, frame, policy_version),
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
    bands = baseline_bands(score_arrays_of(draft, policy, frame).score[train_rows])
    record = draft.training.model_copy(
        update={
            "score_distribution": ScoreDistribution(
                part="train", edges=bands.edges, shares=bands.shares
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
    options: TrainingOptions, fingerprint: str, frame: pl.DataFrame, policy_version: str
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
        },
        metrics={},
        calibration=(),
        hosmer_lemeshow={},
        policy_version=policy_version,
    )
