"""What loads with the front door and with the API's app: a serving worker must come up
fast, so neither pulls in training (statsmodels, scipy), Spark, or (for the engine) the
web and database stack."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

HEAVY = ("statsmodels", "scipy", "pyspark", "sqlalchemy", "fastapi", "alembic", "tqdm")


def _loaded(module: str) -> set[str]:
    probe = f"import json, sys, {module}; print(json.dumps(sorted(sys.modules)))"
    found = subprocess.run(
        [sys.executable, "-c", probe], capture_output=True, text=True, check=True
    )
    return {name.split(".")[0] for name in json.loads(found.stdout)}


@pytest.mark.parametrize(
    ("module", "allowed"),
    [
        ("underwriting", set()),
        ("api.main", {"sqlalchemy", "fastapi", "alembic"}),
        ("api.schemas", {"fastapi"}),
        # `underwrite keys list` and the like must start fast: training loads only to train
        ("api.cli", {"sqlalchemy", "alembic", "tqdm"}),
    ],
)
def test_nothing_heavy_loads_that_is_not_needed(module: str, allowed: set[str]) -> None:
    assert _loaded(module) & set(HEAVY) <= allowed
