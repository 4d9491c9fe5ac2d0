"""needleplan: plans microneedling courses for skin tightening and forecasts how long results last.

needleplan is decision support for trained practitioners. It is not a diagnosis and does not
replace a practitioner's clinical judgement.

The library in a few lines (every name below is importable from ``needleplan``)::

    from datetime import date
    import needleplan

    assessment = needleplan.parse_assessment({"age": 50, "severity": "moderate",
                                              "areas": ["full_face"]})
    protocol = needleplan.make_protocol(assessment)            # sessions, spacing, why
    days = needleplan.series_days(protocol.initial_sessions, 35)
    result = needleplan.forecast(assessment, days, years=10)   # curves, band, milestones
    comparison = needleplan.compare_scenarios(assessment, protocol)
    course = needleplan.schedule_course(protocol, date(2027, 1, 11), needleplan.load_clinic())

The names are loaded on first use, so ``import needleplan`` stays cheap (the command line
imports only what a command needs). ``__all__`` is the curated public API, pinned by
``tests/test_public_api.py``; everything else is reachable through the subpackages.
"""

from __future__ import annotations

from importlib import import_module
from typing import TYPE_CHECKING, Any

from needleplan._version import __version__

if TYPE_CHECKING:
    from needleplan.domain.assessment import Assessment, parse_assessment, reference_assessment
    from needleplan.domain.disclaimer import DISCLAIMER
    from needleplan.domain.protocol import Protocol
    from needleplan.exceptions import (
        BlockedError,
        ConfigError,
        InputError,
        ModelRangeError,
        NeedleplanError,
        SchedulingError,
    )
    from needleplan.forecasting.chain import ForecastResult, forecast, series_days
    from needleplan.forecasting.optimise import cheapest_schedule, load_prices
    from needleplan.forecasting.scenarios import Comparison, compare_scenarios
    from needleplan.guideline import Guideline, load_guideline, make_protocol
    from needleplan.scheduling import (
        ClinicConfig,
        CourseSchedule,
        course_ics,
        load_clinic,
        maintenance_due,
        schedule_course,
    )
    from needleplan.scheduling.replan import replan

#: Where each public name lives: the module imported the first time the name is used.
_WHERE: dict[str, str] = {
    "DISCLAIMER": "needleplan.domain.disclaimer",
    # the patient and the plan
    "Assessment": "needleplan.domain.assessment",
    "parse_assessment": "needleplan.domain.assessment",
    "reference_assessment": "needleplan.domain.assessment",
    "Protocol": "needleplan.domain.protocol",
    "Guideline": "needleplan.guideline",
    "load_guideline": "needleplan.guideline",
    "make_protocol": "needleplan.guideline",
    # how long results last, and what upkeep costs
    "ForecastResult": "needleplan.forecasting.chain",
    "forecast": "needleplan.forecasting.chain",
    "series_days": "needleplan.forecasting.chain",
    "Comparison": "needleplan.forecasting.scenarios",
    "compare_scenarios": "needleplan.forecasting.scenarios",
    "cheapest_schedule": "needleplan.forecasting.optimise",
    "load_prices": "needleplan.forecasting.optimise",
    # dates in a clinic's calendar
    "ClinicConfig": "needleplan.scheduling",
    "CourseSchedule": "needleplan.scheduling",
    "course_ics": "needleplan.scheduling",
    "load_clinic": "needleplan.scheduling",
    "maintenance_due": "needleplan.scheduling",
    "replan": "needleplan.scheduling.replan",
    "schedule_course": "needleplan.scheduling",
    # errors
    "BlockedError": "needleplan.exceptions",
    "ConfigError": "needleplan.exceptions",
    "InputError": "needleplan.exceptions",
    "ModelRangeError": "needleplan.exceptions",
    "NeedleplanError": "needleplan.exceptions",
    "SchedulingError": "needleplan.exceptions",
}


def __getattr__(name: str) -> Any:
    module = _WHERE.get(name)
    if module is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    value = getattr(import_module(module), name)
    globals()[name] = value  # later look-ups skip this function
    return value


def __dir__() -> list[str]:
    return sorted({*globals(), *_WHERE})


__all__ = [
    "DISCLAIMER",
    "Assessment",
    "BlockedError",
    "ClinicConfig",
    "Comparison",
    "ConfigError",
    "CourseSchedule",
    "ForecastResult",
    "Guideline",
    "InputError",
    "ModelRangeError",
    "NeedleplanError",
    "Protocol",
    "SchedulingError",
    "__version__",
    "cheapest_schedule",
    "compare_scenarios",
    "course_ics",
    "forecast",
    "load_clinic",
    "load_guideline",
    "load_prices",
    "maintenance_due",
    "make_protocol",
    "parse_assessment",
    "reference_assessment",
    "replan",
    "schedule_course",
    "series_days",
]
