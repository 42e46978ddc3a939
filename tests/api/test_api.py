"""The scoring API end to end: the real app, a real database of each kind (SQLite and
PostgreSQL), the real engine on a simulated book."""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import Any

import polars as pl
import pytest
from fastapi.testclient import TestClient

from api import store
from api.main import create_app
from tests.api.conftest import Api, settings_for
from tests.conftest import RULES_V1
from underwriting.applications import Application
from underwriting.engine import Engine
from underwriting.io.artifacts import load_model
from underwriting.io.rule_sets import load_rule_set

AS_OF = "2026-10-01"
PROBLEM = "application/problem+json"


def _inline(book: dict[str, pl.DataFrame], merchant_id: str) -> dict[str, Any]:
    mine = pl.col("merchant_id") == merchant_id

    def rows(frame: pl.DataFrame) -> list[dict[str, Any]]:
        return [
            {k: (v.isoformat() if isinstance(v, dt.date) else v) for k, v in r.items()}
            for r in frame.filter(mine).drop("merchant_id").iter_rows(named=True)
        ]

    profile = book["merchants"].filter(mine).row(0, named=True)
    profile["onboarded_on"] = profile["onboarded_on"].isoformat()
    return {
        "merchant": profile,
        "cashflow": rows(book["cashflow"]),
        "traffic": rows(book["traffic"]),
    }


def _decide(api: Api, body: dict[str, Any], key: str | None = None) -> Any:
    headers = dict(api.officer)
    if key is not None:
        headers["Idempotency-Key"] = key
    return api.client.post("/v1/decisions", json=body, headers=headers)


def test_health_needs_no_key_and_readiness_names_the_versions(api: Api) -> None:
    assert api.client.get("/healthz").json() == {"status": "ok"}
    ready = api.client.get("/readyz")
    assert ready.status_code == 200
    assert ready.json()["rule_set_version"].startswith("v1+")


def test_a_decision_by_merchant_id_is_stored_with_its_versions(api: Api) -> None:
    answer = _decide(api, {"merchant_id": "M00000003", "as_of": AS_OF})
    assert answer.status_code == 201, answer.text
    decision = answer.json()
    assert answer.headers["location"] == f"/v1/decisions/{decision['id']}"
    assert decision["outcome"] in ("approve", "refer", "decline")
    assert decision["model_version"].startswith("scorecard-")
    assert decision["rule_set_version"].startswith("v1+")
    assert decision["source"].startswith("data:")
    assert len(decision["reasons"]) == len(decision["reason_codes"]) <= 4
    fetched = api.client.get(f"/v1/decisions/{decision['id']}", headers=api.auditor)
    assert fetched.status_code == 200
    assert fetched.json() == decision


def test_inline_data_gets_the_engines_decision(
    api: Api, book_tables: dict[str, pl.DataFrame], small_book: Path, models_dir: Path
) -> None:
    body = {"data": _inline(book_tables, "M00000042"), "as_of": AS_OF}
    answer = _decide(api, body)
    assert answer.status_code == 201, answer.text
    decision = answer.json()
    assert decision["source"] == "inline"
    mine = pl.col("merchant_id") == "M00000042"
    engine = Engine(
        load_model(models_dir / "scorecard.json"),
        load_rule_set(RULES_V1),
        book_tables["industry_benchmarks"],
    )
    expected = engine.decide(
        Application(
            book_tables["merchants"].filter(mine),
            book_tables["cashflow"].filter(mine),
            book_tables["traffic"].filter(mine),
            dt.date.fromisoformat(AS_OF),
        )
    )
    for field in ("outcome", "limit", "grade", "pd_12m", "score", "reasons", "rules_fired"):
        assert decision[field] == getattr(expected, field), field
    by_id = _decide(api, {"merchant_id": "M00000042", "as_of": AS_OF}).json()
    assert by_id["outcome"] == decision["outcome"] and by_id["limit"] == decision["limit"]


def test_a_bad_row_is_a_422_naming_the_row_the_field_and_the_problem(
    api: Api, book_tables: dict[str, pl.DataFrame]
) -> None:
    data = _inline(book_tables, "M00000007")
    data["cashflow"][3]["gross_sales"] = -5.0
    answer = _decide(api, {"data": data, "as_of": AS_OF})
    assert answer.status_code == 422
    assert answer.headers["content-type"] == PROBLEM
    errors = answer.json()["errors"]
    assert errors[0]["pointer"] == "#/data/cashflow/3/gross_sales"
    assert "greater than or equal to 0" in errors[0]["detail"]

    data = _inline(book_tables, "M00000007")
    data["cashflow"][5]["date"] = "2026-10-05"  # after the as-of date: look-ahead
    answer = _decide(api, {"data": data, "as_of": AS_OF})
    assert answer.status_code == 422
    problem = answer.json()
    assert problem["errors"][0]["pointer"] == "#/data/cashflow/5/date"  # the row, the field
    assert "2026-10-05" in problem["errors"][0]["detail"]
    assert "as-of date" in problem["errors"][0]["detail"]

    data = _inline(book_tables, "M00000007")
    data["merchant"]["industry_code"] = "0000"
    answer = _decide(api, {"data": data, "as_of": AS_OF})
    assert answer.status_code == 422
    assert "unknown industry code 0000" in answer.json()["detail"]


