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

import datetime as dt
from dataclasses import dataclass
from typing import Any

import polars as pl

from underwriting.contract import CASHFLOW, MERCHANTS, TRAFFIC
from underwriting.errors import InputError, PolicyError
from underwriting.features import build_features
from underwriting.limits import apply_limits
from underwriting.loader import validate
from underwriting.model import Scorecard
from underwriting.policy import Limits
from underwriting.reasons import columns_needed, with_reason_texts
from underwriting.rules import Rule, RuleSet
from underwriting.scoring import MAX_REASONS, score

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


@dataclass(frozen=True)
class Application:
    """One merchant's raw data: profile (one row), daily cash flow and traffic, as-of date."""

    merchant: pl.DataFrame
    cashflow: pl.DataFrame
    traffic: pl.DataFrame
    as_of: dt.date


@dataclass(frozen=True)
class Engine:
    """A scorecard, a checked rule set and the industry benchmarks: all a decision needs."""

    model: Scorecard
    rules: RuleSet
    benchmarks: pl.DataFrame | None = None

    def __post_init__(self) -> None:
        _limits(self.rules)  # refuse a rule set without limits when the engine is built

    def decide_frame(self, features: pl.DataFrame) -> pl.DataFrame:
        """Decisions for every row of a feature table (see the module's docstring)."""
        return decide(self.model, self.rules, features)

    def decide(self, application: Application) -> dict[str, Any]:
        """One merchant's decision from its raw data: the batch path on a one-row frame.

        Rows that fail validation are left out of the features (as in a batch); a profile
        that fails validation is an InputError naming the field and the reason.
        """
        if self.benchmarks is None:
            raise PolicyError(
                "this engine has no industry benchmarks; load it with them to decide from raw data"
            )
        as_of = application.as_of
        profile = validate(
            MERCHANTS,
            application.merchant.lazy(),
            source="application",
            as_of=as_of,
            industry_codes=self.benchmarks.get_column("industry_code"),
        )
        merchant, held = pl.collect_all([profile.kept, profile.quarantine])
        if merchant.height != 1:
            why = (
                "; ".join(held["reason"].to_list())
                or f"{application.merchant.height} profile rows given"
            )
            raise InputError(f"merchants: the application needs exactly one valid profile: {why}")
        ids = merchant.get_column("merchant_id")
        daily = [
            validate(table, frame.lazy(), source="application", as_of=as_of, merchant_ids=ids).kept
            for table, frame in ((CASHFLOW, application.cashflow), (TRAFFIC, application.traffic))
        ]
        features = build_features(
            merchant.lazy(), daily[0], daily[1], self.benchmarks.lazy(), as_of
        ).collect()
        return self.decide_frame(features).row(0, named=True)


def _limits(rules: RuleSet) -> Limits:
    if rules.policy.limits is None:
        raise PolicyError(
            f"rule set {rules.version} has no [limits] in policy.toml; decisions need them"
        )
    return rules.policy.limits


def _ordered(rules: tuple[Rule, ...]) -> list[Rule]:
    return sorted(rules, key=lambda r: (_KIND_ORDER[r.kind], r.id))


