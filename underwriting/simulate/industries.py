"""The simulator's industry catalogue: the embedded default book's industries.

Each industry has a typical monthly sales level, a seasonal shape (index per calendar
month, mean 1), its sales volatility, long-run growth, a base 12-month default rate, the
lender's maximum loan for it and whether it may be lent to at all. Seasonal shapes follow
well-known patterns: retail peaks in November-December, tourism in summer, fitness in
January, florists around Valentine's and Mother's Day.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Industry:
    code: str
    name: str
    median_monthly_sales: float
    seasonality: tuple[float, ...]  # 12 values, January first
    volatility: float  # month-to-month log-sd of sales shocks
    growth: float  # typical annual log growth
    default_rate: float  # base 12-month default rate
    max_limit: float
    allowed: bool
    avg_ticket: float
    online_share: float  # share of merchants with shop-traffic data


def _normalised(*shape: float) -> tuple[float, ...]:
    mean = sum(shape) / len(shape)
    return tuple(round(s / mean, 4) for s in shape)


FLAT = _normalised(1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1)
RETAIL_DECEMBER = _normalised(0.8, 0.75, 0.85, 0.9, 0.95, 0.9, 0.9, 0.95, 0.9, 1.0, 1.3, 1.8)
TOYS_DECEMBER = _normalised(0.55, 0.5, 0.6, 0.65, 0.7, 0.7, 0.7, 0.75, 0.75, 0.95, 1.6, 2.9)
SUMMER_TOURISM = _normalised(0.55, 0.6, 0.75, 0.9, 1.1, 1.45, 1.75, 1.7, 1.2, 0.85, 0.6, 0.75)
WINTER_SPORTS = _normalised(1.7, 1.6, 1.2, 0.7, 0.6, 0.7, 0.75, 0.7, 0.75, 0.9, 1.3, 1.8)
FITNESS_JANUARY = _normalised(1.5, 1.25, 1.1, 1.0, 0.95, 0.85, 0.8, 0.85, 1.0, 1.0, 0.9, 0.8)
FLORIST = _normalised(0.8, 1.7, 1.0, 1.0, 1.6, 0.9, 0.7, 0.7, 0.8, 0.9, 0.9, 1.2)
RESTAURANT = _normalised(0.85, 0.85, 0.95, 1.0, 1.05, 1.1, 1.1, 1.1, 1.0, 1.0, 0.95, 1.05)
CONSTRUCTION = _normalised(0.6, 0.65, 0.9, 1.1, 1.2, 1.25, 1.25, 1.2, 1.15, 1.05, 0.9, 0.75)

CATALOGUE: tuple[Industry, ...] = (
    Industry("5411", "Grocery stores", 42_000, FLAT, 0.08, 0.03, 0.035, 150_000, True, 32, 0.45),
    Industry("5812", "Restaurants", 28_000, RESTAURANT, 0.14, 0.02, 0.085, 80_000, True, 27, 0.55),
    Industry(
        "5651", "Apparel stores", 22_000, RETAIL_DECEMBER, 0.16, 0.01, 0.065, 70_000, True, 58, 0.75
    ),
    Industry(
        "5732",
        "Electronics stores",
        36_000,
        RETAIL_DECEMBER,
        0.15,
        0.02,
        0.06,
        100_000,
        True,
        145,
        0.8,
    ),
    Industry(
        "5945", "Toy and game shops", 15_000, TOYS_DECEMBER, 0.18, 0.00, 0.07, 50_000, True, 36, 0.7
    ),
    Industry(
        "7011",
        "Hotels and lodging",
        55_000,
        SUMMER_TOURISM,
        0.17,
        0.02,
        0.055,
        200_000,
        True,
        210,
        0.85,
    ),
    Industry(
        "4722", "Travel agencies", 31_000, SUMMER_TOURISM, 0.22, 0.01, 0.09, 90_000, True, 480, 0.9
    ),
    Industry(
        "5941",
        "Ski and sporting goods",
        19_000,
        WINTER_SPORTS,
        0.17,
        0.01,
        0.065,
        60_000,
        True,
        75,
        0.7,
    ),
    Industry(
        "7230", "Hair and beauty salons", 11_000, FLAT, 0.10, 0.02, 0.05, 40_000, True, 45, 0.35
    ),
    Industry("7538", "Auto repair shops", 24_000, FLAT, 0.12, 0.01, 0.045, 80_000, True, 260, 0.3),
    Industry("5912", "Pharmacies", 48_000, FLAT, 0.06, 0.03, 0.025, 180_000, True, 29, 0.4),
    Industry("5992", "Florists", 9_000, FLORIST, 0.19, 0.00, 0.08, 30_000, True, 48, 0.6),
    Industry(
        "7997", "Fitness clubs", 17_000, FITNESS_JANUARY, 0.11, 0.02, 0.07, 60_000, True, 55, 0.65
    ),
    Industry(
        "1520",
        "Building contractors",
        45_000,
        CONSTRUCTION,
        0.25,
        0.02,
        0.095,
        150_000,
        True,
        1_900,
        0.25,
    ),
    Industry("7995", "Betting and gambling", 40_000, FLAT, 0.20, 0.02, 0.11, 0.0, False, 60, 0.9),
)

REGIONS: tuple[str, ...] = ("north", "south", "east", "west", "central")
