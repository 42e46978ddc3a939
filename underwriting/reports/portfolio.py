"""The re-scoring run's report: one self-contained HTML page a risk team reads offline.

What moved since the previous run (grade migration, outcomes that flipped and why, total
limit), where the book stands (limit, exposure and expected loss by grade and industry),
whether the scores drifted (PSI against the model's training scores and the previous run,
flagged at 0.1 and 0.25) and which rules fired most. Pure: figures in, HTML text out.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from html import escape
from itertools import pairwise
from typing import Any

import polars as pl

from underwriting.model.drift import ACT, WATCH, ScoreBands
from underwriting.reports.charts import bar_chart, html_page, html_table, shown_value
from underwriting.reports.run_figures import (
    Drift,
    flip_summary,
    flips,
    migration,
    rules_fired,
    score_drift,
    segment_totals,
)

_STYLE = """
td.bar { min-width: 12em; } td.bar div { background: #6baed6; height: 0.9em; }
table.matrix td { text-align: right; min-width: 4em; }
"""
_FLAG = {"stable": "stable (< 0.1)", "watch": "watch (0.1 to 0.25)", "act": "act (≥ 0.25)"}
EXAMPLES = 25


@dataclass(frozen=True)
class RunFigures:
    """A run as the report names it: its manifest and its decisions (see `portfolio`)."""

    manifest: Mapping[str, Any]
    decisions: pl.DataFrame


def band_labels(edges: tuple[float, ...]) -> list[str]:
    """The labels of the score bands cut at `edges` ("< a", "a to b", ..., "≥ z")."""
    if not edges:
        return ["all"]
    cuts = [f"{e:g}" for e in edges]
    return [
        f"< {cuts[0]}",
        *(f"{a} to {b}" for a, b in pairwise(cuts)),
        f"≥ {cuts[-1]}",
    ]


def _drift_section(found: list[Drift], training_missing: bool) -> str:
    if not found:
        return "<p>No baseline to compare scores with (the model recorded no training scores and there is no previous run).</p>"
    rows = "".join(
        f"<tr class={d.stability}><td>{escape(d.against)}</td><td class=num>{d.index:.4f}</td>"
        f"<td>{_FLAG[d.stability]}</td></tr>"
        for d in found
    )
    charts = "".join(
        bar_chart(
            band_labels(d.bands.edges),
            [
                (d.against, list(d.bands.shares), "#9ecae1"),
                ("this run", list(d.now), "#d95f0e"),
            ],
            title=f"Score bands of the {d.against}: PSI {d.index:.3f}",
            y_label="share of merchants",
            percent=True,
            width=640,
        )
        for d in found
    )
    missing = (
        "<p class=note>The model artifact predates recorded training scores; retrain it to "
        "compare with its training data.</p>"
        if training_missing
        else ""
    )
    return (
        f"<table><tr><th>against</th><th>PSI</th><th>reading</th></tr>{rows}</table>{missing}"
        "<p class=note>PSI over the baseline's score deciles: under "
        f"{WATCH} stable, {WATCH} to {ACT} a shift to watch, {ACT} or more a shift that calls "
        f'for re-checking the model on recent data.</p><div class="charts">{charts}</div>'
    )


def _matrix(matrix: pl.DataFrame) -> str:
    grades = [c for c in matrix.columns if c != "was"]
    total = max(sum(int(matrix[c].sum()) for c in grades), 1)
    rows = []
    for row in matrix.iter_rows(named=True):
        cells = []
        for g in grades:
            share = row[g] / total
            tone = "#3182bd" if g == row["was"] else "#d95f0e"
            cells.append(
                f'<td style="background: {tone}{int(min(1.0, share * 8) * 200 + 20):02x}">'
                f"{row[g]:,}</td>"
            )
        rows.append(f"<tr><th>{escape(row['was'])}</th>{''.join(cells)}</tr>")
    head = "".join(f"<th>{escape(g)}</th>" for g in grades)
    return (
        f'<table class="matrix"><tr><th>previous ↓ / now →</th>{head}</tr>{"".join(rows)}</table>'
    )


def _movement(matrix: pl.DataFrame) -> tuple[int, int, int]:
    grades = [c for c in matrix.columns if c != "was"]
    up = down = same = 0
    for i, row in enumerate(matrix.iter_rows(named=True)):
        for j, g in enumerate(grades):
            if j < i:
                up += row[g]
            elif j > i:
                down += row[g]
            else:
                same += row[g]
    return up, same, down


def _ruleshtml_table(fired: pl.DataFrame, texts: Mapping[str, str]) -> str:
    top = max(fired["merchants"].to_list(), default=1) or 1
    rows = "".join(
        f"<tr><td><code>{escape(r['rule'])}</code></td><td>{escape(texts.get(r['rule'], ''))}</td>"
        f"<td class=num>{r['merchants']:,}</td><td class=num>{r['share']:.1%}</td>"
        f"<td class=num>{shown_value(r['previous'])}</td>"
        f"<td class=bar><div style='width: {100 * r['merchants'] / top:.1f}%'></div></td></tr>"
        for r in fired.iter_rows(named=True)
    )
    return (
        "<table><tr><th>rule</th><th>reason</th><th>merchants</th><th>share</th>"
        f"<th>previous run</th><th></th></tr>{rows}</table>"
    )


def _segments(totals: pl.DataFrame, by: str, title: str) -> str:
    chart = bar_chart(
        [str(v) for v in totals[by]],
        [
            ("total limit", [float(v) for v in totals["total_limit"]], "#3182bd"),
            ("existing exposure", [float(v) for v in totals["existing_exposure"]], "#fdae6b"),
        ],
        title=title,
        y_label="amount",
        width=max(420, 46 * totals.height + 80),
    )
    table = html_table(
        totals.select(
            pl.col(by).cast(pl.String),
            "merchants",
            "approved",
            "referred",
            "declined",
            "total_limit",
            "existing_exposure",
            "exposure_after",
            pl.col("expected_loss").round(2),
            (pl.col("mean_pd") * 100).round(2).alias("mean PD %"),
        )
    )
    return f'{table}<div class="charts">{chart}</div>'


def _headline(decisions: pl.DataFrame) -> dict[str, str]:
    """A run's summary figures, as shown: merchants, each outcome, total limit, expected loss."""
    outcomes = dict(decisions.group_by(pl.col("outcome").cast(pl.String)).agg(pl.len()).iter_rows())
    return {
        "merchants decided": f"{decisions.height:,}",
        **{o: f"{outcomes.get(o, 0):,}" for o in ("approve", "refer", "decline")},
        "total limit offered": f"{int(decisions['limit'].sum()):,}",
        "expected loss": f"{float(decisions['expected_loss'].sum()):,.2f}",
    }


def _versions(manifest: Mapping[str, Any]) -> str:
    return (
        f"as of {escape(str(manifest['as_of']))}, model <code>{escape(str(manifest['model_version']))}</code>, "
        f"rule set <code>{escape(str(manifest['rule_set_version']))}</code>"
    )


def portfolio_report(
    run: RunFigures,
    previous: RunFigures | None,
    training: ScoreBands | None,
    texts: Mapping[str, str],
) -> str:
    """The report of `run` (against `previous` when given), as one HTML document.

    `training` is the model's training score bands (None when the artifact has none);
    `texts` gives a sentence for rule ids and reason codes.
    """
    now, m = run.decisions, run.manifest
    before = previous.decisions if previous else None
    this_run = _headline(now)
    last_run = _headline(before) if before is not None else dict.fromkeys(this_run, "")
    summary = "".join(
        f"<tr><td>{label}</td><td class=num>{figure}</td><td class=num>{last_run[label]}</td></tr>"
        for label, figure in this_run.items()
    )
    sections = [
        f"<h1>Re-scoring run as of {escape(str(m['as_of']))}</h1>",
        f"<p>This run: {_versions(m)}; data <code>{escape(str(m['data']))}</code> "
        f"(fingerprint <code>{escape(str(m['input_fingerprint'])[:16])}</code>). "
        f"{int(m['merchants_in']):,} merchants in, {int(m['decided']):,} decided, "
        f"{int(m['merchants_quarantined']):,} quarantined.</p>",
        (
            f"<p>Previous run: {_versions(previous.manifest)}.</p>"
            if previous
            else "<p>No previous run was given (<code>--previous</code>): migration and flips are left out.</p>"
        ),
        "<h2>Summary</h2><table><tr><th></th><th>this run</th><th>previous run</th></tr>"
        f"{summary}</table>",
        "<h2>Score drift</h2>",
        _drift_section(score_drift(now, training, before), training is None),
    ]
    if before is not None:
        matrix = migration(now, before)
        up, same, down = _movement(matrix)
        changed = flips(now, before)
        new = now.join(before, on="merchant_id", how="anti").height
        gone = before.join(now, on="merchant_id", how="anti").height
        summary_flips = flip_summary(changed).with_columns(
            reason=pl.col("why").replace_strict(dict(texts), default="", return_dtype=pl.String)
        )
        examples = (
            changed.with_columns(change=(pl.col("limit_now") - pl.col("limit_was")).abs())
            .sort(["change", "merchant_id"], descending=[True, False])
            .head(EXAMPLES)
            .drop("change")
        )
        sections += [
            "<h2>Grade migration</h2>",
            f"<p>Of merchants in both runs: {up:,} moved to a better grade, {same:,} kept their "
            f"grade, {down:,} moved to a worse one. {new:,} merchants are new in this run; "
            f"{gone:,} of the previous run are not in it.</p>",
            _matrix(matrix),
            "<h2>Outcomes that flipped, and why</h2>",
            f"<p>{changed.height:,} merchants changed outcome. The explanation is the first rule "
            "that fires now and did not before (toward decline) or no longer fires (toward "
            "approval), else the first reason that appeared or went away, else the grade move.</p>",
            html_table(
                summary_flips.select("was", "now", "why", "reason", "merchants", "limit_change"),
                ["previous", "now", "rule or reason", "in words", "merchants", "limit change"],
            ),
            f"<h3>The {min(EXAMPLES, changed.height)} largest limit changes among them</h3>",
            html_table(examples),
        ]
    sections += [
        "<h2>Limit and exposure by grade</h2>",
        _segments(
            segment_totals(now, "grade"), "grade", "Total limit and existing exposure by grade"
        ),
        "<h2>Limit and exposure by industry</h2>",
        _segments(
            segment_totals(now, "industry_code"),
            "industry_code",
            "Total limit and existing exposure by industry",
        ),
        "<h2>Rules that fired most</h2>",
        _ruleshtml_table(rules_fired(now, before), texts),
    ]
    return html_page(f"Re-scoring run as of {m['as_of']}", "\n".join(sections), _STYLE)
