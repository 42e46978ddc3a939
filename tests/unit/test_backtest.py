"""Backtests a validator can trust: the Jeffreys and binomial p-values equal the tests
computed by hand, the AUC and DeLong's variance equal their pairwise definitions, and on
a simulated book with one grade's PD understated only that grade turns red, while a
calibrated 200k book has no red grade."""

from __future__ import annotations

import math

import numpy as np
import polars as pl
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy.integrate import quad

from underwriting.model.backtest import (
    auc_delong,
    binomial_p,
    grade_backtest,
    herfindahl,
    jeffreys_p,
    light,
)


@settings(max_examples=40, deadline=None)
@given(st.integers(1, 300), st.data(), st.floats(0.001, 0.3))
def test_the_tests_equal_their_definitions(obligors: int, data: st.DataObject, pd: float) -> None:
    defaults = data.draw(st.integers(0, obligors))
    by_hand = sum(
        math.comb(obligors, k) * pd**k * (1 - pd) ** (obligors - k)
        for k in range(defaults, obligors + 1)
    )
    assert binomial_p(defaults, obligors, pd) == pytest.approx(by_hand, rel=1e-6, abs=1e-12)
    a, b = defaults + 0.5, obligors - defaults + 0.5
    norm_ = math.exp(math.lgamma(a) + math.lgamma(b) - math.lgamma(a + b))

    def density(x: float) -> float:
        return float(x ** (a - 1) * (1 - x) ** (b - 1) / norm_)

    integral, _ = quad(density, 0, pd, limit=200)
    assert jeffreys_p(defaults, obligors, pd) == pytest.approx(integral, rel=1e-5, abs=1e-9)


def test_lights_at_their_bounds() -> None:
    assert light(0.06) == "green" and light(0.05) == "yellow"
    assert light(0.0011) == "yellow" and light(0.001) == "red"


def test_herfindahl() -> None:
    assert herfindahl(np.array([1.0, 1.0, 1.0, 1.0])) == pytest.approx(0.25)
    assert herfindahl(np.array([0.0, 5.0])) == pytest.approx(1.0)


@settings(max_examples=30, deadline=None)
@given(st.lists(st.tuples(st.integers(0, 6), st.booleans()), min_size=4, max_size=40))
def test_the_auc_and_delongs_variance_equal_their_pairwise_definitions(
    rows: list[tuple[int, bool]],
) -> None:
    risk = np.array([r for r, _ in rows], dtype=float)
    bad = np.array([b for _, b in rows])
    m, n = int(bad.sum()), int((~bad).sum())
    if m < 2 or n < 2:
        return

    def psi(x: float, y: float) -> float:
        return 1.0 if x > y else 0.5 if x == y else 0.0

    pos, neg = risk[bad], risk[~bad]
    auc = sum(psi(x, y) for x in pos for y in neg) / (m * n)
    v10 = np.array([sum(psi(x, y) for y in neg) / n for x in pos])
    v01 = np.array([sum(psi(x, y) for x in pos) / m for y in neg])
    variance = np.var(v10, ddof=1) / m + np.var(v01, ddof=1) / n
    found = auc_delong(risk, bad, reference=0.5)
    assert found.auc == pytest.approx(auc)
    assert found.se == pytest.approx(math.sqrt(variance), abs=1e-12)
    assert found.gini == pytest.approx(2 * auc - 1)


GRADES = ["A", "B", "C", "D", "E", "F", "G"]
PDS = [0.005, 0.015, 0.03, 0.055, 0.09, 0.16, 0.3]


def _book(size: int, seed: int, understated: str | None) -> pl.DataFrame:
    rng = np.random.default_rng(seed)
    grade = rng.choice(len(GRADES), size=size, p=[0.1, 0.15, 0.2, 0.2, 0.15, 0.12, 0.08])
    pd = np.array(PDS)[grade] * rng.uniform(0.8, 1.2, size)
    truth = pd * np.where(np.array(GRADES)[grade] == understated, 1.6, 1.0)
    return pl.DataFrame(
        {"grade": np.array(GRADES)[grade], "pd_12m": pd, "defaulted": rng.random(size) < truth}
    )


@pytest.mark.parametrize("understated", ["B", "D", "F"])
def test_an_understated_grade_turns_red_and_no_other(understated: str) -> None:
    found = grade_backtest(_book(200_000, 7, understated))
    red = set(found.filter(pl.col("jeffreys") == "red")["grade"]) - {"book"}
    assert red == {understated}
    assert set(found.filter(pl.col("binomial") == "red")["grade"]) - {"book"} == {understated}


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_a_calibrated_book_has_no_red_grade(seed: int) -> None:
    found = grade_backtest(_book(200_000, seed, None))
    assert (found["jeffreys"] != "red").all() and (found["binomial"] != "red").all()
    book = found.filter(pl.col("grade") == "book").row(0, named=True)
    assert book["obligors"] == 200_000
