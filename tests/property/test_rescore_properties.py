"""For any generated portfolio, re-scoring one merchant alone gives its row of the batch."""

from __future__ import annotations

import tempfile
from pathlib import Path

import polars as pl
from hypothesis import given, settings

from tests.conftest import RULES_V1
from tests.strategies import AS_OF, Portfolio, portfolios
from underwriting.batch.rescore import rescore
from underwriting.engine import Engine
from underwriting.io.rule_sets import load_rule_set
from underwriting.model.artifact import Scorecard
from underwriting.policy.parameters import Policy

RULE_SET = load_rule_set(RULES_V1)


def _write(folder: Path, portfolio: Portfolio, ids: list[str]) -> Path:
    mine = pl.col("merchant_id").is_in(ids)
    (folder / "cashflow").mkdir(parents=True)
    (folder / "traffic").mkdir()
    portfolio.merchants.filter(mine).write_parquet(folder / "merchants.parquet")
    portfolio.cashflow.filter(mine).write_parquet(folder / "cashflow" / "part.parquet")
    portfolio.traffic.filter(mine).write_parquet(folder / "traffic" / "part.parquet")
    portfolio.benchmarks.write_parquet(folder / "industry_benchmarks.parquet")
    return folder


def _decisions(run: Path) -> pl.DataFrame:
    return pl.read_parquet(sorted((run / "decisions").glob("*.parquet")))


@settings(max_examples=15)
@given(portfolios(min_size=2, max_size=4))
def test_one_merchant_alone_gets_its_row_of_the_batch(
    trained: tuple[Scorecard, Policy], p: Portfolio
) -> None:
    engine = Engine(trained[0], RULE_SET)
    ids = p.merchants["merchant_id"].to_list()
    with tempfile.TemporaryDirectory() as scratch:
        root = Path(scratch)
        rescore(_write(root / "all", p, ids), AS_OF, root / "run-all", engine, chunk_merchants=2)
        batch = _decisions(root / "run-all")
        assert batch["merchant_id"].to_list() == sorted(ids)
        for merchant in ids:
            alone = _write(root / f"book-{merchant}", p, [merchant])
            rescore(alone, AS_OF, root / f"run-{merchant}", engine)
            assert _decisions(root / f"run-{merchant}").equals(
                batch.filter(pl.col("merchant_id") == merchant)
            )
