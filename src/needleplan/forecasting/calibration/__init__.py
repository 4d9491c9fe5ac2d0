"""needleplan.forecasting.calibration."""
