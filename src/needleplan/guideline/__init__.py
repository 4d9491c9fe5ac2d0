"""needleplan.guideline."""
