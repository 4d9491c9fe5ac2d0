"""The clinic's own calibration: fit from its records, review, adopt (versioned), revert.

- :func:`clinic_data`: every patient with an assessment, a session and a measurement, as the
  clinic fit reads them (:class:`~needleplan.forecasting.clinic_fit.ClinicPatient`);
- :func:`fit_calibration`: the data-sufficiency rule, then the marginal-likelihood fit, stored
  as a **proposal** for review (nothing changes in force);
- :func:`adopt_calibration`: puts a proposal in force as the next **version**;
- :func:`revert_calibration`: puts an older version, or the default, back in force (a new
  version again; the history stays);
- :func:`calibration_in_force`: what every forecast uses and the label it names
  (``"default"`` or ``"clinic calibration v3, adopted 2026-12-03"``);
- :func:`predictive_check_of`: the visual predictive check of a proposal or of what is in
  force, on the clinic's data.

Fitting reads every patient's measurements, and adopting changes every forecast: each is an
admin action (the config permission), audited in the same transaction as what it stores.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from needleplan.domain.accounts import User, require_action
from needleplan.exceptions import InputError, ModelRangeError, NotFoundError
from needleplan.forecasting.chain import MAX_YEARS, horizon_days
from needleplan.forecasting.clinic_fit import (
    ClinicCalibration,
    ClinicFit,
    ClinicPatient,
    ScaleCheck,
    Sufficiency,
    fit_clinic,
    predictive_check,
    sufficiency,
)
from needleplan.forecasting.clinic_fit.data import check_patient
from needleplan.services._clock import utc_now
from needleplan.services.audit import audited, recorded_as
from needleplan.services.calibration_state import (
    DEFAULT_LABEL,
    CalibrationInForce,
    calibration_in_force,
    in_force_of,
)
from needleplan.services.learning import _history_of
from needleplan.services.patients import list_patients, treatment_records
from needleplan.storage import Database, UnitOfWork
from needleplan.storage.repositories.calibrations import CalibrationRecord

MAX_NOTE_CHARS = 200
_PAGE = 1000
_END = horizon_days(MAX_YEARS)


# --------------------------------------------------------------------------- the data


@dataclass(frozen=True)
class ClinicData:
    """The patients the fit reads and why the others were left out (counts only)."""

    patients: list[ClinicPatient]
    skipped: dict[str, int]

    @property
    def sufficiency(self) -> Sufficiency:
        return sufficiency(self.patients)


def clinic_data(db: Database) -> ClinicData:
    """Every patient with an assessment, a session and a measurement, dated from her first
    session (no names). Reads patient records: call it inside an audited use-case."""
    out: list[ClinicPatient] = []
    skipped: Counter[str] = Counter()
    offset = 0
    with db.transaction() as uow:
        measured = uow.measurements.patient_ids()
    while measured:
        page = list_patients(db, limit=_PAGE, offset=offset)
        # A patient without a measurement adds nothing: only the others' records are read, a
        # page at a time (services.patients.treatment_records).
        for pf in treatment_records(db, (p.id for p in page if p.id in measured)):
            if not pf.measurements:
                continue
            try:
                hist = _history_of(pf)
            except NotFoundError:
                skipped["no assessment or session"] += 1
                continue
            candidate = ClinicPatient(
                hist.assessment, tuple(hist.session_days), tuple(hist.observations())
            )
            try:
                check_patient(candidate, len(out))
            except InputError:
                skipped["invalid record for the model"] += 1
                continue
            if max([*candidate.session_days, *(o.day for o in candidate.observations)]) > _END:
                skipped["beyond the model's horizon"] += 1
                continue
            out.append(candidate)
        if len(page) < _PAGE:
            break
        offset += _PAGE
    return ClinicData(out, dict(skipped))


# --------------------------------------------------------------------------- proposals


@dataclass(frozen=True)
class Proposal:
    """A stored fit awaiting review (or already adopted)."""

    id: int
    fit: dict[str, Any]
    note: str
    created_at: datetime
    username: str

    @property
    def calibration(self) -> ClinicCalibration:
        return ClinicCalibration.from_json(self.fit.get("calibration"))

    def to_json(self) -> dict[str, Any]:
        return {
            "proposal": self.id,
            "created_at": self.created_at.isoformat(),
            "by": self.username,
            "note": self.note,
            "fit": self.fit,
        }


def _proposal(record: CalibrationRecord) -> Proposal:
    if record.kind != "proposal" or record.body is None:
        raise NotFoundError(f"clinic calibration proposal {record.id} does not exist")
    return Proposal(record.id, record.body, record.note, record.created_at, record.username)


@dataclass(frozen=True)
class FitOutcome:
    """What :func:`fit_calibration` did: the sufficiency check, and the proposal if it fitted."""

    sufficiency: Sufficiency
    proposal: Proposal | None
    skipped: dict[str, int]

    def to_json(self) -> dict[str, Any]:
        return {
            "sufficiency": self.sufficiency.to_json(),
            "skipped": self.skipped,
            "proposal": self.proposal.to_json() if self.proposal else None,
        }


def _note(note: str) -> str:
    clean = note.strip()
    if len(clean) > MAX_NOTE_CHARS:
        raise InputError.one(
            "note", clean[:40] + "…", f"must be at most {MAX_NOTE_CHARS} characters"
        )
    if clean and not clean.isprintable():
        raise InputError.one("note", clean, "must be one line of printable text")
    return clean


def fit_calibration(
    db: Database, user: User | None, *, note: str = "", username: str | None = None
) -> FitOutcome:
    """Fit the clinic's calibration from its records and store it as a proposal.

    With too little data nothing is fitted or stored, and the outcome's sufficiency says how
    much more the clinic needs (it stays on what is in force). The read of the records and the
    stored proposal are audited (``calibration.fit``) in one transaction.

    Raises
    ------
    PermissionDeniedError
        when ``user`` may not change the clinic's configuration (admins only).
    InputError
        for a note that breaks its rule, or records the model cannot read.
    """
    clean = _note(note)
    if user is not None:
        require_action(user, "calibration.fit")
    data = clinic_data(db)
    enough = data.sufficiency
    fit: ClinicFit | None = None
    if enough.enough:  # the fit runs outside any transaction (it takes a while)
        try:
            fit = fit_clinic(data.patients)
        except ModelRangeError as exc:
            raise InputError.one("records", None, str(exc)) from None
    detail = f"patients={len(data.patients)} enough={'yes' if enough.enough else 'no'}"
    record: CalibrationRecord | None = None
    with audited(db, user, "calibration.fit", detail=detail, username=username) as event:
        if fit is not None:
            with db.transaction() as uow:
                record = uow.calibrations.add_proposal(
                    fit.to_json(), clean, _now(), *_who(uow, user, username)
                )
            event.detail += f" proposal={record.id}"
    return FitOutcome(enough, _proposal(record) if record else None, data.skipped)


def _who(uow: UnitOfWork, user: User | None, username: str | None) -> tuple[int | None, str]:
    user_id, stored = recorded_as(uow, user)
    name = user.username if user is not None else (username or "system")
    return user_id, (stored or name)[:40]


def _now() -> datetime:
    return utc_now()


def get_proposal(db: Database, proposal_id: int) -> Proposal:
    """A stored fit (NotFoundError when there is none with that number)."""
    _check_number("proposal", proposal_id)
    with db.transaction() as uow:
        return _proposal(uow.calibrations.get(proposal_id))


def newest_proposal(db: Database) -> Proposal | None:
    with db.transaction() as uow:
        record = uow.calibrations.newest_proposal()
    return _proposal(record) if record is not None else None


def calibration_history(db: Database, limit: int = 50) -> list[CalibrationRecord]:
    """Proposals and adoptions, newest first."""
    if not 1 <= limit <= 1000:
        raise InputError.one("limit", limit, "must be between 1 and 1000")
    with db.transaction() as uow:
        return uow.calibrations.history(limit)


def _check_number(field: str, value: object) -> None:
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise InputError.one(field, value, "must be a whole number, 1 or more")


def adopt_calibration(
    db: Database,
    proposal_id: int,
    user: User | None,
    *,
    note: str = "",
    username: str | None = None,
) -> CalibrationInForce:
    """Put a proposal in force as the next version (audited ``calibration.adopt``).

    Raises
    ------
    NotFoundError
        when there is no proposal ``proposal_id``.
    PermissionDeniedError
        when ``user`` may not change the clinic's configuration (admins only).
    """
    _check_number("proposal", proposal_id)
    clean = _note(note)
    with audited(db, user, "calibration.adopt", username=username) as event:
        with db.transaction() as uow:
            proposal = _proposal(uow.calibrations.get(proposal_id))
            ClinicCalibration.from_json(proposal.fit.get("calibration"))  # still valid
            record = uow.calibrations.add_adoption(
                {"calibration": proposal.fit["calibration"]},
                proposal.id,
                clean or f"adopt proposal {proposal.id}",
                _now(),
                *_who(uow, user, username),
            )
        event.detail = f"version {record.version} from proposal {proposal.id}"
    return in_force_of(record)


def revert_calibration(
    db: Database,
    user: User | None,
    *,
    to_version: int | None = None,
    note: str = "",
    username: str | None = None,
) -> CalibrationInForce:
    """Put an older version (``to_version``), or the default (``to_version=0``), back in force.

    Without ``to_version`` it goes back to what was in force before the current version.
    Appends a new version (a copy), so the history stays; audited ``calibration.revert``.

    Raises
    ------
    InputError
        when nothing was adopted yet (the default is in force) or the version is not a number.
    NotFoundError
        when there is no version ``to_version``.
    """
    if to_version is not None and (
        isinstance(to_version, bool) or not isinstance(to_version, int) or to_version < 0
    ):
        raise InputError.one(
            "to_version", to_version, "must be a version number, or 0 for the default"
        )
    clean = _note(note)
    with audited(db, user, "calibration.revert", username=username) as event:
        with db.transaction() as uow:
            current = uow.calibrations.in_force()
            if current is None:
                raise InputError.one(
                    "version", None, "nothing to revert: the default calibration is in force"
                )
            assert current.version is not None
            target_version = current.version - 1 if to_version is None else to_version
            if target_version >= current.version:
                raise InputError.one(
                    "to_version",
                    to_version,
                    f"must be older than the version in force (v{current.version})",
                )
            if target_version == 0:
                body, proposal_id, what = None, None, "the default"
            else:
                target = uow.calibrations.version(target_version)
                body, proposal_id, what = (
                    target.body,
                    target.proposal_id,
                    f"version {target_version}",
                )
            record = uow.calibrations.add_adoption(
                body, proposal_id, clean or f"revert to {what}", _now(), *_who(uow, user, username)
            )
        event.detail = f"version {record.version}: revert to {what}"
    return in_force_of(record)


def predictive_check_of(
    db: Database,
    user: User | None,
    *,
    proposal_id: int | None = None,
    username: str | None = None,
    replicates: int = 200,
) -> tuple[str, list[ScaleCheck]]:
    """The visual predictive check on the clinic's data, of a proposal or (default) of the
    calibration in force; returns its title and the checks (audited ``calibration.read``)."""
    with audited(db, user, "calibration.read", username=username) as event:
        if proposal_id is not None:
            cal = get_proposal(db, proposal_id).calibration
            title = f"Predictive check of proposal {proposal_id}"
        else:
            force = calibration_in_force(db)
            cal, title = force.calibration, f"Predictive check of the {force.label} calibration"
            if not force.is_default:
                title = f"Predictive check of {force.label}"
        data = clinic_data(db)
        event.detail = f"predictive check; patients={len(data.patients)}"
    return title, predictive_check(data.patients, cal, replicates=replicates)


__all__ = [
    "DEFAULT_LABEL",
    "CalibrationInForce",
    "ClinicData",
    "FitOutcome",
    "Proposal",
    "adopt_calibration",
    "calibration_history",
    "calibration_in_force",
    "clinic_data",
    "fit_calibration",
    "get_proposal",
    "newest_proposal",
    "predictive_check_of",
    "revert_calibration",
]
