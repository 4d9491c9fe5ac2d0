"""A made-up clinic for trying needleplan: hundreds of patients in every course state, in seconds.

The rows are built in memory with explicit ids and written with one multi-row insert per table
(the slow part of going through the use-cases one by one is the per-row round trip). The same
invariants the services keep hold here and are tested: a course's ledger sums to its remaining
sessions, performed sessions match performed appointments, live appointments hold their slot
claims, completed courses have a recall entry at the protocol's shortest maintenance interval.
"""

from __future__ import annotations

import calendar
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import numpy as np
from sqlalchemy import func, insert, select, text

from needleplan.domain.assessment import parse_assessment
from needleplan.domain.records import (
    AppointmentKind,
    AppointmentStatus,
    CourseStatus,
    RecallStatus,
    Role,
)
from needleplan.exceptions import ConflictError, InputError
from needleplan.guideline import load_guideline, make_protocol
from needleplan.storage.database import UnitOfWork
from needleplan.storage.repositories import slot_starts
from needleplan.storage.tables import metadata

GIVEN = [
    "Anna",
    "Beate",
    "Clara",
    "Dora",
    "Elif",
    "Fatma",
    "Greta",
    "Hanna",
    "Ines",
    "Julia",
    "Katrin",
    "Lea",
    "Maria",
    "Nina",
    "Olga",
    "Petra",
    "Rosa",
    "Sara",
    "Tanja",
    "Ute",
    "Vera",
    "Wiebke",
    "Yasmin",
    "Zoe",
    "Agnes",
    "Birgit",
    "Carla",
    "Dana",
    "Emma",
    "Frieda",
]
FAMILY = [
    "Abel",
    "Bauer",
    "Conrad",
    "Demir",
    "Engel",
    "Fischer",
    "Graf",
    "Hahn",
    "Iske",
    "Jung",
    "Keller",
    "Lang",
    "Meyer",
    "Neumann",
    "Otto",
    "Peters",
    "Quast",
    "Roth",
    "Schulz",
    "Thiel",
    "Ulrich",
    "Vogt",
    "Wagner",
    "Yilmaz",
    "Zimmer",
    "Brandt",
    "Krause",
    "Lorenz",
]
PRACTITIONERS = ("Dr. Lena Vogel", "Marta Nowak", "Dr. Aylin Kaya")
STATES = ("completed", "active", "planned", "lapsed", "cancelled")
STATE_WEIGHTS = (0.45, 0.25, 0.12, 0.10, 0.08)
DEMO_PASSWORD = "demo-password"


@dataclass(frozen=True)
class DemoSummary:
    patients: int
    courses: dict[str, int]
    appointments: int
    sessions: int
    measurements: int
    recalls: int
    users: list[str]


def _add_months(day: date, months: int) -> date:
    index = day.month - 1 + months
    year, month = day.year + index // 12, index % 12 + 1
    return date(year, month, min(day.day, calendar.monthrange(year, month)[1]))


class _Ids:
    def __init__(self, uow: UnitOfWork) -> None:
        self.next: dict[str, int] = {}
        for table in metadata.sorted_tables:
            if "id" in table.c:
                top = uow.session.execute(select(func.max(table.c.id))).scalar()
                self.next[table.name] = int(top or 0) + 1

    def take(self, table: str) -> int:
        value = self.next[table]
        self.next[table] = value + 1
        return value


