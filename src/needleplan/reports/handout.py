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

import io
import re
import tempfile
from dataclasses import replace
from datetime import UTC, date, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any
from zoneinfo import ZoneInfo

import matplotlib
from fpdf import FPDF
from fpdf.enums import XPos, YPos

from needleplan import DISCLAIMER
from needleplan.domain.assessment import Assessment
from needleplan.domain.protocol import Protocol
from needleplan.domain.records import AppointmentStatus, CourseStatus
from needleplan.exceptions import BlockedError, StateError
from needleplan.forecasting import standard
from needleplan.forecasting.chain import ForecastResult
from needleplan.forecasting.params import ModelParams
from needleplan.forecasting.result import DEFAULT_CALIBRATION
from needleplan.forecasting.standard import plan_forecast, upkeep_months
from needleplan.guideline import Guideline, make_protocol
from needleplan.i18n import Translator
from needleplan.private_files import write_private_bytes
from needleplan.reports.handout_text import (
    AFTERCARE,
    RESULTS_TITLE,
    Handout,
    Section,
    Visit,
    handout_sections,
    plain_reasons,
    scenario_labels,
)

if TYPE_CHECKING:
    from needleplan.domain.records import User
    from needleplan.scheduling import ClinicConfig
    from needleplan.storage import Database

FORECAST_YEARS = standard.YEARS
"""Horizon of the handout's forecast and chart [years]: the standard one every surface uses."""


def _forecasts(
    assessment: Assessment,
    protocol: Protocol,
    *,
    draws: int,
    seed: int,
    params: ModelParams | None = None,
    calibration: str = DEFAULT_CALIBRATION,
    language: str = "en",
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
    alone, kept = scenario_labels(n, months, language)
    return ((alone, plain), (kept, upkeep))


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
    language: str = "en",
) -> Handout:
    """A handout for a consultation without stored records (no booked dates), written in
    ``language``.

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
        scenarios=(
            scenarios := _forecasts(assessment, protocol, draws=draws, seed=seed, language=language)
        ),
        untreated=standard.untreated_ageing(assessment, scenarios[0][1].day),
        issued=issued,
        language=language,
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
    language: str | None = None,
    photos_for: User | str | None = None,
) -> Handout:
    """A handout for a stored patient: her latest assessment, open course and booked dates.

    ``photos_for`` (the account asking, or the name of her own link) adds her before and after
    thumbnails per view when her photo consent is in force, audited as ``photo.handout`` for
    it (:func:`needleplan.services.handout_photos.handout_photo_pairs`); without it (the
    default: a CLI print, the subject-access archive) the handout shows no photos.

    It is written in ``language``, else in the language on her record, else in the clinic's
    default language (English without a ``clinic``).

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
    from needleplan.services.clinic_threshold import clinic_params
    from needleplan.services.handout_photos import handout_photo_pairs

    if language is None:
        language = services.patient_language(db, patient_id) or (
            clinic.default_language if clinic is not None else "en"
        )
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
    # the calibration in force, with the clinic's own noticeable threshold for her months
    cal_params = clinic_params(None if force.is_default else force.calibration.params, clinic)
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
                language=language,
            )
        ),
        untreated=standard.untreated_ageing(latest.assessment, scenarios[0][1].day, cal_params),
        visits=visits,
        sessions_done=done,
        issued=issued,
        owed=owed,
        completed_on=completed_on,
        next_maintenance=min(due) if due else None,
        language=language,
        photos=tuple(handout_photo_pairs(db, patient_id, photos_for)) if photos_for else (),
    )


# --------------------------------------------------------------------------- PDF


def _font_dir() -> Path:
    return Path(matplotlib.get_data_path()) / "fonts" / "ttf"


class _HandoutPDF(FPDF):
    footer_text = ""
    page_word = "Page"

    def footer(self) -> None:
        self.set_y(-14)
        self.set_font("DejaVu", "", 7)
        self.set_text_color(110, 110, 110)
        self.multi_cell(
            0, 3.5, f"{self.footer_text}   {self.page_word} {self.page_no()}/{{nb}}", align="C"
        )


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

    t = Translator(handout.language)
    pdf = _HandoutPDF(format="A4")
    pdf.footer_text = t.gettext(DISCLAIMER)
    pdf.page_word = t.gettext("Page")
    issued = handout.issued or datetime.now(UTC).date()
    pdf.set_creation_date(datetime(issued.year, issued.month, issued.day, tzinfo=UTC))
    pdf.set_title(t.gettext("Your microneedling plan"))
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
    title = t.gettext("Your microneedling plan")
    if handout.patient_name:
        title += f" \u2013 {handout.patient_name}"
    pdf.multi_cell(0, 9, title, new_x=XPos.LMARGIN, new_y=YPos.NEXT)
    pdf.set_font("DejaVu", "", 9)
    pdf.set_text_color(90, 90, 90)
    issued_text = t.gettext("Issued %(day)s") % {"day": t.date(issued)}
    pdf.cell(0, 5, issued_text, new_x=XPos.LMARGIN, new_y=YPos.NEXT)
    pdf.set_text_color(0, 0, 0)
    pdf.ln(2)

    with tempfile.TemporaryDirectory(prefix="needleplan-handout-") as tmp:
        chart = plot_forecast(
            list(handout.scenarios),
            Path(tmp) / "forecast.png",
            title=t.gettext("How firm your skin is expected to be"),
            untreated=handout.untreated,
            language=handout.language,
        )
        for section in handout_sections(handout):
            _section(pdf, section)
            if section.title == t.gettext(RESULTS_TITLE):
                _chart(pdf, chart)
    if handout.photos:
        _photos(pdf, handout, t)
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


PHOTO_HEIGHT = 48.0  # height of a thumbnail on the handout [mm]


def _photos(pdf: FPDF, handout: Handout, t: Translator) -> None:
    """Her before and after thumbnails, one row per view, each with the day it was taken."""
    from needleplan.domain.photos import VIEW_LABELS

    tz = ZoneInfo(handout.timezone)
    _section(
        pdf,
        Section(
            t.gettext("Your photos"),
            (),
            lead=t.gettext(
                "The same view before your treatment and at your latest photo, side by side."
            ),
        ),
    )
    half = (pdf.epw - 6) / 2
    for pair in handout.photos:
        if pdf.page_break_trigger - pdf.get_y() < PHOTO_HEIGHT + 16:
            pdf.add_page()
        pdf.set_font("DejaVu", "B", 10.5)
        pdf.cell(0, 6, t.gettext(VIEW_LABELS[pair.view]), new_x=XPos.LMARGIN, new_y=YPos.NEXT)
        top = pdf.get_y()
        for column, (shot, word) in enumerate(
            ((pair.before, t.gettext("Before")), (pair.after, t.gettext("After")))
        ):
            x = pdf.l_margin + column * (half + 6)
            pdf.image(
                io.BytesIO(shot.jpeg),
                x=x,
                y=top,
                h=PHOTO_HEIGHT,
                keep_aspect_ratio=True,
                w=half,
                alt_text=f"{word}: {t.gettext(VIEW_LABELS[pair.view])}",
            )
            pdf.set_xy(x, top + PHOTO_HEIGHT + 1)
            pdf.set_font("DejaVu", "", 9)
            day = t.date(shot.taken_at.astimezone(tz).date())
            pdf.cell(half, 5, f"{word}, {day}")
        pdf.set_xy(pdf.l_margin, top + PHOTO_HEIGHT + 8)


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
