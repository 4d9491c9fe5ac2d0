"""Signed consent forms (services.consent_forms): signing builds and stores a PDF with its
SHA-256, a newer form supersedes the older, a withdrawal is recorded and never deleted, photo
consent uses, template versions, roles and the audit trail."""

from __future__ import annotations

import hashlib
import io
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from needleplan import services
from needleplan.domain.consent_forms import ConsentKind, ConsentStanding, PhotoUse
from needleplan.domain.records import Role
from needleplan.exceptions import (
    ConsentRequiredError,
    InputError,
    NotFoundError,
    PermissionDeniedError,
    StateError,
)
from needleplan.services import consent_forms as cf
from tests.consent_support import blank_png, signature_png


@pytest.fixture
def people(clinic: Any) -> Any:
    db = clinic.db
    clinic.prac = services.create_user(
        db, "pia", "pia-password-123", Role.PRACTITIONER, practitioner_id=clinic.alice.id
    )
    clinic.desk = services.create_user(db, "finn", "finn-password-123", Role.FRONT_DESK)
    clinic.admin = services.create_user(db, "ada", "ada-password-1234", Role.ADMIN)
    return clinic


def test_the_shipped_templates_are_version_one(db: Any) -> None:
    for kind in ConsentKind:
        template = cf.latest_template(db, kind)
        assert template.version == 1
        assert template.kind is kind
        assert len(template.body) > 200
        assert template.created_by == "needleplan"


def test_signing_stores_a_pdf_with_its_hash_name_version_and_device(people: Any) -> None:
    db, pid = people.db, people.patient.id
    form = cf.sign_consent(db, people.prac, pid, "treatment", signature_png(), "Tablet UA/1.0")
    assert form.kind is ConsentKind.TREATMENT
    assert form.template_version == 1
    assert form.signer_name == "Jane Doe"
    assert form.device == "Tablet UA/1.0"
    assert form.uses == frozenset()
    got, pdf = cf.consent_pdf_of(db, people.prac, pid, form.id)
    assert pdf.startswith(b"%PDF-")
    assert hashlib.sha256(pdf).hexdigest() == form.sha256 == got.sha256
    assert cf.current_consent(db, pid, "treatment") == form
    assert cf.current_consent(db, pid, ConsentKind.PHOTO) is None


@pytest.mark.skipif(shutil.which("pdftotext") is None, reason="pdftotext (poppler) not installed")
def test_the_pdf_shows_kind_version_text_name_time_and_device(people: Any, tmp_path: Path) -> None:
    db, pid = people.db, people.patient.id
    form = cf.sign_consent(db, people.prac, pid, "photo", signature_png(), "Pen UA", ["teaching"])
    _, pdf = cf.consent_pdf_of(db, people.prac, pid, form.id)
    (tmp_path / "form.pdf").write_bytes(pdf)
    out = subprocess.run(
        ["pdftotext", str(tmp_path / "form.pdf"), "-"], capture_output=True, text=True, check=True
    ).stdout
    text = " ".join(out.split())
    assert "photo consent, template version 1" in text
    assert "Jane Doe" in text
    assert "Pen UA" in text
    assert form.signed_at.isoformat(timespec="seconds") in text
    assert "[yes] teaching" in text
    assert "[no] the clinic" in text


def test_an_empty_or_unreadable_signature_is_refused_and_nothing_stored(people: Any) -> None:
    db, pid = people.db, people.patient.id
    for bad, rule in (
        (b"", "is required"),
        (blank_png(), "is empty"),
        (b"GIF89a....", "must be a PNG image"),
        (b"\x89PNG\r\n\x1a\n" + b"\x00" * 40, "readable PNG"),
    ):
        with pytest.raises(InputError) as err:
            cf.sign_consent(db, people.prac, pid, "treatment", bad, "ua")
        assert err.value.problems[0].field == "signature"
        assert rule in err.value.problems[0].rule
    assert cf.consent_forms_of(db, people.prac, pid) == []


