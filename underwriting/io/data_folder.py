"""The one reader of input data: a folder of the contract's tables, each `NAME.parquet`,
`NAME.csv` or a folder `NAME/` of Parquet or CSV parts.

The CLI, the API's by-id lookup and batch runs all read through `DataFolder`. It finds and
scans the files; it validates only the small tables a run needs whole (industry
benchmarks, and for a batch the merchant profiles). A merchant's daily rows are handed on
as the files hold them and validated once, where they are used: by `Engine.prepare` for a
decision, by the batch's chunk for a feature table.
"""

from __future__ import annotations

import datetime as dt
import hashlib
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path
from typing import Literal

import polars as pl

from underwriting.contract.tables import (
    CASHFLOW,
    INDUSTRY_BENCHMARKS,
    MERCHANTS,
    OUTCOMES,
    TABLES,
    TRAFFIC,
    Table,
)
from underwriting.contract.validation import validate
from underwriting.errors import InputError, UnreadableTableError

OUTCOME_DATES: Literal["outcomes"] = "outcomes"
"""As-of dates read from the outcomes table: each (merchant, as_of) pair, for training."""

BookAsOf = dt.date | Literal["outcomes"]
"""What a book is opened as of: one date, or each outcome's date (`OUTCOME_DATES`)."""


@dataclass
class TableCount:
    """Rows read, kept and quarantined for one table, and the rows dated on or after the
    as-of date, set aside unread (a book scored as of a past date)."""

    rows_in: int = 0
    kept: int = 0
    quarantined: int = 0
    after_as_of: int = 0

    @property
    def adds_up(self) -> bool:
        return self.rows_in == self.kept + self.quarantined + self.after_as_of

    def add(self, other: TableCount) -> None:
        self.rows_in += other.rows_in
        self.kept += other.kept
        self.quarantined += other.quarantined
        self.after_as_of += other.after_as_of


def add_counts(total: dict[str, TableCount], more: dict[str, TableCount]) -> None:
    """Add `more`'s counts into `total`, table by table."""
    for name, count in more.items():
        total.setdefault(name, TableCount()).add(count)


def tally(
    counts: dict[str, TableCount],
    table: Table,
    rows_in: int,
    kept: int,
    held: int,
    after_as_of: int = 0,
) -> None:
    """Add one table's rows in, kept, quarantined and set aside (after the as-of date)."""
    counts.setdefault(table.name, TableCount()).add(TableCount(rows_in, kept, held, after_as_of))


def row_count(rows: pl.LazyFrame) -> pl.LazyFrame:
    """The query of how many rows `rows` holds (a one-row frame, column `rows`)."""
    return rows.select(pl.len().alias("rows"))


def _id_ranges(ids: pl.Series, chunk: int) -> Iterator[tuple[str | None, str | None]]:
    """Half-open id ranges [lo, hi) covering the whole id space, `chunk` merchants each."""
    ordered = ids.sort()
    bounds = [ordered[i] for i in range(chunk, len(ordered), chunk)]
    lows: list[str | None] = [None, *bounds]
    highs: list[str | None] = [*bounds, None]
    yield from zip(lows, highs, strict=True)


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


@dataclass(frozen=True)
class MerchantRows:
    """Some merchants' rows as the files hold them (not yet validated)."""

    merchants: pl.DataFrame
    cashflow: pl.DataFrame
    traffic: pl.DataFrame


