"""Outcome tracking and learning use-cases (SPEC capability 7) over the clinic records.

- :func:`patient_outcome`: her measurements -> the posterior of her random effect ``z`` -> her
  personalised forecast next to the population one, and her recall day from each.
- :func:`clinic_response_report`: across every patient with measurements, how the clinic's
  patients respond against the default calibration (posterior means of ``z`` against the
  N(0, 1) prior, and how often measurements fall in the predicted 80 % band).

The model side is :mod:`needleplan.forecasting.learning`; equations in ``docs/learning.md``.
"""

from __future__ import annotations

import math
from collections import Counter
from dataclasses import dataclass, field
from datetime import date
from typing import Any

import numpy as np

from needleplan.domain import Assessment
from needleplan.domain.protocol import Protocol
from needleplan.domain.records import (
    AppointmentKind,
    AppointmentStatus,
    Measurement,
    MeasurementScale,
    Patient,
)
from needleplan.exceptions import InputError, ModelRangeError, NotFoundError
from needleplan.forecasting.chain import MAX_YEARS, ForecastResult, forecast
from needleplan.forecasting.learning import (
    BAND,
    Observation,
    PersonalUpdate,
    observations_from,
    personal_forecast,
    response_check,
    update_forecast,
)
from needleplan.forecasting.params import DAYS_PER_YEAR, ModelParams, default_params
from needleplan.scheduling import ClinicConfig, MaintenanceDue, example_clinic
from needleplan.scheduling.recall import maintenance_due
from needleplan.services.calibration_state import DEFAULT_LABEL, calibration_in_force
from needleplan.services.clinic_threshold import clinic_params
from needleplan.services.patients import (
    TreatmentRecord,
    get_patient,
    list_patients,
    patient_file,
    treatment_records,
)
from needleplan.storage import Database

#: Page size when walking every patient of the clinic.
_PAGE = 1000


@dataclass(frozen=True)
class _History:
    """What the model needs from one patient file."""

    assessment: Assessment
    session_dates: list[date]
    performed: int
    measurements: list[Measurement]
    protocol: Protocol | None

    @property
    def first(self) -> date:
        return self.session_dates[0]

    @property
    def initial_count(self) -> int:
        """Sessions of her initial series: her course protocol's count (never guessed from the
        gaps); every session when she has no course protocol or fewer sessions than it."""
        n = len(self.session_dates)
        return n if self.protocol is None else min(self.protocol.initial_sessions, n)

    @property
    def session_days(self) -> list[float]:
        return [float((d - self.first).days) for d in self.session_dates]

    def observations(self) -> list[Observation]:
        return observations_from(self.measurements, self.first)


def _history(db: Database, patient_id: int) -> _History:
    return _history_of(TreatmentRecord.of(patient_file(db, patient_id)))


def _history_of(pf: TreatmentRecord) -> _History:
    patient_id = pf.patient_id
    if not pf.assessments:
        raise NotFoundError(f"patient {patient_id} has no assessment; record one first")
    performed = sorted({s.performed_at.date() for s in pf.sessions})
    last = performed[-1] if performed else None
    booked = sorted(
        {
            a.start.date()
            for a in pf.appointments
            if a.status is AppointmentStatus.BOOKED
            and a.kind in (AppointmentKind.TREATMENT, AppointmentKind.MAINTENANCE)
            and (last is None or a.start.date() > last)
        }
    )
    dates = performed + booked
    if not dates:
        raise NotFoundError(f"patient {patient_id} has no session performed or booked")
    first = dates[0]
    # The assessment nearest before her first session (else her first one): her age then.
    history = sorted(pf.assessments, key=lambda r: r.assessed_at)
    before = [r for r in history if r.assessed_at.date() <= first]
    record = before[-1] if before else history[0]
    courses = sorted(pf.courses, key=lambda c: c.created_at)
    return _History(
        assessment=record.assessment,
        session_dates=dates,
        performed=len(performed),
        measurements=list(pf.measurements),
        protocol=courses[-1].protocol if courses else None,
    )


