"""CPU and wall time per request of the scoring API called in-process: the ASGI app driven
directly by `--concurrency` coroutines, no network and no wrk. Steadier than the load
benchmark for an A/B of one change, and cheap enough to run under a profiler (py-spy).

    python benchmarks/bench_api_inprocess.py --app real --kind id
    python benchmarks/bench_api_inprocess.py --app bare --kind inline

`--app`: `real` (api.main), `free` (engine_free_app: the decision computed once, then
repeated) or `bare` (bare_app: validation only). `--kind`: 90-day inline bodies of 100
merchants, or requests by id of 500 merchants, sent in turn as bench_api.py sends them.
A fresh SQLite store.
"""

from __future__ import annotations

import argparse
import asyncio
import datetime as dt
import os
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import polars as pl
from fastapi import FastAPI

sys.path.insert(0, str(Path(__file__).resolve().parent))
from bench_api import INLINE_MERCHANTS, by_id_bodies, fresh_store, inline_bodies
from bench_features import machine

ROOT = Path(__file__).resolve().parents[1]


def _app(which: str) -> FastAPI:
    factory: Callable[[], FastAPI]
    if which == "bare":
        from bare_app import create_app as factory
    elif which == "free":
        from engine_free_app import create_app as factory
    else:
        from api.main import create_app as factory
    return factory()


async def _post(app: FastAPI, body: bytes, secret: str) -> int:
    """One POST /v1/decisions through the app; its status."""
    sent = False

    async def receive() -> dict[str, Any]:
        nonlocal sent
        if not sent:
            sent = True
            return {"type": "http.request", "body": body, "more_body": False}
        await asyncio.Event().wait()  # the client never disconnects
        raise AssertionError("unreachable")

    status: list[int] = []

    async def send(message: dict[str, Any]) -> None:
        if message["type"] == "http.response.start":
            status.append(message["status"])

    headers = [
        (b"host", b"127.0.0.1"),
        (b"content-type", b"application/json"),
        (b"authorization", f"Bearer {secret}".encode()),
        (b"content-length", str(len(body)).encode()),
    ]
    scope = {
        "type": "http",
        "asgi": {"version": "3.0"},
        "http_version": "1.1",
        "method": "POST",
        "scheme": "http",
        "path": "/v1/decisions",
        "raw_path": b"/v1/decisions",
        "query_string": b"",
        "root_path": "",
        "headers": headers,
        "client": ("127.0.0.1", 1),
        "server": ("127.0.0.1", 80),
    }
    await app(scope, receive, send)  # type: ignore[arg-type]
    return status[0]


async def _run(app: FastAPI, bodies: list[bytes], secret: str, args: argparse.Namespace) -> None:
    async with app.router.lifespan_context(app):
        for body in bodies[:50]:  # warm up
            await _post(app, body, secret)
        sent = 0
        statuses: list[int] = []

        async def client() -> None:
            nonlocal sent
            while sent < args.requests:
                sent += 1
                statuses.append(await _post(app, bodies[sent % len(bodies)], secret))

        cpu, wall = time.process_time(), time.perf_counter()
        await asyncio.gather(*(client() for _ in range(args.concurrency)))
        cpu, wall = time.process_time() - cpu, time.perf_counter() - wall
    count = len(statuses)
    print(
        f"{args.app}, {args.kind}: {count:,} requests, {args.concurrency} at a time: "
        f"CPU {cpu / count * 1000:.2f} ms and wall {wall / count * 1000:.2f} ms per request, "
        f"{count / wall:,.1f} req/s; statuses {sorted(set(statuses))}"
    )


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--app", choices=("real", "free", "bare"), default="real")
    parser.add_argument("--kind", choices=("inline", "id"), default="inline")
    parser.add_argument("--data", type=Path, default=ROOT / "data" / "sample")
    parser.add_argument("--model", type=Path, default=ROOT / "models" / "scorecard.json")
    parser.add_argument("--as-of", type=dt.date.fromisoformat, default=dt.date(2026, 10, 1))
    parser.add_argument("--requests", type=int, default=1500)
    parser.add_argument("--concurrency", type=int, default=16)
    args = parser.parse_args()
    print(f"machine: {machine()}")
    database, env, secret = fresh_store(
        Path(tempfile.mkdtemp(prefix="bench-api-inprocess-")), args.data, args.model
    )
    database.dispose()
    os.environ.update(env, UW_BENCH_AS_OF=args.as_of.isoformat())
    ids = pl.read_parquet(args.data / "merchants.parquet")["merchant_id"].head(500).to_list()
    texts = (
        inline_bodies(args.data, ids[:INLINE_MERCHANTS], args.as_of, 90)
        if args.kind == "inline"
        else by_id_bodies(ids, args.as_of)
    )
    bodies = [text.encode() for text in texts]
    asyncio.run(_run(_app(args.app), bodies, secret, args))
    return 0


if __name__ == "__main__":
    sys.exit(main())
