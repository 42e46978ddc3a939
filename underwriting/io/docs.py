"""Write the reference pages generated from code: `python -m underwriting.io.docs [DIR]`."""

from __future__ import annotations

import sys
from pathlib import Path

from underwriting.contract import tables as contract
from underwriting.features import registry

CONTRACT_INTRO = """# The data contract

Generated from `underwriting/contract/tables.py` by `python -m underwriting.io.docs`; do not edit.

Tables are read from a data folder as `NAME.parquet`, `NAME.csv` or a folder `NAME/` of
Parquet or CSV parts. CSV columns are read as text and converted; a value that does not
convert is reported, never guessed. Dates are written `YYYY-MM-DD`. A required column that
is absent makes the whole table unusable (an error naming the table and column); a bad
value quarantines its row, with its key, field and reason, while the other rows go on.
Duplicated keys, merchants absent from `merchants`, industries absent from
`industry_benchmarks` and profiles onboarded on or after the as-of date are quarantined
too. Daily rows dated on or after the as-of date are never used: a batch (`features`,
`rescore`, `compare`) sets them aside unread and counts them (`after_as_of`; rows in =
kept + quarantined + after as-of), so a book can be scored as of any past date; a single
decision (the API, `decide`) quarantines them, so the caller hears of them.
"""

FEATURES_INTRO = """# Features

Generated from `underwriting/features/registry.py` by `python -m underwriting.io.docs`; do not edit.

Every feature is computed as of a date T from data dated strictly before T. A 30-day
period w (w = 0 the most recent) covers days T-30(w+1) to T-30w-1. A ratio whose
denominator is zero, or that needs more history than the merchant has, is null (never NaN
or infinity). `direction` is the effect on risk that credit policy expects.
"""


def pages() -> dict[str, str]:
    """File name -> content of every generated page."""
    tables = "\n\n".join(contract.markdown_table(t) for t in contract.TABLES.values())
    return {
        "data-contract.md": f"{CONTRACT_INTRO}\n{tables}\n",
        "features.md": f"{FEATURES_INTRO}\n{registry.markdown_table()}\n",
    }


def main(argv: list[str]) -> int:
    folder = Path(argv[0]) if argv else Path("docs")
    folder.mkdir(parents=True, exist_ok=True)
    for name, text in pages().items():
        (folder / name).write_text(text)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
