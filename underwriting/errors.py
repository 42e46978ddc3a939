"""Typed errors of the underwriting engine.

Our exception hierarchy:

* UnderwritingError
  + InputError          bad input data: a table cannot be used at all
    - MissingColumnsError
    - UnreadableTableError
  + PolicyError         a bad rule set or model artifact

A merchant's bad *row* is never an exception: it goes to a quarantine frame with its key,
field and reason while the other rows go on. A decline is a normal outcome, never an error.
"""

from __future__ import annotations

from collections.abc import Sequence


class UnderwritingError(Exception):
    """Base class of every error the engine raises on purpose."""


class InputError(UnderwritingError):
    """Input data that cannot be used; the message names the table, the field and the fix."""


class MissingColumnsError(InputError):
    """A table lacks required columns, so none of its rows can be validated."""

    def __init__(self, table: str, source: str, missing: Sequence[str]) -> None:
        self.table = table
        self.source = source
        self.missing = tuple(missing)
        super().__init__(
            f"{table} ({source}): missing required column(s) {', '.join(self.missing)}; "
            f"add them to the file (see docs/data-contract.md for names and types)"
        )


class UnreadableTableError(InputError):
    """A table's file is absent or not a readable Parquet or CSV file."""

    def __init__(self, table: str, source: str, reason: str) -> None:
        self.table = table
        self.source = source
        super().__init__(f"{table} ({source}): {reason}")


class PolicyError(UnderwritingError):
    """A rule set or model artifact that fails its checks; the engine refuses to use it."""
