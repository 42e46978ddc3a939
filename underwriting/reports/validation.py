"""The validation pack's page: one self-contained HTML file a validator reads offline and
signs. Backtests by grade with traffic lights (the ECB's instructions for reporting
validation results), discrimination against development, concentration, stability of the
score and of every feature, the officers' overrides, rule firing over runs, and the
fair-lending screen. Pure: `ValidationFigures` in, HTML text out.
"""

from __future__ import annotations

from html import escape

import polars as pl

from underwriting.fairness.owners import ATTRIBUTES, REFERENCE
from underwriting.fairness.screen import FOUR_FIFTHS, MODERATE_PROXY, PROXY_P, STRONG_PROXY
from underwriting.model.backtest import RED_FROM, YELLOW_FROM
from underwriting.model.drift import ACT, WATCH
from underwriting.reports.charts import (
    bar_chart,
    hbar_chart,
    html_page,
    html_table,
    interval_chart,
)
from underwriting.reports.portfolio import band_labels
from underwriting.reports.validation_figures import ValidationFigures

_STYLE = """
.green { background: #c7e9c0; } .yellow { background: #fee391; } .red { background: #fb6a4a; }
.strong { background: #fcbba1; } .moderate { background: #fee8c8; }
.adverse { background: #fcbba1; }
"""
TOP_REASONS = 10
_LIGHT_COLOR = {"stable": "#74c476", "watch": "#fdae6b", "act": "#de2d26"}


def _pct(value: object, digits: int = 2) -> str:
    return f"{value:.{digits}%}" if isinstance(value, float) and value == value else "n/a"


def _num(value: object, digits: int = 3) -> str:
    return f"{value:.{digits}f}" if isinstance(value, float) and value == value else "n/a"


def p_text(value: object) -> str:
    """A p-value as a validator reads it: three decimals, small ones in two significant
    digits, and one that underflowed to 0 as below the smallest double."""
    if not isinstance(value, float) or value != value:
        return "n/a"
    if value == 0.0:
        return "< 1e-300"
    return f"{value:.2g}" if value < 0.001 else f"{value:.3f}"


def _note(figures: ValidationFigures, key: str) -> str:
    text = figures.notes.get(key)
    return f"<p class=note><strong>Not shown:</strong> {escape(text)}.</p>" if text else ""


def _scope(figures: ValidationFigures) -> str:
    s = figures.scope
    items = "".join(
        f"<li>{escape(label)}: <strong>{escape(str(s[key]))}</strong></li>"
        for key, label in (
            ("on", "validation date (windows closed by)"),
            ("data", "data"),
            ("model_version", "model"),
            ("rule_set_version", "rule set"),
            ("matured_applications", "matured applications"),
            ("decided", "decided again"),
            ("quarantined_rows", "rows quarantined"),
            ("owners", "owners table"),
            ("database", "store"),
        )
        if key in s
    )
    cohorts = figures.cohorts.select(
        pl.col("as_of").cast(pl.String()).alias("application date"),
        "merchants",
        "defaults",
        pl.col("closes").cast(pl.String()).alias("window closes"),
        pl.when("matured").then(pl.lit("yes")).otherwise(pl.lit("not yet")).alias("matured"),
    )
    return (
        f"<ul>{items}</ul><p>Each matured application is decided again by this model and rule "
        "set as of its own application date (later data set aside), beside the default that "
        "came in within 12 months.</p>" + html_table(cohorts)
    )


