"""Load benchmark of the scoring API: wrk from a second process on 127.0.0.1, 32
connections for 30 s, against `POST /v1/decisions` with inline data (90 days, 100
merchants in turn) and by merchant id (500 merchants in turn), and against a bare
FastAPI endpoint that only validates the same bodies, all with 2 uvicorn workers, in one
run. Two diagnostic runs follow: the same requests against the real app with each
decision computed once and then repeated (engine_free_app.py), the most the API could
serve with an engine that cost nothing.

    python benchmarks/bench_api.py --data data/sample --model models/scorecard.json

Needs wrk (Debian: apt-get install wrk).
"""

from __future__ import annotations

import argparse
import datetime as dt
import importlib.util
import json
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import httpx
import polars as pl
from sqlalchemy import Engine

sys.path.insert(0, str(Path(__file__).resolve().parent))
from bench_features import machine

from api import migrate, store

ROOT = Path(__file__).resolve().parents[1]

try:
    from api.cli import worker_environment
except ImportError:  # a checkout from before it, measured side by side

    def worker_environment(workers: int) -> dict[str, str]:
        return {}


REAL_APP = "api.main:create_app" if importlib.util.find_spec("api.main") else "api.app:create_app"
"""The app as `underwrite serve` runs it (its module moved; older checkouts are measured
side by side with this script)."""

INLINE_MERCHANTS = 100
"""Inline bodies are of this many merchants, sent in turn: a body sent again while its
first copy waits is decided once for both (api.batching), so one body repeated would
measure that sharing, not decisions."""

LUA_CYCLE = """
local bodies = {{{bodies}}}
local threads = 0
wrk.method = "POST"
wrk.headers["Content-Type"] = "application/json"
wrk.headers["Authorization"] = "Bearer {secret}"
function setup(thread)
  thread:set("first", threads)
  threads = threads + 1
end
function init(args)
  -- each wrk thread starts half-way through the other's cycle: never the same body at once
  i = first * math.floor(#bodies / 2)
end
request = function()
  i = i % #bodies + 1
  return wrk.format(nil, nil, nil, bodies[i])
end
"""


def cycling(secret: str, bodies: list[str]) -> str:
    """A wrk script that sends `bodies` in turn with the key `secret`."""
    listed = ", ".join(f"[==[{body}]==]" for body in bodies)
    return LUA_CYCLE.format(bodies=listed, secret=secret)


def inline_bodies(data: Path, ids: list[str], as_of: dt.date, days: int) -> list[str]:
    """The inline bodies of merchants `ids` (`_inline_body`)."""
    return [_inline_body(data, merchant, as_of, days) for merchant in ids]


def by_id_bodies(ids: list[str], as_of: dt.date) -> list[str]:
    """Bodies asking for the decisions of merchants `ids` by id."""
    return [json.dumps({"merchant_id": m, "as_of": as_of.isoformat()}) for m in ids]


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def _start(app: str, port: int, env: dict[str, str]) -> subprocess.Popen[bytes]:
    server = subprocess.Popen(
        [sys.executable, "-m", "uvicorn", app, "--factory", "--host", "127.0.0.1",
         "--port", str(port), "--workers", "2", "--log-level", "error"],
        env={**os.environ, **worker_environment(2), **env},  # as `underwrite serve` runs
        cwd=ROOT,
        start_new_session=True,
    )  # fmt: skip
    for _ in range(300):
        try:
            httpx.get(f"http://127.0.0.1:{port}/openapi.json", timeout=1)
            return server
        except httpx.TransportError:
            time.sleep(0.2)
    raise RuntimeError(f"{app} did not start")


def _wrk(port: int, script: str, seconds: int, connections: int) -> dict[str, float]:
    with tempfile.NamedTemporaryFile("w", suffix=".lua", delete=False) as handle:
        handle.write(script)
    url = f"http://127.0.0.1:{port}/v1/decisions"
    subprocess.run(["wrk", "-t1", "-c4", "-d3s", "-s", handle.name, url], capture_output=True)
    run = subprocess.run(
        ["wrk", "-t2", f"-c{connections}", f"-d{seconds}s", "--latency", "--timeout", "10s",
         "-s", handle.name, url],
        capture_output=True, text=True, check=True,
    )  # fmt: skip
    text = run.stdout

    def millis(label: str) -> float:
        found = re.search(rf"^\s+{label}%\s+([\d.]+)(us|ms|s)\s*$", text, re.M)
        if found is None:
            raise RuntimeError(f"no {label}% latency in wrk output:\n{text}")
        value, unit = float(found.group(1)), found.group(2)
        return value / 1000 if unit == "us" else value * 1000 if unit == "s" else value

    requests = int(re.search(r"(\d+) requests in", text).group(1))  # type: ignore[union-attr]
    non_2xx = re.search(r"Non-2xx or 3xx responses: (\d+)", text)
    socket_errors = re.search(r"Socket errors: (.*)", text)
    return {
        "requests": requests,
        "per_second": float(re.search(r"Requests/sec:\s+([\d.]+)", text).group(1)),  # type: ignore[union-attr]
        "p50_ms": millis("50"),
        "p99_ms": millis("99"),
        "errors": int(non_2xx.group(1)) if non_2xx else 0,
        "socket_errors": 0 if socket_errors is None else sum(int(n) for n in re.findall(r"\d+", socket_errors.group(1))),
    }  # fmt: skip


