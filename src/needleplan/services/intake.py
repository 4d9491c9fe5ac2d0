"""The intake questionnaire: submit answers, review the draft, confirm it as an assessment; the
kiosk lock of a clinic tablet.

A submission is checked against the questionnaire in force (:func:`needleplan.guideline.intake.
load_questionnaire`), stored exactly as received with the questionnaire's id and version, and
drafts an assessment with its contraindications flagged (:mod:`needleplan.guideline.intake_draft`).
Nothing is approved automatically: the draft is not an assessment. A practitioner reviews it
(the answers, the flags and the proposed values), edits the values and confirms; confirming
stores the assessment through :func:`needleplan.services.assessments.record_assessment`, the
stored-assessment use-case every plan is made from.

Each use-case acts as a named account (or, for the portal, as ``portal``) and writes its audit
event in the same transaction as its change (:func:`needleplan.services.audit.audited`):

=====================  =================================  ==========================
use-case               who                                audit action
=====================  =================================  ==========================
start_kiosk            every role (contacts)              ``intake.kiosk.start``
submit_intake          the kiosk's account, or portal     ``intake.submit``
unlock_kiosk           any signed-in account              ``intake.kiosk.unlock``
intake_summaries       (read with the patient page)       (``patient.read``)
intake_for_review      practitioner (clinical)            ``intake.read``
confirm_intake         practitioner (clinical)            ``intake.confirm``
=====================  =================================  ==========================
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, date, datetime
from typing import Any
from zoneinfo import ZoneInfo

from needleplan.domain.accounts import User
from needleplan.domain.intake import IntakeChannel, IntakeResponse, IntakeStatus, KioskLock
from needleplan.domain.records import AssessmentRecord, Patient
from needleplan.exceptions import InputError, NotFoundError, StateError
from needleplan.guideline.intake import Questionnaire, load_questionnaire
from needleplan.guideline.intake_draft import answer_items, draft_from_answers, parse_answers
from needleplan.services._clock import aware
from needleplan.services.assessments import record_assessment
from needleplan.services.audit import audited
from needleplan.storage import Database, UnitOfWork

#: Who a portal submission is recorded as (the patient herself, through her signed link).
PORTAL_ACTOR = "portal"
#: The most answers (keys) a submission may carry, and the longest key.
MAX_KEYS = 400
NOTES_MAX = 4000


@dataclass(frozen=True)
class IntakeSummary:
    """What every role may see of a response on the patient page: no answers, no flags."""

    id: int
    submitted_at: datetime
    channel: IntakeChannel
    status: IntakeStatus
    assessment_id: int | None


def clinic_today(uow: UnitOfWork, at: datetime) -> date:
    """The day ``at`` falls on in the clinic's time zone (UTC without a clinic)."""
    clinic = uow.clinics.first()
    zone = ZoneInfo(clinic.timezone) if clinic is not None else UTC
    return at.astimezone(zone).date()


def _submission(raw: Mapping[str, Any]) -> dict[str, Any]:
    """The submission as it will be stored: keys and values as received (strings, lists of
    strings or JSON scalars), refused when it cannot be stored as JSON."""
    if not isinstance(raw, Mapping):
        raise InputError.one("answers", type(raw).__name__, "must be an object of answers")
    if len(raw) > MAX_KEYS:
        raise InputError.one("answers", len(raw), f"must have at most {MAX_KEYS} answers")
    kept: dict[str, Any] = {}
    for key, value in raw.items():
        if not isinstance(key, str) or len(key) > 60:
            raise InputError.one("answers", str(key)[:60], "question ids are short strings")
        ok = value is None or isinstance(value, (str, bool, int, float))
        if isinstance(value, list):
            ok = len(value) <= 100 and all(isinstance(v, str) for v in value)
        if not ok:
            raise InputError.one(key, None, "must be text, a number, yes/no or a list of choices")
        kept[key] = list(value) if isinstance(value, list) else value
    return kept


def submit_intake(
    db: Database,
    patient_id: int,
    raw: Mapping[str, Any],
    *,
    channel: IntakeChannel | str,
    actor: User | None = None,
    kiosk: str | None = None,
    questionnaire: Questionnaire | None = None,
    now: datetime | None = None,
) -> IntakeResponse:
    """Store a patient's answers (as received) and the draft assessment they propose.

    ``channel`` ``kiosk``: ``actor`` is the account whose browser session is locked to this
    patient (``kiosk`` is that session's digest; a session locked to another patient, or whose
    form was already sent, is refused with ``StateError``). ``portal``: the patient through her
    signed link, recorded as :data:`PORTAL_ACTOR`.

    Raises
    ------
    InputError
        naming every question whose answer breaks a rule; nothing is stored.
    """
    how = IntakeChannel(channel)
    at = aware(now, "now")
    form = questionnaire or load_questionnaire()
    kept = _submission(raw)
    username = actor.username if actor is not None else PORTAL_ACTOR
    if how is IntakeChannel.KIOSK and (actor is None or kiosk is None):
        raise StateError("a kiosk submission needs the kiosk's account and session")
    with audited(db, actor, "intake.submit", patient_id, username=PORTAL_ACTOR) as note:
        with db.transaction() as uow:
            uow.patients.get(patient_id)
            if kiosk is not None:
                lock = uow.intake.kiosk(kiosk)
                if lock is None or lock.patient_id != patient_id:
                    raise StateError("this browser is not in kiosk mode for this patient")
                if lock.response_id is not None:
                    raise StateError("this kiosk form was already sent; a member of staff unlocks")
            today = clinic_today(uow, at)
            answers = parse_answers(form, kept, today=today)
            draft = draft_from_answers(form, answers, today=today)
            stored = uow.intake.add(
                patient_id,
                (form.id, form.version),
                kept,
                {
                    "answers_typed": answers,
                    "items": answer_items(form, answers),
                    **draft.to_json(),
                },
                how,
                at,
                username,
            )
            if kiosk is not None:
                uow.intake.kiosk_submitted(kiosk, stored.id)
        flagged = sum(1 for f in draft.flags if f.kind != "review")
        note.detail = f"intake {stored.id} via {how.value} flags={flagged}"
        return stored


