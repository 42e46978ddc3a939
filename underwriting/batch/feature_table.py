"""Build the feature table of a data folder: validate, compute, write (the I/O edge).

Merchants are processed in chunks of consecutive ids so memory stays bounded whatever the
book's size: each chunk reads only its merchants' daily rows (Parquet statistics skip the
rest), validates them, computes their features and appends them to the output file. The
chunks partition the whole id space, so every input row is either kept or quarantined,
and the counts are checked to add up.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

import polars as pl
import pyarrow.parquet as pq

from underwriting.contract.tables import (
    CASHFLOW,
    INDUSTRY_BENCHMARKS,
    MERCHANTS,
    OUTCOMES,
    TRAFFIC,
    Table,
)
from underwriting.contract.validation import QUARANTINE_SCHEMA, find_table, require_table, validate
from underwriting.errors import InputError
from underwriting.features.compute import build_features
from underwriting.features.registry import feature_schema

AsOfSpec = dt.date | str
"""A date, or "outcomes" for each (merchant, as_of) pair of the outcomes table."""


@dataclass
class TableCount:
    """Rows read, kept and quarantined for one table."""

    rows_in: int = 0
    kept: int = 0
    quarantined: int = 0

    @property
    def adds_up(self) -> bool:
        return self.rows_in == self.kept + self.quarantined

    def add(self, other: TableCount) -> None:
        self.rows_in += other.rows_in
        self.kept += other.kept
        self.quarantined += other.quarantined


def add_counts(total: dict[str, TableCount], more: dict[str, TableCount]) -> None:
    """Add `more`'s counts into `total`, table by table."""
    for name, count in more.items():
        total.setdefault(name, TableCount()).add(count)


@dataclass
class FeatureBuild:
    """What a feature build read, kept, quarantined and wrote."""

    features: Path
    quarantine: Path
    merchants_scored: int = 0
    counts: dict[str, TableCount] = field(default_factory=dict)

    @property
    def adds_up(self) -> bool:
        return all(c.adds_up for c in self.counts.values())


def _id_ranges(ids: pl.Series, chunk: int) -> Iterator[tuple[str | None, str | None]]:
    """Half-open id ranges [lo, hi) covering the whole id space, `chunk` merchants each."""
    ordered = ids.sort()
    bounds = [ordered[i] for i in range(chunk, len(ordered), chunk)]
    lows: list[str | None] = [None, *bounds]
    highs: list[str | None] = [*bounds, None]
    yield from zip(lows, highs, strict=True)


def _in_range(lo: str | None, hi: str | None, raw_schema: pl.Schema) -> pl.Expr:
    merchant = pl.col("merchant_id")
    if raw_schema.get("merchant_id") != pl.String():
        merchant = merchant.cast(pl.String(), strict=False)
    inside = pl.lit(True)
    if lo is not None:
        inside = inside & (merchant >= lo)
    if hi is not None:
        inside = inside & (merchant < hi)
    if lo is None:
        inside = inside | merchant.is_null()
    return inside


def _count(lf: pl.LazyFrame) -> pl.LazyFrame:
    return lf.select(pl.len().alias("rows"))


class _ParquetAppender:
    """Append frames to one Parquet file, written atomically when closed."""

    def __init__(self, path: Path, schema: pl.Schema) -> None:
        self.path = path
        self.partial = path.with_name(path.name + ".partial")
        self.schema = schema
        self.writer: pq.ParquetWriter | None = None

    def write(self, frame: pl.DataFrame) -> None:
        table = frame.select(list(self.schema)).to_arrow()
        if self.writer is None:
            self.writer = pq.ParquetWriter(self.partial, table.schema, compression="zstd")
        self.writer.write_table(table)

    def close(self) -> None:
        if self.writer is None:
            self.write(pl.DataFrame(schema=self.schema))
        assert self.writer is not None
        self.writer.close()
        self.partial.replace(self.path)


