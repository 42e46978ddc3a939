"""Principal reasons in plain words, for an adverse-action notice.

Each reason names the feature in the registry's words, the merchant's value in its unit,
and the band of values that would have scored best, e.g. "Chargebacks as a share of gross
sales over the last 365 days: 1.10%; the best band is below 0.21%".
"""

from __future__ import annotations

import math
from collections.abc import Collection, Mapping
from functools import cache

import numpy as np
import polars as pl

from underwriting.columns.token_lists import enum_values, lists_of
from underwriting.features.registry import FEATURES_BY_NAME
from underwriting.model.artifact import ModelFeature, NumericBinning, Scorecard
from underwriting.model.binning import OTHER
from underwriting.model.scoring import MAX_REASONS


def _unit(feature: str) -> str:
    known = FEATURES_BY_NAME.get(feature)
    return known.unit if known else ""


def feature_meaning(feature: str) -> str:
    """What a feature measures, as the start of a sentence."""
    known = FEATURES_BY_NAME.get(feature)
    text = known.meaning if known else feature.replace("_", " ")
    return text[0].upper() + text[1:]


def format_value(value: float, unit: str) -> str:
    """A number as a person reads it in its unit (never in scientific notation)."""
    if unit == "share":
        return f"{value:.2%}"
    if unit == "currency":
        return f"{value:,.2f}"
    if unit in {"days", "months", "visits", "tier"}:
        return f"{value:,.0f}"
    return plain_number(value)


def plain_number(value: float) -> str:
    """Three significant digits, thousands separated, no exponent: 280,000; 1.25; 0.00312."""
    if not math.isfinite(value):
        return "no data"
    size = abs(value)
    if size >= 100 or value == 0:
        return f"{value:,.0f}"
    decimals = 2 - math.floor(math.log10(size))
    return f"{value:,.{decimals}f}".rstrip("0").rstrip(".")


def best_band(feature: ModelFeature) -> str:
    """The values of the feature's best-scoring bin, in words."""
    binning = feature.binning
    best = min(range(len(binning.woe)), key=lambda i: (binning.woe[i], i))
    if isinstance(binning, NumericBinning):
        unit = _unit(feature.name)
        edges = binning.edges
        if not edges:
            return "any value"
        if best == 0:
            return f"below {format_value(edges[0], unit)}"
        if best == len(edges):
            return f"{format_value(edges[-1], unit)} or more"
        return (
            f"from {format_value(edges[best - 1], unit)} to below {format_value(edges[best], unit)}"
        )
    category = binning.categories[best]
    return "another value" if category == OTHER else category


def _value_text(feature: str, numeric: bool) -> pl.Expr:
    column = pl.col(feature)
    if not numeric:
        return column.cast(pl.String()).fill_null("not given")
    unit = _unit(feature)
    number = column.cast(pl.Float64())
    if unit == "share":
        shown = pl.format("{}%", (number * 100).round(2))
    elif unit in {"days", "months", "visits", "tier"}:
        shown = number.round(0).cast(pl.Int64()).cast(pl.String())
    elif feature in FEATURES_BY_NAME:
        shown = number.round(4).cast(pl.String())
    else:  # a table that is not ours: numbers as people read them (row by row)
        shown = number.map_elements(plain_number, return_dtype=pl.String(), skip_nulls=True)
    return pl.when(number.is_null() | number.is_nan()).then(pl.lit("no data")).otherwise(shown)


def columns_needed(model: Scorecard) -> list[str]:
    """The feature columns `reason_texts` reads: the model's, and their industry figures."""
    names = [f.name for f in model.features]
    benchmarks = [
        FEATURES_BY_NAME[n].benchmark
        for n in names
        if n in FEATURES_BY_NAME and FEATURES_BY_NAME[n].benchmark
    ]
    return list(dict.fromkeys([*names, *(b for b in benchmarks if b)]))


def _quoted_benchmark(available: Collection[str] | None, feature: str) -> str | None:
    """The industry figure the feature's sentence quotes: the one the registry names, if
    the frame holds it (`available` None: assume it does)."""
    known = FEATURES_BY_NAME.get(feature)
    if known is None or known.benchmark is None:
        return None
    return known.benchmark if available is None or known.benchmark in available else None


