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
from typing import Any

import numpy as np
import polars as pl

from underwriting.applications import Application, Prepared, prepare, prepare_many
from underwriting.columns.one_chunk import plain_columns
from underwriting.columns.token_lists import enum_values, first_present, token_lists
from underwriting.errors import InputError, PolicyError
from underwriting.model.artifact import Scorecard
from underwriting.model.reasons import reason_texts
from underwriting.model.scoring import MAX_REASONS, grade_series, score_arrays_of
from underwriting.policy.limits import apply_limits
from underwriting.policy.parameters import Limits
from underwriting.policy.rules import Rule, RuleSet

OUTCOMES = ("approve", "refer", "decline")
BELOW_MINIMUM = "LIMIT-BELOW-MINIMUM"
_LIMIT_INPUTS = (
    "merchant_id",
    "as_of",
    "avg_monthly_sales",
    "sales_90d",
    "existing_exposure",
    "industry_max_limit",
)
_KIND_ORDER = {"knockout": 0, "refer": 1, "grade_cap": 2, "limit_cap": 3}
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

    def decide(self, application: Application) -> dict[str, Any]:
        """One merchant's decision from its raw data: the batch path on a one-row frame."""
        return self.decide_frame(self.prepare(application).features).row(0, named=True)

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


def _ordered(rules: tuple[Rule, ...]) -> list[Rule]:
    return sorted(rules, key=lambda r: (_KIND_ORDER[r.kind], r.id))


def decide(model: Scorecard, rules: RuleSet, features: pl.DataFrame) -> pl.DataFrame:
    """Decisions for every row of `features`; rows keep their order.

    Reasons are codes here (rule reason codes, LIMIT-BELOW-MINIMUM, model feature names);
    `in_words` turns them into sentences. The work is columnar: rules are evaluated in one
    polars pass, the outcome and lists are assembled from arrays.
    """
    # on plain columns in one chunk, every row gets the same arithmetic (see `frames`)
    return _decide(model, rules, plain_columns(features)).head(features.height)


def _decide(model: Scorecard, rules: RuleSet, features: pl.DataFrame) -> pl.DataFrame:
    limits = _limits(rules)
    missing = [c for c in _LIMIT_INPUTS if c not in features.columns]
    if missing:
        raise InputError(
            f"features table lacks {', '.join(missing)}; rebuild it with `underwrite features`"
        )
    rows = features.height
    scores = score_arrays_of(model, rules.policy, features)
    grades = [b.grade for b in rules.policy.master_scale]
    ordered = _ordered(rules.rules)
    caps = [r for r in ordered if r.kind == "limit_cap"]
    evaluated = features.select(
        *(rules.condition(r) for r in ordered),
        *(rules.cap(r).alias(f"cap:{r.id}") for r in caps),
    )
    fired = np.zeros((rows, len(ordered)), dtype=bool)
    for j, rule in enumerate(ordered):
        fired[:, j] = evaluated.get_column(rule.id).to_numpy()

    def any_of(kind: str) -> np.ndarray:
        columns = [j for j, r in enumerate(ordered) if r.kind == kind]
        found: np.ndarray = np.asarray(fired[:, columns].any(axis=1))
        return found

    grade_index = scores.grade_index.astype(np.int64)
    for j, rule in enumerate(ordered):
        if rule.kind == "grade_cap":
            capped_at = grades.index(rule.grade or grades[-1])
            grade_index = np.where(fired[:, j], np.maximum(grade_index, capped_at), grade_index)
    rule_cap = np.full(rows, np.inf)
    for rule in caps:
        ceiling = evaluated.get_column(f"cap:{rule.id}").to_numpy().astype(float)
        applies = fired[:, ordered.index(rule)] & ~np.isnan(ceiling)
        rule_cap = np.where(applies, np.minimum(rule_cap, ceiling), rule_cap)
    grade = grade_series(rules.policy, grade_index)
    limited = (
        apply_limits(
            pl.DataFrame(
                [
                    *(features.get_column(c) for c in _LIMIT_INPUTS),
                    grade,
                    pl.Series("pd_12m", scores.pd_12m),
                    pl.Series(
                        "rule_cap", np.where(rule_cap == np.inf, np.nan, rule_cap), nan_to_null=True
                    ),
                ]
            ),
            limits,
        )
        .select("limit", "binding_constraint", "expected_loss", "daily_repayment")
        .collect(engine="in-memory", optimizations=_AS_EAGER)
    )
    knockout = any_of("knockout")
    below = limited.get_column("limit").to_numpy() < limits.min_loan
    declined = knockout | below
    outcome = np.where(declined, 2, np.where(any_of("refer"), 1, 0))

    # Tokens, left to right: each fired rule, the below-minimum reason, the model's reasons.
    n = len(ordered)
    tokens = np.full((rows, n + 1 + scores.reasons.shape[1]), -1, dtype=np.int16)
    rule_tokens = tokens[:, :n]
    np.copyto(rule_tokens, np.arange(n, dtype=np.int16), where=fired)
    tokens[:, n] = np.where(below & ~knockout, n, -1)
    np.copyto(tokens[:, n + 1 :], scores.reasons + np.int16(n + 1), where=scores.reasons >= 0)
    codes = first_present(tokens, MAX_REASONS)
    vocabulary = [r.reason_code for r in ordered] + [BELOW_MINIMUM]
    vocabulary += [f.name for f in model.features]

    approved_or_referred = pl.Series(~declined)

    def unless_declined(column: str) -> pl.Series:
        """The column, 0 where declined (a Series method: a query costs more on one row)."""
        values = limited.get_column(column)
        zero = pl.Series(column, [0], dtype=values.dtype).new_from_index(0, rows)
        return values.zip_with(approved_or_referred, zero)

    return pl.DataFrame(
        [
            features.get_column("merchant_id"),
            features.get_column("as_of"),
            enum_values(OUTCOMES).gather(pl.Series(outcome, dtype=pl.UInt32())).alias("outcome"),
            unless_declined("limit"),
            grade,
            grade_series(rules.policy, scores.grade_index, "model_grade"),
            pl.Series("pd_12m", scores.pd_12m),
            pl.Series("score", scores.score),
            token_lists("reason_codes", codes, vocabulary),
            token_lists("rules_fired", rule_tokens, [r.id for r in ordered]),
            limited.get_column("binding_constraint"),
            unless_declined("expected_loss"),
            unless_declined("daily_repayment"),
            *(
                pl.Series(name, [version], dtype=pl.String()).new_from_index(0, rows)
                for name, version in (
                    ("model_version", model.version),
                    ("rule_set_version", rules.version),
                )
            ),
        ]
    )


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
