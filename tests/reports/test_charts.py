"""The patient chart is written as a PNG."""

from __future__ import annotations

from pathlib import Path

import pytest

from needleplan.domain import reference_assessment
from needleplan.forecasting.chain import forecast, series_days
from needleplan.reports.charts import plot_forecast


def test_chart_with_several_scenarios_is_written_as_png(tmp_path: Path) -> None:
    ref = reference_assessment()
    scenarios = [
        ("series", forecast(ref, series_days(5, 35), draws=51, n_initial=5)),
        (
            "yearly upkeep",
            forecast(ref, series_days(5, 35, maintenance_months=12), draws=51, n_initial=5),
        ),
    ]
    out = plot_forecast(scenarios, tmp_path / "sub" / "chart.png")
    data = out.read_bytes()
    assert data[:8] == b"\x89PNG\r\n\x1a\n"
    assert len(data) > 20_000


def test_short_horizon_chart_uses_months(tmp_path: Path) -> None:
    res = forecast(reference_assessment(), [0, 35], years=1.5, draws=21, n_initial=2)
    assert plot_forecast([("two sessions", res)], tmp_path / "c.png").exists()


def test_chart_needs_a_scenario(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="at least one"):
        plot_forecast([], tmp_path / "x.png")
