"""A patient handout (PDF): the plan in plain words, her dates, the forecast chart and aftercare.

Two steps keep the content testable without reading PDFs:

1. :func:`handout_for_assessment` / :func:`handout_for_patient` gather a :class:`Handout` (the
   clinic, her name, the protocol, the booked visits and the forecasts);
2. :func:`handout_sections` turns it into plain-text sections and :func:`render_handout` lays
   those out with fpdf2, embedding the forecast chart drawn by
   :func:`needleplan.reports.charts.plot_forecast`.

Text is set in DejaVu Sans (the TTF matplotlib ships), so accented names print correctly.
"""

from __future__ import annotations

import re
import tempfile
from dataclasses import dataclass, replace
from datetime import UTC, date, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any
from zoneinfo import ZoneInfo

import matplotlib
import numpy as np
from fpdf import FPDF
from fpdf.enums import XPos, YPos
from numpy.typing import NDArray

from needleplan import DISCLAIMER
from needleplan.domain.assessment import Assessment
from needleplan.domain.protocol import Protocol
from needleplan.domain.records import AppointmentStatus, CourseStatus
from needleplan.exceptions import BlockedError, StateError
from needleplan.forecasting import standard
from needleplan.forecasting.chain import ForecastResult
from needleplan.forecasting.params import ModelParams
from needleplan.forecasting.result import DEFAULT_CALIBRATION, calibration_words
from needleplan.forecasting.standard import plan_forecast, upkeep_months
from needleplan.forecasting.wording import (
    BAND_MEANING,
    EVIDENCE_LIMIT,
    band_phrase,
    factor_notes,
)
from needleplan.guideline import Guideline, make_protocol
from needleplan.private_files import write_private_bytes

if TYPE_CHECKING:
    from needleplan.scheduling import ClinicConfig
    from needleplan.storage import Database

FORECAST_YEARS = standard.YEARS
"""Horizon of the handout's forecast and chart [years]: the standard one every surface uses."""

AFTERCARE = (
    "Your skin may look pink, feel warm or tight for one to three days, like a mild sunburn. "
    "This is the normal start of the repair that firms the skin.",
    "For the first 24 hours, leave the treated skin bare: no make-up, no perfumed products and "
    "no exfoliating acids or retinoids. Your practitioner may give you a plain moisturiser.",
    "Wash gently with lukewarm water and a mild cleanser, and pat dry with a clean towel. "
    "Do not rub, scrub or pick at flaking skin.",
    "Stay out of strong sun for the first days and use a broad-spectrum sunscreen (SPF 30 or "
    "more) every day. Sun protection also helps the results last longer.",
    "For two days, skip saunas, swimming pools and hard exercise that makes you sweat a lot.",
    "Wait about a week before restarting retinoids, acids or other strong skincare.",
    "Call the clinic if redness or swelling gets worse after the third day, if you see pus, or "
    "if you have a fever.",
)


@dataclass(frozen=True)
class Visit:
    """One booked visit, in the clinic's time zone."""

    start: datetime
    end: datetime
    practitioner: str
    session_number: int | None
    kind: str


@dataclass(frozen=True)
class Handout:
    """Everything the handout shows."""

    clinic_name: str
    patient_name: str | None
    timezone: str
    protocol: Protocol
    scenarios: tuple[tuple[str, ForecastResult], ...]
    visits: tuple[Visit, ...] = ()
    sessions_done: int = 0
    issued: date | None = None
    #: Her skin without treatment on the forecast's days [% of pre-treatment]; the chart draws
    #: it when a curve goes below zero (:func:`needleplan.forecasting.standard.untreated_ageing`).
    untreated: NDArray[np.float64] | None = None
    #: Sessions of her open course still owed (missed or cancelled and not booked again).
    owed: int = 0
    #: The day her last course was completed, when she has no open course.
    completed_on: date | None = None
    #: When her next maintenance visit is due (her open recall entry).
    next_maintenance: date | None = None


def _forecasts(
    assessment: Assessment,
    protocol: Protocol,
    *,
    draws: int,
    seed: int,
    params: ModelParams | None = None,
    calibration: str = DEFAULT_CALIBRATION,
) -> tuple[tuple[str, ForecastResult], ...]:
    """The series without maintenance, and with maintenance in the middle of its window: the
    standard forecasts (:mod:`needleplan.forecasting.standard`), as every surface shows them,
    with the calibration in force (``params`` None: the shipped one) and its name."""
    n = protocol.initial_sessions
    months = upkeep_months(protocol)
    kw: dict[str, Any] = {"draws": draws, "seed": seed, "params": params}
    plain = replace(plan_forecast(assessment, protocol, **kw), calibration=calibration)
    upkeep = replace(
        plan_forecast(assessment, protocol, maintenance_months=months, **kw),
        calibration=calibration,
    )
    return (
        (f"{n} sessions, no maintenance", plain),
        (f"{n} sessions + maintenance every {months} months", upkeep),
    )


