"""Applications: merchants' raw data validated once and turned into one row of features
each, alone or several together (pure: frames in, frames out).

An application is one merchant's profile, daily cash flow and traffic, and the date it is
decided as of. Its rows are validated against the contract as a batch validates them:
rows that fail are left out of the features and returned as quarantine records, and a
profile that fails is an InputError naming the field and the reason.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from dataclasses import dataclass

import polars as pl

from underwriting.contract.tables import CASHFLOW, MERCHANTS, TRAFFIC
from underwriting.contract.validation import QUARANTINE_SCHEMA, ValidatedTable, validate
from underwriting.errors import InputError
from underwriting.features.compute import build_features

_UNOPTIMIZED = pl.QueryOptFlags.none()


def _collect_small(query: pl.LazyFrame) -> pl.DataFrame:
    """An application's query (a few thousand rows), run without the optimizer: on so few
    rows its passes cost more than they save. The plan means the same either way: the
    optimizer rewrites how, not what (single = batch from raw data is pinned by
    tests/end_to_end/test_cli.py)."""
    return query.collect(engine="in-memory", optimizations=_UNOPTIMIZED)


@dataclass(frozen=True)
class Application:
    """One merchant's raw data: profile (one row), daily cash flow and traffic, as-of date."""

    merchant: pl.DataFrame
    cashflow: pl.DataFrame
    traffic: pl.DataFrame
    as_of: dt.date


@dataclass(frozen=True)
class Prepared:
    """One application's features (one row) and its input rows that failed validation."""

    features: pl.DataFrame
    quarantine: pl.DataFrame


@dataclass(frozen=True)
class Checked:
    """Applications' rows validated, and the query of their features."""

    merchants: ValidatedTable
    cashflow: ValidatedTable
    traffic: ValidatedTable
    features: pl.LazyFrame

    def quarantine(self) -> pl.LazyFrame:
        """Every row of the applications that failed validation."""
        return pl.concat(
            [self.merchants.quarantine, self.cashflow.quarantine, self.traffic.quarantine]
        )


def check(
    applications: Sequence[Application],
    as_of: dt.date,
    merchant_ids: pl.Series,
    benchmarks: pl.DataFrame,
) -> Checked:
    """The applications' rows validated (daily rows only of `merchant_ids`) and the query of
    their features: what `prepare` runs, for one application or several."""
    profile = validate(
        MERCHANTS,
        pl.concat([a.merchant for a in applications], how="vertical_relaxed").lazy(),
        source="application",
        as_of=as_of,
        industry_codes=benchmarks.get_column("industry_code"),
    )
    cashflow, traffic = (
        validate(
            table,
            pl.concat(frames, how="vertical_relaxed").lazy(),
            source="application",
            as_of=as_of,
            merchant_ids=merchant_ids,
            check_every_key=True,
        )
        for table, frames in (
            (CASHFLOW, [a.cashflow for a in applications]),
            (TRAFFIC, [a.traffic for a in applications]),
        )
    )
    query = build_features(profile.kept, cashflow.kept, traffic.kept, benchmarks.lazy(), as_of)
    return Checked(profile, cashflow, traffic, query)


def _one_profile_error(held: pl.DataFrame, application: Application) -> InputError:
    reasons = held.filter(pl.col("table") == MERCHANTS.name)["reason"].to_list()
    why = "; ".join(reasons) or f"{application.merchant.height} profile rows given"
    return InputError(f"merchants: the application needs exactly one valid profile: {why}")


def prepare(application: Application, benchmarks: pl.DataFrame) -> Prepared:
    """One merchant's features from its raw data, validated as a batch would be (see the
    module's docstring). Validation and features run as one query on the in-memory
    engine: on one merchant's rows, planning costs more than the work."""
    ids = application.merchant.get_column("merchant_id").cast(pl.String(), strict=False)
    checked = check([application], application.as_of, ids, benchmarks)
    features = _collect_small(checked.features)
    # Every kept daily row is counted by the features; only when some are missing is
    # the (costlier) quarantine query run to say which rows and why.
    complete = features.height == 1 and (
        features["cashflow_days"][0] == application.cashflow.height
        and features["traffic_days"][0] == application.traffic.height
    )
    held = (
        pl.DataFrame(schema=QUARANTINE_SCHEMA) if complete else _collect_small(checked.quarantine())
    )
    if features.height != 1:
        raise _one_profile_error(held, application)
    return Prepared(features, held)


