"""What moved in a re-scored portfolio: the figures of a run's report, as pure functions on
decision frames (one row per merchant, every field of a decision plus the merchant's
`industry_code` and `existing_exposure`).

Against a previous run: the grade migration matrix, the outcomes that flipped and the
rule or reason that explains each flip, and the change in total limit. On the run alone:
limit, exposure and expected loss by grade and by industry, the rules that fired most,
and score drift (PSI) against the model's training scores and the previous run's.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import polars as pl

from underwriting.decision import OUTCOMES, decision_fields
from underwriting.model.drift import (
    ScoreBands,
    Stability,
    baseline_bands,
    psi,
    shares_in,
    stability,
)

SEGMENT_COLUMNS = ("industry_code", "existing_exposure")
"""The merchant's columns a run's decisions part carries beside the decision's, for the
report's segments."""

REPORT_COLUMNS = (
    *decision_fields(
        "merchant_id",
        "outcome",
        "grade",
        "limit",
        "pd_12m",
        "score",
        "expected_loss",
        "reason_codes",
        "rules_fired",
        "binding_constraint",
    ),
    *SEGMENT_COLUMNS,
)
"""What the report reads of a run's decisions."""
_RANK = {outcome: i for i, outcome in enumerate(OUTCOMES)}


@dataclass(frozen=True)
class Drift:
    """Score shares now against a baseline's, over the baseline's bands, and their PSI."""

    against: str
    bands: ScoreBands
    now: tuple[float, ...]
    index: float

    @property
    def stability(self) -> Stability:
        return stability(self.index)


def drift(against: str, bands: ScoreBands, scores: np.ndarray) -> Drift:
    """PSI of `scores` over the bands of a baseline."""
    now = shares_in(scores, bands.edges)
    return Drift(against, bands, now, psi(bands.shares, now))


def segment_totals(decisions: pl.DataFrame, by: str) -> pl.DataFrame:
    """Per segment (`grade` or `industry_code`): merchants, outcomes, total limit, existing
    exposure, exposure after the new limits, expected loss and mean PD."""
    approved = pl.col("outcome") == "approve"
    return (
        decisions.group_by(by)
        .agg(
            merchants=pl.len(),
            approved=approved.sum(),
            referred=(pl.col("outcome") == "refer").sum(),
            declined=(pl.col("outcome") == "decline").sum(),
            total_limit=pl.col("limit").sum(),
            existing_exposure=pl.col("existing_exposure").sum(),
            expected_loss=pl.col("expected_loss").sum(),
            mean_pd=pl.col("pd_12m").mean(),
        )
        .with_columns(exposure_after=pl.col("existing_exposure") + pl.col("total_limit"))
        .sort(by)
    )


def rules_fired(decisions: pl.DataFrame, previous: pl.DataFrame | None) -> pl.DataFrame:
    """Each rule that fired: merchants now and their share, and merchants in the previous
    run; most fired first."""
    now = list_counts(decisions, "rules_fired", "rule", "merchants")
    if previous is not None:
        previous_counts = list_counts(previous, "rules_fired", "rule", "previous")
        now = now.join(previous_counts, on="rule", how="full", coalesce=True)
    else:
        now = now.with_columns(previous=pl.lit(None, pl.UInt32))
    return now.with_columns(
        pl.col("merchants").fill_null(0),
        share=pl.col("merchants").fill_null(0) / max(decisions.height, 1),
    ).sort(["merchants", "rule"], descending=[True, False])


def list_counts(decisions: pl.DataFrame, column: str, key: str, name: str) -> pl.DataFrame:
    """Merchants (`name`) by each entry (`key`) of a list column, such as `rules_fired` or
    `reason_codes`; a merchant counts once per entry."""
    return (
        decisions.select(pl.col(column).list.unique().alias(key))
        .explode(key)
        .drop_nulls()
        .group_by(key)
        .agg(pl.len().cast(pl.UInt32).alias(name))
    )


def migration(decisions: pl.DataFrame, previous: pl.DataFrame) -> pl.DataFrame:
    """Merchants by previous grade (rows) and current grade (columns), for merchants in both
    runs; a merchant declined in either run keeps its grade here (the grade is the risk, the
    outcome is the policy)."""
    names: list[str] = []
    for frame in (decisions, previous):  # this run's master scale first, then any grade
        grades = frame.schema["grade"]  # only the previous run's scale had
        found = grades.categories if isinstance(grades, pl.Enum) else frame["grade"].unique().sort()
        names += [str(g) for g in found if str(g) not in names]
    both = previous.select("merchant_id", pl.col("grade").alias("was")).join(
        decisions.select("merchant_id", pl.col("grade").alias("now")), on="merchant_id"
    )
    counts = both.group_by("was", "now").agg(pl.len().alias("merchants"))
    cells = {(str(w), str(n)): int(c) for w, n, c in counts.iter_rows()}
    return pl.DataFrame(
        {"was": names, **{n: [cells.get((w, n), 0) for w in names] for n in names}},
        schema={"was": pl.String, **{n: pl.Int64 for n in names}},
    )


