"""``needleplan appointment``: run a visit from the terminal like the web app's visit buttons:
check in, no-show, cancel with a reason, and the practitioner's "chart missing" list.

Each command acts as a named account (``--as USER``, ``$NEEDLEPLAN_USER`` or the OS user's
account) and goes through :mod:`needleplan.services.visits`, so the clinic's check-in window,
notice period and the roles are the web app's (docs/visits.md).
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

import typer
from rich.markup import escape

from needleplan.cli.records import (
    ClinicOpt,
    DatabaseOpt,
    appointment_table,
    clinic_in_force,
    console,
    open_records,
)
from needleplan.exceptions import InputError

if TYPE_CHECKING:
    from needleplan.domain.accounts import User
    from needleplan.storage import Database

app = typer.Typer(
    rich_markup_mode=None,
    name="appointment",
    help="Check in, no-show, cancel with a reason; sessions still to chart.",
    no_args_is_help=True,
)


def _account(db: Database) -> User:
    """The named account the visit use-cases act as (they need one: their audit row and role
    check name it)."""
    from needleplan.cli.actor import resolve_actor

    actor = resolve_actor(db)
    if actor.user is None:
        raise InputError.one(
            "--as",
            None,
            "visits are run as a named account: needleplan --as USER (or NEEDLEPLAN_USER)",
        )
    return actor.user


@app.command("check-in")
def appointment_check_in(
    appointment_id: int = typer.Argument(..., help="Appointment id."),
    clinic_file: Path | None = ClinicOpt,
    database: str | None = DatabaseOpt,
) -> None:
    """The patient has arrived (from the clinic's check-in window before the start)."""
    from needleplan.services import visits

    with open_records(database) as db:
        a = visits.check_in(db, _account(db), appointment_id, clinic_in_force(db, clinic_file))
    console.print(f"appointment {a.id} checked in")


@app.command("no-show")
def appointment_no_show(
    appointment_id: int = typer.Argument(..., help="Appointment id."),
    database: str | None = DatabaseOpt,
) -> None:
    """She did not come (only after the start); a course session stays owed."""
    from needleplan.services import visits

    with open_records(database) as db:
        a = visits.no_show(db, _account(db), appointment_id)
    rebook = f"; rebook it with: course rebook {a.id}" if a.course_id is not None else ""
    console.print(f"appointment {a.id} marked no-show{rebook}")


@app.command("cancel")
def appointment_cancel(
    appointment_id: int = typer.Argument(..., help="Appointment id."),
    reason: str = typer.Option(..., "--reason", help="Why the visit is cancelled (required)."),
    clinic_file: Path | None = ClinicOpt,
    database: str | None = DatabaseOpt,
) -> None:
    """Cancel a booked or checked-in visit with its reason; says whether it was late (inside
    the clinic's notice period)."""
    from needleplan.services import visits

    with open_records(database) as db:
        a = visits.cancel(
            db, _account(db), appointment_id, reason, clinic_in_force(db, clinic_file)
        )
    late = " (late: inside the clinic's notice period)" if a.cancelled_late else ""
    console.print(f"appointment {a.id} cancelled{late}")


@app.command("chart-missing")
def appointment_chart_missing(
    practitioner_id: int | None = typer.Option(
        None, "--practitioner-id", help="Only this practitioner's visits."
    ),
    database: str | None = DatabaseOpt,
) -> None:
    """Session visits that ended and were neither charted, cancelled nor a no-show."""
    from needleplan import services
    from needleplan.services import visits

    with open_records(database) as db:
        missing = visits.chart_missing(db, _account(db), practitioner_id=practitioner_id)
        names = {p.id: p.name for p in services.list_practitioners(db)}
        timezone = clinic_in_force(db).timezone
    if not missing:
        console.print("no visit is waiting for its chart")
        return
    appointment_table(missing, names, timezone)
    console.print(escape(f"{len(missing)} visit(s) to chart: needleplan session record APPT ..."))