@dataclass
class Book:
    """A data folder's small tables, validated; the daily tables wait, unread, for chunks."""

    benchmarks: pl.DataFrame
    merchants: pl.DataFrame
    as_of: dt.date | pl.DataFrame
    daily: list[tuple[Table, tuple[pl.LazyFrame, str] | None]]
    counts: dict[str, TableCount]
    quarantine: pl.DataFrame
    with_outcomes: bool

    def ranges(self, chunk_merchants: int) -> list[tuple[str | None, str | None]]:
        """Half-open merchant-id ranges covering every id, `chunk_merchants` each."""
        return list(_id_ranges(self.merchants.get_column("merchant_id"), chunk_merchants))


@dataclass
class Chunk:
    """One id range's features, quarantined rows and row counts."""

    features: pl.DataFrame
    quarantine: pl.DataFrame
    counts: dict[str, TableCount]
    merchants: int


def _tally(counts: dict[str, TableCount], table: Table, rows_in: int, kept: int, held: int) -> None:
    counts.setdefault(table.name, TableCount()).add(TableCount(rows_in, kept, held))


def open_book(data_dir: Path, as_of: AsOfSpec) -> Book:
    """Validate the benchmarks and merchants of `data_dir` (the daily tables are checked
    chunk by chunk by `chunk_features`)."""
    if not (isinstance(as_of, dt.date) or as_of == "outcomes"):
        raise InputError(f"as-of {as_of!r}: give a date (YYYY-MM-DD) or 'outcomes'")
    counts: dict[str, TableCount] = {}
    bench_raw, bench_src = require_table(INDUSTRY_BENCHMARKS, data_dir)
    bench = validate(INDUSTRY_BENCHMARKS, bench_raw, source=bench_src)
    benchmarks, bench_held, bench_in = pl.collect_all(
        [bench.kept, bench.quarantine, _count(bench_raw)]
    )
    _tally(counts, INDUSTRY_BENCHMARKS, bench_in.item(), benchmarks.height, bench_held.height)

    outcomes_raw = find_table(OUTCOMES, data_dir)
    as_of_frame: pl.DataFrame | None = None
    if as_of == "outcomes":
        if outcomes_raw is None:
            raise InputError(
                f"--as-of outcomes needs an outcomes table in {data_dir}; add one or give a date"
            )
        as_of_frame = (
            validate(OUTCOMES, outcomes_raw[0], source=outcomes_raw[1])
            .kept.select("merchant_id", "as_of", "defaulted_12m")
            .collect()
        )
    as_of_arg: dt.date | pl.DataFrame = as_of if isinstance(as_of, dt.date) else as_of_frame  # type: ignore[assignment]

    m_raw, m_src = require_table(MERCHANTS, data_dir)
    merchants_v = validate(
        MERCHANTS,
        m_raw,
        source=m_src,
        as_of=as_of_arg,
        industry_codes=benchmarks.get_column("industry_code"),
    )
    merchants, m_held, m_in = pl.collect_all(
        [merchants_v.kept, merchants_v.quarantine, _count(m_raw)]
    )
    _tally(counts, MERCHANTS, m_in.item(), merchants.height, m_held.height)
    daily = [
        (CASHFLOW, require_table(CASHFLOW, data_dir)),
        (TRAFFIC, find_table(TRAFFIC, data_dir)),
    ]
    if outcomes_raw is not None:
        daily.append((OUTCOMES, outcomes_raw))
    held = pl.concat([bench_held, m_held])
    return Book(benchmarks, merchants, as_of_arg, daily, counts, held, as_of == "outcomes")


