"""Rule sets as data: `rules/<version>/rules.toml` beside `policy.toml`.

Each rule has an id, a kind, a condition (an SQL boolean expression over feature names,
compiled by `polars.sql_expr`: parsed, never evaluated as Python), a reason code and a
plain-language reason. The kinds, with what their rules do and the field they carry, are
one table, `RULE_KINDS`: `knockout` (decline), `refer` (to a loan officer), `grade_cap`
(grade no better than `grade`), `limit_cap` (limit no higher than the SQL expression
`cap`). A condition that is null for a merchant (missing data) does not fire;
write `x IS NULL OR ...` to fire on missing data.

`check_rules` reports every problem with its file, rule id and fix (the files are read by
`underwriting.io.rule_sets`, whose `load_rule_set` refuses a rule set with any problem).
Beyond parsing, a condition or cap must look at one merchant at a time (no aggregate such as SUM or AVG, no COUNT(*), no window with OVER),
and it is run on a few made-up merchants: it must compute on the features' types, give
true/false (a condition) or an amount (a cap), and give each merchant what it gives it
alone.
"""

from __future__ import annotations

import datetime as dt
import json
import re
import tomllib
from dataclasses import dataclass
from functools import cache, cached_property
from typing import Any, Literal

import polars as pl
from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from underwriting.columns.one_chunk import plain_columns
from underwriting.errors import PolicyError
from underwriting.features.registry import FEATURES_BY_NAME, feature_schema
from underwriting.policy.parameters import Policy, parse_policy, version_of

Kind = Literal["knockout", "refer", "grade_cap", "limit_cap"]


@dataclass(frozen=True)
class RuleKind:
    """A kind of rule: what its rules do when they fire, and the field they carry."""

    name: Kind
    effect: str
    """What a rule of the kind does to a decision when it fires, in words."""
    field: Literal["grade", "cap"] | None = None
    """The field every rule of the kind needs (and no other kind may have)."""
    field_meaning: str = ""


RULE_KINDS: tuple[RuleKind, ...] = (
    RuleKind("knockout", "declines"),
    RuleKind("refer", "refers the application to a loan officer"),
    RuleKind("grade_cap", "caps the grade", "grade", "the best grade it allows"),
    RuleKind("limit_cap", "caps the limit", "cap", "an SQL expression for the ceiling"),
)
"""Every kind of rule, in precedence: in a decision's trace and reasons, the rules of an
earlier kind come first (by id within a kind). The engine gives each kind's effect one
step of its own (`underwriting.engine`)."""

PRECEDENCE: dict[str, int] = {kind.name: i for i, kind in enumerate(RULE_KINDS)}


