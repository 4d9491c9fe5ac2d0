"""TOTP secrets sealed at rest with the server's key (issue 17): never in clear in the database,
bound to their account, a clear error for a wrong key, the key file made 0600 on first use, and
migration 0027 sealing the values stored in clear before it (and its downgrade opening them)."""

from __future__ import annotations

import stat
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pyotp
import pytest
from sqlalchemy import text

from needleplan import services
from needleplan.exceptions import InputError, StateError
from needleplan.services import two_factor
from needleplan.storage import Database, migrate, secret_key

NOW = datetime(2031, 3, 3, 9, 0, tzinfo=UTC)


def _stored(db: Database, user_id: int) -> tuple[str | None, str | None]:
    with db.engine.connect() as conn:
        row = conn.execute(
            text("SELECT totp_secret, totp_pending FROM account_security WHERE user_id = :u"),
            {"u": user_id},
        ).one()
    return row[0], row[1]


def _enrol(db: Database, user: Any) -> str:
    enrolment = two_factor.start_enrolment(db, user)
    pending = _stored(db, user.id)[1]
    assert pending is not None
    assert enrolment.secret not in pending  # the pending secret is sealed too
    two_factor.confirm_enrolment(db, user, pyotp.TOTP(enrolment.secret).at(NOW), now=NOW)
    return enrolment.secret


def test_the_totp_secret_is_never_stored_in_clear(db: Any) -> None:
    prac = services.create_user(db, "prac", "prac-password-1", "practitioner")
    secret = _enrol(db, prac)
    stored, pending = _stored(db, prac.id)
    assert pending is None
    assert stored is not None
    assert stored.startswith("v1:")
    assert secret not in stored
    with db.transaction() as uow:
        assert uow.account_security.get(prac.id).totp_secret == secret
    later = NOW.replace(minute=5)
    assert two_factor.verify_second_factor(db, prac.id, pyotp.TOTP(secret).at(later), now=later)


def test_a_sealed_secret_opens_only_for_its_own_account(db: Any) -> None:
    one = services.create_user(db, "one", "one-password-1", "practitioner")
    two = services.create_user(db, "two", "two-password-1", "practitioner")
    _enrol(db, one)
    _enrol(db, two)
    stolen, _ = _stored(db, one.id)
    with db.engine.begin() as conn:
        conn.execute(
            text("UPDATE account_security SET totp_secret = :s WHERE user_id = :u"),
            {"s": stolen, "u": two.id},
        )
    with pytest.raises(StateError, match="cannot be opened with this server's secret key"):
        two_factor.status(db, two.id)


def test_another_key_is_one_clear_error(db: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    prac = services.create_user(db, "prac", "prac-password-1", "practitioner")
    _enrol(db, prac)
    monkeypatch.delenv(secret_key.ENV_KEY_FILE)
    monkeypatch.setenv(secret_key.ENV_KEY, secret_key.new_key())
    with pytest.raises(StateError) as caught:
        two_factor.verify_second_factor(db, prac.id, "123456", now=NOW)
    message = str(caught.value)
    assert "NEEDLEPLAN_SECRET_KEY" in message
    assert "2fa-reset" in message
    # an admin's reset clears it; enrolling again works with the new key
    two_factor.disable_two_factor(db, prac.id, actor=None)
    _enrol(db, prac)


@pytest.mark.parametrize("bad", ["short", "   fifteen chars   "[:18], "x" * 15])
def test_weak_key_material_is_refused_naming_the_setting(
    bad: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv(secret_key.ENV_KEY_FILE)
    monkeypatch.setenv(secret_key.ENV_KEY, bad)
    with pytest.raises(InputError, match="NEEDLEPLAN_SECRET_KEY: must hold at least 16"):
        secret_key.server_key()


def test_the_web_secret_is_the_key_unless_a_key_file_is_named(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv(secret_key.ENV_KEY_FILE)
    monkeypatch.setenv(secret_key.ENV_KEY, "a-web-secret-of-forty-characters-000000")
    from_setting = secret_key.server_key()
    assert len(from_setting) == 32
    assert secret_key.unseal(from_setting, secret_key.seal(from_setting, "s", "c"), "c") == "s"
    (tmp_path / "k").write_text(secret_key.new_key())
    monkeypatch.setenv(secret_key.ENV_KEY_FILE, str(tmp_path / "k"))
    assert secret_key.server_key() != from_setting


def test_without_a_setting_a_key_file_is_made_0600_beside_the_database(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv(secret_key.ENV_KEY, raising=False)
    monkeypatch.delenv(secret_key.ENV_KEY_FILE)
    db = Database.open(f"sqlite:///{tmp_path / 'data' / 'clinic.sqlite3'}")
    try:
        prac = services.create_user(db, "prac", "prac-password-1", "practitioner")
        assert not (tmp_path / "data" / "secret.key").exists()  # made on first use
        secret = _enrol(db, prac)
        made = tmp_path / "data" / "secret.key"
        assert stat.S_IMODE(made.stat().st_mode) == 0o600
        key = made.read_text()
        assert len(key.strip()) >= 40
        with db.transaction() as uow:  # the same file is read again, not replaced
            assert uow.account_security.get(prac.id).totp_secret == secret
        assert made.read_text() == key
        # NEEDLEPLAN_SECRET_KEY_FILE names another file: the stored secret no longer opens
        monkeypatch.setenv(secret_key.ENV_KEY_FILE, str(tmp_path / "other" / "k"))
        with pytest.raises(StateError, match="cannot be opened"):
            two_factor.status(db, prac.id)
        assert stat.S_IMODE((tmp_path / "other").stat().st_mode) == 0o700
    finally:
        db.dispose()


def test_migration_0027_seals_secrets_stored_in_clear_and_its_downgrade_opens_them(
    empty_database_url: str,
) -> None:
    db = Database.open(empty_database_url)
    try:
        prac = services.create_user(db, "prac", "prac-password-1", "practitioner")
        secret = _enrol(db, prac)
        from alembic import command
        from alembic.script import ScriptDirectory

        config = migrate.alembic_config(db.engine)
        before = ScriptDirectory.from_config(config).get_revision("0027").down_revision
        assert isinstance(before, str)
        command.downgrade(config, before)
        assert _stored(db, prac.id) == (secret, None)  # as the 0019 schema kept it
        migrate.upgrade(db.engine)
        stored, _ = _stored(db, prac.id)
        assert stored is not None
        assert stored.startswith("v1:")
        assert secret not in stored
        later = NOW.replace(minute=7)
        code = pyotp.TOTP(secret).at(later)
        assert two_factor.verify_second_factor(db, prac.id, code, now=later)
    finally:
        db.dispose()
