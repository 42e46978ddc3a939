"""Validate input rows against the contract (pure: lazy frames in, lazy frames out).

Validation is lazy and row-wise: every row either passes and is kept, typed to the
contract's schema, or goes to a quarantine frame that names its table, key, field(s) and
reason(s). Nothing is dropped silently: rows in = rows kept + rows quarantined.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from functools import cache, cached_property, lru_cache

import polars as pl

from underwriting.contract.tables import (
    MERCHANTS,
    AsOf,
    Column,
    Table,
)
from underwriting.errors import MissingColumnsError

QUARANTINE_SCHEMA = pl.Schema(
    {
        "table": pl.String(),
        "source": pl.String(),
        "merchant_id": pl.String(),
        "key": pl.String(),
        "field": pl.String(),
        "reason": pl.String(),
    }
)

_PROBLEMS = "__problems"
_TRUE_WORDS = {"true": True, "t": True, "1": True, "yes": True, "y": True}
_FALSE_WORDS = {"false": False, "f": False, "0": False, "no": False, "n": False}


@dataclass(frozen=True)
class ValidatedTable:
    """A table split into rows that passed (typed to the contract) and rows quarantined."""

    table: Table
    source: str
    kept: pl.LazyFrame
    quarantine: pl.LazyFrame
    after_as_of: pl.LazyFrame | None = None
    """Rows dated on or after the as-of date, set aside unread (`validate`'s
    `set_aside_later`); None when they are quarantined instead."""


@cache  # immutable expressions, built once per column and raw type
def _coerce(column: Column, raw_dtype: pl.DataType) -> pl.Expr:
    """An expression turning the raw column into the contract's type; null where it can't."""
    raw = pl.col(column.name)
    target = column.dtype
    if raw_dtype == target:
        return raw
    if raw_dtype == pl.String():
        text = raw.str.strip_chars()
        if target == pl.Date():
            return text.str.to_date("%Y-%m-%d", strict=False)
        if target == pl.Boolean():
            words = {**_TRUE_WORDS, **_FALSE_WORDS}
            return text.str.to_lowercase().replace_strict(
                words, default=None, return_dtype=pl.Boolean()
            )
        if target == pl.Int64():
            number = text.cast(pl.Float64(), strict=False)
            return pl.when(number == number.round(0)).then(number).cast(pl.Int64(), strict=False)
        return text.cast(target, strict=False)
    if target == pl.Int64() and raw_dtype.is_float():
        return pl.when(raw == raw.round(0)).then(raw).cast(pl.Int64(), strict=False)
    if target == pl.Date() and isinstance(raw_dtype, pl.Datetime):
        return raw.dt.date()
    return raw.cast(target, strict=False)


_TYPE_WORDS = {
    pl.String(): "text",
    pl.Float64(): "number",
    pl.Int64(): "whole number",
    pl.Boolean(): "true/false value",
    pl.Date(): "date in YYYY-MM-DD form",
}
_TYPE_EXAMPLES = {
    pl.String(): "M00000001",
    pl.Float64(): "1250.75",
    pl.Int64(): "42",
    pl.Boolean(): "true",
    pl.Date(): "2026-10-01",
}

_OP_WORDS = {"ge": "at least", "gt": "above", "le": "at most", "lt": "below"}


@dataclass(frozen=True)
class _Check:
    """A row-level check: the rows it fails and the message it gives them."""

    fails: pl.Expr
    message: pl.Expr

    @cached_property  # the cached checks' texts are built once, too
    def text(self) -> pl.Expr:
        """The message on rows that fail, null on the others."""
        return pl.when(self.fails).then(self.message)


def _problem(condition: pl.Expr, field: str, reason: pl.Expr | str) -> _Check:
    text = pl.lit(reason) if isinstance(reason, str) else reason
    return _Check(condition.fill_null(False), pl.concat_str(pl.lit(field + ": "), text))


@cache  # immutable expressions, built once per column
def _column_problems(column: Column) -> tuple[_Check, ...]:
    name = column.name
    raw = pl.col(name)
    typed = pl.col(f"__typed_{name}")
    shown = raw.cast(pl.String(), strict=False)
    problems = [
        _problem(
            raw.is_not_null() & typed.is_null(),
            name,
            pl.format(
                "'{}' is not a {}; write it like {}",
                shown,
                pl.lit(_TYPE_WORDS[column.dtype]),
                pl.lit(_TYPE_EXAMPLES[column.dtype]),
            ),
        )
    ]
    if column.required:
        problems.append(_problem(raw.is_null(), name, "missing value; this field is required"))
    if column.dtype == pl.String():
        problems.append(_problem(typed.str.strip_chars() == "", name, "empty; give a value"))
    if column.dtype == pl.Float64():
        problems.append(_problem(typed.is_nan() | typed.is_infinite(), name, "not a finite number"))
    for constraint in column.constraints:
        if constraint.op == "max_length":
            longest = int(constraint.bound)
            problems.append(
                _problem(
                    typed.str.len_chars() > longest,
                    name,
                    pl.format(
                        "{} characters long; at most {} are allowed",
                        typed.str.len_chars(),
                        pl.lit(longest),
                    ),
                )
            )
            continue
        if constraint.op == "printable":
            problems.append(
                _problem(
                    typed.str.contains(r"[\x00-\x1f\x7f]"),
                    name,
                    "holds a control character (a NUL, a line break or an escape); remove it",
                )
            )
            continue
        words = _OP_WORDS[constraint.op]
        bound = constraint.bound
        violated = {
            "ge": typed < bound,
            "gt": typed <= bound,
            "le": typed > bound,
            "lt": typed >= bound,
        }[constraint.op]
        problems.append(
            _problem(
                violated & typed.is_finite() if column.dtype == pl.Float64() else violated,
                name,
                pl.format(
                    "{} is out of range; it must be {} {}",
                    shown,
                    pl.lit(words),
                    pl.lit(f"{bound:g}"),
                ),
            )
        )
    return tuple(problems)


def _as_of_frame(as_of: pl.LazyFrame | pl.DataFrame) -> pl.LazyFrame:
    """Per-merchant as-of dates reduced to the latest one per merchant."""
    return (
        as_of.lazy()
        .select(pl.col("merchant_id").cast(pl.String()), pl.col("as_of").cast(pl.Date()))
        .group_by("merchant_id")
        .agg(pl.col("as_of").max().alias("__as_of"))
    )


def _key_text(table: Table) -> pl.Expr:
    parts: list[pl.Expr | str] = []
    for i, key in enumerate(table.key):
        parts += [
            pl.lit(("" if i == 0 else ", ") + key + "="),
            pl.col(key).cast(pl.String()).fill_null("?"),
        ]
    return pl.concat_str(parts)


def _with_copy_counts(table: Table, frame: pl.LazyFrame) -> pl.LazyFrame:
    """Add, per row, how many rows share its key, how many of those equal it in every
    column (null matches null, NaN matches NaN, -0.0 matches 0.0), and whether it is the
    first row with its key.

    Two counts over groups and a first-row flag: cheaper on the rows of a few
    applications than the distinct rows and each row's rank within its key."""
    typed_key = [pl.col(f"__typed_{k}") for k in table.key]
    typed_all = [pl.col(f"__typed_{c.name}") for c in table.columns]
    return frame.with_columns(
        pl.len().over(typed_key).alias("__copies"),
        pl.len().over(typed_all).alias("__identical"),
        pl.struct(typed_key).is_first_distinct().alias("__first_copy"),
    )


