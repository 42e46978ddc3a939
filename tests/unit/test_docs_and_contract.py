"""The generated docs are current, and the contract has one source of truth."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import polars as pl
import pytest
from pydantic import ValidationError

import underwriting
from underwriting.contract.tables import CASHFLOW, MERCHANTS, TABLES, CashflowRecord
from underwriting.features.compute import build_features
from underwriting.features.registry import FEATURES, feature_schema
from underwriting.io.docs import pages

DOCS = Path(__file__).resolve().parents[2] / "docs"


def test_generated_docs_are_current() -> None:
    for name, text in pages().items():
        assert (DOCS / name).read_text() == text, f"run: python -m underwriting.io.docs ({name})"


def test_polars_schema_and_pydantic_model_agree() -> None:
    for table in TABLES.values():
        assert list(table.schema) == list(table.record.model_fields)
    assert CASHFLOW.schema["gross_sales"] == pl.Float64()
    assert MERCHANTS.required == (
        "merchant_id",
        "industry_code",
        "region",
        "onboarded_on",
        "existing_exposure",
    )


def test_api_records_enforce_the_same_bounds() -> None:
    CashflowRecord(
        merchant_id="M1",
        date=dt.date(2026, 1, 1),
        gross_sales=1.0,
        refunds=0,
        chargebacks=0,
        transaction_count=1,
    )
    with pytest.raises(ValidationError, match="gross_sales"):
        CashflowRecord(
            merchant_id="M1",
            date=dt.date(2026, 1, 1),
            gross_sales=-1.0,
            refunds=0,
            chargebacks=0,
            transaction_count=1,
        )


def test_every_registered_feature_is_built_and_nothing_else() -> None:
    empty = {
        t: pl.LazyFrame(schema=TABLES[t].schema)
        for t in ("merchants", "cashflow", "traffic", "industry_benchmarks")
    }
    frame = build_features(
        empty["merchants"],
        empty["cashflow"],
        empty["traffic"],
        empty["industry_benchmarks"],
        dt.date(2026, 1, 1),
    ).collect()
    assert frame.schema == feature_schema()
    assert len({f.name for f in FEATURES}) == len(FEATURES)
    assert all(f.meaning and f.unit for f in FEATURES)


def test_public_api_is_what_all_says() -> None:
    """The front door's `__all__` is exactly what it exports (its subpackages aside)."""
    exported = {
        name
        for name, value in vars(underwriting).items()
        if not name.startswith("_") and not isinstance(value, type(underwriting))
    }
    assert set(underwriting.__all__) == exported


def _layout_map() -> str:
    readme = (DOCS.parent / "README.md").read_text()
    section = readme[readme.index("## Layout\n") :]
    return section.split("```")[1]


def test_the_readmes_layout_map_matches_the_tree() -> None:
    """Every path the map names exists, and every module and package of `underwriting/`
    and `api/` is on the map."""
    root = DOCS.parent
    named: set[str] = set()
    parent = ""
    for line in _layout_map().splitlines():
        if not line.strip():
            continue
        if not line.startswith(" "):
            parent = line.split()[0]
            named.add(parent)
            continue
        for word in (w.strip(",;:()`") for w in line.split()):
            if (
                word.endswith(("/", ".py"))
                and word.replace("_", "").replace("/", "").replace(".py", "").isalnum()
            ):
                named.add(parent + word)
    for path in sorted(named):
        assert (root / path).exists(), f"the README's layout names {path}, which is not there"
    for package in ("underwriting", "api"):
        for entry in (root / package).iterdir():
            if entry.name.startswith(("_", ".")) and entry.name != "__init__.py":
                continue
            if entry.is_dir() and not any(entry.glob("*.py")):
                continue
            if entry.suffix not in {".py", ""} or (
                package == "api" and entry.name == "__init__.py"
            ):
                continue
            name = f"{package}/{entry.name}" + ("/" if entry.is_dir() else "")
            assert name in named, f"{name} is missing from the README's layout map"
