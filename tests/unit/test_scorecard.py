"""Training, the artifact and scoring, on a simulated book and on a table that is not ours."""

from __future__ import annotations

import datetime as dt
import hashlib
import json
from pathlib import Path

import numpy as np
import polars as pl
import pytest

from tests.conftest import RULES_V1
from underwriting.errors import InputError, PolicyError
from underwriting.io.artifacts import load_model, save_model
from underwriting.io.rule_sets import load_policy
from underwriting.model.artifact import Scorecard
from underwriting.model.scoring import MAX_REASONS, score, score_arrays
from underwriting.model.training import TrainingOptions, train
from underwriting.policy.parameters import Policy


def test_training_reports_metrics_and_selection(trained: tuple[Scorecard, Policy]) -> None:
    model, _ = trained
    assert model.version.startswith("scorecard-")
    assert set(model.training.metrics) == {"train", "test", "out_of_time"}
    assert model.training.metrics["out_of_time"].auc > 0.7
    assert len(model.features) >= 5
    assert all(f.coefficient > 0 and f.p_value <= 0.05 for f in model.features)
    assert model.dropped and all(d.reason for d in model.dropped)
    considered = {f.name for f in model.features} | {d.feature for d in model.dropped}
    assert not any(name.startswith("industry_median_") for name in considered)  # context only
    assert model.training.selection["min_information_value"] == 0.01
    assert [c.grade for c in model.training.calibration] == sorted(
        c.grade for c in model.training.calibration
    )


@pytest.mark.parametrize("shuffle", [False, True])
def test_the_same_rows_give_the_same_model_version(
    training_table: pl.DataFrame, trained: tuple[Scorecard, Policy], shuffle: bool
) -> None:
    model, policy = trained
    rows = training_table.sample(fraction=1.0, shuffle=True, seed=3) if shuffle else training_table
    again = train(
        rows,
        TrainingOptions(target="defaulted_12m", out_of_time=dt.date(2026, 10, 1)),
        policy,
        model.training.policy_version,
        "test-fixture",
    )
    assert again.version == model.version


def test_save_load_scores_identically(
    trained: tuple[Scorecard, Policy], training_table: pl.DataFrame, tmp_path: Path
) -> None:
    model, policy = trained
    save_model(model, tmp_path / "m.json")
    loaded = load_model(tmp_path / "m.json")
    assert loaded == model
    a, b = score(model, policy, training_table), score(loaded, policy, training_table)
    assert a.equals(b)
    assert np.array_equal(
        score_arrays(model, training_table)[2], score_arrays(loaded, training_table)[2]
    )


def test_an_edited_artifact_is_refused(trained: tuple[Scorecard, Policy], tmp_path: Path) -> None:
    model, _ = trained
    path = tmp_path / "m.json"
    save_model(model, path)
    document = json.loads(path.read_text())
    document["intercept"] += 0.1
    path.write_text(json.dumps(document))
    with pytest.raises(PolicyError, match="content does not match its version"):
        load_model(path)
    with pytest.raises(PolicyError, match="train one with `underwrite train`"):
        load_model(tmp_path / "absent.json")


def test_training_records_its_score_deciles_and_older_artifacts_still_load(
    trained: tuple[Scorecard, Policy], tmp_path: Path
) -> None:
    model, _ = trained
    recorded = model.training.score_distribution
    assert recorded is not None and recorded.part == "train"
    assert 8 <= len(recorded.shares) == len(recorded.edges) + 1 <= 10
    assert sum(recorded.shares) == pytest.approx(1.0)
    assert list(recorded.edges) == sorted(set(recorded.edges))
    # an artifact saved before the fields existed keeps its version and loads
    body = model.model_dump(mode="json", exclude={"version"})
    for newer in ("score_distribution", "protected_allowed", "warnings"):
        del body["training"][newer]
    canonical = json.dumps(body, sort_keys=True, separators=(",", ":"), allow_nan=False)
    older = {**body, "version": f"scorecard-{hashlib.sha256(canonical.encode()).hexdigest()[:16]}"}
    (tmp_path / "older.json").write_text(json.dumps(older))
    loaded = load_model(tmp_path / "older.json")
    assert loaded.training.score_distribution is None and loaded.version == older["version"]
    assert loaded.version != model.version


