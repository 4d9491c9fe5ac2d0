"""Start-up of the command line: ``needleplan --help`` in a fresh interpreter.

Candidate: ``python -m needleplan --help`` as shipped (command modules import only Typer, Rich and
the standard library; plain Click help). Baseline: the same interpreter importing what the CLI
loaded at start before the restructuring (the command modules' top-level imports: numpy and the
model, pydantic, the guideline and scheduling packages, and Typer's Rich help with Markdown and
Pygments), then printing the same help. Figures: the median wall time of ``needleplan --help``
against the 0.5 s target, and which heavy packages it loads (none expected).
"""

from __future__ import annotations

import statistics
import subprocess
import sys
import time
from collections.abc import Callable

HELP = [sys.executable, "-m", "needleplan", "--help"]
EAGER = (
    "import needleplan.cli.forecast_view, needleplan.guideline, needleplan.scheduling, "
    "typer.rich_utils; "
    "import sys; sys.argv = ['needleplan', '--help']; "
    "from needleplan.cli.main import run; run()"
)
HEAVY = ("numpy", "scipy", "pydantic", "sqlalchemy", "alembic", "matplotlib", "rich.markdown")


def _run(command: list[str]) -> Callable[[], object]:
    def call() -> object:
        return subprocess.run(command, capture_output=True, check=True)

    return call


def cases() -> list[tuple[str, Callable[[], object], Callable[[], object]]]:
    return [
        ("needleplan --help, fresh interpreter", _run(HELP), _run([sys.executable, "-c", EAGER]))
    ]


def _median_wall(command: list[str], runs: int = 7) -> float:
    times = []
    for _ in range(runs):
        t0 = time.perf_counter()
        subprocess.run(command, capture_output=True, check=True)
        times.append(time.perf_counter() - t0)
    return statistics.median(times)


def figures() -> list[tuple[str, str, str, bool]]:
    wall = _median_wall(HELP)
    probe = (
        "import contextlib, io, sys\n"
        "sys.argv = ['needleplan', '--help']\n"
        "from needleplan.cli.main import app\n"
        "with contextlib.redirect_stdout(io.StringIO()), contextlib.suppress(SystemExit):\n"
        "    app()\n"
        f"print(','.join(m for m in {HEAVY!r} if m in sys.modules))"
    )
    heavy = subprocess.run(
        [sys.executable, "-c", probe], capture_output=True, text=True, check=True
    ).stdout.strip()
    return [
        ("needleplan --help wall time, median of 7 [s]", f"{wall:.2f}", "<= 0.5", wall <= 0.5),
        ("heavy packages loaded by --help", heavy or "none", "none", not heavy),
    ]