def decide(model: Scorecard, rules: RuleSet, features: pl.DataFrame) -> pl.DataFrame:
    """Decisions for every row of `features`; rows keep their order."""
    limits = _limits(rules)
    missing = [c for c in _LIMIT_INPUTS if c not in features.columns]
    if missing:
        raise InputError(
            f"features table lacks {', '.join(missing)}; rebuild it with `underwrite features`"
        )
    scored = score(model, rules.policy, features)
    grades = [b.grade for b in rules.policy.master_scale]
    rank = {g: i for i, g in enumerate(grades)}
    ordered = _ordered(rules.rules)
    fired = features.select(rules.condition(r) for r in ordered) if ordered else pl.DataFrame()
    caps = [r for r in ordered if r.kind == "limit_cap"]
    cap_values = features.select(rules.cap(r).alias(f"cap:{r.id}") for r in caps) if caps else None

    def any_of(kind: str) -> pl.Expr:
        names = [r.id for r in ordered if r.kind == kind]
        return pl.any_horizontal(pl.col(names)) if names else pl.lit(False)

    grade_rank = pl.col("grade").cast(pl.String()).replace_strict(rank, return_dtype=pl.Int64())
    capped = [
        pl.when(pl.col(r.id)).then(pl.lit(rank[r.grade or grades[-1]])).otherwise(0)
        for r in ordered
        if r.kind == "grade_cap"
    ]
    final_rank = pl.max_horizontal(grade_rank, *capped) if capped else grade_rank
    rule_cap = (
        pl.min_horizontal(pl.when(pl.col(r.id)).then(pl.col(f"cap:{r.id}")) for r in caps)
        if caps
        else pl.lit(None, dtype=pl.Float64())
    )
    frame = (
        pl.concat(
            [
                features.select(
                    *_LIMIT_INPUTS,
                    *(
                        c
                        for c in columns_needed(model)
                        if c in features.columns and c not in _LIMIT_INPUTS
                    ),
                ),
                scored.select(
                    "pd_12m",
                    "score",
                    pl.col("grade").alias("model_grade"),
                    pl.col("reasons").alias("model_reasons"),
                ),
                fired,
                *([cap_values] if cap_values is not None else []),
            ],
            how="horizontal",
        )
        .with_columns(
            pl.col("model_grade").cast(pl.String()).alias("grade"),
        )
        .with_columns(
            final_rank.alias("__grade_rank"),
            rule_cap.alias("rule_cap"),
            any_of("knockout").alias("__knockout"),
            any_of("refer").alias("__refer"),
        )
        .with_columns(
            pl.col("__grade_rank")
            .replace_strict(dict(enumerate(grades)), return_dtype=pl.String())
            .alias("grade"),
        )
    )
    limited = apply_limits(frame, limits).collect()
    below = pl.col("limit") < limits.min_loan
    outcome = (
        pl.when(pl.col("__knockout") | below)
        .then(pl.lit("decline"))
        .when(pl.col("__refer"))
        .then(pl.lit("refer"))
        .otherwise(pl.lit("approve"))
    )
    rule_reasons = [pl.when(pl.col(r.id)).then(pl.lit(r.reason)) for r in ordered]
    rule_codes = [pl.when(pl.col(r.id)).then(pl.lit(r.reason_code)) for r in ordered]
    minimum_text = f"The affordable limit is below our minimum loan of {limits.min_loan:,}"
    limited = with_reason_texts(limited, model, "model_reasons", "model_texts", limited.columns)
    decided = (
        limited.with_columns(outcome.alias("outcome"))
        .with_columns(
            pl.when(pl.col("outcome") == "decline")
            .then(0)
            .otherwise(pl.col("limit"))
            .alias("limit"),
            pl.concat_list(
                [*rule_reasons, pl.when(below & ~pl.col("__knockout")).then(pl.lit(minimum_text))]
            )
            .list.drop_nulls()
            .list.concat(pl.col("model_texts"))
            .list.head(MAX_REASONS)
            .alias("reasons"),
            pl.concat_list(
                [*rule_codes, pl.when(below & ~pl.col("__knockout")).then(pl.lit(BELOW_MINIMUM))]
            )
            .list.drop_nulls()
            .list.concat(pl.col("model_reasons").cast(pl.List(pl.String())))
            .list.head(MAX_REASONS)
            .alias("reason_codes"),
            pl.concat_list([pl.when(pl.col(r.id)).then(pl.lit(r.id)) for r in ordered])
            .list.drop_nulls()
            .alias("rules_fired")
            if ordered
            else pl.lit([], dtype=pl.List(pl.String())).alias("rules_fired"),
        )
        .with_columns(
            pl.when(pl.col("outcome") == "decline")
            .then(0.0)
            .otherwise(pl.col("expected_loss"))
            .alias("expected_loss"),
            pl.when(pl.col("outcome") == "decline")
            .then(0.0)
            .otherwise(pl.col("daily_repayment"))
            .alias("daily_repayment"),
        )
    )
    return decided.select(
        "merchant_id",
        "as_of",
        "outcome",
        "limit",
        "grade",
        "model_grade",
        "pd_12m",
        "score",
        "reasons",
        "reason_codes",
        "rules_fired",
        "binding_constraint",
        "expected_loss",
        "daily_repayment",
        pl.lit(model.version).alias("model_version"),
        pl.lit(rules.version).alias("rule_set_version"),
    )
