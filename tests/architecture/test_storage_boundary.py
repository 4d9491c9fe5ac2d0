"""No ORM row leaves storage: the layers above it never touch ``needleplan.storage.tables``.

Three checks, all on the source or the classes themselves:

* no module in services, interop, reports, cohort, web or cli imports the tables module (any
  import anywhere in its body, found with :mod:`ast`);
* no public repository method takes or returns a row class (its annotations name none);
* no service builds a repository from ``uow.session``: the unit of work exposes each one.
"""

from __future__ import annotations

import ast
import inspect
import re
from pathlib import Path

import pytest

from needleplan.storage import repositories, tables
from needleplan.storage.database import UnitOfWork

SRC = Path(__file__).resolve().parents[2] / "src" / "needleplan"
ABOVE_STORAGE = ("services", "interop", "reports", "cohort", "web", "cli")
TABLES = "needleplan.storage.tables"


ROW_CLASSES = sorted(
    name
    for name, value in vars(tables).items()
    if inspect.isclass(value) and issubclass(value, tables.Base) and value is not tables.Base
)


def imported_modules(source: str) -> set[str]:
    """Every absolute module named by an import in ``source`` (``from a import b`` gives ``a``
    and ``a.b``, since ``b`` may be a submodule)."""
    out: set[str] = set()
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Import):
            out.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and not node.level:
            out.add(node.module)
            out.update(f"{node.module}.{alias.name}" for alias in node.names)
    return out


def _files(layer: str) -> list[Path]:
    return sorted((SRC / layer).rglob("*.py"))


@pytest.mark.parametrize("layer", ABOVE_STORAGE)
def test_no_module_above_storage_imports_the_tables(layer: str) -> None:
    offenders = [
        str(path.relative_to(SRC))
        for path in _files(layer)
        if TABLES in imported_modules(path.read_text(encoding="utf-8"))
    ]
    assert offenders == [], f"import domain values from storage.repositories instead: {offenders}"


def test_the_import_check_sees_every_form_of_importing_the_tables() -> None:
    for source in (
        "from needleplan.storage.tables import AppointmentRow",
        "from needleplan.storage import tables",
        "import needleplan.storage.tables as t",
        "def f():\n    from needleplan.storage.tables import CourseRow\n",
    ):
        assert TABLES in imported_modules(source), source
    assert TABLES not in imported_modules("from needleplan.storage import Database")


def _repository_classes() -> list[type]:
    return sorted(
        {
            value
            for value in vars(repositories).values()
            if inspect.isclass(value) and value.__name__.endswith(("Repository", "Finder", "Query"))
        },
        key=lambda c: c.__name__,
    )


def _row_annotations(cls: type) -> dict[str, list[str]]:
    """Public methods of ``cls`` whose parameter or return annotations name a row class."""
    found: dict[str, list[str]] = {}
    pattern = re.compile(r"\b(" + "|".join(ROW_CLASSES) + r")\b")
    for name, fn in inspect.getmembers(cls, inspect.isfunction):
        if name.startswith("_"):
            continue
        text = " ".join(str(a) for a in inspect.get_annotations(fn).values())
        rows = sorted(set(pattern.findall(text)))
        if rows:
            found[f"{cls.__name__}.{name}"] = rows
    return found


def test_repository_methods_take_and_return_domain_values_not_rows() -> None:
    classes = _repository_classes()
    assert len(classes) >= 14, [c.__name__ for c in classes]
    found: dict[str, list[str]] = {}
    for cls in classes:
        found.update(_row_annotations(cls))
    assert found == {}, found


def test_the_row_check_sees_a_row_in_a_signature() -> None:
    class Leaky:
        def first(self, row: tables.PatientRow) -> int:
            return 0

        def second(self) -> tables.CourseRow | None:
            return None

        def _private(self) -> tables.CourseRow | None:
            return None

    assert _row_annotations(Leaky) == {
        "Leaky.first": ["PatientRow"],
        "Leaky.second": ["CourseRow"],
    }


def test_the_unit_of_work_exposes_every_repository() -> None:
    exposed = {
        type(value)
        for value in vars(UnitOfWork(session=None)).values()  # type: ignore[arg-type]
        if value is not None
    }
    assert set(_repository_classes()) <= exposed


def test_services_use_the_unit_of_works_repositories() -> None:
    offenders = []
    for path in _files("services"):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if (
                isinstance(node, ast.Attribute)
                and node.attr == "session"
                and isinstance(node.value, ast.Name)
                and node.value.id == "uow"
            ):
                offenders.append(f"{path.name}:{node.lineno}")
    assert offenders == []
