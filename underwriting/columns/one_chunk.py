"""Frames as a decision sees them: plain columns, each in one chunk of two or more rows.

polars divides a column by a constant through the constant's inverse, except where the
column holds one value: a one-row chunk (a one-row frame, a frame concatenated from
one-row frames or read from a one-row row group) or a literal, which it divides exactly.
The two can differ in the last bit (a rule's `x / 11`, the limit's `/ 90`), so a merchant
decided alone, in a batch or among requests decided together could be decided
differently. In one chunk of two or more rows, every row gets the same arithmetic.
"""

from __future__ import annotations

import polars as pl


def plain_columns(frame: pl.DataFrame) -> pl.DataFrame:
    """`frame` as plain columns in one chunk each; a one-row frame is doubled (take the
    first row of what is computed on it)."""
    columns = list(frame.iter_columns())
    if frame.height == 1:
        columns = [pl.concat([column, column]) for column in columns]
    return pl.DataFrame(columns).rechunk()
