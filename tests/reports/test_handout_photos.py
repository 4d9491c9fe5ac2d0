"""Her before and after photos on her handout: only with her photo consent in force (the
``record`` use is enough), the first and newest photo of each view with two or more, as
thumbnails in the PDF, read and audited (``photo.handout``) in one transaction; none when the
consent is missing or withdrawn, or when the caller does not ask (CLI, subject access)."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from needleplan import services
from needleplan.domain import reference_assessment
from needleplan.exceptions import PermissionDeniedError
from needleplan.reports.handout import handout_for_patient, render_handout
from needleplan.services.consent_forms import withdraw_consent
from needleplan.services.handout_photos import handout_photo_pairs
from needleplan.services.photos import upload_photo
from needleplan.storage import Database
from tests.photo_support import jpeg, sign_photo

NOW = datetime(2031, 3, 1, 12, 0, tzinfo=UTC)
DRAWS = 40


@pytest.fixture
def jane(tmp_path: Path, media_folder: Path) -> Any:
    from tests.conftest import make_protocol_value

    db = Database.open(f"sqlite:///{tmp_path / 'clinic.sqlite3'}")
    services.ensure_clinic(db, "Test clinic", "Europe/London")
    alice = services.add_practitioner(db, "Alice")
    prac = services.create_user(db, "prac", "correct horse battery", "practitioner")
    desk = services.create_user(db, "desk", "correct horse battery", "front_desk")
    patient = services.register_patient(
        db,
        {
            "given_name": "Jane",
            "family_name": "Doe",
            "birth_date": "1976-04-02",
            "consent_treatment": True,
        },
    )
    services.record_assessment(db, patient.id, reference_assessment())
    start = datetime(2031, 1, 6, 9, 0, tzinfo=UTC)
    booking = services.book_course(
        db,
        patient.id,
        make_protocol_value(2),
        [
            (start + timedelta(days=30 * k), start + timedelta(days=30 * k, minutes=45), alice.id)
            for k in range(2)
        ],
        now=start - timedelta(days=1),
    )
    try:
        yield db, patient.id, prac, desk, [a.id for a in booking.appointments]
    finally:
        db.dispose()


def _photo(db: Any, pid: int, prac: Any, visit: int, view: str, day: int, color: Any) -> Any:
    return upload_photo(
        db,
        prac,
        pid,
        visit,
        view,
        jpeg(color=color),
        taken_at=datetime(2031, 1, day, 10, tzinfo=UTC),
        now=NOW,
    )


def _images(pdf: bytes) -> int:
    return len(re.findall(rb"/Subtype\s*/Image", pdf))


def _handout_events(db: Any, pid: int) -> list[str]:
    return [e.detail for e in services.audit_log(db, patient_id=pid) if e.action == "photo.handout"]


def test_the_first_and_newest_photo_of_each_view_go_on_her_handout(jane: Any) -> None:
    db, pid, prac, _desk, visits = jane
    sign_photo(db, pid)  # the record use only: enough for her own handout
    first = _photo(db, pid, prac, visits[0], "front", 6, (200, 120, 100))
    _photo(db, pid, prac, visits[0], "front", 7, (190, 110, 90))
    newest = _photo(db, pid, prac, visits[1], "front", 9, (180, 100, 80))
    _photo(db, pid, prac, visits[0], "left_45", 6, (150, 150, 150))  # one photo: no pair

    (pair,) = handout_photo_pairs(db, pid, prac)
    assert (pair.view.value, pair.before.photo_id, pair.after.photo_id) == (
        "front",
        first.id,
        newest.id,
    )
    assert pair.before.jpeg.startswith(b"\xff\xd8")  # the thumbnail, a JPEG
    assert _handout_events(db, pid)[-1].startswith(f"photos={first.id},{newest.id}")

    with_photos = handout_for_patient(db, pid, draws=DRAWS, photos_for="patient-link")
    without = handout_for_patient(db, pid, draws=DRAWS)
    assert len(with_photos.photos) == 1
    assert without.photos == ()
    assert _images(render_handout(with_photos)) == _images(render_handout(without)) + 2
    german = handout_for_patient(db, pid, draws=DRAWS, photos_for=prac, language="de")
    assert len(german.photos) == 1
    assert len(_handout_events(db, pid)) == 3  # the direct call and the two handouts asked


def test_no_photos_without_a_photo_consent_in_force_and_not_for_the_front_desk(
    jane: Any,
) -> None:
    db, pid, prac, desk, visits = jane
    form = sign_photo(db, pid)
    _photo(db, pid, prac, visits[0], "front", 6, (200, 120, 100))
    _photo(db, pid, prac, visits[1], "front", 9, (180, 100, 80))
    with pytest.raises(PermissionDeniedError):
        handout_photo_pairs(db, pid, desk)
    withdraw_consent(db, prac, pid, form.id, "she asked by phone")
    assert handout_photo_pairs(db, pid, prac) == []
    assert handout_for_patient(db, pid, draws=DRAWS, photos_for=prac).photos == ()
    assert _handout_events(db, pid) == []  # nothing read, nothing audited
