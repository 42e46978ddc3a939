"""The limit's build-up the workbench shows is the engine's own: for every merchant of a
book, the limit it ends at and the binding term are the decision's, and the smallest
ceiling is the smallest of the terms."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import polars as pl

from tests.conftest import RULES_V1
from underwriting.batch.feature_table import build_feature_table
from underwriting.engine import Engine, limit_terms
from underwriting.io.rule_sets import load_rule_set
from underwriting.model.artifact import Scorecard
from underwriting.policy.limits import CONSTRAINTS
from underwriting.policy.parameters import Policy


def test_the_build_up_ends_at_the_decisions_limit(
    small_book: Path, tmp_path: Path, trained: tuple[Scorecard, Policy]
) -> None:
    build = build_feature_table(small_book, dt.date(2026, 10, 1), tmp_path / "f.parquet")
    features = pl.read_parquet(build.features)
    rules = load_rule_set(RULES_V1)
    decided = Engine(trained[0], rules).decide_frame(features, words=False)
    terms = limit_terms(trained[0], rules, features)
    assert terms.height == decided.height == 600
    kept = decided["outcome"] != "decline"
    assert (terms["limit"].filter(kept) == decided["limit"].filter(kept)).all()
    assert terms["binding_constraint"].equals(decided["binding_constraint"])
    smallest = terms.select(pl.min_horizontal(f"ceiling_{c}" for c in CONSTRAINTS)).to_series()
    assert (smallest - terms["ceiling"]).abs().max() == 0
    assert (terms["headroom"] == (terms["ceiling"] - terms["existing_exposure"]).clip(0)).all()
    limits = rules.policy.limits
    assert limits is not None
    assert (terms["limit"] % limits.loan_unit == 0).all()
    fired_caps = terms.filter(pl.col("caps_fired").list.len() > 0)
    assert fired_caps["ceiling_rule_cap"].is_not_null().all()
