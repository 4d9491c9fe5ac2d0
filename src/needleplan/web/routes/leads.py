"""Contact requests ("leads") from the public estimator, and what staff do with them.

* ``GET  /app/leads?show=new|handled|converted|all`` — the requests, newest first, each with
  the consent its sender gave (audited ``lead.list``, a count only).
* ``POST /app/leads/{id}/handled`` — answered: it leaves the "new" list.
* ``GET  /app/patients/new?lead={id}`` — convert: the registration form prefilled from the
  request; registering links the request to the new patient (``lead.convert``), in the same
  transaction as the registration (:mod:`needleplan.web.routes.patients`).
* ``POST /app/leads/{id}/delete`` — deleted on the sender's request (audited ``lead.delete``,
  the event keeps only the request's id).

Requests older than the clinic's ``lead_retention_days`` are deleted by the worker on each pass
or ``needleplan leads purge`` (:func:`needleplan.services.leads.purge_leads`). Every role with
the contacts permission works this list. The actions need clinic records; a server without a
database lists the requests of its in-memory store only.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Form, Query, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from needleplan import services
from needleplan.exceptions import InputError
from needleplan.web.auth import Permission, StaffUser
from needleplan.web.deps import ClinicDep, DbDep
from needleplan.web.leads import LeadStore
from needleplan.web.routes.pages import audit_account, render
from needleplan.web.security import CSRF_FIELD, check_csrf, require_permission

router = APIRouter(include_in_schema=False)

ContactsDep = Annotated[StaffUser, Depends(require_permission(Permission.CONTACTS))]
CsrfField = Annotated[str, Form(alias=CSRF_FIELD, max_length=200)]
LEAD_FILTERS = {
    "new": "new",
    "handled": "handled",
    "converted": "became patients",
    "all": "all",
}


@router.get("/app/leads", response_class=HTMLResponse)
def leads_page(
    request: Request,
    user: ContactsDep,
    clinic: ClinicDep,
    show: Annotated[str, Query(max_length=20)] = "new",
    done: Annotated[str | None, Query(max_length=20)] = None,
) -> HTMLResponse:
    """Contact requests from the public estimator, newest first (each with its consent)."""
    request.state.user = user
    if show not in LEAD_FILTERS:
        raise InputError.one("show", show, "must be one of " + ", ".join(LEAD_FILTERS))
    store: LeadStore = request.app.state.lead_store
    every = list(reversed(store.list_leads()))
    shown = [lead for lead in every if show == "all" or lead.status == show]
    counts = {key: sum(1 for lead in every if lead.status == key) for key in LEAD_FILTERS}
    counts["all"] = len(every)
    audit_account(request, user, "lead.list", f"contact requests shown={len(shown)}")
    return render(
        request,
        "app/leads.html",
        leads=shown,
        consent_text=every[0].consent_text if every else "",
        show=show,
        filters=LEAD_FILTERS,
        counts=counts,
        actions=request.app.state.db is not None,
        retention_days=clinic.lead_retention_days,
        done=done,
    )


def _back(show: str, done: str) -> RedirectResponse:
    show = show if show in LEAD_FILTERS else "new"
    return RedirectResponse(f"/app/leads?show={show}&done={done}#leads", status_code=303)


@router.post("/app/leads/{public_id}/handled")
def mark_handled(
    request: Request,
    public_id: str,
    user: ContactsDep,
    db: DbDep,
    show: Annotated[str, Form(max_length=20)] = "new",
    csrf_token: CsrfField = "",
) -> Response:
    """The request was answered: it leaves the list of new ones."""
    check_csrf(request, csrf_token)
    request.state.user = user
    services.mark_lead_handled(db, user, public_id[:40])
    return _back(show, "handled")


@router.post("/app/leads/{public_id}/delete")
def delete(
    request: Request,
    public_id: str,
    user: ContactsDep,
    db: DbDep,
    show: Annotated[str, Form(max_length=20)] = "new",
    csrf_token: CsrfField = "",
) -> Response:
    """Delete the request, as its sender asked (audited with the request's id only)."""
    check_csrf(request, csrf_token)
    request.state.user = user
    services.delete_lead(db, user, public_id[:40])
    return _back(show, "deleted")
