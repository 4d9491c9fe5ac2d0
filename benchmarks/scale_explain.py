"""Write the PostgreSQL plans of the hot queries, before and after migration 0026, into
docs/scale.md (between its ``<!-- plans -->`` markers); with ``--pages``, the plans of every
query the slow pages' reads send now (between ``<!-- page plans -->`` markers).

    python benchmarks/scale_explain.py [--dir .scale] [--doc docs/scale.md] [--pages]

Uses the PostgreSQL clinic of ``benchmarks/scale_setup.py`` (``DIR/urls.json``). For each hot
page it runs the real service once with a listener that records the SQL statements it sends,
then runs ``EXPLAIN ANALYZE`` on the first two (the count and the page) with the same
parameters: once with the database downgraded to 0021 (without the indexes) and once upgraded
to 0026 again. The statements are the same both times; only the indexes differ.

``--pages`` changes no schema: it records every SELECT of the calendar week's read, the recall
worklist page's read, and the busy-time read of one session window of a booking, and writes
each statement with its ``EXPLAIN ANALYZE`` on the schema in force.
"""

from __future__ import annotations

import argparse
import json
import re
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from sqlalchemy import Engine, event

from needleplan import services
from needleplan.services.large_clinic import large_clinic_calendar
from needleplan.storage import Database, migrate

START, END = "<!-- plans -->", "<!-- /plans -->"
PAGES_START, PAGES_END = "<!-- page plans -->", "<!-- /page plans -->"


def _capture(engine: Engine, call: Callable[[], object], keep: int = 2) -> list[tuple[str, Any]]:
    """The first ``keep`` distinct SELECT statements ``call`` sends, with their parameters."""
    seen: list[tuple[str, Any]] = []

    def listen(
        conn: Any, cursor: Any, statement: str, params: Any, context: Any, many: Any
    ) -> None:
        if statement.lstrip().upper().startswith("SELECT") and statement not in {
            s for s, _ in seen
        }:
            seen.append((statement, params))

    event.listen(engine, "before_cursor_execute", listen)
    try:
        call()
    finally:
        event.remove(engine, "before_cursor_execute", listen)
    return seen[:keep]


def _explain(engine: Engine, statement: str, params: Any) -> str:
    raw: Any = engine.raw_connection()
    try:
        with raw.cursor() as cur:
            cur.execute("EXPLAIN (ANALYZE, BUFFERS OFF) " + statement, params)
            return "\n".join(row[0] for row in cur.fetchall())
    finally:
        raw.rollback()
        raw.close()


