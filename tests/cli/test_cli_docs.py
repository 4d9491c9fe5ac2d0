"""docs/cli.md documents the whole command line: every command of the Typer/Click tree by its full
name, every exit code the code can return, and no exit code that it cannot."""

from __future__ import annotations

import ast
import re
from pathlib import Path
from typing import Any

import pytest
import typer.main

from needleplan.cli import exit_codes
from needleplan.cli.main import app

ROOT = Path(__file__).resolve().parents[2]
DOC = (ROOT / "docs" / "cli.md").read_text(encoding="utf-8")
CLI_SRC = ROOT / "src" / "needleplan" / "cli"


def _paths(command: Any, prefix: tuple[str, ...] = ()) -> list[str]:
    """Every command as ``needleplan GROUP COMMAND`` (groups included), walking the Click tree
    Typer builds (a group is a command with ``commands``)."""
    out = []
    if hasattr(command, "commands"):
        for name, sub in command.commands.items():
            out.append(" ".join(("needleplan", *prefix, name)))
            out.extend(_paths(sub, (*prefix, name)))
    return out


COMMANDS = _paths(typer.main.get_command(app))


def _documented_codes() -> dict[int, str]:
    """The rows of the exit-code table: ``| code | meaning |``."""
    section = DOC.split("## Exit codes", 1)[1].split("\n## ", 1)[0]
    rows = re.findall(r"^\|\s*(\d+)\s*\|\s*(.+?)\s*\|\s*$", section, flags=re.M)
    return {int(code): meaning for code, meaning in rows}


def _codes_in_source() -> set[int]:
    """Exit codes the CLI can return: the ``EXIT_*`` constants and every integer literal given to
    ``typer.Exit``, ``sys.exit`` or ``fail`` in src/needleplan/cli."""
    found = {v for k, v in vars(exit_codes).items() if k.startswith("EXIT_")}
    for path in CLI_SRC.glob("*.py"):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if not isinstance(node, ast.Call):
                continue
            func = node.func
            name = func.attr if isinstance(func, ast.Attribute) else getattr(func, "id", "")
            if name not in {"Exit", "exit", "fail"}:
                continue
            for arg in [*node.args, *(k.value for k in node.keywords)]:
                if isinstance(arg, ast.Constant) and type(arg.value) is int:
                    found.add(arg.value)
    return found


def test_the_walk_finds_commands_groups_and_nested_commands() -> None:
    """A sanity check of the walk itself."""
    assert {"needleplan plan", "needleplan course", "needleplan course book"} <= set(COMMANDS)
    assert "needleplan fhir patient" in COMMANDS
    assert len(COMMANDS) > 40


@pytest.mark.parametrize("command", COMMANDS)
def test_every_command_is_in_docs_cli_md(command: str) -> None:
    """Each command appears by its full name (``needleplan course book``) in docs/cli.md."""
    assert re.search(rf"`{re.escape(command)}(?=[ `])", DOC), f"{command} missing from docs/cli.md"


def test_every_exit_code_the_cli_returns_is_documented() -> None:
    assert _codes_in_source() <= _documented_codes().keys()


def test_every_documented_exit_code_is_one_the_cli_returns() -> None:
    assert _documented_codes().keys() <= _codes_in_source()
    assert set(_documented_codes()) >= {0, 1, 2, 3, 4, 5, 6}
