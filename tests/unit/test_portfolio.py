"""What moved between two runs: migration, flips and their explanations, segments, rules."""

from __future__ import annotations

import polars as pl
from hypothesis import given, settings
from hypothesis import strategies as st

from underwriting.reports.run_figures import (
    flip_summary,
    flips,
    migration,
    rules_fired,
    segment_totals,
)

GRADES = pl.Enum(["A", "B", "C", "D"])
OUTCOMES = pl.Enum(["approve", "refer", "decline"])
RULES = ["KO-TENURE", "REF-SPIKE", "CAP-EXPOSURE"]
REASONS = ["sales_30d", "refund_ratio", "growth_yoy", "KO-TENURE"]


def _run(rows: list[tuple[str, str, str, int, list[str], list[str]]]) -> pl.DataFrame:
    return pl.DataFrame(
        {
            "merchant_id": [r[0] for r in rows],
            "outcome": [r[1] for r in rows],
            "grade": [r[2] for r in rows],
            "limit": [r[3] for r in rows],
            "rules_fired": [r[4] for r in rows],
            "reason_codes": [r[5] for r in rows],
            "score": [600] * len(rows),
            "pd_12m": [0.05] * len(rows),
            "expected_loss": [r[3] * 0.02 for r in rows],
            "industry_code": ["5411" if i % 2 else "7011" for i in range(len(rows))],
            "existing_exposure": [1_000.0] * len(rows),
        },
        schema_overrides={
            "merchant_id": pl.String,
            "outcome": OUTCOMES,
            "grade": GRADES,
            "limit": pl.Int64,
            "rules_fired": pl.List(pl.String),
            "reason_codes": pl.List(pl.String),
            "score": pl.Int64,
            "pd_12m": pl.Float64,
            "expected_loss": pl.Float64,
            "industry_code": pl.String,
            "existing_exposure": pl.Float64,
        },
    )


def test_flips_name_the_rule_that_explains_them() -> None:
    before = _run(
        [
            ("M1", "approve", "B", 9_000, [], ["sales_30d"]),
            ("M2", "decline", "C", 0, ["KO-TENURE"], ["KO-TENURE", "sales_30d"]),
            ("M3", "approve", "A", 5_000, ["CAP-EXPOSURE"], ["growth_yoy"]),
            ("M4", "refer", "B", 4_000, ["REF-SPIKE"], ["REF-SPIKE"]),
            ("M5", "approve", "A", 7_000, [], []),
        ]
    )
    now = _run(
        [
            ("M1", "decline", "B", 0, ["KO-TENURE", "REF-SPIKE"], ["KO-TENURE", "sales_30d"]),
            ("M2", "approve", "C", 3_000, [], ["sales_30d"]),
            ("M3", "approve", "A", 6_000, [], ["growth_yoy"]),
            ("M4", "decline", "D", 0, ["REF-SPIKE"], ["REF-SPIKE", "refund_ratio"]),
            ("M6", "approve", "A", 1_000, [], []),
        ]
    )
    changed = flips(now, before)
    why = dict(zip(changed["merchant_id"], changed["why"], strict=True))
    # toward decline: the first rule fired now, not before (in the order of the trace)
    assert why["M1"] == "KO-TENURE"
    # toward approval: the rule that stopped firing
    assert why["M2"] == "KO-TENURE"
    # no new rule: the first new reason
    assert why["M4"] == "refund_ratio"
    assert set(why) == {"M1", "M2", "M4"}  # M3 kept its outcome; M5, M6 are in one run only
    summary = flip_summary(changed)
    assert summary["merchants"].sum() == 3
    assert summary.filter(pl.col("why") == "KO-TENURE")["merchants"].sum() == 2


