"""Web API: what a live consultation update costs through HTTP (in-process ASGI client).

cases(): the forecast endpoint with weekly curve points (what the pages ask for) against the
CLI-identical daily curve. figures(): one live consultation update (plan + five scenario
forecasts), the HTTP overhead over the library call, and the estimator's page weight.
"""

from __future__ import annotations

import time
import warnings
from collections.abc import Callable
from typing import Any

from needleplan.domain import reference_assessment
from needleplan.forecasting.chain import forecast, series_days
from needleplan.web import Settings, create_app

with warnings.catch_warnings():
    warnings.simplefilter("ignore")
    from fastapi.testclient import TestClient

REF = reference_assessment().to_json_dict()
_app = create_app(Settings(environment="test", secret_key="bench-" + "x" * 40, api_burst=10**9))
_client = TestClient(_app)
SCENARIOS: list[dict[str, Any]] = [
    {"sessions": 1},
    {},
    {"maintenance_months": 6},
    {"maintenance_months": 9},
    {"maintenance_months": 12},
]


def _post(path: str, body: dict[str, Any]) -> Any:
    response = _client.post(path, json=body, headers={"Accept-Encoding": "gzip"})
    response.raise_for_status()
    return response.json()


def _best(fn: Callable[[], object], rounds: int = 7) -> float:
    fn()
    best = float("inf")
    for _ in range(rounds):
        t0 = time.perf_counter()
        fn()
        best = min(best, time.perf_counter() - t0)
    return best


def cases() -> list[tuple[str, Callable[[], object], Callable[[], object]]]:
    weekly = {"assessment": REF, "draws": 1000, "curve_step_days": 7}
    daily = {"assessment": REF, "draws": 1000}
    return [
        (
            "POST /api/v1/forecast weekly points vs daily (1000 draws, 10 y)",
            lambda: _post("/api/v1/forecast", weekly),
            lambda: _post("/api/v1/forecast", daily),
        )
    ]


def _consult_update() -> None:
    _post("/api/v1/plan", REF)
    for extra in SCENARIOS:
        _post(
            "/api/v1/forecast",
            {"assessment": REF, "draws": 300, "seed": 11, "curve_step_days": 7, **extra},
        )


def figures() -> list[tuple[str, str, str, bool]]:
    rows: list[tuple[str, str, str, bool]] = []
    t = _best(_consult_update)
    rows.append(
        (
            "live consultation update: plan + 5 forecasts over HTTP",
            f"{t * 1e3:.1f} ms",
            "< 250 ms",
            t < 0.25,
        )
    )
    a = reference_assessment()
    days = series_days(5, 35)
    lib = _best(lambda: forecast(a, days, years=10, draws=1000, seed=0, n_initial=5).to_json())
    api = _best(lambda: _post("/api/v1/forecast", {"assessment": REF, "draws": 1000}))
    rows.append(
        (
            "HTTP + JSON overhead of /forecast over forecast().to_json()",
            f"{(api - lib) * 1e3:.1f} ms",
            "< 50 ms",
            api - lib < 0.05,
        )
    )
    weight = len(_client.get("/estimate").content) + sum(
        len(_client.get(f"/static/{name}").content)
        for name in ("style.css", "np.js", "estimate.js", "favicon.svg")
    )
    rows.append(
        (
            "estimator page + CSS + JS (uncompressed)",
            f"{weight / 1024:.1f} kB",
            "< 60 kB",
            weight < 60 * 1024,
        )
    )
    return rows
