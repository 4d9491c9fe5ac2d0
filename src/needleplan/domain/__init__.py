"""Pure domain values: no I/O, no frameworks beyond pydantic validation.

The names below are imported on first use (module ``__getattr__``), so that importing a light
submodule such as :mod:`needleplan.domain.disclaimer` does not load pydantic and every model.
"""

from __future__ import annotations

from importlib import import_module
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
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
        Menopause,
        RepairCapacity,
        Severity,
        Sex,
        Smoking,
        SunExposure,
        parse_assessment,
        reference_assessment,
    )
    from needleplan.domain.protocol import (
        AreaNote,
        FloatRange,
        IntRange,
        Protocol,
        RationaleItem,
    )

_ASSESSMENT = (
    "Aftercare",
    "Area",
    "Assessment",
    "Concern",
    "Condition",
    "Contraindication",
    "Diet",
    "Genetic",
    "Goal",
    "RepairCapacity",
    "Severity",
    "Menopause",
    "Sex",
    "Smoking",
    "SunExposure",
    "parse_assessment",
    "reference_assessment",
)
_PROTOCOL = ("AreaNote", "FloatRange", "IntRange", "Protocol", "RationaleItem")
_WHERE = {
    **dict.fromkeys(_ASSESSMENT, "needleplan.domain.assessment"),
    **dict.fromkeys(_PROTOCOL, "needleplan.domain.protocol"),
}


def __getattr__(name: str) -> Any:
    module = _WHERE.get(name)
    if module is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    value = getattr(import_module(module), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted({*globals(), *_WHERE})


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
    "Menopause",
    "Protocol",
    "RationaleItem",
    "RepairCapacity",
    "Severity",
    "Sex",
    "Smoking",
    "SunExposure",
    "parse_assessment",
    "reference_assessment",
]
