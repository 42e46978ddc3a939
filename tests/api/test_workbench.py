"""The workbench's pages on the real app and real databases: no page without a session, the
cookie's flags, CSRF on every form, a revoked key's session stops, output escaped, the
queue's filters and order, uploads with bad rows shown back, reviews with the rule set's
override reasons, and the limit's build-up equal to the engine's limit."""

from __future__ import annotations

import io
import re
from collections.abc import Iterator
from pathlib import Path

import polars as pl
import pytest
from fastapi.testclient import TestClient

from api import store
from api.main import create_app
from tests.api.conftest import settings_for

AS_OF = "2026-10-01"
PAGES = ["/workbench/queue", "/workbench/decide", "/workbench/merchants/M00000001"]


@pytest.fixture(scope="module")
def app_client(database_url: str, small_book: Path, models_dir: Path) -> Iterator[TestClient]:
    with TestClient(create_app(settings_for(database_url, small_book, models_dir))) as client:
        yield client


def _key(database_url: str, role: str) -> tuple[str, str]:
    database = store.connect(database_url)
    key, secret = store.create_key(database, role, f"workbench {role}")
    database.dispose()
    return key.id, secret


def _csrf(html: str) -> str:
    found = re.search(r'name="csrf" value="([^"]+)"', html)
    assert found is not None, html[:500]
    return found.group(1)


def _signed_in(client: TestClient, secret: str) -> str:
    """Sign `client` in with the key `secret`; the session's CSRF token."""
    page = client.get("/workbench/sign-in")
    answer = client.post(
        "/workbench/sign-in",
        data={"key": secret, "csrf": _csrf(page.text), "next": "/workbench/queue"},
        follow_redirects=False,
    )
    assert answer.status_code == 303, answer.text
    return _csrf(client.get("/workbench/queue").text)


def _referrals(client: TestClient, secret: str, count: int = 40) -> list[dict[str, object]]:
    headers = {"Authorization": f"Bearer {secret}"}
    decided = [
        client.post(
            "/v1/decisions", json={"merchant_id": f"M{i:08d}", "as_of": AS_OF}, headers=headers
        ).json()
        for i in range(1, count + 1)
    ]
    return [d for d in decided if d["outcome"] == "refer"]


def test_no_page_without_a_session_and_the_cookie_flags(
    app_client: TestClient, database_url: str
) -> None:
    app_client.cookies.clear()
    for path in PAGES:
        answer = app_client.get(path, follow_redirects=False)
        assert answer.status_code == 303 and answer.headers["location"].startswith(
            "/workbench/sign-in"
        )
    posted = app_client.post("/workbench/decide", data={"merchant_id": "M00000001"})
    assert posted.status_code == 403 and "signed out" in posted.text
    _, secret = _key(database_url, "officer")
    page = app_client.get("/workbench/sign-in")
    answer = app_client.post(
        "/workbench/sign-in",
        data={"key": secret, "csrf": _csrf(page.text), "next": "https://evil.example/"},
        follow_redirects=False,
    )
    assert answer.headers["location"] == "/workbench/queue"  # never off the workbench
    cookie = next(c for c in answer.headers.get_list("set-cookie") if c.startswith("uw_workbench="))
    flags = {part.strip().lower() for part in cookie.split(";")[1:]}
    assert {"httponly", "samesite=strict", "path=/workbench", "max-age=28800"} <= flags
    page = app_client.get("/workbench/sign-in")  # signing in spent the sign-in form's token
    wrong = app_client.post(
        "/workbench/sign-in", data={"key": "uwk_nope", "csrf": _csrf(page.text)}
    )
    assert wrong.status_code == 401 and "Unknown or revoked key" in wrong.text
    stale = app_client.post("/workbench/sign-in", data={"key": secret, "csrf": "forged"})
    assert stale.status_code == 403
    app_client.cookies.clear()


