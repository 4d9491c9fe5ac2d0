"""Signing a consent form at home through her link: staff make the link on her page, she signs
on /p/<token>/consent (the same PDF and SHA-256 as in the clinic, device "portal link", audited
as patient-link), one signature per link; used, expired and revoked links get the portal's
plain pages; CSRF, roles, her language and hostile input."""

from __future__ import annotations

import base64
import hashlib
import re
import zlib
from datetime import timedelta

import pytest
from fastapi.testclient import TestClient

from needleplan.services import consent_forms as cf
from needleplan.services.consent_links import issue_consent_link
from needleplan.services.portal_links import revoke_link
from tests.consent_support import blank_png, signature_png

from .conftest import csrf_from
from .patients_fixtures import ClinicApp, audit_actions, clinic_app, sign_in, web

__all__ = ["clinic_app", "web"]


def _data_url(png: bytes) -> str:
    return "data:image/png;base64," + base64.b64encode(png).decode()


def _link_from_page(web: TestClient, pid: int, kind: str) -> str:
    page = web.get(f"/app/patients/{pid}")
    made = web.post(
        f"/app/patients/{pid}/consents/link",
        data={"csrf_token": csrf_from(page.text), "kind": kind},
        follow_redirects=False,
    )
    assert made.status_code == 303, made.text
    shown = web.get(made.headers["location"])
    match = re.search(r"p/([A-Za-z0-9_-]{43})/consent", shown.text)
    assert match, shown.text
    assert f"sign the {kind} consent at home" in shown.text
    return match.group(1)


def test_staff_make_a_link_and_she_signs_the_same_pdf_at_home(
    web: TestClient, clinic_app: ClinicApp
) -> None:
    pid = clinic_app.patient_id
    sign_in(web, "desk")
    token = _link_from_page(web, pid, "photo")
    with TestClient(clinic_app.app) as her:  # nobody signed in
        page = her.get(f"/p/{token}/consent", headers={"user-agent": "HerPhone/1.0"})
        assert page.status_code == 200
        assert 'id="consent-uses"' in page.text  # a photo consent with its uses
        assert f'action="/p/{token}/consent"' in page.text
        assert "Sign out" not in page.text
        assert "/app/" not in page.text
        csrf = csrf_from(page.text)
        empty = her.post(
            f"/p/{token}/consent", data={"csrf_token": csrf, "signature": _data_url(blank_png())}
        )
        assert empty.status_code == 422
        assert "signature" in empty.text
        assert "is empty" in empty.text
        done = her.post(
            f"/p/{token}/consent",
            data={
                "csrf_token": csrf,
                "signature": _data_url(signature_png()),
                "uses": ["teaching"],
            },
            headers={"user-agent": "HerPhone/1.0"},
        )
        assert done.status_code == 200, done.text
        assert 'id="consent-done"' in done.text
        digest = re.search(r'data-sha256="([0-9a-f]{64})"', done.text)
        assert digest
        again = her.get(f"/p/{token}/consent")
        assert again.status_code == 410
        assert 'data-reason="used"' in again.text
        twice = her.post(
            f"/p/{token}/consent",
            data={"csrf_token": csrf, "signature": _data_url(signature_png())},
        )
        assert twice.status_code == 410
    form = cf.current_consent(clinic_app.db, pid, "photo")
    assert form is not None
    assert form.sha256 == digest.group(1)
    assert form.device == "portal link (HerPhone/1.0)"
    assert form.recorded_by == "patient-link"
    assert {u.value for u in form.uses} == {"record", "teaching"}
    _, pdf = cf.consent_pdf_of(clinic_app.db, _prac(clinic_app), pid, form.id)
    assert hashlib.sha256(pdf).hexdigest() == form.sha256
    text = _pdf_text(pdf)
    assert "Device: portal link (HerPhone/1.0)" in text
    assert "Witnessed by: nobody (signed through her own portal link)" in text
    actions = audit_actions(clinic_app.db, pid)
    assert ("patient-link", "consent.sign", pid) in actions
    assert ("patient-link", "consent.link.open", pid) in actions
    assert ("desk", "portal.link.issue", pid) in actions
    forms = cf.consent_forms_of(clinic_app.db, _prac(clinic_app), pid)
    assert len([f for f in forms if f.kind.value == "photo"]) == 1  # one signature per link


def _pdf_text(pdf: bytes) -> str:
    """The text drawn in a PDF's (deflated) content streams, core fonts only."""
    out = []
    for raw in re.findall(rb"stream\r?\n(.*?)\r?\nendstream", pdf, re.S):
        try:
            out.append(zlib.decompress(raw).decode("latin-1"))
        except zlib.error:
            continue
    drawn = "".join(re.findall(r"\((.*?)(?<!\\)\) ?Tj", "\n".join(out)))
    return re.sub(r"\\([()\\])", r"\1", drawn)


