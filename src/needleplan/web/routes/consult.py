"""The consultation page's cost table, priced with the clinic's prices in force.

* ``POST /app/consult/compare`` (clinical permission) - the body of the public
  ``POST /api/v1/compare`` (an assessment; no draws, seed or horizon: the standard forecast of
  :mod:`needleplan.forecasting.standard`). The answer is that route's document, but the costs
  use the prices of the clinic calendar in force (the saved clinic version's ``[prices]``,
  :func:`needleplan.services.clinic_calendar.effective_clinic`; the shipped defaults only when
  the calendar has none), and ``noticeable_any`` says whether any option keeps the improvement
  noticeable at all (when none does the page says so instead of quoting savings).

It computes and stores nothing, so it needs no CSRF token; a blocked plan answers 409.
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Request
from fastapi.responses import Response

from needleplan.exceptions import BlockedError, FieldProblem
from needleplan.forecasting.optimise import Prices
from needleplan.forecasting.scenarios import compare_scenarios
from needleplan.guideline import make_protocol
from needleplan.scheduling import ClinicConfig
from needleplan.web.auth import Permission, StaffUser
from needleplan.web.deps import ClinicDep
from needleplan.web.errors import ApiError
from needleplan.web.routes.api import CompareRequest, FastJSONResponse
from needleplan.web.security import require_permission

router = APIRouter(include_in_schema=False)

ClinicalDep = Annotated[StaffUser, Depends(require_permission(Permission.CLINICAL))]


def clinic_prices(clinic: ClinicConfig) -> Prices | None:
    """The calendar's session prices as the cost code's :class:`Prices` (``None``: none set,
    the shipped defaults apply)."""
    if clinic.prices is None:
        return None
    p = clinic.prices
    return Prices(p.initial_session, p.maintenance_session, p.currency)


def consultation_comparison(body: CompareRequest, clinic: ClinicConfig) -> dict[str, Any]:
    """The comparison document of ``/api/v1/compare`` at the clinic's prices in force."""
    protocol = make_protocol(body.assessment)
    if protocol.blocked:
        raise BlockedError(list(protocol.block_reasons))
    comparison = compare_scenarios(
        body.assessment,
        protocol,
        prices=clinic_prices(clinic),
        years=body.years,
        draws=body.draws,
        seed=body.seed,
        keep_years=body.keep_years,
    )
    document = comparison.to_json()
    document["noticeable_any"] = any(s.noticeable_years > 0 for s in comparison.scenarios)
    return document


@router.post("/app/consult/compare")
def consult_compare(
    request: Request, body: CompareRequest, user: ClinicalDep, clinic: ClinicDep
) -> Response:
    """The consultation's scenarios and costs at the clinic's prices in force."""
    request.state.user = user
    cap = request.app.state.settings.max_draws
    if body.draws > cap:
        raise ApiError(422, [FieldProblem("draws", body.draws, f"at most {cap} on this server")])
    return FastJSONResponse(consultation_comparison(body, clinic))


__all__ = ["clinic_prices", "consultation_comparison", "router"]
