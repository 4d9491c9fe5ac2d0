"""Costs, the cheapest schedule that keeps the improvement noticeable, upkeep vs. lapse.

Prices come from a clinic configuration (a mapping with the keys of ``prices.toml``) or the
shipped defaults.
"""

from __future__ import annotations

import math
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
from numpy.typing import NDArray

from needleplan.domain import Assessment
from needleplan.exceptions import ConfigError, FieldProblem, InputError
from needleplan.forecasting.chain import (
    ForecastResult,
    forecast,
    horizon_days,
    series_days,
)
from needleplan.forecasting.params import DAYS_PER_YEAR, ModelParams

PRICES_PATH = Path(__file__).with_name("prices.toml")


@dataclass(frozen=True)
class Prices:
    """Session prices.

    Attributes
    ----------
    initial_session : float
        Price of one session of an initial series [currency].
    maintenance_session : float
        Price of one maintenance session [currency].
    currency : str
        ISO 4217 code, e.g. ``"EUR"``.
    """

    initial_session: float
    maintenance_session: float
    currency: str = "EUR"

    @classmethod
    def from_mapping(cls, data: Mapping[str, Any], *, source: str = "prices") -> Prices:
        """Validate a mapping (e.g. a clinic TOML's ``[prices]`` section)."""
        problems: list[FieldProblem] = []
        known = {"initial_session", "maintenance_session", "currency"}
        problems += [FieldProblem(k, data[k], "unknown field") for k in sorted(set(data) - known)]
        values: dict[str, float] = {}
        for key in ("initial_session", "maintenance_session"):
            v = data.get(key)
            if v is None:
                problems.append(FieldProblem(key, v, "is required"))
            elif isinstance(v, bool) or not isinstance(v, int | float) or not math.isfinite(v):
                problems.append(FieldProblem(key, v, "must be a number"))
            elif v < 0:
                problems.append(FieldProblem(key, v, "must be >= 0"))
            else:
                values[key] = float(v)
        currency = data.get("currency", "EUR")
        if not isinstance(currency, str) or len(currency) != 3 or not currency.isalpha():
            problems.append(FieldProblem("currency", currency, "must be a 3-letter code"))
        if problems:
            raise ConfigError(problems, source=source)
        return cls(values["initial_session"], values["maintenance_session"], currency.upper())

    def cost(self, initial: int, maintenance: int) -> float:
        """Cost of ``initial`` series sessions and ``maintenance`` sessions [currency]."""
        return initial * self.initial_session + maintenance * self.maintenance_session

    def to_json(self) -> dict[str, Any]:
        return {
            "initial_session": self.initial_session,
            "maintenance_session": self.maintenance_session,
            "currency": self.currency,
        }


