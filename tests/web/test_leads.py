"""Contact requests: mark handled, register as a patient (prefilled, linked), delete on request,
automatic deletion after the clinic's retention period (service, worker pass and CLI)."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from needleplan import services
from needleplan.domain.records import Lead
from needleplan.exceptions import InputError, NotFoundError, StateError
from needleplan.web.leads import make_lead

from . import booking_support
from .booking_support import Clinic, born_aged, signed_in
from .conftest import TestClient, csrf_from

backend = booking_support.backend
site = booking_support.site
web = booking_support.web


def _lead(db: Any, name: str = "Vera Visitor", days_ago: float = 0) -> Lead:
    lead = make_lead(
        name=name,
        email="vera@example.org",
        phone="+49 30 5550100",
        message="Please call",
        estimate_summary="4-6 sessions",
        consent=True,
        now=datetime.now(UTC) - timedelta(days=days_ago),
    )
    services.add_lead(db, lead)
    return lead


def test_mark_handled_moves_it_out_of_the_new_list(web: TestClient, site: Clinic) -> None:
    lead = _lead(site.db)
    signed_in(web, "desk")
    page = web.get("/app/leads").text
    assert "Vera Visitor" in page
    assert "new (1)" in page
    response = web.post(
        f"/app/leads/{lead.public_id}/handled",
        data={"csrf_token": csrf_from(page), "show": "new"},
        follow_redirects=False,
    )
    assert response.status_code == 303
    assert response.headers["location"] == "/app/leads?show=new&done=handled#leads"
    assert "Vera Visitor" not in web.get("/app/leads").text
    handled = web.get("/app/leads?show=handled").text
    assert "Vera Visitor" in handled
    assert "desk" in handled  # who handled it
    assert services.get_lead(site.db, lead.public_id).status == "handled"
    (event,) = services.search_audit(site.db, action="lead.handled")[0]
    assert event.detail.startswith(f"lead {lead.public_id}")
    assert "Vera" not in event.detail


def test_register_as_patient_prefills_the_form_and_links_the_request(
    web: TestClient, site: Clinic
) -> None:
    lead = _lead(site.db)
    signed_in(web, "desk")
    form = web.get(f"/app/patients/new?lead={lead.public_id}").text
    assert 'value="Vera"' in form
    assert 'value="Visitor"' in form
    assert 'value="vera@example.org"' in form
    assert f'name="lead" value="{lead.public_id}"' in form
    response = web.post(
        "/app/patients/new",
        data={
            "csrf_token": csrf_from(form),
            "given_name": "Vera",
            "family_name": "Visitor",
            "birth_date": born_aged(45),
            "email": "vera@example.org",
            "consent_treatment": "1",
            "lead": lead.public_id,
        },
        follow_redirects=False,
    )
    assert response.status_code == 303
    patient_id = int(response.headers["location"].rsplit("/", 1)[1])
    linked = services.get_lead(site.db, lead.public_id)
    assert (linked.status, linked.patient_id) == ("converted", patient_id)
    converted = web.get("/app/leads?show=converted").text
    assert f'href="/app/patients/{patient_id}"' in converted
    (event,) = services.search_audit(site.db, action="lead.convert")[0]
    assert event.patient_id == patient_id
    # the same request cannot become a second patient
    again = web.post(
        "/app/patients/new",
        data={
            "csrf_token": csrf_from(form),
            "given_name": "Vera",
            "family_name": "Other",
            "birth_date": born_aged(40),
            "consent_treatment": "1",
            "lead": lead.public_id,
        },
    )
    assert again.status_code == 409  # StateError: nothing stored, the registration rolled back
    with site.db.transaction() as uow:
        assert uow.patients.count() == 1


def test_a_failed_registration_keeps_the_request_unlinked(web: TestClient, site: Clinic) -> None:
    lead = _lead(site.db)
    signed_in(web, "desk")
    form = web.get(f"/app/patients/new?lead={lead.public_id}").text
    response = web.post(
        "/app/patients/new",
        data={"csrf_token": csrf_from(form), "given_name": "Vera", "lead": lead.public_id},
    )
    assert response.status_code == 422
    assert f'name="lead" value="{lead.public_id}"' in response.text  # still converting
    assert services.get_lead(site.db, lead.public_id).status == "new"


def test_delete_on_request_is_audited_without_the_name(web: TestClient, site: Clinic) -> None:
    lead = _lead(site.db)
    signed_in(web, "prac")
    token = csrf_from(web.get("/app/leads").text)
    no_token = web.post(f"/app/leads/{lead.public_id}/delete")
    assert no_token.status_code == 403
    response = web.post(
        f"/app/leads/{lead.public_id}/delete", data={"csrf_token": token}, follow_redirects=False
    )
    assert response.status_code == 303
    assert services.list_leads(site.db) == []
    (event,) = services.search_audit(site.db, action="lead.delete")[0]
    assert event.detail.startswith(f"lead {lead.public_id}")
    assert "Vera" not in event.detail
    gone = web.post(f"/app/leads/{lead.public_id}/delete", data={"csrf_token": token})
    assert gone.status_code == 404
    hostile = web.post("/app/leads/..%2F..%2Fetc/delete", data={"csrf_token": token})
    assert hostile.status_code in (404, 422)


@pytest.mark.parametrize("username", ["admin", "prac", "desk"])
def test_every_role_with_contacts_works_the_list(web: TestClient, username: str) -> None:
    signed_in(web, username)
    assert web.get("/app/leads").status_code == 200
    assert web.get("/app/leads?show=all").status_code == 200
    assert web.get("/app/leads?show=spam").status_code == 422


def test_lead_actions_need_a_sign_in(web: TestClient, site: Clinic) -> None:
    lead = _lead(site.db)
    for action in ("handled", "delete"):
        response = web.post(f"/app/leads/{lead.public_id}/{action}", follow_redirects=False)
        assert response.status_code == 303
        assert response.headers["location"].startswith("/login")
    assert services.get_lead(site.db, lead.public_id).status == "new"


def test_purge_deletes_only_requests_past_retention(site: Clinic) -> None:
    old = _lead(site.db, "Old Request", days_ago=200)
    new = _lead(site.db, "New Request", days_ago=10)
    services.mark_lead_handled(site.db, _admin(), old.public_id)
    assert services.purge_leads(site.db, 180) == 1
    assert [lead.public_id for lead in services.list_leads(site.db)] == [new.public_id]
    (event,) = services.search_audit(site.db, action="lead.purge")[0]
    assert event.username == "system"
    assert event.detail.startswith("deleted=1 received before")
    # nothing due: nothing deleted, nothing written
    assert services.purge_leads(site.db, 180) == 0
    assert services.search_audit(site.db, action="lead.purge")[1] == 1
    with pytest.raises(InputError) as info:
        services.purge_leads(site.db, 0)
    assert info.value.problems[0].field == "lead_retention_days"


def test_a_converted_request_is_not_marked_handled(site: Clinic) -> None:
    lead = _lead(site.db)
    p = site.patient("Vera", "Visitor")
    services.link_lead_to_patient(site.db, _admin(), lead.public_id, p.id)
    with pytest.raises(StateError):
        services.mark_lead_handled(site.db, _admin(), lead.public_id)
    with pytest.raises(NotFoundError):
        services.get_lead(site.db, "0123456789abcdef")
    with pytest.raises(InputError):
        services.get_lead(site.db, "../x")


def _admin() -> Any:
    from needleplan.domain.records import Role, User

    return User(id=0, username="owner", role=Role.ADMIN, created_at=datetime.now(UTC))


def test_the_leads_page_names_the_retention_period(web: TestClient) -> None:
    signed_in(web, "desk")
    page = web.get("/app/leads").text
    assert re.search(r"deleted automatically 180 days after they arrive", page)


def test_each_worker_pass_purges_requests_past_the_clinic_retention(site: Clinic) -> None:
    """The worker loop (``needleplan worker``) deletes them on its pass, by the calendar in force
    (here 30 days)."""
    import threading

    from needleplan.services.messaging.worker import run_forever

    _lead(site.db, "Old Request", days_ago=40)
    _lead(site.db, "New Request", days_ago=10)
    stop = threading.Event()
    short = site.clinic.model_copy(update={"lead_retention_days": 30})

    def clinic_of() -> Any:
        stop.set()  # one pass only
        return short

    run_forever(site.db, clinic_of, stop, interval_s=1.0)
    assert [lead.name for lead in services.list_leads(site.db)] == ["New Request"]


def test_today_lists_only_requests_nobody_handled_yet(web: TestClient, site: Clinic) -> None:
    waiting = _lead(site.db, "Waiting Person", days_ago=1)
    answered = _lead(site.db, "Answered Person", days_ago=1)
    services.mark_lead_handled(site.db, _admin(), answered.public_id)
    signed_in(web, "desk")
    home = web.get("/app/").text
    assert waiting.name in home
    assert answered.name not in home
    assert "New contact requests (1)" in home


@pytest.mark.parametrize("username", ["admin", "prac", "desk"])
def test_every_role_marks_handled_and_deletes(web: TestClient, site: Clinic, username: str) -> None:
    one, two = _lead(site.db, "First Person"), _lead(site.db, "Second Person")
    signed_in(web, username)
    token = csrf_from(web.get("/app/leads").text)
    ok = web.post(f"/app/leads/{one.public_id}/handled", data={"csrf_token": token})
    assert ok.status_code == 200
    assert web.post(f"/app/leads/{two.public_id}/delete", data={"csrf_token": token}).is_success
    assert [(lead.name, lead.status) for lead in services.list_leads(site.db)] == [
        ("First Person", "handled")
    ]
