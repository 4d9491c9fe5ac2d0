"""Intake pages over HTTP: kiosk mode (start from the patient page by every role, only her form,
every other /app route refused, unlock with a staff password), the practitioner's review and
confirmation (the plan comes from the confirmed assessment), the portal form view, roles, CSRF
and the audit trail."""

from __future__ import annotations

import re
from typing import Any

import pytest
from fastapi.testclient import TestClient

from needleplan import services
from needleplan.services import intake
from needleplan.web.kiosk import KIOSK_PATHS
from tests.intake_support import CLEAR, RAISING

from .conftest import csrf_from
from .patients_fixtures import DB_PASSWORDS, ClinicApp, audit_actions, clinic_app, sign_in, web
from .test_hostile_ids import _walk

__all__ = ["clinic_app", "web"]


def _start_kiosk(web: TestClient, patient_id: int) -> Any:
    page = web.get(f"/app/patients/{patient_id}")
    assert page.status_code == 200
    assert f'action="/app/patients/{patient_id}/intake/kiosk"' in page.text
    return web.post(
        f"/app/patients/{patient_id}/intake/kiosk",
        data={"csrf_token": csrf_from(page.text)},
        follow_redirects=False,
    )


def _kiosk_form(web: TestClient) -> str:
    form = web.get("/app/kiosk")
    assert form.status_code == 200
    assert 'id="intake-form"' in form.text
    return form.text


def _send(web: TestClient, answers: dict[str, Any]) -> Any:
    token = csrf_from(web.get("/app/kiosk").text)
    return web.post("/app/kiosk", data={"csrf_token": token, **answers})


def _unlock(web: TestClient, username: str, password: str | None = None) -> Any:
    token = csrf_from(web.get("/app/kiosk/unlock").text)
    return web.post(
        "/app/kiosk/unlock",
        data={
            "csrf_token": token,
            "username": username,
            "password": password or DB_PASSWORDS[username],
        },
        follow_redirects=False,
    )


@pytest.mark.parametrize("role", ["desk", "prac", "admin"])
def test_every_role_starts_kiosk_mode_and_the_tablet_shows_only_her_form(
    web: TestClient, clinic_app: ClinicApp, role: str
) -> None:
    sign_in(web, role)
    started = _start_kiosk(web, clinic_app.patient_id)
    assert started.status_code == 303
    assert started.headers["location"] == "/app/kiosk"
    html = _kiosk_form(web)
    assert "Hello Jane." in html
    assert "Jane Doe" not in html  # her first name only
    assert "1976-04-02" not in html
    assert "jane@example.org" not in html
    for staff_link in ('href="/app/patients"', "Sign out", 'href="/app/calendar"', "/app/consult"):
        assert staff_link not in html
    assert 'href="/app/kiosk/unlock"' in html
    events = audit_actions(clinic_app.db, clinic_app.patient_id)
    assert (role, "intake.kiosk.start", clinic_app.patient_id) in events


def _app_paths(clinic_app: ClinicApp) -> list[tuple[str, str]]:
    """Every /app route of the app (path parameters filled with 1), once per method."""
    return [
        (method, re.sub(r"\{[^}]+\}", "1", path))
        for path, methods in _walk(clinic_app.app.routes)
        if path.startswith("/app") and path not in KIOSK_PATHS
        for method in sorted(methods - {"HEAD"})
    ]


