"""The curated public API of ``needleplan``: ``__all__`` is pinned, every name resolves to the
object of its home module, ``import needleplan`` stays cheap, and README's Python runs."""

from __future__ import annotations

import importlib
import re
import subprocess
import sys
from pathlib import Path

import pytest

import needleplan

ROOT = Path(__file__).resolve().parents[1]

PINNED = [
    "DISCLAIMER",
    "Assessment",
    "BlockedError",
    "ClinicConfig",
    "Comparison",
    "ConfigError",
    "CourseSchedule",
    "ForecastResult",
    "Guideline",
    "InputError",
    "ModelRangeError",
    "NeedleplanError",
    "Protocol",
    "SchedulingError",
    "__version__",
    "cheapest_schedule",
    "compare_scenarios",
    "course_ics",
    "forecast",
    "load_clinic",
    "load_guideline",
    "load_prices",
    "maintenance_due",
    "make_protocol",
    "parse_assessment",
    "reference_assessment",
    "replan",
    "schedule_course",
    "series_days",
]

HOME = {
    "DISCLAIMER": "needleplan.domain.disclaimer",
    "Assessment": "needleplan.domain.assessment",
    "parse_assessment": "needleplan.domain.assessment",
    "reference_assessment": "needleplan.domain.assessment",
    "Protocol": "needleplan.domain.protocol",
    "Guideline": "needleplan.guideline.schema",
    "load_guideline": "needleplan.guideline.schema",
    "make_protocol": "needleplan.guideline.engine",
    "ForecastResult": "needleplan.forecasting.chain",
    "forecast": "needleplan.forecasting.chain",
    "series_days": "needleplan.forecasting.chain",
    "Comparison": "needleplan.forecasting.scenarios",
    "compare_scenarios": "needleplan.forecasting.scenarios",
    "cheapest_schedule": "needleplan.forecasting.optimise",
    "load_prices": "needleplan.forecasting.optimise",
    "ClinicConfig": "needleplan.scheduling.clinic",
    "load_clinic": "needleplan.scheduling.clinic",
    "CourseSchedule": "needleplan.scheduling.models",
    "schedule_course": "needleplan.scheduling.course",
    "course_ics": "needleplan.scheduling.ics",
    "maintenance_due": "needleplan.scheduling.recall",
    "replan": "needleplan.scheduling.replan",
    "BlockedError": "needleplan.exceptions",
    "ConfigError": "needleplan.exceptions",
    "InputError": "needleplan.exceptions",
    "ModelRangeError": "needleplan.exceptions",
    "NeedleplanError": "needleplan.exceptions",
    "SchedulingError": "needleplan.exceptions",
}


def test_all_is_pinned() -> None:
    """Adding or removing a public name is a deliberate change: update this list and the docs."""
    assert needleplan.__all__ == PINNED


@pytest.mark.parametrize("name", sorted(HOME))
def test_each_name_is_the_object_of_its_home_module(name: str) -> None:
    assert getattr(needleplan, name) is getattr(importlib.import_module(HOME[name]), name)


def test_every_public_name_has_a_home_and_is_listed_by_dir() -> None:
    assert set(PINNED) - {"__version__"} == set(HOME)
    assert set(PINNED) <= set(dir(needleplan))


def test_an_unknown_name_is_an_attribute_error() -> None:
    with pytest.raises(AttributeError, match="no attribute 'plan_everything'"):
        needleplan.plan_everything  # noqa: B018


def test_star_import_gives_the_public_api() -> None:
    namespace: dict[str, object] = {}
    exec("from needleplan import *", namespace)
    assert set(PINNED) - {"__version__"} <= namespace.keys()


def test_import_needleplan_loads_no_heavy_dependency() -> None:
    """The names are loaded on first use: importing the package costs only itself."""
    code = (
        "import sys, needleplan; heavy = ('numpy', 'pydantic', 'scipy', 'sqlalchemy', 'typer'); "
        "print(sorted(m for m in heavy if m in sys.modules))"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True
    ).stdout
    assert out.strip() == "[]"


def _python_blocks(text: str) -> list[str]:
    return re.findall(r"^```python\n(.*?)^```", text, flags=re.M | re.S)


def test_readme_has_a_python_example() -> None:
    assert _python_blocks((ROOT / "README.md").read_text(encoding="utf-8"))


@pytest.mark.parametrize(
    "block", _python_blocks((ROOT / "README.md").read_text(encoding="utf-8")), ids=str
)
def test_readme_python_examples_run(
    block: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """Each ```python block of README.md runs as written (in an empty folder)."""
    monkeypatch.chdir(tmp_path)
    exec(compile(block, "README.md", "exec"), {"__name__": "__readme__"})
    assert capsys.readouterr().out.strip()