@cache  # immutable expressions, built once per table
def _duplicate_checks(table: Table) -> tuple[_Check, ...]:
    """Checks for rows sharing a key: conflicting copies all fail, exact copies but one."""
    copies, identical = pl.col("__copies"), pl.col("__identical")
    key = ", ".join(table.key)
    return (
        _problem(
            (copies > 1) & (identical < copies),
            key,
            pl.format(
                "{} rows share this key with different values; the feed must hold one row "
                "per key, so all of them are held back",
                copies,
            ),
        ),
        _problem(
            (copies > 1) & (identical == copies) & pl.col("__first_copy").not_(),
            key,
            "exact duplicate of another row with this key; one copy is kept",
        ),
    )


def _strictly_sorted(frame: pl.LazyFrame, first: str, second: str) -> bool:
    """Whether rows come sorted by (first, second) with no key repeated: a cheap pass that
    proves there are no duplicates in the usual, sorted feed."""
    a, b = pl.col(first), pl.col(second)
    ascending = (a > a.shift(1)) | ((a == a.shift(1)) & (b > b.shift(1)))
    checked = frame.select(
        (ascending.fill_null(False) | (pl.int_range(pl.len()) == 0)).all().alias("sorted"),
        (a.is_null() | b.is_null()).any().alias("nulls"),
    ).collect()
    return bool(checked["sorted"][0]) and not bool(checked["nulls"][0])


