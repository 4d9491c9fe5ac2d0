"""Before and after photos in the staff workspace (practitioners only: the front desk and
admins get 403 on every route here and see no photo section on the patient page).

* ``GET /app/patients/{id}/photos`` — her photos: the upload form (take a photo with the
  tablet's or phone's camera, ``<input type=file accept="image/*" capture>``, or choose a file)
  for one of her sessions and a standard view, her photo consent's standing, and a timeline of
  thumbnails per view across her course.
* ``POST /app/photos`` — the upload (multipart: ``patient_id``, ``appointment_id``, ``view``,
  ``taken_at``, ``file``); stored through :func:`needleplan.services.photos.upload_photo`. A bad
  file or field re-shows the page naming field, value and rule (422); without her photo consent
  the page says why and links the signing screen (409). Its own body limit
  (:data:`UPLOAD_BODY_LIMIT`) so a full-size phone photo fits.
* ``GET /app/patients/{id}/photos/{photo}/image|thumb|download`` — the JPEG (download as an
  attachment), ``Cache-Control: no-store, private``; each one audited.
* ``GET /app/patients/{id}/photos/compare?view=&before=&after=`` — the same view before and
  after side by side and as an overlay with an opacity slider (``static/photo-compare.js``).
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Path, Query, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from starlette.datastructures import UploadFile

from needleplan import services
from needleplan.domain.consent_forms import ConsentKind
from needleplan.domain.photos import VIEW_LABELS, Photo, PhotoView, parse_view
from needleplan.exceptions import ConsentRequiredError, FieldProblem, InputError
from needleplan.services import photos as ph
from needleplan.services.consent_forms import current_consent
from needleplan.services.photo_images import MAX_PHOTO_BYTES
from needleplan.storage.database import Database
from needleplan.web.auth import Permission, StaffUser
from needleplan.web.deps import DbDep, get_clinic, get_db
from needleplan.web.routes.booking import local_text
from needleplan.web.routes.pages import render
from needleplan.web.routes.visits import acting_account
from needleplan.web.security import CSRF_FIELD, check_csrf, require_permission

router = APIRouter(include_in_schema=False)

ClinicalDep = Annotated[StaffUser, Depends(require_permission(Permission.CLINICAL))]

#: The upload route's body limit [bytes]: the largest photo plus room for the form fields.
UPLOAD_PATH = "/app/photos"
UPLOAD_BODY_LIMIT = MAX_PHOTO_BYTES + 256 * 1024
#: The largest record id a route accepts (the id columns are 32-bit integers).
MAX_ID = 2**31 - 1
RecordId = Annotated[int, Path(ge=1, le=MAX_ID)]
IMAGE_HEADERS = {"Cache-Control": "no-store, private", "X-Content-Type-Options": "nosniff"}


def _int(value: str, field: str) -> int:
    text = (value or "").strip()
    if not text.isascii() or not text.isdigit() or len(text) > 12 or not 1 <= int(text) <= MAX_ID:
        raise InputError.one(field, text[:30], f"must be a record id (1 to {MAX_ID})")
    return int(text)


def _at(request: Request) -> Any:
    clinic = get_clinic(request)
    return lambda value, fmt="%Y-%m-%d %H:%M": local_text(value, clinic, fmt)


def _page(
    request: Request,
    db: Database,
    user: StaffUser,
    patient_id: RecordId,
    *,
    status_code: int = 200,
    problems: list[FieldProblem] | None = None,
    consent_problem: str = "",
    form: dict[str, str] | None = None,
    uploaded: int = 0,
) -> HTMLResponse:
    request.state.user = user
    patient = services.get_patient(db, patient_id)
    photos = ph.photos_of(db, acting_account(db, user), patient_id)
    with db.transaction() as uow:
        visits = sorted(uow.appointments.for_patient(patient_id), key=lambda a: a.start)
    consent = current_consent(db, patient_id, ConsentKind.PHOTO)
    return render(
        request,
        "app/photos.html",
        status_code=status_code,
        patient=patient,
        timeline=[(v.value, VIEW_LABELS[v], line) for v, line in ph.timeline(photos).items()],
        views=[(v.value, VIEW_LABELS[v]) for v in PhotoView],
        visits=visits,
        consent=consent,
        problems=problems or [],
        consent_problem=consent_problem,
        form=form or {},
        uploaded=uploaded,
        max_mib=MAX_PHOTO_BYTES // (1024 * 1024),
        at=_at(request),
    )


@router.get("/app/patients/{patient_id}/photos", response_class=HTMLResponse)
def photos_page(
    request: Request, patient_id: RecordId, user: ClinicalDep, db: DbDep, uploaded: int = 0
) -> HTMLResponse:
    """Her photos: upload form, consent standing and the timeline per view."""
    return _page(request, db, user, patient_id, uploaded=uploaded)


@router.post(UPLOAD_PATH, response_class=HTMLResponse)
async def upload(request: Request, user: ClinicalDep) -> Response:
    """Store one photo; refusals come back on her photos page naming the problem."""
    db = get_db(request)
    async with request.form(max_files=1, max_fields=20) as form:
        token = form.get(CSRF_FIELD)
        check_csrf(request, token if isinstance(token, str) else None)
        request.state.user = user
        file = form.get("file")
        data, name = b"", ""
        if isinstance(file, UploadFile):
            name = (file.filename or "")[:120]
            data = await file.read(MAX_PHOTO_BYTES + 1)
        keys = ("patient_id", "appointment_id", "view", "taken_at")
        fields = {k: str(form.get(k) or "")[:200] for k in keys}
    patient_id = _int(fields["patient_id"], "patient_id")
    return await run_in_threadpool(_store, request, db, user, patient_id, fields, data, name)


def _store(
    request: Request,
    db: Database,
    user: StaffUser,
    patient_id: RecordId,
    fields: dict[str, str],
    data: bytes,
    name: str,
) -> Response:
    services.get_patient(db, patient_id)  # 404 for an unknown patient
    try:
        photo = ph.upload_photo(
            db,
            acting_account(db, user),
            patient_id,
            _int(fields["appointment_id"], "appointment_id"),
            parse_view(fields["view"]),
            data,
            taken_at=_local_time(request, fields["taken_at"]),
            filename=name,
        )
    except InputError as exc:
        return _page(
            request, db, user, patient_id, status_code=422, problems=exc.problems, form=fields
        )
    except ConsentRequiredError as exc:
        return _page(
            request, db, user, patient_id, status_code=409, consent_problem=str(exc), form=fields
        )
    return RedirectResponse(
        f"/app/patients/{patient_id}/photos?uploaded={photo.id}#photo-timeline", status_code=303
    )


def _local_time(request: Request, value: str) -> str | None:
    """A ``datetime-local`` field's value in the clinic's time zone (ISO 8601 with offset)."""
    text = value.strip()
    if not text:
        return None
    try:
        parsed = datetime.fromisoformat(text)
    except ValueError:
        raise InputError.one("taken_at", text, "must be a date and time") from None
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=get_clinic(request).tz)
    return parsed.isoformat()


def _image(
    db: Database, user: StaffUser, patient_id: RecordId, photo_id: int, kind: str
) -> tuple[Photo, bytes]:
    return ph.photo_file(db, acting_account(db, user), patient_id, photo_id, kind)


@router.get("/app/patients/{patient_id}/photos/{photo_id}/image")
def image(patient_id: RecordId, photo_id: RecordId, user: ClinicalDep, db: DbDep) -> Response:
    """The photo (audited ``photo.view``)."""
    _, data = _image(db, user, patient_id, photo_id, "view")
    return Response(data, media_type="image/jpeg", headers=IMAGE_HEADERS)


@router.get("/app/patients/{patient_id}/photos/{photo_id}/thumb")
def thumb(patient_id: RecordId, photo_id: RecordId, user: ClinicalDep, db: DbDep) -> Response:
    """The thumbnail (audited ``photo.thumb``)."""
    _, data = _image(db, user, patient_id, photo_id, "thumb")
    return Response(data, media_type="image/jpeg", headers=IMAGE_HEADERS)


@router.get("/app/patients/{patient_id}/photos/{photo_id}/download")
def download(patient_id: RecordId, photo_id: RecordId, user: ClinicalDep, db: DbDep) -> Response:
    """The photo as an attachment (audited ``photo.download``)."""
    photo, data = _image(db, user, patient_id, photo_id, "download")
    name = f"photo-{patient_id}-{photo.view.value}-{photo.taken_at:%Y%m%d}-{photo.id}.jpg"
    return Response(
        data,
        media_type="image/jpeg",
        headers={**IMAGE_HEADERS, "Content-Disposition": f'attachment; filename="{name}"'},
    )


@router.get("/app/patients/{patient_id}/photos/compare", response_class=HTMLResponse)
def compare(
    request: Request,
    patient_id: RecordId,
    user: ClinicalDep,
    db: DbDep,
    view: str = "front",
    before: Annotated[int, Query(ge=0, le=MAX_ID)] = 0,
    after: Annotated[int, Query(ge=0, le=MAX_ID)] = 0,
) -> HTMLResponse:
    """Before and after of one view, side by side and as an overlay with an opacity slider.
    Without ``before``/``after`` the first and the newest photo of the view are compared."""
    request.state.user = user
    parsed = parse_view(view)
    patient = services.get_patient(db, patient_id)
    photos = ph.photos_of(db, acting_account(db, user), patient_id)
    series = ph.timeline(photos)[parsed]
    by_id = {p.id: p for p in series}
    for field, value in (("before", before), ("after", after)):
        if value and value not in by_id:
            raise InputError.one(field, value, f"must be one of her {parsed.value} photos")
    first: Photo | None = by_id.get(before) or (series[0] if series else None)
    last: Photo | None = by_id.get(after) or (series[-1] if len(series) > 1 else None)
    context: dict[str, Any] = {
        "patient": patient,
        "view": parsed.value,
        "view_label": VIEW_LABELS[parsed],
        "views": [(v.value, VIEW_LABELS[v]) for v in PhotoView],
        "series": series,
        "before": first,
        "after": last,
        "at": _at(request),
    }
    return render(request, "app/photo_compare.html", **context)


__all__ = ["UPLOAD_BODY_LIMIT", "UPLOAD_PATH", "router"]
