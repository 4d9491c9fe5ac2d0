"""Scenarios for one patient: one session, the series alone, the series with maintenance, and
the cheapest plan that keeps the improvement (chain forecasts plus the optimiser's costs).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
from numpy.typing import NDArray

from needleplan.domain import Assessment, Protocol
from needleplan.exceptions import InputError
from needleplan.forecasting import standard
from needleplan.forecasting.chain import ForecastResult, forecast, same_patient, series_days
from needleplan.forecasting.optimise import (
    CheapestPlan,
    Prices,
    UpkeepVsLapse,
    cheapest_schedule,
    resolve_prices,
    upkeep_vs_lapse,
)
from needleplan.forecasting.params import (
    ModelParams,
)
from needleplan.forecasting.result import DEFAULT_CALIBRATION


# --------------------------------------------------------------------------------------------
# Scenarios
# --------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class Scenario:
    """One schedule, its forecast and its cost over the horizon."""

    key: str
    label: str
    result: ForecastResult
    initial_sessions: int
    maintenance_sessions: int
    cost: float

    @property
    def sessions(self) -> int:
        return self.initial_sessions + self.maintenance_sessions

    @property
    def noticeable_months(self) -> float:
        return self.result.milestones.noticeable_months_after_last_initial.median

    @property
    def noticeable_years(self) -> float:
        return self.result.milestones.noticeable_years_total

    @property
    def cost_per_noticeable_year(self) -> float | None:
        y = self.noticeable_years
        return self.cost / y if y > 0 else None

    def to_json(self) -> dict[str, Any]:
        cpy = self.cost_per_noticeable_year
        return {
            "key": self.key,
            "label": self.label,
            "session_days": self.result.to_json()["session_days"],
            "initial_sessions": self.initial_sessions,
            "maintenance_sessions": self.maintenance_sessions,
            "cost": round(self.cost, 2),
            "noticeable_months_after_last_initial": (
                self.result.milestones.noticeable_months_after_last_initial.to_json()
            ),
            "noticeable_censored": self.result.milestones.noticeable_censored,
            "noticeable_years_total": round(self.noticeable_years, 3),
            "cost_per_noticeable_year": None if cpy is None else round(cpy, 2),
            "peak_day": self.result.milestones.peak_day,
            "peak_improvement": round(self.result.milestones.peak_improvement, 3),
            "back_to_baseline_day": self.result.milestones.back_to_baseline_day,
        }


@dataclass(frozen=True)
class Comparison:
    """The standard scenarios side by side, the cheapest plan and upkeep vs. lapse."""

    scenarios: list[Scenario]
    cheapest: CheapestPlan | None
    keep_years: float
    upkeep_vs_lapse: UpkeepVsLapse
    prices: Prices
    years: float
    calibration: str = DEFAULT_CALIBRATION

    def scenario(self, key: str) -> Scenario:
        for sc in self.scenarios:
            if sc.key == key:
                return sc
        raise KeyError(key)

    def to_json(self, *, curves: bool = False) -> dict[str, Any]:
        out: dict[str, Any] = {
            "years": self.years,
            "calibration": self.calibration,
            "currency": self.prices.currency,
            "prices": self.prices.to_json(),
            "scenarios": [sc.to_json() for sc in self.scenarios],
            "cheapest": None if self.cheapest is None else self.cheapest.to_json(),
            "keep_noticeable_years": self.keep_years,
            "upkeep_vs_lapse": self.upkeep_vs_lapse.to_json(),
        }
        if curves:
            out["curves"] = {
                sc.key: {
                    "median": np.round(sc.result.median, 3).tolist(),
                    "p10": np.round(sc.result.p10, 3).tolist(),
                    "p90": np.round(sc.result.p90, 3).tolist(),
                }
                for sc in self.scenarios
            }
            out["day"] = [int(d) for d in self.scenarios[0].result.day]
        return out


def compare_scenarios(
    assessment: Assessment,
    protocol: Protocol,
    *,
    prices: Prices | Mapping[str, Any] | None = None,
    years: float = standard.YEARS,
    draws: int = standard.DRAWS,
    seed: int = standard.SEED,
    params: ModelParams | None = None,
    keep_years: float = 5.0,
    maintenance_months: Sequence[float] = (6, 9, 12),
) -> Comparison:
    """Single session, the series alone, the series plus maintenance every 6/9/12 months.

    Parameters
    ----------
    assessment : Assessment
    protocol : Protocol
        Gives the initial count, the recommended interval and the search bounds of the
        cheapest plan (``session_range``, ``interval_days``, ``maintenance_interval_months``).
    prices : Prices or mapping, optional
        Session prices (default: the shipped ``prices.toml``).
    years : float
        Horizon [years].
    keep_years : float
        The cheapest plan keeps the median improvement noticeable this long [years].

    Returns
    -------
    Comparison
    """
    pr = resolve_prices(prices)
    n = protocol.initial_sessions
    if n < 1:
        raise InputError.one("protocol.initial_sessions", n, "must be at least 1 to forecast")
    interval = float(protocol.recommended_interval_days)

    def run(
        key: str, label: str, sd: NDArray[np.float64], n_init: int, m: float | None = None
    ) -> Scenario:
        res = forecast(
            assessment,
            sd,
            years=years,
            draws=draws,
            seed=seed,
            params=params,
            n_initial=n_init,
            maintenance_months=m,
        )
        n_maint = int(sd.size - n_init)
        return Scenario(key, label, res, n_init, n_maint, pr.cost(n_init, n_maint))

    with same_patient():  # the maintenance scenarios' upkeep envelopes share schedules
        scenarios = [
            run("single", "One session", series_days(1, interval, years=years), 1),
            run(
                "series",
                f"{n} sessions, no upkeep",
                series_days(n, interval, years=years),
                n,
            ),
        ]
        for m in maintenance_months:
            sd = series_days(n, interval, maintenance_months=m, years=years)
            key, label = f"maintenance_{m:g}m", f"{n} sessions + every {m:g} months"
            scenarios.append(run(key, label, sd, n, m))
    cheapest = cheapest_schedule(
        assessment,
        keep_years=keep_years,
        session_range=(protocol.session_range.min, protocol.session_range.max),
        interval_range=(protocol.interval_days.min, protocol.interval_days.max),
        maintenance_range=(
            protocol.maintenance_interval_months.min,
            protocol.maintenance_interval_months.max,
        ),
        prices=pr,
        draws=draws,
        seed=seed,
        params=params,
    )
    upkeep = upkeep_vs_lapse(
        assessment,
        n_sessions=n,
        interval_days=interval,
        maintenance_months=float(protocol.maintenance_interval_months.max),
        prices=pr,
        years=years,
        draws=draws,
        seed=seed,
        params=params,
    )
    return Comparison(scenarios, cheapest, keep_years, upkeep, pr, float(years))
