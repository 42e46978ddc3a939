"""Matured cohorts decided again for a validation: the merchants whose 12-month outcome
window has closed, decided by the model and rules under test as of their own application
dates, beside the defaults that came in.

A cohort is the merchants of one application date in the outcomes table; it has matured
on a date `on` when its outcome window (12 months from the application) has closed by
then. Features are computed as at each application (later daily rows set aside unread),
chunk by chunk in bounded memory, with the same `Engine.decide_frame` as every decision.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from dataclasses import dataclass, replace
from pathlib import Path

import polars as pl

from underwriting.batch.feature_table import chunk_features, in_range
from underwriting.contract.tables import OUTCOMES
from underwriting.engine import Engine
from underwriting.errors import InputError
from underwriting.io.data_folder import OUTCOME_DATES, Book, DataFolder, TableCount, add_counts

WINDOW_MONTHS = 12
DECISION_COLUMNS = (
    "merchant_id", "as_of", "outcome", "limit", "grade", "pd_12m", "score",
    "reason_codes", "rules_fired", "model_version", "rule_set_version",
)  # fmt: skip


class NoMaturedCohort(InputError):
    """No cohort's outcome window has closed by the validation date."""


def window_closed(application: dt.date) -> dt.date:
    """The day an application's 12-month outcome window closes (28 February for a
    29 February application)."""
    year = application.year + WINDOW_MONTHS // 12
    try:
        return application.replace(year=year)
    except ValueError:
        return application.replace(year=year, day=28)


@dataclass(frozen=True)
class MaturedBook:
    """The matured merchants' decisions beside their outcomes, and what was read."""

    on: dt.date
    cohorts: pl.DataFrame
    """Every cohort of the outcomes table: as_of, merchants, defaults, closes, matured."""
    decisions: pl.DataFrame
    """`DECISION_COLUMNS` plus defaulted_12m and industry_code, one row per matured
    application."""
    features: pl.DataFrame
    """merchant_id, as_of and the model's features of the same rows."""
    counts: dict[str, TableCount]
    quarantined: int


def cohorts(outcomes: pl.DataFrame, on: dt.date) -> pl.DataFrame:
    """The outcomes table's cohorts: application date, merchants, defaults, the day the
    window closes and whether it has by `on`."""
    table = (
        outcomes.group_by("as_of")
        .agg(pl.len().alias("merchants"), pl.col("defaulted_12m").sum().alias("defaults"))
        .sort("as_of")
    )
    closes = [window_closed(d) for d in table.get_column("as_of").to_list()]
    return table.with_columns(
        pl.Series("closes", closes, pl.Date()),
        pl.Series("matured", [c <= on for c in closes], pl.Boolean()),
    )


def _none_matured(found: pl.DataFrame, on: dt.date, source: Path) -> NoMaturedCohort:
    if found.is_empty():
        return NoMaturedCohort(
            f"{source} holds no outcomes: a validation needs the outcomes of applications "
            "whose 12-month window has closed; add an outcomes table (merchant_id, as_of, "
            "defaulted_12m)"
        )
    listed = ", ".join(f"{a} (closes {c})" for a, c in found.select("as_of", "closes").iter_rows())
    first = min(found.get_column("closes").to_list())
    return NoMaturedCohort(
        f"no cohort of {source} has matured by {on}: its applications' 12-month outcome "
        f"windows close later ({listed}). Validate on a date on or after {first} "
        f"(--on {first}), or give data with older applications"
    )


def _one_date_if_so(book: Book, lo: str | None, hi: str | None) -> Book:
    """The book as of one date for the chunk [lo, hi) when every merchant of the chunk
    applied once, on the same date (a single cohort): the same features, on the faster
    path of a book as of one date; else the book as it is, as of each application."""
    assert isinstance(book.as_of, pl.DataFrame)
    ids = book.merchants.filter(in_range(lo, hi, book.merchants.schema)).get_column("merchant_id")
    applications = book.as_of.filter(pl.col("merchant_id").is_in(ids.implode()))
    dates = applications.get_column("as_of").unique()
    if (
        dates.len() == 1
        and applications.height == ids.len()
        and applications.get_column("merchant_id").n_unique() == ids.len()
    ):
        return replace(book, as_of=dates[0])
    return book


def decide_matured(
    data_dir: Path,
    engine: Engine,
    on: dt.date,
    *,
    chunk_merchants: int = 50_000,
    progress: Callable[[int], object] | None = None,
) -> MaturedBook:
    """Decide every matured application of `data_dir` (see the module) with `engine`.
    Raises NoMaturedCohort when none has matured by `on`."""
    folder = DataFolder(data_dir)
    if folder.scan(OUTCOMES) is None:
        raise _none_matured(pl.DataFrame(), on, data_dir)
    book = folder.open_book(OUTCOME_DATES)
    assert isinstance(book.as_of, pl.DataFrame)
    found = cohorts(book.as_of, on)
    matured_dates = found.filter("matured").get_column("as_of")
    if matured_dates.is_empty():
        raise _none_matured(found, on, data_dir)
    applications = book.as_of.filter(pl.col("as_of").is_in(matured_dates.implode()))
    book = replace(book, as_of=applications)
    counts: dict[str, TableCount] = {}
    add_counts(counts, book.counts)
    quarantined = book.quarantine.height
    model_columns = [f.name for f in engine.model.features]
    decided, features = [], []
    for lo, hi in book.ranges(chunk_merchants):
        chunk = chunk_features(_one_date_if_so(book, lo, hi), lo, hi)
        add_counts(counts, chunk.counts)
        quarantined += chunk.quarantine.height
        decisions = engine.decide_frame(chunk.features, words=False).select(DECISION_COLUMNS)
        outcomes = decisions.select("merchant_id", "as_of").join(
            applications, on=["merchant_id", "as_of"], how="left", maintain_order="left"
        )
        decided.append(
            pl.concat(
                [
                    decisions,
                    outcomes.select("defaulted_12m"),
                    chunk.features.select("industry_code"),
                ],
                how="horizontal",
            )
        )
        features.append(chunk.features.select("merchant_id", "as_of", *model_columns))
        if progress is not None:
            progress(chunk.merchants)
    return MaturedBook(on, found, pl.concat(decided), pl.concat(features), counts, quarantined)