def _usable(protocol: Protocol) -> Protocol:
    if protocol.blocked or protocol.initial_sessions < 1:
        raise BlockedError(protocol.block_reasons or ["the protocol recommends no sessions"])
    return protocol


def handout_for_assessment(
    assessment: Assessment,
    *,
    clinic_name: str,
    patient_name: str | None = None,
    timezone: str = "UTC",
    guideline: Guideline | None = None,
    issued: date | None = None,
    draws: int = standard.DRAWS,
    seed: int = standard.SEED,
) -> Handout:
    """A handout for a consultation without stored records (no booked dates).

    Raises
    ------
    BlockedError
        when a contraindication blocks treatment.
    """
    protocol = _usable(make_protocol(assessment, guideline))
    return Handout(
        clinic_name=clinic_name,
        patient_name=patient_name,
        timezone=timezone,
        protocol=protocol,
        scenarios=(scenarios := _forecasts(assessment, protocol, draws=draws, seed=seed)),
        untreated=standard.untreated_ageing(assessment, scenarios[0][1].day),
        issued=issued,
    )


def handout_for_patient(
    db: Database,
    patient_id: int,
    *,
    clinic: ClinicConfig | None = None,
    guideline: Guideline | None = None,
    issued: date | None = None,
    draws: int = standard.DRAWS,
    seed: int = standard.SEED,
) -> Handout:
    """A handout for a stored patient: her latest assessment, open course and booked dates.

    The plan is the open (planned or active) course's protocol snapshot when she has one, else the
    guideline's protocol for her latest assessment. The clinic name and time zone come from
    ``clinic`` when given, else from the database.

    Raises
    ------
    NotFoundError
        no such patient.
    StateError
        she has no assessment yet.
    BlockedError
        a contraindication blocks treatment.
    """
    from needleplan import services
    from needleplan.services.calibration_state import calibration_in_force

    record = services.patient_file(db, patient_id)
    if not record.assessments:
        raise StateError(
            f"patient {record.patient.mrn} has no assessment; record one before printing a handout"
        )
    latest = max(record.assessments, key=lambda r: (r.assessed_at, r.id))
    with db.transaction() as uow:
        stored_clinic = uow.clinics.first()
        names = {p.id: p.name for p in uow.clinics.practitioners()}
    clinic_name = (
        clinic.name
        if clinic is not None
        else (stored_clinic.name if stored_clinic is not None else "needleplan clinic")
    )
    tz_name = (
        clinic.timezone
        if clinic is not None
        else (stored_clinic.timezone if stored_clinic is not None else "UTC")
    )
    open_courses = [
        c for c in record.courses if c.status in (CourseStatus.PLANNED, CourseStatus.ACTIVE)
    ]
    completed = [c for c in record.courses if c.status is CourseStatus.COMPLETED]
    tz = ZoneInfo(tz_name)
    visits: tuple[Visit, ...] = ()
    done = owed = 0
    completed_on: date | None = None
    if open_courses:
        course = max(open_courses, key=lambda c: (c.created_at, c.id))
        protocol = _usable(course.protocol)
        mine = [a for a in record.appointments if a.course_id == course.id]
        visits = tuple(
            Visit(
                start=a.start.astimezone(tz),
                end=a.end.astimezone(tz),
                practitioner=names.get(a.practitioner_id, f"practitioner {a.practitioner_id}"),
                session_number=a.session_number,
                kind=a.kind.value,
            )
            for a in sorted(mine, key=lambda a: a.start)
            if a.status is AppointmentStatus.BOOKED
        )
        done = sum(1 for a in mine if a.status is AppointmentStatus.PERFORMED)
        booked = sum(1 for v in visits if v.session_number is not None)
        owed = max(0, course.remaining_sessions - booked)
    elif completed:
        # Her course is done: the handout tells what was done and when upkeep is due, not the
        # initial series again.
        course = max(completed, key=lambda c: (c.created_at, c.id))
        protocol = course.protocol
        mine = [
            a
            for a in record.appointments
            if a.course_id == course.id and a.status is AppointmentStatus.PERFORMED
        ]
        done = len(mine)
        if mine:
            completed_on = max(a.start for a in mine).astimezone(tz).date()
    else:
        protocol = _usable(make_protocol(latest.assessment, guideline))
    due = [r.due_date for r in record.recalls if r.is_open]
    force = calibration_in_force(db)
    cal_params = None if force.is_default else force.calibration.params
    return Handout(
        clinic_name=clinic_name,
        patient_name=record.patient.display_name,
        timezone=tz_name,
        protocol=protocol,
        scenarios=(
            scenarios := _forecasts(
                latest.assessment,
                protocol,
                draws=draws,
                seed=seed,
                params=cal_params,
                calibration=DEFAULT_CALIBRATION if force.is_default else force.label,
            )
        ),
        untreated=standard.untreated_ageing(latest.assessment, scenarios[0][1].day, cal_params),
        visits=visits,
        sessions_done=done,
        issued=issued,
        owed=owed,
        completed_on=completed_on,
        next_maintenance=min(due) if due else None,
    )


