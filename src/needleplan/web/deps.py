"""FastAPI dependencies shared by the staff routes: the clinic records and the clinic calendar."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated

from fastapi import Depends, Request

from needleplan.forecasting.params import ModelParams
from needleplan.forecasting.result import DEFAULT_CALIBRATION
from needleplan.scheduling import ClinicConfig
from needleplan.services import calibration_state, clinic_calendar
from needleplan.services.clinic_calendar import EffectiveClinic
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


def effective_clinic(request: Request) -> EffectiveClinic:
    """The calendar in force and where it comes from, noticing a newly saved version at once.

    Each call asks the database for the newest saved version's number (one indexed query), so
    every worker process picks up a version saved by any other without a restart; the parsed
    calendar is cached per version number. Without a saved version: the file named by the
    ``clinic_file`` setting (``NEEDLEPLAN_CLINIC_FILE``, validated at start), else the bundled
    example clinic.
    """
    state = request.app.state
    db: Database | None = state.db
    newest = clinic_calendar.newest_clinic_version_id(db) if db is not None else None
    cached: EffectiveClinic | None = getattr(state, "clinic_cache", None)
    if cached is not None and cached.version_id == newest:
        return cached
    if newest is None:
        current: EffectiveClinic = state.clinic_fallback or clinic_calendar.fallback_clinic(
            state.settings.clinic_file
        )
        state.clinic_fallback = current
    else:
        current = clinic_calendar.effective_clinic(db, state.settings.clinic_file)
    state.clinic_cache = current
    return current


def get_clinic(request: Request) -> ClinicConfig:
    """The clinic calendar the app schedules in (see :func:`effective_clinic`).

    ``app.state.clinic``, when something (a test, an embedding application) sets it, wins over
    everything else.
    """
    clinic: ClinicConfig | None = getattr(request.app.state, "clinic", None)
    if clinic is not None:
        return clinic
    return effective_clinic(request).clinic


@dataclass(frozen=True)
class ForecastCalibration:
    """The population parameters a forecast of this clinic uses and the label it names
    (``params`` None: the shipped calibration with its parameter uncertainty)."""

    params: ModelParams | None
    label: str


_SHIPPED = ForecastCalibration(None, DEFAULT_CALIBRATION)


def forecast_calibration(request: Request) -> ForecastCalibration:
    """The clinic's adopted calibration when it has records and one is in force, else the default.

    Each call reads only the version number in force (one indexed query on a bare connection), so
    a calibration adopted or reverted in any worker process counts at once; the parsed calibration
    is cached per version number in the app's state.
    """
    state = request.app.state
    db: Database | None = state.db
    if db is None:
        return _SHIPPED
    version = calibration_state.in_force_version(db)
    cached: tuple[int | None, ForecastCalibration] | None = getattr(
        state, "calibration_cache", None
    )
    if cached is not None and cached[0] == version:
        return cached[1]
    current = _SHIPPED
    if version is not None:
        force = calibration_state.calibration_in_force(db)
        if not force.is_default:
            current = ForecastCalibration(force.calibration.params, force.label)
    state.calibration_cache = (version, current)
    return current


DbDep = Annotated[Database, Depends(get_db)]
ClinicDep = Annotated[ClinicConfig, Depends(get_clinic)]
CalibrationDep = Annotated[ForecastCalibration, Depends(forecast_calibration)]
