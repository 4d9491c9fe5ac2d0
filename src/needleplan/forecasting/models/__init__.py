"""needleplan.forecasting.models."""
