"""Who is asking: a staff session's account, kiosk lock and pending setup, read in one transaction."""

from __future__ import annotations

from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from needleplan import services
from needleplan.domain.accounts import User
from needleplan.services import intake, staff_sessions, two_factor
from needleplan.services.staff_identity import identify
from needleplan.services.staff_sessions import SessionPolicy, session_digest
from needleplan.storage.database import Database

NOW = datetime(2031, 3, 3, 9, 0, tzinfo=UTC)
POLICY = SessionPolicy()


@pytest.fixture
def staff(db: Any) -> dict[str, User]:
    roles = {"admin": "admin", "prac": "practitioner"}
    return {n: services.create_user(db, n, f"{n}-password-1", r) for n, r in roles.items()}


def _sign_in(db: Any, user: User, at: datetime = NOW) -> str:
    token, _ = staff_sessions.start_session(db, user.id, "Firefox/128.0", POLICY, now=at)
    return token


def test_a_live_session_gives_its_account_and_nothing_pending(
    db: Any, staff: dict[str, User]
) -> None:
    token = _sign_in(db, staff["prac"])
    found = identify(db, token, POLICY, now=NOW + timedelta(minutes=5))
    assert found is not None
    assert found.user is not None
    assert found.user.username == "prac"
    assert found.session.user_id == staff["prac"].id
    assert (found.kiosk, found.must_change_password, found.must_enrol) == (None, False, False)
    # The use is recorded, as a session lookup records it.
    again = staff_sessions.find_session(db, token, POLICY, now=NOW + timedelta(minutes=5))
    assert again is not None
    assert again.last_seen_at == NOW + timedelta(minutes=5)


@pytest.mark.parametrize("token", ["", "x" * 101, "not-a-token-we-issued"])
def test_no_session_for_an_unknown_or_oversized_token(
    db: Any, staff: dict[str, User], token: str
) -> None:
    assert identify(db, token, POLICY, now=NOW) is None


def test_an_idle_expired_or_revoked_session_counts_as_signed_out(
    db: Any, staff: dict[str, User]
) -> None:
    token = _sign_in(db, staff["prac"])
    assert (
        identify(db, token, POLICY, now=NOW + timedelta(seconds=POLICY.idle_timeout_s + 1)) is None
    )
    token = _sign_in(db, staff["prac"])
    staff_sessions.end_session(db, token, now=NOW + timedelta(minutes=1))
    assert identify(db, token, POLICY, now=NOW + timedelta(minutes=2)) is None


def test_a_deactivated_account_has_no_user(db: Any, staff: dict[str, User]) -> None:
    token = _sign_in(db, staff["prac"])
    services.deactivate_user(db, staff["prac"].id, actor=staff["admin"])
    found = identify(db, token, POLICY, now=NOW)
    assert found is None or found.user is None


def test_kiosk_lock_and_pending_setup_come_with_the_session(
    db: Any, staff: dict[str, User]
) -> None:
    prac, admin = staff["prac"], staff["admin"]
    patient_id = services.register_patient(
        db, {"given_name": "Jane", "family_name": "Doe", "birth_date": "1976-04-02"}
    ).id
    token = _sign_in(db, prac)
    intake.start_kiosk(db, prac, session_digest(token), patient_id, now=NOW)
    two_factor.set_two_factor_required(db, True, actor=admin)
    found = identify(db, token, POLICY, now=NOW)
    assert found is not None
    assert found.kiosk is not None
    assert found.kiosk.patient_id == patient_id
    assert found.must_enrol
    assert not found.must_change_password
    # Another session of the same account is not locked.
    other = identify(db, _sign_in(db, prac), POLICY, now=NOW)
    assert other is not None
    assert other.kiosk is None

    two_factor.reset_password(db, prac.id, "temporary-password-1", actor=admin)
    token = _sign_in(db, prac)  # the reset signed her out everywhere
    found = identify(db, token, POLICY, now=NOW)
    assert found is not None
    assert found.must_change_password


def test_everything_is_read_in_one_transaction(db: Database, staff: dict[str, User]) -> None:
    token = _sign_in(db, staff["prac"])
    opened: list[bool] = []
    original = Database.transaction

    @contextmanager
    def counting(self: Database) -> Any:
        opened.append(self.in_transaction)
        with original(self) as uow:
            yield uow

    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(Database, "transaction", counting)
        assert identify(db, token, POLICY, now=NOW) is not None
    assert opened == [False]
