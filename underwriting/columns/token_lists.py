"""Ragged list columns built in Arrow straight from a matrix of small integer tokens.

Decisions and scores carry lists (reasons, reason codes, rules fired) whose entries come
from a short vocabulary. Building them with polars list expressions costs more than the
whole decision; here each row's tokens, left to right, become its list in one pass.
"""

from __future__ import annotations

from functools import cache

import numpy as np
import polars as pl
import pyarrow as pa


def token_lists(name: str, tokens: np.ndarray, vocabulary: list[str]) -> pl.Series:
    """A list column: row i holds vocabulary[t] for each token t >= 0 of tokens[i], in order.

    `tokens` is (rows x slots) with -1 for an empty slot; entries are text.
    """
    present = tokens >= 0
    words = list(dict.fromkeys(vocabulary))
    position = np.array([words.index(v) for v in vocabulary], dtype=np.uint32)
    values = enum_values(tuple(words)).gather(
        pl.Series(position.take(tokens[present]), dtype=pl.UInt32())
    )
    return lists_of(present.sum(axis=1), values).alias(name)


def lists_of(lengths: np.ndarray, values: pl.Series) -> pl.Series:
    """A list column of text: row i holds the next `lengths[i]` of `values`, in order."""
    offsets = np.zeros(len(lengths) + 1, dtype=np.int64)
    np.cumsum(lengths, out=offsets[1:])
    lists = pa.LargeListArray.from_arrays(pa.array(offsets), values.to_arrow())
    # An Enum's words arrive as a Categorical; text is what readers of decisions expect.
    return pl.Series(lists).cast(pl.List(pl.String()))


@cache
def enum_values(values: tuple[str, ...]) -> pl.Series:
    """`values` as a column of their own Enum, made once per vocabulary (a gather from it
    is a column of those words): making the Enum costs more than the gather."""
    return pl.Series(values, dtype=pl.Enum(values))


def first_present(tokens: np.ndarray, keep: int) -> np.ndarray:
    """`tokens` with all but the first `keep` present tokens of each row emptied (-1)."""
    present = tokens >= 0
    kept = present & (np.cumsum(present, axis=1, dtype=np.int16) <= keep)
    return np.where(kept, tokens, np.int16(-1)).astype(tokens.dtype, copy=False)
