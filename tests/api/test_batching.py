"""The batcher decides what queued while it was busy in one call, never the same key twice
in a call, and hands each caller its own result or error."""

from __future__ import annotations

import threading
import time
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor

import pytest

from api.batching import Batcher


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


def test_an_engine_failure_reaches_every_caller_of_that_call() -> None:
    def decide_many(jobs: Sequence[int]) -> list[int | BaseException]:
        raise RuntimeError("engine down")

    batcher: Batcher[int, int] = Batcher(decide_many)
    with pytest.raises(RuntimeError, match="engine down"):
        batcher.submit(1, "a")
    with pytest.raises(RuntimeError, match="engine down"):
        batcher.submit(2, "b")  # the batcher thread lives on
