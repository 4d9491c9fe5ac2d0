"""Shared pytest fixtures. Keep them generic: other test packages add their own beside these.

Database fixtures
-----------------
``pg_server``
    A PostgreSQL server started once per test session with the ``pgserver`` wheel in a temporary
    folder (no server set up by hand). PostgreSQL refuses to run as root; pgserver handles that by
    creating an unprivileged ``pgserver`` system user and running the server as that user, so the
    fixture also works in CI containers that run as root. When the server cannot start, tests that
    need it skip with the reason.
``database_url``
    Parametrised over ``sqlite`` and ``postgresql``: the URL of a fresh, empty database already
    migrated to the newest schema (copied from a migrated template, so each test pays milliseconds).
``db``
    A :class:`needleplan.storage.Database` on ``database_url``.
``empty_database_url``
    Like ``database_url`` but with no schema at all (for migration tests).

Speed
-----
Every test session hashes passwords with a cheap argon2id profile (``_cheap_password_hasher``,
the same code path with small costs). Hypothesis runs the ``fast`` profile unless
``HYPOTHESIS_PROFILE=thorough`` is set (docs/testing.md).
"""

from __future__ import annotations

import gc
import itertools
import os
import shutil
import tempfile
import warnings
from collections.abc import Iterator
from pathlib import Path
from typing import Any

# Collection imports the package and every test module, building millions of objects that
# live to the end of the run: with CPython's thresholds that meant about 1,600 young and 10 full
# garbage collections, 1.8 of 8.7 CPU-seconds of a worker's collection (without coverage). Until
# collection ends they are rare; pytest_collection_finish then freezes what was built and sets
# the thresholds of the run. ``NEEDLEPLAN_TEST_GC=default`` keeps CPython's settings.
if os.environ.get("NEEDLEPLAN_TEST_GC") != "default":
    gc.set_threshold(100_000, 50, 1_000)

import pytest
from argon2 import PasswordHasher
from hypothesis import settings

# Hypothesis: ``fast`` (the default) for everyday runs and CI, derandomised so that the same
# code draws the same examples every run (a test does not pass on one run and fail on the next);
# ``thorough`` multiplies the examples of every property test (tests.strategies.examples), runs
# the unannotated ones 1000 times, and draws afresh each run.
settings.register_profile("fast", deadline=None, print_blob=True, derandomize=True)
settings.register_profile("thorough", deadline=None, print_blob=True, max_examples=1000)
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "fast"))

# Rich consoles made at import time (the needleplan.cli modules) keep the width COLUMNS has then,
# and pytest-xdist workers inherit COLUMNS=80 from the controller: leave it unset so they read it
# when they print (the CLI tests set COLUMNS for each command).
os.environ.pop("COLUMNS", None)

# One sealing key (TOTP secrets are sealed with it) for the whole run, its subprocesses and every
# xdist worker, so databases built once and copied open in every test, whatever
# NEEDLEPLAN_SECRET_KEY a test sets; the other sources are tested with this variable removed
# (tests/storage/test_secret_key.py).
os.environ["NEEDLEPLAN_SECRET_KEY_FILE"] = str(Path(__file__).with_name("test-secret.key"))

BACKENDS = [
    pytest.param("sqlite", id="sqlite"),
    pytest.param("postgresql", id="postgresql", marks=pytest.mark.postgres),
]

_counter = itertools.count()


