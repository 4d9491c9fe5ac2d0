"""``needleplan serve``: run the web application under uvicorn over the clinic database."""

from __future__ import annotations

import contextlib
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

import typer

from needleplan.cli.records import open_records

if TYPE_CHECKING:
    from needleplan.storage import Database

DEMO_LOGINS = ("admin", "practitioner", "frontdesk")


def log_config(fmt: str = "json") -> dict[str, Any]:
    """The logging set-up of the server processes: structured lines (JSON by default) with the
    request id. uvicorn's own access lines are off (``access_log=False``): the app's one
    ``request`` line per request names the client address, the route template, the status and
    the duration (see :mod:`needleplan.web.logs`)."""
    from needleplan.log_format import logging_config

    return logging_config(fmt)


def run_server(app: Any, *, workers: int, **options: Any) -> None:
    """Serve ``app`` with uvicorn: in this process, or in ``workers`` processes sharing one socket.

    With several workers ``app`` is an import string of an app factory. The listening socket
    gets ``TCP_NODELAY``, which Linux hands on to every accepted connection: uvicorn's own
    socket for workers leaves it off (asyncio sets it only on sockets it made itself), and
    every small answer then waits about 40 ms for the client's delayed ACK.
    """
    import socket

    import uvicorn

    if workers <= 1:
        uvicorn.run(app, **options)
        return
    from uvicorn.supervisors import Multiprocess

    config = uvicorn.Config(app, workers=workers, **{"factory": True, **options})
    sock = config.bind_socket()
    if sock.family in (socket.AF_INET, socket.AF_INET6):
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    with contextlib.suppress(KeyboardInterrupt):  # Ctrl-C in a terminal
        Multiprocess(config, sockets=[sock]).run()


def proxy_options(trusted_proxies: str) -> dict[str, Any]:
    """uvicorn's proxy options: believe X-Forwarded-* only from the configured proxies
    (``NEEDLEPLAN_TRUSTED_PROXIES``); with none configured, not at all (uvicorn's own default
    would trust any process on 127.0.0.1)."""
    if not trusted_proxies:
        return {"proxy_headers": False, "forwarded_allow_ips": ""}
    return {"proxy_headers": True, "forwarded_allow_ips": trusted_proxies}


def start_message_worker(db: Database) -> Callable[[], None]:
    """Run the message worker loop in a daemon thread; returns the function that stops it."""
    import os
    import threading

    from needleplan.services.clinic_calendar import effective_clinic
    from needleplan.services.messaging.config import MessagingConfig
    from needleplan.services.messaging.worker import run_forever

    config = MessagingConfig.from_env()  # a bad setting stops the start, naming the variable
    clinic_file = os.environ.get("NEEDLEPLAN_CLINIC_FILE") or None
    stop = threading.Event()
    thread = threading.Thread(
        target=run_forever,
        args=(db, lambda: effective_clinic(db, clinic_file).clinic, stop),
        kwargs={"config": config},
        name="needleplan-message-worker",
        daemon=True,
    )
    thread.start()
    typer.echo("message worker running in this process (--with-worker)")

    def halt() -> None:
        stop.set()
        thread.join(timeout=10)

    return halt


#: The commands of this module (added to the root app by needleplan.cli.main).
app = typer.Typer(rich_markup_mode=None)


