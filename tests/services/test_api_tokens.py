"""API tokens (issue 17, H1): who may issue one, scope and expiry, the end of a token when its
owner's password changes or the account closes, and the audit trail of issuing, revoking and
acting through a token."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest

from needleplan import services
from needleplan.domain.accounts import User
from needleplan.exceptions import InputError, PermissionDeniedError
from needleplan.services import tokens


@pytest.fixture
def staff(db: Any) -> dict[str, User]:
    roles = {
        "admin": "admin",
        "prac": "practitioner",
        "desk": "front_desk",
        "lab-sync": "front_desk",  # an integration account: no clinical access
    }
    return {n: services.create_user(db, n, f"{n}-password-1", r) for n, r in roles.items()}


def _actions(db: Any) -> list[tuple[str, str, str]]:
    events, _ = services.search_audit(db, limit=100)
    return [(e.username, e.action, e.detail) for e in reversed(events)]


def test_an_admin_cannot_take_clinical_access_through_a_practitioners_token(
    db: Any, staff: dict[str, User]
) -> None:
    with pytest.raises(PermissionDeniedError, match=r"prac.*clinical access.*only its owner"):
        services.issue_api_token(db, staff["prac"].id, "backdoor", actor=staff["admin"])
    assert services.list_api_tokens(db) == []
    assert [a for _, a, _ in _actions(db)] == []  # nothing issued, nothing to audit


def test_an_admin_issues_for_an_integration_account_and_it_is_audited(
    db: Any, staff: dict[str, User]
) -> None:
    token, info = services.issue_api_token(
        db, staff["lab-sync"].id, "lab sync", actor=staff["admin"], scope="read", days=30
    )
    assert token.startswith("np_")
    assert (info.issued_by, info.scope, info.username) == ("admin", "read", "lab-sync")
    assert info.expires_at - info.created_at == timedelta(days=30)
    services.revoke_api_token(db, info.id, actor=staff["admin"])
    assert _actions(db) == [
        (
            "admin",
            "token.issue",
            f"token {info.id} for user {staff['lab-sync'].id} scope=read days=30",
        ),
        ("admin", "token.revoke", f"token {info.id}"),
    ]
    assert services.user_for_api_token(db, token) is None


def test_the_owner_issues_her_own_token_and_acts_through_it_on_the_record(
    db: Any, staff: dict[str, User]
) -> None:
    token, info = services.issue_api_token(db, staff["prac"].id, "my tablet", actor=staff["prac"])
    grant = services.api_token_grant(db, token)
    assert grant is not None
    assert grant.scope == "write"
    assert grant.user.username == "prac"
    assert grant.user.via_token == info.id
    patient = services.register_patient(
        db, {"given_name": "A", "family_name": "B", "birth_date": "1980-01-01"}
    )
    with services.audited(db, grant.user, "patient.read", patient.id):
        pass
    username, action, detail = _actions(db)[-1]
    assert (username, action) == ("prac", "patient.read")
    assert detail.endswith(f"token={info.id}")  # the trail says it was the token, not her


def test_a_token_expires(db: Any, staff: dict[str, User], monkeypatch: pytest.MonkeyPatch) -> None:
    token, info = services.issue_api_token(
        db, staff["desk"].id, "short", actor=staff["desk"], days=1
    )
    assert services.user_for_api_token(db, token) is not None
    later = info.created_at + timedelta(days=1, seconds=1)
    monkeypatch.setattr(tokens, "utc_now", lambda: later)
    assert services.user_for_api_token(db, token) is None
    [listed] = services.list_api_tokens(db)
    assert listed.active
    assert not listed.usable(later)


def test_a_new_password_or_a_closed_account_ends_every_token(
    db: Any, staff: dict[str, User]
) -> None:
    desk, admin = staff["desk"], staff["admin"]
    one, _ = services.issue_api_token(db, desk.id, "one", actor=desk)
    two, _ = services.issue_api_token(db, desk.id, "two", actor=desk)
    services.set_password(db, desk.id, "another-password-1", actor=desk)
    assert services.user_for_api_token(db, one) is None
    assert services.user_for_api_token(db, two) is None
    three, _ = services.issue_api_token(db, staff["lab-sync"].id, "three", actor=admin)
    services.deactivate_user(db, staff["lab-sync"].id, actor=admin)
    assert services.user_for_api_token(db, three) is None
    assert all(t.revoked_at is not None for t in services.list_api_tokens(db))


@pytest.mark.parametrize(
    ("change", "field"),
    [({"scope": "admin"}, "scope"), ({"days": 0}, "days"), ({"days": 366}, "days")],
)
def test_a_bad_scope_or_lifetime_is_refused_naming_the_field(
    db: Any, staff: dict[str, User], change: dict[str, Any], field: str
) -> None:
    with pytest.raises(InputError) as err:
        services.issue_api_token(db, staff["desk"].id, "x", actor=staff["desk"], **change)
    assert err.value.problems[0].field == field
    assert services.list_api_tokens(db) == []