class Rule(BaseModel):
    """One rule of a rule set, as written in rules.toml."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    id: str = Field(pattern=r"^[A-Z0-9][A-Z0-9_-]*$")
    kind: Kind
    condition: str = Field(min_length=1)
    reason_code: str = Field(min_length=1)
    reason: str = Field(min_length=10)
    grade: str | None = None
    cap: str | None = None

    @model_validator(mode="after")
    def _fields_of_kind(self) -> Rule:
        for kind in RULE_KINDS:
            if kind.field is None:
                continue
            value = getattr(self, kind.field)
            if self.kind == kind.name and value is None:
                raise ValueError(f"a {kind.name} rule needs `{kind.field}`, {kind.field_meaning}")
            if self.kind != kind.name and value is not None:
                raise ValueError(
                    f"`{kind.field}` belongs to {kind.name} rules, not {self.kind}; remove it"
                )
        return self


@dataclass(frozen=True)
class Problem:
    """A reason a rule set cannot be used: where, which rule, and what to do."""

    file: str
    rule_id: str | None
    message: str

    def __str__(self) -> str:
        where = f"{self.file} [{self.rule_id}]" if self.rule_id else self.file
        return f"{where}: {self.message}"


@dataclass(frozen=True)
class RuleSet:
    """A checked rule set: its policy, rules (sorted by id) and version."""

    name: str
    version: str
    policy: Policy
    rules: tuple[Rule, ...]

    @cached_property
    def in_precedence(self) -> tuple[Rule, ...]:
        """The rules by kind in `RULE_KINDS`' order, then by id: the order of the trace."""
        return tuple(sorted(self.rules, key=lambda r: (PRECEDENCE[r.kind], r.id)))

    def of_kind(self, kind: Kind) -> tuple[Rule, ...]:
        """The rules of one kind, in precedence."""
        return tuple(r for r in self.in_precedence if r.kind == kind)

    def condition(self, rule: Rule) -> pl.Expr:
        """The rule's condition as a polars expression; null (missing data) is false."""
        return self._compiled[0][rule.id]

    def cap(self, rule: Rule) -> pl.Expr:
        """The ceiling of a limit_cap rule as a polars expression."""
        return self._compiled[1][rule.id]

    @cached_property
    def _compiled(self) -> tuple[dict[str, pl.Expr], dict[str, pl.Expr]]:
        """Every condition and cap parsed once: parsing SQL costs more than evaluating it
        on one merchant."""
        conditions = {
            r.id: pl.sql_expr(r.condition).fill_null(False).alias(r.id) for r in self.rules
        }
        caps = {
            r.id: pl.sql_expr(r.cap).cast(pl.Float64()).alias(r.id)
            for r in self.rules
            if r.cap is not None
        }
        return conditions, caps

    def to_json(self) -> str:
        """The checked rule set as JSON text, to hand to another process (no pickle)."""
        return json.dumps(
            {
                "name": self.name,
                "version": self.version,
                "policy": self.policy.model_dump(mode="json"),
                "rules": [r.model_dump(mode="json") for r in self.rules],
            }
        )

    @classmethod
    def from_json(cls, text: str) -> RuleSet:
        """The rule set `to_json` wrote, with its recorded version."""
        document = json.loads(text)
        return cls(
            document["name"],
            document["version"],
            Policy.model_validate(document["policy"]),
            tuple(Rule.model_validate(r) for r in document["rules"]),
        )


_SAMPLE_SIZE = 8


@cache
def _sample_merchants() -> pl.DataFrame:
    """Made-up merchants, every feature typed as the registry says and different from row
    to row: what each condition and cap is tried on."""
    numbers = [-0.5, 0.0, 0.25, 0.9, 3.0, 120.0, 5_000.0, 250_000.0]
    columns: dict[str, list[Any]] = {}
    for k, (name, dtype) in enumerate(feature_schema().items()):
        turn = [(i + k) % _SAMPLE_SIZE for i in range(_SAMPLE_SIZE)]  # columns not in step
        if dtype == pl.Boolean():
            columns[name] = [i % 2 == 0 for i in turn]
        elif dtype == pl.Date():
            columns[name] = [dt.date(2026, 1, 1) + dt.timedelta(days=30 * i) for i in turn]
        elif dtype == pl.String():
            columns[name] = [f"{name}-{i}" for i in turn]
        elif dtype.is_integer():
            columns[name] = [int(abs(numbers[i]) * 3) for i in turn]
        else:
            columns[name] = [numbers[i] for i in turn]
    return pl.DataFrame(columns, schema=feature_schema())


_Part = Literal["condition", "cap"]

# Expression nodes that read other rows than the merchant's own: aggregates (SUM, AVG,
# MIN, FIRST...), COUNT(*) and windows (... OVER, LAG).
_ACROSS_ROWS = frozenset({"Agg", "Len", "Over", "Window", "Shift"})


def _reads_other_merchants(expression: pl.Expr) -> bool:
    """Whether the expression holds an aggregate, COUNT(*) or a window."""
    return bool(_nodes(json.loads(expression.meta.serialize(format="json"))) & _ACROSS_ROWS)


def _nodes(tree: object) -> set[str]:
    """Every node name in an expression's JSON tree: keys, and bare names such as "Len";
    not the text of literals (a region called 'Over' is no window)."""
    if isinstance(tree, dict):
        inner = (_nodes(v) for k, v in tree.items() if k not in {"Literal", "Column"})
        return set(tree).union(*inner)
    if isinstance(tree, list):
        return set().union(*(_nodes(v) for v in tree))
    return {tree} if isinstance(tree, str) else set()


@dataclass(frozen=True)
class _Tried:
    """A parsed condition or cap of a rule, to run on the sample merchants."""

    rule_id: str
    field: _Part
    expression: pl.Expr
    kind: str = "knockout"


