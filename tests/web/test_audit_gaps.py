"""Issue 17 L3: the audit gaps a review found are closed: the course ``.ics`` download, the
contact requests page and refused attempts (a page or an API call the role may not make, a
read-only token trying to write) each leave an audit event."""

from __future__ import annotations

from typing import Any

from needleplan import services

from . import booking_support
from .booking_support import Clinic, book_json, new_patient_body, signed_in
from .conftest import TestClient

backend = booking_support.backend
site = booking_support.site
web = booking_support.web


def _events(site: Clinic, action: str) -> list[Any]:
    events, _ = services.search_audit(site.db, limit=200)
    return [e for e in events if e.action == action]


def test_the_course_calendar_download_is_audited_on_her_record(
    web: TestClient, site: Clinic
) -> None:
    token = signed_in(web, "prac")
    data = book_json(web, token, new_patient_body()).json()
    assert web.get(data["ics_url"]).status_code == 200
    [event] = _events(site, "course.export")
    assert "user=prac" in event.detail  # the in-memory test account, named in the detail
    with site.db.transaction() as uow:
        assert event.patient_id == uow.courses.get(data["course_id"]).patient_id
    assert f"course {data['course_id']} ics" in event.detail


def test_the_contact_requests_page_is_audited(web: TestClient, site: Clinic) -> None:
    signed_in(web, "desk")
    assert web.get("/app/leads").status_code == 200
    [event] = _events(site, "lead.list")
    assert "contact requests shown=0" in event.detail


def test_a_refused_page_is_on_the_audit_trail(web: TestClient, site: Clinic) -> None:
    signed_in(web, "desk")
    assert web.get("/app/consult").status_code == 403
    [event] = _events(site, "access.refused")
    assert "attempted GET /app/consult" in event.detail
    assert "user=desk" in event.detail
