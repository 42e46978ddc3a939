"""Doing together the work that waits in a worker: decisions, and the store's writes.

A decision's cost is mostly fixed (polars plans the validation and feature queries once
per call, whatever the rows), so requests that arrive while the engine is busy are
decided in one call when it frees up: at low load a lone request is decided at once,
and under load each call serves every request that queued meanwhile.

Under steady load the callers of one call come back together (their clients send the
next request once answered), a moment after a straggler has arrived alone. Deciding the
straggler at once would occupy the engine for a whole call and leave the group waiting
for it: with 16 clients, calls alternated between 1 and 15 requests. So the decisions'
batcher lingers: when fewer callers wait than the last call served, it waits for that
many, at most half as long as the last call took (and never over 50 ms), then decides
what it has. Calls of 16 then follow each other, and each request costs less CPU (the
figures are in benchmarks/RESULTS.md). A lone request after a lone one never waits.

The engine gives each merchant in a batch the decision it gets alone (features are per
merchant, bit for bit; a test holds the API to it), so batching changes speed only.
Two different requests for the same merchant are never in one batch: the later waits for
the next. The very same request sent twice at once (a retry, say) is decided once for both.

The store uses the same `Batcher` for group commit (`store.DecisionWriter`): the
decisions that queue behind a write are committed in one transaction.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Sequence
from concurrent.futures import Future
from dataclasses import dataclass, field
from typing import Generic, TypeVar

Job = TypeVar("Job")
Result = TypeVar("Result")


@dataclass
class _Waiting(Generic[Job, Result]):
    job: Job
    key: str
    future: Future[Result] = field(default_factory=Future)


class Batcher(Generic[Job, Result]):
    """Runs `decide_many` on every job queued while the previous call ran (at most
    `max_batch` per call, one job per key; equal jobs of a key share one result), in one
    thread of its own.

    `decide_many` returns, per job in order, its result or the exception to raise in
    the caller (an InputError for that application, say); if it raises, every job of
    the call gets that exception.

    With `linger` above 0, when fewer callers wait than the last call served, the batcher
    waits for that many, at most `linger` times the last call's duration and at most
    `max_linger` seconds (see the module's docstring).
    """

    def __init__(
        self,
        decide_many: Callable[[Sequence[Job]], Sequence[Result | BaseException]],
        max_batch: int = 64,
        name: str = "batcher",
        linger: float = 0.0,
        max_linger: float = 0.05,
    ) -> None:
        self._decide_many = decide_many
        self._max_batch = max_batch
        self._name = name
        self._linger = linger
        self._max_linger = max_linger
        self._queue: list[_Waiting[Job, Result]] = []
        self._ready = threading.Condition()
        self._thread: threading.Thread | None = None
        self._last_callers = 0  # callers the last call served
        self._last_seconds = 0.0  # and how long it took

    def submit(self, job: Job, key: str) -> Result:
        """Queue `job` and wait for its result (or raise its exception)."""
        waiting: _Waiting[Job, Result] = _Waiting(job, key)
        with self._ready:
            if self._thread is None:
                self._thread = threading.Thread(target=self._run, name=self._name, daemon=True)
                self._thread.start()
            self._queue.append(waiting)
            self._ready.notify()
        return waiting.future.result()

    def _take(self) -> list[list[_Waiting[Job, Result]]]:
        """The next call's jobs: one per key, each with the callers that sent it."""
        with self._ready:
            while not self._queue:
                self._ready.wait()
            expected = min(self._last_callers, self._max_batch)
            if self._linger > 0 and len(self._queue) < expected:
                wait = min(self._linger * self._last_seconds, self._max_linger)
                deadline = time.monotonic() + wait
                while len(self._queue) < expected:
                    remaining = deadline - time.monotonic()
                    if remaining <= 0:
                        break
                    self._ready.wait(remaining)
            batch: dict[str, list[_Waiting[Job, Result]]] = {}
            later: list[_Waiting[Job, Result]] = []
            for waiting in self._queue:
                same_key = batch.get(waiting.key)
                if same_key is not None and same_key[0].job == waiting.job:
                    same_key.append(waiting)  # the very same job: decided once, for both
                elif same_key is None and len(batch) < self._max_batch:
                    batch[waiting.key] = [waiting]
                else:
                    later.append(waiting)
            self._queue = later
            return list(batch.values())

    def _run(self) -> None:
        while True:
            batch = self._take()
            started = time.monotonic()
            try:
                results = self._decide_many([callers[0].job for callers in batch])
            except BaseException as error:  # the engine failed: every caller hears why
                results = [error] * len(batch)
            self._last_seconds = time.monotonic() - started
            self._last_callers = sum(len(callers) for callers in batch)
            for callers, result in zip(batch, results, strict=True):
                for waiting in callers:
                    if isinstance(result, BaseException):
                        waiting.future.set_exception(result)
                    else:
                        waiting.future.set_result(result)