def _run_problems(path: str, tried: list[_Tried]) -> list[Problem]:
    """Problems of conditions and caps beyond parsing: reading other merchants, an error
    when run on the features' types, the wrong type, or a result for a merchant that is
    not what it gets alone."""
    sample = _sample_merchants()
    problems = []
    for t in tried:
        if _reads_other_merchants(t.expression):
            problems.append(
                Problem(
                    path,
                    t.rule_id,
                    f"{t.field} reads other merchants (an aggregate such as SUM or AVG, "
                    "COUNT(*) or a window with OVER); a rule must look at one merchant at "
                    "a time",
                )
            )
            continue
        value = t.expression.alias("value")
        try:
            together = sample.with_columns(value).get_column("value")  # constants repeat
            alone = [
                plain_columns(row).with_columns(value).get_column("value").head(1)
                for row in sample.iter_slices(1)
            ]
        except Exception as error:  # polars raises several error types for bad expressions
            problems.append(
                Problem(
                    path,
                    t.rule_id,
                    f"{t.field} cannot be computed on the features ({_short(error)}); fix the "
                    "expression",
                )
            )
            continue
        deciding = t.kind in ("knockout", "refer")  # a cap for everyone can be meant
        if (
            deciding
            and t.field == "condition"
            and together.dtype == pl.Boolean()
            and together.all()
        ):
            problems.append(
                Problem(
                    path,
                    t.rule_id,
                    f"condition is true for every merchant tried (made-up merchants of every "
                    f"kind): the {t.kind} would decide for everyone; check the comparison",
                )
            )
            continue
        if (
            t.field == "cap"
            and not t.expression.meta.root_names()
            and together.dtype.is_numeric()
            and (together < 0).any()
        ):
            problems.append(
                Problem(path, t.rule_id, "cap is negative; a limit cap is an amount of 0 or more")
            )
            continue
        if t.field == "condition" and together.dtype != pl.Boolean():
            problems.append(
                Problem(
                    path,
                    t.rule_id,
                    f"condition gives {together.dtype}, not true or false; write a comparison",
                )
            )
        elif t.field == "cap" and not together.dtype.is_numeric():
            problems.append(
                Problem(
                    path, t.rule_id, f"cap gives {together.dtype}, not an amount; write a number"
                )
            )
        elif not together.equals(pl.concat(alone)):
            problems.append(
                Problem(
                    path,
                    t.rule_id,
                    f"{t.field} gives a merchant another result among others than alone; a "
                    "rule must look at one merchant at a time",
                )
            )
    return problems


_CLOCK = re.compile(
    r"\b(CURRENT_DATE|CURRENT_TIME|CURRENT_TIMESTAMP|LOCALTIME|LOCALTIMESTAMP|NOW|TODAY)\b",
    re.IGNORECASE,
)


def _short(error: BaseException, width: int = 100) -> str:
    """An error's first line, cut to `width` characters (a parser's internals are long)."""
    first = str(error).strip().splitlines()[0] if str(error).strip() else type(error).__name__
    return first if len(first) <= width else first[: width - 1] + "…"


def _parsed(path: str, rule_id: str, field: str, text: str) -> pl.Expr | Problem:
    """`text` compiled, or the problem: SQL that does not parse, reads the clock, or
    names unknown features."""
    clock = _CLOCK.search(text)
    if clock:
        return Problem(
            path,
            rule_id,
            f"{field} reads the clock ({clock.group(1).upper()}): a decision replayed another "
            "day would differ; compare features (tenure_days, days_of_history) instead",
        )
    try:
        expression = pl.sql_expr(text)
    except Exception as error:  # polars raises several error types for bad SQL
        return Problem(
            path, rule_id, f"{field} is not valid SQL ({_short(error)}); fix the expression"
        )
    unknown = sorted(set(expression.meta.root_names()) - set(FEATURES_BY_NAME))
    if unknown:
        return Problem(
            path,
            rule_id,
            f"{field} uses unknown feature(s) {', '.join(unknown)}; use names from "
            "docs/features.md",
        )
    return expression