@cache  # immutable; building it costs more than forming it for one merchant
def _sentence(feature: str, numeric: bool, best: str, benchmark: str | None) -> pl.Expr:
    """A model feature's sentence for a row, named after the feature."""
    text = pl.format(
        "{}: {}; the best band is {}"
        if numeric
        else "{}: {}; {} with this value default more often than with {}",
        *(
            (pl.lit(feature_meaning(feature)), _value_text(feature, numeric), pl.lit(best))
            if numeric
            else (
                pl.lit(feature_meaning(feature)),
                _value_text(feature, numeric),
                pl.lit("merchants" if feature in FEATURES_BY_NAME else "applicants"),
                pl.lit(best),
            )
        ),
    )
    if benchmark is not None:
        quoted = FEATURES_BY_NAME[benchmark]
        figure = pl.col(benchmark).cast(pl.Float64())
        shown = (
            figure.round(2).cast(pl.String())
            if quoted.unit == "currency"
            else pl.format("{}%", (figure * 100).round(1))
        )
        text = pl.format("{}; {} is {}", text, pl.lit(quoted.meaning), shown)
    return text.alias(feature)


def _sentences(model: Scorecard, available: Collection[str] | None) -> list[pl.Expr]:
    """Each model feature's sentence for a row, named after the feature."""
    return [
        _sentence(
            f.name,
            isinstance(f.binning, NumericBinning),
            best_band(f),
            _quoted_benchmark(available, f.name),
        )
        for f in model.features
    ]


def reason_texts(
    codes: pl.Series,
    frame: pl.DataFrame,
    model: Scorecard,
    available: Collection[str] | None = None,
    fixed: Mapping[str, str] | None = None,
) -> pl.Series:
    """Each row's reason codes (a list column, the first four of each) as sentences.

    A model feature's name reads as that feature's sentence for the row, from `frame`
    (same rows in the same order, holding the model's feature columns and the industry
    figures, `industry_median_*`, the registry quotes beside them); a code in `fixed`
    (rule reason codes) reads as the sentence given there. Other codes, and a sentence
    that cannot be formed (a null), are left out. Each feature's sentence is formatted
    once per row in one select; the reasons then only pick among them.
    """
    names = [f.name for f in model.features]
    words = tuple(dict.fromkeys([*names, *(fixed or {})]))  # a feature's name reads as it
    rows = frame.height
    if codes.len() != rows:
        raise ValueError(f"{codes.len()} rows of reason codes for {rows} rows of features")
    lists = codes.cast(pl.List(pl.String())).rechunk().to_arrow()
    spans = np.where(lists.is_null().to_numpy(zero_copy_only=False), 0, np.diff(lists.offsets))
    row = np.repeat(np.arange(rows), spans)
    slot = np.arange(row.size) - np.repeat(np.cumsum(spans) - spans, spans)
    found = pl.Series(lists.flatten()).cast(enum_values(words).dtype, strict=False)
    position = found.to_physical().to_numpy().astype(np.float64)  # unknown codes: NaN
    kept = (slot < MAX_REASONS) & ~np.isnan(position)
    row, where = row[kept], position[kept].astype(np.int64)
    # One column of every sentence: each feature's for every row, then the fixed ones.
    sentences = list(frame.select(_sentences(model, available)).iter_columns())
    extra = pl.Series("", [fixed[w] for w in words[len(names) :]] if fixed else [], pl.String())
    pool = pl.concat([*sentences, extra]) if sentences else extra
    values = pool.gather(
        np.where(where < len(names), where * rows + row, len(names) * rows + where - len(names))
    )
    if values.null_count():
        formed = values.is_not_null().to_numpy()
        row, values = row[formed], values.filter(formed)
    return lists_of(np.bincount(row, minlength=rows), values)


def with_reason_texts(
    frame: pl.DataFrame,
    model: Scorecard,
    reasons: str,
    out: str,
    available: Collection[str] | None = None,
    fixed: Mapping[str, str] | None = None,
) -> pl.DataFrame:
    """`frame` with a column `out`: its list column `reasons` as sentences (see
    `reason_texts`)."""
    texts = reason_texts(frame.get_column(reasons), frame, model, available, fixed)
    return frame.with_columns(texts.alias(out))
