"""The follow-up survey page behind her survey link: her language, one answer, refusals."""

from __future__ import annotations

import re
from typing import Any

from needleplan import services
from needleplan.domain.portal import LinkPurpose
from needleplan.domain.records import MeasurementScale
from needleplan.services.messaging.config import MessagingConfig
from needleplan.services.messaging.worker import run_once
from needleplan.services.portal_links import issue_link
from tests.messaging_support import MailSink, smtp_server
from tests.survey_support import SURVEY_DAY, performed_session

from . import booking_support
from .booking_support import Clinic
from .conftest import TestClient, csrf_from

backend = booking_support.backend
site = booking_support.site
web = booking_support.web
__all__ = ["smtp_server"]


def _survey_link(site: Clinic, sink: MailSink, **patient: Any) -> tuple[int, str]:
    person = site.patient("Sara", "Survey", email="sara@example.org", consent_contact=True)
    if patient:
        services.update_patient(site.db, person.id, patient)
    performed_session(site.db, person.id, next(iter(site.practitioners.values())))
    cfg = MessagingConfig(smtp_url=sink.url, public_url="http://testserver")
    run_once(site.db, site.clinic, now=SURVEY_DAY, config=cfg)
    bodies = [
        m.get_body(preferencelist=("plain",)).get_content()  # type: ignore[union-attr]
        for m in sink.messages
    ]
    found = [re.search(r"http://testserver(/p/[A-Za-z0-9_-]+/survey)", b) for b in bodies]
    (path,) = [f.group(1) for f in found if f]
    return person.id, path


def test_she_answers_once_and_the_answer_is_her_measurement(
    web: TestClient, site: Clinic, smtp_server: MailSink
) -> None:
    patient_id, path = _survey_link(site, smtp_server)
    page = web.get(path)
    assert page.status_code == 200
    assert "How does your skin look now?" in page.text
    assert 'name="answer" value="10"' in page.text
    assert "no-store" in page.headers.get("cache-control", "")
    csrf = csrf_from(page.text)
    off = web.post(path, data={"csrf_token": csrf, "answer": "12"})
    assert off.status_code == 422
    assert "whole number from 0 to 10" in off.text
    done = web.post(path, data={"csrf_token": csrf, "answer": "7"})
    assert done.status_code == 200
    assert 'id="survey-thanks"' in done.text
    (m,) = [
        m
        for m in services.measurements_for(site.db, patient_id)
        if m.scale is MeasurementScale.SATISFACTION
    ]
    assert m.value == 7
    again = web.post(path, data={"csrf_token": csrf, "answer": "3"})
    assert again.status_code == 409
    assert 'id="survey-answered"' in again.text
    assert 'id="survey-answered"' in web.get(path).text
    assert len(services.measurements_for(site.db, patient_id)) == 1


def test_the_page_speaks_her_language(web: TestClient, site: Clinic, smtp_server: MailSink) -> None:
    _, path = _survey_link(site, smtp_server, language="de")
    page = web.get(path)
    assert '<html lang="de">' in page.text
    assert "Wie sieht Ihre Haut jetzt aus?" in page.text
    assert "Einige Wochen nach Ihrer Sitzung am 3. Juni 2030" in page.text
    assert "Diese Seite ist nur für Sie" in page.text


def test_refusals_a_forged_form_another_purpose_and_a_tampered_link(
    web: TestClient, site: Clinic
) -> None:
    person = site.patient("Tia", "Token", email="tia@example.org")
    token, _ = issue_link(site.db, None, person.id, LinkPurpose.PORTAL)
    assert web.get(f"/p/{token}/survey").status_code == 403
    assert web.get("/p/not-a-real-token-at-all-000000000000000000/survey").status_code == 404
    survey_token, _ = issue_link(site.db, None, person.id, LinkPurpose.SURVEY)
    page = web.get(f"/p/{survey_token}/survey")
    assert page.status_code == 200
    assert "How satisfied are you with your skin?" in page.text  # a link without a message
    forged = web.post(f"/p/{survey_token}/survey", data={"answer": "5"})
    assert forged.status_code == 403
    assert services.measurements_for(site.db, person.id) == []
