"""The comparison's report: champion against challenger on one book, as one self-contained
HTML page a credit policy author reads offline before a rule change goes live.

The swap set, the arms' figures overall, by grade and by industry, the observed bad rate of
the merchants swapped in and out (where the data folder holds outcomes), each rule's
firing and the reasons given in both arms, and the largest limit changes, each explained.
Pure: figures in, HTML text out.
"""

from __future__ import annotations

from collections.abc import Mapping
from html import escape

import polars as pl

from underwriting.decision import OUTCOMES
from underwriting.reports.charts import bar_chart, html_page, html_table
from underwriting.reports.comparison_figures import (
    BadRates,
    counted_lists,
    limit_changes,
    side_by_side,
    swap_set,
    unchanged,
)
from underwriting.reports.portfolio import RunFigures

_STYLE = """
table.swap td { text-align: right; min-width: 9em; vertical-align: top; }
table.swap td small { color: #555; display: block; }
td.bar { min-width: 10em; } td.bar div { height: 0.9em; }
.up { background: #fee8c8; } .down { background: #e5f5e0; }
"""
LARGEST = 25
_CHAMPION, _CHALLENGER = "#3182bd", "#d95f0e"


def _arm(manifest: Mapping[str, object]) -> str:
    return (
        f"model <code>{escape(str(manifest['model_version']))}</code>, rule set "
        f"<code>{escape(str(manifest['rule_set_version']))}</code>"
    )


def _summary(champion: pl.DataFrame, challenger: pl.DataFrame) -> str:
    book = side_by_side(champion, challenger).row(0, named=True)
    rows = [
        ("merchants decided", "merchants", "{:,}"),
        ("approved", "approved", "{:,}"),
        ("approval rate", "approval_rate", "{:.2%}"),
        ("total limit offered", "total_limit", "{:,}"),
        ("expected loss (PD x LGD x limit)", "expected_loss", "{:,.2f}"),
        ("mean PD of the approved", "mean_pd_approved", "{:.3%}"),
    ]

    def shown(pattern: str, value: object, change: bool = False) -> str:
        if value is None:
            return ""
        if change and pattern.endswith("%}"):  # a change of a rate: percentage points
            return f"{100 * float(str(value)):+.{pattern[-3]}f} pp"
        text = pattern.format(value)
        return f"+{text}" if change and isinstance(value, int | float) and value > 0 else text

    body = "".join(
        f"<tr><td>{label}</td><td class=num>{shown(p, book[f'champion_{n}'])}</td>"
        f"<td class=num>{shown(p, book[f'challenger_{n}'])}</td>"
        f"<td class=num>{shown(p, book[f'change_{n}'], change=True)}</td></tr>"
        for label, n, p in rows
    )
    return (
        "<table><tr><th></th><th>champion</th><th>challenger</th><th>change</th></tr>"
        f"{body}</table>"
    )


def _swap_matrix(cells: pl.DataFrame) -> str:
    by_cell = {(r["champion_outcome"], r["challenger_outcome"]): r for r in cells.to_dicts()}
    total = max(int(cells["merchants"].sum()), 1)
    rows = []
    for was in OUTCOMES:
        tds = []
        for now in OUTCOMES:
            cell = by_cell[(was, now)]
            share = cell["merchants"] / total
            tone = "#3182bd" if was == now else "#d95f0e"
            tds.append(
                f'<td style="background: {tone}{int(min(1.0, share * 6) * 200 + 20):02x}">'
                f"<b>{cell['merchants']:,}</b> ({share:.1%})"
                f"<small>limit {cell['champion_limit']:,} → {cell['challenger_limit']:,}</small>"
                f"<small>exp. loss {cell['champion_expected_loss']:,.0f} → "
                f"{cell['challenger_expected_loss']:,.0f}</small></td>"
            )
        rows.append(f"<tr><th>{was}</th>{''.join(tds)}</tr>")
    head = "".join(f"<th>{o}</th>" for o in OUTCOMES)
    return (
        f'<table class="swap"><tr><th>champion ↓ / challenger →</th>{head}</tr>'
        f"{''.join(rows)}</table>"
    )


