"""Model benchmark: training time, and scoring throughput against toad and optbinning.

Our scorer is timed producing everything a decision needs (PD, score, grade and up to four
reasons); the peers are timed producing a score only, with their own fitted scorecards on
the same training rows and the same features. Each figure is the best of `--repeat` runs,
all in this one process. toad and optbinning are not project dependencies; run this in an
environment that has them:

    python -m venv /tmp/peers && /tmp/peers/bin/pip install -e . toad optbinning
    /tmp/peers/bin/python benchmarks/bench_scoring.py --train TRAIN.parquet --score SCORE.parquet
"""

from __future__ import annotations

import argparse
import sys
import time
import warnings
from collections.abc import Callable
from pathlib import Path

import polars as pl

sys.path.insert(0, str(Path(__file__).resolve().parent))
from bench_features import machine

from underwriting.io.rule_sets import load_policy
from underwriting.model import scoring
from underwriting.model.artifact import Scorecard
from underwriting.model.scoring import score
from underwriting.model.training import TrainingOptions, target_values, train

RULES = Path(__file__).resolve().parents[1] / "rules" / "v1"


def best_of(repeat: int, run: Callable[[], object]) -> float:
    times = []
    for _ in range(repeat):
        started = time.perf_counter()
        run()
        times.append(time.perf_counter() - started)
    return min(times)


def train_ours(table: pl.DataFrame, out_of_time: str | None) -> tuple[Scorecard, float]:
    policy, version = load_policy(RULES)
    import datetime as dt

    options = TrainingOptions(
        target="defaulted_12m",
        out_of_time=dt.date.fromisoformat(out_of_time) if out_of_time else None,
    )
    started = time.perf_counter()
    model = train(table, options, policy, version, "benchmark")
    return model, time.perf_counter() - started


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument(
        "--train", type=Path, required=True, help="training table with defaulted_12m"
    )
    parser.add_argument("--score", type=Path, required=True, help="feature table to score")
    parser.add_argument("--train-large", type=Path, help="a second, larger training table to time")
    parser.add_argument("--out-of-time", default="2026-10-01")
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    print(f"machine: {machine()}; our scorer's numpy work runs on {scoring._THREADS} threads")

    training = pl.read_parquet(args.train)
    model, seconds = train_ours(training, args.out_of_time)
    print(
        f"training on {training.height:,} rows: {seconds:.1f} s ({len(model.features)} features kept)"
    )
    if args.train_large:
        large = pl.read_parquet(args.train_large)
        _, large_seconds = train_ours(large, None)
        print(f"training on {large.height:,} rows: {large_seconds:.1f} s")
        del large

    policy, _ = load_policy(RULES)
    frame = pl.read_parquet(args.score)
    rows = frame.height
    ours = best_of(args.repeat, lambda: score(model, policy, frame))

    import toad  # type: ignore[import-not-found]
    from optbinning import BinningProcess  # type: ignore[import-not-found]
    from optbinning import Scorecard as OptScorecard
    from sklearn.linear_model import LogisticRegression  # type: ignore[import-untyped]

    names = [f.name for f in model.features]
    categorical = [n for n in names if training.schema[n] in (pl.String(), pl.Boolean())]
    # The peers are fitted on a sample (their fitting time is not what is measured; toad's
    # binning is slow on large tables) and score the same full table as ours.
    sample = training.sample(min(training.height, 50_000), seed=1)
    bad = target_values(sample, "defaulted_12m").astype(int)
    x_train = sample.select(names).with_columns(pl.col(categorical).cast(pl.String())).to_pandas()
    x_score = frame.select(names).with_columns(pl.col(categorical).cast(pl.String())).to_pandas()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        combiner = toad.transform.Combiner()
        combiner.fit(x_train, bad, method="dt", min_samples=0.05)
        woe = toad.transform.WOETransformer()
        toad_card = toad.ScoreCard(
            combiner=combiner, transer=woe, pdo=20, rate=2, base_odds=30, base_score=600
        )
        toad_card.fit(woe.fit_transform(combiner.transform(x_train), bad), bad)
        process = BinningProcess(variable_names=names, categorical_variables=categorical)
        opt_card = OptScorecard(
            binning_process=process,
            estimator=LogisticRegression(max_iter=1000),
            scaling_method="pdo_odds",
            scaling_method_params={"pdo": 20, "odds": 30, "scorecard_points": 600},
        )
        opt_card.fit(x_train, bad)
        print("peers fitted", flush=True)
        toad_time = best_of(args.repeat, lambda: toad_card.predict(x_score))
        opt_time = best_of(args.repeat, lambda: opt_card.score(x_score))

    fastest = min(toad_time, opt_time)
    print(f"\nscoring {rows:,} rows ({len(names)} features), best of {args.repeat}:")
    print("| scorer | produces | seconds | rows/s | vs fastest peer |")
    print("|---|---|---:|---:|---:|")
    for name, produces, seconds in (
        ("underwriting.model.scoring.score", "PD, score, grade, 4 reasons", ours),
        ("toad ScoreCard.predict", "score", toad_time),
        ("optbinning Scorecard.score", "score", opt_time),
    ):
        print(
            f"| {name} | {produces} | {seconds:.2f} | {rows / seconds:,.0f} | {fastest / seconds:.2f}x |"
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
