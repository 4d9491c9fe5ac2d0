"""The follow-up survey: planned N weeks after her latest session, consent and opt-out like
recall, a survey link whose one answer becomes a satisfaction measurement feeding her forecast."""

from __future__ import annotations

import re
from datetime import timedelta
from typing import Any

import pytest

from needleplan import services
from needleplan.domain.messages import MessageKind, MessageStatus
from needleplan.domain.portal import LinkPurpose
from needleplan.domain.records import MeasurementScale
from needleplan.exceptions import InputError, StateError
from needleplan.scheduling import example_clinic
from needleplan.services.learned_forecast import learned_forecast
from needleplan.services.messaging.config import MessagingConfig
from needleplan.services.messaging.log import message_log
from needleplan.services.messaging.worker import run_once
from needleplan.services.portal_links import resolve_link
from needleplan.services.survey import SURVEY_NOTE, answer_survey, parse_answer, survey_view
from tests.messaging_support import MailSink
from tests.survey_support import PERFORMED, SURVEY_DAY, performed_session


def cfg(sink: MailSink) -> MessagingConfig:
    return MessagingConfig(smtp_url=sink.url, public_url="https://clinic.example")


def _survey_token(mail: Any) -> str:
    body = mail.get_body(preferencelist=("plain",)).get_content()
    found = re.search(r"https://clinic\.example/p/([A-Za-z0-9_-]+)/survey", body)
    assert found, body
    return found.group(1)


def _surveys(db: Any, patient_id: int) -> list[Any]:
    return [m for m in message_log(db, None, patient_id) if m.kind is MessageKind.SURVEY]


def test_survey_six_weeks_after_her_session_once_and_her_answer_is_a_measurement(
    clinic: Any, smtp_server: MailSink
) -> None:
    course_id, session_id = performed_session(clinic.db, clinic.patient.id, clinic.alice.id)
    early = run_once(
        clinic.db, example_clinic(), now=SURVEY_DAY - timedelta(days=2), config=cfg(smtp_server)
    )
    assert _surveys(clinic.db, clinic.patient.id) == []
    assert early.sent == 0
    report = run_once(clinic.db, example_clinic(), now=SURVEY_DAY, config=cfg(smtp_server))
    assert report.sent >= 1
    (mail,) = [m for m in smtp_server.messages if "How does your skin" in str(m["Subject"])]
    assert mail["List-Unsubscribe"].startswith("<https://clinic.example/unsubscribe/")
    token = _survey_token(mail)
    # A second pass plans nothing more.
    run_once(
        clinic.db, example_clinic(), now=SURVEY_DAY + timedelta(days=1), config=cfg(smtp_server)
    )
    (sent,) = _surveys(clinic.db, clinic.patient.id)
    assert sent.status is MessageStatus.SENT
    assert sent.payload["session_id"] == session_id
    actor = resolve_link(clinic.db, token, LinkPurpose.SURVEY, now=SURVEY_DAY)
    view = survey_view(clinic.db, actor, example_clinic())
    assert view.session_day == PERFORMED.date()
    assert view.answered_at is None
    assert (view.low, view.high) == (0, 10)
    before = len(services.measurements_for(clinic.db, clinic.patient.id))
    m = answer_survey(clinic.db, actor, "8", now=SURVEY_DAY + timedelta(hours=1))
    assert (m.scale, m.value, m.note, m.course_id) == (
        MeasurementScale.SATISFACTION,
        8.0,
        SURVEY_NOTE,
        course_id,
    )
    assert len(services.measurements_for(clinic.db, clinic.patient.id)) == before + 1
    with pytest.raises(StateError, match="answered already"):
        answer_survey(clinic.db, actor, "9", now=SURVEY_DAY + timedelta(hours=2))
    assert len(services.measurements_for(clinic.db, clinic.patient.id)) == before + 1
    events = services.audit_log(clinic.db, patient_id=clinic.patient.id)
    answer = next(e for e in events if e.action == "measurement.create")
    assert answer.username == "patient-link"
    assert f"measurement={m.id}" in answer.detail
    assert f"link={actor.link_id}" in answer.detail