def changes(decisions: pl.DataFrame, previous: pl.DataFrame) -> pl.DataFrame:
    """Every merchant in both frames whose outcome, grade or limit differs, with the
    explanation (`why`). A move toward decline (or, with the outcome kept, a lower limit)
    is explained by the first rule that fires now but did not before, else the first new
    reason; a move the other way by the first rule that no longer fires, else the first
    reason that went away; failing both, by the grade move, else by the limit term that
    binds now (`binding_constraint`)."""
    joined = previous.select(
        "merchant_id",
        pl.col("outcome").cast(pl.String).alias("was"),
        pl.col("grade").cast(pl.String).alias("grade_was"),
        pl.col("limit").alias("limit_was"),
        pl.col("rules_fired").alias("rules_was"),
        pl.col("reason_codes").alias("reasons_was"),
        _binding(previous).alias("binding_was"),
    ).join(
        decisions.select(
            "merchant_id",
            pl.col("outcome").cast(pl.String).alias("now"),
            pl.col("grade").cast(pl.String).alias("grade_now"),
            pl.col("limit").alias("limit_now"),
            "industry_code",
            pl.col("rules_fired").alias("rules_now"),
            pl.col("reason_codes").alias("reasons_now"),
            _binding(decisions).alias("binding_now"),
        ),
        on="merchant_id",
    )
    was_rank, now_rank = (pl.col(c).replace_strict(_RANK) for c in ("was", "now"))
    changed = joined.filter(
        (pl.col("was") != pl.col("now"))
        | (pl.col("grade_was") != pl.col("grade_now"))
        | (pl.col("limit_was") != pl.col("limit_now"))
    ).with_columns(
        worse=pl.when(was_rank != now_rank)
        .then(now_rank > was_rank)
        .otherwise(pl.col("limit_now") < pl.col("limit_was"))
    )
    changed = _first_not_in(changed, "rules_now", "rules_was", "rule_new")
    changed = _first_not_in(changed, "reasons_now", "reasons_was", "reason_new")
    changed = _first_not_in(changed, "rules_was", "rules_now", "rule_gone")
    changed = _first_not_in(changed, "reasons_was", "reasons_now", "reason_gone")
    grade_move = pl.concat_str(pl.lit("grade "), "grade_was", pl.lit(" to "), "grade_now")
    bound_by = pl.concat_str(
        pl.lit("limit bound by "),
        "binding_now",
        pl.when(pl.col("binding_was") != pl.col("binding_now"))
        .then(pl.concat_str(pl.lit(" (was "), "binding_was", pl.lit(")")))
        .otherwise(pl.lit("")),
    )
    why = pl.coalesce(
        pl.when(pl.col("worse"))
        .then(pl.coalesce("rule_new", "reason_new"))
        .otherwise(pl.coalesce("rule_gone", "reason_gone")),
        pl.when(pl.col("grade_was") != pl.col("grade_now")).then(grade_move),
        bound_by,
    )
    return changed.select(
        "merchant_id",
        "industry_code",
        "was",
        "now",
        "grade_was",
        "grade_now",
        "limit_was",
        "limit_now",
        why.alias("why"),
    ).sort("merchant_id")


def _binding(frame: pl.DataFrame) -> pl.Expr:
    """The limit term that binds ("none" where none does, or the frame does not say)."""
    if "binding_constraint" not in frame.columns:
        return pl.lit("none")
    return pl.col("binding_constraint").fill_null("none")


def flips(decisions: pl.DataFrame, previous: pl.DataFrame) -> pl.DataFrame:
    """Every merchant whose outcome changed since the previous run, explained as in
    `changes`."""
    return changes(decisions, previous).filter(pl.col("was") != pl.col("now"))


def _first_not_in(frame: pl.DataFrame, codes: str, other: str, name: str) -> pl.DataFrame:
    """Adds `name`: the first entry of list column `codes` that list column `other` of the
    same merchant lacks (null when there is none), in the order of `codes`."""
    listed = frame.select("merchant_id", pl.col(codes).alias("code")).with_columns(
        position=pl.int_ranges(pl.col("code").list.len())
    )
    entries = listed.explode("code", "position").drop_nulls("code")
    present = frame.select("merchant_id", pl.col(other).alias("code")).explode("code")
    first = (
        entries.join(present, on=["merchant_id", "code"], how="anti")
        .group_by("merchant_id")
        .agg(pl.col("code").sort_by("position").first().alias(name))
    )
    return frame.join(first, on="merchant_id", how="left", maintain_order="left")


def flip_summary(changed: pl.DataFrame) -> pl.DataFrame:
    """Flips counted by (was, now, why), most frequent first."""
    return (
        changed.group_by("was", "now", "why")
        .agg(merchants=pl.len(), limit_change=(pl.col("limit_now") - pl.col("limit_was")).sum())
        .sort(["merchants", "was", "now", "why"], descending=[True, False, False, False])
    )


def score_drift(
    decisions: pl.DataFrame, training: ScoreBands | None, previous: pl.DataFrame | None
) -> list[Drift]:
    """PSI of this run's scores against the model's training scores (when the model
    recorded them) and against the previous run's scores."""
    scores = decisions.get_column("score").to_numpy()
    found = []
    if training is not None:
        found.append(drift("model training data", training, scores))
    if previous is not None and previous.height:
        bands = baseline_bands(previous.get_column("score").to_numpy())
        found.append(drift("previous run", bands, scores))
    return found
