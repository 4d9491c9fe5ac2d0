"""Patients' data rights (issue 17): the subject access archive (its files, the contributor
extension point, who may take it, audited), erasure on request (audited without the erased
data), and retention (anonymised after the clinic's period, audit log trimmed)."""

from __future__ import annotations

import csv
import io
import json
import zipfile
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from needleplan import services
from needleplan.domain.messages import MessageKind
from needleplan.exceptions import InputError, PermissionDeniedError
from needleplan.reports import subject_access
from needleplan.services import data_rights
from tests.consent_support import sign_treatment


@pytest.fixture
def clinic(populated: Any) -> Any:
    db = populated.db
    staff = {
        "prac": services.create_user(db, "prac", "prac-password-1", "practitioner"),
        "desk": services.create_user(db, "desk", "desk-password-1", "front_desk"),
        "boss": services.create_user(db, "boss", "boss-password-1", "admin"),
    }
    populated.staff = staff
    return populated


def _actions(db: Any, patient_id: int | None = None) -> list[tuple[str, str, str]]:
    events, _ = services.search_audit(db, patient_id=patient_id, limit=1000)
    return [(e.username, e.action, e.detail) for e in reversed(events)]


def test_the_archive_holds_her_record_handout_messages_audit_trail_and_a_readme(
    clinic: Any,
) -> None:
    db, patient = clinic.db, clinic.patient
    sign_treatment(db, patient.id)  # a signed consent form goes in as its PDF
    data = subject_access.subject_access_archive(db, patient.id, actor=clinic.staff["prac"])
    archive = zipfile.ZipFile(io.BytesIO(data))
    names = archive.namelist()
    assert names[0] == "README.txt"
    with db.transaction() as uow:
        forms = uow.consent_forms.for_patient(patient.id)
        pdfs = {f.id: uow.consent_forms.pdf(f.id) for f in forms}
        stored = uow.photos.of_patient(patient.id)
    signed = {f"consent-forms/{f.id}-{f.kind.value}-v{f.template_version}.pdf" for f in forms}
    shots = {f"photos/{p.id}-{p.view.value}-{p.taken_at.date().isoformat()}.jpg" for p in stored}
    assert stored  # the populated clinic has a photo of her first session
    assert set(names) == {
        "README.txt",
        "record.fhir.json",
        "handout.pdf",
        "messages.json",
        "audit-trail.csv",
        "photos/manifest.json",
        *signed,
        *shots,
    }
    assert signed
    for f in forms:  # the PDFs she signed, byte for byte
        name = f"consent-forms/{f.id}-{f.kind.value}-v{f.template_version}.pdf"
        assert archive.read(name) == pdfs[f.id]
    bundle = json.loads(archive.read("record.fhir.json"))
    assert bundle["resourceType"] == "Bundle"
    assert bundle["entry"][0]["resource"]["name"][0]["family"] == patient.family_name
    assert archive.read("handout.pdf").startswith(b"%PDF")
    messages = json.loads(archive.read("messages.json"))
    assert messages
    assert {m["kind"] for m in messages} <= {k.value for k in MessageKind}
    trail = list(csv.reader(io.StringIO(archive.read("audit-trail.csv").decode())))
    assert trail[0] == ["at", "account", "action", "detail"]
    readme = archive.read("README.txt").decode()
    for name in names[1:]:
        assert f"- {name}:" in readme
    # taking it out is audited under her id, naming the files only
    last = _actions(db, patient.id)[-1]
    assert last[:2] == ("prac", "patient.export_all")
    assert "handout.pdf" in last[2]


def test_her_photos_are_in_the_archive_byte_for_byte_with_a_manifest(clinic: Any) -> None:
    import hashlib

    from needleplan.storage import media

    db, patient = clinic.db, clinic.patient
    with db.transaction() as uow:
        stored = uow.photos.of_patient(patient.id)
    root = media.media_dir(db.engine)
    data = subject_access.subject_access_archive(db, patient.id, actor=clinic.staff["boss"])
    archive = zipfile.ZipFile(io.BytesIO(data))
    manifest = json.loads(archive.read("photos/manifest.json"))
    assert [m["id"] for m in manifest] == [p.id for p in stored]
    for entry, photo in zip(manifest, stored, strict=True):
        image = archive.read(entry["file"])
        assert image == media.read_media(root, photo.sha256)
        assert hashlib.sha256(image).hexdigest() == entry["sha256"] == photo.sha256
        assert image[:2] == b"\xff\xd8"  # JPEG
        assert entry["view"] == photo.view.value
        assert entry["taken_at"] == photo.taken_at.isoformat()
    readme = archive.read("README.txt").decode()
    assert "- photos/manifest.json:" in readme
    # a file gone from the media folder is listed as missing by the photos part
    media.media_path(root, stored[0].sha256).unlink()
    request = subject_access.ArchiveRequest(db, patient.id, datetime.now(UTC))
    parts = list(subject_access.photos(request))
    assert [f.name for f in parts] == ["photos/manifest.json"]
    entry = json.loads(parts[0].data)[0]
    assert entry["file"] is None
    assert "missing" in entry["missing"]


