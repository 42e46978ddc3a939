"""The units the contract measures in: the largest amount of one record, and a month."""

from __future__ import annotations

MAX_MONEY = 1e12
"""The largest amount of one record, in currency: far above any merchant's day, and low
enough that two years of daily amounts sum exactly in whole cents (an Int64)."""

DAYS_PER_MONTH = 365 / 12
"""The days of an average month: what every monthly figure (sales, limits) is scaled by."""
