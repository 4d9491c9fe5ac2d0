"""Intake use-cases: answers stored as submitted with the questionnaire version, a draft that is
never an assessment until a practitioner confirms it, roles, kiosk locks, one transaction with
the audit event (a refused submission or confirmation stores nothing)."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest

from needleplan import services
from needleplan.domain.intake import IntakeStatus
from needleplan.exceptions import InputError, NotFoundError, PermissionDeniedError, StateError
from needleplan.guideline.intake import load_questionnaire
from needleplan.services import intake
from tests.intake_support import CLEAR, RAISING

NOW = datetime(2031, 5, 4, 10, 0, tzinfo=UTC)


def _staff(clinic: Any) -> dict[str, Any]:
    return {
        "prac": services.create_user(
            clinic.db,
            "prac",
            "correct horse battery",
            "practitioner",
            practitioner_id=clinic.alice.id,
        ),
        "desk": services.create_user(clinic.db, "desk", "correct horse battery", "front_desk"),
        "admin": services.create_user(clinic.db, "boss", "correct horse battery", "admin"),
    }


def _events(db: Any) -> list[tuple[str, str]]:
    events, _ = services.search_audit(db, limit=1000)
    return [(e.username, e.action) for e in events]


def test_a_portal_submission_is_stored_as_sent_with_its_version_and_draft(clinic: Any) -> None:
    sent = intake.submit_intake(clinic.db, clinic.patient.id, RAISING, channel="portal", now=NOW)
    assert sent.answers == RAISING
    assert sent.questionnaire_version == load_questionnaire().version
    assert sent.status is IntakeStatus.DRAFT
    assert sent.values["smoking"] == "current"
    assert [f["code"] for f in sent.flags] == ["keloid_tendency"]
    assert {i["id"] for i in sent.items} >= {"smoking", "keloid", "areas"}
    assert services.assessment_history(clinic.db, clinic.patient.id) == []  # a draft only
    assert ("portal", "intake.submit") in _events(clinic.db)


def test_refused_answers_store_nothing_and_write_no_event(clinic: Any) -> None:
    with pytest.raises(InputError) as caught:
        intake.submit_intake(
            clinic.db, clinic.patient.id, {**CLEAR, "keloid": "often"}, channel="portal"
        )
    assert [p.field for p in caught.value.problems] == ["keloid"]
    with pytest.raises(InputError, match="must be text, a number"):
        intake.submit_intake(clinic.db, clinic.patient.id, {"keloid": {"a": 1}}, channel="portal")
    with pytest.raises(NotFoundError):
        intake.submit_intake(clinic.db, 9999, CLEAR, channel="portal")
    assert intake.intake_summaries(clinic.db, clinic.patient.id) == []
    assert ("portal", "intake.submit") not in _events(clinic.db)


def test_kiosk_submissions_need_the_locked_session_for_this_patient_once(clinic: Any) -> None:
    staff = _staff(clinic)
    other = services.register_patient(
        clinic.db,
        {
            "given_name": "Ola",
            "family_name": "Other",
            "birth_date": "1980-01-01",
            "consent_treatment": True,
        },
    )
    digest = "a" * 64
    with pytest.raises(StateError, match="not in kiosk mode"):
        intake.submit_intake(
            clinic.db, clinic.patient.id, CLEAR, channel="kiosk", actor=staff["desk"], kiosk=digest
        )
    intake.start_kiosk(clinic.db, staff["desk"], digest, clinic.patient.id, now=NOW)
    with pytest.raises(StateError, match="not in kiosk mode for this patient"):
        intake.submit_intake(
            clinic.db, other.id, CLEAR, channel="kiosk", actor=staff["desk"], kiosk=digest
        )
    sent = intake.submit_intake(
        clinic.db, clinic.patient.id, CLEAR, channel="kiosk", actor=staff["desk"], kiosk=digest
    )
    assert sent.submitted_by == "desk"
    lock = intake.kiosk_lock(clinic.db, digest)
    assert lock is not None
    assert lock.response_id == sent.id
    with pytest.raises(StateError, match="already sent"):
        intake.submit_intake(
            clinic.db, clinic.patient.id, CLEAR, channel="kiosk", actor=staff["desk"], kiosk=digest
        )
    assert intake.unlock_kiosk(clinic.db, staff["prac"], digest).patient_id == clinic.patient.id
    assert intake.kiosk_lock(clinic.db, digest) is None
    with pytest.raises(NotFoundError):
        intake.unlock_kiosk(clinic.db, staff["prac"], digest)


def test_only_a_practitioner_reads_and_confirms_and_only_once(clinic: Any) -> None:
    staff = _staff(clinic)
    sent = intake.submit_intake(clinic.db, clinic.patient.id, RAISING, channel="portal")
    for role in ("desk", "admin"):
        with pytest.raises(PermissionDeniedError):
            intake.intake_for_review(clinic.db, staff[role], sent.id)
        with pytest.raises(PermissionDeniedError):
            intake.confirm_intake(clinic.db, staff[role], sent.id, {"severity": "mild"})
    response, patient = intake.intake_for_review(clinic.db, staff["prac"], sent.id)
    assert patient.id == clinic.patient.id
    values = {**response.values, "severity": "moderate"}
    confirmed, record = intake.confirm_intake(
        clinic.db, staff["prac"], sent.id, values, notes="reviewed with her"
    )
    assert confirmed.status is IntakeStatus.CONFIRMED
    assert confirmed.assessment_id == record.id
    assert confirmed.reviewed_by == "prac"
    assert record.assessed_by == clinic.alice.id
    assert record.assessment.age == clinic.patient.age_on(datetime.now(UTC).date())
    assert record.notes.endswith("reviewed with her")
    assert services.assessment_history(clinic.db, clinic.patient.id)[0].id == record.id
    with pytest.raises(StateError, match="already confirmed"):
        intake.confirm_intake(clinic.db, staff["prac"], sent.id, values)
    assert len(services.assessment_history(clinic.db, clinic.patient.id)) == 1
    assert ("prac", "intake.confirm") in _events(clinic.db)


def test_a_refused_confirmation_stores_nothing(clinic: Any) -> None:
    staff = _staff(clinic)
    sent = intake.submit_intake(clinic.db, clinic.patient.id, CLEAR, channel="portal")
    with pytest.raises(InputError, match="severity is required"):
        intake.confirm_intake(clinic.db, staff["prac"], sent.id, dict(sent.values))
    with pytest.raises(InputError, match="full_face already includes"):
        intake.confirm_intake(
            clinic.db,
            staff["prac"],
            sent.id,
            {**sent.values, "severity": "mild", "areas": ["full_face", "cheeks"]},
        )
    assert services.assessment_history(clinic.db, clinic.patient.id) == []
    (summary,) = intake.intake_summaries(clinic.db, clinic.patient.id)
    assert summary.status is IntakeStatus.DRAFT
    assert ("prac", "intake.confirm") not in _events(clinic.db)
