"""The admin's clinic calendar page: what is in force, a readable summary, a TOML editor with
Check and Save, the version history with revert, and two quick forms (a clinic closure,
practitioner leave) that need no TOML.

All pages need the config permission (admins); every POST checks the CSRF token.

* ``GET  /app/admin/clinic`` — the calendar in force (saved version N by whom and when, or the
  file, or the bundled example), its summary, the booked appointments it does not allow, the
  editor, the quick forms and the history.
* ``POST /app/admin/clinic/check`` — validates the draft and shows its summary and the booked
  appointments it would conflict with; saves nothing.
* ``POST /app/admin/clinic/save`` — saves the draft as a new version. When booked appointments
  would conflict, only with the ``confirm`` box ticked: they stay booked and are listed so the
  front desk can move them.
* ``POST /app/admin/clinic/revert/{version}`` — appends a copy of an older version (``confirm``
  as for saving).
* ``POST /app/admin/clinic/closure`` and ``/leave`` — add a closure or a practitioner's leave to
  the calendar in force and save the result as a new version (``confirm`` as for saving).

Saving writes the audit rows ``clinic.config.save`` / ``clinic.config.revert`` (no patient id)
in the same transaction as the version (:mod:`needleplan.services.clinic_calendar`). An error re-renders
the page with the message and everything the admin typed.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Form, Path, Request
from fastapi.responses import HTMLResponse

from needleplan import services
from needleplan.domain.records import User
from needleplan.exceptions import ConflictError, InputError
from needleplan.scheduling import ClinicConfig
from needleplan.services import clinic_calendar
from needleplan.services.clinic_calendar import (
    AffectedAppointment,
    ClinicSummary,
    EffectiveClinic,
)
from needleplan.storage.clinic_configs import ClinicConfigVersion
from needleplan.storage.database import Database
from needleplan.web.auth import Permission, StaffUser
from needleplan.web.db_stores import audit
from needleplan.web.deps import DbDep, effective_clinic
from needleplan.web.routes.booking import patient_label
from needleplan.web.routes.pages import render
from needleplan.web.routes.patients import MAX_ID, CsrfField
from needleplan.web.security import check_csrf, require_permission

router = APIRouter(include_in_schema=False)

ConfigDep = Annotated[StaffUser, Depends(require_permission(Permission.CONFIG))]
#: At most this many appointments are listed per list (the count is always shown).
SHOWN = 100
HISTORY = 100

TomlField = Annotated[str, Form(max_length=2 * clinic_calendar.MAX_TOML_CHARS)]
NoteField = Annotated[str, Form(max_length=1000)]
ShortField = Annotated[str, Form(max_length=200)]
ConfirmField = Annotated[str, Form(max_length=10)]


@dataclass(frozen=True)
class ConflictRow:
    """One booked appointment a calendar does not allow, as the page lists it."""

    id: int
    start: datetime
    end: datetime
    practitioner: str
    patient: str
    reason: str
    already: bool
    patient_id: int = 0


@dataclass(frozen=True)
class Conflicts:
    rows: list[ConflictRow]
    total: int
    timezone: str


@dataclass(frozen=True)
class Draft:
    """A checked (or refused) draft: its summary and what it would conflict with."""

    summary: ClinicSummary
    new: Conflicts
    already: Conflicts


def _conflicts(
    db: Database,
    affected: list[AffectedAppointment],
    clinic: ClinicConfig,
    user: StaffUser,
    scope: str,
) -> Conflicts:
    """The rows of a conflict list (the first :data:`SHOWN`), audited as one
    ``clinic.conflicts.read`` listing the patients shown (``scope`` says which list)."""
    names: dict[int, str] = {}
    rows: list[ConflictRow] = []
    for item in affected[:SHOWN]:
        appt = item.appointment
        if appt.patient_id not in names:
            names[appt.patient_id] = patient_label(services.get_patient(db, appt.patient_id))
        rows.append(
            ConflictRow(
                id=appt.id,
                start=appt.start.astimezone(clinic.tz),
                end=appt.end.astimezone(clinic.tz),
                practitioner=item.practitioner,
                patient=names[appt.patient_id],
                reason=item.reason,
                already=item.already,
                patient_id=appt.patient_id,
            )
        )
    if rows:
        shown = f"{scope} shown={len(rows)} of {len(affected)}"
        audit(
            db,
            user,
            "clinic.conflicts.read",
            None,
            services.audit_patients_detail(shown, (r.patient_id for r in rows)),
        )
    return Conflicts(rows, len(affected), clinic.timezone)


def _today(clinic: ClinicConfig) -> date:
    return datetime.now(clinic.tz).date()


def _actor(db: Database, user: StaffUser) -> User | str:
    """The signed-in account: the service checks its role and records it (by name when it is
    not this database's account)."""
    return user


def _in_force(request: Request, db: Database) -> tuple[EffectiveClinic | None, str | None]:
    try:
        return effective_clinic(request), None
    except InputError as exc:
        return None, str(exc)


def _base(value: str) -> int | None:
    """The ``base_version`` field: the saved version the edit started from ("" = none)."""
    clean = value.strip()
    if not clean:
        return None
    if clean.isdigit() and 1 <= int(clean) <= MAX_ID:
        return int(clean)
    raise InputError.one("base_version", value, "must be a version number or empty")


def _day(value: str, field: str, *, required: bool) -> date | None:
    clean = value.strip()
    if not clean:
        if required:
            raise InputError.one(field, value, "must be a date like 2027-03-01")
        return None
    try:
        return date.fromisoformat(clean)
    except ValueError:
        raise InputError.one(field, value, "must be a date like 2027-03-01") from None


def _page(
    request: Request,
    user: StaffUser,
    db: Database,
    *,
    status_code: int = 200,
    editor: dict[str, str] | None = None,
    draft: Draft | None = None,
    problem: str | None = None,
    notice: str | None = None,
    closure: dict[str, str] | None = None,
    leave: dict[str, str] | None = None,
    pending_revert: ClinicConfigVersion | None = None,
) -> HTMLResponse:
    request.state.user = user
    eff, in_force_error = _in_force(request, db)
    override: ClinicConfig | None = request.app.state.clinic
    clinic = override if override is not None else (eff.clinic if eff is not None else None)
    if editor is None:
        if eff is not None:
            text = eff.toml
            base = "" if eff.version is None else str(eff.version.id)
        else:
            raw = clinic_calendar.newest_clinic_version(db)
            text = raw.toml if raw is not None else ""
            base = str(raw.id) if raw is not None else ""
        editor = {"toml": text, "note": "", "base_version": base}
    summary = to_move = None
    if clinic is not None:
        summary = clinic_calendar.clinic_summary(clinic, _today(clinic))
        to_move = _conflicts(
            db, clinic_calendar.affected_appointments(db, clinic), clinic, user, "to move"
        )
    return render(
        request,
        "app/clinic.html",
        status_code=status_code,
        eff=eff,
        in_force_error=in_force_error,
        override=override is not None,
        summary=summary,
        to_move=to_move,
        practitioners=[p.name for p in clinic.practitioners] if clinic is not None else [],
        history=clinic_calendar.clinic_config_history(db, HISTORY),
        editor=editor,
        draft=draft,
        problem=problem,
        notice=notice,
        closure=closure or {"start": "", "end": "", "reason": ""},
        leave=leave or {"practitioner": "", "start": "", "end": "", "reason": ""},
        pending_revert=pending_revert,
    )


def _in_force_clinic(request: Request) -> ClinicConfig | None:
    """The calendar in force to compare a change with (None when it no longer validates)."""
    override: ClinicConfig | None = request.app.state.clinic
    if override is not None:
        return override
    try:
        return effective_clinic(request).clinic
    except InputError:
        return None


def _assess(
    request: Request, user: StaffUser, db: Database, text: str
) -> tuple[ClinicConfig, Draft, int]:
    """Validate ``text`` and find the booked appointments it would conflict with.

    Returns the draft calendar, what the page shows about it, and how many appointments the
    change itself makes conflict (not counting those the calendar in force refuses too).
    """
    draft = clinic_calendar.parse_clinic_toml(text)
    affected = clinic_calendar.affected_appointments(db, draft, current=_in_force_clinic(request))
    fresh = clinic_calendar.new_conflicts(affected)
    already = [a for a in affected if a.already]
    shown = Draft(
        summary=clinic_calendar.clinic_summary(draft, _today(draft)),
        new=_conflicts(db, fresh, draft, user, "draft new"),
        already=_conflicts(db, already, draft, user, "draft already"),
    )
    return draft, shown, len(fresh)


def _refusal(count: int) -> str:
    plural = "appointment" if count == 1 else "appointments"
    return (
        f"Nothing saved: {count} booked {plural} would conflict with this change (listed below). "
        "Tick the confirmation box to save anyway; they stay booked and the front desk moves them."
    )


def _saved_notice(
    version: ClinicConfigVersion, conflicts: int, *, copy_of: int | None = None
) -> str:
    text = f"Saved version {version.id}; it is in force now."
    if copy_of is not None:
        text = f"Version {copy_of} is back in force (saved again as version {version.id})."
    if conflicts:
        plural = "appointment conflicts" if conflicts == 1 else "appointments conflict"
        text += (
            f" {conflicts} booked {plural} with it: they stay booked and are listed under "
            "“Appointments to move” for the front desk."
        )
    return text


def _status(exc: Exception) -> int:
    return 409 if isinstance(exc, ConflictError) else 422


# --------------------------------------------------------------------------- pages


@router.get("/app/admin/clinic", response_class=HTMLResponse)
def clinic_page(request: Request, user: ConfigDep, db: DbDep) -> HTMLResponse:
    """The calendar in force, its summary, the editor, the quick forms and the history."""
    return _page(request, user, db)


@router.post("/app/admin/clinic/check", response_class=HTMLResponse)
def check_draft(
    request: Request,
    user: ConfigDep,
    db: DbDep,
    toml: TomlField = "",
    note: NoteField = "",
    base_version: ShortField = "",
    csrf_token: CsrfField = "",
) -> HTMLResponse:
    """Validate the draft; show its summary and the appointments it would conflict with."""
    check_csrf(request, csrf_token)
    editor = {"toml": toml, "note": note, "base_version": base_version}
    try:
        _draft, shown, fresh = _assess(request, user, db, toml)
    except InputError as exc:
        return _page(request, user, db, status_code=422, editor=editor, problem=str(exc))
    notice = "The draft is valid. Nothing was saved." + (
        f" {fresh} booked appointment(s) would conflict with it." if fresh else ""
    )
    return _page(request, user, db, editor=editor, draft=shown, notice=notice)


@router.post("/app/admin/clinic/save", response_class=HTMLResponse)
def save_draft(
    request: Request,
    user: ConfigDep,
    db: DbDep,
    toml: TomlField = "",
    note: NoteField = "",
    base_version: ShortField = "",
    confirm: ConfirmField = "",
    csrf_token: CsrfField = "",
) -> HTMLResponse:
    """Save the draft as the newest version (with ``confirm`` when appointments conflict)."""
    check_csrf(request, csrf_token)
    editor = {"toml": toml, "note": note, "base_version": base_version}
    shown: Draft | None = None
    try:
        _draft, shown, fresh = _assess(request, user, db, toml)
        if fresh and not confirm:
            return _page(
                request,
                user,
                db,
                status_code=409,
                editor=editor,
                draft=shown,
                problem=_refusal(fresh),
            )
        version = clinic_calendar.save_clinic_config(
            db,
            toml,
            _actor(db, user),
            note,
            base_version=_base(base_version),
            detail=f"{fresh} booked appointments conflict",
        )
    except (InputError, ConflictError) as exc:
        if isinstance(exc, ConflictError):
            # Show the newer version's number so a second Save deliberately replaces it.
            newest = clinic_calendar.newest_clinic_version_id(db)
            editor["base_version"] = "" if newest is None else str(newest)
        return _page(
            request,
            user,
            db,
            status_code=_status(exc),
            editor=editor,
            draft=shown,
            problem=str(exc),
        )
    return _page(request, user, db, status_code=201, notice=_saved_notice(version, fresh))


@router.post("/app/admin/clinic/revert/{version_id}", response_class=HTMLResponse)
def revert_version(
    request: Request,
    user: ConfigDep,
    db: DbDep,
    version_id: Annotated[int, Path(ge=1, le=MAX_ID)],
    confirm: ConfirmField = "",
    csrf_token: CsrfField = "",
) -> HTMLResponse:
    """Put an older version back in force (a copy is appended; the history stays)."""
    check_csrf(request, csrf_token)
    old = clinic_calendar.clinic_config_version(db, version_id)
    shown: Draft | None = None
    try:
        _draft, shown, fresh = _assess(request, user, db, old.toml)
        if fresh and not confirm:
            return _page(
                request,
                user,
                db,
                status_code=409,
                draft=shown,
                problem=_refusal(fresh),
                pending_revert=old,
            )
        version = clinic_calendar.revert_clinic_config(
            db, old.id, _actor(db, user), detail=f"{fresh} booked appointments conflict"
        )
    except InputError as exc:
        return _page(request, user, db, status_code=422, draft=shown, problem=str(exc))
    return _page(
        request,
        user,
        db,
        status_code=201,
        notice=_saved_notice(version, fresh, copy_of=old.id),
    )


def _quick_save(
    request: Request,
    user: StaffUser,
    db: Database,
    *,
    form: dict[str, str],
    which: str,
    confirm: str,
    edit: Any,
    note: str,
) -> HTMLResponse:
    """Apply a quick edit to the calendar in force and save it (shared by closure and leave)."""
    closure = form if which == "closure" else None
    leave = form if which == "leave" else None
    shown: Draft | None = None
    try:
        eff = effective_clinic(request)
        text = edit(eff.toml)
        _draft, shown, fresh = _assess(request, user, db, text)
        if fresh and not confirm:
            return _page(
                request,
                user,
                db,
                status_code=409,
                draft=shown,
                problem=_refusal(fresh),
                closure=closure,
                leave=leave,
            )
        version = clinic_calendar.save_clinic_config(
            db,
            text,
            _actor(db, user),
            note,
            base_version=eff.version_id,
            detail=f"{which}; {fresh} booked appointments conflict",
        )
    except (InputError, ConflictError) as exc:
        return _page(
            request,
            user,
            db,
            status_code=_status(exc),
            draft=shown,
            problem=str(exc),
            closure=closure,
            leave=leave,
        )
    return _page(request, user, db, status_code=201, notice=_saved_notice(version, fresh))


@router.post("/app/admin/clinic/closure", response_class=HTMLResponse)
def add_closure(
    request: Request,
    user: ConfigDep,
    db: DbDep,
    start: ShortField = "",
    end: ShortField = "",
    reason: ShortField = "",
    confirm: ConfirmField = "",
    csrf_token: CsrfField = "",
) -> HTMLResponse:
    """Close the whole clinic from ``start`` to ``end`` (inclusive; empty end: one day)."""
    check_csrf(request, csrf_token)
    form = {"start": start, "end": end, "reason": reason}

    def edit(text: str) -> str:
        first = _day(start, "start", required=True)
        assert first is not None
        return clinic_calendar.with_closure(text, first, _day(end, "end", required=False), reason)

    period = start.strip() + (f" to {end.strip()}" if end.strip() else "")
    return _quick_save(
        request,
        user,
        db,
        form=form,
        which="closure",
        confirm=confirm,
        edit=edit,
        note=f"closure {period}: {reason.strip()}"[: clinic_calendar.MAX_NOTE_CHARS],
    )


@router.post("/app/admin/clinic/leave", response_class=HTMLResponse)
def add_leave(
    request: Request,
    user: ConfigDep,
    db: DbDep,
    practitioner: ShortField = "",
    start: ShortField = "",
    end: ShortField = "",
    reason: ShortField = "",
    confirm: ConfirmField = "",
    csrf_token: CsrfField = "",
) -> HTMLResponse:
    """Give a practitioner time off from ``start`` to ``end`` (inclusive; empty end: one day)."""
    check_csrf(request, csrf_token)
    form = {"practitioner": practitioner, "start": start, "end": end, "reason": reason}

    def edit(text: str) -> str:
        first = _day(start, "start", required=True)
        assert first is not None
        return clinic_calendar.with_leave(
            text, practitioner, first, _day(end, "end", required=False), reason
        )

    period = start.strip() + (f" to {end.strip()}" if end.strip() else "")
    return _quick_save(
        request,
        user,
        db,
        form=form,
        which="leave",
        confirm=confirm,
        edit=edit,
        note=f"leave for {practitioner.strip()} {period}: {reason.strip()}"[
            : clinic_calendar.MAX_NOTE_CHARS
        ],
    )


#: The booked appointments a calendar does not allow, as the clinic pages list them.
conflict_rows = _conflicts
