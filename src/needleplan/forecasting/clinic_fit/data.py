"""A clinic's outcome data as the clinic fit sees it, the data-sufficiency rule, simulation.

A patient contributes her assessment, her session days and her measurements
(:class:`~needleplan.forecasting.learning.Observation`, dated from her first session). Which
measurements the fit reads:

- on or before her first session (``day <= 0``): pre-treatment values (``I = 0``), which pin
  down her own baseline on an absolute scale;
- after it, a **follow-up** only when at least :data:`SWELLING_DAYS` days after the session
  before it: the first days after a needling session show swelling, not lasting change. A
  measurement on a session's day is read as taken before that session's needling.

**Enough data** (the rule the product states): at least :data:`MIN_PATIENTS` patients with at
least :data:`MIN_FOLLOW_UPS` follow-ups each, of whom at least :data:`MIN_LATE_PATIENTS` have a
follow-up :data:`LATE_DAYS` days or more after the session before it (the fade is learnt from
those). A scale's offset is estimated only when :data:`MIN_SCALE_PATIENTS` patients have it
measured; otherwise it stays at the default.
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray

from needleplan.domain import Assessment, parse_assessment
from needleplan.domain.records import MeasurementScale
from needleplan.exceptions import InputError
from needleplan.forecasting.chain import curve_inputs
from needleplan.forecasting.clinic_fit.calibration import ClinicCalibration, default_calibration
from needleplan.forecasting.learning import Observation
from needleplan.forecasting.models import improvement, persistence_from
from needleplan.forecasting.observation import baseline_prior, simulate

#: Days after a session during which a measurement is swelling, not a follow-up [days].
SWELLING_DAYS = 14.0
#: A follow-up this long after the session before it informs the fade [days].
LATE_DAYS = 180.0
MIN_PATIENTS = 30
MIN_FOLLOW_UPS = 3
MIN_LATE_PATIENTS = 10
MIN_SCALE_PATIENTS = 10
#: The rule in one sentence (shown by the CLI and the web page).
RULE = (
    f"at least {MIN_PATIENTS} patients with {MIN_FOLLOW_UPS} or more follow-up measurements "
    f"each (taken {SWELLING_DAYS:g}+ days after a session), {MIN_LATE_PATIENTS} of them with "
    f"a follow-up {LATE_DAYS:g}+ days after a session"
)


@dataclass(frozen=True)
class ClinicPatient:
    """One patient's data for the clinic fit.

    Attributes
    ----------
    assessment : Assessment
    session_days : tuple of float
        Her sessions [days from the first], first 0, ascending.
    observations : tuple of Observation
        Her measurements, dated in days from her first session.
    """

    assessment: Assessment
    session_days: tuple[float, ...]
    observations: tuple[Observation, ...]

    def since_session(self, day: float) -> float:
        """Days since the latest session before ``day`` (``nan`` on or before the first).

        A measurement on a session's day counts as taken before that session's needling (as
        at a visit; the model's improvement on a session day does not include that session).
        """
        before = [s for s in self.session_days if s < day]
        return day - before[-1] if before and day > 0 else math.nan

    def used(self) -> list[Observation]:
        """The measurements the fit reads: pre-treatment ones and follow-ups (see module)."""
        return [o for o in self.observations if o.day <= 0 or self.is_follow_up(o)]

    def is_follow_up(self, obs: Observation) -> bool:
        return obs.day > 0 and self.since_session(obs.day) >= SWELLING_DAYS

    def follow_ups(self) -> list[Observation]:
        return [o for o in self.observations if self.is_follow_up(o)]


def check_patient(patient: ClinicPatient, index: int) -> None:
    """InputError naming the patient when her sessions are not usable."""
    s = patient.session_days
    if not s or s[0] != 0.0:
        raise InputError.one(f"patients[{index}].session_days", list(s), "must start at day 0")
    if any(b <= a for a, b in itertools.pairwise(s)):
        raise InputError.one(f"patients[{index}].session_days", list(s), "must be ascending")
    for j, o in enumerate(patient.observations):
        try:
            MeasurementScale(o.scale).check(float(o.value))
        except ValueError as exc:
            raise InputError.one(
                f"patients[{index}].observations[{j}].value", o.value, str(exc)
            ) from None
        if not math.isfinite(o.day):
            raise InputError.one(
                f"patients[{index}].observations[{j}].day", o.day, "must be a finite number"
            )


@dataclass(frozen=True)
class Sufficiency:
    """Whether a clinic has enough data for its own calibration, and how much more it needs."""

    patients: int
    patients_with_follow_ups: int
    late_patients: int
    follow_ups: int
    patients_by_scale: dict[MeasurementScale, int]

    @property
    def more_patients(self) -> int:
        """Patients with enough follow-ups still missing."""
        return max(0, MIN_PATIENTS - self.patients_with_follow_ups)

    @property
    def more_late(self) -> int:
        """Patients with a late follow-up still missing."""
        return max(0, MIN_LATE_PATIENTS - self.late_patients)

    @property
    def enough(self) -> bool:
        return self.more_patients == 0 and self.more_late == 0

    @property
    def scales_fitted(self) -> tuple[MeasurementScale, ...]:
        """Scales with enough patients to estimate their offset."""
        return tuple(s for s, n in self.patients_by_scale.items() if n >= MIN_SCALE_PATIENTS)

    def message(self) -> str:
        """One paragraph for the admin: what there is and, if short, what is missing."""
        have = (
            f"{self.patients_with_follow_ups} patients with {MIN_FOLLOW_UPS}+ follow-ups, "
            f"{self.late_patients} with a follow-up {LATE_DAYS:g}+ days after a session"
        )
        if self.enough:
            return f"Enough data for a clinic calibration ({have})."
        needs = []
        if self.more_patients:
            needs.append(f"{self.more_patients} more patients with {MIN_FOLLOW_UPS}+ follow-ups")
        if self.more_late:
            needs.append(
                f"{self.more_late} more patients with a follow-up {LATE_DAYS:g}+ days "
                "after a session"
            )
        return (
            f"Not enough data yet ({have}); the clinic stays on the default calibration. "
            f"It needs {' and '.join(needs)} (rule: {RULE})."
        )

    def to_json(self) -> dict[str, object]:
        return {
            "enough": self.enough,
            "patients": self.patients,
            "patients_with_follow_ups": self.patients_with_follow_ups,
            "late_patients": self.late_patients,
            "follow_ups": self.follow_ups,
            "more_patients": self.more_patients,
            "more_late_patients": self.more_late,
            "patients_by_scale": {s.value: n for s, n in self.patients_by_scale.items()},
            "rule": RULE,
            "message": self.message(),
        }


def sufficiency(patients: Sequence[ClinicPatient]) -> Sufficiency:
    """Count what the rule counts (see the module docstring)."""
    with_follow = late = follow = 0
    by_scale: dict[MeasurementScale, int] = {}
    for p in patients:
        ups = p.follow_ups()
        follow += len(ups)
        if len(ups) >= MIN_FOLLOW_UPS:
            with_follow += 1
        if any(p.since_session(o.day) >= LATE_DAYS for o in ups):
            late += 1
        for scale in {MeasurementScale(o.scale) for o in ups}:
            by_scale[scale] = by_scale.get(scale, 0) + 1
    ordered = {s: by_scale[s] for s in MeasurementScale if s in by_scale}
    return Sufficiency(len(patients), with_follow, late, follow, ordered)


# --------------------------------------------------------------------------- simulation

#: Follow-up days after the last session of a simulated patient's series [days].
SIMULATED_FOLLOW_UPS = (30.0, 90.0, 180.0, 365.0, 540.0)
#: Ages [years] and session spacings [days] of simulated patients (a clinic's usual cases).
SIMULATED_AGES = (45, 50, 55, 60)
SIMULATED_GAPS = (28.0, 35.0, 42.0)


def simulate_clinic(
    n_patients: int,
    rng: np.random.Generator,
    *,
    calibration: ClinicCalibration | None = None,
    scales: Sequence[MeasurementScale] = (
        MeasurementScale.GAIS,
        MeasurementScale.SATISFACTION,
        MeasurementScale.LAXITY_GRADE,
    ),
) -> list[ClinicPatient]:
    """A clinic's data drawn from known population parameters through the observation model.

    Patients are 45, 50, 55 or 60 years old, moderate or advanced laxity, 3-5 sessions 28, 35
    or 42 days apart;
    absolute scales are measured once the day before the first session; follow-ups at 30, 90,
    180, 365 and 540 days after the last session, each kept with probability 0.8.

    Parameters
    ----------
    n_patients : int
    rng : numpy.random.Generator
        Source of every random draw.
    calibration : ClinicCalibration, optional
        The truth (default: the shipped calibration).
    scales : sequence of MeasurementScale
        What the clinic measures.
    """
    cal = default_calibration() if calibration is None else calibration
    params, links = cal.params, cal.links()
    out: list[ClinicPatient] = []
    for _ in range(n_patients):
        assessment = parse_assessment(
            {
                "age": int(rng.choice(SIMULATED_AGES)),
                "severity": "moderate" if rng.random() < 0.7 else "advanced",
                "areas": ["full_face"],
            }
        )
        n_s = int(rng.integers(3, 6))
        gap = float(rng.choice(SIMULATED_GAPS))
        sessions = gap * np.arange(n_s, dtype=np.float64)
        keep = rng.random(len(SIMULATED_FOLLOW_UPS)) < 0.8
        days: NDArray[np.float64] = sessions[-1] + np.asarray(SIMULATED_FOLLOW_UPS)[keep]
        u_r = rng.standard_normal(1)
        u_p = persistence_from(u_r, rng.standard_normal(1), params)
        imp = improvement(days, curve_inputs(assessment, sessions, u_r, params, u_p))[0]
        obs: list[Observation] = []
        for scale in scales:
            link = links[scale]
            b0, tau = baseline_prior(link, assessment)
            b = b0 + tau * float(rng.standard_normal())
            if not link.relative:
                pre = simulate(link, np.zeros(1), b, rng)
                obs.append(Observation(scale, float(pre[0]), -1.0))
            values = simulate(link, imp, b, rng)
            obs += [
                Observation(scale, float(v), float(t)) for v, t in zip(values, days, strict=True)
            ]
        out.append(ClinicPatient(assessment, tuple(float(s) for s in sessions), tuple(obs)))
    return out


__all__ = [
    "LATE_DAYS",
    "MIN_FOLLOW_UPS",
    "MIN_LATE_PATIENTS",
    "MIN_PATIENTS",
    "MIN_SCALE_PATIENTS",
    "RULE",
    "SWELLING_DAYS",
    "ClinicPatient",
    "Sufficiency",
    "check_patient",
    "simulate_clinic",
    "sufficiency",
]
