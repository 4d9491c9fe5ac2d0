"""The visual predictive check of a clinic calibration as a chart (PNG or SVG)."""

from __future__ import annotations

import io
from collections.abc import Sequence

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt
import numpy as np

from needleplan.forecasting.clinic_fit import ScaleCheck
from needleplan.forecasting.params import DAYS_PER_MONTH

_BAND = "#1f6fb2"
_OBSERVED = "#d1495b"


def predictive_check_chart(
    checks: Sequence[ScaleCheck], *, title: str, fmt: str = "png", seed: int = 0
) -> bytes:
    """One panel per scale: measurements against months since the session before them, the
    predicted 80 % band and median per bin (shaded, blue) and the observed 10th, 50th and 90th
    percentiles per bin (red). Values on whole-number scales are jittered a little so that
    they do not hide each other.

    Parameters
    ----------
    checks : sequence of ScaleCheck
        From :func:`needleplan.forecasting.clinic_fit.predictive_check`.
    title : str
        Names the calibration checked.
    fmt : {"png", "svg"}
    seed : int
        Seed of the jitter.

    Returns
    -------
    bytes
        The image.
    """
    if fmt not in ("png", "svg"):
        raise ValueError("fmt must be png or svg")
    n = max(1, len(checks))
    fig, axes = plt.subplots(n, 1, figsize=(9, 2.8 * n + 0.6), dpi=100, squeeze=False)
    rng = np.random.default_rng(seed)
    for ax, check in zip(axes[:, 0], checks, strict=False):
        x = check.days / DAYS_PER_MONTH
        step = 1.0 if np.allclose(check.values, np.round(check.values)) else 0.0
        jitter = rng.uniform(-0.15, 0.15, x.size) * step
        ax.scatter(x, check.values + jitter, s=8, color="#555555", alpha=0.45, label="measurements")
        for k, ((lo, hi), obs, pred) in enumerate(
            zip(check.bins, check.observed, check.predicted, strict=True)
        ):
            right = hi if np.isfinite(hi) else max(lo * 1.5, float(check.days.max()) + 1.0)
            xs = np.array([lo, right]) / DAYS_PER_MONTH
            ax.fill_between(
                xs,
                pred[0],
                pred[2],
                color=_BAND,
                alpha=0.18,
                linewidth=0,
                label="predicted 80 % band" if k == 0 else None,
            )
            ax.plot(
                xs,
                [pred[1]] * 2,
                color=_BAND,
                linewidth=2,
                label="predicted median" if k == 0 else None,
            )
            ax.plot(
                xs,
                [obs[1]] * 2,
                color=_OBSERVED,
                linewidth=2,
                label="observed median" if k == 0 else None,
            )
            for v in (obs[0], obs[2]):
                ax.plot(
                    xs,
                    [v] * 2,
                    color=_OBSERVED,
                    linewidth=1,
                    linestyle="--",
                    label="observed 10th / 90th percentile" if k == 0 and v == obs[0] else None,
                )
        info = check.scale.info
        ax.set_ylim(
            info.low - 0.05 * (info.high - info.low), info.high + 0.05 * (info.high - info.low)
        )
        ax.set_ylabel(f"{check.scale.value.replace('_', ' ')}\n({info.unit})")
        ax.set_title(
            f"{check.scale.value.replace('_', ' ')}: {check.values.size} follow-ups, "
            f"{100 * check.inside:.0f} % inside the predicted band",
            fontsize=9,
        )
        ax.grid(alpha=0.3)
    if checks:
        axes[0, 0].legend(fontsize=7, loc="upper right")
    else:
        axes[0, 0].text(0.5, 0.5, "no follow-up measurements yet", ha="center", va="center")
    axes[-1, 0].set_xlabel("months since the session before the measurement")
    fig.suptitle(title, fontsize=11)
    fig.tight_layout()
    buf = io.BytesIO()
    fig.savefig(buf, format=fmt)
    plt.close(fig)
    return buf.getvalue()


__all__ = ["predictive_check_chart"]
