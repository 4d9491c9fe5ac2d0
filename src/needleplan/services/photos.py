"""Before and after photos: upload (only with her photo consent), list, view and download.

Every use-case acts as a named account with the clinical permission (practitioners; the front
desk and admins see no photos) and writes its audit event in the same transaction
(:func:`needleplan.services.audit.audited`):

=================  ======================================================================
use-case           audit action
=================  ======================================================================
upload_photo       ``photo.upload`` (``photo=<id> view=<view> appointment=<id>``)
photos_of          ``photo.list``
photo_file         ``photo.view`` / ``photo.thumb`` / ``photo.download`` (``photo=<id>``)
handout_photos     ``photo.handout`` (``photos=<ids>``; see :mod:`.handout_photos`)
=================  ======================================================================

An upload needs her current photo consent (:func:`~needleplan.services.consent_forms.
current_in`): the ``record`` use that every photo consent grants is enough to store a photo in
her record. Without one (never signed, or withdrawn) :class:`ConsentRequiredError` says why and
nothing is stored. Photos taken while a consent was in force stay part of her record after a
withdrawal (records are kept, as the withdrawn form is) and in her FHIR export.

The image is cleaned first (:func:`needleplan.services.photo_images.clean_photo`: type, size
and pixel limits, orientation, every piece of metadata removed, a thumbnail), then both files
are written to the media folder under their SHA-256 (:mod:`needleplan.storage.media`) and the
row is added. A file written for an upload whose transaction then fails stays in the folder
unreferenced (content-addressed, harmless; a backup carries only referenced files).
"""

from __future__ import annotations

from collections.abc import Iterable
from contextlib import AbstractContextManager
from datetime import datetime, timedelta
from pathlib import Path

from needleplan.domain.consent_forms import ConsentKind, PhotoUse
from needleplan.domain.photos import Photo, PhotoView, parse_view
from needleplan.domain.records import User
from needleplan.exceptions import (
    ConsentRequiredError,
    InputError,
    NotFoundError,
    PermissionDeniedError,
)
from needleplan.services._clock import aware
from needleplan.services.audit import AuditNote, audited
from needleplan.services.photo_images import clean_photo
from needleplan.storage import Database, UnitOfWork
from needleplan.storage.media import media_dir, read_media, store_media

#: How far in the future a photo's time may lie (clock differences between devices).
FUTURE_SLACK = timedelta(minutes=10)
KINDS = ("view", "thumb", "download")


def _act(
    db: Database, actor: User, action: str, patient_id: int, detail: str = ""
) -> AbstractContextManager[AuditNote]:
    if not actor.active:
        raise PermissionDeniedError(f"user {actor.username} is deactivated")
    stored = actor if actor.id > 0 else None
    return audited(db, stored, action, patient_id, detail, username=actor.username)


def _check_role(db: Database, actor: User, action: str, patient_id: int) -> None:
    """An actor outside the database (id 0) is checked here; audited() checks the others."""
    from needleplan.domain.accounts import require_action
    from needleplan.services.audit import record_refusal

    if actor.id <= 0:
        try:
            require_action(actor, action)
        except PermissionDeniedError:
            record_refusal(db, actor, action, patient_id)
            raise


def root_of(db: Database, media_root: Path | None = None) -> Path:
    return media_root if media_root is not None else media_dir(db.engine)


def require_photo_consent(uow: UnitOfWork, patient_id: int) -> frozenset[PhotoUse]:
    """The uses of her current photo consent, or :class:`ConsentRequiredError` saying why."""
    newest = uow.consent_forms.newest(patient_id, ConsentKind.PHOTO)
    if newest is None:
        raise ConsentRequiredError(
            f"patient {patient_id} has no signed photo consent: "
            "she signs one before photos are taken",
            patient_id=patient_id,
            kind=ConsentKind.PHOTO.value,
        )
    if newest.withdrawn:
        raise ConsentRequiredError(
            f"patient {patient_id} withdrew her photo consent "
            f"on {newest.withdrawn_at:%Y-%m-%d}: no new photos without a new one",
            patient_id=patient_id,
            kind=ConsentKind.PHOTO.value,
        )
    return newest.uses


def _taken_at(value: datetime | str | None, now: datetime) -> datetime:
    if value is None or value == "":
        return now
    if isinstance(value, str):
        try:
            value = datetime.fromisoformat(value.strip())
        except ValueError:
            raise InputError.one("taken_at", value, "must be an ISO 8601 date and time") from None
    when = aware(value, "taken_at")
    if when > now + FUTURE_SLACK:
        raise InputError.one("taken_at", when.isoformat(), "must not be in the future")
    return when