def fill(
    uow: UnitOfWork,
    *,
    patients: int,
    seed: int,
    today: date,
    password_hash: str,
    now: datetime,
) -> DemoSummary:
    """Write the demo clinic into ``uow`` (the database must hold no patients or users)."""
    if not 1 <= patients <= 5000:
        raise InputError.one("patients", patients, "must be between 1 and 5000")
    if uow.patients.count() or uow.users.all():
        raise ConflictError("demo needs an empty database (patients or users already exist)")
    rng = np.random.default_rng(seed)
    zone = ZoneInfo("Europe/Berlin")
    guideline = load_guideline()
    ids = _Ids(uow)
    rows: dict[str, list[dict[str, Any]]] = {t.name: [] for t in metadata.sorted_tables}

    clinic = uow.clinics.first()
    clinic_id = clinic.id if clinic else ids.take("clinics")
    if clinic is None:
        rows["clinics"].append(
            {
                "id": clinic_id,
                "name": "Demo Skin Clinic",
                "timezone": "Europe/Berlin",
                "created_at": now,
            }
        )
    staff: list[int] = []
    for name in PRACTITIONERS:
        pid = ids.take("practitioners")
        staff.append(pid)
        rows["practitioners"].append(
            {"id": pid, "clinic_id": clinic_id, "name": name, "active": True}
        )
    users = [
        ("admin", Role.ADMIN, None),
        ("practitioner", Role.PRACTITIONER, staff[0]),
        ("frontdesk", Role.FRONT_DESK, None),
    ]
    for username, role, who in users:
        rows["users"].append(
            {
                "id": ids.take("users"),
                "username": username,
                "password_hash": password_hash,
                "role": role.value,
                "practitioner_id": who,
                "active": True,
                "created_at": now,
            }
        )

    taken: set[tuple[int, datetime]] = set()

    def place(day: date, minutes: int) -> tuple[datetime, datetime, int]:
        for offset in range(90):
            d = day + timedelta(days=offset)
            if d.weekday() >= 5:
                continue
            for hour in rng.permutation(np.arange(9, 17)):
                who = staff[int(rng.integers(len(staff)))]
                start = datetime(d.year, d.month, d.day, int(hour), tzinfo=zone).astimezone(UTC)
                if (who, start) in taken:
                    continue
                taken.add((who, start))
                return start, start + timedelta(minutes=minutes), who
        raise ConflictError("the demo calendar is full")  # pragma: no cover - 3 staff, 8 h/day

    course_counts = {s.value: 0 for s in CourseStatus}
    for i in range(patients):
        age = int(rng.integers(32, 72))
        given = GIVEN[int(rng.integers(len(GIVEN)))]
        family = FAMILY[int(rng.integers(len(FAMILY)))]
        patient_id = ids.take("patients")
        rows["patients"].append(
            {
                "id": patient_id,
                "mrn": f"P{patient_id:06d}",
                "given_name": given,
                "family_name": family,
                "birth_date": date(
                    today.year - age, int(rng.integers(1, 13)), int(rng.integers(1, 29))
                ),
                "sex": "female" if rng.random() < 0.9 else "male",
                "email": f"{given.lower()}.{family.lower()}{i}@example.org",
                "phone": f"+49 30 {int(rng.integers(1_000_000, 9_999_999))}",
                "consent_treatment": True,
                "consent_contact": bool(rng.random() < 0.85),
                "consent_research": bool(rng.random() < 0.4),
                "notes": "",
                "created_at": now,
            }
        )
        state = STATES[int(rng.choice(len(STATES), p=STATE_WEIGHTS))]
        areas = [["full_face"], ["full_face", "neck"], ["under_eyes"], ["neck", "chest"]][
            int(rng.integers(4))
        ]
        assessment = parse_assessment(
            {
                "age": age,
                "severity": ["mild", "moderate", "advanced", "severe"][
                    int(rng.choice(4, p=[0.2, 0.45, 0.25, 0.1]))
                ],
                "areas": areas,
                "smoking": "current" if rng.random() < 0.12 else "never",
                "sun_exposure": ["low", "moderate", "high"][int(rng.integers(3))],
                "aftercare": "poor" if rng.random() < 0.1 else "good",
                "fitzpatrick_type": int(rng.integers(1, 7)),
            }
        )
        protocol = make_protocol(assessment, guideline)
        sessions = protocol.initial_sessions
        interval = protocol.recommended_interval_days
        done = 0
        if state == "completed":
            first = today - timedelta(days=interval * (sessions - 1) + int(rng.integers(30, 500)))
        elif state in ("active", "lapsed"):
            done = int(rng.integers(1, sessions))
            first = today - timedelta(days=interval * done - int(rng.integers(1, interval)))
        else:
            first = today + timedelta(days=int(rng.integers(3, 60)))
        assessed = datetime.combine(
            first - timedelta(days=14), datetime.min.time(), zone
        ).astimezone(UTC)
        assessment_id = ids.take("assessments")
        rows["assessments"].append(
            {
                "id": assessment_id,
                "patient_id": patient_id,
                "assessed_at": assessed,
                "assessed_by": staff[0],
                "data": assessment.to_json_dict(),
                "notes": "",
            }
        )
        course_id = ids.take("courses")
        ledger = [(assessed, sessions, "initial sessions planned")]
        minutes = 60 if "full_face" in areas else 45
        depth = {a: (0.5 if a == "under_eyes" else 1.5) for a in areas}
        performed_dates: list[datetime] = []
        status = CourseStatus.PLANNED
        changed_at = assessed
        for k in range(sessions):
            start, end, who = place(first + timedelta(days=k * interval), minutes)
            past = start.date() < today
            if state == "cancelled":
                appt_status = AppointmentStatus.CANCELLED
            elif past and state == "lapsed" and k >= done - 1 and k > 0:
                appt_status = AppointmentStatus.MISSED
            elif past and state in ("completed", "active", "lapsed"):
                appt_status = AppointmentStatus.PERFORMED
            elif state == "lapsed":
                appt_status = AppointmentStatus.CANCELLED
            else:
                appt_status = AppointmentStatus.BOOKED
            appt_id = ids.take("appointments")
            rows["appointments"].append(
                {
                    "id": appt_id,
                    "patient_id": patient_id,
                    "course_id": course_id,
                    "practitioner_id": who,
                    "kind": AppointmentKind.TREATMENT.value,
                    "session_number": k + 1,
                    "start_at": start,
                    "end_at": end,
                    "status": appt_status.value,
                    "note": "",
                    "created_at": assessed,
                }
            )
            if appt_status is not AppointmentStatus.CANCELLED:
                rows["slot_claims"].extend(
                    {"practitioner_id": who, "slot_start": s, "appointment_id": appt_id}
                    for s in slot_starts(start, end)
                )
            if appt_status is not AppointmentStatus.PERFORMED:
                continue
            session_id = ids.take("performed_sessions")
            rows["performed_sessions"].append(
                {
                    "id": session_id,
                    "patient_id": patient_id,
                    "course_id": course_id,
                    "appointment_id": appt_id,
                    "performed_at": start,
                    "areas": list(areas),
                    "device": "Dermapen 4",
                    "needle_depth_mm": depth,
                    "passes": int(rng.integers(2, 5)),
                    "product": "hyaluronic serum",
                    "lot": f"HS{int(rng.integers(1000, 9999))}",
                    "practitioner_id": who,
                    "notes": "",
                    "adverse_events": [{"kind": "erythema", "severity": "mild", "note": ""}]
                    if rng.random() < 0.2
                    else [],
                }
            )
            performed_dates.append(start)
            if status is CourseStatus.PLANNED:
                status, changed_at = CourseStatus.ACTIVE, start
            ledger.append((start, -1, f"session {session_id} performed"))
            if k > 0:
                rows["measurements"].append(
                    {
                        "id": ids.take("measurements"),
                        "patient_id": patient_id,
                        "course_id": course_id,
                        "scale": "gais",
                        "value": float(rng.choice([1, 2, 2, 3, 3, 4])),
                        "measured_at": start,
                        "measured_by": who,
                        "area": None,
                        "note": "",
                    }
                )
        if state == "completed":
            status, changed_at = CourseStatus.COMPLETED, performed_dates[-1]
            last = performed_dates[-1]
            rows["measurements"].append(
                {
                    "id": ids.take("measurements"),
                    "patient_id": patient_id,
                    "course_id": course_id,
                    "scale": "satisfaction",
                    "value": float(rng.integers(5, 11)),
                    "measured_at": last,
                    "measured_by": None,
                    "area": None,
                    "note": "",
                }
            )
            recall_id = ids.take("recall_entries")
            opted_out = rng.random() < 0.08
            rows["recall_entries"].append(
                {
                    "id": recall_id,
                    "patient_id": patient_id,
                    "course_id": course_id,
                    "due_date": _add_months(last.date(), protocol.maintenance_interval_months.min),
                    "reason": "maintenance after course",
                    "status": (RecallStatus.OPTED_OUT if opted_out else RecallStatus.OPEN).value,
                    "created_at": last,
                    "closed_at": now if opted_out else None,
                }
            )
            for _ in range(int(rng.integers(0, 3))):
                rows["contact_attempts"].append(
                    {
                        "id": ids.take("contact_attempts"),
                        "recall_id": recall_id,
                        "at": now,
                        "channel": "phone",
                        "outcome": str(rng.choice(["no_answer", "left_message", "call_back"])),
                        "note": "",
                        "by_user_id": None,
                    }
                )
        elif state in ("lapsed", "cancelled"):
            status, changed_at = CourseStatus(state), now
        remaining = 0
        for at, delta, reason in ledger:
            remaining += delta
            rows["course_ledger"].append(
                {
                    "id": ids.take("course_ledger"),
                    "course_id": course_id,
                    "at": at,
                    "delta": delta,
                    "reason": reason,
                    "remaining_after": remaining,
                }
            )
        rows["courses"].append(
            {
                "id": course_id,
                "patient_id": patient_id,
                "assessment_id": assessment_id,
                "status": status.value,
                "planned_sessions": sessions,
                "remaining_sessions": remaining,
                "protocol": protocol.model_dump(mode="json"),
                "guideline_version": protocol.guideline_version,
                "created_at": assessed,
                "status_changed_at": changed_at,
                "note": "",
            }
        )
        course_counts[status.value] += 1

    for table in metadata.sorted_tables:
        if rows[table.name]:
            uow.session.execute(insert(table), rows[table.name])
    if uow.session.get_bind().dialect.name == "postgresql":
        reset_sequences(uow)
    return DemoSummary(
        patients=patients,
        courses=course_counts,
        appointments=len(rows["appointments"]),
        sessions=len(rows["performed_sessions"]),
        measurements=len(rows["measurements"]),
        recalls=len(rows["recall_entries"]),
        users=[u[0] for u in users],
    )


def reset_sequences(uow: UnitOfWork) -> None:
    """PostgreSQL: move each ``id`` sequence past the largest id (after explicit-id inserts)."""
    for table in metadata.sorted_tables:
        if "id" in table.c and table.c.id.primary_key:
            uow.session.execute(
                text(
                    f"SELECT setval(pg_get_serial_sequence('{table.name}', 'id'), "
                    f"COALESCE((SELECT MAX(id) FROM {table.name}), 1), "
                    f"(SELECT MAX(id) FROM {table.name}) IS NOT NULL)"
                )
            )
