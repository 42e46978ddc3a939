"""Principal reasons in plain words, for an adverse-action notice.

Each reason names the feature in the registry's words, the merchant's value in its unit,
and the band of values that would have scored best, e.g. "Chargebacks as a share of gross
sales over the last 365 days: 1.10%; the best band is below 0.21%".
"""

from __future__ import annotations

from collections.abc import Collection, Mapping
from typing import TypeVar

import polars as pl

from underwriting.binning import OTHER
from underwriting.model import ModelFeature, NumericBinning, Scorecard
from underwriting.registry import FEATURES_BY_NAME

_NO_REASON = ""
Frame = TypeVar("Frame", pl.DataFrame, pl.LazyFrame)


def _unit(feature: str) -> str:
    known = FEATURES_BY_NAME.get(feature)
    return known.unit if known else ""


def feature_meaning(feature: str) -> str:
    """What a feature measures, as the start of a sentence."""
    known = FEATURES_BY_NAME.get(feature)
    text = known.meaning if known else feature.replace("_", " ")
    return text[0].upper() + text[1:]


def format_value(value: float, unit: str) -> str:
    """A number as a person reads it in its unit."""
    if unit == "share":
        return f"{value:.2%}"
    if unit == "currency":
        return f"{value:,.2f}"
    if unit in {"days", "months", "visits", "tier"}:
        return f"{value:,.0f}"
    return f"{value:,.3g}"


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


def _value_text(feature: ModelFeature) -> pl.Expr:
    column = pl.col(feature.name)
    if not isinstance(feature.binning, NumericBinning):
        return column.cast(pl.String()).fill_null("not given")
    unit = _unit(feature.name)
    number = column.cast(pl.Float64())
    if unit == "share":
        shown = pl.format("{}%", (number * 100).round(2))
    elif unit in {"days", "months", "visits", "tier"}:
        shown = number.round(0).cast(pl.Int64()).cast(pl.String())
    else:
        shown = number.round(4).cast(pl.String())
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


def _with_benchmark(available: Collection[str] | None, feature: str, text: pl.Expr) -> pl.Expr:
    """Append the industry's comparable figure, where the registry names one and the frame
    holds it (`available` None: assume it does)."""
    known = FEATURES_BY_NAME.get(feature)
    if known is None or known.benchmark is None:
        return text
    if available is not None and known.benchmark not in available:
        return text
    benchmark = FEATURES_BY_NAME[known.benchmark]
    figure = pl.col(benchmark.name).cast(pl.Float64())
    shown = (
        figure.round(2).cast(pl.String())
        if benchmark.unit == "currency"
        else pl.format("{}%", (figure * 100).round(1))
    )
    return pl.format("{}; {} is {}", text, pl.lit(benchmark.meaning), shown)


def with_reason_texts(
    frame: Frame,
    model: Scorecard,
    reasons: str,
    out: str,
    available: Collection[str] | None = None,
    fixed: Mapping[str, str] | None = None,
) -> Frame:
    """`frame` with a column `out`: the list of reason features in `reasons` as sentences.

    `frame` holds the model's feature columns and the industry figures (`industry_median_*`)
    that the registry quotes beside them. Each feature's sentence is formatted once per row;
    the four reason slots then only pick among them. Codes in `fixed` (rule reason codes)
    read as the sentence given there.
    """
    texts = {
        f"__text:{f.name}": _with_benchmark(
            available,
            f.name,
            pl.format(
                "{}: {}; the best band is {}"
                if isinstance(f.binning, NumericBinning)
                else "{}: {}; merchants with this value default more often than with {}",
                pl.lit(feature_meaning(f.name)),
                _value_text(f),
                pl.lit(best_band(f)),
            ),
        )
        for f in model.features
    }
    slots = {
        f"__slot:{k}": pl.col(reasons).list.get(k, null_on_oob=True).cast(pl.String())
        for k in range(4)
    }
    sentences = []
    for name in slots:
        slot = pl.col(name)
        sentence = slot.replace_strict(dict(fixed or {}), default=None, return_dtype=pl.String())
        for f in model.features:
            sentence = pl.when(slot == f.name).then(pl.col(f"__text:{f.name}")).otherwise(sentence)
        sentences.append(sentence)
    return (
        frame.with_columns(
            *(expression.alias(name) for name, expression in texts.items()),
            *(expression.alias(name) for name, expression in slots.items()),
        )
        .with_columns(pl.concat_list(sentences).list.drop_nulls().alias(out))
        .drop(*texts, *slots)
    )
