"""The demo clinic and its logins."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import date
from typing import TypeVar

from needleplan.domain.records import (
    Role,
    User,
)
from needleplan.exceptions import (
    InputError,
)
from needleplan.services._clock import utc_now
from needleplan.services.accounts import check_password, password_hasher
from needleplan.storage import Database, demo
from needleplan.storage.demo import DemoSummary

T = TypeVar("T")


def fill_demo_clinic(
    db: Database, *, patients: int = 300, seed: int = 7, today: date | None = None
) -> DemoSummary:
    """Fill an empty database with a realistic made-up clinic for trying needleplan.

    Three practitioners; ``patients`` patients with assessments and courses planned by the
    guideline engine, in every course state (planned, active, completed, lapsed, cancelled),
    their appointments, performed sessions, outcome measurements and the recall worklist with
    contact attempts; three users (``admin``, ``practitioner``, ``frontdesk``; password
    ``demo-password``). Deterministic for a given ``seed`` and ``today``. One transaction.
    """
    digest = password_hasher().hash(demo.DEMO_PASSWORD)
    with db.transaction() as uow:
        return demo.fill(
            uow,
            patients=patients,
            seed=seed,
            today=today or utc_now().date(),
            password_hash=digest,
            now=utc_now(),
        )


def is_empty_clinic(db: Database) -> bool:
    """Whether the database holds no patients and no users (a fresh install)."""
    with db.transaction() as uow:
        return uow.patients.count() == 0 and not uow.users.all()


def reset_demo_logins(db: Database, passwords: Mapping[str, str]) -> list[User]:
    """Give the demo accounts (``admin``, ``practitioner``, ``frontdesk``) these passwords.

    Creates an account when it is missing (its role from its name); for ``needleplan serve
    --demo``, which prints fresh passwords at every start.
    """
    roles = {"admin": Role.ADMIN, "practitioner": Role.PRACTITIONER, "frontdesk": Role.FRONT_DESK}
    users: list[User] = []
    for username, password in passwords.items():
        if username not in roles:
            raise InputError.one("username", username, "not a demo account: " + ", ".join(roles))
        check_password(password)
        digest = password_hasher().hash(password)
        with db.transaction() as uow:
            user = uow.users.by_username(username)
            if user is None:
                users.append(uow.users.add(username, digest, roles[username], None, utc_now()))
                continue
            uow.users.set_password_hash(user.id, digest)
            users.append(uow.users.set_active(user.id, True))
    return users
