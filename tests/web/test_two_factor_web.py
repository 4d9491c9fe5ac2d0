"""Two-factor sign-in on the web (issue 17, accounts): enrolment from My account with a QR code
and a confirmation code, the code step after the password (a code works once, recovery codes
once each, attempts rate limited), the admin's requirement that sends staff to enrol, the admin
reset of a lost second factor, and an admin password reset that must be changed at sign-in."""

from __future__ import annotations

import re
import time
from typing import Any

import httpx
import pyotp
from fastapi.testclient import TestClient

from needleplan import services

from .conftest import csrf_from
from .patients_fixtures import DB_PASSWORDS, ClinicApp, clinic_app, sign_in, web

__all__ = ["clinic_app", "web"]


def _refill(clinic_app: ClinicApp) -> None:
    clinic_app.app.state.login_limiter.clock.advance(600)


def _post(web: TestClient, page: str, action: str, **data: str) -> httpx.Response:
    token = csrf_from(web.get(page).text)
    return web.post(action, data={"csrf_token": token, **data}, follow_redirects=False)


def _enrol(web: TestClient) -> tuple[pyotp.TOTP, list[str]]:
    started = _post(web, "/app/account/2fa", "/app/account/2fa/start")
    assert started.status_code == 200
    html = started.text
    assert 'id="totp-qr"' in html
    assert 'src="data:image/svg+xml' in html
    match = re.search(r'<code id="totp-secret">([A-Z2-7]+)</code>', html)
    assert match
    totp = pyotp.TOTP(match.group(1))
    wrong = _post(web, "/app/account/2fa", "/app/account/2fa/confirm", code="000000")
    if totp.now() != "000000":
        assert wrong.status_code == 422
    done = _post(web, "/app/account/2fa", "/app/account/2fa/confirm", code=totp.now())
    assert done.status_code == 200, done.text
    codes = re.findall(r"<li><code>([a-z0-9]{5}-[a-z0-9]{5})</code></li>", done.text)
    assert len(codes) == 10
    return totp, codes


def _password_step(web: TestClient, username: str, password: str | None = None) -> httpx.Response:
    token = csrf_from(web.get("/login").text)
    return web.post(
        "/login",
        data={
            "username": username,
            "password": password or DB_PASSWORDS[username],
            "csrf_token": token,
            "next": "/app/patients",
        },
        follow_redirects=False,
    )


def _code_step(web: TestClient, code: str) -> httpx.Response:
    page = web.get("/login/2fa?next=/app/patients", follow_redirects=False)
    assert page.status_code == 200, page.text
    return web.post(
        "/login/2fa",
        data={"csrf_token": csrf_from(page.text), "code": code, "next": "/app/patients"},
        follow_redirects=False,
    )


def _sign_out(web: TestClient) -> None:
    token = csrf_from(web.get("/app/account").text)
    web.post("/logout", data={"csrf_token": token})


def test_signing_in_with_a_second_factor_needs_a_code_that_works_once(
    web: TestClient, clinic_app: ClinicApp
) -> None:
    sign_in(web, "prac")
    totp, codes = _enrol(web)
    _sign_out(web)
    assert web.get("/app/patients", follow_redirects=False).status_code == 303
    first = _password_step(web, "prac")
    assert first.status_code == 303
    assert first.headers["location"].startswith("/login/2fa")
    # the password alone signs nobody in
    assert web.get("/app/patients", follow_redirects=False).headers["location"].startswith("/login")
    wrong = _code_step(web, "99999x")
    assert wrong.status_code == 401
    # the enrolment used this step's code: the next step's (one step of drift) is new
    code = totp.at(time.time() + 30)
    right = _code_step(web, code)
    assert right.status_code == 303
    assert right.headers["location"] == "/app/patients"
    assert web.get("/app/patients").status_code == 200
    _sign_out(web)
    _refill(clinic_app)
    _password_step(web, "prac")
    assert _code_step(web, code).status_code == 401  # replayed
    assert _code_step(web, codes[3]).status_code == 303
    _sign_out(web)
    _password_step(web, "prac")
    assert _code_step(web, codes[3]).status_code == 401  # used up
    events, _ = services.search_audit(clinic_app.db, username="prac", limit=100)
    actions = [e.action for e in events]
    for action in (
        "account.2fa.enrol",
        "account.signin",
        "account.2fa.refused",
        "account.2fa.recovery_used",
    ):
        assert action in actions
    assert not any(code in e.detail or codes[3] in e.detail for e in events)


