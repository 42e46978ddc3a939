"""The engine is pure and the house has no arrow running back up.

The engine (contract, features, model, policy, columns, the decision, applications and
engine.py, errors) imports no file, network or database API and calls no reader or writer;
the edges (io, simulate, reports, batch, the CLI, the front door) import the engine, never
the reverse; and nothing in `underwriting` imports the API. Every module of a package is
checked, so a new one is covered the day it is added.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parents[2] / "underwriting"

LAYERS = {
    "errors": 0,
    "columns": 0,
    "decision": 0,
    "contract": 0,
    "features": 0,
    "policy": 0,
    "model": 0,
    "applications": 0,
    "engine": 0,
    "io": 1,
    "fairness": 1,
    "simulate": 1,
    "reports": 1,
    "batch": 2,
    "cli": 3,
    "__init__": 3,
}
"""Each room of `underwriting` and its floor: a module imports only from its own floor or
below. Floor 0 is the engine."""

IO_MODULES = {
    "os", "pathlib", "io", "shutil", "glob", "tempfile", "fcntl", "mmap", "subprocess",
    "socket", "ssl", "select", "asyncio", "http", "urllib", "httpx", "requests", "sqlite3",
    "sqlalchemy", "psycopg", "alembic", "fastapi", "starlette", "uvicorn", "pyspark", "tqdm",
    "pickle", "joblib", "shelve", "marshal", "pyarrow.parquet", "pyarrow.csv",
    "pyarrow.dataset", "pyarrow.fs", "pyarrow.feather", "pyarrow.ipc", "api",
}  # fmt: skip
"""Modules of files, processes, the network, databases and serialised objects."""

READERS = ("read_", "scan_", "write_", "sink_")
READER_METHODS = {"open", "read_text", "read_bytes", "write_text", "write_bytes", "unlink"}


def _room(path: Path) -> str:
    relative = path.relative_to(PACKAGE)
    return relative.parts[0] if len(relative.parts) > 1 else relative.stem


def _modules(floor: int | None = None) -> list[Path]:
    found = sorted(PACKAGE.rglob("*.py"))
    return [p for p in found if floor is None or LAYERS[_room(p)] == floor]


def _imports(path: Path) -> set[str]:
    tree = ast.parse(path.read_text())
    found: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found |= {alias.name for alias in node.names}
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            found.add(node.module)
            found |= {f"{node.module}.{alias.name}" for alias in node.names}
    return found


def _name(path: Path) -> str:
    return str(path.relative_to(PACKAGE.parent))


def test_every_room_has_a_floor() -> None:
    assert {_room(p) for p in _modules()} == set(LAYERS)


@pytest.mark.parametrize("path", _modules(floor=0), ids=_name)
def test_the_engine_imports_no_io(path: Path) -> None:
    imported = _imports(path)
    banned = {m for m in imported if m in IO_MODULES or m.split(".")[0] in IO_MODULES}
    assert not banned, f"{_name(path)} imports {sorted(banned)}"


@pytest.mark.parametrize("path", _modules(floor=0), ids=_name)
def test_the_engine_calls_no_reader_or_writer(path: Path) -> None:
    for node in ast.walk(ast.parse(path.read_text())):
        if not isinstance(node, ast.Call):
            continue
        called = node.func
        name = called.attr if isinstance(called, ast.Attribute) else getattr(called, "id", "")
        assert not name.startswith(READERS), f"{_name(path)}:{node.lineno} calls {name}"
        assert name not in READER_METHODS, f"{_name(path)}:{node.lineno} calls {name}"


@pytest.mark.parametrize("path", _modules(), ids=_name)
def test_no_arrow_runs_back_up(path: Path) -> None:
    floor = LAYERS[_room(path)]
    for module in _imports(path):
        parts = module.split(".")
        if parts[0] == "api":
            pytest.fail(f"{_name(path)} imports the API ({module})")
        if parts[0] != "underwriting" or len(parts) < 2 or parts[1] not in LAYERS:
            continue
        assert LAYERS[parts[1]] <= floor, f"{_name(path)} (floor {floor}) imports {module}"


def test_the_checks_catch_what_they_guard(tmp_path: Path) -> None:
    """The rules above fail on a module that breaks them."""
    bad = tmp_path / "bad.py"
    bad.write_text(
        "import pathlib\nfrom underwriting.io.data_folder import DataFolder\n"
        "import polars as pl\nx = pl.read_parquet('f')\n"
    )
    imported = _imports(bad)
    assert "pathlib" in imported and "underwriting.io.data_folder" in imported
    calls = [n for n in ast.walk(ast.parse(bad.read_text())) if isinstance(n, ast.Call)]
    assert any(isinstance(c.func, ast.Attribute) and c.func.attr == "read_parquet" for c in calls)
