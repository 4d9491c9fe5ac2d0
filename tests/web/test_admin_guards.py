"""The admin "not your own account" guards compare parsed ids (issue 17, M1)."""

from __future__ import annotations

import pytest

from needleplan import services
from needleplan.web.auth import parse_user_id

from .conftest import TestClient, csrf_from
from .patients_fixtures import ClinicApp, clinic_app, sign_in, web

__all__ = ["clinic_app", "web"]


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("1", 1),
        ("2147483647", 2147483647),
        ("01", None),
        ("٣", None),
        (" 1", None),
        ("2147483648", None),
        ("99999999999999999999", None),
        ("0", None),
        ("", None),
        ("+1", None),
    ],
)
def test_account_ids_are_parsed_strictly(text: str, expected: int | None) -> None:
    assert parse_user_id(text) == expected


def _variants(user_id: int) -> list[str]:
    arabic = "".join(chr(0x660 + int(d)) for d in str(user_id))
    return [f"0{user_id}", f"00{user_id}", arabic, f"{user_id}%20", "99999999999999999999"]


def test_an_admin_cannot_reach_their_own_account_by_another_spelling(
    web: TestClient, clinic_app: ClinicApp
) -> None:
    sign_in(web, "admin")
    me = clinic_app.user_ids["admin"]
    for spelling in _variants(me):
        token = csrf_from(web.get("/app/admin/users").text)
        for action, form in (
            ("deactivate", {}),
            ("sessions/end", {}),
            (
                "password",
                {"new_password": "taken-over-pass-1", "confirm_password": "taken-over-pass-1"},
            ),
        ):
            response = web.post(
                f"/app/admin/users/{spelling}/{action}", data={"csrf_token": token, **form}
            )
            assert response.status_code in (404, 409, 422), (spelling, action)
    admin = services.find_user(clinic_app.db, me)
    assert admin is not None
    assert admin.active
    assert services.authenticate(clinic_app.db, "admin", "admin-password-1") is not None
    assert web.get("/app/admin/users").status_code == 200  # still signed in


def test_the_web_refuses_to_close_the_last_admin(web: TestClient, clinic_app: ClinicApp) -> None:
    db = clinic_app.db
    me = clinic_app.user_ids["admin"]
    second = services.create_user(db, "admin2", "admin2-password-1", "admin")
    sign_in(web, "admin")
    token = csrf_from(web.get("/app/admin/users").text)
    # "admin" is closed elsewhere while this page is open: admin2 is now the last active admin
    services.deactivate_user(db, me, actor=second)
    response = web.post(
        f"/app/admin/users/{second.id}/deactivate",
        data={"csrf_token": token},
        follow_redirects=False,
    )
    # the closed account's session no longer acts (303 to sign-in); were it still to, the
    # service's last-admin rule answers 409
    assert response.status_code in (303, 409), response.status_code
    still = services.find_user(db, second.id)
    assert still is not None
    assert still.active
