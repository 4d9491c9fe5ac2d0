"""``needleplan serve``: run the web application under uvicorn."""

from __future__ import annotations

import typer


def register(app: typer.Typer) -> None:
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

        Settings come from NEEDLEPLAN_* environment variables or a .env file, checked before the server starts. Production mode refuses the development secret.
        """
        import uvicorn

        from needleplan.exceptions import ConfigError
        from needleplan.web import create_app, load_settings
        from needleplan.web.auth import demo_user_store

        settings = load_settings()
        users = None
        if demo_users:
            if settings.production:
                raise ConfigError.one(
                    "--demo-users", True, "demo accounts are refused in production mode"
                )
            users, passwords = demo_user_store()
            for username, password in passwords.items():
                typer.echo(f"demo account: {username} / {password}")
        web_app = create_app(settings, user_store=users)
        bind_host = host or settings.host
        bind_port = port or settings.port
        typer.echo(f"needleplan web app on http://{bind_host}:{bind_port}/  (API docs: /docs)")
        uvicorn.run(
            web_app,
            host=bind_host,
            port=bind_port,
            proxy_headers=True,
            server_header=False,
            log_level="info",
        )
