"""The data contract: the five input tables, defined once.

Each table is a pydantic record model (used as-is at the API boundary); its polars schema,
its required and optional columns and its value constraints are all derived from that
model, so field names, types and limits have a single source of truth.
"""

from __future__ import annotations

import datetime as dt
import types
import typing
from dataclasses import dataclass
from typing import Annotated, Any, Literal

import annotated_types
import polars as pl
from pydantic import BaseModel, ConfigDict, Field

from underwriting.contract.units import (
    MAX_COUNT,
    MAX_ID_LENGTH,
    MAX_MONEY,
    NO_CONTROL_CHARACTERS,
)

NonNegativeMoney = Annotated[float, Field(ge=0, le=MAX_MONEY, allow_inf_nan=False)]
NonNegativeCount = Annotated[int, Field(ge=0, le=MAX_COUNT)]
Identifier = Annotated[
    str, Field(min_length=1, max_length=MAX_ID_LENGTH, pattern=NO_CONTROL_CHARACTERS)
]
"""An identifier or name: 1 to 200 characters, no control characters."""
Ratio = Annotated[float, Field(allow_inf_nan=False)]
SeasonalIndex = Annotated[
    float, Field(gt=0, allow_inf_nan=False, description="Sales in the month over an average month")
]


class _Record(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class MerchantRecord(_Record):
    """A merchant's profile, one row per merchant."""

    merchant_id: Annotated[Identifier, Field(description="Merchant identifier")]
    industry_code: Annotated[Identifier, Field(description="Industry (MCC) code")]
    region: Annotated[Identifier, Field(description="Sales region")]
    onboarded_on: Annotated[dt.date, Field(description="Date the merchant joined the platform")]
    existing_exposure: Annotated[
        float,
        Field(ge=0, le=MAX_MONEY, allow_inf_nan=False, description="Outstanding credit, currency"),
    ]
    requested_amount: Annotated[
        float | None,
        Field(
            default=None,
            gt=0,
            le=MAX_MONEY,
            allow_inf_nan=False,
            description="Requested loan, currency",
        ),
    ] = None


class CashflowRecord(_Record):
    """One merchant-day of card and online sales."""

    merchant_id: Annotated[Identifier, Field(description="Merchant identifier")]
    date: Annotated[dt.date, Field(description="Day of trading")]
    gross_sales: Annotated[NonNegativeMoney, Field(description="Sales before refunds, currency")]
    refunds: Annotated[NonNegativeMoney, Field(description="Refunds paid out that day, currency")]
    chargebacks: Annotated[NonNegativeMoney, Field(description="Chargebacks that day, currency")]
    transaction_count: Annotated[NonNegativeCount, Field(description="Number of sales")]


class TrafficRecord(_Record):
    """One merchant-day of shop traffic (visits and orders)."""

    merchant_id: Annotated[Identifier, Field(description="Merchant identifier")]
    date: Annotated[dt.date, Field(description="Day of trading")]
    visits: Annotated[NonNegativeCount, Field(description="Shop visits (online or footfall)")]
    orders: Annotated[NonNegativeCount, Field(description="Orders placed")]


class IndustryBenchmarkRecord(_Record):
    """One industry's benchmarks, computed from the lender's book."""

    industry_code: Annotated[Identifier, Field(description="Industry (MCC) code")]
    industry_name: Annotated[Identifier, Field(description="Industry name")]
    median_monthly_sales: Annotated[
        float, Field(gt=0, allow_inf_nan=False, description="Median average monthly sales")
    ]
    sales_q1: Annotated[NonNegativeMoney, Field(description="Lower quartile of monthly sales")]
    sales_q3: Annotated[NonNegativeMoney, Field(description="Upper quartile of monthly sales")]
    median_growth: Annotated[Ratio, Field(description="Median year-on-year growth")]
    median_volatility: Annotated[
        float, Field(ge=0, allow_inf_nan=False, description="Median sales volatility (CV)")
    ]
    default_rate: Annotated[
        float, Field(ge=0, le=1, allow_inf_nan=False, description="Observed 12-month default rate")
    ]
    seasonal_index_01: SeasonalIndex
    seasonal_index_02: SeasonalIndex
    seasonal_index_03: SeasonalIndex
    seasonal_index_04: SeasonalIndex
    seasonal_index_05: SeasonalIndex
    seasonal_index_06: SeasonalIndex
    seasonal_index_07: SeasonalIndex
    seasonal_index_08: SeasonalIndex
    seasonal_index_09: SeasonalIndex
    seasonal_index_10: SeasonalIndex
    seasonal_index_11: SeasonalIndex
    seasonal_index_12: SeasonalIndex
    risk_tier: Annotated[int, Field(ge=1, le=5, description="1 (lowest risk) to 5")]
    max_limit: Annotated[NonNegativeMoney, Field(description="Largest loan to the industry")]
    allowed: Annotated[bool, Field(description="Whether the lender lends to the industry")]


class OutcomeRecord(_Record):
    """A training label: did the merchant default within 12 months of `as_of`."""

    merchant_id: Annotated[Identifier, Field(description="Merchant identifier")]
    as_of: Annotated[dt.date, Field(description="Decision (application) date")]
    defaulted_12m: Annotated[bool, Field(description="Defaulted within 12 months of as_of")]


AsOf = dt.date | pl.LazyFrame | pl.DataFrame
"""The date decisions are made as of: one date for every merchant, or a frame of
(merchant_id, as_of) pairs, a date per merchant and application. Only data dated before
it is used."""

SEASONAL_INDEX_COLUMNS: tuple[str, ...] = tuple(f"seasonal_index_{m:02d}" for m in range(1, 13))

TableName = Literal["merchants", "cashflow", "traffic", "industry_benchmarks", "outcomes"]


@dataclass(frozen=True)
class Constraint:
    """A bound on a numeric column, taken from the record model's field metadata."""

    op: Literal["ge", "gt", "le", "lt", "max_length", "printable"]
    bound: float
    """The bound (a length for max_length; unused for printable: no control characters)."""


@dataclass(frozen=True)
class Column:
    """One column of a table: its name, polars type, whether it is required, its bounds."""

    name: str
    dtype: pl.DataType
    required: bool
    constraints: tuple[Constraint, ...]
    description: str | None


@dataclass(frozen=True)
class Table:
    """One input table of the contract."""

    name: TableName
    record: type[BaseModel]
    key: tuple[str, ...]
    date_column: str | None
    columns: tuple[Column, ...]

    @property
    def schema(self) -> pl.Schema:
        """The polars schema of the table's validated rows."""
        return pl.Schema({c.name: c.dtype for c in self.columns})

    @property
    def required(self) -> tuple[str, ...]:
        return tuple(c.name for c in self.columns if c.required)

    def column(self, name: str) -> Column:
        for c in self.columns:
            if c.name == name:
                return c
        raise KeyError(f"{self.name} has no column {name!r}")


_PY_TO_POLARS: dict[Any, pl.DataType] = {
    str: pl.String(),
    float: pl.Float64(),
    int: pl.Int64(),
    bool: pl.Boolean(),
    dt.date: pl.Date(),
}


def _polars_dtype(annotation: Any) -> tuple[pl.DataType, bool]:
    """The polars type of a field annotation, and whether the annotation admits None."""
    origin = typing.get_origin(annotation)
    if origin in (typing.Union, types.UnionType):
        args = [a for a in typing.get_args(annotation) if a is not type(None)]
        (inner,) = args
        return _polars_dtype(inner)[0], True
    if origin is Annotated:
        return _polars_dtype(typing.get_args(annotation)[0])
    return _PY_TO_POLARS[annotation], False


def _constraints(metadata: list[Any]) -> tuple[Constraint, ...]:
    found: list[Constraint] = []
    for item in metadata:
        if isinstance(item, annotated_types.Ge):
            found.append(Constraint("ge", float(item.ge)))  # type: ignore[arg-type]
        elif isinstance(item, annotated_types.Gt):
            found.append(Constraint("gt", float(item.gt)))  # type: ignore[arg-type]
        elif isinstance(item, annotated_types.Le):
            found.append(Constraint("le", float(item.le)))  # type: ignore[arg-type]
        elif isinstance(item, annotated_types.Lt):
            found.append(Constraint("lt", float(item.lt)))  # type: ignore[arg-type]
        elif isinstance(item, annotated_types.MaxLen):
            found.append(Constraint("max_length", float(item.max_length)))
        elif getattr(item, "pattern", None) == NO_CONTROL_CHARACTERS:
            found.append(Constraint("printable", 0.0))
    return tuple(found)


def _table(
    name: TableName, record: type[BaseModel], key: tuple[str, ...], date_column: str | None
) -> Table:
    columns = []
    for field_name, info in record.model_fields.items():
        dtype, nullable = _polars_dtype(info.annotation)
        columns.append(
            Column(
                name=field_name,
                dtype=dtype,
                required=info.is_required() and not nullable,
                constraints=_constraints(info.metadata),
                description=info.description,
            )
        )
    return Table(name, record, key, date_column, tuple(columns))


MERCHANTS = _table("merchants", MerchantRecord, ("merchant_id",), None)
CASHFLOW = _table("cashflow", CashflowRecord, ("merchant_id", "date"), "date")
TRAFFIC = _table("traffic", TrafficRecord, ("merchant_id", "date"), "date")
INDUSTRY_BENCHMARKS = _table(
    "industry_benchmarks", IndustryBenchmarkRecord, ("industry_code",), None
)
OUTCOMES = _table("outcomes", OutcomeRecord, ("merchant_id", "as_of"), None)

TABLES: dict[TableName, Table] = {
    t.name: t for t in (MERCHANTS, CASHFLOW, TRAFFIC, INDUSTRY_BENCHMARKS, OUTCOMES)
}


def _bound_words(constraint: Constraint) -> str:
    if constraint.op == "max_length":
        return f"at most {constraint.bound:g} characters"
    if constraint.op == "printable":
        return "no control characters"
    return f"{constraint.op} {constraint.bound:g}"


def markdown_table(table: Table) -> str:
    """One table of the contract as Markdown: column, type, required, bounds, meaning."""
    lines = [
        f"### {table.name}",
        "",
        f"Key: {', '.join(table.key)}.",
        "",
        "| column | type | required | bounds | meaning |",
        "|---|---|---|---|---|",
    ]
    for c in table.columns:
        bounds = ", ".join(_bound_words(k) for k in c.constraints) or "—"
        lines.append(
            f"| `{c.name}` | {c.dtype} | {'yes' if c.required else 'no'} | {bounds} | "
            f"{c.description or '—'} |"
        )
    return "\n".join(lines)
