"""Pure domain values: no I/O, no frameworks beyond pydantic validation."""

from needleplan.domain.assessment import (
    Aftercare,
    Area,
    Assessment,
    Concern,
    Condition,
    Contraindication,
    Diet,
    Genetic,
    Goal,
    RepairCapacity,
    Severity,
    Smoking,
    SunExposure,
    parse_assessment,
    reference_assessment,
)
from needleplan.domain.protocol import AreaNote, FloatRange, IntRange, Protocol, RationaleItem

__all__ = [
    "Aftercare",
    "Area",
    "AreaNote",
    "Assessment",
    "Concern",
    "Condition",
    "Contraindication",
    "Diet",
    "FloatRange",
    "Genetic",
    "Goal",
    "IntRange",
    "Protocol",
    "RationaleItem",
    "RepairCapacity",
    "Severity",
    "Smoking",
    "SunExposure",
    "parse_assessment",
    "reference_assessment",
]
