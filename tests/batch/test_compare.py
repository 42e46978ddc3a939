"""Champion against challenger on real Parquet files: each arm equals a `rescore` of that
arm alone byte for byte, a tenure change swaps only the merchants whose tenure crosses
it, a champion against itself swaps nobody, a killed comparison resumes to the same
result, and the swap groups' bad rates are the outcomes counted by hand."""

from __future__ import annotations

import datetime as dt
import json
import shutil
import subprocess
import sys
from pathlib import Path

import polars as pl
import pytest
from scipy.stats import beta

from tests.conftest import RULES_V1
from underwriting.batch.compare import ARMS, compare
from underwriting.batch.feature_table import build_feature_table
from underwriting.batch.rescore import rescore
from underwriting.engine import Engine
from underwriting.errors import InputError
from underwriting.io.rule_sets import load_rule_set
from underwriting.model.artifact import Scorecard
from underwriting.policy.parameters import Policy

AS_OF = dt.date(2026, 10, 1)


def _tenure_floor(folder: Path, days: int) -> Path:
    """rules/v1 copied to `folder` with the tenure knock-out at `days` instead of 180."""
    shutil.copytree(RULES_V1, folder)
    rules = folder / "rules.toml"
    text = rules.read_text()
    assert "tenure_days < 180" in text
    rules.write_text(text.replace("tenure_days < 180", f"tenure_days < {days}"))
    return folder


@pytest.fixture(scope="module")
def engines(
    trained: tuple[Scorecard, Policy], tmp_path_factory: pytest.TempPathFactory
) -> tuple[Engine, Engine]:
    v2 = _tenure_floor(tmp_path_factory.mktemp("rules") / "v2", 365)
    return Engine(trained[0], load_rule_set(RULES_V1)), Engine(trained[0], load_rule_set(v2))


@pytest.fixture(scope="module")
def compared(
    small_book: Path, engines: tuple[Engine, Engine], tmp_path_factory: pytest.TempPathFactory
) -> Path:
    out = tmp_path_factory.mktemp("compare") / "v1-v2"
    compare(small_book, AS_OF, out, *engines, chunk_merchants=250)
    return out


def _files(run: Path) -> dict[str, bytes]:
    return {
        str(path.relative_to(run)): path.read_bytes()
        for folder in ("decisions", "quarantine", "counts")
        for path in sorted((run / folder).glob("*"))
    } | {"run.json": (run / "run.json").read_bytes()}


def test_each_arm_is_a_rescore_of_that_arm_alone_byte_for_byte(
    small_book: Path, compared: Path, engines: tuple[Engine, Engine], tmp_path: Path
) -> None:
    for name, engine in zip(ARMS, engines, strict=True):
        alone = tmp_path / name
        rescore(small_book, AS_OF, alone, engine, chunk_merchants=250)
        mine, theirs = _files(compared / name), _files(alone)
        assert len(mine) == 3 * 3 + 1 + 1  # 3 chunks of 3 files, the books' quarantine, run
        assert mine == theirs
        manifest = json.loads((compared / name / "manifest.json").read_text())
        assert manifest["status"] == "finished" and manifest["adds_up"] is True


def test_a_tenure_floor_swaps_only_the_merchants_whose_tenure_crosses_it(
    small_book: Path, compared: Path, tmp_path: Path
) -> None:
    build = build_feature_table(small_book, AS_OF, tmp_path / "features.parquet")
    tenure = pl.read_parquet(build.features).select("merchant_id", "tenure_days")
    manifest = json.loads((compared / "manifest.json").read_text())
    cells = pl.DataFrame(manifest["swap_set"])
    assert cells.height == 9 and int(cells["merchants"].sum()) == manifest["merchants"] == 600
    champion, challenger = (
        pl.read_parquet(compared / name / "decisions" / "*.parquet") for name in ARMS
    )
    assert int(cells["champion_limit"].sum()) == int(champion["limit"].sum())
    assert int(cells["challenger_limit"].sum()) == int(challenger["limit"].sum())
    moved = cells.filter(
        (pl.col("champion_outcome") != pl.col("challenger_outcome")) & (pl.col("merchants") > 0)
    )
    assert moved.height > 0
    assert set(moved["challenger_outcome"]) == {"decline"}  # a knock-out only declines
    changed = pl.read_parquet(compared / "changes.parquet").join(tenure, on="merchant_id")
    assert changed.height > 0
    assert changed["tenure_days"].is_between(180, 365, closed="left").all()
    flipped = changed.filter(pl.col("was") != pl.col("now"))
    assert flipped.height == int(moved["merchants"].sum())
    assert set(flipped["why"]) == {"KO-TENURE"}
    crossing = tenure.filter(pl.col("tenure_days").is_between(180, 365, closed="left"))
    declined_before = champion.filter(pl.col("outcome") == "decline")["merchant_id"]
    assert flipped.height == crossing.filter(~pl.col("merchant_id").is_in(declined_before)).height
    report = (compared / "report.html").read_text()
    assert "<script" not in report and "https://" not in report
    swapped = 600 - manifest["same_outcome"]
    assert f"{swapped:,} change outcome" in report
    for heading in ("Swap set", "By grade", "By industry", "Rules fired", "Reasons given"):
        assert f"<h2>{heading}</h2>" in report
    assert "KO-TENURE" in report and "largest limit changes" in report


