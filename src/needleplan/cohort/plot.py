"""A PNG chart of a cohort: sessions and recalls, revenue, and the share noticeably firmer."""

from __future__ import annotations

from pathlib import Path

from needleplan import DISCLAIMER
from needleplan.cohort.result import CohortResult


def plot_cohort(result: CohortResult, path: str | Path) -> Path:
    """Write a three-panel PNG of ``result`` month by month and return its path.

    Top: sessions delivered (initial and maintenance, stacked) and recalls falling due. Middle:
    revenue. Bottom: the share of the cohort noticeably firmer on the 15th, with the 10-90 %
    band across replicates when there are several.
    """
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    out = Path(path)
    months = result.months
    x = list(range(len(months)))
    initial = [m.initial_sessions for m in months]
    maint = [m.maintenance_sessions for m in months]
    fig, axes = plt.subplots(3, 1, figsize=(10, 9), sharex=True, constrained_layout=True)
    ax = axes[0]
    ax.bar(x, initial, color="#1f6fb2", label="initial sessions")
    ax.bar(x, maint, bottom=initial, color="#2a9d8f", label="maintenance sessions")
    ax.plot(x, [m.recalls_due for m in months], color="#d1495b", lw=1.5, label="recalls due")
    ax.set_ylabel("per month")
    ax.legend(loc="upper right", frameon=False)
    ax.set_title(
        f"{result.population}: {result.summary.patients} patients, {result.years} years from "
        f"{result.start:%Y-%m}"
    )
    ax = axes[1]
    ax.bar(x, [m.revenue for m in months], color="#e9a03b")
    ax.set_ylabel(f"revenue [{result.currency}]")
    ax = axes[2]
    share = [100.0 * m.noticeable_share for m in months]
    ax.plot(x, share, color="#6a4c93", lw=2, label="noticeably firmer (mean)")
    if result.replicates > 1:
        lo = [100.0 * (m.noticeable_share_p10 or 0.0) for m in months]
        hi = [100.0 * (m.noticeable_share_p90 or 0.0) for m in months]
        ax.fill_between(x, lo, hi, color="#6a4c93", alpha=0.2, label="10-90 % of replicates")
    ax.set_ylim(0, 100)
    ax.set_ylabel("% of the cohort")
    ax.legend(loc="lower right", frameon=False)
    step = 12 if len(months) > 24 else 3
    ax.set_xticks(x[::step], [m.month for m in months][::step])
    fig.text(0.01, 0.002, DISCLAIMER, fontsize=6, color="#555555")
    fig.savefig(out, dpi=110)
    plt.close(fig)
    return out
