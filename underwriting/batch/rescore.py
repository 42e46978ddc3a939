"""Portfolio re-scoring: features and decisions for every merchant of a data folder,
streamed chunk by chunk in bounded memory (the I/O edge; decisions come from the same
`Engine.decide_frame` as the API's).

A run directory holds:

    run.json                    what the run is: data, as-of date, chunking, versions, inputs
    quarantine/books.parquet    benchmark and profile rows that failed validation
    quarantine/part-NNNNN.parquet, counts/part-NNNNN.json, decisions/part-NNNNN.parquet
                                one set per chunk of merchant ids; the decisions part is
                                written last, so its presence marks a finished chunk
    report.html                 what moved since the previous run, drift, limits, rules fired
    manifest.json               counts, timings and status, written last, when all is done

Each decisions part holds one row per merchant with every field of a decision, and the
merchant's `industry_code` and `existing_exposure` for the report's segments.

Every file is written to a temporary name and renamed, so a killed run leaves only whole
files. Started again with the same arguments it skips finished chunks and gives the same
result as an uninterrupted run; a finished run directory is never written again.
"""

from __future__ import annotations

import datetime as dt
import json
import os
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any, Protocol

import polars as pl

from underwriting.batch.feature_table import Chunk, chunk_features
from underwriting.engine import Engine, rule_reasons
from underwriting.errors import InputError
from underwriting.io.data_folder import Book, DataFolder, TableCount, add_counts
from underwriting.model.drift import ScoreBands
from underwriting.model.reasons import feature_meaning
from underwriting.reports.portfolio import RunFigures, portfolio_report
from underwriting.reports.run_figures import REPORT_COLUMNS, SEGMENT_COLUMNS

MANIFEST = "manifest.json"
REPORT = "report.html"


def atomic_write(path: Path, write: Callable[[Path], object]) -> None:
    """Write `path` through `write` under a temporary name, then rename it: a killed run
    leaves the whole file or none."""
    path.parent.mkdir(parents=True, exist_ok=True)
    partial = path.with_name(f".{path.name}.partial")
    write(partial)
    os.replace(partial, path)


def write_json(path: Path, value: Any) -> None:
    """`value` as indented JSON with sorted keys, written atomically."""
    atomic_write(path, lambda p: p.write_text(json.dumps(value, indent=2, sort_keys=True)))


def write_parquet(path: Path, frame: pl.DataFrame) -> None:
    """`frame` as zstd Parquet, written atomically."""
    atomic_write(path, lambda p: frame.write_parquet(p, compression="zstd"))


@dataclass
class Manifest:
    """What a finished run read, decided and quarantined, with which versions, how fast."""

    status: str
    data: str
    as_of: str
    model_version: str
    rule_set_version: str
    input_fingerprint: str
    previous: str | None
    engine: str
    chunks: int
    chunks_resumed: int
    merchants_in: int
    decided: int
    merchants_quarantined: int
    rows: dict[str, dict[str, int]]
    outcomes: dict[str, int]
    seconds: float

    @property
    def adds_up(self) -> bool:
        rows_add_up = all(
            r["rows_in"] == r["kept"] + r["quarantined"] + r.get("after_as_of", 0)
            for r in self.rows.values()
        )
        return rows_add_up and self.merchants_in == self.decided + self.merchants_quarantined


@dataclass(frozen=True)
class Chunks:
    """The chunks a run has still to decide (index, lowest id, id past the last), and what
    deciding them needs."""

    folder: DataFolder
    as_of: dt.date
    out: Path
    engine: Engine
    book: Book
    todo: list[tuple[int, str | None, str | None]]


Progress = Callable[[int], object]
"""Called with the number of merchants of each chunk as it finishes."""


class ChunkRunner(Protocol):
    """Decides a run's chunks, each with `decide_chunk` (in this process, or elsewhere)."""

    name: str
    """What the manifest records as the run's engine."""

    def run(self, chunks: Chunks, progress: Progress | None) -> None: ...


class LocalRunner:
    """Decides the chunks one after another in this process."""

    name = "local"

    def run(self, chunks: Chunks, progress: Progress | None) -> None:
        for index, lo, hi in chunks.todo:
            tally = decide_chunk(chunks.book, chunks.engine, chunks.out, index, lo, hi)
            if progress is not None:
                progress(tally["merchants"])


