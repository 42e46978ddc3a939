"""The real app against real databases: a SQLite file always, and PostgreSQL, started by
`scripts/test-postgres` (installed from Debian's packages when missing)."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest
import sqlalchemy as sa
from fastapi.testclient import TestClient

from api import migrate, store
from api.main import create_app
from api.settings import Settings
from tests.conftest import RULES_V1
from underwriting.io.artifacts import save_model
from underwriting.model.artifact import Scorecard
from underwriting.policy.parameters import Policy

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="session")
def postgres_server() -> str:
    """URL of the test PostgreSQL server's maintenance database."""
    found = subprocess.run(
        [str(ROOT / "scripts" / "test-postgres")], check=True, capture_output=True, text=True
    )
    return found.stdout.strip().splitlines()[-1]


def _fresh_postgres(server: str) -> Iterator[str]:
    name = f"uw_test_{uuid.uuid4().hex[:10]}"
    admin = sa.create_engine(server, isolation_level="AUTOCOMMIT")
    with admin.connect() as connection:
        connection.execute(sa.text(f'CREATE DATABASE "{name}"'))
    try:
        yield server.rsplit("/", 1)[0] + f"/{name}"
    finally:
        with admin.connect() as connection:
            connection.execute(sa.text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


@pytest.fixture(scope="module", params=["sqlite", "postgresql"])
def database_url(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[str]:
    """A new, migrated database of each kind."""
    if request.param == "sqlite":
        url = f"sqlite:///{tmp_path_factory.mktemp('db') / 'underwriting.db'}"
        migrate.upgrade(store.connect(url))
        yield url
        return
    server = request.getfixturevalue("postgres_server")
    for url in _fresh_postgres(server):
        engine = store.connect(url)
        migrate.upgrade(engine)
        engine.dispose()
        yield url


@pytest.fixture(scope="session")
def models_dir(tmp_path_factory: pytest.TempPathFactory, trained: tuple[Scorecard, Policy]) -> Path:
    folder = tmp_path_factory.mktemp("models")
    save_model(trained[0], folder / "scorecard.json")
    return folder


def settings_for(url: str, small_book: Path, models_dir: Path, **overrides: object) -> Settings:
    values: dict[str, object] = {
        "database_url": url,
        "model": models_dir / "scorecard.json",
        "models_dir": models_dir,
        "rules": RULES_V1,
        "rules_root": RULES_V1.parent,
        "data": small_book,
        **overrides,
    }
    return Settings(**values)  # type: ignore[arg-type]


@dataclass(frozen=True)
class Api:
    client: TestClient
    database: sa.Engine
    officer: dict[str, str]
    auditor: dict[str, str]
    admin: dict[str, str]


@pytest.fixture(scope="module")
def api(database_url: str, small_book: Path, models_dir: Path) -> Iterator[Api]:
    """The app on a fresh database, with one key of each role (as request headers)."""
    database = store.connect(database_url)
    headers = {}
    for role in store.ROLES:
        _, secret = store.create_key(database, role, f"test {role}")
        headers[role] = {"Authorization": f"Bearer {secret}"}
    app = create_app(settings_for(database_url, small_book, models_dir))
    with TestClient(app, raise_server_exceptions=False) as client:
        yield Api(client, database, headers["officer"], headers["auditor"], headers["admin"])
    database.dispose()


@pytest.fixture()
def officer(database_url: str) -> Iterator[str]:
    """The secret of a new officer key in the test database."""
    database = store.connect(database_url)
    _, secret = store.create_key(database, "officer", "served tests")
    database.dispose()
    yield secret


def free_port() -> int:
    """A TCP port free on 127.0.0.1."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def serve(
    url: str, small_book: Path, models_dir: Path, port: int, workers: int = 2
) -> subprocess.Popen[bytes]:
    """The app under uvicorn in its own process group, once it answers /readyz."""
    env = {
        **os.environ,
        "UW_DATABASE_URL": url,
        "UW_MODEL": str(models_dir / "scorecard.json"),
        "UW_MODELS_DIR": str(models_dir),
        "UW_RULES": str(RULES_V1),
        "UW_RULES_ROOT": str(RULES_V1.parent),
        "UW_DATA": str(small_book),
    }
    server = subprocess.Popen(
        [sys.executable, "-m", "uvicorn", "api.main:create_app", "--factory",
         "--host", "127.0.0.1", "--port", str(port), "--workers", str(workers), "--log-level", "warning"],
        env=env,
        start_new_session=True,  # its own process group: the kill takes the workers too
    )  # fmt: skip
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        try:
            if httpx.get(f"http://127.0.0.1:{port}/readyz", timeout=1).status_code == 200:
                return server
        except httpx.TransportError:
            pass
        time.sleep(0.2)
    os.killpg(server.pid, signal.SIGKILL)
    raise AssertionError("the server did not become ready")
