"""Portfolio re-scoring on real Parquet files: counts add up with bad rows injected, a run
killed at random points and resumed equals an uninterrupted run, a finished run is never
written again, and one merchant re-scored alone gets its row of the batch."""

from __future__ import annotations

import datetime as dt
import json
import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import polars as pl
import pytest

from tests.conftest import RULES_V1
from underwriting.batch.rescore import rescore
from underwriting.engine import Engine
from underwriting.errors import InputError
from underwriting.io.artifacts import save_model
from underwriting.io.rule_sets import load_rule_set
from underwriting.model.artifact import Scorecard
from underwriting.policy.parameters import Policy

AS_OF = dt.date(2026, 10, 1)


@pytest.fixture(scope="module")
def engine(trained: tuple[Scorecard, Policy]) -> Engine:
    return Engine(trained[0], load_rule_set(RULES_V1))


def _decisions(run: Path) -> pl.DataFrame:
    return pl.read_parquet(sorted((run / "decisions").glob("*.parquet")))


def test_counts_add_up_with_bad_rows_injected(
    small_book: Path, tmp_path: Path, engine: Engine
) -> None:
    book = tmp_path / "book"
    shutil.copytree(small_book, book)
    merchants = pl.read_parquet(book / "merchants.parquet")
    bad_profile = merchants.head(1).with_columns(
        pl.lit("MBAD0001").alias("merchant_id"), pl.lit("0000").alias("industry_code")
    )
    pl.concat([merchants, bad_profile]).write_parquet(book / "merchants.parquet")
    cashflow = pl.read_parquet(small_book / "cashflow").head(3)
    bad_rows = pl.concat(
        [
            cashflow.head(1).with_columns(pl.lit(-10.0).alias("gross_sales")),
            cashflow.slice(1, 1).with_columns(pl.lit("MNOBODY").alias("merchant_id")),
            cashflow.slice(2, 1).with_columns(pl.lit(dt.date(2026, 12, 1)).alias("date")),
        ]
    )
    bad_rows.write_parquet(book / "cashflow" / "zz-injected.parquet")
    manifest = rescore(book, AS_OF, tmp_path / "run", engine, chunk_merchants=200)
    assert manifest.adds_up
    assert manifest.merchants_in == 601
    assert manifest.decided == 600 and manifest.merchants_quarantined == 1
    # the negative row repeats a real merchant-day with other figures: both copies go; the
    # row dated after the as-of date is set aside, counted, never used
    assert manifest.rows["cashflow"]["quarantined"] == 3
    assert manifest.rows["cashflow"]["after_as_of"] == 1
    held = pl.read_parquet(sorted((tmp_path / "run" / "quarantine").glob("*.parquet")))
    assert held.height == 4
    assert set(held["table"]) == {"merchants", "cashflow"}
    decisions = _decisions(tmp_path / "run")
    assert decisions.height == 600 and decisions["merchant_id"].is_unique().all()
    saved = json.loads((tmp_path / "run" / "manifest.json").read_text())
    assert saved["adds_up"] is True and saved["status"] == "finished"


def test_a_finished_run_is_never_written_again(
    small_book: Path, tmp_path: Path, engine: Engine
) -> None:
    rescore(small_book, AS_OF, tmp_path / "run", engine, chunk_merchants=300)
    with pytest.raises(InputError, match="finished run"):
        rescore(small_book, AS_OF, tmp_path / "run", engine, chunk_merchants=300)
    (tmp_path / "other").mkdir()
    shutil.copy(tmp_path / "run" / "run.json", tmp_path / "other" / "run.json")
    with pytest.raises(InputError, match="other as_of"):
        rescore(small_book, dt.date(2026, 9, 1), tmp_path / "other", engine, chunk_merchants=300)


def test_a_killed_run_resumes_to_the_uninterrupted_result(
    small_book: Path, tmp_path: Path, engine: Engine, trained: tuple[Scorecard, Policy]
) -> None:
    whole = rescore(small_book, AS_OF, tmp_path / "whole", engine, chunk_merchants=40)
    model = tmp_path / "model.json"
    save_model(trained[0], model)
    run = tmp_path / "killed"
    command = [sys.executable, "-m", "underwriting.cli", "rescore", "--data", str(small_book),
               "--as-of", AS_OF.isoformat(), "--out", str(run), "--chunk", "40",
               "--model", str(model), "--rules", str(RULES_V1)]  # fmt: skip
    for wanted in (2, 6, 11):  # kill it at three points, each after more chunks are done
        process = subprocess.Popen(command, stderr=subprocess.DEVNULL, stdout=subprocess.DEVNULL)
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline and process.poll() is None:
            if len(list((run / "decisions").glob("*.parquet"))) >= wanted:
                break
            time.sleep(0.01)
        os.kill(process.pid, signal.SIGKILL)
        process.wait()
    assert (
        not (run / "manifest.json").exists()
        or json.loads((run / "manifest.json").read_text())["chunks_resumed"] > 0
    )
    if not (run / "manifest.json").exists():
        assert subprocess.run(command, capture_output=True).returncode == 0
    resumed = json.loads((run / "manifest.json").read_text())
    assert resumed["chunks_resumed"] >= 2
    assert resumed["decided"] == whole.decided and resumed["rows"] == whole.rows
    assert not list(run.rglob("*.partial"))
    assert _decisions(run).equals(_decisions(tmp_path / "whole"))


