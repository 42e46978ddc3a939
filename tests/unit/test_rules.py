"""Rule sets as data: v1 is valid and runs on real features; each kind of breakage in a
corpus of broken rule sets is rejected by `rules check` with its own message."""

from __future__ import annotations

import shutil
from pathlib import Path

import polars as pl
import pytest

from tests.conftest import RULES_V1
from underwriting.cli import main
from underwriting.errors import PolicyError
from underwriting.io.rule_sets import check_rule_set, load_rule_set

GOOD_RULE = """
[[rule]]
id = "KO-TENURE"
kind = "knockout"
condition = "tenure_days < 180"
reason_code = "R02"
reason = "The business has traded with us for less than six months"
"""


def broken(tmp_path: Path, rules: str, policy: str | None = None) -> Path:
    folder = tmp_path / "broken"
    folder.mkdir()
    (folder / "rules.toml").write_text(rules)
    if policy is None:
        shutil.copy(RULES_V1 / "policy.toml", folder / "policy.toml")
    else:
        (folder / "policy.toml").write_text(policy)
    return folder


def test_v1_is_valid_and_versioned() -> None:
    rule_set = load_rule_set(RULES_V1)
    assert rule_set.version.startswith("v1+")
    kinds = {r.kind for r in rule_set.rules}
    assert kinds == {"knockout", "refer", "grade_cap", "limit_cap"}
    assert [r.id for r in rule_set.rules] == sorted(r.id for r in rule_set.rules)


def test_v1_conditions_run_on_real_features(training_table: pl.DataFrame) -> None:
    rule_set = load_rule_set(RULES_V1)
    fired = training_table.select(
        pl.col("industry_code"),
        *(rule_set.condition(r) for r in rule_set.rules),
        *(rule_set.cap(r).alias(f"cap {r.id}") for r in rule_set.rules if r.kind == "limit_cap"),
    )
    gambling = pl.col("industry_code") == "7995"
    assert fired.filter(gambling)["KO-INDUSTRY"].all()
    assert not fired.filter(~gambling)["KO-INDUSTRY"].any()
    conditions = fired.select(r.id for r in rule_set.rules)
    assert all(dtype == pl.Boolean() for dtype in conditions.dtypes)
    assert conditions.null_count().sum_horizontal().item() == 0  # missing data: not fired
    assert sum(conditions.select(pl.all().any()).row(0)) >= 10  # most rules fire somewhere


@pytest.mark.parametrize(
    ("rules", "policy", "expected"),
    [
        ("[[rule]\nid = 1", None, "not valid TOML"),
        (GOOD_RULE.replace("tenure_days", "tenure_years"), None, "[KO-TENURE]: condition uses unknown feature(s) tenure_years"),
        (GOOD_RULE.replace("tenure_days < 180", "tenure_days <<< 180"), None, "[KO-TENURE]: condition is not valid SQL"),
        (GOOD_RULE + GOOD_RULE, None, "[KO-TENURE]: duplicate id"),
        (GOOD_RULE.replace('kind = "knockout"', 'kind = "grade_cap"'), None, "[KO-TENURE]: rule: a grade_cap rule needs `grade`"),
        (GOOD_RULE.replace('kind = "knockout"', 'kind = "limit_cap"'), None, "a limit_cap rule needs `cap`"),
        (GOOD_RULE.replace('kind = "knockout"', 'kind = "grade_cap"\ngrade = "Z"'), None, "grade 'Z' is not on the master scale"),
        (GOOD_RULE.replace('kind = "knockout"', 'kind = "decline"'), None, "[KO-TENURE]: kind: Input should be 'knockout', 'refer', 'grade_cap' or 'limit_cap'"),
        (GOOD_RULE.replace('reason_code = "R02"\n', ""), None, "[KO-TENURE]: reason_code: Field required"),
        (GOOD_RULE.replace('kind = "knockout"', 'kind = "limit_cap"\ncap = "avg_monthly_salez * 2"'), None, "cap uses unknown feature(s) avg_monthly_salez"),
        (GOOD_RULE, "[scorecard]\nbase_score = 600\nbase_odds = 30\npoints_to_double_odds = 20\n[[master_scale]]\ngrade = 'A'\npd_max = 0.05\n[[master_scale]]\ngrade = 'B'\npd_max = 0.02\n[[master_scale]]\ngrade = 'C'\npd_max = 1.0\n", "pd_max must strictly increase"),
        (GOOD_RULE, "[scorecard]\nbase_score = 600\nbase_odds = 30\npoints_to_double_odds = 20\n[[master_scale]]\ngrade = 'A'\npd_max = 0.05\n[[master_scale]]\ngrade = 'B'\npd_max = 0.5\n", "the last master_scale band must have pd_max = 1.0"),
        (GOOD_RULE, "[scorecard]\nbase_score = 600\nbase_odds = 30\npoints_to_double_odds = 20\n[[master_scale]]\ngrade = 'A'\npd_max = 0.05\n[[master_scale]]\ngrade = 'A'\npd_max = 1.0\n", "grades must be distinct"),
        ("something = 1\n" + GOOD_RULE, None, "unknown top-level key(s) something"),
        (GOOD_RULE.replace("tenure_days < 180", "sales_30d > AVG(sales_30d)"), None, "[KO-TENURE]: condition reads other merchants"),
        (GOOD_RULE.replace("tenure_days < 180", "ROW_NUMBER() OVER (ORDER BY sales_30d) = 1"), None, "[KO-TENURE]: condition reads other merchants"),
        (GOOD_RULE.replace("tenure_days < 180", "AVG(sales_30d) OVER (PARTITION BY industry_code) < 2000"), None, "[KO-TENURE]: condition reads other merchants"),
        (GOOD_RULE.replace("tenure_days < 180", "COUNT(*) > 1"), None, "[KO-TENURE]: condition reads other merchants"),
        (GOOD_RULE.replace("tenure_days < 180", "sales_30d * 2"), None, "[KO-TENURE]: condition gives Float64, not true or false"),
        (GOOD_RULE.replace("tenure_days < 180", "industry_code > 5"), None, "[KO-TENURE]: condition cannot be computed on the features"),
        (GOOD_RULE.replace('kind = "knockout"', 'kind = "limit_cap"\ncap = "industry_code"'), None, "[KO-TENURE]: cap gives String, not an amount"),
        (GOOD_RULE.replace('kind = "knockout"', 'kind = "limit_cap"\ncap = "AVG(avg_monthly_sales)"'), None, "[KO-TENURE]: cap reads other merchants"),
    ],
    ids=[
        "toml", "unknown-feature", "bad-sql", "duplicate-id", "grade-cap-without-grade", "limit-cap-without-cap",
        "grade-not-on-scale", "unknown-kind", "missing-field", "cap-unknown-feature", "bands-out-of-order",
        "bands-leave-a-gap", "duplicate-grade", "stray-key", "aggregate", "window", "window-by-industry", "count-rows", "not-boolean",
        "type-error", "cap-not-a-number", "cap-aggregate",
    ],
)  # fmt: skip
def test_broken_rule_sets_are_rejected_with_their_own_message(
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    rules: str,
    policy: str | None,
    expected: str,
) -> None:
    folder = broken(tmp_path, rules, policy)
    problems, rule_set = check_rule_set(folder)
    assert rule_set is None
    assert any(expected in str(p) for p in problems), [str(p) for p in problems]
    assert main(["rules", "check", str(folder)]) == 1
    printed = capsys.readouterr().out
    assert expected in printed and "the engine refuses this rule set" in printed
    with pytest.raises(PolicyError, match="cannot be used"):
        load_rule_set(folder)


