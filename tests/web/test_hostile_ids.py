"""Ids beyond the column range and digit-only search terms never answer 500 (issue 17, M4)."""

from __future__ import annotations

import re
from typing import Any

import pytest

from needleplan.web.ratelimit import TokenBucketLimiter

from .conftest import TestClient, csrf_from
from .patients_fixtures import ClinicApp, bearer, clinic_app, sign_in, web

__all__ = ["clinic_app", "web"]

HOSTILE_IDS = ["99999999999999999999", "2147483648", "٣", "01", "-1"]
PARAM = re.compile(r"\{([a-z_]+)(?::[a-z]+)?\}")


def _walk(routes: list[Any], prefix: str = "") -> list[tuple[str, set[str]]]:
    found: list[tuple[str, set[str]]] = []
    for route in routes:
        inner = getattr(route, "original_router", None)
        if inner is not None:  # an included router (FastAPI keeps it nested)
            found += _walk(inner.routes, prefix + route.include_context.prefix)
        elif getattr(route, "methods", None):
            found.append((prefix + route.path, set(route.methods)))
    return found


def _id_routes(clinic_app: ClinicApp) -> list[tuple[str, str]]:
    return [
        (method, path)
        for path, methods in _walk(clinic_app.app.routes)
        if PARAM.search(path)
        for method in sorted(methods & {"GET", "POST"})
    ]


@pytest.mark.parametrize("who", ["admin", "prac"])
def test_no_route_answers_500_to_an_id_out_of_range(
    web: TestClient, clinic_app: ClinicApp, who: str
) -> None:
    # Limits that never refuse: the walk sends hundreds of requests from one client, and a 429
    # (the portal allows 30 in a burst) would answer before any handler saw the hostile id.
    for limiter in ("api_limiter", "portal_limiter"):
        setattr(clinic_app.app.state, limiter, TokenBucketLimiter(1e9, 10**9))
    sign_in(web, who)
    token = csrf_from(web.get("/app/").text)
    headers = bearer(clinic_app, who)
    routes = _id_routes(clinic_app)
    assert len(routes) > 16
    failures = []
    limited = []
    for method, path in routes:
        for bad in HOSTILE_IDS:
            url = PARAM.sub(lambda m, bad=bad: bad if m.group(1).endswith("id") else "x", path)
            if method == "GET":
                response = web.get(url, headers=headers, follow_redirects=False)
            else:
                response = web.post(
                    url,
                    data={"csrf_token": token, "patient_id": bad, "practitioner_id": bad},
                    headers=headers,
                    follow_redirects=False,
                )
            if response.status_code >= 500:
                failures.append((method, url, response.status_code))
            if response.status_code == 429:
                limited.append((method, url))
    assert failures == []
    assert limited == []  # every request reached its route


@pytest.mark.parametrize("term", ["1234567890", "1234567890123456789", "99999999999999999999"])
def test_digit_only_searches_answer(web: TestClient, clinic_app: ClinicApp, term: str) -> None:
    sign_in(web, "desk")
    assert web.get("/app/patients", params={"q": term}).status_code == 200
    response = web.get("/api/v1/patients", params={"q": term}, headers=bearer(clinic_app, "desk"))
    assert response.status_code == 200
    assert response.json()["total"] == 0
