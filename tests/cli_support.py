"""Run ``needleplan ARGS`` in-process, as a shell would see it: stdout, stderr and the exit code.

A subprocess pays 2-3 s of interpreter start-up and imports per command; in-process the same
command costs tens of milliseconds. This calls the console-script function
``needleplan.cli.main.run`` (so the error-to-exit-code mapping is the real one) inside Click's
``CliRunner`` isolation (its own stdin, stdout, stderr and environment variables). A few tests
still start the real entry points in a subprocess (``python -m needleplan`` in
tests/cli/test_records_cli.py, the ``needleplan`` console script in tests/web/test_make_run.py).
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import traceback
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path

from typer.testing import CliRunner

Runner = Callable[..., subprocess.CompletedProcess[str]]


def invoke(
    args: Sequence[str], *, stdin: str | None = None, env: Mapping[str, str] | None = None
) -> subprocess.CompletedProcess[str]:
    """``needleplan *args`` with ``stdin`` as standard input and ``env`` added to the environment."""
    from needleplan.cli.main import run

    runner = CliRunner()
    saved_argv = sys.argv
    code: int = 0
    with runner.isolation(input=stdin, env=dict(env or {})) as streams:
        out, err = streams[0], streams[1]
        sys.argv = ["needleplan", *args]
        try:
            run()
        except SystemExit as exc:
            if exc.code is None:
                code = 0
            elif isinstance(exc.code, int):
                code = exc.code
            else:  # like the interpreter: a message to stderr and exit status 1
                sys.stderr.write(f"{exc.code}\n")
                code = 1
        except Exception:  # an uncaught error: a traceback and status 1, as from a shell
            traceback.print_exc(file=sys.stderr)
            code = 1
        finally:
            sys.argv = saved_argv
            sys.stdout.flush()
            sys.stderr.flush()
        stdout = out.getvalue().decode("utf-8", "replace")
        stderr = err.getvalue().decode("utf-8", "replace")
    return subprocess.CompletedProcess(["needleplan", *args], code, stdout, stderr)


def migrated_sqlite(template: Path, target: Path) -> str:
    """Put a copy of ``template`` (a SQLite file already migrated to head, the session fixture
    ``_sqlite_template``) at ``target``, created 0600 as the product creates a database file, and
    return its URL: a command's first run then skips the 27 migrations (about a second)."""
    fd = os.open(target, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "wb") as out, template.open("rb") as source:
        shutil.copyfileobj(source, out)
    return f"sqlite:///{target}"
