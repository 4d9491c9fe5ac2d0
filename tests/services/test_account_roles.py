"""Roles are checked in the services: the account, token, audit-log and clinic-calendar
use-cases, and every audited action, refuse an account whose role may not act, before anything
is stored. (The library, the CLI and the web app all go through these checks.)"""

from __future__ import annotations

from typing import Any

import pytest

from needleplan import services
from needleplan.domain.accounts import User
from needleplan.exceptions import PermissionDeniedError
from needleplan.services import clinic_calendar

CALENDAR = clinic_calendar.bundled_clinic_toml()


@pytest.fixture
def staff(db: Any) -> dict[str, User]:
    roles = {"admin": "admin", "prac": "practitioner", "desk": "front_desk"}
    return {n: services.create_user(db, n, f"{n}-password-1", r) for n, r in roles.items()}


@pytest.mark.parametrize("who", ["prac", "desk"])
def test_only_admins_manage_accounts(db: Any, staff: dict[str, User], who: str) -> None:
    actor, target = staff[who], staff["admin"]
    role = actor.role.value
    with pytest.raises(PermissionDeniedError, match=f"{who} \\({role}\\) may not create accounts"):
        services.create_user(db, "sneaky", "sneaky-password-1", "admin", actor=actor)
    with pytest.raises(PermissionDeniedError, match="may not deactivate accounts"):
        services.deactivate_user(db, target.id, actor=actor)
    with pytest.raises(PermissionDeniedError, match="may not set another account's password"):
        services.set_password(db, target.id, "taken-over-password", actor=actor)
    with pytest.raises(PermissionDeniedError, match="may not list accounts"):
        services.list_users(db, actor=actor)
    assert services.accounts.find_username(db, "sneaky") is None
    assert services.authenticate(db, "admin", "admin-password-1") is not None
    # one's own password is one's own business
    services.set_password(db, actor.id, "my-new-password-1", actor=actor)
    assert services.authenticate(db, who, "my-new-password-1") is not None


def test_an_admin_manages_accounts(db: Any, staff: dict[str, User]) -> None:
    admin = staff["admin"]
    made = services.create_user(db, "nina", "nina-password-1", "practitioner", actor=admin)
    services.set_password(db, made.id, "nina-password-2", actor=admin)
    assert services.authenticate(db, "nina", "nina-password-2") is not None
    services.deactivate_user(db, made.id, actor=admin)
    active = {u.username for u in services.list_users(db, actor=admin) if u.active}
    assert active == {"admin", "desk", "prac"}


@pytest.mark.parametrize("who", ["prac", "desk"])
def test_staff_manage_only_their_own_api_tokens(db: Any, staff: dict[str, User], who: str) -> None:
    actor, other = staff[who], staff["desk" if who == "prac" else "prac"]
    with pytest.raises(PermissionDeniedError, match=f"{who} .* may not issue API tokens"):
        services.issue_api_token(db, other.id, "not mine", actor=actor)
    assert services.list_api_tokens(db) == []
    _token, mine = services.issue_api_token(db, actor.id, "my own tablet", actor=actor)
    assert mine.issued_by == who
    assert [t.id for t in services.list_api_tokens(db, actor.id, actor=actor)] == [mine.id]
    with pytest.raises(PermissionDeniedError, match="may not list other accounts' API tokens"):
        services.list_api_tokens(db, actor=actor)
    _token, theirs = services.issue_api_token(db, other.id, "theirs", actor=other)
    with pytest.raises(PermissionDeniedError, match="may not revoke other accounts' API tokens"):
        services.revoke_api_token(db, theirs.id, actor=actor)
    services.revoke_api_token(db, mine.id, actor=actor)
    listed = services.list_api_tokens(db, actor=staff["admin"])
    assert [(t.id, t.active) for t in listed] == [(mine.id, False), (theirs.id, True)]


@pytest.mark.parametrize("who", ["prac", "desk"])
def test_only_admins_read_the_audit_log(db: Any, staff: dict[str, User], who: str) -> None:
    services.record_audit(db, staff["prac"], "patient.read", None)
    with pytest.raises(PermissionDeniedError, match=f"{who} .* may not read the audit log"):
        services.audit_log(db, actor=staff[who])
    with pytest.raises(PermissionDeniedError, match="may not read the audit log"):
        services.search_audit(db, actor=staff[who])
    assert len(services.audit_log(db, actor=staff["admin"])) == 1
    assert services.search_audit(db, actor=staff["admin"])[1] == 1


@pytest.mark.parametrize("who", ["prac", "desk"])
def test_only_admins_save_or_revert_the_clinic_calendar(
    db: Any, staff: dict[str, User], who: str
) -> None:
    first = clinic_calendar.save_clinic_config(db, CALENDAR, staff["admin"], "first")
    with pytest.raises(PermissionDeniedError, match=f"{who} .* may not save the clinic calendar"):
        clinic_calendar.save_clinic_config(db, CALENDAR, staff[who], "mine")
    with pytest.raises(PermissionDeniedError, match="may not revert the clinic calendar"):
        clinic_calendar.revert_clinic_config(db, first.id, staff[who])
    history = clinic_calendar.clinic_config_history(db)
    assert [(v.id, v.username, v.user_id) for v in history] == [
        (first.id, "admin", staff["admin"].id)
    ]
    assert [e.action for e in services.audit_log(db)] == ["clinic.config.save"]


def test_audited_refuses_before_the_block_runs_and_stores_nothing(
    db: Any, staff: dict[str, User]
) -> None:
    ran = []
    with (
        pytest.raises(PermissionDeniedError) as info,
        services.audited(db, staff["desk"], "assessment.create", None),
    ):
        ran.append(True)  # never runs
    assert str(info.value) == (
        "desk (front_desk) may not do assessment.create: it needs the clinical permission"
    )
    assert ran == []
    # only the refusal itself is on record (issue 17 L3)
    assert [(e.username, e.action, e.detail) for e in services.audit_log(db)] == [
        ("desk", "access.refused", "attempted assessment.create")
    ]
    with services.audited(db, staff["prac"], "assessment.create", None):
        ran.append(True)
    assert ran == [True]
    assert next((e.username, e.user_id) for e in services.audit_log(db)) == (
        "prac",
        staff["prac"].id,
    )


def test_an_account_of_another_store_is_recorded_by_name(db: Any, staff: dict[str, User]) -> None:
    """The web app's in-memory accounts are not this database's, even when an id matches."""
    impostor = staff["prac"].model_copy(update={"username": "visitor"})
    assert services.accounts.stored_account_id(db, impostor) is None
    assert services.accounts.stored_account_id(db, staff["prac"]) == staff["prac"].id
    services.record_audit(db, impostor, "patient.list")
    [event] = services.audit_log(db)
    assert (event.user_id, event.username) == (None, "system")
    assert "user=visitor" in event.detail


def test_the_last_active_admin_cannot_be_deactivated(db: Any, staff: dict[str, User]) -> None:
    """Issue 17, M1: the clinic never loses every admin, whoever asks."""
    from needleplan.exceptions import StateError

    with pytest.raises(StateError, match="last active admin"):
        services.deactivate_user(db, staff["admin"].id, actor=None)
    second = services.create_user(db, "admin2", "admin2-password-1", "admin")
    services.deactivate_user(db, staff["admin"].id, actor=second)
    with pytest.raises(StateError, match="last active admin"):
        services.deactivate_user(db, second.id, actor=None)
    assert services.authenticate(db, "admin2", "admin2-password-1") is not None
    services.deactivate_user(db, staff["prac"].id, actor=second)  # other roles: no such rule