@app.command("serve")
def serve(
    host: str | None = typer.Option(
        None, "--host", help="Address to listen on (default: NEEDLEPLAN_HOST or 127.0.0.1)."
    ),
    port: int | None = typer.Option(
        None,
        "--port",
        min=1,
        max=65535,
        help="TCP port (default: NEEDLEPLAN_PORT or 8000).",
    ),
    database: str | None = typer.Option(
        None,
        "--database",
        help=(
            "Database URL or SQLite file (default: NEEDLEPLAN_DATABASE_URL, else needleplan's "
            "SQLite file in your user data folder). Upgraded to the newest schema on start."
        ),
    ),
    demo: bool = typer.Option(
        False,
        "--demo",
        help=(
            "A demo clinic: fill an empty database with made-up patients and give the demo "
            "logins (admin, practitioner, frontdesk) fresh passwords, printed here. For trying "
            "needleplan, never on real records. Not allowed in production."
        ),
    ),
    workers: int = typer.Option(
        1,
        "--workers",
        min=1,
        max=64,
        help=(
            "Server processes (production: about one per CPU core). They share sessions, "
            "accounts and rate limits through the database."
        ),
    ),
    demo_patients: int = typer.Option(
        300, "--demo-patients", min=1, max=5000, help="Patients in a new demo clinic."
    ),
    with_worker: bool = typer.Option(
        False,
        "--with-worker",
        help=(
            "Also deliver patient messages in this process (the `needleplan worker` loop in a "
            "background thread; docs/messages.md)."
        ),
    ),
    demo_users: bool = typer.Option(
        False,
        "--demo-users",
        help=(
            "Create one in-memory account per role (admin, practitioner, frontdesk) with "
            "random passwords printed here. Not allowed in production."
        ),
    ),
) -> None:
    """Serve the clinic web app, the public estimator and the REST API (docs at /docs).

    Settings come from NEEDLEPLAN_* environment variables or a .env file, checked before the server starts. Production mode refuses the development secret and the demo options.
    """
    import secrets

    from needleplan import services
    from needleplan.exceptions import ConfigError
    from needleplan.web.settings import load_settings

    settings = load_settings()
    for flag, wanted in (("--demo", demo), ("--demo-users", demo_users)):
        if wanted and settings.production:
            raise ConfigError.one(flag, True, "demo accounts are refused in production mode")
    if workers > 1 and demo_users:
        raise ConfigError.one(
            "--workers", workers, "--demo-users keeps accounts in one process; use --demo"
        )
    with open_records(database) as db:
        bind_host = host or settings.host
        bind_port = port or settings.port
        logins: dict[str, str] = {}
        if demo:
            if services.is_empty_clinic(db):
                summary = services.fill_demo_clinic(db, patients=demo_patients)
                typer.echo(
                    f"demo clinic created: {summary.patients} patients, "
                    f"{summary.appointments} appointments ({db.display_url})"
                )
            else:
                typer.echo(f"demo clinic: using the existing records in {db.display_url}")
            logins = {name: secrets.token_urlsafe(12) for name in DEMO_LOGINS}
            reset = services.reset_demo_logins(db, logins)
            # New passwords: sessions signed in with the old ones end too.
            from needleplan.services.staff_sessions import SessionPolicy, end_user_sessions

            for account in reset:
                end_user_sessions(db, account.id, SessionPolicy())
        users = tokens = None
        if demo_users:
            from needleplan.web.auth import InMemoryTokenStore, demo_user_store

            users, passwords = demo_user_store()
            tokens = InMemoryTokenStore(users)
            logins.update(passwords)
        # With several workers each builds its own app from the same settings and database: an
        # app built here would never serve a request.
        from needleplan.web.app import check_rate_limit_store

        check_rate_limit_store(db)  # a table file it cannot use: one error now, not 500s later
        web_app = None
        if workers <= 1:
            from needleplan.web.app import create_app

            web_app = create_app(settings, database=db, user_store=users, token_store=tokens)
        address = f"http://{bind_host}:{bind_port}/"
        typer.echo(f"needleplan web app on {address}  (API docs: {address}docs)")
        if not logins and not services.list_users(db):
            typer.echo(
                "no staff accounts yet: create one with "
                "`needleplan user add NAME --role admin` (same database)"
            )
        if logins:
            typer.echo(f"sign in at {address}login with one of these demo logins:")
            for username, password in logins.items():
                typer.echo(f"  demo login: {username} / {password}")
            typer.echo("(passwords are new at every start; press Ctrl-C to stop)")
        served: Any = web_app
        if workers > 1:
            import os

            os.environ["NEEDLEPLAN_DATABASE_URL"] = db.engine.url.render_as_string(
                hide_password=False
            )
            served = "needleplan.web.app:app_from_environment"
            typer.echo(f"{workers} worker processes sharing {db.display_url}")
        stop_worker = start_message_worker(db) if with_worker else None
        try:
            run_server(
                served,
                workers=workers,
                host=bind_host,
                port=bind_port,
                server_header=False,
                **proxy_options(settings.trusted_proxies),
                log_level="info",
                log_config=log_config(settings.log_format),
                access_log=False,  # the app writes one `request` line per request
            )
        finally:
            if stop_worker is not None:
                stop_worker()
