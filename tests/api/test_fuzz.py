"""OpenAPI-driven fuzzing (schemathesis) of every route: whatever the input, no 5xx, and
every answer matches the documented status codes, media types and schemas."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import schemathesis
from fastapi import FastAPI
from hypothesis import HealthCheck, given, settings
from schemathesis.specs.openapi.checks import positive_data_acceptance

from api import migrate, store
from api.main import create_app
from tests.api.conftest import settings_for

ADMIN: dict[str, str] = {}


@pytest.fixture(scope="module")
def fuzzed_app(
    tmp_path_factory: pytest.TempPathFactory, small_book: Path, models_dir: Path
) -> Iterator[FastAPI]:
    url = f"sqlite:///{tmp_path_factory.mktemp('fuzz') / 'underwriting.db'}"
    database = store.connect(url)
    migrate.upgrade(database)
    _, secret = store.create_key(database, "admin", "fuzzer")
    database.dispose()
    ADMIN["Authorization"] = f"Bearer {secret}"
    yield create_app(settings_for(url, small_book, models_dir))


def _operations(app: FastAPI) -> list[Any]:
    loaded = schemathesis.openapi.from_asgi("/openapi.json", app)
    return [found.ok() for found in loaded.get_all_operations()]  # type: ignore[union-attr]


def test_no_route_answers_5xx_or_off_its_documentation(fuzzed_app: FastAPI) -> None:
    """Each operation in turn, with Hypothesis generating valid and invalid requests.

    (Schemathesis' pytest plugin does not run on pytest 9.2; its strategies do.)
    """
    operations = _operations(fuzzed_app)
    assert len(operations) >= 11
    for operation in operations:

        @given(case=operation.as_strategy())
        @settings(max_examples=30, deadline=None, suppress_health_check=list(HealthCheck))
        def fuzz(case: Any) -> None:
            case.call_and_validate(headers=ADMIN, excluded_checks=[positive_data_acceptance])

        fuzz()