def rescore(
    data_dir: Path,
    as_of: dt.date,
    out: Path,
    engine: Engine,
    *,
    chunk_merchants: int = 50_000,
    previous: Path | None = None,
    runner: ChunkRunner | None = None,
    progress: Progress | None = None,
) -> Manifest:
    """Decide every merchant in `data_dir` as of `as_of` into the run directory `out`, and
    write its report (against the finished run `previous`, when given).

    `runner` decides the chunks (default: `LocalRunner`; `underwriting.batch.spark`'s runs
    them as Spark tasks); the chunks, the decision function and the files written are the
    same whichever runs them.
    """
    runner = runner or LocalRunner()
    folder = DataFolder(data_dir)
    if previous is not None and not (previous / MANIFEST).exists():
        raise InputError(
            f"--previous {previous} is not a finished run directory (no {MANIFEST}); give the "
            "folder of an earlier finished `underwrite rescore` run"
        )
    started = time.perf_counter()
    fingerprint = folder.fingerprint()
    begin_run(out, run_identity(data_dir, fingerprint, as_of, chunk_merchants, engine, previous))
    book = folder.open_book(as_of)
    write_parquet(out / "quarantine" / "books.parquet", book.quarantine)
    ranges = book.ranges(chunk_merchants)
    done_before = {i for i in range(len(ranges)) if decisions_part(out, i).exists()}
    if progress is not None and done_before:
        progress(sum(chunk_tally(out, i)["merchants"] for i in done_before))
    todo = [(i, lo, hi) for i, (lo, hi) in enumerate(ranges) if i not in done_before]
    runner.run(Chunks(folder, as_of, out, engine, book, todo), progress)
    return finish_run(
        out,
        book,
        len(ranges),
        engine,
        fingerprint=fingerprint,
        previous=previous,
        runner=runner.name,
        resumed=len(done_before),
        started=started,
    )


def run_identity(
    data_dir: Path,
    fingerprint: str,
    as_of: dt.date,
    chunk_merchants: int,
    engine: Engine,
    previous: Path | None,
) -> dict[str, object]:
    """What a run is (its run.json): a run directory resumes only the same run."""
    return {
        "data": str(data_dir.resolve()),
        "as_of": as_of.isoformat(),
        "chunk_merchants": chunk_merchants,
        "model_version": engine.model.version,
        "rule_set_version": engine.rules.version,
        "input_fingerprint": fingerprint,
        "previous": str(previous.resolve()) if previous else None,
    }


def begin_run(out: Path, identity: dict[str, object], what: str = "run") -> None:
    """Start the run `identity` in `out`, or resume it there; refuses a finished run
    directory and an unfinished one of another run."""
    if (out / MANIFEST).exists():
        raise InputError(f"{out} holds a finished {what}; give --out a new directory")
    run_file = out / "run.json"
    if run_file.exists():
        earlier = json.loads(run_file.read_text())
        if earlier != identity:
            changed = sorted(k for k in identity if earlier.get(k) != identity[k])
            raise InputError(
                f"{out} holds an unfinished {what} with other {', '.join(changed)}; resume it "
                "with the same arguments and inputs, or give --out a new directory"
            )
    else:
        write_json(run_file, identity)


