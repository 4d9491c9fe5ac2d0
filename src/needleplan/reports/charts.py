"""Static charts a patient understands: expected firmness over the years, per scenario."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt
import numpy as np
from matplotlib.ticker import FuncFormatter
from numpy.typing import NDArray

from needleplan import DISCLAIMER
from needleplan.forecasting.chain import ForecastResult
from needleplan.forecasting.params import DAYS_PER_MONTH, DAYS_PER_YEAR
from needleplan.i18n import Translator

COLOURS = ("#1f6fb2", "#d1495b", "#2a9d8f", "#e9a03b", "#6a4c93", "#4d4d4d")


def plot_forecast(
    scenarios: Sequence[tuple[str, ForecastResult]],
    path: str | Path,
    *,
    title: str = "How firm your skin is expected to be after microneedling",
    untreated: NDArray[np.float64] | None = None,
    language: str = "en",
) -> Path:
    """Write a PNG chart of one or more forecasts.

    Parameters
    ----------
    scenarios : sequence of (label, ForecastResult)
        Each is drawn as its median line with the 80 % band (8 in 10 patients like her fall in
        it) and its sessions marked under the curves.
    path : str or Path
        Output PNG file.
    untreated : ndarray, optional
        Her skin without treatment on the first scenario's days [% of pre-treatment]; drawn
        (dotted) when a band goes below zero, so the dip reads as ageing, not harm.
    language : str
        The language of the chart's own words (axes, marks, caption); ``title`` and the labels
        are given already in it.

    Returns
    -------
    Path
        The file written.
    """
    if not scenarios:
        raise ValueError("plot_forecast needs at least one scenario")
    t = Translator(language)
    out = Path(path)
    first = scenarios[0][1]
    horizon_years = float(first.day[-1]) / DAYS_PER_YEAR
    use_months = horizon_years <= 2.0
    unit = DAYS_PER_MONTH if use_months else DAYS_PER_YEAR

    fig, ax = plt.subplots(figsize=(10, 5.6), dpi=120)
    low = min(float(np.min(r.p10)) for _, r in scenarios)
    draw_untreated = untreated is not None and low < 0
    if untreated is not None and draw_untreated:
        low = min(low, float(np.min(untreated)))
    high = max(float(np.max(r.p90)) for _, r in scenarios)
    for i, (label, res) in enumerate(scenarios):
        colour = COLOURS[i % len(COLOURS)]
        x = res.day / unit
        alpha = 0.18 if len(scenarios) == 1 else 0.10
        ax.fill_between(x, res.p10, res.p90, color=colour, alpha=alpha, linewidth=0)
        ax.plot(x, res.median, color=colour, linewidth=2.2, label=label)
        mark_y = low - (high - low) * (0.06 + 0.04 * i)
        ax.plot(
            res.session_days / unit,
            np.full(res.session_days.shape, mark_y),
            linestyle="none",
            marker="|",
            markersize=7,
            markeredgewidth=2,
            color=colour,
        )
    if untreated is not None and draw_untreated:
        ax.plot(
            first.day / unit,
            untreated,
            color="#555555",
            linestyle=":",
            linewidth=1.6,
            label=t.gettext("your skin without treatment (ageing)"),
        )
    thr = first.noticeable_threshold
    ax.axhline(thr, color="#333333", linestyle="--", linewidth=1.2)
    ax.text(
        x=float(first.day[-1]) / unit,
        y=thr,
        s="  " + t.gettext("noticeable difference"),
        va="bottom",
        ha="right",
        fontsize=9,
        color="#333333",
        bbox={"facecolor": "white", "alpha": 0.7, "edgecolor": "none", "pad": 1},
    )
    ax.axhline(0.0, color="#888888", linewidth=1.0)
    ax.text(
        x=float(first.day[-1]) / unit,
        y=0.0,
        s="  " + t.gettext("your skin before treatment"),
        va="bottom",
        ha="right",
        fontsize=9,
        color="#666666",
        bbox={"facecolor": "white", "alpha": 0.7, "edgecolor": "none", "pad": 1},
    )
    ax.set_xlim(0, float(first.day[-1]) / unit)
    ax.set_ylim(low - (high - low) * (0.1 + 0.04 * len(scenarios)), high + (high - low) * 0.08)
    ax.set_xlabel(
        t.gettext("months after the first session")
        if use_months
        else t.gettext("years after the first session")
    )
    ax.set_ylabel(t.gettext("skin firmness compared with before treatment [%]"))
    ax.yaxis.set_major_formatter(FuncFormatter(lambda v, _pos: f"{v:+.0f}%" if v else "0"))
    if use_months:
        ax.set_xticks(np.arange(0, float(first.day[-1]) / unit + 1e-9, 3.0))
    else:
        ax.set_xticks(np.arange(0, np.floor(horizon_years) + 1, 1.0))
    ax.set_title(title, fontsize=13, loc="left")
    ax.grid(alpha=0.25)
    ax.legend(loc="upper right", fontsize=9, frameon=False)
    fig.text(
        0.01,
        0.01,
        t.gettext(
            "Lines: the typical patient like you. Shaded: where 8 in 10 patients like you fall. "
            "Ticks under the curves: treatment sessions."
        )
        + "\n"
        + t.gettext(DISCLAIMER).replace("; ", ";\n", 1),
        fontsize=7,
        color="#555555",
    )
    fig.subplots_adjust(bottom=0.22, left=0.08, right=0.98, top=0.92)
    out.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(out)
    plt.close(fig)
    return out