@dataclass(frozen=True)
class DataFolder:
    """A folder of input tables (see the module's docstring)."""

    path: Path

    def locate(self, table: Table) -> Path | None:
        """Where `table` lives: a .parquet or .csv file, or a folder of parts; None if absent."""
        for candidate in (
            self.path / f"{table.name}.parquet",
            self.path / f"{table.name}.csv",
            self.path / table.name,
        ):
            if candidate.exists():
                return candidate
        return None

    def scan(self, table: Table) -> tuple[pl.LazyFrame, str] | None:
        """A lazy scan of `table` and where it was found, or None if the folder lacks it.
        CSV columns are read as text (validation converts them)."""
        path = self.locate(table)
        return None if path is None else (scan_source(table, path), str(path))

    def require(self, table: Table) -> tuple[pl.LazyFrame, str]:
        """Like `scan`, but an absent table is an error that says what to add."""
        found = self.scan(table)
        if found is None:
            raise UnreadableTableError(
                table.name,
                str(self.path),
                f"no {table.name}.parquet, {table.name}.csv or {table.name}/ folder; "
                "add the table or point --data at the folder that holds it",
            )
        return found

    def fingerprint(self) -> str:
        """SHA-256 over the name, size and modification time of every file of the folder's
        tables (other files, such as a run directory kept inside it, do not count)."""
        files = sorted(
            part
            for table in TABLES.values()
            if (located := self.locate(table)) is not None
            for part in (sorted(located.rglob("*")) if located.is_dir() else [located])
            if part.is_file()
        )
        listing = "\n".join(
            f"{p.relative_to(self.path)} {p.stat().st_size} {p.stat().st_mtime_ns}" for p in files
        )
        return hashlib.sha256(listing.encode()).hexdigest()

    def merchant_count(self) -> int:
        """Rows of the merchants table, unvalidated (for a progress bar's total)."""
        return int(row_count(self.require(MERCHANTS)[0]).collect().item())

    def benchmarks(self) -> pl.DataFrame:
        """The industry benchmarks' valid rows (a bad row is left out, never used)."""
        raw, source = self.require(INDUSTRY_BENCHMARKS)
        return validate(INDUSTRY_BENCHMARKS, raw, source=source).kept.collect()

    def open_book(self, as_of: BookAsOf) -> Book:
        """The folder opened for a batch run as of `as_of`: benchmarks and merchant profiles
        validated and counted (the daily tables are validated chunk by chunk, by
        `underwriting.batch.feature_table.chunk_features`)."""
        if not (isinstance(as_of, dt.date) or as_of == OUTCOME_DATES):
            raise InputError(f"as-of {as_of!r}: give a date (YYYY-MM-DD) or 'outcomes'")
        counts: dict[str, TableCount] = {}
        bench_raw, bench_src = self.require(INDUSTRY_BENCHMARKS)
        bench = validate(INDUSTRY_BENCHMARKS, bench_raw, source=bench_src)
        benchmarks, bench_held, bench_in = pl.collect_all(
            [bench.kept, bench.quarantine, row_count(bench_raw)]
        )
        tally(counts, INDUSTRY_BENCHMARKS, bench_in.item(), benchmarks.height, bench_held.height)

        outcomes_raw = self.scan(OUTCOMES)
        book_as_of: dt.date | pl.DataFrame
        if isinstance(as_of, dt.date):
            book_as_of = as_of
        elif outcomes_raw is None:
            raise InputError(
                f"--as-of outcomes needs an outcomes table in {self.path}; add one or give a date"
            )
        else:
            book_as_of = (
                validate(OUTCOMES, outcomes_raw[0], source=outcomes_raw[1])
                .kept.select("merchant_id", "as_of", "defaulted_12m")
                .collect()
            )

        m_raw, m_src = self.require(MERCHANTS)
        profiles = validate(
            MERCHANTS,
            m_raw,
            source=m_src,
            as_of=book_as_of,
            industry_codes=benchmarks.get_column("industry_code"),
        )
        merchants, m_held, m_in = pl.collect_all(
            [profiles.kept, profiles.quarantine, row_count(m_raw)]
        )
        tally(counts, MERCHANTS, m_in.item(), merchants.height, m_held.height)
        if m_in.item() == 0:
            raise InputError(_no_merchants(m_src))
        daily = [(CASHFLOW, self.require(CASHFLOW)), (TRAFFIC, self.scan(TRAFFIC))]
        if outcomes_raw is not None:
            daily.append((OUTCOMES, outcomes_raw))
        held = pl.concat([bench_held, m_held])
        return Book(benchmarks, merchants, book_as_of, daily, counts, held, as_of == OUTCOME_DATES)

    def last_day(self) -> dt.date | None:
        """The last day of the folder's cash flow (None when it has none): the data runs
        to it, so decisions as of the day after use all of it."""
        scan, _ = self.require(CASHFLOW)
        last = scan.select(pl.col("date").cast(pl.Date(), strict=False).max()).collect().item()
        return last if isinstance(last, dt.date) else None

    def lookup(self, *, in_memory_rows: int = 0) -> Lookup:
        """The folder opened for looking merchants up by id (the API's by-id decisions,
        `underwrite decide`): benchmarks validated and profiles read once. A daily table of
        at most `in_memory_rows` rows is read once and held by merchant; a larger one is
        scanned at each lookup."""
        traffic = self.scan(TRAFFIC)
        profiles, profiles_source = self.require(MERCHANTS)
        found = profiles.collect()
        if found.is_empty():
            raise InputError(_no_merchants(profiles_source))
        return Lookup(
            benchmarks=self.benchmarks(),
            profiles=found,
            cashflow=DailyRows.of(self.require(CASHFLOW)[0], in_memory_rows),
            traffic=DailyRows.of(
                traffic[0] if traffic is not None else pl.LazyFrame(schema=TRAFFIC.schema),
                in_memory_rows,
            ),
            source=str(self.path),
        )


