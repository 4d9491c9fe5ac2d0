"""Digit-only search terms never overflow the id column; phone numbers are searched as text
(issue 17, M4). Runs on SQLite and PostgreSQL (the ``db`` fixture)."""

from __future__ import annotations

from typing import Any

import pytest

from needleplan import services


@pytest.fixture
def jane(db: Any) -> Any:
    return services.register_patient(
        db,
        {
            "given_name": "Jane",
            "family_name": "Doe",
            "birth_date": "1975-04-02",
            "phone": "+44 7987654321",
        },
    )


@pytest.mark.parametrize(
    "term",
    ["2147483648", "9999999999", "1234567890123456789", "99999999999999999999", "9" * 200],
)
def test_long_digit_terms_find_nothing_instead_of_failing(db: Any, jane: Any, term: str) -> None:
    assert services.search_patients(db, term) == ([], 0)


def test_digits_find_the_id_the_record_number_and_the_phone(db: Any, jane: Any) -> None:
    assert services.search_patients(db, str(jane.id))[1] == 1
    assert services.search_patients(db, jane.mrn)[1] == 1
    found, total = services.search_patients(db, "7987654321")
    assert total == 1
    assert found[0].id == jane.id
    # other spellings of the id are not the id
    assert services.search_patients(db, f"0{jane.id}")[1] == 0
    arabic = "".join(chr(0x660 + int(d)) for d in str(jane.id))
    assert services.search_patients(db, arabic)[1] == 0