def test_csrf_sign_out_and_a_revoked_key(app_client: TestClient, database_url: str) -> None:
    app_client.cookies.clear()
    key_id, secret = _key(database_url, "officer")
    csrf = _signed_in(app_client, secret)
    body = {"merchant_id": "M00000003", "as_of": AS_OF}
    assert app_client.post("/workbench/decide", data=body).status_code == 403  # no token
    forged = app_client.post("/workbench/decide", data={**body, "csrf": "x" * 43})
    assert forged.status_code == 403 and "stale" in forged.text
    decided = app_client.post(
        "/workbench/decide", data={**body, "csrf": csrf}, follow_redirects=False
    )
    assert decided.status_code == 303
    cookie = app_client.cookies.get("uw_workbench")
    assert app_client.post("/workbench/sign-out", data={"csrf": csrf}).status_code == 200
    app_client.cookies.set("uw_workbench", cookie or "", path="/workbench")  # a copied cookie
    after = app_client.post("/workbench/decide", data={**body, "csrf": csrf})
    assert after.status_code == 403 and "signed out" in after.text
    assert app_client.get("/workbench/queue", follow_redirects=False).status_code == 303
    app_client.cookies.clear()
    _signed_in(app_client, secret)
    assert app_client.get("/workbench/queue").status_code == 200
    database = store.connect(database_url)
    store.revoke_key(database, key_id)
    database.dispose()
    assert app_client.get("/workbench/queue", follow_redirects=False).status_code == 303
    app_client.cookies.clear()


def test_output_is_escaped(app_client: TestClient, database_url: str) -> None:
    app_client.cookies.clear()
    _, secret = _key(database_url, "officer")
    csrf = _signed_in(app_client, secret)
    evil = "<script>alert(1)</script>"
    days = pl.date_range(pl.date(2025, 10, 1), pl.date(2026, 9, 30), eager=True)
    data = {
        "merchant": {"merchant_id": evil, "industry_code": "5812", "region": "north",
                     "onboarded_on": "2023-03-01", "existing_exposure": 0},
        "cashflow": [{"date": d.isoformat(), "gross_sales": 900.0 + (i % 7) * 40, "refunds": 5.0,
                      "chargebacks": 0.0, "transaction_count": 30} for i, d in enumerate(days)],
        "traffic": [],
    }  # fmt: skip
    answer = app_client.post(
        "/v1/decisions", json={"data": data, "as_of": AS_OF},
        headers={"Authorization": f"Bearer {secret}"},
    )  # fmt: skip
    assert answer.status_code == 201, answer.text
    page = app_client.get(f"/workbench/decisions/{answer.json()['id']}")
    assert evil not in page.text and "&lt;script&gt;alert(1)&lt;/script&gt;" in page.text
    history = app_client.get("/workbench/merchants/%3Cscript%3Ealert(1)%3C%2Fscript%3E")
    assert evil not in history.text and "&lt;script&gt;" in history.text
    assert csrf
    app_client.cookies.clear()


