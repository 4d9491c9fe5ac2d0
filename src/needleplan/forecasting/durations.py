"""How long a curve stays noticeable: the headline durations and the typical response peak.

See docs/model.md, "Headline metrics". Vectorised over curves; linear between grid days.
"""

from __future__ import annotations

import math

import numpy as np
from numpy.typing import NDArray

from needleplan.forecasting.params import ModelParams


def _first_drop(
    day: NDArray[np.float64], curves: NDArray[np.float64], threshold: float, start: int
) -> tuple[NDArray[np.float64], NDArray[np.bool_]]:
    """Moment each curve first falls below ``threshold`` after grid index ``start``.

    Linear interpolation between days; ``day[-1]`` and censored=True if it never does.
    """
    n_days = day.size
    if start + 1 >= n_days:  # nothing after the start: noticeable or not, it is censored
        return np.full(curves.shape[0], day[-1]), np.ones(curves.shape[0], dtype=bool)
    below = curves[:, start + 1 :] < threshold
    ends = below.any(axis=1)
    end_idx = np.where(ends, start + 1 + np.argmax(below, axis=1), n_days - 1)
    rows = np.arange(curves.shape[0])
    prev = np.maximum(end_idx - 1, 0)
    v0 = curves[rows, prev]
    v1 = curves[rows, end_idx]
    drop = v0 - v1
    frac = np.where(drop > 0, (v0 - threshold) / np.where(drop > 0, drop, 1.0), 1.0)
    crossing = day[prev] + np.clip(frac, 0.0, 1.0) * (day[end_idx] - day[prev])
    return (
        np.asarray(np.where(ends, crossing, day[-1]), dtype=np.float64),
        np.asarray(~ends, dtype=bool),
    )


def noticeable_span(
    day: NDArray[np.float64],
    curves: NDArray[np.float64],
    threshold: float,
    from_day: float,
    anchor_day: float | None = None,
) -> tuple[NDArray[np.float64], NDArray[np.bool_]]:
    """How long each curve stays noticeable, without a break, after ``from_day`` [days].

    A curve noticeable at ``anchor_day`` (``forecast`` uses the typical response peak after the
    last initial session, :func:`response_peak_days`) stays noticeable until it first falls
    below ``threshold`` after the anchor; a curve noticeable at ``from_day`` but not at the
    anchor, until it first falls below after ``from_day``; otherwise the span is 0. Without an
    anchor, each curve is judged from its own first noticeable day after ``from_day``. A dip below the
    threshold before a maintenance session ends the span even if the session lifts it again.
    The anchor does not depend on the curve, so a curve that is higher on every day never gets
    a shorter span (the monotonicity the band and the Hypothesis properties rely on).

    Returns
    -------
    span : ndarray, shape (n,)
        Days from ``from_day`` to the end of the unbroken noticeable improvement [days].
    censored : ndarray of bool, shape (n,)
        True where the curve is still noticeable on the horizon's last day (a lower bound).
    """
    last = day.size - 1
    i_from = min(int(np.searchsorted(day, from_day, side="left")), last)
    if anchor_day is None:
        # Each curve judged from its own first noticeable day: not monotone (a late riser can
        # outlast a higher curve that dipped earlier), kept for single curves only.
        above = (curves >= threshold) & (np.arange(day.size) >= i_from)[None, :]
        has = above.any(axis=1)
        first = np.argmax(above, axis=1)
        ends = np.empty(curves.shape[0])
        cens = np.zeros(curves.shape[0], dtype=bool)
        for row in range(curves.shape[0]):  # loop over curves (a handful), not days
            e, c = _first_drop(day, curves[row : row + 1], threshold, int(first[row]))
            ends[row], cens[row] = e[0], c[0]
        span = np.where(has, np.maximum(ends - from_day, 0.0), 0.0)
        return np.asarray(span, dtype=np.float64), np.asarray(has & cens, dtype=bool)
    anchor = max(anchor_day, from_day)
    i_anchor = min(int(np.searchsorted(day, anchor, side="left")), last)
    at_anchor = curves[:, i_anchor] >= threshold
    at_from = curves[:, i_from] >= threshold
    end_a, cens_a = _first_drop(day, curves, threshold, i_anchor)
    end_f, cens_f = _first_drop(day, curves, threshold, i_from)
    end = np.where(at_anchor, end_a, np.where(at_from, end_f, from_day))
    censored = np.asarray(np.where(at_anchor, cens_a, at_from & cens_f), dtype=bool)
    span = np.asarray(np.maximum(end - from_day, 0.0), dtype=np.float64)
    return span, censored