def test_code_attempts_are_rate_limited(web: TestClient, clinic_app: ClinicApp) -> None:
    sign_in(web, "desk")
    totp, _ = _enrol(web)
    _sign_out(web)
    _password_step(web, "desk")
    statuses = [_code_step(web, "12345x").status_code for _ in range(7)]
    assert statuses[0] == 401
    assert statuses[-1] == 429
    assert _code_step(web, totp.now()).status_code == 429


def test_the_code_step_without_a_right_password_starts_over(web: TestClient) -> None:
    assert web.get("/login/2fa", follow_redirects=False).headers["location"] == "/login"
    for forged in ("1.99999999999.forged", "1." + "9" * 5000 + ".x", "a.b", "0.1.x"):
        web.cookies.set("needleplan_2fa", forged, path="/login")
        assert web.get("/login/2fa", follow_redirects=False).headers["location"] == "/login"


def test_an_admin_requires_it_and_staff_without_it_are_sent_to_enrol(
    web: TestClient, clinic_app: ClinicApp
) -> None:
    sign_in(web, "admin")
    page = web.get("/app/admin/users")
    assert 'id="two-factor-required"' in page.text
    answer = _post(web, "/app/admin/users", "/app/admin/two-factor", required="on")
    assert answer.status_code == 200
    assert "Required for every staff account" in answer.text
    _sign_out(web)
    sign_in(web, "desk")
    for path in ("/app/", "/app/patients", "/app/account"):
        sent = web.get(path, follow_redirects=False)
        assert sent.status_code == 303
        assert sent.headers["location"] == "/app/account/2fa"
    assert 'id="must-enrol"' in web.get("/app/account/2fa").text
    _enrol(web)
    assert web.get("/app/patients").status_code == 200
    # switching it off is refused while the clinic requires it
    off = _post(web, "/app/account/2fa", "/app/account/2fa/disable", code="000000")
    assert off.status_code == 409
    assert services.search_audit(clinic_app.db, action="settings.two_factor_required")[1] == 1


def test_an_admin_resets_a_lost_second_factor(web: TestClient, clinic_app: ClinicApp) -> None:
    sign_in(web, "prac")
    _enrol(web)
    _sign_out(web)
    sign_in(web, "admin")
    prac_id = clinic_app.user_ids["prac"]
    page = web.get("/app/admin/users")
    assert f"/app/admin/users/{prac_id}/2fa/reset" in page.text
    reset = _post(web, "/app/admin/users", f"/app/admin/users/{prac_id}/2fa/reset")
    assert reset.status_code == 200
    assert 'id="two-factor-reset"' in reset.text
    _sign_out(web)
    _refill(clinic_app)
    signed = _password_step(web, "prac")
    assert signed.headers["location"] == "/app/patients"
    events, _ = services.search_audit(clinic_app.db, action="account.2fa.disable")
    assert [(e.username, e.detail) for e in events] == [("admin", f"user {prac_id}")]


def test_a_password_an_admin_set_must_be_changed_at_the_next_sign_in(
    web: TestClient, clinic_app: ClinicApp
) -> None:
    sign_in(web, "admin")
    desk_id = clinic_app.user_ids["desk"]
    temporary = "temporary-password-9"
    set_ = _post(
        web,
        "/app/admin/users",
        f"/app/admin/users/{desk_id}/password",
        new_password=temporary,
        confirm_password=temporary,
    )
    assert set_.status_code == 200
    _sign_out(web)
    assert _password_step(web, "desk", temporary).status_code == 303
    sent = web.get("/app/patients", follow_redirects=False)
    assert sent.headers["location"] == "/app/account"
    assert 'id="must-change-password"' in web.get("/app/account").text
    changed = _post(
        web,
        "/app/account",
        "/app/account/password",
        current_password=temporary,
        new_password="desk-chose-this-1",
        confirm_password="desk-chose-this-1",
    )
    assert changed.status_code == 200, changed.text
    assert web.get("/app/patients").status_code == 200


def test_a_secret_the_server_key_no_longer_opens_is_a_clear_page_not_a_500(
    web: TestClient, clinic_app: ClinicApp, tmp_path: Any, monkeypatch: Any
) -> None:
    sign_in(web, "prac")
    _enrol(web)
    _sign_out(web)
    other = tmp_path / "another.key"
    other.write_text("a different server key of forty characters")
    monkeypatch.setenv("NEEDLEPLAN_SECRET_KEY_FILE", str(other))
    _refill(clinic_app)
    page = _password_step(web, "prac")  # the password step reads her second-factor state
    assert page.status_code == 409, page.text
    assert "cannot be opened with this server&#39;s secret key" in page.text
    assert "2fa-reset" in page.text
