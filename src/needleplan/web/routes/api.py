"""The REST API under ``/api/v1``.

Public and stateless (rate-limited per client): ``POST /plan``, ``POST /forecast``,
``POST /compare``. They return exactly the CLI's ``--json`` shapes. Token-protected:
``GET /whoami`` (and, with the storage layer, ``/patients...``).

Speed (``make bench``, docs/api.md): the shipped guideline is parsed once per process, not per
request; the stateless answers are encoded by orjson straight from the numpy arrays of the
forecast (no per-element Python conversion, no second validation of the returned document).
"""

from __future__ import annotations

import asyncio
import functools
from dataclasses import replace
from typing import TYPE_CHECKING, Annotated, Any

import numpy as np
import orjson
from fastapi import APIRouter, Body, Depends, FastAPI, Request
from fastapi.responses import JSONResponse, Response
from numpy.typing import NDArray
from pydantic import BaseModel, ConfigDict, Field, StrictBool, StrictFloat, StrictInt
from starlette.concurrency import run_in_threadpool

from needleplan.domain import Assessment, Protocol
from needleplan.exceptions import BlockedError, FieldProblem
from needleplan.forecasting import standard
from needleplan.forecasting.chain import (
    INITIAL_INTERVAL_DAYS,
    MAINTENANCE_MONTHS,
    MAX_INITIAL_SESSIONS,
    MAX_YEARS,
    ForecastResult,
    forecast,
    series_days,
)
from needleplan.forecasting.params import ModelParams
from needleplan.forecasting.scenarios import compare_scenarios
from needleplan.guideline import Guideline, load_guideline, make_protocol
from needleplan.web.api_documents import CompareDocument, ForecastDocument, PlanDocument
from needleplan.web.auth import StaffUser
from needleplan.web.bodies import StrictJSONRoute
from needleplan.web.deps import forecast_calibration
from needleplan.web.errors import ERROR_RESPONSES, ApiError, ErrorBody
from needleplan.web.ratelimit import (
    FileLimiter,
    Limiter,
    TokenBucketLimiter,
    client_key,
    too_many,
)
from needleplan.web.security import SESSION_COOKIE, require_token, session_user

if TYPE_CHECKING:
    from needleplan.storage import Database

router = APIRouter(prefix="/api/v1", responses=ERROR_RESPONSES, route_class=StrictJSONRoute)


class FastJSONResponse(JSONResponse):
    """``application/json`` encoded by orjson; numpy arrays are written natively.

    Routes return it already built, so FastAPI neither walks nor re-validates the document.
    """

    media_type = "application/json"

    def render(self, content: Any) -> bytes:
        return orjson.dumps(content, option=orjson.OPT_SERIALIZE_NUMPY)


@functools.cache
def default_guideline() -> Guideline:
    """The shipped guideline, read and validated once per process (it is immutable)."""
    return load_guideline()


def _protocol(assessment: Assessment) -> Protocol:
    return make_protocol(assessment, default_guideline())


#: A take on a SQLite clinic's shared table that finds it held (another worker process taking)
#: is tried again this many times on the event loop, this long apart, before it waits in the thread pool.
LOCK_RETRIES = 5
LOCK_RETRY_SECONDS = 0.0002


async def rate_limited(request: Request) -> None:
    """Public-endpoint dependency: one token from this client's bucket, or 429.

    Signed-in staff (the consultation page calls these endpoints live) are not limited.
    Asynchronous, so a request without a session cookie costs no hand-off to the thread pool
    when its take needs no waiting (the in-memory buckets, or the shared table file of a SQLite
    clinic when no other take holds it: :meth:`FileLimiter.take_now`, tried a few times); a
    session lookup, a take on PostgreSQL or one that would wait for the table runs there.
    """
    if SESSION_COOKIE in request.cookies and (
        await run_in_threadpool(session_user, request) is not None
    ):
        return
    limiter: Limiter = request.app.state.api_limiter
    key = "api:" + client_key(request)
    now = None
    if isinstance(limiter, TokenBucketLimiter):
        now = limiter.take(key)
    elif isinstance(limiter, FileLimiter):
        now = limiter.take_now(key)
        for _ in range(LOCK_RETRIES):
            if now is not None:
                break
            await asyncio.sleep(LOCK_RETRY_SECONDS)
            now = limiter.take_now(key)
    # Otherwise it would wait for a lock or the network: not on the event loop.
    wait = now if now is not None else await run_in_threadpool(limiter.take, key)
    if wait > 0:
        raise too_many(wait, "requests")