def test_in_kiosk_mode_every_other_app_route_refuses_until_staff_unlock(
    web: TestClient, clinic_app: ClinicApp
) -> None:
    sign_in(web, "prac")
    _start_kiosk(web, clinic_app.patient_id)
    paths = _app_paths(clinic_app)
    assert len(paths) > 40  # the whole staff workspace, not a sample
    for method, path in paths:
        answer = web.request(method, path, follow_redirects=False)
        assert answer.status_code == 403, (method, path, answer.status_code)
        assert 'id="kiosk-locked"' in answer.text, (method, path)
        assert "Jane" not in answer.text
    # the login page and signing out cannot be used to leave it either
    assert web.get("/login", follow_redirects=True).status_code == 403
    token = csrf_from(web.get("/app/kiosk").text)
    assert web.post("/logout", data={"csrf_token": token}).status_code == 403
    wrong = _unlock(web, "prac", "not-the-password")
    assert wrong.status_code == 401
    assert web.get("/app/patients").status_code == 403
    done = _unlock(web, "prac")
    assert done.status_code == 303
    assert done.headers["location"] == f"/app/patients/{clinic_app.patient_id}"
    assert web.get("/app/patients").status_code == 200
    assert web.get("/app/kiosk", follow_redirects=False).headers["location"] == "/app/"
    assert ("prac", "intake.kiosk.unlock", clinic_app.patient_id) in audit_actions(
        clinic_app.db, clinic_app.patient_id
    )


def test_the_patient_sends_her_answers_refused_ones_are_named_then_thanks(
    web: TestClient, clinic_app: ClinicApp
) -> None:
    sign_in(web, "desk")
    _start_kiosk(web, clinic_app.patient_id)
    bad = _send(web, {**CLEAR, "smoking": "pipe", "goal": ""})
    assert bad.status_code == 422
    assert 'id="form-problems"' in bad.text
    assert "Do you smoke?</a>: must be one of never, former, current" in bad.text
    assert "What result are you hoping for?</a>: is required" in bad.text
    assert 'value="full_face" checked' in bad.text  # her other answers are kept
    assert intake.intake_summaries(clinic_app.db, clinic_app.patient_id) == []
    sent = _send(web, RAISING)
    assert sent.status_code == 200
    assert 'id="intake-thanks"' in sent.text
    again = web.get("/app/kiosk")
    assert 'id="intake-thanks"' in again.text  # the form is not offered twice
    twice = web.post("/app/kiosk", data={"csrf_token": csrf_from(bad.text), **CLEAR})
    assert 'id="intake-thanks"' in twice.text
    (summary,) = intake.intake_summaries(clinic_app.db, clinic_app.patient_id)
    assert summary.status.value == "draft"
    assert summary.channel.value == "kiosk"
    with clinic_app.db.transaction() as uow:
        stored = uow.intake.get(summary.id)
    assert stored.answers == RAISING  # exactly as submitted
    assert stored.questionnaire_version == services.intake.load_questionnaire().version
    assert stored.submitted_by == "desk"
    assert ("desk", "intake.submit", clinic_app.patient_id) in audit_actions(
        clinic_app.db, clinic_app.patient_id
    )
    # nothing became an assessment
    assert len(services.assessment_history(clinic_app.db, clinic_app.patient_id)) == 1


def test_csrf_is_checked_on_start_send_and_unlock(web: TestClient, clinic_app: ClinicApp) -> None:
    sign_in(web, "desk")
    refused = web.post(f"/app/patients/{clinic_app.patient_id}/intake/kiosk", data={})
    assert refused.status_code == 403
    _start_kiosk(web, clinic_app.patient_id)
    assert web.post("/app/kiosk", data=CLEAR).status_code == 403
    assert web.post("/app/kiosk/unlock", data={"username": "desk"}).status_code == 403
    assert intake.intake_summaries(clinic_app.db, clinic_app.patient_id) == []


def test_another_member_of_staff_unlocks_and_is_signed_in_to_review(
    web: TestClient, clinic_app: ClinicApp
) -> None:
    sign_in(web, "desk")
    _start_kiosk(web, clinic_app.patient_id)
    _send(web, RAISING)
    done = _unlock(web, "prac")
    assert done.status_code == 303
    (summary,) = intake.intake_summaries(clinic_app.db, clinic_app.patient_id)
    assert done.headers["location"] == f"/app/intake/{summary.id}"
    page = web.get(done.headers["location"])
    assert page.status_code == 200
    assert " · practitioner</span>" in page.text
    assert 'id="intake-confirm"' in page.text  # signed in as the practitioner now


