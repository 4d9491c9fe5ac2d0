"""needleplan.cli."""