def test_rules_check_passes_v1(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["rules", "check", str(RULES_V1)]) == 0
    assert "is valid (15 rules" in capsys.readouterr().out


@pytest.mark.parametrize(
    ("condition", "cap"),
    [
        ("tenure_days < 180", "10000"),
        ("TRUE", "avg_monthly_sales / 49"),
        ("sales_30d / zero_sales_share > 3", "LEAST(0.5 * avg_monthly_sales, 20000)"),
        ("CASE WHEN has_traffic THEN visits_30d < 10 ELSE FALSE END", "tenure_days / 7"),
        ("UPPER(region) LIKE 'N%' OR region = 'Over'", "ROUND(sales_90d / 3, 2)"),
    ],
)
def test_rules_that_look_at_one_merchant_pass_the_check(
    tmp_path: Path, condition: str, cap: str
) -> None:
    rule = GOOD_RULE.replace("tenure_days < 180", condition).replace(
        'kind = "knockout"', f'kind = "limit_cap"\ncap = "{cap}"'
    )
    problems, rule_set = check_rule_set(broken(tmp_path, rule))
    assert problems == [] and rule_set is not None


V1_POLICY = (RULES_V1 / "policy.toml").read_text()
SECOND_RULE = GOOD_RULE.replace('id = "KO-TENURE"', 'id = "KO-OTHER"').replace(
    "tenure_days < 180", "refund_ratio > 0.5"
)


@pytest.mark.parametrize(
    ("rules", "policy", "said"),
    [
        (GOOD_RULE.replace("tenure_days < 180", "TRUE"), None, "true for every merchant tried"),
        (
            GOOD_RULE.replace("tenure_days < 180", "tenure_days / 0 > 1"),
            None,
            "true for every merchant tried",
        ),
        (
            GOOD_RULE.replace("tenure_days < 180", "CURRENT_DATE > as_of"),
            None,
            "reads the clock (CURRENT_DATE)",
        ),
        (GOOD_RULE.replace("tenure_days < 180", "now() > as_of"), None, "reads the clock (NOW)"),
        (GOOD_RULE, V1_POLICY[: V1_POLICY.index("[limits]")], "no [limits]"),
        (
            GOOD_RULE,
            V1_POLICY.replace("holdback = 0.11", "holdback = 0.09"),
            "holdbacks must not rise from the best grade to the worst",
        ),
        (
            GOOD_RULE.replace('kind = "knockout"', 'kind = "limit_cap"\ncap = "-5000"'),
            None,
            "cap is negative",
        ),
        ("# nothing here\n", None, "no rules; a rule set needs at least one [[rule]]"),
        (GOOD_RULE + SECOND_RULE, None, "reason code R02 is also KO-TENURE's"),
    ],
)
def test_rules_check_closes_its_gaps(
    tmp_path: Path, rules: str, policy: str | None, said: str
) -> None:
    problems, rule_set = check_rule_set(broken(tmp_path, rules, policy))
    assert rule_set is None
    assert any(said in str(p) for p in problems), [str(p) for p in problems]


def test_python_in_a_condition_gets_one_short_line(tmp_path: Path) -> None:
    rules = GOOD_RULE.replace("tenure_days < 180", "__import__('os').system('echo hi')")
    problems, rule_set = check_rule_set(broken(tmp_path, rules))
    assert rule_set is None and len(problems) == 1
    assert "not valid SQL" in str(problems[0]) and len(str(problems[0])) < 250
