"""One profile of the cohort: an assessment's protocol (from the guideline) and covariate
multipliers (from the forecast model), or why it cannot be simulated; cached per guideline.

A profile row holds :data:`PROFILE_FIELDS` in order; age is not part of it (neither the
protocol nor the multipliers use it), so patients who differ only in age share a profile.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass

from needleplan.domain.assessment import Assessment
from needleplan.forecasting.chain import (
    INITIAL_INTERVAL_DAYS,
    MAINTENANCE_MONTHS,
    MAX_INITIAL_SESSIONS,
)
from needleplan.forecasting.models import patient_modifiers
from needleplan.guideline import Guideline, make_protocol

#: Columns of a profile row, in order.
PROFILE_FIELDS = (
    "initial_sessions",
    "interval_days",
    "maintenance_min_months",
    "maintenance_max_months",
    "response",
    "fade",
    "ageing",
    "heal",
    "capacity",
)
N_INITIAL, INTERVAL, MAINT_MIN, MAINT_MAX, RESPONSE, FADE, AGEING, HEAL, CAPACITY = range(9)

#: Why a patient cannot be simulated (the cohort reports how many, never who).
BLOCKED = "blocked by an absolute contraindication"
OUT_OF_RANGE = "outside the model's validated range"


@dataclass(frozen=True)
class ProfileOutcome:
    """The profile values of one assessment template, or why it cannot be simulated."""

    values: tuple[float, ...] | None
    excluded: str | None = None


def guideline_key(guideline: Guideline) -> str:
    """A fingerprint of a guideline's rules (the cache key of its profiles)."""
    return hashlib.sha256(guideline.model_dump_json().encode("utf-8")).hexdigest()


_CACHE: dict[tuple[str, str], ProfileOutcome] = {}
_CACHE_LIMIT = 50_000


def profile_outcome(template: Assessment, guideline: Guideline, key: str) -> ProfileOutcome:
    """Protocol and covariate multipliers of an assessment (cached per guideline).

    Parameters
    ----------
    template : Assessment
        The assessment (its age is ignored: neither the protocol nor the multipliers use it).
    guideline : Guideline
    key : str
        :func:`guideline_key` of ``guideline``.
    """
    cache_key = (key, template.model_copy(update={"age": 50}).model_dump_json())
    found = _CACHE.get(cache_key)
    if found is not None:
        return found
    protocol = make_protocol(template, guideline)
    mods = patient_modifiers(template)
    lo_i, hi_i = INITIAL_INTERVAL_DAYS
    lo_m, hi_m = MAINTENANCE_MONTHS
    interval = float(protocol.recommended_interval_days)
    if protocol.blocked:
        out = ProfileOutcome(None, BLOCKED)
    elif not (
        1 <= protocol.initial_sessions <= MAX_INITIAL_SESSIONS
        and (protocol.initial_sessions == 1 or lo_i <= interval <= hi_i)
        and lo_m <= protocol.maintenance_interval_months.min
        and protocol.maintenance_interval_months.max <= hi_m
    ):
        out = ProfileOutcome(None, OUT_OF_RANGE)
    else:
        out = ProfileOutcome(
            (
                float(protocol.initial_sessions),
                interval,
                float(protocol.maintenance_interval_months.min),
                float(protocol.maintenance_interval_months.max),
                mods.response,
                mods.fade,
                mods.ageing,
                mods.heal,
                mods.capacity,
            )
        )
    if len(_CACHE) >= _CACHE_LIMIT:
        _CACHE.clear()
    _CACHE[cache_key] = out
    return out
