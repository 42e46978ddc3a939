"""The validation pack's overrides, read from the API's own store (SQLite and PostgreSQL)
after officers reviewed referrals through the API: each review counted on its side, with
its reason, by the grade the engine gave."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from api.cli import main
from tests.api.conftest import Api
from underwriting.errors import InputError
from underwriting.io.review_log import read_referrals
from underwriting.reports.validation_figures import overrides

AS_OF = "2026-10-01"
GRADES = ["A", "B", "C", "D", "E", "F", "G"]


def _referrals(api: Api, wanted: int) -> list[dict[str, Any]]:
    """Referrals: merchants the engine would approve, asking for far more than their sales."""
    found = []
    for number in range(100, 400):
        body = {"merchant_id": f"M{number:08d}", "as_of": AS_OF, "requested_amount": 10_000_000}
        decision = api.client.post("/v1/decisions", json=body, headers=api.officer).json()
        if decision.get("outcome") == "refer" and decision["limit"] > 1000:
            found.append(decision)
            if len(found) == wanted:
                return found
    raise AssertionError(f"fewer than {wanted} referrals among the merchants tried")


def test_overrides_count_each_review_on_its_side(api: Api, database_url: str) -> None:
    before = read_referrals(database_url)
    full, cut, declined, waiting = _referrals(api, 4)
    reviews = [
        (full, {"outcome": "approve", "limit": full["limit"], "note": "sales confirmed by phone",
                "reason": "Sales verified with bank statements or tax returns"}),
        (cut, {"outcome": "approve", "limit": cut["limit"] - 500, "note": "repayable at a smaller limit",
               "reason": "Limit reduced to an amount the merchant can repay"}),
        (declined, {"outcome": "decline", "note": "chargebacks confirmed on review", "reason": "Concerns confirmed on review"}),
    ]  # fmt: skip
    for decision, body in reviews:
        answer = api.client.post(
            f"/v1/decisions/{decision['id']}/review", json=body, headers=api.officer
        )
        assert answer.status_code == 201, answer.text
    referrals = read_referrals(database_url)
    assert referrals.height == before.height + 4
    mine = referrals.filter(
        referrals["decision_id"].is_in([d["id"] for d in (full, cut, declined, waiting)])
    )
    by_grade, reasons = overrides(mine, GRADES)
    assert by_grade["referrals"].sum() == 4 and by_grade["reviewed"].sum() == 3
    assert by_grade["approved_in_full"].sum() == 1
    assert by_grade["cut"].sum() == 1 and by_grade["declined"].sum() == 1
    assert by_grade["low_side"].sum() == 2 and by_grade["high_side"].sum() == 0
    assert sorted(by_grade["grade"]) == sorted({d["grade"] for d in (full, cut, declined, waiting)})
    sides = {(r["side"], r["reason"]): r["reviews"] for r in reasons.iter_rows(named=True)}
    assert sides == {
        ("approved at the engine's limit", "Sales verified with bank statements or tax returns"): 1,
        ("low-side: limit cut", "Limit reduced to an amount the merchant can repay"): 1,
        ("low-side: declined", "Concerns confirmed on review"): 1,
    }


def test_the_pack_reads_the_overrides_from_the_store(
    api: Api, database_url: str, small_book: Path, models_dir: Path, tmp_path: Path
) -> None:
    referral = _referrals(api, 1)[0]
    body = {"outcome": "decline", "note": "chargebacks confirmed on review",
            "reason": "Concerns confirmed on review"}  # fmt: skip
    path = f"/v1/decisions/{referral['id']}/review"
    assert api.client.post(path, json=body, headers=api.officer).status_code == 201
    out = tmp_path / "validation.html"
    args = ["report", "validation", "--data", str(small_book), "--on", "2027-10-01"]
    model = str(models_dir / "scorecard.json")
    assert main([*args, "--model", model, "--database", database_url, "--out", str(out)]) == 0
    figures = json.loads(out.with_suffix(".json").read_text())
    stored = read_referrals(database_url)
    assert sum(r["referrals"] for r in figures["overrides"]) == stored.height
    assert sum(r["declined"] for r in figures["overrides"]) == int(
        (stored["review_outcome"] == "decline").sum()
    )
    assert "Concerns confirmed on review" in {r["reason"] for r in figures["override_reasons"]}
    assert sum(v["referrals"] for v in figures["override_versions"]) == stored.height
    assert {v["model_version"] for v in figures["override_versions"]} == {referral["model_version"]}
    assert "secret" not in out.read_text() and "Override reasons" in out.read_text()


def test_a_database_that_is_not_the_stores_is_named_with_the_fix(tmp_path: Any) -> None:
    with pytest.raises(InputError, match="db upgrade"):
        read_referrals(f"sqlite:///{tmp_path}/empty.db")
    with pytest.raises(InputError, match="not a database URL"):
        read_referrals("not a url")
