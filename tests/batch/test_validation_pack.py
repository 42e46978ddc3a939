"""`underwrite report validation` and `rescore --owners` end to end on a simulated book
with four matured cohorts: the page and its JSON, the planted proxy flagged and a neutral
feature not, rule firing read from a real run, and each bad input told how to fix it.
The owners table's firewall: nothing that decides reads it."""

from __future__ import annotations

import datetime as dt
import json
import re
import shutil
from pathlib import Path
from typing import Any

import polars as pl
import pytest

from underwriting.batch.rescore import read_decisions
from underwriting.cli import main
from underwriting.contract.tables import TABLES
from underwriting.decision import DECISION_SCHEMA, Decision
from underwriting.fairness.owners import ATTRIBUTES, OWNERS_FILE
from underwriting.features.registry import FEATURES_BY_NAME
from underwriting.io.artifacts import save_model
from underwriting.model.artifact import Scorecard
from underwriting.model.protected import protected_columns
from underwriting.policy.parameters import Policy
from underwriting.simulate.book import SimulationConfig, simulate

ROOT = Path(__file__).resolve().parents[2]
BOOK = SimulationConfig(merchants=4000, as_of=dt.date(2026, 10, 1), cohorts=8, seed=31)
ON = "2026-12-03"  # the four cohorts of 2025 have matured, the four of 2026 not


