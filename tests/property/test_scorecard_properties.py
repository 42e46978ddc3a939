"""Properties of a trained scorecard: monotone PDs and honest reasons."""

from __future__ import annotations

import numpy as np
import polars as pl
from hypothesis import example, given
from hypothesis import strategies as st

from underwriting.features.registry import FEATURES_BY_NAME
from underwriting.model.artifact import CategoricalBinning, NumericBinning, Scorecard
from underwriting.model.binning import OTHER
from underwriting.model.reasons import _sentences, reason_texts
from underwriting.model.scoring import (
    MAX_REASONS,
    _bin_index,
    _CompiledFeature,
    _reason_codes,
    score,
    score_arrays,
)
from underwriting.policy.parameters import Policy


@given(data=st.data())
def test_pd_is_monotone_in_every_feature_in_its_direction(
    data: st.DataObject, trained: tuple[Scorecard, Policy], training_table: pl.DataFrame
) -> None:
    model, _ = trained
    numeric = [f for f in model.features if isinstance(f.binning, NumericBinning)]
    feature = data.draw(st.sampled_from(numeric))
    row = training_table.sample(1, seed=data.draw(st.integers(0, 10_000)))
    low, high = sorted(data.draw(st.lists(st.floats(-1e6, 1e6), min_size=2, max_size=2)))
    pair = pl.concat(
        [
            row.with_columns(pl.lit(low).alias(feature.name)),
            row.with_columns(pl.lit(high).alias(feature.name)),
        ]
    )
    _, _, pd_12m = score_arrays(model, pair)
    assert isinstance(feature.binning, NumericBinning)
    if feature.binning.trend == "ascending":
        assert pd_12m[1] >= pd_12m[0]
    else:
        assert pd_12m[1] <= pd_12m[0]
    declared = FEATURES_BY_NAME.get(feature.name)
    if declared is not None and declared.direction is not None:
        assert feature.binning.trend == (
            "ascending" if declared.direction == "riskier" else "descending"
        )


@given(row=st.integers(0, 4999))
def test_reasons_are_ordered_by_points_lost_and_never_at_the_best_bin(
    row: int, trained: tuple[Scorecard, Policy], training_table: pl.DataFrame
) -> None:
    model, policy = trained
    frame = training_table.slice(row % training_table.height, 1)
    _, lost, _ = score_arrays(model, frame)
    names = [f.name for f in model.features]
    reasons = score(model, policy, frame)["reasons"][0].to_list()
    lost_by_name = dict(zip(names, lost[0], strict=True))
    shown = [lost_by_name[r] for r in reasons]
    assert len(set(reasons)) == len(reasons)
    assert shown == sorted(shown, reverse=True)
    assert all(points > 0 for points in shown)
    # Nothing left out lost more than the last reason given.
    others = [v for n, v in lost_by_name.items() if n not in reasons]
    if len(reasons) == 4 and others:
        assert max(others) <= shown[-1] + 1e-9
    if len(reasons) < 4:
        assert all(v <= 1e-9 for v in others)
    assert np.all(lost >= -1e-9)


_TEXT = st.sampled_from(["", "5411", "7997", "__other__", "x", "é"]) | st.text(max_size=3)


@given(
    categories=st.lists(_TEXT.filter(lambda c: c != OTHER), max_size=5, unique=True),
    values=st.lists(st.none() | _TEXT, max_size=8),
)
@example(categories=["", "a"], values=[None, "", "a", "b", OTHER])
@example(categories=["a"], values=[None, "", "a"])
@example(categories=[], values=["a", None])
def test_a_category_is_binned_by_its_position_and_anything_else_as_other(
    categories: list[str], values: list[str | None]
) -> None:
    """Each value's bin is its category's position; a value of no category is OTHER,
    and a missing one reads as "" (so it has the "" bin when "" is a category)."""
    binning = CategoricalBinning(
        categories=(*categories, OTHER),
        woe=(0.0,) * (len(categories) + 1),
        counts=(1,) * (len(categories) + 1),
        bads=(0,) * (len(categories) + 1),
    )
    compiled = _CompiledFeature("industry_code", binning, np.zeros(len(categories) + 1), 0.0)
    expected = [
        binning.categories.index("" if v is None else v)
        if ("" if v is None else v) in binning.categories
        else len(categories)
        for v in values
    ]
    found = _bin_index(compiled, pl.Series(values, dtype=pl.String()))
    assert found.dtype == np.int32 and found.tolist() == expected


