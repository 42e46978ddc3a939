"""Build the feature table of a data folder: validate, compute, write (the I/O edge).

Merchants are processed in chunks of consecutive ids so memory stays bounded whatever the
book's size: each chunk reads only its merchants' daily rows (Parquet statistics skip the
rest), validates them, computes their features and appends them to the output file. The
chunks partition the whole id space, so every input row is kept, quarantined, or (dated
on or after the as-of date) set aside unread, and the counts are checked to add up.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import polars as pl
import pyarrow.parquet as pq

from underwriting.contract.tables import (
    OUTCOMES,
)
from underwriting.contract.validation import QUARANTINE_SCHEMA, validate
from underwriting.features.compute import build_features
from underwriting.features.registry import feature_schema
from underwriting.io.data_folder import (
    Book,
    BookAsOf,
    DataFolder,
    TableCount,
    add_counts,
    row_count,
    tally,
)


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


def in_range(lo: str | None, hi: str | None, raw_schema: pl.Schema) -> pl.Expr:
    """Rows whose merchant_id lies in the chunk [lo, hi) (None: open at that end)."""
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
class Chunk:
    """One id range's features, quarantined rows and row counts."""

    features: pl.DataFrame
    quarantine: pl.DataFrame
    counts: dict[str, TableCount]
    merchants: int


def chunk_features(book: Book, lo: str | None, hi: str | None) -> Chunk:
    """Validate the daily rows of merchants with ids in [lo, hi) and compute their features."""
    counts: dict[str, TableCount] = {}
    chunk = book.merchants.filter(in_range(lo, hi, book.merchants.schema))
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
        rows = raw.filter(in_range(lo, hi, raw.collect_schema()))
        checked = validate(
            table,
            rows,
            source=src,
            as_of=None if table is OUTCOMES else chunk_as_of,
            merchant_ids=ids,
            set_aside_later=True,
        )
        kept[table.name] = checked.kept
        own_count = isinstance(chunk_as_of, pl.DataFrame) or table.name not in counted_by_features
        later = checked.after_as_of
        plans += [
            row_count(rows),
            row_count(checked.kept) if own_count else pl.LazyFrame({"rows": [None]}),
            checked.quarantine,
            row_count(later) if later is not None else pl.LazyFrame({"rows": [0]}),
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
        rows_in, kept_n, quarantined, after = results[4 * i : 4 * i + 4]
        kept_rows = kept_n.item()
        if kept_rows is None:
            kept_rows = int(results[-1].get_column(counted_by_features[table.name]).sum())
        tally(counts, table, rows_in.item(), kept_rows, quarantined.height, after.item())
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
    as_of: BookAsOf,
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
    book = DataFolder(data_dir).open_book(as_of)
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
