"""Input parsing helpers shared by the services."""

from __future__ import annotations

from enum import StrEnum
from typing import Any, TypeVar

from needleplan.exceptions import (
    InputError,
)

T = TypeVar("T")


E = TypeVar("E", bound=StrEnum)


def parse_enum(kind: type[E], value: Any, field_name: str) -> E:
    """``value`` as a member of ``kind`` or an InputError listing the allowed values."""
    try:
        return kind(value)
    except ValueError:
        allowed = ", ".join(m.value for m in kind)
        raise InputError.one(field_name, value, f"must be one of {allowed}") from None
