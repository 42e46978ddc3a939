"""The fair-lending screen: how a book's decisions fall across the owners' groups.

For each protected attribute, each group against its reference group (`REFERENCE`):
- the adverse impact ratio (AIR) of approval and of approve-or-refer, the group's rate
  over the reference's, read against the four-fifths rule (below 0.8 is adverse impact),
  with the counts and Fisher's exact test of the 2x2 table;
- the standardized mean difference (SMD) of the approved limit and of the PD: the
  difference of means over the pooled standard deviation sqrt((s1^2 + s2^2) / 2);
- the principal reasons given to the declined, by group;
- each model feature's association with the attribute (Cramér's V over the feature's
  scorecard bins), flagging strong proxies;
- what "not provided" does: each AIR again with those who did not answer counted in the
  group, then in the reference group.

A screen, not a finding: a low AIR says where to look (a proxy, a rule), not why. Pure
functions on frames of decisions joined to the owners table.
"""

from __future__ import annotations

from typing import Literal

import numpy as np
import polars as pl
from scipy.stats import chi2_contingency, fisher_exact

from underwriting.fairness.owners import ATTRIBUTES, CATEGORIES, NOT_PROVIDED, REFERENCE
from underwriting.model.artifact import Scorecard
from underwriting.model.drift import scorecard_bins

FOUR_FIFTHS = 0.8
"""An AIR below this is adverse impact by the four-fifths rule."""
STRONG_PROXY = 0.2
MODERATE_PROXY = 0.1
PROXY_P = 0.001
"""Cramér's V at which a feature's association with an attribute is strong (a proxy to
review) or moderate, when the chi-square test finds it at `PROXY_P`. V of a feature's
handful of bins against a group is far below 1 even where the group is concentrated in a
few industries: 0.1 is Cohen's small effect, and 0.2 already takes a strong proxy."""

Strength = Literal["strong", "moderate", "weak"]
SCREENED_COLUMNS = ("merchant_id", "outcome", "limit", "pd_12m", "reason_codes")


def screened(decisions: pl.DataFrame, owners: pl.DataFrame) -> pl.DataFrame:
    """Decisions (`SCREENED_COLUMNS`) beside their owners' answers; merchants without an
    owners row are left out (count them with `without_owners`)."""
    return decisions.select(SCREENED_COLUMNS).join(owners, on="merchant_id", how="inner")


def without_owners(decisions: pl.DataFrame, owners: pl.DataFrame) -> int:
    """Decided merchants that have no row in the owners table."""
    return decisions.join(owners, on="merchant_id", how="anti").height


def _groups(frame: pl.DataFrame, attribute: str) -> list[str]:
    present = set(frame.get_column(attribute).unique().to_list())
    return [g for g in CATEGORIES[attribute] if g in present]


def _rates(frame: pl.DataFrame, attribute: str) -> pl.DataFrame:
    return frame.group_by(pl.col(attribute).alias("group")).agg(
        pl.len().alias("applicants"),
        (pl.col("outcome") == "approve").sum().alias("approved"),
        (pl.col("outcome") != "decline").sum().alias("approved_or_referred"),
    )


def _fisher(a: int, n1: int, b: int, n2: int) -> float:
    if n1 == 0 or n2 == 0:
        return float("nan")
    return float(fisher_exact([[a, n1 - a], [b, n2 - b]]).pvalue)


def _ratio(a: int, n1: int, b: int, n2: int) -> float:
    if n1 == 0 or n2 == 0 or b == 0:
        return float("nan")
    return (a / n1) / (b / n2)


def adverse_impact(frame: pl.DataFrame, attribute: str) -> pl.DataFrame:
    """Per group of `attribute` (the reference first): applicants, approved and
    approved-or-referred with their rates, each AIR against the reference and Fisher's
    exact two-sided p-value. The reference's own row has AIR 1."""
    reference = REFERENCE[attribute]
    counts = {r["group"]: r for r in _rates(frame, attribute).iter_rows(named=True)}
    ref = counts.get(reference, {"applicants": 0, "approved": 0, "approved_or_referred": 0})
    order = [reference, *(g for g in _groups(frame, attribute) if g != reference)]
    rows = []
    for group in order:
        row = counts.get(group, {"applicants": 0, "approved": 0, "approved_or_referred": 0})
        n, n_ref = row["applicants"], ref["applicants"]
        found = {"attribute": attribute, "group": group, "reference": group == reference}
        found["applicants"] = n
        for kind in ("approved", "approved_or_referred"):
            a, b = row[kind], ref[kind]
            found[kind] = a
            found[f"{kind}_rate"] = a / n if n else float("nan")
            found[f"air_{kind}"] = _ratio(a, n, b, n_ref)
            found[f"fisher_p_{kind}"] = 1.0 if group == reference else _fisher(a, n, b, n_ref)
        rows.append(found)
    return pl.DataFrame(rows)


def _smd(group: np.ndarray, reference: np.ndarray) -> float:
    if group.size < 2 or reference.size < 2:
        return float("nan")
    pooled = np.sqrt((np.var(group, ddof=1) + np.var(reference, ddof=1)) / 2)
    if pooled == 0:
        return 0.0 if group.mean() == reference.mean() else float("nan")
    return float((group.mean() - reference.mean()) / pooled)


