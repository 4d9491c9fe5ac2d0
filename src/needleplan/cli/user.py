"""``needleplan user``: web-app accounts."""

from __future__ import annotations

import os

import typer
from rich.markup import escape

from needleplan.cli.records import (
    DatabaseOpt,
    console,
    open_records,
)

app = typer.Typer(
    rich_markup_mode=None, name="user", help="Web-app accounts.", no_args_is_help=True
)


@app.command("add")
def user_add(
    username: str = typer.Argument(...),
    role: str = typer.Option(..., "--role", help="admin, practitioner or front_desk."),
    practitioner_id: int | None = typer.Option(None, "--practitioner-id"),
    database: str | None = DatabaseOpt,
) -> None:
    """Create an account; the password comes from $NEEDLEPLAN_PASSWORD or a hidden prompt."""
    from needleplan import services

    password = os.environ.get("NEEDLEPLAN_PASSWORD") or typer.prompt(
        "password", hide_input=True, confirmation_prompt=True
    )
    with open_records(database) as db:
        u = services.create_user(db, username, password, role, practitioner_id=practitioner_id)
    console.print(f"user {escape(u.username)} ({u.role.value}) created")
