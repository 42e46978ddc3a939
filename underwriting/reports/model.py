"""The model report: one self-contained HTML page a validator can read without Python.

ROC, KS, calibration by grade and score distributions as inline SVG, and the tables of
the artifact: metrics per split, the statsmodels coefficient table, every bin with its
weight of evidence and points, and what training dropped and why. Pure: model and data in,
HTML text out.
"""

from __future__ import annotations

import math
from html import escape
from itertools import pairwise

import numpy as np
import polars as pl

from underwriting.features.registry import FEATURES_BY_NAME
from underwriting.model.artifact import NumericBinning, Scorecard
from underwriting.model.binning import OTHER
from underwriting.model.reasons import format_value
from underwriting.model.scoring import score_arrays
from underwriting.model.training import canonical_order, options_of, split, target_values
from underwriting.policy.parameters import Policy
from underwriting.reports.charts import Series, bar_chart, html_page, line_chart

COLORS = {"train": "#1b9e77", "test": "#d95f02", "out_of_time": "#7570b3"}


def _roc(pd_12m: np.ndarray, bad: np.ndarray, points: int = 200) -> tuple[np.ndarray, np.ndarray]:
    order = np.argsort(-pd_12m, kind="stable")
    hits = np.cumsum(bad[order]) / max(bad.sum(), 1)
    false = np.cumsum(~bad[order]) / max((~bad).sum(), 1)
    pick = np.unique(np.linspace(0, bad.size - 1, min(points, bad.size)).astype(int))
    return np.concatenate([[0.0], false[pick]]), np.concatenate([[0.0], hits[pick]])


