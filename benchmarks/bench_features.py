"""Feature-build benchmark: wall time and peak memory of `underwrite features`.

Each measurement runs the real command in a fresh child process, so the peak resident
memory (ru_maxrss of the child) is that of the command alone. Usage:

    python benchmarks/bench_features.py --data DIR --as-of 2026-10-01 [--chunk N] [--repeat 3]

Prints one Markdown row per run and the machine it ran on.
"""

from __future__ import annotations

import argparse
import os
import platform
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import polars as pl


def machine() -> str:
    cpu = "unknown CPU"
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    memory = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / 2**30
    return (
        f"{cpu}, {os.cpu_count()} cores, {memory:.0f} GiB RAM, Python {platform.python_version()}, "
        f"polars {pl.__version__} ({pl.thread_pool_size()} threads)"
    )


def run_once(data: Path, as_of: str, chunk: int) -> tuple[float, float]:
    """Seconds and peak GiB of one `underwrite features` run."""
    with tempfile.TemporaryDirectory() as out:
        command = [
            sys.executable, "-m", "underwriting.cli", "features",
            "--data", str(data), "--as-of", as_of,
            "--out", str(Path(out) / "features.parquet"), "--chunk", str(chunk),
        ]  # fmt: skip
        before = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
        started = time.perf_counter()
        subprocess.run(command, check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        seconds = time.perf_counter() - started
        peak_kib = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
        if peak_kib < before:
            raise RuntimeError("ru_maxrss went down; run each size in its own process")
        return seconds, peak_kib / 2**20


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--data", type=Path, required=True)
    parser.add_argument("--as-of", default="2026-10-01")
    parser.add_argument("--chunk", type=int, default=100_000)
    parser.add_argument("--repeat", type=int, default=1)
    args = parser.parse_args()
    merchants = pl.scan_parquet(args.data / "merchants.parquet").select(pl.len()).collect().item()
    daily = pl.scan_parquet(args.data / "cashflow").select(pl.len()).collect().item()
    traffic = pl.scan_parquet(args.data / "traffic").select(pl.len()).collect().item()
    print(f"machine: {machine()}")
    print("| merchants | cash-flow rows | traffic rows | chunk | run | seconds | peak GiB |")
    print("|---:|---:|---:|---:|---:|---:|---:|")
    for run in range(1, args.repeat + 1):
        seconds, peak = run_once(args.data, args.as_of, args.chunk)
        print(
            f"| {merchants:,} | {daily:,} | {traffic:,} | {args.chunk:,} | {run} | "
            f"{seconds:.1f} | {peak:.2f} |",
            flush=True,
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
