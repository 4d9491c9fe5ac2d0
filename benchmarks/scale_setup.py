"""Make the large clinics ``benchmarks/bench_scale.py`` measures (docs/scale.md).

    python benchmarks/scale_setup.py [--dir .scale] [--pg-patients 1000000]
                                     [--sqlite-patients 100000] [--pg-url URL [--pg-dir DIR]]

Starts a PostgreSQL server with the ``pgserver`` wheel in ``DIR/pg`` (it keeps running after
this script ends; ``--stop`` stops it), fills a database with ``needleplan demo --large`` and a
SQLite file ``DIR/large.sqlite3`` likewise, and writes their URLs to ``DIR/urls.json``. A
database that is already filled is kept (upgraded to the newest schema). ``--pg-url`` uses an
existing PostgreSQL database instead of the pgserver one (``--pg-dir``: the pgserver folder
that serves it, started when not running). Prints how long each fill took.
"""

from __future__ import annotations

import argparse
import json
import time
import warnings
from pathlib import Path

from needleplan.services.large_clinic import fill_large_clinic
from needleplan.storage import Database


def pg_server(folder: Path) -> str:
    """The base URI of the pgserver instance in ``folder`` (started when not running)."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        from pgserver.postgres_server import get_server

        server = get_server(folder, cleanup_mode=None)
    return str(server.get_uri())


def pg_url(base: str, database: str) -> str:
    from sqlalchemy.engine import make_url

    url = make_url(base).set(drivername="postgresql+psycopg", database=database)
    return url.render_as_string(hide_password=False)


def _pg_database(base: str, name: str) -> str:
    """The URL of database ``name`` on the server at ``base`` (created when missing)."""
    from sqlalchemy import create_engine, text

    engine = create_engine(pg_url(base, "postgres"), isolation_level="AUTOCOMMIT")
    with engine.connect() as conn:
        if (
            conn.execute(text("SELECT 1 FROM pg_database WHERE datname = :n"), {"n": name}).first()
            is None
        ):
            conn.execute(text(f'CREATE DATABASE "{name}"'))
    engine.dispose()
    return pg_url(base, name)


def fill(url: str, patients: int) -> dict[str, object]:
    db = Database.open(url)
    try:
        with db.transaction() as uow:
            if uow.patients.count():
                print(f"{db.display_url}: already filled ({uow.patients.count()} patients)")
                return {"url": url, "patients": uow.patients.count()}
        started = time.perf_counter()
        cpu = time.process_time()
        summary = fill_large_clinic(
            db,
            patients=patients,
            progress=lambda t, n: print(f"  {t}: {n} ({time.perf_counter() - started:.0f} s)"),
        )
        wall, cpu = time.perf_counter() - started, time.process_time() - cpu
        print(f"{db.display_url}: {summary.patients} patients in {wall:.0f} s ({cpu:.0f} s CPU)")
        return {"url": url, "patients": patients, "fill_s": round(wall, 1), "cpu_s": round(cpu, 1)}
    finally:
        db.dispose()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--dir", type=Path, default=Path(".scale"))
    parser.add_argument("--pg-patients", type=int, default=1_000_000)
    parser.add_argument("--sqlite-patients", type=int, default=100_000)
    parser.add_argument("--pg-url", help="an existing PostgreSQL database to fill or reuse")
    parser.add_argument("--pg-dir", type=Path, help="the pgserver folder serving --pg-url")
    parser.add_argument("--stop", action="store_true", help="stop the PostgreSQL server")
    args = parser.parse_args()
    folder: Path = args.dir.resolve()
    folder.mkdir(parents=True, exist_ok=True)
    if args.stop:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            from pgserver.postgres_server import get_server

            get_server(folder / "pg", cleanup_mode="stop").cleanup()
        return
    pg_dir = args.pg_dir or folder / "pg"
    if args.pg_url:
        if args.pg_dir:
            pg_server(pg_dir)
        url = args.pg_url
    else:
        url = _pg_database(pg_server(pg_dir), f"large_{args.pg_patients}")
    urls = {
        "postgresql": {
            **fill(url, args.pg_patients),
            **({"pg_dir": str(pg_dir)} if args.pg_dir or not args.pg_url else {}),
        },
        "sqlite": fill(
            f"sqlite:///{folder / f'large_{args.sqlite_patients}.sqlite3'}", args.sqlite_patients
        ),
    }
    written = folder / "urls.json"
    if written.exists():  # a database kept from an earlier run keeps that run's fill time
        earlier = json.loads(written.read_text(encoding="utf-8"))
        for backend, entry in urls.items():
            old = earlier.get(backend, {})
            if old.get("url") == entry["url"] and "fill_s" in old and "fill_s" not in entry:
                entry.update(fill_s=old["fill_s"], cpu_s=old["cpu_s"])
    written.write_text(json.dumps(urls, indent=2) + "\n", encoding="utf-8")
    print(f"written {folder / 'urls.json'}")


if __name__ == "__main__":
    main()