def test_a_review_leaves_the_queue_and_is_read_back_by_the_api(
    app_client: TestClient, database_url: str
) -> None:
    app_client.cookies.clear()
    _, secret = _key(database_url, "officer")
    referrals = _referrals(app_client, secret)
    assert len(referrals) >= 2
    csrf = _signed_in(app_client, secret)
    queue = app_client.get("/workbench/queue").text
    listed = re.findall(r"/workbench/decisions/([0-9a-f-]{36})", queue)
    assert set(listed) >= {str(r["id"]) for r in referrals}.intersection(listed)
    assert str(referrals[0]["id"]) in listed or len(listed) == 25
    target = referrals[0]
    page = app_client.get(f"/workbench/decisions/{target['id']}")
    assert "Save the review" in page.text and "How the limit was built" in page.text
    too_high = int(str(target["limit"])) + 500
    refused = app_client.post(
        f"/workbench/decisions/{target['id']}/review",
        data={"csrf": csrf, "outcome": "approve", "limit": str(too_high),
              "reason": "Concerns confirmed on review", "note": "checked"},
    )  # fmt: skip
    assert refused.status_code == 422 and "never raise it" in refused.text
    unknown = app_client.post(
        f"/workbench/decisions/{target['id']}/review",
        data={"csrf": csrf, "outcome": "decline", "reason": "I felt like it", "note": "checked"},
    )
    assert unknown.status_code == 422 and "not one of the rule set" in unknown.text
    saved = app_client.post(
        f"/workbench/decisions/{target['id']}/review",
        data={"csrf": csrf, "outcome": "decline", "reason": "Concerns confirmed on review",
              "note": "bank statements show <b>two</b> chargeback spikes"},
        follow_redirects=False,
    )  # fmt: skip
    assert saved.status_code == 303
    after = app_client.get(f"/workbench/decisions/{target['id']}").text
    assert "Save the review" not in after and "workbench officer" in after
    assert "&lt;b&gt;two&lt;/b&gt;" in after
    assert str(target["id"]) not in app_client.get("/workbench/queue").text
    stored = app_client.get(
        f"/v1/decisions/{target['id']}", headers={"Authorization": f"Bearer {secret}"}
    ).json()
    assert stored["review"]["outcome"] == "decline"
    assert stored["review"]["reason"] == "Concerns confirmed on review"
    assert stored["outcome"] == "refer"  # the decision never changes
    app_client.cookies.clear()


def test_an_auditor_reads_only(app_client: TestClient, database_url: str) -> None:
    app_client.cookies.clear()
    _, officer = _key(database_url, "officer")
    referral = _referrals(app_client, officer, 30)[0]
    _, auditor = _key(database_url, "auditor")
    csrf = _signed_in(app_client, auditor)
    page = app_client.get(f"/workbench/decisions/{referral['id']}").text
    assert "Save the review" not in page and "New decision" not in page
    refused = app_client.post(
        f"/workbench/decisions/{referral['id']}/review",
        data={"csrf": csrf, "outcome": "decline", "reason": "Concerns confirmed on review",
              "note": "an auditor tries"},
    )  # fmt: skip
    assert refused.status_code == 403 and "reads only" in refused.text
    decide = app_client.post("/workbench/decide", data={"csrf": csrf, "merchant_id": "M00000001"})
    assert decide.status_code == 403
    replay = app_client.post(f"/workbench/decisions/{referral['id']}/replay", data={"csrf": csrf})
    assert replay.status_code == 200 and "Identical" in replay.text  # reading is allowed
    app_client.cookies.clear()


def test_the_queue_filters_and_orders_oldest_first(
    app_client: TestClient, database_url: str
) -> None:
    app_client.cookies.clear()
    _, secret = _key(database_url, "officer")
    _referrals(app_client, secret, 60)
    _signed_in(app_client, secret)
    database = store.connect(database_url)
    waiting = [
        s
        for s in store.list_decisions(database, None, 10_000, None)
        if s.decision["outcome"] == "refer" and s.review is None
    ]
    database.dispose()
    oldest = sorted(waiting, key=lambda s: (s.created_at, s.seq))
    page = app_client.get("/workbench/queue").text
    listed = re.findall(r"/workbench/decisions/([0-9a-f-]{36})", page)
    assert listed == [s.id for s in oldest[:25]]
    assert f"{len(waiting)} referral" in page
    grade = oldest[0].decision["grade"]
    filtered = app_client.get("/workbench/queue", params={"grade": grade}).text
    ids = set(re.findall(r"/workbench/decisions/([0-9a-f-]{36})", filtered))
    assert ids == {s.id for s in oldest if s.decision["grade"] == grade} or len(ids) == 25
    industry = oldest[0].input["merchant"]["industry_code"]
    by_industry = app_client.get("/workbench/queue", params={"industry": industry}).text
    ids = set(re.findall(r"/workbench/decisions/([0-9a-f-]{36})", by_industry))
    expected = {s.id for s in oldest if s.input["merchant"]["industry_code"] == industry}
    assert ids == expected or len(ids) == 25
    app_client.cookies.clear()


