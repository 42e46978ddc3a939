"""One decision function: a frame of merchants' features in, a frame of decisions out.

For each merchant: the model's PD, score and grade; every rule of the rule set evaluated
(the trace); the grade capped by any grade cap that fired; the limit from the limit
engine with every limit cap that fired; and the outcome:

* decline when a knock-out fired, or when the affordable limit is below the minimum loan;
* refer when a referral rule fired;
* approve otherwise.

Reasons put the rules' reasons first (knock-outs, then referrals, caps), then the model's,
at most four. Every decision carries the model and rule-set versions. A decline is an
outcome, never an error; a single decision is this function on a one-row frame.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import polars as pl

from underwriting.applications import Application, Prepared, prepare, prepare_many
from underwriting.columns.one_chunk import plain_columns
from underwriting.columns.token_lists import enum_values, first_present, token_lists
from underwriting.decision import CODES_ONLY, OUTCOMES, Decision
from underwriting.errors import InputError, PolicyError
from underwriting.model.artifact import Scorecard
from underwriting.model.reasons import reason_texts
from underwriting.model.scoring import MAX_REASONS, grade_series, score_arrays_of
from underwriting.policy.limits import CONSTRAINTS, apply_limits
from underwriting.policy.parameters import Limits
from underwriting.policy.rules import Kind, Rule, RuleSet

BELOW_MINIMUM = "LIMIT-BELOW-MINIMUM"
_LIMIT_INPUTS = (
    "merchant_id",
    "as_of",
    "avg_monthly_sales",
    "sales_90d",
    "existing_exposure",
    "industry_max_limit",
)
_AS_EAGER = pl.QueryOptFlags.none(simplify_expression=True)
"""The optimizations polars applies to an eager DataFrame operation."""


@dataclass(frozen=True)
class Engine:
    """A scorecard, a checked rule set and the industry benchmarks: all a decision needs."""

    model: Scorecard
    rules: RuleSet
    benchmarks: pl.DataFrame | None = None

    def __post_init__(self) -> None:
        _limits(self.rules)  # refuse a rule set without limits when the engine is built

    def decide_frame(self, features: pl.DataFrame, *, words: bool = True) -> pl.DataFrame:
        """Decisions for every row of a feature table (see `decide`), with the reasons in
        words beside their codes unless `words` is false (portfolio runs keep the codes;
        the sentences follow from them, the features and the versions)."""
        decisions = decide(self.model, self.rules, features)
        return in_words(decisions, features, self.model, self.rules) if words else decisions

    def prepare(self, application: Application) -> Prepared:
        """One merchant's features from its raw data, validated once, as a batch would be
        (`underwriting.applications.prepare`)."""
        return prepare(application, self._benchmarks())

    def decide(self, application: Application) -> Decision:
        """One merchant's decision from its raw data: the batch path on a one-row frame."""
        features = self.prepare(application).features
        return Decision.from_row(self.decide_frame(features).row(0, named=True))

    def prepare_many(self, applications: Sequence[Application]) -> list[Prepared | InputError]:
        """Each application's `prepare` result (or its InputError), computed together
        (`underwriting.applications.prepare_many`)."""
        return prepare_many(applications, self._benchmarks())

    def _benchmarks(self) -> pl.DataFrame:
        if self.benchmarks is None:
            raise PolicyError(
                "this engine has no industry benchmarks; load it with them to decide from raw data"
            )
        return self.benchmarks


def _limits(rules: RuleSet) -> Limits:
    if rules.policy.limits is None:
        raise PolicyError(
            f"rule set {rules.version} has no [limits] in policy.toml; decisions need them"
        )
    return rules.policy.limits


def decide(model: Scorecard, rules: RuleSet, features: pl.DataFrame) -> pl.DataFrame:
    """Decisions for every row of `features`, in `DECISION_SCHEMA`'s columns but the
    sentences; rows keep their order.

    Reasons are codes here (rule reason codes, LIMIT-BELOW-MINIMUM, model feature names);
    `in_words` turns them into sentences. The work is columnar: rules are evaluated in one
    polars pass, the outcome and lists are assembled from arrays.
    """
    # on plain columns in one chunk, every row gets the same arithmetic (see `one_chunk`)
    return _decide(model, rules, plain_columns(features)).head(features.height)


