"""An admin names a staff account for people and links it to a practitioner.

* ``POST /app/admin/users/{user_id}/profile`` — ``display_name`` (empty: the user name) and
  ``practitioner`` (a practitioner id of the calendar in force, or empty: none). A linked
  practitioner's calendar and home page open on her own column.

Needs the users permission (admins) and the CSRF token; audited as ``user.profile`` (in the same
transaction as the change on the database store).
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Form, Request
from fastapi.responses import HTMLResponse

from needleplan.exceptions import InputError, NotFoundError
from needleplan.web.auth import UserStore, parse_user_id
from needleplan.web.db_stores import DbUserStore
from needleplan.web.routes.pages import AdminDep, audit_account, practitioner_choices, users_page
from needleplan.web.security import CSRF_FIELD, check_csrf

router = APIRouter(include_in_schema=False)


def _practitioner(value: str, choices: dict[int, str]) -> int | None:
    clean = value.strip()
    if not clean:
        return None
    if clean.isdigit() and int(clean) in choices:
        return int(clean)
    raise InputError.one(
        "practitioner", clean[:20], "must be one of the clinic's practitioners, or none"
    )


@router.post("/app/admin/users/{user_id}/profile", response_class=HTMLResponse)
def admin_set_profile(
    request: Request,
    user_id: str,
    user: AdminDep,
    display_name: Annotated[str, Form(max_length=400)] = "",
    practitioner: Annotated[str, Form(max_length=20)] = "",
    csrf_token: Annotated[str, Form(alias=CSRF_FIELD, max_length=200)] = "",
) -> HTMLResponse:
    """Set an account's display name and its practitioner."""
    check_csrf(request, csrf_token)
    request.state.user = user
    users: UserStore = request.app.state.user_store
    key = parse_user_id(user_id)
    if key is None or users.get_user(key) is None:
        raise NotFoundError("no such user")
    try:
        who = _practitioner(practitioner, practitioner_choices(request))
        changed = users.set_profile(key, display_name, who, actor=user)
    except InputError as exc:
        return users_page(request, status_code=422, problem=str(exc))
    if not isinstance(users, DbUserStore):  # the database store audits in the change's transaction
        audit_account(request, user, "user.profile", f"user {key} practitioner {who}")
    return users_page(request, profile_set=changed)
