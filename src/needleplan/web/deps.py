"""FastAPI dependencies shared by the staff routes."""

from __future__ import annotations

from fastapi import Request

from needleplan.exceptions import NeedleplanError
from needleplan.storage.database import Database


class NoDatabaseError(NeedleplanError):
    """The app was started without clinic records (stateless mode)."""


def get_db(request: Request) -> Database:
    """The clinic records database of this app (raises when started without one)."""
    db: Database | None = request.app.state.db
    if db is None:
        raise NoDatabaseError("this server was started without a clinic database")
    return db