def _split_duplicate_suspects(
    table: Table, frame: pl.LazyFrame, check_every_key: bool
) -> tuple[pl.LazyFrame | None, pl.LazyFrame | None]:
    """Rows that cannot have a duplicated key, and rows that may (None: no such rows).

    Window functions over a two-part key are slow on large daily tables. A feed sorted by
    key with no repeats (checked in one cheap pass) has no duplicates at all; otherwise a
    pass finds the merchants with fewer distinct dates than rows, and only their rows get
    the full duplicate checks. Single-key tables are small and are all checked, and so is
    every row when `check_every_key` is set.
    """
    if len(table.key) == 1 or check_every_key:
        return None, frame
    first, second = (f"__typed_{k}" for k in table.key)
    if _strictly_sorted(frame, first, second):
        return frame, None
    suspects = (
        frame.group_by(first)
        .agg((pl.col(second).n_unique() < pl.len()).alias("__has_copies"))
        .filter(pl.col("__has_copies"))
        .select(first)
        .collect()
        .get_column(first)
    )
    may_repeat = pl.col(first).is_in(suspects.implode()).fill_null(True)
    return frame.filter(may_repeat.not_()), frame.filter(may_repeat)


def _quarantine_rows(
    table: Table, source: str, failed: pl.LazyFrame, checks: list[_Check]
) -> pl.LazyFrame:
    """Failed rows as quarantine records: table, source, merchant, key, fields, reasons."""
    reasons = pl.concat_list(c.text for c in checks).list.drop_nulls()
    return failed.with_columns(reasons.alias(_PROBLEMS)).select(*_quarantine_columns(table, source))


@lru_cache(maxsize=64)  # immutable expressions, built once per table and source
def _quarantine_columns(table: Table, source: str) -> tuple[pl.Expr, ...]:
    return (
        pl.lit(table.name).alias("table"),
        pl.lit(source).alias("source"),
        (
            pl.col("merchant_id").cast(pl.String())
            if "merchant_id" in table.schema
            else pl.lit(None, dtype=pl.String())
        ).alias("merchant_id"),
        _key_text(table).alias("key"),
        pl.col(_PROBLEMS)
        .list.eval(pl.element().str.extract(r"^([^:]+):", 1))
        .list.unique(maintain_order=True)
        .list.join(", ")
        .alias("field"),
        pl.col(_PROBLEMS).list.join("; ").alias("reason"),
    )