def test_the_swap_groups_bad_rates_are_the_outcomes_counted_by_hand(
    compared: Path, book_tables: dict[str, pl.DataFrame]
) -> None:
    manifest = json.loads((compared / "manifest.json").read_text())
    champion, challenger = (
        pl.read_parquet(compared / name / "decisions" / "*.parquet").select(
            "merchant_id", pl.col("outcome").cast(pl.String).alias(name)
        )
        for name in ARMS
    )
    outcomes = book_tables["outcomes"].filter(pl.col("as_of") == AS_OF)
    both = champion.join(challenger, on="merchant_id").join(outcomes, on="merchant_id")
    swapped_out = both.filter(
        (pl.col("champion") == "approve") & (pl.col("challenger") != "approve")
    )
    by_group = {g["group"]: g for g in manifest["bad_rates"]}
    found = by_group["swapped out"]
    bads = int(swapped_out["defaulted_12m"].sum())
    assert found["with_outcome"] == swapped_out.height > 0 and found["bads"] == bads
    assert found["rate"] == pytest.approx(bads / swapped_out.height)
    # Jeffreys: the Beta(bads + 1/2, goods + 1/2) quantiles (the bound is 0 at no bads)
    goods = swapped_out.height - bads
    low = 0.0 if bads == 0 else beta.ppf(0.025, bads + 0.5, goods + 0.5)
    assert found["low"] == pytest.approx(low)
    assert found["high"] == pytest.approx(beta.ppf(0.975, bads + 0.5, goods + 0.5))
    assert by_group["swapped in"]["merchants"] == 0  # a stricter floor swaps nobody in
    assert manifest["bad_rate_p_value"] is None
    assert sum(g["merchants"] for g in manifest["bad_rates"]) == 600


def test_a_champion_against_itself_swaps_nobody(
    small_book: Path, engines: tuple[Engine, Engine], tmp_path: Path
) -> None:
    champion = engines[0]
    result = compare(small_book, AS_OF, tmp_path / "same", champion, champion)
    off_diagonal = [c for c in result.swap_set if c["champion_outcome"] != c["challenger_outcome"]]
    assert [c["merchants"] for c in off_diagonal] == [0] * 6
    assert result.identical == result.same_outcome == result.merchants == 600
    assert pl.read_parquet(tmp_path / "same" / "changes.parquet").is_empty()
    assert "No merchant's limit changed." in (tmp_path / "same" / "report.html").read_text()


def test_a_killed_comparison_resumes_to_the_same_result(
    small_book: Path, compared: Path, engines: tuple[Engine, Engine], tmp_path: Path
) -> None:
    killed = tmp_path / "killed"
    shutil.copytree(compared, killed)
    # as a kill leaves it: chunk 1 decided by the champion only, nothing finished
    for path in (
        killed / "manifest.json",
        killed / "report.html",
        killed / "changes.parquet",
        *(killed / name / "manifest.json" for name in ARMS),
        *(killed / name / "report.html" for name in ARMS),
        killed / "challenger" / "decisions" / "part-00001.parquet",
    ):
        path.unlink()
    result = compare(small_book, AS_OF, killed, *engines, chunk_merchants=250)
    assert result.champion["chunks_resumed"] == 2
    for name in ARMS:
        assert _files(killed / name) == _files(compared / name)
    assert result.swap_set == json.loads((compared / "manifest.json").read_text())["swap_set"]
    with pytest.raises(InputError, match="finished comparison"):
        compare(small_book, AS_OF, killed, *engines, chunk_merchants=250)
    (tmp_path / "other").mkdir()
    shutil.copy(compared / "run.json", tmp_path / "other" / "run.json")
    with pytest.raises(InputError, match="other challenger"):
        compare(small_book, AS_OF, tmp_path / "other", engines[0], engines[0], chunk_merchants=250)


def test_without_outcomes_the_report_says_so(
    small_book: Path, engines: tuple[Engine, Engine], tmp_path: Path
) -> None:
    book = tmp_path / "book"
    shutil.copytree(small_book, book)
    (book / "outcomes.parquet").unlink()
    result = compare(book, AS_OF, tmp_path / "run", *engines)
    assert "holds no outcomes table" in result.outcomes and result.bad_rates == []
    assert "holds no outcomes table" in (tmp_path / "run" / "report.html").read_text()
    later = compare(small_book, dt.date(2026, 9, 1), tmp_path / "later", *engines)
    assert "none as of 2026-09-01" in later.outcomes


def test_the_command_line(
    small_book: Path, tmp_path: Path, trained: tuple[Scorecard, Policy]
) -> None:
    from underwriting.io.artifacts import save_model

    model = tmp_path / "model.json"
    save_model(trained[0], model)
    v2 = _tenure_floor(tmp_path / "v2", 365)
    command = [sys.executable, "-m", "underwriting.cli", "compare", "--data", str(small_book),
               "--as-of", AS_OF.isoformat(), "--champion", str(RULES_V1), "--challenger",
               str(v2), "--champion-model", str(model), "--out", str(tmp_path / "run")]  # fmt: skip
    done = subprocess.run(command, capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    assert "600 merchants decided by both" in done.stdout
    assert "approve -> decline" in done.stdout and "report:" in done.stdout
    missing = [*command[:-1], str(tmp_path / "run2")]
    missing[missing.index(str(v2))] = str(tmp_path / "nowhere")
    failed = subprocess.run(missing, capture_output=True, text=True)
    assert failed.returncode != 0 and "Traceback" not in failed.stderr
    assert failed.stderr.startswith(f"error: rule set {tmp_path / 'nowhere'} cannot be used")
