"""Properties of training on any table: stored points monotone, row order irrelevant, and
noise columns not kept (at the stated false-keep rate)."""

from __future__ import annotations

import numpy as np
import polars as pl
from hypothesis import given, settings
from hypothesis import strategies as st

from tests.conftest import RULES_V1
from underwriting.io.rule_sets import load_policy
from underwriting.model.binning import BinningLimits, Trend, bin_numeric
from underwriting.model.training import TrainingOptions, train

POLICY, POLICY_VERSION = load_policy(RULES_V1)
KEYLESS = TrainingOptions(target="bad", exclude=(), date_column=None)


@given(
    seed=st.integers(0, 2**32 - 1),
    rows=st.integers(200, 3000),
    slope=st.floats(0.01, 3.0),
    descending=st.booleans(),
    prebins=st.integers(5, 40),
    min_share=st.sampled_from([0.0, 0.01, 0.05]),
)
def test_stored_woe_is_strictly_monotone_in_the_bins_direction(
    seed: int, rows: int, slope: float, descending: bool, prebins: int, min_share: float
) -> None:
    """Bad rates that rise with x (or fall) give stored WoE, so points, that move one way
    only, however close neighbouring bad rates are after smoothing."""
    r = np.random.default_rng(seed)
    x = r.normal(size=rows)
    direction = -1.0 if descending else 1.0
    bad = r.random(rows) < 1 / (1 + np.exp(-(direction * slope * x - 1.5)))
    trend: Trend = "descending" if descending else "ascending"
    limits = BinningLimits(prebins=prebins, min_bin_share=min_share, max_bins=40)
    binning = bin_numeric(x, bad, trend, limits)
    steps = np.diff(binning.woe) * direction
    assert (steps > 0).all(), binning.woe


@settings(max_examples=15, deadline=None)
@given(seed=st.integers(0, 2**32 - 1), order=st.randoms(use_true_random=False))
def test_the_rows_of_a_keyless_table_in_any_order_give_the_same_model(
    seed: int, order: object
) -> None:
    r = np.random.default_rng(seed)
    x = r.normal(size=600)
    kind = r.choice(["a", "b", "c"], 600)
    bad = (r.random(600) < 1 / (1 + np.exp(-(x + (kind == "c") - 1)))).astype(int)
    frame = pl.DataFrame({"x": np.round(x, 1), "kind": kind, "bad": bad})  # with duplicates
    positions = list(range(frame.height))
    order.shuffle(positions)  # type: ignore[attr-defined]
    shuffled = frame[positions]
    first = train(frame, KEYLESS, POLICY, POLICY_VERSION, "x")
    again = train(shuffled, KEYLESS, POLICY, POLICY_VERSION, "x")
    assert again.version == first.version


FALSE_KEEP_RATE = 0.001
"""The stated chance that any noise column of a table is kept (Bonferroni over candidates)."""


@settings(max_examples=20, deadline=None, derandomize=True)
@given(seed=st.integers(0, 2**32 - 1), noise=st.integers(1, 60), rows=st.integers(300, 2000))
def test_pure_noise_columns_are_never_kept(seed: int, noise: int, rows: int) -> None:
    r = np.random.default_rng(seed)
    x = r.normal(size=rows)
    bad = (r.random(rows) < 1 / (1 + np.exp(-(1.2 * x - 1)))).astype(int)
    columns = {f"noise{i:02d}": r.normal(size=rows) for i in range(noise)}
    columns |= {f"kind{i:02d}": r.choice(list("abcd"), rows) for i in range(noise // 4)}
    frame = pl.DataFrame({"x": x, "bad": bad, **columns})
    options = TrainingOptions(
        target="bad", exclude=(), date_column=None, false_keep_rate=FALSE_KEEP_RATE
    )
    model = train(frame, options, POLICY, POLICY_VERSION, "x")
    assert [f.name for f in model.features] == ["x"]
