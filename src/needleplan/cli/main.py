"""The ``needleplan`` command line: thin Typer commands over the library and services.

The root app lives here; each command group is a module of this package with a ``typer.Typer``
named ``app`` and its commands declared at module level (``patient``, ``course``, ``session``,
``measure``, ``recall``, ``db``, ``user``, ``clinic``, ``outcome`` (learning), ``cohort``,
``fhir`` and ``handout`` (interop), the top-level ``plan``, ``consult``, ``schedule``,
``forecast``/``compare``, ``backup``/``restore``, ``export``/``import`` (transfer), ``demo``,
``serve``). :func:`run` maps needleplan's errors to one line on stderr and an exit code
(:mod:`needleplan.cli.exit_codes`, documented in ``docs/cli.md``).
"""

from __future__ import annotations

import functools
import sys
from collections.abc import Callable
from typing import Any, NoReturn

import typer
import typer.main
from rich.console import Console

from needleplan import DISCLAIMER, __version__

# One module per command group, each a ``typer.Typer`` with its commands declared at module
# level. A module imports only Typer, Rich and the standard library at the top; what a command
# needs (pydantic, numpy, the model, the storage stack) is imported inside it, so that
# ``needleplan --help`` stays fast (see benchmarks/bench_cli_startup.py).
from needleplan.cli import (
    appointment,
    backup,
    calibration,
    clinic,
    cohort,
    consent,
    consult,
    course,
    db,
    demo,
    forecast,
    interop,
    leads,
    learning,
    measure,
    patient,
    photo,
    plan,
    recall,
    retention,
    schedule,
    serve,
    session,
    transfer,
    user,
    webhook,
    worker,
)
from needleplan.cli.exit_codes import (
    EXIT_ABORTED,
    EXIT_BLOCKED,
    EXIT_CONFLICT,
    EXIT_FORBIDDEN,
    EXIT_INPUT,
    EXIT_INTERNAL,
    EXIT_NOT_FOUND,
    EXIT_OK,
    EXIT_UNSCHEDULABLE,
)
from needleplan.exceptions import (
    BlockedError,
    ConflictError,
    InputError,
    ModelRangeError,
    NeedleplanError,
    NotFoundError,
    PermissionDeniedError,
    SchedulingError,
    StateError,
)

err_console = Console(stderr=True, highlight=False, soft_wrap=True)

app = typer.Typer(
    rich_markup_mode=None,
    name="needleplan",
    help=(
        "Plan microneedling courses for skin tightening and forecast how long results last.\n\n"
        + DISCLAIMER
    ),
    no_args_is_help=True,
    add_completion=False,
    # Plain Click help (no Rich panels): Typer's Rich help loads Markdown and Pygments, which
    # doubled the start-up time; up to 100 columns on a wide terminal.
    context_settings={"max_content_width": 100},
    pretty_exceptions_enable=False,
)


def _version(value: bool) -> None:
    if value:
        typer.echo(f"needleplan {__version__}")
        raise typer.Exit()


@app.callback()
def _root(
    version: bool = typer.Option(
        False, "--version", callback=_version, is_eager=True, help="Print the version and exit."
    ),
    acting_as: str | None = typer.Option(
        None,
        "--as",
        metavar="USER",
        help=(
            "The needleplan account this command acts as; reads and changes of patient records "
            "are audited under it (default: $NEEDLEPLAN_USER, else your OS user name when an "
            "account of that name exists; required in production)."
        ),
        show_default=False,
    ),
) -> None:
    """Plan microneedling courses and forecast how long results last."""
    from needleplan.cli.actor import request_actor

    request_actor(acting_as)


def fail(message: str, code: int) -> NoReturn:
    """Print one line to stderr and exit with ``code``."""
    err_console.print(f"error: {message}", markup=False)
    sys.exit(code)


def exit_code_for(exc: NeedleplanError) -> int:
    if isinstance(exc, InputError | ModelRangeError):
        return EXIT_INPUT
    if isinstance(exc, BlockedError):
        return EXIT_BLOCKED
    if isinstance(exc, NotFoundError):
        return EXIT_NOT_FOUND
    if isinstance(exc, ConflictError | StateError):
        return EXIT_CONFLICT
    if isinstance(exc, SchedulingError):
        return EXIT_UNSCHEDULABLE
    if isinstance(exc, PermissionDeniedError):
        return EXIT_FORBIDDEN
    return EXIT_INTERNAL


# Each module's app: a group carries its name (``needleplan GROUP COMMAND``); an app without a
# name adds its commands at the top level. Listed in ``needleplan --help`` order.
for _module in (
    plan,
    consult,
    schedule,
    forecast,
    patient,
    course,
    appointment,
    session,
    consent,
    photo,
    measure,
    recall,
    leads,
    db,
    backup,
    transfer,
    demo,
    user,
    serve,
    worker,
    retention,
    learning,
    interop,
    clinic,
    cohort,
    calibration,
    webhook,
):
    app.add_typer(_module.app)


@functools.cache
def _command() -> Callable[..., Any]:
    """The command-line parser (Click commands) built from ``app`` once per process.

    Typer builds it on every call of ``app`` (about 50 ms: every command's parameters read
    from its signature); a process that runs several commands (the tests, a script importing
    :func:`run`) builds it once. Equivalent to calling ``app``: its pretty tracebacks are off.
    """
    return typer.main.get_command(app)


def run() -> None:
    """Console-script entry point: maps needleplan errors to one line and an exit code."""
    try:
        result = _command()(standalone_mode=False)
    except NeedleplanError as exc:
        fail(str(exc), exit_code_for(exc))
    except typer.Exit as exc:
        sys.exit(exc.exit_code)
    except typer.Abort:
        err_console.print("aborted")
        sys.exit(EXIT_ABORTED)
    except typer.TyperException as exc:  # usage errors from the command-line parser
        show = getattr(exc, "show", None)
        if callable(show):
            show()
        else:
            err_console.print(f"error: {exc}", markup=False)
        sys.exit(int(getattr(exc, "exit_code", EXIT_INPUT)))
    sys.exit(result if isinstance(result, int) else EXIT_OK)