def _discrimination(figures: ValidationFigures) -> str:
    d = figures.discrimination
    parts = [_note(figures, "development"), _note(figures, "discrimination")]
    if d is not None:
        rows = [
            ("AUC", d["auc"], f"{_num(d['auc_low'])} to {_num(d['auc_high'])}", d["reference_auc"]),
            ("Gini", d["gini"], f"{_num(d['gini_low'])} to {_num(d['gini_high'])}", d["reference_gini"]),
            ("KS", d["ks"], "", d["reference_ks"]),
        ]  # fmt: skip
        body = "".join(
            f"<tr><td>{name}</td><td class=num>{_num(v)}</td><td class=num>{ci}</td>"
            f"<td class=num>{_num(ref)}</td></tr>"
            for name, v, ci, ref in rows
        )
        ref = d["reference_part"] or "none"
        parts.append(
            f"<p>{d['obligors']:,} matured applications, {d['defaults']:,} defaults.</p>"
            f"<table><tr><th>measure</th><th class=num>now</th><th class=num>95% interval "
            f"(DeLong)</th><th class=num>development ({escape(ref)})</th></tr>{body}</table>"
        )
        if d["p_value"] is not None:
            verdict = (
                "differs from development" if d["p_value"] < 0.05 else "is in line with development"
            )
            parts.append(
                f"<p>DeLong's test of AUC = {_num(d['reference_auc'])}: z = {_num(d['z'], 2)}, "
                f"p = {p_text(d['p_value'])}: the ranking {verdict} (5% level). The development AUC "
                "is taken as known; its own sampling error would widen the test.</p>"
            )
    if figures.development is not None:
        parts.append("<p class=note>Development figures recorded in the model artifact:</p>")
        parts.append(
            html_table(
                figures.development.select(
                    "part",
                    "rows",
                    "bads",
                    *(pl.col(c).round(4) for c in ("auc", "gini", "ks", "brier")),
                )
            )
        )
    return "".join(parts)


def _backtest(figures: ValidationFigures) -> str:
    table = figures.backtest
    if table is None:
        return ""
    rows = "".join(
        f"<tr><td>{escape(r['grade'])}</td><td class=num>{r['obligors']:,}</td>"
        f"<td class=num>{r['defaults']:,}</td><td class=num>{_pct(r['mean_pd'])}</td>"
        f"<td class=num>{_pct(r['observed'])}</td>"
        f"<td class=num>{_pct(r['low'])} to {_pct(r['high'])}</td>"
        f"<td class='num {r['jeffreys']}'>{p_text(r['jeffreys_p'])} {r['jeffreys']}</td>"
        f"<td class='num {r['binomial']}'>{p_text(r['binomial_p'])} {r['binomial']}</td></tr>"
        for r in table.iter_rows(named=True)
    )
    grades = table.filter(pl.col("grade") != "book")
    chart = interval_chart(
        grades.get_column("grade").to_list(),
        grades.get_column("observed").to_list(),
        list(
            zip(
                grades.get_column("low").to_list(), grades.get_column("high").to_list(), strict=True
            )
        ),
        grades.get_column("mean_pd").to_list(),
        title="Observed default rate by grade against the mean PD",
        y_label="12-month default rate (log scale)",
        names=("observed, Jeffreys 95% interval", "mean PD"),
    )
    return (
        f"<div class=charts>{chart}</div>"
        "<table><tr><th>grade</th><th class=num>obligors</th><th class=num>defaults</th>"
        "<th class=num>mean PD</th><th class=num>observed</th><th class=num>Jeffreys 95%</th>"
        "<th class=num>Jeffreys p</th><th class=num>binomial p</th></tr>"
        f"{rows}</table><p class=note>One-sided tests that the PD is not too low: green below "
        f"{YELLOW_FROM:.0%} confidence (p above {1 - YELLOW_FROM:.2f}), yellow to "
        f"{RED_FROM:.1%}, red above (p below {1 - RED_FROM:.3f}).</p>"
    )


def _concentration(figures: ValidationFigures) -> str:
    table = figures.concentration
    if table is None:
        return ""
    h = figures.herfindahl
    return (
        f"<p>Herfindahl index across grades: counts <strong>{_num(h['counts'])}</strong>, "
        f"exposure (limits granted) <strong>{_num(h['exposure'])}</strong>; "
        f"{_num(h['equal_grades'])} if the grades held equal shares, 1 if one held all.</p>"
        + html_table(
            table.with_columns(pl.col("count_share").round(4), pl.col("exposure_share").round(4)),
            [
                "grade",
                "obligors",
                "with a limit",
                "exposure",
                "share of obligors",
                "share of exposure",
            ],
        )
    )