def test_a_new_applicants_files_with_bad_rows_are_shown_back(
    app_client: TestClient, database_url: str, book_tables: dict[str, pl.DataFrame]
) -> None:
    app_client.cookies.clear()
    _, secret = _key(database_url, "officer")
    csrf = _signed_in(app_client, secret)
    mine = pl.col("merchant_id") == "M00000009"
    profile = (
        book_tables["merchants"]
        .filter(mine)
        .with_columns(pl.lit("NEW-APPLICANT-1").alias("merchant_id"))
    )
    cashflow = book_tables["cashflow"].filter(mine).drop("merchant_id").sort("date")
    traffic = book_tables["traffic"].filter(mine).drop("merchant_id").sort("date")

    def csv(frame: pl.DataFrame) -> bytes:
        return frame.write_csv().encode()

    def parquet(frame: pl.DataFrame) -> bytes:
        buffer = io.BytesIO()
        frame.write_parquet(buffer)
        return buffer.getvalue()

    good = app_client.post(
        "/workbench/decide/upload",
        data={"csrf": csrf, "as_of": AS_OF},
        files={"profile": ("profile.csv", csv(profile)),
               "cashflow": ("cashflow.parquet", parquet(cashflow)),
               "traffic": ("traffic.csv", csv(traffic))},
        follow_redirects=False,
    )  # fmt: skip
    assert good.status_code == 303, good.text
    decided = app_client.get(good.headers["location"]).text
    assert "NEW-APPLICANT-1" in decided and "How the limit was built" in decided
    broken = cashflow.with_columns(
        pl.when(pl.int_range(pl.len()) == 4)
        .then(-50.0)
        .otherwise(pl.col("gross_sales"))
        .alias("gross_sales")
    )
    bad = app_client.post(
        "/workbench/decide/upload",
        data={"csrf": csrf, "as_of": AS_OF},
        files={"profile": ("profile.csv", csv(profile)),
               "cashflow": ("cashflow.csv", csv(broken))},
    )  # fmt: skip
    assert bad.status_code == 422
    row = re.search(r"<td>cash flow</td><td>5</td><td>gross_sales</td><td>([^<]+)</td>", bad.text)
    assert row is not None, bad.text[-3000:]
    garbage = app_client.post(
        "/workbench/decide/upload",
        data={"csrf": csrf},
        files={"profile": ("p.csv", b"\x00\x01PAR1 not a table"), "cashflow": ("c.csv", b"")},
    )
    assert garbage.status_code == 422 and "profile" in garbage.text
    app_client.cookies.clear()


def test_the_limits_build_up_ends_at_the_engines_limit(
    app_client: TestClient, database_url: str
) -> None:
    app_client.cookies.clear()
    _, secret = _key(database_url, "officer")
    headers = {"Authorization": f"Bearer {secret}"}
    _signed_in(app_client, secret)
    for merchant in ("M00000011", "M00000012", "M00000013", "M00000014"):
        decision = app_client.post(
            "/v1/decisions", json={"merchant_id": merchant, "as_of": AS_OF}, headers=headers
        ).json()
        page = app_client.get(f"/workbench/decisions/{decision['id']}").text
        rounded = re.search(
            r"rounded down to the loan unit of [\d,]+</td><td class=\"num\">([\d,]+)", page
        )
        assert rounded is not None
        if decision["outcome"] != "decline":
            assert int(rounded.group(1).replace(",", "")) == decision["limit"]
            binding = re.search(r'<tr class="binding"><td>([^<:]+)', page)
            assert binding is not None
    app_client.cookies.clear()
