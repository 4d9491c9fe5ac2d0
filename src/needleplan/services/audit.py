"""The audit trail: write one event, read and search the log.

:func:`audited` is where an actor's role meets an action: before the block runs it checks the
account may do ``action`` (:data:`needleplan.domain.accounts.ACTION_PERMISSIONS`), so the
library, the CLI and the web app refuse the same things. Reading the log (:func:`audit_log`,
:func:`search_audit`) needs the audit permission (admins) when an ``actor`` is given.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime

from needleplan.domain.accounts import Permission, User, require_action, require_permission
from needleplan.domain.records import AuditEvent
from needleplan.exceptions import (
    InputError,
    PermissionDeniedError,
)
from needleplan.services._clock import aware, utc_now
from needleplan.services.messaging.webhooks import emit_in
from needleplan.storage import Database, UnitOfWork


@dataclass
class AuditNote:
    """The audit event a use-case will write; the block may fill in what it learns (a new id)."""

    action: str
    patient_id: int | None = None
    detail: str = ""
    #: Who acts (the account name, or the name given for an actor without one, or "system").
    actor: str = "system"


def _clean_action(action: str) -> str:
    clean = action.strip()
    if not clean or len(clean) > 100:
        raise InputError.one("action", action, "must be 1 to 100 characters")
    return clean


def recorded_as(uow: UnitOfWork, user: User | None) -> tuple[int | None, str | None]:
    """The account id and name an event of ``user`` is stored under: its own when it is this
    database's account (same id and name), else ``(None, None)`` (an account of another store,
    such as the web app's in-memory one, or the system)."""
    if user is None:
        return None, None
    stored = uow.users.by_username(user.username)
    if stored is None or stored.id != user.id:
        return None, None
    return user.id, user.username


def _write(uow: UnitOfWork, user: User | None, note: AuditNote, username: str | None) -> AuditEvent:
    user_id, stored_name = recorded_as(uow, user)
    detail = note.detail.strip()
    if user is not None and user_id is None:
        detail = f"{detail} user={user.username}".strip()
    if user is not None and user.via_token is not None:
        detail = f"{detail} token={user.via_token}".strip()  # it acted through an API token
    at = utc_now()
    event = uow.users.add_audit(
        at,
        user_id,
        stored_name or username or "system",
        _clean_action(note.action),
        note.patient_id,
        detail,
    )
    # The webhook events of this change join its transaction (services/messaging/webhooks.py).
    emit_in(uow, event.action, note.patient_id, detail, at)
    return event


@contextmanager
def audited(
    db: Database,
    user: User | None,
    action: str,
    patient_id: int | None = None,
    detail: str = "",
    *,
    username: str | None = None,
) -> Iterator[AuditNote]:
    """Run the block and write its audit event in one transaction: both are stored or neither.

    Every service called inside the block joins this transaction (see
    :meth:`needleplan.storage.Database.transaction`), so a change is never stored without its
    audit row, and a read is logged with the data it returned. Set ``note.patient_id`` or
    ``note.detail`` inside the block when they are only known there (a new patient's id)::

        with audited(db, actor, "patient.create") as note:
            patient = register_patient(db, draft)
            note.patient_id = patient.id

    ``user=None`` records ``username`` (or ``"system"``) for an actor without an account; an
    account that is not one of this database's (the web app's in-memory store) is recorded the
    same way with ``user=<name>`` added to the detail.

    Raises
    ------
    PermissionDeniedError
        before the block runs, when ``user``'s role may not do ``action``.
    """
    note = AuditNote(
        _clean_action(action),
        patient_id,
        detail,
        user.username if user is not None else (username or "system"),
    )
    if user is not None:
        try:
            require_action(user, note.action)
        except PermissionDeniedError:
            record_refusal(db, user, note.action, patient_id)
            raise
    with db.transaction() as uow:
        yield note
        _write(uow, user, note, username)


def record_audit(
    db: Database,
    user: User | None,
    action: str,
    patient_id: int | None = None,
    *,
    detail: str = "",
) -> AuditEvent:
    """Append who did what to which patient record (``user=None`` for the system itself).

    ``action`` is a short verb phrase such as ``"patient.read"`` or ``"course.book"``; ``detail``
    must not carry patient data (names, notes): ids are enough to reconstruct what happened.
    A view showing several patients (calendar, recall worklist) writes one event without
    ``patient_id`` whose detail ends in :func:`audit_patients_detail` (``patients=3,17,42``);
    :func:`audit_log` and :func:`search_audit` for a patient find those events too. Called
    inside :func:`audited` or another open transaction, the event joins it. It records what
    happened (a refused attempt too) and checks no role; :func:`audited` does.
    """
    note = AuditNote(_clean_action(action), patient_id, detail)
    with db.transaction() as uow:
        return _write(uow, user, note, None)


#: The audit action of an attempt a role was refused (detail: what was attempted).
REFUSED = "access.refused"


def record_refusal(db: Database, user: User, attempted: str, patient_id: int | None = None) -> None:
    """Record that ``user`` attempted ``attempted`` (an action, or a method and path) and was
    refused for its role. Written in a transaction of its own so the refusal stays on record
    while the attempt is rolled back; skipped inside an open transaction of ``db`` (which the
    refusal would roll back with it)."""
    if db.in_transaction:
        return
    with db.transaction() as uow:
        _write(uow, user, AuditNote(REFUSED, patient_id, f"attempted {attempted}"[:500]), None)


def _auditor(actor: User | None) -> None:
    if actor is not None:
        require_permission(actor, Permission.AUDIT, "read the audit log")


def audit_log(
    db: Database,
    *,
    patient_id: int | None = None,
    limit: int = 100,
    actor: User | None = None,
) -> list[AuditEvent]:
    """The newest audit events first, optionally about one patient (her own events and the
    list views that showed her). ``actor`` (when given) needs the audit permission."""
    _auditor(actor)
    with db.transaction() as uow:
        return uow.users.audit(patient_id, limit)


def search_audit(
    db: Database,
    *,
    username: str | None = None,
    action: str | None = None,
    patient_id: int | None = None,
    since: datetime | None = None,
    until: datetime | None = None,
    limit: int = 100,
    offset: int = 0,
    actor: User | None = None,
) -> tuple[list[AuditEvent], int]:
    """Audit events matching every given filter, newest first, and how many match in all.

    ``action`` matches as a prefix (``"patient."`` finds every patient action); ``since`` is
    inclusive and ``until`` exclusive. ``patient_id`` finds her own events and the views that
    listed her among others (``calendar.read``, ``recall.read``: ``patients=...`` in the detail).
    ``actor`` (when given) needs the audit permission.
    """
    _auditor(actor)
    if not 1 <= limit <= 1000:
        raise InputError.one("limit", limit, "must be between 1 and 1000")
    if offset < 0:
        raise InputError.one("offset", offset, "must be 0 or more")
    with db.transaction() as uow:
        return uow.audit_log.page(
            username=username.strip().lower() if username else None,
            action=action.strip() if action else None,
            patient_id=patient_id,
            since=aware(since, "since") if since else None,
            until=aware(until, "until") if until else None,
            limit=limit,
            offset=offset,
        )
