"""Open-loop load on the scoring API: requests sent at a fixed rate whatever the answers
do (as loan officers' requests arrive), by merchant id, random merchants of the data
folder, a fresh Idempotency-Key each, 2 workers, SQLite, started as `underwrite serve`
starts them. Latency is counted from each request's scheduled time, so a server that
falls behind is charged for the wait (no coordinated omission).

For each rate: sent, errors, p50/p90/p99/max, and the server's CPU time per request (all
its processes and threads: with 2 cores, a rate times that cost near 2 s a second is
where the queue stops draining). Then the largest rate that holds p99 under
100 ms (and under 50 ms), found by bisection between the rates tried, and the bare
endpoint (it only validates the same bodies) at the first rate from the same client.

    python benchmarks/bench_api_open.py --data data/sample --model models/scorecard.json \
        [--rates 20 50 100 150] [--seconds 30]
"""

from __future__ import annotations

import argparse
import asyncio
import dataclasses
import datetime as dt
import os
import random
import shutil
import signal
import sys
import tempfile
import time
import uuid
from dataclasses import dataclass
from pathlib import Path

import httpx
import polars as pl

sys.path.insert(0, str(Path(__file__).resolve().parent))
from bench_api import REAL_APP, _free_port, _start, fresh_store
from bench_features import machine


@dataclass(frozen=True)
class Load:
    rate: float
    sent: int
    errors: int
    p50: float
    p90: float
    p99: float
    worst: float
    cpu_ms: float = float("nan")
    """The server's CPU time (every process and thread) per request sent."""

    def line(self) -> str:
        return (
            f"| {self.rate:g}/s | {self.sent:,} | {self.errors} | {self.p50:.1f} | "
            f"{self.p90:.1f} | {self.p99:.1f} | {self.worst:.1f} | {self.cpu_ms:.1f} |"
        )


HEADER = (
    "| rate | sent | errors | p50 ms | p90 ms | p99 ms | max ms | server CPU ms a request |\n"
    "|---|---:|---:|---:|---:|---:|---:|---:|"
)


def cpu_seconds(root: int) -> float:
    """CPU seconds used so far by process `root` and its children (from /proc)."""
    ticks = os.sysconf("SC_CLK_TCK")
    pids = [root, *(int(p) for p in Path(f"/proc/{root}/task/{root}/children").read_text().split())]
    total = 0
    for pid in pids:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        total += int(fields[11]) + int(fields[12])  # utime and stime
    return total / ticks


async def _open_loop(
    port: int, secret: str, ids: list[str], as_of: dt.date, rate: float, seconds: float
) -> Load:
    rng = random.Random(f"{rate}")
    limits = httpx.Limits(max_connections=2000, max_keepalive_connections=2000)
    headers = {"Authorization": f"Bearer {secret}"}
    latencies: list[float] = []
    errors = 0
    async with httpx.AsyncClient(
        base_url=f"http://127.0.0.1:{port}", limits=limits, timeout=30, headers=headers
    ) as http:

        async def one(at: float) -> None:
            nonlocal errors
            await asyncio.sleep(max(0.0, at - time.perf_counter()))
            body = {"merchant_id": rng.choice(ids), "as_of": as_of.isoformat()}
            try:
                answer = await http.post(
                    "/v1/decisions", json=body, headers={"Idempotency-Key": uuid.uuid4().hex}
                )
                failed = answer.status_code not in (200, 201)
            except httpx.HTTPError:
                failed = True
            errors += failed
            latencies.append((time.perf_counter() - at) * 1000)

        start = time.perf_counter() + 0.5
        sent = int(rate * seconds)
        await asyncio.gather(*(one(start + i / rate) for i in range(sent)))
    latencies.sort()

    def at(share: float) -> float:
        return latencies[min(len(latencies) - 1, int(len(latencies) * share))]

    return Load(rate, sent, errors, at(0.5), at(0.9), at(0.99), latencies[-1])


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    root = Path(__file__).resolve().parents[1]
    parser.add_argument("--data", type=Path, default=root / "data" / "sample")
    parser.add_argument("--model", type=Path, default=root / "models" / "scorecard.json")
    parser.add_argument("--as-of", type=dt.date.fromisoformat, default=dt.date(2026, 10, 1))
    parser.add_argument("--rates", type=float, nargs="+", default=[20, 50, 100, 150])
    parser.add_argument("--seconds", type=float, default=30)
    parser.add_argument("--bisect", type=int, default=3, help="bisection steps for each bound")
    args = parser.parse_args()
    print(f"machine: {machine()}")
    work = Path(tempfile.mkdtemp(prefix="bench-api-open-"))
    database, env, secret = fresh_store(work, args.data, args.model)
    ids = pl.read_parquet(args.data / "merchants.parquet")["merchant_id"].to_list()
    print(f"{len(ids):,} merchants in {args.data}; {args.seconds:g} s a rate")
    results: dict[float, Load] = {}

    def run(app: str, rates: list[float], app_env: dict[str, str] = env) -> list[Load]:
        port = _free_port()
        server = _start(app, port, app_env)
        try:
            # warm up: every worker's first decisions fill its caches and connection pool
            asyncio.run(_open_loop(port, secret, ids, args.as_of, 20, 5))
            loads = []
            for rate in rates:
                used = cpu_seconds(server.pid)
                load = asyncio.run(_open_loop(port, secret, ids, args.as_of, rate, args.seconds))
                per_request = (cpu_seconds(server.pid) - used) * 1000 / load.sent
                load = dataclasses.replace(load, cpu_ms=per_request)
                print(load.line(), flush=True)
                loads.append(load)
                time.sleep(2)  # let the queue of a rate it could not hold drain
            return loads
        finally:
            os.killpg(server.pid, signal.SIGTERM)
            server.wait()

    print("\nPOST /v1/decisions by merchant id")
    print(HEADER)
    for load in run(REAL_APP, sorted(args.rates)):
        results[load.rate] = load
    for bound in (100.0, 50.0):
        holds = [r for r, load in results.items() if load.p99 < bound and not load.errors]
        fails = [r for r, load in results.items() if r > max(holds, default=0)]
        low, high = max(holds, default=0.0), min(fails, default=None)
        for _ in range(args.bisect if high is not None and low > 0 else 0):
            middle = round((low + high) / 2)  # type: ignore[operator]
            if middle in (low, high):
                break
            (load,) = run(REAL_APP, [middle])
            results[middle] = load
            low, high = (middle, high) if load.p99 < bound and not load.errors else (low, middle)
        print(
            f"largest rate with p99 under {bound:g} ms: {low:g}/s"
            + (f" (fails at {high:g}/s)" if high else "")
        )
    print("\nbare endpoint (validates the body only), same client")
    print(HEADER)
    run(
        "bare_app:create_app",
        sorted(args.rates)[:2],
        {**env, "PYTHONPATH": str(root / "benchmarks")},
    )
    database.dispose()
    shutil.rmtree(work)
    return 0


if __name__ == "__main__":
    sys.exit(main())
