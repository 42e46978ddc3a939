"""Writers to one SQLite file take turns through the lock file beside it."""

from __future__ import annotations

import fcntl
import threading
from pathlib import Path

from api import migrate, store


def test_a_write_to_a_sqlite_file_waits_for_the_writer_holding_its_lock(tmp_path: Path) -> None:
    database = tmp_path / "underwriting.db"
    engine = store.connect(f"sqlite:///{database}")
    migrate.upgrade(engine)
    created: list[str] = []

    def create() -> None:
        created.append(store.create_key(engine, "officer", "waits its turn")[0].id)

    with Path(f"{database}.write-lock").open("a") as other_writer:
        fcntl.flock(other_writer, fcntl.LOCK_EX)
        waiting = threading.Thread(target=create)
        waiting.start()
        waiting.join(timeout=0.5)
        assert waiting.is_alive() and not created  # blocked while the lock is held
        assert store.list_keys(engine) == []  # readers are not held up
    waiting.join(timeout=30)
    assert not waiting.is_alive()
    assert [key.id for key in store.list_keys(engine)] == created
    engine.dispose()