# --------------------------------------------------------------------------- plain words

_CITATION = re.compile(r"\s*\[[a-z0-9-]+\](,\s*\[[a-z0-9-]+\])*")


def _words(value: str) -> str:
    return value.replace("_", " ")


def plain_reasons(protocol: Protocol) -> list[str]:
    """The protocol's rationale as sentences a patient understands (no scores, no citations)."""
    out: list[str] = []
    for item in protocol.rationale:
        factor, effect = item.factor, item.effect
        if factor.startswith("severity:"):
            level = factor.split(":", 1)[1].split("(")[0].strip()
            out.append(
                f"Your skin's looseness is {level}; this sets the starting number of sessions."
            )
        elif factor.startswith("areas:"):
            areas = _words(factor.split(":", 1)[1].strip())
            out.append(f"Areas to treat: {areas}. Larger or more areas need more sessions.")
        elif factor.startswith("goal:"):
            goal = _words(factor.split(":", 1)[1].strip())
            out.append(f"Your goal ({goal}) changes how many sessions make sense.")
        elif factor == "difficult case":
            out.append(
                "Several things slow your skin's response, so the plan has more sessions, "
                "closer together."
            )
        elif factor == "maintenance":
            if "shorter window" in effect:
                out.append(
                    "Some of your factors make results fade sooner, so maintenance comes "
                    "earlier than usual."
                )
        elif factor == "tier bounds":
            continue
        else:
            reason = effect.split(": ", 1)[1] if ": " in effect else effect
            out.append(_CITATION.sub("", reason).strip())
    return out


def _day(value: datetime) -> str:
    return f"{value:%A} {value.day} {value:%B %Y}, {value:%H:%M}"


def _lasts(label: str, result: ForecastResult) -> str:
    m = result.milestones
    band = m.noticeable_months_after_last_initial
    if m.peak_improvement < result.noticeable_threshold:
        return f"{label}: a typical patient like you would not see a noticeable firming."
    if m.noticeable_censored:
        return (
            f"{label}: a typical patient like you still sees a noticeable difference at the end "
            f"of the chart ({result.years:g} years)."
        )
    return (
        f"{label}: a typical patient like you sees a noticeable difference for about "
        f"{band.median:.0f} months after the last session of the series "
        f"({band_phrase(band.p10, band.p90, p90_censored=band.p90_censored, parameters=result.parameter_uncertainty)})."
    )


@dataclass(frozen=True)
class Section:
    """One titled block: an optional lead paragraph, then paragraphs or bullet points."""

    title: str
    paragraphs: tuple[str, ...]
    bullets: bool = False
    lead: str = ""

    @property
    def text(self) -> str:
        return "\n".join([self.title, *([self.lead] if self.lead else []), *self.paragraphs])


