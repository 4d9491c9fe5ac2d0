"""Prices, costs, the cheapest schedule and upkeep vs. lapse-and-repeat."""

from __future__ import annotations

from pathlib import Path

import pytest

from needleplan.domain import reference_assessment
from needleplan.exceptions import ConfigError
from needleplan.forecasting.chain import forecast, horizon_days, series_days
from needleplan.forecasting.optimise import (
    Prices,
    cheapest_schedule,
    load_prices,
    noticeable_throughout,
    upkeep_vs_lapse,
)
from needleplan.forecasting.scenarios import compare_scenarios
from needleplan.guideline import make_protocol

REF = reference_assessment()
PRICES = Prices(300.0, 200.0, "EUR")


def test_shipped_prices_load() -> None:
    p = load_prices(None)
    assert p.initial_session > 0
    assert p.maintenance_session > 0
    assert len(p.currency) == 3


def test_prices_load_from_a_clinic_toml_prices_section(tmp_path: Path) -> None:
    f = tmp_path / "clinic.toml"
    f.write_text('[prices]\ninitial_session = 280\nmaintenance_session = 220\ncurrency = "chf"\n')
    assert load_prices(f) == Prices(280.0, 220.0, "CHF")


@pytest.mark.parametrize(
    ("data", "field"),
    [
        ({"initial_session": -1, "maintenance_session": 1}, "initial_session"),
        ({"initial_session": 1}, "maintenance_session"),
        ({"initial_session": 1, "maintenance_session": "x"}, "maintenance_session"),
        ({"initial_session": 1, "maintenance_session": 1, "currency": "euro"}, "currency"),
        ({"initial_session": 1, "maintenance_session": 1, "vat": 0.2}, "vat"),
    ],
)
def test_bad_prices_are_rejected_naming_the_field(data: dict[str, object], field: str) -> None:
    with pytest.raises(ConfigError, match=field):
        Prices.from_mapping(data)


def test_cost_counts_initial_and_maintenance_sessions_at_their_prices() -> None:
    assert PRICES.cost(5, 3) == 5 * 300 + 3 * 200


def test_cheapest_schedule_holds_and_no_cheaper_candidate_does() -> None:
    plan = cheapest_schedule(
        REF,
        keep_years=5,
        session_range=(3, 6),
        interval_range=(28, 42),
        maintenance_range=(6, 12),
        prices=PRICES,
        draws=201,
    )
    assert plan is not None
    assert noticeable_throughout(plan.result, horizon_days(5))
    # Brute force: every schedule in the same space that costs less fails to hold.
    for n in range(3, 7):
        for interval in (28, 35, 42):
            for m in [None, *range(6, 13)]:
                sd = series_days(n, interval, maintenance_months=m, years=5)
                cost = PRICES.cost(n, sd.size - n)
                if cost < plan.cost:
                    res = forecast(REF, sd, years=5, draws=201, n_initial=n)
                    assert not noticeable_throughout(res, horizon_days(5)), (n, interval, m)


def test_cheapest_schedule_is_the_least_of_every_candidate_that_holds() -> None:
    """The search forecasts cheapest first and stops early: it must pick what forecasting every
    candidate would (least cost, then fewest sessions, then longest noticeable, then the first
    in count x interval x maintenance order)."""
    plan = cheapest_schedule(
        REF,
        keep_years=4,
        session_range=(2, 5),
        interval_range=(28, 42),
        maintenance_range=(6, 12),
        prices=PRICES,
        draws=51,
    )
    holding = []
    for n in range(2, 6):
        for interval in (28, 35, 42):
            for m in [None, *range(6, 13)]:
                sd = series_days(n, interval, maintenance_months=m, years=4)
                res = forecast(REF, sd, years=4, draws=51, n_initial=n, band=False)
                if noticeable_throughout(res, horizon_days(4)):
                    key = (
                        PRICES.cost(n, sd.size - n),
                        sd.size,
                        -res.milestones.noticeable_years_total,
                    )
                    holding.append((key, len(holding), (n, interval, m)))
    assert plan is not None
    assert holding
    assert (plan.sessions, plan.interval_days, plan.maintenance_months) == min(holding)[2]
    assert plan.candidates_checked == 4 * 3 * 8


