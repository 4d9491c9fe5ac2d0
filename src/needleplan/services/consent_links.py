"""Signing a consent form at home: the ``consent`` portal link (docs/consent.md).

Staff make a link for one kind of form (treatment or photo); she opens ``/p/<token>/consent``,
reads the newest template of that kind and signs on the canvas. Her signature goes through
:func:`needleplan.services.consent_forms.sign_consent` with her
:class:`~needleplan.domain.portal.LinkActor`: the same PDF and SHA-256 as in the clinic,
recorded with the device "portal link", audited as ``patient-link`` and claiming the link, so
one link carries one signature.

=====================  =========================================  ==========================
use-case               who                                        audit action
=====================  =========================================  ==========================
issue_consent_link     staff with the contacts permission         ``portal.link.issue``
open_consent_link      she, through the link                      ``consent.link.open``
sign_consent           she, through the link                      ``consent.sign``
=====================  =========================================  ==========================
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from needleplan.domain.consent_forms import ConsentKind, ConsentTemplate, parse_kind
from needleplan.domain.portal import LinkActor, LinkPurpose, PortalLink
from needleplan.domain.records import Patient, User
from needleplan.exceptions import PermissionDeniedError
from needleplan.services._clock import aware, utc_now
from needleplan.services.audit import audited
from needleplan.services.portal_links import LinkRefusedError, issue_link_in, portal_audited
from needleplan.storage import Database, UnitOfWork

#: The device a form signed through her link records.
PORTAL_DEVICE = "portal link"


@dataclass(frozen=True)
class ConsentLinkPage:
    """What her signing page shows: her, the template she signs, the kind of form."""

    patient: Patient
    template: ConsentTemplate
    kind: ConsentKind


def issue_consent_link_in(
    uow: UnitOfWork,
    patient_id: int,
    kind: ConsentKind | str,
    *,
    at: datetime | None = None,
    message_id: int | None = None,
) -> tuple[str, PortalLink]:
    """A new consent link for the form ``kind`` inside the caller's transaction (the token is
    returned, never stored)."""
    parsed = parse_kind(kind)
    token, link = issue_link_in(uow, patient_id, LinkPurpose.CONSENT, at=at, message_id=message_id)
    uow.consent_links.add(link.id, parsed)
    return token, link


def issue_consent_link(
    db: Database, actor: User | None, patient_id: int, kind: ConsentKind | str
) -> tuple[str, PortalLink]:
    """A link for her to sign the ``kind`` form at home (staff with the contacts permission;
    audited ``portal.link.issue``)."""
    parsed = parse_kind(kind)
    with audited(db, actor, "portal.link.issue", patient_id) as note, db.transaction() as uow:
        token, link = issue_consent_link_in(uow, patient_id, parsed)
        note.detail = f"link {link.id} consent kind={parsed.value}"
        return token, link


def open_consent_link(
    db: Database, actor: LinkActor, *, now: datetime | None = None
) -> ConsentLinkPage:
    """What she signs through her link: the newest template of the link's kind. A link that
    already carried a signature is refused (:class:`LinkRefusedError` ``used``). Audited as
    ``consent.link.open`` by ``patient-link``."""
    if actor.purpose is not LinkPurpose.CONSENT:
        raise PermissionDeniedError("this link does not open a consent form")
    at = aware(now, "now") if now is not None else utc_now()
    with portal_audited(db, actor, "consent.link.open") as note, db.transaction() as uow:
        wanted = uow.consent_links.get(actor.link_id)
        if wanted.used:
            raise LinkRefusedError("used", uow.portal_links.get(actor.link_id))
        patient = uow.patients.get(actor.patient_id)
        template = uow.consent_forms.latest_template(wanted.kind, at)
        note.detail = f"{wanted.kind.value} v{template.version}"
        return ConsentLinkPage(patient, template, wanted.kind)


__all__ = [
    "PORTAL_DEVICE",
    "ConsentLinkPage",
    "issue_consent_link",
    "issue_consent_link_in",
    "open_consent_link",
]
