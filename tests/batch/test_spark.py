"""The Spark engine (local mode) runs the local engine's chunks with the same decision
function: its run directory equals the local one file for file, it finishes a run the
local engine started, and bad input stops it with the local engine's words."""

from __future__ import annotations

import datetime as dt
import json
import shutil
from collections.abc import Callable
from pathlib import Path

import polars as pl
import pytest

from tests.conftest import RULES_V1
from underwriting.batch.rescore import Manifest, rescore
from underwriting.batch.spark import SparkRunner
from underwriting.engine import Engine
from underwriting.errors import InputError
from underwriting.io.rule_sets import load_rule_set
from underwriting.model.artifact import Scorecard
from underwriting.policy.parameters import Policy

AS_OF = dt.date(2026, 10, 1)
CHUNK = 150  # 600 merchants: four chunks, four Spark partitions


@pytest.fixture(scope="module")
def engine(trained: tuple[Scorecard, Policy]) -> Engine:
    return Engine(trained[0], load_rule_set(RULES_V1))


def _on_spark(
    book: Path, out: Path, engine: Engine, progress: Callable[[int], object] | None = None
) -> Manifest:
    return rescore(
        book,
        AS_OF,
        out,
        engine,
        chunk_merchants=CHUNK,
        runner=SparkRunner("local[2]"),
        progress=progress,
    )


def _files(run: Path) -> dict[str, bytes]:
    return {
        str(p.relative_to(run)): p.read_bytes()
        for folder in ("decisions", "quarantine", "counts")
        for p in sorted((run / folder).glob("*"))
    }


def _figures(run: Path) -> dict[str, object]:
    manifest = json.loads((run / "manifest.json").read_text())
    return {k: v for k, v in manifest.items() if k not in {"seconds", "engine", "chunks_resumed"}}


def test_spark_equals_the_local_engine_bit_for_bit(
    small_book: Path, tmp_path: Path, engine: Engine
) -> None:
    local = rescore(small_book, AS_OF, tmp_path / "local", engine, chunk_merchants=CHUNK)
    seen: list[int] = []
    spark = _on_spark(small_book, tmp_path / "spark", engine, seen.append)
    assert spark.engine == "spark" and local.engine == "local"
    assert spark.chunks == 4 and sum(seen) == spark.merchants_in == 600
    files = _files(tmp_path / "spark")
    assert len(files) == 13  # 4 decisions, 4 + 1 quarantine, 4 counts
    assert files == _files(tmp_path / "local")
    assert _figures(tmp_path / "spark") == _figures(tmp_path / "local")


def test_spark_finishes_a_run_the_local_engine_started(
    small_book: Path, tmp_path: Path, engine: Engine
) -> None:
    rescore(small_book, AS_OF, tmp_path / "local", engine, chunk_merchants=CHUNK)
    started = tmp_path / "started"
    started.mkdir()
    shutil.copy(tmp_path / "local" / "run.json", started / "run.json")
    for folder in ("decisions", "quarantine", "counts"):
        (started / folder).mkdir()
        for name in ("part-00000", "part-00002"):
            for found in (tmp_path / "local" / folder).glob(f"{name}.*"):
                shutil.copy(found, started / folder / found.name)
    manifest = _on_spark(small_book, started, engine)
    assert manifest.chunks_resumed == 2
    assert _files(started) == _files(tmp_path / "local")


def test_bad_input_in_a_spark_task_is_the_local_engines_input_error(
    small_book: Path, tmp_path: Path, engine: Engine
) -> None:
    book = tmp_path / "book"
    shutil.copytree(small_book, book)
    for part in (book / "cashflow").glob("*.parquet"):
        pl.read_parquet(part).drop("refunds").write_parquet(part)
    with pytest.raises(InputError, match="missing required column") as local:
        rescore(book, AS_OF, tmp_path / "local", engine, chunk_merchants=CHUNK)
    with pytest.raises(InputError) as spark:
        _on_spark(book, tmp_path / "spark", engine)
    assert str(spark.value) == str(local.value)