@pytest.fixture(scope="module")
def book(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("validation") / "book"
    simulate(BOOK, folder)
    return folder


@pytest.fixture(scope="module")
def model_file(tmp_path_factory: pytest.TempPathFactory, trained: tuple[Scorecard, Policy]) -> Path:
    path = tmp_path_factory.mktemp("model") / "scorecard.json"
    save_model(trained[0], path)
    return path


@pytest.fixture(scope="module")
def run(book: Path, model_file: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("runs") / "run"
    args = ["rescore", "--data", str(book), "--as-of", "2026-10-01", "--out", str(out)]
    assert main([*args, "--model", str(model_file), "--owners", str(book / OWNERS_FILE)]) == 0
    return out


@pytest.fixture(scope="module")
def pack(
    book: Path, model_file: Path, run: Path, tmp_path_factory: pytest.TempPathFactory
) -> dict[str, Any]:
    out = tmp_path_factory.mktemp("pack") / "validation.html"
    code = main(
        ["report", "validation", "--data", str(book), "--model", str(model_file), "--on", ON,
         "--runs", str(run), "--out", str(out)]
    )  # fmt: skip
    assert code == 0
    assert out.read_text().startswith("<!doctype html>")
    figures: dict[str, Any] = json.loads(out.with_suffix(".json").read_text())
    figures["page"] = out.read_text()
    return figures


def test_the_pack_backtests_the_matured_cohorts_only(pack: dict[str, Any], book: Path) -> None:
    outcomes = pl.read_parquet(book / "outcomes.parquet")
    matured = outcomes.filter(pl.col("as_of") <= dt.date(2025, 12, 3))
    assert pack["scope"]["matured_applications"] == matured.height == pack["scope"]["decided"]
    assert [c["matured"] for c in pack["cohorts"]] == [True] * 4 + [False] * 4
    book_row = pack["backtest"][-1]
    assert book_row["grade"] == "book"
    assert book_row["obligors"] == matured.height
    assert book_row["defaults"] == int(matured["defaulted_12m"].sum())
    assert sum(r["obligors"] for r in pack["backtest"][:-1]) == matured.height
    for row in pack["backtest"]:
        assert row["low"] <= row["observed"] <= row["high"]
        assert row["jeffreys"] in ("green", "yellow", "red")
    d = pack["discrimination"]
    assert d["auc_low"] < d["auc"] < d["auc_high"] and d["reference_part"] == "out_of_time"
    assert d["gini"] == pytest.approx(2 * d["auc"] - 1)
    assert len(pack["features"]) == pack["scope"]["model_features"]
    assert pack["score_psi"]["stability"] == "stable"
    assert "Calibration by grade" in pack["page"] and "<svg" in pack["page"]


def test_the_planted_proxy_is_flagged_and_a_neutral_feature_is_not(pack: dict[str, Any]) -> None:
    proxies = {(p["feature"], p["attribute"]): p for p in pack["fairness"]["proxies"]}
    assert proxies["sales_90d", "minority_owned"]["strength"] == "strong"  # via the industry
    for attribute in ATTRIBUTES:
        assert proxies["chargeback_ratio", attribute]["strength"] == "weak"
    impact = {(r["attribute"], r["group"]): r for r in pack["fairness"]["adverse_impact"]}
    assert impact["minority_owned", "yes"]["air_approved"] < 0.9  # the planted disparity
    assert impact["minority_owned", "no"]["reference"]


def test_rule_firing_over_runs_counts_each_merchant_once(pack: dict[str, Any], run: Path) -> None:
    fired = read_decisions(run, ("rules_fired",)).explode("rules_fired").unique()
    name = next(k for k in pack["rule_firing"][0] if k != "rule")
    rates = {r["rule"]: r[name] for r in pack["rule_firing"]}
    decided = read_decisions(run, ("merchant_id",)).height
    for rule, rate in rates.items():
        merchants = (
            read_decisions(run, ("rules_fired",))
            .filter(pl.col("rules_fired").list.contains(rule))
            .height
        )
        assert rate == pytest.approx(merchants / decided)
    assert set(rates) == set(fired["rules_fired"].drop_nulls())


def test_rescore_with_owners_writes_the_screen(run: Path) -> None:
    screen = json.loads((run / "fair-lending.json").read_text())
    assert screen["without_owners"] == 0
    groups = {(r["attribute"], r["group"]) for r in screen["adverse_impact"]}
    assert ("minority_owned", "yes") in groups and "proxies" not in screen
    assert "four-fifths" in (run / "fair-lending.html").read_text()


def test_no_matured_cohort_says_which_date_would_do(
    book: Path, model_file: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    args = ["report", "validation", "--data", str(book), "--model", str(model_file)]
    assert main([*args, "--on", "2025-06-01", "--out", str(tmp_path / "v.html")]) == 2
    error = capsys.readouterr().err
    assert "no cohort" in error and "--on 2026-01-02" in error  # 2025-01-02's closes first
    assert not (tmp_path / "v.html").exists()


def test_an_owners_table_with_unknown_categories_is_refused_before_any_work(
    book: Path, model_file: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    owners = pl.read_parquet(book / OWNERS_FILE)
    bad = owners.with_columns(
        pl.when(pl.col("merchant_id") == "M00000007")
        .then(pl.lit("Hispanic"))
        .otherwise("ethnicity")
        .alias("ethnicity")
    )
    bad.write_csv(tmp_path / "owners.csv")
    args = ["report", "validation", "--data", str(book), "--model", str(model_file), "--on", ON]
    assert (
        main([*args, "--owners", str(tmp_path / "owners.csv"), "--out", str(tmp_path / "v.html")])
        == 2
    )
    error = capsys.readouterr().err
    assert "'ethnicity'" in error and "M00000007" in error and "'Hispanic'" in error
    assert "'Hispanic or Latino'" in error


def test_a_model_without_development_figures_gets_a_note_not_a_crash(
    book: Path, trained: tuple[Scorecard, Policy], tmp_path: Path
) -> None:
    model = trained[0]
    bare = model.model_copy(
        update={
            "training": model.training.model_copy(
                update={"metrics": {}, "score_distribution": None}
            )
        }
    ).with_version()
    save_model(bare, tmp_path / "bare.json")
    out = tmp_path / "v.html"
    args = ["report", "validation", "--data", str(book), "--model", str(tmp_path / "bare.json")]
    assert main([*args, "--on", ON, "--out", str(out)]) == 0
    figures = json.loads(out.with_suffix(".json").read_text())
    assert "no development figures" in figures["notes"]["development"]
    assert "underwrite train" in figures["notes"]["score_psi"]
    assert figures["discrimination"]["reference_auc"] is None
    assert figures["discrimination"]["p_value"] is None


# The firewall: the owners table reaches the fair-lending screen and nothing that decides.

DECIDING = [
    *(
        ROOT / "underwriting" / part
        for part in ("features", "policy", "model", "contract", "columns")
    ),
    *(ROOT / "underwriting" / f for f in ("engine.py", "applications.py", "decision.py")),
    ROOT / "underwriting" / "io" / "data_folder.py",
    ROOT / "underwriting" / "batch" / "rescore.py",
    ROOT / "underwriting" / "batch" / "feature_table.py",
    ROOT / "api",
]


def test_nothing_that_decides_reads_the_owners_table() -> None:
    sources = [
        p for place in DECIDING for p in ([place] if place.is_file() else place.rglob("*.py"))
    ]
    assert len(sources) > 40
    reads = re.compile(r"owners|fairness|minority_owned|women_owned|\bethnicity\b")
    for source in sources:
        text = source.read_text()
        if source.name == "protected.py":  # the guard that refuses them names them
            continue
        assert not reads.search(text), f"{source.relative_to(ROOT)} mentions the owners table"
    assert "owners" not in TABLES
    assert not set(ATTRIBUTES) & set(Decision.model_fields) and not set(ATTRIBUTES) & set(
        DECISION_SCHEMA
    )
    assert set(protected_columns(ATTRIBUTES)) == set(ATTRIBUTES)  # training refuses each


def test_a_rule_or_invariant_on_an_owner_attribute_is_refused(tmp_path: Path) -> None:
    from underwriting.io.rule_sets import check_rule_set

    rules = tmp_path / "rules"
    shutil.copytree(ROOT / "rules" / "v1", rules)
    with (rules / "rules.toml").open("a") as file:
        file.write(
            '\n[[rule]]\nid = "REF-OWNER"\nkind = "refer"\n'
            'condition = "minority_owned = \'yes\'"\nreason_code = "R99"\nreason = "Owner demographics"\n'
        )
    problems, rule_set = check_rule_set(rules)
    assert rule_set is None and any("minority_owned" in str(p) for p in problems)
    # an invariant names features the same way: the owners' columns are none of them
    assert not set(ATTRIBUTES) & set(FEATURES_BY_NAME)


def test_decisions_are_the_same_with_or_without_the_owners_table(
    book: Path, model_file: Path, run: Path, tmp_path: Path
) -> None:
    bare = tmp_path / "book"
    shutil.copytree(book, bare)
    (bare / OWNERS_FILE).unlink()
    out = tmp_path / "run"
    args = ["rescore", "--data", str(bare), "--as-of", "2026-10-01", "--out", str(out)]
    assert main([*args, "--model", str(model_file)]) == 0
    columns = tuple(DECISION_SCHEMA)
    assert read_decisions(out, columns).equals(read_decisions(run, columns))


def test_a_single_cohort_decides_the_same_on_its_faster_path(
    small_book: Path, trained: tuple[Scorecard, Policy], monkeypatch: pytest.MonkeyPatch
) -> None:
    from underwriting.batch import matured
    from underwriting.engine import Engine
    from underwriting.io.rule_sets import load_rule_set

    engine = Engine(trained[0], load_rule_set(ROOT / "rules" / "v1"))
    on = dt.date(2027, 10, 1)
    fast = matured.decide_matured(small_book, engine, on, chunk_merchants=200)
    monkeypatch.setattr(matured, "_one_date_if_so", lambda book, lo, hi: book)
    each = matured.decide_matured(small_book, engine, on, chunk_merchants=200)
    assert fast.decisions.height == 600
    assert fast.decisions.equals(each.decisions) and fast.features.equals(each.features)
    assert {k: v.adds_up for k, v in fast.counts.items()} == {k: True for k in fast.counts}
