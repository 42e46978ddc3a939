"""Validation never loses a row: whatever arrives, rows in = kept + quarantined."""

from __future__ import annotations

import datetime as dt

import polars as pl
from hypothesis import given
from hypothesis import strategies as st

from underwriting.contract.tables import CASHFLOW, MERCHANTS
from underwriting.contract.validation import validate

AS_OF = dt.date(2026, 10, 1)

texts = st.one_of(
    st.none(),
    st.sampled_from(
        ["", " ", "0", "-1", "1.5", "12", "NaN", "inf", "true", "2026-09-30", "2026-10-01", "x"]
    ),
    st.text(max_size=6),
)
ids = st.one_of(st.none(), st.sampled_from(["", "M1", "M2", "M3", "ZZ"]))
dates = st.one_of(
    st.none(), st.sampled_from(["2026-09-29", "2026-09-30", "2026-10-01", "2027-01-01", "bad"])
)


@st.composite
def raw_cashflow(draw: st.DrawFn) -> pl.DataFrame:
    n = draw(st.integers(0, 30))
    columns = {
        "merchant_id": draw(st.lists(ids, min_size=n, max_size=n)),
        "date": draw(st.lists(dates, min_size=n, max_size=n)),
        **{
            name: draw(st.lists(texts, min_size=n, max_size=n))
            for name in ("gross_sales", "refunds", "chargebacks", "transaction_count")
        },
    }
    return pl.DataFrame(columns, schema=dict.fromkeys(columns, pl.String()))


@given(raw_cashflow())
def test_rows_in_equal_rows_kept_plus_quarantined(raw: pl.DataFrame) -> None:
    checked = validate(
        CASHFLOW, raw.lazy(), source="fuzz", as_of=AS_OF, merchant_ids=pl.Series(["M1", "M2", "M3"])
    )
    kept, held = pl.collect_all([checked.kept, checked.quarantine])
    assert kept.height + held.height == raw.height
    assert kept.schema == CASHFLOW.schema
    # Whatever is kept satisfies the contract.
    assert kept.filter(pl.col("gross_sales") < 0).is_empty()
    assert kept.filter(pl.col("date") >= AS_OF).is_empty()
    assert kept.select(pl.struct("merchant_id", "date").is_duplicated().any()).item() is False
    for record in kept.iter_rows(named=True):
        CASHFLOW.record.model_validate(record)
    # Every quarantined row says which field and why.
    assert held.filter(pl.col("field").is_null() | (pl.col("reason") == "")).is_empty()


@given(st.lists(st.tuples(ids, st.sampled_from(["5411", "9999", ""]), texts), max_size=20))
def test_merchant_profiles_are_kept_only_when_valid(
    rows: list[tuple[str | None, str, str | None]],
) -> None:
    raw = pl.DataFrame(
        {
            "merchant_id": [r[0] for r in rows],
            "industry_code": [r[1] for r in rows],
            "region": ["north"] * len(rows),
            "onboarded_on": ["2020-01-01"] * len(rows),
            "existing_exposure": [r[2] for r in rows],
        },
        schema=dict.fromkeys(
            ["merchant_id", "industry_code", "region", "onboarded_on", "existing_exposure"],
            pl.String(),
        ),
    )
    checked = validate(
        MERCHANTS, raw.lazy(), source="fuzz", as_of=AS_OF, industry_codes=pl.Series(["5411"])
    )
    kept, held = pl.collect_all([checked.kept, checked.quarantine])
    assert kept.height + held.height == raw.height
    for record in kept.iter_rows(named=True):
        MERCHANTS.record.model_validate(record)
    assert set(kept["industry_code"]) <= {"5411"}
