"""Intake in FHIR R4: the definition as a Questionnaire, each response as a QuestionnaireResponse
in the patient's Bundle (answers typed, the questionnaire's canonical URL and version)."""

from __future__ import annotations

from typing import Any

import pytest
from fhir.resources.R4B.questionnaire import Questionnaire
from fhir.resources.R4B.questionnaireresponse import QuestionnaireResponse

from needleplan import services
from needleplan.guideline.intake import load_questionnaire
from needleplan.interop.fhir import parse_bundle, patient_bundle
from needleplan.interop.fhir_intake import canonical, questionnaire_json
from needleplan.services import intake
from tests.intake_support import RAISING


@pytest.fixture
def backend() -> str:
    """SQLite is enough here (the storage tests cover PostgreSQL)."""
    return "sqlite"


def test_the_base_url_is_the_bundles() -> None:
    from needleplan.interop import fhir, fhir_intake

    assert fhir_intake.BASE == fhir.BASE


def test_the_definition_exports_as_a_questionnaire_with_every_question() -> None:
    q = load_questionnaire()
    doc = Questionnaire.model_validate(questionnaire_json(q))
    assert doc.version == q.version
    assert doc.url == canonical(q.id)
    items = {i.linkId: i for group in doc.item or [] for i in group.item or []}
    assert set(items) == {x.id for x in q.questions}
    assert items["diabetes"].type == "boolean"
    assert items["areas"].repeats is True
    assert items["hba1c"].type == "decimal"
    assert items["radiation_date"].type == "date"
    when = items["diabetes_control"].enableWhen[0]  # type: ignore[index]
    assert (when.question, when.operator, when.answerBoolean) == ("diabetes", "=", True)
    codes = [o.valueCoding.code for o in items["smoking"].answerOption or []]  # type: ignore[union-attr]
    assert codes == ["never", "former", "current"]


def test_a_response_is_in_the_patient_bundle_with_typed_answers(clinic: Any) -> None:
    raw = {**RAISING, "hba1c": "7.5", "last_treatment_date": "2026-01-05"}
    sent = intake.submit_intake(clinic.db, clinic.patient.id, raw, channel="portal")
    bundle = patient_bundle(clinic.db, clinic.patient.id)
    parsed = parse_bundle(bundle)
    (response,) = [
        e.resource for e in parsed.entry if isinstance(e.resource, QuestionnaireResponse)
    ]
    q = load_questionnaire()
    assert response.questionnaire == f"{canonical(q.id)}|{q.version}"
    assert response.status == "in-progress"  # a draft until a practitioner confirms
    answers = {i.linkId: i.answer for i in response.item or []}
    assert answers["diabetes"][0].valueBoolean is True  # type: ignore[index]
    assert answers["hba1c"][0].valueDecimal == 7.5  # type: ignore[index]
    assert str(answers["last_treatment_date"][0].valueDate) == "2026-01-05"  # type: ignore[index]
    smoking = answers["smoking"][0].valueCoding  # type: ignore[index]
    assert (smoking.code, smoking.display) == ("current", "I smoke now")
    assert [a.valueCoding.code for a in answers["areas"]] == ["full_face", "neck"]  # type: ignore[union-attr]
    patient_ref = next(
        e.fullUrl for e in parsed.entry if e.resource.get_resource_type() == "Patient"
    )
    assert response.subject.reference == patient_ref  # type: ignore[union-attr]
    prac = services.create_user(
        clinic.db, "prac", "correct horse battery", "practitioner", practitioner_id=clinic.alice.id
    )
    intake.confirm_intake(clinic.db, prac, sent.id, {**sent.values, "severity": "moderate"})
    again = parse_bundle(patient_bundle(clinic.db, clinic.patient.id))
    statuses = [
        e.resource.status for e in again.entry if isinstance(e.resource, QuestionnaireResponse)
    ]
    assert statuses == ["completed"]
