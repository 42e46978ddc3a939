"""Requests that arrive together are decided together (`api.batching`) and each gets the
decision it gets alone: a replay, which decides its stored input by itself, is identical."""

from __future__ import annotations

import os
import signal
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import httpx

from tests.api.conftest import free_port, serve


def test_concurrent_requests_get_the_decisions_they_get_alone(
    database_url: str, small_book: Path, models_dir: Path, officer: str
) -> None:
    port = free_port()
    server = serve(database_url, small_book, models_dir, port, workers=1)
    headers = {"Authorization": f"Bearer {officer}"}
    merchants = [f"M{n:08d}" for n in range(1, 33)] + ["M00000001", "M00000002"] * 4
    try:
        with httpx.Client(base_url=f"http://127.0.0.1:{port}", headers=headers, timeout=60) as http:

            def request(merchant: str) -> httpx.Response:
                body = {"merchant_id": merchant, "as_of": "2026-10-01"}
                return http.post("/v1/decisions", json=body)

            with ThreadPoolExecutor(max_workers=len(merchants)) as pool:
                answers = list(pool.map(request, merchants))
            assert [a.status_code for a in answers] == [201] * len(merchants)
            decided = [a.json() for a in answers]
            assert [d["merchant_id"] for d in decided] == merchants
            for decision in decided:
                replay = http.post(f"/v1/decisions/{decision['id']}/replay").json()
                assert replay["identical"] is True, replay
            first = {d["merchant_id"]: d for d in decided[:32]}
            for repeat in decided[32:]:  # the same merchant, decided in another batch
                assert repeat["outcome"] == first[repeat["merchant_id"]]["outcome"]
                assert repeat["limit"] == first[repeat["merchant_id"]]["limit"]
    finally:
        os.killpg(server.pid, signal.SIGKILL)
        server.wait()