def test_an_amount_too_large_to_sum_exactly_is_a_422_not_a_500(
    api: Api, book_tables: dict[str, pl.DataFrame]
) -> None:
    """Found by the fuzz test: refunds of 9.2e16 overflowed the sum in whole cents."""
    data = _inline(book_tables, "M00000007")
    data["cashflow"][2]["refunds"] = 9.223372036854776e16
    answer = _decide(api, {"data": data, "as_of": AS_OF})
    assert answer.status_code == 422, answer.text
    errors = answer.json()["errors"]
    assert errors[0]["pointer"] == "#/data/cashflow/2/refunds"
    assert "less than or equal to 1000000000000" in errors[0]["detail"]


def test_a_request_must_say_which_merchant(api: Api) -> None:
    answer = _decide(api, {"as_of": AS_OF})
    assert answer.status_code == 422
    assert answer.json()["errors"] == [{"pointer": "#/merchant_id", "detail": "Field required"}]
    answer = _decide(api, {"merchant_id": "M00000001", "as_of": "yesterday"})
    assert answer.status_code == 422
    assert answer.json()["errors"][0]["pointer"] == "#/as_of"
    unknown = _decide(api, {"merchant_id": "NOPE", "as_of": AS_OF})
    assert unknown.status_code == 404
    assert "NOPE is not in the data source" in unknown.json()["detail"]


def test_idempotent_retries_return_the_stored_decision(api: Api) -> None:
    body = {"merchant_id": "M00000011", "as_of": AS_OF}
    first = _decide(api, body, key="retry-1")
    again = _decide(api, body, key="retry-1")
    assert first.status_code == 201 and again.status_code == 200
    assert again.headers["idempotent-replayed"] == "true"
    assert again.json() == first.json()
    other = _decide(api, {**body, "requested_amount": 5000}, key="retry-1")
    assert other.status_code == 409
    assert "another request body" in other.json()["detail"]
    admin = api.client.post(
        "/v1/decisions", json=body, headers={**api.admin, "Idempotency-Key": "retry-1"}
    )
    assert admin.status_code == 201  # keys are the caller's own
    assert admin.json()["id"] != first.json()["id"]


def test_keys_and_roles(api: Api) -> None:
    assert api.client.get("/v1/versions").status_code == 401
    bad = api.client.get("/v1/versions", headers={"Authorization": "Bearer uwk_nope"})
    assert bad.status_code == 401 and bad.headers["content-type"] == PROBLEM
    assert "www-authenticate" in bad.headers
    refused = api.client.post(
        "/v1/decisions", json={"merchant_id": "M00000001"}, headers=api.auditor
    )
    assert refused.status_code == 403
    assert api.client.get("/v1/keys", headers=api.officer).status_code == 403
    made = api.client.post(
        "/v1/keys", json={"role": "officer", "label": "new officer"}, headers=api.admin
    )
    assert made.status_code == 201
    secret = made.json()["secret"]
    mine = {"Authorization": f"Bearer {secret}"}
    assert api.client.get("/v1/versions", headers=mine).status_code == 200
    listed = api.client.get("/v1/keys", headers=api.admin).json()
    assert all("secret" not in k for k in listed)
    assert api.client.delete(f"/v1/keys/{made.json()['id']}", headers=api.admin).status_code == 204
    assert api.client.get("/v1/versions", headers=mine).status_code == 401
    with api.database.connect() as connection:
        hashes = [
            r[0]
            for r in connection.execute(
                store.api_keys.select().with_only_columns(store.api_keys.c.secret_sha256)
            )
        ]
    assert secret not in hashes and store.sha256(secret.encode()) in hashes


def test_paging_through_a_merchants_decisions(api: Api) -> None:
    made = [
        _decide(api, {"merchant_id": "M00000021", "as_of": f"2026-0{m}-01"}).json()["id"]
        for m in (7, 8, 9)
    ]
    first = api.client.get(
        "/v1/decisions", params={"merchant_id": "M00000021", "limit": 2}, headers=api.auditor
    ).json()
    assert [d["id"] for d in first["items"]] == made[::-1][:2]
    second = api.client.get(
        "/v1/decisions",
        params={"merchant_id": "M00000021", "limit": 2, "cursor": first["next_cursor"]},
        headers=api.auditor,
    ).json()
    assert [d["id"] for d in second["items"]] == made[:1]
    assert second["next_cursor"] is None


def _referral(api: Api) -> dict[str, Any]:
    """A referral: a merchant the engine approves, asking for far more than its sales."""
    for number in range(1, 80):
        merchant = f"M{number:08d}"
        plain = _decide(api, {"merchant_id": merchant, "as_of": AS_OF}).json()
        if plain.get("outcome") == "approve":
            body = {"merchant_id": merchant, "as_of": AS_OF, "requested_amount": 10_000_000}
            referred = _decide(api, body).json()
            assert referred["outcome"] == "refer", referred
            return dict(referred)
    raise AssertionError("no approved merchant among the first 80")


