"""Benchmark: clinic records on SQLite.

Case: filling a demo clinic. Candidate: :func:`needleplan.services.fill_demo_clinic` (built
through the use-cases and booked in the demo calendar, in one transaction). Baseline: the same kind of clinic
through the use-cases one record at a time (register, assess, book, record sessions: one
transaction each), which is what importing a clinic naively costs.

Figures: absolute times for the 300-patient demo (wall clock and this process's CPU), a
consistent backup of it, and a restore.
"""

from __future__ import annotations

import os
import shutil
import tempfile
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

from needleplan import services
from needleplan.domain import reference_assessment
from needleplan.domain.accounts import Role, User
from needleplan.guideline import make_protocol
from needleplan.services._clock import NOW_VARIABLE
from needleplan.services.consent_forms import sign_consent
from needleplan.services.demo import demo_signature_png
from needleplan.storage import Database
from needleplan.storage.backup import backup, restore

TODAY = date(2026, 11, 21)
PATIENTS = 60
SIGNER = User(
    id=0, username="bench", role=Role.FRONT_DESK, created_at=datetime(2026, 1, 1, tzinfo=UTC)
)
SIGNATURE = demo_signature_png()

#: The one-by-one case books from this Monday on and charts three sessions of each course: it
#: runs on the services' clock (NEEDLEPLAN_NOW) set the day before to book, later to chart.
START = datetime(2026, 1, 5, 9, tzinfo=UTC)
BOOK_AT = "2026-01-04T12:00+00:00"
CHART_AT = "2026-12-01T12:00+00:00"
#: Her birth date: 50 on the booking day, as the reference assessment says (age is checked).
BORN_50 = "1976-01-01"


@contextmanager
def _clock(iso: str) -> Iterator[None]:
    before = os.environ.get(NOW_VARIABLE)
    os.environ[NOW_VARIABLE] = iso
    try:
        yield
    finally:
        if before is None:
            os.environ.pop(NOW_VARIABLE, None)
        else:
            os.environ[NOW_VARIABLE] = before


def _fresh() -> tuple[Database, Path]:
    folder = Path(tempfile.mkdtemp(prefix="np-bench-"))
    return Database.open(f"sqlite:///{folder / 'b.sqlite3'}"), folder


def _bulk(n: int = PATIENTS) -> None:
    db, folder = _fresh()
    try:
        services.fill_demo_clinic(db, patients=n, seed=1, today=TODAY)
    finally:
        db.dispose()
        shutil.rmtree(folder)


def _one_by_one(n: int = PATIENTS) -> None:
    db, folder = _fresh()
    try:
        who = services.add_practitioner(db, "Dr. Bench")
        protocol = make_protocol(reference_assessment())
        t0 = START
        for i in range(n):
            with _clock(BOOK_AT):
                _book_and_chart(db, who.id, protocol, t0, i)
            t0 += timedelta(days=1) if i % 8 == 7 else timedelta(0)
    finally:
        db.dispose()
        shutil.rmtree(folder)


def _book_and_chart(db: Database, who: int, protocol: Any, t0: datetime, i: int) -> None:
    """One patient through the use-cases: register, assess, book (the clock on the day before),
    sign the treatment consent, then chart three sessions (the clock after them)."""
    p = services.register_patient(
        db,
        {
            "given_name": "Bench",
            "family_name": f"P{i}",
            "birth_date": BORN_50,
            "consent_treatment": True,
        },
    )
    record = services.record_assessment(db, p.id, reference_assessment())
    slots = [
        (
            t0 + timedelta(days=35 * k, hours=i % 8),
            t0 + timedelta(days=35 * k, hours=i % 8, minutes=60),
            who,
        )
        for k in range(protocol.initial_sessions)
    ]
    booking = services.book_course(db, p.id, protocol, slots, assessment_id=record.id)
    # she signs her treatment consent (one PDF) before a session can be charted
    sign_consent(db, SIGNER, p.id, "treatment", SIGNATURE, "bench tablet")
    with _clock(CHART_AT):
        for appt in booking.appointments[:3]:
            services.record_session(
                db,
                {
                    "performed_at": appt.start,
                    "areas": ["full_face"],
                    "device": "pen",
                    "needle_depth_mm": {"full_face": 1.5},
                    "passes": 2,
                    "practitioner_id": who,
                },
                appointment_id=appt.id,
            )


def cases() -> list[tuple[str, Callable[[], object], Callable[[], object]]]:
    return [(f"fill a {PATIENTS}-patient clinic", _bulk, _one_by_one)]


def figures() -> list[tuple[str, str, str, bool]]:
    db, folder = _fresh()
    try:
        t, cpu = time.perf_counter(), time.process_time()
        services.fill_demo_clinic(db, patients=300, seed=7, today=TODAY)
        demo_s = time.perf_counter() - t
        demo_cpu = time.process_time() - cpu
        t = time.perf_counter()
        counts = backup(db.engine, folder / "b.json.gz")
        backup_s = time.perf_counter() - t
        target = Database.open(f"sqlite:///{folder / 'r.sqlite3'}")
        t = time.perf_counter()
        restore(target.engine, folder / "b.json.gz")
        restore_s = time.perf_counter() - t
        target.dispose()
    finally:
        db.dispose()
        shutil.rmtree(folder)
    rows = sum(counts.values())
    return [
        # What `make run` and `needleplan demo` keep a user waiting, once. The target was 3 s
        # while the demo was bulk inserts; since issue 10 every demo record goes through the
        # services (1,800 bookings checked against the demo calendar, 230 signed consent PDFs,
        # every change audited), about 30 ms a patient, so the target is 10 s now. CPU time
        # tells a loaded machine apart.
        ("demo clinic, 300 patients, wall [s]", f"{demo_s:.2f}", "< 10", demo_s < 10),
        ("demo clinic, 300 patients, CPU [s]", f"{demo_cpu:.2f}", "< 10", demo_cpu < 10),
        (f"backup, {rows} rows [s]", f"{backup_s:.2f}", "< 5", backup_s < 5),
        (f"restore, {rows} rows [s]", f"{restore_s:.2f}", "< 10", restore_s < 10),
    ]
