"""Signed consent forms: sign, list, download and withdraw them; edit their templates.

A patient signs the newest template of a kind (``treatment`` or ``photo``) on screen; the
service checks the drawn signature (:func:`~needleplan.services.consent_pdf.check_signature`),
builds the PDF with the template's kind, version and text, her name, the time, the device and
the signature, and stores the PDF with its SHA-256. A newer form of the same kind supersedes
the older; a withdrawal is recorded on the form (who, when, why) and nothing is ever deleted.

Every use-case acts as a named account and writes its audit event in the same transaction
(:func:`needleplan.services.audit.audited`):

=======================  ==========================  =========================
use-case                 roles                       audit action
=======================  ==========================  =========================
sign_consent             admin, practitioner, desk,  ``consent.sign``
                         or she through her link
consent_forms_of         admin, practitioner, desk   ``consent.read``
consent_pdf_of           admin, practitioner         ``consent.download``
withdraw_consent         admin, practitioner, desk   ``consent.withdraw``
save_template            admin                       ``consent.template.save``
=======================  ==========================  =========================

She may also sign at home through a ``consent`` portal link (:mod:`.consent_links`): then
:func:`sign_consent` takes her :class:`~needleplan.domain.portal.LinkActor` instead of a staff
account, and the form is audited as ``patient-link`` (``link=<id>`` in the detail), records
no witness, and claims the link (one signature per link).

Front desk may open the signing screen and record a signature (she often signs at reception)
and sees which forms are signed, current or withdrawn, but may not open a signed PDF.

:func:`current_consent`, :func:`photo_consent_uses` and :func:`require_treatment_consent` are
checks other use-cases make inside their own audited transaction (charting, photos); they
take no actor and write no audit row themselves.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable
from contextlib import AbstractContextManager
from datetime import datetime

from needleplan.domain.consent_forms import (
    ConsentKind,
    ConsentStanding,
    ConsentTemplate,
    PhotoUse,
    SignedConsent,
    check_template_text,
    clean_device,
    clean_reason,
    parse_kind,
    parse_uses,
    standings,
)
from needleplan.domain.portal import LINK_ACTOR_NAME, LinkActor, LinkPurpose
from needleplan.domain.records import Role, User
from needleplan.exceptions import (
    ConsentRequiredError,
    NotFoundError,
    PermissionDeniedError,
    StateError,
)
from needleplan.services._clock import aware, utc_now
from needleplan.services.accounts import require_role
from needleplan.services.audit import AuditNote, audited
from needleplan.services.consent_pdf import ConsentDocument, check_signature, consent_pdf
from needleplan.services.portal_links import LinkRefusedError, portal_audited
from needleplan.storage import Database, UnitOfWork

SIGN_ROLES = (Role.ADMIN, Role.PRACTITIONER, Role.FRONT_DESK)
READ_ROLES = SIGN_ROLES
DOWNLOAD_ROLES = (Role.ADMIN, Role.PRACTITIONER)
WITHDRAW_ROLES = SIGN_ROLES
TEMPLATE_ROLES = (Role.ADMIN,)
#: The clinic name on a form when the records hold no clinic.
DEFAULT_CLINIC_NAME = "Clinic"
#: The witness line of a form she signed through her own link (nobody from the clinic saw it).
NO_WITNESS = "nobody (signed through her own portal link)"


def _act(
    db: Database,
    actor: User,
    roles: tuple[Role, ...],
    action: str,
    patient_id: int | None,
    detail: str = "",
) -> AbstractContextManager[AuditNote]:
    """Check the actor may act, then open the audited transaction. An actor with ``id == 0``
    (a signed-in user of another account store) is audited by name."""
    if not actor.active:
        raise PermissionDeniedError(f"user {actor.username} is deactivated")
    require_role(actor, *roles, action=f"do {action}")
    stored = actor if actor.id > 0 else None
    return audited(db, stored, action, patient_id, detail, username=actor.username)


# --------------------------------------------------------------------------- checks


def current_consent(db: Database, patient_id: int, kind: ConsentKind | str) -> SignedConsent | None:
    """Her form of ``kind`` in force: the newest one, unless it was withdrawn (then None)."""
    parsed = parse_kind(kind)
    with db.transaction() as uow:
        return current_in(uow, patient_id, parsed)


def current_in(uow: UnitOfWork, patient_id: int, kind: ConsentKind) -> SignedConsent | None:
    """:func:`current_consent` inside an open unit of work."""
    newest = uow.consent_forms.newest(patient_id, kind)
    if newest is None or newest.withdrawn:
        return None
    return newest


def photo_consent_uses(db: Database, patient_id: int) -> frozenset[str]:
    """The uses her current photo consent grants (``record``, ``teaching``, ``marketing``);
    empty when she has none in force (never signed, or withdrawn)."""
    form = current_consent(db, patient_id, ConsentKind.PHOTO)
    return frozenset(u.value for u in form.uses) if form is not None else frozenset()


def require_treatment_consent(uow: UnitOfWork, patient_id: int) -> SignedConsent:
    """Her current treatment consent, or :class:`ConsentRequiredError` saying why (never signed,
    or withdrawn) so the caller can offer the signing screen."""
    newest = uow.consent_forms.newest(patient_id, ConsentKind.TREATMENT)
    if newest is None:
        raise ConsentRequiredError(
            f"patient {patient_id} has no signed treatment consent: "
            "she must sign one before a session is charted",
            patient_id=patient_id,
            kind=ConsentKind.TREATMENT.value,
        )
    if newest.withdrawn:
        when = newest.withdrawn_at.date().isoformat() if newest.withdrawn_at else "?"
        raise ConsentRequiredError(
            f"patient {patient_id} withdrew her treatment consent on {when}: "
            "she must sign a new one before a session is charted",
            patient_id=patient_id,
            kind=ConsentKind.TREATMENT.value,
        )
    return newest


def treatment_consent_problem(db: Database, patient_id: int) -> str:
    """Why her sessions cannot be charted now ("" when she has a current treatment consent)."""
    with db.transaction() as uow:
        try:
            require_treatment_consent(uow, patient_id)
        except ConsentRequiredError as exc:
            return str(exc)
    return ""


# --------------------------------------------------------------------------- templates


def latest_template(db: Database, kind: ConsentKind | str) -> ConsentTemplate:
    """The newest version of ``kind``'s template (the one a patient signs now)."""
    parsed = parse_kind(kind)
    with db.transaction() as uow:
        return uow.consent_forms.latest_template(parsed, utc_now())


