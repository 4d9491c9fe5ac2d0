"""Moved to :mod:`needleplan.storage.repositories.clinic_configs`; this module keeps old imports working."""

from needleplan.storage.repositories.clinic_configs import *  # noqa: F403
from needleplan.storage.repositories.clinic_configs import __all__ as __all__