def test_an_officer_reviews_a_referral_without_changing_it(api: Api) -> None:
    referral = _referral(api)
    path = f"/v1/decisions/{referral['id']}/review"
    too_much = {
        "outcome": "approve",
        "limit": referral["limit"] + 500,
        "note": "strong repeat customer",
    }
    assert api.client.post(path, json=too_much, headers=api.officer).status_code == 409
    assert (
        api.client.post(
            path, json={"outcome": "approve", "note": "x"}, headers=api.officer
        ).status_code
        == 422
    )
    assert (
        api.client.post(
            path, json={"outcome": "decline", "note": "declined after a call"}, headers=api.auditor
        ).status_code
        == 403
    )
    review = {
        "outcome": "approve",
        "limit": referral["limit"],
        "note": "confirmed the sales by phone",
    }
    answer = api.client.post(path, json=review, headers=api.officer)
    assert answer.status_code == 201, answer.text
    reviewed = answer.json()
    assert reviewed["review"]["outcome"] == "approve"
    assert reviewed["review"]["limit"] == referral["limit"]
    assert {k: v for k, v in reviewed.items() if k != "review"} == {
        k: v for k, v in referral.items() if k != "review"
    }
    assert api.client.post(path, json=review, headers=api.officer).status_code == 409
    approved = _decide(api, {"merchant_id": referral["merchant_id"], "as_of": AS_OF}).json()
    not_referral = api.client.post(
        f"/v1/decisions/{approved['id']}/review", json=review, headers=api.officer
    )
    assert not_referral.status_code == 409


def test_replay_reruns_the_stored_input_with_the_recorded_versions(api: Api) -> None:
    decision = _decide(api, {"merchant_id": "M00000005", "as_of": AS_OF}).json()
    replay = api.client.post(f"/v1/decisions/{decision['id']}/replay", headers=api.auditor)
    assert replay.status_code == 200, replay.text
    assert replay.json()["identical"] is True
    assert replay.json()["differences"] == {}
    assert api.client.post("/v1/decisions/nope/replay", headers=api.auditor).status_code == 404


def test_problems_never_carry_a_stack_trace(api: Api) -> None:
    answer = api.client.get("/v1/nowhere", headers=api.officer)
    assert answer.status_code == 404 and answer.headers["content-type"] == PROBLEM
    assert "Traceback" not in answer.text
    assert api.client.get("/v1/decisions/none", headers=api.auditor).status_code == 404
    paged = api.client.get("/v1/decisions", params={"limit": 0}, headers=api.auditor)
    assert paged.status_code == 422 and paged.json()["errors"][0]["pointer"] == "query/limit"


def test_large_bodies_are_refused(
    database_url: str, small_book: Path, models_dir: Path, book_tables: dict[str, pl.DataFrame]
) -> None:
    database = store.connect(database_url)
    _, secret = store.create_key(database, "officer", "size test")
    database.dispose()
    app = create_app(settings_for(database_url, small_book, models_dir, max_body_bytes=20_000))
    with TestClient(app, raise_server_exceptions=False) as client:
        body = {"data": _inline(book_tables, "M00000042"), "as_of": AS_OF}
        answer = client.post(
            "/v1/decisions", json=body, headers={"Authorization": f"Bearer {secret}"}
        )
    assert answer.status_code == 413
    assert "20,000 bytes" in answer.json()["detail"]


def test_not_ready_without_a_model_or_a_migrated_database(
    tmp_path: Path, small_book: Path, models_dir: Path
) -> None:
    empty = f"sqlite:///{tmp_path / 'empty.db'}"
    with TestClient(create_app(settings_for(empty, small_book, models_dir))) as client:
        answer = client.get("/readyz")
        assert answer.status_code == 503
        assert "underwrite db upgrade" in answer.json()["detail"]
        assert client.get("/healthz").status_code == 200
    migrated = f"sqlite:///{tmp_path / 'migrated.db'}"
    from api import migrate

    database = store.connect(migrated)
    migrate.upgrade(database)
    database.dispose()
    settings = settings_for(migrated, small_book, models_dir, model=tmp_path / "missing.json")
    with TestClient(create_app(settings)) as client:
        answer = client.get("/readyz")
        assert answer.status_code == 503
        assert "no model artifact" in answer.json()["detail"]


@pytest.mark.parametrize("route", ["/v1/versions", "/v1/decisions", "/v1/keys"])
def test_every_route_but_health_needs_a_key(api: Api, route: str) -> None:
    assert api.client.get(route).status_code == 401


def test_the_migrations_build_the_schema_the_store_queries(database_url: str) -> None:
    """The Alembic migrations are a frozen copy of the tables; they must not drift apart."""
    from alembic.autogenerate import compare_metadata
    from alembic.runtime.migration import MigrationContext

    database = store.connect(database_url)
    with database.connect() as connection:
        drift = compare_metadata(MigrationContext.configure(connection), store.metadata)
    database.dispose()
    assert drift == []