@given(data=st.data())
@example(data=None)  # the fixed codes below: every case at once
def test_reason_codes_read_as_their_feature_or_fixed_sentence_in_order(
    data: st.DataObject | None, trained: tuple[Scorecard, Policy], training_table: pl.DataFrame
) -> None:
    """Per row, the first four codes: a feature's name reads as that row's sentence for it,
    a fixed code as its sentence; any other code, and a null sentence, is left out."""
    model, _ = trained
    names = [f.name for f in model.features]
    fixed = {"KO-X": "Knocked out", names[0]: "never used: a feature's name reads as it"}
    blank = [names[1], *(c for c in training_table.columns if c.startswith("industry_median"))]
    rows = training_table.head(6).with_columns(  # row 2: a missing value and industry figure
        pl.when(pl.int_range(pl.len()) == 2).then(None).otherwise(pl.col(c)).alias(c) for c in blank
    )
    vocabulary = [*names, "KO-X", "UNKNOWN", ""]
    if data is None:
        codes: list[list[str] | None] = [
            [names[0], "KO-X", "UNKNOWN", names[1], names[2], names[3]],
            None,
            [names[1], "KO-X"],
            [],
            ["", names[0]],
            [names[2]] * 5,
        ]
    else:
        codes = data.draw(
            st.lists(
                st.none() | st.lists(st.sampled_from(vocabulary), max_size=6),
                min_size=6,
                max_size=6,
            )
        )
    found = reason_texts(pl.Series(codes, dtype=pl.List(pl.String())), rows, model, None, fixed)
    sentences = rows.select(_sentences(model, None))
    expected = []
    for i, row_codes in enumerate(codes):
        said = []
        for code in (row_codes or [])[:4]:
            text = sentences[code][i] if code in names else fixed.get(code)
            if text is not None:
                said.append(text)
        expected.append(said)
    assert found.dtype == pl.List(pl.String()) and found.to_list() == expected


@given(data=st.data())
def test_reason_codes_are_the_features_that_lost_most_earlier_first_on_ties(
    data: st.DataObject,
) -> None:
    """Against a plain sort per row: ranks of points lost (0: none lost), with ties broken
    by feature position, narrow and wide ranks, fewer features than reason slots."""
    features = data.draw(st.integers(1, 12), label="features")
    rows = data.draw(st.integers(1, 20), label="rows")
    top_rank = data.draw(st.sampled_from([3, 255, 256, 700]), label="top rank")
    slots = min(MAX_REASONS, features)
    ranks, indices = [], []
    for _ in range(features):
        bins = data.draw(st.integers(1, 5))
        ranks.append(
            np.array(
                data.draw(st.lists(st.integers(0, top_rank), min_size=bins, max_size=bins)),
                dtype=np.uint32,
            )
        )
        indices.append(
            np.array(
                data.draw(st.lists(st.integers(0, bins - 1), min_size=rows, max_size=rows)),
                dtype=np.int8,
            )
        )
    codes = _reason_codes(ranks, indices, slots)
    for row in range(rows):
        lost = sorted(((int(ranks[j][indices[j][row]]), -j) for j in range(features)), reverse=True)
        expected = [-j for rank, j in lost if rank > 0][:slots]
        assert codes[row].tolist() == expected + [-1] * (slots - len(expected))