def _sent(clinic_app: ClinicApp, answers: dict[str, Any]) -> int:
    return intake.submit_intake(clinic_app.db, clinic_app.patient_id, answers, channel="portal").id


def test_only_a_practitioner_reviews_and_the_front_desk_sees_the_status_only(
    web: TestClient, clinic_app: ClinicApp
) -> None:
    rid = _sent(clinic_app, RAISING)
    sign_in(web, "desk")
    page = web.get(f"/app/patients/{clinic_app.patient_id}").text
    assert f'data-intake="{rid}"' in page
    assert "awaiting review" in page
    assert f'href="/app/intake/{rid}"' not in page
    assert web.get(f"/app/intake/{rid}").status_code == 403
    assert web.post(f"/app/intake/{rid}/confirm", data={}).status_code == 403
    web.post("/logout", data={"csrf_token": csrf_from(page)})
    sign_in(web, "admin")
    assert web.get(f"/app/intake/{rid}").status_code == 403
    events = audit_actions(clinic_app.db)
    assert ("desk", "access.refused", None) in events
    assert not any(a == "intake.read" for _, a, _ in events)


def test_the_practitioner_reviews_edits_and_confirms_and_the_plan_comes_from_it(
    web: TestClient, clinic_app: ClinicApp
) -> None:
    rid = _sent(clinic_app, RAISING)
    sign_in(web, "prac")
    page = web.get(f"/app/intake/{rid}")
    assert page.status_code == 200
    text = page.text
    assert 'data-code="keloid_tendency"' in text
    assert "relative contraindication" in text
    assert 'data-question="smoking"' in text
    assert "I smoke now" in text
    assert '<option value="current" selected>' in text
    assert 'name="contraindications" value="keloid_tendency" checked' in text
    assert 'name="conditions" value="diabetes" checked' in text
    csrf = csrf_from(text)
    form: dict[str, Any] = {
        "csrf_token": csrf,
        "goal": "maximal",
        "smoking": "current",
        "sun_exposure": "high",
        "repair_capacity": "normal",
        "diet": "average",
        "aftercare": "good",
        "spf_habit": "no",
        "sun_damage_history": "yes",
        "areas": ["full_face", "neck"],
        "conditions": ["diabetes"],
        "contraindications": ["keloid_tendency"],
        "fitzpatrick_type": "2",
    }
    missing = web.post(f"/app/intake/{rid}/confirm", data=form)
    assert missing.status_code == 422
    assert "severity is required unless glogau_class is given" in missing.text
    assert len(services.assessment_history(clinic_app.db, clinic_app.patient_id)) == 1
    done = web.post(
        f"/app/intake/{rid}/confirm",
        data={**form, "severity": "advanced", "notes": "checked the keloid history"},
        follow_redirects=False,
    )
    assert done.status_code == 303
    shown = web.get(done.headers["location"]).text
    with clinic_app.db.transaction() as uow:
        made = uow.intake.get(rid).assessment_id
    history = services.assessment_history(clinic_app.db, clinic_app.patient_id)
    newest = next(r for r in history if r.id == made)
    assert newest.assessment.severity is not None
    assert newest.assessment.severity.value == "advanced"
    assert newest.assessment.fitzpatrick_type == 2
    assert [c.value for c in newest.assessment.contraindications] == ["keloid_tendency"]
    assert newest.notes.startswith(f"From intake {rid}")
    assert f"Confirmed: assessment #{newest.id}" in shown
    sessions = int(re.search(r'id="plan-sessions">(\d+)<', shown).group(1))  # type: ignore[union-attr]
    assert 8 <= sessions <= 12  # several raising factors: the difficult tier
    assert 'id="plan-difficult">yes<' in shown
    assert f'href="/app/booking?patient_id={clinic_app.patient_id}"' in shown
    assert 'id="intake-confirm"' not in shown
    again = web.post(f"/app/intake/{rid}/confirm", data={**form, "csrf_token": csrf_from(shown)})
    assert again.status_code == 409
    assert "already confirmed" in again.text
    events = audit_actions(clinic_app.db, clinic_app.patient_id)
    assert ("prac", "intake.read", clinic_app.patient_id) in events
    assert ("prac", "intake.confirm", clinic_app.patient_id) in events


