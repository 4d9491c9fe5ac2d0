"""Signed consent forms in the web app: the signing screen for every staff role, storing the
signed PDF, the forms on the patient page, download (practitioners and admins only),
withdrawal, the admins' template editor, the bare signing view for the portal, and charting
refused without a current treatment consent (page and API). Every use is audited."""

from __future__ import annotations

import base64
import hashlib
from datetime import timedelta
from typing import Any

import pytest
from fastapi import Request
from fastapi.testclient import TestClient

from needleplan import services
from needleplan.services import consent_forms as cf
from tests.consent_support import blank_png, signature_png

from .conftest import csrf_from
from .patients_fixtures import ClinicApp, audit_actions, bearer, clinic_app, sign_in, web
from .visits_support import CHART, book_visits

__all__ = ["clinic_app", "web"]

HOUR = timedelta(hours=1)
TABLET = "Mozilla/5.0 (iPad; CPU OS 17_0 like Mac OS X) test tablet"


def _data_url(png: bytes) -> str:
    return "data:image/png;base64," + base64.b64encode(png).decode("ascii")


def _sign(web: TestClient, pid: int, png: bytes, **extra: Any) -> Any:
    page = web.get(f"/app/patients/{pid}/consents/sign?kind={extra.get('kind', 'treatment')}")
    data: dict[str, Any] = {
        "csrf_token": csrf_from(page.text),
        "kind": "treatment",
        "signature": _data_url(png),
        **extra,
    }
    return web.post(
        f"/app/patients/{pid}/consents/sign",
        data=data,
        headers={"User-Agent": TABLET},
        follow_redirects=False,
    )


@pytest.mark.parametrize("who", ["desk", "prac", "admin"])
def test_every_staff_role_opens_the_signing_screen_and_records_a_signature(
    web: TestClient, clinic_app: ClinicApp, who: str
) -> None:
    pid = book_visits(clinic_app, HOUR, consent=False).patient_id
    sign_in(web, who)
    page = web.get(f"/app/patients/{pid}/consents/sign?kind=treatment")
    assert page.status_code == 200
    assert 'id="signature-pad"' in page.text
    assert "Vera Visit" in page.text
    assert "Consent to microneedling treatment" in page.text
    assert "version 1" in page.text
    done = _sign(web, pid, signature_png())
    assert done.status_code == 303, done.text
    assert done.headers["location"] == f"/app/patients/{pid}?signed=treatment#consent-forms"
    form = cf.current_consent(clinic_app.db, pid, "treatment")
    assert form is not None
    assert form.device == TABLET
    assert (who, "consent.sign", pid) in audit_actions(clinic_app.db, pid)


def test_signing_needs_a_signed_in_account_and_the_csrf_token(
    web: TestClient, clinic_app: ClinicApp
) -> None:
    pid = clinic_app.patient_id
    anonymous = web.get(f"/app/patients/{pid}/consents/sign", follow_redirects=False)
    assert anonymous.status_code in (303, 401)
    sign_in(web, "prac")
    forged = web.post(
        f"/app/patients/{pid}/consents/sign",
        data={"kind": "treatment", "signature": _data_url(signature_png())},
        follow_redirects=False,
    )
    assert forged.status_code == 403


@pytest.mark.parametrize(
    ("png", "rule"),
    [(b"", "is empty"), (blank_png(), "is empty"), (b"GIF89a" + b"x" * 40, "must be a PNG")],
)
def test_an_empty_or_bad_signature_is_refused_naming_the_field(
    web: TestClient, clinic_app: ClinicApp, png: bytes, rule: str
) -> None:
    pid = book_visits(clinic_app, HOUR, consent=False).patient_id
    sign_in(web, "desk")
    refused = _sign(web, pid, png) if png else _sign(web, pid, png, signature="")
    assert refused.status_code == 422
    assert "The form was not signed" in refused.text
    assert "<strong>signature</strong>" in refused.text
    assert rule in refused.text
    assert cf.current_consent(clinic_app.db, pid, "treatment") is None