def test_a_tiny_dot_is_not_a_signature(people: Any) -> None:
    from PIL import Image, ImageDraw

    image = Image.new("RGBA", (300, 100), (255, 255, 255, 255))
    ImageDraw.Draw(image).ellipse((100, 40, 104, 44), fill=(0, 0, 0, 255))
    out = io.BytesIO()
    image.save(out, format="PNG")
    with pytest.raises(InputError, match="is empty"):
        cf.sign_consent(people.db, people.prac, people.patient.id, "treatment", out.getvalue(), "")


def test_a_huge_canvas_is_refused_before_decoding(people: Any) -> None:
    from PIL import Image

    out = io.BytesIO()
    Image.new("1", (5000, 10)).save(out, format="PNG")
    with pytest.raises(InputError, match="at most 4000 pixels"):
        cf.sign_consent(people.db, people.prac, people.patient.id, "treatment", out.getvalue(), "")


def test_bad_kind_and_uses_name_the_field(people: Any) -> None:
    db, pid = people.db, people.patient.id
    with pytest.raises(InputError) as err:
        cf.sign_consent(db, people.prac, pid, "tattoo", signature_png(), "ua")
    assert err.value.problems[0].field == "kind"
    with pytest.raises(InputError) as err:
        cf.sign_consent(db, people.prac, pid, "photo", signature_png(), "ua", ["billboards"])
    assert err.value.problems[0].field == "uses"
    assert err.value.problems[0].value == "billboards"
    with pytest.raises(InputError, match="no uses"):
        cf.sign_consent(db, people.prac, pid, "treatment", signature_png(), "ua", ["marketing"])


def test_photo_consent_uses_always_include_record(people: Any) -> None:
    db, pid = people.db, people.patient.id
    assert cf.photo_consent_uses(db, pid) == frozenset()
    cf.sign_consent(db, people.desk, pid, "photo", signature_png(), "ua")
    assert cf.photo_consent_uses(db, pid) == frozenset({"record"})
    cf.sign_consent(db, people.desk, pid, "photo", signature_png(), "ua", ["marketing", "teaching"])
    assert cf.photo_consent_uses(db, pid) == {"record", "teaching", "marketing"}
    assert cf.photo_consent_uses(db, 9999) == frozenset()


def test_a_newer_form_supersedes_and_a_withdrawal_is_kept(people: Any) -> None:
    db, pid = people.db, people.patient.id
    first = cf.sign_consent(db, people.prac, pid, "photo", signature_png(), "ua", ["teaching"])
    second = cf.sign_consent(db, people.prac, pid, "photo", signature_png(), "ua")
    treat = cf.sign_consent(db, people.prac, pid, "treatment", signature_png(), "ua")
    listed = {f.id: f.standing for f in cf.consent_forms_of(db, people.desk, pid)}
    assert listed == {
        first.id: ConsentStanding.SUPERSEDED,
        second.id: ConsentStanding.CURRENT,
        treat.id: ConsentStanding.CURRENT,
    }
    with pytest.raises(StateError, match="superseded"):
        cf.withdraw_consent(db, people.prac, pid, first.id, "changed her mind")
    with pytest.raises(InputError) as err:
        cf.withdraw_consent(db, people.prac, pid, second.id, "  ")
    assert err.value.problems[0].field == "reason"
    gone = cf.withdraw_consent(db, people.desk, pid, second.id, "no more photos, by phone")
    assert gone.withdrawn_by == "finn"
    assert gone.withdrawn_reason == "no more photos, by phone"
    assert cf.photo_consent_uses(db, pid) == frozenset()  # the older form does not come back
    listed = {f.id: f.standing for f in cf.consent_forms_of(db, people.desk, pid)}
    assert listed[second.id] is ConsentStanding.WITHDRAWN
    assert len(listed) == 3  # nothing deleted
    with pytest.raises(StateError, match="withdrawn"):
        cf.withdraw_consent(db, people.prac, pid, second.id, "again")


