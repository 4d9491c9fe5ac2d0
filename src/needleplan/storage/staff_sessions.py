"""Moved to :mod:`needleplan.storage.repositories.staff_sessions`; this module keeps old imports working."""

from needleplan.storage.repositories.staff_sessions import *  # noqa: F403
from needleplan.storage.repositories.staff_sessions import __all__ as __all__
