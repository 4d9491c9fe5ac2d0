"""A patient's subject access archive (GDPR article 15; issue 17): all her data in one ZIP.

What is inside (``README.txt`` in the archive says the same, for her):

- ``record.fhir.json``: her record as a FHIR R4 Bundle (:func:`needleplan.interop.fhir.patient_bundle`:
  demographics, courses, appointments, performed sessions, measurements);
- ``handout.pdf``: her current handout (plan, dates, forecast; left out with the reason when she
  has no assessment yet or a contraindication blocks a plan);
- ``messages.json``: every message the clinic sent or planned to send her (bodies erased on her
  request stay erased);
- ``audit-trail.csv``: every access to and change of her record (who, when, what; ids only);
- ``consent-forms/``: every consent form she signed, as the signed PDF;
- ``photos/``: every photo in her record, the image as stored (JPEG, metadata already removed
  at upload), and ``photos/manifest.json`` listing each one (id, session, view, when taken and
  uploaded, by whom, size, SHA-256; a file missing from the media folder is listed as missing
  rather than failing the archive);
- ``README.txt``.

The archive is assembled from :data:`CONTRIBUTORS`, a list of functions that each give files for
one patient; more parts join by appending a contributor (or by passing ``contributors=``):
nothing else changes. Taking the archive is audited as
``patient.export_all`` in the same transaction as the reads, and only a practitioner or an admin
may do it (:func:`needleplan.services.data_rights.may_export_all`).
"""

from __future__ import annotations

import csv
import io
import json
import zipfile
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime

from needleplan.domain.accounts import User
from needleplan.exceptions import BlockedError, StateError
from needleplan.services import data_rights
from needleplan.services._clock import utc_now
from needleplan.services.audit import audited
from needleplan.storage import Database


@dataclass(frozen=True)
class ArchiveFile:
    """One file of the archive: its name inside the ZIP, its bytes, and one line for the
    README saying what it is."""

    name: str
    data: bytes
    description: str


@dataclass(frozen=True)
class ArchiveRequest:
    """What a contributor gets: the database (inside the export's transaction) and whose
    record."""

    db: Database
    patient_id: int
    at: datetime


Contributor = Callable[[ArchiveRequest], Iterable[ArchiveFile]]


def fhir_record(request: ArchiveRequest) -> Iterable[ArchiveFile]:
    from needleplan.interop.fhir import patient_bundle

    bundle = patient_bundle(request.db, request.patient_id)
    data = json.dumps(bundle, indent=2, ensure_ascii=False).encode()
    yield ArchiveFile(
        "record.fhir.json",
        data,
        "your clinical record as a FHIR R4 Bundle (details, courses, appointments, "
        "treatments, measurements)",
    )


def handout(request: ArchiveRequest) -> Iterable[ArchiveFile]:
    from needleplan.reports.handout import handout_for_patient, render_handout

    try:
        made = handout_for_patient(request.db, request.patient_id)
    except (StateError, BlockedError) as exc:
        yield ArchiveFile(
            "handout-not-included.txt",
            f"No handout is included: {exc}\n".encode(),
            "why there is no handout",
        )
        return
    yield ArchiveFile("handout.pdf", render_handout(made), "your current treatment handout (PDF)")


def messages(request: ArchiveRequest) -> Iterable[ArchiveFile]:
    rows = [
        {
            "id": m.id,
            "kind": str(m.kind),
            "status": str(m.status),
            "channel": str(m.channel) if m.channel is not None else None,
            "to": m.recipient,
            "created_at": m.created_at.isoformat(),
            "sent_at": m.sent_at.isoformat() if m.sent_at else None,
            "subject": m.subject,
            "text": m.body_text,
        }
        for m in data_rights.patient_messages(request.db, request.patient_id)
    ]
    yield ArchiveFile(
        "messages.json",
        json.dumps(rows, indent=2, ensure_ascii=False).encode(),
        f"the {len(rows)} message(s) the clinic sent or planned to send you",
    )


def audit_trail(request: ArchiveRequest) -> Iterable[ArchiveFile]:
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(["at", "account", "action", "detail"])
    events = data_rights.patient_audit_trail(request.db, request.patient_id)
    for e in events:
        writer.writerow([e.at.isoformat(), e.username, e.action, e.detail])
    yield ArchiveFile(
        "audit-trail.csv",
        out.getvalue().encode(),
        f"who read or changed your record and when ({len(events)} events)",
    )


