"""Patient handout: plan in plain words, booked dates, forecast chart, aftercare, disclaimer."""

from __future__ import annotations

import dataclasses
import shutil
import subprocess
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from needleplan import DISCLAIMER, services
from needleplan.domain import reference_assessment
from needleplan.domain.assessment import parse_assessment
from needleplan.exceptions import BlockedError, NotFoundError, StateError
from needleplan.reports.handout import (
    AFTERCARE,
    handout_for_assessment,
    handout_for_patient,
    handout_sections,
    page_count,
    plain_reasons,
    render_handout,
)
from tests.consent_support import sign_treatment

DRAWS = 200  # the handout's forecasts; fewer draws keep the tests quick


@pytest.fixture
def backend() -> str:
    """SQLite is enough here (the storage tests cover PostgreSQL)."""
    return "sqlite"


def _text(sections: Any) -> str:
    return "\n".join(s.text for s in sections)


def test_consultation_handout_states_the_plan_forecast_aftercare_and_disclaimer() -> None:
    h = handout_for_assessment(
        reference_assessment(), clinic_name="Clinique Élodie", patient_name="Zoë", draws=DRAWS
    )
    text = _text(handout_sections(h))
    p = h.protocol
    assert f"We suggest {p.initial_sessions} microneedling sessions for: full face" in text
    assert f"{p.interval_days.min} to {p.interval_days.max} days apart" in text
    assert "maintenance session every 6 to 12 months" in text
    assert "Your appointments" not in text  # nothing is booked in a consultation
    assert all(advice in text for advice in AFTERCARE)
    assert DISCLAIMER in text
    labels = [label for label, _ in h.scenarios]
    assert labels == [
        f"{p.initial_sessions} sessions, no maintenance",
        f"{p.initial_sessions} sessions + maintenance every 9 months",
    ]
    plain = h.scenarios[0][1].milestones.noticeable_months_after_last_initial
    assert f"about {plain.median:.0f} months after the last session" in text


def test_reasons_are_plain_words_without_scores_or_citations() -> None:
    smoker = parse_assessment(
        {"age": 55, "severity": "advanced", "areas": ["cheeks", "neck"], "smoking": "current"}
    )
    h = handout_for_assessment(smoker, clinic_name="C", draws=DRAWS)
    reasons = plain_reasons(h.protocol)
    joined = " ".join(reasons)
    assert "Smoking degrades collagen and slows healing." in reasons
    assert "[seed" not in joined
    assert "retention risk" not in joined
    assert "score" not in joined
    assert "Areas to treat: cheeks, neck." in joined


def test_blocked_assessment_has_no_handout() -> None:
    pregnant = parse_assessment(
        {**reference_assessment().model_dump(mode="json"), "contraindications": ["pregnancy"]}
    )
    with pytest.raises(BlockedError):
        handout_for_assessment(pregnant, clinic_name="C")


def test_pdf_is_a_pdf_with_pages_chart_and_embedded_unicode_font(tmp_path: Path) -> None:
    h = handout_for_assessment(
        reference_assessment(),
        clinic_name="Clinique Élodie",
        patient_name="Zoë Ångström-Núñez",
        issued=date(2031, 1, 2),
        draws=DRAWS,
    )
    out = tmp_path / "sub" / "handout.pdf"
    data = render_handout(h, out)
    assert data.startswith(b"%PDF-")
    assert data.rstrip().endswith(b"%%EOF")
    assert out.read_bytes() == data
    assert 1 <= page_count(data) <= 3
    assert b"/Subtype /Image" in data  # the forecast chart
    assert b"DejaVuSans" in data  # the embedded Unicode font


@pytest.mark.skipif(shutil.which("pdftotext") is None, reason="pdftotext (poppler) not installed")
def test_pdf_text_shows_accented_names_and_the_disclaimer(tmp_path: Path) -> None:
    h = handout_for_assessment(
        reference_assessment(),
        clinic_name="Clinique Élodie",
        patient_name="Zoë Ångström-Núñez",
        draws=DRAWS,
    )
    out = render_handout(h, tmp_path / "h.pdf")
    assert out
    text = subprocess.run(
        ["pdftotext", str(tmp_path / "h.pdf"), "-"], capture_output=True, text=True, check=True
    ).stdout
    flat = " ".join(text.split())
    assert "Zoë Ångström-Núñez" in flat
    assert "Clinique Élodie" in flat
    assert "not a diagnosis" in flat


def test_patient_without_assessment_has_no_handout(clinic: Any) -> None:
    with pytest.raises(StateError, match="no assessment"):
        handout_for_patient(clinic.db, clinic.patient.id)
    with pytest.raises(NotFoundError):
        handout_for_patient(clinic.db, 9999)


