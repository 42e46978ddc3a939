"""The batcher decides what queued while it was busy in one call, never the same key twice
in a call, and hands each caller its own result or error; the store's group commit
writes every decision and fails only the one that reuses an idempotency key."""

from __future__ import annotations

import threading
import time
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

from api import migrate, store
from api.batching import Batcher
from underwriting.decision import Decision


def test_waiting_jobs_are_decided_together_and_each_gets_its_own_result() -> None:
    calls: list[list[tuple[str, int]]] = []
    lock = threading.Lock()

    def decide_many(jobs: Sequence[tuple[str, int]]) -> list[int | BaseException]:
        with lock:
            calls.append(list(jobs))
        time.sleep(0.05)
        return [ValueError(f"bad {n}") if n == 13 else n * n for _, n in jobs]

    batcher: Batcher[tuple[str, int], int] = Batcher(decide_many, max_batch=8)

    def submit(n: int) -> int | str:
        key = f"K{n % 20}"  # keys repeat: K0..K19 twice
        try:
            return batcher.submit((key, n), key)
        except ValueError as error:
            return str(error)

    with ThreadPoolExecutor(max_workers=40) as pool:
        results = list(pool.map(submit, range(40)))
    assert results == [("bad 13" if n == 13 else n * n) for n in range(40)]
    assert sum(len(c) for c in calls) == 40
    assert max(len(c) for c in calls) > 1  # the ones that queued went together
    assert all(len(c) <= 8 for c in calls)
    for call in calls:
        keys = [key for key, _ in call]
        assert len(keys) == len(set(keys))


def test_the_same_job_sent_at_once_is_decided_once_for_every_sender() -> None:
    calls: list[list[str]] = []
    started = threading.Event()

    def decide_many(jobs: Sequence[str]) -> list[str | BaseException]:
        calls.append(list(jobs))
        started.set()
        time.sleep(0.1)
        return [job.upper() for job in jobs]

    batcher: Batcher[str, str] = Batcher(decide_many)
    with ThreadPoolExecutor(max_workers=12) as pool:
        first = pool.submit(batcher.submit, "warm-up", "w")
        started.wait()  # the engine is busy: the next ones queue
        same = [pool.submit(batcher.submit, "a", "k") for _ in range(8)]
        other = pool.submit(batcher.submit, "b", "k")  # same key, other job: a later call
        assert first.result() == "WARM-UP"
        assert [f.result() for f in same] == ["A"] * 8 and other.result() == "B"
    assert calls[0] == ["warm-up"] and sorted(calls[1:]) == [["a"], ["b"]]


@pytest.mark.parametrize("linger", [0.0, 3.0])
def test_under_load_a_straggler_waits_for_the_group_coming_back(linger: float) -> None:
    """After a call of four, one job arrives alone and three follow shortly: a lingering
    batcher decides the four in one call, one that does not linger decides the straggler
    alone. A lone job after a lone job is decided at once either way."""
    calls: list[list[int]] = []
    busy = threading.Event()

    def decide_many(jobs: Sequence[int]) -> list[int | BaseException]:
        calls.append(list(jobs))
        busy.set()
        time.sleep(0.3)  # linger 3: a straggler waits up to 0.9 s
        return [n * 10 for n in jobs]

    batcher: Batcher[int, int] = Batcher(decide_many, linger=linger, max_linger=5.0)
    with ThreadPoolExecutor(max_workers=8) as pool:
        warm_up = pool.submit(batcher.submit, 100, "w")
        busy.wait()  # the engine is busy: the next four queue and go in one call
        first = [pool.submit(batcher.submit, n, f"k{n}") for n in range(4)]
        assert warm_up.result() == 1000 and [f.result() for f in first] == [0, 10, 20, 30]
        assert calls == [[100], [0, 1, 2, 3]]
        straggler = pool.submit(batcher.submit, 4, "k4")
        time.sleep(0.05)
        group = [pool.submit(batcher.submit, n, f"k{n}") for n in range(5, 8)]
        assert straggler.result() == 40 and [f.result() for f in group] == [50, 60, 70]
    if linger:
        assert sorted(calls[2]) == [4, 5, 6, 7] and len(calls) == 3
    else:
        assert calls[2] == [4] and sorted(calls[3]) == [5, 6, 7] and len(calls) == 4
    assert batcher.submit(8, "k8") == 80  # alone after a group: it may linger
    started = time.monotonic()
    assert batcher.submit(9, "k9") == 90  # alone after a lone call: decided at once
    assert time.monotonic() - started < 0.3 + 0.5  # lingering would take 0.3 + 0.9 s
    assert calls[-2:] == [[8], [9]]


def test_an_engine_failure_reaches_every_caller_of_that_call() -> None:
    def decide_many(jobs: Sequence[int]) -> list[int | BaseException]:
        raise RuntimeError("engine down")

    batcher: Batcher[int, int] = Batcher(decide_many)
    with pytest.raises(RuntimeError, match="engine down"):
        batcher.submit(1, "a")
    with pytest.raises(RuntimeError, match="engine down"):
        batcher.submit(2, "b")  # the batcher thread lives on


def test_group_commit_writes_every_decision_and_fails_only_a_reused_key(tmp_path: Path) -> None:
    database = store.connect(f"sqlite:///{tmp_path / 'group.db'}")
    migrate.upgrade(database)
    writer = store.DecisionWriter(database)
    decision = {"as_of": "2026-10-01", "outcome": "approve", "limit": 5_000, "grade": "B",
                "model_grade": "B", "pd_12m": 0.02, "score": 640, "reason_codes": [],
                "reasons": [], "rules_fired": [], "binding_constraint": "multiple",
                "expected_loss": 45.0, "daily_repayment": 14.52, "model_version": "m",
                "rule_set_version": "r"}  # fmt: skip

    def save(n: int) -> str:
        key = "shared" if n in (3, 4) else None  # one key, two different requests
        try:
            _, new = store.save_decision(
                database,
                Decision.model_validate({**decision, "merchant_id": f"M{n:08d}"}),
                [],
                {"n": n},
                source="test",
                caller="key_1",
                idempotency_key=key,
                request_sha256=f"request-{n}",
                writer=writer,
            )
        except store.IdempotencyConflict:
            return "conflict"
        return "new" if new else "repeat"

    with ThreadPoolExecutor(max_workers=24) as pool:
        answers = list(pool.map(save, range(24)))
    assert sorted(answers[3:5]) == ["conflict", "new"]
    assert answers.count("new") == 23
    stored = store.list_decisions(database, None, 100, None)
    assert len(stored) == 23 and len({d.seq for d in stored}) == 23
    assert {d.input["n"] for d in stored} == set(range(24)) - {answers.index("conflict")}
    database.dispose()
