"""A new applicant's files (profile, daily cash flow and traffic, each CSV or Parquet as the
data contract describes them) made into the API's decision request, and the request's
problems said per file, row and field."""

from __future__ import annotations

import io
import re
from dataclasses import dataclass
from typing import Any

import polars as pl

FILES = {"merchant": "profile", "cashflow": "cash flow", "traffic": "traffic"}
"""The request's part each file fills, and what the page calls the file."""


class UploadError(ValueError):
    """A file that cannot be read as CSV or Parquet, or a profile without exactly one row."""


@dataclass(frozen=True)
class FileProblem:
    """One problem of the uploaded files: which file, which row (from 1), which field."""

    file: str
    row: int | None
    field: str | None
    reason: str


def read_rows(name: str, content: bytes) -> list[dict[str, Any]]:
    """The rows of an uploaded file: Parquet (by its magic bytes) or CSV (values as text,
    empty cells left out, for the contract's records to read)."""
    if not content.strip():
        return []
    try:
        if content[:4] == b"PAR1":
            return pl.read_parquet(io.BytesIO(content)).to_dicts()
        frame = pl.read_csv(io.BytesIO(content), infer_schema=False)
    except (pl.exceptions.PolarsError, OSError) as error:
        first = str(error).splitlines()[0]
        raise UploadError(
            f"the {FILES[name]} file cannot be read as CSV or Parquet ({first}); export it "
            "as UTF-8 CSV with a header line, or as Parquet"
        ) from None
    return [{k: v for k, v in row.items() if v not in (None, "")} for row in frame.to_dicts()]


def request_body(
    files: dict[str, bytes], as_of: str | None, requested_amount: str | None
) -> dict[str, Any]:
    """The API's decision request for the uploaded files (see `read_rows`)."""
    profile = read_rows("merchant", files.get("merchant", b""))
    if len(profile) != 1:
        raise UploadError(
            f"the profile file holds {len(profile)} rows; give exactly one merchant's profile"
        )
    body: dict[str, Any] = {
        "data": {
            "merchant": profile[0],
            "cashflow": read_rows("cashflow", files.get("cashflow", b"")),
            "traffic": read_rows("traffic", files.get("traffic", b"")),
        }
    }
    if as_of:
        body["as_of"] = as_of
    if requested_amount:
        body["requested_amount"] = requested_amount
    return body


_POINTER = re.compile(r"^#/data/(merchant|cashflow|traffic)(?:/(\d+))?(?:/(.+))?$")


def file_problems(errors: list[dict[str, str]]) -> list[FileProblem]:
    """The API's problems (JSON pointers into the request) said per file, row and field."""
    found = []
    for error in errors:
        pointer, detail = error.get("pointer", ""), error.get("detail", "")
        match = _POINTER.match(pointer)
        if match is None:
            field = pointer.removeprefix("#/") or None
            found.append(FileProblem("form", None, field, detail))
            continue
        part, row, field = match.groups()
        if part == "merchant":  # the profile's fields: "#/data/merchant/industry_code"
            field = "/".join(p for p in (row, field) if p) or None
            found.append(FileProblem(FILES[part], 1, field, detail))
        else:
            found.append(FileProblem(FILES[part], int(row) + 1 if row else None, field, detail))
    return found
