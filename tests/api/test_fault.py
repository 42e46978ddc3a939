"""A server killed with SIGKILL under load loses no decision it answered 2xx for, and
idempotent retries after the restart get the stored decisions."""

from __future__ import annotations

import os
import signal
import threading
import time
from pathlib import Path

import httpx

from tests.api.conftest import free_port, serve


def test_sigkill_under_load_loses_no_answered_decision(
    database_url: str, small_book: Path, models_dir: Path, officer: str
) -> None:
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    headers = {"Authorization": f"Bearer {officer}"}
    server = serve(database_url, small_book, models_dir, port)
    answered: dict[str, tuple[dict[str, str], str]] = {}
    sent: dict[str, dict[str, str]] = {}
    lock = threading.Lock()
    stop = threading.Event()

    def client(number: int) -> None:
        with httpx.Client(base_url=base, timeout=10) as http:
            for i in range(10_000):
                if stop.is_set():
                    return
                key = f"fault-{number}-{i}"
                body = {"merchant_id": f"M{(number * 97 + i) % 600 + 1:08d}", "as_of": "2026-10-01"}
                with lock:
                    sent[key] = body
                try:
                    answer = http.post(
                        "/v1/decisions", json=body, headers={**headers, "Idempotency-Key": key}
                    )
                except httpx.TransportError:
                    return  # the server is gone
                if answer.status_code in (200, 201):
                    with lock:
                        answered[key] = (body, answer.json()["id"])

    threads = [threading.Thread(target=client, args=(n,)) for n in range(8)]
    for thread in threads:
        thread.start()
    deadline = time.monotonic() + 30
    while len(answered) < 40 and time.monotonic() < deadline:
        time.sleep(0.05)
    os.killpg(server.pid, signal.SIGKILL)
    server.wait()
    stop.set()
    for thread in threads:
        thread.join()
    assert len(answered) >= 40, "too few decisions before the kill to test anything"

    server = serve(database_url, small_book, models_dir, port)
    try:
        with httpx.Client(base_url=base, timeout=10, headers=headers) as http:
            for key, (body, decision_id) in answered.items():
                stored = http.get(f"/v1/decisions/{decision_id}")
                assert stored.status_code == 200, (key, stored.text)
                retried = http.post("/v1/decisions", json=body, headers={"Idempotency-Key": key})
                assert retried.status_code == 200, (key, retried.text)
                assert retried.json()["id"] == decision_id
            for key in sent.keys() - answered.keys():  # in flight at the kill: stored or not
                retried = http.post(
                    "/v1/decisions", json=sent[key], headers={"Idempotency-Key": key}
                )
                assert retried.status_code in (200, 201), (key, retried.text)
    finally:
        os.killpg(server.pid, signal.SIGKILL)
        server.wait()
