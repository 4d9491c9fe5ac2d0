"""Trial measurements as calibration data: each tied to the model through an observation link.

``trials.toml`` (next to this module) lists the measurements of published microneedling trials
the calibration uses, each with the link that reaches the model: a clinic scale of the
observation model (:data:`needleplan.forecasting.observation.DEFAULT_LINKS`; the mean change of
the grade is the link's slope times the typical trial patient's improvement on that day), or
``shape`` (a device measure without a link: only the ratio of two of its measurements, i.e. the
time course, is used). :func:`trial_predictions` gives the model's value of each and
:func:`trial_residuals` the standardised misfits the fit adds to the seed-claim terms.
"""

from __future__ import annotations

import tomllib
from dataclasses import dataclass
from functools import cache
from pathlib import Path

import numpy as np
from numpy.typing import NDArray

from needleplan.domain import parse_assessment, reference_assessment
from needleplan.domain.records import MeasurementScale
from needleplan.exceptions import ConfigError
from needleplan.forecasting.chain import simulate
from needleplan.forecasting.observation import DEFAULT_LINKS
from needleplan.forecasting.params import ModelParams

TRIALS_PATH = Path(__file__).with_name("trials.toml")


@dataclass(frozen=True)
class Trial:
    """A trial's schedule and the patient it is read as (the reference patient at its age)."""

    id: str
    source: str
    session_days: tuple[float, ...]
    age: int


@dataclass(frozen=True)
class TrialMeasurement:
    """One measured mean and how it reaches the model.

    Attributes
    ----------
    link : str
        A :class:`~needleplan.domain.records.MeasurementScale` value, or ``"shape"``.
    day, reference_day : float
        Days from the first session; ``reference_day`` only for ``shape`` (the ratio's
        denominator) [days].
    value : float
        Mean change [scale units], or the ratio of two relative changes for ``shape`` [-].
    sd, discrepancy : float
        Standard error of the mean and the link's model discrepancy [same units]; the fit uses
        ``sqrt(sd^2 + discrepancy^2)``.
    """

    id: str
    trial: str
    measure: str
    link: str
    day: float
    value: float
    sd: float
    discrepancy: float
    reference_day: float | None = None
    sd_of_change: float | None = None
    improved_share: float | None = None

    @property
    def total_sd(self) -> float:
        return float(np.hypot(self.sd, self.discrepancy))


@dataclass(frozen=True)
class TrialData:
    trials: dict[str, Trial]
    measurements: list[TrialMeasurement]


@cache
def load_trials(path: str | None = None) -> TrialData:
    """Read and check ``trials.toml`` (``None``: the shipped file)."""
    p = TRIALS_PATH if path is None else Path(path)
    try:
        raw = tomllib.loads(p.read_text(encoding="utf-8"))
        trials = {
            t["id"]: Trial(
                t["id"], t["source"], tuple(float(d) for d in t["session_days"]), t["age"]
            )
            for t in raw["trial"]
        }
        ms = [
            TrialMeasurement(
                id=m["id"],
                trial=m["trial"],
                measure=m["measure"],
                link=m["link"],
                day=float(m["day"]),
                value=float(m["value"]),
                sd=float(m["sd"]),
                discrepancy=float(m["discrepancy"]),
                reference_day=None if "reference_day" not in m else float(m["reference_day"]),
                sd_of_change=m.get("sd_of_change"),
                improved_share=m.get("improved_share"),
            )
            for m in raw["measurement"]
        ]
    except (OSError, tomllib.TOMLDecodeError, KeyError, TypeError, ValueError) as exc:
        raise ConfigError.one("trials", str(p), f"cannot read trials ({exc})") from None
    scales = {s.value for s in MeasurementScale}
    for m in ms:
        if m.trial not in trials:
            raise ConfigError.one(f"measurement.{m.id}.trial", m.trial, "unknown trial")
        if m.link != "shape" and m.link not in scales:
            raise ConfigError.one(
                f"measurement.{m.id}.link", m.link, "must be a measurement scale or shape"
            )
        if m.link == "shape" and m.reference_day is None:
            raise ConfigError.one(
                f"measurement.{m.id}.reference_day", None, "a shape measurement needs one"
            )
        if not m.total_sd > 0:
            raise ConfigError.one(f"measurement.{m.id}.sd", m.sd, "sd + discrepancy must be > 0")
    return TrialData(trials, ms)


def trial_curve(
    trial: Trial, params: ModelParams
) -> tuple[NDArray[np.float64], NDArray[np.float64]]:
    """The typical trial patient's improvement over the trial's first year ``(day, I)``."""
    a = parse_assessment({**reference_assessment().to_json_dict(), "age": trial.age})
    day, curves = simulate(a, trial.session_days, [0.0], years=1.0, params=params)
    return day, curves[0]


def trial_predictions(params: ModelParams, data: TrialData | None = None) -> dict[str, float]:
    """The model's value of every measurement (same units as its ``value``)."""
    d = load_trials() if data is None else data
    curves = {t.id: trial_curve(t, params) for t in d.trials.values()}
    out: dict[str, float] = {}
    for m in d.measurements:
        day, imp = curves[m.trial]
        at = float(np.interp(m.day, day, imp))
        if m.link == "shape" and m.reference_day is not None:
            ref = float(np.interp(m.reference_day, day, imp))
            out[m.id] = at / ref if ref > 0 else float("inf")
        else:
            out[m.id] = DEFAULT_LINKS[MeasurementScale(m.link)].slope * at
    return out


def trial_residuals(params: ModelParams, data: TrialData | None = None) -> NDArray[np.float64]:
    """``(model - measured) / total_sd`` for every measurement."""
    d = load_trials() if data is None else data
    pred = trial_predictions(params, d)
    res = [(pred[m.id] - m.value) / m.total_sd for m in d.measurements]
    return np.nan_to_num(np.asarray(res, dtype=np.float64), posinf=1e3, neginf=-1e3)
