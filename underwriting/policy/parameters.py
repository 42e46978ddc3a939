"""Policy parameters of a rule set: scorecard scaling, the master scale and the limits.

Parsed from the text of `rules/<version>/policy.toml` and validated before use; a bad file
is a PolicyError naming the file and the fix.
"""

from __future__ import annotations

import hashlib
import math
import tomllib
from itertools import pairwise

import numpy as np
from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from underwriting.errors import PolicyError


class Scaling(BaseModel):
    """Points to double the odds, and the base score at the base odds (goods to bads)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    base_score: float = Field(gt=0)
    base_odds: float = Field(gt=0)
    points_to_double_odds: float = Field(gt=0)

    @property
    def factor(self) -> float:
        return self.points_to_double_odds / math.log(2)

    @property
    def offset(self) -> float:
        return self.base_score - self.factor * math.log(self.base_odds)


class Band(BaseModel):
    """One grade of the master scale: PDs below `pd_max` (and above the previous band's)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    grade: str = Field(min_length=1)
    pd_max: float = Field(gt=0, le=1)


class GradeLimit(BaseModel):
    """The limit parameters of one grade."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    grade: str = Field(min_length=1)
    multiple: float = Field(gt=0, le=6)
    holdback: float = Field(gt=0, le=0.3)


class Limits(BaseModel):
    """Limit parameters: term, fee, LGD, stress, loan bounds and unit, and per grade."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    term_days: int = Field(gt=0, le=1095)
    fee: float = Field(ge=0, le=1)
    lgd: float = Field(gt=0, le=1)
    stress: float = Field(gt=0, le=1)
    min_loan: int = Field(gt=0)
    max_loan: int = Field(gt=0)
    loan_unit: int = Field(gt=0)
    grade: tuple[GradeLimit, ...] = Field(min_length=1)

    @model_validator(mode="after")
    def _consistent(self) -> Limits:
        if self.min_loan > self.max_loan:
            raise ValueError(f"min_loan {self.min_loan} is above max_loan {self.max_loan}")
        if self.min_loan % self.loan_unit or self.max_loan % self.loan_unit:
            raise ValueError("min_loan and max_loan must be whole multiples of loan_unit")
        holdbacks = [g.holdback for g in self.grade]
        if any(worse > better for better, worse in pairwise(holdbacks)):
            raise ValueError(
                "holdbacks must not rise from the best grade to the worst (a worse grade "
                f"would repay with a larger share of sales and get a larger limit); got {holdbacks}"
            )
        multiples = [g.multiple for g in self.grade]
        if any(worse > better for better, worse in pairwise(multiples)):
            raise ValueError(
                f"multiples must not rise from the best grade to the worst; got {multiples}"
            )
        return self


class Policy(BaseModel):
    """The policy parameters: scaling, master scale and (for decisions) limits."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    scorecard: Scaling
    master_scale: tuple[Band, ...] = Field(min_length=2)
    limits: Limits | None = None
    protected_attributes: tuple[str, ...] = ()
    """Words a lender adds to the protected-attribute list (`model.protected`): a column
    whose name holds one is refused as a model feature."""

    @model_validator(mode="after")
    def _bands_cover_zero_to_one(self) -> Policy:
        bounds = [b.pd_max for b in self.master_scale]
        if any(b >= a for a, b in zip(bounds[1:], bounds, strict=False)):
            raise ValueError(
                "master_scale pd_max must strictly increase from the best grade to the worst; "
                f"got {bounds}"
            )
        if bounds[-1] != 1.0:
            raise ValueError(
                "the last master_scale band must have pd_max = 1.0 so every PD has a grade"
            )
        grades = [b.grade for b in self.master_scale]
        if len(set(grades)) != len(grades):
            raise ValueError(f"master_scale grades must be distinct; got {grades}")
        if self.limits is not None and [g.grade for g in self.limits.grade] != grades:
            raise ValueError(
                f"limits.grade must list the master-scale grades in the same order {grades}"
            )
        return self

    def grade_index(self, pd_12m: np.ndarray) -> np.ndarray:
        """Position on the master scale (0 = best grade) of each PD."""
        bounds = np.array([b.pd_max for b in self.master_scale[:-1]])
        index: np.ndarray = np.searchsorted(bounds, pd_12m, side="right")
        return index


def parse_policy(raw: bytes, source: str) -> Policy:
    """The policy in the bytes of a policy.toml; a bad file is a PolicyError naming `source`
    and the fix."""
    try:
        document = tomllib.loads(raw.decode())
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as error:
        raise PolicyError(f"{source}: not valid TOML ({error}); fix the syntax") from None
    try:
        return Policy.model_validate(document)
    except ValidationError as error:
        problems = "; ".join(
            f"{'.'.join(str(p) for p in e['loc']) or '(file)'}: {e['msg']}" for e in error.errors()
        )
        raise PolicyError(f"{source}: {problems}") from None


def version_of(name: str, *files: bytes) -> str:
    """The version of a policy or rule set: its folder's name and a hash of its files."""
    digest = hashlib.sha256(b"\0".join(files)).hexdigest()[:12]
    return f"{name}+{digest}"
