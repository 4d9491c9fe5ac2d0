"""A clinic's own noticeable threshold in the months its staff pages show (issue 15, point 8):
the consultation's table and chart and her record's chart count from ``recall_threshold`` and
name it; the public API keeps the model's derived value."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from needleplan.domain import reference_assessment
from needleplan.forecasting.params import default_params
from needleplan.storage import Database
from needleplan.web.auth import InMemoryUserStore

from .booking_support import Clinic, make_clinic
from .conftest import TestClient, login

BODY = {"assessment": reference_assessment().model_dump(mode="json")}
DERIVED = default_params().noticeable_threshold


def _months(doc: dict[str, Any]) -> float:
    return float(doc["milestones"]["noticeable_months_after_last_initial"]["median"])


def _series(doc: dict[str, Any]) -> float:
    s = next(s for s in doc["scenarios"] if s["key"] == "series")
    return float(s["noticeable_months_after_last_initial"]["median"])


@pytest.fixture(params=[6.5, DERIVED], ids=["own", "derived"])
def threshold(request: pytest.FixtureRequest) -> float:
    return float(request.param)


@pytest.fixture
def site(user_store: InMemoryUserStore, db: Database, threshold: float) -> Clinic:
    return make_clinic(user_store, db, recall_threshold=threshold)


@pytest.fixture
def web(site: Clinic) -> Iterator[TestClient]:
    with TestClient(site.app, base_url="http://testserver") as c:
        yield c


def test_staff_months_count_from_the_clinic_threshold_and_name_it(
    web: TestClient, threshold: float
) -> None:
    login(web, "prac")
    staff = web.post("/app/consult/compare", json=BODY)
    assert staff.status_code == 200, staff.text
    public = web.post("/api/v1/compare", json=BODY).json()
    chart = web.post("/app/consult/forecast", json=BODY)
    assert chart.status_code == 200, chart.text
    public_chart = web.post("/api/v1/forecast", json=BODY).json()
    assert public_chart["noticeable_threshold"] == pytest.approx(DERIVED)  # the estimator's
    assert "threshold_note" not in public_chart
    assert chart.json()["noticeable_threshold"] == pytest.approx(threshold)
    if threshold == DERIVED:
        assert staff.json()["threshold_note"] is None
        assert chart.json()["threshold_note"] is None
        assert _series(staff.json()) == _series(public)
        assert _months(chart.json()) == _months(public_chart)
    else:  # a stricter threshold: fewer months, and the page says why
        for note in (staff.json()["threshold_note"], chart.json()["threshold_note"]):
            assert "6.5 %" in note
            assert f"{DERIVED:g} %" in note
        assert _series(staff.json()) < _series(public) - 1.0
        assert _months(chart.json()) < _months(public_chart) - 1.0


def test_the_staff_forecast_needs_the_clinical_role_and_refuses_bad_input(
    web: TestClient,
) -> None:
    login(web, "desk")
    assert web.post("/app/consult/forecast", json=BODY).status_code == 403
    login(web, "prac")
    bad = web.post(
        "/app/consult/forecast",
        json={"assessment": BODY["assessment"] | {"age": 200}},
        headers={"Accept": "application/json"},
    )
    assert bad.status_code == 422
    assert "age" in bad.text