#: Values (rows x segments) of the mask converted at once in :func:`noticeable_time`.
_BLOCK_VALUES = 65_536


def noticeable_time(
    day: NDArray[np.float64],
    curves: NDArray[np.float64],
    threshold: float | NDArray[np.float64],
    from_day: float,
    anchor_day: float,
) -> tuple[NDArray[np.float64], NDArray[np.bool_]]:
    """Time each curve is noticeable between ``from_day`` and the horizon, breaks excluded [days].

    The headline "months noticeable" (see docs/model.md, "Headline metrics"): every stretch at
    or above ``threshold`` from ``from_day`` (the last initial session) to the last grid day
    counts, a dip before a maintenance session does not end the count, and the build-up from
    ``from_day`` to ``anchor_day`` (the typical response peak) counts in full when the curve is
    noticeable at the anchor. Linear between grid days, so a crossing is counted to the
    interpolated moment. Without maintenance it equals :func:`noticeable_span` (the curve falls
    through the threshold once); with maintenance it never grows when upkeep becomes less
    frequent (a Hypothesis property over 3-24 months), unlike the time to the first dip, which
    is a sawtooth in the interval. A curve that is higher on every day never gets less time.

    Returns
    -------
    time : ndarray, shape (n,)
        Days noticeable from ``from_day`` to the horizon [days].
    censored : ndarray of bool, shape (n,)
        True where the curve is still noticeable on the last grid day (the time is a lower
        bound: the horizon cut it).
    """
    last = day.size - 1
    n = curves.shape[0]
    i_from = min(int(np.searchsorted(day, from_day, side="left")), last)
    i_anchor = min(int(np.searchsorted(day, max(anchor_day, from_day), side="left")), last)
    width = np.diff(day)
    seg = np.arange(last)
    # the weight of each segment in the count before and after the anchor
    w_pre = np.where((seg >= i_from) & (seg < i_anchor), width, 0.0)
    w_post = np.where(seg >= i_anchor, width, 0.0)
    thr = np.broadcast_to(np.asarray(threshold, dtype=np.float64).reshape(-1, 1), (n, 1))
    up = curves >= thr  # a threshold per curve (n, 1) or one for all
    both = up[:, :-1] & up[:, 1:]
    # whole segments at or above the threshold (no per-day loop), in blocks of rows so the
    # float copy of the mask that the product needs stays small
    pre = np.empty(n)
    post = np.empty(n)
    rows_per_block = max(1, _BLOCK_VALUES // max(last, 1))
    for i in range(0, n, rows_per_block):
        block = both[i : i + rows_per_block].astype(np.float64)
        pre[i : i + rows_per_block] = block @ w_pre
        post[i : i + rows_per_block] = block @ w_post
    rows, cols = np.nonzero(up[:, :-1] ^ up[:, 1:])  # the few segments that cross it
    if rows.size:
        v0 = curves[rows, cols]
        v1 = curves[rows, cols + 1]
        frac = np.clip((np.maximum(v0, v1) - thr[rows, 0]) / np.abs(v1 - v0), 0.0, 1.0)
        pre = pre + np.bincount(rows, frac * w_pre[cols], minlength=n)
        post = post + np.bincount(rows, frac * w_post[cols], minlength=n)
    at_anchor = up[:, i_anchor]
    pre = np.where(at_anchor, day[i_anchor] - day[i_from], pre)
    return (
        np.asarray(pre + post, dtype=np.float64),
        np.asarray(up[:, last], dtype=bool),
    )


def response_peak_days(params: ModelParams) -> float:
    """Days from a session to the peak of the typical fast response ``ln(k_b/k_f)/(k_b-k_f)``."""
    kb, kf = params.k_build, params.k_fast
    return float(math.log(kb / kf) / (kb - kf))
