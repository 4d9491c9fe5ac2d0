"""``needleplan leads purge``: contact requests past the retention period are deleted."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

from needleplan import services
from needleplan.storage import Database
from needleplan.web.leads import make_lead

from .conftest import Runner


def _requests(tmp_path: Path) -> Database:
    db = Database.open(f"sqlite:///{tmp_path / 'cli.sqlite3'}")
    for name, days in (("Old One", 400), ("Mid One", 100), ("New One", 5)):
        services.add_lead(
            db,
            make_lead(
                name=name,
                email="x@example.org",
                phone="",
                message="",
                estimate_summary="",
                consent=True,
                now=datetime.now(UTC) - timedelta(days=days),
            ),
        )
    return db


def test_purge_uses_the_clinic_retention_then_days(cli: Runner, tmp_path: Path) -> None:
    db = _requests(tmp_path)
    try:
        result = cli("leads", "purge")  # the bundled clinic keeps requests 180 days
        assert result.returncode == 0, result.stderr
        assert "1 contact request older than 180 days deleted" in result.stdout
        assert [lead.name for lead in services.list_leads(db)] == ["Mid One", "New One"]
        result = cli("leads", "purge", "--days", "30")
        assert "1 contact request older than 30 days deleted" in result.stdout
        assert [lead.name for lead in services.list_leads(db)] == ["New One"]
        events, total = services.search_audit(db, action="lead.purge")
        assert total == 2
        assert all(e.detail.startswith("deleted=1") for e in events)
    finally:
        db.dispose()


def test_bad_days_exit_2_naming_the_rule(cli: Runner, tmp_path: Path) -> None:
    result = cli("leads", "purge", "--days", "0")
    assert result.returncode == 2
    assert "lead_retention_days" in result.stderr
    assert "1-3650" in result.stderr