def template_versions(db: Database, kind: ConsentKind | str) -> list[ConsentTemplate]:
    """Every version of ``kind``'s template, newest first (old versions stay readable)."""
    parsed = parse_kind(kind)
    with db.transaction() as uow:
        return uow.consent_forms.templates(parsed, utc_now())


def template_version(db: Database, kind: ConsentKind | str, version: int) -> ConsentTemplate:
    """One version of ``kind``'s template (``NotFoundError`` when there is none)."""
    parsed = parse_kind(kind)
    with db.transaction() as uow:
        uow.consent_forms.templates(parsed, utc_now())  # the shipped version 1 exists
        return uow.consent_forms.template(parsed, version)


def save_template(
    db: Database, actor: User, kind: ConsentKind | str, title: str, body: str
) -> ConsentTemplate:
    """Save an edited text as the next version of ``kind``'s template (admins). The title and
    body are checked (:func:`~needleplan.domain.consent_forms.check_template_text`); earlier
    versions, and the forms signed on them, are kept unchanged."""
    parsed = parse_kind(kind)
    clean_title, clean_body = check_template_text(title, body)
    with _act(db, actor, TEMPLATE_ROLES, "consent.template.save", None) as note:
        with db.transaction() as uow:
            saved = uow.consent_forms.add_template(
                parsed, clean_title, clean_body, utc_now(), actor.username
            )
        note.detail = f"template {parsed.value} version {saved.version}"
        return saved


# --------------------------------------------------------------------------- forms


def _sign_act(
    db: Database, actor: User | LinkActor, patient_id: int
) -> AbstractContextManager[AuditNote]:
    """The audited transaction of a signature: a staff account's role is checked; her link
    must be a consent link of hers (the route resolved it; it is checked again inside)."""
    if isinstance(actor, LinkActor):
        if actor.purpose is not LinkPurpose.CONSENT or actor.patient_id != patient_id:
            raise PermissionDeniedError("this link may not sign a consent form for this patient")
        return portal_audited(db, actor, "consent.sign")
    return _act(db, actor, SIGN_ROLES, "consent.sign", patient_id)


def _claim_link(uow: UnitOfWork, actor: LinkActor, kind: ConsentKind, form_id: int) -> None:
    """Check her link again inside the signing transaction (still valid, for this kind, not
    used) and record the form as its one signature."""
    link = uow.portal_links.get(actor.link_id)
    problem = link.problem(LinkPurpose.CONSENT, utc_now())
    if problem is not None:
        raise LinkRefusedError(problem, link)
    wanted = uow.consent_links.get(actor.link_id)
    if wanted.kind is not kind:
        raise PermissionDeniedError(f"this link is for the {wanted.kind.value} consent form")
    if wanted.used or not uow.consent_links.claim(actor.link_id, form_id, utc_now()):
        raise LinkRefusedError("used", link)


