"""Re-scoring a book as of a past date against as of its last date, side by side:
`underwrite rescore` of the same book as of `--as-of` (current) and `--past` in
alternating order (current, past, past, current, ...). Rows dated on or after a run's
as-of date are set aside unread and counted (`after_as_of`), not quarantined one by one,
so a past-dated run should cost about what a current one does. Wall time of the command;
peak resident memory of its process tree (`bench_rescore.timed`).

    python benchmarks/bench_past_as_of.py --data /work/bench/book1m [--pairs 1]
"""

from __future__ import annotations

import argparse
import json
import shutil
import statistics
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from bench_features import machine
from bench_rescore import timed


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, required=True)
    parser.add_argument("--as-of", default="2026-10-01")
    parser.add_argument("--past", default="2026-07-01")
    parser.add_argument("--model", default="models/scorecard.json")
    parser.add_argument("--pairs", type=int, default=1)
    parser.add_argument("--out", type=Path, default=Path("/tmp/bench-past"))
    args = parser.parse_args()
    underwrite = str(Path(sys.executable).with_name("underwrite"))
    print(f"machine: {machine()}; book {args.data}")
    print(
        "| run | as of | wall | peak memory | decided | quarantined rows | set aside (after as-of) |"
    )
    print("|---|---|---:|---:|---:|---:|---:|")
    walls: dict[str, list[float]] = {args.as_of: [], args.past: []}
    order = [args.as_of if k % 4 in (0, 3) else args.past for k in range(2 * args.pairs)]
    for run, as_of in enumerate(order, 1):
        out = args.out / f"{run}-{as_of}"
        shutil.rmtree(out, ignore_errors=True)
        command = [underwrite, "rescore", "--data", str(args.data), "--as-of", as_of,
                   "--model", args.model, "--out", str(out)]  # fmt: skip
        wall, peak, _ = timed(command)
        manifest = json.loads((out / "manifest.json").read_text())
        held = sum(r["quarantined"] for r in manifest["rows"].values())
        later = sum(r.get("after_as_of", 0) for r in manifest["rows"].values())
        walls[as_of].append(wall)
        print(
            f"| {run} | {as_of} | {wall:.1f} s | {peak / 2**30:.2f} GiB | "
            f"{manifest['decided']:,} | {held:,} | {later:,} |",
            flush=True,
        )
    now, past = statistics.median(walls[args.as_of]), statistics.median(walls[args.past])
    print(f"\nmedian wall: as of {args.as_of} {now:.1f} s, as of {args.past} {past:.1f} s: "
          f"past / current {past / now:.2f}")  # fmt: skip


if __name__ == "__main__":
    main()
