"""Outbound webhooks: events written with their change, signed, delivered and retried by the
worker against a loopback receiver that checks the HMAC."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from needleplan import services
from needleplan.exceptions import InputError, PermissionDeniedError
from needleplan.scheduling import example_clinic
from needleplan.services.audit import audited
from needleplan.services.messaging.config import MessagingConfig
from needleplan.services.messaging.webhooks import event_ids
from needleplan.services.messaging.worker import run_once
from needleplan.services.webhooks import (
    add_endpoint,
    delivery_log,
    list_endpoints,
    remove_endpoint,
)
from tests.webhook_support import SECRET, Receiver, webhook_receiver

__all__ = ["webhook_receiver"]

NOW = datetime(2030, 8, 20, 8, 0, tzinfo=UTC)
CONFIG = MessagingConfig(retry_base_s=60)


def _new_patient(db: Any, name: str = "Erika") -> int:
    with audited(db, None, "patient.create") as note:
        patient = services.register_patient(
            db,
            {
                "given_name": name,
                "family_name": "Muster",
                "birth_date": "1980-01-02",
                "consent_treatment": True,
            },
        )
        note.patient_id = patient.id
    return patient.id


@pytest.mark.parametrize(
    ("url", "rule"),
    [
        ("ftp://example.org/hook", "http:// or https://"),
        ("javascript:alert(1)", "http:// or https://"),
        ("https:///nohost", "must name a host"),
        ("https://user:pw@example.org/", "user name or password"),
        ("https://example.org:99999/", "valid port"),
        ("", "1 to 2000"),
    ],
)
def test_a_bad_url_is_refused_naming_the_field_and_the_rule(
    clinic: Any, url: str, rule: str
) -> None:
    with pytest.raises(InputError) as err:
        add_endpoint(clinic.db, None, url, ["patient.created"])
    assert err.value.problems[0].field == "url"
    assert rule in err.value.message
    assert list_endpoints(clinic.db, None) == []


def test_unknown_events_and_short_secrets_are_refused(clinic: Any) -> None:
    with pytest.raises(InputError, match=r"events.*must be one of"):
        add_endpoint(clinic.db, None, "https://example.org/h", ["patient.deleted"])
    with pytest.raises(InputError, match="events"):
        add_endpoint(clinic.db, None, "https://example.org/h", [])
    with pytest.raises(InputError, match="secret"):
        add_endpoint(clinic.db, None, "https://example.org/h", "patient.created", secret="short")


def test_only_admins_manage_webhooks(clinic: Any) -> None:
    desk = services.create_user(clinic.db, "desk", "correct horse battery", "front_desk")
    with pytest.raises(PermissionDeniedError):
        add_endpoint(clinic.db, desk, "https://example.org/h", "patient.created")
    admin = services.create_user(clinic.db, "owner", "correct horse battery", "admin")
    endpoint = add_endpoint(clinic.db, admin, "https://example.org/h", "patient.created")
    assert [e.id for e in list_endpoints(clinic.db, admin)] == [endpoint.id]
    assert len(endpoint.secret) >= 32  # made for her when none is given


def test_a_new_patient_reaches_the_receiver_signed_with_ids_only(
    clinic: Any, webhook_receiver: Receiver
) -> None:
    endpoint = add_endpoint(
        clinic.db,
        None,
        webhook_receiver.url,
        "patient.created, measurement.recorded",
        secret=SECRET,
    )
    patient_id = _new_patient(clinic.db)
    report = run_once(clinic.db, example_clinic(), now=NOW, config=CONFIG)
    assert report.sent == 1
    (got,) = webhook_receiver.received
    assert got["signed"]
    assert got["event"] == "patient.created"
    assert got["type"] == "application/json"
    assert got["timestamp"] == str(int(NOW.timestamp()))
    body = got["body"]
    assert body["event"] == "patient.created"
    assert body["patient_id"] == patient_id
    assert set(body) == {"event", "id", "time", "patient_id"}
    assert b"Erika" not in got["raw"]
    assert b"Muster" not in got["raw"]
    _, log = delivery_log(clinic.db, None, endpoint.id)
    assert [(d.event, d.status, d.status_code, d.attempts) for d in log] == [
        ("patient.created", "sent", 200, 1)
    ]
    assert got["delivery"] == str(log[0].message_id)
    # A second pass sends nothing more.
    assert run_once(clinic.db, example_clinic(), now=NOW, config=CONFIG).sent == 0


def test_an_event_nobody_subscribed_to_writes_nothing_and_a_rolled_back_change_no_event(
    clinic: Any, webhook_receiver: Receiver
) -> None:
    endpoint = add_endpoint(
        clinic.db, None, webhook_receiver.url, ["measurement.recorded"], secret=SECRET
    )
    _new_patient(clinic.db)  # not subscribed
    with pytest.raises(RuntimeError), audited(clinic.db, None, "measurement.create", 1):
        raise RuntimeError("the change fails")
    assert delivery_log(clinic.db, None, endpoint.id)[1] == []
    with audited(clinic.db, None, "measurement.create", clinic.patient.id) as note:
        m = services.record_measurement(
            clinic.db,
            clinic.patient.id,
            {"scale": "satisfaction", "value": 8, "measured_at": "2026-01-05T10:00:00+00:00"},
        )
        note.detail = f"measurement={m.id}"
    run_once(clinic.db, example_clinic(), now=NOW, config=CONFIG)
    (body,) = webhook_receiver.bodies()
    assert (body["event"], body["measurement_id"], body["patient_id"]) == (
        "measurement.recorded",
        m.id,
        clinic.patient.id,
    )


def test_a_failing_receiver_is_retried_with_backoff_then_delivered(
    clinic: Any, webhook_receiver: Receiver
) -> None:
    endpoint = add_endpoint(clinic.db, None, webhook_receiver.url, "patient.created", secret=SECRET)
    webhook_receiver.answers = [503, 500]
    _new_patient(clinic.db)
    first = run_once(clinic.db, example_clinic(), now=NOW, config=CONFIG)
    assert (first.sent, first.retried) == (0, 1)
    # Not due again before the backoff (60 s after the first attempt).
    early = run_once(clinic.db, example_clinic(), now=NOW + timedelta(seconds=30), config=CONFIG)
    assert early.retried + early.sent == 0
    second = run_once(clinic.db, example_clinic(), now=NOW + timedelta(seconds=61), config=CONFIG)
    assert second.retried == 1
    (row,) = delivery_log(clinic.db, None, endpoint.id)[1]
    assert (row.status, row.status_code, row.attempts) == ("queued", 500, 2)
    assert "answered 500" in row.last_error
    third = run_once(clinic.db, example_clinic(), now=NOW + timedelta(minutes=4), config=CONFIG)
    assert third.sent == 1
    (row,) = delivery_log(clinic.db, None, endpoint.id)[1]
    assert (row.status, row.status_code, row.attempts) == ("sent", 200, 3)
    # The same body, signed the same way, every time.
    assert len({r["raw"] for r in webhook_receiver.received}) == 1
    assert all(r["signed"] for r in webhook_receiver.received)


def test_a_refusing_receiver_fails_at_once_and_a_wrong_secret_is_refused(
    clinic: Any, webhook_receiver: Receiver
) -> None:
    endpoint = add_endpoint(
        clinic.db, None, webhook_receiver.url, "patient.created", secret="another-secret-0123456"
    )
    _new_patient(clinic.db)
    report = run_once(clinic.db, example_clinic(), now=NOW, config=CONFIG)
    assert report.failed == 1
    (row,) = delivery_log(clinic.db, None, endpoint.id)[1]
    assert (row.status, row.status_code) == ("failed", 401)
    assert not webhook_receiver.received[0]["signed"]


def test_an_unreachable_endpoint_is_retried_and_a_removed_one_skipped(clinic: Any) -> None:
    from tests.webhook_support import free_port

    endpoint = add_endpoint(
        clinic.db, None, f"http://127.0.0.1:{free_port()}/x", "patient.created", secret=SECRET
    )
    _new_patient(clinic.db)
    report = run_once(clinic.db, example_clinic(), now=NOW, config=CONFIG)
    assert report.retried == 1
    (row,) = delivery_log(clinic.db, None, endpoint.id)[1]
    assert row.status_code is None
    assert "unreachable" in row.last_error
    remove_endpoint(clinic.db, None, endpoint.id)
    assert list_endpoints(clinic.db, None) == []
    later = run_once(clinic.db, example_clinic(), now=NOW + timedelta(hours=1), config=CONFIG)
    assert later.skipped == 1
    (row,) = delivery_log(clinic.db, None, endpoint.id)[1]
    assert row.status == "skipped"
    assert "removed" in row.last_error
    # After removal, new changes emit nothing for it.
    _new_patient(clinic.db, "Anna")
    assert len(delivery_log(clinic.db, None, endpoint.id)[1]) == 1


@pytest.mark.parametrize(
    ("detail", "ids"),
    [
        ("appointment 12", {"appointment_id": 12}),
        ("api measurement=7", {"measurement_id": 7}),
        ("appointment 3 late=no link=9", {"appointment_id": 3}),
        ("registered while booking a course", {}),
    ],
)
def test_event_ids_come_from_the_audit_detail(detail: str, ids: dict[str, int]) -> None:
    assert event_ids(None, detail) == ids
    assert event_ids(5, detail) == {"patient_id": 5, **ids}
