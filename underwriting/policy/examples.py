"""A rule set's examples: named cases with what must come out, kept beside the rules.

`examples.toml` holds named base merchants (the features of one merchant; a feature left
out is missing, as when a merchant has no such data) and examples.
An example names its base, gives the features that differ (`given`) and what the whole
engine (model, rules, limits) must decide (`expect`): the outcome, the rules that fire
(all of them, or some that must and some that must not), the grade (exactly, or no better
than), the limit (exactly, at least, at most), the binding constraint and the first reason
codes in order. Pure: text in, features and failures out; `underwrite rules test` runs
them through an `Engine`.
"""

from __future__ import annotations

import tomllib
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Literal

import polars as pl
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from underwriting.errors import PolicyError
from underwriting.features.registry import feature_schema
from underwriting.policy.rules import RuleSet

FILE = "examples.toml"


class Expectation(BaseModel):
    """What an example's decision must be; a field left out is not checked."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    outcome: Literal["approve", "refer", "decline"] | None = None
    fired: tuple[str, ...] | None = None
    """Exactly these rules fire (in any order)."""
    fires: tuple[str, ...] = ()
    """These rules fire (others may too)."""
    not_fired: tuple[str, ...] = ()
    grade: str | None = None
    grade_no_better_than: str | None = None
    limit: int | None = None
    limit_at_least: float | None = None
    limit_at_most: float | None = None
    binding: str | None = None
    reasons_start: tuple[str, ...] | None = None
    """The first reason codes, in this order."""
    holds: str | None = None
    """An SQL condition over the decision and the features that must be true (as an
    invariant states it), e.g. `outcome = 'decline'` or `limit <= 2 * avg_monthly_sales`."""


class Example(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    name: str = Field(min_length=1)
    base: str
    given: dict[str, Any] = Field(default_factory=dict)
    expect: Expectation
    why: str | None = None
    """How the expectation was worked out (the limit by hand, say)."""


class Examples(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    base: dict[str, dict[str, Any]]
    example: tuple[Example, ...] = Field(min_length=1)


@dataclass(frozen=True)
class Failure:
    """One expectation an example's decision did not meet."""

    example: str
    field: str
    expected: object
    got: object

    def __str__(self) -> str:
        return f"{self.example}: {self.field} expected {self.expected!r}, got {self.got!r}"


def parse_examples(raw: bytes, source: str) -> Examples:
    """The examples in the bytes of an examples.toml; a bad file is a PolicyError naming
    `source`, the example and the fix."""
    try:
        document = tomllib.loads(raw.decode())
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as error:
        raise PolicyError(f"{source}: not valid TOML ({error}); fix the syntax") from None
    try:
        examples = Examples.model_validate(document)
    except ValidationError as error:
        problems = "; ".join(
            f"{_where(document, e['loc'])}: {e['msg']}" for e in error.errors()[:5]
        )
        raise PolicyError(f"{source}: {problems}") from None
    schema = feature_schema()
    for name, features in examples.base.items():
        unknown = sorted(set(features) - set(schema))
        if unknown:
            raise PolicyError(
                f"{source}: base {name!r} names unknown feature(s) {unknown}; see docs/features.md"
            )
    for example in examples.example:
        if example.base not in examples.base:
            raise PolicyError(
                f"{source}: example {example.name!r} names base {example.base!r}, which is not "
                f"defined; bases are {sorted(examples.base)}"
            )
        unknown = sorted(set(example.given) - set(schema))
        if unknown:
            raise PolicyError(
                f"{source}: example {example.name!r} gives unknown feature(s) {unknown}; see "
                "docs/features.md"
            )
    return examples


def _where(document: dict[str, Any], location: Sequence[int | str]) -> str:
    if len(location) >= 2 and location[0] == "example" and isinstance(location[1], int):
        examples = document.get("example", [])
        if location[1] < len(examples) and isinstance(examples[location[1]], dict):
            name = examples[location[1]].get("name", f"#{location[1] + 1}")
            return f"example {name!r} " + ".".join(str(p) for p in location[2:])
    return ".".join(str(p) for p in location) or "(file)"


def example_features(examples: Examples) -> pl.DataFrame:
    """One row of features per example (its base with its `given` features), in the
    feature table's schema; a value of the wrong type is a PolicyError naming it."""
    rows = [{**examples.base[e.base], **e.given} for e in examples.example]
    try:
        return features_frame(rows)
    except (pl.exceptions.PolarsError, TypeError, ValueError) as error:
        raise PolicyError(
            f"examples: a feature value does not fit its type ({str(error).splitlines()[0]}); "
            "see docs/features.md for each feature's type"
        ) from None


def features_frame(rows: Sequence[dict[str, Any]]) -> pl.DataFrame:
    """Rows of features (a feature left out is missing) in the feature table's schema."""
    return pl.DataFrame(rows, schema=feature_schema(), strict=False)


