"""Running the visit: check in, chart, no-show and cancel, as the signed-in account.

Each use-case acts as a named account (``actor``; an actor with ``id == 0`` is a signed-in user
from outside these records, such as a web app's in-memory user store, and is audited by name),
checks its role, applies the domain's
transition (:class:`~needleplan.domain.records.AppointmentStatus`) and the clinic's wall-clock
rules (:class:`~needleplan.domain.visits.VisitRules`, from the clinic's
``check_in_window_minutes`` and ``cancellation_notice_hours``), and writes its audit event in the
same transaction as the change (:func:`needleplan.services.audit.audited`): both are stored or
neither.

=============  ==========================  ============================================
use-case       roles                       audit action
=============  ==========================  ============================================
check_in       admin, practitioner, desk   ``appointment.check_in``
chart          practitioner                ``session.record`` (detail names the visit)
no_show        admin, practitioner, desk   ``appointment.missed``
cancel         admin, practitioner, desk   ``appointment.cancel`` (``late`` in detail)
chart_missing  practitioner, admin         ``calendar.read`` (patients listed)
lot_sessions   practitioner                ``lot.read`` (patients listed)
=============  ==========================  ============================================

Charting goes through :func:`needleplan.services.courses.record_session`, so the course ledger
loses one session and, when the series completes, the maintenance recall opens on the date from
the patient's own forecast, as ``needleplan session record --clinic`` does.
"""

from __future__ import annotations

from collections.abc import Mapping
from contextlib import AbstractContextManager
from datetime import datetime, timedelta
from typing import Any

from needleplan.domain.records import (
    Appointment,
    Patient,
    PerformedSession,
    PerformedSessionDraft,
    Role,
    User,
    parse_record,
)
from needleplan.domain.visits import VisitRules
from needleplan.exceptions import InputError, PermissionDeniedError
from needleplan.scheduling import ClinicConfig
from needleplan.services._clock import aware
from needleplan.services.accounts import require_role
from needleplan.services.appointments import cancel_appointment, get_appointment, mark_missed
from needleplan.services.audit import AuditNote, audited
from needleplan.services.booking import forecast_maintenance_due
from needleplan.services.calibration_state import calibration_in_force
from needleplan.services.courses import record_session
from needleplan.services.practitioners import list_practitioners
from needleplan.storage import Database
from needleplan.storage.repositories import audit_patients_detail

#: Who may do what (the web pages and the API check the same through their permissions).
DESK_ROLES = (Role.ADMIN, Role.PRACTITIONER, Role.FRONT_DESK)
CHART_ROLES = (Role.PRACTITIONER,)
#: How far back the "chart missing" list looks.
CHART_MISSING_DAYS = 90
REASON_MAX = 500


def visit_rules(clinic: ClinicConfig) -> VisitRules:
    """The clinic's check-in window and notice period as :class:`VisitRules`."""
    return VisitRules(
        early_check_in=timedelta(minutes=clinic.check_in_window_minutes),
        notice=timedelta(hours=clinic.cancellation_notice_hours),
    )


def _audited(
    db: Database, actor: User, action: str, detail: str
) -> AbstractContextManager[AuditNote]:
    stored = actor if actor.id > 0 else None
    return audited(db, stored, action, None, detail, username=actor.username)


def _active(actor: User, roles: tuple[Role, ...]) -> None:
    if not actor.active:
        raise PermissionDeniedError(f"user {actor.username} is deactivated")
    require_role(actor, *roles)


def check_in(
    db: Database,
    actor: User,
    appointment_id: int,
    clinic: ClinicConfig,
    *,
    now: datetime | None = None,
) -> Appointment:
    """The patient has arrived: booked -> arrived, from ``check_in_window_minutes`` before the
    start. ``InputError`` (field ``start``) when too early, ``StateError`` when not booked;
    nothing is stored either way."""
    _active(actor, DESK_ROLES)
    at = aware(now, "now")
    with _audited(db, actor, "appointment.check_in", f"appointment {appointment_id}") as ev:
        appt = get_appointment(db, appointment_id)
        ev.patient_id = appt.patient_id
        visit_rules(clinic).require_open(appt, at, "checked in")
        with db.transaction() as uow:
            return uow.visits.check_in(appointment_id, at)


