"""The one reader of a data folder: by-id lookups read the same rows whether a daily table
is scanned at each lookup or held in memory by merchant."""

from __future__ import annotations

from pathlib import Path

import polars as pl

from underwriting.io.data_folder import DataFolder, MerchantRows


def _by_merchant(rows: MerchantRows) -> dict[str, dict[str, pl.DataFrame]]:
    return {
        name: {
            str(k[0]): part for k, part in frame.partition_by("merchant_id", as_dict=True).items()
        }
        for name, frame in (("cashflow", rows.cashflow), ("traffic", rows.traffic))
    }


def test_a_lookup_held_in_memory_reads_what_a_scan_reads(small_book: Path) -> None:
    folder = DataFolder(small_book)
    scanned, held = folder.lookup(), folder.lookup(in_memory_rows=10**9)
    assert scanned.cashflow.held is None and held.cashflow.held is not None
    ids = scanned.profiles.get_column("merchant_id").to_list()
    for start in range(0, len(ids), 97):
        wanted = [*ids[start : start + 97], "NOT-A-MERCHANT"]
        (a, conflicts_a), (b, conflicts_b) = scanned.rows(wanted), held.rows(wanted)
        assert a.merchants.equals(b.merchants) and conflicts_a == conflicts_b == {}
        assert a.cashflow.schema == b.cashflow.schema and a.traffic.schema == b.traffic.schema
        frames_a, frames_b = _by_merchant(a), _by_merchant(b)
        for table in frames_a:
            assert frames_a[table].keys() == frames_b[table].keys()
            for merchant, part in frames_a[table].items():
                assert part.equals(frames_b[table][merchant]), (table, merchant)


def test_a_table_over_the_limit_is_scanned(small_book: Path) -> None:
    lookup = DataFolder(small_book).lookup(in_memory_rows=10)
    assert lookup.cashflow.held is None and lookup.traffic.held is None
    rows, _ = lookup.rows(["M00000001"])
    assert rows.cashflow.get_column("merchant_id").unique().to_list() == ["M00000001"]