def test_one_merchant_alone_gets_its_row_of_the_batch(
    small_book: Path, tmp_path: Path, engine: Engine, book_tables: dict[str, pl.DataFrame]
) -> None:
    rescore(small_book, AS_OF, tmp_path / "all", engine, chunk_merchants=250)
    batch = _decisions(tmp_path / "all")
    for merchant in ("M00000004", "M00000333", "M00000600"):
        alone = tmp_path / f"book-{merchant}"
        (alone / "cashflow").mkdir(parents=True)
        (alone / "traffic").mkdir()
        mine = pl.col("merchant_id") == merchant
        book_tables["merchants"].filter(mine).write_parquet(alone / "merchants.parquet")
        book_tables["cashflow"].filter(mine).write_parquet(alone / "cashflow" / "part.parquet")
        book_tables["traffic"].filter(mine).write_parquet(alone / "traffic" / "part.parquet")
        book_tables["industry_benchmarks"].write_parquet(alone / "industry_benchmarks.parquet")
        rescore(alone, AS_OF, tmp_path / f"run-{merchant}", engine)
        assert _decisions(tmp_path / f"run-{merchant}").equals(batch.filter(mine))


def test_the_report_against_a_previous_run(
    small_book: Path, tmp_path: Path, engine: Engine
) -> None:
    with pytest.raises(InputError, match="not a finished run"):
        rescore(small_book, AS_OF, tmp_path / "now", engine, previous=tmp_path / "nothing")
    rescore(small_book, dt.date(2026, 7, 1), tmp_path / "july", engine, chunk_merchants=250)
    manifest = rescore(
        small_book, AS_OF, tmp_path / "now", engine, chunk_merchants=250, previous=tmp_path / "july"
    )
    assert manifest.previous == str((tmp_path / "july").resolve())
    saved = json.loads((tmp_path / "now" / "manifest.json").read_text())
    assert saved["previous"] == manifest.previous
    now, july = _decisions(tmp_path / "now"), _decisions(tmp_path / "july")
    assert {"industry_code", "existing_exposure"} <= set(now.columns)
    report = (tmp_path / "now" / "report.html").read_text()
    # offline: no scripts, no links to fetch anything
    assert "<script" not in report and "http://" not in report.replace("http://www.w3.org", "")
    assert "https://" not in report
    for heading in (
        "Grade migration",
        "Outcomes that flipped, and why",
        "Score drift",
        "Limit and exposure by grade",
        "Limit and exposure by industry",
        "Rules that fired most",
    ):
        assert f"<h2>{heading}</h2>" in report
    changed = now.join(july, on="merchant_id", suffix="_was").filter(
        pl.col("outcome") != pl.col("outcome_was")
    )
    assert changed.height > 0
    assert f"<p>{changed.height:,} merchants changed outcome." in report
    assert "model training data" in report and "previous run</td>" in report
    assert f"{int(now['limit'].sum()):,}" in report and f"{int(july['limit'].sum()):,}" in report
    alone = (tmp_path / "july" / "report.html").read_text()
    assert "No previous run was given" in alone and "Grade migration" not in alone


def test_a_past_as_of_sets_later_rows_aside_and_never_uses_them(
    small_book: Path, tmp_path: Path, engine: Engine, book_tables: dict[str, pl.DataFrame]
) -> None:
    past = dt.date(2026, 7, 1)
    manifest = rescore(small_book, past, tmp_path / "past", engine, chunk_merchants=250)
    assert manifest.adds_up
    for name in ("cashflow", "traffic"):
        later = book_tables[name].filter(pl.col("date") >= past).height
        counted = manifest.rows[name]
        assert counted["after_as_of"] == later > 0
        assert counted["rows_in"] == counted["kept"] + counted["quarantined"] + later
    held = pl.read_parquet(sorted((tmp_path / "past" / "quarantine").glob("*.parquet")))
    daily = held.filter(pl.col("table").is_in(["cashflow", "traffic"]))
    assert not daily["reason"].str.contains("on or after the as-of date").any()
    # what is still quarantined: profiles onboarded after the date, and their earlier rows
    assert set(held["field"]) <= {"onboarded_on", "merchant_id"}
    # the same book cut at the as-of date gets the very same decisions
    cut = tmp_path / "cut"
    (cut / "cashflow").mkdir(parents=True)
    (cut / "traffic").mkdir()
    for name in ("merchants", "industry_benchmarks", "outcomes"):
        book_tables[name].write_parquet(cut / f"{name}.parquet")
    for name in ("cashflow", "traffic"):
        before = book_tables[name].filter(pl.col("date") < past)
        before.write_parquet(cut / name / "part.parquet")
    rescore(cut, past, tmp_path / "cut-run", engine, chunk_merchants=250)
    assert _decisions(tmp_path / "past").equals(_decisions(tmp_path / "cut-run"))
