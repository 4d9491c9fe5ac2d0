"""The database handle and the unit of work (one transaction, all or nothing)."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from contextvars import ContextVar
from typing import Any

from sqlalchemy import Engine, Select
from sqlalchemy.exc import IntegrityError, OperationalError
from sqlalchemy.orm import Session, sessionmaker

from needleplan.exceptions import ConflictError, InputError
from needleplan.storage import migrate, probes
from needleplan.storage.engine import make_engine
from needleplan.storage.inserts import InsertedRow, InsertLog, logging_inserts, remove_rows
from needleplan.storage.repositories import (
    ApiTokenRepository,
    AppointmentRepository,
    AssessmentRepository,
    AuditQuery,
    CalendarQuery,
    ClinicConfigRepository,
    ClinicRepository,
    CourseRepository,
    LeadRepository,
    MeasurementRepository,
    PatientFinder,
    PatientRepository,
    RecallRepository,
    SessionRepository,
    StaffSessionRepository,
    UserRepository,
)
from needleplan.storage.repositories.calibrations import CalibrationRepository
from needleplan.storage.repositories.clinic_media import ClinicMediaRepository
from needleplan.storage.repositories.consent_forms import ConsentFormRepository
from needleplan.storage.repositories.consent_links import ConsentLinkRepository
from needleplan.storage.repositories.figures import FigureQuery
from needleplan.storage.repositories.idempotency import IdempotencyRepository
from needleplan.storage.repositories.intake import IntakeRepository
from needleplan.storage.repositories.integrations import (
    MessageTemplateRepository,
    SurveyRepository,
    WebhookRepository,
)
from needleplan.storage.repositories.online_bookings import OnlineBookingRepository
from needleplan.storage.repositories.outbox import OutboxRepository
from needleplan.storage.repositories.photos import PhotoRepository
from needleplan.storage.repositories.portal_links import PortalLinkRepository
from needleplan.storage.repositories.retention import RetentionRepository
from needleplan.storage.repositories.security import (
    AccountSecurityRepository,
    HeartbeatRepository,
    SettingsRepository,
)
from needleplan.storage.repositories.visits import VisitRepository
from needleplan.storage.repositories.waitlist import WaitlistRepository

#: The transaction open in this thread or task, if any (joined by nested ``transaction()`` calls).
_AMBIENT: ContextVar[tuple[Database, UnitOfWork] | None] = ContextVar(
    "needleplan_transaction", default=None
)


class UnitOfWork:
    """One transaction. Repositories work inside it; nothing is stored until it commits.

    Every repository is an attribute, so a use-case never builds one from :attr:`session`.
    """

    def __init__(self, session: Session) -> None:
        self.session = session
        self.clinics = ClinicRepository(session)
        self.clinic_configs = ClinicConfigRepository(session)
        self.clinic_media = ClinicMediaRepository(session)
        self.patients = PatientRepository(session)
        self.patient_finder = PatientFinder(session)
        self.assessments = AssessmentRepository(session)
        self.courses = CourseRepository(session)
        self.appointments = AppointmentRepository(session)
        self.sessions = SessionRepository(session)
        self.measurements = MeasurementRepository(session)
        self.recalls = RecallRepository(session)
        self.users = UserRepository(session)
        self.api_tokens = ApiTokenRepository(session)
        self.staff_sessions = StaffSessionRepository(session)
        self.audit_log = AuditQuery(session)
        self.leads = LeadRepository(session)
        self.visits = VisitRepository(session)
        self.idempotency = IdempotencyRepository(session)
        self.waitlist = WaitlistRepository(session)
        self.outbox = OutboxRepository(session)
        self.calibrations = CalibrationRepository(session)
        self.intake = IntakeRepository(session)
        self.consent_forms = ConsentFormRepository(session)
        self.portal_links = PortalLinkRepository(session)
        self.figures = FigureQuery(session)
        self.account_security = AccountSecurityRepository(session)
        self.settings = SettingsRepository(session)
        self.heartbeats = HeartbeatRepository(session)
        self.retention = RetentionRepository(session)
        self.photos = PhotoRepository(session)
        self.online_bookings = OnlineBookingRepository(session)
        self.consent_links = ConsentLinkRepository(session)
        self.webhooks = WebhookRepository(session)
        self.surveys = SurveyRepository(session)
        self.message_templates = MessageTemplateRepository(session)
        self.calendar = CalendarQuery(session)

    def flush(self) -> None:
        self.session.flush()

    @contextmanager
    def logging_inserts(self) -> Iterator[InsertLog]:
        """Log the rows this unit inserts (see :mod:`needleplan.storage.inserts`)."""
        with logging_inserts(self.session) as log:
            yield log

    def remove_rows(self, rows: Sequence[InsertedRow]) -> int:
        """Delete rows an earlier unit inserted (newest first); returns how many."""
        return remove_rows(self.session, rows)

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
        self._raw_probe = probes.sqlite_probe(engine)

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

    def calibration_version(self) -> int | None:
        """The version number of the calibration adoption in force, or None (the default is):
        one indexed read on a bare connection, for caches (see :mod:`needleplan.storage.probes`)."""
        return self._probe(probes.CALIBRATION_VERSION)

    def clinic_calendar_version(self) -> int | None:
        """The number of the saved clinic calendar in force, or None when none was saved (a
        cheap probe like :meth:`calibration_version`)."""
        return self._probe(probes.CLINIC_VERSION)

    @property
    def probes_locally(self) -> bool:
        """True when the version probes read a local file on a connection of their own (a
        SQLite file): a few microseconds, no network, so an event loop may call them."""
        return self._raw_probe is not None

    def _probe(self, statement: Select[Any]) -> int | None:
        outer = _AMBIENT.get()
        session = outer[1].session if outer is not None and outer[0] is self else None
        return probes.read_version(self.engine, session, statement, self._raw_probe)

    @property
    def in_transaction(self) -> bool:
        """Whether this thread or task is inside a ``transaction()`` of this database."""
        outer = _AMBIENT.get()
        return outer is not None and outer[0] is self

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

        Inside another ``transaction()`` of the same database in the same thread (or task), the
        block joins the outer one as a savepoint instead of opening a second transaction: an
        error inside undoes only the inner part and propagates, and nothing is stored until
        the outermost block commits. That is how a use-case and its audit row commit together
        (see :func:`needleplan.services.audit.audited`).
        """
        outer = _AMBIENT.get()
        if outer is not None and outer[0] is self:
            with self._nested(outer[1]) as uow:
                yield uow
            return
        session = self._sessions()
        uow = UnitOfWork(session)
        token = _AMBIENT.set((self, uow))
        try:
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
            _AMBIENT.reset(token)
            session.close()

    @contextmanager
    def _nested(self, uow: UnitOfWork) -> Iterator[UnitOfWork]:
        """A joined block: a savepoint in the outer transaction, errors mapped like the outer's."""
        try:
            with uow.savepoint():
                yield uow
                uow.flush()
        except IntegrityError as exc:
            raise ConflictError(describe_integrity_error(exc)) from None
        except OperationalError as exc:
            if is_lock_conflict(exc):
                raise ConflictError(
                    "the database is busy with a conflicting change; try again"
                ) from None
            raise

    def dispose(self) -> None:
        if self._raw_probe is not None:
            self._raw_probe.close()
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
