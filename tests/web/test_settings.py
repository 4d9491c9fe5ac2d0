"""Settings are validated at start; production refuses unsafe secrets."""

from __future__ import annotations

import pytest

from needleplan.exceptions import ConfigError
from needleplan.web.settings import DEV_SECRET, Environment, load_settings

from .conftest import TEST_SECRET


def test_development_accepts_the_default_secret(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("NEEDLEPLAN_SECRET_KEY", raising=False)
    settings = load_settings(_env_file=None)
    assert settings.secret_key == DEV_SECRET
    assert settings.environment is Environment.DEVELOPMENT


def test_production_refuses_the_default_secret(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("NEEDLEPLAN_ENVIRONMENT", "production")
    monkeypatch.delenv("NEEDLEPLAN_SECRET_KEY", raising=False)
    with pytest.raises(ConfigError) as info:
        load_settings(_env_file=None)
    problem = info.value.problems[0]
    assert problem.field == "NEEDLEPLAN_SECRET_KEY"
    assert "development default" in problem.rule
    assert DEV_SECRET not in str(info.value), "the secret itself is never echoed"


def test_production_refuses_a_short_secret(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("NEEDLEPLAN_ENVIRONMENT", "production")
    monkeypatch.setenv("NEEDLEPLAN_SECRET_KEY", "s" * 20)
    with pytest.raises(ConfigError, match="at least 32"):
        load_settings(_env_file=None)


def test_production_accepts_a_long_random_secret(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("NEEDLEPLAN_ENVIRONMENT", "production")
    monkeypatch.setenv("NEEDLEPLAN_SECRET_KEY", TEST_SECRET)
    assert load_settings(_env_file=None).production


def test_bad_values_name_the_environment_variable(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("NEEDLEPLAN_PORT", "99999")
    monkeypatch.setenv("NEEDLEPLAN_ENVIRONMENT", "staging")
    with pytest.raises(ConfigError) as info:
        load_settings(_env_file=None)
    fields = {p.field for p in info.value.problems}
    assert fields == {"NEEDLEPLAN_PORT", "NEEDLEPLAN_ENVIRONMENT"}


def test_settings_read_a_dotenv_file(tmp_path: object, monkeypatch: pytest.MonkeyPatch) -> None:
    from pathlib import Path

    assert isinstance(tmp_path, Path)
    env_file = tmp_path / ".env"
    env_file.write_text("NEEDLEPLAN_PORT=8123\nNEEDLEPLAN_API_BURST=3\n", encoding="utf-8")
    monkeypatch.delenv("NEEDLEPLAN_PORT", raising=False)
    settings = load_settings(_env_file=str(env_file))
    assert (settings.port, settings.api_burst) == (8123, 3)