def intake_summaries(db: Database, patient_id: int) -> list[IntakeSummary]:
    """Her responses, newest first, without answers (the patient page shows them to every
    role; it is audited there as ``patient.read``)."""
    with db.transaction() as uow:
        return [
            IntakeSummary(r.id, r.submitted_at, r.channel, r.status, r.assessment_id)
            for r in uow.intake.for_patient(patient_id)
        ]


def intake_for_review(
    db: Database, actor: User, response_id: int
) -> tuple[IntakeResponse, Patient]:
    """A response with its answers, flags and proposed values, and its patient (clinical)."""
    with (
        audited(db, actor, "intake.read", None, f"intake {response_id}") as note,
        db.transaction() as uow,
    ):
        response = uow.intake.get(response_id)
        note.patient_id = response.patient_id
        return response, uow.patients.get(response.patient_id)


def confirm_intake(
    db: Database,
    actor: User,
    response_id: int,
    assessment: Mapping[str, Any],
    *,
    notes: str = "",
    now: datetime | None = None,
) -> tuple[IntakeResponse, AssessmentRecord]:
    """The practitioner's reviewed assessment becomes her stored assessment; the response is
    confirmed (once: a confirmed one is refused with ``StateError``).

    ``assessment`` is the edited values (the draft's fields plus the practitioner's: severity,
    Glogau, Fitzpatrick, ...); without ``age`` it takes her age from the birth date.
    """
    clean = (notes or "").strip()
    if len(clean) > NOTES_MAX:
        raise InputError.one("notes", clean[:40], f"must be at most {NOTES_MAX} characters")
    at = aware(now, "now")
    with audited(db, actor, "intake.confirm", None, f"intake {response_id}") as note:
        with db.transaction() as uow:
            response = uow.intake.get(response_id, lock=True)
            note.patient_id = response.patient_id
            if response.status is not IntakeStatus.DRAFT:
                raise StateError(
                    f"intake {response_id} is already {response.status.value} "
                    f"(assessment {response.assessment_id})"
                )
            prefix = f"From intake {response_id} (questionnaire {response.questionnaire_version})"
            record = record_assessment(
                db,
                response.patient_id,
                dict(assessment),
                assessed_at=at,
                assessed_by=actor.practitioner_id,
                notes=f"{prefix}. {clean}" if clean else prefix + ".",
            )
            confirmed = uow.intake.confirm(response_id, record.id, at, actor.username)
        note.detail = f"intake {response_id} assessment {record.id}"
        return confirmed, record


# --------------------------------------------------------------------------- kiosk mode


def kiosk_lock(db: Database, digest: str) -> KioskLock | None:
    """The kiosk lock of a browser session (by its token's digest), or None."""
    with db.transaction() as uow:
        return uow.intake.kiosk(digest)


def start_kiosk(
    db: Database, actor: User, digest: str, patient_id: int, *, now: datetime | None = None
) -> KioskLock:
    """Lock this browser session to one patient's intake form until staff unlock it."""
    at = aware(now, "now")
    with (
        audited(db, actor, "intake.kiosk.start", patient_id, "kiosk started"),
        db.transaction() as uow,
    ):
        uow.patients.get(patient_id)
        return uow.intake.lock_kiosk(digest, patient_id, actor.username, at)


def unlock_kiosk(db: Database, actor: User, digest: str) -> KioskLock:
    """End kiosk mode for this session (``actor`` has just given their password)."""
    with (
        audited(db, actor, "intake.kiosk.unlock", None, "kiosk unlocked") as note,
        db.transaction() as uow,
    ):
        lock = uow.intake.unlock_kiosk(digest)
        if lock is None:
            raise NotFoundError("this browser is not in kiosk mode")
        note.patient_id = lock.patient_id
        if lock.response_id is not None:
            note.detail = f"kiosk unlocked after intake {lock.response_id}"
        return lock


__all__ = [
    "PORTAL_ACTOR",
    "IntakeSummary",
    "clinic_today",
    "confirm_intake",
    "intake_for_review",
    "intake_summaries",
    "kiosk_lock",
    "start_kiosk",
    "submit_intake",
    "unlock_kiosk",
]
