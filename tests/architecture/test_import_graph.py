"""The import graph of ``src/needleplan``: no cycles, and imports point inward only.

Built from the source with :mod:`ast` (imports inside functions count too), so a lazy import that
hides a cycle from Python still fails here. Layers, innermost first::

    domain  <-  guideline, forecasting, scheduling  <-  storage, services  <-  interop, reports,
    cohort, web, cli

``from package import submodule`` is an edge to the submodule only (a package's ``__init__``
re-exporting its parts is not a cycle).
"""

from __future__ import annotations

import ast
import sys
from collections.abc import Iterable
from functools import cache
from pathlib import Path

import pytest

SRC = Path(__file__).resolve().parents[2] / "src" / "needleplan"
CORE = ("domain", "guideline", "forecasting", "scheduling")
FRAMEWORKS = {"fastapi", "starlette", "sqlalchemy", "alembic", "typer", "rich", "uvicorn"}


def _modules() -> dict[str, Path]:
    found: dict[str, Path] = {}
    for path in SRC.rglob("*.py"):
        parts = list(path.relative_to(SRC.parent).with_suffix("").parts)
        if parts[-1] == "__init__":
            parts = parts[:-1]
        found[".".join(parts)] = path
    return found


MODULES = _modules()


def _imports(name: str, path: Path) -> set[str]:
    """Every module ``name`` imports, anywhere in its body (absolute dotted names)."""
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    out: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            out.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.split(".")[: len(package.split(".")) - node.level + 1]
                target = ".".join([*base, *([node.module] if node.module else [])])
            else:
                target = node.module or ""
            submodules = {f"{target}.{a.name}" for a in node.names} & MODULES.keys()
            out.update(submodules)
            if len(submodules) < len(node.names):
                out.add(target)
    return out


@cache
def graph() -> dict[str, set[str]]:
    """Every module's imports, parsed once, on the first test that asks (not at collection:
    both xdist workers collect this file)."""
    return {name: _imports(name, path) for name, path in MODULES.items()}


def _internal(name: str) -> set[str]:
    return {d for d in graph()[name] if d in MODULES and d != name}


def _cycles() -> list[list[str]]:
    """Strongly connected components of more than one module (Tarjan, iterative)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[list[str]] = []
    counter = 0
    for root in sorted(graph()):
        if root in index:
            continue
        work: list[tuple[str, Iterable[str]]] = [(root, iter(sorted(_internal(root))))]
        index[root] = low[root] = counter
        counter += 1
        stack.append(root)
        on_stack.add(root)
        while work:
            node, children = work[-1]
            child = next(iter(children), None)
            if child is not None:
                if child not in index:
                    index[child] = low[child] = counter
                    counter += 1
                    stack.append(child)
                    on_stack.add(child)
                    work.append((child, iter(sorted(_internal(child)))))
                elif child in on_stack:
                    low[node] = min(low[node], index[child])
                continue
            work.pop()
            if work:
                low[work[-1][0]] = min(low[work[-1][0]], low[node])
            if low[node] == index[node]:
                component = []
                while True:
                    member = stack.pop()
                    on_stack.discard(member)
                    component.append(member)
                    if member == node:
                        break
                if len(component) > 1:
                    found.append(sorted(component))
    return found


def _layer(name: str) -> str:
    parts = name.split(".")
    return parts[1] if len(parts) > 1 else ""


def test_the_graph_sees_every_module_and_lazy_imports() -> None:
    """A sanity check of the checker: it finds modules and an import made inside a function."""
    assert "needleplan.services.booking" in MODULES
    assert "needleplan.domain.records" in graph()["needleplan.services.booking"]
    lazy = graph()["needleplan.cli.main"] | graph()["needleplan.cli.serve"]
    assert any(d.startswith("needleplan.web") for d in lazy)


def test_there_is_no_import_cycle() -> None:
    """Each strongly connected component of the import graph is a single module."""
    assert _cycles() == []


@pytest.mark.parametrize("layer", CORE)
def test_the_core_imports_no_framework(layer: str) -> None:
    """domain, guideline, forecasting and scheduling never import web, CLI or database frameworks."""
    offenders = {
        name: sorted({d for d in graph()[name] if d.split(".")[0] in FRAMEWORKS})
        for name in MODULES
        if _layer(name) == layer
    }
    assert {k: v for k, v in offenders.items() if v} == {}


def test_domain_imports_only_pydantic_and_the_standard_library() -> None:
    """The domain is pure values: pydantic, the standard library, itself and the exception tree;
    plus the two pure validators of contact details (domain/contact.py: no I/O, no DNS)."""
    allowed_inside = ("needleplan.domain", "needleplan.exceptions")
    offenders = {}
    for name in MODULES:
        if _layer(name) != "domain":
            continue
        bad = sorted(
            d
            for d in graph()[name]
            if not d.startswith(allowed_inside)
            and d.split(".")[0] not in sys.stdlib_module_names
            and d.split(".")[0]
            not in {"pydantic", "pydantic_core", "__future__", "phonenumbers", "email_validator"}
        )
        if bad:
            offenders[name] = bad
    assert offenders == {}


@pytest.mark.parametrize("layer", [*CORE, "storage"])
def test_inner_layers_do_not_import_outer_ones(layer: str) -> None:
    """Imports point inward: the core and storage never import services, web, cli or reports."""
    outer = {"services", "web", "cli", "interop", "reports", "cohort"}
    if layer == "storage":
        outer -= {"cohort"}
    offenders = {
        name: sorted(d for d in _internal(name) if _layer(d) in outer)
        for name in MODULES
        if _layer(name) == layer
    }
    assert {k: v for k, v in offenders.items() if v} == {}
