"""A corpus of bad input files: each fault is reported with table, key, field and reason,
valid rows go on, and rows in = rows kept + rows quarantined."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from pathlib import Path

import polars as pl
import pytest

from underwriting.batch.feature_table import FeatureBuild, build_feature_table
from underwriting.errors import MissingColumnsError, UnreadableTableError

AS_OF = dt.date(2026, 10, 1)
Tables = dict[str, pl.DataFrame]


@pytest.fixture()
def clean(book_tables: Tables) -> Tables:
    """Twenty merchants of the simulated book."""
    ids = book_tables["merchants"]["merchant_id"].head(20)
    return {
        name: frame.filter(pl.col("merchant_id").is_in(ids.implode()))
        if "merchant_id" in frame.columns
        else frame
        for name, frame in book_tables.items()
    }


def write(tables: Tables, folder: Path, fmt: str = "parquet") -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    for name, frame in tables.items():
        if fmt == "csv":
            frame.write_csv(folder / f"{name}.csv")
        else:
            frame.write_parquet(folder / f"{name}.parquet")
    return folder


def run(folder: Path, tmp_path: Path) -> tuple[FeatureBuild, pl.DataFrame, pl.DataFrame]:
    build = build_feature_table(folder, AS_OF, tmp_path / "out" / "features.parquet")
    assert build.adds_up, build.counts
    return build, pl.read_parquet(build.features), pl.read_parquet(build.quarantine)


def test_clean_book_keeps_everything(clean: Tables, tmp_path: Path) -> None:
    build, features, quarantine = run(write(clean, tmp_path / "in"), tmp_path)
    assert quarantine.height == 0
    assert features.height == 20
    assert build.counts["cashflow"].rows_in == clean["cashflow"].height


def test_negative_sales_are_quarantined_with_key_and_reason(clean: Tables, tmp_path: Path) -> None:
    cash = clean["cashflow"].with_row_index()
    bad = cash.with_columns(
        pl.when(pl.col("index") == 5)
        .then(-12.5)
        .otherwise(pl.col("gross_sales"))
        .alias("gross_sales")
    ).drop("index")
    build, features, quarantine = run(write({**clean, "cashflow": bad}, tmp_path / "in"), tmp_path)
    row = cash.row(5, named=True)
    assert quarantine.height == 1
    got = quarantine.row(0, named=True)
    assert got["table"] == "cashflow"
    assert got["key"] == f"merchant_id={row['merchant_id']}, date={row['date']}"
    assert got["field"] == "gross_sales"
    assert got["reason"] == "gross_sales: -12.5 is out of range; it must be at least 0"
    assert build.counts["cashflow"].kept == cash.height - 1
    assert features.height == 20  # the merchant still gets features from its other rows


def test_wrong_types_in_csv(clean: Tables, tmp_path: Path) -> None:
    folder = write(clean, tmp_path / "in", fmt="csv")
    lines = (folder / "cashflow.csv").read_text().splitlines()
    fields = lines[3].split(",")
    fields[2] = "twelve"  # gross_sales
    fields[5] = "3.5"  # transaction_count
    lines[3] = ",".join(fields)
    lines[4] = lines[4].replace(lines[4].split(",")[1], "2026-13-45")
    (folder / "cashflow.csv").write_text("\n".join(lines) + "\n")
    _, _, quarantine = run(folder, tmp_path)
    reasons = quarantine["reason"].to_list()
    assert quarantine.height == 2
    assert any(
        "gross_sales: 'twelve' is not a number" in r
        and "transaction_count: '3.5' is not a whole number" in r
        for r in reasons
    )
    assert any("date: '2026-13-45' is not a date in YYYY-MM-DD form" in r for r in reasons)
    assert set(quarantine["field"]) == {"gross_sales, transaction_count", "date"}


def test_wrong_physical_type_in_parquet(clean: Tables, tmp_path: Path) -> None:
    cash = clean["cashflow"].with_columns(pl.col("gross_sales").cast(pl.String()))
    cash = cash.with_columns(
        pl.when(pl.int_range(pl.len()) == 0)
        .then(pl.lit("n/a"))
        .otherwise(pl.col("gross_sales"))
        .alias("gross_sales")
    )
    build, _, quarantine = run(write({**clean, "cashflow": cash}, tmp_path / "in"), tmp_path)
    assert quarantine["reason"].to_list() == [
        "gross_sales: 'n/a' is not a number; write it like 1250.75"
    ]
    assert build.counts["cashflow"].kept == cash.height - 1


def test_missing_required_column_is_an_error_naming_table_column_and_fix(
    clean: Tables, tmp_path: Path
) -> None:
    folder = write({**clean, "cashflow": clean["cashflow"].drop("gross_sales")}, tmp_path / "in")
    with pytest.raises(MissingColumnsError) as caught:
        build_feature_table(folder, AS_OF, tmp_path / "features.parquet")
    message = str(caught.value)
    assert message.startswith("cashflow (")
    assert "missing required column(s) gross_sales" in message
    assert "add them to the file" in message


def test_missing_optional_column_is_filled(clean: Tables, tmp_path: Path) -> None:
    folder = write(
        {**clean, "merchants": clean["merchants"].drop("requested_amount")}, tmp_path / "in"
    )
    _, features, quarantine = run(folder, tmp_path)
    assert quarantine.height == 0
    assert features["requested_amount"].null_count() == 20


def test_rows_dated_on_or_after_the_as_of_date_are_set_aside(clean: Tables, tmp_path: Path) -> None:
    first = clean["cashflow"].head(1)
    late = pl.concat(
        [
            first.with_columns(pl.lit(AS_OF).alias("date")),
            first.with_columns(pl.lit(AS_OF + dt.timedelta(days=40)).alias("date")),
        ]
    )
    build, _, quarantine = run(
        write({**clean, "cashflow": pl.concat([clean["cashflow"], late])}, tmp_path / "in"),
        tmp_path,
    )
    # set aside unread and counted, never quarantined: a book re-scored as of a past date
    # would otherwise write every later row to the quarantine
    assert quarantine.height == 0
    counted = build.counts["cashflow"]
    assert counted.after_as_of == 2 and counted.quarantined == 0 and counted.adds_up
    assert counted.kept == clean["cashflow"].height
    assert counted.rows_in == counted.kept + counted.after_as_of


def test_duplicated_merchant_days(clean: Tables, tmp_path: Path) -> None:
    cash = clean["cashflow"]
    exact = cash.slice(10, 1)
    conflicting = cash.slice(20, 1).with_columns(pl.col("gross_sales") + 1)
    build, _, quarantine = run(
        write({**clean, "cashflow": pl.concat([cash, exact, conflicting])}, tmp_path / "in"),
        tmp_path,
    )
    # The exact copy: one row kept, one quarantined. The conflict: both held back.
    assert build.counts["cashflow"].rows_in == cash.height + 2
    assert build.counts["cashflow"].quarantined == 3
    reasons = quarantine.group_by("reason").len().sort("reason")
    assert reasons.rows() == [
        (
            "merchant_id, date: 2 rows share this key with different values; the feed must hold "
            "one row per key, so all of them are held back",
            2,
        ),
        ("merchant_id, date: exact duplicate of another row with this key; one copy is kept", 1),
    ]
    assert quarantine["field"].unique().to_list() == ["merchant_id, date"]


def test_copies_equal_in_amount_are_exact_and_one_conflict_holds_back_every_copy(
    clean: Tables, tmp_path: Path
) -> None:
    cash = clean["cashflow"]
    no_chargebacks = cash.filter(pl.col("chargebacks") == 0.0)
    same_amount = no_chargebacks.slice(0, 1).with_columns(pl.lit(-0.0).alias("chargebacks"))
    tripled = no_chargebacks.slice(5, 1)
    three = pl.concat([tripled, tripled.with_columns(pl.col("refunds") + 1)])
    build, features, quarantine = run(
        write({**clean, "cashflow": pl.concat([cash, same_amount, three])}, tmp_path / "in"),
        tmp_path,
    )
    # -0.0 is the same amount as 0.0: an exact copy, of which one row is kept.
    # Three rows of a key of which one differs: all three are held back.
    assert build.counts["cashflow"].quarantined == 4
    reasons = quarantine.group_by("reason").len().sort("reason")
    assert reasons.rows() == [
        (
            "merchant_id, date: 3 rows share this key with different values; the feed must hold "
            "one row per key, so all of them are held back",
            3,
        ),
        ("merchant_id, date: exact duplicate of another row with this key; one copy is kept", 1),
    ]
    assert quarantine.filter(pl.col("reason").str.contains("exact"))["key"].to_list() == [
        f"merchant_id={same_amount['merchant_id'][0]}, date={same_amount['date'][0]}"
    ]
    held_days = quarantine.filter(pl.col("reason").str.contains("3 rows"))["key"].unique()
    assert held_days.to_list() == [
        f"merchant_id={tripled['merchant_id'][0]}, date={tripled['date'][0]}"
    ]
    assert features.height == clean["merchants"].height


def test_unknown_industry_code_quarantines_the_merchant_and_its_rows(
    clean: Tables, tmp_path: Path
) -> None:
    merchants = clean["merchants"].with_columns(
        pl.when(pl.int_range(pl.len()) == 0)
        .then(pl.lit("9999"))
        .otherwise(pl.col("industry_code"))
        .alias("industry_code")
    )
    victim = merchants["merchant_id"][0]
    build, features, quarantine = run(
        write({**clean, "merchants": merchants}, tmp_path / "in"), tmp_path
    )
    assert victim not in features["merchant_id"].to_list()
    profile = quarantine.filter(pl.col("table") == "merchants").row(0, named=True)
    assert profile["field"] == "industry_code"
    assert (
        profile["reason"]
        == "industry_code: unknown industry code 9999; it has no row in industry_benchmarks"
    )
    daily = quarantine.filter(pl.col("table") == "cashflow")
    assert daily.height == clean["cashflow"].filter(pl.col("merchant_id") == victim).height
    assert daily["reason"].str.contains("is not in the merchants table").all()
    assert build.adds_up


def test_rows_of_unknown_merchants(clean: Tables, tmp_path: Path) -> None:
    stray = clean["cashflow"].head(3).with_columns(pl.lit("ZZZ").alias("merchant_id"))
    before = clean["cashflow"].head(2).with_columns(pl.lit("AAA").alias("merchant_id"))
    _, _, quarantine = run(
        write(
            {**clean, "cashflow": pl.concat([clean["cashflow"], stray, before])}, tmp_path / "in"
        ),
        tmp_path,
    )
    assert sorted(quarantine["merchant_id"].to_list()) == ["AAA", "AAA", "ZZZ", "ZZZ", "ZZZ"]


def test_missing_values_and_empty_ids(clean: Tables, tmp_path: Path) -> None:
    merchants = clean["merchants"].with_columns(
        pl.when(pl.int_range(pl.len()) == 1)
        .then(None)
        .otherwise(pl.col("onboarded_on"))
        .alias("onboarded_on")
    )
    cash = pl.concat(
        [clean["cashflow"], clean["cashflow"].head(1).with_columns(pl.lit("").alias("merchant_id"))]
    )
    _, _, quarantine = run(
        write({**clean, "merchants": merchants, "cashflow": cash}, tmp_path / "in"), tmp_path
    )
    by_table = {t: r for t, r in quarantine.select("table", "reason").iter_rows()}
    assert by_table["merchants"] == "onboarded_on: missing value; this field is required"
    assert by_table["cashflow"].startswith("merchant_id: empty; give a value")


@pytest.mark.parametrize(
    ("mutate", "expected"),
    [
        (
            lambda f: f.with_columns(pl.lit(-1.0).alias("existing_exposure")),
            "existing_exposure: -1.0 is out of range",
        ),
        (
            lambda f: f.with_columns(pl.lit(0.0).alias("requested_amount")),
            "requested_amount: 0.0 is out of range; it must be above 0",
        ),
        (
            lambda f: f.with_columns(pl.lit(float("nan")).alias("existing_exposure")),
            "existing_exposure: not a finite number",
        ),
    ],
)
def test_profile_bounds(
    clean: Tables, tmp_path: Path, mutate: Callable[[pl.DataFrame], pl.DataFrame], expected: str
) -> None:
    merchants = pl.concat([mutate(clean["merchants"].head(1)), clean["merchants"].slice(1)])
    _, features, quarantine = run(
        write({**clean, "merchants": merchants}, tmp_path / "in"), tmp_path
    )
    assert (
        quarantine.filter(pl.col("table") == "merchants")["reason"].str.starts_with(expected).all()
    )
    assert features.height == 19


def test_absent_table_names_what_to_add(clean: Tables, tmp_path: Path) -> None:
    folder = write({k: v for k, v in clean.items() if k != "merchants"}, tmp_path / "in")
    with pytest.raises(
        UnreadableTableError, match=r"no merchants.parquet, merchants.csv or merchants/ folder"
    ):
        build_feature_table(folder, AS_OF, tmp_path / "features.parquet")


def test_traffic_is_optional(clean: Tables, tmp_path: Path) -> None:
    folder = write({k: v for k, v in clean.items() if k != "traffic"}, tmp_path / "in")
    _, features, _ = run(folder, tmp_path)
    assert not features["has_traffic"].any()
