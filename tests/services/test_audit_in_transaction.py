"""A change and its audit event commit together: when the audit insert fails, the change is undone.

:func:`needleplan.services.audited` opens one transaction; every service called inside joins it
(as a savepoint), so nothing is stored before the audit row is written in the same commit.
"""

from __future__ import annotations

from typing import Any

import pytest

from needleplan import services
from needleplan.exceptions import InputError
from needleplan.storage import Database
from needleplan.storage.repositories import UserRepository

JANE = {"given_name": "Jane", "family_name": "Audit", "birth_date": "1980-05-06"}


class AuditStoreDownError(RuntimeError):
    """Stands for any failure of the audit insert (disk full, lost connection, a bug)."""


def _break_audit(monkeypatch: pytest.MonkeyPatch) -> None:
    def refuse(self: UserRepository, *args: Any, **kwargs: Any) -> Any:
        raise AuditStoreDownError("the audit insert failed")

    monkeypatch.setattr(UserRepository, "add_audit", refuse)


def _family_names(db: Database) -> list[str]:
    return [p.family_name for p in services.list_patients(db)]


def _register_audited(db: Database) -> None:
    with services.audited(db, None, "patient.create") as note:
        note.patient_id = services.register_patient(db, JANE).id


def test_a_change_and_its_audit_event_are_stored_together(db: Database) -> None:
    with services.audited(db, None, "patient.create", username="tester") as note:
        patient = services.register_patient(db, JANE)
        note.patient_id = patient.id
    assert _family_names(db) == ["Audit"]
    [event] = services.audit_log(db, patient_id=patient.id)
    assert (event.action, event.username) == ("patient.create", "tester")


def test_a_failed_audit_insert_rolls_the_change_back(
    db: Database, monkeypatch: pytest.MonkeyPatch
) -> None:
    _break_audit(monkeypatch)
    with pytest.raises(AuditStoreDownError):
        _register_audited(db)
    monkeypatch.undo()
    assert _family_names(db) == []
    assert services.audit_log(db) == []


def test_a_refused_change_writes_no_audit_event(db: Database) -> None:
    with pytest.raises(InputError), services.audited(db, None, "patient.create"):
        services.register_patient(db, {**JANE, "birth_date": "not a date"})
    assert services.audit_log(db) == []
    assert _family_names(db) == []


def test_an_error_inside_a_joined_service_undoes_only_its_part_when_caught(db: Database) -> None:
    """A service that fails inside the block rolls back to its savepoint; the rest commits."""
    with services.audited(db, None, "patient.create") as note:
        kept = services.register_patient(db, JANE)
        with pytest.raises(InputError):
            services.register_patient(db, {**JANE, "family_name": ""})
        note.patient_id = kept.id
    assert _family_names(db) == ["Audit"]
    assert [e.action for e in services.audit_log(db)] == ["patient.create"]
