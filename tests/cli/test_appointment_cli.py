"""``needleplan appointment check-in | no-show | cancel | chart-missing``: the web app's visit
rules (check-in window, no-show only after the start, a reason to cancel, late notice) and roles,
acting as a named account."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from needleplan import services
from needleplan.domain.records import AppointmentStatus
from needleplan.storage import Database

from .conftest import Runner

PASSWORD = "a long enough secret 1"


@pytest.fixture
def url(tmp_path: Path) -> str:
    return f"sqlite:///{tmp_path / 'visits-cli.sqlite3'}"


@pytest.fixture
def db(url: str) -> Iterator[Database]:
    database = Database.open(url)
    try:
        services.create_user(database, "desk", PASSWORD, "front_desk")
        services.create_user(database, "prac", PASSWORD, "practitioner")
        yield database
    finally:
        database.dispose()


@pytest.fixture
def run(cli: Runner, url: str) -> Runner:
    def _run(*args: str) -> object:
        return cli(*args, env={"NEEDLEPLAN_DATABASE_URL": url})

    return _run  # type: ignore[return-value]


def _visit(db: Database, starts_in: timedelta) -> int:
    """A one-hour treatment visit starting ``starts_in`` from now (whole minutes, UTC)."""
    patient = services.register_patient(
        db,
        {
            "consent_treatment": True,
            "given_name": "Ana",
            "family_name": "Visit",
            "birth_date": "1970-05-01",
        },
        confirm_duplicate=True,  # one made-up patient per visit, the same on purpose
    )
    who = services.practitioners.add_practitioner(db, "Alice Practitioner")
    start = (datetime.now(UTC) + starts_in).replace(second=0, microsecond=0)
    appt = services.book_appointment(
        db,
        patient.id,
        (start, start + timedelta(hours=1), who.id),
        kind="maintenance",
        now=min(start, datetime.now(UTC)),  # booked before it started
    )
    return appt.id


def test_check_in_opens_in_the_window_and_is_refused_before_it(run: Runner, db: Database) -> None:
    early = _visit(db, timedelta(hours=5))
    refused = run("--as", "desk", "appointment", "check-in", str(early))
    assert refused.returncode == 2, refused.stderr
    assert "cannot be checked in before" in refused.stderr
    assert services.get_appointment(db, early).status is AppointmentStatus.BOOKED
    soon = _visit(db, timedelta(minutes=10))
    done = run("--as", "desk", "appointment", "check-in", str(soon))
    assert done.returncode == 0, done.stderr
    assert f"appointment {soon} checked in" in done.stdout
    assert services.get_appointment(db, soon).status is AppointmentStatus.ARRIVED
    (event, *_) = services.audit_log(db)
    assert (event.action, event.username) == ("appointment.check_in", "desk")


def test_no_show_only_after_the_start(run: Runner, db: Database) -> None:
    future = _visit(db, timedelta(hours=2))
    refused = run("--as", "desk", "appointment", "no-show", str(future))
    assert refused.returncode == 2
    assert "before it has started" in refused.stderr
    started = _visit(db, timedelta(minutes=-30))
    done = run("--as", "desk", "appointment", "no-show", str(started))
    assert done.returncode == 0, done.stderr
    assert services.get_appointment(db, started).status is AppointmentStatus.MISSED


def test_cancel_needs_a_reason_and_says_when_it_is_late(run: Runner, db: Database) -> None:
    appt = _visit(db, timedelta(hours=3))
    missing = run("--as", "desk", "appointment", "cancel", str(appt))
    assert missing.returncode == 2
    blank = run("--as", "desk", "appointment", "cancel", str(appt), "--reason", "  ")
    assert blank.returncode == 2
    assert "reason" in blank.stderr
    done = run("--as", "desk", "appointment", "cancel", str(appt), "--reason", "flu")
    assert done.returncode == 0, done.stderr
    assert "late: inside the clinic's notice period" in done.stdout
    cancelled = services.get_appointment(db, appt)
    assert (cancelled.status, cancelled.cancel_reason) == (AppointmentStatus.CANCELLED, "flu")


def test_visits_need_a_named_account(run: Runner, db: Database) -> None:
    appt = _visit(db, timedelta(minutes=5))
    result = run("appointment", "check-in", str(appt))
    assert result.returncode == 2
    assert "--as" in result.stderr
    assert services.get_appointment(db, appt).status is AppointmentStatus.BOOKED


def test_chart_missing_lists_ended_visits_for_the_practitioner(run: Runner, db: Database) -> None:
    ended = _visit(db, timedelta(hours=-3))
    listed = run("--as", "prac", "appointment", "chart-missing")
    assert listed.returncode == 0, listed.stderr
    assert "1 visit(s) to chart" in listed.stdout
    assert str(ended) in listed.stdout


def test_course_cancel_keeps_the_notice_period_and_the_named_account(
    run: Runner, db: Database
) -> None:
    """``course cancel`` is ``appointment cancel`` with an optional reason: same rules."""
    appt = _visit(db, timedelta(hours=3))
    anonymous = run("course", "cancel", str(appt))
    assert anonymous.returncode == 2
    assert "--as" in anonymous.stderr
    assert services.get_appointment(db, appt).status is AppointmentStatus.BOOKED
    done = run("--as", "desk", "course", "cancel", str(appt))
    assert done.returncode == 0, done.stderr
    assert "late: inside the clinic's notice period" in done.stdout
    cancelled = services.get_appointment(db, appt)
    assert (cancelled.cancelled_late, cancelled.cancel_reason) == (True, "no reason given")
    (event, *_) = services.audit_log(db)
    assert (event.action, event.username) == ("appointment.cancel", "desk")