def upload_photo(
    db: Database,
    actor: User,
    patient_id: int,
    appointment_id: int,
    view: PhotoView | str,
    data: bytes,
    *,
    taken_at: datetime | str | None = None,
    filename: str = "",
    media_root: Path | None = None,
    now: datetime | None = None,
) -> Photo:
    """Clean and store a photo of her course session ``appointment_id`` in ``view``.

    Raises
    ------
    InputError
        naming ``view``, ``appointment_id``, ``taken_at`` or ``file`` (not an image, a bomb,
        too large, a format not accepted, damaged).
    ConsentRequiredError
        when she has no photo consent in force.
    PermissionDeniedError
        for a role without the clinical permission (front desk, admin).
    """
    _check_role(db, actor, "photo.upload", patient_id)
    parsed = parse_view(view)
    moment = aware(now, "now")
    when = _taken_at(taken_at, moment)
    root = root_of(db, media_root)
    with _act(db, actor, "photo.upload", patient_id) as note, db.transaction() as uow:
        uow.patients.get(patient_id)
        try:
            appointment = uow.appointments.get(appointment_id)
        except NotFoundError:
            appointment = None
        if appointment is None or appointment.patient_id != patient_id:
            raise InputError.one(
                "appointment_id", appointment_id, f"must be a session of patient {patient_id}"
            )
        require_photo_consent(uow, patient_id)
        clean = clean_photo(data, "file", filename)
        image_hash = store_media(root, clean.image)
        thumb_hash = store_media(root, clean.thumb)
        photo = uow.photos.add(
            patient_id=patient_id,
            appointment_id=appointment_id,
            view=parsed,
            taken_at=when,
            sha256=image_hash,
            byte_size=len(clean.image),
            size=clean.size,
            thumb_sha256=thumb_hash,
            thumb_size=clean.thumb_size,
            uploaded_by=actor.username,
            uploaded_at=moment,
        )
        note.detail = f"photo={photo.id} view={parsed.value} appointment={appointment_id}"
    return photo


def photos_of(db: Database, actor: User, patient_id: int) -> list[Photo]:
    """Her photos, oldest first (audited as ``photo.list``)."""
    _check_role(db, actor, "photo.list", patient_id)
    with _act(db, actor, "photo.list", patient_id), db.transaction() as uow:
        uow.patients.get(patient_id)
        return uow.photos.of_patient(patient_id)


def photo_file(
    db: Database,
    actor: User,
    patient_id: int,
    photo_id: int,
    kind: str = "view",
    *,
    media_root: Path | None = None,
) -> tuple[Photo, bytes]:
    """Her photo and the bytes of its image (``view``, ``download``) or thumbnail (``thumb``),
    audited as ``photo.<kind>`` with the photo's id."""
    if kind not in KINDS:
        raise InputError.one("kind", kind, "must be one of " + ", ".join(KINDS))
    action = f"photo.{kind}"
    _check_role(db, actor, action, patient_id)
    root = root_of(db, media_root)
    with _act(db, actor, action, patient_id, f"photo={photo_id}"), db.transaction() as uow:
        photo = uow.photos.get(patient_id, photo_id)
        data = read_media(root, photo.thumb_sha256 if kind == "thumb" else photo.sha256)
    return photo, data


def photo_owner(db: Database, actor: User, photo_id: int) -> int:
    """The patient whose photo ``photo_id`` is (``NotFoundError`` when there is none), for an
    actor with the clinical permission (others are refused first, and the refusal recorded,
    so a refused account learns nothing of which ids exist); the caller then reads it through
    :func:`photo_file`, which audits."""
    from needleplan.domain.accounts import require_action
    from needleplan.services.audit import record_refusal

    try:
        require_action(actor, "photo.download")
    except PermissionDeniedError:
        record_refusal(db, actor, "photo.download")
        raise
    with db.transaction() as uow:
        return uow.photos.patient_of(photo_id)


def timeline(photos: Iterable[Photo]) -> dict[PhotoView, list[Photo]]:
    """Her photos per standard view (every view present, oldest first within each)."""
    by_view: dict[PhotoView, list[Photo]] = {v: [] for v in PhotoView}
    for photo in sorted(photos, key=lambda p: (p.taken_at, p.id)):
        by_view[photo.view].append(photo)
    return by_view
