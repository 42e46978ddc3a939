"""Model quality on a simulated book: out-of-time AUC against the oracle's, and calibration.

underwrite simulate --out BOOK --merchants 200000 --cohorts 4 --as-of 2026-10-01
underwrite features --data BOOK --as-of outcomes --out TRAIN.parquet
underwrite train --data TRAIN.parquet --target defaulted_12m --out-of-time 2026-10-01 --out MODEL.json
python benchmarks/bench_model_quality.py --book BOOK --train TRAIN.parquet --model MODEL.json
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import polars as pl

from underwriting.io.artifacts import load_model
from underwriting.model.metrics import auc
from underwriting.model.scoring import score_arrays
from underwriting.model.training import canonical_order, options_of, split


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument(
        "--book", type=Path, required=True, help="simulated book (with ground_truth)"
    )
    parser.add_argument("--train", type=Path, required=True, help="training table")
    parser.add_argument("--model", type=Path, required=True)
    parser.add_argument("--min-rows", type=int, default=500, help="grades checked for calibration")
    args = parser.parse_args()
    model = load_model(args.model)
    table = pl.read_parquet(args.train).join(
        pl.read_parquet(args.book / "ground_truth.parquet"), on=["merchant_id", "as_of"]
    )
    table = canonical_order(table, options_of(model))
    _, _, out_of_time = split(table, options_of(model))
    holdout = table.filter(pl.Series(out_of_time))
    _, _, pd_12m = score_arrays(model, holdout)
    bad = holdout["defaulted_12m"].to_numpy()
    ours, oracle = auc(pd_12m, bad), auc(holdout["pd_true"].to_numpy(), bad)
    print(
        f"model {model.version}; out-of-time rows {holdout.height:,}, defaults {int(bad.sum()):,}"
    )
    print(
        f"out-of-time AUC {ours:.4f}, oracle AUC {oracle:.4f}, ratio {ours / oracle:.3f} (target >= 0.95)"
    )
    print("| grade | rows | predicted PD | observed rate | relative gap | within 20% |")
    print("|---|---:|---:|---:|---:|---|")
    for c in model.training.calibration:
        gap = c.predicted_pd / c.observed_rate - 1 if c.observed_rate else float("inf")
        checked = c.rows >= args.min_rows
        verdict = (
            ("yes" if abs(gap) <= 0.2 else "NO") if checked else f"(fewer than {args.min_rows})"
        )
        print(
            f"| {c.grade} | {c.rows:,} | {c.predicted_pd:.2%} | {c.observed_rate:.2%} | {gap:+.1%} | {verdict} |"
        )
    hl = model.training.hosmer_lemeshow
    print(f"Hosmer-Lemeshow: statistic {hl['statistic']:.2f}, p-value {hl['p_value']:.3f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
