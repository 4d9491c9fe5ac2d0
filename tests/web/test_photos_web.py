"""Before and after photos in the web app: every route for every role (practitioners only;
front desk and admins get 403 and no photo link), the upload with its refusals named, the
consent gate, no-store private images, each view audited, and the compare page."""

from __future__ import annotations

import io
from typing import Any

import pytest
from fastapi.testclient import TestClient
from PIL import Image

from needleplan import services
from needleplan.services.photos import upload_photo
from tests.photo_support import GPS_IFD, jpeg, png_bomb, sign_photo

from .conftest import csrf_from
from .patients_fixtures import ClinicApp, audit_actions, clinic_app, sign_in, web

__all__ = ["clinic_app", "web"]


def _visit(clinic_app: ClinicApp) -> int:
    with clinic_app.db.transaction() as uow:
        return uow.appointments.for_patient(clinic_app.patient_id)[0].id


def _post(web: TestClient, clinic_app: ClinicApp, data: bytes, **fields: Any) -> Any:
    pid = clinic_app.patient_id
    page = web.get(f"/app/patients/{pid}/photos")
    form = {
        "csrf_token": csrf_from(page.text),
        "patient_id": str(pid),
        "appointment_id": str(_visit(clinic_app)),
        "view": "front",
        "taken_at": "2026-01-06T09:30",
        **fields,
    }
    return web.post(
        "/app/photos",
        data=form,
        files={"file": ("face.jpg", data, "image/jpeg")},
        follow_redirects=False,
    )


def _stored(
    clinic_app: ClinicApp, view: str = "front", color: tuple[int, int, int] = (1, 2, 3)
) -> int:
    """A photo stored through the service, as her practitioner."""
    practitioner = services.find_user(clinic_app.db, clinic_app.user_ids["prac"])
    assert practitioner is not None
    return upload_photo(
        clinic_app.db,
        practitioner,
        clinic_app.patient_id,
        _visit(clinic_app),
        view,
        jpeg(color=color),
    ).id


def test_a_practitioner_uploads_a_photo_and_its_gps_is_gone(
    web: TestClient, clinic_app: ClinicApp
) -> None:
    pid = clinic_app.patient_id
    sign_photo(clinic_app.db, pid)
    sign_in(web, "prac")
    page = web.get(f"/app/patients/{pid}/photos")
    assert page.status_code == 200
    assert 'accept="image/*" capture="environment"' in page.text
    done = _post(web, clinic_app, jpeg())
    assert done.status_code == 303, done.text
    photo_id = int(done.headers["location"].split("uploaded=")[1].split("#")[0])
    page = web.get(done.headers["location"])
    assert f'data-photo="{photo_id}"' in page.text
    thumb = web.get(f"/app/patients/{pid}/photos/{photo_id}/thumb")
    assert thumb.status_code == 200
    assert thumb.headers["content-type"] == "image/jpeg"
    assert thumb.headers["cache-control"] == "no-store, private"
    image = web.get(f"/app/patients/{pid}/photos/{photo_id}/image")
    read = Image.open(io.BytesIO(image.content))
    assert not read.getexif().get_ifd(GPS_IFD)
    assert not read.getexif()
    download = web.get(f"/app/patients/{pid}/photos/{photo_id}/download")
    assert download.headers["content-disposition"].startswith("attachment;")
    assert download.headers["cache-control"] == "no-store, private"
    actions = audit_actions(clinic_app.db, pid)
    for action in ("photo.upload", "photo.thumb", "photo.view", "photo.download", "photo.list"):
        assert ("prac", action, pid) in actions


@pytest.mark.parametrize("who", ["desk", "admin"])
def test_front_desk_and_admin_see_no_photos(
    web: TestClient, clinic_app: ClinicApp, who: str
) -> None:
    pid = clinic_app.patient_id
    sign_photo(clinic_app.db, pid)
    photo_id = _stored(clinic_app)
    sign_in(web, who)
    patient_page = web.get(f"/app/patients/{pid}").text
    assert "photos-button" not in patient_page
    assert "/photos" not in patient_page
    for path in (
        f"/app/patients/{pid}/photos",
        f"/app/patients/{pid}/photos/{photo_id}/thumb",
        f"/app/patients/{pid}/photos/{photo_id}/image",
        f"/app/patients/{pid}/photos/{photo_id}/download",
        f"/app/patients/{pid}/photos/compare?view=front",
    ):
        refused = web.get(path)
        assert refused.status_code == 403, path
        assert b"\xff\xd8" not in refused.content[:4]
    token = csrf_from(patient_page)
    assert (
        web.post(
            "/app/photos",
            data={"csrf_token": token, "patient_id": str(pid)},
            files={"file": ("a.jpg", jpeg(), "image/jpeg")},
        ).status_code
        == 403
    )