def _stability(figures: ValidationFigures) -> str:
    parts = [_note(figures, "score_psi")]
    s = figures.score_psi
    if s is not None:
        edges = s["edges"]
        labels = band_labels(tuple(edges))
        parts.append(
            f"<p>Score PSI against the development {escape(s['part'])} scores: "
            f"<strong class={s['stability']}>{s['index']:.4f} ({s['stability']})</strong>.</p>"
            + bar_chart(
                labels,
                [
                    ("development", s["development"], "#9ecae1"),
                    ("matured now", s["now"], "#d95f0e"),
                ],
                title=f"Score bands: PSI {s['index']:.3f}",
                y_label="share of applications",
                percent=True,
                width=640,
            )
        )
    table = figures.features
    if table is not None:
        parts.append(
            hbar_chart(
                table.get_column("feature").to_list(),
                table.get_column("csi").to_list(),
                title="Characteristic stability index of each model feature",
                x_label="CSI over the feature's scorecard bins",
                lines=[(WATCH, f"watch {WATCH}"), (ACT, f"act {ACT}")],
                colors=[_LIGHT_COLOR[s] for s in table.get_column("stability")],
            )
        )
        rows = "".join(
            f"<tr class={r['stability']}><td>{escape(r['feature'])}</td><td class=num>"
            f"{r['csi']:.4f}</td><td>{r['stability']}</td><td class=num>"
            f"{_pct(r['development_missing'], 1)}</td><td class=num>{_pct(r['missing'], 1)}</td></tr>"
            for r in table.iter_rows(named=True)
        )
        parts.append(
            "<table><tr><th>feature</th><th class=num>CSI</th><th>reading</th>"
            "<th class=num>missing at development</th><th class=num>missing now</th></tr>"
            f"{rows}</table><p class=note>PSI and CSI read: below {WATCH} stable, {WATCH} to "
            f"{ACT} watch, {ACT} and over act.</p>"
        )
    return "".join(parts)


def _overrides(figures: ValidationFigures) -> str:
    if (
        figures.overrides is None
        or figures.override_reasons is None
        or figures.override_versions is None
    ):
        return _note(figures, "overrides")
    table = figures.overrides.with_columns(
        pl.col("low_side_rate").round(4), pl.col("high_side_rate").round(4)
    )
    return (
        "<p>Only referrals are reviewed: the officer's final word against the engine's offer. "
        "Low-side: the officer gave less (declined, or cut the limit); high-side: more (a "
        "limit above the engine's, which the API refuses, so any here came another way).</p>"
        + html_table(
            table,
            [
                "grade",
                "referrals",
                "reviewed",
                "approved in full",
                "limit cut",
                "declined",
                "high-side",
                "low-side",
                "low-side rate",
                "high-side rate",
            ],
        )
        + "<h3>Override reasons</h3>"
        + html_table(figures.override_reasons, ["side", "reason", "reviews"])
        + "<p class=note>The referrals above by the versions that decided them:</p>"
        + html_table(
            figures.override_versions if figures.override_versions is not None else pl.DataFrame(),
            ["model", "rule set", "referrals", "reviewed"],
        )
    )


def _rule_firing(figures: ValidationFigures) -> str:
    if figures.rule_firing is None:
        return _note(figures, "rule_firing")
    table = figures.rule_firing
    return "<p>Share of each run's merchants for whom each rule fired.</p>" + html_table(
        table.with_columns(pl.exclude("rule").round(4))
    )


def _fair_lending(figures: ValidationFigures) -> str:
    if not figures.fairness:
        return _note(figures, "fairness")
    return fair_lending_section(figures.fairness, figures.without_owners, figures.reasons)


