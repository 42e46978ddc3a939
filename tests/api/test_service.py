"""A merchant decided by id is decided from the frames the lookup read; a replay decides
its stored input, JSON values read back into frames. The two must be the same frames,
value for value, or a replay could differ from the decision it replays."""

from __future__ import annotations

import datetime as dt
import json
import shutil
from pathlib import Path

import polars as pl
from hypothesis import given
from hypothesis import strategies as st
from polars.testing import assert_frame_equal

from api import store
from api.service import ById, Found, Service, _by_id, _frame, _rows, application_from_input
from tests.api.conftest import settings_for
from underwriting.contract import CASHFLOW
from underwriting.decisions import Application, Prepared

AS_OF = dt.date(2026, 10, 1)


def _service(data: Path, models_dir: Path) -> Service:
    return Service.load(settings_for("sqlite://", data, models_dir))


def _frames(application: Application) -> list[pl.DataFrame]:
    return [application.merchant, application.cashflow, application.traffic]


def test_looked_up_frames_are_the_frames_the_stored_input_reads_back_as(
    small_book: Path, models_dir: Path
) -> None:
    service = _service(small_book, models_dir)
    ids = service.merchants.get_column("merchant_id").to_list()
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