def test_score_scale_doubles_odds_every_pdo(
    trained: tuple[Scorecard, Policy], training_table: pl.DataFrame
) -> None:
    model, policy = trained
    scored = score(model, policy, training_table)
    odds = (1 - scored["pd_12m"]) / scored["pd_12m"]
    expected = model.scaling.offset + model.scaling.factor * np.log(odds.to_numpy())
    assert np.abs(scored["score"].to_numpy() - expected).max() <= 0.5 + 1e-9
    assert scored["grade"].is_in([b.grade for b in policy.master_scale]).all()


def test_a_feature_against_its_declared_direction_is_dropped(training_table: pl.DataFrame) -> None:
    policy, version = load_policy(RULES_V1)
    flipped = training_table.with_columns(-pl.col("chargeback_ratio"))  # declared: riskier
    model = train(flipped, TrainingOptions(target="defaulted_12m"), policy, version, "x")
    assert "chargeback_ratio" not in [f.name for f in model.features]
    reason = next(d.reason for d in model.dropped if d.feature == "chargeback_ratio")
    assert "information value" in reason


def test_any_table_with_a_binary_target_trains() -> None:
    rng = np.random.default_rng(5)
    n = 6000
    income = rng.lognormal(8, 0.5, n)
    purpose = rng.choice(["car", "house", "education", "other"], n)
    risk = -2.0 - 0.8 * np.log(income / 3000) + np.where(purpose == "education", 0.7, 0.0)
    frame = pl.DataFrame(
        {
            "income": np.where(rng.random(n) < 0.05, np.nan, income),
            "purpose": purpose,
            "noise": rng.normal(size=n),
            "status": np.where(rng.random(n) < 1 / (1 + np.exp(-risk)), "bad", "good"),
        }
    )
    policy, version = load_policy(RULES_V1)
    model = train(
        frame, TrainingOptions(target="status", date_column=None, exclude=()), policy, version, "x"
    )
    names = {f.name for f in model.features}
    assert {"income", "purpose"} <= names and "noise" not in names
    assert next(f for f in model.features if f.name == "income").direction_source == "data"
    assert model.training.metrics["test"].auc > 0.6


def test_a_target_that_is_not_binary_is_refused() -> None:
    frame = pl.DataFrame({"x": [1.0, 2.0, 3.0], "y": [0, 1, 2]})
    policy, version = load_policy(RULES_V1)
    with pytest.raises(InputError, match="must be binary"):
        train(frame, TrainingOptions(target="y", date_column=None), policy, version, "x")


def test_reasons_are_at_most_four_and_name_model_features(
    trained: tuple[Scorecard, Policy], training_table: pl.DataFrame
) -> None:
    model, policy = trained
    scored = score(model, policy, training_table)
    names = {f.name for f in model.features}
    lengths = scored["reasons"].list.len()
    assert lengths.max() <= MAX_REASONS  # type: ignore[operator]
    assert set(scored["reasons"].explode().drop_nulls()) <= names


def test_model_report_is_one_offline_page(
    trained: tuple[Scorecard, Policy], training_table: pl.DataFrame
) -> None:
    from underwriting.reports.model import model_report

    model, policy = trained
    page = model_report(model, policy, training_table)
    assert page.count("<svg") == 4  # ROC, KS, calibration, score distribution
    assert "<script" not in page and "https://" not in page
    assert model.version in page
    for feature in model.features:
        assert f"<code>{feature.name}</code>" in page
    for dropped in model.dropped[:3]:
        assert dropped.feature in page
