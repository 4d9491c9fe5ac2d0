"""Before and after photos in the services: the upload pipeline (type, size and pixel limits,
orientation, metadata removed, thumbnail, private content-addressed files), the photo consent
gate, roles and the audit trail."""

from __future__ import annotations

import hashlib
import io
import stat
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from PIL import Image

from needleplan import services
from needleplan.domain.photos import PhotoView
from needleplan.exceptions import ConsentRequiredError, InputError, PermissionDeniedError
from needleplan.services import photo_images
from needleplan.services.consent_forms import withdraw_consent
from needleplan.services.photos import photo_file, photos_of, timeline, upload_photo
from needleplan.storage import Database
from tests.consent_support import SIGNING_DESK
from tests.photo_support import GPS_IFD, gif, jpeg, png_bomb, sign_photo

NOW = datetime(2031, 3, 1, 12, 0, tzinfo=UTC)


@pytest.fixture
def sqlite_db(tmp_path: Path) -> Any:
    db = Database.open(f"sqlite:///{tmp_path / 'clinic.sqlite3'}")
    try:
        yield db
    finally:
        db.dispose()


@pytest.fixture
def clinic(sqlite_db: Database) -> dict[str, Any]:
    from tests.conftest import make_protocol_value

    db = sqlite_db
    services.ensure_clinic(db, "Test clinic", "Europe/London")
    alice = services.add_practitioner(db, "Alice")
    prac = services.create_user(db, "prac", "correct horse battery", "practitioner")
    desk = services.create_user(db, "desk", "correct horse battery", "front_desk")
    admin = services.create_user(db, "boss", "correct horse battery", "admin")
    jane = services.register_patient(
        db,
        {
            "given_name": "Jane",
            "family_name": "Doe",
            "birth_date": "1976-04-02",
            "consent_treatment": True,
        },
    )
    start = datetime(2031, 1, 6, 9, 0, tzinfo=UTC)
    booking = services.book_course(
        db,
        jane.id,
        make_protocol_value(2),
        [
            (start + timedelta(days=30 * k), start + timedelta(days=30 * k, minutes=45), alice.id)
            for k in range(2)
        ],
        now=start - timedelta(days=1),
    )
    return {
        "db": db,
        "prac": prac,
        "desk": desk,
        "admin": admin,
        "pid": jane.id,
        "visits": [a.id for a in booking.appointments],
    }


def _upload(c: dict[str, Any], data: bytes, **kw: Any) -> Any:
    return upload_photo(
        c["db"],
        kw.pop("actor", c["prac"]),
        c["pid"],
        kw.pop("visit", c["visits"][0]),
        kw.pop("view", "front"),
        data,
        now=NOW,
        **kw,
    )


def test_a_photo_with_gps_exif_is_stored_without_any_metadata(
    clinic: dict[str, Any], media_folder: Path
) -> None:
    sign_photo(clinic["db"], clinic["pid"])
    original = jpeg()
    assert Image.open(io.BytesIO(original)).getexif().get_ifd(GPS_IFD)  # the upload has GPS
    photo = _upload(clinic, original)
    stored = (media_folder / photo.sha256[:2] / photo.sha256).read_bytes()
    assert hashlib.sha256(stored).hexdigest() == photo.sha256
    image = Image.open(io.BytesIO(stored))
    assert image.format == "JPEG"
    assert not image.getexif()
    assert "exif" not in image.info
    assert "comment" not in image.info
    assert b"PhoneCam" not in stored
    assert b"GPS" not in stored
    assert b"taken at home" not in stored
    assert (photo.width, photo.height) == (400, 200) == image.size
    assert photo.byte_size == len(stored)
    thumb = Image.open(
        io.BytesIO((media_folder / photo.thumb_sha256[:2] / photo.thumb_sha256).read_bytes())
    )
    assert max(thumb.size) == photo_images.THUMB_SIZE
    assert not thumb.getexif()
    assert (photo.thumb_width, photo.thumb_height) == thumb.size == (320, 160)


