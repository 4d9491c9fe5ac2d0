"""The log format of every needleplan server process (``structlog``): one JSON object per line
(or text), the request id bound by :class:`needleplan.web.logs.RequestIdMiddleware`, uvicorn's
lines included. A module of its own with nothing heavy to import, because each worker process of
``needleplan serve --workers N`` loads it to configure logging before it answers its supervisor.
"""

from __future__ import annotations

import logging
from typing import Any

import structlog


def _drop_color_message(_logger: Any, _name: str, event: dict[str, Any]) -> dict[str, Any]:
    """uvicorn passes a coloured copy of each message as an extra; one copy is enough."""
    event.pop("color_message", None)
    return event


#: The processors every line goes through before it is rendered (structlog and stdlib lines).
SHARED_PROCESSORS: list[Any] = [
    structlog.contextvars.merge_contextvars,
    structlog.stdlib.add_logger_name,
    structlog.stdlib.add_log_level,
    structlog.processors.TimeStamper(fmt="iso", utc=True),
    structlog.stdlib.ExtraAdder(),
    _drop_color_message,
]

structlog.configure(
    processors=[
        structlog.stdlib.filter_by_level,
        *SHARED_PROCESSORS,
        structlog.processors.StackInfoRenderer(),
        structlog.stdlib.ProcessorFormatter.wrap_for_formatter,
    ],
    logger_factory=structlog.stdlib.LoggerFactory(),
    wrapper_class=structlog.stdlib.BoundLogger,
    cache_logger_on_first_use=True,
)


def formatter(fmt: str = "json") -> logging.Formatter:
    """The formatter of every handler: JSON lines, or coloured text for a terminal."""
    renderer: Any = (
        structlog.dev.ConsoleRenderer(colors=False)
        if fmt == "text"
        else structlog.processors.JSONRenderer()
    )
    return structlog.stdlib.ProcessorFormatter(
        foreign_pre_chain=SHARED_PROCESSORS,
        processors=[
            structlog.stdlib.ProcessorFormatter.remove_processors_meta,
            structlog.processors.format_exc_info,
            renderer,
        ],
    )


def logging_config(fmt: str = "json") -> dict[str, Any]:
    """The ``dictConfig`` of ``needleplan serve`` (and of each of its worker processes)."""
    return {
        "version": 1,
        "disable_existing_loggers": False,
        "formatters": {"structured": {"()": formatter, "fmt": fmt}},
        "handlers": {
            "default": {
                "class": "logging.StreamHandler",
                "formatter": "structured",
                "stream": "ext://sys.stderr",
            }
        },
        "root": {"handlers": ["default"], "level": "INFO"},
        "loggers": {
            "uvicorn": {"handlers": [], "level": "INFO", "propagate": True},
            "uvicorn.error": {"handlers": [], "level": "INFO", "propagate": True},
            "uvicorn.access": {"handlers": [], "level": "INFO", "propagate": True},
        },
    }
