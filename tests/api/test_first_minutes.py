"""The first five minutes: a server that comes up on a busy machine and says so only when
it answers, a curl that works as printed, commands that say what the store needs, docs
that work offline, keys checked before bodies are read, 413 for any oversize body, and an
admin key that cannot lock everyone out."""

from __future__ import annotations

import os
import re
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from fastapi.testclient import TestClient

from api import store
from api.cli import banner, main
from api.main import create_app
from tests.api.conftest import Api, _fresh_postgres, free_port, serve, settings_for
from tests.conftest import RULES_V1

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(params=["sqlite", "postgresql"])
def unmigrated(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """The URL of an empty database of each kind, never migrated."""
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'empty.db'}"
        return
    yield from _fresh_postgres(request.getfixturevalue("postgres_server"))


def test_key_commands_on_an_unmigrated_store_say_to_upgrade_it(
    unmigrated: str, capsys: pytest.CaptureFixture[str]
) -> None:
    for command in (
        ["keys", "list"],
        ["keys", "create", "--role", "officer"],
        ["keys", "revoke", "k"],
    ):
        assert main([*command, "--database", unmigrated]) == 2
        err = capsys.readouterr().err.strip().splitlines()
        assert len(err) == 1 and "never migrated" in err[0]
        assert "run: underwrite db upgrade --database" in err[0]


def test_an_unreachable_database_is_one_line(capsys: pytest.CaptureFixture[str]) -> None:
    url = f"postgresql+psycopg://postgres@127.0.0.1:{free_port()}/none"
    assert main(["keys", "list", "--database", url]) == 2
    assert main(["db", "upgrade", "--database", url]) == 2
    lines = capsys.readouterr().err.strip().splitlines()
    assert len(lines) == 2 and all("cannot reach the database" in line for line in lines)


def test_the_last_admin_key_cannot_be_revoked(
    api: Api, database_url: str, capsys: pytest.CaptureFixture[str]
) -> None:
    admins = [k for k in store.list_keys(api.database) if k.role == "admin" and not k.revoked_at]
    for extra in admins[1:]:
        store.revoke_key(api.database, extra.id)
    (last,) = [k for k in store.list_keys(api.database) if k.role == "admin" and not k.revoked_at]
    answer = api.client.delete(f"/v1/keys/{last.id}", headers=api.admin)
    assert answer.status_code == 409 and "last active admin key" in answer.json()["detail"]
    assert main(["keys", "revoke", last.id, "--database", database_url]) == 2
    assert "last active admin key" in capsys.readouterr().err
    other, _ = store.create_key(api.database, "admin", "second admin")
    assert api.client.delete(f"/v1/keys/{other.id}", headers=api.admin).status_code == 204


def test_docs_work_offline(api: Api) -> None:
    page = api.client.get("/docs")
    assert page.status_code == 200
    assets = re.findall(r"""(?:src|href)=['"]([^'"]+)['"]""", page.text) + re.findall(
        r"""url: ?['"]([^'"]+)['"]""", page.text
    )
    assert assets and not [a for a in assets if a.startswith(("http:", "https:", "//"))]
    for asset in ("swagger-ui-bundle.js", "swagger-ui.css"):
        found = api.client.get(f"/docs-assets/{asset}")
        assert found.status_code == 200 and len(found.content) > 100_000
    assert api.client.get("/redoc").status_code == 404  # ReDoc needs a CDN: not offered


def test_the_printed_curl_carries_a_key_that_works(api: Api) -> None:
    _, secret = store.create_key(api.database, "officer", "curl test")
    printed = banner("http://testserver", secret)
    line = next(x for x in printed.splitlines() if x.strip().startswith("export UW_KEY="))
    key = line.split("=", 1)[1].split()[0].strip("'")
    command = printed[printed.index("curl") :]
    body = re.search(r"-d '(\{.*\})'", command)
    assert body is not None and '"$UW_KEY"' not in command and "$UW_KEY" in command
    answer = api.client.post(
        "/v1/decisions",
        content=body.group(1),
        headers={
            "Authorization": f"Bearer {key}",
            "Content-Type": "application/json",
            "Idempotency-Key": f"banner-{secret[-6:]}",
        },
    )
    assert answer.status_code == 201, answer.text
    assert "UW_KEY=..." in banner("http://testserver", None)  # no key: says how to get one


