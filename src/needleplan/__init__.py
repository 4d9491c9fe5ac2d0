"""needleplan: plans microneedling courses for skin tightening and forecasts how long results last.

needleplan is decision support for trained practitioners. It is not a diagnosis and does not
replace a practitioner's clinical judgement.
"""

from __future__ import annotations

__version__ = "0.1.0"

from needleplan.domain.disclaimer import DISCLAIMER

__all__ = ["DISCLAIMER", "__version__"]
