"""needleplan.storage."""