def test_a_draft_with_an_absolute_contraindication_gives_a_blocked_plan_once_confirmed(
    web: TestClient, clinic_app: ClinicApp
) -> None:
    rid = _sent(clinic_app, {**CLEAR, "isotretinoin": "yes"})
    sign_in(web, "prac")
    text = web.get(f"/app/intake/{rid}").text
    assert 'data-kind="absolute" data-code="isotretinoin_recent"' in text
    done = web.post(
        f"/app/intake/{rid}/confirm",
        data={
            "csrf_token": csrf_from(text),
            "severity": "moderate",
            "spf_habit": "yes",
            "sun_damage_history": "no",
            "areas": ["full_face"],
            "contraindications": ["isotretinoin_recent"],
        },
    )
    assert done.status_code == 200
    assert 'id="plan-blocked"' in done.text
    assert "Isotretinoin" in done.text


def test_unknown_intake_is_404_and_hostile_ids_are_refused(
    web: TestClient, clinic_app: ClinicApp
) -> None:
    sign_in(web, "prac")
    assert web.get("/app/intake/999").status_code == 404
    assert web.get("/app/intake/0").status_code == 422
    assert web.get("/app/intake/99999999999999").status_code == 422
    assert web.get("/app/intake/abc").status_code == 422


def test_the_portal_view_renders_and_stores_without_staff_chrome(
    clinic_app: ClinicApp,
) -> None:
    """/p/<token>/intake serves these two functions through her intake link."""
    from needleplan.services.portal_links import issue_link

    app = clinic_app.app
    pid = clinic_app.patient_id
    tok, _ = issue_link(clinic_app.db, None, pid, "intake")

    with TestClient(app) as client:  # nobody signed in
        page = client.get(f"/p/{tok}/intake")
        assert page.status_code == 200
        assert f'action="/p/{tok}/intake"' in page.text
        assert "Sign out" not in page.text
        assert "unlock" not in page.text
        token = csrf_from(page.text)
        bad = client.post(f"/p/{tok}/intake", data={"csrf_token": token, "keloid": "yes"})
        assert bad.status_code == 422
        sent = client.post(f"/p/{tok}/intake", data={"csrf_token": token, **CLEAR})
        assert sent.status_code == 200
        assert 'id="intake-thanks"' in sent.text
        assert client.post(f"/p/{tok}/intake", data=CLEAR).status_code == 403  # no CSRF
    (summary,) = intake.intake_summaries(clinic_app.db, pid)
    assert summary.channel.value == "portal"
    assert ("portal", "intake.submit", pid) in audit_actions(clinic_app.db, pid)


def test_without_a_session_the_intake_routes_send_to_sign_in_or_refuse(
    web: TestClient, clinic_app: ClinicApp
) -> None:
    assert web.get("/app/kiosk", follow_redirects=False).headers["location"] == "/app/"
    assert web.get("/app/kiosk/unlock", follow_redirects=False).status_code == 303
    start = web.post(
        f"/app/patients/{clinic_app.patient_id}/intake/kiosk", data={}, follow_redirects=False
    )
    assert start.status_code == 303
    assert start.headers["location"].startswith("/login")
    review = web.get("/app/intake/1", follow_redirects=False)
    assert review.status_code == 303
    assert review.headers["location"].startswith("/login")
    token = csrf_from(web.get("/login").text)
    sent = web.post("/app/kiosk", data={"csrf_token": token, **CLEAR}, follow_redirects=False)
    assert sent.headers["location"] == "/app/"
    assert intake.intake_summaries(clinic_app.db, clinic_app.patient_id) == []