def standardized_differences(frame: pl.DataFrame, attribute: str) -> pl.DataFrame:
    """Per group against the reference: the mean approved limit and its SMD (among the
    approved) and the mean PD and its SMD (among all applicants)."""
    reference = REFERENCE[attribute]

    def values(group: str, column: str, approved_only: bool) -> np.ndarray:
        rows = frame.filter(pl.col(attribute) == group)
        if approved_only:
            rows = rows.filter(pl.col("outcome") == "approve")
        return rows.get_column(column).cast(pl.Float64()).to_numpy()

    ref_limit, ref_pd = values(reference, "limit", True), values(reference, "pd_12m", False)
    rows = []
    for group in _groups(frame, attribute):
        limit, pd = values(group, "limit", True), values(group, "pd_12m", False)
        rows.append(
            {
                "attribute": attribute,
                "group": group,
                "approved": limit.size,
                "mean_limit": float(limit.mean()) if limit.size else float("nan"),
                "smd_limit": _smd(limit, ref_limit),
                "applicants": pd.size,
                "mean_pd": float(pd.mean()) if pd.size else float("nan"),
                "smd_pd": _smd(pd, ref_pd),
            }
        )
    return pl.DataFrame(rows)


def decline_reasons(frame: pl.DataFrame, attribute: str) -> pl.DataFrame:
    """The principal reasons given to the declined, by group: each reason's declines and
    its share of the group's declines (a merchant counts once per reason)."""
    declined = frame.filter(pl.col("outcome") == "decline")
    per_group = declined.group_by(pl.col(attribute).alias("group")).agg(pl.len().alias("declined"))
    return (
        declined.select(
            pl.col(attribute).alias("group"), pl.col("reason_codes").list.unique().alias("reason")
        )
        .explode("reason")
        .drop_nulls("reason")
        .group_by("group", "reason")
        .agg(pl.len().alias("declines"))
        .join(per_group, on="group")
        .with_columns(share=pl.col("declines") / pl.col("declined"), attribute=pl.lit(attribute))
        .select("attribute", "group", "reason", "declines", "declined", "share")
        .sort(["group", "declines", "reason"], descending=[False, True, False])
    )


def cramers_v(first: np.ndarray, second: np.ndarray) -> tuple[float, float]:
    """Cramér's V between two categorical arrays (0 none, 1 one determines the other) and
    the chi-square test's p-value of their independence; NaN when either takes a single
    value."""
    _, a = np.unique(first, return_inverse=True)
    _, b = np.unique(second, return_inverse=True)
    table = np.zeros((a.max(initial=-1) + 1, b.max(initial=-1) + 1), dtype=np.int64)
    np.add.at(table, (a, b), 1)
    if min(table.shape) < 2:
        return float("nan"), float("nan")
    test = chi2_contingency(table, correction=False)
    v = np.sqrt(test.statistic / (table.sum() * (min(table.shape) - 1)))
    return float(v), float(test.pvalue)


def strength(v: float, p_value: float) -> Strength:
    """Cramér's V read as a proxy's strength; only an association the chi-square test
    finds (p below `PROXY_P`) is more than weak."""
    if not p_value < PROXY_P:
        return "weak"
    return "strong" if v >= STRONG_PROXY else "moderate" if v >= MODERATE_PROXY else "weak"


def proxy_associations(
    model: Scorecard, features: pl.DataFrame, owners: pl.DataFrame
) -> pl.DataFrame:
    """Each model feature's Cramér's V with each attribute, over the feature's scorecard
    bins (what the model sees) and the answers given ("not provided" left out), strongest
    first. `features` holds merchant_id and the model's features."""
    table = features.join(owners, on="merchant_id", how="inner")
    answers = {}  # each attribute's answers as small integers, once (the codes sort alike)
    for attribute in ATTRIBUTES:
        values = table.get_column(attribute).to_numpy()
        given = values != NOT_PROVIDED
        answers[attribute] = (np.unique(values, return_inverse=True)[1], given)
    rows = []
    for feature in model.features:
        bins, _ = scorecard_bins(feature, table.get_column(feature.name))
        for attribute, (codes, given) in answers.items():
            v, p = cramers_v(bins[given], codes[given])
            rows.append(
                {
                    "feature": feature.name,
                    "attribute": attribute,
                    "merchants": int(given.sum()),
                    "cramers_v": v,
                    "p_value": p,
                    "strength": strength(v, p),
                }
            )
    return pl.DataFrame(rows).sort("cramers_v", descending=True, nulls_last=True)


def not_provided_effect(frame: pl.DataFrame, attribute: str) -> pl.DataFrame:
    """Each provided group's AIRs (approval, approve-or-refer) three ways: among those who
    answered; with the "not provided" counted in the group; with them counted in the
    reference group. The spread is how much the unanswered could move the figure."""
    reference = REFERENCE[attribute]
    answered = frame.filter(pl.col(attribute) != NOT_PROVIDED)
    silent = frame.filter(pl.col(attribute) == NOT_PROVIDED)
    rows = []
    for group in _groups(answered, attribute):
        if group == reference:
            continue
        found: dict[str, object] = {
            "attribute": attribute,
            "group": group,
            "not_provided": silent.height,
        }
        ways = {
            "answered": answered,
            "in_group": pl.concat([answered, silent.with_columns(pl.lit(group).alias(attribute))]),
            "in_reference": pl.concat(
                [answered, silent.with_columns(pl.lit(reference).alias(attribute))]
            ),
        }
        for way, population in ways.items():
            impact = adverse_impact(population, attribute).filter(pl.col("group") == group)
            found[f"air_approved_{way}"] = impact.item(0, "air_approved")
            found[f"air_approved_or_referred_{way}"] = impact.item(0, "air_approved_or_referred")
        rows.append(found)
    return pl.DataFrame(rows)
