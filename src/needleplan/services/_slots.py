"""Slot requests and the checks every booking path shares (practitioners exist, recalls close)."""

from __future__ import annotations

import itertools
from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Any, TypeVar

from needleplan.domain.records import (
    RecallStatus,
    SlotRequest,
    parse_record,
)
from needleplan.exceptions import (
    FieldProblem,
    InputError,
    StateError,
)
from needleplan.storage import UnitOfWork

T = TypeVar("T")


def parse_slots(
    slots: Sequence[SlotRequest | Mapping[str, Any] | tuple[Any, ...]],
) -> list[SlotRequest]:
    """Validate proposed slots: ``SlotRequest``, mappings, or ``(start, end, practitioner_id)``."""
    out: list[SlotRequest] = []
    problems: list[FieldProblem] = []
    for i, raw in enumerate(slots):
        data: Any = raw
        if isinstance(raw, tuple):
            if len(raw) != 3:
                problems.append(
                    FieldProblem(f"slots[{i}]", raw, "must be (start, end, practitioner)")
                )
                continue
            start, end, who = raw
            data = {"start": start, "end": end, "practitioner_id": _practitioner_id(who)}
        try:
            out.append(parse_record(SlotRequest, data))
        except InputError as exc:
            problems.extend(
                FieldProblem(f"slots[{i}].{p.field}", p.value, p.rule) for p in exc.problems
            )
    if problems:
        raise InputError(problems)
    ordered = sorted(range(len(out)), key=lambda k: out[k].start)
    for a, b in itertools.pairwise(ordered):
        if out[b].start < out[a].end:
            raise InputError.one(
                f"slots[{b}].start", out[b].start.isoformat(), f"overlaps slots[{a}]"
            )
    return out


def _practitioner_id(who: Any) -> Any:
    return getattr(who, "id", who)


def close_recalls_by_booking(uow: UnitOfWork, patient_id: int, at: datetime) -> None:
    uow.recalls.close_open_for_patient(patient_id, RecallStatus.BOOKED, at)


def check_practitioners(uow: UnitOfWork, slots: Sequence[SlotRequest]) -> None:
    for pid in sorted({s.practitioner_id for s in slots}):
        practitioner = uow.clinics.practitioner(pid)
        if not practitioner.active:
            raise StateError(f"practitioner {pid} is inactive and cannot be booked")
