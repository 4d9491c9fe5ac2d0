"""The consultation page's cost table, priced with the clinic's prices in force.

* ``POST /app/consult/compare`` (clinical permission) - the body of the public
  ``POST /api/v1/compare`` (an assessment; no draws, seed or horizon: the standard forecast of
  :mod:`needleplan.forecasting.standard`). The answer is that route's document, but the costs
  use the prices of the clinic calendar in force (the saved clinic version's ``[prices]``,
  :func:`needleplan.services.clinic_calendar.effective_clinic`; the shipped defaults only when
  the calendar has none), and ``noticeable_any`` says whether any option keeps the improvement
  noticeable at all (when none does the page says so instead of quoting savings).

It computes and stores nothing, so it needs no CSRF token; a blocked plan answers 409. Its
months noticeable count from the clinic's own threshold (``recall_threshold``;
``threshold_note`` names it when it differs from the model's derived value).

* ``POST /app/consult/forecast`` (clinical permission) - the public ``POST /api/v1/forecast``
  for the staff pages (the consultation chart and her record's chart), with the clinic's
  threshold and ``threshold_note``; stores nothing, no CSRF token.

* ``GET /app/consult/patients/{id}/assessment`` (clinical) - her latest assessment, for the
  booking panel to load into the form when she is chosen (``{"assessment": null}`` without one);
  audited as ``assessment.list``.
* ``POST /app/consult/save`` (clinical; ``X-CSRF-Token``) - ``{"patient_id", "assessment"}``:
  keep the consultation on her record without booking
  (:func:`needleplan.services.save_consultation`: the assessment joins her history, its note
  names the plan); 201 with the assessment's id and the plan; audited as ``assessment.create``
  in the same transaction. The age must agree with her date of birth (422 naming ``age``).
"""

from __future__ import annotations

from dataclasses import replace
from datetime import datetime
from typing import Annotated, Any

from fastapi import APIRouter, Body, Depends, Request
from fastapi.responses import JSONResponse, Response
from pydantic import BaseModel, ConfigDict, Field

from needleplan import services
from needleplan.domain import Assessment
from needleplan.domain.records import parse_record
from needleplan.exceptions import BlockedError, NeedleplanError, NotFoundError
from needleplan.forecasting.optimise import Prices
from needleplan.forecasting.result import DEFAULT_CALIBRATION
from needleplan.forecasting.scenarios import compare_scenarios
from needleplan.forecasting.wording import threshold_note
from needleplan.guideline import make_protocol
from needleplan.scheduling import ClinicConfig
from needleplan.services.clinic_threshold import clinic_params
from needleplan.web.auth import Permission, StaffUser
from needleplan.web.db_stores import audit, audited
from needleplan.web.deps import CalibrationDep, ClinicDep, DbDep, ForecastCalibration
from needleplan.web.errors import error_body, problems_for, status_for
from needleplan.web.routes.api import (
    CompareRequest,
    FastJSONResponse,
    ForecastRequest,
    checked_draws,
    forecast_for,
)
from needleplan.web.routes.booking import CSRF_HEADER
from needleplan.web.routes.patients import MAX_ID
from needleplan.web.security import check_csrf, require_permission

router = APIRouter(include_in_schema=False)

ClinicalDep = Annotated[StaffUser, Depends(require_permission(Permission.CLINICAL))]


def clinic_prices(clinic: ClinicConfig) -> Prices | None:
    """The calendar's session prices as the cost code's :class:`Prices` (``None``: none set,
    the shipped defaults apply)."""
    if clinic.prices is None:
        return None
    p = clinic.prices
    return Prices(p.initial_session, p.maintenance_session, p.currency)


