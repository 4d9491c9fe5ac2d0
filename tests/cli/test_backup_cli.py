"""``needleplan backup`` / ``restore`` / ``backup-key`` through the real entry point: encrypted
backups, a wrong key as one line and exit code 2, the scheduled ``--dir`` run with verification
and rotation exactly as the shipped systemd unit calls it."""

from __future__ import annotations

import configparser
import shlex
import shutil
import stat
import subprocess
import time
from pathlib import Path

import pytest

from tests.cli_support import Runner

DEPLOY = Path(__file__).resolve().parents[2] / "deploy"


@pytest.fixture
def clinic(cli: Runner) -> Runner:
    res = cli(
        "patient",
        "add",
        "--given-name",
        "Jane",
        "--family-name",
        "Doe",
        "--birth-date",
        "1976-04-02",
        "--consent-treatment",
    )
    assert res.returncode == 0, res.stderr
    return cli


def test_encrypted_backup_and_restore_with_a_key_file(clinic: Runner, tmp_path: Path) -> None:
    key = tmp_path / "keys" / "backup.key"
    made = clinic("backup-key", str(key))
    assert made.returncode == 0, made.stderr
    assert stat.S_IMODE(key.stat().st_mode) == 0o600
    assert clinic("backup-key", str(key)).returncode == 2  # never overwritten
    file = tmp_path / "b.json.gz.enc"
    res = clinic("backup", str(file), "--key-file", str(key), "--verify")
    assert res.returncode == 0, res.stderr
    assert "encrypted" in res.stdout
    assert "verified" in res.stdout
    assert stat.S_IMODE(file.stat().st_mode) == 0o600
    other = f"sqlite:///{tmp_path / 'restored.sqlite3'}"
    no_key = clinic("restore", str(file), "--database", other)
    assert no_key.returncode == 2
    assert no_key.stderr.strip().count("\n") == 0
    assert "is an encrypted backup: give --key-file or --passphrase-file" in no_key.stderr
    (tmp_path / "wrong.key").write_text("a different key of enough characters\n")
    wrong = clinic(
        "restore", str(file), "--database", other, "--key-file", str(tmp_path / "wrong.key")
    )
    assert wrong.returncode == 2
    assert "key_file: does not open this backup" in wrong.stderr
    assert "Traceback" not in wrong.stderr
    good = clinic("restore", str(file), "--database", other, "--key-file", str(key))
    assert good.returncode == 0, good.stderr
    listed = clinic("patient", "list", "--database", other)
    assert "Doe" in listed.stdout


def test_a_passphrase_file_works_and_a_wrong_one_is_exit_2(clinic: Runner, tmp_path: Path) -> None:
    phrase = tmp_path / "phrase"
    phrase.write_text("a long clinic passphrase\n")
    file = tmp_path / "b.enc"
    assert clinic("backup", str(file), "--passphrase-file", str(phrase)).returncode == 0
    phrase.write_text("another long passphrase\n")
    other = f"sqlite:///{tmp_path / 'r.sqlite3'}"
    res = clinic("restore", str(file), "--database", other, "--passphrase-file", str(phrase))
    assert res.returncode == 2
    assert "passphrase_file: does not open this backup" in res.stderr


@pytest.mark.parametrize(
    ("args", "message"),
    [
        ([], "give a FILE or --dir DIR"),
        (["x.json", "--dir", "d"], "give a FILE or --dir DIR"),
        (
            ["--dir", "d", "--keep-daily", "0", "--keep-weekly", "0", "--keep-monthly", "0"],
            "keep_daily",
        ),
        (["--dir", "d", "--keep-weekly", "-3"], "keep_weekly"),
        (["x.json", "--key-file", "k", "--passphrase-file", "p"], "not both"),
    ],
)
def test_bad_backup_options_are_one_line_exit_2(
    clinic: Runner, args: list[str], message: str
) -> None:
    res = clinic("backup", *args)
    assert res.returncode == 2
    assert message in res.stderr


def _unit(name: str) -> configparser.ConfigParser:
    parser = configparser.ConfigParser(strict=False, interpolation=None)
    parser.optionxform = str  # type: ignore[assignment,method-assign]
    parser.read(DEPLOY / name)
    return parser


def test_the_shipped_backup_unit_runs_verifies_and_rotates(clinic: Runner, tmp_path: Path) -> None:
    service = _unit("needleplan-backup.service")
    assert service["Service"]["Type"] == "oneshot"
    assert service["Service"]["UMask"] == "0077"
    argv = shlex.split(service["Service"]["ExecStart"])
    assert argv[0] == "/opt/needleplan/.venv/bin/needleplan"
    folder, key = tmp_path / "var-backups", tmp_path / "etc" / "backup.key"
    assert "/var/backups/needleplan" in service["Service"]["ReadWritePaths"]
    args = [
        {"/var/backups/needleplan": str(folder), "/etc/needleplan/backup.key": str(key)}.get(a, a)
        for a in argv[1:]
    ]
    assert clinic("backup-key", str(key)).returncode == 0
    first = clinic(*args)
    assert first.returncode == 0, first.stderr
    assert "verified: a scratch restore holds the same" in first.stdout
    (made,) = folder.glob("needleplan-*.json.gz.enc")
    time.sleep(1.05)  # backups are named to the second: the next one is a second later
    second = clinic(*args)  # later the same day: the day's newest backup replaces it
    assert second.returncode == 0, second.stderr
    assert f"deleted {made.name}" in second.stdout
    assert len(list(folder.glob("needleplan-*.json.gz.enc"))) == 1
    assert stat.S_IMODE(folder.stat().st_mode) == 0o700
    timer = _unit("needleplan-backup.timer")
    assert timer["Timer"]["Persistent"] == "true"
    if shutil.which("systemd-analyze"):
        check = subprocess.run(
            ["systemd-analyze", "calendar", timer["Timer"]["OnCalendar"]],
            capture_output=True,
            text=True,
            check=False,
        )
        assert check.returncode == 0, check.stderr
