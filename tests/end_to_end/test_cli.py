"""The `underwrite` command as a user runs it: simulate a book, then build its features."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import polars as pl
import pytest

from tests.conftest import RULES_V1
from underwriting.cli import main
from underwriting.engine import Engine
from underwriting.features.registry import feature_schema
from underwriting.io.artifacts import save_model
from underwriting.io.rule_sets import load_rule_set
from underwriting.model.artifact import Scorecard
from underwriting.policy.parameters import Policy


def test_simulate_then_features(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    data = tmp_path / "book"
    assert (
        main(["simulate", "--out", str(data), "--merchants", "150", "--days", "400", "--seed", "2"])
        == 0
    )
    out = capsys.readouterr().out
    assert "merchants" in out and "ground_truth.parquet" in out
    for name in (
        "merchants.parquet",
        "industry_benchmarks.parquet",
        "outcomes.parquet",
        "ground_truth.parquet",
    ):
        assert (data / name).exists(), name
    features = tmp_path / "features.parquet"
    code = main(
        [
            "features",
            "--data",
            str(data),
            "--as-of",
            "outcomes",
            "--out",
            str(features),
            "--chunk",
            "40",
        ]
    )
    assert code == 0
    printed = capsys.readouterr().out
    assert "Features of 150 merchants" in printed
    table = pl.read_parquet(features)
    assert table.schema == pl.Schema({**feature_schema(), "defaulted_12m": pl.Boolean()})
    assert table.height == 150
    assert table["merchant_id"].n_unique() == 150


def test_chunking_does_not_change_the_result(small_book: Path, tmp_path: Path) -> None:
    one = tmp_path / "one.parquet"
    many = tmp_path / "many.parquet"
    assert (
        main(["features", "--data", str(small_book), "--as-of", "2026-10-01", "--out", str(one)])
        == 0
    )
    assert (
        main(
            [
                "features",
                "--data",
                str(small_book),
                "--as-of",
                "2026-10-01",
                "--out",
                str(many),
                "--chunk",
                "77",
            ]
        )
        == 0
    )
    a = pl.read_parquet(one).sort("merchant_id")
    b = pl.read_parquet(many).sort("merchant_id")
    assert a.equals(b)


def test_bad_input_exits_with_a_clear_message(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code = main(
        [
            "features",
            "--data",
            str(tmp_path),
            "--as-of",
            "2026-10-01",
            "--out",
            str(tmp_path / "f.parquet"),
        ]
    )
    assert code == 2
    assert "error: industry_benchmarks" in capsys.readouterr().err


def test_bad_date_is_a_usage_error(tmp_path: Path) -> None:
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "underwriting.cli",
            "features",
            "--data",
            str(tmp_path),
            "--as-of",
            "01/10/2026",
            "--out",
            "x",
        ],
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode == 2
    assert "'01/10/2026' is not a date; write YYYY-MM-DD" in result.stderr


def test_train_then_score(
    training_table: pl.DataFrame, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    table = tmp_path / "train.parquet"
    training_table.write_parquet(table)
    model = tmp_path / "model.json"
    code = main(
        [
            "train",
            "--data",
            str(table),
            "--target",
            "defaulted_12m",
            "--out-of-time",
            "2026-10-01",
            "--out",
            str(model),
        ]
    )
    assert code == 0
    printed = capsys.readouterr().out
    assert "out_of_time" in printed and "Dropped" in printed
    scores = tmp_path / "scores.parquet"
    assert (
        main(["score", "--model", str(model), "--features", str(table), "--out", str(scores)]) == 0
    )
    result = pl.read_parquet(scores)
    assert result.height == training_table.height
    assert result["model_version"].unique().to_list()[0].startswith("scorecard-")
    assert result["policy_version"].unique().to_list()[0].startswith("v1+")
    lengths = result.select(pl.col("reasons").list.len(), pl.col("reason_texts").list.len())
    assert (lengths["reasons"] == lengths["reason_texts"]).all()
    texts = result.filter(pl.col("grade") == "G")["reason_texts"].explode().drop_nulls()
    assert texts.len() > 0 and texts.str.contains("best band|default more often").all()
    everyone = result["reason_texts"].explode().drop_nulls()
    assert everyone.str.contains("of the merchant's industry is").any()  # industry figure quoted


def test_train_refuses_a_non_binary_target(
    training_table: pl.DataFrame, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    table = tmp_path / "train.parquet"
    training_table.write_parquet(table)
    assert (
        main(
            [
                "train",
                "--data",
                str(table),
                "--target",
                "tenure_days",
                "--out",
                str(tmp_path / "m.json"),
            ]
        )
        == 2
    )
    assert "must be binary" in capsys.readouterr().err


def test_decide_one_merchant_from_raw_data_equals_the_batch(
    small_book: Path,
    trained: tuple[Scorecard, Policy],
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    model, _ = trained
    model_path = tmp_path / "model.json"
    save_model(model, model_path)
    features = tmp_path / "features.parquet"
    assert (
        main(
            ["features", "--data", str(small_book), "--as-of", "2026-10-01", "--out", str(features)]
        )
        == 0
    )
    batch = Engine(model, load_rule_set(RULES_V1)).decide_frame(pl.read_parquet(features))
    capsys.readouterr()
    for merchant in ("M00000003", "M00000042"):
        assert main(["decide", "--data", str(small_book), "--merchant", merchant, "--as-of", "2026-10-01",
                     "--model", str(model_path), "--json"]) == 0  # fmt: skip
        single = json.loads(capsys.readouterr().out)
        expected = batch.filter(pl.col("merchant_id") == merchant).row(0, named=True)
        assert single["outcome"] == expected["outcome"]
        assert single["limit"] == expected["limit"]
        assert single["pd_12m"] == expected["pd_12m"]
        assert single["reasons"] == expected["reasons"]
        assert single["reason_codes"] == expected["reason_codes"]
        assert single["rules_fired"] == expected["rules_fired"]
        assert single["rule_set_version"].startswith("v1+")
    assert main(["decide", "--data", str(small_book), "--merchant", "M00000003", "--as-of", "2026-10-01",
                 "--model", str(model_path)]) == 0  # fmt: skip
    printed = capsys.readouterr().out
    assert "Merchant M00000003 as of 2026-10-01:" in printed and "reasons:" in printed
    assert "30-day sales against" in printed and ("within" in printed or "below" in printed)
