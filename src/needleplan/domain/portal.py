"""The patient portal as values: what a link is for, one stored link, who acts through it.

A portal link is the patient's password-less key to one thing: seeing her plan and acting on her
visits (``portal``), booking her maintenance visit from a recall message (``book``), filling in
a pre-visit questionnaire (``intake``) or signing a consent form (``consent``), or leaving the
recall messages (``unsubscribe``). The address holds a random token; the records keep only its
SHA-256 digest, the purpose, the patient, the expiry and when it was revoked or last used. A
link opens only the pages of its own purpose.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum


class LinkPurpose(StrEnum):
    """What one link opens (and nothing else)."""

    PORTAL = "portal"  # her plan, dates, forecast, handout; confirm, cancel, reschedule, call back
    BOOK = "book"  # recall outreach: book her maintenance visit
    INTAKE = "intake"  # the pre-visit medical questionnaire (/p/<token>/intake)
    CONSENT = "consent"  # signing one consent form at home, once (/p/<token>/consent)
    UNSUBSCRIBE = "unsubscribe"  # one-click unsubscribe from recall messages
    SURVEY = "survey"  # the follow-up survey: one answer on the satisfaction scale


#: How long a link of each purpose works after it is issued.
LINK_LIFETIME: dict[LinkPurpose, timedelta] = {
    LinkPurpose.PORTAL: timedelta(days=60),
    LinkPurpose.BOOK: timedelta(days=60),
    LinkPurpose.INTAKE: timedelta(days=14),
    LinkPurpose.CONSENT: timedelta(days=14),
    LinkPurpose.UNSUBSCRIBE: timedelta(days=400),
    LinkPurpose.SURVEY: timedelta(days=30),
}

#: The audit trail's name for the patient acting through a link (the link id is in the detail).
LINK_ACTOR_NAME = "patient-link"


@dataclass(frozen=True)
class PortalLink:
    """One issued link (its token is never stored, only the digest)."""

    id: int
    purpose: LinkPurpose
    patient_id: int
    created_at: datetime
    expires_at: datetime
    message_id: int | None = None
    recall_id: int | None = None
    revoked_at: datetime | None = None
    revoked_by: str = ""
    last_used_at: datetime | None = None
    uses: int = 0

    def problem(self, purpose: LinkPurpose, at: datetime) -> str | None:
        """Why the link may not open a page of ``purpose`` at ``at`` (None: it may).

        The answers are the words of the page the patient sees: ``revoked``, ``expired``,
        ``wrong-purpose``.
        """
        if self.revoked_at is not None:
            return "revoked"
        if at >= self.expires_at:
            return "expired"
        if self.purpose is not purpose:
            return "wrong-purpose"
        return None

    @property
    def active(self) -> bool:
        """Not revoked (an expired link still counts as issued; :meth:`problem` says more)."""
        return self.revoked_at is None


@dataclass(frozen=True)
class LinkActor:
    """The patient acting through one of her links: the audit trail records every action as
    :data:`LINK_ACTOR_NAME` with ``link=<id>`` in the detail."""

    patient_id: int
    link_id: int
    purpose: LinkPurpose

    @property
    def audit_name(self) -> str:
        return LINK_ACTOR_NAME


@dataclass(frozen=True)
class CallbackRequest:
    """She asked the clinic to call her back (from the portal); open until the desk calls."""

    id: int
    patient_id: int
    created_at: datetime
    note: str = ""
    link_id: int | None = None
    done_at: datetime | None = None
    done_by: str = ""


__all__ = [
    "LINK_ACTOR_NAME",
    "LINK_LIFETIME",
    "CallbackRequest",
    "LinkActor",
    "LinkPurpose",
    "PortalLink",
]