def _decide(model: Scorecard, rules: RuleSet, features: pl.DataFrame) -> pl.DataFrame:
    limits = _limits(rules)
    missing = [c for c in _LIMIT_INPUTS if c not in features.columns]
    if missing:
        raise InputError(
            f"features table lacks {', '.join(missing)}; rebuild it with `underwrite features`"
        )
    scores = score_arrays_of(model, rules.policy, features)
    fired = fire(rules, features)
    grade = grade_series(rules.policy, cap_grades(rules, fired, scores.grade_index))
    limited = cap_limits(limits, fired, features, grade, scores.pd_12m)
    knockout = fired.any_of("knockout")
    below = limited.get_column("limit").to_numpy() < limits.min_loan
    declined = knockout | below
    outcome = decide_outcome(declined, fired.any_of("refer"))
    rule_tokens = fired.tokens()
    codes = principal_reasons(rule_tokens, below & ~knockout, scores.reasons)
    vocabulary = [r.reason_code for r in fired.rules] + [BELOW_MINIMUM]
    vocabulary += [f.name for f in model.features]
    rows = features.height
    approved_or_referred = pl.Series(~declined)

    def unless_declined(column: str) -> pl.Series:
        """The column, 0 where declined (a Series method: a query costs more on one row)."""
        values = limited.get_column(column)
        zero = pl.Series(column, [0], dtype=values.dtype).new_from_index(0, rows)
        return values.zip_with(approved_or_referred, zero)

    def constant(name: str, value: str) -> pl.Series:
        return pl.Series(name, [value], dtype=pl.String()).new_from_index(0, rows)

    columns = {
        "merchant_id": features.get_column("merchant_id"),
        "as_of": features.get_column("as_of"),
        "outcome": enum_values(OUTCOMES).gather(pl.Series(outcome, dtype=pl.UInt32())),
        "limit": unless_declined("limit"),
        "grade": grade,
        "model_grade": grade_series(rules.policy, scores.grade_index, "model_grade"),
        "pd_12m": pl.Series("pd_12m", scores.pd_12m),
        "score": pl.Series("score", scores.score),
        "reason_codes": token_lists("reason_codes", codes, vocabulary),
        "rules_fired": token_lists("rules_fired", rule_tokens, [r.id for r in fired.rules]),
        "binding_constraint": limited.get_column("binding_constraint"),
        "expected_loss": unless_declined("expected_loss"),
        "daily_repayment": unless_declined("daily_repayment"),
        "model_version": constant("model_version", model.version),
        "rule_set_version": constant("rule_set_version", rules.version),
    }
    return pl.DataFrame([columns[name].alias(name) for name in CODES_ONLY])


@dataclass(frozen=True)
class Fired:
    """Which rules fired for each row: the rule set's rules in precedence, a (rows x
    rules) matrix, and each limit cap's ceiling per row."""

    rules: tuple[Rule, ...]
    matrix: np.ndarray
    ceilings: tuple[tuple[Rule, np.ndarray], ...]

    def any_of(self, kind: Kind) -> np.ndarray:
        """Per row, whether a rule of `kind` fired."""
        columns = [j for j, r in enumerate(self.rules) if r.kind == kind]
        found: np.ndarray = np.asarray(self.matrix[:, columns].any(axis=1))
        return found

    def column(self, rule: Rule) -> np.ndarray:
        """Per row, whether `rule` fired."""
        found: np.ndarray = self.matrix[:, self.rules.index(rule)]
        return found

    def tokens(self) -> np.ndarray:
        """Each row's fired rules as positions in `rules`, -1 for one that did not fire."""
        tokens = np.full(self.matrix.shape, -1, dtype=np.int16)
        np.copyto(tokens, np.arange(len(self.rules), dtype=np.int16), where=self.matrix)
        return tokens


def fire(rules: RuleSet, features: pl.DataFrame) -> Fired:
    """Every rule's condition, and every limit cap's ceiling, on every row (one pass)."""
    ordered = rules.in_precedence
    caps = rules.of_kind("limit_cap")
    evaluated = features.select(
        *(rules.condition(r) for r in ordered),
        *(rules.cap(r).alias(f"cap:{r.id}") for r in caps),
    )
    matrix = np.zeros((features.height, len(ordered)), dtype=bool)
    for j, rule in enumerate(ordered):
        matrix[:, j] = evaluated.get_column(rule.id).to_numpy()
    ceilings = tuple(
        (r, evaluated.get_column(f"cap:{r.id}").to_numpy().astype(float)) for r in caps
    )
    return Fired(ordered, matrix, ceilings)


def cap_grades(rules: RuleSet, fired: Fired, model_grade: np.ndarray) -> np.ndarray:
    """Each row's grade on the master scale (0 = best): the model's, made no better than
    the grade of every grade cap that fired."""
    grades = [b.grade for b in rules.policy.master_scale]
    grade_index = model_grade.astype(np.int64)
    for rule in rules.of_kind("grade_cap"):
        capped_at = grades.index(rule.grade or grades[-1])
        grade_index = np.where(fired.column(rule), np.maximum(grade_index, capped_at), grade_index)
    return grade_index


