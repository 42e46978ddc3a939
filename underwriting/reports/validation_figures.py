"""The validation pack's figures, computed from what was read: the matured cohorts'
decisions and outcomes, the model artifact's development figures, the officers' reviews,
earlier runs and the owners' answers. Pure; `validation_report` draws them, and
`as_json` writes them beside it.

Each section that cannot be computed says why in `notes` (no defaults among the matured,
a model without development figures, no owners table) instead of failing the pack.
"""

from __future__ import annotations

import datetime as dt
import math
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass, field
from typing import Any

import numpy as np
import polars as pl
from scipy.stats import beta

from underwriting.fairness import screen
from underwriting.fairness.owners import ATTRIBUTES
from underwriting.model.artifact import Scorecard
from underwriting.model.backtest import AucTest, auc_delong, grade_backtest, herfindahl
from underwriting.model.drift import (
    FeatureStability,
    ScoreBands,
    characteristic_stability,
)
from underwriting.model.metrics import ks
from underwriting.reports.run_figures import drift, list_counts

DEVELOPMENT_PARTS = ("out_of_time", "test", "train")
"""The development figures compared with, in order of preference: the most recent
held-out part first."""


@dataclass(frozen=True)
class RunRules:
    """One earlier run for the rule-firing table: its manifest and rules fired per merchant."""

    name: str
    manifest: Mapping[str, Any]
    decisions: pl.DataFrame
    """One row per merchant with `rules_fired` (a list of rule ids)."""


@dataclass
class ValidationFigures:
    """Everything the validation page shows; frames for tables, plain values else."""

    scope: dict[str, Any]
    cohorts: pl.DataFrame
    notes: dict[str, str] = field(default_factory=dict)
    discrimination: dict[str, Any] | None = None
    development: pl.DataFrame | None = None
    backtest: pl.DataFrame | None = None
    concentration: pl.DataFrame | None = None
    herfindahl: dict[str, float] = field(default_factory=dict)
    score_psi: dict[str, Any] | None = None
    features: pl.DataFrame | None = None
    overrides: pl.DataFrame | None = None
    override_reasons: pl.DataFrame | None = None
    override_versions: pl.DataFrame | None = None
    rule_firing: pl.DataFrame | None = None
    fairness: dict[str, pl.DataFrame] = field(default_factory=dict)
    without_owners: int = 0
    reasons: dict[str, str] = field(default_factory=dict)
    """Each reason code in words, for the decline reasons by group."""


def jeffreys_interval(defaults: int, obligors: int, level: float = 0.95) -> tuple[float, float]:
    """The Jeffreys interval of a default rate: the Beta(D + 1/2, N - D + 1/2) quantiles
    (0 below when D = 0 and 1 above when D = N, as usual)."""
    a, b = defaults + 0.5, obligors - defaults + 0.5
    tail = (1 - level) / 2
    low = 0.0 if defaults == 0 else float(beta.ppf(tail, a, b))
    high = 1.0 if defaults == obligors else float(beta.ppf(1 - tail, a, b))
    return low, high