def consultation_comparison(
    body: CompareRequest, clinic: ClinicConfig, calibration: ForecastCalibration | None = None
) -> dict[str, Any]:
    """The comparison document of ``/api/v1/compare`` at the clinic's prices and with the
    calibration in force."""
    cal = calibration or ForecastCalibration(None, DEFAULT_CALIBRATION)
    params = clinic_params(cal.params, clinic)  # months count from the clinic's threshold
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
        params=params,
    )
    document = replace(comparison, calibration=cal.label).to_json()
    document["noticeable_any"] = any(s.noticeable_years > 0 for s in comparison.scenarios)
    base = None if params is None else params.noticeable_threshold
    document["threshold_note"] = threshold_note(base)
    return document


@router.post("/app/consult/forecast")
def consult_forecast(
    request: Request,
    body: ForecastRequest,
    user: ClinicalDep,
    clinic: ClinicDep,
    calibration: CalibrationDep,
) -> Response:
    """``/api/v1/forecast`` for the staff pages (consultation chart, her record's chart): the
    same document with the calibration in force and the clinic's own noticeable threshold, and
    ``threshold_note`` naming that threshold when it differs from the model's derived value
    (``null`` otherwise)."""
    request.state.user = user
    params = clinic_params(calibration.params, clinic)
    document = forecast_for(request, body, params, calibration.label)
    base = None if params is None else params.noticeable_threshold
    document["threshold_note"] = threshold_note(base)
    return FastJSONResponse(document)


@router.post("/app/consult/compare")
def consult_compare(
    request: Request,
    body: CompareRequest,
    user: ClinicalDep,
    clinic: ClinicDep,
    calibration: CalibrationDep,
) -> Response:
    """The consultation's scenarios and costs at the clinic's prices in force."""
    request.state.user = user
    draws = checked_draws(request, body)
    return FastJSONResponse(
        consultation_comparison(body.model_copy(update={"draws": draws}), clinic, calibration)
    )


@router.get("/app/consult/patients/{patient_id}/assessment")
def latest_assessment(
    request: Request, patient_id: int, user: ClinicalDep, db: DbDep, clinic: ClinicDep
) -> dict[str, Any]:
    """Her newest assessment (what the booking panel loads into the form) and her age today on
    the clinic's calendar (the form's age comes from her date of birth, not the old visit)."""
    request.state.user = user
    history = services.assessment_history(db, patient_id)
    patient = services.get_patient(db, patient_id)
    audit(db, user, "assessment.list", patient_id, "consultation: latest assessment")
    age_today = patient.age_on(datetime.now(clinic.tz).date())
    if not history:
        return {"assessment": None, "age_today": age_today}
    newest = history[0]
    return {
        "id": newest.id,
        "assessed_at": newest.assessed_at.isoformat(),
        "assessment": newest.assessment.model_dump(mode="json"),
        "age_today": age_today,
    }


class SaveRequest(BaseModel):
    """A consultation to keep on a stored patient's record."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    patient_id: int = Field(ge=1, le=MAX_ID)
    assessment: Assessment


@router.post("/app/consult/save")
def save_consultation(
    request: Request,
    body: Annotated[dict[str, Any], Body()],
    user: ClinicalDep,
    db: DbDep,
    clinic: ClinicDep,
) -> JSONResponse:
    """Keep the assessment and its plan on her record without booking a course (JSON errors in
    the booking panel's shape: ``errors`` naming field, value and rule)."""
    check_csrf(request, request.headers.get(CSRF_HEADER))
    request.state.user = user
    try:
        parsed = parse_record(SaveRequest, body)
        with audited(db, user, "assessment.create", parsed.patient_id) as note:
            saved = services.save_consultation(db, parsed.patient_id, parsed.assessment, clinic)
            note.detail = f"consultation saved without booking: assessment {saved.assessment.id}"
    except NotFoundError:
        raise
    except NeedleplanError as exc:
        return JSONResponse(error_body(problems_for(exc)), status_code=status_for(exc))
    return JSONResponse(
        {
            "assessment_id": saved.assessment.id,
            "patient_id": parsed.patient_id,
            "plan": saved.protocol.to_public_json(),
        },
        status_code=201,
    )


__all__ = ["clinic_prices", "consultation_comparison", "router"]