@dataclass(frozen=True)
class DailyRows:
    """A daily table to be read a few merchants at a time: scanned at each read, or, when
    `held`, read once into memory by merchant (each merchant's rows in the file's order)."""

    scan: pl.LazyFrame
    held: dict[str, pl.DataFrame] | None = None

    @classmethod
    def of(cls, scan: pl.LazyFrame, in_memory_rows: int) -> DailyRows:
        """`scan`, held in memory if it has text merchant ids and at most `in_memory_rows`
        rows."""
        if in_memory_rows <= 0 or scan.collect_schema().get("merchant_id") != pl.String():
            return cls(scan)
        if row_count(scan).collect().item() > in_memory_rows:
            return cls(scan)
        rows = scan.collect()
        held = {
            str(key[0]): part
            for key, part in rows.partition_by(
                "merchant_id", maintain_order=True, as_dict=True
            ).items()
        }
        return cls(scan, held)

    def read(self, merchant_ids: pl.Series) -> pl.LazyFrame:
        """The rows of the merchants of `merchant_ids`, each merchant's in the file's order."""
        if self.held is None:
            return self.scan.filter(pl.col("merchant_id").is_in(merchant_ids.implode()))
        found = [self.held[m] for m in merchant_ids.unique().sort().to_list() if m in self.held]
        return (pl.concat(found) if found else self.scan.clear()).lazy()


@dataclass(frozen=True)
class Lookup:
    """A data folder's merchants, to be looked up by id: their rows as the files hold them,
    for the engine to validate (once) as it decides."""

    benchmarks: pl.DataFrame
    profiles: pl.DataFrame
    cashflow: DailyRows
    traffic: DailyRows
    source: str

    @cached_property
    def _profile_ids(self) -> pl.Series:
        return self.profiles.get_column("merchant_id").cast(pl.String(), strict=False)

    def rows(self, merchant_ids: Sequence[str]) -> tuple[MerchantRows, dict[str, InputError]]:
        """The rows of the merchants of `merchant_ids` that have a profile, their daily rows
        read together (from memory, or in one scan of each table); and, left out of the
        rows, each merchant whose profile rows conflict (exact copies count once, as
        validation keeps one of them). Merchants without a profile are in neither."""
        wanted = self._profile_ids.is_in(list(merchant_ids))
        profiles = self.profiles.filter(wanted).unique(maintain_order=True)
        ids = profiles.get_column("merchant_id").cast(pl.String(), strict=False)
        repeated = ids.filter(ids.is_duplicated()).unique(maintain_order=True).to_list()
        conflicts = {
            str(merchant): InputError(
                f"merchants: merchant {merchant} has {int((ids == merchant).sum())} different "
                f"profile rows in {self.source}; the table must hold one row per merchant"
            )
            for merchant in repeated
        }
        if conflicts:
            keep = ids.is_in(list(conflicts)).not_()
            profiles, ids = profiles.filter(keep), ids.filter(keep)
        cashflow, traffic = pl.collect_all([self.cashflow.read(ids), self.traffic.read(ids)])
        return MerchantRows(profiles, cashflow, traffic), conflicts


def _no_merchants(source: str) -> str:
    return (
        f"merchants ({source}): the table has no rows, so there is nobody to decide and every "
        "daily row would be quarantined; point --data at a folder whose merchants table has "
        "the merchants"
    )


