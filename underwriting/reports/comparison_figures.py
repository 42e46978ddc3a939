"""Champion against challenger: the figures of a comparison's report, as pure functions on
the two arms' decision frames (the columns of `REPORT_COLUMNS`, one row per merchant, the
same merchants in both, as `underwrite compare` writes them).

The swap set (outcome under the champion against outcome under the challenger, with
merchants, limit and expected loss in each cell), the arms' figures overall and by
segment, the observed bad rate of the merchants swapped in and out where outcomes are
known, rule firing and reasons given in each arm, and the largest limit changes with the
rule or grade that explains each.
"""

from __future__ import annotations

from dataclasses import dataclass

import polars as pl

from underwriting.decision import DECIDED, OUTCOMES
from underwriting.reports.run_figures import changes, list_counts

SWAP_CELLS = len(OUTCOMES) ** 2


def paired(champion: pl.DataFrame, challenger: pl.DataFrame) -> pl.DataFrame:
    """Each merchant's outcome, limit and expected loss under both arms (champion_*,
    challenger_*). Raises ValueError when the arms did not decide the same merchants."""
    columns = ("outcome", "limit", "expected_loss")
    both = champion.select(
        "merchant_id", *(pl.col(c).alias(f"champion_{c}") for c in columns)
    ).join(
        challenger.select("merchant_id", *(pl.col(c).alias(f"challenger_{c}") for c in columns)),
        on="merchant_id",
        how="inner",
    )
    if not (both.height == champion.height == challenger.height):
        raise ValueError(
            f"the arms decided different merchants ({champion.height:,} and "
            f"{challenger.height:,}, {both.height:,} in both); compare arms of one book"
        )
    return both.with_columns(pl.col("champion_outcome", "challenger_outcome").cast(pl.String))


def swap_set(champion: pl.DataFrame, challenger: pl.DataFrame) -> pl.DataFrame:
    """The nine cells of champion outcome by challenger outcome (best first, zeros kept),
    each with its merchants, and both arms' total limit and expected loss there."""
    cells = (
        paired(champion, challenger)
        .group_by("champion_outcome", "challenger_outcome")
        .agg(
            merchants=pl.len().cast(pl.Int64),
            champion_limit=pl.col("champion_limit").sum(),
            challenger_limit=pl.col("challenger_limit").sum(),
            champion_expected_loss=pl.col("champion_expected_loss").sum(),
            challenger_expected_loss=pl.col("challenger_expected_loss").sum(),
        )
    )
    grid = pl.DataFrame({"champion_outcome": list(OUTCOMES)}).join(
        pl.DataFrame({"challenger_outcome": list(OUTCOMES)}), how="cross"
    )
    joined = grid.join(
        cells, on=["champion_outcome", "challenger_outcome"], how="left", maintain_order="left"
    )
    return joined.with_columns(
        pl.col("merchants", "champion_limit", "challenger_limit").fill_null(0),
        pl.col("champion_expected_loss", "challenger_expected_loss").fill_null(0.0),
    )


@dataclass(frozen=True)
class Unchanged:
    """How much of the book the challenger leaves as it was."""

    merchants: int
    same_outcome: int
    same_outcome_and_limit: int
    identical: int
    """Every decided field equal (`underwriting.decision.DECIDED`)."""

    @property
    def swapped(self) -> int:
        return self.merchants - self.same_outcome


def unchanged(champion: pl.DataFrame, challenger: pl.DataFrame) -> Unchanged:
    """The merchants whose outcome, outcome and limit, or whole decision is the same."""
    decided = [c for c in DECIDED if c in champion.columns and c in challenger.columns]
    both = champion.select("merchant_id", *decided).join(
        challenger.select("merchant_id", *decided), on="merchant_id", suffix="_challenger"
    )

    def equal(name: str) -> pl.Expr:
        left, right = pl.col(name), pl.col(f"{name}_challenger")
        if isinstance(both.schema[name], pl.Enum | pl.Categorical):  # each arm's own scale
            left, right = left.cast(pl.String), right.cast(pl.String)
        return left.eq_missing(right)

    same_outcome = equal("outcome")
    same_limit = same_outcome & equal("limit")
    counts = both.select(
        same_outcome.sum().alias("o"),
        same_limit.sum().alias("l"),
        pl.all_horizontal(equal(c) for c in decided).sum().alias("all"),
    ).row(0)
    return Unchanged(both.height, int(counts[0]), int(counts[1]), int(counts[2]))


def arm_figures(decisions: pl.DataFrame, by: str | None = None) -> pl.DataFrame:
    """One arm's figures, for the book (`by` None) or per segment (`grade`,
    `industry_code`): merchants, approved and the approval rate, total limit, expected
    loss, and the mean PD of the approved merchants."""
    approved = pl.col("outcome") == "approve"
    figures = [
        pl.len().cast(pl.Int64).alias("merchants"),
        approved.sum().cast(pl.Int64).alias("approved"),
        approved.mean().alias("approval_rate"),
        pl.col("limit").sum().alias("total_limit"),
        pl.col("expected_loss").sum().alias("expected_loss"),
        pl.col("pd_12m").filter(approved).mean().alias("mean_pd_approved"),
    ]
    if by is None:
        return decisions.select(pl.lit("book").alias("segment"), *figures)
    return (
        decisions.group_by(pl.col(by).cast(pl.String).alias("segment")).agg(figures).sort("segment")
    )


FIGURES = ("merchants", "approved", "approval_rate", "total_limit", "expected_loss")


