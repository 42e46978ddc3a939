"""Re-scoring on Apache Spark: the local engine's chunks, decision function and files, run
as Spark tasks (the I/O edge; `underwrite rescore --engine spark`).

Each chunk of merchant ids is one Spark partition. `mapInArrow` runs in the task's Python
worker exactly what the local engine runs for a chunk, `rescore.decide_chunk`: the chunk's
features from the data folder, `Engine.decide_frame`, and the atomic writes of its parts
into the run directory. So the result is the local engine's, file for file. The model and
the rule set travel to the workers as their own JSON (the artifacts are never pickled);
each worker process validates the data folder's small tables once.

On a cluster, the data folder and the run directory must be at the same path on every
worker (a shared file system) and the workers need this package installed. Spark needs
Java 17 or newer (`scripts/ensure-java` installs it where it is missing).
"""

from __future__ import annotations

import datetime as dt
import os
import sys
import threading
import warnings
from collections.abc import Iterator
from functools import lru_cache, partial
from pathlib import Path
from typing import Any

import polars as pl
import pyarrow as pa

from underwriting.batch.rescore import Chunks, Progress, chunk_tally, decide_chunk, decisions_part
from underwriting.engine import Engine
from underwriting.errors import InputError, PolicyError, UnderwritingError
from underwriting.io.data_folder import Book, DataFolder, reading
from underwriting.model.artifact import Scorecard
from underwriting.policy.rules import RuleSet

_LOG_CONFIG = Path(__file__).with_name("spark-log4j2.properties")
_DONE = pa.schema(
    [
        ("index", pa.int32()),
        ("merchants", pa.int64()),
        ("decided", pa.int64()),
        ("policy_error", pa.bool_()),
        ("error", pa.string()),
    ]
)
Payload = tuple[str, str, str, str, str]
"""Data folder, as-of date, run directory, model JSON and rule-set JSON, as text."""


def spark_session(master: str) -> Any:
    """The Spark session (created once per process) with this interpreter as its workers'."""
    try:
        from pyspark.sql import SparkSession
    except ImportError:
        raise InputError(
            "--engine spark needs pyspark; install the project's `spark` extra (make install does)"
        ) from None
    os.environ.setdefault("PYSPARK_PYTHON", sys.executable)  # workers run this interpreter
    os.environ.setdefault("SPARK_LOCAL_IP", "127.0.0.1")
    warnings.filterwarnings("ignore", category=FutureWarning, module="pyspark")
    try:
        session = (
            SparkSession.builder.master(master)
            .appName("underwrite rescore")
            .config("spark.driver.extraJavaOptions", f"-Dlog4j2.configurationFile={_LOG_CONFIG}")
            .config("spark.ui.enabled", "false")
            .config("spark.ui.showConsoleProgress", "false")
            .getOrCreate()
        )
    except Exception as error:  # pyspark raises its own runtime errors when Java is absent
        raise InputError(
            f"Spark did not start ({error}); it needs Java 17 or newer on the PATH or in "
            "JAVA_HOME: run scripts/ensure-java"
        ) from None
    session.sparkContext.setLogLevel("ERROR")
    return session


class SparkRunner:
    """Decides a run's chunks as Spark tasks on `master` (a `rescore` chunk runner)."""

    name = "spark"

    def __init__(self, master: str = "local[*]") -> None:
        self.master = master

    def run(self, chunks: Chunks, progress: Progress | None) -> None:
        """Decide the chunks still to do as Spark tasks, one partition each."""
        todo, out = chunks.todo, chunks.out
        if not todo:
            return
        session = spark_session(self.master)
        from pyspark.sql.pandas.types import from_arrow_schema  # pyspark is there once it started

        payload: Payload = (
            str(chunks.folder.path.resolve()),
            chunks.as_of.isoformat(),
            str(out.resolve()),
            chunks.engine.model.to_json(),
            chunks.engine.rules.to_json(),
        )
        ranges = session.createDataFrame(
            session.sparkContext.parallelize(todo, len(todo)), "index int, lo string, hi string"
        )
        decided = ranges.mapInArrow(partial(_decide_partition, payload), from_arrow_schema(_DONE))
        watcher = _Progress(out, [index for index, _, _ in todo], progress)
        watcher.start()
        try:
            finished = decided.collect()
        finally:
            watcher.stop()
        for row in sorted(finished, key=lambda r: r["index"]):
            if row["error"] is not None:  # the worker's own words, as the local engine says them
                raise (PolicyError if row["policy_error"] else InputError)(row["error"])
        missing = {index for index, _, _ in todo} - {row["index"] for row in finished}
        if missing:
            raise RuntimeError(f"Spark returned no result for chunks {sorted(missing)}")


@lru_cache(maxsize=2)
def _worker_state(payload: Payload) -> tuple[Engine, Book]:
    """The engine and the validated book, built once per worker process and run."""
    data, as_of, _, model_json, rules_json = payload
    engine = Engine(
        Scorecard.from_json(model_json, "the model sent to the worker"),
        RuleSet.from_json(rules_json),
    )
    return engine, DataFolder(Path(data)).open_book(dt.date.fromisoformat(as_of))


def _decide_partition(
    payload: Payload, batches: Iterator[pa.RecordBatch]
) -> Iterator[pa.RecordBatch]:
    """A Spark task: decide each chunk of the partition with the local engine's function
    (`decide_chunk`)."""
    out = Path(payload[2])
    for batch in batches:
        for row in batch.to_pylist():
            found: dict[str, Any] = {"index": row["index"], "merchants": 0, "decided": 0}
            try:
                with reading(Path(payload[0])):  # a damaged file is named, not a trace
                    engine, book = _worker_state(payload)
                    tally = decide_chunk(book, engine, out, row["index"], row["lo"], row["hi"])
                found.update(merchants=tally["merchants"], decided=tally["decided"])
            except UnderwritingError as error:  # bad input: said to the driver, not a crash
                found.update(error=str(error), policy_error=isinstance(error, PolicyError))
            except pl.exceptions.PolarsError as error:
                found.update(
                    error=f"the data in {payload[0]} could not be read "
                    f"({str(error).strip().splitlines()[0]}); check its files",
                    policy_error=False,
                )
            yield pa.RecordBatch.from_pylist([found], schema=_DONE)


class _Progress:
    """Reports each chunk as its decisions part appears (Spark's tasks run elsewhere)."""

    def __init__(self, out: Path, pending: list[int], progress: Progress | None):
        self.out, self.pending, self.progress = out, set(pending), progress
        self.halt = threading.Event()
        self.thread = threading.Thread(target=self._watch, daemon=True)

    def start(self) -> None:
        if self.progress is not None:
            self.thread.start()

    def stop(self) -> None:
        if self.progress is not None:
            self.halt.set()
            self.thread.join()
            self._sweep()

    def _watch(self) -> None:
        while not self.halt.wait(0.5):
            self._sweep()

    def _sweep(self) -> None:
        for index in sorted(self.pending):
            if decisions_part(self.out, index).exists():
                self.pending.discard(index)
                assert self.progress is not None
                self.progress(chunk_tally(self.out, index)["merchants"])
