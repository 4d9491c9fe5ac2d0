"""``needleplan retention``: how long records are kept, and anonymising what is past it."""

from __future__ import annotations

import typer

from needleplan.cli.records import DatabaseOpt, console, open_records

app = typer.Typer(
    rich_markup_mode=None,
    name="retention",
    help="Retention of clinical records and the audit log.",
    no_args_is_help=True,
)


@app.command("show")
def retention_show(database: str | None = DatabaseOpt) -> None:
    """The retention periods in force."""
    from needleplan.services.data_rights import retention_settings

    with open_records(database) as db:
        periods = retention_settings(db)
    console.print(
        f"clinical records: {periods.clinical_years} years after the last activity, then "
        f"anonymised; audit log: {periods.audit_years} years"
    )


@app.command("set")
def retention_set(
    clinical_years: int | None = typer.Option(
        None, "--clinical-years", help="Years clinical records are kept after the last activity."
    ),
    audit_years: int | None = typer.Option(
        None, "--audit-years", help="Years audit events are kept."
    ),
    database: str | None = DatabaseOpt,
) -> None:
    """Set the retention periods (admins; audited)."""
    from needleplan.cli.actor import resolve_actor
    from needleplan.services.data_rights import set_retention

    with open_records(database) as db:
        periods = set_retention(
            db,
            clinical_years=clinical_years,
            audit_years=audit_years,
            actor=resolve_actor(db).user,
        )
    console.print(
        f"clinical records: {periods.clinical_years} years; audit log: {periods.audit_years} years"
    )


@app.command("run")
def retention_run(
    now: bool = typer.Option(False, "--now", help="Run now (the worker also runs it once a day)."),
    database: str | None = DatabaseOpt,
) -> None:
    """Anonymise the records past the clinical retention period and delete audit events past
    the audit retention period (each audited)."""
    from needleplan.cli.actor import resolve_actor
    from needleplan.exceptions import InputError
    from needleplan.services.data_rights import run_retention

    if not now:
        raise InputError.one("--now", False, "say --now to anonymise what is past retention now")
    with open_records(database) as db:
        report = run_retention(db, actor=resolve_actor(db).user)
    console.print(report.summary())