def _share_fastapi_route_state() -> None:
    """Build each included route's FastAPI state once per test process, not once per app.

    FastAPI (0.16x) builds an included route's request state (its dependant: a pydantic
    TypeAdapter per parameter, and its request handler) lazily, per app, on the app's first
    requests: about 0.5 s of CPU for every ``create_app``, which most web tests pay once each. The
    state depends only on the route and how its router is included, never on the app (no code
    uses ``app.dependency_overrides``), so the apps of one test process share it: the first app
    builds it and later apps reuse it. An app with dependency overrides set still builds its own.
    ``NEEDLEPLAN_TEST_SHARED_ROUTES=0`` turns this off (FastAPI's own behaviour).
    """
    if os.environ.get("NEEDLEPLAN_TEST_SHARED_ROUTES", "1") == "0":
        return
    from fastapi import routing
    from fastapi.datastructures import DefaultPlaceholder

    context_class: Any = getattr(routing, "_EffectiveRouteContext", None)
    if context_class is None or not hasattr(context_class, "from_api_route"):
        return  # another FastAPI: nothing to share (its own behaviour)
    build = context_class.from_api_route
    built: dict[tuple[int, str], tuple[Any, Any]] = {}

    def plain(value: Any) -> Any:
        return value.value if isinstance(value, DefaultPlaceholder) else value

    def shared(*, original_route: Any, include_context: Any) -> Any:
        provider = include_context.dependency_overrides_provider
        if getattr(provider, "dependency_overrides", None):
            return build(original_route=original_route, include_context=include_context)
        fields = {
            name: plain(value)
            for name, value in vars(include_context).items()
            if name != "dependency_overrides_provider"
        }
        key = (id(original_route), repr(sorted(fields.items(), key=lambda kv: kv[0])))
        found = built.get(key)
        # The route is kept alive with its state, so its id is never reused by another route.
        if found is None or found[0] is not original_route:
            found = (
                original_route,
                build(original_route=original_route, include_context=include_context),
            )
            built[key] = found
        return found[1]

    context_class.from_api_route = shared


_share_fastapi_route_state()


@pytest.hookimpl(trylast=True)
def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Run the browser test modules first, whole and in file order; the rest as collected.

    A browser test keeps its worker's core about half busy (it waits on Chromium and on the
    server in its thread: 72 CPU-seconds for 130 seconds of the workers' time). pytest-xdist's
    ``worksteal`` gives the first half of this list to one worker and the second half to the
    other: with the browser tests first, they run on one worker while the other runs tests that
    keep a core busy; in file order (tests/web) both workers met them together near the end.
    Whole modules move, so no module fixture is built twice. ``NEEDLEPLAN_TEST_ORDER=files`` keeps
    the collected order.
    """
    if os.environ.get("NEEDLEPLAN_TEST_ORDER") == "files":
        return
    browser = {item.path for item in items if item.get_closest_marker("browser") is not None}
    items.sort(key=lambda item: item.path not in browser)  # stable: file order within each


def pytest_collection_finish(session: pytest.Session) -> None:
    """Keep the collector's work out of every later garbage collection.

    Everything imported and collected so far (the package, the libraries, the test functions)
    lives to the end of the run, yet CPython's full collections scan it again each time.
    Freezing it moves it out of the collector's generations; a larger youngest generation makes
    collections rarer (freezing alone makes the full ones more frequent: CPython runs one when
    the objects it has not yet scanned exceed a quarter of those it has). Measured per worker
    over the whole suite: 29-30 s in collections with CPython's settings, 17-18 s with these.
    ``NEEDLEPLAN_TEST_GC=default`` keeps CPython's settings.
    """
    if os.environ.get("NEEDLEPLAN_TEST_GC") == "default":
        return
    gc.collect()
    gc.freeze()
    gc.set_threshold(10_000, 10, 10)


@pytest.fixture(autouse=True)
def media_folder(tmp_path_factory: pytest.TempPathFactory, monkeypatch: pytest.MonkeyPatch) -> Path:
    """Every test stores uploaded photos in a folder of its own (``NEEDLEPLAN_MEDIA_DIR``),
    never in the user data folder."""
    folder = tmp_path_factory.mktemp("media")
    monkeypatch.setenv("NEEDLEPLAN_MEDIA_DIR", str(folder))
    return folder


@pytest.fixture(scope="session", autouse=True)
def _cheap_password_hasher() -> Iterator[None]:
    """argon2id with small costs for every account the tests create (no test checks the
    production parameters; they are argon2-cffi's defaults, see services.accounts)."""
    from needleplan.services.accounts import use_password_hasher

    previous = use_password_hasher(PasswordHasher(time_cost=1, memory_cost=1024, parallelism=1))
    try:
        yield
    finally:
        use_password_hasher(previous)


class PostgresHandle:
    """A running pgserver instance and helpers to make throw-away databases on it."""

    def __init__(self, server: Any, base_uri: str) -> None:
        self.server = server
        self.base_uri = base_uri  # postgresql://postgres:@/postgres?host=/tmp/...
        self._admin: Any = None

    def url(self, database: str) -> str:
        from sqlalchemy.engine import make_url

        return (
            make_url(self.base_uri)
            .set(drivername="postgresql+psycopg", database=database)
            .render_as_string(hide_password=False)
        )

    def create_database(self, name: str, template: str | None = None) -> str:
        from sqlalchemy import create_engine, text

        if self._admin is None:  # one connection pool for every CREATE DATABASE of the session
            self._admin = create_engine(self.url("postgres"), isolation_level="AUTOCOMMIT")
        with self._admin.connect() as conn:
            suffix = f" TEMPLATE {template}" if template else ""
            conn.execute(text(f'CREATE DATABASE "{name}"{suffix}'))
        return self.url(name)

    def drop_database(self, url: str) -> None:
        """Drop the database of ``url`` made for one test (its connections ended): the server's
        folder stays small, and the session's end has no pile of databases to delete."""
        from sqlalchemy import text
        from sqlalchemy.engine import make_url

        name = make_url(url).database
        with self._admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))

    def close(self) -> None:
        if self._admin is not None:
            self._admin.dispose()
            self._admin = None