def refuse_chart_timing(
    appt: Appointment, performed_at: datetime, clinic: ClinicConfig, now: datetime
) -> None:
    """The timing rules of a chart, shared by the web, the API and ``session record``: not
    before the visit opens (``check_in_window_minutes`` before its start), and ``performed_at``
    between that moment and ``now``. An :class:`InputError` naming the field otherwise."""
    rules = visit_rules(clinic)
    rules.require_open(appt, now, "charted")
    opens = rules.opens_at(appt)
    if performed_at > now:
        raise InputError.one("performed_at", performed_at.isoformat(), "must not be in the future")
    if performed_at < opens:
        raise InputError.one(
            "performed_at",
            performed_at.isoformat(),
            f"must not be before the visit opens ({opens.isoformat()})",
        )


def chart(
    db: Database,
    actor: User,
    appointment_id: int,
    data: PerformedSessionDraft | Mapping[str, Any],
    clinic: ClinicConfig,
    *,
    now: datetime | None = None,
) -> PerformedSession:
    """Record the session performed at this visit (booked or arrived -> performed).

    ``data`` is the chart (:class:`PerformedSessionDraft` or a mapping); in a mapping,
    ``performed_at`` defaults to now and ``practitioner_id`` to the actor's practitioner, else
    the appointment's. Refused with ``InputError`` (field ``start``) before
    ``start - check_in_window_minutes``, and when ``performed_at`` does not lie between that
    moment and now; ``StateError`` unless booked or arrived. The course ledger
    and the maintenance recall update through :func:`record_session`.
    """
    _active(actor, CHART_ROLES)
    at = aware(now, "now")
    with _audited(db, actor, "session.record", f"appointment {appointment_id}") as ev:
        appt = get_appointment(db, appointment_id)
        ev.patient_id = appt.patient_id
        rules = visit_rules(clinic)
        rules.require_open(appt, at, "charted")
        if isinstance(data, Mapping):
            filled = dict(data)
            filled.setdefault("performed_at", at)
            if filled.get("practitioner_id") in (None, ""):
                filled["practitioner_id"] = actor.practitioner_id or appt.practitioner_id
            draft = parse_record(PerformedSessionDraft, filled)
        else:
            draft = data
        if draft.practitioner_id not in {p.id for p in list_practitioners(db)}:
            raise InputError.one(
                "practitioner_id", draft.practitioner_id, "is not a practitioner of this clinic"
            )
        refuse_chart_timing(appt, draft.performed_at, clinic, at)
        session = record_session(
            db,
            draft,
            appointment_id=appointment_id,
            maintenance_due=forecast_maintenance_due(
                clinic, calibration_in_force(db).calibration.params
            ),
        )
        ev.detail = f"appointment {appointment_id} session {session.id}"
        return session


def no_show(
    db: Database,
    actor: User,
    appointment_id: int,
    *,
    now: datetime | None = None,
) -> Appointment:
    """She did not come: booked -> missed (shown as "no-show"), never before the start. The
    time stays taken and a course session stays owed (it can be rebooked)."""
    _active(actor, DESK_ROLES)
    at = aware(now, "now")
    with _audited(db, actor, "appointment.missed", f"appointment {appointment_id}") as ev:
        appt = get_appointment(db, appointment_id)
        ev.patient_id = appt.patient_id
        VisitRules().require_started(appt, at)
        return mark_missed(db, appointment_id)


