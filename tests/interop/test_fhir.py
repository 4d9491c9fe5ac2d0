"""FHIR R4 export: every mapped field survives a round trip through fhir.resources."""

from __future__ import annotations

import json
import shutil
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from fhir.resources.R4B.appointment import Appointment as FhirAppointment
from fhir.resources.R4B.careplan import CarePlan
from fhir.resources.R4B.observation import Observation
from fhir.resources.R4B.patient import Patient as FhirPatient
from fhir.resources.R4B.practitioner import Practitioner as FhirPractitioner
from fhir.resources.R4B.procedure import Procedure

from needleplan import services
from needleplan.domain import Protocol
from needleplan.exceptions import NotFoundError
from needleplan.interop import fhir
from needleplan.interop.fhir import parse_bundle, patient_bundle, record_uuid
from tests.conftest import ClinicSetup, make_protocol_value
from tests.consent_support import sign_treatment

# Summer in Europe/London: the clinic's offset is +01:00, so a UTC-only export would show.
T0 = datetime(2031, 6, 2, 8, 0, tzinfo=UTC)


@pytest.fixture
def backend() -> str:
    """SQLite is enough here (the storage tests cover PostgreSQL)."""
    return "sqlite"


class Record:
    """A patient with a booked course, one performed session and two measurements."""

    def __init__(self, clinic: Any, protocol: Any) -> None:
        db = clinic.db
        self.clinic = clinic
        self.patient = services.register_patient(
            db,
            {
                "given_name": "Zoë",
                "consent_treatment": True,
                "family_name": "Núñez-Åberg",
                "birth_date": "1975-09-30",
                "sex": "female",
                "email": "zoe@example.org",
                "phone": "+44 20 7946 0018",
                "notes": "private clinical remark: anxious about needles",
            },
        )
        self.booking = services.book_course(
            db,
            self.patient.id,
            protocol,
            [
                (T0 + timedelta(days=35 * i), T0 + timedelta(days=35 * i, minutes=45), who)
                for i, who in enumerate([clinic.alice.id, clinic.bob.id])
            ],
            note="course note for the team",
        )
        first = self.booking.appointments[0]
        sign_treatment(db, self.patient.id)
        self.session = services.record_session(
            db,
            {
                "performed_at": (first.start + timedelta(minutes=5)).isoformat(),
                "areas": ["cheeks", "neck"],
                "device": "Dermapen 4",
                "needle_depth_mm": {"cheeks": 1.5, "neck": 0.75},
                "passes": 3,
                "product": "hyaluronic serum",
                "lot": "LOT-42A",
                "practitioner_id": clinic.alice.id,
                "notes": "tolerated well",
                "adverse_events": [{"kind": "pinpoint bleeding", "severity": "mild"}],
            },
            appointment_id=first.id,
        )
        self.gais = services.record_measurement(
            db,
            self.patient.id,
            {
                "scale": "gais",
                "value": 2,
                "measured_at": (T0 + timedelta(days=30)).isoformat(),
                "measured_by": clinic.bob.id,
                "course_id": self.booking.course.id,
                "area": "cheeks",
                "note": "photos taken",
            },
            now=T0 + timedelta(days=31),  # the clinic's clock in this 2031 fixture
        )
        self.r2 = services.record_measurement(
            db,
            self.patient.id,
            {"scale": "cutometer_r2", "value": 0.63, "measured_at": T0.isoformat()},
            now=T0 + timedelta(days=31),
        )
        self.bundle = patient_bundle(db, self.patient.id)
        self.parsed = parse_bundle(self.bundle)
        self.by_url = {e.fullUrl: e.resource for e in self.parsed.entry}

    def urn(self, kind: str, record_id: int) -> str:
        return f"urn:uuid:{record_uuid('Test clinic', kind, record_id)}"

    def only(self, kind: type[Any]) -> list[Any]:
        return [r for r in self.by_url.values() if isinstance(r, kind)]


@pytest.fixture(scope="module")
def record(_sqlite_template: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Record]:
    """One record for the module, on a copy of the migrated SQLite file: the tests that take it
    only read it (and its bundle)."""
    from needleplan.storage import Database

    target = tmp_path_factory.mktemp("fhir-record") / "record.sqlite3"
    shutil.copyfile(_sqlite_template, target)
    db = Database.open(f"sqlite:///{target}", upgrade=False)
    try:
        yield Record(ClinicSetup(db), make_protocol_value())
    finally:
        db.dispose()


def test_bundle_is_a_collection_that_parses_back_with_each_resource_type(record: Record) -> None:
    """The dict parses with fhir.resources into the seven resource types (her signed treatment
    consent is a Consent), in a collection Bundle."""
    assert record.bundle["resourceType"] == "Bundle"
    assert record.parsed.type == "collection"
    kinds = sorted(type(r).__name__ for r in record.by_url.values())
    assert kinds == sorted(
        ["Patient", "Practitioner", "Practitioner", "CarePlan"]
        + ["Appointment"] * 2
        + ["Procedure"]
        + ["Observation"] * 2
        + ["Consent"]
    )
    json.dumps(record.bundle)  # plain JSON, no Python objects left


