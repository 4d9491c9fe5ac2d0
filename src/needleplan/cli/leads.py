"""``needleplan leads``: contact requests from the public estimator."""

from __future__ import annotations

import typer

from needleplan.cli.records import DatabaseOpt, console, open_records

app = typer.Typer(
    rich_markup_mode=None,
    name="leads",
    help="Contact requests from the public estimator.",
    no_args_is_help=True,
)


@app.command("purge")
def purge(
    days: int | None = typer.Option(
        None,
        "--days",
        help="Delete requests older than this [days] (default: the clinic's lead_retention_days).",
        show_default=False,
    ),
    clinic_file: str | None = typer.Option(
        None,
        "--clinic",
        help="Clinic TOML for lead_retention_days when no version is saved in the database.",
        show_default=False,
    ),
    database: str | None = DatabaseOpt,
) -> None:
    """Delete contact requests past the retention period (audited as lead.purge).

    The worker does this on every pass; run it from cron when no worker runs. Exit 0 also when
    nothing was due.
    """
    from needleplan.cli.actor import resolve_actor
    from needleplan.services.clinic_calendar import effective_clinic
    from needleplan.services.leads import purge_leads

    with open_records(database) as db:
        retention = days if days is not None else effective_clinic(db, clinic_file).clinic
        keep = retention if isinstance(retention, int) else retention.lead_retention_days
        actor = resolve_actor(db)
        count = purge_leads(db, keep, actor=actor.user, username=actor.username)
    console.print(
        f"{count} contact request{'' if count == 1 else 's'} older than {keep} days deleted"
    )
