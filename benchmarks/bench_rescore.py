"""End-to-end re-scoring benchmark: `underwrite rescore` (features + decisions + report) on
a simulated book, on the local engine and on Spark local mode, in one run.

For each engine: a previous run (`--previous-as-of`), then the measured run as of
`--as-of` with `--previous` pointing at it, so the report holds the migration, flips and
PSI against the previous run. Wall time is the command's; peak memory is the largest sum
of resident memory over the command's whole process tree (for Spark: the driver, its JVM
and the Python workers), sampled every 0.1 s from /proc.

    python benchmarks/bench_rescore.py --data /work/bench/book100k --engines local spark
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import threading
import time
from pathlib import Path

PAGE = os.sysconf("SC_PAGE_SIZE")


def _tree_rss(root: int) -> int:
    """Resident bytes of `root` and all its descendants."""
    children: dict[int, list[int]] = {}
    rss: dict[int, int] = {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
            statm = (entry / "statm").read_text()
        except OSError:
            continue
        pid = int(entry.name)
        ppid = int(stat.rsplit(")", 1)[1].split()[1])
        children.setdefault(ppid, []).append(pid)
        rss[pid] = int(statm.split()[1]) * PAGE
    total, stack = 0, [root]
    while stack:
        pid = stack.pop()
        total += rss.get(pid, 0)
        stack.extend(children.get(pid, []))
    return total


def timed(command: list[str]) -> tuple[float, int, str]:
    """Wall seconds, peak resident bytes of the process tree, and the last output lines."""
    started = time.perf_counter()
    process = subprocess.Popen(
        command, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True
    )
    peak = 0
    done = threading.Event()

    def sample() -> None:
        nonlocal peak
        while not done.wait(0.1):
            peak = max(peak, _tree_rss(process.pid))

    sampler = threading.Thread(target=sample, daemon=True)
    sampler.start()
    output, _ = process.communicate()
    wall = time.perf_counter() - started
    done.set()
    sampler.join()
    if process.returncode != 0:
        raise SystemExit(f"{' '.join(command)} failed ({process.returncode}):\n{output}")
    return wall, peak, output


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, required=True)
    parser.add_argument("--as-of", default="2026-10-01")
    parser.add_argument("--previous-as-of", default="2026-07-01")
    parser.add_argument("--engines", nargs="+", default=["local"], choices=["local", "spark"])
    parser.add_argument("--out", type=Path, default=Path("/tmp/bench-rescore"))
    parser.add_argument("--model", default="models/scorecard.json")
    args = parser.parse_args()
    underwrite = str(Path(sys.executable).with_name("underwrite"))
    shutil.rmtree(args.out, ignore_errors=True)
    print(
        f"book {args.data}, {os.cpu_count()} cores; as of {args.as_of} against {args.previous_as_of}"
    )
    print("| engine | run | wall | peak memory (process tree) | merchants | counts add up |")
    print("|---|---|---:|---:|---:|---|")
    for engine in args.engines:
        base = [underwrite, "rescore", "--data", str(args.data), "--model", args.model,
                "--engine", engine]  # fmt: skip
        before = args.out / f"{engine}-previous"
        now = args.out / f"{engine}-now"
        for label, run, extra in (
            (f"previous ({args.previous_as_of})", before, ["--as-of", args.previous_as_of]),
            (
                f"with --previous ({args.as_of})",
                now,
                ["--as-of", args.as_of, "--previous", str(before)],
            ),
        ):
            wall, peak, _ = timed([*base, "--out", str(run), *extra])
            manifest = json.loads((run / "manifest.json").read_text())
            print(
                f"| {engine} | {label} | {wall:.1f} s | {peak / 2**30:.2f} GiB "
                f"| {manifest['decided']:,} | {manifest['adds_up']} |",
                flush=True,
            )
    if {"local", "spark"} <= set(args.engines):
        same = all(
            (args.out / "spark-now" / p.relative_to(args.out / "local-now")).read_bytes()
            == p.read_bytes()
            for p in sorted((args.out / "local-now" / "decisions").glob("*.parquet"))
        )
        print(f"\nSpark decisions parts equal the local engine's byte for byte: {same}")


if __name__ == "__main__":
    main()
