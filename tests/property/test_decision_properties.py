"""Invariants of decisions (DESIGN.md), on a trained model and the v1 rule set."""

from __future__ import annotations

import dataclasses
import io

import polars as pl
import pytest
from hypothesis import example, given
from hypothesis import strategies as st

from tests.conftest import RULES_V1
from underwriting.engine import Engine, decide
from underwriting.errors import InputError
from underwriting.io.rule_sets import load_rule_set
from underwriting.model.artifact import Scorecard
from underwriting.policy.parameters import Policy
from underwriting.policy.rules import Kind, Rule, RuleSet

RULE_SET = load_rule_set(RULES_V1)
KINDS: list[Kind] = ["knockout", "refer", "grade_cap", "limit_cap"]
assert RULE_SET.policy.limits is not None
LIMITS = RULE_SET.policy.limits


@pytest.fixture(scope="module")
def decided(trained: tuple[Scorecard, Policy], training_table: pl.DataFrame) -> pl.DataFrame:
    model, _ = trained
    return Engine(model, RULE_SET).decide_frame(training_table)


def test_declined_means_no_limit_and_a_reason(decided: pl.DataFrame) -> None:
    declined = decided.filter(pl.col("outcome") == "decline")
    assert declined.height > 0
    assert (declined["limit"] == 0).all()
    assert (declined["reasons"].list.len() >= 1).all()
    assert (decided["reasons"].list.len() <= 4).all()


def test_approved_limits_sit_between_the_minimum_and_every_cap(
    decided: pl.DataFrame, training_table: pl.DataFrame
) -> None:
    approved = decided.filter(pl.col("outcome") != "decline").join(
        training_table.select("merchant_id", "as_of", "industry_max_limit", "existing_exposure"),
        on=["merchant_id", "as_of"],
    )
    assert approved.height > 0
    assert (approved["limit"] >= LIMITS.min_loan).all()
    assert (approved["limit"] <= LIMITS.max_loan).all()
    assert (approved["limit"] % LIMITS.loan_unit == 0).all()
    assert (approved["limit"] <= approved["industry_max_limit"]).all()


def test_every_decision_records_versions_and_its_trace(
    decided: pl.DataFrame, trained: tuple[Scorecard, Policy]
) -> None:
    assert decided["model_version"].unique().to_list() == [trained[0].version]
    assert decided["rule_set_version"].unique().to_list() == [RULE_SET.version]
    knocked = decided.filter(
        pl.col("rules_fired").list.eval(pl.element().str.starts_with("KO-")).list.any()
    )
    assert (knocked["outcome"] == "decline").all()


def test_a_single_decision_equals_the_batch_decision(
    decided: pl.DataFrame, trained: tuple[Scorecard, Policy], training_table: pl.DataFrame
) -> None:
    model, _ = trained
    for row in (0, 17, 1234, training_table.height - 1):
        alone = Engine(model, RULE_SET).decide_frame(training_table.slice(row, 1))
        assert alone.equals(decided.slice(row, 1))


def test_same_input_same_decision(
    decided: pl.DataFrame, trained: tuple[Scorecard, Policy], training_table: pl.DataFrame
) -> None:
    engine = Engine(trained[0], RULE_SET)
    assert engine.decide_frame(training_table).equals(decided)


thresholds = st.sampled_from(
    [
        "tenure_days < 400",
        "chargeback_ratio > 0.004",
        "sales_volatility > 0.3",
        "exposure_to_monthly_sales > 0.5",
        "zero_sales_share > 0.1",
        "growth_yoy < 0",
    ]
)


@given(
    kind=st.sampled_from(KINDS),
    condition=thresholds,
    cap=st.sampled_from(["0.5 * avg_monthly_sales", "sales_30d", "10000"]),
    grade=st.sampled_from(["C", "E", "G"]),
)
def test_adding_a_rule_never_turns_a_decline_into_an_approval_or_raises_a_limit(
    kind: str,
    condition: str,
    cap: str,
    grade: str,
    trained: tuple[Scorecard, Policy],
    training_table: pl.DataFrame,
) -> None:
    model, _ = trained
    sample = training_table.slice(0, 400)
    before = decide(model, RULE_SET, sample)
    extra = Rule(
        id="ZZ-EXTRA",
        kind=kind,
        condition=condition,
        reason_code="RX",
        reason="An extra rule added by the property test",
        grade=grade if kind == "grade_cap" else None,
        cap=cap if kind == "limit_cap" else None,
    )
    stricter = dataclasses.replace(
        RULE_SET, rules=tuple(sorted((*RULE_SET.rules, extra), key=lambda r: r.id))
    )
    after = decide(model, stricter, sample)
    was_declined = before["outcome"] == "decline"
    assert (after.filter(was_declined)["outcome"] == "decline").all()
    assert (after["limit"] <= before["limit"]).all()


def test_rule_order_does_not_matter(
    trained: tuple[Scorecard, Policy], training_table: pl.DataFrame
) -> None:
    model, _ = trained
    reversed_set = RuleSet(
        RULE_SET.name, RULE_SET.version, RULE_SET.policy, tuple(reversed(RULE_SET.rules))
    )
    sample = training_table.slice(0, 500)
    assert decide(model, reversed_set, sample).equals(decide(model, RULE_SET, sample))


def test_a_feature_table_without_the_limit_inputs_is_refused(
    trained: tuple[Scorecard, Policy], training_table: pl.DataFrame
) -> None:
    with pytest.raises(InputError, match="lacks industry_max_limit; rebuild it"):
        decide(trained[0], RULE_SET, training_table.drop("industry_max_limit"))


@given(sales_365d=st.floats(min_value=1_000.0, max_value=10_000_000.0))
@example(sales_365d=936072.4237877682)  # x / 11 < x * (1 / 11)
def test_a_single_decision_equals_the_batch_decision_at_a_rule_boundary(
    sales_365d: float, trained: tuple[Scorecard, Policy], training_table: pl.DataFrame
) -> None:
    # polars divides a one-row chunk or a literal by a constant exactly, a longer chunk
    # through the constant's inverse. A merchant whose recent sales sit on the boundary as
    # the batch computes it must get the same decision alone, in a batch, and in a frame
    # made of one-row frames (as the API decides waiting requests together), and as the
    # last, one-row row group of a Parquet file.
    model, _ = trained
    spike = Rule(
        id="KO-SPIKE",
        kind="knockout",
        condition="sales_30d > sales_365d / 11",
        reason_code="SPIKE",
        reason="Recent sales are far above the year's run rate",
    )
    rules = dataclasses.replace(RULE_SET, rules=(*RULE_SET.rules, spike))
    merchant = training_table.slice(0, 1).with_columns(
        pl.Series("sales_365d", [sales_365d]), pl.Series("sales_30d", [sales_365d * (1 / 11)])
    )
    others = [training_table.slice(i, 1) for i in range(1, 9)]
    alone = decide(model, rules, merchant)
    assert alone.equals(decide(model, rules, merchant.with_columns(pl.lit(sales_365d))))
    batch = pl.concat([*others, merchant], rechunk=True)
    assert alone.equals(decide(model, rules, batch).tail(1))
    one_row_frames = pl.concat([*others, merchant])
    assert alone.equals(decide(model, rules, one_row_frames).tail(1))
    parquet = io.BytesIO()
    batch.write_parquet(parquet, row_group_size=len(others))
    last_row_group_of_one = pl.read_parquet(parquet.getvalue())
    assert last_row_group_of_one.get_column("sales_365d").chunk_lengths() == [len(others), 1]
    assert alone.equals(decide(model, rules, last_row_group_of_one).tail(1))