def load_prices(path: str | Path | None = None) -> Prices:
    """Prices from a TOML file with the keys of ``prices.toml`` (``None``: the shipped file)."""
    p = PRICES_PATH if path is None else Path(path)
    try:
        data = tomllib.loads(p.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise ConfigError.one("path", str(p), "file not found", source=str(p)) from None
    except (OSError, tomllib.TOMLDecodeError) as exc:
        raise ConfigError.one("path", str(p), f"cannot read TOML ({exc})", source=str(p)) from None
    section = data.get("prices", data)
    if not isinstance(section, Mapping):
        raise ConfigError.one("prices", section, "must be a table", source=str(p))
    return Prices.from_mapping(section, source=str(p))


def resolve_prices(prices: Prices | Mapping[str, Any] | None) -> Prices:
    """A :class:`Prices` from prices, a mapping, or ``None`` (the defaults)."""
    if prices is None:
        return load_prices(None)
    if isinstance(prices, Prices):
        return prices
    return Prices.from_mapping(prices)


def noticeable_throughout(result: ForecastResult, until_day: float) -> bool:
    """True if the median improvement, once noticeable, stays so until ``until_day``.

    The improvement must reach the threshold and then never dip below it up to ``until_day``
    (a dip before a maintenance session counts as a lapse).
    """
    above = result.median >= result.noticeable_threshold
    first = np.argmax(above)
    if not above[first]:
        return False
    stop = int(np.searchsorted(result.day, until_day, side="right"))
    return bool(stop > first and np.all(above[first:stop]))


@dataclass(frozen=True)
class CheapestPlan:
    """The cheapest schedule keeping the median improvement noticeable for ``keep_years``."""

    sessions: int
    interval_days: int
    maintenance_months: int | None
    cost: float
    session_count: int
    keep_years: float
    candidates_checked: int
    result: ForecastResult

    def to_json(self) -> dict[str, Any]:
        return {
            "initial_sessions": self.sessions,
            "interval_days": self.interval_days,
            "maintenance_months": self.maintenance_months,
            "sessions_total": self.session_count,
            "cost": round(self.cost, 2),
            "keep_noticeable_years": self.keep_years,
            "candidates_checked": self.candidates_checked,
        }


def _grid(lo: int, hi: int, step: int) -> list[int]:
    values = list(range(lo, hi + 1, step))
    if values[-1] != hi:
        values.append(hi)
    return values


def cheapest_schedule(
    assessment: Assessment,
    *,
    keep_years: float,
    session_range: tuple[int, int],
    interval_range: tuple[int, int],
    maintenance_range: tuple[int, int],
    prices: Prices | Mapping[str, Any] | None = None,
    interval_step_days: int = 7,
    draws: int = 1000,
    seed: int = 0,
    params: ModelParams | None = None,
) -> CheapestPlan | None:
    """Search count x interval x maintenance interval for the cheapest plan that holds.

    Parameters
    ----------
    keep_years : float
        The median improvement must, once noticeable, stay so until this many years after the
        first session [years] (at most 15).
    session_range, interval_range, maintenance_range : tuple of int
        Bounds of the search (from the guideline / protocol): initial sessions, days between
        them [days], months between maintenance sessions [months]; "no maintenance" is always
        a candidate too.
    prices : Prices or mapping, optional

    Returns
    -------
    CheapestPlan or None
        None when no schedule within the bounds holds for ``keep_years``.

    Notes
    -----
    Costs count the sessions within ``keep_years``. Ties go to fewer sessions, then to the
    longer-lasting plan, then to the first in count x interval x maintenance order. Candidates
    are forecast cheapest first, so the search stops after the equals of the first that holds;
    ``candidates_checked`` counts every candidate costed.
    """
    pr = resolve_prices(prices)
    if not keep_years > 0:
        raise InputError.one("keep_years", keep_years, "must be > 0")
    for name, (lo, hi) in (
        ("session_range", session_range),
        ("interval_range", interval_range),
        ("maintenance_range", maintenance_range),
    ):
        if lo > hi or lo < 1:
            raise InputError.one(name, (lo, hi), "must be 1 <= min <= max")
    until = horizon_days(keep_years)
    maint_options: list[int | None] = [None, *range(maintenance_range[0], maintenance_range[1] + 1)]
    candidates: list[tuple[float, int, int, int, int, int | None, NDArray[np.float64]]] = []
    for n in range(session_range[0], session_range[1] + 1):
        for interval in _grid(interval_range[0], interval_range[1], interval_step_days):
            if (n - 1) * interval >= until:
                continue  # the series alone outlasts the period to keep: not a candidate
            for m in maint_options:
                sd = series_days(n, interval, maintenance_months=m, years=keep_years)
                cost = pr.cost(n, sd.size - n)
                candidates.append((cost, int(sd.size), len(candidates), n, interval, m, sd))
    # Cheapest first (then fewer sessions, then the order above): the first schedule that holds
    # fixes the cost and the count to beat, so only its equals are forecast after it.
    candidates.sort(key=lambda c: (c[0], c[1], c[2]))
    best: tuple[tuple[float, int, float], CheapestPlan] | None = None
    for cost, size, _, n, interval, m, sd in candidates:
        if best is not None and (cost, size) > best[0][:2]:
            break
        res = forecast(
            assessment,
            sd,
            years=keep_years,
            draws=draws,
            seed=seed,
            params=params,
            n_initial=n,
            band=False,  # the search reads the typical patient's curve only
        )
        if not noticeable_throughout(res, until):
            continue
        key = (cost, size, -res.milestones.noticeable_years_total)
        if best is None or key < best[0]:
            best = (key, CheapestPlan(n, interval, m, cost, size, keep_years, 0, res))
    checked = len(candidates)
    if best is None:
        return None
    p = best[1]
    full = forecast(
        assessment,
        series_days(
            p.sessions, p.interval_days, maintenance_months=p.maintenance_months, years=keep_years
        ),
        years=keep_years,
        draws=draws,
        seed=seed,
        params=params,
        n_initial=p.sessions,
        maintenance_months=p.maintenance_months,
    )
    return CheapestPlan(
        p.sessions,
        p.interval_days,
        p.maintenance_months,
        p.cost,
        p.session_count,
        p.keep_years,
        checked,
        full,
    )


@dataclass(frozen=True)
class PlanCost:
    """Cost and benefit of one way of keeping results over the horizon."""

    session_days: list[int]
    initial_sessions: int
    maintenance_sessions: int
    cost: float
    noticeable_years: float

    @property
    def cost_per_noticeable_year(self) -> float | None:
        return self.cost / self.noticeable_years if self.noticeable_years > 0 else None

    def to_json(self) -> dict[str, Any]:
        cpy = self.cost_per_noticeable_year
        return {
            "session_days": self.session_days,
            "initial_sessions": self.initial_sessions,
            "maintenance_sessions": self.maintenance_sessions,
            "cost": round(self.cost, 2),
            "noticeable_years": round(self.noticeable_years, 3),
            "cost_per_noticeable_year": None if cpy is None else round(cpy, 2),
        }


@dataclass(frozen=True)
class UpkeepVsLapse:
    """Maintenance ("upkeep") against letting results lapse and repeating the full series."""

    upkeep: PlanCost
    lapse_and_repeat: PlanCost
    maintenance_months: float
    years: float

    @property
    def saving(self) -> float:
        """What upkeep saves over lapse-and-repeat [currency] (negative: it costs more)."""
        return self.lapse_and_repeat.cost - self.upkeep.cost

    def to_json(self) -> dict[str, Any]:
        return {
            "maintenance_months": self.maintenance_months,
            "years": self.years,
            "upkeep": self.upkeep.to_json(),
            "lapse_and_repeat": self.lapse_and_repeat.to_json(),
            "saving": round(self.saving, 2),
        }


def upkeep_vs_lapse(
    assessment: Assessment,
    *,
    n_sessions: int,
    interval_days: float,
    maintenance_months: float,
    prices: Prices | Mapping[str, Any] | None = None,
    years: float = 10.0,
    draws: int = 1000,
    seed: int = 0,
    params: ModelParams | None = None,
) -> UpkeepVsLapse:
    """Compare upkeep with lapse-and-repeat over ``years``.

    Upkeep: the series, then maintenance every ``maintenance_months``. Lapse and repeat: the
    series; when the median improvement falls below the noticeable threshold, the full series
    again; and so on to the horizon. Both are costed and their noticeable time counted on the
    median curve: only the typical patient's curves are computed (``band=False``), so
    ``draws`` and ``seed`` are checked but change nothing.
    """
    pr = resolve_prices(prices)

    def typical(days: NDArray[np.float64]) -> ForecastResult:
        """The schedule's forecast, the typical patient's curve only (all this reads)."""
        return forecast(
            assessment,
            days,
            years=years,
            draws=draws,
            seed=seed,
            params=params,
            n_initial=n_sessions,
            band=False,
        )

    sd_up = series_days(
        n_sessions, interval_days, maintenance_months=maintenance_months, years=years
    )
    res_up = typical(sd_up)
    upkeep = PlanCost(
        [int(d) for d in sd_up],
        n_sessions,
        int(sd_up.size - n_sessions),
        pr.cost(n_sessions, int(sd_up.size - n_sessions)),
        res_up.milestones.noticeable_years_total,
    )
    end = horizon_days(years)
    one = series_days(n_sessions, interval_days, years=years)
    starts = [0.0]
    days = one.copy()
    res = typical(days)
    while True:
        last = days[-1]
        below = np.nonzero((res.day > last) & (res.median < res.noticeable_threshold))[0]
        peak_seen = np.nonzero((res.day > last) & (res.median >= res.noticeable_threshold))[0]
        if not below.size or not peak_seen.size:
            break
        after_peak = below[below > peak_seen[0]]
        if not after_peak.size:
            break
        nxt = float(res.day[after_peak[0]])
        if nxt + one[-1] > end:
            break
        starts.append(nxt)
        days = np.concatenate([days, nxt + one])
        # The first series is the initial series; each repeat is a later course.
        res = typical(days)
    lapse = PlanCost(
        [int(d) for d in days],
        int(days.size),
        0,
        pr.cost(int(days.size), 0),
        res.milestones.noticeable_years_total,
    )
    return UpkeepVsLapse(upkeep, lapse, float(maintenance_months), float(years))


__all__ = [
    "DAYS_PER_YEAR",
    "CheapestPlan",
    "PlanCost",
    "Prices",
    "UpkeepVsLapse",
    "cheapest_schedule",
    "load_prices",
    "noticeable_throughout",
    "resolve_prices",
    "upkeep_vs_lapse",
]
