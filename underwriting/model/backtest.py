"""Backtesting a PD model's grades against the defaults that came in, as a validator does
each month (SR 11-7; the ECB's instructions for reporting validation results): per grade
and for the book, the observed default rate against the mean PD, the one-sided Jeffreys
and binomial tests, and a traffic light; the Herfindahl index of a book's concentration
across grades; and the AUC with DeLong's variance, its confidence interval and a test of
its difference from the development AUC. Pure functions on arrays and frames.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

import numpy as np
import polars as pl
from scipy.stats import beta, binom, norm, rankdata

Light = Literal["green", "yellow", "red"]
YELLOW_FROM = 0.95
RED_FROM = 0.999
"""Confidence levels (1 - p) at which a grade's test turns yellow, then red."""


def jeffreys_p(defaults: int, obligors: int, pd: float) -> float:
    """The one-sided Jeffreys test's p-value that the grade's PD is not too low: the
    probability, under the Jeffreys posterior Beta(D + 1/2, N - D + 1/2) of the default
    rate, that it is at most `pd`. Small when defaults exceed what the PD predicts."""
    return float(beta.cdf(pd, defaults + 0.5, obligors - defaults + 0.5))


def binomial_p(defaults: int, obligors: int, pd: float) -> float:
    """The one-sided exact binomial test's p-value: P(X >= D) for X ~ Bin(N, PD)."""
    return float(binom.sf(defaults - 1, obligors, pd))


def light(p_value: float) -> Light:
    """The traffic light of a one-sided test: green below 95% confidence (1 - p), yellow
    to 99.9%, red above."""
    confidence = 1.0 - p_value
    if confidence >= RED_FROM:
        return "red"
    if confidence >= YELLOW_FROM:
        return "yellow"
    return "green"


def grade_backtest(decisions: pl.DataFrame) -> pl.DataFrame:
    """Per grade (in the order of the frame's grade column) and for the whole book: the
    obligors, their defaults and observed default rate, the mean PD, the Jeffreys and
    binomial p-values and the light of each. `decisions` holds `grade`, `pd_12m` and
    `defaulted` (boolean) for matured obligors."""
    per_grade = (
        decisions.group_by(pl.col("grade").cast(pl.String))
        .agg(
            pl.len().alias("obligors"),
            pl.col("defaulted").cast(pl.Int64).sum().alias("defaults"),
            pl.col("pd_12m").mean().alias("mean_pd"),
        )
        .sort("grade")
    )
    book = decisions.select(
        pl.lit("book").alias("grade"),
        pl.len().alias("obligors"),
        pl.col("defaulted").cast(pl.Int64).sum().alias("defaults"),
        pl.col("pd_12m").mean().alias("mean_pd"),
    )
    table = pl.concat([per_grade, book.cast(per_grade.schema)])
    rows = []
    for row in table.iter_rows(named=True):
        n, d, pd = int(row["obligors"]), int(row["defaults"]), float(row["mean_pd"])
        j, b = jeffreys_p(d, n, pd), binomial_p(d, n, pd)
        rows.append({**row, "observed": d / n, "jeffreys_p": j, "jeffreys": light(j),
                     "binomial_p": b, "binomial": light(b)})  # fmt: skip
    return pl.DataFrame(rows)


def herfindahl(amounts: np.ndarray) -> float:
    """The Herfindahl index of a book's concentration: the sum of squared shares (1 / k
    for k equal grades, 1 when everything sits in one)."""
    total = float(np.sum(amounts))
    if total <= 0:
        return float("nan")
    shares = np.asarray(amounts, dtype=float) / total
    return float(np.sum(shares**2))


@dataclass(frozen=True)
class AucTest:
    """The AUC of scores against outcomes, DeLong's standard error, its 95% interval, and
    the two-sided test of its difference from a reference AUC (the development figure)."""

    auc: float
    se: float
    low: float
    high: float
    reference: float | None
    z: float | None
    p_value: float | None

    @property
    def gini(self) -> float:
        return 2 * self.auc - 1


def auc_delong(risk: np.ndarray, bad: np.ndarray, reference: float | None = None) -> AucTest:
    """The AUC of `risk` (higher = riskier) for the outcome `bad`, with DeLong's variance
    (fast midrank form) and, against `reference`, z = (AUC - reference) / se. Raises
    ValueError without both bads and goods."""
    risk = np.asarray(risk, dtype=float)
    bad = np.asarray(bad, dtype=bool)
    positives, negatives = risk[bad], risk[~bad]
    m, n = len(positives), len(negatives)
    if m == 0 or n == 0:
        raise ValueError("the AUC needs both defaults and non-defaults among the obligors")
    both = np.concatenate([positives, negatives])
    all_ranks = rankdata(both)  # midranks: ties share the mean of their ranks
    pos_ranks, neg_ranks = rankdata(positives), rankdata(negatives)
    auc = (np.sum(all_ranks[:m]) - m * (m + 1) / 2) / (m * n)
    v10 = (all_ranks[:m] - pos_ranks) / n
    v01 = 1.0 - (all_ranks[m:] - neg_ranks) / m
    variance = np.var(v10, ddof=1) / m + np.var(v01, ddof=1) / n if m > 1 and n > 1 else 0.0
    se = float(np.sqrt(variance))
    z = p = None
    if reference is not None and se > 0:
        z = float((auc - reference) / se)
        p = float(2 * norm.sf(abs(z)))
    return AucTest(float(auc), se, float(auc - 1.96 * se), float(auc + 1.96 * se), reference, z, p)
