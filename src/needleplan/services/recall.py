"""The maintenance recall list: entries, contact attempts, opt-out and closing."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date, datetime
from typing import TypeVar

from needleplan.domain.records import (
    ContactAttempt,
    ContactChannel,
    ContactOutcome,
    RecallEntry,
    RecallStatus,
)
from needleplan.exceptions import (
    InputError,
    StateError,
)
from needleplan.services._clock import aware, utc_now
from needleplan.storage import Database

T = TypeVar("T")


def add_recall(
    db: Database,
    patient_id: int,
    due_date: date,
    *,
    reason: str = "maintenance",
    course_id: int | None = None,
) -> RecallEntry:
    """Put a patient on the recall worklist (e.g. with a forecast-driven maintenance due date)."""
    with db.transaction() as uow:
        uow.patients.get(patient_id)
        if course_id is not None:
            uow.courses.get(course_id)
        return uow.recalls.add(
            patient_id, course_id, due_date, reason.strip() or "recall", utc_now()
        )


def recall_list(
    db: Database,
    *,
    due_by: date | None = None,
    statuses: Sequence[RecallStatus] = (RecallStatus.OPEN,),
) -> list[RecallEntry]:
    """The recall worklist: entries due by ``due_by`` (all when None), earliest first."""
    with db.transaction() as uow:
        return uow.recalls.query(due_by=due_by, statuses=statuses)


def record_contact(
    db: Database,
    recall_id: int,
    *,
    channel: ContactChannel | str,
    outcome: ContactOutcome | str,
    note: str = "",
    by_user_id: int | None = None,
    at: datetime | None = None,
) -> ContactAttempt:
    """Log one attempt to reach a patient on the recall list."""
    try:
        ch = ContactChannel(channel)
    except ValueError:
        raise InputError.one(
            "channel", channel, "must be one of " + ", ".join(c.value for c in ContactChannel)
        ) from None
    try:
        oc = ContactOutcome(outcome)
    except ValueError:
        raise InputError.one(
            "outcome", outcome, "must be one of " + ", ".join(o.value for o in ContactOutcome)
        ) from None
    when = aware(at, "at")
    with db.transaction() as uow:
        entry = uow.recalls.get(recall_id, lock=True)
        if entry.status is not RecallStatus.OPEN:
            raise StateError(
                f"recall entry {recall_id} is {entry.status.value}; it takes no more attempts"
            )
        return uow.recalls.add_attempt(recall_id, when, ch, oc, note.strip(), by_user_id)


def opt_out_recall(db: Database, recall_id: int) -> RecallEntry:
    """The patient asked not to be contacted about maintenance: close the entry as opted out."""
    return _close_recall(db, recall_id, RecallStatus.OPTED_OUT)


def close_recall(db: Database, recall_id: int) -> RecallEntry:
    return _close_recall(db, recall_id, RecallStatus.CLOSED)


def _close_recall(db: Database, recall_id: int, status: RecallStatus) -> RecallEntry:
    with db.transaction() as uow:
        entry = uow.recalls.get(recall_id, lock=True)
        if entry.status is not RecallStatus.OPEN:
            raise StateError(f"recall entry {recall_id} is already {entry.status.value}")
        return uow.recalls.close(recall_id, status, utc_now())


def recall_entry(db: Database, recall_id: int) -> RecallEntry:
    """One recall worklist entry (``NotFoundError`` when there is none)."""
    with db.transaction() as uow:
        return uow.recalls.get(recall_id)