@pytest.fixture(scope="session")
def pg_server() -> Iterator[PostgresHandle]:
    """A PostgreSQL server for the whole test session (skips the test when it cannot start)."""
    with warnings.catch_warnings():
        # platformdirs warns at import when XDG_RUNTIME_DIR is unset (CI); harmless here.
        warnings.simplefilter("ignore")
        try:
            import pgserver
        except ImportError as exc:  # pragma: no cover - dev dependency missing
            pytest.skip(f"PostgreSQL tests need the pgserver wheel: {exc}")
    pgdata = Path(tempfile.mkdtemp(prefix="needleplan-pg-"))
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            server = pgserver.get_server(pgdata, cleanup_mode="delete")
    except Exception as exc:  # pragma: no cover - depends on the machine
        shutil.rmtree(pgdata, ignore_errors=True)
        pytest.skip(f"PostgreSQL could not start through pgserver: {type(exc).__name__}: {exc}")
    handle = PostgresHandle(server, server.get_uri())
    _fast_throwaway_settings(handle)
    try:
        yield handle
    finally:
        handle.close()
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            server.cleanup()


def _fast_throwaway_settings(handle: PostgresHandle) -> None:
    """Skip fsync on this throw-away server: the tests kill clients, never the server itself."""
    from sqlalchemy import create_engine, text

    engine = create_engine(handle.url("postgres"), isolation_level="AUTOCOMMIT")
    try:
        with engine.connect() as conn:
            for setting in ("fsync", "full_page_writes", "synchronous_commit"):
                conn.execute(text(f"ALTER SYSTEM SET {setting} = off"))
            conn.execute(text("SELECT pg_reload_conf()"))
    finally:
        engine.dispose()


@pytest.fixture(scope="session")
def _pg_shared(pg_server: PostgresHandle) -> Iterator[str]:
    """URL of one PostgreSQL database migrated to head, emptied before each test that uses it.

    (Emptying it takes milliseconds; creating a database per test takes half a second.)
    """
    from needleplan.storage import migrate
    from needleplan.storage.engine import make_engine

    url = pg_server.create_database("needleplan_test")
    engine = make_engine(url)
    try:
        migrate.upgrade(engine)
    finally:
        engine.dispose()
    yield url
    kept = _EMPTYING.pop(url, None)
    if kept is not None:
        kept[0].dispose()


_EMPTYING: dict[str, tuple[Any, str]] = {}


def _empty_all(url: str) -> None:
    """Empty every table of the shared database and restart its id sequences.

    ``DELETE`` child tables first, then ``ALTER SEQUENCE ... RESTART``, sent as one script over a
    kept connection pool: on tables holding a test's few rows this takes a few milliseconds, where
    ``TRUNCATE ... RESTART IDENTITY CASCADE`` of every table takes a quarter of a second (it gives
    each table new files).
    """
    from sqlalchemy import create_engine, text

    from needleplan.storage.tables import metadata

    if url not in _EMPTYING:
        engine = create_engine(url)
        with engine.connect() as conn:
            sequences = conn.execute(
                text(
                    "SELECT quote_ident(sequence_schema) || '.' || quote_ident(sequence_name) "
                    "FROM information_schema.sequences WHERE sequence_schema = 'public'"
                )
            ).scalars()
            script = "".join(
                [f'DELETE FROM "{t.name}";' for t in reversed(metadata.sorted_tables)]
                + [f"ALTER SEQUENCE {name} RESTART;" for name in sequences]
            )
        _EMPTYING[url] = (engine, script)
    engine, script = _EMPTYING[url]
    with engine.begin() as conn:
        conn.exec_driver_sql(script)


