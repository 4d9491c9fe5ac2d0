"""needleplan.scheduling."""
