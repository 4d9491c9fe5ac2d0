"""Template helpers that show times on the clinic's wall clock (staff pages never show UTC).

Registered as Jinja globals by :func:`needleplan.web.app.create_app`::

    {{ clinic_time(event.at) }}           -> "2027-03-28 10:00" in the clinic's zone
    {{ clinic_time(event.at, "%H:%M") }}
    {{ clinic_zone() }}                   -> "Europe/Berlin (CET/CEST)", shown once per page

The clinic calendar in force is looked up once per request (``request.state``).
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from fastapi import Request
from jinja2 import pass_context

from needleplan.exceptions import InputError
from needleplan.scheduling import ClinicConfig
from needleplan.web.deps import get_clinic
from needleplan.web.routes.booking import local_text, zone_names


def _clinic(context: Any) -> ClinicConfig | None:
    """The calendar in force, or None when the saved version no longer validates (the clinic page
    shows that version for correction; its times are then shown in UTC, saying so)."""
    request: Request = context["request"]
    if not hasattr(request.state, "page_clinic"):
        try:
            request.state.page_clinic = get_clinic(request)
        except InputError:
            request.state.page_clinic = None
    clinic: ClinicConfig | None = request.state.page_clinic
    return clinic


@pass_context
def clinic_time(context: Any, value: datetime | None, fmt: str = "%Y-%m-%d %H:%M") -> str:
    """``value`` (an aware datetime) on the clinic's wall clock; empty for None."""
    clinic = _clinic(context)
    if clinic is None:
        return "" if value is None else value.astimezone(UTC).strftime(fmt)
    return local_text(value, clinic, fmt)


@pass_context
def clinic_zone(context: Any) -> str:
    """The clinic's zone with the abbreviations in use this year, e.g. ``Europe/Berlin (CET/CEST)``."""
    clinic = _clinic(context)
    return "UTC" if clinic is None else zone_names(clinic)


def install(env: Any) -> None:
    env.globals["clinic_time"] = clinic_time
    env.globals["clinic_zone"] = clinic_zone