@pytest.fixture(scope="session")
def _sqlite_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A SQLite file migrated to head, copied for each test."""
    from needleplan.storage import migrate
    from needleplan.storage.engine import make_engine

    path = tmp_path_factory.mktemp("sqlite-template") / "template.sqlite3"
    engine = make_engine(f"sqlite:///{path}")
    try:
        migrate.upgrade(engine)
    finally:
        engine.dispose()  # closing the last connection checkpoints the WAL into the file
    return path


@pytest.fixture(params=BACKENDS)
def backend(request: pytest.FixtureRequest) -> str:
    """The database backend under test: ``"sqlite"`` or ``"postgresql"``."""
    value: str = request.param
    return value


@pytest.fixture
def database_url(backend: str, request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """URL of an empty database at the newest schema on the backend under test.

    SQLite: a copy of a migrated file in the test's tmp_path. PostgreSQL: one shared database,
    emptied (identities restarted) before the test.
    """
    if backend == "sqlite":
        template: Path = request.getfixturevalue("_sqlite_template")
        target = tmp_path / "needleplan.sqlite3"
        shutil.copyfile(template, target)
        return f"sqlite:///{target}"
    url: str = request.getfixturevalue("_pg_shared")
    _empty_all(url)
    return url


@pytest.fixture
def empty_database_url(
    backend: str, request: pytest.FixtureRequest, tmp_path: Path
) -> Iterator[str]:
    """URL of a fresh database with no tables at all, on the backend under test."""
    if backend == "sqlite":
        yield f"sqlite:///{tmp_path / 'empty.sqlite3'}"
        return
    pg: PostgresHandle = request.getfixturevalue("pg_server")
    url = pg.create_database(f"empty_{next(_counter)}")
    yield url
    pg.drop_database(url)


@pytest.fixture
def db(database_url: str) -> Iterator[Any]:
    """A :class:`needleplan.storage.Database` on a fresh database (schema at head)."""
    from needleplan.storage import Database

    database = Database.open(database_url, upgrade=False)
    try:
        yield database
    finally:
        database.dispose()


# --------------------------------------------------------------------------- clinic records


class ClinicSetup:
    """A small clinic on the database under test: two practitioners and one patient."""

    def __init__(self, db: Any) -> None:
        from needleplan import services

        self.db = db
        self.clinic = services.ensure_clinic(db, "Test clinic", "Europe/London")
        self.alice = services.add_practitioner(db, "Alice Practitioner")
        self.bob = services.add_practitioner(db, "Bob Practitioner")
        self.patient = services.register_patient(
            db,
            {
                "given_name": "Jane",
                "family_name": "Doe",
                "birth_date": "1976-04-02",
                "email": "jane@example.org",
                "consent_treatment": True,
                "consent_contact": True,
            },
        )


def make_protocol_value(
    sessions: int = 3, *, blocked: bool = False, version: str = "test-1"
) -> Any:
    """A hand-built protocol for storage tests (the guideline engine is tested elsewhere)."""
    from needleplan.domain import Area, IntRange, Protocol

    return Protocol(
        initial_sessions=sessions,
        session_range=IntRange(min=max(sessions - 1, 0), max=sessions + 2),
        interval_days=IntRange(min=28, max=42),
        maintenance_interval_months=IntRange(min=6, max=12),
        difficult_case=False,
        blocked=blocked,
        block_reasons=["pregnancy"] if blocked else [],
        areas=[Area.FULL_FACE],
        guideline_version=version,
    )


@pytest.fixture
def clinic(db: Any) -> ClinicSetup:
    """Two practitioners and one registered patient on a fresh database."""
    return ClinicSetup(db)


@pytest.fixture
def make_protocol() -> Any:
    """The protocol factory: ``make_protocol(sessions=3, blocked=False, version="test-1")``."""
    return make_protocol_value


@pytest.fixture
def protocol() -> Any:
    """A three-session protocol snapshot (guideline version ``test-1``)."""
    return make_protocol_value()


#: A 1x1 PNG (a transparent pixel).
_TINY_PNG = (
    "89504e470d0a1a0a0000000d49484452000000010000000108060000001f15c489"
    "0000000d49444154789c6360606060000000050001a5f645400000000049454e44ae426082"
)


def populate_clinic(db: Any, patients: int = 4) -> ClinicSetup:
    """A clinic with a row in every table: courses, sessions, measurements, recall, users, audit,
    API tokens and leads."""
    from datetime import UTC, date, datetime, timedelta

    from needleplan import services
    from tests.consent_support import sign_treatment

    setup = ClinicSetup(db)
    t0 = datetime(2031, 1, 6, 9, 0, tzinfo=UTC)
    people = [setup.patient] + [
        services.register_patient(
            db,
            {
                "given_name": f"Pat{i}",
                "consent_treatment": True,
                "family_name": "Example",
                "birth_date": f"19{60 + i}-05-0{1 + i % 9}",
                "phone": f"+44 20 7946 000{i}",
                "consent_research": i % 2 == 0,
            },
        )
        for i in range(1, patients)
    ]
    user = services.create_user(db, "frontdesk", "correct horse battery", "front_desk")
    for i, person in enumerate(people):
        record = services.record_assessment(
            db,
            person.id,
            {
                "age": person.age_on((t0 - timedelta(days=7)).date()),
                "severity": "moderate",
                "areas": ["full_face"],
            },
            assessed_at=t0 - timedelta(days=7),
        )
        start = t0 + timedelta(hours=i)
        booking = services.book_course(
            db,
            person.id,
            make_protocol_value(2),
            [
                (
                    start + timedelta(days=30 * k),
                    start + timedelta(days=30 * k, minutes=45),
                    setup.alice.id,
                )
                for k in range(2)
            ],
            assessment_id=record.id,
        )
        first = booking.appointments[0]
        sign_treatment(db, person.id)
        services.record_session(
            db,
            {
                "performed_at": first.start.isoformat(),
                "areas": ["full_face"],
                "device": "pen",
                "needle_depth_mm": {"full_face": 1.5},
                "passes": 2,
                "practitioner_id": setup.alice.id,
            },
            appointment_id=first.id,
        )
        services.record_measurement(
            db,
            person.id,
            {
                "scale": "gais",
                "value": 2,
                "measured_at": (datetime.now(UTC) - timedelta(days=1 + i)).isoformat(),
                "course_id": booking.course.id,
            },
        )
        recall = services.add_recall(
            db, person.id, (t0 + timedelta(days=365)).date(), reason="annual review"
        )
        services.record_contact(
            db, recall.id, channel="phone", outcome="no_answer", by_user_id=user.id
        )
        services.record_audit(db, user, "patient.read", person.id)
    from needleplan.domain.records import Lead

    services.issue_api_token(db, user.id, "reporting")
    services.add_lead(
        db,
        Lead(
            public_id="lead0001",
            name="Visitor Example",
            email="visitor@example.org",
            phone="",
            message="please call",
            estimate_summary="3 sessions",
            consent_text="I agree that the clinic stores my details.",
            consented_at=t0,
        ),
    )
    from needleplan.services import clinic_calendar

    owner = services.create_user(db, "owner", "correct horse battery", "admin")  # may configure

    clinic_calendar.save_clinic_config(
        db,
        'name = "Test clinic"\ntimezone = "Europe/London"\n\n[opening_hours]\n'
        'monday = ["09:00-18:00"]\n\n[[practitioners]]\nname = "Alice Practitioner"\n\n'
        '[[practitioners]]\nname = "Bob Practitioner"\n',
        owner,
        "test calendar",
    )
    # The contact request became a patient; a closed recall entry kept its reason.
    services.link_lead_to_patient(db, owner, "lead0001", setup.patient.id)
    closed = services.add_recall(db, setup.patient.id, (t0 - timedelta(days=30)).date())
    services.close_recall(db, closed.id, "moved away")
    # A patient who asked for no recall messages (the outbox already holds the confirmations).
    with db.transaction() as uow:
        uow.outbox.opt_out(setup.patient.id, t0, "unsubscribe link")
    # She reads German (her messages and handout; docs/languages.md).
    with db.transaction() as uow:
        uow.patients.set_language(setup.patient.id, "de", t0)
    # A clinic calibration fit awaiting review (a proposal: the default stays in force).
    from needleplan.forecasting.clinic_fit import default_calibration

    with db.transaction() as uow:
        uow.calibrations.add_proposal(
            {"calibration": default_calibration().to_json()}, "test fit", t0, owner.id, "owner"
        )
    # A patient on the waitlist for an earlier review.
    from needleplan.services.waitlist import add_to_waitlist

    add_to_waitlist(db, owner, person.id, "review", note="any earlier day", now=t0)
    # The clinic's logo (a 1x1 PNG, checked and re-encoded as an upload would be).
    from needleplan.services.clinic_identity import check_logo, store_logo

    store_logo(db, check_logo(bytes.fromhex(_TINY_PNG), "logo.png"), "owner")
    # Her portal link, used to confirm a visit and to ask for a call back.
    from needleplan.services.portal_links import issue_link_in

    with db.transaction() as uow:
        visit = uow.appointments.all()[0]
        _, link = issue_link_in(uow, visit.patient_id, "portal", at=t0)
        uow.portal_links.confirm_visit(visit.id, visit.start, t0, link.id)
        uow.portal_links.add_callback(visit.patient_id, t0, "about the next visit", link.id)
    # A link to sign her photo consent at home (its kind in consent_links).
    from needleplan.services.consent_links import issue_consent_link_in

    with db.transaction() as uow:
        issue_consent_link_in(uow, visit.patient_id, "photo", at=t0)
    # Two-factor sign-in for the owner (secret and hashed recovery codes), a retention setting,
    # and a worker heartbeat (left out of backups).
    import pyotp

    from needleplan.services import two_factor
    from needleplan.services.data_rights import set_retention
    from needleplan.services.messaging.worker import beat

    enrolment = two_factor.start_enrolment(db, owner)
    two_factor.confirm_enrolment(db, owner, pyotp.TOTP(enrolment.secret).at(t0), now=t0)
    set_retention(db, clinical_years=12, actor=owner)
    beat(db, "worker-test")
    # A before photo of the first patient's first session (with her photo consent).
    from needleplan.services.photos import upload_photo
    from tests.photo_support import jpeg, sign_photo

    sign_photo(db, setup.patient.id)
    with db.transaction() as uow:
        first_visit = uow.appointments.for_patient(setup.patient.id)[0]
    practitioner = services.create_user(db, "photographer", "correct horse battery", "practitioner")
    upload_photo(
        db,
        practitioner,
        setup.patient.id,
        first_visit.id,
        "front",
        jpeg(),
        taken_at=t0,
        now=t0 + timedelta(hours=1),
    )
    # A signed-in browser (backups leave staff_sessions out; the backup tests check that).
    from needleplan.services.staff_sessions import SessionPolicy, start_session

    start_session(db, user.id, "Mozilla/5.0 (X11; Linux x86_64) Firefox/128.0", SessionPolicy())
    # Intake answers sent through the portal, confirmed by a practitioner, and a kiosk lock.
    from needleplan.services import intake
    from tests.intake_support import CLEAR

    reviewer = services.create_user(
        db, "reviewer", "correct horse battery", "practitioner", practitioner_id=setup.alice.id
    )
    sent = intake.submit_intake(db, setup.patient.id, CLEAR, channel="portal", now=t0)
    intake.confirm_intake(
        db, reviewer, sent.id, {**sent.values, "severity": "moderate"}, now=t0 + timedelta(hours=1)
    )
    intake.start_kiosk(db, user, "0" * 64, setup.patient.id, now=t0)
    # A consultation held on the public booking page, and its confirmation link's digest.
    from needleplan.domain.online_booking import OnlineBookingForm
    from needleplan.domain.records import SlotRequest as _Slot

    with db.transaction() as uow:
        start = datetime(2040, 1, 2, 9, 0, tzinfo=UTC)
        held = uow.online_bookings.hold(
            OnlineBookingForm(
                "Olga", "Online", date(1979, 3, 4), "olga@example.org", "+49301234568", False
            ),
            _Slot(start=start, end=start + timedelta(minutes=30), practitioner_id=setup.alice.id),
            "en",
            t0,
            t0 + timedelta(minutes=30),
        )
        uow.online_bookings.add_link("f" * 64, held.id, t0, None)
    # A webhook endpoint (on a closed loopback port) and one event queued for it.
    from needleplan.services.messaging.webhooks import emit_in
    from needleplan.services.webhooks import add_endpoint

    add_endpoint(db, None, "http://127.0.0.1:18299/hook", ["patient.created"], now=t0)
    with db.transaction() as uow:
        emit_in(uow, "patient.create", setup.patient.id, "", t0)
    # Her answer to a follow-up survey (a measurement, one per link) and a clinic template.
    with db.transaction() as uow:
        _, survey_link = issue_link_in(uow, setup.patient.id, "survey", at=t0)
        answer = uow.measurements.for_patient(setup.patient.id)[0]
        uow.surveys.add(survey_link.id, setup.patient.id, None, answer.id, t0)
        uow.message_templates.add(
            "reminder", "en", t0, "owner", subject="See you soon", text="Hello", html="<p>Hi</p>"
        )
    return setup


#: Per test process and backend: (template: a SQLite path or a PostgreSQL database name, the
#: setup's values, the media folder the build stored its files in).
_POPULATED: dict[str, tuple[str, dict[str, Any], Path]] = {}


def _populated_template(
    request: pytest.FixtureRequest, backend: str
) -> tuple[str, dict[str, Any], Path]:
    """``populate_clinic`` run once per test process and backend, into a database that every
    ``populated`` test copies (and a media folder holding the photo it uploads)."""
    if backend not in _POPULATED:
        from needleplan.storage import Database, migrate
        from needleplan.storage.engine import make_engine
        from needleplan.storage.media import ENV_VAR

        factory: pytest.TempPathFactory = request.getfixturevalue("tmp_path_factory")
        folder = factory.mktemp(f"populated-{backend}")
        if backend == "sqlite":
            template = str(folder / "populated.sqlite3")
            shutil.copyfile(request.getfixturevalue("_sqlite_template"), template)
            url = f"sqlite:///{template}"
        else:
            template = "populated_template"
            url = request.getfixturevalue("pg_server").create_database(template)
            engine = make_engine(url)
            try:
                migrate.upgrade(engine)
            finally:
                engine.dispose()
        media = folder / "media"
        previous = os.environ.get(ENV_VAR)
        os.environ[ENV_VAR] = str(media)
        db = Database.open(url, upgrade=False)
        try:
            setup = populate_clinic(db)
        finally:
            db.dispose()  # SQLite: checkpoints the WAL; PostgreSQL: no session left on it
            if previous is None:
                os.environ.pop(ENV_VAR, None)
            else:
                os.environ[ENV_VAR] = previous
        values = {k: v for k, v in vars(setup).items() if k != "db"}
        _POPULATED[backend] = (template, values, media)
    return _POPULATED[backend]


@pytest.fixture
def populated(
    backend: str, request: pytest.FixtureRequest, tmp_path: Path, media_folder: Path
) -> Iterator[ClinicSetup]:
    """A clinic with a few patients and at least one row in every table (``populate_clinic``),
    on the backend under test, with its photo in the test's media folder.

    Built through the services once per test process and backend, then copied for each test
    (SQLite: the file; PostgreSQL: ``CREATE DATABASE ... TEMPLATE``): the same rows and ids as
    populating a fresh database, for milliseconds instead of a second and a half.
    """
    from needleplan.storage import Database

    template, values, media = _populated_template(request, backend)
    if backend == "sqlite":
        target = tmp_path / "populated.sqlite3"
        shutil.copyfile(template, target)
        url = f"sqlite:///{target}"
    else:
        pg: PostgresHandle = request.getfixturevalue("pg_server")
        url = pg.create_database(f"populated_{next(_counter)}", template=template)
    shutil.copytree(media, media_folder, dirs_exist_ok=True)
    db = Database.open(url, upgrade=False)
    setup = ClinicSetup.__new__(ClinicSetup)
    vars(setup).update(values, db=db)
    try:
        yield setup
    finally:
        db.dispose()
        if backend != "sqlite":
            request.getfixturevalue("pg_server").drop_database(url)


@pytest.fixture
def demo_clinic(backend: str, request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Any]:
    """A fresh copy of the shared demo clinic (tests/demo_support.py: ``DEMO``, 120 patients)
    on the backend under test, as a ``DemoClinic`` (``db``, ``summary``, ``spec``). It is built
    through the services once per run and copied per test."""
    from tests.demo_support import open_demo_clinic

    with open_demo_clinic(request, backend, tmp_path) as demo:
        yield demo
