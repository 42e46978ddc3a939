"""One decision schema: the engine's frame and record, and everything that derives from
them (the API's answer, the store's columns, replays, a run's report), fail here when
they drift apart."""

from __future__ import annotations

import datetime as dt
import typing
from pathlib import Path

import polars as pl
import pytest

from api import schemas, store
from tests.conftest import RULES_V1
from underwriting import DECISION_SCHEMA, Decision, Engine, load_rule_set
from underwriting.decision import CODES_ONLY, DECIDED, OUTCOMES, conforms, decision_fields
from underwriting.model.artifact import Scorecard
from underwriting.policy.parameters import Policy
from underwriting.policy.rules import RULE_KINDS, Kind
from underwriting.reports.run_figures import REPORT_COLUMNS, SEGMENT_COLUMNS


@pytest.fixture(scope="module")
def decided(
    trained: tuple[Scorecard, Policy], training_table: pl.DataFrame
) -> tuple[pl.DataFrame, pl.DataFrame]:
    engine = Engine(trained[0], load_rule_set(RULES_V1))
    features = training_table.head(300)
    return engine.decide_frame(features), engine.decide_frame(features, words=False)


def test_the_record_has_the_schemas_fields_in_its_order() -> None:
    assert list(Decision.model_fields) == list(DECISION_SCHEMA)


def test_the_engine_decides_frames_of_the_schema(
    decided: tuple[pl.DataFrame, pl.DataFrame],
) -> None:
    words, codes = decided
    assert conforms(words.schema)
    assert conforms(codes.schema, words=False)
    assert list(codes.columns) == list(CODES_ONLY)
    assert not conforms(codes.schema)  # the sentences are missing
    assert not conforms(words.select(reversed(words.columns)).schema)
    assert not conforms(words.with_columns(pl.col("limit").cast(pl.Float64())).schema)


def test_each_row_is_a_decision_record(decided: tuple[pl.DataFrame, pl.DataFrame]) -> None:
    words, _ = decided
    for row in words.head(20).iter_rows(named=True):
        decision = Decision.from_row(row)
        assert decision.model_dump() == row


def test_the_outcome_column_is_the_records_outcomes() -> None:
    assert typing.get_args(Decision.model_fields["outcome"].annotation) == OUTCOMES
    assert DECISION_SCHEMA["outcome"] == pl.Enum(OUTCOMES)


def test_the_apis_answer_is_the_engines_decision_and_what_the_store_adds() -> None:
    assert issubclass(schemas.Decision, Decision)
    own = set(schemas.Decision.model_fields) - set(Decision.model_fields)
    assert own == {
        "id",
        "input_sha256",
        "input_problems",
        "source",
        "caller",
        "created_at",
        "review",
    }
    for name, field in Decision.model_fields.items():
        assert schemas.Decision.model_fields[name].annotation == field.annotation, name


def test_the_stores_copied_columns_are_fields_of_the_decision_with_their_types() -> None:
    python_types = {str: str, int: int, float: float, dt.date: dt.date}
    for column, field in store.DECISION_COLUMNS.items():
        annotation = Decision.model_fields[field].annotation
        expected = python_types.get(annotation, str)  # type: ignore[arg-type]  # Literal: text
        assert store.decisions.c[column].type.python_type is expected, column
        assert not store.decisions.c[column].nullable


def test_a_replay_compares_every_decided_field_and_only_those() -> None:
    assert set(DECIDED) == set(DECISION_SCHEMA) - {
        "merchant_id",
        "as_of",
        "model_version",
        "rule_set_version",
    }


def test_the_report_reads_fields_of_the_decision_and_the_segments() -> None:
    assert set(REPORT_COLUMNS) - set(SEGMENT_COLUMNS) <= set(DECISION_SCHEMA)
    with pytest.raises(KeyError, match="not a field of a decision"):
        decision_fields("merchant_id", "loan_limit")


def test_rule_kinds_are_one_table() -> None:
    assert typing.get_args(Kind) == tuple(kind.name for kind in RULE_KINDS)
    rules = load_rule_set(RULES_V1)
    order = [kind.name for kind in RULE_KINDS]
    positions = [order.index(rule.kind) for rule in rules.in_precedence]
    assert positions == sorted(positions)
    for kind in RULE_KINDS:
        ids = [r.id for r in rules.of_kind(kind.name)]
        assert ids == sorted(ids)


def test_stored_answers_read_back(tmp_path: Path) -> None:
    """An answer built from a stored decision carries every field of the engine's."""
    row = {
        "merchant_id": "M1", "as_of": dt.date(2026, 10, 1), "outcome": "refer", "limit": 6000,
        "grade": "C", "model_grade": "C", "pd_12m": 0.03, "score": 610, "reason_codes": ["X"],
        "reasons": ["Because"], "rules_fired": ["R"], "binding_constraint": "multiple",
        "expected_loss": 81.0, "daily_repayment": 17.42, "model_version": "m",
        "rule_set_version": "r",
    }  # fmt: skip
    database = store.connect(f"sqlite:///{tmp_path / 'store.db'}")
    from api import migrate

    migrate.upgrade(database)
    stored, _ = store.save_decision(
        database,
        Decision.from_row(row),
        [],
        {"input": 1},
        source="test",
        caller="key_1",
        idempotency_key=None,
        request_sha256="h",
    )
    read = store.get_decision(database, stored.id)
    assert read is not None
    answer = schemas.Decision.of(read)
    assert Decision.model_validate(answer.model_dump(include=set(DECISION_SCHEMA))) == (
        Decision.from_row(row)
    )
    database.dispose()
