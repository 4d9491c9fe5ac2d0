"""FHIR R4 for the intake questionnaire: the definition as a ``Questionnaire`` and each stored
response as a ``QuestionnaireResponse`` (in the patient's Bundle, :func:`needleplan.interop.fhir.
patient_bundle`).

A response's items are the answers kept with it (its own snapshot of the questions she saw), so
an export is true to what she answered even after the questionnaire changed. Yes/no answers are
``valueBoolean``, choices ``valueCoding`` in the questionnaire's own code system (one per
question: ``<BASE>/CodeSystem/intake/<question>``), numbers ``valueDecimal`` (``valueInteger``
for whole-number questions), dates ``valueDate`` and text ``valueString``. The response points at
the questionnaire as ``<BASE>/Questionnaire/<id>|<version>``; a draft is ``in-progress`` (not yet
reviewed), a confirmed one ``completed``.
"""

from __future__ import annotations

import json
import uuid
from datetime import datetime
from typing import Any, Protocol

from fhir.resources.R4B.questionnaire import Questionnaire as FhirQuestionnaire
from fhir.resources.R4B.questionnaireresponse import QuestionnaireResponse
from fhir.resources.R4B.resource import Resource

from needleplan.domain.intake import IntakeResponse, IntakeStatus
from needleplan.guideline.intake import Question, Questionnaire, load_questionnaire
from needleplan.storage import Database

#: needleplan's FHIR base URL (the same as ``needleplan.interop.fhir.BASE``, which imports this
#: module for its Bundle hook; a test keeps the two equal).
BASE = "https://needleplan.org/fhir"


class _Context(Protocol):
    """What a mapping needs of the Bundle's context (``needleplan.interop.fhir._Context``)."""

    def rid(self, kind: str, record_id: int) -> str: ...

    def identifier(self, kind: str, record_id: int) -> dict[str, Any]: ...

    def local(self, when: datetime) -> str: ...

    @property
    def patient_ref(self) -> dict[str, Any]: ...


ITEM_TYPE = {
    "yes_no": "boolean",
    "choice": "choice",
    "number": "decimal",
    "text": "text",
    "date": "date",
}
STATUS = {IntakeStatus.DRAFT: "in-progress", IntakeStatus.CONFIRMED: "completed"}


def canonical(questionnaire_id: str) -> str:
    """The canonical URL of a questionnaire (its version follows a ``|``)."""
    return f"{BASE}/Questionnaire/{questionnaire_id}"


def answer_system(question_id: str) -> str:
    """The code system of one choice question's answers."""
    return f"{BASE}/CodeSystem/intake/{question_id}"


def _item(q: Question, questionnaire: Questionnaire) -> dict[str, Any]:
    item: dict[str, Any] = {
        "linkId": q.id,
        "text": q.text,
        "type": "integer" if q.type == "number" and q.integer else ITEM_TYPE[q.type],
        "required": q.required,
    }
    if q.type == "choice":
        item["repeats"] = q.multiple
        item["answerOption"] = [
            {"valueCoding": {"system": answer_system(q.id), "code": o.value, "display": o.label}}
            for o in q.options
        ]
    if q.type == "text" and q.max_length is not None:
        item["maxLength"] = q.max_length
    if q.ask_if is not None:
        parent = questionnaire.question(q.ask_if.question)
        answer: dict[str, Any]
        if parent is not None and parent.type == "yes_no":
            answer = {"answerBoolean": q.ask_if.answer == "yes"}
        else:
            answer = {
                "answerCoding": {
                    "system": answer_system(q.ask_if.question),
                    "code": q.ask_if.answer,
                }
            }
        item["enableWhen"] = [{"question": q.ask_if.question, "operator": "=", **answer}]
    return item


def questionnaire_resource(questionnaire: Questionnaire | None = None) -> FhirQuestionnaire:
    """The questionnaire definition (the one in force unless given) as a FHIR Questionnaire:
    one group item per section."""
    q = questionnaire or load_questionnaire()
    return FhirQuestionnaire.model_validate(
        {
            "resourceType": "Questionnaire",
            "id": str(uuid.uuid5(uuid.NAMESPACE_URL, f"{canonical(q.id)}|{q.version}")),
            "url": canonical(q.id),
            "version": q.version,
            "name": q.id.replace("-", "_"),
            "title": q.title,
            "status": "active",
            "subjectType": ["Patient"],
            "description": q.intro or None,
            "item": [
                {
                    "linkId": f"section-{s.id}",
                    "text": s.title,
                    "type": "group",
                    "item": [_item(x, q) for x in q.in_section(s.id)],
                }
                for s in q.sections
                if q.in_section(s.id)
            ],
        }
    )


def questionnaire_json(questionnaire: Questionnaire | None = None) -> dict[str, Any]:
    """:func:`questionnaire_resource` as a JSON-ready dict."""
    result: dict[str, Any] = json.loads(questionnaire_resource(questionnaire).model_dump_json())
    return result


def _answers(value: Any, qid: str, question: Question | None) -> list[dict[str, Any]]:
    """An answer as FHIR answer values; typed by its question when the response's questionnaire
    version is the one loaded, else by the stored JSON type (text stays ``valueString``)."""

    def coding(code: str) -> dict[str, Any]:
        found: dict[str, Any] = {"system": answer_system(qid), "code": code}
        if question is not None:
            found["display"] = question.label(code)
        return {"valueCoding": found}

    if isinstance(value, bool):
        return [{"valueBoolean": value}]
    if isinstance(value, list):
        return [coding(str(v)) for v in value]
    if isinstance(value, (int, float)):
        whole = question.integer if question is not None else isinstance(value, int)
        if whole:
            return [{"valueInteger": int(value)}]
        return [{"valueDecimal": float(value)}]
    text = str(value)
    if question is not None and question.type == "date":
        return [{"valueDate": text}]
    if question is not None and question.type == "choice":
        return [coding(text)]
    return [{"valueString": text}]


def questionnaire_response_resource(
    ctx: _Context, response: IntakeResponse, questionnaire: Questionnaire | None = None
) -> QuestionnaireResponse:
    """One stored intake response as a FHIR QuestionnaireResponse."""
    q = questionnaire or load_questionnaire()
    same = q.id == response.questionnaire_id and q.version == response.questionnaire_version
    items = []
    for item in response.items:
        qid = str(item.get("id"))
        question = q.question(qid) if same else None
        answer = _answers(item.get("answer"), qid, question)
        items.append({"linkId": qid, "text": item.get("text"), "answer": answer})
    return QuestionnaireResponse.model_validate(
        {
            "resourceType": "QuestionnaireResponse",
            "id": ctx.rid("intake", response.id),
            "identifier": ctx.identifier("intake", response.id),
            "questionnaire": f"{canonical(response.questionnaire_id)}|"
            f"{response.questionnaire_version}",
            "status": STATUS[response.status],
            "subject": ctx.patient_ref,
            "authored": ctx.local(response.submitted_at),
            "source": ctx.patient_ref,
            "item": items,
        }
    )


def intake_resources(ctx: _Context, db: Database, patient_id: int) -> list[Resource]:
    """Her intake responses as QuestionnaireResponses, oldest first (the Bundle's hook)."""
    with db.transaction() as uow:
        responses = uow.intake.for_patient(patient_id)
    q = load_questionnaire()
    return [questionnaire_response_resource(ctx, r, q) for r in reversed(responses)]


__all__ = [
    "canonical",
    "intake_resources",
    "questionnaire_json",
    "questionnaire_resource",
    "questionnaire_response_resource",
]
