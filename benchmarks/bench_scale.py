"""Benchmark: a large clinic group (issue 16, point 4; docs/scale.md). Opt-in.

Needs the clinics ``benchmarks/scale_setup.py`` makes (``make bench-scale`` runs both): a
million patients on PostgreSQL and 100,000 on SQLite, written by ``needleplan demo --large``.
Without ``$NEEDLEPLAN_SCALE_DIR/urls.json`` (default ``.scale/urls.json``) it prints one row
saying so and measures nothing.

Figures, best of several calls, through the real services and the staff pages (in-process
HTTP with a signed-in front-desk account, audit events included): the recall worklist (due
this month, 50 rows, by due date), the patient search by name prefix, phone and e-mail, the
calendar week of all 20 practitioners, and booking a 5-session course (plan, date and book,
then cancelled again so the clinic stays as it was). Value (the best wall time, the CPU time
this process spent in that call, and the machine's load average then), target, and the ratio
value/target (below 1: met).
"""

from __future__ import annotations

import json
import os
import time
import warnings
from collections.abc import Callable
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

from needleplan import services
from needleplan.domain.records import CourseStatus
from needleplan.services.clinic_calendar import current_clinic_config, save_clinic_config
from needleplan.services.large_clinic import (
    LARGE_PASSWORD,
    large_clinic_calendar,
    large_clinic_toml,
)
from needleplan.storage import Database

TARGETS_MS = {
    "postgresql": {"recall": 50, "search": 50, "calendar": 100, "booking": 200},
    "sqlite": {"recall": 100, "search": 100, "calendar": 100, "booking": 100},
}


def _urls() -> dict[str, Any]:
    path = Path(os.environ.get("NEEDLEPLAN_SCALE_DIR", ".scale")) / "urls.json"
    if not path.exists():
        return {}
    data: dict[str, Any] = json.loads(path.read_text(encoding="utf-8"))
    if "pg_dir" in data.get("postgresql", {}):  # the server may have been stopped since
        from scale_setup import pg_server

        pg_server(Path(data["postgresql"]["pg_dir"]))
    return data


def _best(fn: Callable[[], object], rounds: int = 5) -> tuple[float, float]:
    """The best wall time of ``rounds`` calls (after one warm-up) and the CPU time this
    process spent in that call [s] (the database server's CPU is not in it)."""
    fn()
    best, cpu = float("inf"), 0.0
    for _ in range(rounds):
        t0, c0 = time.perf_counter(), time.process_time()
        fn()
        wall = time.perf_counter() - t0
        if wall < best:
            best, cpu = wall, time.process_time() - c0
    return best, cpu


def _load() -> str:
    """The machine's load average over the last minute (the figures depend on it)."""
    return f"{os.getloadavg()[0]:.1f}"


def _client(db: Database) -> Any:
    from needleplan.web import Settings, create_app

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        from fastapi.testclient import TestClient
    app = create_app(
        Settings(environment="test", secret_key="bench-" + "x" * 40, api_burst=10**9),
        database=db,
    )
    client = TestClient(app, base_url="http://testserver")
    page = client.get("/login").text
    token = page.split('name="csrf_token" value="', 1)[1].split('"', 1)[0]
    answer = client.post(
        "/login",
        data={"username": "frontdesk", "password": LARGE_PASSWORD, "csrf_token": token},
        follow_redirects=False,
    )
    if answer.status_code != 303:
        raise RuntimeError(f"sign-in failed: {answer.status_code}")
    return client


def _get(client: Any, path: str) -> Callable[[], object]:
    def call() -> object:
        answer = client.get(path)
        if answer.status_code != 200:
            raise RuntimeError(f"{path}: {answer.status_code}")
        return answer

    return call


def _five_session_patients(db: Database, count: int, first: int) -> list[int]:
    """Patients without a course (from id ``first`` on) whose latest assessment gives a
    5-session protocol with the default guideline."""
    from needleplan.guideline import make_protocol

    found: list[int] = []
    patient_id = first
    while len(found) < count:
        patient_id += 1
        with db.transaction() as uow:
            if uow.courses.for_patient(patient_id):
                continue
            latest = uow.assessments.history(patient_id)[0]
        if make_protocol(latest.assessment).initial_sessions == 5:
            found.append(patient_id)
    return found