def _discrimination(
    model: Scorecard, decisions: pl.DataFrame, notes: dict[str, str]
) -> tuple[dict[str, Any] | None, pl.DataFrame | None]:
    metrics = model.training.metrics
    development = (
        pl.DataFrame(
            [
                {"part": part, **asdict(metrics[part])}
                for part in DEVELOPMENT_PARTS
                if part in metrics
            ]
        )
        if metrics
        else None
    )
    reference_part = next((p for p in DEVELOPMENT_PARTS if p in metrics), None)
    if reference_part is None:
        notes["development"] = (
            f"model {model.version} records no development figures (its training metrics are "
            "empty), so the AUC, Gini and KS below are not compared with development; retrain "
            "it with `underwrite train` to record them"
        )
    pd_12m = decisions.get_column("pd_12m").to_numpy()
    bad = decisions.get_column("defaulted_12m").to_numpy().astype(bool)
    if bad.all() or not bad.any():
        notes["discrimination"] = (
            f"the {bad.size:,} matured applications hold "
            f"{'only defaults' if bad.any() else 'no default'}: the AUC, Gini and KS need both "
            "defaults and non-defaults"
        )
        return None, development
    reference = metrics[reference_part] if reference_part else None
    test: AucTest = auc_delong(pd_12m, bad, reference.auc if reference else None)
    found = {
        "obligors": int(bad.size),
        "defaults": int(bad.sum()),
        "auc": test.auc,
        "auc_se": test.se,
        "auc_low": test.low,
        "auc_high": test.high,
        "gini": test.gini,
        "gini_low": 2 * test.low - 1,
        "gini_high": 2 * test.high - 1,
        "ks": ks(pd_12m, bad),
        "reference_part": reference_part,
        "reference_auc": reference.auc if reference else None,
        "reference_gini": reference.gini if reference else None,
        "reference_ks": reference.ks if reference else None,
        "z": test.z,
        "p_value": test.p_value,
    }
    return found, development


def _backtest(decisions: pl.DataFrame, grades: Sequence[str]) -> pl.DataFrame:
    table = grade_backtest(
        decisions.select(
            pl.col("grade").cast(pl.String()), "pd_12m", pl.col("defaulted_12m").alias("defaulted")
        )
    )
    order = {g: i for i, g in enumerate([*grades, "book"])}
    intervals = [
        jeffreys_interval(int(d), int(n))
        for d, n in table.select("defaults", "obligors").iter_rows()
    ]
    return table.with_columns(
        pl.Series("low", [lo for lo, _ in intervals]),
        pl.Series("high", [hi for _, hi in intervals]),
    ).sort(pl.col("grade").replace_strict(order, default=len(order)))


def _concentration(
    decisions: pl.DataFrame, grades: Sequence[str]
) -> tuple[pl.DataFrame, dict[str, float]]:
    by_grade = (
        decisions.group_by(pl.col("grade").cast(pl.String()))
        .agg(
            pl.len().alias("obligors"),
            pl.col("limit").sum().alias("exposure"),
            (pl.col("limit") > 0).sum().alias("with_limit"),
        )
        .join(pl.DataFrame({"grade": list(grades)}), on="grade", how="right")
        .select("grade", "obligors", "with_limit", "exposure")
        .fill_null(0)
    )
    counts = by_grade.get_column("obligors").to_numpy()
    exposure = by_grade.get_column("exposure").to_numpy()
    indices = {
        "counts": herfindahl(counts),
        "exposure": herfindahl(exposure),
        "equal_grades": 1 / max(len(grades), 1),
    }
    total_n, total_e = max(counts.sum(), 1), max(exposure.sum(), 1)
    return (
        by_grade.with_columns(
            count_share=pl.col("obligors") / total_n, exposure_share=pl.col("exposure") / total_e
        ),
        indices,
    )


def _score_psi(
    model: Scorecard, decisions: pl.DataFrame, notes: dict[str, str]
) -> dict[str, Any] | None:
    recorded = model.training.score_distribution
    if recorded is None:
        notes["score_psi"] = (
            f"model {model.version} records no score distribution of its development data, so "
            "the score's PSI cannot be computed; retrain it with `underwrite train` to record one"
        )
        return None
    found = drift(
        f"development {recorded.part} scores",
        ScoreBands(recorded.edges, recorded.shares),
        decisions.get_column("score").to_numpy(),
    )
    return {
        "part": recorded.part,
        "edges": list(found.bands.edges),
        "development": list(found.bands.shares),
        "now": list(found.now),
        "index": found.index,
        "stability": found.stability,
    }


