"""A rule set's invariants: what must hold for every merchant, stated as data and searched
for counterexamples with Hypothesis.

`invariants.toml` holds `[[invariant]]` tables of three kinds, conditions in the same safe
SQL as rules (`polars.sql_expr`, never Python):

- monotone: when `feature` rises, all else equal, `output` (limit, pd_12m, grade or
  outcome; for grade and outcome, "up" means worse) never moves against `direction`
  ("same": it never falls; "opposite": it never rises);
- implication: `when` (over the features) implies `then` (over the decision and the
  features), e.g. `chargeback_ratio > 0.01` => `outcome = 'decline'`;
- bound: `then` alone, for every merchant (e.g. `limit BETWEEN 0 AND 250000`).

The search draws merchants from the examples' base merchants, each feature either kept or
replaced by a value in its unit's range, and shrinks a counterexample to the fewest
changed features (Hypothesis' `find`, derandomised: the same search every run). A
counterexample is printed as a ready-to-paste example whose expectation is the invariant.
"""

from __future__ import annotations

import datetime as dt
import tomllib
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Literal

import polars as pl
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from underwriting.errors import PolicyError
from underwriting.features.registry import FEATURES_BY_NAME, feature_schema
from underwriting.policy.examples import Examples, features_frame, with_decision

if TYPE_CHECKING:  # Hypothesis loads when a search runs, not with the rule set
    from hypothesis import strategies as st

FILE = "invariants.toml"
OUTCOME_ORDER = {"approve": 0, "refer": 1, "decline": 2}
Decide = Callable[[pl.DataFrame], pl.DataFrame]
"""The whole engine on a feature frame: one decision row per feature row, in order."""