def _measure(backend: str, url: str, patients: int) -> list[tuple[str, str, str, bool, str, str]]:
    db = Database.open(url)
    try:
        clinic = large_clinic_calendar()
        current = current_clinic_config(db)
        if current is None or current[1].name != clinic.name:
            save_clinic_config(db, large_clinic_toml(), None, "large clinic group")
        today = datetime.now(clinic.tz).date()
        sample = services.get_patient(db, patients // 2)
        email, phone = sample.email or "", sample.phone or ""
        prefix = sample.family_name[:6]
        monday = today - timedelta(days=today.weekday())
        week_start = datetime.combine(monday, datetime.min.time(), clinic.tz).astimezone(UTC)
        client = _client(db)
        targets = TARGETS_MS[backend]
        cases: list[tuple[str, str, Callable[[], object]]] = [
            (
                "recall worklist, due this month, 50 rows (service)",
                "recall",
                lambda: services.recall_worklist(db, today=today, tab="month", per_page=50),
            ),
            ("GET /app/recall (page, 25 rows)", "recall", _get(client, "/app/recall")),
            (
                f"patient search, name prefix {prefix!r} (service)",
                "search",
                lambda: services.search_patients(db, prefix),
            ),
            (
                "patient search, phone (service)",
                "search",
                lambda: services.search_patients(db, phone),
            ),
            (
                "patient search, e-mail (service)",
                "search",
                lambda: services.search_patients(db, email),
            ),
            (
                f"GET /app/patients?q={prefix}",
                "search",
                _get(client, f"/app/patients?q={prefix}"),
            ),
            (
                "calendar week, 20 practitioners (service)",
                "calendar",
                lambda: services.appointments_between(
                    db, week_start, week_start + timedelta(days=7)
                ),
            ),
            (
                "GET /app/calendar?view=week&practitioner=all",
                "calendar",
                _get(client, f"/app/calendar?view=week&date={monday}&practitioner=all"),
            ),
        ]
        rows: list[tuple[str, str, str, bool, str, str]] = []
        label = f"{backend}, {patients:,} patients: "
        for name, kind, fn in cases:
            wall, cpu = _best(fn)
            value = wall * 1000
            target = targets[kind]
            rows.append(
                (
                    label + name,
                    f"{value:.1f} ms ({cpu * 1000:.0f} ms CPU, load {_load()})",
                    f"<= {target} ms",
                    value <= target,
                    "-",
                    f"{value / target:.2f}",
                )
            )
        rows.append(_booking(db, clinic, today, label, targets["booking"], patients // 3))
        return rows
    finally:
        db.dispose()


def _booking(
    db: Database, clinic: Any, today: date, label: str, target: int, first: int
) -> tuple[str, str, str, bool, str, str]:
    """Book a 5-session course (plan, date, book) for five patients; the best time. Each
    booked course is cancelled again afterwards (its slots freed)."""
    best, best_cpu = float("inf"), 0.0
    start = today + timedelta(days=14)
    for patient_id in _five_session_patients(db, 5, first):
        t0, c0 = time.perf_counter(), time.process_time()
        planned = services.plan_and_book_course(db, patient_id, start, clinic)
        wall = time.perf_counter() - t0
        if wall < best:
            best, best_cpu = wall, time.process_time() - c0
        services.change_course_status(db, planned.booking.course.id, CourseStatus.CANCELLED)
    value = best * 1000
    return (
        label + "booking a 5-session course (plan_and_book_course)",
        f"{value:.1f} ms ({best_cpu * 1000:.0f} ms CPU, load {_load()})",
        f"<= {target} ms",
        value <= target,
        "-",
        f"{value / target:.2f}",
    )


def cases() -> list[tuple[str, Callable[[], object], Callable[[], object]]]:
    return []


def figures() -> list[tuple[str, str, str, bool, str, str]]:
    urls = _urls()
    if not urls:
        return [
            (
                "large clinic group",
                "not measured",
                "run `make bench-scale` (docs/scale.md)",
                True,
                "-",
                "-",
            )
        ]
    rows: list[tuple[str, str, str, bool, str, str]] = []
    for backend, entry in urls.items():
        if "fill_s" in entry:
            rows.append(
                (
                    f"{backend}: needleplan demo --large --patients {entry['patients']:,}",
                    f"{entry['fill_s']:.0f} s ({entry['cpu_s']:.0f} s CPU)",
                    "about 120 s" if backend == "postgresql" else "-",
                    backend != "postgresql" or entry["fill_s"] <= 150,
                    "-",
                    "-",
                )
            )
        rows.extend(_measure(backend, entry["url"], int(entry["patients"])))
    return rows