def test_her_answer_feeds_her_learned_forecast(clinic: Any, smtp_server: MailSink) -> None:
    performed_session(clinic.db, clinic.patient.id, clinic.alice.id)
    run_once(clinic.db, example_clinic(), now=SURVEY_DAY, config=cfg(smtp_server))
    (mail,) = [m for m in smtp_server.messages if "How does your skin" in str(m["Subject"])]
    actor = resolve_link(clinic.db, _survey_token(mail), LinkPurpose.SURVEY, now=SURVEY_DAY)
    before = learned_forecast(clinic.db, clinic.patient.id, draws=50)
    assert not before.outcome.measurements
    answer_survey(clinic.db, actor, 1, now=SURVEY_DAY)
    after = learned_forecast(clinic.db, clinic.patient.id, draws=50)
    assert [m.scale for m in after.outcome.measurements] == [MeasurementScale.SATISFACTION]
    assert after.outcome.update.posterior.n_observations == 1
    assert not after.outcome.update.posterior.is_prior


def test_no_survey_without_contact_consent_or_after_opting_out(
    clinic: Any, smtp_server: MailSink
) -> None:
    performed_session(clinic.db, clinic.patient.id, clinic.alice.id)
    services.update_patient(clinic.db, clinic.patient.id, {"consent_contact": False})
    run_once(clinic.db, example_clinic(), now=SURVEY_DAY, config=cfg(smtp_server))
    (skipped,) = _surveys(clinic.db, clinic.patient.id)
    assert skipped.status is MessageStatus.SKIPPED
    assert "no contact consent" in skipped.last_error
    assert not [m for m in smtp_server.messages if "How does your skin" in str(m["Subject"])]


def test_a_session_long_past_gets_no_survey(clinic: Any, smtp_server: MailSink) -> None:
    performed_session(clinic.db, clinic.patient.id, clinic.alice.id)
    long_after = SURVEY_DAY + timedelta(days=30)  # past the 14-day grace
    run_once(clinic.db, example_clinic(), now=long_after, config=cfg(smtp_server))
    assert _surveys(clinic.db, clinic.patient.id) == []


def test_a_later_session_moves_the_survey_to_six_weeks_after_it(
    clinic: Any, smtp_server: MailSink
) -> None:
    _, first = performed_session(clinic.db, clinic.patient.id, clinic.alice.id)
    again = PERFORMED + timedelta(days=30)  # before the first one's survey fell due
    later = services.record_session(
        clinic.db,
        {
            "performed_at": again.isoformat(),
            "areas": ["full_face"],
            "device": "pen",
            "needle_depth_mm": {"full_face": 1.0},
            "passes": 1,
            "practitioner_id": clinic.alice.id,
        },
        patient_id=clinic.patient.id,
    )
    run_once(clinic.db, example_clinic(), now=SURVEY_DAY, config=cfg(smtp_server))
    assert _surveys(clinic.db, clinic.patient.id) == []
    due = again + timedelta(weeks=6, hours=2)
    run_once(clinic.db, example_clinic(), now=due, config=cfg(smtp_server))
    run_once(clinic.db, example_clinic(), now=due + timedelta(days=1), config=cfg(smtp_server))
    (survey,) = _surveys(clinic.db, clinic.patient.id)
    assert survey.payload["session_id"] == later.id
    assert later.id != first


@pytest.mark.parametrize("value", ["11", "-1", "7.5", "seven", ""])
def test_an_answer_off_the_scale_is_refused_naming_the_rule(value: str) -> None:
    with pytest.raises(InputError) as err:
        parse_answer(value)
    assert err.value.problems[0].field == "answer"
    assert "whole number from 0 to 10" in err.value.message


def test_the_survey_is_written_in_her_language(clinic: Any, smtp_server: MailSink) -> None:
    performed_session(clinic.db, clinic.patient.id, clinic.alice.id)
    services.update_patient(clinic.db, clinic.patient.id, {"language": "de"})
    run_once(clinic.db, example_clinic(), now=SURVEY_DAY, config=cfg(smtp_server))
    (mail,) = [m for m in smtp_server.messages if "Wie sieht Ihre Haut" in str(m["Subject"])]
    body = mail.get_body(preferencelist=("plain",)).get_content()
    assert "seit Ihrer Sitzung am 3. Juni 2030" in body
