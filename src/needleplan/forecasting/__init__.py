"""needleplan.forecasting."""
