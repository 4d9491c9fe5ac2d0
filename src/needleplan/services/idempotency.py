"""Idempotent booking requests: a double click or a replayed form or API call books once.

A booking form carries a fresh key in a hidden field; an API client sends the
``Idempotency-Key`` header. The first request with a key claims it and runs; its answer (status
and JSON body) is stored with the key. A repeat with the same key within :data:`KEEP` gets that
first answer back and books nothing. A request that fails with an error frees its key, so the
corrected form can be sent again with it.
"""

from __future__ import annotations

import re
import secrets
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from needleplan.exceptions import ConflictError, InputError
from needleplan.services._clock import aware
from needleplan.storage import Database

#: How long a key replays its first answer.
KEEP = timedelta(hours=24)

_KEY = re.compile(r"^[A-Za-z0-9._:-]{8,200}$")


@dataclass(frozen=True)
class Answer:
    status: int
    body: dict[str, Any]
    replayed: bool


def new_key() -> str:
    """A fresh key for a booking form's hidden field."""
    return secrets.token_urlsafe(24)


def parse_key(value: str | None, field: str = "Idempotency-Key") -> str | None:
    """The key, or None when none was sent; refused unless 8-200 letters, digits or ``._:-``."""
    if value is None or value.strip() == "":
        return None
    key = value.strip()
    if not _KEY.match(key):
        raise InputError.one(
            field,
            key[:40],
            "must be 8 to 200 letters, digits, dots, colons, dashes or underscores",
        )
    return key


def once(
    db: Database,
    scope: str,
    key: str | None,
    run: Callable[[], tuple[int, dict[str, Any]]],
    *,
    now: datetime | None = None,
) -> Answer:
    """Run ``run`` once per ``(scope, key)``; repeats get the first answer back.

    Without a key ``run`` simply runs. While the first request with the key is still being
    answered a repeat raises :class:`ConflictError` (nothing booked twice). When ``run`` raises,
    the key is freed and the error propagates.
    """
    if key is None:
        status, body = run()
        return Answer(status, body, replayed=False)
    at = aware(now, "now")
    with db.transaction() as uow:
        uow.idempotency.forget_before(at - KEEP)
        stored = uow.idempotency.get(scope, key)
        claimed = stored is None and uow.idempotency.claim(scope, key, at)
        if not claimed:
            stored = uow.idempotency.get(scope, key)
    if not claimed:
        if stored is None or stored.status is None:
            raise ConflictError(
                "this booking is already being processed (the same form was sent twice); "
                "wait a moment and reload the page"
            )
        return Answer(stored.status, stored.body, replayed=True)
    try:
        status, body = run()
    except BaseException:
        with db.transaction() as uow:
            uow.idempotency.release(scope, key)
        raise
    with db.transaction() as uow:
        uow.idempotency.answer(scope, key, status, body)
    return Answer(status, body, replayed=False)
