"""The API's bounds hold for batch files too: a count that would overflow its sum, an id
longer than the store holds or with a control character is quarantined, naming the field,
and every other row is kept."""

from __future__ import annotations

import datetime as dt

import polars as pl

from underwriting.contract.tables import CASHFLOW, MERCHANTS
from underwriting.contract.validation import validate


def test_counts_ids_and_control_characters_are_bounded_in_batch_files() -> None:
    raw = pl.LazyFrame(
        {
            "merchant_id": ["M1", "M1", "M" * 201, "M\x002", "M3"],
            "date": [dt.date(2026, 1, d) for d in range(1, 6)],
            "gross_sales": [10.0] * 5,
            "refunds": [0.0] * 5,
            "chargebacks": [0.0] * 5,
            "transaction_count": [3, 2**62, 4, 5, 1_000_000_000],
        }
    )
    found = validate(CASHFLOW, raw, source="cashflow.parquet")
    kept = found.kept.collect()
    held = found.quarantine.collect()
    assert kept.height + held.height == 5
    assert kept["merchant_id"].to_list() == ["M1", "M3"]  # 1e9 is the largest count allowed
    reasons = " | ".join(held["reason"].to_list())
    assert (
        "transaction_count: 4611686018427387904 is out of range; it must be at most 1e+09"
        in reasons
    )
    assert "merchant_id: 201 characters long; at most 200 are allowed" in reasons
    assert "merchant_id: holds a control character" in reasons


def test_a_merchant_profile_name_with_a_line_break_is_held_back() -> None:
    raw = pl.LazyFrame(
        {
            "merchant_id": ["M1", "M2"],
            "industry_code": ["5411", "5411"],
            "region": ["north", "no\nrth"],
            "onboarded_on": [dt.date(2020, 1, 1)] * 2,
            "existing_exposure": [0.0, 0.0],
        }
    )
    found = validate(MERCHANTS, raw, source="merchants.parquet")
    assert found.kept.collect()["merchant_id"].to_list() == ["M1"]
    assert "region: holds a control character" in found.quarantine.collect()["reason"][0]
