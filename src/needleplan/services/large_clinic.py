"""A large made-up clinic group for measuring scale (``needleplan demo --large``).

Unlike :mod:`needleplan.services.demo`, which books every course through the use-cases, this
fills an EMPTY database in bulk (COPY on PostgreSQL, executemany on SQLite;
:mod:`needleplan.storage.large_clinic`): a million patients take about two minutes instead of
days. The clinic, its practitioners and the two logins are made through the services; the
protocols come from the default guideline; the bulk rows keep the invariants the services keep
(ledger sums, slot claims of every live appointment, course states, recall entries of completed
courses). It writes no consent forms, so charting a session for a generated patient asks for
her signature first, as for any patient without one.
"""

from __future__ import annotations

import tomllib
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date

from needleplan.domain.assessment import parse_assessment
from needleplan.domain.records import Role
from needleplan.exceptions import ConflictError, InputError
from needleplan.guideline import load_guideline, make_protocol
from needleplan.scheduling import ClinicConfig
from needleplan.scheduling.clinic import parse_clinic
from needleplan.services._clock import utc_now
from needleplan.services.accounts import password_hasher
from needleplan.services.clinic_calendar import save_clinic_config
from needleplan.services.practitioners import add_practitioner, ensure_clinic
from needleplan.storage import Database
from needleplan.storage.large_clinic import CourseTemplate, write_large_clinic

LARGE_CLINIC_NAME = "Large Skin Clinic Group"
LARGE_TIMEZONE = "Europe/Berlin"
LARGE_PASSWORD = "demo-password"
MAX_PATIENTS = 2_000_000

_AREAS = (["full_face"], ["full_face", "neck"], ["under_eyes"], ["neck", "chest"])
_SEVERITY = ("mild", "moderate", "advanced", "severe")
_AGES = (34, 41, 47, 53, 59, 66)


@dataclass(frozen=True)
class LargeClinicSummary:
    patients: int
    practitioners: int
    courses: dict[str, int]
    appointments: int
    slot_claims: int
    sessions: int
    measurements: int
    recalls: int
    contact_attempts: int
    users: list[str]


def large_clinic_toml(practitioners: int = 20) -> str:
    """The calendar the large clinic's bookings obey, as clinic TOML (docs/scheduling.md):
    Monday to Friday 09:00-17:00 (Berlin), half-hour sessions on a half-hour grid, no holidays,
    ``Practitioner 01`` ... working whenever it is open. The generator saves it as the clinic's
    calendar in force."""
    days = "\n".join(
        f'{day} = ["09:00-17:00"]'
        for day in ("monday", "tuesday", "wednesday", "thursday", "friday")
    )
    staff = "\n".join(
        f'[[practitioners]]\nname = "Practitioner {k + 1:02d}"\n' for k in range(practitioners)
    )
    return (
        f'name = "{LARGE_CLINIC_NAME}"\ntimezone = "{LARGE_TIMEZONE}"\nslot_minutes = 30\n'
        f'preferred_start = "09:00"\n\n[opening_hours]\n{days}\n\n'
        f"[session_minutes]\ndefault = 30\n\n{staff}"
    )


def large_clinic_calendar(practitioners: int = 20) -> ClinicConfig:
    """:func:`large_clinic_toml` as a clinic configuration."""
    return parse_clinic(tomllib.loads(large_clinic_toml(practitioners)), source="<large clinic>")


def course_templates() -> list[CourseTemplate]:
    """The assessments generated patients share, each with the default guideline's protocol."""
    guideline = load_guideline()
    out: list[CourseTemplate] = []
    for age in _AGES:
        for k, areas in enumerate(_AREAS):
            for s, severity in enumerate(_SEVERITY):
                assessment = parse_assessment(
                    {
                        "age": age,
                        "severity": severity,
                        "areas": areas,
                        "smoking": "current" if (k + s) % 7 == 0 else "never",
                        "sun_exposure": ("low", "moderate", "high")[(k + s + age) % 3],
                        "aftercare": "poor" if (k * 3 + s) % 10 == 0 else "good",
                        "fitzpatrick_type": 1 + (age + k + s) % 6,
                    }
                )
                protocol = make_protocol(assessment, guideline)
                out.append(
                    CourseTemplate(
                        age=age,
                        assessment=assessment.to_json_dict(),
                        protocol=protocol.model_dump(mode="json"),
                        guideline_version=protocol.guideline_version,
                        sessions=protocol.initial_sessions,
                        interval_days=protocol.recommended_interval_days,
                        maintenance_months=protocol.maintenance_interval_months.min,
                        areas=[a.value for a in assessment.areas],
                    )
                )
    return [t for t in out if t.sessions > 0]


def fill_large_clinic(
    db: Database,
    *,
    patients: int,
    seed: int = 7,
    today: date | None = None,
    practitioners: int = 20,
    progress: Callable[[str, int], None] | None = None,
) -> LargeClinicSummary:
    """Fill an empty database with a large clinic group: ``practitioners`` practitioners,
    ``patients`` patients (each assessed; one in seven with a course in any state, its
    appointments, performed sessions, measurements, recall entry and contact attempts) and the
    logins ``admin`` and ``frontdesk`` (password ``demo-password``). Deterministic for a seed
    and a day. Refuses a database that has patients or users (``ConflictError``)."""
    if isinstance(patients, bool) or not 1 <= patients <= MAX_PATIENTS:
        raise InputError.one("patients", patients, f"must be between 1 and {MAX_PATIENTS}")
    if not 1 <= practitioners <= 100:
        raise InputError.one("practitioners", practitioners, "must be between 1 and 100")
    with db.transaction() as uow:
        if uow.patients.count() or uow.users.all():
            raise ConflictError("demo needs an empty database (patients or users already exist)")
    day = today or utc_now().date()
    clinic = ensure_clinic(db, LARGE_CLINIC_NAME, LARGE_TIMEZONE)
    staff = [
        add_practitioner(db, p.name, clinic_id=clinic.id).id
        for p in large_clinic_calendar(practitioners).practitioners
    ]
    save_clinic_config(db, large_clinic_toml(practitioners), None, "large clinic group")
    digest = password_hasher().hash(LARGE_PASSWORD)
    with db.transaction() as uow:
        now = utc_now()
        uow.users.add("admin", digest, Role.ADMIN, None, now)
        desk = uow.users.add("frontdesk", digest, Role.FRONT_DESK, None, now)
    counts = write_large_clinic(
        db.engine,
        patients=patients,
        seed=seed,
        today=day,
        timezone=LARGE_TIMEZONE,
        practitioner_ids=staff,
        templates=course_templates(),
        desk_user_id=desk.id,
        progress=progress,
    )
    return LargeClinicSummary(
        patients=patients,
        practitioners=practitioners,
        courses=dict(sorted((counts.courses or {}).items())),
        appointments=counts.appointments,
        slot_claims=counts.slot_claims,
        sessions=counts.sessions,
        measurements=counts.measurements,
        recalls=counts.recalls,
        contact_attempts=counts.contact_attempts,
        users=["admin", "frontdesk"],
    )