def _segments(champion: pl.DataFrame, challenger: pl.DataFrame, by: str, name: str) -> str:
    figures = side_by_side(champion, challenger, by)
    labels = [str(s) for s in figures["segment"]]
    rate = bar_chart(
        labels,
        [
            ("champion", [float(v or 0) for v in figures["champion_approval_rate"]], _CHAMPION),
            (
                "challenger",
                [float(v or 0) for v in figures["challenger_approval_rate"]],
                _CHALLENGER,
            ),
        ],
        title=f"Approval rate by {name}",
        y_label="approved",
        percent=True,
        width=max(420, 46 * figures.height + 80),
    )
    limit = bar_chart(
        labels,
        [
            ("champion", [float(v) for v in figures["champion_total_limit"]], _CHAMPION),
            ("challenger", [float(v) for v in figures["challenger_total_limit"]], _CHALLENGER),
        ],
        title=f"Total limit by {name}",
        y_label="limit",
        width=max(420, 46 * figures.height + 80),
    )
    table = html_table(
        figures.select(
            "segment",
            "champion_merchants",
            "challenger_merchants",
            (pl.col("champion_approval_rate") * 100).round(2),
            (pl.col("challenger_approval_rate") * 100).round(2),
            "champion_total_limit",
            "challenger_total_limit",
            "change_total_limit",
            pl.col("champion_expected_loss").round(0),
            pl.col("challenger_expected_loss").round(0),
            (pl.col("champion_mean_pd_approved") * 100).round(3),
            (pl.col("challenger_mean_pd_approved") * 100).round(3),
        ),
        [
            name,
            "merchants (champion)",
            "merchants (challenger)",
            "approval % (champion)",
            "approval % (challenger)",
            "total limit (champion)",
            "total limit (challenger)",
            "change",
            "expected loss (champion)",
            "expected loss (challenger)",
            "mean PD % of approved (champion)",
            "mean PD % of approved (challenger)",
        ],
    )
    return f'{table}<div class="charts">{rate}{limit}</div>'


def _bad_rates(rates: BadRates | None, note: str) -> str:
    if rates is None:
        return f"<p>{escape(note)}</p>"

    def percent(value: float | None) -> str:
        return "" if value is None else f"{value:.2%}"

    rows = "".join(
        f"<tr><td>{g.group}</td><td class=num>{g.merchants:,}</td>"
        f"<td class=num>{g.with_outcome:,}</td><td class=num>{g.bads:,}</td>"
        f"<td class=num>{percent(g.rate)}</td>"
        f"<td class=num>{percent(g.low)} to {percent(g.high)}</td></tr>"
        if g.with_outcome
        else f"<tr><td>{g.group}</td><td class=num>{g.merchants:,}</td><td class=num>0</td>"
        "<td colspan=3>no outcomes</td></tr>"
        for g in rates.groups
    )
    test = (
        f"Fisher's exact test of swapped in against swapped out: p = {rates.p_value:.4g}."
        if rates.p_value is not None
        else "Swapped in or swapped out has no merchant with an outcome: no test."
    )
    return (
        f"<p>{escape(note)}</p><table><tr><th>group</th><th>merchants</th><th>with an "
        "outcome</th><th>defaulted within 12 months</th><th>bad rate</th>"
        f"<th>95% interval (Jeffreys)</th></tr>{rows}</table><p>{test}</p>"
    )


def _counted(frame: pl.DataFrame, key: str, texts: Mapping[str, str], heading: str) -> str:
    if frame.is_empty():
        return "<p>None in either arm.</p>"
    top = max(int(frame.select(pl.max_horizontal("champion", "challenger").max()).item()), 1)
    rows = "".join(
        f"<tr class={'up' if r['change'] > 0 else 'down' if r['change'] < 0 else ''}>"
        f"<td><code>{escape(r[key])}</code></td><td>{escape(texts.get(r[key], ''))}</td>"
        f"<td class=num>{r['champion']:,} ({r['champion_share']:.1%})</td>"
        f"<td class=num>{r['challenger']:,} ({r['challenger_share']:.1%})</td>"
        f"<td class=num>{r['change']:+,}</td>"
        f"<td class=bar><div style='width: {100 * r['champion'] / top:.1f}%; "
        f"background: {_CHAMPION}'></div><div style='width: {100 * r['challenger'] / top:.1f}%; "
        f"background: {_CHALLENGER}'></div></td></tr>"
        for r in frame.iter_rows(named=True)
    )
    return (
        f"<table><tr><th>{heading}</th><th>in words</th><th>champion</th><th>challenger</th>"
        f"<th>change</th><th></th></tr>{rows}</table>"
    )