def test_migration_counts_merchants_in_both_runs_by_grade() -> None:
    before = _run([("M1", "approve", "A", 1, [], []), ("M2", "approve", "B", 1, [], [])])
    now = _run([("M1", "approve", "C", 1, [], []), ("M2", "approve", "B", 1, [], [])])
    matrix = migration(now, before)
    assert matrix.columns == ["was", "A", "B", "C", "D"]
    assert matrix.row(0) == ("A", 0, 0, 1, 0) and matrix.row(1) == ("B", 0, 1, 0, 0)


def test_migration_keeps_grades_only_the_previous_scale_had() -> None:
    before = _run([("M1", "approve", "A", 1, [], []), ("M2", "approve", "B", 1, [], [])])
    before = before.with_columns(pl.col("grade").cast(pl.String).replace("B", "B+"))
    now = _run([("M1", "approve", "C", 1, [], []), ("M2", "approve", "B", 1, [], [])])
    matrix = migration(now, before)
    assert matrix.columns == ["was", "A", "B", "C", "D", "B+"]
    assert matrix.filter(pl.col("was") == "B+").row(0) == ("B+", 0, 1, 0, 0, 0)
    assert sum(int(matrix[g].sum()) for g in matrix.columns[1:]) == 2


def test_segments_and_rules_fired_add_up() -> None:
    now = _run(
        [
            ("M1", "approve", "A", 5_000, ["CAP-EXPOSURE"], []),
            ("M2", "decline", "A", 0, ["KO-TENURE", "KO-TENURE"], ["KO-TENURE"]),
            ("M3", "refer", "B", 2_000, ["REF-SPIKE", "CAP-EXPOSURE"], []),
        ]
    )
    by_grade = segment_totals(now, "grade")
    assert by_grade["merchants"].to_list() == [2, 1]
    assert by_grade["total_limit"].to_list() == [5_000, 2_000]
    assert by_grade["exposure_after"].to_list() == [7_000.0, 3_000.0]
    fired = rules_fired(now, None)
    assert fired.row(0, named=True)["rule"] == "CAP-EXPOSURE"
    assert dict(zip(fired["rule"], fired["merchants"], strict=True)) == {
        "CAP-EXPOSURE": 2,
        "KO-TENURE": 1,  # a merchant counts once per rule
        "REF-SPIKE": 1,
    }


_decision = st.tuples(
    st.sampled_from(["approve", "refer", "decline"]),
    st.sampled_from(["A", "B", "C", "D"]),
    st.integers(0, 50_000),
    st.lists(st.sampled_from(RULES), unique=True, max_size=3),
    st.lists(st.sampled_from(REASONS), unique=True, max_size=4),
)


@settings(max_examples=60, deadline=None)
@given(
    st.dictionaries(st.integers(0, 40), _decision, max_size=30),
    st.dictionaries(st.integers(0, 40), _decision, max_size=30),
)
def test_migration_and_flips_account_for_every_merchant_in_both_runs(
    earlier: dict[int, tuple[str, str, int, list[str], list[str]]],
    later: dict[int, tuple[str, str, int, list[str], list[str]]],
) -> None:
    before = _run([(f"M{k}", *v) for k, v in sorted(earlier.items())])
    now = _run([(f"M{k}", *v) for k, v in sorted(later.items())])
    both = set(earlier) & set(later)
    matrix = migration(now, before)
    assert sum(int(matrix[g].sum()) for g in "ABCD") == len(both)
    changed = flips(now, before)
    expected = {f"M{k}" for k in both if earlier[k][0] != later[k][0]}
    assert set(changed["merchant_id"]) == expected
    assert changed["why"].null_count() == 0
    for row in changed.iter_rows(named=True):
        k = int(row["merchant_id"][1:])
        was, now_ = earlier[k], later[k]
        new_rules = [r for r in now_[3] if r not in was[3]]
        gone_rules = [r for r in was[3] if r not in now_[3]]
        toward_decline = ["approve", "refer", "decline"].index(now_[0]) > [
            "approve",
            "refer",
            "decline",
        ].index(was[0])
        explained_by = new_rules if toward_decline else gone_rules
        if explained_by:
            assert row["why"] == explained_by[0]