def fair_lending_section(
    f: dict[str, pl.DataFrame], without_owners: int, reasons: dict[str, str]
) -> str:
    """The fair-lending screen's tables and charts (`validation_figures.fairness`), reason
    codes in words from `reasons`."""
    parts = [
        "<p>A screen, not a finding: a ratio below the four-fifths line says where to look (a "
        "proxy, a rule), not why. The owners' answers are read here only, never by a feature, "
        f"rule or model. Decided merchants without an owners row: {without_owners:,}.</p>"
    ]
    impact = f["adverse_impact"]
    labels, values, colors = [], [], []
    for row in impact.filter(~pl.col("reference")).iter_rows(named=True):
        labels.append(f"{row['attribute']}: {row['group']}")
        values.append(row["air_approved"])
        colors.append("#de2d26" if row["air_approved"] < FOUR_FIFTHS else "#6baed6")
    parts.append(
        hbar_chart(
            labels,
            values,
            title="Adverse impact ratio of approval, each group against its reference",
            x_label="approval rate over the reference group's",
            lines=[(FOUR_FIFTHS, f"four-fifths {FOUR_FIFTHS}"), (1.0, "parity")],
            colors=colors,
            width=720,
        )
    )
    for attribute in ATTRIBUTES:
        rows = impact.filter(pl.col("attribute") == attribute)
        body = "".join(
            f"<tr><td>{escape(r['group'])}{' (reference)' if r['reference'] else ''}</td>"
            f"<td class=num>{r['applicants']:,}</td><td class=num>{r['approved']:,}</td>"
            f"<td class=num>{_pct(r['approved_rate'], 1)}</td>"
            f"<td class='num{' adverse' if r['air_approved'] < FOUR_FIFTHS else ''}'>"
            f"{_num(r['air_approved'])}</td><td class=num>{p_text(r['fisher_p_approved'])}</td>"
            f"<td class=num>{r['approved_or_referred']:,}</td>"
            f"<td class=num>{_pct(r['approved_or_referred_rate'], 1)}</td>"
            f"<td class='num{' adverse' if r['air_approved_or_referred'] < FOUR_FIFTHS else ''}'>"
            f"{_num(r['air_approved_or_referred'])}</td>"
            f"<td class=num>{p_text(r['fisher_p_approved_or_referred'])}</td></tr>"
            for r in rows.iter_rows(named=True)
        )
        parts.append(
            f"<h3>{escape(attribute)} (reference: {escape(REFERENCE[attribute])})</h3>"
            "<table><tr><th>group</th><th class=num>applicants</th><th class=num>approved</th>"
            "<th class=num>rate</th><th class=num>AIR</th><th class=num>Fisher p</th>"
            "<th class=num>approved or referred</th><th class=num>rate</th><th class=num>AIR</th>"
            f"<th class=num>Fisher p</th></tr>{body}</table>"
        )
        smd = f["differences"].filter(pl.col("attribute") == attribute).drop("attribute")
        parts.append(
            html_table(
                smd.with_columns(
                    pl.col("mean_limit").round(0).cast(pl.Int64),
                    pl.col("smd_limit").round(3).cast(pl.String),
                    (pl.col("mean_pd") * 100).round(2).cast(pl.String) + "%",
                    pl.col("smd_pd").round(3).cast(pl.String),
                ),
                [
                    "group",
                    "approved",
                    "mean approved limit",
                    "SMD of limit",
                    "applicants",
                    "mean PD",
                    "SMD of PD",
                ],
            )
        )
        given = (
            f["decline_reasons"]
            .filter(pl.col("attribute") == attribute)
            .pivot("group", index="reason", values="share")
            .fill_null(0.0)
        )
        if given.height:
            first = given.columns[1]
            top = given.sort(first, descending=True).head(TOP_REASONS)
            words = [f"{r}: {reasons.get(r, r)}" for r in top.get_column("reason")]
            parts.append(
                f"<p class=note>Share of each group's declines given each of the "
                f"{TOP_REASONS} most given principal reasons (all of them in the JSON):</p>"
                + html_table(
                    top.with_columns(
                        pl.Series("reason", words), pl.exclude("reason").round(3).cast(pl.String)
                    )
                )
            )
    parts.append(_proxies(f.get("proxies")))
    silent = f["not_provided"]
    if silent.height:
        parts.append(
            '<h3>What "not provided" does</h3><p>Each group\'s AIR among those who answered, '
            "then with those who did not counted in the group, then in the reference group: "
            "the spread is how far the unanswered could move the figure.</p>"
            + html_table(
                silent.with_columns(pl.exclude("attribute", "group", "not_provided").round(3)),
                [
                    "attribute",
                    "group",
                    "not provided",
                    "AIR approval",
                    "AIR approve or refer",
                    "AIR approval, in group",
                    "AIR approve or refer, in group",
                    "AIR approval, in reference",
                    "AIR approve or refer, in reference",
                ],
            )
        )
    return "".join(parts)


