"""Admin pages for outbound webhooks (docs/messages.md, "Webhooks").

* ``GET  /app/admin/webhooks`` — the endpoints, their events, and a form to add one;
* ``POST /app/admin/webhooks`` — add one (the secret, typed or made, is shown once on the page
  that answers; lists show its last four characters); a bad address or event comes back named;
* ``POST /app/admin/webhooks/{id}/remove`` — stop sending to it (its log stays);
* ``GET  /app/admin/webhooks/{id}`` — its delivery log: status, HTTP status code, attempts,
  last error.

Admins only (clinic settings permission); every view and change is audited by the services.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Form, Path, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from needleplan.domain.integrations import WebhookEndpoint, WebhookEvent
from needleplan.exceptions import FieldProblem, InputError
from needleplan.services import webhooks
from needleplan.storage.database import Database
from needleplan.web.auth import Permission, StaffUser
from needleplan.web.deps import ClinicDep, DbDep
from needleplan.web.routes.booking import local_text
from needleplan.web.routes.pages import render
from needleplan.web.routes.visits import acting_account
from needleplan.web.security import CSRF_FIELD, check_csrf, require_permission

router = APIRouter(include_in_schema=False)

ConfigDep = Annotated[StaffUser, Depends(require_permission(Permission.CONFIG))]
EndpointId = Annotated[int, Path(ge=1, le=2**31 - 1)]


def _page(
    request: Request,
    db: Database,
    user: StaffUser,
    *,
    form: dict[str, object] | None = None,
    problems: list[FieldProblem] | None = None,
    added: WebhookEndpoint | None = None,
    done: str | None = None,
) -> HTMLResponse:
    endpoints = webhooks.list_endpoints(db, acting_account(db, user))
    return render(
        request,
        "app/webhooks.html",
        status_code=422 if problems else 200,
        endpoints=endpoints,
        events=[e.value for e in WebhookEvent],
        form=form or {"url": "", "events": []},
        problems=problems or [],
        added=added,
        done=done,
    )


@router.get("/app/admin/webhooks", response_class=HTMLResponse)
def webhooks_page(
    request: Request, user: ConfigDep, db: DbDep, done: str | None = None
) -> HTMLResponse:
    request.state.user = user
    return _page(request, db, user, done=done if done in ("removed",) else None)


@router.post("/app/admin/webhooks", response_class=HTMLResponse)
def add_webhook(
    request: Request,
    user: ConfigDep,
    db: DbDep,
    url: Annotated[str, Form(max_length=4000)] = "",
    events: Annotated[list[str] | None, Form()] = None,
    secret: Annotated[str, Form(max_length=1000)] = "",
    csrf_token: Annotated[str, Form(alias=CSRF_FIELD, max_length=200)] = "",
) -> HTMLResponse:
    check_csrf(request, csrf_token)
    request.state.user = user
    chosen = list(events or [])[:20]
    try:
        endpoint = webhooks.add_endpoint(
            db, acting_account(db, user), url, chosen, secret=secret or None
        )
    except InputError as exc:
        return _page(request, db, user, form={"url": url, "events": chosen}, problems=exc.problems)
    return _page(request, db, user, added=endpoint)


@router.post("/app/admin/webhooks/{endpoint_id}/remove")
def remove_webhook(
    request: Request,
    endpoint_id: EndpointId,
    user: ConfigDep,
    db: DbDep,
    csrf_token: Annotated[str, Form(alias=CSRF_FIELD, max_length=200)] = "",
) -> Response:
    check_csrf(request, csrf_token)
    request.state.user = user
    webhooks.remove_endpoint(db, acting_account(db, user), endpoint_id)
    return RedirectResponse("/app/admin/webhooks?done=removed", 303)


@router.get("/app/admin/webhooks/{endpoint_id}", response_class=HTMLResponse)
def webhook_log_page(
    request: Request, endpoint_id: EndpointId, user: ConfigDep, db: DbDep, clinic: ClinicDep
) -> HTMLResponse:
    request.state.user = user
    endpoint, rows = webhooks.delivery_log(db, acting_account(db, user), endpoint_id)
    return render(
        request,
        "app/webhook_log.html",
        endpoint=endpoint,
        rows=rows,
        at=lambda value: local_text(value, clinic) if value else "–",
    )
