"""Recall, contact and audit values: the maintenance worklist with its contact attempts, the
estimator's contact requests, consent changes and audit events (re-exported by
:mod:`needleplan.domain.records`)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime
from enum import StrEnum

from pydantic import Field

from needleplan.domain._values import AwareDatetime, _Record


@dataclass(frozen=True)
class Lead:
    """A contact request from the public estimator, with the consent text the visitor agreed to
    and when (stored only with that consent; see ``needleplan.web.leads.make_lead``)."""

    public_id: str
    name: str
    email: str
    phone: str
    message: str
    estimate_summary: str
    consent_text: str
    consented_at: datetime
    #: the language of the page she wrote from: her acknowledgement is sent in it
    language: str = "en"
    #: what staff did with it (:class:`LeadStatus`), when, by whom; the patient it became
    status: str = "new"
    changed_at: datetime | None = None
    changed_by: str = ""
    patient_id: int | None = None


class LeadStatus(StrEnum):
    """Where a contact request stands: new, handled (answered), or converted into a patient."""

    NEW = "new"
    HANDLED = "handled"
    CONVERTED = "converted"


class ContactOutcome(StrEnum):
    NO_ANSWER = "no_answer"
    LEFT_MESSAGE = "left_message"
    CALL_BACK = "call_back"
    DECLINED = "declined"
    BOOKED = "booked"
    WRONG_NUMBER = "wrong_number"


class ContactChannel(StrEnum):
    PHONE = "phone"
    EMAIL = "email"
    SMS = "sms"
    LETTER = "letter"


class RecallStatus(StrEnum):
    OPEN = "open"
    BOOKED = "booked"  # closed because she booked
    OPTED_OUT = "opted_out"
    CLOSED = "closed"  # closed by staff for another reason


class ContactAttempt(_Record):
    id: int
    recall_id: int
    at: AwareDatetime
    channel: ContactChannel
    outcome: ContactOutcome
    note: str = ""
    by_user_id: int | None = None


class RecallEntry(_Record):
    """A patient due for maintenance: a worklist row until she books, opts out or is closed."""

    id: int
    patient_id: int
    course_id: int | None
    due_date: date
    reason: str
    status: RecallStatus
    created_at: AwareDatetime
    closed_at: AwareDatetime | None = None
    attempts: list[ContactAttempt] = Field(default_factory=list)
    #: why staff closed it or opted her out (empty when open, booked, or closed without one)
    close_reason: str = ""

    @property
    def is_open(self) -> bool:
        return self.status is RecallStatus.OPEN


class AuditEvent(_Record):
    id: int
    at: AwareDatetime
    user_id: int | None
    username: str
    action: str
    patient_id: int | None
    detail: str = ""


#: The consents a patient gives or withdraws (columns ``consent_<name>`` of her record).
CONSENTS = ("treatment", "contact", "research")


class ConsentChange(_Record):
    """One consent given or withdrawn: which, who changed it (account name), when."""

    id: int
    patient_id: int
    consent: str
    granted: bool
    changed_at: AwareDatetime
    changed_by: str