def test_a_patient_without_photos_gets_no_photo_folder(clinic: Any) -> None:
    from needleplan import services as svc

    other = svc.register_patient(
        clinic.db,
        {"given_name": "Ann", "family_name": "Roe", "birth_date": "1980-01-01"},
    )
    data = subject_access.subject_access_archive(clinic.db, other.id, actor=clinic.staff["boss"])
    names = zipfile.ZipFile(io.BytesIO(data)).namelist()
    assert not [n for n in names if n.startswith("photos/")]


def test_signed_forms_and_photos_join_through_a_contributor(clinic: Any) -> None:
    def consent_forms(request: subject_access.ArchiveRequest) -> list[subject_access.ArchiveFile]:
        return [
            subject_access.ArchiveFile(
                f"consent/{request.patient_id}-treatment.pdf", b"%PDF-1.4 signed", "signed form"
            )
        ]

    parts = [*subject_access.CONTRIBUTORS, consent_forms]
    data = subject_access.subject_access_archive(
        clinic.db, clinic.patient.id, actor=None, contributors=parts
    )
    archive = zipfile.ZipFile(io.BytesIO(data))
    assert f"consent/{clinic.patient.id}-treatment.pdf" in archive.namelist()
    assert "signed form" in archive.read("README.txt").decode()


def test_front_desk_may_not_take_the_whole_record(clinic: Any) -> None:
    with pytest.raises(PermissionDeniedError, match="practitioner or an admin"):
        subject_access.subject_access_archive(
            clinic.db, clinic.patient.id, actor=clinic.staff["desk"]
        )
    assert _actions(clinic.db, clinic.patient.id)[-1][:2] == ("desk", "access.refused")
    # an admin may (the clinic's data-protection duties)
    subject_access.subject_access_archive(clinic.db, clinic.patient.id, actor=clinic.staff["boss"])


def test_erasure_removes_contact_requests_consent_and_message_texts_and_audits_counts(
    clinic: Any,
) -> None:
    db, patient = clinic.db, clinic.patient
    from needleplan.domain.records import Lead

    services.add_lead(
        db,
        Lead(
            public_id="p" * 32,
            name="Somebody",
            email=patient.email or "",
            phone="",
            message="please call me about my jowls",
            estimate_summary="",
            consent_text="yes",
            consented_at=datetime(2031, 1, 1, tzinfo=UTC),
        ),
    )
    leads_before = len(services.list_leads(db))
    bodies = [m.body_text for m in data_rights.patient_messages(db, patient.id)]
    with pytest.raises(PermissionDeniedError):
        data_rights.erase_on_request(db, patient.id, actor=clinic.staff["prac"])
    report = data_rights.erase_on_request(db, patient.id, actor=clinic.staff["boss"])
    assert report.contact_requests >= 1
    assert report.messages == len(bodies) > 0
    assert report.contact_consent_withdrawn
    assert len(services.list_leads(db)) == leads_before - report.contact_requests
    for message in data_rights.patient_messages(db, patient.id):
        assert message.body_text is None
        assert message.subject is None
        assert message.recipient is None
        assert message.status.value != "queued"
    after = services.get_patient(db, patient.id)
    assert not after.consent_contact
    assert after.consent_treatment == patient.consent_treatment  # clinical consent stays
    events = _actions(db, patient.id)
    erase = [e for e in events if e[1] == "patient.erase"]
    assert erase == [
        (
            "boss",
            "patient.erase",
            f"contact_requests={report.contact_requests} messages={report.messages} "
            "contact_consent=withdrawn",
        )
    ]
    dump = repr(services.search_audit(db, limit=1000))
    assert "jowls" not in dump
    assert patient.email not in dump


def test_retention_anonymises_records_past_the_period_and_trims_the_audit_log(
    clinic: Any,
) -> None:
    db, patient = clinic.db, clinic.patient
    assert data_rights.retention_settings(db).clinical_years == 12  # set by the fixture
    with pytest.raises(InputError, match="clinical_years"):
        data_rights.set_retention(db, clinical_years=0, actor=clinic.staff["boss"])
    with pytest.raises(PermissionDeniedError):
        data_rights.set_retention(db, clinical_years=5, actor=clinic.staff["prac"])
    data_rights.set_retention(db, clinical_years=5, audit_years=6, actor=clinic.staff["boss"])
    newest = max(
        [a.start for a in services.patient_file(db, patient.id).appointments] + [patient.created_at]
    )
    today = data_rights.run_retention(db)
    assert today.anonymised == []
    assert today.audit_events_deleted == 0  # every event is from today
    early = data_rights.run_retention(db, now=newest + timedelta(days=365 * 4))
    assert patient.id not in early.anonymised
    late = data_rights.run_retention(db, now=newest + timedelta(days=365 * 7))
    assert patient.id in late.anonymised
    assert late.audit_events_deleted > 0  # every event so far is older than 6 years then
    gone = services.get_patient(db, patient.id)
    assert (gone.given_name, gone.family_name) == ("Anonymised", f"Patient {patient.id}")
    assert gone.email is None
    assert gone.phone is None
    assert gone.notes == ""
    assert gone.birth_date == patient.birth_date.replace(month=1, day=1)
    assert data_rights.anonymised_at(db, patient.id) is not None
    # the clinical facts stay
    kept = services.patient_file(db, patient.id)
    assert kept.appointments
    actions = [a for _, a, _ in _actions(db)]
    assert "patient.anonymise" in actions
    assert "audit.purge" in actions
    again = data_rights.run_retention(db, now=newest + timedelta(days=365 * 7))
    assert patient.id not in again.anonymised