def validate(
    table: Table,
    raw: pl.LazyFrame,
    *,
    source: str,
    as_of: AsOf | None = None,
    merchant_ids: pl.Series | None = None,
    industry_codes: pl.Series | None = None,
    check_every_key: bool = False,
    set_aside_later: bool = False,
) -> ValidatedTable:
    """Split `raw` into kept and quarantined rows.

    Checks every column's presence, type, bounds and emptiness; dates on or after the
    as-of date; duplicated keys (exact copies keep one row, conflicting copies are all
    quarantined); merchants absent from `merchant_ids`; industries absent from
    `industry_codes`. Raises MissingColumnsError when a required column is absent.

    A daily table is first probed (one query) for a sorted feed, which cannot hold
    duplicates; `check_every_key` skips the probe and checks every row's key instead,
    which is cheaper for the rows of a few applications than a query of its own.

    With `set_aside_later` (a batch scoring a book as of a past date), a daily table's
    rows with a valid date on or after the as-of date are set aside before any check,
    never used and never quarantined: `after_as_of` holds them (to count).
    """
    raw_schema = raw.collect_schema()
    missing = [name for name in table.required if name not in raw_schema]
    if missing:
        raise MissingColumnsError(table.name, source, missing)
    frame = raw.select(
        [
            pl.col(c.name) if c.name in raw_schema else pl.lit(None, dtype=c.dtype).alias(c.name)
            for c in table.columns
        ]
    )
    dtypes = {c.name: raw_schema.get(c.name, c.dtype) for c in table.columns}
    frame = frame.with_columns(
        _coerce(c, dtypes[c.name]).alias(f"__typed_{c.name}") for c in table.columns
    )
    problems: list[_Check] = []
    for c in table.columns:
        problems += _column_problems(c)

    future_column = table.date_column or ("onboarded_on" if table is MERCHANTS else None)
    after_as_of = None
    if as_of is not None and future_column is not None:
        typed_date = pl.col(f"__typed_{future_column}")
        if isinstance(as_of, dt.date):
            limit: pl.Expr = pl.lit(as_of)
        else:
            frame = frame.join(
                _as_of_frame(as_of),
                left_on="__typed_merchant_id",
                right_on="merchant_id",
                how="left",
            )
            limit = pl.col("__as_of")
        if set_aside_later and table.date_column is not None:
            later = (typed_date >= limit).fill_null(False)
            after_as_of = frame.filter(later)
            frame = frame.filter(~later)
        problems.append(
            _problem(
                typed_date >= limit,
                future_column,
                pl.format(
                    "dated {}, on or after the as-of date {}; a decision as of that date "
                    "cannot use it (no look-ahead)",
                    typed_date,
                    limit,
                ),
            )
        )
    if merchant_ids is not None and "merchant_id" in raw_schema and table is not MERCHANTS:
        problems.append(
            _problem(
                pl.col("__typed_merchant_id").is_in(merchant_ids.implode()).not_(),
                "merchant_id",
                pl.format(
                    "merchant {} is not in the merchants table (or its profile was "
                    "quarantined); add or fix its profile",
                    pl.col("__typed_merchant_id"),
                ),
            )
        )
    if industry_codes is not None and table is MERCHANTS:
        problems.append(
            _problem(
                pl.col("__typed_industry_code").is_in(industry_codes.implode()).not_(),
                "industry_code",
                pl.format(
                    "unknown industry code {}; it has no row in industry_benchmarks",
                    pl.col("__typed_industry_code"),
                ),
            )
        )

    clean, suspect = _split_duplicate_suspects(table, frame, check_every_key)
    parts: list[tuple[pl.LazyFrame, list[_Check]]] = []
    if clean is not None:
        parts.append((clean, problems))
    if suspect is not None:
        parts.append((_with_copy_counts(table, suspect), [*problems, *_duplicate_checks(table)]))
    typed = [pl.col(f"__typed_{c.name}").alias(c.name) for c in table.columns]
    kept = pl.concat(
        [
            part.filter(pl.any_horizontal(c.fails for c in checks).not_()).select(typed)
            for part, checks in parts
        ],
        how="vertical",
    )
    quarantine = pl.concat(
        [
            _quarantine_rows(
                table, source, part.filter(pl.any_horizontal(c.fails for c in checks)), checks
            )
            for part, checks in parts
        ],
        how="vertical",
    )
    return ValidatedTable(table, source, kept, quarantine, after_as_of)