def failures(
    examples: Examples, features: pl.DataFrame, decisions: pl.DataFrame, grades: Sequence[str]
) -> list[Failure]:
    """Every unmet expectation, example by example (`features` and `decisions` in the
    examples' order; `grades` best to worst, for "no better than")."""
    found: list[Failure] = []
    rows = decisions.iter_rows(named=True)
    for i, (example, row) in enumerate(zip(examples.example, rows, strict=True)):
        found += _check(example, row, list(grades))
        if example.expect.holds is not None and not _holds(example, features[i], decisions[i]):
            found.append(Failure(example.name, "holds", example.expect.holds, _shown(row)))
    return found


def with_decision(features: pl.DataFrame, decisions: pl.DataFrame) -> pl.DataFrame:
    """Features with the decision's outcome, limit, grades, PD and score beside them (the
    names an expectation or invariant may use), grades and outcome as text."""
    names = ("outcome", "limit", "grade", "model_grade", "pd_12m", "score")
    decided = decisions.select(
        pl.col(c).cast(pl.String()) if isinstance(decisions.schema[c], pl.Enum) else pl.col(c)
        for c in names
    )
    return features.with_columns(decided)


def _holds(example: Example, features: pl.DataFrame, decision: pl.DataFrame) -> bool:
    text = str(example.expect.holds)
    try:
        value = with_decision(features, decision).select(pl.sql_expr(text).fill_null(False))
    except Exception as error:  # polars raises several error types for bad SQL
        raise PolicyError(
            f"example {example.name!r}: expect.holds is not a condition on the decision "
            f"({str(error).splitlines()[0][:100]}); fix the SQL"
        ) from None
    return bool(value.item())


def _shown(row: dict[str, Any]) -> str:
    return ", ".join(f"{k} {row[k]!r}" for k in ("outcome", "limit", "grade", "pd_12m"))


def _check(example: Example, row: dict[str, Any], grades: list[str]) -> list[Failure]:
    expect, name = example.expect, example.name
    fired = list(row["rules_fired"])
    checks: list[tuple[str, bool, object, object]] = []
    if expect.outcome is not None:
        checks.append(("outcome", row["outcome"] == expect.outcome, expect.outcome, row["outcome"]))
    if expect.fired is not None:
        same = sorted(fired) == sorted(expect.fired)
        checks.append(("rules fired", same, sorted(expect.fired), sorted(fired)))
    for rule in expect.fires:
        checks.append((f"rule {rule}", rule in fired, "fires", "does not fire"))
    for rule in expect.not_fired:
        checks.append((f"rule {rule}", rule not in fired, "does not fire", "fires"))
    if expect.grade is not None:
        checks.append(("grade", row["grade"] == expect.grade, expect.grade, row["grade"]))
    if expect.grade_no_better_than is not None:
        ok = grades.index(row["grade"]) >= grades.index(expect.grade_no_better_than)
        checks.append(("grade", ok, f"{expect.grade_no_better_than} or worse", row["grade"]))
    if expect.limit is not None:
        checks.append(("limit", row["limit"] == expect.limit, expect.limit, row["limit"]))
    if expect.limit_at_least is not None:
        ok = row["limit"] >= expect.limit_at_least
        checks.append(("limit", ok, f"at least {expect.limit_at_least:g}", row["limit"]))
    if expect.limit_at_most is not None:
        ok = row["limit"] <= expect.limit_at_most
        checks.append(("limit", ok, f"at most {expect.limit_at_most:g}", row["limit"]))
    if expect.binding is not None:
        got = row["binding_constraint"]
        checks.append(("binding constraint", got == expect.binding, expect.binding, got))
    if expect.reasons_start is not None:
        start = list(row["reason_codes"])[: len(expect.reasons_start)]
        checks.append(
            (
                "first reasons",
                start == list(expect.reasons_start),
                list(expect.reasons_start),
                start,
            )
        )
    return [Failure(name, field, wanted, got) for field, ok, wanted, got in checks if not ok]


def coverage_warnings(rules: RuleSet, examples: Examples) -> list[str]:
    """Rules whose condition is true for none of the examples, or for all of them: a rule
    no example exercises, or one that would decide for every merchant the author thought
    of (said as warnings: `rules check` still passes)."""
    return firing_warnings(rules, example_features(examples), "examples")


def firing_warnings(rules: RuleSet, features: pl.DataFrame, what: str) -> list[str]:
    """Rules whose condition is true for none of `features`' rows, or for all of them
    (`what` names the rows in the words: "examples", "merchants of data/sample")."""
    fired = features.select(rules.condition(r) for r in rules.rules)
    warnings = []
    for rule in rules.rules:
        hits = int(fired.get_column(rule.id).sum())
        if hits == 0:
            warnings.append(
                f"{rule.id} fires for none of the {features.height} {what}; check its "
                "condition can be true (and add an example where it fires)"
            )
        elif hits == features.height:
            warnings.append(
                f"{rule.id} fires for every one of the {features.height} {what}; check its "
                "condition is not true for every merchant"
            )
    return warnings
