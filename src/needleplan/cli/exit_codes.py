"""The exit codes of the ``needleplan`` command, one place for all (documented in docs/cli.md;
``tests/cli/test_cli_docs.py`` checks that every code used here and in the commands is there)."""

from __future__ import annotations

EXIT_OK = 0
#: An unexpected internal error (a bug: please report it).
EXIT_INTERNAL = 1
#: Bad input or usage: one line naming the field, the value and the rule.
EXIT_INPUT = 2
#: The plan is blocked by an absolute contraindication.
EXIT_BLOCKED = 3
#: The record does not exist.
EXIT_NOT_FOUND = 4
#: A conflict (double booking) or an illegal state change.
EXIT_CONFLICT = 5
#: No feasible schedule.
EXIT_UNSCHEDULABLE = 6
#: The acting account's role does not allow the action (one line naming account, role, action).
EXIT_FORBIDDEN = 7
#: Interrupted at a prompt (Ctrl-C), as a shell reports SIGINT.
EXIT_ABORTED = 130

__all__ = [
    "EXIT_ABORTED",
    "EXIT_BLOCKED",
    "EXIT_CONFLICT",
    "EXIT_FORBIDDEN",
    "EXIT_INPUT",
    "EXIT_INTERNAL",
    "EXIT_NOT_FOUND",
    "EXIT_OK",
    "EXIT_UNSCHEDULABLE",
]