def _inline_body(data: Path, merchant_id: str, as_of: dt.date, days: int) -> str:
    mine = pl.col("merchant_id") == merchant_id
    recent = pl.col("date") >= as_of - dt.timedelta(days=days)
    profile = pl.read_parquet(data / "merchants.parquet").filter(mine).row(0, named=True)
    cashflow = pl.scan_parquet(data / "cashflow").filter(mine & recent).drop("merchant_id")
    traffic = pl.scan_parquet(data / "traffic").filter(mine & recent).drop("merchant_id")
    cash, shop = pl.collect_all([cashflow.sort("date"), traffic.sort("date")])
    body = {
        "data": {
            "merchant": profile,
            "cashflow": cash.to_dicts(),
            "traffic": shop.to_dicts(),
        },
        "as_of": as_of.isoformat(),
    }
    return json.dumps(body, default=str)


def fresh_store(work: Path, data: Path, model: Path) -> tuple[Engine, dict[str, str], str]:
    """A migrated SQLite store in `work` with an officer key: the store, the app's
    environment for it, `data` and `model`, and the key's secret."""
    url = f"sqlite:///{work / 'underwriting.db'}"
    database = store.connect(url)
    migrate.upgrade(database)
    _, secret = store.create_key(database, "officer", "benchmark")
    env = {
        "UW_DATABASE_URL": url,
        "UW_DATA": str(data.resolve()),
        "UW_MODEL": str(model.resolve()),
        "UW_MODELS_DIR": str(model.resolve().parent),
    }
    return database, env, secret


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--data", type=Path, default=ROOT / "data" / "sample")
    parser.add_argument("--model", type=Path, default=ROOT / "models" / "scorecard.json")
    parser.add_argument("--as-of", type=dt.date.fromisoformat, default=dt.date(2026, 10, 1))
    parser.add_argument("--seconds", type=int, default=30)
    parser.add_argument("--connections", type=int, default=32)
    args = parser.parse_args()
    if shutil.which("wrk") is None:
        print("needs wrk: apt-get install wrk", file=sys.stderr)
        return 2
    print(f"machine: {machine()}")
    work = Path(tempfile.mkdtemp(prefix="bench-api-"))
    database, env, secret = fresh_store(work, args.data, args.model)
    ids = pl.read_parquet(args.data / "merchants.parquet")["merchant_id"].head(500).to_list()
    inline = cycling(secret, inline_bodies(args.data, ids[:INLINE_MERCHANTS], args.as_of, 90))
    by_id = cycling(secret, by_id_bodies(ids, args.as_of))
    runs = [
        ("bare endpoint, validates the inline bodies", "bare_app:create_app", inline),
        ("POST /v1/decisions, inline data (90 days)", REAL_APP, inline),
        ("POST /v1/decisions, by merchant id", REAL_APP, by_id),
        ("diagnostic: inline, the decision made free", "engine_free_app:create_app", inline),
        ("diagnostic: by id, the decision made free", "engine_free_app:create_app", by_id),
    ]  # fmt: skip
    results = {}
    for name, app, script in runs:
        port = _free_port()
        extra = (
            {}
            if app.startswith("api.")
            else {"PYTHONPATH": str(ROOT / "benchmarks"), "UW_BENCH_AS_OF": args.as_of.isoformat()}
        )
        server = _start(app, port, {**env, **extra})
        try:
            results[name] = _wrk(port, script, args.seconds, args.connections)
        finally:
            os.killpg(server.pid, signal.SIGTERM)
            server.wait()
        found = results[name]
        print(
            f"{name}: {found['per_second']:,.1f} req/s, p50 {found['p50_ms']:.1f} ms, "
            f"p99 {found['p99_ms']:.1f} ms, {found['requests']:,} requests, "
            f"{found['errors']} non-2xx, {found['socket_errors']} socket errors",
            flush=True,
        )
    bare = results[runs[0][0]]["per_second"]
    for name, _, _ in runs[1:]:
        print(f"{name}: {results[name]['per_second'] / bare:.1%} of the bare endpoint")
    with database.connect() as connection:
        stored = connection.execute(
            store.decisions.select().with_only_columns(store.decisions.c.seq)
        ).all()
    print(f"decisions stored during the run: {len(stored):,}")  # fmt: skip
    database.dispose()
    shutil.rmtree(work)
    return 0


if __name__ == "__main__":
    sys.exit(main())