def test_full_urls_are_stable_uuid5_urns_matching_resource_ids(record: Record) -> None:
    """fullUrl = urn:uuid:<uuid5 of the record identity>, equal to the resource id, unique."""
    urls = [e["fullUrl"] for e in record.bundle["entry"]]
    assert len(set(urls)) == len(urls)
    for entry in record.bundle["entry"]:
        value = uuid.UUID(entry["fullUrl"].removeprefix("urn:uuid:"))
        assert value.version == 5
        assert entry["resource"]["id"] == str(value)
    assert record.urn("patient", record.patient.id) in urls
    assert record.urn("session", record.session.id) in urls
    again = patient_bundle(record.clinic.db, record.patient.id)
    assert again == record.bundle


def test_every_reference_resolves_inside_the_bundle(record: Record) -> None:
    """Each ``reference`` names the fullUrl of an entry in the same Bundle."""
    refs: list[str] = []

    def walk(node: Any) -> None:
        if isinstance(node, dict):
            if isinstance(node.get("reference"), str):
                refs.append(node["reference"])
            for value in node.values():
                walk(value)
        elif isinstance(node, list):
            for value in node:
                walk(value)

    walk(record.bundle)
    assert refs
    assert set(refs) <= set(record.by_url)


def test_patient_maps_demographics_and_contact_but_no_clinical_notes(record: Record) -> None:
    (patient,) = record.only(FhirPatient)
    p = record.patient
    assert patient.name[0].family == p.family_name
    assert patient.name[0].given == [p.given_name]
    assert patient.name[0].text == "Zoë Núñez-Åberg"
    assert patient.birthDate == p.birth_date
    assert patient.gender == "female"
    assert {(t.system, t.value) for t in patient.telecom} == {
        ("email", p.email),
        ("phone", p.phone),
    }
    mrn = [i for i in patient.identifier if i.system == fhir.MRN_SYSTEM]
    assert [i.value for i in mrn] == [p.mrn]
    assert "anxious" not in json.dumps(record.bundle)


def test_undisclosed_sex_is_gender_unknown(clinic: Any) -> None:
    bundle = parse_bundle(patient_bundle(clinic.db, clinic.patient.id))
    (patient,) = [e.resource for e in bundle.entry if isinstance(e.resource, FhirPatient)]
    assert patient.gender == "unknown"
    assert [t.system for t in patient.telecom] == ["email"]


def test_practitioners_carry_their_names(record: Record) -> None:
    names = {p.name[0].text for p in record.only(FhirPractitioner)}
    assert names == {"Alice Practitioner", "Bob Practitioner"}


def test_careplan_carries_the_protocol_snapshot_and_one_activity_per_session(
    record: Record, protocol: Protocol
) -> None:
    (plan,) = record.only(CarePlan)
    course = record.booking.course
    assert plan.intent == "plan"
    assert plan.status == "active"  # the course became active at its first session
    assert plan.subject.reference == record.urn("patient", record.patient.id)
    ext = {e.url: e for e in plan.extension}
    assert ext[fhir.EXT_COURSE_STATUS].valueCode == "active"
    assert ext[fhir.EXT_GUIDELINE].valueString == protocol.guideline_version
    snapshot = Protocol.model_validate_json(ext[fhir.EXT_PROTOCOL].valueString)
    assert snapshot == course.protocol
    assert plan.created == course.created_at
    # 3 planned sessions (two booked) plus the maintenance activity
    details = [a.detail for a in plan.activity]
    assert [d.status for d in details] == ["completed", "scheduled", "not-started", "not-started"]
    assert details[0].scheduledPeriod.start == record.booking.appointments[0].start
    assert details[1].scheduledPeriod.end == record.booking.appointments[1].end
    assert details[2].scheduledString == "28-42 days after the previous session"
    assert plan.activity[0].outcomeReference[0].reference == record.urn(
        "session", record.session.id
    )
    repeat = details[3].scheduledTiming.repeat
    assert (repeat.period, repeat.periodMax, repeat.periodUnit) == (6, 12, "mo")
    assert plan.period.start == record.booking.appointments[0].start
    assert plan.period.end == record.booking.appointments[1].end
    assert "course note for the team" in [n.text for n in plan.note]


