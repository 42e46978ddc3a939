"""The shadow challenger on the real app and real databases: the answer is the champion's,
the challenger's decision is stored beside it with its versions, both replay to the same
decision, and the summary's swap set accounts for every decision."""

from __future__ import annotations

import datetime as dt
import shutil
from collections.abc import Iterator
from pathlib import Path

import polars as pl
import pytest
from fastapi.testclient import TestClient

from api import store
from api.main import create_app
from api.settings import Settings
from tests.api.conftest import Api, settings_for
from tests.conftest import RULES_V1
from underwriting.io.rule_sets import load_rule_set

AS_OF = "2026-10-01"
MERCHANTS = [f"M{i:08d}" for i in range(1, 61)]


@pytest.fixture(scope="module")
def challenger_rules(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """rules/v1 with the tenure floor at 365 days, outside the rules folder."""
    folder = tmp_path_factory.mktemp("challenger") / "v2"
    shutil.copytree(RULES_V1, folder)
    rules = folder / "rules.toml"
    rules.write_text(rules.read_text().replace("tenure_days < 180", "tenure_days < 365"))
    return folder


@pytest.fixture(scope="module")
def shadowed(
    database_url: str, small_book: Path, models_dir: Path, challenger_rules: Path
) -> Iterator[Api]:
    database = store.connect(database_url)
    headers = {}
    for role in store.ROLES:
        _, secret = store.create_key(database, role, f"shadow {role}")
        headers[role] = {"Authorization": f"Bearer {secret}"}
    settings = settings_for(database_url, small_book, models_dir, challenger_rules=challenger_rules)
    with TestClient(create_app(settings), raise_server_exceptions=False) as client:
        yield Api(client, database, headers["officer"], headers["auditor"], headers["admin"])
    database.dispose()


@pytest.fixture(scope="module")
def decided(shadowed: Api) -> tuple[dt.datetime, list[dict[str, object]]]:
    """60 merchants decided through the API, with their shadows stored."""
    started = store.now()
    answers = []
    for merchant in MERCHANTS:
        answer = shadowed.client.post(
            "/v1/decisions",
            json={"merchant_id": merchant, "as_of": AS_OF},
            headers=shadowed.officer,
        )
        assert answer.status_code == 201, answer.text
        answers.append(answer.json())
    runtime = shadowed.client.app.state.runtime  # type: ignore[attr-defined]
    assert runtime.shadow is not None and runtime.shadow.flush()
    return started, answers


def test_the_answer_is_the_champions_and_the_challengers_is_stored_beside(
    shadowed: Api, decided: tuple[dt.datetime, list[dict[str, object]]], challenger_rules: Path
) -> None:
    _, answers = decided
    v1, v2 = load_rule_set(RULES_V1).version, load_rule_set(challenger_rules).version
    versions = shadowed.client.get("/v1/versions", headers=shadowed.auditor).json()
    assert versions["rule_set_version"] == v1
    assert versions["challenger"]["rule_set_version"] == v2
    differ = 0
    for answer in answers:
        assert answer["rule_set_version"] == v1
        assert "challenger" not in str(answer.keys())
        found = shadowed.client.get(f"/v1/shadow/{answer['id']}", headers=shadowed.auditor)
        assert found.status_code == 200, found.text
        challenger = found.json()["decision"]
        assert challenger["rule_set_version"] == v2
        assert challenger["model_version"] == answer["model_version"]
        assert challenger["merchant_id"] == answer["merchant_id"]
        if challenger["outcome"] != answer["outcome"]:
            differ += 1
            assert challenger["outcome"] == "decline" and "KO-TENURE" in challenger["rules_fired"]
            assert "KO-TENURE" not in answer["rules_fired"]  # type: ignore[operator]
    assert differ > 0
    stored = shadowed.client.get(f"/v1/decisions/{answers[0]['id']}", headers=shadowed.auditor)
    assert stored.json()["rule_set_version"] == v1  # never the challenger's


def test_both_decisions_replay_to_themselves(
    shadowed: Api, decided: tuple[dt.datetime, list[dict[str, object]]], challenger_rules: Path
) -> None:
    _, answers = decided
    v2 = load_rule_set(challenger_rules).version
    for answer in answers[:8]:
        mine = shadowed.client.post(
            f"/v1/decisions/{answer['id']}/replay", headers=shadowed.auditor
        ).json()
        assert mine["identical"] is True and mine["rule_set_version"] == answer["rule_set_version"]
        theirs = shadowed.client.post(f"/v1/shadow/{answer['id']}/replay", headers=shadowed.auditor)
        assert theirs.status_code == 200, theirs.text
        replay = theirs.json()
        assert replay["identical"] is True and replay["differences"] == {}
        assert replay["rule_set_version"] == v2
        stored = shadowed.client.get(f"/v1/shadow/{answer['id']}", headers=shadowed.auditor)
        assert replay["replayed"] == stored.json()["decision"]


def test_the_summary_accounts_for_every_decision(
    shadowed: Api, decided: tuple[dt.datetime, list[dict[str, object]]]
) -> None:
    started, answers = decided
    since = {"since": started.isoformat()}
    summary = shadowed.client.get("/v1/shadow", params=since, headers=shadowed.auditor)
    assert summary.status_code == 200, summary.text
    found = summary.json()
    assert found["decisions"] == found["with_challenger"] == len(answers)
    assert found["without_challenger"] == 0
    (pair,) = found["pairs"]
    cells = pair["swap_set"]
    assert len(cells) == 9 and sum(c["decisions"] for c in cells) == len(answers)
    challengers = {
        a["id"]: shadowed.client.get(f"/v1/shadow/{a['id']}", headers=shadowed.auditor).json()
        for a in answers
    }
    same = sum(a["outcome"] == challengers[str(a["id"])]["decision"]["outcome"] for a in answers)
    assert pair["same_outcome"] == same < len(answers)
    assert pair["agreement"] == pytest.approx(same / len(answers))
    assert sum(c["champion_limit"] for c in cells) == sum(int(str(a["limit"])) for a in answers)
    assert found["queue"]["stored"] >= len(answers) and found["queue"]["failed"] == 0
    later = shadowed.client.get(
        "/v1/shadow", params={"since": store.now().isoformat()}, headers=shadowed.admin
    ).json()
    assert later["decisions"] == 0 and later["pairs"] == []
    assert shadowed.client.get("/v1/shadow", headers=shadowed.officer).status_code == 403
    backwards = shadowed.client.get(
        "/v1/shadow",
        params={"since": "2026-12-02T00:00:00Z", "until": "2026-12-01T00:00:00Z"},
        headers=shadowed.auditor,
    )
    assert backwards.status_code == 422 and "must be after" in backwards.json()["detail"]


def test_without_a_challenger_there_is_no_shadow(api: Api) -> None:
    started = store.now()
    answer = api.client.post(
        "/v1/decisions", json={"merchant_id": "M00000002", "as_of": AS_OF}, headers=api.officer
    ).json()
    missing = api.client.get(f"/v1/shadow/{answer['id']}", headers=api.auditor)
    assert missing.status_code == 404 and "no challenger decision" in missing.json()["detail"]
    since = {"since": started.isoformat()}
    summary = api.client.get("/v1/shadow", params=since, headers=api.auditor).json()
    assert summary["challenger"] is None and summary["queue"] is None
    assert summary["without_challenger"] == summary["decisions"] == 1
    assert api.client.get("/v1/versions", headers=api.auditor).json()["challenger"] is None


def test_the_environment_names_the_challenger(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("UW_CHALLENGER_RULES", "rules/v2")
    monkeypatch.setenv("UW_CHALLENGER_MODEL", "models/challenger.json")
    settings = Settings.from_environment()
    assert settings.challenger_rules == Path("rules/v2")
    assert settings.challenger_model == Path("models/challenger.json")
    monkeypatch.setenv("UW_CHALLENGER_RULES", "")
    assert Settings.from_environment().challenger_rules is None


def test_the_challengers_process_decides_as_the_engine_does(
    small_book: Path, models_dir: Path, challenger_rules: Path, tmp_path: Path
) -> None:
    import datetime as dt_

    from api.shadow_child import ChallengerProcess, ChildFailed
    from underwriting.batch.feature_table import build_feature_table
    from underwriting.engine import Engine
    from underwriting.io.artifacts import load_model

    model = load_model(models_dir / "scorecard.json")
    rules = load_rule_set(challenger_rules)
    build = build_feature_table(small_book, dt_.date(2026, 10, 1), tmp_path / "f.parquet")
    features = pl.read_parquet(build.features).head(50)
    child = ChallengerProcess(
        models_dir / "scorecard.json", challenger_rules, (model.version, rules.version)
    )
    try:
        decided = child.decide(features)
        assert decided.equals(Engine(model, rules).decide_frame(features))
        again = child.decide(features.head(3))  # the same process, another batch
        assert again.height == 3
    finally:
        child.close()
    wrong = ChallengerProcess(
        models_dir / "scorecard.json", RULES_V1, (model.version, rules.version)
    )
    with pytest.raises(ChildFailed, match="loaded"):
        wrong.decide(features)
    wrong.close()
