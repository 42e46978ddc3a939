"""OpenAPI-driven fuzzing (schemathesis) of every route: whatever the input, no 5xx, and
every answer matches the documented status codes, media types and schemas."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import schemathesis
from fastapi import FastAPI
from hypothesis import HealthCheck, given, settings
from schemathesis.config import SchemathesisConfig

from api import store
from api.main import create_app
from tests.api.conftest import settings_for

ADMIN: dict[str, str] = {}


EXAMPLES = int(os.environ.get("UW_FUZZ_EXAMPLES", "200"))
"""Examples per operation (and per database); the issue's acceptance runs 200."""


@pytest.fixture(scope="module")
def fuzzed_app(database_url: str, small_book: Path, models_dir: Path) -> Iterator[FastAPI]:
    """The app on a fresh, migrated database of each kind (SQLite and PostgreSQL)."""
    database = store.connect(database_url)
    _, secret = store.create_key(database, "admin", "fuzzer")
    database.dispose()
    ADMIN["Authorization"] = f"Bearer {secret}"
    yield create_app(settings_for(database_url, small_book, models_dir))


CONFIG = SchemathesisConfig.from_dict(
    {
        "checks": {
            # A request valid by the schema may still fail the data contract's rules that
            # OpenAPI cannot state (an industry code must be in the benchmarks, no daily
            # row on or after the as-of date): a 422 naming the row is the right answer.
            "positive_data_acceptance": {
                "expected-statuses": ["2xx", "401", "403", "404", "409", "422"]
            }
        }
    }
)
"""Every check (`--checks all`), with what "valid data accepted" means for this API."""


def _operations(app: FastAPI) -> list[Any]:
    loaded = schemathesis.openapi.from_asgi("/openapi.json", app, config=CONFIG)
    return [found.ok() for found in loaded.get_all_operations()]  # type: ignore[union-attr]


def test_no_route_answers_5xx_or_off_its_documentation(fuzzed_app: FastAPI) -> None:
    """Each operation in turn, with Hypothesis generating valid and invalid requests.

    (Schemathesis' pytest plugin does not run on pytest 9.2; its strategies do.)
    """
    operations = _operations(fuzzed_app)
    assert len(operations) >= 11
    for operation in operations:

        @given(case=operation.as_strategy())
        @settings(max_examples=EXAMPLES, deadline=None, suppress_health_check=list(HealthCheck))
        def fuzz(case: Any) -> None:
            case.call_and_validate(headers=ADMIN)

        fuzz()