def chunk_features(book: Book, lo: str | None, hi: str | None) -> Chunk:
    """Validate the daily rows of merchants with ids in [lo, hi) and compute their features."""
    counts: dict[str, TableCount] = {}
    chunk = book.merchants.filter(_in_range(lo, hi, book.merchants.schema))
    ids = chunk.get_column("merchant_id")
    chunk_as_of: dt.date | pl.DataFrame = (
        book.as_of
        if isinstance(book.as_of, dt.date)
        else book.as_of.filter(pl.col("merchant_id").is_in(ids.implode()))
    )
    kept: dict[str, pl.LazyFrame] = {}
    plans: list[pl.LazyFrame] = []
    # As of one date, every kept daily row feeds exactly one merchant's features, so the
    # features' own record counts are the kept counts: no second pass over the data, and
    # proof that nothing was lost between validation and features.
    counted_by_features = {"cashflow": "cashflow_days", "traffic": "traffic_days"}
    for table, found in book.daily:
        if found is None:
            kept[table.name] = pl.LazyFrame(schema=table.schema)
            continue
        raw, src = found
        rows = raw.filter(_in_range(lo, hi, raw.collect_schema()))
        checked = validate(
            table,
            rows,
            source=src,
            as_of=None if table is OUTCOMES else chunk_as_of,
            merchant_ids=ids,
        )
        kept[table.name] = checked.kept
        own_count = isinstance(chunk_as_of, pl.DataFrame) or table.name not in counted_by_features
        plans += [
            _count(rows),
            _count(checked.kept) if own_count else pl.LazyFrame({"rows": [None]}),
            checked.quarantine,
        ]
    plans.append(
        build_features(
            chunk.lazy(),
            kept["cashflow"],
            kept["traffic"],
            book.benchmarks.lazy(),
            chunk_as_of,
        )
    )
    results = pl.collect_all(plans)
    tables = [t for t, found in book.daily if found is not None]
    held = []
    for i, table in enumerate(tables):
        rows_in, kept_n, quarantined = results[3 * i : 3 * i + 3]
        kept_rows = kept_n.item()
        if kept_rows is None:
            kept_rows = int(results[-1].get_column(counted_by_features[table.name]).sum())
        _tally(counts, table, rows_in.item(), kept_rows, quarantined.height)
        held.append(quarantined)
    features = results[-1]
    if isinstance(chunk_as_of, pl.DataFrame):
        features = features.join(
            chunk_as_of, on=["merchant_id", "as_of"], how="left", maintain_order="left"
        )
    quarantine = pl.concat(held) if held else pl.DataFrame(schema=QUARANTINE_SCHEMA)
    return Chunk(features, quarantine, counts, chunk.height)


def build_feature_table(
    data_dir: Path,
    as_of: AsOfSpec,
    out: Path,
    *,
    quarantine_out: Path | None = None,
    chunk_merchants: int = 100_000,
    progress: Callable[[int], object] | None = None,
) -> FeatureBuild:
    """Validate the tables in `data_dir`, compute features as of `as_of`, write Parquet.

    Writes the feature table to `out` and every quarantined row to `quarantine_out`
    (default: beside `out`, named *.quarantine.parquet). `progress` is called with the
    number of merchants finished after each chunk.
    """
    book = open_book(data_dir, as_of)
    quarantine_out = quarantine_out or out.with_name(out.stem + ".quarantine.parquet")
    out.parent.mkdir(parents=True, exist_ok=True)
    build = FeatureBuild(out, quarantine_out, counts=book.counts)
    # As of each outcome's date, the table carries the outcome too: a training table.
    schema = feature_schema()
    if book.with_outcomes:
        schema = pl.Schema({**schema, "defaulted_12m": pl.Boolean()})
    features = _ParquetAppender(out, schema)
    quarantine = _ParquetAppender(quarantine_out, QUARANTINE_SCHEMA)
    quarantine.write(book.quarantine)
    for lo, hi in book.ranges(chunk_merchants):
        chunk = chunk_features(book, lo, hi)
        add_counts(build.counts, chunk.counts)
        quarantine.write(chunk.quarantine)
        features.write(chunk.features)
        build.merchants_scored += chunk.features.height
        if progress is not None:
            progress(chunk.merchants)
    features.close()
    quarantine.close()
    return build
