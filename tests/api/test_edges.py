"""The edges of every number, text and date the API takes, on SQLite and PostgreSQL alike:
a value the store or the engine cannot hold is a 422 naming the field (and the row), never
a 500 from the database and never a silently different score."""

from __future__ import annotations

import datetime as dt
from typing import Any

import polars as pl
import pytest

from api import store
from tests.api.conftest import Api
from tests.api.test_api import AS_OF, PROBLEM, _decide, _inline


def _pointers(answer: Any) -> list[str]:
    assert answer.status_code == 422, answer.text
    assert answer.headers["content-type"] == PROBLEM
    return [e["pointer"] for e in answer.json().get("errors", [])]


def test_an_inline_merchant_id_longer_than_the_store_holds_is_a_422(
    api: Api, book_tables: dict[str, pl.DataFrame]
) -> None:
    data = _inline(book_tables, "M00000007")
    data["merchant"]["merchant_id"] = "M" * 201
    assert "#/data/merchant/merchant_id" in _pointers(_decide(api, {"data": data, "as_of": AS_OF}))
    data["merchant"]["merchant_id"] = "M" * 200  # the longest the store holds
    answer = _decide(api, {"data": data, "as_of": AS_OF})
    assert answer.status_code == 201, answer.text


@pytest.mark.parametrize("where", ["merchant", "cashflow"])
def test_a_nul_in_an_inline_merchant_id_is_a_422(
    api: Api, book_tables: dict[str, pl.DataFrame], where: str
) -> None:
    data = _inline(book_tables, "M00000007")
    if where == "merchant":
        data["merchant"]["merchant_id"] = "M0\x007"
        expected = "#/data/merchant/merchant_id"
    else:
        data["cashflow"][4]["merchant_id"] = "M0\x007"
        expected = "#/data/cashflow/4/merchant_id"
    assert expected in _pointers(_decide(api, {"data": data, "as_of": AS_OF}))


def test_a_nul_in_a_query_a_path_or_a_review_note_is_a_422(api: Api) -> None:
    listed = api.client.get("/v1/decisions", params={"merchant_id": "M\x00"}, headers=api.auditor)
    assert listed.status_code == 422 and "merchant_id" in listed.text
    fetched = api.client.get("/v1/decisions/abc%00def", headers=api.auditor)
    assert fetched.status_code == 422
    referral = next(
        (
            s
            for s in store.list_decisions(api.database, None, 200, None)
            if s.decision["outcome"] == "refer"
        ),
        None,
    )
    decision_id = referral.id if referral is not None else "unknown-id"
    reviewed = api.client.post(
        f"/v1/decisions/{decision_id}/review",
        json={"outcome": "decline", "note": "a note with a \x00 in it"},
        headers=api.officer,
    )
    assert reviewed.status_code == 422 and "note" in reviewed.text


def test_a_cursor_beyond_the_columns_range_is_a_422(api: Api) -> None:
    answer = api.client.get("/v1/decisions", params={"cursor": 2**31}, headers=api.auditor)
    assert answer.status_code == 422 and "cursor" in answer.text
    last = api.client.get("/v1/decisions", params={"cursor": 2**31 - 1}, headers=api.auditor)
    assert last.status_code == 200


@pytest.mark.parametrize(
    ("table", "field", "value"),
    [
        ("cashflow", "transaction_count", 2**63),
        ("cashflow", "transaction_count", 2**62),
        ("traffic", "visits", 2**62),
        ("traffic", "orders", 1_000_000_001),
    ],
)
def test_counts_that_would_overflow_their_sums_are_a_422_naming_the_row(
    api: Api, book_tables: dict[str, pl.DataFrame], table: str, field: str, value: int
) -> None:
    data = _inline(book_tables, str(book_tables["traffic"]["merchant_id"][0]))
    data[table][1][field] = value
    data[table][2][field] = value
    pointers = _pointers(_decide(api, {"data": data, "as_of": AS_OF}))
    assert f"#/data/{table}/1/{field}" in pointers and f"#/data/{table}/2/{field}" in pointers
    detail = " ".join(e["detail"] for e in _decide(api, {"data": data}).json()["errors"])
    assert "polars" not in detail.lower() and "1000000000" in detail


@pytest.mark.parametrize("as_of", ["9999-12-31", "1899-01-01", "2101-01-01"])
def test_an_as_of_date_outside_a_sane_range_is_a_422(api: Api, as_of: str) -> None:
    answer = _decide(api, {"merchant_id": "M00000001", "as_of": as_of})
    assert "#/as_of" in _pointers(answer)


def test_a_future_as_of_date_is_a_422_that_says_why(api: Api) -> None:
    later = (dt.date.today() + dt.timedelta(days=30)).isoformat()
    answer = _decide(api, {"merchant_id": "M00000001", "as_of": later})
    assert "#/as_of" in _pointers(answer) and "in the future" in answer.text


def test_an_omitted_as_of_is_the_day_after_the_datas_last_day(
    api: Api, book_tables: dict[str, pl.DataFrame]
) -> None:
    last = book_tables["cashflow"]["date"].max()
    assert isinstance(last, dt.date)
    by_id = _decide(api, {"merchant_id": "M00000001"})
    assert by_id.status_code == 201, by_id.text
    assert by_id.json()["as_of"] == (last + dt.timedelta(days=1)).isoformat()
    dated = _decide(api, {"merchant_id": "M00000001", "as_of": by_id.json()["as_of"]})
    same = ("outcome", "limit", "grade", "pd_12m", "reason_codes", "input_sha256")
    assert {k: dated.json()[k] for k in same} == {k: by_id.json()[k] for k in same}
    data = _inline(book_tables, "M00000007")
    inline_last = max(dt.date.fromisoformat(r["date"]) for r in data["cashflow"])
    inline = _decide(api, {"data": data})
    assert inline.status_code == 201, inline.text
    assert inline.json()["as_of"] == (inline_last + dt.timedelta(days=1)).isoformat()
