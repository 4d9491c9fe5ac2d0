"""The follow-up survey: "how does your skin look now?" some weeks after a session.

The worker plans a ``survey`` message ``survey_weeks`` (clinic setting, default 6) after her
latest performed session (:func:`needleplan.services.messaging.worker.plan_surveys`); it needs
her contact consent and no opt-out, like recall, and carries a link of purpose ``survey``. Her
answer, on the patient-satisfaction scale the measurements use (0-10), is stored as a
measurement (note "patient survey", tied to the session's course) in the same transaction as
its audit row (``measurement.create`` by ``patient-link``), so it feeds her learned forecast
and the ``measurement.recorded`` webhook. One answer per link: a second is refused.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime

from needleplan.domain.portal import LinkActor
from needleplan.domain.records import Measurement, MeasurementDraft, MeasurementScale
from needleplan.exceptions import InputError, StateError
from needleplan.scheduling import ClinicConfig
from needleplan.services._clock import aware, utc_now
from needleplan.services.measurements import record_measurement_in
from needleplan.services.portal_links import portal_audited
from needleplan.storage import Database, UnitOfWork

#: What a survey answer's measurement says about where it came from.
SURVEY_NOTE = "patient survey"


@dataclass(frozen=True)
class SurveyView:
    """What her survey page shows."""

    language: str
    session_day: date | None
    answered_at: datetime | None
    low: int
    high: int


def _session(uow: UnitOfWork, actor: LinkActor) -> tuple[int | None, int | None, datetime | None]:
    """The session (id, course id, performed at) her survey link asks about, from its message."""
    link = uow.portal_links.get(actor.link_id)
    if link.message_id is None:
        return None, None, None
    payload = uow.outbox.get(link.message_id).payload
    performed = payload.get("performed_at")
    session_id = payload.get("session_id")
    course_id = payload.get("course_id")
    return (
        int(session_id) if session_id else None,
        int(course_id) if course_id else None,
        datetime.fromisoformat(performed) if isinstance(performed, str) else None,
    )


def survey_view(db: Database, actor: LinkActor, clinic: ClinicConfig) -> SurveyView:
    """Her survey page: the session it asks about, whether she answered, in her language."""
    info = MeasurementScale.SATISFACTION.info
    with db.transaction() as uow:
        preferred = uow.patients.language(actor.patient_id)
        _, _, performed = _session(uow, actor)
        answered = uow.surveys.answered(actor.link_id)
    language = preferred if preferred in clinic.languages else clinic.default_language
    return SurveyView(
        language=language or "en",
        session_day=performed.astimezone(clinic.tz).date() if performed else None,
        answered_at=answered,
        low=int(info.low),
        high=int(info.high),
    )


def parse_answer(value: str | int | float, field: str = "answer") -> int:
    """Her answer: a whole number on the satisfaction scale (InputError naming the rule)."""
    info = MeasurementScale.SATISFACTION.info
    rule = f"must be a whole number from {int(info.low)} to {int(info.high)}"
    try:
        number = int(str(value).strip())
    except ValueError:
        raise InputError.one(field, str(value)[:20], rule) from None
    if not info.low <= number <= info.high:
        raise InputError.one(field, number, rule)
    return number


def answer_survey(
    db: Database, actor: LinkActor, value: str | int | float, *, now: datetime | None = None
) -> Measurement:
    """Store her answer as a satisfaction measurement (once per link; StateError after)."""
    number = parse_answer(value)
    at = aware(now, "now") if now is not None else utc_now()
    with (
        portal_audited(db, actor, "measurement.create", SURVEY_NOTE) as note,
        db.transaction() as uow,
    ):
        if uow.surveys.answered(actor.link_id) is not None:
            raise StateError("this survey was answered already; thank you")
        session_id, course_id, _ = _session(uow, actor)
        draft = MeasurementDraft(
            scale=MeasurementScale.SATISFACTION,
            value=float(number),
            measured_at=at,
            course_id=course_id,
            note=SURVEY_NOTE,
        )
        measurement = record_measurement_in(uow, actor.patient_id, draft, now=at)
        uow.surveys.add(actor.link_id, actor.patient_id, session_id, measurement.id, at)
        note.detail = f"{SURVEY_NOTE} measurement={measurement.id}"
        return measurement


__all__ = ["SURVEY_NOTE", "SurveyView", "answer_survey", "parse_answer", "survey_view"]
