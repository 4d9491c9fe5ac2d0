"""needleplan.web: the FastAPI application (REST API, public estimator, staff workspace).

Build it with :func:`create_app`; ``needleplan serve`` runs it under uvicorn.

The names below are imported on first use (PEP 562), so importing a light submodule such as
``needleplan.web.settings`` does not build the whole application's imports: the parent process
of ``needleplan serve --workers N`` reads its settings without importing the app its workers
serve (about 3 s of CPU at every start).
"""

from __future__ import annotations

from importlib import import_module
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from needleplan.web.app import create_app
    from needleplan.web.settings import Settings, load_settings

__all__ = ["Settings", "create_app", "load_settings"]

_HOMES = {
    "create_app": "needleplan.web.app",
    "Settings": "needleplan.web.settings",
    "load_settings": "needleplan.web.settings",
}


def __getattr__(name: str) -> Any:
    home = _HOMES.get(name)
    if home is None:
        raise AttributeError(f"module 'needleplan.web' has no attribute {name!r}")
    value = getattr(import_module(home), name)
    globals()[name] = value
    return value
