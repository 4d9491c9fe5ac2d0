"""Admin pages: the audit log (filter and view) and the list of API tokens with revocation."""

from __future__ import annotations

import math
from datetime import date, datetime, time, timedelta
from typing import Annotated
from urllib.parse import urlencode

from fastapi import APIRouter, Depends, Path, Query, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from needleplan import services
from needleplan.exceptions import FieldProblem
from needleplan.services._clock import utc_now
from needleplan.web.auth import Permission, StaffUser
from needleplan.web.db_stores import DbTokenStore
from needleplan.web.deps import ClinicDep, DbDep
from needleplan.web.errors import ApiError
from needleplan.web.routes.pages import render
from needleplan.web.routes.patients import MAX_ID, CsrfField
from needleplan.web.security import check_csrf, require_permission

router = APIRouter(include_in_schema=False)

AUDIT_PAGE = 50
AuditDep = Annotated[StaffUser, Depends(require_permission(Permission.AUDIT))]
UsersDep = Annotated[StaffUser, Depends(require_permission(Permission.USERS))]


def _day(value: str, field: str, problems: list[FieldProblem]) -> date | None:
    if not value:
        return None
    try:
        return date.fromisoformat(value)
    except ValueError:
        problems.append(FieldProblem(field, value, "a date like 2026-11-21"))
        return None


@router.get("/app/admin/audit", response_class=HTMLResponse)
def audit_page(
    request: Request,
    user: AuditDep,
    db: DbDep,
    clinic: ClinicDep,
    username: Annotated[str, Query(max_length=40)] = "",
    action: Annotated[str, Query(max_length=100)] = "",
    patient: Annotated[str, Query(max_length=12)] = "",
    since: Annotated[str, Query(max_length=10)] = "",
    until: Annotated[str, Query(max_length=10)] = "",
    page: Annotated[int, Query(ge=1, le=100_000)] = 1,
) -> HTMLResponse:
    """Who read or changed which patient record, newest first; filters combine.

    ``until`` is inclusive (the whole day); days and times are the clinic's (its time zone).
    """
    request.state.user = user
    problems: list[FieldProblem] = []
    first, last = _day(since, "since", problems), _day(until, "until", problems)
    patient_id: int | None = None
    if patient:
        if patient.isdigit() and 1 <= int(patient) <= MAX_ID:
            patient_id = int(patient)
        else:
            problems.append(FieldProblem("patient", patient, "a patient id (digits)"))
    events, total = services.search_audit(
        db,
        username=username or None,
        action=action or None,
        patient_id=patient_id,
        since=datetime.combine(first, time(), clinic.tz) if first else None,
        until=datetime.combine(last + timedelta(days=1), time(), clinic.tz) if last else None,
        limit=AUDIT_PAGE,
        offset=(page - 1) * AUDIT_PAGE,
        actor=user,
    )
    filters = {
        "username": username,
        "action": action,
        "patient": patient,
        "since": since,
        "until": until,
    }
    query = urlencode({k: v for k, v in filters.items() if v})
    return render(
        request,
        "app/audit.html",
        status_code=422 if problems else 200,
        events=events if not problems else [],
        total=total if not problems else 0,
        filters=filters,
        problems=problems,
        page=page,
        pages=max(1, math.ceil(total / AUDIT_PAGE)),
        query=query,
    )


def _token_store(request: Request) -> DbTokenStore:
    store = request.app.state.token_store
    if not isinstance(store, DbTokenStore):
        raise ApiError.one(503, "database", None, "API tokens are listed from the database only")
    return store


@router.get("/app/admin/tokens", response_class=HTMLResponse)
def tokens_page(request: Request, user: UsersDep, db: DbDep) -> HTMLResponse:
    """Every API token (label, owner, issued, revoked); never the token itself."""
    request.state.user = user
    return render(
        request,
        "app/audit_tokens.html",
        tokens=_token_store(request).list_tokens(actor=user),
        now=utc_now(),
    )


@router.post("/app/admin/tokens/{token_id}/revoke")
def revoke_token(
    request: Request,
    user: UsersDep,
    db: DbDep,
    token_id: Annotated[int, Path(ge=1, le=MAX_ID)],
    csrf_token: CsrfField = "",
) -> Response:
    """Revoke a token: it stops working at once."""
    check_csrf(request, csrf_token)
    _token_store(request).revoke_token(token_id, actor=user)
    return RedirectResponse("/app/admin/tokens", status_code=303)
