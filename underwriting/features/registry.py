"""The feature registry: every feature's name, unit, meaning and expected direction.

Docs, model checks and reason texts all read this one table. `direction` is the effect
credit policy expects on risk: "riskier" means a higher value must never lower the PD,
"safer" means a higher value must never raise it, None means no monotone expectation.
`scaling` says how the feature responds when every sales figure of a merchant is
multiplied by k > 0: "sales" features scale by k, "invariant" ones do not change,
"other" ones change in another way (log ratios shift by ln k; exposure ratios by 1/k).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

import polars as pl

Direction = Literal["riskier", "safer"] | None
Scaling = Literal["sales", "invariant", "other"]
Group = Literal["cash flow", "traffic", "industry", "exposure", "data quality", "profile"]


@dataclass(frozen=True)
class Feature:
    """One model input: what it is called, measured in, and means."""

    name: str
    unit: str
    meaning: str
    group: Group
    dtype: pl.DataType
    direction: Direction
    scaling: Scaling
    benchmark: str | None = None
    """The feature holding the industry's comparable figure, quoted beside this one's value."""
    context: bool = False
    """Context for people (an industry figure), not a candidate for the model."""


def _f(
    name: str,
    unit: str,
    meaning: str,
    group: Group,
    direction: Direction,
    scaling: Scaling,
    dtype: pl.DataType | None = None,
    *,
    benchmark: str | None = None,
    context: bool = False,
) -> Feature:
    return Feature(
        name, unit, meaning, group, dtype or pl.Float64(), direction, scaling, benchmark, context
    )


FEATURES: tuple[Feature, ...] = (
    # Profile
    _f(
        "industry_code",
        "code",
        "industry (MCC) code of the merchant",
        "profile",
        None,
        "invariant",
        pl.String(),
    ),
    _f("region", "code", "sales region of the merchant", "profile", None, "invariant", pl.String()),
    _f(
        "tenure_days",
        "days",
        "days since the merchant was onboarded",
        "profile",
        "safer",
        "invariant",
        pl.Int64(),
    ),
    # Cash flow
    _f("sales_30d", "currency", "gross sales in the last 30 days", "cash flow", "safer", "sales"),
    _f(
        "sales_90d",
        "currency",
        "gross sales in the last 90 days",
        "cash flow",
        "safer",
        "sales",
        benchmark="industry_median_monthly_sales",
    ),
    _f("sales_365d", "currency", "gross sales in the last 365 days", "cash flow", "safer", "sales"),
    _f(
        "avg_monthly_sales",
        "currency",
        "average gross sales per month over the last year of history (a month being 365/12 days)",
        "cash flow",
        "safer",
        "sales",
        benchmark="industry_median_monthly_sales",
    ),
    _f(
        "growth_yoy",
        "ratio",
        "sales of the last 90 days against the same 90 days a year earlier, minus 1",
        "cash flow",
        "safer",
        "invariant",
        benchmark="industry_median_growth",
    ),
    _f(
        "growth_qoq",
        "ratio",
        "sales of the last 90 days against the 90 days before, minus 1",
        "cash flow",
        "safer",
        "invariant",
    ),
    _f(
        "sales_volatility",
        "ratio",
        "coefficient of variation of 30-day sales over the last 12 months",
        "cash flow",
        "riskier",
        "invariant",
        benchmark="industry_median_volatility",
    ),
    _f(
        "zero_sales_share",
        "share",
        "share of days in the last year of history with no sales",
        "cash flow",
        "riskier",
        "invariant",
    ),
    _f(
        "max_monthly_drop",
        "share",
        "largest fall of 30-day sales from one 30-day period to the next over the last 12 months",
        "cash flow",
        "riskier",
        "invariant",
    ),
    _f(
        "refund_ratio",
        "share",
        "refunds as a share of gross sales over the last 365 days",
        "cash flow",
        "riskier",
        "invariant",
    ),
    _f(
        "chargeback_ratio",
        "share",
        "chargebacks as a share of gross sales over the last 365 days",
        "cash flow",
        "riskier",
        "invariant",
    ),
    _f(
        "avg_ticket",
        "currency",
        "average sale per transaction over the last 365 days",
        "cash flow",
        None,
        "sales",
    ),
    _f(
        "months_with_data",
        "months",
        "number of the last 12 30-day periods with any sales record",
        "data quality",
        "safer",
        "invariant",
        pl.Int64(),
    ),
    # Traffic
    _f(
        "has_traffic",
        "flag",
        "true when shop traffic data exist for the last 90 days",
        "traffic",
        None,
        "invariant",
        pl.Boolean(),
    ),
    _f(
        "visits_30d",
        "visits",
        "shop visits in the last 30 days",
        "traffic",
        "safer",
        "invariant",
        pl.Int64(),
    ),
    _f(
        "visit_trend",
        "ratio",
        "visits of the last 90 days against the 90 days before, minus 1",
        "traffic",
        "safer",
        "invariant",
    ),
    _f(
        "conversion_rate",
        "share",
        "orders per visit over the last 90 days",
        "traffic",
        "safer",
        "invariant",
    ),
    _f(
        "conversion_trend",
        "points",
        "change in conversion rate against the 90 days before (share points)",
        "traffic",
        "safer",
        "invariant",
    ),
    # Against the industry
    _f(
        "sales_vs_industry",
        "log ratio",
        "natural log of average monthly sales over the industry median (sales floored at 1)",
        "industry",
        "safer",
        "other",
        benchmark="industry_median_monthly_sales",
    ),
    _f(
        "sales_industry_percentile",
        "share",
        "where average monthly sales sit in the industry distribution (0 to 1, interpolated between quartiles)",
        "industry",
        "safer",
        "other",
        benchmark="industry_median_monthly_sales",
    ),
    _f(
        "growth_vs_industry",
        "ratio",
        "year-on-year growth minus the industry median growth",
        "industry",
        "safer",
        "invariant",
        benchmark="industry_median_growth",
    ),
    _f(
        "volatility_vs_industry",
        "ratio",
        "sales volatility over the industry median volatility",
        "industry",
        "riskier",
        "invariant",
        benchmark="industry_median_volatility",
    ),
    _f(
        "seasonal_adj_trend",
        "ratio",
        "last 90 days against the 90 days before, each divided by the industry seasonal index, minus 1",
        "industry",
        "safer",
        "invariant",
    ),
    _f(
        "industry_default_rate",
        "share",
        "historical 12-month default rate of the industry",
        "industry",
        "riskier",
        "invariant",
    ),
    _f(
        "industry_risk_tier",
        "tier",
        "risk tier of the industry, 1 (lowest) to 5 (highest)",
        "industry",
        "riskier",
        "invariant",
        pl.Int64(),
    ),
    _f(
        "industry_allowed",
        "flag",
        "whether the lender lends to the merchant's industry at all",
        "industry",
        None,
        "invariant",
        pl.Boolean(),
    ),
    _f(
        "industry_median_monthly_sales",
        "currency",
        "median average monthly sales of the merchant's industry",
        "industry",
        None,
        "invariant",
        context=True,
    ),
    _f(
        "industry_median_growth",
        "ratio",
        "median year-on-year growth of the merchant's industry",
        "industry",
        None,
        "invariant",
        context=True,
    ),
    _f(
        "industry_median_volatility",
        "ratio",
        "median sales volatility of the merchant's industry",
        "industry",
        None,
        "invariant",
        context=True,
    ),
    _f(
        "industry_max_limit",
        "currency",
        "largest advance the lender makes to the merchant's industry",
        "industry",
        None,
        "invariant",
        context=True,
    ),
    # Exposure
    _f(
        "existing_exposure",
        "currency",
        "credit the merchant already owes",
        "exposure",
        "riskier",
        "other",
    ),
    _f(
        "exposure_to_monthly_sales",
        "ratio",
        "existing exposure over average monthly sales",
        "exposure",
        "riskier",
        "other",
    ),
    _f("requested_amount", "currency", "loan amount requested, if any", "exposure", None, "other"),
    _f(
        "requested_to_monthly_sales",
        "ratio",
        "requested amount over average monthly sales",
        "exposure",
        "riskier",
        "other",
    ),
    # Data quality
    _f(
        "cashflow_days",
        "days",
        "number of daily cash-flow records before the as-of date",
        "data quality",
        None,
        "invariant",
        pl.Int64(),
    ),
    _f(
        "traffic_days",
        "days",
        "number of daily traffic records before the as-of date",
        "data quality",
        None,
        "invariant",
        pl.Int64(),
    ),
    _f(
        "days_of_history",
        "days",
        "days between the first sales record and the as-of date",
        "data quality",
        "safer",
        "invariant",
        pl.Int64(),
    ),
)

FEATURES_BY_NAME: dict[str, Feature] = {f.name: f for f in FEATURES}
KEY_COLUMNS: tuple[str, ...] = ("merchant_id", "as_of")


def feature_schema() -> pl.Schema:
    """The schema of the feature table: the keys, then every registered feature."""
    return pl.Schema(
        {"merchant_id": pl.String(), "as_of": pl.Date(), **{f.name: f.dtype for f in FEATURES}}
    )


def markdown_table() -> str:
    """The registry as a Markdown table, for docs/features.md."""
    lines = [
        "| feature | group | unit | direction | meaning |",
        "|---|---|---|---|---|",
    ]
    for f in FEATURES:
        role = "context, not a model input" if f.context else f.direction or "—"
        lines.append(f"| `{f.name}` | {f.group} | {f.unit} | {role} | {f.meaning} |")
    return "\n".join(lines)
