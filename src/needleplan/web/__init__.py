"""needleplan.web."""
