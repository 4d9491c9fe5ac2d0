"""The owner's dashboard over HTTP: who may see it, the charts, the CSV downloads, bad input."""

from __future__ import annotations

import csv
import io
from datetime import datetime

import pytest

from needleplan import services

from . import booking_support
from .booking_support import ZONE, Clinic, make_clinic, signed_in
from .conftest import REFERENCE, TestClient

backend = booking_support.backend

PRICES = {"initial_session": 350.0, "maintenance_session": 300.0, "currency": "EUR"}


@pytest.fixture
def site(user_store: object, db: object) -> Clinic:
    """The booking tests' clinic with prices, a practitioner whose name looks like a formula,
    and one assessed patient (so the projection has somebody)."""
    clinic = make_clinic(
        user_store,  # type: ignore[arg-type]
        db,  # type: ignore[arg-type]
        prices=PRICES,
        practitioners=[{"name": "=Alice+1"}, {"name": "Bob Practitioner"}],
    )
    p = clinic.patient("Dana", "Dashboard")
    services.record_assessment(clinic.db, p.id, REFERENCE)
    return clinic


@pytest.fixture
def web(site: Clinic) -> object:
    with TestClient(site.app, base_url="http://testserver") as c:
        yield c


def _this_month() -> str:
    return datetime.now(ZONE).strftime("%Y-%m")


def test_the_owner_sees_tiles_charts_csv_links_and_the_projection(
    web: TestClient, site: Clinic
) -> None:
    signed_in(web, "admin")
    page = web.get("/app/dashboard")
    assert page.status_code == 200
    html = page.text
    for key in (
        "sessions",
        "revenue",
        "new-patients",
        "courses",
        "no-shows",
        "recalls",
        "utilisation",
        "leads",
    ):
        assert f'id="chart-{key}"' in html
        assert f'href="/app/dashboard/{key}.csv?month={_this_month()}"' in html
    assert '<svg class="chart"' in html
    assert 'id="tile-new-patients">1<' in html  # Dana was registered this month
    assert "Projected sessions per month" in html
    assert "What the projection assumes" in html
    assert "the 1 patients with an assessment" in html
    assert "=Alice+1" in html  # escaped text in the utilisation legend, not markup
    assert '<a href="/app/dashboard">Dashboard</a>' in html


@pytest.mark.parametrize("username", ["prac", "desk"])
def test_other_roles_are_refused_the_page_and_the_downloads(web: TestClient, username: str) -> None:
    signed_in(web, username)
    assert web.get("/app/dashboard").status_code == 403
    assert web.get("/app/dashboard/sessions.csv").status_code == 403
    assert "/app/dashboard" not in web.get("/app/").text


def test_the_dashboard_needs_a_sign_in(web: TestClient) -> None:
    response = web.get("/app/dashboard", follow_redirects=False)
    assert response.status_code == 303
    assert response.headers["location"].startswith("/login")
    assert web.get("/app/dashboard/sessions.csv", follow_redirects=False).status_code == 303


def test_csv_downloads_hold_the_chart_numbers_and_neutralise_formulas(web: TestClient) -> None:
    signed_in(web, "admin")
    month = _this_month()
    response = web.get(f"/app/dashboard/sessions.csv?month={month}")
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/csv")
    assert f'filename="sessions-{month}.csv"' in response.headers["content-disposition"]
    rows = list(csv.reader(io.StringIO(response.text)))
    assert rows[0] == ["month", "initial", "maintenance", "total"]
    assert len(rows) == 13
    assert rows[-1] == [month, "0", "0", "0"]
    use = list(csv.reader(io.StringIO(web.get("/app/dashboard/utilisation.csv").text)))
    assert use[0] == ["month", "practitioner", "booked_hours", "open_hours", "utilisation_percent"]
    assert len(use) == 1 + 12 * 2
    assert {r[1] for r in use[1:]} == {"'=Alice+1", "Bob Practitioner"}  # neutralised
    projection = web.get("/app/dashboard/projection.csv?horizon=12")
    assert projection.status_code == 200
    prows = list(csv.reader(io.StringIO(projection.text)))
    assert prows[0][0] == "month"
    assert len(prows) == 13


@pytest.mark.parametrize(
    ("query", "field"),
    [
        ("month=2031-13", "month"),
        ("month=next", "month"),
        ("month=2999-01", "month"),
        ("horizon=13", "horizon"),
    ],
)
def test_bad_input_is_refused_naming_the_field(web: TestClient, query: str, field: str) -> None:
    signed_in(web, "admin")
    response = web.get(f"/app/dashboard?{query}")
    assert response.status_code == 422
    assert field in response.text


def test_an_unknown_figure_is_refused(web: TestClient) -> None:
    signed_in(web, "admin")
    response = web.get("/app/dashboard/payroll.csv")
    assert response.status_code == 422
    assert "figure" in response.text


def test_each_view_and_download_is_audited(web: TestClient, site: Clinic) -> None:
    signed_in(web, "admin")
    web.get("/app/dashboard?month=2026-01")
    web.get("/app/dashboard/leads.csv?month=2026-01")
    events, total = services.search_audit(site.db, action="dashboard.read")
    details = sorted(e.detail for e in events)
    assert total == 3  # figures and projection for the page, figures for the CSV
    assert sum("month=2026-01 months=12" in d for d in details) == 2
    assert any(d.startswith("projection months=36") for d in details)
    assert all(e.patient_id is None for e in events)


def test_a_clinic_without_prices_says_so_instead_of_projecting(
    user_store: object, db: object
) -> None:
    plain = make_clinic(user_store, db)  # type: ignore[arg-type]
    p = plain.patient("Pia", "Plain")
    services.record_assessment(plain.db, p.id, REFERENCE)
    with TestClient(plain.app, base_url="http://testserver") as client:
        signed_in(client, "admin")
        html = client.get("/app/dashboard").text
        assert "no prices" in html
        assert 'id="chart-revenue"' not in html