def cancel(
    db: Database,
    actor: User,
    appointment_id: int,
    reason: str,
    clinic: ClinicConfig,
    *,
    now: datetime | None = None,
) -> Appointment:
    """Cancel a booked or arrived visit with its reason; *late* when inside the clinic's notice
    period. The time becomes free; a course session stays owed (it can be rebooked)."""
    _active(actor, DESK_ROLES)
    clean = (reason or "").strip()
    if not clean:
        raise InputError.one("reason", reason, "is required: say why the visit is cancelled")
    if len(clean) > REASON_MAX or any(ord(c) < 32 and c not in "\t" for c in clean):
        raise InputError.one(
            "reason", clean[:40], f"must be one line of at most {REASON_MAX} characters"
        )
    at = aware(now, "now")
    with _audited(db, actor, "appointment.cancel", f"appointment {appointment_id}") as ev:
        appt = get_appointment(db, appointment_id)
        ev.patient_id = appt.patient_id
        cancelled, late = cancel_in(db, appointment_id, clean, clinic, at)
        ev.detail = f"appointment {appointment_id} late={'yes' if late else 'no'}"
        return cancelled


def cancel_in(
    db: Database, appointment_id: int, reason: str, clinic: ClinicConfig, at: datetime
) -> tuple[Appointment, bool]:
    """The cancellation itself, inside the caller's audited transaction (staff's :func:`cancel`
    and the patient portal's): the time becomes free, the notice is queued, the reason and
    whether it was late are recorded. Returns the cancelled visit and whether it was late."""
    appt = get_appointment(db, appointment_id)
    late = visit_rules(clinic).is_late(appt, at)
    cancel_appointment(db, appointment_id, reason=reason)
    with db.transaction() as uow:
        return uow.visits.note_cancellation(appointment_id, reason, late), late


def chart_missing(
    db: Database,
    actor: User,
    *,
    practitioner_id: int | None = None,
    now: datetime | None = None,
) -> list[Appointment]:
    """Session visits of the last :data:`CHART_MISSING_DAYS` days that ended and are neither
    charted, cancelled nor a no-show (optionally one practitioner's), oldest first. Audited as
    one ``calendar.read`` listing the patients shown."""
    _active(actor, (Role.ADMIN, Role.PRACTITIONER))
    at = aware(now, "now")
    with db.transaction() as uow:
        found = uow.visits.chart_missing(
            at, at - timedelta(days=CHART_MISSING_DAYS), practitioner_id
        )
        if found:
            scope = f"chart-missing practitioner={practitioner_id or 'all'}"
            detail = audit_patients_detail(scope, {a.patient_id for a in found})
            with _audited(db, actor, "calendar.read", detail):
                pass
        return found


#: The most sessions one lot search returns.
LOT_LIMIT = 1000


def lot_sessions(db: Database, actor: User, lot: str) -> list[tuple[PerformedSession, Patient]]:
    """Every performed session that used this product lot and its patient, newest first (a batch
    recall). Audited as one ``lot.read`` listing the patients found."""
    _active(actor, CHART_ROLES)
    clean = (lot or "").strip()
    if not clean or len(clean) > 100 or any(ord(c) < 32 for c in clean):
        raise InputError.one("lot", lot[:40] if lot else lot, "must be 1 to 100 characters")
    with db.transaction() as uow:
        found = uow.visits.sessions_with_lot(clean, LOT_LIMIT)
        patients = {pid: uow.patients.get(pid) for pid in {s.patient_id for s in found}}
        detail = audit_patients_detail(f"lot sessions={len(found)}", set(patients))
        with _audited(db, actor, "lot.read", detail):
            pass
        return [(s, patients[s.patient_id]) for s in found]


__all__ = [
    "CHART_MISSING_DAYS",
    "CHART_ROLES",
    "DESK_ROLES",
    "cancel",
    "chart",
    "chart_missing",
    "check_in",
    "lot_sessions",
    "no_show",
    "refuse_chart_timing",
    "visit_rules",
]
