"""The intake form through her own link: staff make the link, she fills it in at home, the
practitioner finds a draft to review (issue 14)."""

from __future__ import annotations

import re

from fastapi.testclient import TestClient

from needleplan.services import intake
from tests.intake_support import RAISING

from .conftest import csrf_from
from .patients_fixtures import ClinicApp, audit_actions, clinic_app, sign_in, web

__all__ = ["clinic_app", "web"]


def _make_link(web: TestClient, patient_id: int) -> str:
    page = web.get(f"/app/patients/{patient_id}")
    made = web.post(
        f"/app/patients/{patient_id}/intake/link", data={"csrf_token": csrf_from(page.text)}
    )
    assert made.status_code == 200
    found = re.search(r"http://testserver/p/([A-Za-z0-9_-]+)/intake", made.text)
    assert found, "her page shows the address once"
    return found.group(1)


def test_she_fills_in_the_intake_through_her_link_and_a_draft_awaits_review(
    web: TestClient, clinic_app: ClinicApp
) -> None:
    sign_in(web, "desk")
    token = _make_link(web, clinic_app.patient_id)
    assert ("desk", "portal.link.issue", clinic_app.patient_id) in audit_actions(
        clinic_app.db, clinic_app.patient_id
    )
    with TestClient(clinic_app.app, base_url="http://testserver") as home:
        form = home.get(f"/p/{token}/intake")
        assert form.status_code == 200
        assert 'id="intake-form"' in form.text
        assert 'href="/app/patients"' not in form.text  # no staff chrome
        sent = home.post(f"/p/{token}/intake", data={"csrf_token": csrf_from(form.text), **RAISING})
        assert sent.status_code == 200, sent.text[:500]
        # the link is for the intake only: her plan page refuses it
        assert home.get(f"/p/{token}").status_code == 403
    drafts = intake.intake_summaries(clinic_app.db, clinic_app.patient_id)
    assert [d.channel.value for d in drafts] == ["portal"]
    assert drafts[0].status.value == "draft"


def test_a_tampered_intake_link_gets_the_plain_refusal(web: TestClient) -> None:
    refused = web.get("/p/" + "x" * 43 + "/intake")
    assert refused.status_code == 404
    assert "Traceback" not in refused.text


def test_her_intake_link_shows_the_questionnaire_in_her_language(
    web: TestClient, clinic_app: ClinicApp
) -> None:
    """The questionnaire's own texts and the refusals come in German for a German patient."""
    from needleplan import services

    services.update_patient(clinic_app.db, clinic_app.patient_id, {"language": "de"})
    sign_in(web, "desk")
    token = _make_link(web, clinic_app.patient_id)
    with TestClient(clinic_app.app, base_url="http://testserver") as home:
        form = home.get(f"/p/{token}/intake")
        assert form.status_code == 200
        assert '<html lang="de">' in form.text
        assert "Vor Ihrem Microneedling-Beratungsgespräch" in form.text
        assert "Haben Sie Diabetes?" in form.text
        assert "Meine Antworten senden" in form.text
        assert "Do you have diabetes?" not in form.text
        empty = home.post(f"/p/{token}/intake", data={"csrf_token": csrf_from(form.text)})
        assert empty.status_code == 422
        assert "muss beantwortet werden" in empty.text
        assert "is required" not in empty.text
        # HbA1c's help has a literal % sign: shown as written, never a formatting error
        assert "(in %)" in form.text or "(in %)" in home.get(f"/p/{token}/intake?lang=en").text
