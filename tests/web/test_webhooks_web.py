"""The admin webhook pages: add (validated, secret shown once), list, remove, delivery log."""

from __future__ import annotations

import re

from needleplan.scheduling import example_clinic
from needleplan.services.messaging.config import MessagingConfig
from needleplan.services.messaging.worker import run_once
from needleplan.services.webhooks import list_endpoints
from tests.messaging_support import MORNING
from tests.webhook_support import SECRET, Receiver, webhook_receiver

from . import booking_support
from .booking_support import Clinic, signed_in
from .conftest import TestClient

backend = booking_support.backend
site = booking_support.site
web = booking_support.web
__all__ = ["webhook_receiver"]


def test_admin_adds_an_endpoint_and_reads_its_delivery_log(
    web: TestClient, site: Clinic, webhook_receiver: Receiver
) -> None:
    token = signed_in(web, "admin")
    assert 'href="/app/admin/webhooks"' in web.get("/app/").text
    page = web.post(
        "/app/admin/webhooks",
        data={
            "csrf_token": token,
            "url": webhook_receiver.url,
            "events": ["patient.created", "appointment.cancelled"],
            "secret": SECRET,
        },
    )
    assert page.status_code == 200
    assert f'<code id="webhook-secret">{SECRET}</code>' in page.text
    listing = web.get("/app/admin/webhooks").text
    assert SECRET not in listing
    assert "…" + SECRET[-4:] in listing
    assert "appointment.cancelled, patient.created" in listing
    (endpoint,) = list_endpoints(site.db, None)
    # Registering a patient through the staff page emits the event.
    created = web.post(
        "/app/patients/new",
        data={
            "csrf_token": token,
            "given_name": "Hanna",
            "family_name": "Hook",
            "birth_date": "1975-05-05",
            "consent_treatment": "on",
        },
        follow_redirects=False,
    )
    assert created.status_code == 303, created.text[:500]
    run_once(site.db, example_clinic(), now=MORNING, config=MessagingConfig())
    (got,) = webhook_receiver.received
    assert got["signed"]
    assert got["body"]["event"] == "patient.created"
    log = web.get(f"/app/admin/webhooks/{endpoint.id}")
    assert log.status_code == 200
    assert 'data-status="sent"' in log.text
    assert "<td>200</td>" in log.text
    removed = web.post(
        f"/app/admin/webhooks/{endpoint.id}/remove",
        data={"csrf_token": token},
        follow_redirects=False,
    )
    assert removed.status_code == 303
    assert list_endpoints(site.db, None) == []


def test_a_bad_address_comes_back_named_and_nothing_is_added(web: TestClient, site: Clinic) -> None:
    token = signed_in(web, "admin")
    page = web.post(
        "/app/admin/webhooks",
        data={"csrf_token": token, "url": "gopher://x.example", "events": ["patient.created"]},
    )
    assert page.status_code == 422
    assert re.search(r"<strong>url</strong>.*http:// or https://", page.text)
    none = web.post("/app/admin/webhooks", data={"csrf_token": token, "url": "https://x.example/h"})
    assert none.status_code == 422
    assert "<strong>events</strong>" in none.text
    assert list_endpoints(site.db, None) == []


def test_only_admins_and_only_with_a_form_token(web: TestClient, site: Clinic) -> None:
    signed_in(web, "desk")
    assert web.get("/app/admin/webhooks").status_code == 403
    admin_token = signed_in(web, "admin")
    forged = web.post(
        "/app/admin/webhooks",
        data={"url": "https://x.example/h", "events": ["patient.created"]},
    )
    assert forged.status_code == 403
    assert admin_token
    assert web.get("/app/admin/webhooks/999").status_code == 404
    assert web.get("/app/admin/webhooks/99999999999").status_code == 422