def _years(history: _History) -> float:
    """Horizon covering her sessions and measurements and two more years, at least 10 [years]."""
    last = max(
        [history.session_days[-1]]
        + [float((m.measured_at.date() - history.first).days) for m in history.measurements]
    )
    return float(min(MAX_YEARS, max(10.0, math.ceil((last + 2 * DAYS_PER_YEAR) / DAYS_PER_YEAR))))


@dataclass(frozen=True)
class PatientOutcome:
    """Her measurements, what they say about her, and her updated forecast and recall day.

    Attributes
    ----------
    patient : Patient
    first_session : date
        Day 0 of the forecasts.
    session_dates : list of date
        Performed sessions, then booked future ones.
    performed_sessions : int
    measurements : list of Measurement
    update : PersonalUpdate
        Posterior of ``z``, the population forecast and her personal forecast.
    recall_population, recall_personal : MaintenanceDue or None
        When to recall her for maintenance from each forecast (None without a course protocol).
    calibration : str
        The calibration the forecasts used (``"default"`` or the clinic's adopted version).
    """

    patient: Patient
    first_session: date
    session_dates: list[date]
    performed_sessions: int
    measurements: list[Measurement]
    update: PersonalUpdate
    recall_population: MaintenanceDue | None
    recall_personal: MaintenanceDue | None
    calibration: str = DEFAULT_LABEL

    def to_json(self, *, curves: bool = False) -> dict[str, Any]:
        out = self.update.to_json(curves=curves)
        by_scale = Counter(m.scale.value for m in self.measurements)
        return {
            "patient": {"id": self.patient.id, "record": self.patient.mrn},
            "first_session": self.first_session.isoformat(),
            "session_dates": [d.isoformat() for d in self.session_dates],
            "performed_sessions": self.performed_sessions,
            "calibration": self.calibration,
            "measurements": dict(sorted(by_scale.items())),
            **out,
            "recall": {
                "population": None
                if self.recall_population is None
                else self.recall_population.to_json(),
                "personal": None
                if self.recall_personal is None
                else self.recall_personal.to_json(),
            },
        }


def patient_outcome(
    db: Database,
    patient_id: int,
    *,
    clinic: ClinicConfig | None = None,
    years: float | None = None,
    draws: int = 1000,
    seed: int = 0,
    params: ModelParams | None = None,
) -> PatientOutcome:
    """Her personalised forecast from her measurements, next to the population forecast.

    Parameters
    ----------
    db : Database
    patient_id : int
    clinic : ClinicConfig, optional
        Gives the recall threshold (default: the bundled example clinic); with a clinic, both
        forecasts count her months noticeable from it too
        (:func:`needleplan.services.clinic_threshold.clinic_params`).
    years : float, optional
        Forecast horizon from her first session [years] (default: at least 10, covering her
        sessions and measurements plus two years; at most 15).
    draws, seed : int
        Population draws and seed (the two forecasts share them).
    params : ModelParams, optional
        Model parameters (default: the clinic calibration in force, with its scale offsets;
        the shipped calibration until the clinic adopts its own).

    Raises
    ------
    NotFoundError
        for an unknown patient, or one without an assessment or any session.
    InputError, ModelRangeError
        when her record is outside what the model handles.
    """
    patient = get_patient(db, patient_id)
    hist = _history(db, patient_id)
    horizon = _years(hist) if years is None else years
    links = None
    label = "given parameters"
    if params is None:
        force = calibration_in_force(db)
        params, links, label = force.calibration.params, force.calibration.links(), force.label
    params = clinic_params(params, clinic)  # her months count from the clinic's threshold
    upd = update_forecast(
        hist.assessment,
        hist.session_days,
        hist.observations(),
        n_initial=hist.initial_count,
        years=horizon,
        draws=draws,
        seed=seed,
        params=params,
        links=links,
    )
    recall_pop = recall_own = None
    if hist.protocol is not None:
        cfg = example_clinic() if clinic is None else clinic

        def own(assessment: Assessment, days: list[float], **kw: Any) -> ForecastResult:
            post = upd.posterior if upd.effects is None else upd.effects  # both her effects
            return personal_forecast(assessment, days, post, params=params, **kw)

        def population(assessment: Assessment, days: list[float], **kw: Any) -> ForecastResult:
            return forecast(assessment, days, params=params, **kw)

        recall_pop = maintenance_due(
            hist.assessment,
            hist.session_dates,
            cfg,
            hist.protocol,
            forecaster=population,
            draws=draws,
            seed=seed,
        )
        recall_own = maintenance_due(
            hist.assessment,
            hist.session_dates,
            cfg,
            hist.protocol,
            forecaster=own,
            draws=draws,
            seed=seed,
        )
    return PatientOutcome(
        patient=patient,
        first_session=hist.first,
        session_dates=hist.session_dates,
        performed_sessions=hist.performed,
        measurements=hist.measurements,
        update=upd,
        recall_population=recall_pop,
        recall_personal=recall_own,
        calibration=label,
    )


