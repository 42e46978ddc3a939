"""The comparison's figures over any two arms' decisions of one book: the swap set's cells
sum to the merchants and to each arm's totals, the swap groups partition the book, the
unchanged counts nest, an arm against itself swaps nobody, and every moved limit is
explained."""

from __future__ import annotations

import polars as pl
from hypothesis import given, settings
from hypothesis import strategies as st

from underwriting.decision import OUTCOMES
from underwriting.reports.comparison_figures import (
    SWAP_GROUPS,
    counted_lists,
    limit_changes,
    side_by_side,
    swap_groups,
    swap_set,
    unchanged,
)

GRADES = pl.Enum(["A", "B", "C"])
RULES = ["KO-TENURE", "REF-SPIKE", "LC-VOLATILE"]


@st.composite
def arms(draw: st.DrawFn) -> tuple[pl.DataFrame, pl.DataFrame]:
    """Two arms' decisions of the same merchants (each field drawn per arm)."""
    n = draw(st.integers(1, 30))
    ids = [f"M{i:04d}" for i in range(n)]

    def arm() -> pl.DataFrame:
        outcomes = draw(st.lists(st.sampled_from(OUTCOMES), min_size=n, max_size=n))
        limits = [0 if o == "decline" else draw(st.integers(0, 50)) * 500 for o in outcomes]
        pds = draw(st.lists(st.floats(0.001, 0.5), min_size=n, max_size=n))
        return pl.DataFrame(
            {
                "merchant_id": ids,
                "outcome": outcomes,
                "grade": draw(st.lists(st.sampled_from(["A", "B", "C"]), min_size=n, max_size=n)),
                "limit": limits,
                "pd_12m": pds,
                "score": [600] * n,
                "expected_loss": [0.45 * p * lim for p, lim in zip(pds, limits, strict=True)],
                "reason_codes": draw(
                    st.lists(st.lists(st.sampled_from(RULES), max_size=3), min_size=n, max_size=n)
                ),
                "rules_fired": draw(
                    st.lists(st.lists(st.sampled_from(RULES), max_size=3), min_size=n, max_size=n)
                ),
                "binding_constraint": draw(
                    st.lists(
                        st.sampled_from(["grade_multiple", "capacity", None]),
                        min_size=n,
                        max_size=n,
                    )
                ),
                "industry_code": draw(
                    st.lists(st.sampled_from(["5411", "7011"]), min_size=n, max_size=n)
                ),
                "existing_exposure": [0.0] * n,
            },
            schema_overrides={
                "outcome": pl.Enum(OUTCOMES),
                "grade": GRADES,
                "limit": pl.Int64,
                "reason_codes": pl.List(pl.String),
                "rules_fired": pl.List(pl.String),
                "binding_constraint": pl.String,
            },
        )

    champion = arm()
    challenger = champion if draw(st.booleans()) else arm()
    return champion, challenger.sample(fraction=1.0, shuffle=True, seed=draw(st.integers(0, 99)))


@settings(max_examples=60)
@given(arms())
def test_the_swap_set_accounts_for_every_merchant_and_every_amount(
    both: tuple[pl.DataFrame, pl.DataFrame],
) -> None:
    champion, challenger = both
    cells = swap_set(champion, challenger)
    assert cells.height == len(OUTCOMES) ** 2
    assert int(cells["merchants"].sum()) == champion.height
    for arm, frame in (("champion", champion), ("challenger", challenger)):
        assert int(cells[f"{arm}_limit"].sum()) == int(frame["limit"].sum())
        total = float(frame["expected_loss"].sum())
        assert abs(float(cells[f"{arm}_expected_loss"].sum()) - total) < 1e-6
        by_outcome = cells.group_by(f"{arm}_outcome").agg(pl.col("merchants").sum())
        counts = dict(frame["outcome"].cast(pl.String).value_counts().iter_rows())
        assert {o: n for o, n in by_outcome.iter_rows() if n} == counts
    same = unchanged(champion, challenger)
    assert same.identical <= same.same_outcome_and_limit <= same.same_outcome <= same.merchants
    diagonal = cells.filter(pl.col("champion_outcome") == pl.col("challenger_outcome"))
    assert int(diagonal["merchants"].sum()) == same.same_outcome
    groups = swap_groups(champion, challenger)["group"].value_counts()
    assert set(groups["group"]) <= set(SWAP_GROUPS) and int(groups["count"].sum()) == same.merchants
    book = side_by_side(champion, challenger).row(0, named=True)
    assert book["change_total_limit"] == int(challenger["limit"].sum()) - int(
        champion["limit"].sum()
    )


@settings(max_examples=60)
@given(arms())
def test_an_arm_against_itself_swaps_nobody_and_every_moved_limit_is_explained(
    both: tuple[pl.DataFrame, pl.DataFrame],
) -> None:
    champion, challenger = both
    itself = swap_set(champion, champion)
    assert (
        int(
            itself.filter(pl.col("champion_outcome") != pl.col("challenger_outcome"))[
                "merchants"
            ].sum()
        )
        == 0
    )
    assert unchanged(champion, champion).identical == champion.height
    assert limit_changes(champion, champion, 10).is_empty()
    moved = limit_changes(champion, challenger, 10_000)
    joined = champion.join(challenger, on="merchant_id", suffix="_b")
    assert moved.height == (joined["limit"] != joined["limit_b"]).sum()
    assert moved["why"].is_not_null().all() and (moved["why"].str.len_chars() > 0).all()
    rules = counted_lists(champion, challenger, "rules_fired", "rule")
    for rule in rules.iter_rows(named=True):
        fired = champion["rules_fired"].list.contains(rule["rule"]).sum()
        assert rule["champion"] == fired