def comparison_report(
    champion: RunFigures,
    challenger: RunFigures,
    rates: BadRates | None,
    outcomes_note: str,
    texts: Mapping[str, str],
) -> str:
    """The comparison of two arms on one book as one HTML document.

    `rates` are the swap groups' observed bad rates (`bad_rates`), or None where the book
    has no outcomes, with `outcomes_note` saying what they are or why there are none; `texts` gives a sentence for rule ids and reason codes of both arms.
    """
    a, b = champion.decisions, challenger.decisions
    m = champion.manifest
    same = unchanged(a, b)
    cells = swap_set(a, b)
    largest = limit_changes(a, b, LARGEST).with_columns(
        in_words=pl.col("why").replace_strict(dict(texts), default="", return_dtype=pl.String)
    )
    share = same.same_outcome / max(same.merchants, 1)
    sections = [
        f"<h1>Champion against challenger as of {escape(str(m['as_of']))}</h1>",
        f"<p>Champion: {_arm(champion.manifest)}. Challenger: {_arm(challenger.manifest)}. "
        f"Data <code>{escape(str(m['data']))}</code> (fingerprint "
        f"<code>{escape(str(m['input_fingerprint'])[:16])}</code>): "
        f"{int(str(m['merchants_in'])):,} merchants in, {same.merchants:,} decided by both "
        f"arms, {int(str(m['merchants_quarantined'])):,} quarantined. Each arm's decisions are "
        "in its folder, as <code>underwrite rescore</code> writes them.</p>",
        "<h2>Summary</h2>",
        _summary(a, b),
        "<h2>Swap set</h2>",
        f"<p>{same.same_outcome:,} merchants ({share:.1%}) keep their outcome, "
        f"{same.same_outcome_and_limit:,} of them with the same limit, and "
        f"{same.identical:,} get the very same decision in every field; {same.swapped:,} "
        "change outcome. Each cell: merchants, then the total limit and expected loss under "
        "the champion → under the challenger.</p>",
        _swap_matrix(cells),
        "<h2>Bad rate of the merchants swapped in and out</h2>",
        _bad_rates(rates, outcomes_note),
        "<h2>By grade</h2>",
        "<p>Each arm's own grade: a challenger model may grade a merchant otherwise.</p>",
        _segments(a, b, "grade", "grade"),
        "<h2>By industry</h2>",
        _segments(a, b, "industry_code", "industry"),
        "<h2>Rules fired</h2>",
        _counted(counted_lists(a, b, "rules_fired", "rule"), "rule", texts, "rule"),
        "<h2>Reasons given</h2>",
        _counted(counted_lists(a, b, "reason_codes", "reason"), "reason", texts, "reason code"),
        f"<h2>The {min(LARGEST, largest.height)} largest limit changes</h2>",
        "<p>Explained by the first rule that fires under the challenger only (for a move "
        "toward decline or a lower limit) or under the champion only (the other way), else "
        "the first reason that appeared or went away, else the grade move, else the limit "
        "term that binds.</p>",
        html_table(
            largest.select(
                "merchant_id",
                "industry_code",
                "champion",
                "challenger",
                "champion_grade",
                "challenger_grade",
                "champion_limit",
                "challenger_limit",
                "change",
                "why",
                "in_words",
            )
        )
        if largest.height
        else "<p>No merchant's limit changed.</p>",
    ]
    return html_page(f"Champion against challenger as of {m['as_of']}", "\n".join(sections), _STYLE)
