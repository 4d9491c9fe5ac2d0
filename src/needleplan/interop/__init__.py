"""needleplan.interop."""
