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


@app.command("reset-password")
def user_reset_password(
    username: str = typer.Argument(...),
    database: str | None = DatabaseOpt,
) -> None:
    """Give an account a new password it must change at its next sign-in (its API tokens end);
    the password comes from $NEEDLEPLAN_PASSWORD or a hidden prompt. Audited."""
    from needleplan.cli.actor import resolve_actor
    from needleplan.services import two_factor

    password = os.environ.get("NEEDLEPLAN_PASSWORD") or typer.prompt(
        "new password", hide_input=True, confirmation_prompt=True
    )
    with open_records(database) as db:
        target = two_factor.find_account(db, username)
        two_factor.reset_password(db, target.id, password, actor=resolve_actor(db).user)
    console.print(
        f"user {escape(target.username)}: new password set; it must be changed at sign-in"
    )


@app.command("2fa-reset")
def user_two_factor_reset(
    username: str = typer.Argument(...),
    database: str | None = DatabaseOpt,
) -> None:
    """Switch an account's two-factor sign-in off (a lost phone); it enrols again. Audited."""
    from needleplan.cli.actor import resolve_actor
    from needleplan.services import two_factor

    with open_records(database) as db:
        target = two_factor.find_account(db, username)
        two_factor.disable_two_factor(db, target.id, actor=resolve_actor(db).user)
    console.print(f"user {escape(target.username)}: two-factor sign-in switched off")


@app.command("require-2fa")
def user_require_two_factor(
    state: str = typer.Argument(..., help="on or off"),
    database: str | None = DatabaseOpt,
) -> None:
    """Require (on) or stop requiring (off) two-factor sign-in for every staff account."""
    from needleplan.cli.actor import resolve_actor
    from needleplan.exceptions import InputError
    from needleplan.services import two_factor

    if state not in ("on", "off"):
        raise InputError.one("state", state, "must be on or off")
    with open_records(database) as db:
        two_factor.set_two_factor_required(db, state == "on", actor=resolve_actor(db).user)
    console.print(f"two-factor sign-in required for every staff account: {state}")


@app.command("list")
def user_list(database: str | None = DatabaseOpt) -> None:
    """Every account with its role, state and two-factor sign-in."""
    from needleplan import services
    from needleplan.services import two_factor

    with open_records(database) as db:
        users = services.list_users(db)
        enrolled = two_factor.enrolled_ids(db)
        required = two_factor.two_factor_required(db)
    for u in users:
        console.print(
            f"{escape(u.username):<40} {u.role.value:<12} {'active' if u.active else 'closed':<6} "
            f"2fa {'on' if u.id in enrolled else 'off'}"
        )
    console.print(f"two-factor sign-in required: {'on' if required else 'off'}")
