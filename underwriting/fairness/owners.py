"""The owners table: the principal owners' self-reported demographics, in the categories
of the CFPB's small-business lending rule (Regulation B, subpart B, "section 1071").

It is fire-walled. It is not one of the data contract's tables (`underwriting.contract`),
so a data folder never opens it for features, rules or models; only the fair-lending
screen reads it, by name, from a file given to it. "not provided" is an answer like any
other: an applicant may decline to say, and the screen reports what that does.
"""

from __future__ import annotations

import typing
from pathlib import Path
from typing import Literal

import polars as pl

from underwriting.errors import InputError

NOT_PROVIDED = "not provided"
OWNERS_FILE = "owners.parquet"
"""Where a data folder keeps it, beside the contract's tables (which never read it)."""

Sex = Literal["female", "male", "self-described", "not provided"]
Ethnicity = Literal["Hispanic or Latino", "Not Hispanic or Latino", "not provided"]
Race = Literal[
    "American Indian or Alaska Native",
    "Asian",
    "Black or African American",
    "Native Hawaiian or Other Pacific Islander",
    "White",
    "not provided",
]
Flag = Literal["yes", "no", "not provided"]

CATEGORIES: dict[str, tuple[str, ...]] = {
    "sex": typing.get_args(Sex),
    "ethnicity": typing.get_args(Ethnicity),
    "race": typing.get_args(Race),
    "women_owned": typing.get_args(Flag),
    "minority_owned": typing.get_args(Flag),
}
"""Each protected attribute and its answers, in the order reports show them."""

REFERENCE: dict[str, str] = {
    "sex": "male",
    "ethnicity": "Not Hispanic or Latino",
    "race": "White",
    "women_owned": "no",
    "minority_owned": "no",
}
"""The group each attribute's other groups are compared with (the usual control group)."""

ATTRIBUTES: tuple[str, ...] = tuple(CATEGORIES)
OWNERS_SCHEMA = pl.Schema(
    {"merchant_id": pl.String(), **{name: pl.String() for name in ATTRIBUTES}}
)
SHOWN_UNKNOWN = 5


def check_owners(owners: pl.DataFrame, source: str) -> pl.DataFrame:
    """The owners table, checked: every column present, one row per merchant, every answer
    one of its attribute's categories. Raises InputError naming the rows, the field, the
    values found and the categories allowed."""
    missing = [c for c in OWNERS_SCHEMA.names() if c not in owners.columns]
    if missing:
        raise InputError(
            f"{source}: the owners table lacks {', '.join(missing)}; it needs the columns "
            f"{', '.join(OWNERS_SCHEMA.names())} (write {NOT_PROVIDED!r} where the owner did "
            "not answer)"
        )
    table = owners.select(pl.col(c).cast(pl.String()) for c in OWNERS_SCHEMA.names())
    twice = table.filter(pl.col("merchant_id").is_duplicated()).get_column("merchant_id")
    if twice.len():
        raise InputError(
            f"{source}: merchant {twice[0]} has {int((twice == twice[0]).sum())} rows in the "
            "owners table; give one row per merchant"
        )
    for name, allowed in CATEGORIES.items():
        bad = table.filter(~pl.col(name).is_in(allowed) | pl.col(name).is_null())
        if bad.height:
            values = bad.get_column(name).unique(maintain_order=True).head(SHOWN_UNKNOWN)
            ids = bad.get_column("merchant_id").head(SHOWN_UNKNOWN).to_list()
            raise InputError(
                f"{source}: field {name!r} of {bad.height:,} rows (merchants "
                f"{', '.join(map(str, ids))}{' …' if bad.height > SHOWN_UNKNOWN else ''}) is "
                f"not one of its categories: found {', '.join(repr(v) for v in values)}; "
                f"allowed: {', '.join(repr(a) for a in allowed)}. Map each answer to one of "
                f"them ({NOT_PROVIDED!r} where the owner did not answer)"
            )
    return table


def read_owners(path: Path) -> pl.DataFrame:
    """The owners table at `path` (.parquet or .csv), checked by `check_owners`."""
    if path.suffix == ".csv":
        frame = pl.read_csv(path, infer_schema=False)
    elif path.suffix == ".parquet":
        frame = pl.read_parquet(path)
    else:
        raise InputError(f"{path}: give the owners table as .parquet or .csv")
    return check_owners(frame, str(path))
