"""The fair-lending screen held to its definitions: the AIRs and rates to fairlearn's on
the same decisions, Fisher's p to scipy's and to the hypergeometric sum by hand, the SMD
to its formula, Cramér's V to the chi-square statistic; the owners table's checks."""

from __future__ import annotations

import math

import numpy as np
import polars as pl
import pytest
from fairlearn.metrics import MetricFrame, demographic_parity_ratio, selection_rate
from scipy.stats import chi2_contingency, fisher_exact, hypergeom

from underwriting.errors import InputError
from underwriting.fairness import screen
from underwriting.fairness.owners import CATEGORIES, NOT_PROVIDED, check_owners


def _book(seed: int, n: int = 3000) -> pl.DataFrame:
    """Decisions of a book whose minority-owned merchants are approved less often."""
    rng = np.random.default_rng(seed)
    group = rng.choice(["yes", "no", NOT_PROVIDED], size=n, p=[0.3, 0.6, 0.1])
    approve_p = np.where(group == "yes", 0.42, np.where(group == "no", 0.58, 0.5))
    draw = rng.random(n)
    outcome = np.where(
        draw < approve_p, "approve", np.where(draw < approve_p + 0.15, "refer", "decline")
    )
    limit = np.where(outcome == "approve", rng.integers(2, 60, size=n) * 1000, 0)
    return pl.DataFrame(
        {
            "merchant_id": [f"M{i:06d}" for i in range(n)],
            "outcome": outcome,
            "limit": limit,
            "pd_12m": rng.beta(2, 30, size=n),
            "reason_codes": [["R05"] if o == "decline" else [] for o in outcome],
            "minority_owned": group,
        }
    )


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_adverse_impact_ratios_equal_fairlearns(seed: int) -> None:
    book = _book(seed)
    table = screen.adverse_impact(book, "minority_owned")
    assert table.get_column("group").to_list() == ["no", "yes", NOT_PROVIDED]  # reference first
    for kind, chosen in (("approved", ["approve"]), ("approved_or_referred", ["approve", "refer"])):
        y_pred = book.get_column("outcome").is_in(chosen).to_numpy().astype(int)
        groups = book.get_column("minority_owned").to_numpy()
        frame = MetricFrame(
            metrics=selection_rate, y_true=y_pred, y_pred=y_pred, sensitive_features=groups
        )
        for row in table.iter_rows(named=True):
            assert row[f"{kind}_rate"] == pytest.approx(frame.by_group[row["group"]], abs=1e-12)
        for group in ("yes", NOT_PROVIDED):
            pair = np.isin(groups, [group, "no"])
            ratio = demographic_parity_ratio(
                y_pred[pair], y_pred[pair], sensitive_features=groups[pair]
            )
            air = table.filter(pl.col("group") == group).item(0, f"air_{kind}")
            assert min(air, 1 / air) == pytest.approx(ratio, abs=1e-12)
    minority = table.filter(pl.col("group") == "yes").row(0, named=True)
    assert minority["air_approved"] < screen.FOUR_FIFTHS  # the planted 0.42 / 0.58


def test_fisher_p_is_the_two_sided_exact_test() -> None:
    book = _book(4, n=400)
    table = screen.adverse_impact(book, "minority_owned")
    row = table.filter(pl.col("group") == "yes").row(0, named=True)
    ref = table.filter(pl.col("reference")).row(0, named=True)
    a, n1, b, n2 = row["approved"], row["applicants"], ref["approved"], ref["applicants"]
    assert row["fisher_p_approved"] == pytest.approx(
        fisher_exact([[a, n1 - a], [b, n2 - b]]).pvalue, rel=1e-12
    )
    # by hand: the hypergeometric tables no more likely than the one seen
    dist = hypergeom(n1 + n2, a + b, n1)
    seen = dist.pmf(a)
    by_hand = sum(
        dist.pmf(k) for k in range(max(0, a + b - n2), min(n1, a + b) + 1)
        if dist.pmf(k) <= seen * (1 + 1e-7)
    )  # fmt: skip
    assert row["fisher_p_approved"] == pytest.approx(by_hand, rel=1e-6)


