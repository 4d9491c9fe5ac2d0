"""The clinic calibration in force: what every forecast of the clinic uses and names.

Kept apart from :mod:`needleplan.services.calibrations` (fit, adopt, revert) so that the
use-cases that forecast (learning, booking, pages) can ask for it without importing the fit.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from needleplan.forecasting.clinic_fit import ClinicCalibration, default_calibration
from needleplan.storage import Database
from needleplan.storage.repositories.calibrations import CalibrationRecord

#: How a forecast names the shipped calibration.
DEFAULT_LABEL = "default"


@dataclass(frozen=True)
class CalibrationInForce:
    """The calibration the clinic's forecasts use, and how they name it."""

    calibration: ClinicCalibration
    version: int | None = None
    adopted_at: datetime | None = None
    adopted_by: str = ""
    proposal_id: int | None = None

    @property
    def label(self) -> str:
        if self.version is None or self.adopted_at is None:
            return DEFAULT_LABEL
        return f"clinic calibration v{self.version}, adopted {self.adopted_at.date().isoformat()}"

    @property
    def is_default(self) -> bool:
        return self.version is None

    def to_json(self) -> dict[str, Any]:
        return {
            "label": self.label,
            "version": self.version,
            "adopted_at": self.adopted_at.isoformat() if self.adopted_at else None,
            "adopted_by": self.adopted_by or None,
            "proposal": self.proposal_id,
            "calibration": self.calibration.to_json(),
        }


def in_force_of(record: CalibrationRecord | None) -> CalibrationInForce:
    if record is None:
        return CalibrationInForce(default_calibration())
    body = record.body
    if body is None:  # a revert to the default: version named, values shipped
        return CalibrationInForce(default_calibration())
    return CalibrationInForce(
        ClinicCalibration.from_json(body.get("calibration")),
        version=record.version,
        adopted_at=record.created_at,
        adopted_by=record.username,
        proposal_id=record.proposal_id,
    )


def calibration_in_force(db: Database) -> CalibrationInForce:
    """What the clinic's forecasts and learning use now (the default until one is adopted)."""
    with db.transaction() as uow:
        return in_force_of(uow.calibrations.in_force())


def in_force_version(db: Database) -> int | None:
    """The version number of the adoption in force (None: nothing adopted yet). One indexed read
    on a bare connection: what a cache of :func:`calibration_in_force` is keyed on."""
    return db.calibration_version()


__all__ = [
    "DEFAULT_LABEL",
    "CalibrationInForce",
    "calibration_in_force",
    "in_force_of",
    "in_force_version",
]
