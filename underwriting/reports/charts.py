"""Charts as self-contained SVG text (no scripts, no fonts to fetch, open offline anywhere),
and the tables and page that hold them."""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from html import escape

import numpy as np
import polars as pl


@dataclass(frozen=True)
class BandPoint:
    """One period of a series drawn against a band (for example industry quartiles)."""

    label: str
    value: float
    low: float
    middle: float
    high: float


def _nice_ceiling(value: float) -> float:
    if value <= 0:
        return 1.0
    magnitude = 10 ** (len(str(int(value))) - 1)
    for step in (1, 2, 2.5, 5, 10):
        if step * magnitude >= value:
            return float(step * magnitude)
    return float(10 * magnitude)


def _money(value: float) -> str:
    if value >= 1_000_000:
        return f"{value / 1_000_000:.3g}M"
    if value >= 1_000:
        return f"{value / 1_000:.3g}k"
    return f"{value:.3g}"


def band_chart(
    points: Sequence[BandPoint],
    *,
    title: str,
    series_name: str,
    band_name: str,
    width: int = 760,
    height: int = 300,
) -> str:
    """A line of `value` over a shaded low-high band with a dashed middle line, as SVG."""
    left, right, top, bottom = 60, 20, 36, 48
    plot_w, plot_h = width - left - right, height - top - bottom
    ceiling = _nice_ceiling(max([p.value for p in points] + [p.high for p in points] + [0.0]))
    n = max(len(points), 1)

    def x(i: int) -> float:
        return left + (i + 0.5) * plot_w / n

    def y(v: float) -> float:
        return top + plot_h * (1 - v / ceiling)

    parts = [
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" '
        f'viewBox="0 0 {width} {height}" role="img" aria-label="{escape(title)}" '
        'font-family="sans-serif" font-size="11">',
        f'<text x="{left}" y="18" font-size="13" font-weight="bold">{escape(title)}</text>',
    ]
    for k in range(5):
        v = ceiling * k / 4
        parts.append(
            f'<line x1="{left}" x2="{width - right}" y1="{y(v):.1f}" y2="{y(v):.1f}" stroke="#ddd"/>'
            f'<text x="{left - 6}" y="{y(v) + 4:.1f}" text-anchor="end">{_money(v)}</text>'
        )
    if points:
        upper = " ".join(f"{x(i):.1f},{y(p.high):.1f}" for i, p in enumerate(points))
        lower = " ".join(f"{x(i):.1f},{y(p.low):.1f}" for i, p in reversed(list(enumerate(points))))
        parts.append(f'<polygon points="{upper} {lower}" fill="#9ecae1" fill-opacity="0.45"/>')
        middle = " ".join(f"{x(i):.1f},{y(p.middle):.1f}" for i, p in enumerate(points))
        parts.append(
            f'<polyline points="{middle}" fill="none" stroke="#3182bd" stroke-dasharray="4 3"/>'
        )
        line = " ".join(f"{x(i):.1f},{y(p.value):.1f}" for i, p in enumerate(points))
        parts.append(f'<polyline points="{line}" fill="none" stroke="#d95f0e" stroke-width="2.2"/>')
        for i, p in enumerate(points):
            parts.append(
                f'<circle cx="{x(i):.1f}" cy="{y(p.value):.1f}" r="2.6" fill="#d95f0e">'
                f"<title>{escape(p.label)}: {p.value:,.0f} (band {p.low:,.0f} to {p.high:,.0f})</title>"
                "</circle>"
            )
            if i % max(1, -(-n // 12)) == 0:  # at most 12 labels
                parts.append(
                    f'<text x="{x(i):.1f}" y="{height - bottom + 16}" text-anchor="middle">'
                    f"{escape(p.label)}</text>"
                )
    legend_y = height - 12
    parts.append(
        f'<rect x="{left}" y="{legend_y - 9}" width="14" height="10" fill="#9ecae1"/>'
        f'<text x="{left + 18}" y="{legend_y}">{escape(band_name)}</text>'
        f'<line x1="{left + 250}" x2="{left + 270}" y1="{legend_y - 4}" y2="{legend_y - 4}" '
        'stroke="#d95f0e" stroke-width="2.2"/>'
        f'<text x="{left + 275}" y="{legend_y}">{escape(series_name)}</text>'
    )
    parts.append("</svg>")
    return "\n".join(parts)


@dataclass(frozen=True)
class Series:
    """A named line of (x, y) points."""

    name: str
    xs: Sequence[float]
    ys: Sequence[float]
    color: str
    dashed: bool = False


def _frame(width: int, height: int, title: str) -> list[str]:
    return [
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" '
        f'viewBox="0 0 {width} {height}" role="img" aria-label="{escape(title)}" '
        'font-family="sans-serif" font-size="11">',
        f'<text x="10" y="16" font-size="13" font-weight="bold">{escape(title)}</text>',
    ]


def line_chart(
    series: Sequence[Series],
    *,
    title: str,
    x_label: str,
    y_label: str,
    x_range: tuple[float, float],
    y_range: tuple[float, float],
    width: int = 420,
    height: int = 320,
) -> str:
    """Lines over shared axes with a legend (one entry a line, below the plot), as SVG."""
    height += 14 * len(series)
    left, right, top, bottom = 52, 16, 30, 44 + 14 * len(series)
    plot_w, plot_h = width - left - right, height - top - bottom
    (x0, x1), (y0, y1) = x_range, y_range

    def x(v: float) -> float:
        return left + plot_w * (v - x0) / ((x1 - x0) or 1)

    def y(v: float) -> float:
        return top + plot_h * (1 - (v - y0) / ((y1 - y0) or 1))

    parts = _frame(width, height, title)
    for k in range(5):
        vx = x0 + (x1 - x0) * k / 4
        vy = y0 + (y1 - y0) * k / 4
        parts.append(
            f'<line x1="{left}" x2="{width - right}" y1="{y(vy):.1f}" y2="{y(vy):.1f}" stroke="#eee"/>'
            f'<text x="{left - 5}" y="{y(vy) + 4:.1f}" text-anchor="end">{vy:.3g}</text>'
            f'<text x="{x(vx):.1f}" y="{top + plot_h + 14}" text-anchor="middle">{vx:.3g}</text>'
        )
    parts.append(
        f'<rect x="{left}" y="{top}" width="{plot_w}" height="{plot_h}" fill="none" stroke="#999"/>'
        f'<text x="{left + plot_w / 2:.1f}" y="{top + plot_h + 30}" text-anchor="middle">{escape(x_label)}</text>'
        f'<text x="12" y="{top + plot_h / 2:.1f}" transform="rotate(-90 12 {top + plot_h / 2:.1f})" '
        f'text-anchor="middle">{escape(y_label)}</text>'
    )
    for i, s in enumerate(series):
        points = " ".join(f"{x(a):.1f},{y(b):.1f}" for a, b in zip(s.xs, s.ys, strict=True))
        dash = ' stroke-dasharray="5 4"' if s.dashed else ""
        parts.append(
            f'<polyline points="{points}" fill="none" stroke="{s.color}" stroke-width="2"{dash}/>'
        )
        ly = top + plot_h + 44 + 14 * i
        parts.append(
            f'<line x1="{left}" x2="{left + 16}" y1="{ly - 4}" y2="{ly - 4}" stroke="{s.color}" stroke-width="2"{dash}/>'
            f'<text x="{left + 20}" y="{ly}">{escape(s.name)}</text>'
        )
    parts.append("</svg>")
    return "\n".join(parts)


def bar_chart(
    categories: Sequence[str],
    series: Sequence[tuple[str, Sequence[float], str]],
    *,
    title: str,
    y_label: str,
    percent: bool = False,
    width: int = 420,
    height: int = 320,
) -> str:
    """Grouped bars (one group per category, one bar per series), as SVG."""
    left, right, top, bottom = 52, 16, 30, 58
    plot_w, plot_h = width - left - right, height - top - bottom
    ceiling = _nice_ceiling_float(max([v for _, values, _ in series for v in values] + [1e-12]))
    group_w = plot_w / max(len(categories), 1)
    bar_w = group_w * 0.8 / max(len(series), 1)

    def y(v: float) -> float:
        return top + plot_h * (1 - v / ceiling)

    def shown(v: float) -> str:
        return f"{v:.1%}" if percent else _money(v)

    parts = _frame(width, height, title)
    for k in range(5):
        v = ceiling * k / 4
        parts.append(
            f'<line x1="{left}" x2="{width - right}" y1="{y(v):.1f}" y2="{y(v):.1f}" stroke="#eee"/>'
            f'<text x="{left - 5}" y="{y(v) + 4:.1f}" text-anchor="end">{shown(v)}</text>'
        )
    for g, category in enumerate(categories):
        gx = left + g * group_w + group_w * 0.1
        for s, (name, values, color) in enumerate(series):
            v = values[g]
            parts.append(
                f'<rect x="{gx + s * bar_w:.1f}" y="{y(v):.1f}" width="{bar_w:.1f}" '
                f'height="{top + plot_h - y(v):.1f}" fill="{color}"><title>{escape(name)} '
                f"{escape(category)}: {shown(v)}</title></rect>"
            )
        parts.append(
            f'<text x="{gx + group_w * 0.4:.1f}" y="{top + plot_h + 14}" text-anchor="middle">{escape(category)}</text>'
        )
    parts.append(
        f'<text x="12" y="{top + plot_h / 2:.1f}" transform="rotate(-90 12 {top + plot_h / 2:.1f})" '
        f'text-anchor="middle">{escape(y_label)}</text>'
    )
    for i, (name, _, color) in enumerate(series):
        lx = left + i * 150
        parts.append(
            f'<rect x="{lx}" y="{height - 18}" width="14" height="10" fill="{color}"/>'
            f'<text x="{lx + 18}" y="{height - 9}">{escape(name)}</text>'
        )
    parts.append("</svg>")
    return "\n".join(parts)


def interval_chart(
    categories: Sequence[str],
    observed: Sequence[float],
    intervals: Sequence[tuple[float, float]],
    expected: Sequence[float],
    *,
    title: str,
    y_label: str,
    names: tuple[str, str] = ("observed, with its 95% interval", "expected"),
    width: int = 640,
    height: int = 340,
) -> str:
    """Per category an observed rate (a dot on its interval's whisker) beside the expected
    rate (a bar), on a log scale so small and large rates both read, as SVG."""
    left, right, top, bottom = 60, 16, 30, 62
    plot_w, plot_h = width - left - right, height - top - bottom
    values = [v for v in (*observed, *expected, *(h for _, h in intervals)) if v > 0]
    floor = 10 ** math.floor(math.log10(min(values, default=1e-3)))
    ceiling = 10 ** math.ceil(math.log10(max(values, default=1.0)))
    span = math.log10(ceiling) - math.log10(floor) or 1.0

    def y(v: float) -> float:
        return top + plot_h * (1 - (math.log10(max(v, floor)) - math.log10(floor)) / span)

    parts = _frame(width, height, title)
    tick = floor
    while tick <= ceiling * 1.0001:
        parts.append(
            f'<line x1="{left}" x2="{width - right}" y1="{y(tick):.1f}" y2="{y(tick):.1f}" stroke="#eee"/>'
            f'<text x="{left - 5}" y="{y(tick) + 4:.1f}" text-anchor="end">{tick:.2%}</text>'
        )
        tick *= 10
    group_w = plot_w / max(len(categories), 1)
    for g, category in enumerate(categories):
        cx = left + (g + 0.5) * group_w
        low, high = intervals[g]
        parts.append(
            f'<rect x="{cx - group_w * 0.3:.1f}" y="{y(expected[g]):.1f}" width="{group_w * 0.6:.1f}" '
            f'height="{top + plot_h - y(expected[g]):.1f}" fill="#c6dbef"><title>{escape(category)} '
            f"{escape(names[1])}: {expected[g]:.2%}</title></rect>"
            f'<line x1="{cx:.1f}" x2="{cx:.1f}" y1="{y(low):.1f}" y2="{y(high):.1f}" stroke="#d95f0e" stroke-width="2"/>'
            f'<line x1="{cx - 5:.1f}" x2="{cx + 5:.1f}" y1="{y(low):.1f}" y2="{y(low):.1f}" stroke="#d95f0e"/>'
            f'<line x1="{cx - 5:.1f}" x2="{cx + 5:.1f}" y1="{y(high):.1f}" y2="{y(high):.1f}" stroke="#d95f0e"/>'
            f'<circle cx="{cx:.1f}" cy="{y(observed[g]):.1f}" r="4" fill="#d95f0e"><title>'
            f"{escape(category)} {escape(names[0])}: {observed[g]:.2%} ({low:.2%} to {high:.2%})"
            "</title></circle>"
            f'<text x="{cx:.1f}" y="{top + plot_h + 14}" text-anchor="middle">{escape(category)}</text>'
        )
    parts.append(
        f'<text x="12" y="{top + plot_h / 2:.1f}" transform="rotate(-90 12 {top + plot_h / 2:.1f})" '
        f'text-anchor="middle">{escape(y_label)}</text>'
        f'<rect x="{left}" y="{height - 20}" width="14" height="10" fill="#c6dbef"/>'
        f'<text x="{left + 18}" y="{height - 11}">{escape(names[1])}</text>'
        f'<circle cx="{left + 177}" cy="{height - 15}" r="4" fill="#d95f0e"/>'
        f'<text x="{left + 186}" y="{height - 11}">{escape(names[0])}</text>'
    )
    parts.append("</svg>")
    return "\n".join(parts)


def hbar_chart(
    labels: Sequence[str],
    values: Sequence[float],
    *,
    title: str,
    x_label: str,
    lines: Sequence[tuple[float, str]] = (),
    colors: Sequence[str] | None = None,
    width: int = 640,
) -> str:
    """Horizontal bars, one a label, with dashed reference lines (`lines`: value, name),
    as SVG; a NaN value is drawn as no bar and written as "n/a"."""
    left, right, top, bar_h = 290, 60, 30, 18
    height = top + bar_h * len(labels) + 44 + 14 * max(len(lines) - 1, 0)
    plot_w = width - left - right
    finite = [v for v in values if v == v]
    ceiling = _nice_ceiling_float(max([*finite, *(v for v, _ in lines), 1e-12]) * 1.05)

    def x(v: float) -> float:
        return left + plot_w * min(max(v, 0.0), ceiling) / ceiling

    parts = _frame(width, height, title)
    for i, (label, value) in enumerate(zip(labels, values, strict=True)):
        yy = top + i * bar_h
        color = colors[i] if colors is not None else "#6baed6"
        shown = f"{value:.3g}" if value == value else "n/a"
        if value == value:
            parts.append(
                f'<rect x="{left}" y="{yy + 3}" width="{x(value) - left:.1f}" height="{bar_h - 6}" '
                f'fill="{color}"><title>{escape(label)}: {shown}</title></rect>'
            )
        parts.append(
            f'<text x="{left - 6}" y="{yy + bar_h - 5}" text-anchor="end">{escape(label)}</text>'
            f'<text x="{(x(value) if value == value else left) + 4:.1f}" y="{yy + bar_h - 5}">{shown}</text>'
        )
    bottom = top + bar_h * len(labels)
    for k, (value, name) in enumerate(lines):  # labels one below the other: never overlap
        parts.append(
            f'<line x1="{x(value):.1f}" x2="{x(value):.1f}" y1="{top}" y2="{bottom + 14 * k + 4}" '
            'stroke="#b30000" stroke-dasharray="4 3"/>'
            f'<text x="{x(value) + 3:.1f}" y="{bottom + 14 + 14 * k}" fill="#b30000">'
            f"{escape(name)}</text>"
        )
    parts.append(
        f'<text x="{left + plot_w / 2:.1f}" y="{height - 8}" text-anchor="middle">{escape(x_label)}</text>'
        "</svg>"
    )
    return "\n".join(parts)


def _nice_ceiling_float(value: float) -> float:
    exponent = np.floor(np.log10(value))
    for step in (1, 2, 2.5, 5, 10):
        candidate = float(step * 10**exponent)
        if candidate >= value:
            return candidate
    return float(10 ** (exponent + 1))


def text_band_chart(points: Sequence[BandPoint], width: int = 36) -> list[str]:
    """The band chart for a terminal: one line per period, the value as a bar (█, ▓ where
    it covers the band) over the band (░, median │), then the value and where it sits."""
    top = max([max(p.value, p.high) for p in points], default=0.0) or 1.0

    def column(amount: float) -> int:
        return min(width - 1, max(0, round(amount / top * (width - 1))))

    lines = []
    for p in points:
        bar = column(p.value) if p.value > 0 else -1
        low, middle, high = column(p.low), column(p.middle), column(p.high)
        cells = [
            "│"
            if c == middle
            else ("▓" if c <= bar else "░")
            if low <= c <= high
            else "█"
            if c <= bar
            else " "
            for c in range(width)
        ]
        where = "below" if p.value < p.low else "above" if p.value > p.high else "within"
        lines.append(f"{p.label:>7} {''.join(cells)} {p.value:>12,.0f}  {where}")
    return lines


_PAGE_STYLE = """
body { font-family: sans-serif; margin: 2em; max-width: 72em; color: #222; }
table { border-collapse: collapse; margin: 0.5em 0 1.5em; }
td, th { border-bottom: 1px solid #ddd; padding: 3px 8px; text-align: left; vertical-align: top; }
td.num, th.num { text-align: right; white-space: nowrap; }
.note { color: #555; font-size: 90%; }
.charts svg { margin: 0 1em 1em 0; }
.stable { background: #e5f5e0; } .watch { background: #fee8c8; } .act { background: #fcbba1; }
"""


def html_page(title: str, body: str, style: str = "") -> str:
    """One self-contained HTML document: the shared report style, `title` and `body`."""
    return (
        f'<!doctype html>\n<html lang="en"><head><meta charset="utf-8"><title>{escape(title)}</title>'
        f"\n<style>{_PAGE_STYLE}{style}</style></head><body>\n{body}\n</body></html>\n"
    )


def shown_value(value: object) -> str:
    """A table cell's text: numbers with thousands separators, text escaped, None empty."""
    if value is None:
        return ""
    if isinstance(value, float):
        return f"{value:,.2f}"
    return f"{value:,}" if isinstance(value, int) else escape(str(value))


def html_table(frame: pl.DataFrame, headers: Sequence[str] | None = None) -> str:
    """A frame as an HTML table (numbers right-aligned); `headers` replace its column names."""
    head = "".join(f"<th>{escape(h)}</th>" for h in headers or frame.columns)
    rows = "".join(
        "<tr>"
        + "".join(
            f"<td class=num>{shown_value(v)}</td>"
            if isinstance(v, int | float)
            else f"<td>{shown_value(v)}</td>"
            for v in row
        )
        + "</tr>"
        for row in frame.iter_rows()
    )
    return f"<table><tr>{head}</tr>{rows}</table>"
