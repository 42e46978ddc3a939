"""One application from raw data: bad rows are left out and reported, as in a batch."""

from __future__ import annotations

import datetime as dt

import polars as pl
import pytest

from tests.conftest import RULES_V1
from underwriting.decisions import Application, Engine
from underwriting.errors import InputError
from underwriting.model import Scorecard
from underwriting.policy import Policy
from underwriting.rules import load_rule_set

AS_OF = dt.date(2026, 10, 1)


def _application(book: dict[str, pl.DataFrame], merchant_id: str) -> Application:
    mine = pl.col("merchant_id") == merchant_id
    return Application(
        book["merchants"].filter(mine),
        book["cashflow"].filter(mine),
        book["traffic"].filter(mine),
        AS_OF,
    )


def test_bad_daily_rows_are_left_out_and_named(
    book_tables: dict[str, pl.DataFrame], trained: tuple[Scorecard, Policy]
) -> None:
    engine = Engine(trained[0], load_rule_set(RULES_V1), book_tables["industry_benchmarks"])
    clean = _application(book_tables, "M00000009")
    assert engine.prepare(clean).quarantine.is_empty()
    broken = clean.cashflow.with_columns(
        pl.when(pl.int_range(pl.len()) == 4)
        .then(-1.0)
        .otherwise(pl.col("gross_sales"))
        .alias("gross_sales")
    )
    prepared = engine.prepare(Application(clean.merchant, broken, clean.traffic, AS_OF))
    held = prepared.quarantine
    assert held.height == 1
    assert held["table"][0] == "cashflow" and held["field"][0] == "gross_sales"
    assert prepared.features["cashflow_days"][0] == clean.cashflow.height - 1
    without = engine.prepare(
        Application(clean.merchant, broken.filter(pl.col("gross_sales") >= 0), clean.traffic, AS_OF)
    )
    assert without.features.equals(prepared.features)


def test_a_bad_profile_is_an_input_error_that_says_why(
    book_tables: dict[str, pl.DataFrame], trained: tuple[Scorecard, Policy]
) -> None:
    engine = Engine(trained[0], load_rule_set(RULES_V1), book_tables["industry_benchmarks"])
    clean = _application(book_tables, "M00000009")
    unknown = clean.merchant.with_columns(pl.lit("0000").alias("industry_code"))
    with pytest.raises(InputError, match="unknown industry code 0000"):
        engine.prepare(Application(unknown, clean.cashflow, clean.traffic, AS_OF))
