"""The same role rules from the library, the CLI and the web app: a front-desk account may not
record an assessment or a measurement, whichever way it asks, and nothing is stored.

The library and the CLI are refused by the same service check (``services.audited``), with the
same message naming the account, its role and the action; the web app answers 403 naming the
role and the permission it lacks.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from needleplan import services
from needleplan.exceptions import PermissionDeniedError
from tests.cli_support import invoke

from .patients_fixtures import JANE_AGE, ClinicApp, bearer, clinic_app, web

__all__ = ["clinic_app", "web"]

ASSESSMENT = {"age": JANE_AGE, "severity": "advanced", "areas": ["neck"]}
MEASUREMENT = {"scale": "gais", "value": 2, "measured_at": "2026-03-01T10:00:00Z"}


@dataclass(frozen=True)
class UseCase:
    action: str
    library: Callable[[ClinicApp], object]
    cli: Callable[[int, Path], list[str]]
    api_path: str
    body: dict[str, object]


def _assess_in_library(app: ClinicApp) -> object:
    return services.record_assessment(app.db, app.patient_id, ASSESSMENT)


def _measure_in_library(app: ClinicApp) -> object:
    return services.record_measurement(app.db, app.patient_id, MEASUREMENT)


def _assess_args(pid: int, tmp: Path) -> list[str]:
    source = tmp / "assessment.json"
    source.write_text(json.dumps(ASSESSMENT), encoding="utf-8")
    return ["patient", "assess", str(pid), "--from", str(source)]


def _measure_args(pid: int, _tmp: Path) -> list[str]:
    return ["measure", "add", str(pid), "--scale", "gais", "--value", "2"]


USE_CASES = [
    UseCase(
        "assessment.create",
        _assess_in_library,
        _assess_args,
        "assessments",
        {"assessment": ASSESSMENT},
    ),
    UseCase("measurement.create", _measure_in_library, _measure_args, "measurements", MEASUREMENT),
]


def _stored(app: ClinicApp) -> tuple[int, int, int]:
    pid = app.patient_id
    return (
        len(services.assessment_history(app.db, pid)),
        len(services.measurements_for(app.db, pid)),
        len(services.audit_log(app.db, limit=1000)),
    )


@pytest.mark.parametrize("case", USE_CASES, ids=lambda c: c.action)
def test_front_desk_is_refused_alike_by_library_cli_and_web(
    clinic_app: ClinicApp, web: TestClient, tmp_path: Path, case: UseCase
) -> None:
    desk = services.find_user(clinic_app.db, clinic_app.user_ids["desk"])
    assert desk is not None
    headers = bearer(clinic_app, "desk")
    before = _stored(clinic_app)
    message = f"desk (front_desk) may not do {case.action}: it needs the clinical permission"

    # the library: the use-case inside services.audited as the account
    with (
        pytest.raises(PermissionDeniedError) as refused,
        services.audited(clinic_app.db, desk, case.action, clinic_app.patient_id),
    ):
        case.library(clinic_app)
    assert str(refused.value) == message

    # the CLI, acting as the same account on the same database
    result = invoke(
        ["--as", "desk", *case.cli(clinic_app.patient_id, tmp_path)],
        env={"NEEDLEPLAN_DATABASE_URL": f"sqlite:///{tmp_path / 'clinic.sqlite3'}"},
    )
    assert result.returncode == 7  # EXIT_FORBIDDEN (docs/cli.md)
    assert message in result.stderr

    # the web API with the account's token
    response = web.post(
        f"/api/v1/patients/{clinic_app.patient_id}/{case.api_path}", json=case.body, headers=headers
    )
    assert response.status_code == 403
    [problem] = response.json()["errors"]
    assert problem["value"] == "front_desk"
    assert "clinical" in problem["rule"]

    # nothing stored; each refusal is on the audit trail (issue 17 L3), nothing else
    assessments, measurements, audit_rows = _stored(clinic_app)
    assert (assessments, measurements) == before[:2]
    added = services.audit_log(clinic_app.db, limit=audit_rows - before[2])
    assert [e.action for e in added] == ["access.refused"] * 3
    assert {e.username for e in added} == {"desk"}


@pytest.mark.parametrize("case", USE_CASES, ids=lambda c: c.action)
def test_a_practitioner_may_do_what_front_desk_may_not(
    clinic_app: ClinicApp, web: TestClient, tmp_path: Path, case: UseCase
) -> None:
    prac = services.find_user(clinic_app.db, clinic_app.user_ids["prac"])
    assert prac is not None
    assessments, measurements, _ = _stored(clinic_app)
    with services.audited(clinic_app.db, prac, case.action, clinic_app.patient_id):
        case.library(clinic_app)
    result = invoke(
        ["--as", "prac", *case.cli(clinic_app.patient_id, tmp_path)],
        env={"NEEDLEPLAN_DATABASE_URL": f"sqlite:///{tmp_path / 'clinic.sqlite3'}"},
    )
    assert result.returncode == 0, result.stderr
    response = web.post(
        f"/api/v1/patients/{clinic_app.patient_id}/{case.api_path}",
        json=case.body,
        headers=bearer(clinic_app, "prac"),
    )
    assert response.status_code == 201, response.text
    added = (3, 0) if case.action == "assessment.create" else (0, 3)
    after = _stored(clinic_app)
    assert (after[0] - assessments, after[1] - measurements) == added
