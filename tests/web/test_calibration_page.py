"""The admin's clinic calibration page: the data check, fit, a proposal's estimates and its
predictive-check chart (SVG and PNG), adopt and revert with CSRF, admin only, audited, and
hostile input refused with a clear message (never a 500)."""

from __future__ import annotations

import html
import re
from collections.abc import Iterator
from typing import Any

import numpy as np
import pytest
from fastapi import FastAPI

from needleplan import services
from needleplan.forecasting.clinic_fit import fit_clinic, simulate_clinic
from needleplan.services import calibrations
from needleplan.services._clock import utc_now
from needleplan.storage import Database
from needleplan.web import Settings, create_app
from needleplan.web.auth import InMemoryUserStore

from . import booking_support
from .booking_support import signed_in
from .conftest import TEST_SECRET, TestClient

backend = booking_support.backend
FORMS = ["fit", "adopt/1", "revert"]


@pytest.fixture
def app(user_store: InMemoryUserStore, db: Database) -> FastAPI:
    return create_app(
        Settings(environment="test", secret_key=TEST_SECRET),  # type: ignore[call-arg]
        user_store=user_store,
        database=db,
    )


@pytest.fixture
def web(app: FastAPI) -> Iterator[TestClient]:
    with TestClient(app, base_url="http://testserver") as client:
        yield client


@pytest.fixture
def proposal(db: Database) -> int:
    """A stored proposal: a real (short) fit of a small simulated clinic."""
    fit = fit_clinic(
        simulate_clinic(6, np.random.default_rng(1)), require_enough=False, max_iterations=2
    )
    with db.transaction() as uow:
        return uow.calibrations.add_proposal(fit.to_json(), "", utc_now(), None, "test").id


def post(web: TestClient, path: str, token: str | None, **form: str) -> Any:
    data = dict(form)
    if token is not None:
        data["csrf_token"] = token
    return web.post(f"/app/admin/calibration/{path}", data=data, follow_redirects=False)


def message(page: str) -> str:
    found = re.search(r'id="(?:problem|notice)"[^>]*>(.*?)</p>', page, re.S)
    assert found, "page shows no message"
    return html.unescape(found.group(1))


def history(db: Database) -> list[Any]:
    return calibrations.calibration_history(db)


@pytest.mark.parametrize("who", ["prac", "desk"])
def test_every_role_but_admin_is_refused_and_nothing_changes(
    web: TestClient, db: Database, proposal: int, who: str
) -> None:
    token = signed_in(web, who)
    assert web.get("/app/admin/calibration").status_code == 403
    assert web.get("/app/admin/calibration/check.svg").status_code == 403
    assert 'href="/app/admin/calibration"' not in web.get("/app/").text
    for path in FORMS:
        assert post(web, path, token).status_code == 403, path
    assert len(history(db)) == 1


@pytest.mark.parametrize("path", FORMS)
def test_every_form_needs_the_csrf_token(
    web: TestClient, db: Database, proposal: int, path: str
) -> None:
    signed_in(web, "admin")
    assert post(web, path, None).status_code == 403
    assert post(web, path, "0" * 64).status_code == 403
    assert len(history(db)) == 1


def test_with_too_little_data_the_page_says_how_much_more(web: TestClient, db: Database) -> None:
    token = signed_in(web, "admin")
    assert 'href="/app/admin/calibration">Calibration</a>' in web.get("/app/").text
    page = web.get("/app/admin/calibration").text
    assert '<strong id="label">default</strong>' in page
    assert "30 more patients with 3+ follow-ups" in html.unescape(page)
    response = post(web, "fit", token, note="try")
    assert response.status_code == 200
    assert message(response.text).startswith("Not enough data yet")
    assert history(db) == []
    [event] = [e for e in services.audit_log(db) if e.action == "calibration.fit"]
    assert "enough=no" in event.detail


