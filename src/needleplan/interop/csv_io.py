"""CSV export and import of patients, appointments and measurements.

Import validates every row before anything is stored and reports each bad row with its line
number and field. By default one bad row means nothing is imported (an
:class:`~needleplan.exceptions.InputError` lists them all); with ``skip_bad=True`` the good rows
are imported and the report lists the rest. Rows refer to patients by record number
(``patient_mrn``), so a patients file exported from one clinic database imports into another.

Columns (header row required, order free, unknown columns refused):

patients
    ``mrn, given_name, family_name, birth_date, sex, email, phone, consent_treatment,
    consent_contact, consent_research, notes`` (required: given_name, family_name, birth_date)
appointments
    ``patient_mrn, practitioner_id, start, end, kind, status, note`` (required: patient_mrn,
    practitioner_id, start, end). ``start``/``end`` are ISO 8601 with an offset.
measurements
    ``patient_mrn, scale, value, measured_at, measured_by, area, note`` (required: patient_mrn,
    scale, value, measured_at)

Booleans accept ``true/false``, ``yes/no``, ``1/0`` (empty = false). Empty optional cells mean
"not given".
"""

from __future__ import annotations

import csv
import io
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from enum import StrEnum
from typing import IO, Any, TextIO

from needleplan import services
from needleplan.domain.accounts import User
from needleplan.domain.records import (
    AppointmentKind,
    AppointmentStatus,
    MeasurementDraft,
    PatientDraft,
    SlotRequest,
    parse_record,
)
from needleplan.exceptions import ConflictError, FieldProblem, InputError
from needleplan.services import ImportReport, RowProblem
from needleplan.storage import Database, UnitOfWork

MAX_ROWS = 200_000
MAX_FIELD = 10_000


class Kind(StrEnum):
    PATIENTS = "patients"
    APPOINTMENTS = "appointments"
    MEASUREMENTS = "measurements"


COLUMNS: dict[Kind, tuple[str, ...]] = {
    Kind.PATIENTS: (
        "mrn",
        "given_name",
        "family_name",
        "birth_date",
        "sex",
        "email",
        "phone",
        "consent_treatment",
        "consent_contact",
        "consent_research",
        "notes",
    ),
    Kind.APPOINTMENTS: ("patient_mrn", "practitioner_id", "start", "end", "kind", "status", "note"),
    Kind.MEASUREMENTS: (
        "patient_mrn",
        "scale",
        "value",
        "measured_at",
        "measured_by",
        "area",
        "note",
    ),
}

REQUIRED: dict[Kind, frozenset[str]] = {
    Kind.PATIENTS: frozenset({"given_name", "family_name", "birth_date"}),
    Kind.APPOINTMENTS: frozenset({"patient_mrn", "practitioner_id", "start", "end"}),
    Kind.MEASUREMENTS: frozenset({"patient_mrn", "scale", "value", "measured_at"}),
}

_BOOL = {"true": True, "yes": True, "1": True, "false": False, "no": False, "0": False, "": False}


def parse_kind(value: str) -> Kind:
    try:
        return Kind(value)
    except ValueError:
        allowed = ", ".join(k.value for k in Kind)
        raise InputError.one("kind", value, f"must be one of {allowed}") from None


# --------------------------------------------------------------------------- export


def export_csv(db: Database, kind: Kind | str, out: IO[str]) -> int:
    """Write every record of ``kind`` as CSV to ``out``; returns the number of rows."""
    k = parse_kind(str(kind))
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(COLUMNS[k])
    with db.transaction() as uow:
        rows = list(_export_rows(uow, k))
    writer.writerows([[neutralise(cell) for cell in row] for row in rows])
    return len(rows)


#: A cell starting with one of these runs as a formula when a spreadsheet opens the file.
FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


def _formula_like(text: str) -> bool:
    return text.lstrip("'").startswith(FORMULA_START)


def neutralise(cell: Any) -> Any:
    """The cell, with a leading ``'`` when a spreadsheet would read it as a formula.

    A value that already starts with ``'`` before such a character gets one more, so
    :func:`restore` gives back exactly the value stored.
    """
    if isinstance(cell, str) and cell and _formula_like(cell):
        return "'" + cell
    return cell


