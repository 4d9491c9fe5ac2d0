"""Her learned forecast drawn on the server as SVG for the patient page (no script needed).

Two median curves over years since her first session: the population's (dashed) and hers
(learned from her measurements, with her 80 % band), the noticeable threshold, her session
days as ticks and her measurement days as dots on her curve (the tooltip names scale and value).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from needleplan.services.learned_forecast import LearnedForecast

WIDTH, HEIGHT, PAD = 640.0, 260.0, 36.0


@dataclass(frozen=True)
class LearnedChart:
    population: str
    personal: str
    band: str
    threshold_y: float
    zero_y: float
    sessions: list[float]
    dots: list[dict[str, Any]]
    x_ticks: list[tuple[float, str]]
    y_ticks: list[tuple[float, str]]
    width: float = WIDTH
    height: float = HEIGHT
    pad: float = PAD


def learned_chart(found: LearnedForecast) -> LearnedChart:
    pop, own = found.outcome.update.population, found.outcome.update.personal
    days = own.day
    top = float(max(np.max(own.p90), np.max(pop.median), own.noticeable_threshold) * 1.1)
    bottom = float(min(0.0, np.min(own.p10), np.min(pop.median)))
    span_y = (top - bottom) or 1.0
    last = float(days[-1]) or 1.0

    def x(day: float) -> float:
        return PAD + (WIDTH - 2 * PAD) * day / last

    def y(value: float) -> float:
        return HEIGHT - PAD - (HEIGHT - 2 * PAD) * (value - bottom) / span_y

    step = max(1, len(days) // 200)
    idx = list(range(0, len(days), step))

    def line(values: Any) -> str:
        return " ".join(f"{x(float(days[i])):.1f},{y(float(values[i])):.1f}" for i in idx)

    band = (
        line(own.p90)
        + " "
        + " ".join(f"{x(float(days[i])):.1f},{y(float(own.p10[i])):.1f}" for i in reversed(idx))
    )
    first = found.outcome.first_session
    dots = []
    for m in found.outcome.measurements:
        day = float((m.measured_at.date() - first).days)
        if 0 <= day <= last:
            dots.append(
                {
                    "x": round(x(day), 1),
                    "y": round(y(own.improvement_on(day)), 1),
                    "label": f"{m.measured_at:%Y-%m-%d}: {m.scale.value} {m.value:g}",
                }
            )
    years = int(last // 365.25)
    x_ticks = [(x(k * 365.25), f"{k} y") for k in range(0, years + 1, max(1, years // 8))]
    y_ticks = [(y(v), f"{v:g} %") for v in np.linspace(bottom, top, 5).round(0)]
    return LearnedChart(
        population=line(pop.median),
        personal=line(own.median),
        band=band,
        threshold_y=y(own.noticeable_threshold),
        zero_y=y(0.0),
        sessions=[x(float(d)) for d in own.session_days],
        dots=dots,
        x_ticks=x_ticks,
        y_ticks=y_ticks,
    )