# --------------------------------------------------------------------------- clinic report


@dataclass(frozen=True)
class PatientResponse:
    """One patient's row of the clinic report (no names: id and record number only)."""

    patient_id: int
    measurements: int
    follow_ups: int
    z_mean: float
    z_sd: float
    inside_band: float  # expected count of follow-ups inside the predicted 80 % band


@dataclass(frozen=True)
class ScaleCheck:
    """Predicted-band coverage of one scale's follow-up measurements."""

    scale: MeasurementScale
    follow_ups: int
    inside_share: float


@dataclass(frozen=True)
class ClinicResponseReport:
    """How the clinic's patients respond against the default calibration.

    Attributes
    ----------
    patients : list of PatientResponse
        Every patient whose measurements were used.
    skipped : dict
        Patients with measurements that could not be used, counted by reason.
    z_mean, z_sd : float
        Mean and standard deviation of the patients' posterior mean ``z`` [-].
    expected_sd : float
        Spread of posterior means a calibrated model gives these patients,
        ``sqrt(1 - mean posterior variance)`` [-] (law of total variance).
    shift_score : float
        ``z_mean / (expected_sd / sqrt(n))``: beyond about +-2 the clinic's patients respond
        better (positive) or worse than the calibration says [-].
    response_multiplier : float
        ``exp(omega_G z_mean)``: the clinic's typical session response against the default [-].
    band_share : float or None
        Share of follow-up measurements inside the predicted 80 % band (0.80 when calibrated).
    by_scale : list of ScaleCheck
    """

    patients: list[PatientResponse]
    skipped: dict[str, int]
    measurements: int
    z_mean: float
    z_sd: float
    expected_sd: float
    shift_score: float
    response_multiplier: float
    follow_ups: int
    band_share: float | None
    by_scale: list[ScaleCheck] = field(default_factory=list)

    @property
    def n(self) -> int:
        return len(self.patients)

    @property
    def verdict(self) -> str:
        if self.n == 0:
            return "no patient with usable measurements yet"
        if self.n < 10:
            return f"too few patients ({self.n}) to judge the calibration; keep measuring"
        if self.shift_score >= 2.0:
            return "the clinic's patients respond better than the default calibration"
        if self.shift_score <= -2.0:
            return "the clinic's patients respond worse than the default calibration"
        return "consistent with the default calibration"

    def to_json(self, *, patients: bool = True) -> dict[str, Any]:
        out: dict[str, Any] = {
            "patients_used": self.n,
            "patients_skipped": dict(sorted(self.skipped.items())),
            "measurements": self.measurements,
            "posterior_mean_z": {
                "mean": round(self.z_mean, 3),
                "sd": round(self.z_sd, 3),
                "expected_sd_if_calibrated": round(self.expected_sd, 3),
                "shift_score": round(self.shift_score, 2),
                "prior": {"mean": 0.0, "sd": 1.0},
            },
            "response_multiplier": round(self.response_multiplier, 3),
            "predicted_band": {
                "band": list(BAND),
                "follow_ups": self.follow_ups,
                "inside_share": None if self.band_share is None else round(self.band_share, 3),
                "expected_share": round(BAND[1] - BAND[0], 2),
                "by_scale": [
                    {
                        "scale": c.scale.value,
                        "follow_ups": c.follow_ups,
                        "inside_share": round(c.inside_share, 3),
                    }
                    for c in self.by_scale
                ],
            },
            "verdict": self.verdict,
        }
        if patients:
            out["patients"] = [
                {
                    "patient_id": r.patient_id,
                    "measurements": r.measurements,
                    "follow_ups": r.follow_ups,
                    "z_mean": round(r.z_mean, 3),
                    "z_sd": round(r.z_sd, 3),
                }
                for r in self.patients
            ]
        return out