def test_the_practitioner_sees_the_photos_link(web: TestClient, clinic_app: ClinicApp) -> None:
    sign_in(web, "prac")
    assert 'id="photos-button"' in web.get(f"/app/patients/{clinic_app.patient_id}").text


def test_anonymous_visitors_are_sent_to_sign_in(web: TestClient, clinic_app: ClinicApp) -> None:
    pid = clinic_app.patient_id
    for path in (f"/app/patients/{pid}/photos", f"/app/patients/{pid}/photos/1/thumb"):
        assert web.get(path, follow_redirects=False).status_code in (303, 401)


def test_without_photo_consent_the_page_offers_the_signing_screen_and_upload_is_refused(
    web: TestClient, clinic_app: ClinicApp
) -> None:
    pid = clinic_app.patient_id
    sign_in(web, "prac")
    page = web.get(f"/app/patients/{pid}/photos").text
    assert 'id="photo-consent-sign"' in page
    assert 'id="photo-upload"' not in page
    refused = _post(web, clinic_app, jpeg())
    assert refused.status_code == 409
    assert "no signed photo consent" in refused.text
    assert ("prac", "photo.upload", pid) not in audit_actions(clinic_app.db, pid)


@pytest.mark.parametrize(
    ("data", "fields", "field", "rule"),
    [
        (b"just some text\n", {}, "file", "is not an image"),
        (png_bomb(), {}, "file", "too many pixels"),
        (jpeg(), {"view": "top"}, "view", "must be one of"),
        (jpeg(), {"appointment_id": "x"}, "appointment_id", "record id"),
        (jpeg(), {"appointment_id": "999999"}, "appointment_id", "must be a session"),
        (jpeg(), {"taken_at": "soon"}, "taken_at", "date and time"),
    ],
    ids=["text", "bomb", "view", "appointment-text", "appointment-other", "time"],
)
def test_bad_uploads_are_refused_naming_the_field(
    web: TestClient,
    clinic_app: ClinicApp,
    data: bytes,
    fields: dict[str, str],
    field: str,
    rule: str,
) -> None:
    sign_photo(clinic_app.db, clinic_app.patient_id)
    sign_in(web, "prac")
    refused = _post(web, clinic_app, data, **fields)
    assert refused.status_code == 422, refused.text[:300]
    assert f"<strong>{field}</strong>" in refused.text
    assert rule in refused.text


def test_upload_needs_the_csrf_token_and_a_known_patient(
    web: TestClient, clinic_app: ClinicApp
) -> None:
    sign_in(web, "prac")
    forged = web.post(
        "/app/photos",
        data={"patient_id": str(clinic_app.patient_id)},
        files={"file": ("a.jpg", jpeg(), "image/jpeg")},
    )
    assert forged.status_code == 403
    assert _post(web, clinic_app, jpeg(), patient_id="987654").status_code == 404
    assert _post(web, clinic_app, jpeg(), patient_id="abc").status_code == 422


def test_a_full_size_phone_photo_fits_the_upload_body_limit(
    web: TestClient, clinic_app: ClinicApp
) -> None:
    """The app's general 1 MiB body limit does not apply to the photo upload."""
    sign_photo(clinic_app.db, clinic_app.patient_id)
    sign_in(web, "prac")
    big = jpeg(3000, 2000) + b"\0" * (2 * 1024 * 1024)  # 2 MiB of padding after the image
    assert len(big) > 1024 * 1024
    assert _post(web, clinic_app, big).status_code == 303


def test_unknown_photos_are_404(web: TestClient, clinic_app: ClinicApp) -> None:
    sign_in(web, "prac")
    pid = clinic_app.patient_id
    assert web.get(f"/app/patients/{pid}/photos/424242/thumb").status_code == 404
    assert web.get(f"/app/patients/{pid}/photos/424242/image").status_code == 404


def test_compare_shows_before_and_after_side_by_side_and_overlaid(
    web: TestClient, clinic_app: ClinicApp
) -> None:
    pid = clinic_app.patient_id
    sign_photo(clinic_app.db, pid)
    first = _stored(clinic_app, color=(200, 100, 100))
    last = _stored(clinic_app, color=(100, 100, 200))
    sign_in(web, "prac")
    page = web.get(f"/app/patients/{pid}/photos/compare?view=front")
    assert page.status_code == 200
    assert f'id="side-before" src="/app/patients/{pid}/photos/{first}/image"' in page.text
    assert f'id="side-after" src="/app/patients/{pid}/photos/{last}/image"' in page.text
    assert 'id="overlay-opacity"' in page.text
    assert web.get(f"/app/patients/{pid}/photos/compare?view=left_45").status_code == 200
    assert 'id="compare-empty"' in web.get(f"/app/patients/{pid}/photos/compare?view=left_45").text
    assert web.get(f"/app/patients/{pid}/photos/compare?view=top").status_code == 422
    assert web.get(f"/app/patients/{pid}/photos/compare?view=front&before=999").status_code == 422