def test_standardized_mean_difference_is_the_pooled_formula() -> None:
    book = _book(5)
    table = screen.standardized_differences(book, "minority_owned")
    yes = book.filter(pl.col("minority_owned") == "yes")
    no = book.filter(pl.col("minority_owned") == "no")

    def smd(g: pl.Series, r: pl.Series) -> float:
        g_values, r_values = g.to_numpy(), r.to_numpy()
        pooled = math.sqrt((g_values.var(ddof=1) + r_values.var(ddof=1)) / 2)
        return float((g_values.mean() - r_values.mean()) / pooled)

    row = table.filter(pl.col("group") == "yes").row(0, named=True)
    approved = pl.col("outcome") == "approve"
    assert row["smd_limit"] == pytest.approx(
        smd(
            yes.filter(approved)["limit"].cast(pl.Float64),
            no.filter(approved)["limit"].cast(pl.Float64),
        )
    )
    assert row["smd_pd"] == pytest.approx(smd(yes["pd_12m"], no["pd_12m"]))
    assert table.filter(pl.col("group") == "no").item(0, "smd_pd") == 0.0


def test_not_provided_moves_the_ratio_between_its_two_bounds() -> None:
    book = _book(6)
    effect = screen.not_provided_effect(book, "minority_owned").row(0, named=True)
    answered = screen.adverse_impact(
        book.filter(pl.col("minority_owned") != NOT_PROVIDED), "minority_owned"
    ).filter(pl.col("group") == "yes")
    assert effect["air_approved_answered"] == answered.item(0, "air_approved")
    silent = book.filter(pl.col("minority_owned") == NOT_PROVIDED)
    assert effect["not_provided"] == silent.height
    in_group = book.with_columns(pl.col("minority_owned").replace(NOT_PROVIDED, "yes"))
    assert effect["air_approved_in_group"] == pytest.approx(
        screen.adverse_impact(in_group, "minority_owned")
        .filter(pl.col("group") == "yes")
        .item(0, "air_approved")
    )


def test_decline_reasons_share_each_groups_declines() -> None:
    book = _book(7).with_columns(
        reason_codes=pl.when(pl.col("outcome") == "decline")
        .then(pl.concat_list(pl.lit("R05"), pl.lit("R05"), pl.lit("R09")))
        .otherwise(pl.lit([], pl.List(pl.String)))
    )
    table = screen.decline_reasons(book, "minority_owned")
    declined = book.filter((pl.col("outcome") == "decline") & (pl.col("minority_owned") == "yes"))
    r05 = table.filter((pl.col("group") == "yes") & (pl.col("reason") == "R05")).row(0, named=True)
    assert r05["declines"] == declined.height  # once a merchant, though listed twice
    assert r05["share"] == 1.0


def test_cramers_v_is_the_chi_square_statistic_scaled() -> None:
    rng = np.random.default_rng(8)
    x = rng.integers(0, 5, size=2000)
    y = np.where(rng.random(2000) < 0.3 + 0.1 * x, "yes", "no")
    v, p = screen.cramers_v(x, y)
    table = np.array([[np.sum((x == i) & (y == g)) for g in ("no", "yes")] for i in range(5)])
    test = chi2_contingency(table, correction=False)
    assert v == pytest.approx(math.sqrt(test.statistic / 2000))
    assert p == pytest.approx(test.pvalue)
    assert screen.strength(v, p) == "strong"
    independent = np.where(rng.random(2000) < 0.4, "yes", "no")
    v0, p0 = screen.cramers_v(x, independent)
    assert screen.strength(v0, p0) == "weak"
    assert math.isnan(screen.cramers_v(x, np.full(2000, "no"))[0])


def _owners(**changes: str) -> pl.DataFrame:
    row = {"merchant_id": "M1", **{a: c[0] for a, c in CATEGORIES.items()}, **changes}
    return pl.DataFrame([row, {**row, "merchant_id": "M2"}])


def test_the_owners_table_refuses_unknown_categories_naming_the_fix() -> None:
    assert check_owners(_owners(race=NOT_PROVIDED), "owners.csv").height == 2
    with pytest.raises(InputError) as refused:
        check_owners(_owners(race="Martian"), "owners.csv")
    message = str(refused.value)
    assert "owners.csv" in message and "'race'" in message and "'Martian'" in message
    assert "M1" in message and "'White'" in message and NOT_PROVIDED in message
    with pytest.raises(InputError, match="lacks sex"):
        check_owners(_owners().drop("sex"), "owners.csv")
    with pytest.raises(InputError, match="one row per merchant"):
        check_owners(pl.concat([_owners(), _owners()]), "owners.csv")
