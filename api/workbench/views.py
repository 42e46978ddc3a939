"""What the workbench's decision page shows, built from a stored decision: the limit and how
it was built, the master scale, every rule evaluated, the features beside the industry's
figures, and the charts of sales against the industry band and of traffic.

Everything is recomputed from the decision's stored input with its recorded model and
rule set (as a replay is), so the page explains the very decision that was made.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

import polars as pl

from api.service import Service, VersionUnavailable, application_from_input
from api.store import StoredDecision
from underwriting.applications import prepare_with_cashflow
from underwriting.engine import limit_terms
from underwriting.features.registry import FEATURES
from underwriting.policy.limits import CONSTRAINTS
from underwriting.reports.charts import band_chart, bar_chart
from underwriting.reports.merchant import (
    PERIOD_DAYS,
    band_points,
    feature_value,
    sales_against_industry,
)

LIMIT_TERMS = {
    "multiple": "Grade multiple of base monthly sales",
    "capacity": "Repayment capacity (holdback of stressed daily sales over the term, net of the fee)",
    "industry_max": "Industry maximum",
    "programme_max": "Programme maximum",
    "rule_cap": "Limit caps that fired",
}
assert set(LIMIT_TERMS) == set(CONSTRAINTS)


@dataclass(frozen=True)
class LimitTerm:
    name: str
    label: str
    amount: float | None
    binding: bool


@dataclass(frozen=True)
class LimitBuild:
    """How the limit was built: the base sales, each ceiling, the smallest, existing
    exposure, headroom and the rounding to the loan unit."""

    base_sales: float
    terms: list[LimitTerm]
    ceiling: float
    existing_exposure: float
    headroom: float
    limit: int
    loan_unit: int
    min_loan: int
    caps_fired: list[str]
    declined: bool


@dataclass(frozen=True)
class RuleRow:
    id: str
    kind: str
    reason: str
    fired: bool


@dataclass(frozen=True)
class FeatureRow:
    group: str
    name: str
    value: str
    unit: str
    industry: str
    meaning: str


@dataclass(frozen=True)
class GradeRow:
    grade: str
    pd_from: float
    pd_to: float
    this: bool
    model: bool


@dataclass(frozen=True)
class DecisionPage:
    """Everything the decision page shows beyond the stored decision itself; `problem`
    says why the rest is missing when the recorded versions are no longer on disk."""

    limit: LimitBuild | None
    rules: list[RuleRow]
    features: list[FeatureRow]
    scale: list[GradeRow]
    sales_chart: str
    traffic_chart: str
    industry: str
    problem: str | None = None


def _shown(value: object, unit: str) -> str:
    if isinstance(value, int) and not isinstance(value, bool):
        return f"{value:,}"
    return feature_value(value, unit, missing="—")


def decision_page(service: Service, stored: StoredDecision) -> DecisionPage:
    """The decision page's figures for a stored decision (see the module's docstring)."""
    recorded = stored.decision
    try:
        engine = service.engine_for(recorded["model_version"], recorded["rule_set_version"])
    except VersionUnavailable as error:
        return DecisionPage(None, [], [], [], "", "", "", f"cannot explain: {error}")
    application, benchmark_frame = application_from_input(stored.input)
    prepared, cashflow = prepare_with_cashflow(application, benchmark_frame)
    features = prepared.features
    row = features.row(0, named=True)
    benchmark = benchmark_frame.row(0, named=True)
    built = limit_terms(engine.model, engine.rules, features).row(0, named=True)
    limits = engine.rules.policy.limits
    assert limits is not None  # a rule set without limits never decided
    terms = [
        LimitTerm(
            name,
            LIMIT_TERMS[name],
            built[f"ceiling_{name}"],
            built["binding_constraint"] == name,
        )
        for name in CONSTRAINTS
    ]
    limit = LimitBuild(
        base_sales=built["base_sales"],
        terms=terms,
        ceiling=built["ceiling"],
        existing_exposure=built["existing_exposure"],
        headroom=built["headroom"],
        limit=int(built["limit"]),
        loan_unit=limits.loan_unit,
        min_loan=limits.min_loan,
        caps_fired=list(built["caps_fired"]),
        declined=recorded["outcome"] == "decline",
    )
    fired = set(recorded["rules_fired"])
    rules = [RuleRow(r.id, r.kind, r.reason, r.id in fired) for r in engine.rules.in_precedence]
    by_name = {f.name: f for f in FEATURES}
    feature_rows = []
    for feature in FEATURES:
        if feature.context:
            continue
        industry = ""
        if feature.benchmark is not None:
            industry = _shown(row.get(feature.benchmark), by_name[feature.benchmark].unit)
        feature_rows.append(
            FeatureRow(
                feature.group,
                feature.name,
                _shown(row.get(feature.name), feature.unit),
                feature.unit,
                industry,
                feature.meaning,
            )
        )
    scale, low = [], 0.0
    for band in engine.rules.policy.master_scale:
        scale.append(
            GradeRow(
                band.grade,
                low,
                band.pd_max,
                band.grade == recorded["grade"],
                band.grade == recorded["model_grade"],
            )
        )
        low = band.pd_max
    as_of = dt.date.fromisoformat(str(recorded["as_of"]))
    periods = sales_against_industry(cashflow.lazy(), benchmark, as_of)
    sales_chart = band_chart(
        band_points(periods),
        title=f"30-day sales against {benchmark['industry_name']} (quartiles, seasonally adjusted)",
        series_name=f"merchant {recorded['merchant_id']}",
        band_name="industry middle half (dashed: median)",
        width=760,
    )
    return DecisionPage(
        limit,
        rules,
        feature_rows,
        scale,
        sales_chart,
        traffic_chart(application.traffic, as_of),
        f"{benchmark['industry_name']} ({benchmark['industry_code']})",
    )


def traffic_chart(traffic: pl.DataFrame, as_of: dt.date, periods: int = 12) -> str:
    """Visits and conversion (orders over visits) over the last `periods` 30-day periods,
    as two bar charts; a sentence when the merchant reports no traffic."""
    age = (pl.lit(as_of) - pl.col("date")).dt.total_days()
    recent = traffic.filter(pl.col("date") < as_of).with_columns(age.alias("age"))
    recent = recent.filter(pl.col("age") <= periods * PERIOD_DAYS)
    if recent.is_empty():
        return "<p>The merchant reports no shop traffic.</p>"
    sums = (
        recent.group_by(((pl.col("age") - 1) // PERIOD_DAYS).alias("period"))
        .agg(pl.col("visits").sum(), pl.col("orders").sum())
        .sort("period", descending=True)
    )
    labels = [
        (as_of - dt.timedelta(days=(int(p) + 1) * PERIOD_DAYS)).strftime("%b %y")
        for p in sums["period"]
    ]
    visits = [float(v) for v in sums["visits"]]
    conversion = [o / v if v else 0.0 for o, v in zip(sums["orders"], sums["visits"], strict=True)]
    width = max(420, 46 * len(labels) + 80)
    return bar_chart(
        labels,
        [("visits", visits, "#3182bd")],
        title="Visits per 30 days",
        y_label="visits",
        width=width,
    ) + bar_chart(
        labels,
        [("conversion", conversion, "#d95f0e")],
        title="Conversion (orders over visits)",
        y_label="orders over visits",
        percent=True,
        width=width,
    )
