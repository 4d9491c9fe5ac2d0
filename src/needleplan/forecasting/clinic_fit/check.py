"""Visual predictive check: the clinic's measurements against what a calibration predicts.

For every follow-up the clinic recorded, the calibration simulates ``replicates`` new values at
the same patient, day and scale (new random effects, baselines and noise, through the
observation model). Per scale and per bin of *days since the session before the measurement*,
the check gives the observed 10th, 50th and 90th percentiles next to the simulated ones (the
predicted 80 % band and median), and the share of measurements inside the predicted band of
their bin. A calibrated model keeps the observed percentiles inside or near the predicted band;
a systematic gap shows where it is wrong. :mod:`needleplan.reports.calibration_chart` draws it.
"""

from __future__ import annotations

import itertools
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
from numpy.typing import NDArray

from needleplan.domain.records import MeasurementScale
from needleplan.forecasting.chain import curve_inputs
from needleplan.forecasting.clinic_fit.calibration import ClinicCalibration, default_calibration
from needleplan.forecasting.clinic_fit.data import ClinicPatient
from needleplan.forecasting.models import improvement, persistence_from
from needleplan.forecasting.observation import baseline_prior, simulate

#: Bin edges of days since the session before a measurement [days].
BIN_EDGES = (14.0, 45.0, 90.0, 180.0, 365.0, 730.0, float("inf"))
_Q = (10.0, 50.0, 90.0)


@dataclass(frozen=True)
class ScaleCheck:
    """The check of one scale.

    Attributes
    ----------
    scale : MeasurementScale
    days, values : ndarray
        Every follow-up: days since the session before it [days] and the recorded value.
    bins : list of (lo, hi)
        Bin edges [days] of the rows below (bins with at least one measurement).
    observed, predicted : ndarray, shape (B, 3)
        10th, 50th, 90th percentiles per bin: of the measurements, and of the simulated ones.
    inside : float
        Share of measurements inside the predicted 10-90 % band of their bin [-].
    """

    scale: MeasurementScale
    days: NDArray[np.float64]
    values: NDArray[np.float64]
    bins: list[tuple[float, float]]
    observed: NDArray[np.float64]
    predicted: NDArray[np.float64]
    inside: float

    def to_json(self) -> dict[str, Any]:
        return {
            "scale": self.scale.value,
            "measurements": int(self.values.size),
            "inside_predicted_band": round(self.inside, 3),
            "bins": [
                {
                    "days": [lo, None if hi == float("inf") else hi],
                    "observed": [round(float(v), 3) for v in obs],
                    "predicted": [round(float(v), 3) for v in pred],
                }
                for (lo, hi), obs, pred in zip(
                    self.bins, self.observed, self.predicted, strict=True
                )
            ],
        }


def predictive_check(
    patients: Sequence[ClinicPatient],
    calibration: ClinicCalibration | None = None,
    *,
    replicates: int = 200,
    seed: int = 0,
) -> list[ScaleCheck]:
    """The visual predictive check of ``calibration`` (default: the shipped one) on the data.

    Parameters
    ----------
    patients : sequence of ClinicPatient
    calibration : ClinicCalibration, optional
    replicates : int
        Simulated values per measurement.
    seed : int
        Seed of the ``numpy.random.Generator`` (reproducible).

    Returns
    -------
    list of ScaleCheck
        One per scale with follow-ups, in the scales' order.
    """
    cal = default_calibration() if calibration is None else calibration
    params, links = cal.params, cal.links()
    rng = np.random.default_rng(seed)
    since: dict[MeasurementScale, list[float]] = {}
    seen: dict[MeasurementScale, list[float]] = {}
    sims: dict[MeasurementScale, list[NDArray[np.float64]]] = {}
    for p in patients:
        ups = p.follow_ups()
        if not ups:
            continue
        days = np.array([o.day for o in ups], dtype=np.float64)
        u_r = rng.standard_normal(replicates)
        u_p = persistence_from(u_r, rng.standard_normal(replicates), params)
        sessions = np.asarray(p.session_days, dtype=np.float64)
        imp = improvement(days, curve_inputs(p.assessment, sessions, u_r, params, u_p))  # (R, F)
        baselines: dict[tuple[MeasurementScale, str], NDArray[np.float64]] = {}
        for j, o in enumerate(ups):
            scale = MeasurementScale(o.scale)
            link = links[scale]
            b0, tau = baseline_prior(link, p.assessment)
            key = (scale, o.group)
            if key not in baselines:
                baselines[key] = b0 + tau * rng.standard_normal(replicates)
            since.setdefault(scale, []).append(p.since_session(o.day))
            seen.setdefault(scale, []).append(float(o.value))
            sims.setdefault(scale, []).append(simulate(link, imp[:, j], baselines[key], rng))
    out: list[ScaleCheck] = []
    for scale in MeasurementScale:
        if scale not in since:
            continue
        x = np.array(since[scale])
        y = np.array(seen[scale])
        sim = np.vstack(sims[scale])  # (M, R)
        bins: list[tuple[float, float]] = []
        observed: list[NDArray[np.float64]] = []
        predicted: list[NDArray[np.float64]] = []
        inside = 0.0
        for lo, hi in itertools.pairwise(BIN_EDGES):
            sel = (x >= lo) & (x < hi)
            if not np.any(sel):
                continue
            pred = np.percentile(sim[sel], _Q)
            bins.append((lo, hi))
            observed.append(np.percentile(y[sel], _Q))
            predicted.append(pred)
            inside += float(np.sum((y[sel] >= pred[0]) & (y[sel] <= pred[2])))
        out.append(
            ScaleCheck(
                scale=scale,
                days=x,
                values=y,
                bins=bins,
                observed=np.array(observed),
                predicted=np.array(predicted),
                inside=inside / y.size,
            )
        )
    return out


__all__ = ["BIN_EDGES", "ScaleCheck", "predictive_check"]