def test_a_request_without_a_key_is_refused_before_its_body_is_read(
    database_url: str, small_book: Path, models_dir: Path
) -> None:
    """Headers announce a body that never comes: the answer must not wait for it."""
    port = free_port()
    server = serve(database_url, small_book, models_dir, port, workers=1)
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=5) as connection:
            connection.sendall(
                b"POST /v1/decisions HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
                b"Content-Length: 50000\r\n\r\n"
            )
            answer = connection.recv(4096).decode()
        assert answer.startswith("HTTP/1.1 401"), answer
    finally:
        os.killpg(server.pid, signal.SIGTERM)
        server.wait(timeout=30)


def test_an_oversize_chunked_body_is_a_413(
    database_url: str, small_book: Path, models_dir: Path
) -> None:
    database = store.connect(database_url)
    _, secret = store.create_key(database, "officer", "chunked size test")
    database.dispose()
    app = create_app(settings_for(database_url, small_book, models_dir, max_body_bytes=20_000))

    def chunks() -> Iterator[bytes]:  # no Content-Length: sent chunked
        yield b'{"merchant_id": "M00000001", "pad": "'
        for _ in range(50):
            yield b"x" * 1000
        yield b'"}'

    with TestClient(app, raise_server_exceptions=False) as client:
        answer = client.post(
            "/v1/decisions",
            content=chunks(),
            headers={"Authorization": f"Bearer {secret}", "Content-Type": "application/json"},
        )
    assert answer.status_code == 413 and "20,000 bytes" in answer.json()["detail"]


def test_serve_comes_up_on_a_busy_machine_and_prints_its_curl_once_it_answers(
    tmp_path: Path, small_book: Path, models_dir: Path
) -> None:
    """Two busy loops per core beside it; the banner only once /readyz answers 200."""
    busy = [
        subprocess.Popen([sys.executable, "-c", "while True: pass"])
        for _ in range(2 * (os.cpu_count() or 1))
    ]
    port = free_port()
    env = {
        **os.environ,
        "UW_MODEL": str(models_dir / "scorecard.json"),
        "UW_MODELS_DIR": str(models_dir),
        "UW_RULES": str(RULES_V1),
        "UW_RULES_ROOT": str(RULES_V1.parent),
        "UW_DATA": str(small_book),
        "UW_KEY": "uwk_example",
    }
    database = f"sqlite:///{tmp_path / 'served.db'}"
    server = subprocess.Popen(
        [sys.executable, "-m", "api.cli", "serve", "--port", str(port), "--database", database],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        start_new_session=True,
    )
    try:
        assert server.stdout is not None
        started = time.monotonic()
        lines = []
        for line in server.stdout:
            lines.append(line)
            if line.startswith("Serving the underwriting API"):
                ready = httpx.get(f"http://127.0.0.1:{port}/readyz", timeout=10)
                assert ready.status_code == 200  # announced only once it answers
                break
            assert time.monotonic() - started < 120, "".join(lines)
        else:
            raise AssertionError("serve ended without its banner:\n" + "".join(lines))
        assert lines[0].startswith("Starting the underwriting API")
        rest = ""
        while "curl" not in rest and len(rest) < 20_000:  # uvicorn's log lines may interleave
            rest += server.stdout.readline()
        assert "export UW_KEY='uwk_example'" in rest and '"Authorization: Bearer $UW_KEY"' in rest
    finally:
        for loop in busy:
            loop.kill()
            loop.wait()
        os.killpg(server.pid, signal.SIGTERM)
        server.communicate(timeout=60)  # drains and closes its output