def prepare_with_cashflow(
    application: Application, benchmarks: pl.DataFrame
) -> tuple[Prepared, pl.DataFrame]:
    """`prepare`, and the application's cash-flow rows that passed validation (what a chart
    of its sales shows), from one validation."""
    ids = application.merchant.get_column("merchant_id").cast(pl.String(), strict=False)
    checked = check([application], application.as_of, ids, benchmarks)
    features, cashflow, held = (
        _collect_small(query)
        for query in (checked.features, checked.cashflow.kept, checked.quarantine())
    )
    if features.height != 1:
        raise _one_profile_error(held, application)
    return Prepared(features, held), cashflow


def prepare_many(
    applications: Sequence[Application], benchmarks: pl.DataFrame
) -> list[Prepared | InputError]:
    """Each application's `prepare` result (or its InputError), computed together.

    Features are per merchant, so one query over the applications of an as-of date
    gives each merchant, bit for bit, the features it gets alone, at little more than
    the cost of one (planning dominates). Applications that cannot share a query (a
    merchant id twice, daily rows of another merchant, not exactly one profile row),
    and any group whose frames do not concatenate, are prepared one by one.
    """
    alone = [not _batchable(a) for a in applications]
    ids = [_merchant_id(a) for a in applications]
    seen: set[str] = set()
    for i, merchant in enumerate(ids):
        if not alone[i] and merchant in seen:
            alone[i] = True
        seen.add(merchant or "")
    by_date: dict[dt.date, list[int]] = {}
    for i, application in enumerate(applications):
        if not alone[i]:
            by_date.setdefault(application.as_of, []).append(i)
    results: list[Prepared | InputError | None] = [None] * len(applications)
    for as_of, together in by_date.items():
        if len(together) < 2:
            continue
        try:
            batch = _prepare_together([applications[i] for i in together], as_of, benchmarks)
        except Exception:  # frames that do not concatenate: each is prepared alone
            continue
        for i, result in zip(together, batch, strict=True):
            results[i] = result
    for i, application in enumerate(applications):
        if results[i] is None:
            try:
                results[i] = prepare(application, benchmarks)
            except InputError as error:
                results[i] = error
    return [r for r in results if r is not None]


def _prepare_together(
    applications: Sequence[Application], as_of: dt.date, benchmarks: pl.DataFrame
) -> list[Prepared | InputError]:
    """`prepare` for applications of distinct merchants with the same as-of date, in one
    query (the same query `prepare` runs, on more rows)."""
    ids = [_merchant_id(a) for a in applications]
    known = pl.Series("merchant_id", ids, dtype=pl.String())
    checked = check(applications, as_of, known, benchmarks)
    features = _collect_small(checked.features)
    rows = {str(k[0]): f for k, f in features.partition_by("merchant_id", as_dict=True).items()}
    complete = all(
        merchant in rows
        and rows[merchant]["cashflow_days"][0] == a.cashflow.height
        and rows[merchant]["traffic_days"][0] == a.traffic.height
        for merchant, a in zip(ids, applications, strict=True)
    )
    empty = pl.DataFrame(schema=QUARANTINE_SCHEMA)
    held = empty if complete else _collect_small(checked.quarantine())
    results: list[Prepared | InputError] = []
    for merchant, application in zip(ids, applications, strict=True):
        mine = held.filter(pl.col("merchant_id") == merchant) if held.height else empty
        if merchant not in rows:
            results.append(_one_profile_error(mine, application))
        else:
            results.append(Prepared(rows[merchant], mine))
    return results


def _merchant_id(application: Application) -> str | None:
    ids = application.merchant.get_column("merchant_id")
    return str(ids[0]) if ids.len() == 1 and ids[0] is not None else None


def _batchable(application: Application) -> bool:
    """One profile row with an id, and daily rows that all carry that id."""
    merchant = _merchant_id(application)
    if merchant is None:
        return False
    for frame in (application.cashflow, application.traffic):
        if "merchant_id" not in frame.columns:
            return False
        ids = frame.get_column("merchant_id").cast(pl.String(), strict=False)
        if ids.null_count() or not bool((ids == merchant).all()):
            return False
    return True