def _feature_stability(model: Scorecard, features: pl.DataFrame) -> pl.DataFrame:
    found: list[FeatureStability] = characteristic_stability(model, features)
    return pl.DataFrame(
        [
            {
                "feature": f.feature,
                "csi": f.index,
                "stability": f.stability,
                "development_missing": f.development_missing,
                "missing": f.missing,
            }
            for f in found
        ]
    )


def overrides(reviews: pl.DataFrame, grades: Sequence[str]) -> tuple[pl.DataFrame, pl.DataFrame]:
    """Per grade, the engine's referrals and the officers' reviews of them: approved at the
    engine's limit, approved with a cut or declined (low-side: less than the engine
    offered), approved above its limit (high-side); and the reasons given on each side.
    `reviews` has one row per referral: grade, engine_limit, and review_outcome,
    review_limit, reason (null while unreviewed)."""
    sided = reviews.with_columns(
        side=pl.when(pl.col("review_outcome").is_null())
        .then(pl.lit(None, pl.String()))
        .when(pl.col("review_outcome") == "decline")
        .then(pl.lit("low-side: declined"))
        .when(pl.col("review_limit") < pl.col("engine_limit"))
        .then(pl.lit("low-side: limit cut"))
        .when(pl.col("review_limit") > pl.col("engine_limit"))
        .then(pl.lit("high-side: above the engine's limit"))
        .otherwise(pl.lit("approved at the engine's limit"))
    )
    low = pl.col("side").str.starts_with("low-side")
    high = pl.col("side").str.starts_with("high-side")
    by_grade = (
        sided.group_by(pl.col("grade").cast(pl.String()))
        .agg(
            pl.len().alias("referrals"),
            pl.col("side").is_not_null().sum().alias("reviewed"),
            (pl.col("side") == "approved at the engine's limit").sum().alias("approved_in_full"),
            (pl.col("side") == "low-side: limit cut").sum().alias("cut"),
            (pl.col("side") == "low-side: declined").sum().alias("declined"),
            high.sum().alias("high_side"),
            low.sum().alias("low_side"),
        )
        .with_columns(  # null, not NaN, where nothing was reviewed
            low_side_rate=pl.when(pl.col("reviewed") > 0).then(
                pl.col("low_side") / pl.col("reviewed")
            ),
            high_side_rate=pl.when(pl.col("reviewed") > 0).then(
                pl.col("high_side") / pl.col("reviewed")
            ),
        )
    )
    order = {g: i for i, g in enumerate(grades)}
    by_grade = by_grade.sort(pl.col("grade").replace_strict(order, default=len(order)))
    reasons = (
        sided.filter(pl.col("side").is_not_null())
        .group_by("side", pl.col("reason").fill_null("(none given)"))
        .agg(pl.len().alias("reviews"))
        .sort(["side", "reviews", "reason"], descending=[False, True, False])
    )
    return by_grade, reasons


def referral_versions(reviews: pl.DataFrame) -> pl.DataFrame:
    """The referrals and reviews counted by the model and rule set that decided them (the
    store keeps every version's; the overrides above count them all)."""
    return (
        reviews.group_by("model_version", "rule_set_version")
        .agg(
            pl.len().alias("referrals"),
            pl.col("review_outcome").is_not_null().sum().alias("reviewed"),
        )
        .sort(["referrals", "model_version", "rule_set_version"], descending=[True, False, False])
    )


def rule_firing(runs: Sequence[RunRules]) -> pl.DataFrame:
    """Each rule's firing rate in each run (columns named by the runs), rules fired most
    in the last run first."""
    table: pl.DataFrame | None = None
    for run in runs:
        merchants = max(run.decisions.height, 1)
        rates = list_counts(run.decisions, "rules_fired", "rule", run.name).with_columns(
            pl.col(run.name) / merchants
        )
        table = rates if table is None else table.join(rates, on="rule", how="full", coalesce=True)
    if table is None:
        return pl.DataFrame({"rule": []}, schema={"rule": pl.String()})
    return table.fill_null(0.0).sort([runs[-1].name, "rule"], descending=[True, False])