def test_bad_kind_and_use_are_named(web: TestClient, clinic_app: ClinicApp) -> None:
    pid = clinic_app.patient_id
    sign_in(web, "prac")
    assert web.get(f"/app/patients/{pid}/consents/sign?kind=tattoo").status_code == 422
    refused = _sign(web, pid, signature_png(), kind="photo", uses=["billboard"])
    assert refused.status_code == 422
    assert "<strong>uses</strong>" in refused.text


def test_photo_consent_uses_from_the_form(web: TestClient, clinic_app: ClinicApp) -> None:
    pid = clinic_app.patient_id
    sign_in(web, "prac")
    done = _sign(web, pid, signature_png(), kind="photo", uses=["teaching"])
    assert done.status_code == 303
    assert cf.photo_consent_uses(clinic_app.db, pid) == {"record", "teaching"}


def test_the_patient_page_lists_forms_and_only_clinicians_download(
    web: TestClient, clinic_app: ClinicApp
) -> None:
    pid = clinic_app.patient_id
    (form,) = [f for f in cf.consent_forms_of(clinic_app.db, cf_actor(), pid)]
    sign_in(web, "desk")
    page = web.get(f"/app/patients/{pid}").text
    assert 'id="consent-forms"' in page
    assert f'data-form="{form.id}"' in page
    assert "consent-download" not in page  # the desk sees the standing, not the PDF
    assert web.get(f"/app/patients/{pid}/consents/{form.id}.pdf").status_code == 403
    web.post("/logout", data={"csrf_token": csrf_from(page)})
    for who in ("prac", "admin"):
        sign_in(web, who)
        page = web.get(f"/app/patients/{pid}").text
        assert f'id="consent-download-{form.id}"' in page
        pdf = web.get(f"/app/patients/{pid}/consents/{form.id}.pdf")
        assert pdf.status_code == 200
        assert pdf.headers["content-type"] == "application/pdf"
        assert hashlib.sha256(pdf.content).hexdigest() == form.sha256
        assert (who, "consent.download", pid) in audit_actions(clinic_app.db, pid)
        web.post("/logout", data={"csrf_token": csrf_from(page)})
    assert ("desk", "consent.read", pid) in audit_actions(clinic_app.db, pid)
    sign_in(web, "prac")
    assert web.get(f"/app/patients/{pid + 999}/consents/{form.id}.pdf").status_code == 404


def cf_actor() -> Any:
    from tests.consent_support import SIGNING_DESK

    return SIGNING_DESK


def test_withdrawal_is_recorded_and_charting_is_then_refused(
    web: TestClient, clinic_app: ClinicApp
) -> None:
    booked = book_visits(clinic_app, -HOUR)
    pid, appt = booked.patient_id, booked.appointments[0]
    form = cf.current_consent(clinic_app.db, pid, "treatment")
    assert form is not None
    sign_in(web, "desk")
    page = web.get(f"/app/patients/{pid}").text
    empty = web.post(
        f"/app/patients/{pid}/consents/{form.id}/withdraw",
        data={"csrf_token": csrf_from(page), "reason": " "},
        follow_redirects=False,
    )
    assert empty.status_code == 422
    done = web.post(
        f"/app/patients/{pid}/consents/{form.id}/withdraw",
        data={"csrf_token": csrf_from(page), "reason": "she phoned to withdraw"},
        follow_redirects=False,
    )
    assert done.status_code == 303
    page = web.get(f"/app/patients/{pid}").text
    assert 'class="consent-withdrawn"' in page
    assert "she phoned to withdraw" in page
    assert 'id="no-treatment-consent"' in page
    web.post("/logout", data={"csrf_token": csrf_from(page)})
    # the chart page says why and links to the signing screen; saving is refused
    sign_in(web, "prac")
    chart = web.get(f"/app/visits/{appt.id}/chart").text
    assert 'id="chart-needs-consent"' in chart
    assert "withdrew her treatment consent" in chart
    link = f"/app/patients/{pid}/consents/sign?kind=treatment&amp;next=/app/visits/{appt.id}/chart"
    assert link in chart
    saved = web.post(
        f"/app/visits/{appt.id}/chart",
        data={
            "csrf_token": csrf_from(chart),
            "areas": ["full_face"],
            "depth_full_face": "1.0",
            "device": "Dermapen 4",
            "passes": "3",
        },
        follow_redirects=False,
    )
    assert saved.status_code == 409
    assert 'id="chart-needs-consent"' in saved.text
    assert services.get_appointment(clinic_app.db, appt.id).status.value == "booked"
    # the API charting path refuses the same way
    api = web.post(
        f"/api/v1/appointments/{appt.id}/session", headers=bearer(clinic_app, "prac"), json=CHART
    )
    assert api.status_code == 409
    assert "treatment consent" in api.text
    # signing from the link comes back to the chart, which then saves
    back = _sign(web, pid, signature_png(), next=f"/app/visits/{appt.id}/chart")
    assert back.status_code == 303
    assert back.headers["location"].startswith(f"/app/visits/{appt.id}/chart?signed=treatment")
    assert 'id="chart-needs-consent"' not in web.get(f"/app/visits/{appt.id}/chart").text


