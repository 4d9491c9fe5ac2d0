"""A stored patient's assessment takes her age from the date of birth when it gives none, and
refuses one that disagrees (so README examples and fixtures do not break as she ages)."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest

from needleplan import services
from needleplan.exceptions import InputError


def test_an_assessment_without_age_takes_it_from_the_birth_date(db: Any) -> None:
    patient = services.register_patient(
        db, {"given_name": "Ada", "family_name": "Age", "birth_date": "1976-04-02"}
    )
    before_birthday = datetime(2030, 4, 1, 12, tzinfo=UTC)
    record = services.record_assessment(
        db, patient.id, {"severity": "mild", "areas": ["neck"]}, assessed_at=before_birthday
    )
    assert record.assessment.age == 53
    on_birthday = datetime(2030, 4, 2, 12, tzinfo=UTC)
    again = services.record_assessment(
        db, patient.id, {"severity": "mild", "areas": ["neck"]}, assessed_at=on_birthday
    )
    assert again.assessment.age == 54
    with pytest.raises(InputError) as err:
        services.record_assessment(
            db,
            patient.id,
            {"age": 50, "severity": "mild", "areas": ["neck"]},
            assessed_at=on_birthday,
        )
    assert err.value.problems[0].field == "age"