def test_treatment_consent_is_required_until_signed_and_after_withdrawal(people: Any) -> None:
    db, pid = people.db, people.patient.id
    with db.transaction() as uow, pytest.raises(ConsentRequiredError, match="no signed"):
        cf.require_treatment_consent(uow, pid)
    form = cf.sign_consent(db, people.prac, pid, "treatment", signature_png(), "ua")
    with db.transaction() as uow:
        assert cf.require_treatment_consent(uow, pid).id == form.id
    cf.withdraw_consent(db, people.prac, pid, form.id, "she withdrew")
    with db.transaction() as uow, pytest.raises(ConsentRequiredError, match="withdrew") as err:
        cf.require_treatment_consent(uow, pid)
    assert err.value.patient_id == pid
    assert err.value.kind == "treatment"


def test_roles_front_desk_signs_but_does_not_download(people: Any) -> None:
    db, pid = people.db, people.patient.id
    form = cf.sign_consent(db, people.desk, pid, "treatment", signature_png(), "ua")
    with pytest.raises(PermissionDeniedError):
        cf.consent_pdf_of(db, people.desk, pid, form.id)
    cf.consent_pdf_of(db, people.admin, pid, form.id)
    with pytest.raises(NotFoundError):
        cf.consent_pdf_of(db, people.admin, pid + 1, form.id)
    with pytest.raises(PermissionDeniedError):
        cf.save_template(db, people.prac, "treatment", "T", "text")


def test_templates_are_versioned_and_checked(people: Any) -> None:
    db = people.db
    saved = cf.save_template(db, people.admin, "treatment", "New title", "New text\nline two")
    assert saved.version == 2
    assert saved.created_by == "ada"
    assert [t.version for t in cf.template_versions(db, "treatment")] == [2, 1]
    assert cf.template_version(db, "treatment", 1).title.startswith("Consent to")
    form = cf.sign_consent(db, people.prac, people.patient.id, "treatment", signature_png(), "u")
    assert form.template_version == 2
    for title, body, field in (
        ("", "x", "title"),
        ("T", "  ", "body"),
        ("T", "x" * 20_001, "body"),
    ):
        with pytest.raises(InputError) as err:
            cf.save_template(db, people.admin, "treatment", title, body)
        assert err.value.problems[0].field == field
    assert cf.latest_template(db, "treatment").version == 2


def test_every_use_is_audited(people: Any) -> None:
    db, pid = people.db, people.patient.id
    form = cf.sign_consent(db, people.prac, pid, "photo", signature_png(), "ua", ["teaching"])
    cf.consent_forms_of(db, people.prac, pid)
    cf.consent_pdf_of(db, people.prac, pid, form.id)
    cf.withdraw_consent(db, people.prac, pid, form.id, "changed her mind")
    cf.save_template(db, people.admin, "photo", "Photos", "Text")
    events = services.audit_log(db, limit=20)
    actions = [e.action for e in reversed(events)]
    assert actions[-5:] == [
        "consent.sign",
        "consent.read",
        "consent.download",
        "consent.withdraw",
        "consent.template.save",
    ]
    sign = next(e for e in events if e.action == "consent.sign")
    assert sign.patient_id == pid
    assert "uses=record,teaching" in sign.detail


def test_a_refused_signature_leaves_no_audit_row(people: Any) -> None:
    db, pid = people.db, people.patient.id
    before = len(services.audit_log(db, limit=1000))
    with pytest.raises(NotFoundError):
        cf.sign_consent(db, people.prac, 9999, "treatment", signature_png(), "ua")
    assert len(services.audit_log(db, limit=1000)) == before
    assert PhotoUse.RECORD.value == "record"
    assert pid


@given(st.binary(max_size=400))
def test_any_bytes_as_a_signature_are_refused_with_an_input_error(data: bytes) -> None:
    """Hostile uploads never crash the check: arbitrary bytes, and a PNG header followed by
    arbitrary bytes, are an InputError naming ``signature``."""
    from needleplan.services.consent_pdf import PNG_MAGIC, check_signature

    for candidate in (data, PNG_MAGIC + data):
        with pytest.raises(InputError) as err:
            check_signature(candidate)
        assert err.value.problems[0].field == "signature"
