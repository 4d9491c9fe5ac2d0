"""Bulk rows of a large made-up clinic group, written by COPY (PostgreSQL) or executemany (SQLite).

``needleplan demo --large`` (:func:`needleplan.services.large_clinic.fill_large_clinic`) needs a
million patients within about two minutes, which the per-row use-cases cannot give (each
booking, session and measurement is its own round trips). This module bypasses them: it works
out every row in memory, with the same values the use-cases would store (protocol snapshots
from the guideline, ledger entries, slot claims of every live appointment, a recall entry per
completed course with the protocol's shortest maintenance interval, contact attempts on
weekdays before today), and streams them table by table into the empty database in ONE
transaction. A test checks that a small generated clinic keeps the invariants the services keep.

The calendar is simple and stated: every practitioner works Monday to Friday, 16 half-hour
appointments from 09:00 (clinic time); each course keeps one practitioner when she has room.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import numpy as np
from sqlalchemy import Engine, Table

from needleplan.domain.name_keys import name_key
from needleplan.storage.bulk import Rows, load_tables
from needleplan.storage.repositories._common import slot_starts
from needleplan.storage.tables import (
    AppointmentRow,
    AssessmentRow,
    ContactAttemptRow,
    CourseRow,
    LedgerRow,
    MeasurementRow,
    PatientRow,
    PerformedSessionRow,
    RecallRow,
    SlotClaimRow,
)

#: Half-hour appointments from 09:00 (clinic time), Monday to Friday.
SLOTS_PER_DAY = 16
APPOINTMENT_MINUTES = 30
FIRST_HOUR = 9
#: Years of history before today, and how far ahead courses start.
HISTORY_DAYS = 15 * 365
AHEAD_DAYS = 56
#: The share of patients with a course (the others were assessed at a consultation only): 20
#: practitioners' calendars hold about 80,000 visits a year, so a million patients cannot all
#: have had a series in 15 years (one in seven has).
COURSE_SHARE = 0.15
CANCELLED_SHARE = 0.05
LAPSED_SHARE = 0.08

_GIVEN_TEXT = (
    "Anna Beate Clara Dora Elif Fatma Greta Hanna Ines Julia Katrin Lea Maria Nina Olga Petra "
    "Rosa Sara Tanja Ute Vera Wiebke Yasmin Zoe Agnes Birgit Carla Dana Emma Frieda Gisela "
    "Helga Irina Jana Karin Luise Mira Nadine Paula Renate Sabine Theresa Ulla Valentina "
    "Wilma Xenia Yvonne Zeynep Monika Sophie"
)
_HEADS_TEXT = (
    "Ab Bau Ber Brand Con Dem Eng Fisch Gra Hahn Hof Is Jung Kel Kra Lang Lor Mey Neu Ott "
    "Pet Quast Roth Schul Schmi Stein Thie Ul Vog Wag Wei Yil Zim Her Hart Lind Mar Sand Wolf"
)
_TAILS_TEXT = "er mann ke el ing ert hardt rich berg feld stedt hoff ner s ow"
GIVEN = _GIVEN_TEXT.split()
#: 585 family names: a head and a tail (Bauer, Steinberg, ...).
FAMILY = [h + t for h in _HEADS_TEXT.split() for t in _TAILS_TEXT.split()]
#: Their search keys (the patients table's given_key and family_key, domain.name_keys).
GIVEN_KEYS = [name_key(g) for g in GIVEN]
FAMILY_KEYS = [name_key(f) for f in FAMILY]


@dataclass(frozen=True)
class CourseTemplate:
    """One assessment and the protocol the guideline gives it (shared by many patients)."""

    age: int
    assessment: dict[str, Any]
    protocol: dict[str, Any]
    guideline_version: str
    sessions: int
    interval_days: int
    maintenance_months: int
    areas: list[str]


@dataclass
class LargeClinicCounts:
    patients: int = 0
    courses: dict[str, int] | None = None
    appointments: int = 0
    sessions: int = 0
    measurements: int = 0
    recalls: int = 0
    slot_claims: int = 0
    contact_attempts: int = 0


def _add_months(day: date, months: int) -> date:
    month = day.month - 1 + months
    year, month = day.year + month // 12, month % 12 + 1
    for last in (31, 30, 29, 28):
        try:
            return date(year, month, min(day.day, last))
        except ValueError:
            continue
    raise AssertionError("unreachable")


class _Plan:
    """Every row of the clinic, worked out in memory (tuples in each table's column order)."""

    def __init__(
        self,
        patients: int,
        seed: int,
        today: date,
        tz: ZoneInfo,
        practitioner_ids: Sequence[int],
        templates: Sequence[CourseTemplate],
        desk_user_id: int | None,
    ) -> None:
        self.n, self.today, self.tz = patients, today, tz
        self.pids = list(practitioner_ids)
        self.templates = list(templates)
        self.desk = desk_user_id
        self.rng = np.random.default_rng(seed)
        self.counts = LargeClinicCounts(patients=patients, courses={})
        self._times: dict[tuple[int, int], datetime] = {}

    def local(self, day: int, minute: int) -> datetime:
        """``minute`` minutes after midnight of the day with ordinal ``day`` (clinic time), UTC."""
        key = (day, minute)
        found = self._times.get(key)
        if found is None:
            wall = datetime.combine(date.fromordinal(day), time(minute // 60, minute % 60))
            found = self._times[key] = wall.replace(tzinfo=self.tz).astimezone(UTC)
        return found

    # ----------------------------------------------------------------- patients, assessments

    def people(self) -> None:
        rng, n = self.rng, self.n
        self.given = rng.integers(len(GIVEN), size=n)
        self.family = rng.integers(len(FAMILY), size=n)
        self.male = rng.random(n) < 0.1
        self.template = rng.integers(len(self.templates), size=n)
        self.has_course = rng.random(n) < COURSE_SHARE
        start = self.today.toordinal() - HISTORY_DAYS
        days = np.where(
            self.has_course,
            rng.integers(start, self.today.toordinal() + AHEAD_DAYS, size=n),
            rng.integers(start, self.today.toordinal(), size=n),
        )
        # the first session (or the consultation) and the assessment, as day ordinals
        self.first_day = days.tolist()
        self.assessed = np.minimum(days - 14, self.today.toordinal() - 1).tolist()
        self.birth_shift = rng.integers(4, 361, size=n).tolist()
        self.phone = rng.integers(1_000_000, 9_999_999, size=n).tolist()
        self.area = rng.integers(30, 99, size=n).tolist()
        self.contact = (rng.random(n) < 0.85).tolist()
        self.research = (rng.random(n) < 0.4).tolist()
        self.given, self.family = self.given.tolist(), self.family.tolist()
        self.male, self.template = self.male.tolist(), self.template.tolist()
        self.has_course = self.has_course.tolist()

    def patient_rows(self) -> Iterator[tuple[Any, ...]]:
        for i in range(self.n):
            pid = i + 1
            given, family = GIVEN[self.given[i]], FAMILY[self.family[i]]
            assessed = date.fromordinal(self.assessed[i])
            age = self.templates[self.template[i]].age
            born = date(assessed.year - age - 1, assessed.month, min(assessed.day, 28))
            born += timedelta(days=self.birth_shift[i])  # her age on `assessed` is `age`
            yield (
                pid,
                f"P{pid:06d}",
                given,
                family,
                born,
                "male" if self.male[i] else "female",
                f"{given.lower()}.{family.lower()}{pid}@example.org",
                f"+49 {self.area[i]} {self.phone[i]}",
                True,
                self.contact[i],
                self.research[i],
                "",
                self.local(self.assessed[i], 8 * 60),
                GIVEN_KEYS[self.given[i]],
                FAMILY_KEYS[self.family[i]],
            )

    def assessment_rows(self) -> Iterator[tuple[Any, ...]]:
        doctor = self.pids[0]
        for i in range(self.n):
            tpl = self.templates[self.template[i]]
            yield (
                i + 1,
                i + 1,
                self.local(self.assessed[i], 8 * 60 + 30),
                doctor,
                tpl.assessment,
                "",
            )

    # ----------------------------------------------------------------- courses and visits

    def courses(self) -> None:
        """Date every course's sessions into the practitioners' weekday slots; their states."""
        rng, today = self.rng, self.today
        who = [i for i in range(self.n) if self.has_course[i]]
        who.sort(key=lambda i: self.first_day[i])
        fate = rng.random(self.n).tolist()
        base, today_ord = today.toordinal() - HISTORY_DAYS - 7, today.toordinal()
        n_pract = len(self.pids)
        # appointments taken per day and practitioner
        used = [[0] * n_pract for _ in range(HISTORY_DAYS + AHEAD_DAYS + 3 * 365)]
        self.course_rows: list[tuple[Any, ...]] = []
        self.appts: list[tuple[int, int, int, int, int, datetime, str]] = []
        # appts: (appointment id, patient, course, practitioner, session number, start, status)
        for cid, i in enumerate(who, start=1):
            tpl = self.templates[self.template[i]]
            p0 = i % n_pract
            day = self.first_day[i]
            starts: list[tuple[datetime, int]] = []
            past: list[bool] = []
            for _k in range(tpl.sessions):
                while True:
                    if (day - 1) % 7 >= 5:  # Saturday or Sunday (ordinal 1 is a Monday)
                        day += 1
                        continue
                    row = used[day - base]
                    p = (
                        p0
                        if row[p0] < SLOTS_PER_DAY
                        else next((q for q in range(n_pract) if row[q] < SLOTS_PER_DAY), -1)
                    )
                    if p >= 0:
                        slot = row[p]
                        row[p] += 1
                        break
                    day += 1
                starts.append((self.local(day, FIRST_HOUR * 60 + slot * 30), p))
                past.append(day < today_ord)
                day += tpl.interval_days
            done = sum(past)
            state = "planned" if done == 0 else ("completed" if done == len(starts) else "active")
            status_of = ["performed" if p else "booked" for p in past]
            if fate[i] < CANCELLED_SHARE:  # cancelled before her first session
                state, status_of = "cancelled", ["cancelled"] * len(starts)
            elif fate[i] < CANCELLED_SHARE + LAPSED_SHARE and done >= 2:  # stopped coming
                state, cut = "lapsed", min(done, max(2, len(starts) // 2))
                status_of = [
                    "performed" if k < cut - 1 else "missed" if k == cut - 1 else "cancelled"
                    for k in range(len(starts))
                ]
                done = cut
            created = self.local(self.assessed[i], 8 * 60 + 30)
            performed = [
                s for (s, _), st in zip(starts, status_of, strict=True) if st == "performed"
            ]
            changed = {
                "planned": created,
                "cancelled": (performed[-1] if performed else created) + timedelta(hours=1),
                "active": performed[0] if performed else created,
                "completed": performed[-1] if performed else created,
                "lapsed": starts[done - 1][0] + timedelta(hours=1),
            }[state]
            self.course_rows.append(
                (
                    cid,
                    i + 1,
                    i + 1,
                    state,
                    tpl.sessions,
                    tpl.sessions - len(performed),
                    tpl.protocol,
                    tpl.guideline_version,
                    created,
                    changed,
                    "",
                )
            )
            assert self.counts.courses is not None
            self.counts.courses[state] = self.counts.courses.get(state, 0) + 1
            for k, ((start, p), st) in enumerate(zip(starts, status_of, strict=True)):
                number = k + 1 if st in ("booked", "performed") else None
                self.appts.append(
                    (len(self.appts) + 1, i + 1, cid, self.pids[p], number or 0, start, st)
                )
        self.counts.appointments = len(self.appts)

    def appointment_rows(self) -> Iterator[tuple[Any, ...]]:
        half = timedelta(minutes=APPOINTMENT_MINUTES)
        for aid, pid, cid, prac, number, start, st in self.appts:
            created = self.course_rows[cid - 1][8]  # booked with the course
            yield (
                aid,
                pid,
                cid,
                prac,
                "treatment",
                number or None,
                start,
                start + half,
                st,
                "",
                created,
                0,
                None,
                "",
                None,
            )

    def claim_rows(self) -> Iterator[tuple[Any, ...]]:
        """The slots every live (not cancelled) appointment holds, as the booking claims them."""
        start0 = datetime(2000, 1, 3, FIRST_HOUR, tzinfo=UTC)
        offsets = [s - start0 for s in slot_starts(start0, start0 + timedelta(minutes=30))]
        for aid, _pid, _cid, prac, _n, start, st in self.appts:
            if st != "cancelled":
                for off in offsets:  # appointments start on the half hour: the same slots
                    yield (prac, start + off, aid, None)  # no online hold (hold_id)
                self.counts.slot_claims += len(offsets)

    def session_rows(self) -> Iterator[tuple[Any, ...]]:
        """Performed sessions, their ledger entries, measurements and recall entries."""
        rng = self.rng
        self.ledger: list[tuple[Any, ...]] = []
        self.measures: list[tuple[Any, ...]] = []
        self.recalls: list[tuple[Any, ...]] = []
        by_course: dict[int, tuple[Any, ...]] = {r[0]: r for r in self.course_rows}
        for course in self.course_rows:
            self.ledger.append(
                (
                    len(self.ledger) + 1,
                    course[0],
                    course[8],
                    course[4],
                    "initial sessions planned",
                    course[4],
                )
            )
        sid, k = 0, 0
        m = len(self.appts)
        erythema, passes = (rng.random(m) < 0.2).tolist(), rng.integers(2, 5, size=m).tolist()
        lots = rng.integers(1000, 9999, size=m).tolist()
        gais = rng.choice([1.0, 2.0, 2.0, 3.0, 3.0, 4.0], size=m).tolist()
        depths = [{a: (0.5 if a == "under_eyes" else 1.5) for a in t.areas} for t in self.templates]
        mild: list[Any] = [{"kind": "erythema", "severity": "mild"}]
        none: list[Any] = []
        remaining = {c[0]: c[4] for c in self.course_rows}
        last_done: dict[int, datetime] = {}
        for aid, pid, cid, prac, number, start, st in self.appts:
            if st != "performed":
                continue
            sid, k = sid + 1, aid - 1
            t = self.template[pid - 1]
            tpl = self.templates[t]
            yield (
                sid,
                pid,
                cid,
                aid,
                start,
                tpl.areas,
                "Dermapen 4",
                depths[t],
                passes[k],
                "hyaluronic serum",
                f"HS{lots[k]}",
                prac,
                "",
                mild if erythema[k] else none,
            )
            remaining[cid] -= 1
            self.ledger.append(
                (len(self.ledger) + 1, cid, start, -1, f"session {sid} performed", remaining[cid])
            )
            if number > 1:
                self.measure(pid, cid, "gais", gais[k], start, prac)
            last_done[cid] = start
        self.counts.sessions = sid
        for cid, last in last_done.items():
            course = by_course[cid]
            if course[3] != "completed":
                continue
            pid = course[1]
            self.measure(pid, cid, "satisfaction", float(rng.integers(5, 11)), last, None)
            months = self.templates[self.template[pid - 1]].maintenance_months
            due = _add_months(last.astimezone(UTC).date(), months)
            status, closed = "open", None
            if due < self.today - timedelta(days=180):
                roll = rng.random()
                status = "closed" if roll < 0.8 else "opted_out"
                closed = self.local(due.toordinal() + 60, 11 * 60)
            self.recalls.append(
                (
                    len(self.recalls) + 1,
                    pid,
                    cid,
                    due,
                    "maintenance after course",
                    status,
                    last,
                    closed,
                )
            )
        self.counts.recalls = len(self.recalls)
        self.counts.measurements = len(self.measures)

    def measure(
        self, pid: int, cid: int, scale: str, value: float, at: datetime, by: int | None
    ) -> None:
        self.measures.append((len(self.measures) + 1, pid, cid, scale, value, at, by, None, ""))

    def attempt_rows(self) -> Iterator[tuple[Any, ...]]:
        """The front desk's calls: from three weeks before the due date, weekdays, before today."""
        rng, n = self.rng, 0
        for rid, _pid, _cid, due, _reason, _status, created, closed in self.recalls:
            day = max(due - timedelta(days=21), created.date() + timedelta(days=1))
            for _ in range(int(rng.integers(0, 4))):
                while day.weekday() >= 5:
                    day += timedelta(days=1)
                at = self.local(day.toordinal(), 9 * 60 + 5 * int(rng.integers(0, 96)))
                if day >= self.today or (closed is not None and at >= closed):
                    break
                n += 1
                outcome = ("no_answer", "left_message", "call_back")[int(rng.integers(3))]
                yield (n, rid, at, "phone", outcome, "", self.desk)
                day += timedelta(days=int(rng.integers(3, 11)))
        self.counts.contact_attempts = n


def write_large_clinic(
    engine: Engine,
    *,
    patients: int,
    seed: int,
    today: date,
    timezone: str,
    practitioner_ids: Sequence[int],
    templates: Sequence[CourseTemplate],
    desk_user_id: int | None,
    progress: Callable[[str, int], None] | None = None,
) -> LargeClinicCounts:
    """Write the clinic's patients, assessments, courses, ledger, appointments, slot claims,
    performed sessions, measurements, recall entries and contact attempts into an empty
    database in one transaction (:func:`needleplan.storage.bulk.load_tables`)."""
    plan = _Plan(
        patients, seed, today, ZoneInfo(timezone), practitioner_ids, templates, desk_user_id
    )
    plan.people()
    plan.courses()
    if progress is not None:
        progress("planned in memory", plan.counts.appointments)
    steps: list[tuple[Table, Rows]] = [
        (_table(PatientRow), plan.patient_rows),
        (_table(AssessmentRow), plan.assessment_rows),
        (_table(CourseRow), lambda: plan.course_rows),
        (_table(AppointmentRow), plan.appointment_rows),
        (_table(SlotClaimRow), plan.claim_rows),
        (_table(PerformedSessionRow), plan.session_rows),
        (_table(LedgerRow), lambda: plan.ledger),
        (_table(MeasurementRow), lambda: plan.measures),
        (_table(RecallRow), lambda: plan.recalls),
        (_table(ContactAttemptRow), plan.attempt_rows),
    ]
    load_tables(engine, steps, progress)
    return plan.counts


def _table(row: Any) -> Table:
    table: Table = row.__table__
    return table
