"""CSV import refuses a measurement dated after the clock, naming the line and the field, and
imports nothing; one dated in the past imports."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from needleplan import services
from needleplan.exceptions import InputError
from needleplan.interop.csv_io import import_csv


def test_a_future_measurement_row_is_refused_and_nothing_is_imported(clinic: Any) -> None:
    mrn = clinic.patient.mrn
    past = (datetime.now(UTC) - timedelta(days=3)).isoformat()
    ahead = (datetime.now(UTC) + timedelta(days=3)).isoformat()
    text = f"patient_mrn,scale,value,measured_at\n{mrn},gais,2,{past}\n{mrn},gais,2,{ahead}\n"
    with pytest.raises(InputError, match="line 3: measured_at: a measurement cannot be dated"):
        import_csv(clinic.db, "measurements", text)
    assert services.measurements_for(clinic.db, clinic.patient.id) == []
    report = import_csv(clinic.db, "measurements", text, skip_bad=True)
    assert report.imported == 1
    assert len(services.measurements_for(clinic.db, clinic.patient.id)) == 1
