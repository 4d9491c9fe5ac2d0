"""The protocol rules: a versioned guideline file, its schema, and the engine."""

from needleplan.guideline.engine import make_protocol, present_factors, score
from needleplan.guideline.schema import FactorId, Guideline, load_guideline

__all__ = ["FactorId", "Guideline", "load_guideline", "make_protocol", "present_factors", "score"]
