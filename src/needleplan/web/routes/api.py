"""The REST API under ``/api/v1``.

Public and stateless (rate-limited per client): ``POST /plan``, ``POST /forecast``,
``POST /compare``. They return exactly the CLI's ``--json`` shapes. Token-protected:
``GET /whoami`` (and, with the storage layer, ``/patients...``).
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Body, Depends, Request

from needleplan.domain import Assessment
from needleplan.guideline import make_protocol
from needleplan.web.auth import StaffUser
from needleplan.web.errors import ERROR_RESPONSES
from needleplan.web.ratelimit import TokenBucketLimiter, client_key, too_many
from needleplan.web.security import require_token, session_user

router = APIRouter(prefix="/api/v1", responses=ERROR_RESPONSES)


def rate_limited(request: Request) -> None:
    """Public-endpoint dependency: one token from this client's bucket, or 429.

    Signed-in staff (the consultation page calls these endpoints live) are not limited.
    """
    if session_user(request) is not None:
        return
    limiter: TokenBucketLimiter = request.app.state.api_limiter
    wait = limiter.take("api:" + client_key(request))
    if wait > 0:
        raise too_many(wait, "requests")


PublicDep = Depends(rate_limited)


@router.post(
    "/plan",
    tags=["stateless"],
    summary="Plan a course from an assessment",
    dependencies=[PublicDep],
    response_description=(
        "The protocol, as `needleplan plan --json` prints it. A plan blocked by an absolute "
        'contraindication is still a plan: 200 with `"blocked": true` and `block_reasons`.'
    ),
)
def plan(assessment: Annotated[Assessment, Body()]) -> dict[str, Any]:
    """Initial sessions, spacing and maintenance for the assessment, with the rationale."""
    return make_protocol(assessment).to_public_json()


@router.get("/whoami", tags=["auth"], summary="The user a bearer token acts as")
def whoami(user: Annotated[StaffUser, Depends(require_token())]) -> dict[str, str]:
    """Check an integration token: who it belongs to and the role it carries."""
    return {
        "id": user.id,
        "username": user.username,
        "display_name": user.display_name,
        "role": user.role.value,
    }