def test_admins_edit_templates_as_new_versions(web: TestClient, clinic_app: ClinicApp) -> None:
    sign_in(web, "prac")
    assert web.get("/app/consent-templates", follow_redirects=False).status_code == 403
    page = web.get("/app/patients").text
    assert 'href="/app/consent-templates"' not in page
    web.post("/logout", data={"csrf_token": csrf_from(page)})
    sign_in(web, "admin")
    listing = web.get("/app/consent-templates")
    assert listing.status_code == 200
    assert 'href="/app/consent-templates">Consent forms</a>' in listing.text
    assert "/app/consent-templates/photo/v1" in listing.text
    editor = web.get("/app/consent-templates/treatment")
    token = csrf_from(editor.text)
    for title, body, field in (
        ("T", "", "body"),
        ("", "text", "title"),
        ("T", "x" * 20_001, "body"),
    ):
        refused = web.post(
            "/app/consent-templates/treatment",
            data={"csrf_token": token, "title": title, "body": body},
            follow_redirects=False,
        )
        assert refused.status_code == 422
        assert f"<strong>{field}</strong>" in refused.text
    saved = web.post(
        "/app/consent-templates/treatment",
        data={"csrf_token": token, "title": "Treatment consent", "body": "Plain new text."},
        follow_redirects=False,
    )
    assert saved.status_code == 303
    assert saved.headers["location"] == "/app/consent-templates/treatment?saved=2"
    old = web.get("/app/consent-templates/treatment/v1").text
    assert "an earlier version" in old
    assert "Consent to microneedling treatment" in old
    assert web.get("/app/consent-templates/treatment/v9").status_code == 404
    assert ("admin", "consent.template.save", None) in audit_actions(clinic_app.db)
    signing = web.get(f"/app/patients/{clinic_app.patient_id}/consents/sign").text
    assert "Plain new text." in signing
    assert "version 2" in signing


def test_the_bare_signing_view_shows_nothing_of_the_staff_workspace(
    web: TestClient, clinic_app: ClinicApp
) -> None:
    """``signing_view(chrome=False)``, as the portal link will render it for one patient."""
    from needleplan.web.routes.consents import signing_view

    patient = services.get_patient(clinic_app.db, clinic_app.patient_id)
    template = cf.latest_template(clinic_app.db, "photo")

    def portal(request: Request) -> Any:
        return signing_view(request, patient, template, "/portal/abc/consent", chrome=False)

    clinic_app.app.add_api_route("/portal-test", portal, include_in_schema=False)
    page = web.get("/portal-test")
    assert page.status_code == 200
    assert 'action="/portal/abc/consent"' in page.text
    assert 'id="signature-pad"' in page.text
    assert "Jane Doe" in page.text
    assert "/app/patients" not in page.text  # no staff navigation
    assert 'name="uses" value="marketing"' in page.text