def _cumulative_by_score(
    score: np.ndarray, bad: np.ndarray, grid: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    bads = np.searchsorted(np.sort(score[bad]), grid, side="right") / max(bad.sum(), 1)
    goods = np.searchsorted(np.sort(score[~bad]), grid, side="right") / max((~bad).sum(), 1)
    return bads, goods


def _bins_table(model: Scorecard) -> str:
    factor = model.scaling.factor
    blocks = []
    for f in model.features:
        b = f.binning
        unit = FEATURES_BY_NAME[f.name].unit if f.name in FEATURES_BY_NAME else ""
        rows = []
        if isinstance(b, NumericBinning):
            edges = [-np.inf, *b.edges, np.inf]
            labels = [
                f"{'-∞' if lo == -np.inf else format_value(lo, unit)} to {'∞' if hi == np.inf else format_value(hi, unit)}"
                for lo, hi in pairwise(edges)
            ]
            entries = list(zip(labels, b.counts, b.bads, b.woe, strict=True))
            if b.missing_count:
                entries.append(("missing", b.missing_count, b.missing_bads, b.missing_woe))
        else:
            entries = list(zip(b.categories, b.counts, b.bads, b.woe, strict=True))
        for label, count, bads, woe in entries:
            rate = f"{bads / count:.2%}" if count else "no training rows: neutral (WoE 0)"
            points = -factor * f.coefficient * woe
            shown = (
                "another or unseen value"
                if label == OTHER
                else ("missing" if label == "" else label)
            )
            rows.append(
                f"<tr><td>{escape(str(shown))}</td><td class=num>{count:,}</td><td class=num>{rate}</td>"
                f"<td class=num>{woe:.3f}</td><td class=num>{points:.1f}</td></tr>"
            )
        blocks.append(
            f"<h3><code>{escape(f.name)}</code></h3><table><tr><th>bin</th><th>rows</th><th>bad rate</th>"
            f"<th>WoE</th><th>points</th></tr>{''.join(rows)}</table>"
        )
    return "\n".join(blocks)


def _hosmer_lemeshow_text(hl: dict[str, float], holdout_name: str) -> str:
    statistic, p_value = hl.get("statistic", math.nan), hl.get("p_value", math.nan)
    if not (math.isfinite(statistic) and math.isfinite(p_value)):
        return f"Hosmer-Lemeshow over PD deciles ({holdout_name}): not computable on this part."
    return (
        f"Hosmer-Lemeshow over PD deciles ({holdout_name}): statistic {statistic:.2f}, "
        f"p-value {p_value:.3f}."
    )


def _notes(model: Scorecard) -> str:
    """What training warned of, and any protected attribute allowed with its reason."""
    items = [f"<li>Warning: {escape(w)}</li>" for w in model.training.warnings]
    items += [
        f"<li>Protected attribute <code>{escape(c)}</code> allowed as a feature (never given "
        f"as a reason): {escape(r)}</li>"
        for c, r in model.training.protected_allowed.items()
    ]
    if model.training.split.get("refit_all"):
        items.append(
            "<li>The final bins and coefficients were refitted on all rows after the held-out "
            "parts gave the metrics above; the bins below are the refitted ones.</li>"
        )
    return f"<ul>{''.join(items)}</ul>" if items else ""


def model_report(model: Scorecard, policy: Policy, frame: pl.DataFrame) -> str:
    """The report of `model` on its training table `frame`, as one HTML document."""
    options = options_of(model)
    frame = canonical_order(frame, options)
    bad = target_values(frame, options.target, options.bad_value)
    _, _, pd_12m = score_arrays(model, frame)
    score = model.scaling.offset - model.scaling.factor * np.log(pd_12m / (1 - pd_12m))
    train_rows, test, out_of_time = split(frame, options)
    parts = {"train": train_rows, "test": test, "out_of_time": out_of_time}
    parts = {k: v for k, v in parts.items() if v.any() and bad[v].any() and not bad[v].all()}
    holdout_name = "out_of_time" if "out_of_time" in parts else "test"
    holdout = parts[holdout_name]

    roc_lines = []
    for name, mask in parts.items():
        fx, fy = _roc(pd_12m[mask], bad[mask])
        roc_lines.append(
            Series(
                f"{name} (AUC {model.training.metrics[name].auc:.3f})",
                fx.tolist(),
                fy.tolist(),
                COLORS[name],
            )
        )
    roc_lines.append(Series("chance", [0.0, 1.0], [0.0, 1.0], "#999", dashed=True))
    roc = line_chart(
        roc_lines,
        title="ROC",
        x_label="share of goods declined",
        y_label="share of bads caught",
        x_range=(0, 1),
        y_range=(0, 1),
    )

    grid = np.linspace(float(np.floor(score.min())), float(np.ceil(score.max())), 120)
    bads_cdf, goods_cdf = _cumulative_by_score(score[holdout], bad[holdout], grid)
    gap = int(np.argmax(np.abs(bads_cdf - goods_cdf)))
    ks_chart = line_chart(
        [
            Series("bads", grid.tolist(), bads_cdf.tolist(), "#d7301f"),
            Series("goods", grid.tolist(), goods_cdf.tolist(), "#2b8cbe"),
            Series(
                f"KS {abs(bads_cdf[gap] - goods_cdf[gap]):.3f} at {grid[gap]:.0f}",
                [grid[gap], grid[gap]],
                [goods_cdf[gap], bads_cdf[gap]],
                "#000",
                dashed=True,
            ),
        ],
        title=f"KS: cumulative share by score ({holdout_name})",
        x_label="score",
        y_label="cumulative share",
        x_range=(float(grid[0]), float(grid[-1])),
        y_range=(0, 1),
    )
    cal = model.training.calibration
    calibration = bar_chart(
        [c.grade for c in cal],
        [
            ("predicted PD", [c.predicted_pd for c in cal], "#9ecae1"),
            ("observed default rate", [c.observed_rate for c in cal], "#d95f0e"),
        ],
        title=f"Calibration by grade ({holdout_name})",
        y_label="12-month default rate",
        percent=True,
    )
    edges = np.linspace(grid[0], grid[-1], 31)
    centres = ((edges[:-1] + edges[1:]) / 2).tolist()
    good_hist = np.histogram(score[holdout & ~bad], bins=edges)[0] / max((holdout & ~bad).sum(), 1)
    bad_hist = np.histogram(score[holdout & bad], bins=edges)[0] / max((holdout & bad).sum(), 1)
    distribution = line_chart(
        [
            Series("goods", centres, good_hist.tolist(), "#2b8cbe"),
            Series("bads", centres, bad_hist.tolist(), "#d7301f"),
        ],
        title=f"Score distribution ({holdout_name})",
        x_label="score",
        y_label="share of group",
        x_range=(float(edges[0]), float(edges[-1])),
        y_range=(0, float(max(good_hist.max(), bad_hist.max()) * 1.1)),
    )
    metrics = "".join(
        f"<tr><td>{name}</td><td class=num>{m.rows:,}</td><td class=num>{m.bads:,}</td><td class=num>{m.auc:.4f}</td>"
        f"<td class=num>{m.gini:.4f}</td><td class=num>{m.ks:.4f}</td><td class=num>{m.brier:.5f}</td></tr>"
        for name, m in sorted(
            model.training.metrics.items(), key=lambda item: list(COLORS).index(item[0])
        )
    )
    coefficients = (
        f"<tr><td>(intercept)</td><td class=num>{model.intercept:.4f}</td><td class=num>{model.intercept_std_error:.4f}</td><td></td><td></td><td></td><td></td></tr>"
        + "".join(
            f"<tr><td><code>{escape(f.name)}</code></td><td class=num>{f.coefficient:.4f}</td><td class=num>{f.std_error:.4f}</td>"
            f"<td class=num>{f.p_value:.2g}</td><td class=num>{f.information_value:.3f}</td><td class=num>{len(f.binning.woe)}</td>"
            f"<td>{f.direction_source}</td></tr>"
            for f in model.features
        )
    )
    dropped = "".join(
        f"<tr><td><code>{escape(d.feature)}</code></td><td>{escape(d.reason)}</td></tr>"
        for d in model.dropped
    )
    calibration_rows = "".join(
        f"<tr><td>{c.grade}</td><td class=num>{c.rows:,}</td><td class=num>{c.predicted_pd:.2%}</td><td class=num>{c.observed_rate:.2%}</td>"
        f"<td class=num>{f'{c.predicted_pd / c.observed_rate - 1:+.1%}' if c.observed_rate else 'no defaults observed'}</td></tr>"
        for c in cal
    )
    hl = model.training.hosmer_lemeshow
    selection = ", ".join(f"{k} {v:g}" for k, v in model.training.selection.items())
    scaling = model.scaling
    body = f"""<h1>Model report: {escape(model.version)}</h1>
<p>Target <code>{escape(model.training.target)}</code>; {model.training.rows:,} rows; training data
{escape(model.training.data_fingerprint)}; policy {escape(model.training.policy_version)}.
Scaling: {scaling.base_score:g} points at odds {scaling.base_odds:g}:1, {scaling.points_to_double_odds:g} points to double the odds.</p>
<h2>Discrimination</h2>
<table><tr><th>part</th><th>rows</th><th>bads</th><th>AUC</th><th>Gini</th><th>KS</th><th>Brier</th></tr>{metrics}</table>
<div class="charts">{roc}{ks_chart}</div>
<h2>Calibration</h2>
<table><tr><th>grade</th><th>rows</th><th>predicted PD</th><th>observed rate</th><th>relative gap</th></tr>{calibration_rows}</table>
<p>{_hosmer_lemeshow_text(hl, holdout_name)}</p>
{_notes(model)}
<div class="charts">{calibration}{distribution}</div>
<h2>Coefficients (statsmodels Logit on weights of evidence)</h2>
<table><tr><th>feature</th><th>coefficient</th><th>std. error</th><th>p-value</th><th>IV</th><th>bins</th><th>direction from</th></tr>{coefficients}</table>
<h2>Selection</h2>
<p>Thresholds: {escape(selection)}.</p>
<table><tr><th>dropped</th><th>reason</th></tr>{dropped}</table>
<h2>Bins</h2>
{_bins_table(model)}"""
    return html_page(f"Model report {model.version}", body)
