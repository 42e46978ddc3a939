"""Charts as self-contained SVG text: no scripts, no fonts to fetch, open offline anywhere."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from html import escape


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
            if i % max(1, n // 12) == 0:
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
