"""FastAPI dependencies shared by the staff routes: the clinic records and the clinic calendar."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Request

from needleplan.scheduling import ClinicConfig, load_clinic
from needleplan.storage.database import Database
from needleplan.web.errors import ApiError


def get_db(request: Request) -> Database:
    """The clinic records of this app; a clear 503 when it was started without a database."""
    db: Database | None = request.app.state.db
    if db is None:
        raise ApiError.one(
            503, "database", None, "this server runs without clinic records (start it with one)"
        )
    return db


def get_clinic(request: Request) -> ClinicConfig:
    """The clinic calendar the app schedules in: ``app.state.clinic`` if set, else the TOML named
    by the ``clinic_file`` setting (``NEEDLEPLAN_CLINIC_FILE``), else the bundled example clinic
    (loaded once)."""
    clinic: ClinicConfig | None = getattr(request.app.state, "clinic", None)
    if clinic is None:
        clinic = load_clinic(request.app.state.settings.clinic_file)
        request.app.state.clinic = clinic
    return clinic


DbDep = Annotated[Database, Depends(get_db)]
ClinicDep = Annotated[ClinicConfig, Depends(get_clinic)]