def test_patient_handout_lists_booked_visits_in_clinic_time(clinic: Any, protocol: Any) -> None:
    db = clinic.db
    services.record_assessment(db, clinic.patient.id, reference_assessment())
    t0 = datetime(2031, 6, 2, 8, 0, tzinfo=UTC)  # 09:00 in London (summer time)
    booking = services.book_course(
        db,
        clinic.patient.id,
        protocol,
        [
            (t0 + timedelta(days=35 * i), t0 + timedelta(days=35 * i, minutes=45), clinic.alice.id)
            for i in range(3)
        ],
    )
    sign_treatment(db, clinic.patient.id)
    services.record_session(
        db,
        {
            "performed_at": t0.isoformat(),
            "areas": ["full_face"],
            "device": "pen",
            "needle_depth_mm": {"full_face": 1.0},
            "passes": 2,
            "practitioner_id": clinic.alice.id,
        },
        appointment_id=booking.appointments[0].id,
    )
    h = handout_for_patient(db, clinic.patient.id, draws=DRAWS)
    assert h.clinic_name == "Test clinic"
    assert h.patient_name == "Jane Doe"
    assert h.protocol == booking.course.protocol  # the course's snapshot, not a fresh plan
    assert h.sessions_done == 1
    assert [v.session_number for v in h.visits] == [2, 3]
    assert h.visits[0].start.utcoffset() == timedelta(hours=1)
    section = next(s for s in handout_sections(h) if s.title == "Your appointments")
    assert "You have had 1 session so far" in section.lead
    assert "(Europe/London)" in section.lead
    assert section.paragraphs[0] == "Monday 7 July 2031, 09:00: session 2 with Alice Practitioner"
    data = render_handout(h)
    assert data.startswith(b"%PDF-")


def test_patient_without_open_course_gets_the_guideline_plan(clinic: Any) -> None:
    services.record_assessment(clinic.db, clinic.patient.id, reference_assessment())
    h = handout_for_patient(clinic.db, clinic.patient.id, draws=DRAWS)
    assert h.visits == ()
    assert h.protocol.initial_sessions == 5  # the reference patient's default plan
    assert "Your appointments" not in _text(handout_sections(h))