def handout_sections(handout: Handout) -> list[Section]:
    """The handout's text, section by section (the chart goes after "How long results last")."""
    p = handout.protocol
    areas = ", ".join(_words(a.value) for a in p.areas)
    m = p.maintenance_interval_months
    if handout.completed_on is not None:
        done = handout.sessions_done
        plan = [
            f"You completed your course of {done} microneedling session{'s' if done != 1 else ''}"
            f" for: {areas} on {handout.completed_on:%d %B %Y}.",
            f"One maintenance session every {m.min} to {m.max} months keeps the results for "
            "longer.",
        ]
    else:
        plan = [
            f"We suggest {p.initial_sessions} microneedling sessions for: {areas} "
            f"(a range of {p.session_range.min} to {p.session_range.max} is usual for skin like "
            f"yours).",
            f"Sessions are {p.interval_days.min} to {p.interval_days.max} days apart, about "
            f"{p.recommended_interval_days} days. The gap gives your skin time to build new "
            "collagen before the next session.",
            f"After the series, one maintenance session every {m.min} to {m.max} months keeps the "
            f"results for longer.",
        ]
    if handout.next_maintenance is not None:
        plan.append(
            f"Your next maintenance visit is due around {handout.next_maintenance:%d %B %Y}."
        )
    sections = [
        Section("Your treatment plan", tuple(plan)),
        Section("Why this plan", tuple(plain_reasons(p)), bullets=True),
    ]
    if handout.completed_on is None and (handout.visits or handout.sessions_done or handout.owed):
        lines = [
            (
                f"{_day(v.start)}: session {v.session_number}"
                if v.session_number is not None
                else f"{_day(v.start)}: {v.kind}"
            )
            + f" with {v.practitioner}"
            for v in handout.visits
        ]
        intro = f"Times are local clinic time ({handout.timezone})."
        if handout.sessions_done:
            done = handout.sessions_done
            intro = f"You have had {done} session{'s' if done != 1 else ''} so far. " + intro
        if handout.owed:
            owed = handout.owed
            lines.append(
                f"{owed} session{'s' if owed != 1 else ''} of your course "
                f"{'are' if owed != 1 else 'is'} still to be booked again (missed or cancelled): "
                "please ask the front desk."
            )
        if not lines:
            lines = ["No further sessions are booked yet: please ask the front desk."]
        sections.append(Section("Your appointments", tuple(lines), bullets=True, lead=intro))
    sections.append(
        Section(
            "How long results last",
            (
                "The chart shows how much firmer your skin is expected to be, compared with "
                "before treatment, for patients like you. Results build for a few months after "
                "the last session, then slowly fade as the skin keeps ageing.",
                *(_lasts(label, result) for label, result in handout.scenarios),
                f"{BAND_MEANING} {EVIDENCE_LIMIT}",
                *factor_notes(handout.scenarios[0][1].factors if handout.scenarios else ()),
                *(
                    (
                        f"The forecast uses {calibration_words(handout.scenarios[0][1].calibration)}.",
                    )
                    if handout.scenarios
                    else ()
                ),
            ),
        )
    )
    if p.milestones:
        sections.append(Section("What to expect", tuple(p.milestones), bullets=True))
    sections.append(Section("Looking after your skin", AFTERCARE, bullets=True))
    sections.append(
        Section(
            "Please note",
            (
                "These figures are estimates for patients like you, not a promise: your own "
                "result may be better or worse. Your practitioner will review the plan at each "
                "visit.",
                DISCLAIMER,
            ),
        )
    )
    return sections


# --------------------------------------------------------------------------- PDF


def _font_dir() -> Path:
    return Path(matplotlib.get_data_path()) / "fonts" / "ttf"


class _HandoutPDF(FPDF):
    footer_text = ""

    def footer(self) -> None:
        self.set_y(-14)
        self.set_font("DejaVu", "", 7)
        self.set_text_color(110, 110, 110)
        self.multi_cell(0, 3.5, f"{self.footer_text}   Page {self.page_no()}/{{nb}}", align="C")


