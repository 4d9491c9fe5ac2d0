"""needleplan.web: the FastAPI application (REST API, public estimator, staff workspace).

Build it with :func:`create_app`; ``needleplan serve`` runs it under uvicorn.
"""

from needleplan.web.app import create_app
from needleplan.web.settings import Settings, load_settings

__all__ = ["Settings", "create_app", "load_settings"]
