"""The maintenance recall list: entries, contact attempts, opt-out and closing."""

from __future__ import annotations

import calendar
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import TypeVar

from needleplan.domain.records import (
    ContactAttempt,
    ContactChannel,
    ContactOutcome,
    Patient,
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


def opt_out_recall(db: Database, recall_id: int, reason: str = "") -> RecallEntry:
    """The patient asked not to be contacted about maintenance: close the entry as opted out."""
    return _close_recall(db, recall_id, RecallStatus.OPTED_OUT, reason)


def close_recall(db: Database, recall_id: int, reason: str = "") -> RecallEntry:
    """Close the entry for another reason (moved away, treated elsewhere...), kept with it."""
    return _close_recall(db, recall_id, RecallStatus.CLOSED, reason)


#: Reasons the worklist offers for closing an entry (staff may write their own).
CLOSE_REASONS = (
    "treated elsewhere",
    "moved away",
    "not interested any more",
    "not suitable for treatment now",
    "cannot be reached",
)
REASON_MAX = 200


def _close_recall(db: Database, recall_id: int, status: RecallStatus, reason: str) -> RecallEntry:
    text = " ".join(str(reason).split())
    if len(text) > REASON_MAX:
        raise InputError.one("reason", text[:40] + "…", f"at most {REASON_MAX} characters")
    with db.transaction() as uow:
        entry = uow.recalls.get(recall_id, lock=True)
        if entry.status is not RecallStatus.OPEN:
            raise StateError(f"recall entry {recall_id} is already {entry.status.value}")
        return uow.recalls.close(recall_id, status, utc_now(), text)


#: The worklist's tabs, as the page names them.
TABS = {
    "month": "due this month",
    "overdue": "overdue",
    "open": "all open",
    "closed": "closed",
}
#: The worklist's orders, as the page names them.
ORDERS = {
    "due": "due date, earliest first",
    "-due": "due date, latest first",
    "name": "family name, A-Z",
    "-name": "family name, Z-A",
    "closed": "most recently closed first",
}
PER_PAGE = 25
SEARCH_MAX = 100


@dataclass(frozen=True)
class WorklistPage:
    """One page of one tab of the recall worklist, with the patients it shows."""

    tab: str
    search: str
    order: str
    page: int
    per_page: int
    total: int
    entries: list[RecallEntry]
    patients: dict[int, Patient]

    @property
    def pages(self) -> int:
        return max(1, -(-self.total // self.per_page))


def tab_window(tab: str, today: date) -> tuple[tuple[RecallStatus, ...], date | None, date | None]:
    """The statuses and the due-date window (both ends included) a tab shows on ``today``.

    ``month``: open entries due from the 1st to the last day of this month; ``overdue``: open
    entries due before today (of any month); ``open``: every open entry; ``closed``: booked,
    opted-out and closed entries.
    """
    if tab == "month":
        last = calendar.monthrange(today.year, today.month)[1]
        return (RecallStatus.OPEN,), today.replace(day=1), today.replace(day=last)
    if tab == "overdue":
        return (RecallStatus.OPEN,), None, today - timedelta(days=1)
    if tab == "open":
        return (RecallStatus.OPEN,), None, None
    if tab == "closed":
        return (RecallStatus.BOOKED, RecallStatus.OPTED_OUT, RecallStatus.CLOSED), None, None
    raise InputError.one("show", tab, "must be one of " + ", ".join(TABS))


def recall_worklist(
    db: Database,
    *,
    today: date,
    tab: str = "month",
    search: str = "",
    order: str = "",
    page: int = 1,
    per_page: int = PER_PAGE,
) -> WorklistPage:
    """One page of the worklist: ``tab`` (:data:`TABS`), ``search`` (as the patient list
    searches), ``order`` (:data:`ORDERS`; default: due date, or most recently closed on the
    closed tab), ``page`` from 1. A page past the last shows the last one, so a list that
    shrank while staff worked keeps them near their place.

    Raises
    ------
    InputError
        naming ``show``, ``sort``, ``page``, ``per_page`` or ``q`` when one breaks its rule.
    """
    statuses, due_from, due_to = tab_window(tab, today)
    order = order or ("closed" if tab == "closed" else "due")
    if order not in ORDERS:
        raise InputError.one("sort", order, "must be one of " + ", ".join(ORDERS))
    if isinstance(page, bool) or not 1 <= page <= 100_000:
        raise InputError.one("page", page, "must be a whole number from 1 to 100000")
    if not 1 <= per_page <= 200:
        raise InputError.one("per_page", per_page, "must be between 1 and 200")
    search = " ".join(str(search).split())
    if len(search) > SEARCH_MAX:
        raise InputError.one("q", search[:40] + "…", f"at most {SEARCH_MAX} characters")
    with db.transaction() as uow:
        entries, total = uow.recalls.worklist(
            statuses=statuses,
            due_from=due_from,
            due_to=due_to,
            search=search,
            order=order,
            limit=per_page,
            offset=(page - 1) * per_page,
        )
        last = max(1, -(-total // per_page))
        if not entries and page > last:
            page = last
            entries, total = uow.recalls.worklist(
                statuses=statuses,
                due_from=due_from,
                due_to=due_to,
                search=search,
                order=order,
                limit=per_page,
                offset=(page - 1) * per_page,
            )
        patients = uow.patients.many(e.patient_id for e in entries)  # one query for the page
    return WorklistPage(tab, search, order, page, per_page, total, entries, patients)


def recall_entry(db: Database, recall_id: int) -> RecallEntry:
    """One recall worklist entry (``NotFoundError`` when there is none)."""
    with db.transaction() as uow:
        return uow.recalls.get(recall_id)
