"""Server-rendered SVG charts of the owner's dashboard: bars per month, readable on a tablet.

Each chart is one self-contained ``<svg>`` element (no script, no external file) that scales to
its container (``viewBox``, width 100%): text at least 13 px at 640 px wide, the chosen month
highlighted, each bar's value written above it, and a ``<title>``/``aria-label`` saying what it
shows. Every text is escaped.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from html import escape

WIDTH, HEIGHT = 640, 280
LEFT, RIGHT, TOP, BOTTOM = 48, 12, 34, 46
#: Colours of the series (colour-blind safe: Okabe-Ito).
PALETTE = ("#0072B2", "#E69F00", "#009E73", "#CC79A7", "#56B4E9", "#D55E00")


@dataclass(frozen=True)
class Series:
    """One series: its name and one value per label (``None``: no figure that month)."""

    name: str
    values: Sequence[float | None]


def _nice_top(value: float) -> float:
    """A round axis top at or above ``value`` (at least 2, so the half-way tick is whole)."""
    if value <= 2:
        return 2.0
    step = 10 ** len(str(int(value))) / 10 if value >= 1 else 0.1
    for mult in (1, 2, 2.5, 5, 10):
        if value <= step * mult:
            return step * mult
    return value  # pragma: no cover - the loop always returns


def bar_chart(
    title: str,
    labels: Sequence[str],
    series: Sequence[Series],
    *,
    fmt: Callable[[float], str] = lambda v: f"{v:,.0f}",
    highlight: int | None = None,
    stacked: bool = True,
    top: float | None = None,
    chart_id: str = "",
) -> str:
    """Bars per label, stacked (or side by side) series, the value total above each group."""
    n = len(labels)
    if n == 0:
        return ""
    totals: list[float | None] = []
    for i in range(n):
        vals = [s.values[i] for s in series]
        known = [v for v in vals if v is not None]
        totals.append((sum(known) if stacked else max(known)) if known else None)
    peak = top if top is not None else _nice_top(max((t or 0.0) for t in totals))
    plot_w, plot_h = WIDTH - LEFT - RIGHT, HEIGHT - TOP - BOTTOM
    slot = plot_w / n
    bar_w = slot * 0.7 / (1 if stacked else max(1, len(series)))
    out = [
        f'<svg class="chart" viewBox="0 0 {WIDTH} {HEIGHT}" width="100%" role="img" '
        f'aria-label="{escape(title)}"' + (f' id="{escape(chart_id)}"' if chart_id else "") + ">",
        f"<title>{escape(title)}</title>",
        f'<text x="{LEFT}" y="18" class="chart-title" font-size="15" font-weight="600">'
        f"{escape(title)}</text>",
    ]
    for frac in (0.0, 0.5, 1.0):
        y = TOP + plot_h * (1 - frac)
        out.append(
            f'<line x1="{LEFT}" x2="{WIDTH - RIGHT}" y1="{y:.1f}" y2="{y:.1f}" '
            'stroke="#ccc" stroke-width="1"/>'
        )
        out.append(
            f'<text x="{LEFT - 6}" y="{y + 4:.1f}" font-size="13" text-anchor="end" '
            f'fill="#444">{escape(fmt(peak * frac))}</text>'
        )
    for i, label in enumerate(labels):
        x0 = LEFT + slot * i + slot * 0.15
        if highlight == i:
            out.append(
                f'<rect x="{LEFT + slot * i:.1f}" y="{TOP}" width="{slot:.1f}" '
                f'height="{plot_h}" fill="#fff3c4"/>'
            )
        base = 0.0
        for k, s in enumerate(series):
            v = s.values[i]
            if v is None or v <= 0:
                continue
            h = plot_h * min(v, peak) / peak
            if stacked:
                y = TOP + plot_h - plot_h * min(base + v, peak) / peak
                x = x0
                base += v
            else:
                y, x = TOP + plot_h - h, x0 + bar_w * k
            out.append(
                f'<rect x="{x:.1f}" y="{y:.1f}" width="{bar_w:.1f}" height="{h:.1f}" '
                f'fill="{PALETTE[k % len(PALETTE)]}"><title>{escape(label)} · '
                f"{escape(s.name)}: {escape(fmt(v))}</title></rect>"
            )
        total = totals[i]
        text = "–" if total is None else fmt(total)
        ty = TOP + plot_h - plot_h * min(total or 0.0, peak) / peak - 4
        if n <= 24:
            out.append(
                f'<text x="{LEFT + slot * (i + 0.5):.1f}" y="{ty:.1f}" font-size="13" '
                f'text-anchor="middle" fill="#222">{escape(text)}</text>'
            )
        step = max(1, -(-n // 12))
        if i % step == 0 or i == highlight:
            out.append(
                f'<text x="{LEFT + slot * (i + 0.5):.1f}" y="{HEIGHT - BOTTOM + 18}" '
                f'font-size="13" text-anchor="middle" fill="#444">{escape(label)}</text>'
            )
    if len(series) > 1:
        x = LEFT
        for k, s in enumerate(series):
            out.append(
                f'<rect x="{x}" y="{HEIGHT - 16}" width="12" height="12" '
                f'fill="{PALETTE[k % len(PALETTE)]}"/>'
            )
            out.append(
                f'<text x="{x + 16}" y="{HEIGHT - 5}" font-size="13" fill="#222">'
                f"{escape(s.name)}</text>"
            )
            x += 24 + 8 * len(s.name)
    out.append("</svg>")
    return "".join(out)


def percent(value: float) -> str:
    return f"{value * 100:.0f}%"