def finish_run(
    out: Path,
    book: Book,
    chunks: int,
    engine: Engine,
    *,
    fingerprint: str,
    previous: Path | None,
    runner: str,
    resumed: int,
    started: float,
) -> Manifest:
    """Add up a run's chunks (all finished) into its manifest, write its report, then the
    manifest that marks the run finished."""
    counts = {name: TableCount(**asdict(c)) for name, c in book.counts.items()}
    decided = 0
    outcomes: dict[str, int] = {}
    for index in range(chunks):
        tally = chunk_tally(out, index)
        add_counts(counts, {k: TableCount(**v) for k, v in tally["rows"].items()})
        decided += tally["decided"]
        for outcome, n in tally["outcomes"].items():
            outcomes[outcome] = outcomes.get(outcome, 0) + n
    merchants_count = counts["merchants"]
    identity = json.loads((out / "run.json").read_text())
    manifest = Manifest(
        status="finished",
        data=str(identity["data"]),
        as_of=str(identity["as_of"]),
        model_version=engine.model.version,
        rule_set_version=engine.rules.version,
        input_fingerprint=fingerprint,
        previous=str(previous.resolve()) if previous else None,
        engine=runner,
        chunks=chunks,
        chunks_resumed=resumed,
        merchants_in=merchants_count.rows_in,
        decided=decided,
        merchants_quarantined=merchants_count.quarantined,
        rows={k: asdict(v) for k, v in sorted(counts.items())},
        outcomes=dict(sorted(outcomes.items())),
        seconds=round(time.perf_counter() - started, 2),
    )
    if not manifest.adds_up:
        raise AssertionError(f"counts do not add up: {manifest}")
    atomic_write(out / REPORT, lambda p: p.write_text(run_report(out, manifest, engine, previous)))
    manifest.seconds = round(time.perf_counter() - started, 2)
    write_json(out / MANIFEST, {**asdict(manifest), "adds_up": manifest.adds_up})
    return manifest


def _part(out: Path, folder: str, index: int, suffix: str = ".parquet") -> Path:
    return out / folder / f"part-{index:05d}{suffix}"


def decisions_part(out: Path, index: int) -> Path:
    """Where chunk `index` of a run writes its decisions (last, so it marks the chunk done)."""
    return _part(out, "decisions", index)


def chunk_tally(out: Path, index: int) -> dict[str, Any]:
    """What a finished chunk read and decided (its counts file)."""
    tally: dict[str, Any] = json.loads(_part(out, "counts", index, ".json").read_text())
    return tally


def decide_chunk(
    book: Book, engine: Engine, out: Path, index: int, lo: str | None, hi: str | None
) -> dict[str, Any]:
    """Features and decisions of the merchants with ids in [lo, hi), written into `out` as
    chunk `index` (quarantine, counts, then the decisions part that marks it finished);
    returns its tally."""
    return write_chunk(out, index, chunk_features(book, lo, hi), engine)


def write_chunk(out: Path, index: int, chunk: Chunk, engine: Engine) -> dict[str, Any]:
    """Decide a chunk's merchants from their features and write them into `out` as chunk
    `index` (quarantine, counts, then the decisions part that marks it finished); returns
    its tally."""
    decisions = engine.decide_frame(chunk.features, words=False).join(
        chunk.features.select("merchant_id", *SEGMENT_COLUMNS),
        on="merchant_id",
        how="left",
        maintain_order="left",
    )
    tally = {
        "rows": {k: asdict(v) for k, v in chunk.counts.items()},
        "merchants": chunk.merchants,
        "decided": decisions.height,
        "outcomes": {
            str(k): int(v) for k, v in decisions.get_column("outcome").value_counts().iter_rows()
        },
    }
    write_parquet(_part(out, "quarantine", index), chunk.quarantine)
    write_json(_part(out, "counts", index, ".json"), tally)
    write_parquet(decisions_part(out, index), decisions)  # last: marks the chunk finished
    return tally


def read_decisions(run: Path, columns: tuple[str, ...] = REPORT_COLUMNS) -> pl.DataFrame:
    """The decisions of a run directory (the given columns that it has), in merchant order."""
    scan = pl.scan_parquet(run / "decisions" / "*.parquet")
    present = scan.collect_schema().names()
    return scan.select(c for c in columns if c in present).collect()


def reason_texts(engine: Engine) -> dict[str, str]:
    """Each reason code, model feature and rule id a decision may list, in words."""
    return {
        **{f.name: f"Model: {feature_meaning(f.name)}" for f in engine.model.features},
        **rule_reasons(engine.rules),
        **{r.id: r.reason for r in engine.rules.rules},
    }


def run_report(out: Path, manifest: Manifest, engine: Engine, previous: Path | None) -> str:
    """The HTML report of the run in `out` (see `portfolio_report`)."""
    recorded = engine.model.training.score_distribution
    training = ScoreBands(recorded.edges, recorded.shares) if recorded else None
    texts = reason_texts(engine)
    earlier = (
        RunFigures(json.loads((previous / MANIFEST).read_text()), read_decisions(previous))
        if previous
        else None
    )
    return portfolio_report(
        RunFigures(asdict(manifest), read_decisions(out)), earlier, training, texts
    )