def test_review_adopt_and_revert(web: TestClient, db: Database, proposal: int) -> None:
    token = signed_in(web, "admin")
    page = web.get(f"/app/admin/calibration?proposal={proposal}").text
    assert f"Proposal {proposal}" in page
    assert "mean response (dose of one session)" in page
    assert f'src="/app/admin/calibration/check.svg?proposal={proposal}"' in page
    svg = web.get(f"/app/admin/calibration/check.svg?proposal={proposal}")
    assert svg.status_code == 200
    assert svg.headers["content-type"].startswith("image/svg+xml")
    assert svg.content.lstrip().startswith(b"<?xml")
    png = web.get("/app/admin/calibration/check.png")
    assert png.status_code == 200
    assert png.content.startswith(b"\x89PNG")

    adopted = post(web, f"adopt/{proposal}", token, note="first")
    assert adopted.status_code == 200
    today = utc_now().date().isoformat()
    assert message(adopted.text) == f"In force now: clinic calibration v1, adopted {today}."
    assert calibrations.calibration_in_force(db).version == 1
    reverted = post(web, "revert", token, to="")
    assert message(reverted.text) == "In force now: default."
    actions = [e.action for e in services.audit_log(db) if e.action.startswith("calibration.")]
    assert "calibration.adopt" in actions
    assert "calibration.revert" in actions


def test_hostile_input_is_refused_with_a_message_never_a_500(
    web: TestClient, db: Database, proposal: int
) -> None:
    token = signed_in(web, "admin")
    assert web.get("/app/admin/calibration?proposal=abc").status_code == 422
    assert web.get("/app/admin/calibration?proposal=-1").status_code == 422
    assert web.get("/app/admin/calibration/check.gif").status_code in (404, 422)
    missing = web.get("/app/admin/calibration?proposal=999")
    assert missing.status_code == 404
    assert "proposal 999 does not exist" in message(missing.text)
    assert post(web, "adopt/999", token).status_code == 404
    bad = post(web, "revert", token, to="v1<script>")
    assert bad.status_code == 422
    assert "to: must be a version number" in message(bad.text)
    assert "<script>" not in bad.text
    nothing = post(web, "revert", token, to="")
    assert nothing.status_code == 422
    assert "nothing to revert" in message(nothing.text)
    long_note = post(web, "fit", token, note="x" * 300)
    assert long_note.status_code == 422
    assert "note" in message(long_note.text)
    assert len(history(db)) == 1


def test_every_forecast_uses_and_names_the_calibration_in_force(
    web: TestClient, db: Database, proposal: int
) -> None:
    """The estimator's and consultation's forecasts, the comparison and the handout follow an
    adopted calibration at once, name it, and go back to the default on revert."""
    from needleplan.domain import reference_assessment

    body = {"assessment": reference_assessment().to_json_dict(), "draws": 200}

    def forecast() -> dict[str, Any]:
        res = web.post("/api/v1/forecast", json=body)
        assert res.status_code == 200, res.text
        return dict(res.json())

    before = forecast()
    assert before["calibration"] == "default"
    token = signed_in(web, "admin")
    post(web, f"adopt/{proposal}", token, note="first")
    label = calibrations.calibration_in_force(db).label
    after = forecast()
    assert after["calibration"] == label
    assert after["curve"]["median"] != before["curve"]["median"]
    compared = web.post("/api/v1/compare", json=body)
    assert compared.json()["calibration"] == label
    post(web, "revert", token, to="")
    assert forecast() == before


def test_a_calibration_adopted_through_another_worker_counts_at_once(
    web: TestClient, db: Database, proposal: int, user_store: InMemoryUserStore
) -> None:
    """Each worker process caches the parsed calibration per version number; an adoption or a
    revert made through another worker is noticed on the next forecast, not after a restart."""
    from needleplan.domain import reference_assessment

    other = create_app(
        Settings(environment="test", secret_key=TEST_SECRET),  # type: ignore[call-arg]
        user_store=user_store,
        database=Database(db.engine),
    )
    body = {"assessment": reference_assessment().to_json_dict(), "draws": 200}
    with TestClient(other, base_url="http://testserver") as second:

        def label() -> str:
            res = second.post("/api/v1/forecast", json=body)
            assert res.status_code == 200, res.text
            return str(res.json()["calibration"])

        assert label() == "default"
        token = signed_in(web, "admin")
        post(web, f"adopt/{proposal}", token, note="first")
        adopted = calibrations.calibration_in_force(db).label
        assert adopted != "default"
        assert label() == adopted
        assert label() == adopted  # from the worker's cache: the same version number
        post(web, "revert", token, to="")
        assert label() == "default"
