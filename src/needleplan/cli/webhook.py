"""``needleplan webhook``: outbound webhooks (endpoints, their events, their delivery log)."""

from __future__ import annotations

import json

import typer

from needleplan.cli.records import DatabaseOpt, console, open_records

app = typer.Typer(
    rich_markup_mode=None,
    name="webhook",
    help="Outbound webhooks: signed JSON events to an integration's address.",
    no_args_is_help=True,
)


@app.command("add")
def add(
    url: str = typer.Argument(..., help="The http:// or https:// address events are POSTed to."),
    event: list[str] = typer.Option(
        ...,
        "--event",
        "-e",
        help="An event to send (repeat): appointment.booked, appointment.moved, "
        "appointment.cancelled, appointment.performed, patient.created, measurement.recorded.",
    ),
    secret: str | None = typer.Option(
        None,
        "--secret",
        envvar="NEEDLEPLAN_WEBHOOK_SECRET",
        help="The signing secret (16-200 characters; default: a random one, printed once).",
        show_default=False,
    ),
    database: str | None = DatabaseOpt,
) -> None:
    """Register an endpoint (admins; audited as webhook.add). Prints its id and the secret."""
    from needleplan.cli.actor import resolve_actor
    from needleplan.services.webhooks import add_endpoint

    with open_records(database) as db:
        actor = resolve_actor(db)
        endpoint = add_endpoint(db, actor.user, url, event, secret=secret, username=actor.username)
    console.print(f"webhook {endpoint.id}: {endpoint.url}")
    console.print(f"events: {', '.join(e.value for e in endpoint.events)}")
    console.print(f"secret: {endpoint.secret}", markup=False)


@app.command("list")
def list_(
    removed: bool = typer.Option(False, "--removed", help="Also list removed endpoints."),
    as_json: bool = typer.Option(False, "--json", help="JSON instead of a table."),
    database: str | None = DatabaseOpt,
) -> None:
    """The registered endpoints (the secret's last four characters only)."""
    from needleplan.cli.actor import resolve_actor
    from needleplan.services.webhooks import list_endpoints

    with open_records(database) as db:
        actor = resolve_actor(db)
        endpoints = list_endpoints(db, actor.user, include_removed=removed, username=actor.username)
    rows = [
        {
            "id": e.id,
            "url": e.url,
            "events": [v.value for v in e.events],
            "secret": e.secret_hint,
            "created_at": e.created_at.isoformat(),
            "removed_at": e.removed_at.isoformat() if e.removed_at else None,
        }
        for e in endpoints
    ]
    if as_json:
        typer.echo(json.dumps(rows, indent=2))
        return
    if not rows:
        console.print("no webhook endpoints")
    for e in endpoints:
        gone = f" (removed {e.removed_at.date().isoformat()})" if e.removed_at else ""
        events = ", ".join(v.value for v in e.events)
        console.print(
            f"{e.id}  {e.url}  {events}  secret {e.secret_hint}{gone}",
            markup=False,
        )


@app.command("remove")
def remove(
    endpoint_id: int = typer.Argument(..., min=1, help="The endpoint's id (webhook list)."),
    database: str | None = DatabaseOpt,
) -> None:
    """Stop sending to an endpoint; its queued events are skipped, its log stays."""
    from needleplan.cli.actor import resolve_actor
    from needleplan.services.webhooks import remove_endpoint

    with open_records(database) as db:
        actor = resolve_actor(db)
        endpoint = remove_endpoint(db, actor.user, endpoint_id, username=actor.username)
    console.print(f"webhook {endpoint.id} removed: {endpoint.url}", markup=False)


@app.command("log")
def log(
    endpoint_id: int = typer.Argument(..., min=1, help="The endpoint's id (webhook list)."),
    limit: int = typer.Option(50, "--limit", min=1, max=1000, help="At most this many."),
    as_json: bool = typer.Option(False, "--json", help="JSON instead of lines."),
    database: str | None = DatabaseOpt,
) -> None:
    """Its deliveries, newest first: status, HTTP status code, attempts, last error."""
    from needleplan.cli.actor import resolve_actor
    from needleplan.services.webhooks import delivery_log

    with open_records(database) as db:
        actor = resolve_actor(db)
        endpoint, rows = delivery_log(
            db, actor.user, endpoint_id, limit=limit, username=actor.username
        )
    data = [
        {
            "delivery": d.message_id,
            "event": d.event,
            "status": d.status,
            "status_code": d.status_code,
            "attempts": d.attempts,
            "created_at": d.created_at.isoformat(),
            "sent_at": d.sent_at.isoformat() if d.sent_at else None,
            "last_error": d.last_error,
        }
        for d in rows
    ]
    if as_json:
        typer.echo(json.dumps(data, indent=2))
        return
    console.print(f"webhook {endpoint.id}: {endpoint.url}", markup=False)
    if not data:
        console.print("no deliveries yet")
    for d in rows:
        code = d.status_code if d.status_code is not None else "-"
        error = f"  {d.last_error}" if d.last_error else ""
        console.print(
            f"{d.message_id}  {d.created_at.isoformat()[:19]}  {d.event}  {d.status}  "
            f"HTTP {code}  attempts {d.attempts}{error}",
            markup=False,
        )
