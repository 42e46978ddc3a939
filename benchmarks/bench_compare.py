"""Champion against challenger against one re-scoring, side by side: `underwrite compare`
(both arms in one pass, their decisions, the swap set's report) and `underwrite rescore`
of the champion alone, on the same book, in alternating order (rescore, compare, compare,
rescore, ...). Wall time is the command's; peak memory the largest resident sum over its
process tree, sampled every 0.1 s (`bench_rescore.timed`). At the end: the median of each,
their ratio, and whether each arm's decisions parts equal the rescore's byte for byte.

    python benchmarks/bench_compare.py --data /work/bench/book1m --challenger rules/v2 \
        [--champion rules/v1] [--model models/scorecard.json] [--pairs 2]
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
    parser.add_argument("--champion", default="rules/v1")
    parser.add_argument("--challenger", required=True)
    parser.add_argument("--model", default="models/scorecard.json")
    parser.add_argument("--pairs", type=int, default=2)
    parser.add_argument("--out", type=Path, default=Path("/tmp/bench-compare"))
    args = parser.parse_args()
    underwrite = str(Path(sys.executable).with_name("underwrite"))
    common = ["--data", str(args.data), "--as-of", args.as_of]
    commands = {
        "rescore": [underwrite, "rescore", *common, "--model", args.model,
                    "--rules", args.champion],
        "compare": [underwrite, "compare", *common, "--champion-model", args.model,
                    "--champion", args.champion, "--challenger", args.challenger],
    }  # fmt: skip
    print(f"machine: {machine()}; book {args.data}, as of {args.as_of}")
    print("| run | command | wall | peak memory (process tree) | merchants |")
    print("|---|---|---:|---:|---:|")
    walls: dict[str, list[float]] = {"rescore": [], "compare": []}
    peaks: dict[str, list[float]] = {"rescore": [], "compare": []}
    order = ["rescore" if k % 4 in (0, 3) else "compare" for k in range(2 * args.pairs)]
    for run, name in enumerate(order, 1):
        out = args.out / f"{run}-{name}"
        shutil.rmtree(out, ignore_errors=True)
        wall, peak, _ = timed([*commands[name], "--out", str(out)])
        manifest = json.loads((out / "manifest.json").read_text())
        merchants = manifest["decided"] if name == "rescore" else manifest["merchants"]
        walls[name].append(wall)
        peaks[name].append(peak / 2**30)
        print(f"| {run} | {name} | {wall:.1f} s | {peak / 2**30:.2f} GiB | {merchants:,} |")
    rescore, compare = (statistics.median(walls[n]) for n in ("rescore", "compare"))
    print(
        f"\nmedian wall: rescore {rescore:.1f} s, compare {compare:.1f} s: "
        f"compare/rescore {compare / rescore:.2f}; peak memory: rescore "
        f"{max(peaks['rescore']):.2f} GiB, compare {max(peaks['compare']):.2f} GiB"
    )
    first = {n: args.out / f"{order.index(n) + 1}-{n}" for n in ("rescore", "compare")}
    parts = sorted((first["rescore"] / "decisions").glob("*.parquet"))
    same = all(
        (first["compare"] / "champion" / "decisions" / p.name).read_bytes() == p.read_bytes()
        for p in parts
    )
    print(
        f"the champion arm's {len(parts)} decisions parts equal the rescore's byte for byte: {same}"
    )


if __name__ == "__main__":
    main()
