"""Who runs a CLI command: the named account its reads and changes of patient records are
audited under, resolved once per invocation.

Order: ``needleplan --as USER ...``, else ``$NEEDLEPLAN_USER``, else the operating-system user
name when a needleplan account of that name exists. Without any of them the command still runs
in development (audited as ``cli:<os user>``); with ``NEEDLEPLAN_ENVIRONMENT=production`` a
command that touches patient records refuses to run (exit 2) until it is told who acts.

The named account is the same :class:`~needleplan.domain.accounts.User` the web app signs in,
and :func:`audited` goes through :func:`needleplan.services.audit.audited`, which checks its role
may do the action: ``needleplan --as desk assessment add ...`` is refused exactly as the web app
refuses a front-desk account (``PermissionDeniedError`` naming the account, role and action).
"""

from __future__ import annotations

import getpass
import os
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import TYPE_CHECKING

from needleplan.exceptions import InputError

if TYPE_CHECKING:
    from needleplan.domain.accounts import User
    from needleplan.services.audit import AuditNote
    from needleplan.storage import Database

#: ``--as`` on the command line (set by the root callback), before the environment.
_requested: list[str | None] = [None]


def request_actor(username: str | None) -> None:
    """Remember the ``--as`` value of this invocation (``None`` when it was not given)."""
    _requested[0] = username.strip() if username else None


def _os_user() -> str:
    try:
        return getpass.getuser()
    except (KeyError, OSError):  # pragma: no cover - a container without a passwd entry
        return "unknown"


def _production() -> bool:
    return os.environ.get("NEEDLEPLAN_ENVIRONMENT", "").strip().lower() == "production"


@dataclass(frozen=True)
class Actor:
    """The account a command acts as (``user`` is None for an unnamed development run, which
    is audited by ``username`` and, having no role, is not role-checked)."""

    user: User | None
    username: str


def resolve_actor(db: Database) -> Actor:
    """The acting account, or an InputError naming ``--as`` when it cannot be used."""
    from needleplan.services.accounts import find_username

    named = _requested[0]
    source = "--as"
    if not named and os.environ.get("NEEDLEPLAN_USER", "").strip():
        named, source = os.environ["NEEDLEPLAN_USER"].strip(), "NEEDLEPLAN_USER"
    if named:
        user = find_username(db, named)
        if user is None or not user.active:
            raise InputError.one(source, named, "must name an active needleplan account")
        return Actor(user, user.username)
    os_name = _os_user()
    user = find_username(db, os_name)
    if user is not None and user.active:
        return Actor(user, user.username)
    if _production():
        raise InputError.one(
            "--as",
            None,
            "production mode: say which account acts (needleplan --as USER or NEEDLEPLAN_USER)",
        )
    return Actor(None, f"cli:{os_name}")


@contextmanager
def audited(
    db: Database, action: str, patient_id: int | None = None, detail: str = ""
) -> Iterator[AuditNote]:
    """Run a command's use-case and write its audit event in the same transaction, after
    checking the acting account's role may do ``action`` (PermissionDeniedError otherwise)."""
    from needleplan import services

    actor = resolve_actor(db)
    with services.audited(
        db, actor.user, action, patient_id, f"cli {detail}".strip(), username=actor.username
    ) as note:
        yield note
