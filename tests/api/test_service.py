"""A merchant decided by id is decided from the frames the lookup read; a replay decides
its stored input, JSON values read back into frames. The two must be the same frames,
value for value, or a replay could differ from the decision it replays. And the daily
rows polars writes as the stored input's JSON must be the bytes json.dumps writes for
them, or the input's hash would depend on the path that stored it."""

from __future__ import annotations

import datetime as dt
import json
import shutil
from pathlib import Path

import polars as pl
from hypothesis import example, given
from hypothesis import strategies as st
from polars.testing import assert_frame_equal

from api import store
from api.service import (
    ById,
    Found,
    Service,
    _by_id,
    _daily_inputs,
    _frame,
    _json_lists,
    _rows,
    application_from_input,
)
from tests.api.conftest import settings_for
from underwriting.applications import Application, Prepared
from underwriting.contract.tables import CASHFLOW

AS_OF = dt.date(2026, 10, 1)


def _service(data: Path, models_dir: Path) -> Service:
    return Service.load(settings_for("sqlite://", data, models_dir))


def _frames(application: Application) -> list[pl.DataFrame]:
    return [application.merchant, application.cashflow, application.traffic]


def test_looked_up_frames_are_the_frames_the_stored_input_reads_back_as(
    small_book: Path, models_dir: Path
) -> None:
    service = _service(small_book, models_dir)
    ids = service.merchants.profiles.get_column("merchant_id").to_list()
    for start in range(0, len(ids), 100):
        requests = [
            ById(m, AS_OF, 25_000.0 if i % 2 else None)
            for i, m in enumerate(ids[start : start + 100])
        ]
        found = service.lookup_many([r.merchant_id for r in requests])
        direct, read_back = [], []
        for request in requests:
            entry = found[request.merchant_id]
            assert isinstance(entry, Found) and entry.frames is not None
            stored, application = _by_id(request, entry)
            assert isinstance(application, Application)
            replayed = application_from_input(json.loads(store.canonical_json(stored)))[0]
            for mine, theirs in zip(_frames(application), _frames(replayed), strict=True):
                assert_frame_equal(mine, theirs, check_exact=True)
            direct.append(application)
            read_back.append(replayed)
        for a, b in zip(
            service.engine.prepare_many(direct),
            service.engine.prepare_many(read_back),
            strict=True,
        ):
            assert isinstance(a, Prepared) and isinstance(b, Prepared)
            assert_frame_equal(a.features, b.features, check_exact=True)


# Days since 1970, drawn directly: Python's dates stop at year 9999. Polars writes a date
# as text up to about ±262,000 years (chrono's range; past it, it panics on any display).
_DAYS = st.integers(-95_000_000, 95_000_000)
_FLOATS = st.floats(allow_nan=True, allow_infinity=True) | st.none()


@given(
    st.lists(
        st.tuples(st.text() | st.none(), _DAYS | st.none(), _FLOATS, _FLOATS, _FLOATS,
                  st.integers(-(2**63), 2**63 - 1) | st.none()),
        max_size=5,
    )
)  # fmt: skip
def test_any_contract_typed_rows_survive_the_stored_inputs_json(
    rows: list[tuple[object, ...]],
) -> None:
    names = list(CASHFLOW.schema)
    frame = pl.DataFrame(
        rows, schema={**CASHFLOW.schema, "date": pl.Int32()}, orient="row"
    ).with_columns(pl.col("date").cast(pl.Date()))
    assert frame.columns == names
    stored = json.loads(store.canonical_json(_rows(frame)))
    assert_frame_equal(_frame(CASHFLOW, stored), frame, check_exact=True)


def test_frames_of_other_types_are_read_back_from_the_input(
    small_book: Path, models_dir: Path, tmp_path: Path
) -> None:
    data = tmp_path / "book"
    shutil.copytree(small_book, data)
    cashflow = pl.read_parquet(data / "cashflow")
    shutil.rmtree(data / "cashflow")
    (data / "cashflow").mkdir()
    narrow = cashflow.with_columns(pl.col("transaction_count").cast(pl.Int32()))
    narrow.write_parquet(data / "cashflow" / "part-00000.parquet")
    service = _service(data, models_dir)
    merchant = cashflow.get_column("merchant_id")[0]

    entry = service.lookup_many([merchant])[merchant]
    assert isinstance(entry, Found) and entry.frames is None
    decided = service._decide_many([ById(merchant, AS_OF)])[0]
    assert isinstance(decided, tuple)
    assert decided[1] == service.decide_alone(decided[0])[0]


def test_daily_rows_written_by_polars_are_the_bytes_their_dicts_give(small_book: Path) -> None:
    for table in ("cashflow", "traffic"):
        frame = pl.read_parquet(small_book / table)
        as_text, as_dicts = _daily_inputs(frame, True), _daily_inputs(frame, False)
        assert as_text.keys() == as_dicts.keys()
        assert len(as_text) == frame.get_column("merchant_id").n_unique() > 300
        for merchant, written in as_text.items():
            assert isinstance(written, store.Encoded)
            assert written.text == store.canonical_json(as_dicts[merchant])
        stored = {"as_of": "2026-10-01", "cashflow": written, "merchant": {"b": 1, "a": [2]}}
        as_values = {**stored, "cashflow": as_dicts[merchant]}
        assert store.canonical_json(stored) == store.canonical_json(as_values)


_PLAIN = st.text(st.characters(min_codepoint=32, max_codepoint=126, exclude_characters='"\\'))


@given(
    st.lists(
        st.tuples(
            st.sampled_from(["M1", "M2", "M3"]),
            _DAYS,
            _PLAIN | st.text() | st.none(),
            st.floats(min_value=1e-4, max_value=1e300) | st.floats(-1e-4, 1e-4) | _FLOATS,
            st.integers(-(2**63), 2**63 - 1) | st.none(),
            st.booleans() | st.none(),
        ),
        max_size=8,
    ),
    st.booleans(),
)
@example([("M1", 0, "a", 1.5e-05, 1, True)], False)  # Python writes 1.5e-05, polars 0.000015
@example([("M1", 0, "é", 1.0, 1, True)], False)  # Python escapes it: \u00e9
def test_polars_writes_a_merchants_rows_as_json_writes_their_dicts_or_declines(
    rows: list[tuple[object, ...]], plain: bool
) -> None:
    schema = {
        "merchant_id": pl.String(),
        "date": pl.Int32(),
        "note": pl.String(),
        "amount": pl.Float64(),
        "count": pl.Int64(),
        "flag": pl.Boolean(),
    }
    frame = pl.DataFrame(rows, schema=schema, orient="row").with_columns(
        pl.col("date").cast(pl.Date())
    )
    if plain:  # values polars must write: the test cannot pass by always declining
        frame = frame.with_columns(
            pl.col("note").str.replace_all(r"[^ !#-\[\]-~]", "x"),
            pl.when(pl.col("amount").is_finite() & (pl.col("amount").abs() >= 1e-4))
            .then(pl.col("amount"))
            .otherwise(0.0),
        )
    written = _json_lists(frame)
    if plain:
        assert written is not None
    if written is None:
        return
    for (merchant,), part in frame.partition_by("merchant_id", as_dict=True).items():
        assert written[str(merchant)].text == store.canonical_json(_rows(part))
