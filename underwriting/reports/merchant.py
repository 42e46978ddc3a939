"""A one-merchant page for a person: monthly sales against the industry's quartile band,
and every feature with its unit and meaning. Pure: frames in, HTML text out."""

from __future__ import annotations

import datetime as dt
from html import escape
from typing import Any

import polars as pl

from underwriting.contract.tables import SEASONAL_INDEX_COLUMNS
from underwriting.contract.units import DAYS_PER_MONTH
from underwriting.features.registry import FEATURES
from underwriting.reports.charts import BandPoint, band_chart, html_page

PERIOD_DAYS = 30


def sales_against_industry(
    cashflow: pl.LazyFrame, benchmark: dict[str, Any], as_of: dt.date, periods: int = 24
) -> pl.DataFrame:
    """30-day sales of one merchant before `as_of`, oldest first, beside its industry's band.

    The band is the industry's quartiles of monthly sales, scaled to 30 days and by the
    seasonal index of the calendar month in the middle of each period. Only periods the
    merchant's history covers completely are returned.
    """
    age = (pl.lit(as_of) - pl.col("date")).dt.total_days()
    rows = cashflow.filter(pl.col("date") < as_of).with_columns(age.alias("age"))
    history = rows.select(pl.col("age").max()).collect().item() or 0
    observed = min(periods, history // PERIOD_DAYS)
    sums = (
        rows.filter(pl.col("age") <= observed * PERIOD_DAYS)
        .group_by(((pl.col("age") - 1) // PERIOD_DAYS).alias("period"))
        .agg(pl.col("gross_sales").sum().alias("sales"))
        .collect()
    )
    frame = pl.DataFrame(
        {"period": list(range(observed - 1, -1, -1))}, schema={"period": pl.Int64()}
    )
    frame = frame.join(sums.cast({"period": pl.Int64()}), on="period", how="left").with_columns(
        pl.col("sales").fill_null(0.0),
        (pl.lit(as_of) - pl.duration(days=(pl.col("period") + 1) * PERIOD_DAYS)).alias("start"),
    )
    seasonal = pl.DataFrame(
        {"month": range(1, 13), "index": [float(benchmark[c]) for c in SEASONAL_INDEX_COLUMNS]},
        schema={"month": pl.Int8(), "index": pl.Float64()},
    )
    middle_month = (pl.col("start") + pl.duration(days=PERIOD_DAYS // 2)).dt.month()
    scale = pl.col("index") * PERIOD_DAYS / DAYS_PER_MONTH
    return (
        frame.with_columns(middle_month.cast(pl.Int8()).alias("month"))
        .join(seasonal, on="month", how="left", maintain_order="left")
        .with_columns(
            (scale * benchmark["sales_q1"]).alias("industry_q1"),
            (scale * benchmark["median_monthly_sales"]).alias("industry_median"),
            (scale * benchmark["sales_q3"]).alias("industry_q3"),
        )
    ).select("start", "sales", "industry_q1", "industry_median", "industry_q3")


def band_points(periods: pl.DataFrame) -> list[BandPoint]:
    """The rows of `sales_against_industry` as points of a band chart."""
    return [
        BandPoint(
            label=row["start"].strftime("%b %y"),
            value=row["sales"],
            low=row["industry_q1"],
            middle=row["industry_median"],
            high=row["industry_q3"],
        )
        for row in periods.iter_rows(named=True)
    ]


def feature_value(value: object, unit: str, missing: str = "— (not computable)") -> str:
    """A feature's value as a person reads it, in its unit (plain text, not escaped)."""
    if value is None:
        return missing
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, float):
        if unit == "currency":
            return f"{value:,.2f}"
        if unit == "share":
            return f"{value:.2%}"
        return f"{value:,.4g}"
    return str(value)


def _value(value: object, unit: str) -> str:
    return escape(feature_value(value, unit))


def merchant_report(
    features: dict[str, Any],
    periods: pl.DataFrame,
    benchmark: dict[str, Any],
    quarantined: pl.DataFrame,
) -> str:
    """The page as one self-contained HTML document."""
    chart = band_chart(
        band_points(periods),
        title=f"30-day sales against {benchmark['industry_name']} (quartiles, seasonally adjusted)",
        series_name=f"merchant {features['merchant_id']}",
        band_name="industry middle half (dashed: median)",
    )
    rows = "\n".join(
        f"<tr><td>{f.group}</td><td><code>{f.name}</code></td>"
        f"<td class=num>{_value(features.get(f.name), f.unit)}</td><td>{escape(f.unit)}</td>"
        f"<td>{escape(f.meaning)}</td></tr>"
        for f in FEATURES
    )
    held = (
        "<p>No input row of this merchant was quarantined.</p>"
        if quarantined.is_empty()
        else "<table><tr><th>table</th><th>key</th><th>reason</th></tr>"
        + "".join(
            f"<tr><td>{escape(r['table'])}</td><td>{escape(r['key'])}</td><td>{escape(r['reason'])}</td></tr>"
            for r in quarantined.iter_rows(named=True)
        )
        + "</table>"
    )
    title = f"Merchant {features['merchant_id']} as of {features['as_of']}"
    body = f"""<h1>{escape(title)}</h1>
<p>{escape(benchmark["industry_name"])} ({escape(str(features["industry_code"]))}),
region {escape(str(features["region"]))}; {features["days_of_history"]} days of sales history.</p>
{chart}
<p class="note">Each point is the merchant's gross sales over a 30-day period ending before the
as-of date. The band is the industry's lower to upper quartile of monthly sales in the
lender's book, scaled to 30 days and by the industry's seasonal index for the month.</p>
<h2>Features</h2>
<table><tr><th>group</th><th>feature</th><th>value</th><th>unit</th><th>meaning</th></tr>
{rows}
</table>
<h2>Quarantined input</h2>
{held}"""
    return html_page(title, body)
