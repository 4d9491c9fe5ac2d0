"""Every ``$ needleplan ...`` example in README.md runs as written on a fresh clone.

The commands run in README order in one empty folder (with the repository's ``examples/``
folder beside them, as in a clone) on one new SQLite database, through the real entry point
in-process. A command whose shown output begins with ``error:`` must fail with that message;
every other command must exit 0. ``needleplan serve`` is left out (it serves until stopped; the
demo server has its own tests in tests/web/test_make_run.py). A shell redirect (``> FILE``) writes
the command's output to the file.
"""

from __future__ import annotations

import re
import shlex
from dataclasses import dataclass
from pathlib import Path

import pytest

from tests.cli_support import invoke

ROOT = Path(__file__).resolve().parents[1]
README = (ROOT / "README.md").read_text(encoding="utf-8")


@dataclass(frozen=True)
class Example:
    line: int
    command: str
    error: str | None  # the "error: ..." line the README shows, if any


def _examples() -> list[Example]:
    lines = README.splitlines()
    out: list[Example] = []
    i = 0
    while i < len(lines):
        if lines[i].startswith("$ needleplan"):
            start = i
            command = lines[i][2:]
            while command.rstrip().endswith("\\"):
                i += 1
                command = command.rstrip()[:-1] + " " + lines[i].strip()
            following = lines[i + 1] if i + 1 < len(lines) else ""
            error = following if following.startswith("error:") else None
            out.append(Example(start + 1, re.sub(r"\s+#.*$", "", command), error))
        i += 1
    return out


EXAMPLES = _examples()


def test_the_readme_has_examples_of_every_front_door() -> None:
    commands = " ".join(e.command for e in EXAMPLES)
    for word in ("plan", "forecast", "schedule", "demo", "course book", "handout"):
        assert f"needleplan {word}" in commands


def test_every_readme_command_runs_as_written(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    (tmp_path / "examples").symlink_to(ROOT / "examples")
    env = {"NEEDLEPLAN_DATABASE_URL": f"sqlite:///{tmp_path / 'clinic.sqlite3'}", "COLUMNS": "120"}
    ran = 0
    for example in EXAMPLES:
        words = shlex.split(example.command)
        if words[1] == "serve":
            continue
        target: Path | None = None
        if ">" in words:
            at = words.index(">")
            target, words = tmp_path / words[at + 1], words[:at]
        result = invoke(words[1:], env=env)
        where = f"README.md line {example.line}: {example.command}"
        if example.error is None:
            assert result.returncode == 0, f"{where}\n{result.stderr}"
        else:
            assert result.returncode != 0, where
            assert example.error.split(":")[0:2] == result.stderr.strip().split(":")[0:2], (
                f"{where}\nREADME shows: {example.error}\nit says: {result.stderr}"
            )
        if target is not None:
            target.write_text(result.stdout, encoding="utf-8")
        ran += 1
    assert ran >= 20
