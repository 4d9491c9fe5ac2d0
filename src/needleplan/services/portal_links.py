"""Patients' password-less links: issue, resolve, revoke (docs/messages.md, "The patient portal").

A link is ``<public url>/p/<token>/...``. The token is 32 random bytes from :mod:`secrets`
(URL-safe, 43 characters); the records keep only its SHA-256 digest with the purpose, the
patient, the expiry, when it was revoked and when it was last used. Whoever holds the token acts
as that patient for that one purpose until it expires or staff revoke it; a token with one
character changed is unknown. The messages issue their links at send time, so the stored message
never holds a usable link (:mod:`needleplan.services.messaging.worker`).

=================  =======================================================================
use-case           who, audit
=================  =======================================================================
issue_link         the message worker (in its own transaction) or a caller with the
                   contacts permission (``portal.link.issue``)
resolve_link       anyone holding the token; refused (:class:`LinkRefusedError`) when it is
                   unknown, expired, revoked or of another purpose; counts the use
revoke_link        staff with the contacts permission (``portal.link.revoke``)
portal_audited     every action through a link, as ``patient-link`` with ``link=<id>``
=================  =======================================================================
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime

from needleplan.domain.accounts import User
from needleplan.domain.portal import (
    LINK_ACTOR_NAME,
    LINK_LIFETIME,
    LinkActor,
    LinkPurpose,
    PortalLink,
)
from needleplan.exceptions import InputError, PermissionDeniedError
from needleplan.services._clock import aware, utc_now
from needleplan.services._secrets import new_secret, secret_digest
from needleplan.services.audit import AuditNote, audited, recorded_as
from needleplan.storage import Database, UnitOfWork

#: Longest token accepted before any lookup (a real one is 43 characters).
TOKEN_MAX = 100
_TOKEN_CHARS = frozenset("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_")


class LinkRefusedError(PermissionDeniedError):
    """The link may not open this page: ``reason`` is ``unknown``, ``expired``, ``revoked`` or
    ``wrong-purpose`` (the portal shows a page for each, never a trace)."""

    def __init__(self, reason: str, link: PortalLink | None = None) -> None:
        super().__init__(f"the link is {reason}")
        self.reason = reason
        self.link = link


def parse_purpose(value: LinkPurpose | str) -> LinkPurpose:
    if isinstance(value, LinkPurpose):
        return value
    try:
        return LinkPurpose(str(value).strip().lower())
    except ValueError:
        raise InputError.one(
            "purpose", value, "must be one of " + ", ".join(p.value for p in LinkPurpose)
        ) from None


def issue_link_in(
    uow: UnitOfWork,
    patient_id: int,
    purpose: LinkPurpose | str,
    *,
    at: datetime | None = None,
    message_id: int | None = None,
    recall_id: int | None = None,
) -> tuple[str, PortalLink]:
    """A new link inside the caller's transaction: returns the token (to put in the address
    now; it is not stored) and the stored link."""
    chosen = parse_purpose(purpose)
    when = aware(at, "at") if at is not None else utc_now()
    uow.patients.get(patient_id)
    token = new_secret(32)
    link = uow.portal_links.add(
        secret_digest(token),
        chosen,
        patient_id,
        when,
        when + LINK_LIFETIME[chosen],
        message_id=message_id,
        recall_id=recall_id,
    )
    return token, link


def issue_link(
    db: Database,
    actor: User | None,
    patient_id: int,
    purpose: LinkPurpose | str,
    *,
    at: datetime | None = None,
    recall_id: int | None = None,
) -> tuple[str, PortalLink]:
    """Issue a link for her (staff: contacts permission; audited ``portal.link.issue``)."""
    with audited(db, actor, "portal.link.issue", patient_id) as note, db.transaction() as uow:
        token, link = issue_link_in(uow, patient_id, purpose, at=at, recall_id=recall_id)
        note.detail = f"link {link.id} {link.purpose.value}"
        return token, link


def _well_formed(token: str) -> bool:
    return 20 <= len(token) <= TOKEN_MAX and set(token) <= _TOKEN_CHARS


def resolve_link(
    db: Database,
    token: str,
    purpose: LinkPurpose | str,
    *,
    now: datetime | None = None,
    count_use: bool = True,
) -> LinkActor:
    """The patient acting through ``token`` for ``purpose``, or :class:`LinkRefusedError`.

    A malformed or unknown token is ``unknown`` (no lookup tells a tampered token from one that
    never existed); then ``revoked``, ``expired`` or ``wrong-purpose``. A good link records its
    use (``last_used_at``) in the same transaction.
    """
    wanted = parse_purpose(purpose)
    at = aware(now, "now") if now is not None else utc_now()
    if not isinstance(token, str) or not _well_formed(token):
        raise LinkRefusedError("unknown")
    with db.transaction() as uow:
        link = uow.portal_links.by_digest(secret_digest(token))
        if link is None:
            raise LinkRefusedError("unknown")
        problem = link.problem(wanted, at)
        if problem is not None:
            raise LinkRefusedError(problem, link)
        if count_use:
            uow.portal_links.used(link.id, at)
    return LinkActor(link.patient_id, link.id, link.purpose)


def link_of(db: Database, actor: LinkActor) -> PortalLink:
    with db.transaction() as uow:
        return uow.portal_links.get(actor.link_id)


@contextmanager
def portal_audited(
    db: Database, actor: LinkActor, action: str, detail: str = ""
) -> Iterator[AuditNote]:
    """Run the block and write its audit event (by ``patient-link``, ``link=<id>`` in the detail)
    in the same transaction, like :func:`needleplan.services.audit.audited` for staff."""
    with audited(db, None, action, actor.patient_id, detail, username=LINK_ACTOR_NAME) as note:
        yield note
        note.detail = f"{note.detail} link={actor.link_id}".strip()


def patient_links(db: Database, actor: User | None, patient_id: int) -> list[PortalLink]:
    """Her links, newest first (contacts permission; audited ``portal.link.read``)."""
    with audited(db, actor, "portal.link.read", patient_id), db.transaction() as uow:
        uow.patients.get(patient_id)
        return uow.portal_links.for_patient(patient_id)


def revoke_link(
    db: Database, actor: User | None, link_id: int, *, now: datetime | None = None
) -> PortalLink:
    """Revoke one of her links at once (contacts permission; audited ``portal.link.revoke``).
    Revoking a revoked link changes nothing."""
    at = aware(now, "now") if now is not None else utc_now()
    with db.transaction() as uow:
        patient_id = uow.portal_links.get(link_id).patient_id
    with (
        audited(db, actor, "portal.link.revoke", patient_id, f"link {link_id}"),
        db.transaction() as uow,
    ):
        name = recorded_as(uow, actor)[1] or (actor.username if actor else "system")
        return uow.portal_links.revoke(link_id, at, name)


__all__ = [
    "LinkRefusedError",
    "issue_link",
    "issue_link_in",
    "link_of",
    "parse_purpose",
    "patient_links",
    "portal_audited",
    "resolve_link",
    "revoke_link",
]
