"""A patient's own language (docs/languages.md): validated, audited by name, kept on merge."""

from __future__ import annotations

from typing import Any

import pytest

from needleplan import services
from needleplan.exceptions import InputError


def test_her_language_is_set_checked_and_named_in_the_audit(clinic: Any) -> None:
    db, pid = clinic.db, clinic.patient.id
    assert services.patient_language(db, pid) is None
    with pytest.raises(InputError, match="language: 'fr' is not a language needleplan ships"):
        services.update_patient(db, pid, {"language": "fr", "email": "new@example.org"})
    assert services.patient_language(db, pid) is None  # nothing half-saved
    assert services.get_patient(db, pid).email != "new@example.org"
    with services.audited(db, None, "patient.update", pid, username="desk1") as note:
        services.update_patient(db, pid, {"language": " DE "}, note=note)
    assert services.patient_language(db, pid) == "de"
    assert services.audit_log(db, patient_id=pid)[0].detail == "changed=language"


def test_a_merge_keeps_the_language_of_the_record_kept(clinic: Any) -> None:
    keep = clinic.patient.id
    other = services.register_patient(
        clinic.db,
        {
            "given_name": "Jane",
            "family_name": "Duplicate",
            "birth_date": "1975-05-05",
            "sex": "female",
        },
    )
    services.update_patient(clinic.db, other.id, {"language": "de"})
    services.merge_patients(clinic.db, keep, other.id)
    assert services.patient_language(clinic.db, keep) == "de"  # she had none: hers moves over