def cap_limits(
    limits: Limits,
    fired: Fired,
    features: pl.DataFrame,
    grade: pl.Series,
    pd_12m: np.ndarray,
    columns: Sequence[str] = ("limit", "binding_constraint", "expected_loss", "daily_repayment"),
) -> pl.DataFrame:
    """Each row's limit from the limit engine (`underwriting.policy.limits`), under the
    smallest ceiling of the limit caps that fired: limit, binding constraint, expected loss
    and daily repayment."""
    rule_cap = np.full(features.height, np.inf)
    for rule, ceiling in fired.ceilings:
        applies = fired.column(rule) & ~np.isnan(ceiling)
        rule_cap = np.where(applies, np.minimum(rule_cap, ceiling), rule_cap)
    inputs = pl.DataFrame(
        [
            *(features.get_column(c) for c in _LIMIT_INPUTS),
            grade,
            pl.Series("pd_12m", pd_12m),
            pl.Series("rule_cap", np.where(rule_cap == np.inf, np.nan, rule_cap), nan_to_null=True),
        ]
    )
    return (
        apply_limits(inputs, limits)
        .select(columns)
        .collect(engine="in-memory", optimizations=_AS_EAGER)
    )


def limit_terms(model: Scorecard, rules: RuleSet, features: pl.DataFrame) -> pl.DataFrame:
    """How each row's limit is built, as `decide` builds it: the base monthly sales, every
    ceiling (`ceiling_multiple`, `ceiling_capacity`, `ceiling_industry_max`,
    `ceiling_programme_max`, `ceiling_rule_cap`: the smallest limit cap that fired), the
    smallest, existing exposure, the headroom, the limit rounded down to the loan unit and
    the binding term; and `caps_fired`, the limit caps that fired. The limit is before the
    outcome: a declined merchant's decision says 0."""
    limits = _limits(rules)
    frame = plain_columns(features)
    scores = score_arrays_of(model, rules.policy, frame)
    fired = fire(rules, frame)
    grade = grade_series(rules.policy, cap_grades(rules, fired, scores.grade_index))
    columns = ("base_sales", *(f"ceiling_{c}" for c in CONSTRAINTS), "ceiling")
    columns += ("existing_exposure", "headroom", "limit", "binding_constraint")
    built = cap_limits(limits, fired, frame, grade, scores.pd_12m, columns)
    caps = [[r.id for r, _ in fired.ceilings if fired.column(r)[i]] for i in range(frame.height)]
    return built.with_columns(pl.Series("caps_fired", caps, dtype=pl.List(pl.String())))


def decide_outcome(declined: np.ndarray, referred: np.ndarray) -> np.ndarray:
    """Each row's outcome as its position in `OUTCOMES`: decline where declined (a
    knock-out, or a limit below the minimum loan), else refer where a referral fired, else
    approve."""
    return np.where(
        declined,
        OUTCOMES.index("decline"),
        np.where(referred, OUTCOMES.index("refer"), OUTCOMES.index("approve")),
    )


def principal_reasons(
    rule_tokens: np.ndarray, below_minimum: np.ndarray, model: np.ndarray
) -> np.ndarray:
    """Each row's reasons, at most `MAX_REASONS`, as positions in the vocabulary of the
    rules' reason codes (in precedence), LIMIT-BELOW-MINIMUM, then the model's features:
    the rules that fired (`rule_tokens`, see `Fired.tokens`), the minimum loan, then the
    model's reasons (`model`: feature positions, most points lost first); -1 for an empty
    slot."""
    rows, n = rule_tokens.shape
    tokens = np.full((rows, n + 1 + model.shape[1]), -1, dtype=np.int16)
    tokens[:, :n] = rule_tokens
    tokens[:, n] = np.where(below_minimum, n, -1)
    np.copyto(tokens[:, n + 1 :], model + np.int16(n + 1), where=model >= 0)
    return first_present(tokens, MAX_REASONS)


def rule_reasons(rules: RuleSet) -> dict[str, str]:
    """The sentence for each reason code a rule set gives (and for LIMIT-BELOW-MINIMUM)."""
    fixed = {r.reason_code: r.reason for r in rules.rules}
    fixed[BELOW_MINIMUM] = (
        f"The affordable limit is below our minimum loan of {_limits(rules).min_loan:,}"
    )
    return fixed


def in_words(
    decisions: pl.DataFrame, features: pl.DataFrame, model: Scorecard, rules: RuleSet
) -> pl.DataFrame:
    """`decisions` with `reasons`: each reason code as a sentence, beside `reason_codes`.

    Rule codes read as the rule's reason; a model reason names the feature, the merchant's
    value (from `features`, same rows in the same order), the best band and, where the
    registry links one, the industry's figure.
    """
    codes = decisions.get_column("reason_codes")
    reasons = reason_texts(codes, features, model, features.columns, rule_reasons(rules))
    at = decisions.get_column_index("reason_codes") + 1
    return decisions.clone().insert_column(at, reasons.alias("reasons"))
