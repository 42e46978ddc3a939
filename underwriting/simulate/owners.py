"""The simulated owners table: principal owners' self-reported demographics (section 1071
categories, `underwriting.fairness.owners`) with a planted disparity.

Demographics here depend on a merchant's industry and region only, never on its health or
its cash flow. A minority-owned business is more likely in betting, building, hotels,
pharmacies, grocery and electronics (the industries the lender's policy approves least,
whatever the season) and in the south; a women-owned one in salons, florists and apparel.
So decisions differ by group through the industry (a proxy): minority-owned businesses
are approved at about four fifths of the others' rate (0.79 on a book of 20,000 merchants
in eight cohorts, 0.86 on the 2,000-merchant sample), and sales over 90 days, which the
industry sets, is strongly associated with the groups while chargebacks are not. About
one owner in ten declines to answer ("not provided"), more often among minority owners.
"""

from __future__ import annotations

import numpy as np
import polars as pl

from underwriting.fairness.owners import NOT_PROVIDED, OWNERS_SCHEMA

OWNERS_SEED = 1071
"""Mixed into the simulator's seed: the owners' draws never disturb the book's."""

_MINORITY_BY_INDUSTRY = {
    "7995": 4.0, "1520": 3.2, "7011": 3.0, "5912": 2.6, "5411": 1.4, "5732": 1.0,
    "7997": -2.0, "5941": -2.0, "5812": -2.0, "7230": -2.0, "5651": -2.0, "5992": -2.0,
}  # fmt: skip
"""Log-odds of a minority-owned business by industry: high in the industries the policy
approves least whatever the season (betting, building, hotels, pharmacies, grocery,
electronics), low where it approves most."""
_MINORITY_BY_REGION = {"south": 0.8, "east": 0.3, "central": 0.0, "west": -0.2, "north": -0.6}
_FEMALE_BY_INDUSTRY = {
    "7230": 2.2, "5992": 1.8, "5651": 1.2, "7997": 0.4, "5945": 0.3,
    "5732": -0.6, "1520": -1.8, "7538": -2.0,
}  # fmt: skip
_RACE_NOT_HISPANIC = (
    ("Black or African American", 0.50),
    ("Asian", 0.38),
    ("American Indian or Alaska Native", 0.07),
    ("Native Hawaiian or Other Pacific Islander", 0.05),
)
_RACE_HISPANIC = (
    ("White", 0.65),
    ("Black or African American", 0.12),
    ("American Indian or Alaska Native", 0.13),
    ("Asian", 0.05),
    ("Native Hawaiian or Other Pacific Islander", 0.05),
)


def _sigmoid(x: np.ndarray) -> np.ndarray:
    result: np.ndarray = 1.0 / (1.0 + np.exp(-x))
    return result


def _pick(rng: np.random.Generator, choices: tuple[tuple[str, float], ...], n: int) -> np.ndarray:
    names = np.array([c for c, _ in choices], dtype=object)
    weights = np.array([w for _, w in choices])
    return names[rng.choice(len(choices), size=n, p=weights / weights.sum())]


def simulate_owners(merchants: pl.DataFrame, seed: int, block: int) -> pl.DataFrame:
    """The owners of one simulated block of merchant profiles (industry and region read),
    drawn from their own random stream (seed, block, OWNERS_SEED)."""
    rng = np.random.default_rng([seed, block, OWNERS_SEED])
    n = merchants.height
    industry = merchants.get_column("industry_code").to_list()
    region = merchants.get_column("region").to_list()
    shift = np.array(
        [_MINORITY_BY_INDUSTRY.get(i, 0.0) + _MINORITY_BY_REGION.get(r, 0.0)
         for i, r in zip(industry, region, strict=True)]
    )  # fmt: skip
    minority = rng.random(n) < _sigmoid(-1.4 + shift)
    female_odds = np.array([_FEMALE_BY_INDUSTRY.get(i, 0.0) for i in industry])
    female = rng.random(n) < _sigmoid(-0.8 + female_odds)
    self_described = rng.random(n) < 0.01

    hispanic = minority & (rng.random(n) < 0.45)
    race = np.where(
        minority,
        np.where(hispanic, _pick(rng, _RACE_HISPANIC, n), _pick(rng, _RACE_NOT_HISPANIC, n)),
        "White",
    )
    sex = np.where(self_described, "self-described", np.where(female, "female", "male"))
    women_owned = np.where(female & ~self_described, rng.random(n) < 0.92, rng.random(n) < 0.04)

    declined = rng.random(n) < np.where(minority, 0.14, 0.08)  # declined to give demographics

    def answered(values: np.ndarray, also: float) -> np.ndarray:
        blank = declined | (rng.random(n) < also)
        return np.where(blank, NOT_PROVIDED, values)

    def flag(values: np.ndarray) -> np.ndarray:
        blank = (declined & (rng.random(n) < 0.6)) | (rng.random(n) < 0.03)
        return np.where(blank, NOT_PROVIDED, np.where(values, "yes", "no"))

    return pl.DataFrame(
        {
            "merchant_id": merchants.get_column("merchant_id"),
            "sex": answered(sex, 0.02),
            "ethnicity": answered(
                np.where(hispanic, "Hispanic or Latino", "Not Hispanic or Latino"), 0.03
            ),
            "race": answered(race, 0.03),
            "women_owned": flag(women_owned),
            "minority_owned": flag(minority),
        },
        schema=OWNERS_SCHEMA,
    )
