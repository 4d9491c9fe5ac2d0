"""The one account model: roles and their permissions, the user-name and password rules."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from needleplan.domain.accounts import (
    ACTION_PERMISSIONS,
    ROLE_PERMISSIONS,
    Permission,
    Role,
    User,
    check_password,
    check_username,
    parse_role,
    require_action,
    require_permission,
)
from needleplan.domain.records import Role as RecordsRole
from needleplan.domain.records import User as RecordsUser
from needleplan.exceptions import InputError, PermissionDeniedError

AT = datetime(2026, 1, 1, tzinfo=UTC)


def user(role: Role, name: str = "someone") -> User:
    return User(id=7, username=name, role=role, created_at=AT)


def test_records_re_exports_the_same_account_types() -> None:
    assert RecordsUser is User
    assert RecordsRole is Role


@pytest.mark.parametrize(
    ("role", "allowed"),
    [
        (Role.ADMIN, {"users", "config", "audit", "reports", "calendar", "recall", "contacts"}),
        (Role.PRACTITIONER, {"clinical", "calendar", "recall", "contacts"}),
        (Role.FRONT_DESK, {"calendar", "recall", "contacts"}),
    ],
)
def test_each_role_has_exactly_its_permissions(role: Role, allowed: set[str]) -> None:
    assert {p.value for p in ROLE_PERMISSIONS[role]} == allowed
    for permission in Permission:
        assert user(role).can(permission) is (permission.value in allowed)


@pytest.mark.parametrize(
    ("raw", "stored"),
    [("Pia", "pia"), ("  nina.nurse ", "nina.nurse"), ("a_b-c9", "a_b-c9"), ("x" * 40, "x" * 40)],
)
def test_user_names_are_normalised(raw: str, stored: str) -> None:
    assert check_username(raw) == stored


@pytest.mark.parametrize(
    "bad", ["", "   ", "x1", "x" * 41, ".dot", "-dash", "has space", "émile", "a/b", "tab\tname"]
)
def test_bad_user_names_are_refused_naming_the_field_and_rule(bad: str) -> None:
    with pytest.raises(InputError) as info:
        check_username(bad)
    problem = info.value.problems[0]
    assert (problem.field, problem.value) == ("username", bad)
    assert "3-40" in problem.rule


def test_the_password_rule_hides_the_value() -> None:
    check_password("x" * 10)
    check_password("x" * 1024)
    for bad, rule in (("x" * 9, "at least 10 characters"), ("x" * 1025, "at most 1024")):
        with pytest.raises(InputError) as info:
            check_password(bad, "new_password")
        problem = info.value.problems[0]
        assert (problem.field, problem.value) == ("new_password", "<hidden>")
        assert rule in problem.rule


def test_roles_parse_or_list_the_choices() -> None:
    assert parse_role("front_desk") is Role.FRONT_DESK
    with pytest.raises(InputError, match="admin, practitioner, front_desk"):
        parse_role("owner")


def test_display_name_defaults_to_the_user_name() -> None:
    assert user(Role.ADMIN, "ada").display_name == "ada"
    named = User(id=1, username="ada", role=Role.ADMIN, created_at=AT, display_name="Ada A")
    assert named.display_name == "Ada A"


def test_a_refusal_names_the_account_its_role_and_the_action() -> None:
    with pytest.raises(PermissionDeniedError) as info:
        require_permission(user(Role.FRONT_DESK, "desk"), Permission.CLINICAL, "see notes")
    assert (
        str(info.value) == "desk (front_desk) may not see notes: it needs the clinical permission"
    )
    require_permission(user(Role.PRACTITIONER), Permission.CLINICAL, "see notes")


@pytest.mark.parametrize(("action", "permission"), sorted(ACTION_PERMISSIONS.items()))
def test_audited_actions_need_their_permission(action: str, permission: Permission) -> None:
    for role in Role:
        if permission in ROLE_PERMISSIONS[role]:
            require_action(user(role), action)
        else:
            with pytest.raises(PermissionDeniedError, match=f"{role.value}.*{action}"):
                require_action(user(role), action)


def test_an_action_outside_the_table_needs_only_an_account() -> None:
    for role in Role:
        require_action(user(role), "account.password")