def _parts(table: Table, path: Path) -> list[Path]:
    if not path.exists():
        raise UnreadableTableError(table.name, str(path), "no such file or folder")
    files = sorted(path.glob("*.parquet")) + sorted(path.glob("*.csv")) if path.is_dir() else [path]
    if not files:
        raise UnreadableTableError(
            table.name, str(path), "the folder holds no .parquet or .csv part files"
        )
    suffixes = {f.suffix.lower() for f in files}
    if len(suffixes) > 1 or not suffixes <= {".parquet", ".csv"}:
        raise UnreadableTableError(
            table.name,
            str(path),
            f"expected .parquet or .csv files, found {', '.join(sorted(suffixes))}; "
            "convert them to one format",
        )
    return files


def _first_line(error: BaseException) -> str:
    text = str(error).strip()
    return text.splitlines()[0] if text else type(error).__name__


def _part_schema(table: Table, part: Path) -> pl.Schema:
    """A part's columns and types, from its footer (Parquet) or header (CSV): cheap, and
    enough to find an empty, cut-short or foreign file before any row is read."""
    if part.stat().st_size == 0:
        raise UnreadableTableError(
            table.name, str(part), "the file is empty (0 bytes); write it again or remove it"
        )
    try:
        if part.suffix.lower() == ".parquet":
            return pl.Schema(pl.read_parquet_schema(part))
        return pl.read_csv(part, n_rows=0, infer_schema=False).schema
    except (pl.exceptions.PolarsError, OSError) as error:
        kind = "Parquet" if part.suffix.lower() == ".parquet" else "CSV"
        raise UnreadableTableError(
            table.name,
            str(part),
            f"not a readable {kind} file ({_first_line(error)}); write it again or remove it",
        ) from None


def _same_columns(table: Table, parts: list[Path]) -> None:
    """Every part of a table has the same columns of the same types (one part that
    differs would otherwise fail the whole scan, naming no file)."""
    first = _part_schema(table, parts[0])
    for part in parts[1:]:
        schema = _part_schema(table, part)
        missing = [c for c in first if c not in schema]
        extra = [c for c in schema if c not in first]
        retyped = [
            f"{c} as {schema[c]} (not {first[c]})"
            for c in first
            if c in schema and schema[c] != first[c]
        ]
        problems = [
            *([f"lacks column(s) {', '.join(missing)}"] if missing else []),
            *([f"has column(s) {', '.join(extra)} the other parts lack"] if extra else []),
            *([f"holds {', '.join(retyped)}"] if retyped else []),
        ]
        if problems:
            raise UnreadableTableError(
                table.name,
                str(part),
                f"{'; '.join(problems)}, against {parts[0].name}; write every part of the "
                "table with the same columns and types",
            )


def scan_source(table: Table, path: Path) -> pl.LazyFrame:
    """A lazy scan of one table's file or folder, every part's columns checked first; CSV
    columns are read as text."""
    files = _parts(table, path)
    _same_columns(table, files)
    if files[0].suffix.lower() == ".parquet":
        return pl.scan_parquet(files)
    return pl.scan_csv(files, infer_schema=False)


def damaged_part(folder: Path) -> UnreadableTableError | None:
    """The first part file of the folder's tables that cannot be read whole, as the error
    to show; None when every part reads. For when reading the folder failed somewhere in
    a query (a damaged page, a ragged or mis-encoded CSV line), to name the file."""
    for table in TABLES.values():
        located = DataFolder(folder).locate(table)
        if located is None:
            continue
        for part in _parts(table, located):
            try:
                if part.suffix.lower() == ".parquet":
                    pl.read_parquet(part)
                else:
                    pl.read_csv(part, infer_schema=False)
            except (pl.exceptions.PolarsError, OSError) as error:
                return UnreadableTableError(
                    table.name,
                    str(part),
                    f"cannot be read ({_first_line(error)}); fix or replace the file "
                    "(a CSV must be UTF-8, with quotes closed and as many fields on every line "
                    "as in its header)",
                )
    return None


@contextmanager
def reading(folder: Path) -> Iterator[None]:
    """Turn a failure to read `folder`'s files anywhere in the block into one
    UnreadableTableError naming the file (see `damaged_part`)."""
    try:
        yield
    except pl.exceptions.PolarsError:
        found = damaged_part(folder)
        if found is not None:
            raise found from None
        raise
