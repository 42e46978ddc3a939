"""`underwrite db upgrade` and `underwrite keys create | list | revoke`."""

from __future__ import annotations

from pathlib import Path

import pytest

from api import migrate, store
from api.cli import main


def test_keys_from_the_command_line(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    url = f"sqlite:///{tmp_path / 'store' / 'underwriting.db'}"
    assert main(["db", "upgrade", "--database", url]) == 0
    assert f"schema None -> {migrate.head()}" in capsys.readouterr().out
    assert main(["keys", "create", "--role", "auditor", "--label", "audit", "--database", url]) == 0
    secret = capsys.readouterr().out.splitlines()[-1].strip()
    assert secret.startswith(store.KEY_PREFIX)
    database = store.connect(url)
    key = store.key_for_secret(database, secret)
    assert key is not None and key.role == "auditor"
    assert main(["keys", "create", "--role", "auditor", "--if-none", "--database", url]) == 0
    assert "exists already" in capsys.readouterr().out
    assert main(["keys", "list", "--database", url]) == 0
    listed = capsys.readouterr().out
    assert key.id in listed and secret not in listed
    assert main(["keys", "revoke", key.id, "--database", url]) == 0
    assert store.key_for_secret(database, secret) is None
    assert main(["keys", "revoke", key.id, "--database", url]) == 1
    database.dispose()