def restore(cell: str) -> str:
    """The value :func:`neutralise` wrote ``cell`` for (one leading ``'`` removed)."""
    if cell.startswith("'") and _formula_like(cell):
        return cell[1:]
    return cell


def _export_rows(uow: UnitOfWork, kind: Kind) -> Iterable[list[Any]]:
    if kind is Kind.PATIENTS:
        for p in uow.patients.search(None, limit=10**9):
            yield [
                p.mrn,
                p.given_name,
                p.family_name,
                p.birth_date.isoformat(),
                p.sex.value,
                p.email or "",
                p.phone or "",
                _b(p.consent_treatment),
                _b(p.consent_contact),
                _b(p.consent_research),
                p.notes,
            ]
        return
    mrns = uow.patients.mrns_by_id()
    if kind is Kind.APPOINTMENTS:
        for a in uow.appointments.all():
            yield [
                mrns[a.patient_id],
                a.practitioner_id,
                a.start.isoformat(),
                a.end.isoformat(),
                a.kind.value,
                a.status.value,
                a.note,
            ]
        return
    for m in uow.measurements.all():
        yield [
            mrns[m.patient_id],
            m.scale.value,
            repr(float(m.value)),
            m.measured_at.isoformat(),
            "" if m.measured_by is None else m.measured_by,
            m.area.value if m.area else "",
            m.note,
        ]


def _b(value: bool) -> str:
    return "true" if value else "false"


# --------------------------------------------------------------------------- parsing


@dataclass(frozen=True)
class AppointmentRowValue:
    patient_mrn: str
    slot: SlotRequest
    kind: AppointmentKind
    status: AppointmentStatus
    note: str


@dataclass(frozen=True)
class MeasurementRowValue:
    patient_mrn: str
    draft: MeasurementDraft


@dataclass
class Parsed:
    rows: list[tuple[int, Any]]
    problems: list[RowProblem]


def parse_csv(kind: Kind | str, text: str) -> Parsed:
    """Validate CSV text for ``kind`` without touching a database.

    Raises
    ------
    InputError
        when the file as a whole is unusable (no header, unknown or missing columns, too big).
        Problems with single rows are returned in :attr:`Parsed.problems` with their line.
    """
    k = parse_kind(str(kind))
    if "\x00" in text:
        raise InputError.one("file", "NUL byte", "must be a text CSV file")
    stream = io.StringIO(text.lstrip("\ufeff"), newline="")
    # The reader takes fields of any length (the csv module's limit is process-wide and ends
    # the file at the first long field); a field over MAX_FIELD is one bad row, below.
    csv.field_size_limit(max(csv.field_size_limit(), len(text) + 1))
    reader = csv.reader(stream, strict=True)
    try:
        header = next(reader, None)
    except csv.Error as exc:
        raise InputError.one("header", "line 1", f"is not valid CSV ({exc})") from None
    if header is None or not any(h.strip() for h in header):
        raise InputError.one("header", "", "the file needs a header row naming the columns")
    names = [h.strip().lower() for h in header]
    unknown = [n for n in names if n not in COLUMNS[k]]
    if unknown:
        raise InputError.one(
            "header", ",".join(unknown), f"unknown columns; allowed: {', '.join(COLUMNS[k])}"
        )
    duplicated = sorted({n for n in names if names.count(n) > 1})
    if duplicated:
        raise InputError.one("header", ",".join(duplicated), "columns named more than once")
    missing = sorted(REQUIRED[k] - set(names))
    if missing:
        raise InputError.one("header", ",".join(missing), "required columns are missing")
    parse_row = _ROW_PARSERS[k]
    out = Parsed(rows=[], problems=[])
    line = reader.line_num
    while True:
        start_line = line + 1
        try:
            cells = next(reader)
        except StopIteration:
            break
        except csv.Error as exc:
            out.problems.append(
                RowProblem(start_line, [FieldProblem("row", "...", f"is not valid CSV ({exc})")])
            )
            break
        line = reader.line_num
        if not cells or all(not c.strip() for c in cells):
            continue
        if len(out.rows) + len(out.problems) >= MAX_ROWS:
            raise InputError.one("file", f"> {MAX_ROWS} rows", "is too large for one import")
        if len(cells) != len(names):
            out.problems.append(
                RowProblem(
                    start_line,
                    [FieldProblem("row", len(cells), f"must have {len(names)} cells")],
                )
            )
            continue
        long = [
            FieldProblem(n, f"{len(c)} characters", f"at most {MAX_FIELD} characters")
            for n, c in zip(names, cells, strict=True)
            if len(c) > MAX_FIELD
        ]
        if long:
            out.problems.append(RowProblem(start_line, long))
            continue
        record = {n: restore(c).strip() for n, c in zip(names, cells, strict=True)}
        try:
            out.rows.append((start_line, parse_row(record)))
        except InputError as exc:
            out.problems.append(RowProblem(start_line, exc.problems))
    return out


