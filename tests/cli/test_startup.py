"""``needleplan --help`` stays cheap: it loads none of the heavy packages a command needs (the
model, pydantic, the storage stack, Typer's Rich help). The time itself is measured by
``benchmarks/bench_cli_startup.py``, never asserted here."""

from __future__ import annotations

import subprocess
import sys

import pytest

HEAVY = ("numpy", "scipy", "sqlalchemy", "alembic", "matplotlib", "rich.markdown", "pydantic")


@pytest.mark.parametrize(
    ("args", "heavy"),
    [
        (["--help"], HEAVY),
        # Below the root, Typer itself coerces the root options (--as) with pydantic adapters,
        # so pydantic is loaded; nothing else is.
        (["course", "--help"], HEAVY[:-1]),
        (["course", "book", "--help"], HEAVY[:-1]),
    ],
)
def test_help_loads_no_heavy_package(args: list[str], heavy: tuple[str, ...]) -> None:
    probe = (
        "import contextlib, io, sys\n"
        f"sys.argv = ['needleplan', *{args!r}]\n"
        "from needleplan.cli.main import app\n"
        "out = io.StringIO()\n"
        "with contextlib.redirect_stdout(out), contextlib.suppress(SystemExit):\n"
        "    app()\n"
        "assert 'Usage: needleplan' in out.getvalue(), out.getvalue()\n"
        f"print(','.join(m for m in {heavy!r} if m in sys.modules))"
    )
    done = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == ""


def test_a_command_still_loads_what_it_needs() -> None:
    """The check above can fail: running a real command imports the guideline engine."""
    probe = (
        "import contextlib, io, sys\n"
        "sys.argv = ['needleplan', 'plan', '--age', '50', '--severity', 'moderate', "
        "'--area', 'full_face', '--json']\n"
        "from needleplan.cli.main import app\n"
        "with contextlib.redirect_stdout(io.StringIO()), contextlib.suppress(SystemExit):\n"
        "    app()\n"
        "print('needleplan.guideline.engine' in sys.modules)"
    )
    done = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "True"