def _prac(clinic_app: ClinicApp):  # type: ignore[no-untyped-def]
    from needleplan import services

    user = services.find_user(clinic_app.db, clinic_app.user_ids["prac"])
    assert user is not None
    return user


def test_expired_revoked_unknown_and_wrong_purpose_links_get_plain_pages(
    clinic_app: ClinicApp, monkeypatch: pytest.MonkeyPatch
) -> None:
    from needleplan.services._clock import utc_now
    from needleplan.services.portal_links import issue_link

    db, pid = clinic_app.db, clinic_app.patient_id
    old, _ = issue_consent_link(db, None, pid, "treatment")
    revoked, link = issue_consent_link(db, None, pid, "treatment")
    revoke_link(db, None, link.id)
    intake, _ = issue_link(db, None, pid, "intake")
    with TestClient(clinic_app.app) as her:
        assert her.get(f"/p/{revoked}/consent").status_code == 410
        assert her.get(f"/p/{intake}/consent").status_code == 403
        assert her.get("/p/" + "x" * 43 + "/consent").status_code == 404
        assert her.get("/p/%00%2F..%2F/consent").status_code in (404, 422)
        monkeypatch.setenv("NEEDLEPLAN_NOW", (utc_now() + timedelta(days=15)).isoformat())
        expired = her.get(f"/p/{old}/consent")
        assert expired.status_code == 410
        assert 'data-reason="expired"' in expired.text
    assert cf.current_consent(db, pid, "treatment") is None or all(
        f.recorded_by != "patient-link" for f in cf.consent_forms_of(db, _prac(clinic_app), pid)
    )


def test_the_link_button_checks_csrf_kind_and_needs_a_signed_in_account(
    web: TestClient, clinic_app: ClinicApp
) -> None:
    pid = clinic_app.patient_id
    anon = web.post(
        f"/app/patients/{pid}/consents/link", data={"kind": "treatment"}, follow_redirects=False
    )
    assert anon.status_code in (303, 401, 403)
    sign_in(web, "prac")
    page = web.get(f"/app/patients/{pid}")
    no_csrf = web.post(f"/app/patients/{pid}/consents/link", data={"kind": "treatment"})
    assert no_csrf.status_code == 403
    bad = web.post(
        f"/app/patients/{pid}/consents/link",
        data={"csrf_token": csrf_from(page.text), "kind": "tattoo"},
    )
    assert bad.status_code == 422
    assert "kind" in bad.text
    missing = web.post(
        "/app/patients/999999/consents/link",
        data={"csrf_token": csrf_from(page.text), "kind": "treatment"},
    )
    assert missing.status_code == 404


def test_her_page_speaks_her_language(clinic_app: ClinicApp) -> None:
    from needleplan import services

    db, pid = clinic_app.db, clinic_app.patient_id
    services.update_patient(db, pid, {"language": "de"})
    token, _ = issue_consent_link(db, None, pid, "treatment")
    with TestClient(clinic_app.app) as her:
        page = her.get(f"/p/{token}/consent")
        assert page.status_code == 200
        assert 'lang="de"' in page.text
        assert "Ich stimme zu und unterschreibe" in page.text
        english = her.get(f"/p/{token}/consent?lang=en")
        assert "I agree and sign" in english.text


def test_send_her_the_link_buttons_queue_a_message_of_their_own_kind(
    web: TestClient, clinic_app: ClinicApp
) -> None:
    from needleplan import services

    db, pid = clinic_app.db, clinic_app.patient_id
    services.update_patient(db, pid, {"email": "jane@example.org"})
    sign_in(web, "desk")
    page = web.get(f"/app/patients/{pid}")
    assert 'id="intake-link-send"' in page.text
    assert 'id="consent-link-send"' in page.text
    csrf = csrf_from(page.text)
    sent = web.post(
        f"/app/patients/{pid}/consents/link/send",
        data={"csrf_token": csrf, "kind": "treatment"},
        follow_redirects=False,
    )
    assert sent.status_code == 303
    assert "link_sent=consent" in sent.headers["location"]
    assert 'id="link-sent"' in web.get(sent.headers["location"]).text
    intake = web.post(
        f"/app/patients/{pid}/intake/link/send", data={"csrf_token": csrf}, follow_redirects=False
    )
    assert intake.status_code == 303
    assert 'id="intake-link-sent"' in web.get(intake.headers["location"]).text
    assert web.post(f"/app/patients/{pid}/intake/link/send", data={}).status_code == 403
    with db.transaction() as uow:
        kinds = sorted(m.kind.value for m in uow.outbox.for_patient(pid))
    assert [k for k in kinds if k.endswith("_link")] == ["consent_link", "intake_link"]
    actions = audit_actions(db, pid)
    assert actions.count(("desk", "portal.link.send", pid)) == 2
