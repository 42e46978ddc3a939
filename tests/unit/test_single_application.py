"""One application from raw data: bad rows are left out and reported, as in a batch."""

from __future__ import annotations

import dataclasses
import datetime as dt

import polars as pl
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from tests.conftest import RULES_V1
from underwriting.applications import Application, Prepared
from underwriting.engine import Engine
from underwriting.errors import InputError
from underwriting.io.rule_sets import load_rule_set
from underwriting.model.artifact import Scorecard
from underwriting.policy.parameters import Policy

AS_OF = dt.date(2026, 10, 1)


@pytest.fixture(scope="module")
def engine_with_benchmarks(
    book_tables: dict[str, pl.DataFrame], trained: tuple[Scorecard, Policy]
) -> Engine:
    return Engine(trained[0], load_rule_set(RULES_V1), book_tables["industry_benchmarks"])


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


def test_duplicated_days_in_an_application_are_held_back_as_in_a_batch(
    book_tables: dict[str, pl.DataFrame], engine_with_benchmarks: Engine
) -> None:
    clean = _application(book_tables, "M00000009")
    cash = clean.cashflow
    exact = cash.slice(10, 1)
    conflicting = cash.slice(20, 1).with_columns(pl.col("gross_sales") + 1)
    # Out of order, as a caller may send them: the batch's sortedness probe would fail.
    doubled = pl.concat([conflicting, cash, exact])
    prepared = engine_with_benchmarks.prepare(
        Application(clean.merchant, doubled, clean.traffic, AS_OF)
    )
    reasons = prepared.quarantine.group_by("reason").len().sort("reason")
    assert reasons.rows() == [
        (
            "merchant_id, date: 2 rows share this key with different values; the feed must hold "
            "one row per key, so all of them are held back",
            2,
        ),
        ("merchant_id, date: exact duplicate of another row with this key; one copy is kept", 1),
    ]
    kept = pl.concat([cash.slice(0, 20), cash.slice(21)])
    expected = engine_with_benchmarks.prepare(
        Application(clean.merchant, kept, clean.traffic, AS_OF)
    )
    assert prepared.features.equals(expected.features)


def test_an_amount_too_large_to_sum_in_cents_is_held_back_not_a_crash(
    engine_with_benchmarks: Engine, book_tables: dict[str, pl.DataFrame]
) -> None:
    clean = _application(book_tables, "M00000003")
    huge = clean.cashflow.with_columns(
        pl.when(pl.int_range(pl.len()) == 1)
        .then(9.223372036854776e16)
        .otherwise(pl.col("refunds"))
        .alias("refunds")
    )
    prepared = engine_with_benchmarks.prepare(dataclasses.replace(clean, cashflow=huge))
    assert prepared.quarantine["field"].to_list() == ["refunds"]
    assert "must be at most 1e+12" in prepared.quarantine["reason"][0]
    assert prepared.features["cashflow_days"][0] == clean.cashflow.height - 1


def test_a_bad_profile_is_an_input_error_that_says_why(
    book_tables: dict[str, pl.DataFrame], trained: tuple[Scorecard, Policy]
) -> None:
    engine = Engine(trained[0], load_rule_set(RULES_V1), book_tables["industry_benchmarks"])
    clean = _application(book_tables, "M00000009")
    unknown = clean.merchant.with_columns(pl.lit("0000").alias("industry_code"))
    with pytest.raises(InputError, match="unknown industry code 0000"):
        engine.prepare(Application(unknown, clean.cashflow, clean.traffic, AS_OF))


def _same(together: Prepared | InputError, alone: Application, engine: Engine) -> None:
    """`together` is what `engine.prepare(alone)` gives (or raises), bit for bit."""
    try:
        expected = engine.prepare(alone)
    except InputError as error:
        assert isinstance(together, InputError) and str(together) == str(error)
        return
    assert isinstance(together, Prepared)
    assert together.features.equals(expected.features)
    assert together.quarantine.equals(expected.quarantine)


def test_applications_prepared_together_get_what_each_gets_alone(
    book_tables: dict[str, pl.DataFrame], trained: tuple[Scorecard, Policy]
) -> None:
    engine = Engine(trained[0], load_rule_set(RULES_V1), book_tables["industry_benchmarks"])
    ids = [f"M{n:08d}" for n in range(1, 41)]
    applications = [_application(book_tables, merchant) for merchant in ids]
    clean = applications[3]
    applications[3] = Application(  # one bad daily row: left out for this merchant only
        clean.merchant,
        clean.cashflow.with_columns(
            pl.when(pl.int_range(pl.len()) == 4)
            .then(-1.0)
            .otherwise("gross_sales")
            .alias("gross_sales")
        ),
        clean.traffic,
        AS_OF,
    )
    bad = applications[7]  # a bad profile: an InputError in its place, the others decided
    applications[7] = Application(
        bad.merchant.with_columns(pl.lit("0000").alias("industry_code")),
        bad.cashflow,
        bad.traffic,
        AS_OF,
    )
    applications.append(applications[0])  # the same merchant twice: prepared alone
    applications[10] = dataclasses.replace(applications[10], as_of=dt.date(2026, 9, 1))
    applications[11] = dataclasses.replace(applications[11], as_of=dt.date(2026, 9, 1))
    together = engine.prepare_many(applications)
    assert len(together) == len(applications)
    for result, application in zip(together, applications, strict=True):
        _same(result, application, engine)
    assert isinstance(together[7], InputError)
    held = together[3]
    assert isinstance(held, Prepared) and held.quarantine.height == 1
    # as of September, October's rows are held (no look-ahead), for those two merchants only
    for i, result in enumerate(together):
        assert isinstance(result, Prepared | InputError)
        if isinstance(result, Prepared):
            reasons = set(result.quarantine["reason"].str.contains("no look-ahead"))
            assert reasons == ({True} if i in (10, 11) else {False} if i == 3 else set())


@settings(max_examples=15, deadline=None)
@given(
    picks=st.lists(st.integers(1, 600), min_size=2, max_size=24, unique=True),
    back=st.lists(st.sampled_from([0, 0, 31, 92]), min_size=24, max_size=24),
)
def test_any_group_of_merchants_prepared_together_equals_each_alone(
    picks: list[int],
    back: list[int],
    book_tables: dict[str, pl.DataFrame],
    engine_with_benchmarks: Engine,
) -> None:
    applications = [
        dataclasses.replace(
            _application(book_tables, f"M{n:08d}"), as_of=AS_OF - dt.timedelta(days=days)
        )
        for n, days in zip(picks, back, strict=False)
    ]
    for result, application in zip(
        engine_with_benchmarks.prepare_many(applications), applications, strict=True
    ):
        _same(result, application, engine_with_benchmarks)
