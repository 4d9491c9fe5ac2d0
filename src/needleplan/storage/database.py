"""The database handle and the unit of work (one transaction, all or nothing)."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from sqlalchemy import Engine
from sqlalchemy.exc import IntegrityError, OperationalError
from sqlalchemy.orm import Session, sessionmaker

from needleplan.exceptions import ConflictError, InputError
from needleplan.storage import migrate
from needleplan.storage.engine import make_engine
from needleplan.storage.repositories import (
    AppointmentRepository,
    AssessmentRepository,
    ClinicRepository,
    CourseRepository,
    MeasurementRepository,
    PatientRepository,
    RecallRepository,
    SessionRepository,
    UserRepository,
)


class UnitOfWork:
    """One transaction. Repositories work inside it; nothing is stored until it commits."""

    def __init__(self, session: Session) -> None:
        self.session = session
        self.clinics = ClinicRepository(session)
        self.patients = PatientRepository(session)
        self.assessments = AssessmentRepository(session)
        self.courses = CourseRepository(session)
        self.appointments = AppointmentRepository(session)
        self.sessions = SessionRepository(session)
        self.measurements = MeasurementRepository(session)
        self.recalls = RecallRepository(session)
        self.users = UserRepository(session)

    def flush(self) -> None:
        self.session.flush()

    @contextmanager
    def savepoint(self) -> Iterator[None]:
        """A nested transaction: an error inside undoes only what happened inside."""
        nested = self.session.begin_nested()
        try:
            yield
        except BaseException:
            if nested.is_active:
                nested.rollback()
            raise
        else:
            nested.commit()


class Database:
    """A configured engine plus the session factory the services use.

    Open it with :meth:`open`, which also upgrades the schema to the newest revision.
    """

    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        self._sessions = sessionmaker(engine, expire_on_commit=False, autoflush=False)

    @classmethod
    def open(
        cls, url: str | None = None, *, upgrade: bool = True, **engine_kwargs: Any
    ) -> Database:
        """Connect to ``url`` (see :func:`needleplan.storage.engine.resolve_url`) and migrate."""
        engine = make_engine(url, **engine_kwargs)
        try:
            if upgrade and migrate.needs_upgrade(engine):
                migrate.upgrade(engine)
            elif not upgrade:
                engine.connect().close()
        except OperationalError as exc:
            engine.dispose()
            first = str(exc.orig).strip().splitlines()[0] if exc.orig else "unreachable"
            raise InputError.one(
                "database_url",
                engine.url.render_as_string(hide_password=True),
                f"cannot connect ({first[:160]})",
            ) from None
        return cls(engine)

    @property
    def backend(self) -> str:
        """``"sqlite"`` or ``"postgresql"``."""
        return self.engine.dialect.name

    @property
    def display_url(self) -> str:
        """The URL with any password hidden."""
        return self.engine.url.render_as_string(hide_password=True)

    @contextmanager
    def transaction(self) -> Iterator[UnitOfWork]:
        """Run a use-case: commit when the block ends normally, roll everything back otherwise.

        A uniqueness violation that escapes the block becomes a :class:`ConflictError`.
        """
        session = self._sessions()
        try:
            uow = UnitOfWork(session)
            yield uow
            session.commit()
        except IntegrityError as exc:
            session.rollback()
            raise ConflictError(describe_integrity_error(exc)) from None
        except OperationalError as exc:
            session.rollback()
            if is_lock_conflict(exc):
                raise ConflictError(
                    "the database is busy with a conflicting change; try again"
                ) from None
            raise
        except BaseException:
            session.rollback()
            raise
        finally:
            session.close()

    def dispose(self) -> None:
        self.engine.dispose()


def is_slot_conflict(exc: IntegrityError) -> bool:
    return "slot_claims" in str(exc.orig)


def is_lock_conflict(exc: OperationalError) -> bool:
    text = str(exc.orig).lower()
    return any(
        marker in text
        for marker in ("deadlock detected", "could not serialize", "database is locked")
    )


def describe_integrity_error(exc: IntegrityError) -> str:
    """A one-line description of a constraint violation that never echoes row values."""
    text = str(exc.orig)
    if "slot_claims" in text:
        return "the practitioner is already booked at that time (double booking)"
    if "mrn" in text:
        return "mrn is already used by another patient"
    if "username" in text:
        return "username is already taken"
    if "FOREIGN KEY" in text or "foreign key" in text:
        return "a referenced record does not exist"
    first = text.splitlines()[0] if text else "constraint violated"
    return f"the change breaks a database constraint ({first.split('DETAIL')[0].strip()[:120]})"


def on_sqlite_connect_pragmas(engine: Engine) -> dict[str, Any]:
    """The pragmas a fresh connection reports (for tests and ``db current``)."""
    out: dict[str, Any] = {}
    if engine.dialect.name != "sqlite":
        return out
    raw = engine.raw_connection()
    try:
        cur = raw.cursor()
        for name in ("journal_mode", "foreign_keys", "synchronous", "busy_timeout"):
            cur.execute(f"PRAGMA {name}")
            row = cur.fetchone()
            out[name] = row[0] if row else None
        cur.close()
    finally:
        raw.close()
    return out


__all__ = ["Database", "UnitOfWork"]