def _read_rules(raw: bytes | None, path: str) -> tuple[list[dict[str, Any]], list[Problem]]:
    if raw is None:
        return [], [Problem(path, None, "no rules file; every rule set needs rules.toml")]
    try:
        document = tomllib.loads(raw.decode())
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as error:
        return [], [Problem(path, None, f"not valid TOML ({error}); fix the syntax")]
    extra = sorted(set(document) - {"rule"})
    problems = []
    if extra:
        message = f"unknown top-level key(s) {', '.join(extra)}; rules go in [[rule]] tables"
        problems.append(Problem(path, None, message))
    entries = document.get("rule", [])
    if not isinstance(entries, list):
        return [], [
            *problems,
            Problem(path, None, "`rule` must be an array of [[rule]] tables"),
        ]
    return entries, problems


def check_rules(
    name: str,
    policy_toml: bytes | None,
    rules_toml: bytes | None,
    *,
    policy_source: str,
    rules_source: str,
) -> tuple[list[Problem], RuleSet | None]:
    """Every problem of the rule set `name` (its policy.toml and rules.toml as bytes, None
    for a missing file; the sources name them in problems), and the rule set when there
    are none."""
    problems: list[Problem] = []
    policy: Policy | None = None
    if policy_toml is None:
        problems.append(
            Problem(policy_source, None, "no policy file; every rule set needs policy.toml")
        )
    else:
        try:
            policy = parse_policy(policy_toml, policy_source)
        except PolicyError as error:
            problems.append(Problem(policy_source, None, str(error).split(": ", 1)[-1]))
    entries, found = _read_rules(rules_toml, rules_source)
    problems += found
    rules: list[Rule] = []
    seen: set[str] = set()
    tried: list[_Tried] = []
    for position, entry in enumerate(entries, start=1):
        rule_id = (
            str(entry.get("id", f"rule #{position}"))
            if isinstance(entry, dict)
            else f"rule #{position}"
        )
        try:
            rule = Rule.model_validate(entry)
        except ValidationError as error:
            for e in error.errors():
                field = ".".join(str(p) for p in e["loc"]) or "rule"
                message = str(e["msg"]).removeprefix("Value error, ")
                problems.append(Problem(rules_source, rule_id, f"{field}: {message}"))
            continue
        if rule.id in seen:
            problems.append(
                Problem(rules_source, rule.id, "duplicate id; give every rule its own id")
            )
            continue
        seen.add(rule.id)
        fields: tuple[tuple[_Part, str | None], ...] = (
            ("condition", rule.condition),
            ("cap", rule.cap),
        )
        for field, text in fields:
            if text is None:
                continue
            parsed = _parsed(rules_source, rule.id, field, text)
            if isinstance(parsed, Problem):
                problems.append(parsed)
            else:
                tried.append(_Tried(rule.id, field, parsed, rule.kind))
        if rule.grade is not None and policy is not None:
            grades = [b.grade for b in policy.master_scale]
            if rule.grade not in grades:
                problems.append(
                    Problem(
                        rules_source,
                        rule.id,
                        f"grade {rule.grade!r} is not on the master scale {grades}",
                    )
                )
        rules.append(rule)
    problems += _run_problems(rules_source, tried)
    if not entries and rules_toml is not None:
        problems.append(
            Problem(rules_source, None, "no rules; a rule set needs at least one [[rule]]")
        )
    codes: dict[str, str] = {}
    for rule in rules:
        if rule.reason_code in codes:
            problems.append(
                Problem(
                    rules_source,
                    rule.id,
                    f"reason code {rule.reason_code} is also {codes[rule.reason_code]}'s; give "
                    "every rule its own reason code, so a notice says which rule decided",
                )
            )
        codes.setdefault(rule.reason_code, rule.id)
    if policy is not None and policy.limits is None:
        problems.append(
            Problem(
                policy_source,
                None,
                "no [limits]: a decision needs the limit parameters (term, fee, stress, loan "
                "sizes and the multiple and holdback of every grade); add them",
            )
        )
    if problems or policy is None or policy_toml is None or rules_toml is None:
        return problems, None
    ordered = tuple(sorted(rules, key=lambda r: r.id))
    return [], RuleSet(name, version_of(name, policy_toml, rules_toml), policy, ordered)