PublicDep = Depends(rate_limited)


@router.post(
    "/plan",
    tags=["stateless"],
    summary="Plan a course from an assessment",
    dependencies=[PublicDep],
    response_class=FastJSONResponse,
    response_description=(
        "The protocol, as `needleplan plan --json` prints it. A plan blocked by an absolute "
        'contraindication is still a plan: 200 with `"blocked": true` and `block_reasons`.'
    ),
    responses={200: {"model": PlanDocument}},
)
async def plan(assessment: Annotated[Assessment, Body()]) -> Response:
    """Initial sessions, spacing and maintenance for the assessment, with the rationale.

    Asynchronous: the rule lookup takes about 60 microseconds of CPU and reads nothing, less
    than a hand-off to the thread pool would cost."""
    return FastJSONResponse(_protocol(assessment).to_public_json())


class _Request(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    assessment: Assessment
    years: StrictFloat = Field(
        default=standard.YEARS,
        gt=0,
        le=MAX_YEARS,
        description=(
            "forecast horizon [years]; the initial series must end inside it (422 otherwise)"
        ),
    )
    draws: StrictInt = Field(
        default=standard.DRAWS,
        ge=10,
        le=20_000,
        description="population draws for the median and p10-p90 band (server cap applies)",
    )
    seed: StrictInt = Field(
        default=standard.SEED, ge=0, le=2**32 - 1, description="random seed (reproducible)"
    )
    curve_step_days: StrictInt = Field(
        default=1,
        ge=1,
        le=31,
        description=(
            "keep every k-th day of the curves (the last day always kept); 1 = the CLI's "
            "daily curve. A chart needs no more than weekly points."
        ),
    )


class ForecastRequest(_Request):
    """An assessment and, optionally, the schedule to forecast instead of the plan's."""

    sessions: StrictInt | None = Field(
        default=None,
        ge=1,
        le=MAX_INITIAL_SESSIONS,
        description="initial sessions (default: the plan's initial_sessions)",
    )
    interval_days: StrictInt | None = Field(
        default=None,
        ge=int(INITIAL_INTERVAL_DAYS[0]),
        le=int(INITIAL_INTERVAL_DAYS[1]),
        description="days between initial sessions (default: the plan's recommended interval)",
    )
    maintenance_months: StrictFloat | None = Field(
        default=None,
        ge=MAINTENANCE_MONTHS[0],
        le=MAINTENANCE_MONTHS[1],
        description="months between maintenance sessions after the series (default: none)",
    )
    untreated: StrictBool = Field(
        default=False,
        description=(
            "also return curve.untreated: her skin without treatment (the typical ageing "
            "decline) on the same days, for a chart that goes below zero"
        ),
    )


class CompareRequest(_Request):
    """An assessment; the scenarios come from its plan."""

    curves: StrictBool = Field(
        default=False, description="include each scenario's median, p10 and p90 curves"
    )
    keep_years: StrictFloat = Field(
        default=5.0,
        ge=1,
        le=MAX_YEARS,
        description="the cheapest plan keeps the improvement noticeable this long [years]",
    )


def state_server_caps(app: FastAPI, max_draws: int) -> None:
    """Write this server's draw cap into the OpenAPI document, so the schema states the rule
    the server enforces (a schema-valid request is never refused for it)."""
    build = app.openapi

    def openapi() -> dict[str, Any]:
        if app.openapi_schema is not None:
            return app.openapi_schema
        schema = build()
        for name in ("ForecastRequest", "CompareRequest"):
            props = schema.get("components", {}).get("schemas", {}).get(name, {})
            draws = props.get("properties", {}).get("draws")
            if draws is not None:
                draws["maximum"] = min(int(draws.get("maximum", max_draws)), max_draws)
                draws["default"] = min(int(draws.get("default", max_draws)), max_draws)
                draws["description"] = (
                    "population draws for the median and p10-p90 band "
                    f"(at most {draws['maximum']} on this server)"
                )
        return schema

    app.openapi = openapi  # type: ignore[method-assign]


def checked_draws(request: Request, body: _Request) -> int:
    """The draws to use: as asked (at most the server's cap), or when not asked the standard
    number, lowered to the cap on a server that allows fewer."""
    cap: int = request.app.state.settings.max_draws
    if "draws" not in body.model_fields_set:
        return min(body.draws, cap)
    if body.draws > cap:
        raise ApiError(422, [FieldProblem("draws", body.draws, f"at most {cap} on this server")])
    return body.draws


def _unblocked_plan(assessment: Assessment) -> Protocol:
    protocol = _protocol(assessment)
    if protocol.blocked:
        raise BlockedError(list(protocol.block_reasons))
    return protocol


def _thin(values: list[Any], step: int) -> list[Any]:
    if step == 1 or len(values) <= 1:
        return values
    kept = values[::step]
    if (len(values) - 1) % step:
        kept.append(values[-1])
    return kept


def _thin_curves(curve: dict[str, list[Any]], step: int) -> dict[str, list[Any]]:
    return {key: _thin(values, step) for key, values in curve.items()}


def _kept_days(n: int, step: int) -> NDArray[np.intp] | slice:
    """Indices of every ``step``-th day plus the last one (what :func:`_thin` keeps)."""
    if step == 1 or n <= 1:
        return slice(None)
    kept = np.arange(0, n, step)
    return kept if (n - 1) % step == 0 else np.append(kept, n - 1)


def forecast_document(result: ForecastResult, step: int = 1, ndigits: int = 3) -> dict[str, Any]:
    """``result.to_json()`` (the CLI's ``forecast --json``) with the curves kept as numpy arrays.

    The curves are rounded like ``to_json`` and thinned to every ``step``-th day; orjson writes
    the arrays without a Python float per point (tests check the two documents are equal).
    """
    keep = _kept_days(result.day.size, step)
    return {
        "session_days": [
            int(d) if float(d).is_integer() else float(d) for d in result.session_days
        ],
        "initial_sessions": result.n_initial,
        "noticeable_threshold": result.noticeable_threshold,
        "years": result.years,
        "draws": result.draws,
        "seed": result.seed,
        "factors": list(result.factors),
        "calibration": result.calibration,
        "milestones": result.milestones.to_json(),
        "curve": {
            "day": np.ascontiguousarray(result.day[keep].astype(np.int64)),
            "median": np.ascontiguousarray(np.round(result.median[keep], ndigits)),
            "p10": np.ascontiguousarray(np.round(result.p10[keep], ndigits)),
            "p90": np.ascontiguousarray(np.round(result.p90[keep], ndigits)),
        },
    }


@router.post(
    "/forecast",
    tags=["stateless"],
    summary="Forecast how long results last",
    dependencies=[PublicDep],
    response_class=FastJSONResponse,
    response_description="The forecast, as `needleplan forecast --json` prints it.",
    responses={
        200: {"model": ForecastDocument},
        409: {"description": "the plan is blocked by an absolute contraindication"},
    },
)
async def forecast_route(request: Request, body: ForecastRequest) -> Response:
    """Improvement over time (median and p10-p90 band) and milestones for one schedule.

    Without overrides the schedule is the plan's: its initial sessions at its recommended
    interval, no maintenance. Days count from the first session; improvement is in % of the
    patient's pre-treatment firmness. A blocked plan answers 409.
    """
    if _small_enough_for_the_loop(request, body):
        return _forecast_response(request, body)
    return await run_in_threadpool(_forecast_response, request, body)


#: A forecast of at most this many draws is computed on the event loop when the calibration
#: probe reads a local file (a SQLite clinic, or none): 2-5 ms of CPU on this kind of machine
#: (most of it holding the interpreter lock, so a worker thread runs no faster), where the
#: hand-off to the thread pool and back cost about 1 ms more per request (measured with
#: ``make bench``'s paired requests). Larger forecasts, and any that would wait on the network
#: for the probe (PostgreSQL), run in the thread pool and leave the loop free.
INLINE_DRAWS = 300


def _small_enough_for_the_loop(request: Request, body: ForecastRequest) -> bool:
    db: Database | None = request.app.state.db
    if db is not None and not db.probes_locally:
        return False
    return checked_draws(request, body) <= INLINE_DRAWS


def _forecast_response(request: Request, body: ForecastRequest) -> Response:
    # The calibration is looked up here, not as a dependency: a dependency would cost one more
    # hop to the thread pool on every call (the version probe is a database read).
    calibration = forecast_calibration(request)
    return FastJSONResponse(forecast_for(request, body, calibration.params, calibration.label))


def forecast_for(
    request: Request, body: ForecastRequest, params: ModelParams | None, label: str
) -> dict[str, Any]:
    """The ``/forecast`` document for ``body`` with ``params`` (the calibration in force, or a
    clinic's own threshold on it: the staff pages' route) named ``label``."""
    draws = checked_draws(request, body)
    protocol = _unblocked_plan(body.assessment)
    sessions = body.sessions if body.sessions is not None else protocol.initial_sessions
    interval = (
        body.interval_days if body.interval_days is not None else protocol.recommended_interval_days
    )
    days = series_days(
        sessions, interval, maintenance_months=body.maintenance_months, years=body.years
    )
    result = forecast(
        body.assessment,
        days,
        years=body.years,
        draws=draws,
        seed=body.seed,
        n_initial=sessions,
        maintenance_months=body.maintenance_months,
        params=params,
    )
    result = replace(result, calibration=label)
    document = forecast_document(result, body.curve_step_days)
    if body.untreated:
        untreated = standard.untreated_ageing(body.assessment, document["curve"]["day"], params)
        document["curve"]["untreated"] = np.round(untreated, 3)
    return document


@router.post(
    "/compare",
    tags=["stateless"],
    summary="Compare scenarios: single session, series, maintenance every 6/9/12 months",
    dependencies=[PublicDep],
    response_class=FastJSONResponse,
    response_description="The comparison, as `needleplan compare --json` prints it.",
    responses={
        200: {"model": CompareDocument},
        409: {"description": "the plan is blocked by an absolute contraindication"},
    },
)
def compare_route(request: Request, body: CompareRequest) -> Response:
    """The standard scenarios side by side with costs, the cheapest plan and upkeep vs. lapse."""
    calibration = forecast_calibration(request)  # in this thread, as in forecast_route
    draws = checked_draws(request, body)
    protocol = _unblocked_plan(body.assessment)
    comparison = compare_scenarios(
        body.assessment,
        protocol,
        years=body.years,
        draws=draws,
        seed=body.seed,
        keep_years=body.keep_years,
        params=calibration.params,
    )
    result = replace(comparison, calibration=calibration.label).to_json(curves=body.curves)
    if body.curves:
        result["day"] = _thin(result["day"], body.curve_step_days)
        result["curves"] = {
            key: _thin_curves(curve, body.curve_step_days)
            for key, curve in result["curves"].items()
        }
    return FastJSONResponse(result)


@router.get(
    "/whoami",
    tags=["auth"],
    summary="The user a bearer token acts as",
    responses={401: {"model": ErrorBody, "description": "no token, or an unknown one"}},
)
def whoami(user: Annotated[StaffUser, Depends(require_token())]) -> dict[str, str]:
    """Check an integration token: who it belongs to and the role it carries."""
    return {
        "id": str(user.id),
        "username": user.username,
        "display_name": user.display_name,
        "role": user.role.value,
    }
