"""The waitlist: patients who want an earlier slot for a visit kind, offered a slot when one frees.

- :func:`add_to_waitlist`: she wants an earlier consultation, session, maintenance visit or
  review, with one practitioner or anyone, from a day on (``waitlist.add``).
- :func:`remove_from_waitlist`: the desk takes her off (``waitlist.remove``).
- :func:`open_waitlist`: the open entries, who asked first first.
- :func:`waitlist_matches`: when a slot frees (a cancellation, a move), the open entries it
  suits: same visit kind, her practitioner or anyone, her "not before" day reached, not the
  patient who gave the slot up. The calendar lists them for the desk to offer the slot.

Booking her a visit of that kind (:func:`needleplan.services.clinic_calendar_slots.book_visit`)
closes her entries of that kind in the same transaction. Each use-case acts as a named account
of the desk roles and writes its audit event in the same transaction as the change.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime

from needleplan.domain.records import Patient, User
from needleplan.exceptions import InputError, PermissionDeniedError
from needleplan.services._clock import aware
from needleplan.services.accounts import require_role
from needleplan.services.audit import audited
from needleplan.services.clinic_calendar_slots import BOOKING_ROLES, VISIT_KINDS
from needleplan.storage import Database
from needleplan.storage.repositories import audit_patients_detail
from needleplan.storage.repositories.waitlist import WaitlistEntry

NOTE_MAX = 200


@dataclass(frozen=True)
class WaitingPatient:
    """An open entry with the patient it is for."""

    entry: WaitlistEntry
    patient: Patient


def _actor(actor: User) -> User | None:
    if not actor.active:
        raise PermissionDeniedError(f"user {actor.username} is deactivated")
    require_role(actor, *BOOKING_ROLES)
    return actor if actor.id > 0 else None


def _kind(value: str) -> str:
    clean = str(value).strip().lower()
    if clean not in VISIT_KINDS:
        raise InputError.one("kind", value, "must be one of " + ", ".join(VISIT_KINDS))
    return clean


def add_to_waitlist(
    db: Database,
    actor: User,
    patient_id: int,
    kind: str,
    *,
    practitioner_id: int | None = None,
    not_before: date | None = None,
    note: str = "",
    now: datetime | None = None,
) -> WaitlistEntry:
    """Put the patient on the waitlist for ``kind`` (InputError naming the field otherwise)."""
    stored = _actor(actor)
    clean_kind = _kind(kind)
    clean_note = str(note).strip()
    if len(clean_note) > NOTE_MAX:
        raise InputError.one(
            "note", clean_note[:40] + "…", f"must be at most {NOTE_MAX} characters"
        )
    if not clean_note.isprintable() and clean_note:
        raise InputError.one("note", clean_note, "must be one line of printable text")
    at = aware(now, "now")
    with (
        audited(db, stored, "waitlist.add", patient_id, username=actor.username) as note_,
        db.transaction() as uow,
    ):
        uow.patients.get(patient_id)
        if practitioner_id is not None:
            uow.clinics.practitioner(practitioner_id)
        entry = uow.waitlist.add(
            patient_id, clean_kind, practitioner_id, not_before, clean_note, at
        )
        note_.detail = f"waitlist entry {entry.id} ({clean_kind})"
        return entry


def remove_from_waitlist(
    db: Database, actor: User, entry_id: int, *, now: datetime | None = None
) -> WaitlistEntry:
    """Close an open entry (the desk took her off); closing a closed one changes nothing."""
    stored = _actor(actor)
    at = aware(now, "now")
    with audited(db, stored, "waitlist.remove", None, username=actor.username) as note_:
        with db.transaction() as uow:
            entry = uow.waitlist.close(entry_id, at, "removed")
        note_.patient_id = entry.patient_id
        note_.detail = f"waitlist entry {entry.id}"
        return entry


def open_waitlist(db: Database, actor: User, kind: str | None = None) -> list[WaitingPatient]:
    """The open entries (of ``kind``, or all), who asked first first; audited as a read
    listing the patients shown."""
    stored = _actor(actor)
    clean = _kind(kind) if kind else None
    with db.transaction() as uow:
        entries = uow.waitlist.open_entries(clean)
        out = [WaitingPatient(e, uow.patients.get(e.patient_id)) for e in entries]
    if out:
        with audited(
            db,
            stored,
            "calendar.read",
            None,
            audit_patients_detail("waitlist", {w.entry.patient_id for w in out}),
            username=actor.username,
        ):
            pass
    return out


def waitlist_matches(
    db: Database,
    kind: str,
    practitioner_id: int,
    start: datetime,
    day: date,
    *,
    exclude_patient: int | None = None,
) -> list[WaitlistEntry]:
    """Open entries a freed slot suits (``day``: its local day); who asked first first.

    The caller shows them to an account allowed to read the calendar and audits that read.
    """
    clean = _kind(kind)
    aware(start, "start")
    with db.transaction() as uow:
        entries = uow.waitlist.open_entries(clean)
    return [
        e
        for e in entries
        if e.patient_id != exclude_patient
        and (e.practitioner_id is None or e.practitioner_id == practitioner_id)
        and (e.not_before is None or e.not_before <= day)
    ]


__all__ = [
    "WaitingPatient",
    "WaitlistEntry",
    "add_to_waitlist",
    "open_waitlist",
    "remove_from_waitlist",
    "waitlist_matches",
]
