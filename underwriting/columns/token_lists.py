"""Ragged list columns built in Arrow straight from a matrix of small integer tokens.

Decisions and scores carry lists (reasons, reason codes, rules fired) whose entries come
from a short vocabulary. Building them with polars list expressions costs more than the
whole decision; here each row's tokens, left to right, become its list in one pass: the
words are gathered as polars text and the lists laid over them through Arrow.
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
    lengths = np.zeros(tokens.shape[0], dtype=np.int64)
    for slot in range(tokens.shape[1]):  # a column at a time: numpy sums short rows slowly
        lengths += present[:, slot]
    values = _words(tuple(vocabulary)).gather(pl.Series(tokens[present], dtype=pl.UInt32()))
    return lists_of(lengths, values).alias(name)


def lists_of(lengths: np.ndarray, values: pl.Series) -> pl.Series:
    """A list column of text: row i holds the next `lengths[i]` of `values`, in order."""
    offsets = np.zeros(len(lengths) + 1, dtype=np.int64)
    np.cumsum(lengths, out=offsets[1:])
    # polars hands its text to Arrow as string views and takes them back without a copy
    text = values.cast(pl.String()).to_arrow(compat_level=pl.CompatLevel.newest())
    return pl.Series(pa.LargeListArray.from_arrays(pa.array(offsets), text))


@cache
def _words(vocabulary: tuple[str, ...]) -> pl.Series:
    """A vocabulary as a column of text, made once (a gather from it is a column of words)."""
    return pl.Series(vocabulary, dtype=pl.String())


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