def fairness(
    model: Scorecard,
    decisions: pl.DataFrame,
    features: pl.DataFrame | None,
    owners: pl.DataFrame,
) -> dict[str, pl.DataFrame]:
    """The fair-lending screen's tables (see `underwriting.fairness.screen`), each over every
    attribute; the proxies only when the model `features` are given."""
    rows = screen.screened(decisions, owners)
    found = {
        "adverse_impact": pl.concat([screen.adverse_impact(rows, a) for a in ATTRIBUTES]),
        "differences": pl.concat([screen.standardized_differences(rows, a) for a in ATTRIBUTES]),
        "decline_reasons": pl.concat([screen.decline_reasons(rows, a) for a in ATTRIBUTES]),
        "not_provided": pl.concat([screen.not_provided_effect(rows, a) for a in ATTRIBUTES]),
    }
    if features is not None:
        found["proxies"] = screen.proxy_associations(model, features, owners)
    return found


def validation_figures(
    *,
    model: Scorecard,
    reasons: dict[str, str],
    grades: Sequence[str],
    scope: dict[str, Any],
    cohorts: pl.DataFrame,
    decisions: pl.DataFrame,
    features: pl.DataFrame,
    reviews: pl.DataFrame | None,
    runs: Sequence[RunRules],
    owners: pl.DataFrame | None,
) -> ValidationFigures:
    """The pack's figures for the matured `decisions` (with `defaulted_12m`) and their
    model `features`; the reviews, runs and owners sections when given."""
    figures = ValidationFigures(scope, cohorts, reasons=reasons)
    notes = figures.notes
    figures.discrimination, figures.development = _discrimination(model, decisions, notes)
    figures.backtest = _backtest(decisions, grades)
    figures.concentration, figures.herfindahl = _concentration(decisions, grades)
    figures.score_psi = _score_psi(model, decisions, notes)
    figures.features = _feature_stability(model, features)
    if reviews is None:
        notes["overrides"] = (
            "no store given: the officers' overrides come from the API's database (--database URL)"
        )
    elif reviews.is_empty():
        notes["overrides"] = "the store holds no referrals, so no overrides to count"
    else:
        figures.overrides, figures.override_reasons = overrides(reviews, grades)
        figures.override_versions = referral_versions(reviews)
    if runs:
        figures.rule_firing = rule_firing(runs)
    else:
        notes["rule_firing"] = "no runs given: rule firing over time needs --runs RUN_DIR ..."
    if owners is None:
        notes["fairness"] = (
            "no owners table: the fair-lending screen needs the owners' self-reported "
            "demographics (--owners FILE, or owners.parquet in the data folder)"
        )
    else:
        figures.fairness = fairness(model, decisions, features, owners)
        figures.without_owners = screen.without_owners(decisions, owners)
    return figures


def json_ready(value: Any) -> Any:
    """`value` with dates as ISO text, numpy scalars as Python's, NaN and infinities as
    None, through dicts and lists: what strict JSON takes."""
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if isinstance(value, dt.date):
        return value.isoformat()
    if isinstance(value, dict):
        return {k: json_ready(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [json_ready(v) for v in value]
    if isinstance(value, np.generic):
        return json_ready(value.item())
    return value


def as_json(figures: ValidationFigures) -> dict[str, Any]:
    """The figures as plain JSON values (frames as lists of rows, NaN as null)."""
    body: dict[str, Any] = {}
    for name, value in vars(figures).items():
        if isinstance(value, pl.DataFrame):
            body[name] = value.to_dicts()
        elif (
            isinstance(value, dict)
            and value
            and isinstance(next(iter(value.values())), pl.DataFrame)
        ):
            body[name] = {k: v.to_dicts() for k, v in value.items()}
        else:
            body[name] = value
    plain: dict[str, Any] = json_ready(body)
    return plain
