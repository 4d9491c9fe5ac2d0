"""needleplan.reports."""
