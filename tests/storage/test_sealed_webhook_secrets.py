"""Webhook signing secrets sealed at rest with the server's key, as the TOTP secrets are: never
in clear in the database, bound to their endpoint, and a key that cannot open one leaves the
endpoint listed and removable while its deliveries fail once, naming the remedy (migration
0028 seals the values stored in clear before it; its downgrade opens them)."""

from __future__ import annotations

from typing import Any

import pytest
from sqlalchemy import text

from needleplan.domain.integrations import UNREADABLE_SECRET
from needleplan.scheduling import example_clinic
from needleplan.services.messaging.worker import run_once
from needleplan.services.webhooks import (
    add_endpoint,
    delivery_log,
    list_endpoints,
    remove_endpoint,
)
from needleplan.storage import Database, migrate, secret_key
from tests.services.messaging.test_webhooks import CONFIG, NOW, _new_patient
from tests.webhook_support import SECRET, Receiver, webhook_receiver

__all__ = ["webhook_receiver"]


def _stored(db: Database, endpoint_id: int) -> str:
    with db.engine.connect() as conn:
        value = conn.execute(
            text("SELECT secret FROM webhook_endpoints WHERE id = :i"), {"i": endpoint_id}
        ).scalar_one()
    assert isinstance(value, str)
    return value


def _set_stored(db: Database, endpoint_id: int, value: str) -> None:
    with db.engine.begin() as conn:
        conn.execute(
            text("UPDATE webhook_endpoints SET secret = :s WHERE id = :i"),
            {"s": value, "i": endpoint_id},
        )


def test_the_secret_is_sealed_in_the_database_and_still_signs(
    clinic: Any, webhook_receiver: Receiver
) -> None:
    longest = "x" * 199 + "y"  # the longest secret allowed fits its sealed form
    other = add_endpoint(
        clinic.db, None, "https://example.org/h", "patient.created", secret=longest
    )
    assert _stored(clinic.db, other.id).startswith("v1:")
    assert other.secret == longest
    remove_endpoint(clinic.db, None, other.id)
    endpoint = add_endpoint(clinic.db, None, webhook_receiver.url, "patient.created", secret=SECRET)
    stored = _stored(clinic.db, endpoint.id)
    assert stored.startswith("v1:")
    assert SECRET not in stored
    assert endpoint.secret == SECRET  # shown once, in clear
    assert [e.secret_hint for e in list_endpoints(clinic.db, None)] == ["…" + SECRET[-4:]]
    _new_patient(clinic.db)
    report = run_once(clinic.db, example_clinic(), now=NOW, config=CONFIG)
    assert report.sent == 1
    (got,) = webhook_receiver.received
    assert got["signed"]  # the receiver checked the HMAC under the secret in clear


def test_a_sealed_secret_copied_to_another_endpoint_does_not_open(clinic: Any) -> None:
    one = add_endpoint(clinic.db, None, "https://example.org/one", "patient.created")
    two = add_endpoint(clinic.db, None, "https://example.org/two", "patient.created")
    _set_stored(clinic.db, two.id, _stored(clinic.db, one.id))
    hints = {e.id: e.secret_hint for e in list_endpoints(clinic.db, None)}
    assert hints[one.id] == "…" + (one.secret or "")[-4:]
    assert hints[two.id] == UNREADABLE_SECRET


def test_another_key_lists_and_removes_the_endpoint_and_fails_its_delivery_once(
    clinic: Any, webhook_receiver: Receiver, monkeypatch: pytest.MonkeyPatch
) -> None:
    endpoint = add_endpoint(clinic.db, None, webhook_receiver.url, "patient.created", secret=SECRET)
    before = _stored(clinic.db, endpoint.id)
    monkeypatch.delenv(secret_key.ENV_KEY_FILE)
    monkeypatch.setenv(secret_key.ENV_KEY, secret_key.new_key())
    (listed,) = list_endpoints(clinic.db, None)
    assert listed.secret is None
    assert listed.secret_hint == UNREADABLE_SECRET
    _new_patient(clinic.db)
    report = run_once(clinic.db, example_clinic(), now=NOW, config=CONFIG)
    assert (report.sent, report.failed, report.retried) == (0, 1, 0)
    assert webhook_receiver.received == []
    _, (delivery,) = delivery_log(clinic.db, None, endpoint.id)
    assert delivery.status == "failed"
    assert "cannot be opened with this server's secret key" in delivery.last_error
    assert "remove the webhook endpoint and add it again" in delivery.last_error
    assert "2fa-reset" not in delivery.last_error
    assert _stored(clinic.db, endpoint.id) == before  # nothing rewritten
    assert remove_endpoint(clinic.db, None, endpoint.id).removed_at is not None
    assert list_endpoints(clinic.db, None) == []


def test_migration_0028_seals_secrets_stored_in_clear_and_its_downgrade_opens_them(
    empty_database_url: str,
) -> None:
    db = Database.open(empty_database_url)
    try:
        endpoint = add_endpoint(db, None, "https://example.org/h", "patient.created", secret=SECRET)
        from alembic import command

        config = migrate.alembic_config(db.engine)
        command.downgrade(config, "0027")
        assert _stored(db, endpoint.id) == SECRET  # as the 0027 schema kept it
        migrate.upgrade(db.engine)
        stored = _stored(db, endpoint.id)
        assert stored.startswith("v1:")
        assert SECRET not in stored
        (listed,) = list_endpoints(db, None)
        assert listed.secret == SECRET
    finally:
        db.dispose()