def signed_consents(request: ArchiveRequest) -> Iterable[ArchiveFile]:
    """Every consent form she signed, as the PDF that was signed (withdrawn ones too)."""
    with request.db.transaction() as uow:
        forms = uow.consent_forms.for_patient(request.patient_id)
        for form in forms:
            state = "withdrawn" if form.withdrawn_at is not None else "signed"
            yield ArchiveFile(
                f"consent-forms/{form.id}-{form.kind.value}-v{form.template_version}.pdf",
                uow.consent_forms.pdf(form.id),
                f"the {form.kind.value} consent form you signed on "
                f"{form.signed_at.date().isoformat()} ({state}; SHA-256 {form.sha256})",
            )


def photos(request: ArchiveRequest) -> Iterable[ArchiveFile]:
    """Every photo in her record (the image as stored, without metadata) and a manifest."""
    from needleplan.exceptions import NotFoundError
    from needleplan.storage.media import media_dir, read_media

    root = media_dir(request.db.engine)
    with request.db.transaction() as uow:
        stored = uow.photos.of_patient(request.patient_id)
    files: list[ArchiveFile] = []
    manifest: list[dict[str, object]] = []
    for photo in stored:
        name = f"photos/{photo.id}-{photo.view.value}-{photo.taken_at.date().isoformat()}.jpg"
        entry: dict[str, object] = {
            "id": photo.id,
            "file": name,
            "appointment_id": photo.appointment_id,
            "view": photo.view.value,
            "taken_at": photo.taken_at.isoformat(),
            "uploaded_at": photo.uploaded_at.isoformat(),
            "uploaded_by": photo.uploaded_by,
            "width": photo.width,
            "height": photo.height,
            "bytes": photo.byte_size,
            "sha256": photo.sha256,
        }
        try:
            data = read_media(root, photo.sha256)
        except NotFoundError:
            entry["file"] = None
            entry["missing"] = "the image file is missing from the clinic's media folder"
        else:
            files.append(
                ArchiveFile(
                    name,
                    data,
                    f"your {photo.view_label} photo taken {photo.taken_at.date().isoformat()}",
                )
            )
        manifest.append(entry)
    if not stored:
        return
    yield ArchiveFile(
        "photos/manifest.json",
        json.dumps(manifest, indent=2, ensure_ascii=False).encode(),
        f"the list of the {len(stored)} photo(s) in your record (when, which view, checksums)",
    )
    yield from files


#: The parts of every archive, in order. Append a contributor to add files to every subject
#: access archive.
CONTRIBUTORS: list[Contributor] = [
    fhir_record,
    handout,
    messages,
    audit_trail,
    signed_consents,
    photos,
]


def _readme(patient_id: int, at: datetime, files: Sequence[ArchiveFile]) -> bytes:
    lines = [
        "Your data held by the clinic",
        "",
        f"Record number {patient_id}, taken {at.isoformat(timespec='seconds')}.",
        "This archive holds everything the clinic's needleplan system stores about you:",
        "",
        *(f"- {f.name}: {f.description}" for f in files),
        "",
        "Times are in UTC. Ask the clinic to correct anything wrong, or to erase what the law",
        "lets it erase (contact requests, consent to be contacted, message texts). Clinical",
        "records are kept for the clinic's retention period, then anonymised.",
    ]
    return ("\n".join(lines) + "\n").encode()


def subject_access_archive(
    db: Database,
    patient_id: int,
    *,
    actor: User | None,
    contributors: Sequence[Contributor] | None = None,
) -> bytes:
    """The ZIP of everything stored about patient ``patient_id`` (see the module).

    Raises NotFoundError for an unknown patient, PermissionDeniedError for a role that may not
    take it out (audited as a refused attempt).
    """
    data_rights.may_export_all(db, actor, patient_id)
    at = utc_now()
    parts = list(contributors if contributors is not None else CONTRIBUTORS)
    with audited(db, actor, "patient.export_all", patient_id) as note:
        request = ArchiveRequest(db, patient_id, at)
        files = [f for contributor in parts for f in contributor(request)]
        note.detail = "files=" + ",".join(f.name for f in files)
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", compression=zipfile.ZIP_DEFLATED) as archive:
        archive.writestr("README.txt", _readme(patient_id, at, files))
        for f in files:
            archive.writestr(f.name, f.data)
    return buffer.getvalue()


__all__ = [
    "CONTRIBUTORS",
    "ArchiveFile",
    "ArchiveRequest",
    "Contributor",
    "audit_trail",
    "fhir_record",
    "handout",
    "messages",
    "photos",
    "signed_consents",
    "subject_access_archive",
]
