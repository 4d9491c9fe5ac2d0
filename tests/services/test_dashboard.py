"""The owner's dashboard figures, checked against a small dataset whose numbers are worked out by
hand below (both backends), and against the demo clinic (plausible ranges)."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import pytest

from needleplan import services
from needleplan.domain.records import Role, User
from needleplan.exceptions import InputError, PermissionDeniedError
from needleplan.scheduling import ClinicConfig, parse_clinic
from needleplan.services.dashboard import month_figures, open_minutes, parse_month
from needleplan.storage import tables

BERLIN = ZoneInfo("Europe/Berlin")
CLINIC: dict[str, Any] = {
    "name": "Figures Clinic",
    "timezone": "Europe/Berlin",
    "opening_hours": {
        day: ["09:00-18:00"] for day in ("monday", "tuesday", "wednesday", "thursday", "friday")
    },
    "practitioners": [
        {"name": "Alice"},
        {"name": "Bob", "days_off": [date(2031, 3, 17)]},
    ],
    "prices": {"initial_session": 350.0, "maintenance_session": 300.0, "currency": "EUR"},
}
ADMIN = User(id=0, username="owner", role=Role.ADMIN, created_at=datetime(2030, 1, 1, tzinfo=UTC))


def at(day: str, hm: str = "10:00") -> datetime:
    """A Berlin wall time as an aware datetime."""
    return datetime.fromisoformat(f"{day}T{hm}").replace(tzinfo=BERLIN)


def _fill(db: Any, clinic: ClinicConfig) -> dict[str, int]:
    ids = services.sync_practitioners(db, clinic)
    alice, bob = ids["Alice"], ids["Bob"]
    with db.transaction() as uow:
        s = uow.session

        def patient(n: int, created: datetime) -> int:
            row = tables.PatientRow(
                mrn=f"F{n}",
                given_name=f"P{n}",
                family_name="Figures",
                birth_date=date(1980, 1, 1),
                sex="female",
                consent_treatment=True,
                consent_contact=True,
                notes="",
                created_at=created,
            )
            s.add(row)
            s.flush()
            return int(row.id)

        # New patients: 2 in March (one on 31 March 23:30 CEST = 21:30 UTC), 1 in February; the
        # one at 00:30 CEST on 1 April (22:30 UTC on 31 March) belongs to April.
        p1 = patient(1, at("2031-03-02"))
        patient(2, at("2031-03-31", "23:30"))
        patient(3, at("2031-04-01", "00:30"))
        patient(4, at("2031-02-28", "23:30"))

        def appt(kind: str, start: str, minutes: int, who: int, status: str) -> int:
            begin = datetime.fromisoformat(start).replace(tzinfo=BERLIN)
            row = tables.AppointmentRow(
                patient_id=p1,
                course_id=None,
                practitioner_id=who,
                kind=kind,
                start_at=begin,
                end_at=begin + timedelta(minutes=minutes),
                status=status,
                note="",
                created_at=at("2031-01-01"),
            )
            s.add(row)
            s.flush()
            return int(row.id)

        a1 = appt("treatment", "2031-03-03T10:00", 60, alice, "performed")
        a2 = appt("maintenance", "2031-03-04T10:00", 60, bob, "performed")
        appt("treatment", "2031-03-05T10:00", 60, alice, "missed")
        appt("consultation", "2031-03-06T09:00", 30, alice, "arrived")
        appt("treatment", "2031-03-07T10:00", 45, bob, "cancelled")
        appt("treatment", "2031-03-28T14:00", 60, bob, "booked")
        a7 = appt("treatment", "2031-02-10T10:00", 60, alice, "performed")

        def performed(when: datetime, appointment: int | None) -> None:
            s.add(
                tables.PerformedSessionRow(
                    patient_id=p1,
                    course_id=None,
                    appointment_id=appointment,
                    performed_at=when,
                    areas=["full_face"],
                    device="pen",
                    needle_depth_mm={"full_face": 1.0},
                    passes=3,
                    practitioner_id=alice,
                    notes="",
                    adverse_events=[],
                )
            )

        performed(at("2031-03-03"), a1)
        performed(at("2031-03-04"), a2)
        performed(at("2031-03-10"), None)  # recorded without an appointment: initial
        performed(at("2031-02-10"), a7)

        for status, changed in (
            ("completed", "2031-03-12"),
            ("lapsed", "2031-03-20"),
            ("completed", "2031-03-25"),
            ("active", "2031-03-05"),
            ("cancelled", "2031-02-02"),
        ):
            s.add(
                tables.CourseRow(
                    patient_id=p1,
                    status=status,
                    planned_sessions=4,
                    remaining_sessions=0,
                    protocol={},
                    guideline_version="test",
                    created_at=at("2030-10-01"),
                    status_changed_at=at(changed),
                    note="",
                )
            )
        for status, due in (
            ("booked", date(2031, 3, 1)),
            ("open", date(2031, 3, 15)),
            ("closed", date(2031, 3, 31)),
            ("opted_out", date(2031, 3, 20)),
            ("booked", date(2031, 2, 14)),
        ):
            s.add(
                tables.RecallRow(
                    patient_id=p1,
                    due_date=due,
                    reason="maintenance",
                    status=status,
                    created_at=at("2030-12-01"),
                )
            )
        for n, (when, state) in enumerate(
            (
                ("2031-03-02", "converted"),
                ("2031-03-09", "handled"),
                ("2031-03-30", None),
                ("2031-02-27", None),
            )
        ):
            lead = tables.LeadRow(
                public_id=f"lead{n}",
                name="Someone",
                email="",
                phone="",
                message="",
                estimate_summary="",
                consent_text="yes",
                consented_at=at(when),
            )
            s.add(lead)
            s.flush()
            if state is not None:
                s.add(
                    tables.LeadStateRow(
                        lead_id=lead.id,
                        status=state,
                        changed_at=at(when),
                        changed_by="desk",
                        patient_id=p1 if state == "converted" else None,
                    )
                )
    return ids


def test_known_dataset_gives_the_numbers_worked_out_by_hand(db: Any) -> None:
    clinic = parse_clinic(CLINIC)
    ids = _fill(db, clinic)
    board = month_figures(db, clinic, date(2031, 3, 9), actor=ADMIN, today=date(2031, 4, 2))
    assert [m.label for m in board.months] == [f"2030-{m:02d}" for m in range(4, 13)] + [
        "2031-01",
        "2031-02",
        "2031-03",
    ]
    march, feb = board.current, board.months[-2]
    # sessions: a1 and the one without an appointment are initial, a2 maintenance
    assert (march.initial_sessions, march.maintenance_sessions, march.sessions) == (2, 1, 3)
    assert march.revenue == 2 * 350 + 300
    assert (feb.initial_sessions, feb.revenue) == (1, 350)
    assert (march.new_patients, feb.new_patients) == (2, 1)
    # courses: completed 12 and 25 March, lapsed 20 March -> 2 of 3; the active one did not end
    assert (march.courses_completed, march.courses_ended) == (2, 3)
    assert march.completion_rate == pytest.approx(2 / 3)
    assert (feb.courses_completed, feb.courses_ended, feb.completion_rate) == (0, 1, 0.0)
    # no-shows: 1 missed; kept = 2 performed + 1 arrived; cancelled and booked do not count
    assert (march.no_shows, march.visits_kept, march.no_show_rate) == (1, 3, 0.25)
    # recalls due in March: booked, open, closed, opted out -> 1 of 4; February's one booked
    assert (march.recalls_due, march.recalls_booked, march.recall_conversion) == (4, 1, 0.25)
    assert feb.recall_conversion == 1.0
    # contact requests: 3 in March, 1 converted; 1 in February
    assert (march.leads, march.leads_converted, feb.leads) == (3, 1, 1)
    # utilisation: Alice 60 + 60 + 30 booked of 21 weekdays x 540 min; Bob 60 + 60 (the
    # cancelled 45 min do not count) of 20 days (17 March off)
    use = {p.name: p for p in march.practitioners}
    assert (use["Alice"].booked_minutes, use["Alice"].open_minutes) == (150, 21 * 540)
    assert (use["Bob"].booked_minutes, use["Bob"].open_minutes) == (120, 20 * 540)
    assert use["Alice"].practitioner_id == ids["Alice"]
    assert march.utilisation == pytest.approx(270 / (41 * 540))
    # an empty month: zero counts, no rates
    april_2030 = board.months[0]
    assert (april_2030.sessions, april_2030.revenue, april_2030.no_show_rate) == (0, 0.0, None)
    assert april_2030.recall_conversion is None
    assert april_2030.completion_rate is None


def test_the_view_is_audited_and_needs_the_reports_permission(db: Any) -> None:
    clinic = parse_clinic(CLINIC)
    month_figures(db, clinic, date(2031, 3, 1), actor=ADMIN)
    events, total = services.search_audit(db, action="dashboard.read")
    assert total == 1
    assert events[0].detail.startswith("month=2031-03 months=12")
    assert events[0].patient_id is None
    desk = User(id=0, username="desk", role=Role.FRONT_DESK, created_at=ADMIN.created_at)
    with pytest.raises(PermissionDeniedError):
        month_figures(db, clinic, date(2031, 3, 1), actor=desk)


def test_without_prices_there_is_no_revenue(db: Any) -> None:
    clinic = parse_clinic({k: v for k, v in CLINIC.items() if k != "prices"})
    board = month_figures(db, clinic, date(2031, 3, 1), actor=ADMIN)
    assert board.currency is None
    assert all(m.revenue is None for m in board.months)


def test_open_minutes_leave_out_holidays_closures_and_days_off() -> None:
    clinic = parse_clinic(
        CLINIC
        | {
            "holidays": {"country": "DE", "subdivision": "BE"},
            "closures": [{"start": date(2031, 12, 24), "end": date(2031, 12, 31)}],
        }
    )
    # December 2031: 23 weekdays; 24-31 closed (6 weekdays: 24, 25, 26, 29, 30, 31)
    assert open_minutes(clinic, "Alice", date(2031, 12, 1), date(2032, 1, 1)) == 17 * 540
    # 17 March 2031 is Bob's day off
    assert open_minutes(clinic, "Bob", date(2031, 3, 17), date(2031, 3, 18)) == 0


@pytest.mark.parametrize("bad", ["2031-3", "March", "2031-13", "1999-12", ""])
def test_a_bad_month_names_the_field(bad: str) -> None:
    with pytest.raises(InputError) as info:
        parse_month(bad)
    assert info.value.problems[0].field == "month"


def test_the_demo_clinic_gives_plausible_figures_and_a_projection(demo_clinic: Any) -> None:
    """The demo clinic (tests/demo_support.py: 120 patients, the bundled calendar) on 21 November
    2026: every figure is within what a small clinic can do, and the projection runs on its
    patients."""
    from needleplan.cohort.projection import clinic_projection
    from needleplan.services.demo import demo_calendar

    db, today, n = demo_clinic.db, demo_clinic.spec.today, demo_clinic.spec.patients
    assert today == date(2026, 11, 21)
    clinic = demo_calendar()
    board = month_figures(db, clinic, today, actor=ADMIN, today=today)
    assert board.currency == "EUR"
    total = sum(m.sessions for m in board.months)
    assert 20 <= total <= n * 12
    for m in board.months:
        assert m.revenue == pytest.approx(m.initial_sessions * 350 + m.maintenance_sessions * 300)
        for rate in (m.completion_rate, m.no_show_rate, m.recall_conversion, m.lead_conversion):
            assert rate is None or 0.0 <= rate <= 1.0
        assert m.no_show_rate is None or m.no_show_rate <= 0.5
        for p in m.practitioners:
            assert p.open_minutes > 0  # each works some days every month
            assert 0 <= p.booked_minutes <= p.open_minutes
    assert any(m.courses_ended for m in board.months)
    assert 0 < (board.current.utilisation or 0) < 1
    assessments, invalid = services.latest_assessments(db)
    projection = clinic_projection(assessments, clinic, 24, today=today, invalid=invalid)
    result = projection.result
    assert len(result.months) == 24
    assert result.months[0].month == "2026-12"
    assert result.summary.patients + sum(result.summary.excluded.values()) == n
    assert n <= result.summary.sessions.mean <= n * 24
    assert f"the {result.summary.patients} patients" in projection.assumptions[0]
    assert "4.9%" in " ".join(projection.assumptions)  # the clinic's recall threshold
