"""The units the contract measures in: the largest amount of one record, and a month."""

from __future__ import annotations

MAX_MONEY = 1e12
"""The largest amount of one record, in currency: far above any merchant's day, and low
enough that two years of daily amounts sum exactly in whole cents (an Int64)."""

DAYS_PER_MONTH = 365 / 12
"""The days of an average month: what every monthly figure (sales, limits) is scaled by."""

MAX_COUNT = 1_000_000_000
"""The largest count of one record (a day's transactions, visits or orders): ten years of
days at this bound sum far inside an Int64."""

MAX_ID_LENGTH = 200
"""The longest identifier or name (merchant, industry, region): what the store's columns hold."""

NO_CONTROL_CHARACTERS = r"^[^\x00-\x1f\x7f]*$"
"""Text of an identifier or name: no control characters (NUL, line breaks, escapes)."""