def _cases(db: Database, patients: int) -> list[tuple[str, Callable[[], object]]]:
    clinic = large_clinic_calendar()
    today = datetime.now(clinic.tz).date()
    sample = services.get_patient(db, patients // 2)
    monday = today - timedelta(days=today.weekday())
    start = datetime.combine(monday, datetime.min.time(), clinic.tz).astimezone(UTC)
    return [
        (
            "Recall worklist: due this month, 50 rows by due date",
            lambda: services.recall_worklist(db, today=today, tab="month", per_page=50),
        ),
        (
            f"Patient search: name prefix `{sample.family_name[:6]}`",
            lambda: services.search_patients(db, sample.family_name[:6]),
        ),
        ("Patient search: phone number", lambda: services.search_patients(db, sample.phone or "")),
        (
            "Patient search: e-mail address",
            lambda: services.search_patients(db, sample.email or ""),
        ),
        (
            "Calendar: one week, all 20 practitioners",
            lambda: services.appointments_between(db, start, start + timedelta(days=7)),
        ),
    ]


def _page_cases(db: Database) -> list[tuple[str, Callable[[], object]]]:
    from needleplan.services.booking import busy_loader
    from needleplan.web.routes.calendar_common import SHOWN

    clinic = large_clinic_calendar()
    today = datetime.now(clinic.tz).date()
    monday = today - timedelta(days=today.weekday())
    start = datetime.combine(monday, datetime.min.time(), clinic.tz).astimezone(UTC)
    window = today + timedelta(days=42)
    return [
        (
            "Calendar week page: the week's appointments with what their cards show",
            lambda: services.calendar_window(db, start, start + timedelta(days=7), statuses=SHOWN),
        ),
        (
            "Recall worklist page: due this month, the count and 25 rows",
            lambda: services.recall_worklist(db, today=today, tab="month"),
        ),
        (
            "Booking a course: the busy times of one 15-day session window",
            lambda: busy_loader(db, clinic)(window, window + timedelta(days=14)),
        ),
    ]


def _write(doc: Path, start: str, end: str, out: list[str]) -> None:
    text = doc.read_text(encoding="utf-8")
    head, found, rest = text.partition(start)
    if not found:
        raise SystemExit(f"{doc} has no {start} marker")
    _, _, tail = rest.partition(end)
    doc.write_text(head + "\n".join(out) + tail, encoding="utf-8")
    print(f"plans written to {doc}")


def pages(entry: dict[str, Any], doc: Path) -> None:
    """The ``--pages`` plans: every SELECT of the pages' reads, on the schema in force."""
    db = Database.open(entry["url"])
    try:
        captured = [(title, _capture(db.engine, call, keep=10)) for title, call in _page_cases(db)]
        out = [
            PAGES_START,
            "",
            f"Generated by `python benchmarks/scale_explain.py --pages` on "
            f"{entry['patients']:,} patients (PostgreSQL 16, pgserver, schema {migrate.HEAD}).",
            "",
        ]
        for title, statements in captured:
            out += [f"### {title}", ""]
            for statement, params in statements:
                plan = _explain(db.engine, statement, params)
                out += [
                    f"Statement ({_runtime(plan)}):",
                    "",
                    "```sql",
                    " ".join(statement.split()),
                    "```",
                    "",
                    "```",
                    plan,
                    "```",
                    "",
                ]
        out.append(PAGES_END)
    finally:
        db.dispose()
    _write(doc, PAGES_START, PAGES_END, out)


def _runtime(plan: str) -> str:
    found = re.search(r"Execution Time: ([0-9.]+) ms", plan)
    return f"{found.group(1)} ms" if found else "?"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--dir", type=Path, default=Path(".scale"))
    parser.add_argument("--doc", type=Path, default=Path("docs/scale.md"))
    parser.add_argument(
        "--pages", action="store_true", help="the pages' queries now (no schema change)"
    )
    args = parser.parse_args()
    entry = json.loads((args.dir / "urls.json").read_text(encoding="utf-8"))["postgresql"]
    if "pg_dir" in entry:
        from scale_setup import pg_server

        pg_server(Path(entry["pg_dir"]))
    if args.pages:
        pages(entry, args.doc)
        return
    db = Database.open(entry["url"])
    try:
        cases = _cases(db, int(entry["patients"]))
        captured = [(title, _capture(db.engine, call)) for title, call in cases]
        plans: dict[str, list[str]] = {}
        for label, revision in (("before (0021)", "0021"), ("after (0026)", migrate.HEAD)):
            if revision == "0021":
                from alembic import command

                command.downgrade(migrate.alembic_config(db.engine), "0021")
            else:
                migrate.upgrade(db.engine)
            with db.engine.connect() as conn:
                conn.exec_driver_sql("ANALYZE")
                conn.commit()
            plans[label] = [
                _explain(db.engine, statement, params)
                for _, statements in captured
                for statement, params in statements
            ]
    finally:
        db.dispose()
    out = [
        START,
        "",
        f"Generated by `python benchmarks/scale_explain.py` on {entry['patients']:,} "
        "patients (PostgreSQL 16, pgserver).",
        "",
    ]
    k = 0
    for title, statements in captured:
        out += [f"### {title}", ""]
        for statement, _ in statements:
            before, after = plans["before (0021)"][k], plans["after (0026)"][k]
            k += 1
            out += [
                f"Statement ({_runtime(before)} before, {_runtime(after)} after):",
                "",
                "```sql",
                " ".join(statement.split()),
                "```",
                "",
                "Before (0021):",
                "",
                "```",
                before,
                "```",
                "",
                "After (0026):",
                "",
                "```",
                after,
                "```",
                "",
            ]
    out.append(END)
    _write(args.doc, START, END, out)


if __name__ == "__main__":
    main()
