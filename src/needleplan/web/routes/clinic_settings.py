"""The admin's clinic settings forms: the calendar in force changed field by field, no TOML.

* ``GET  /app/admin/settings`` — one form per part: opening hours, practitioners (add, edit
  hours and days off, deactivate), visit lengths, prices, closures, the recall threshold, the
  clinic's public identity (with the logo).
* ``POST /app/admin/settings/{section}`` (``hours``, ``visits``, ``prices``, ``closures``,
  ``recall``, ``identity``), ``POST /app/admin/settings/practitioners`` (add) and
  ``POST /app/admin/settings/practitioners/{index}`` (edit, or ``action=deactivate``).
* ``GET  /clinic/logo/{name}`` — the stored logo, public (the estimator and portal show it).

Every POST needs the config permission (admins; others get 403) and the CSRF token. A save
validates (each problem is shown beside its field: field, value, rule), lists the booked future
appointments the change would break and, when there are any, saves only with ``confirm``
ticked; then it appends a new calendar version exactly as the TOML editor does
(:func:`~needleplan.services.clinic_calendar.save_clinic_config`: audited ``clinic.config.save``
in the same transaction, refused with 409 when another version was saved since the page was
shown). The TOML editor at ``/app/admin/clinic`` stays for everything else.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Path, Request
from fastapi.responses import HTMLResponse, Response
from starlette.datastructures import FormData, UploadFile

from needleplan.exceptions import ConflictError, FieldProblem, InputError
from needleplan.services import clinic_calendar, clinic_identity, clinic_settings
from needleplan.services.clinic_calendar import EffectiveClinic
from needleplan.storage.database import Database
from needleplan.web.auth import StaffUser
from needleplan.web.deps import DbDep, effective_clinic
from needleplan.web.errors import ApiError
from needleplan.web.routes.clinic_admin import ConfigDep, Conflicts, conflict_rows
from needleplan.web.routes.pages import render
from needleplan.web.routes.patients import MAX_ID
from needleplan.web.security import CSRF_FIELD, check_csrf

router = APIRouter(include_in_schema=False)

#: The forms posted to ``/app/admin/settings/{section}`` (practitioners have their own paths).
PLAIN_SECTIONS = ("hours", "visits", "prices", "closures", "recall", "identity")
_LISTS = ("remove", "remove_off")
_MAX_FIELDS = 80


async def _form(request: Request) -> AsyncIterator[FormData]:
    """The posted form (the body size is capped by the app's limit; at most one file), its
    uploaded file closed after the response."""
    async with request.form(max_files=1, max_fields=_MAX_FIELDS) as form:
        yield form


FormDep = Annotated[FormData, Depends(_form)]


@dataclass
class Failed:
    """A form that was not saved: what was typed, the problems by field, the conflicts."""

    section: str
    values: dict[str, Any]
    errors: dict[str, list[str]] = field(default_factory=dict)
    person: int | None = None
    conflicts: Conflicts | None = None


def _fields(form: FormData) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for key in form:
        if key in _LISTS:
            out[key] = [v for v in form.getlist(key) if isinstance(v, str)]
        else:
            value = form.get(key)
            if isinstance(value, str):
                out[key] = value
    return out


def _errors(section: str, exc: InputError, names: list[str]) -> dict[str, list[str]]:
    out: dict[str, list[str]] = {}
    for problem in exc.problems:
        where = clinic_settings.field_for(section, problem, names)
        out.setdefault(where, []).append(_say(problem))
    return out


def _say(problem: FieldProblem) -> str:
    value = problem.value
    shown = "" if value is None or value == "" else f" (you entered {value!r})"
    return f"{problem.field}: {problem.rule}{shown}"


def _page(
    request: Request,
    user: StaffUser,
    db: Database,
    *,
    status_code: int = 200,
    failed: Failed | None = None,
    problem: str | None = None,
    notice: str | None = None,
) -> HTMLResponse:
    request.state.user = user
    eff: EffectiveClinic | None
    try:
        eff = effective_clinic(request)
    except InputError as exc:
        eff, problem = None, problem or f"The calendar in force does not validate: {exc}"
    clinic = eff.clinic if eff is not None else None
    values = clinic_settings.form_values(clinic) if clinic is not None else {}
    people = (
        [clinic_settings.practitioner_values(clinic, i) for i in range(len(clinic.practitioners))]
        if clinic is not None
        else []
    )
    return render(
        request,
        "app/settings.html",
        status_code=status_code,
        eff=eff,
        clinic=clinic,
        identity=clinic_identity.clinic_identity(clinic) if clinic is not None else None,
        values=values,
        people=people,
        base_version="" if eff is None or eff.version is None else str(eff.version.id),
        failed=failed,
        problem=problem,
        notice=notice,
        weekdays=clinic_settings.WEEKDAYS,
        kinds=clinic_settings.VISIT_KINDS,
        max_logo_kb=clinic_identity.MAX_LOGO_BYTES // 1024,
    )


def _base(value: Any) -> int | None:
    clean = value.strip() if isinstance(value, str) else ""
    if not clean:
        return None
    if clean.isdigit() and 1 <= int(clean) <= MAX_ID:
        return int(clean)
    raise InputError.one("base_version", clean[:20], "must be a version number or empty")


def _logo(form: FormData, section: str) -> clinic_identity.CheckedLogo | None:
    upload = form.get("logo") if section == "identity" else None
    if not isinstance(upload, UploadFile) or not (upload.filename or upload.size):
        return None
    data = upload.file.read(clinic_identity.MAX_LOGO_BYTES + 1)
    return clinic_identity.check_logo(data, upload.filename or "")


def _save(
    request: Request,
    user: StaffUser,
    db: Database,
    form: FormData,
    section: str,
    *,
    person: int | None = None,
) -> HTMLResponse:
    check_csrf(request, _text(form.get(CSRF_FIELD)))
    values = _fields(form)
    failed = Failed(section, values, person=person)
    names = list(clinic_settings.FORM_FIELDS)
    try:
        eff = effective_clinic(request)
        change = clinic_settings.settings_change(section, values, eff.clinic, person=person)
        logo = _logo(form, section)
        if logo is not None:
            change.keys["logo"] = logo.name
        elif section == "identity" and values.get("remove_logo"):
            change.keys["logo"] = None
        text, draft = clinic_settings.apply_settings(eff.toml, change)
        affected = clinic_calendar.affected_appointments(db, draft, current=eff.clinic)
        fresh = clinic_calendar.new_conflicts(affected)
        if fresh and not values.get("confirm"):
            failed.conflicts = conflict_rows(db, fresh, draft, user, f"settings {section}")
            return _page(
                request,
                user,
                db,
                status_code=409,
                failed=failed,
                problem=_refusal(len(fresh)),
            )
        with db.transaction():  # the logo and the version it is named in: both or neither
            if logo is not None:
                clinic_identity.store_logo(db, logo, user.username)
            version = clinic_calendar.save_clinic_config(
                db,
                text,
                user,
                f"settings: {change.summary}"[: clinic_calendar.MAX_NOTE_CHARS],
                base_version=_base(values.get("base_version", "")),
                detail=f"settings {section}; {len(fresh)} booked appointments conflict",
            )
    except InputError as exc:
        failed.errors = _errors(section, exc, names)
        return _page(request, user, db, status_code=422, failed=failed, problem=_unsaved(exc))
    except ConflictError as exc:
        return _page(request, user, db, status_code=409, failed=failed, problem=str(exc))
    return _page(request, user, db, status_code=201, notice=_saved(version.id, len(fresh)))


def _text(value: Any) -> str:
    return value if isinstance(value, str) else ""


def _unsaved(exc: InputError) -> str:
    count = len(exc.problems)
    where = "beside the field" if count == 1 else "beside the fields"
    return f"Nothing saved: {count} problem{'s' if count != 1 else ''} ({where} below)."


def _refusal(count: int) -> str:
    plural = "appointment" if count == 1 else "appointments"
    return (
        f"Nothing saved: {count} booked {plural} would conflict with this change (listed below). "
        "Tick “Save even if booked appointments conflict” and save again to keep the change; "
        "they stay booked and the front desk moves them."
    )


def _saved(version: int, conflicts: int) -> str:
    text = f"Saved version {version}; it is in force now."
    if conflicts:
        plural = "appointment conflicts" if conflicts == 1 else "appointments conflict"
        text += (
            f" {conflicts} booked {plural} with it: they stay booked and are listed on the "
            "clinic calendar page under “Appointments to move”."
        )
    return text


# --------------------------------------------------------------------------- routes


@router.get("/app/admin/settings", response_class=HTMLResponse)
def settings_page(request: Request, user: ConfigDep, db: DbDep) -> HTMLResponse:
    """Every settings form, filled with the calendar in force."""
    return _page(request, user, db)


@router.post("/app/admin/settings/practitioners", response_class=HTMLResponse)
def add_practitioner(request: Request, user: ConfigDep, db: DbDep, form: FormDep) -> HTMLResponse:
    """Add a practitioner (her hours: empty on every day = whenever the clinic is open)."""
    return _save(request, user, db, form, "practitioner")


@router.post("/app/admin/settings/practitioners/{index}", response_class=HTMLResponse)
def edit_practitioner(
    request: Request,
    user: ConfigDep,
    db: DbDep,
    form: FormDep,
    index: Annotated[int, Path(ge=0, le=10_000)],
) -> HTMLResponse:
    """Change a practitioner's hours and days off, or deactivate her (``action=deactivate``)."""
    return _save(request, user, db, form, "practitioner", person=index)


@router.post("/app/admin/settings/{section}", response_class=HTMLResponse)
def save_section(
    request: Request,
    user: ConfigDep,
    db: DbDep,
    form: FormDep,
    section: Annotated[str, Path(max_length=20)],
) -> HTMLResponse:
    """Save one settings form as a new version of the calendar."""
    if section not in PLAIN_SECTIONS:
        raise ApiError.one(404, "section", section, "must be one of " + ", ".join(PLAIN_SECTIONS))
    return _save(request, user, db, form, section)


@router.get("/clinic/logo/{name}")
def clinic_logo(request: Request, db: DbDep, name: Annotated[str, Path(max_length=80)]) -> Response:
    """The clinic's stored logo (public; content-addressed, so cached for a long time)."""
    media = clinic_identity.stored_logo(db, name)
    if media is None:
        raise ApiError.one(404, "logo", name[:80], "no stored logo has this name")
    return Response(
        media.data,
        media_type=media.content_type,
        headers={
            "Cache-Control": "public, max-age=31536000, immutable",
            "Content-Security-Policy": "default-src 'none'",
            "X-Content-Type-Options": "nosniff",
        },
    )
