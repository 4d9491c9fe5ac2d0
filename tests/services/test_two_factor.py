"""Two-factor sign-in (issue 17, accounts): enrolment with a confirmation code, codes accepted
once, recovery codes stored hashed and single use, the admin's requirement, admin password
resets that force a change, and every event on the audit trail."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pyotp
import pytest

from needleplan import services
from needleplan.domain.accounts import User
from needleplan.exceptions import InputError, PermissionDeniedError, StateError
from needleplan.services import two_factor

NOW = datetime(2031, 3, 3, 9, 0, tzinfo=UTC)


@pytest.fixture
def staff(db: Any) -> dict[str, User]:
    roles = {"admin": "admin", "prac": "practitioner", "desk": "front_desk"}
    return {n: services.create_user(db, n, f"{n}-password-1", r) for n, r in roles.items()}


def _actions(db: Any) -> list[str]:
    events, _ = services.search_audit(db, limit=100)
    return [e.action for e in reversed(events)]


def _enrol(db: Any, user: User) -> tuple[pyotp.TOTP, list[str]]:
    enrolment = two_factor.start_enrolment(db, user)
    assert enrolment.uri.startswith("otpauth://totp/needleplan:")
    totp = pyotp.TOTP(enrolment.secret)
    codes = two_factor.confirm_enrolment(db, user, totp.at(NOW), now=NOW)
    return totp, codes


def test_enrolment_needs_the_current_code_and_gives_ten_single_use_recovery_codes(
    db: Any, staff: dict[str, User]
) -> None:
    prac = staff["prac"]
    enrolment = two_factor.start_enrolment(db, prac)
    with pytest.raises(InputError, match="code"):
        two_factor.confirm_enrolment(db, prac, "000000", now=NOW - timedelta(hours=1))
    assert not two_factor.status(db, prac.id).enabled
    codes = two_factor.confirm_enrolment(db, prac, pyotp.TOTP(enrolment.secret).at(NOW), now=NOW)
    assert len(codes) == len(set(codes)) == 10
    state = two_factor.status(db, prac.id)
    assert state.enabled
    assert state.recovery_codes_left == 10
    # the codes are stored as digests only: no stored value contains a code
    with db.transaction() as uow:
        dump = repr(uow.account_security.get(prac.id))
    assert not any(c in dump or c.replace("-", "") in dump for c in codes)
    assert two_factor.verify_second_factor(db, prac.id, codes[0].upper(), now=NOW)
    assert not two_factor.verify_second_factor(db, prac.id, codes[0], now=NOW)  # used up
    assert two_factor.status(db, prac.id).recovery_codes_left == 9
    assert "account.2fa.enrol" in _actions(db)
    assert "account.2fa.recovery_used" in _actions(db)
    assert _actions(db)[-1] == "account.2fa.refused"


def test_a_code_is_accepted_once_within_one_step_of_drift(db: Any, staff: dict[str, User]) -> None:
    desk = staff["desk"]
    totp, _ = _enrol(db, desk)
    later = NOW + timedelta(minutes=5)
    code = totp.at(later)
    assert two_factor.verify_second_factor(db, desk.id, code, now=later + timedelta(seconds=25))
    assert not two_factor.verify_second_factor(db, desk.id, code, now=later)  # replayed
    far = NOW + timedelta(minutes=20)
    assert not two_factor.verify_second_factor(
        db, desk.id, totp.at(far - timedelta(minutes=2)), now=far
    )
    assert not two_factor.verify_second_factor(db, desk.id, "12345x", now=far)
    assert not two_factor.verify_second_factor(db, desk.id, "", now=far)


def test_the_requirement_is_an_admins_setting_and_audited(db: Any, staff: dict[str, User]) -> None:
    with pytest.raises(PermissionDeniedError):
        two_factor.set_two_factor_required(db, True, actor=staff["prac"])
    assert not two_factor.two_factor_required(db)
    two_factor.set_two_factor_required(db, True, actor=staff["admin"])
    assert two_factor.status(db, staff["desk"].id).must_enrol
    _enrol(db, staff["desk"])
    assert not two_factor.status(db, staff["desk"].id).must_enrol
    assert "settings.two_factor_required" in _actions(db)


def test_an_admin_resets_a_lost_second_factor_and_a_password_that_must_be_changed(
    db: Any, staff: dict[str, User]
) -> None:
    prac, admin = staff["prac"], staff["admin"]
    _enrol(db, prac)
    with pytest.raises(PermissionDeniedError):
        two_factor.disable_two_factor(db, prac.id, actor=staff["desk"])
    two_factor.disable_two_factor(db, prac.id, actor=admin)
    assert two_factor.status(db, prac.id) == two_factor.TwoFactorStatus(False, False, False, 0)
    with pytest.raises(StateError):
        two_factor.reset_password(db, admin.id, "a-new-password-1", actor=admin)
    with pytest.raises(InputError, match="new_password"):
        two_factor.reset_password(db, prac.id, "short", actor=admin)
    from needleplan.services import staff_sessions

    policy = staff_sessions.SessionPolicy()
    staff_sessions.start_session(db, prac.id, "Firefox/128.0", policy)
    two_factor.reset_password(db, prac.id, "temporary-password-1", actor=admin)
    assert staff_sessions.active_sessions(db, prac.id, policy) == []  # signed out everywhere
    assert two_factor.status(db, prac.id).must_change_password
    assert services.authenticate(db, "prac", "temporary-password-1") is not None
    services.set_password(db, prac.id, "her-own-password-1", actor=prac)
    assert not two_factor.status(db, prac.id).must_change_password
    actions = _actions(db)
    assert actions.index("account.2fa.disable") < actions.index("account.password.reset")