def _opt(record: dict[str, str], name: str) -> str | None:
    value = record.get(name, "")
    return value if value else None


def _bool(record: dict[str, str], name: str, problems: list[FieldProblem]) -> bool:
    raw = record.get(name, "").lower()
    if raw not in _BOOL:
        problems.append(FieldProblem(name, record[name], "must be true/false, yes/no or 1/0"))
        return False
    return _BOOL[raw]


def _int(record: dict[str, str], name: str, problems: list[FieldProblem]) -> int | None:
    raw = record.get(name, "")
    if not raw:
        return None
    try:
        return int(raw)
    except ValueError:
        problems.append(FieldProblem(name, raw, "must be a whole number"))
        return None


def _merge(problems: list[FieldProblem], model: type[Any], data: dict[str, Any]) -> Any:
    try:
        value = parse_record(model, data)
    except InputError as exc:
        problems.extend(exc.problems)
        value = None
    if problems:
        raise InputError(problems)
    return value


def _parse_patient(record: dict[str, str]) -> PatientDraft:
    problems: list[FieldProblem] = []
    data: dict[str, Any] = {
        "mrn": _opt(record, "mrn"),
        "given_name": record.get("given_name", ""),
        "family_name": record.get("family_name", ""),
        "birth_date": record.get("birth_date", ""),
        "email": _opt(record, "email"),
        "phone": _opt(record, "phone"),
        "notes": record.get("notes", ""),
    }
    if _opt(record, "sex"):
        data["sex"] = record["sex"].lower()
    for flag in ("consent_treatment", "consent_contact", "consent_research"):
        data[flag] = _bool(record, flag, problems)
    result: PatientDraft = _merge(problems, PatientDraft, data)
    return result


def _parse_appointment(record: dict[str, str]) -> AppointmentRowValue:
    problems: list[FieldProblem] = []
    who = _int(record, "practitioner_id", problems)
    if not record.get("practitioner_id"):
        problems.append(FieldProblem("practitioner_id", "", "is required"))
    slot = None
    try:
        slot = parse_record(
            SlotRequest,
            {"start": record.get("start"), "end": record.get("end"), "practitioner_id": who or 0},
        )
    except InputError as exc:
        problems.extend(
            p for p in exc.problems if not (p.field == "practitioner_id" and who is None)
        )
    kind = _enum(AppointmentKind, record.get("kind") or "treatment", "kind", problems)
    status = _enum(AppointmentStatus, record.get("status") or "booked", "status", problems)
    mrn = record.get("patient_mrn", "")
    if not mrn:
        problems.append(FieldProblem("patient_mrn", mrn, "is required"))
    if problems:
        raise InputError(problems)
    assert slot is not None
    assert kind is not None
    assert status is not None
    return AppointmentRowValue(mrn, slot, kind, status, record.get("note", ""))