def test_appointments_keep_times_status_and_the_clinic_offset(record: Record) -> None:
    by_id = {a.identifier[0].value: a for a in record.only(FhirAppointment)}
    raw = {
        e["resource"]["identifier"][0]["value"]: e["resource"]
        for e in record.bundle["entry"]
        if e["resource"]["resourceType"] == "Appointment"
    }
    first, second = record.booking.appointments
    a1, a2 = by_id[str(first.id)], by_id[str(second.id)]
    assert a1.status == "fulfilled"
    assert a2.status == "booked"
    assert a1.start == first.start
    assert a1.end == first.end
    assert a2.start == second.start
    assert raw[str(first.id)]["start"] == "2031-06-02T09:00:00+01:00"  # London summer time
    assert a1.minutesDuration == 45
    actors = [p.actor.reference for p in a2.participant]
    assert actors == [
        record.urn("patient", record.patient.id),
        record.urn("practitioner", record.clinic.bob.id),
    ]
    assert a1.supportingInformation[0].reference == record.urn("course", record.booking.course.id)
    ext = {e.url: e.valueInteger for e in a2.extension}
    assert ext[fhir.EXT_SESSION_NUMBER] == 2


def test_procedure_maps_areas_device_depth_passes_product_lot_and_performer(
    record: Record,
) -> None:
    (proc,) = record.only(Procedure)
    s = record.session
    assert proc.status == "completed"
    assert proc.performedDateTime == s.performed_at
    assert [b.text for b in proc.bodySite] == ["cheeks", "neck"]
    assert [b.coding[0].code for b in proc.bodySite] == ["cheeks", "neck"]
    assert proc.performer[0].actor.reference == record.urn("practitioner", record.clinic.alice.id)
    assert proc.basedOn[0].reference == record.urn("course", record.booking.course.id)
    assert proc.usedCode[0].text == "Dermapen 4"
    simple = {e.url: e for e in proc.extension if e.url != fhir.EXT_NEEDLE_DEPTH}
    assert simple[fhir.EXT_DEVICE].valueString == "Dermapen 4"
    assert simple[fhir.EXT_PASSES].valueInteger == 3
    assert simple[fhir.EXT_PRODUCT].valueString == "hyaluronic serum"
    assert simple[fhir.EXT_LOT].valueString == "LOT-42A"
    depths = {}
    for e in proc.extension:
        if e.url == fhir.EXT_NEEDLE_DEPTH:
            parts = {p.url: p for p in e.extension}
            depths[parts["area"].valueCode] = float(parts["depth"].valueQuantity.value)
            assert parts["depth"].valueQuantity.code == "mm"
    assert depths == {"cheeks": 1.5, "neck": 0.75}
    notes = [n.text for n in proc.note]
    assert any("lot LOT-42A" in n and "hyaluronic serum" in n for n in notes)
    assert "tolerated well" in notes
    assert [c.text for c in proc.complication] == ["pinpoint bleeding (mild)"]


def test_observations_map_scale_value_unit_time_and_context(record: Record) -> None:
    obs = {o.code.coding[0].code: o for o in record.only(Observation)}
    gais, r2 = obs["gais"], obs["cutometer_r2"]
    for o in (gais, r2):
        assert o.status == "final"
        assert o.code.coding[0].system == "https://needleplan.org/fhir/CodeSystem/scale"
        assert o.subject.reference == record.urn("patient", record.patient.id)
    assert float(gais.valueQuantity.value) == 2.0
    assert gais.valueQuantity.unit == "grade"
    assert gais.valueQuantity.code == "{grade}"
    assert gais.effectiveDateTime == record.gais.measured_at
    assert gais.performer[0].reference == record.urn("practitioner", record.clinic.bob.id)
    assert gais.bodySite.text == "cheeks"
    assert gais.basedOn[0].reference == record.urn("course", record.booking.course.id)
    assert gais.note[0].text == "photos taken"
    assert gais.category[0].coding[0].code == "exam"
    assert float(r2.valueQuantity.value) == pytest.approx(0.63)
    assert (r2.valueQuantity.unit, r2.valueQuantity.code) == ("ratio", "1")
    assert r2.performer is None
    assert r2.bodySite is None
    assert r2.basedOn is None


def test_database_without_clinic_row_exports_in_utc(db: Any) -> None:
    """Patients registered before any clinic row: the default clinic identity and UTC."""
    patient = services.register_patient(
        db, {"given_name": "Ann", "family_name": "Lee", "birth_date": "1980-01-01"}
    )
    bundle = patient_bundle(db, patient.id)
    expected = f"urn:uuid:{record_uuid('needleplan clinic', 'patient', patient.id)}"
    assert [e["fullUrl"] for e in bundle["entry"]] == [expected]


def test_missing_patient_is_not_found(clinic: Any) -> None:
    with pytest.raises(NotFoundError):
        patient_bundle(clinic.db, 9999)


def test_record_uuid_depends_on_clinic_kind_and_id() -> None:
    base = record_uuid("A clinic", "patient", 1)
    assert base == record_uuid("A clinic", "patient", 1)
    assert (
        len(
            {
                base,
                record_uuid("B clinic", "patient", 1),
                record_uuid("A clinic", "course", 1),
                record_uuid("A clinic", "patient", 2),
            }
        )
        == 4
    )
