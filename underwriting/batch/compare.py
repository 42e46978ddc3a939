"""Champion against challenger on a whole book: both arms decide every merchant in one pass
over the data, streamed chunk by chunk like `rescore` (the I/O edge).

A comparison directory holds:

    run.json                    what the comparison is: both arms' run identities
    champion/, challenger/      each arm's run directory, as `underwrite rescore` of that
                                arm alone writes it (decisions parts equal byte for byte)
    changes.parquet             every merchant whose outcome, grade or limit differs, with
                                the rule, reason, grade move or limit term that explains it
    report.html                 the swap set and what it does to the book
    manifest.json               the swap set's counts, versions and timings, written last

Each chunk's features are built once and decided by both arms; a chunk is finished when
both arms' decisions parts are there. Killed and started again with the same arguments, it
skips finished chunks and gives the same result.
"""

from __future__ import annotations

import datetime as dt
import time
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import polars as pl

from underwriting.batch.feature_table import chunk_features
from underwriting.batch.rescore import (
    MANIFEST,
    REPORT,
    Manifest,
    Progress,
    atomic_write,
    begin_run,
    chunk_tally,
    decisions_part,
    finish_run,
    read_decisions,
    run_identity,
    write_chunk,
    write_json,
    write_parquet,
)
from underwriting.contract.tables import OUTCOMES
from underwriting.contract.validation import validate
from underwriting.engine import Engine, rule_reasons
from underwriting.io.data_folder import DataFolder
from underwriting.model.reasons import feature_meaning
from underwriting.reports.comparison import comparison_report
from underwriting.reports.comparison_figures import bad_rates, swap_groups, swap_set, unchanged
from underwriting.reports.portfolio import RunFigures
from underwriting.reports.run_figures import changes

ARMS = ("champion", "challenger")


@dataclass
class Comparison:
    """What a finished comparison decided: each arm's manifest and the swap set."""

    status: str
    champion: dict[str, Any]
    challenger: dict[str, Any]
    merchants: int
    same_outcome: int
    same_outcome_and_limit: int
    identical: int
    swap_set: list[dict[str, Any]]
    outcomes: str
    bad_rates: list[dict[str, Any]]
    """Each swap group's observed bad rate and 95% interval (empty without outcomes)."""
    bad_rate_p_value: float | None
    """Fisher's exact test of swapped in against swapped out."""
    seconds: float


def compare(
    data_dir: Path,
    as_of: dt.date,
    out: Path,
    champion: Engine,
    challenger: Engine,
    *,
    chunk_merchants: int = 50_000,
    progress: Progress | None = None,
) -> Comparison:
    """Decide every merchant in `data_dir` as of `as_of` under both engines into the
    comparison directory `out`, and write its report."""
    folder = DataFolder(data_dir)
    started = time.perf_counter()
    fingerprint = folder.fingerprint()
    arms = dict(zip(ARMS, (champion, challenger), strict=True))
    identities = {
        name: run_identity(data_dir, fingerprint, as_of, chunk_merchants, engine, None)
        for name, engine in arms.items()
    }
    begin_run(out, {name: identities[name] for name in ARMS}, "comparison")
    for name in ARMS:
        begin_run(out / name, identities[name])
    book = folder.open_book(as_of)
    for name in ARMS:
        write_parquet(out / name / "quarantine" / "books.parquet", book.quarantine)
    ranges = book.ranges(chunk_merchants)
    done_before = {
        i for i in range(len(ranges)) if all(decisions_part(out / n, i).exists() for n in ARMS)
    }
    if progress is not None and done_before:
        progress(sum(chunk_tally(out / ARMS[0], i)["merchants"] for i in done_before))
    for index, (lo, hi) in enumerate(ranges):
        if index in done_before:
            continue
        chunk = chunk_features(book, lo, hi)
        for name, engine in arms.items():
            tally = write_chunk(out / name, index, chunk, engine)
        if progress is not None:
            progress(tally["merchants"])
    manifests = {
        name: finish_run(
            out / name,
            book,
            len(ranges),
            engine,
            fingerprint=fingerprint,
            previous=None,
            runner="local",
            resumed=len(done_before),
            started=started,
        )
        for name, engine in arms.items()
    }
    return _finish(out, folder, as_of, arms, manifests, started)


def _finish(
    out: Path,
    folder: DataFolder,
    as_of: dt.date,
    arms: dict[str, Engine],
    manifests: dict[str, Manifest],
    started: float,
) -> Comparison:
    decided = {name: read_decisions(out / name) for name in ARMS}
    champion, challenger = decided["champion"], decided["challenger"]
    write_parquet(out / "changes.parquet", changes(challenger, champion))
    outcomes, note = observed_outcomes(folder, as_of)
    rates = bad_rates(swap_groups(champion, challenger), outcomes) if outcomes is not None else None
    texts: dict[str, str] = {}
    for engine in arms.values():
        texts |= {f.name: f"Model: {feature_meaning(f.name)}" for f in engine.model.features}
        texts |= rule_reasons(engine.rules) | {r.id: r.reason for r in engine.rules.rules}
    figures = {n: RunFigures(asdict(manifests[n]), decided[n]) for n in ARMS}
    page = comparison_report(figures["champion"], figures["challenger"], rates, note, texts)
    atomic_write(out / REPORT, lambda p: p.write_text(page))
    same = unchanged(champion, challenger)
    result = Comparison(
        status="finished",
        champion=asdict(manifests["champion"]),
        challenger=asdict(manifests["challenger"]),
        merchants=same.merchants,
        same_outcome=same.same_outcome,
        same_outcome_and_limit=same.same_outcome_and_limit,
        identical=same.identical,
        swap_set=swap_set(champion, challenger).to_dicts(),
        outcomes=note,
        bad_rates=[{**asdict(g), "rate": g.rate} for g in rates.groups] if rates else [],
        bad_rate_p_value=rates.p_value if rates else None,
        seconds=round(time.perf_counter() - started, 2),
    )
    write_json(out / MANIFEST, asdict(result))
    return result


def observed_outcomes(folder: DataFolder, as_of: dt.date) -> tuple[pl.DataFrame | None, str]:
    """The book's observed outcomes as of `as_of` (merchant_id, defaulted_12m; rows that
    fail the contract left out), or None, with a sentence saying which."""
    scanned = folder.scan(OUTCOMES)
    if scanned is None:
        return None, (
            f"The data folder {folder.path} holds no outcomes table, so the swapped-in and "
            "swapped-out merchants' bad rates cannot be observed."
        )
    raw, source = scanned
    kept = validate(OUTCOMES, raw, source=source).kept
    dates = kept.select(pl.col("as_of").min().alias("first"), pl.col("as_of").max().alias("last"))
    found, span = pl.collect_all(
        [
            kept.filter(pl.col("as_of") == as_of).select("merchant_id", "defaulted_12m"),
            dates,
        ]
    )
    if found.is_empty():
        first, last = span.row(0)
        held = f"outcomes as of {first} to {last}" if first is not None else "no valid outcomes"
        return None, (
            f"The outcomes table {source} holds {held}, none as of {as_of}: the bad rates of "
            "the swapped-in and swapped-out merchants cannot be observed for this date."
        )
    return found, (
        f"Observed outcomes as of {as_of} from {source} ({found.height:,} merchants): did "
        "the merchant default within 12 months. A merchant declined in practice may have "
        "no outcome; a swap group's rate is over the merchants with one."
    )