def render_handout(handout: Handout, path: str | Path | None = None) -> bytes:
    """Lay the handout out as an A4 PDF and return its bytes (also written to ``path``).

    Parameters
    ----------
    handout : Handout
    path : str or Path, optional
        Where to write the PDF.

    Returns
    -------
    bytes
        The PDF document.
    """
    from needleplan.reports.charts import plot_forecast

    pdf = _HandoutPDF(format="A4")
    pdf.footer_text = DISCLAIMER
    issued = handout.issued or datetime.now(UTC).date()
    pdf.set_creation_date(datetime(issued.year, issued.month, issued.day, tzinfo=UTC))
    pdf.set_title("Your microneedling plan")
    pdf.set_creator("needleplan")
    pdf.set_margins(18, 16, 18)
    pdf.set_auto_page_break(auto=True, margin=20)
    fonts = _font_dir()
    pdf.add_font("DejaVu", "", str(fonts / "DejaVuSans.ttf"))
    pdf.add_font("DejaVu", "B", str(fonts / "DejaVuSans-Bold.ttf"))
    pdf.add_page()

    pdf.set_font("DejaVu", "B", 11)
    pdf.set_text_color(31, 111, 178)
    pdf.cell(0, 6, handout.clinic_name, new_x=XPos.LMARGIN, new_y=YPos.NEXT)
    pdf.set_text_color(0, 0, 0)
    pdf.set_font("DejaVu", "B", 18)
    title = "Your microneedling plan"
    if handout.patient_name:
        title += f" \u2013 {handout.patient_name}"
    pdf.multi_cell(0, 9, title, new_x=XPos.LMARGIN, new_y=YPos.NEXT)
    pdf.set_font("DejaVu", "", 9)
    pdf.set_text_color(90, 90, 90)
    pdf.cell(0, 5, f"Issued {issued.day} {issued:%B %Y}", new_x=XPos.LMARGIN, new_y=YPos.NEXT)
    pdf.set_text_color(0, 0, 0)
    pdf.ln(2)

    with tempfile.TemporaryDirectory(prefix="needleplan-handout-") as tmp:
        chart = plot_forecast(
            list(handout.scenarios),
            Path(tmp) / "forecast.png",
            title="How firm your skin is expected to be",
            untreated=handout.untreated,
        )
        for section in handout_sections(handout):
            _section(pdf, section)
            if section.title == "How long results last":
                _chart(pdf, chart)
    data = bytes(pdf.output())
    if path is not None:
        write_private_bytes(path, data)
    return data


LINE = 5.5  # text line height [mm]
BULLET = 5.0  # bullet column width [mm]


def _para_height(pdf: FPDF, text: str, width: float) -> float:
    lines = pdf.multi_cell(width, LINE, text, align="L", dry_run=True, output="LINES")
    return LINE * len(lines) + 0.8 if isinstance(lines, list) else LINE


def _section_height(pdf: FPDF, section: Section) -> float:
    pdf.set_font("DejaVu", "", 10.5)
    width = pdf.epw - (BULLET if section.bullets else 0.0)
    body = sum(_para_height(pdf, t, width) for t in section.paragraphs)
    if section.lead:
        body += _para_height(pdf, section.lead, pdf.epw)
    return 9.0 + body


def _section(pdf: FPDF, section: Section) -> None:
    """Draw one section; a short section that does not fit starts on a new page."""
    needed = _section_height(pdf, section)
    room = pdf.page_break_trigger - pdf.get_y()
    if needed > room and (needed < 0.5 * pdf.eph or room < 30):
        pdf.add_page()
    pdf.ln(2)
    pdf.set_font("DejaVu", "B", 13)
    pdf.set_text_color(31, 111, 178)
    pdf.cell(0, 7, section.title, new_x=XPos.LMARGIN, new_y=YPos.NEXT)
    pdf.set_text_color(0, 0, 0)
    pdf.set_font("DejaVu", "", 10.5)
    if section.lead:
        pdf.multi_cell(0, LINE, section.lead, align="L", new_x=XPos.LMARGIN, new_y=YPos.NEXT)
        pdf.ln(0.8)
    for text in section.paragraphs:
        if section.bullets:
            pdf.set_x(pdf.l_margin)
            pdf.cell(BULLET, LINE, "\u2022")
        pdf.multi_cell(0, LINE, text, align="L", new_x=XPos.LMARGIN, new_y=YPos.NEXT)
        pdf.ln(0.8)


def _chart(pdf: FPDF, chart: Path) -> None:
    """The chart at full text width, shrunk to at least 75 % to fit the page, else on the next."""
    width = pdf.epw
    height = width * 5.6 / 10.0
    room = pdf.page_break_trigger - pdf.get_y() - 2
    if room < height:
        if room >= 0.75 * height:
            height, width = room, room * 10.0 / 5.6
        else:
            pdf.add_page()
    pdf.image(
        str(chart),
        x=pdf.l_margin + (pdf.epw - width) / 2,
        w=width,
        h=height,
        alt_text="Forecast of skin firmness over the years",
    )
    pdf.ln(2)


def page_count(data: bytes) -> int:
    """Pages in a PDF written by :func:`render_handout` (counts its page objects)."""
    return len(re.findall(rb"/Type\s*/Page(?![a-zA-Z])", data))


__all__ = [
    "AFTERCARE",
    "FORECAST_YEARS",
    "Handout",
    "Section",
    "Visit",
    "handout_for_assessment",
    "handout_for_patient",
    "handout_sections",
    "page_count",
    "plain_reasons",
    "render_handout",
]