def side_by_side(
    champion: pl.DataFrame, challenger: pl.DataFrame, by: str | None = None
) -> pl.DataFrame:
    """Both arms' figures (`arm_figures`) by segment, with the challenger's difference
    (challenger minus champion) for each; a segment one arm lacks counts zero there. By grade,
    each arm's own grade (a challenger model may grade a merchant otherwise)."""
    names = (*FIGURES, "mean_pd_approved")
    left = arm_figures(champion, by).rename({n: f"champion_{n}" for n in names})
    right = arm_figures(challenger, by).rename({n: f"challenger_{n}" for n in names})
    both = left.join(right, on="segment", how="full", coalesce=True, maintain_order="left_right")
    both = both.with_columns(
        pl.col(f"{arm}_{n}").fill_null(0) for arm in ("champion", "challenger") for n in FIGURES
    )
    return both.with_columns(
        (pl.col(f"challenger_{n}") - pl.col(f"champion_{n}")).alias(f"change_{n}") for n in names
    )


def counted_lists(
    champion: pl.DataFrame, challenger: pl.DataFrame, column: str, key: str
) -> pl.DataFrame:
    """Merchants by each entry of a list column (`rules_fired`: each rule's firing;
    `reason_codes`: each reason given) in both arms, their shares and the change; largest
    change first."""
    counts = list_counts(champion, column, key, "champion").join(
        list_counts(challenger, column, key, "challenger"), on=key, how="full", coalesce=True
    )
    counts = counts.with_columns(pl.col("champion", "challenger").fill_null(0).cast(pl.Int64))
    return counts.with_columns(
        champion_share=pl.col("champion") / max(champion.height, 1),
        challenger_share=pl.col("challenger") / max(challenger.height, 1),
        change=pl.col("challenger") - pl.col("champion"),
    ).sort([pl.col("change").abs(), key], descending=[True, False])


def limit_changes(champion: pl.DataFrame, challenger: pl.DataFrame, top: int) -> pl.DataFrame:
    """The `top` merchants whose limit moved most (either way), with the rule, reason,
    grade move or limit term that explains each (`run_figures.changes`)."""
    moved = changes(challenger, champion).rename(
        {
            "was": "champion",
            "now": "challenger",
            "grade_was": "champion_grade",
            "grade_now": "challenger_grade",
            "limit_was": "champion_limit",
            "limit_now": "challenger_limit",
        }
    )
    change = pl.col("challenger_limit") - pl.col("champion_limit")
    return (
        moved.with_columns(change=change)
        .filter(pl.col("change") != 0)
        .sort([pl.col("change").abs(), "merchant_id"], descending=[True, False])
        .head(top)
    )


SWAP_GROUPS = ("swapped in", "swapped out", "approved by both", "approved by neither")


def swap_groups(champion: pl.DataFrame, challenger: pl.DataFrame) -> pl.DataFrame:
    """Each merchant's swap group: swapped in (approved by the challenger only), swapped
    out (by the champion only), approved by both, or by neither."""
    pairs = paired(champion, challenger)
    was, now = (pl.col(f"{arm}_outcome") == "approve" for arm in ("champion", "challenger"))
    group = (
        pl.when(now & ~was)
        .then(pl.lit(SWAP_GROUPS[0]))
        .when(was & ~now)
        .then(pl.lit(SWAP_GROUPS[1]))
        .when(was)
        .then(pl.lit(SWAP_GROUPS[2]))
        .otherwise(pl.lit(SWAP_GROUPS[3]))
    )
    return pairs.select("merchant_id", group.alias("group"))


@dataclass(frozen=True)
class BadRate:
    """The observed bad rate of one swap group, with its 95% interval (Jeffreys)."""

    group: str
    merchants: int
    with_outcome: int
    bads: int
    low: float | None
    high: float | None

    @property
    def rate(self) -> float | None:
        return self.bads / self.with_outcome if self.with_outcome else None


@dataclass(frozen=True)
class BadRates:
    """The bad rates of the swap groups, and Fisher's exact test of swapped in against
    swapped out (None when either has no outcomes)."""

    groups: tuple[BadRate, ...]
    p_value: float | None


def bad_rates(groups: pl.DataFrame, outcomes: pl.DataFrame) -> BadRates:
    """The observed bad rate (`defaulted_12m`) of each swap group (`swap_groups`), over the
    merchants with an outcome in `outcomes` (merchant_id, defaulted_12m)."""
    from scipy.stats import fisher_exact  # scipy (a statsmodels dependency): only here
    from statsmodels.stats.proportion import proportion_confint

    joined = groups.join(outcomes, on="merchant_id", how="left")
    counts = {
        str(g): (int(n), int(k), int(b))
        for g, n, k, b in joined.group_by("group")
        .agg(
            pl.len().alias("merchants"),
            pl.col("defaulted_12m").is_not_null().sum().alias("with_outcome"),
            pl.col("defaulted_12m").cast(pl.Int64).sum().alias("bads"),
        )
        .iter_rows()
    }
    found = []
    for name in SWAP_GROUPS:
        merchants, known, bads = counts.get(name, (0, 0, 0))
        low = high = None
        if known:
            interval = proportion_confint(bads, known, alpha=0.05, method="jeffreys")
            low, high = float(interval[0]), float(interval[1])
        found.append(BadRate(name, merchants, known, bads, low, high))
    swapped_in, swapped_out = found[0], found[1]
    p_value = None
    if swapped_in.with_outcome and swapped_out.with_outcome:
        table = [
            [swapped_in.bads, swapped_in.with_outcome - swapped_in.bads],
            [swapped_out.bads, swapped_out.with_outcome - swapped_out.bads],
        ]
        p_value = float(fisher_exact(table).pvalue)
    return BadRates(tuple(found), p_value)