def test_media_files_are_private(clinic: dict[str, Any], media_folder: Path) -> None:
    sign_photo(clinic["db"], clinic["pid"])
    photo = _upload(clinic, jpeg())
    path = media_folder / photo.sha256[:2] / photo.sha256
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert stat.S_IMODE(path.parent.stat().st_mode) == 0o700


@pytest.mark.parametrize(
    ("orientation", "size"), [(6, (200, 400)), (8, (200, 400)), (3, (400, 200))]
)
def test_exif_orientation_is_applied_before_the_tag_is_dropped(
    clinic: dict[str, Any], orientation: int, size: tuple[int, int]
) -> None:
    sign_photo(clinic["db"], clinic["pid"])
    photo = _upload(clinic, jpeg(orientation=orientation, gps=False))
    _, data = photo_file(clinic["db"], clinic["prac"], clinic["pid"], photo.id, "view")
    image = Image.open(io.BytesIO(data)).convert("RGB")
    assert image.size == size
    assert not image.getexif()
    # the light half (200, 120, 100) moved where the rotation puts it
    w, h = image.size
    probe = {6: (w // 2, 5), 8: (w // 2, h - 5), 3: (w - 5, h // 2)}[orientation]
    r, _, b = image.getpixel(probe)  # type: ignore[misc]
    assert r > 150
    assert b < 150


@pytest.mark.parametrize(
    ("data", "rule"),
    [
        (b"", "is empty"),
        (b"name,notes\nJane,hello\n", "is not an image"),
        (gif(), "must be JPEG, PNG or WebP"),
        (png_bomb(), "too many pixels"),
        (jpeg(800, 800)[:-400], "damaged or truncated"),
    ],
    ids=["empty", "text", "gif", "bomb", "truncated"],
)
def test_bad_files_are_refused_naming_the_field(
    clinic: dict[str, Any], data: bytes, rule: str, media_folder: Path
) -> None:
    sign_photo(clinic["db"], clinic["pid"])
    with pytest.raises(InputError) as caught:
        _upload(clinic, data, filename="upload.bin")
    (problem,) = caught.value.problems
    assert problem.field == "file"
    assert rule in problem.rule
    assert photos_of(clinic["db"], clinic["prac"], clinic["pid"]) == []
    assert not any(p.is_file() for p in media_folder.rglob("*"))


def test_a_file_over_the_size_limit_is_refused(
    clinic: dict[str, Any], monkeypatch: pytest.MonkeyPatch
) -> None:
    sign_photo(clinic["db"], clinic["pid"])
    monkeypatch.setattr(photo_images, "MAX_PHOTO_BYTES", 1000)
    with pytest.raises(InputError, match="must be at most"):
        _upload(clinic, jpeg())


def test_webp_and_png_with_transparency_are_accepted_as_jpeg(clinic: dict[str, Any]) -> None:
    sign_photo(clinic["db"], clinic["pid"])
    webp = _upload(clinic, jpeg(fmt="WEBP", gps=False), view="left_45")
    out = io.BytesIO()
    Image.new("RGBA", (64, 64), (0, 0, 0, 0)).save(out, format="PNG")
    png = _upload(clinic, out.getvalue(), view="right_45")
    _, data = photo_file(clinic["db"], clinic["prac"], clinic["pid"], png.id)
    image = Image.open(io.BytesIO(data))
    assert image.format == "JPEG"
    assert image.getpixel((5, 5))[0] > 240  # type: ignore[index]  # transparent became white
    assert webp.view is PhotoView.LEFT_45


def test_without_photo_consent_nothing_is_stored(
    clinic: dict[str, Any], media_folder: Path
) -> None:
    db, pid = clinic["db"], clinic["pid"]
    with pytest.raises(ConsentRequiredError, match="no signed photo consent"):
        _upload(clinic, jpeg())
    form = sign_photo(db, pid)
    _upload(clinic, jpeg())
    withdraw_consent(db, SIGNING_DESK, pid, form.id, "changed her mind")
    with pytest.raises(ConsentRequiredError, match="withdrew her photo consent"):
        _upload(clinic, jpeg(color=(1, 2, 3)))
    assert len(photos_of(db, clinic["prac"], pid)) == 1  # the earlier photo stays in her record


def test_bad_view_time_and_session_are_named(clinic: dict[str, Any]) -> None:
    sign_photo(clinic["db"], clinic["pid"])
    with pytest.raises(InputError, match="view"):
        _upload(clinic, jpeg(), view="top")
    with pytest.raises(InputError, match="must not be in the future"):
        _upload(clinic, jpeg(), taken_at=NOW + timedelta(days=1))
    with pytest.raises(InputError, match="ISO 8601"):
        _upload(clinic, jpeg(), taken_at="yesterday")
    other = services.register_patient(
        clinic["db"], {"given_name": "Ann", "family_name": "Other", "birth_date": "1980-01-01"}
    )
    with pytest.raises(InputError, match="appointment_id"):
        upload_photo(
            clinic["db"], clinic["prac"], other.id, clinic["visits"][0], "front", jpeg(), now=NOW
        )


@pytest.mark.parametrize("who", ["desk", "admin"])
def test_only_practitioners_handle_photos(clinic: dict[str, Any], who: str) -> None:
    sign_photo(clinic["db"], clinic["pid"])
    photo = _upload(clinic, jpeg())
    with pytest.raises(PermissionDeniedError):
        _upload(clinic, jpeg(), actor=clinic[who])
    with pytest.raises(PermissionDeniedError):
        photo_file(clinic["db"], clinic[who], clinic["pid"], photo.id, "thumb")
    with pytest.raises(PermissionDeniedError):
        photos_of(clinic["db"], clinic[who], clinic["pid"])


def test_every_upload_view_and_download_is_audited(clinic: dict[str, Any]) -> None:
    db, pid = clinic["db"], clinic["pid"]
    sign_photo(db, pid)
    photo = _upload(clinic, jpeg())
    for kind in ("view", "thumb", "download"):
        photo_file(db, clinic["prac"], pid, photo.id, kind)
    photos_of(db, clinic["prac"], pid)
    events, _ = services.search_audit(db, patient_id=pid, limit=100)
    mine = [(e.action, e.detail) for e in events if e.username == "prac"]
    assert (
        "photo.upload",
        f"photo={photo.id} view=front appointment={clinic['visits'][0]}",
    ) in mine
    for kind in ("view", "thumb", "download"):
        assert (f"photo.{kind}", f"photo={photo.id}") in mine
    assert ("photo.list", "") in mine


def test_the_timeline_groups_each_view_oldest_first(clinic: dict[str, Any]) -> None:
    sign_photo(clinic["db"], clinic["pid"])
    later = _upload(clinic, jpeg(), taken_at=NOW - timedelta(days=1), visit=clinic["visits"][1])
    first = _upload(clinic, jpeg(color=(9, 9, 9)), taken_at=NOW - timedelta(days=40))
    side = _upload(clinic, jpeg(color=(5, 5, 5)), view="left_profile")
    line = timeline(photos_of(clinic["db"], clinic["prac"], clinic["pid"]))
    assert [p.id for p in line[PhotoView.FRONT]] == [first.id, later.id]
    assert [p.id for p in line[PhotoView.LEFT_PROFILE]] == [side.id]
    assert line[PhotoView.RIGHT_45] == []


def test_the_same_bytes_are_stored_once(clinic: dict[str, Any], media_folder: Path) -> None:
    sign_photo(clinic["db"], clinic["pid"])
    a = _upload(clinic, jpeg())
    b = _upload(clinic, jpeg(), view="left_45")
    assert a.sha256 == b.sha256
    assert len([p for p in media_folder.rglob("*") if p.is_file()]) == 2  # image and thumbnail
