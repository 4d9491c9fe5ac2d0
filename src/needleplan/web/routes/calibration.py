"""The admin's clinic calibration page: what is in force, the data-sufficiency check, a fit's
estimates against the default, the visual predictive check chart, fit / adopt / revert.

All pages need the config permission (admins); every POST checks the CSRF token.

* ``GET  /app/admin/calibration[?proposal=N]`` — the calibration in force (its label, as every
  forecast names it), whether the clinic has enough data (and how much more it needs), the
  newest proposal (or proposal N) with its estimates, the chart, and the history.
* ``GET  /app/admin/calibration/check.svg[?proposal=N]`` (or ``check.png``) — the predictive
  check chart of proposal N or of what is in force.
* ``POST /app/admin/calibration/fit`` — fit from the records and store a proposal (with too
  little data nothing is stored and the page says how much more is needed).
* ``POST /app/admin/calibration/adopt/{proposal}`` — put a proposal in force (next version).
* ``POST /app/admin/calibration/revert`` — back to the version before (``to``: a version, 0
  for the default).

Each writes its audit row (``calibration.fit``, ``.adopt``, ``.revert``) in the same transaction
as what it stores (:mod:`needleplan.services.calibrations`).
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Form, Path, Query, Request
from fastapi.responses import HTMLResponse, Response

from needleplan.exceptions import InputError, NotFoundError
from needleplan.services import calibrations as cal
from needleplan.services.audit import audited
from needleplan.storage.database import Database
from needleplan.web.auth import Permission, StaffUser
from needleplan.web.deps import DbDep
from needleplan.web.routes.pages import render
from needleplan.web.routes.patients import MAX_ID, CsrfField
from needleplan.web.security import check_csrf, require_permission

router = APIRouter(include_in_schema=False)

ConfigDep = Annotated[StaffUser, Depends(require_permission(Permission.CONFIG))]
ProposalQuery = Annotated[int | None, Query(ge=1, le=MAX_ID)]
NoteField = Annotated[str, Form(max_length=1000)]
ShortField = Annotated[str, Form(max_length=20)]


def _page(
    request: Request,
    user: StaffUser,
    db: Database,
    *,
    proposal_id: int | None = None,
    status_code: int = 200,
    problem: str | None = None,
    notice: str | None = None,
) -> HTMLResponse:
    request.state.user = user
    force = cal.calibration_in_force(db)
    shown = None
    if proposal_id is not None:
        try:
            shown = cal.get_proposal(db, proposal_id)
        except NotFoundError as exc:
            problem, status_code = str(exc), 404
    if shown is None and problem is None:
        shown = cal.newest_proposal(db)
    with audited(db, user, "calibration.read", detail="web page"):
        enough = cal.clinic_data(db).sufficiency
    return render(
        request,
        "app/calibration.html",
        status_code=status_code,
        force=force,
        enough=enough,
        shown=shown,
        history=cal.calibration_history(db, 50),
        problem=problem,
        notice=notice,
    )


@router.get("/app/admin/calibration", response_class=HTMLResponse)
def calibration_page(
    request: Request, user: ConfigDep, db: DbDep, proposal: ProposalQuery = None
) -> HTMLResponse:
    """The calibration in force, the data check, a proposal and the history."""
    return _page(request, user, db, proposal_id=proposal)


@router.get("/app/admin/calibration/check.{fmt}")
def calibration_chart(
    request: Request,
    user: ConfigDep,
    db: DbDep,
    fmt: Annotated[str, Path(pattern="^(svg|png)$")],
    proposal: ProposalQuery = None,
) -> Response:
    """The visual predictive check (SVG or PNG) of proposal N or of what is in force."""
    from needleplan.reports.calibration_chart import predictive_check_chart

    title, checks = cal.predictive_check_of(db, user, proposal_id=proposal, replicates=100)
    media = "image/svg+xml" if fmt == "svg" else "image/png"
    return Response(predictive_check_chart(checks, title=title, fmt=fmt), media_type=media)


@router.post("/app/admin/calibration/fit", response_class=HTMLResponse)
def calibration_fit(
    request: Request, user: ConfigDep, db: DbDep, note: NoteField = "", csrf_token: CsrfField = ""
) -> HTMLResponse:
    """Fit from the records; store a proposal when there is enough data."""
    check_csrf(request, csrf_token)
    try:
        out = cal.fit_calibration(db, user, note=note)
    except InputError as exc:
        return _page(request, user, db, status_code=422, problem=str(exc))
    if out.proposal is None:
        return _page(request, user, db, notice=out.sufficiency.message())
    return _page(
        request,
        user,
        db,
        proposal_id=out.proposal.id,
        notice=f"Fitted and stored as proposal {out.proposal.id}. Review it below; nothing "
        "changes until you adopt it.",
    )


@router.post("/app/admin/calibration/adopt/{proposal_id}", response_class=HTMLResponse)
def calibration_adopt(
    request: Request,
    user: ConfigDep,
    db: DbDep,
    proposal_id: Annotated[int, Path(ge=1, le=MAX_ID)],
    note: NoteField = "",
    csrf_token: CsrfField = "",
) -> HTMLResponse:
    """Put the proposal in force as the next version."""
    check_csrf(request, csrf_token)
    try:
        force = cal.adopt_calibration(db, proposal_id, user, note=note)
    except NotFoundError as exc:
        return _page(request, user, db, status_code=404, problem=str(exc))
    except InputError as exc:
        return _page(request, user, db, status_code=422, problem=str(exc))
    return _page(request, user, db, notice=f"In force now: {force.label}.")


@router.post("/app/admin/calibration/revert", response_class=HTMLResponse)
def calibration_revert(
    request: Request,
    user: ConfigDep,
    db: DbDep,
    to: ShortField = "",
    note: NoteField = "",
    csrf_token: CsrfField = "",
) -> HTMLResponse:
    """Back to the version before, or to version ``to`` (0: the default)."""
    check_csrf(request, csrf_token)
    try:
        clean = to.strip()
        if clean and not clean.isdigit():
            raise InputError.one("to", to, "must be a version number (0 for the default) or empty")
        target = int(clean) if clean else None
        force = cal.revert_calibration(db, user, to_version=target, note=note)
    except NotFoundError as exc:
        return _page(request, user, db, status_code=404, problem=str(exc))
    except InputError as exc:
        return _page(request, user, db, status_code=422, problem=str(exc))
    return _page(request, user, db, notice=f"In force now: {force.label}.")