def _proxies(proxies: pl.DataFrame | None) -> str:
    if proxies is None:
        return (
            "<p class=note>Features as proxies: not computed here (the run keeps no features); "
            "see `underwrite report validation`.</p>"
        )
    cells = {(r["feature"], r["attribute"]): r for r in proxies.iter_rows(named=True)}
    features = list(dict.fromkeys(proxies.get_column("feature")))
    head = "".join(f"<th class=num>{escape(a)}</th>" for a in ATTRIBUTES)
    body = "".join(
        f"<tr><td>{escape(feature)}</td>"
        + "".join(
            f"<td class='num {cells[feature, a]['strength']}' title='p = "
            f"{p_text(cells[feature, a]['p_value'])}, {cells[feature, a]['merchants']:,} merchants'>"
            f"{_num(cells[feature, a]['cramers_v'])}</td>"
            for a in ATTRIBUTES
        )
        + "</tr>"
        for feature in features
    )
    return (
        "<h3>Model features as proxies</h3><p>Cramér's V of each feature's scorecard bins "
        f'against each attribute\'s answers ("not provided" left out): strong from '
        f"{STRONG_PROXY}, moderate from {MODERATE_PROXY}, when the chi-square test finds the "
        f"association at p &lt; {PROXY_P}. A strong proxy carries the group into the score; "
        "review whether its business reason outweighs that.</p>"
        "Cells: Cramér's V, shaded red for strong and orange for moderate (hover for the "
        f"p-value; all in the JSON).<table><tr><th>feature</th>{head}</tr>{body}</table>"
    )


def fair_lending_report(
    title: str, fairness: dict[str, pl.DataFrame], without_owners: int, reasons: dict[str, str]
) -> str:
    """A page of the fair-lending screen alone (`rescore --owners`)."""
    body = f"<h1>{escape(title)}</h1>{fair_lending_section(fairness, without_owners, reasons)}"
    return html_page(title, body, _STYLE)


def validation_report(figures: ValidationFigures) -> str:
    """The validation page of `figures`."""
    s = figures.scope
    body = (
        f"<h1>Model validation: {escape(str(s.get('model_version', '')))}, rule set "
        f"{escape(str(s.get('rule_set_version', '')))}</h1>"
        f"<p class=note>Matured cohorts as of {escape(str(s.get('on', '')))}; written "
        f"{escape(str(s.get('written', '')))}. The figures are also in the JSON beside this "
        "page.</p>"
        f"<h2>Scope</h2>{_scope(figures)}"
        f"<h2>Calibration by grade</h2>{_backtest(figures)}"
        f"<h2>Discrimination</h2>{_discrimination(figures)}"
        f"<h2>Concentration</h2>{_concentration(figures)}"
        f"<h2>Stability of the score and the features</h2>{_stability(figures)}"
        f"<h2>Overrides</h2>{_overrides(figures)}"
        f"<h2>Rule firing over runs</h2>{_rule_firing(figures)}"
        f"<h2>Fair-lending screen</h2>{_fair_lending(figures)}"
    )
    return html_page("Model validation", body, _STYLE)