def test_cheapest_schedule_is_none_when_nothing_in_the_bounds_holds() -> None:
    plan = cheapest_schedule(
        REF,
        keep_years=12,
        session_range=(1, 1),
        interval_range=(28, 28),
        maintenance_range=(24, 24),
        prices=PRICES,
        draws=51,
    )
    assert plan is None


def test_upkeep_costs_far_less_than_letting_it_lapse_and_repeating_the_series() -> None:
    """Seed: consistent upkeep is far more affordable than a full repeat series."""
    u = upkeep_vs_lapse(
        REF, n_sessions=5, interval_days=35, maintenance_months=12, prices=PRICES, draws=201
    )
    assert u.lapse_and_repeat.initial_sessions >= 10  # the series was repeated at least once
    assert u.upkeep.cost < u.lapse_and_repeat.cost
    assert u.saving > 0
    cpy_up, cpy_lapse = (
        u.upkeep.cost_per_noticeable_year,
        u.lapse_and_repeat.cost_per_noticeable_year,
    )
    assert cpy_up is not None
    assert cpy_lapse is not None
    assert cpy_up < cpy_lapse


def test_compare_scenarios_lists_the_standard_scenarios_with_costs() -> None:
    comp = compare_scenarios(REF, make_protocol(REF), prices=PRICES, draws=201)
    keys = [s.key for s in comp.scenarios]
    assert keys == ["single", "series", "maintenance_6m", "maintenance_9m", "maintenance_12m"]
    single, series = comp.scenario("single"), comp.scenario("series")
    m6, m12 = comp.scenario("maintenance_6m"), comp.scenario("maintenance_12m")
    assert single.cost == 300
    assert series.cost == 1500
    assert m12.cost == 1500 + 200 * m12.maintenance_sessions
    assert single.noticeable_months < series.noticeable_months < m12.noticeable_months
    assert m12.noticeable_months <= m6.noticeable_months
    for sc in comp.scenarios:
        cpy = sc.cost_per_noticeable_year
        assert cpy is not None
        assert cpy == pytest.approx(sc.cost / sc.noticeable_years)
    doc = comp.to_json()
    assert doc["cheapest"] is not None
    assert doc["currency"] == "EUR"
    assert set(doc["upkeep_vs_lapse"]) >= {"upkeep", "lapse_and_repeat", "saving"}


def test_a_comparison_reuses_the_typical_upkeep_curves_and_changes_nothing(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """The maintenance scenarios' upkeep envelopes (every 3..6, 3..9, 3..12 months) share their
    schedules inside one comparison (``same_patient``): each typical curve is evaluated once,
    and every forecast is exactly what it is alone."""
    from needleplan.forecasting import chain

    a = reference_assessment()
    p = make_protocol(a)
    n, interval = p.initial_sessions, float(p.recommended_interval_days)
    evaluated: list[int] = []
    real = chain.improvement

    def counting(day: object, inputs: object) -> object:
        evaluated.append(1)
        return real(day, inputs)  # type: ignore[arg-type]

    monkeypatch.setattr(chain, "improvement", counting)

    def upkeep_forecasts() -> list[chain.ForecastResult]:
        return [
            forecast(
                a,
                series_days(n, interval, maintenance_months=m),
                draws=50,
                n_initial=n,
                maintenance_months=m,
            )
            for m in (6, 9, 12)
        ]

    alone = upkeep_forecasts()
    # Each: her typical curve and the draws', plus the other schedules every 3..M months.
    assert len(evaluated) == 3 * 2 + 3 + 6 + 9
    evaluated.clear()
    with chain.same_patient():
        together = upkeep_forecasts()
    # Every 3, 4, 5 months for the first; 7, 8 and 10, 11 new for the next two (6, 9 and 12
    # months are the scenarios' own curves).
    assert len(evaluated) == 3 * 2 + 3 + 2 + 2
    for one, other in zip(alone, together, strict=True):
        assert one.milestones == other.milestones
        assert (one.median == other.median).all()
        assert (one.p10 == other.p10).all()
    compared = compare_scenarios(a, p, draws=50)
    for sc, one in zip(compared.scenarios[2:], alone, strict=True):
        assert sc.result.milestones == one.milestones