def sign_consent(
    db: Database,
    actor: User | LinkActor,
    patient_id: int,
    kind: ConsentKind | str,
    signature_png: bytes,
    device: str,
    uses: Iterable[PhotoUse | str] | None = None,
    *,
    clinic_name: str | None = None,
    now: datetime | None = None,
) -> SignedConsent:
    """Store the form she signed now on the newest template of ``kind``: the PDF (template kind,
    version and text, her name, the time, ``device``, the signature image) and its SHA-256.

    ``uses`` (photo consent only): any of ``teaching`` and ``marketing``; ``record`` is always
    granted. An empty or unreadable signature, an unknown kind or use is an ``InputError``
    naming the field; nothing is stored then. A newer form of the same kind supersedes her
    older one. ``now`` (default: the clock) is the signing time, for a demo's history.

    ``actor`` is the staff account that recorded it, or her :class:`LinkActor` when she signs
    at home through a consent link: then the form is witnessed by nobody, and the link is
    claimed in the same transaction (:class:`LinkRefusedError` ``used`` when it already
    carried a signature, and nothing is stored).
    """
    parsed = parse_kind(kind)
    granted = parse_uses(parsed, uses)
    png = check_signature(signature_png)
    where = clean_device(device)
    recorder = LINK_ACTOR_NAME if isinstance(actor, LinkActor) else actor.username
    witness = NO_WITNESS if isinstance(actor, LinkActor) else (actor.display_name or actor.username)
    with _sign_act(db, actor, patient_id) as note:
        with db.transaction() as uow:
            patient = uow.patients.get(patient_id)
            template = uow.consent_forms.latest_template(parsed, utc_now())
            clinic = uow.clinics.first()
            at = aware(now, "now")
            name = patient.display_name
            pdf = consent_pdf(
                ConsentDocument(
                    clinic_name=clinic_name or (clinic.name if clinic else DEFAULT_CLINIC_NAME),
                    template=template,
                    uses=granted,
                    signer_name=name,
                    signed_at=at,
                    device=where,
                    signature_png=png,
                    recorded_by=witness,
                )
            )
            form = uow.consent_forms.add_form(
                patient_id,
                template,
                granted,
                name,
                at,
                where,
                pdf,
                hashlib.sha256(pdf).hexdigest(),
                recorder,
            )
            if isinstance(actor, LinkActor):
                _claim_link(uow, actor, parsed, form.id)
        note.detail = f"form {form.id} {parsed.value} v{template.version}"
        if granted:
            note.detail += " uses=" + ",".join(sorted(u.value for u in granted))
        return form


def consent_forms_of(db: Database, actor: User, patient_id: int) -> list[SignedConsent]:
    """Her signed forms, newest first, each with its standing (current, superseded,
    withdrawn). Audited as ``consent.read``."""
    with _act(db, actor, READ_ROLES, "consent.read", patient_id) as note:
        with db.transaction() as uow:
            uow.patients.get(patient_id)
            forms = standings(uow.consent_forms.for_patient(patient_id))
        note.detail = f"forms={len(forms)}"
        return forms


def consent_pdf_of(
    db: Database, actor: User, patient_id: int, form_id: int
) -> tuple[SignedConsent, bytes]:
    """One signed form and its PDF bytes, for download (practitioners and admins). The form
    must be hers (``NotFoundError`` otherwise). Audited as ``consent.download``."""
    with _act(db, actor, DOWNLOAD_ROLES, "consent.download", patient_id) as note:
        with db.transaction() as uow:
            form = uow.consent_forms.get(form_id)
            if form.patient_id != patient_id:
                raise NotFoundError(f"consent form {form_id} does not exist for this patient")
            pdf = uow.consent_forms.pdf(form_id)
        note.detail = f"form {form_id}"
        return form, pdf


def withdraw_consent(
    db: Database, actor: User, patient_id: int, form_id: int, reason: str
) -> SignedConsent:
    """Record that she withdrew her current form ``form_id`` (who, when, why). The form is
    kept; it no longer counts as consent. Only the form in force can be withdrawn."""
    why = clean_reason(reason)
    with _act(db, actor, WITHDRAW_ROLES, "consent.withdraw", patient_id) as note:
        with db.transaction() as uow:
            form = uow.consent_forms.get(form_id)
            if form.patient_id != patient_id:
                raise NotFoundError(f"consent form {form_id} does not exist for this patient")
            current = current_in(uow, patient_id, form.kind)
            if current is None or current.id != form_id:
                state = ConsentStanding.WITHDRAWN if form.withdrawn else ConsentStanding.SUPERSEDED
                raise StateError(
                    f"consent form {form_id} is {state.value}; only the form in force "
                    "can be withdrawn"
                )
            done = uow.consent_forms.withdraw(form_id, utc_now(), actor.username, why)
        note.detail = f"form {form_id} {form.kind.value}"
        return done


__all__ = [
    "DOWNLOAD_ROLES",
    "NO_WITNESS",
    "READ_ROLES",
    "SIGN_ROLES",
    "TEMPLATE_ROLES",
    "WITHDRAW_ROLES",
    "consent_forms_of",
    "consent_pdf_of",
    "current_consent",
    "current_in",
    "latest_template",
    "photo_consent_uses",
    "require_treatment_consent",
    "save_template",
    "sign_consent",
    "template_version",
    "template_versions",
    "treatment_consent_problem",
    "withdraw_consent",
]