def _parse_measurement(record: dict[str, str]) -> MeasurementRowValue:
    problems: list[FieldProblem] = []
    data: dict[str, Any] = {
        "scale": record.get("scale", "").lower(),
        "value": record.get("value", ""),
        "measured_at": record.get("measured_at", ""),
        "measured_by": _int(record, "measured_by", problems),
        "note": record.get("note", ""),
    }
    if _opt(record, "area"):
        data["area"] = record["area"]
    mrn = record.get("patient_mrn", "")
    if not mrn:
        problems.append(FieldProblem("patient_mrn", mrn, "is required"))
    draft: MeasurementDraft = _merge(problems, MeasurementDraft, data)
    return MeasurementRowValue(mrn, draft)


def _enum(kind: type[Any], raw: str, name: str, problems: list[FieldProblem]) -> Any:
    try:
        return kind(raw.lower())
    except ValueError:
        allowed = ", ".join(m.value for m in kind)
        problems.append(FieldProblem(name, raw, f"must be one of {allowed}"))
        return None


_ROW_PARSERS: dict[Kind, Callable[[dict[str, str]], Any]] = {
    Kind.PATIENTS: _parse_patient,
    Kind.APPOINTMENTS: _parse_appointment,
    Kind.MEASUREMENTS: _parse_measurement,
}


# --------------------------------------------------------------------------- import


def import_csv(
    db: Database,
    kind: Kind | str,
    source: TextIO | str,
    *,
    skip_bad: bool = False,
    user: User | None = None,
    username: str | None = None,
    progress: services.ImportProgress | None = None,
) -> ImportReport:
    """Validate and import a CSV file of ``kind``, all or nothing.

    Rows are applied in short audited batches (``user`` or ``username`` acts), so a long import
    does not hold the database's write lock (:func:`needleplan.services.import_rows`);
    ``progress(rows_done, rows_total)`` is called after each batch.

    Raises
    ------
    InputError
        listing every bad row (line and field) when any row is bad and ``skip_bad`` is false;
        nothing is imported then.
    """
    k = parse_kind(str(kind))
    text = source if isinstance(source, str) else source.read()
    parsed = parse_csv(k, text)
    apply = _APPLIERS[k]
    return services.import_rows(
        db,
        parsed.rows,
        apply,
        bad=parsed.problems,
        skip_bad=skip_bad,
        user=user,
        username=username,
        detail=k.value,
        progress=progress,
    )


def _patient_id(uow: UnitOfWork, mrn: str) -> int:
    found = uow.patients.by_mrn(mrn)
    if found is None:
        raise InputError.one("patient_mrn", mrn, "no patient has this record number")
    return found.id


def _apply_patient(uow: UnitOfWork, draft: PatientDraft) -> None:
    if draft.mrn is not None and uow.patients.by_mrn(draft.mrn) is not None:
        raise InputError.one("mrn", draft.mrn, "is already used by another patient")
    uow.patients.add(draft, services.utc_now())


def _apply_appointment(uow: UnitOfWork, value: AppointmentRowValue) -> None:
    pid = _patient_id(uow, value.patient_mrn)
    try:
        uow.clinics.practitioner(value.slot.practitioner_id)
    except LookupError:
        raise InputError.one(
            "practitioner_id", value.slot.practitioner_id, "no practitioner has this id"
        ) from None
    appt = uow.appointments.add(
        pid, None, value.slot, value.kind, None, services.utc_now(), value.note, status=value.status
    )
    if value.status is not AppointmentStatus.CANCELLED:
        try:
            uow.appointments.claim([appt])
        except ConflictError as exc:
            raise InputError.one("start", value.slot.start.isoformat(), str(exc)) from None


def _apply_measurement(uow: UnitOfWork, value: MeasurementRowValue) -> None:
    pid = _patient_id(uow, value.patient_mrn)
    try:
        services.record_measurement_in(uow, pid, value.draft)
    except LookupError as exc:
        raise InputError.one("measured_by", value.draft.measured_by, str(exc)) from None


_APPLIERS: dict[Kind, Callable[[UnitOfWork, Any], object]] = {
    Kind.PATIENTS: _apply_patient,
    Kind.APPOINTMENTS: _apply_appointment,
    Kind.MEASUREMENTS: _apply_measurement,
}

__all__ = ["COLUMNS", "Kind", "export_csv", "import_csv", "parse_csv"]
