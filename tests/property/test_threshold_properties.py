"""Changing one threshold of a rule flips only the merchants whose feature crosses it:
every other merchant of the book keeps its decision to the last field. The swap set of a
change accounts for every merchant, and is empty when nothing changed."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import polars as pl
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from tests.conftest import RULES_V1
from underwriting.batch.feature_table import build_feature_table
from underwriting.engine import Engine
from underwriting.model.artifact import Scorecard
from underwriting.policy.parameters import Policy
from underwriting.policy.rules import RuleSet, check_rules
from underwriting.reports.comparison_figures import swap_set, unchanged
from underwriting.reports.run_figures import changes

POLICY = (RULES_V1 / "policy.toml").read_bytes()
RULES = (RULES_V1 / "rules.toml").read_text()
COMPARED = ("outcome", "limit", "grade", "reason_codes", "rules_fired", "binding_constraint")


@pytest.fixture(scope="module")
def book_features(small_book: Path, tmp_path_factory: pytest.TempPathFactory) -> pl.DataFrame:
    out = tmp_path_factory.mktemp("threshold") / "features.parquet"
    return pl.read_parquet(build_feature_table(small_book, dt.date(2026, 10, 1), out).features)


def _with(old: str, new: str) -> RuleSet:
    assert old in RULES
    problems, rule_set = check_rules(
        "edited", POLICY, RULES.replace(old, new).encode(), policy_source="p", rules_source="r"
    )
    assert rule_set is not None, problems
    return rule_set


CASES = [  # (the condition, its feature, how to write it at a threshold)
    ("tenure_days < 180", "tenure_days", "tenure_days < {}", st.integers(0, 1500)),
    ("chargeback_ratio > 0.0065", "chargeback_ratio", "chargeback_ratio > {}", st.floats(0, 0.02)),
    ("refund_ratio > 0.08", "refund_ratio", "refund_ratio > {}", st.floats(0, 0.3)),
]


@settings(max_examples=25, deadline=None)
@given(case=st.sampled_from(CASES), data=st.data())
def test_a_threshold_change_flips_only_the_merchants_between_the_two(
    case: tuple[str, str, str, st.SearchStrategy[float]],
    data: st.DataObject,
    trained: tuple[Scorecard, Policy],
    book_features: pl.DataFrame,
) -> None:
    old, feature, template, values = case
    first, second = sorted(data.draw(st.lists(values, min_size=2, max_size=2)))
    decided = [
        Engine(trained[0], _with(old, template.format(t))).decide_frame(book_features, words=False)
        for t in (first, second)
    ]
    differ = pl.any_horizontal(
        decided[0].get_column(c).ne_missing(decided[1].get_column(c)) for c in COMPARED
    )
    moved = book_features.select(differ.alias("moved")).get_column("moved")
    value = book_features.get_column(feature)
    between = value.is_between(first, second, closed="both").fill_null(False)
    assert not (moved & ~between).any(), book_features.filter(moved & ~between)[feature]


@settings(max_examples=20, deadline=None)
@given(case=st.sampled_from(CASES), data=st.data(), same=st.booleans())
def test_the_swap_set_of_a_threshold_change_accounts_for_every_merchant(
    case: tuple[str, str, str, st.SearchStrategy[float]],
    data: st.DataObject,
    same: bool,
    trained: tuple[Scorecard, Policy],
    book_features: pl.DataFrame,
) -> None:
    old, _, template, values = case
    first, second = sorted(data.draw(st.lists(values, min_size=2, max_size=2)))
    thresholds = (first, first) if same else (first, second)
    segments = book_features.select("merchant_id", "industry_code", "existing_exposure")
    champion, challenger = (
        Engine(trained[0], _with(old, template.format(t)))
        .decide_frame(book_features, words=False)
        .join(segments, on="merchant_id", maintain_order="left")
        for t in thresholds
    )
    cells = swap_set(champion, challenger)
    assert cells.height == 9 and int(cells["merchants"].sum()) == book_features.height
    assert int(cells["challenger_limit"].sum()) == int(challenger["limit"].sum())
    swapped = int(
        cells.filter(pl.col("champion_outcome") != pl.col("challenger_outcome"))["merchants"].sum()
    )
    flipped = (champion["outcome"] != challenger["outcome"]).sum()
    assert swapped == flipped == unchanged(champion, challenger).swapped
    if same:  # champion = challenger: an empty swap set, every decision identical
        assert swapped == 0 and changes(challenger, champion).is_empty()
        assert unchanged(champion, challenger).identical == book_features.height