class Invariant(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    name: str = Field(min_length=1)
    kind: Literal["monotone", "implication", "bound"]
    feature: str | None = None
    output: Literal["limit", "pd_12m", "grade", "outcome"] | None = None
    direction: Literal["same", "opposite"] = "same"
    when: str | None = None
    then: str | None = None
    why: str | None = None


class Invariants(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    invariant: tuple[Invariant, ...] = Field(min_length=1)


def parse_invariants(raw: bytes, source: str) -> Invariants:
    """The invariants in the bytes of an invariants.toml; a bad one is a PolicyError
    naming `source`, the invariant and the fix."""
    try:
        found = Invariants.model_validate(tomllib.loads(raw.decode()))
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as error:
        raise PolicyError(f"{source}: not valid TOML ({error}); fix the syntax") from None
    except ValidationError as error:
        first = error.errors()[0]
        where = ".".join(str(p) for p in first["loc"])
        raise PolicyError(f"{source}: {where}: {first['msg']}") from None
    for invariant in found.invariant:
        _check(invariant, source)
    return found


def _check(invariant: Invariant, source: str) -> None:
    def bad(message: str) -> PolicyError:
        return PolicyError(f"{source}: invariant {invariant.name!r}: {message}")

    if invariant.kind == "monotone":
        if invariant.feature not in FEATURES_BY_NAME or invariant.output is None:
            raise bad("a monotone invariant needs a known `feature` and an `output`")
        if not feature_schema()[invariant.feature].is_numeric():
            raise bad(f"{invariant.feature} is not numeric; monotone needs a number")
        return
    if invariant.then is None or (invariant.kind == "implication") != (invariant.when is not None):
        raise bad("an implication needs `when` and `then`; a bound needs `then` only")
    for text in (invariant.when, invariant.then):
        if text is None:
            continue
        try:
            expression = pl.sql_expr(text)
        except Exception as error:  # polars raises several error types for bad SQL
            raise bad(f"not valid SQL ({str(error).splitlines()[0][:100]})") from None
        known = {*feature_schema(), *_DECISION_NAMES}
        unknown = sorted(set(expression.meta.root_names()) - known)
        if unknown:
            raise bad(f"unknown name(s) {unknown}; use features and decision fields")


_DECISION_NAMES = ("outcome", "limit", "grade", "model_grade", "pd_12m", "score")
_RANGES: dict[str, tuple[float, float]] = {
    "share": (0.0, 1.0),
    "ratio": (-1.0, 5.0),
    "currency": (0.0, 500_000.0),
    "days": (0, 3650),
    "months": (0, 24),
    "visits": (0, 200_000),
    "tier": (1, 5),
}


def _value(name: str, dtype: pl.DataType) -> st.SearchStrategy[Any] | None:
    """Values a feature is drawn from, by its unit; None to keep the base's value."""
    from hypothesis import strategies as st

    if dtype == pl.Boolean():
        return st.booleans()
    unit = FEATURES_BY_NAME[name].unit if name in FEATURES_BY_NAME else ""
    low, high = _RANGES.get(unit, (0.0, 1_000.0))
    if dtype.is_integer():
        return st.integers(int(low), int(high))
    if dtype.is_float():
        return st.floats(low, high, allow_nan=False, allow_infinity=False)
    return None


def with_book(examples: Examples, book: pl.DataFrame) -> Examples:
    """`examples` with every row of `book` (a feature table: real merchants) as a base of
    its own, named by its merchant_id, for the search to perturb."""
    rows = {
        str(row["merchant_id"]): {k: v for k, v in row.items() if v is not None}
        for row in book.select(feature_schema().names()).iter_rows(named=True)
    }
    return examples.model_copy(update={"base": {**examples.base, **rows}})


def merchants(examples: Examples) -> st.SearchStrategy[tuple[str, dict[str, Any]]]:
    """A base merchant's name and the features that differ from it (shrinking towards
    fewer changes, so a counterexample shows only what matters)."""
    from hypothesis import strategies as st

    schema = feature_schema()
    changes = {
        name: values
        for name, dtype in schema.items()
        if name not in ("merchant_id", "as_of") and (values := _value(name, dtype)) is not None
    }
    given = st.fixed_dictionaries({}, optional=changes)
    return st.tuples(st.sampled_from(sorted(examples.base)), given)


@dataclass(frozen=True)
class Counterexample:
    invariant: Invariant
    base: str
    given: dict[str, Any]
    expect: dict[str, Any]
    got: dict[str, Any]

    def as_example(self, base_features: dict[str, Any] | None = None) -> str:
        """The counterexample as a ready-to-paste [[example]] of examples.toml; with
        `base_features` (a merchant of a book, not a base of the file), its [base] table
        first."""
        given = ", ".join(f"{k} = {_toml(v)}" for k, v in sorted(self.given.items()))
        expect = "\n".join(f"{k} = {_toml(v)}" for k, v in self.expect.items())
        base = ""
        if base_features is not None:
            lines = [f"{k} = {_toml(v)}" for k, v in base_features.items() if v is not None]
            base = f"[base.{_toml(self.base)}]\n" + "\n".join(lines) + "\n\n"
        return base + (
            f"[[example]]\nname = {_toml('counterexample: ' + self.invariant.name)}\n"
            f"base = {_toml(self.base)}\ngiven = {{ {given} }}\n"
            f"# came out: {', '.join(f'{k}: {v!r}' for k, v in self.got.items())}\n"
            f"[example.expect]\n{expect}\n"
        )


def _toml(value: object) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, dt.date):
        return value.isoformat()
    if isinstance(value, str):
        return '"' + value.replace("\\", "\\\\").replace('"', '\\"') + '"'
    return repr(value)


def _frame(examples: Examples, rows: list[tuple[str, dict[str, Any]]]) -> pl.DataFrame:
    return features_frame([{**examples.base[base], **given} for base, given in rows])


def _holds(frame: pl.DataFrame, text: str) -> bool:
    value = frame.select(pl.sql_expr(text).fill_null(False)).item()
    return bool(value)


def _rank(invariant: Invariant, decision: dict[str, Any], grades: list[str]) -> float:
    output = invariant.output
    if output == "grade":
        return grades.index(decision["grade"])
    if output == "outcome":
        return OUTCOME_ORDER[decision["outcome"]]
    return float(decision[str(output)])


def search(
    invariant: Invariant,
    examples: Examples,
    decide: Decide,
    grades: list[str],
    tries: int = 200,
) -> Counterexample | None:
    """The smallest counterexample to `invariant` found in `tries` merchants, or None."""
    from hypothesis import HealthCheck, Phase, find, settings
    from hypothesis import strategies as st
    from hypothesis.errors import NoSuchExample

    settings_ = settings(
        max_examples=tries,
        database=None,
        derandomize=True,
        deadline=None,
        phases=(Phase.generate, Phase.shrink),
        suppress_health_check=list(HealthCheck),
    )
    if invariant.kind == "monotone":
        feature = str(invariant.feature)
        unit = FEATURES_BY_NAME[feature].unit if feature in FEATURES_BY_NAME else ""
        low, high = _RANGES.get(unit, (0.0, 1_000.0))
        span = max(high - low, 1)  # a rise anywhere from a hair to the unit's whole range
        step = (
            st.floats(1e-6, float(span))
            if feature_schema()[feature].is_float()
            else st.integers(1, int(span))
        )
        strategy: st.SearchStrategy[Any] = st.tuples(merchants(examples), step)

        def broken(drawn: Any) -> bool:
            (base, given), delta = drawn
            low = {**examples.base[base], **given}
            if low.get(feature) is None:
                return False
            high = {**given, feature: low[feature] + delta}
            decided = decide(_frame(examples, [(base, given), (base, high)])).to_dicts()
            move = _rank(invariant, decided[1], grades) - _rank(invariant, decided[0], grades)
            return move < 0 if invariant.direction == "same" else move > 0

    else:
        strategy = merchants(examples)

        def broken(drawn: Any) -> bool:
            features = _frame(examples, [drawn])
            if invariant.when is not None and not _holds(features, invariant.when):
                return False
            return not _holds(with_decision(features, decide(features)), str(invariant.then))

    try:
        found = find(strategy, broken, settings=settings_)
    except NoSuchExample:
        return None
    return _counterexample(invariant, examples, decide, grades, found)


def _counterexample(
    invariant: Invariant, examples: Examples, decide: Decide, grades: list[str], found: Any
) -> Counterexample:
    if invariant.kind != "monotone":
        base, given = found
        decided = decide(_frame(examples, [found])).row(0, named=True)
        got = {k: decided[k] for k in ("outcome", "limit", "grade", "pd_12m")}
        return Counterexample(invariant, base, given, {"holds": str(invariant.then)}, got)
    (base, given), delta = found
    feature = str(invariant.feature)
    low_value = {**examples.base[base], **given}[feature]
    high = {**given, feature: low_value + delta}
    low_decision, high_decision = decide(_frame(examples, [(base, given), (base, high)])).to_dicts()
    output = str(invariant.output)
    before = low_decision[output]
    expect: dict[str, Any]
    if output == "grade":
        expect = (
            {"grade_no_better_than": before}
            if invariant.direction == "same"
            else {"holds": f"grade <= '{before}'"}
        )
    elif output == "outcome":
        rank = OUTCOME_ORDER[before]  # "same": no better than before; "opposite": no worse
        allowed = [
            o
            for o, r in OUTCOME_ORDER.items()
            if (r >= rank if invariant.direction == "same" else r <= rank)
        ]
        expect = {"holds": "outcome IN (" + ", ".join(f"'{o}'" for o in allowed) + ")"}
    else:
        sign = ">=" if invariant.direction == "same" else "<="
        expect = {"holds": f'"{output}" {sign} {before!r}'}  # quoted: LIMIT is SQL
    got = {
        f"{output} at {feature} = {low_value!r}": before,
        f"at {high[feature]!r}": high_decision[output],
    }
    return Counterexample(invariant, base, high, expect, got)