def test_the_handout_chart_gets_the_untreated_ageing_line(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Her curves go below zero within the ten years: the chart draws her untreated skin (lower
    still, so the dip reads as ageing) from the standard forecast's days."""
    import matplotlib.axes

    h = handout_for_assessment(reference_assessment(), clinic_name="C", draws=DRAWS)
    assert h.untreated is not None
    (_, plain), _ = h.scenarios
    assert h.untreated.shape == plain.day.shape
    assert h.untreated[0] == 0
    assert h.untreated[-1] < float(plain.median[-1]) < 0
    labels: list[str] = []
    real_plot = matplotlib.axes.Axes.plot

    def spy(self: Any, *args: Any, **kwargs: Any) -> Any:
        labels.append(str(kwargs.get("label", "")))
        return real_plot(self, *args, **kwargs)

    monkeypatch.setattr(matplotlib.axes.Axes, "plot", spy)
    render_handout(h, tmp_path / "h.pdf")
    assert "your skin without treatment (ageing)" in labels


def _chart_session(db: Any, clinic: Any, appointment_id: int, at: datetime) -> None:
    sign_treatment(db, clinic.patient.id)
    services.record_session(
        db,
        {
            "performed_at": at.isoformat(),
            "areas": ["full_face"],
            "device": "pen",
            "needle_depth_mm": {"full_face": 1.0},
            "passes": 2,
            "practitioner_id": clinic.alice.id,
        },
        appointment_id=appointment_id,
    )


def test_the_handout_lists_sessions_still_owed(clinic: Any, protocol: Any) -> None:
    """Issue 11: a cancelled session of her open course is owed until it is booked again."""
    db = clinic.db
    services.record_assessment(db, clinic.patient.id, reference_assessment())
    t0 = datetime(2031, 6, 2, 8, 0, tzinfo=UTC)
    booking = services.book_course(
        db,
        clinic.patient.id,
        protocol,
        [
            (t0 + timedelta(days=35 * i), t0 + timedelta(days=35 * i, minutes=45), clinic.alice.id)
            for i in range(3)
        ],
    )
    _chart_session(db, clinic, booking.appointments[0].id, t0)
    services.cancel_appointment(db, booking.appointments[1].id)
    h = handout_for_patient(db, clinic.patient.id, draws=DRAWS)
    assert (h.sessions_done, h.owed) == (1, booking.course.planned_sessions - 2)
    section = next(s for s in handout_sections(h) if s.title == "Your appointments")
    text = " ".join(section.paragraphs)
    assert "still to be booked again (missed or cancelled)" in text


def test_after_a_completed_course_the_handout_does_not_suggest_the_series_again(
    clinic: Any,
) -> None:
    from tests.conftest import make_protocol_value

    db = clinic.db
    services.record_assessment(db, clinic.patient.id, reference_assessment())
    t0 = datetime(2031, 6, 2, 8, 0, tzinfo=UTC)
    booking = services.book_course(
        db,
        clinic.patient.id,
        make_protocol_value(1),
        [(t0, t0 + timedelta(minutes=45), clinic.alice.id)],
    )
    _chart_session(db, clinic, booking.appointments[0].id, t0)
    [recall] = services.patient_file(db, clinic.patient.id).recalls  # opened at completion
    h = handout_for_patient(db, clinic.patient.id, draws=DRAWS)
    assert h.completed_on == date(2031, 6, 2)
    assert h.next_maintenance == recall.due_date
    text = _text(handout_sections(h))
    assert "You completed your course of 1 microneedling session" in text
    assert "on 2 June 2031" in text
    assert "We suggest" not in text
    assert (
        f"Your next maintenance visit is due around {recall.due_date.day} {recall.due_date:%B %Y}"
        in text
    )
    assert "Your appointments" not in text


def test_the_handout_uses_and_names_the_clinics_calibration_in_force(clinic: Any) -> None:
    """The shipped calibration by default; an adopted clinic calibration changes the figures
    and the handout says which one it used."""
    import numpy as np

    from needleplan.forecasting.clinic_fit import fit_clinic, simulate_clinic
    from needleplan.services import calibrations
    from needleplan.services._clock import utc_now

    services.record_assessment(clinic.db, clinic.patient.id, reference_assessment())
    shipped = handout_for_patient(clinic.db, clinic.patient.id, draws=DRAWS)
    assert "The forecast uses the model as shipped with needleplan" in _text(
        handout_sections(shipped)
    )
    fit = fit_clinic(
        simulate_clinic(6, np.random.default_rng(1)), require_enough=False, max_iterations=2
    )
    with clinic.db.transaction() as uow:
        proposal = uow.calibrations.add_proposal(fit.to_json(), "", utc_now(), None, "test").id
    calibrations.adopt_calibration(clinic.db, proposal, None, username="admin")
    label = calibrations.calibration_in_force(clinic.db).label
    own = handout_for_patient(clinic.db, clinic.patient.id, draws=DRAWS)
    assert own.scenarios[0][1].calibration == label
    assert f"this clinic's own calibration ({label})" in _text(handout_sections(own))
    assert not np.array_equal(own.scenarios[0][1].median, shipped.scenarios[0][1].median)


def test_a_german_handout_is_written_in_german_and_prints(tmp_path: Path) -> None:
    """Issue 14: the handout in her language, every sentence of its own."""
    h = handout_for_assessment(
        reference_assessment(),
        clinic_name="Hautpraxis Müller",
        patient_name="Jürgen",
        draws=DRAWS,
        language="de",
        issued=date(2027, 3, 5),
    )
    sections = handout_sections(h)
    text = _text(sections)
    p = h.protocol
    assert f"Wir empfehlen {p.initial_sessions} Microneedling-Sitzungen für: ganzes Gesicht" in text
    assert [s.title for s in sections][:2] == ["Ihr Behandlungsplan", "Warum dieser Plan"]
    assert "Pflege Ihrer Haut" in text
    assert "needleplan ist eine Entscheidungshilfe" in text
    assert h.scenarios[0][0] == f"{p.initial_sessions} Sitzungen, ohne Auffrischung"
    for english in ("We suggest", "Looking after your skin", "Please note", "a typical patient"):
        assert english not in text
    data = render_handout(h, tmp_path / "de.pdf")
    assert page_count(data) >= 1


def test_the_guideline_texts_on_a_german_handout_are_german() -> None:
    """The bundled guideline's reasons and milestones come from the catalogue (issue 14); a
    clinic's own wording the catalogue does not hold prints as written."""
    smoker = parse_assessment(
        {**reference_assessment().model_dump(mode="json"), "smoking": "current"}
    )
    h = handout_for_assessment(smoker, clinic_name="C", draws=DRAWS, language="de")
    text = _text(handout_sections(h))
    assert "Rauchen baut Kollagen ab und verlangsamt die Heilung." in text
    assert "1–3 Monate nach der letzten Sitzung" in text
    assert "Smoking degrades collagen" not in text
    assert "[seed-" not in text
    assert "months after the last session" not in text
    english = _text(handout_sections(handout_for_assessment(smoker, clinic_name="C", draws=DRAWS)))
    assert "Smoking degrades collagen and slows healing." in english
    own = h.protocol.model_copy(update={"milestones": ["Unsere eigene Notiz."]})
    mine = dataclasses.replace(h, protocol=own)
    assert "Unsere eigene Notiz." in _text(handout_sections(mine))
