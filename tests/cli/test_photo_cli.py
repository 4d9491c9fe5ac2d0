"""``needleplan photo add | list | export`` through the real entry point: the web's pipeline
(metadata stripped), the photo-consent gate (exit 5), roles (exit 7), bad input (exit 2, one
line), unknown records (exit 4), a private export file, and the audit events."""

from __future__ import annotations

import hashlib
import json
import os
import stat
from pathlib import Path

from needleplan import services
from needleplan.storage import Database
from tests.photo_support import GPS_IFD, gif, jpeg, png_bomb

from .test_records_cli import Runner, _booked_template, booked, cli

__all__ = ["_booked_template", "booked", "cli"]


def _photo_consent(cli: Runner) -> None:
    res = cli("consent", "sign", "P000001", "--kind", "photo", "--signature", "signature.png")
    assert res.returncode == 0, res.stderr


def test_add_is_refused_without_photo_consent_and_stores_nothing(
    booked: Runner, tmp_path: Path
) -> None:
    (tmp_path / "front.jpg").write_bytes(jpeg())
    res = booked("photo", "add", "P000001", "front.jpg", "--view", "front", "--appointment", "1")
    assert res.returncode == 5, res.stderr
    assert res.stderr.startswith("error: patient 1 has no signed photo consent")
    assert len(res.stderr.strip().splitlines()) == 1
    assert booked("photo", "list", "P000001").stdout.strip() == "no photos"


def test_add_list_export_strip_metadata_write_0600_and_audit(
    booked: Runner, tmp_path: Path
) -> None:
    from PIL import Image

    _photo_consent(booked)
    (tmp_path / "front.jpg").write_bytes(jpeg(gps=True, orientation=6))
    res = booked(
        "photo", "add", "P000001", "front.jpg", "--view", "front", "--appointment", "1", "--json"
    )
    assert res.returncode == 0, res.stderr
    added = json.loads(res.stdout)
    assert (added["view"], added["appointment_id"]) == ("front", 1)
    assert (added["width"], added["height"]) == (200, 400)  # turned upright by orientation 6
    listed = json.loads(booked("photo", "list", "P000001", "--json").stdout)
    assert [p["id"] for p in listed] == [added["id"]]
    plain = booked("photo", "list", "1")
    assert plain.stdout.startswith(f"{added['id']}: front, session 1, taken ")

    out = booked("photo", "export", str(added["id"]), "--out", "out.jpg")
    assert out.returncode == 0, out.stderr
    written = tmp_path / "out.jpg"
    assert stat.S_IMODE(written.stat().st_mode) == 0o600
    data = written.read_bytes()
    assert hashlib.sha256(data).hexdigest() == added["sha256"]
    with Image.open(written) as image:
        assert GPS_IFD not in image.getexif()
        assert len(image.getexif()) == 0

    db = Database.open(os.environ["NEEDLEPLAN_DATABASE_URL"])
    try:
        actions = [e.action for e in services.audit_log(db, patient_id=1)]
    finally:
        db.dispose()
    assert {"photo.upload", "photo.list", "photo.download"} <= set(actions)


def test_bad_input_is_refused_in_one_line_naming_the_field(booked: Runner, tmp_path: Path) -> None:
    _photo_consent(booked)
    (tmp_path / "front.jpg").write_bytes(jpeg())
    (tmp_path / "anim.gif").write_bytes(gif())
    (tmp_path / "bomb.png").write_bytes(png_bomb())
    cases = [
        (("missing.jpg", "--view", "front", "--appointment", "1"), "FILE: "),
        (("front.jpg", "--view", "top", "--appointment", "1"), "view: "),
        (("front.jpg", "--view", "front", "--appointment", "999"), "appointment_id: "),
        (("anim.gif", "--view", "front", "--appointment", "1"), "file: "),
        (("bomb.png", "--view", "front", "--appointment", "1"), "file: "),
        (
            (
                "front.jpg",
                "--view",
                "front",
                "--appointment",
                "1",
                "--taken-at",
                "2999-01-01T00:00Z",
            ),
            "taken_at: must not be in the future",
        ),
    ]
    for args, expected in cases:
        res = booked("photo", "add", "P000001", *args)
        assert res.returncode == 2, (args, res.stderr)
        assert expected in res.stderr, (args, res.stderr)
        assert len(res.stderr.strip().splitlines()) == 1, res.stderr
    assert booked("photo", "list", "P000001").stdout.strip() == "no photos"
    assert booked("photo", "list", "P404").returncode == 4
    missing = booked("photo", "export", "77", "--out", "x.jpg")
    assert missing.returncode == 4
    assert "photo 77 does not exist" in missing.stderr
    assert not (tmp_path / "x.jpg").exists()
    huge = booked("photo", "export", "99999999999", "--out", "x.jpg")
    assert huge.returncode == 2
    assert "PHOTO_ID" in huge.stderr


def test_front_desk_and_admin_are_refused_with_exit_7(booked: Runner, tmp_path: Path) -> None:
    _photo_consent(booked)
    (tmp_path / "front.jpg").write_bytes(jpeg())
    added = booked("photo", "add", "1", "front.jpg", "--view", "front", "--appointment", "1")
    assert added.returncode == 0, added.stderr
    env = {"NEEDLEPLAN_PASSWORD": "desk-pass-12345"}
    assert booked("user", "add", "desk", "--role", "front_desk", env=env).returncode == 0
    assert booked("user", "add", "boss", "--role", "admin", env=env).returncode == 0
    for who in ("desk", "boss"):
        for args in (
            ("photo", "add", "1", "front.jpg", "--view", "front", "--appointment", "1"),
            ("photo", "list", "1"),
            ("photo", "export", "1", "--out", "x.jpg"),
            ("photo", "export", "404", "--out", "x.jpg"),  # refused before the lookup
        ):
            res = booked("--as", who, *args)
            assert res.returncode == 7, (who, args, res.stderr)
            assert "photo." in res.stderr
    assert not (tmp_path / "x.jpg").exists()
    listed = json.loads(booked("photo", "list", "1", "--json").stdout)
    assert len(listed) == 1
