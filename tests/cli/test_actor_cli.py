"""The CLI acts as a named account and audits patient reads and changes under it."""

from __future__ import annotations

import getpass
from pathlib import Path

from needleplan import services
from needleplan.storage import Database

from .conftest import Runner

JANE = ["--given-name", "Jane", "--family-name", "Actor", "--birth-date", "1980-05-06"]


def _events(tmp_path: Path) -> list[tuple[str, str, int | None]]:
    db = Database.open(f"sqlite:///{tmp_path / 'cli.sqlite3'}")
    try:
        return [(e.username, e.action, e.user_id) for e in reversed(services.audit_log(db))]
    finally:
        db.dispose()


def _add_desk(cli: Runner) -> None:
    made = cli("user", "add", "desk", "--role", "front_desk", env={"NEEDLEPLAN_PASSWORD": "x" * 12})
    assert made.returncode == 0, made.stderr


def test_a_change_is_audited_under_the_account_named_by_as(cli: Runner, tmp_path: Path) -> None:
    _add_desk(cli)
    result = cli("--as", "desk", "patient", "add", *JANE)
    assert result.returncode == 0, result.stderr
    [(username, action, user_id)] = _events(tmp_path)
    assert (username, action) == ("desk", "patient.create")
    assert user_id is not None


def test_needleplan_user_names_the_actor_when_as_is_absent(cli: Runner, tmp_path: Path) -> None:
    _add_desk(cli)
    assert cli("patient", "add", *JANE, env={"NEEDLEPLAN_USER": "desk"}).returncode == 0
    assert cli("patient", "show", "1", env={"NEEDLEPLAN_USER": "desk"}).returncode == 0
    assert [(u, a) for u, a, _ in _events(tmp_path)] == [
        ("desk", "patient.create"),
        ("desk", "patient.read"),
    ]


def test_without_an_actor_development_runs_are_audited_by_os_user(
    cli: Runner, tmp_path: Path
) -> None:
    assert cli("patient", "add", *JANE).returncode == 0
    [(username, action, user_id)] = _events(tmp_path)
    assert (username, action, user_id) == (f"cli:{getpass.getuser()}", "patient.create", None)


def test_an_unknown_account_is_refused_and_nothing_is_stored(cli: Runner, tmp_path: Path) -> None:
    result = cli("--as", "nobody", "patient", "add", *JANE)
    assert result.returncode == 2
    assert "--as" in result.stderr
    assert "nobody" in result.stderr
    assert cli("patient", "list", "--json").stdout.strip() == "[]"


def test_production_refuses_a_patient_command_without_an_actor(cli: Runner, tmp_path: Path) -> None:
    result = cli("patient", "add", *JANE, env={"NEEDLEPLAN_ENVIRONMENT": "production"})
    assert result.returncode == 2
    assert "production" in result.stderr
    assert cli("patient", "list", "--json").stdout.strip() == "[]"