def _skip_reason(exc: Exception) -> str:
    if isinstance(exc, NotFoundError):
        text = str(exc)
        return "no assessment" if "assessment" in text else "no session"
    if isinstance(exc, ModelRangeError):
        return "outside the model's validated range"
    return "invalid record for the model"


def clinic_response_report(
    db: Database, *, params: ModelParams | None = None
) -> ClinicResponseReport:
    """Across every patient with measurements: her posterior ``z`` against the N(0, 1) prior.

    Parameters
    ----------
    db : Database
    params : ModelParams, optional
        The calibration under test (default: the shipped one).

    Returns
    -------
    ClinicResponseReport

    Notes
    -----
    A patient counts when she has an assessment, at least one session (performed or booked) and
    at least one measurement. Under a correct calibration her posterior mean of ``z`` has mean 0
    and variance ``1 - E[Var(z | y)]``, so the report compares the clinic's mean with its
    standard error and the spread with that expectation, and checks how often the follow-up
    measurements fell in the band the calibration predicted before seeing her response
    (:func:`needleplan.forecasting.learning.band_shares`).
    """
    p = default_params() if params is None else params
    rows: list[PatientResponse] = []
    skipped: Counter[str] = Counter()
    total_meas = 0
    variances: list[float] = []
    scale_n: Counter[MeasurementScale] = Counter()
    scale_in: dict[MeasurementScale, float] = {}
    with db.transaction() as uow:
        measured = uow.measurements.patient_ids()
    offset = 0
    while measured:
        page = list_patients(db, limit=_PAGE, offset=offset)
        # Only the measured patients' records are read (most patients have no measurement
        # yet), a page at a time (services.patients.treatment_records).
        for pf in treatment_records(db, (p.id for p in page if p.id in measured)):
            if not pf.measurements:
                continue
            try:
                hist = _history_of(pf)
                obs = hist.observations()
                post, shares = response_check(hist.assessment, hist.session_days, obs, params=p)
            except (NotFoundError, InputError, ModelRangeError) as exc:
                skipped[_skip_reason(exc)] += 1
                continue
            for o, share in shares:
                scale_n[o.scale] += 1
                scale_in[o.scale] = scale_in.get(o.scale, 0.0) + share
            total_meas += len(obs)
            variances.append(post.sd**2)
            rows.append(
                PatientResponse(
                    patient_id=pf.patient_id,
                    measurements=len(obs),
                    follow_ups=len(shares),
                    z_mean=post.mean,
                    z_sd=post.sd,
                    inside_band=sum(s for _, s in shares),
                )
            )
        if len(page) < _PAGE:
            break
        offset += _PAGE
    means = np.array([r.z_mean for r in rows])
    n = means.size
    z_mean = float(means.mean()) if n else 0.0
    z_sd = float(means.std(ddof=1)) if n > 1 else 0.0
    expected_sd = math.sqrt(max(0.0, 1.0 - float(np.mean(variances)))) if n else 0.0
    se = expected_sd / math.sqrt(n) if n else 0.0
    follow = sum(scale_n.values())
    return ClinicResponseReport(
        patients=rows,
        skipped=dict(skipped),
        measurements=total_meas,
        z_mean=z_mean,
        z_sd=z_sd,
        expected_sd=expected_sd,
        shift_score=z_mean / se if se > 0 else 0.0,
        response_multiplier=math.exp(p.omega_response * z_mean),
        follow_ups=follow,
        band_share=sum(scale_in.values()) / follow if follow else None,
        by_scale=[
            ScaleCheck(scale, scale_n[scale], scale_in[scale] / scale_n[scale])
            for scale in MeasurementScale
            if scale_n[scale]
        ],
    )


__all__ = [
    "ClinicResponseReport",
    "PatientOutcome",
    "PatientResponse",
    "ScaleCheck",
    "clinic_response_report",
    "patient_outcome",
]
