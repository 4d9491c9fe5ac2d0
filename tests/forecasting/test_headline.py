"""The headline "months noticeable": defined without a sawtooth in the upkeep interval (issue 15.6)."""

from __future__ import annotations

import itertools
from typing import Any

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from needleplan.domain import parse_assessment, reference_assessment
from needleplan.exceptions import InputError
from needleplan.forecasting.chain import (
    forecast,
    noticeable_span,
    noticeable_time,
    series_days,
    upkeep_grid,
)
from needleplan.forecasting.params import DAYS_PER_MONTH
from tests.strategies import assessment_dicts, examples

REF = reference_assessment()


def headline(assessment: Any, months: float, *, band: bool = False) -> tuple[float, float]:
    sd = series_days(5, 35, maintenance_months=months)
    res = forecast(
        REF if assessment is None else assessment,
        sd,
        n_initial=5,
        draws=200,
        band=band,
        maintenance_months=months,
    )
    b = res.milestones.noticeable_months_after_last_initial
    return b.median, b.p10


@settings(max_examples=examples(25), deadline=None)
@given(
    a=st.floats(3.0, 24.0, allow_nan=False),
    b=st.floats(3.0, 24.0, allow_nan=False),
    d=st.one_of(st.none(), assessment_dicts(contraindications=False)),
)
def test_months_noticeable_never_grow_when_upkeep_becomes_less_frequent(
    a: float, b: float, d: dict[str, Any] | None
) -> None:
    lo, hi = sorted((a, b))
    who = None if d is None else parse_assessment(d)
    often, _ = headline(who, lo)
    rarely, _ = headline(who, hi)
    assert rarely <= often + 1e-9, (lo, hi, often, rarely)


def test_the_old_sawtooth_is_gone_on_the_reference_patient() -> None:
    # first-dip months were 68.1 at 12-monthly upkeep and 65.7 at 11-monthly (issue 15)
    every = [headline(None, float(m))[0] for m in range(3, 25)]
    assert all(x >= y for x, y in itertools.pairwise(every))
    assert every[0] > every[-1] + 24  # rarer upkeep really costs months, not a flat line


def test_headline_is_the_least_over_whole_month_upkeep_up_to_m() -> None:
    assert upkeep_grid(3) == [3]
    assert upkeep_grid(6) == [3, 4, 5, 6]
    assert upkeep_grid(6.2) == [3, 4, 5, 6, 7]
    res = forecast(
        REF, series_days(5, 35, maintenance_months=9), n_initial=5, band=False, maintenance_months=9
    )
    own = []
    for g in upkeep_grid(9):
        r = forecast(REF, series_days(5, 35, maintenance_months=g), n_initial=5, band=False)
        own.append(r.milestones.noticeable_months_after_last_initial.median)
    assert res.milestones.noticeable_months_after_last_initial.median == pytest.approx(min(own))


def test_maintenance_months_must_describe_the_sessions() -> None:
    sd = series_days(5, 35, maintenance_months=6)
    with pytest.raises(InputError, match="maintenance_months"):
        forecast(REF, sd, n_initial=5, band=False, maintenance_months=7)
    with pytest.raises(InputError, match="maintenance_months"):
        forecast(REF, sd, n_initial=5, band=False, maintenance_months=float("nan"))
    with pytest.raises(InputError, match="maintenance_months"):
        forecast(REF, sd[:-1], n_initial=5, band=False, maintenance_months=6)


def test_noticeable_time_counts_every_stretch_and_matches_the_span_without_dips() -> None:
    day = np.arange(10.0)
    curves = np.array(
        [
            [0, 6, 6, 6, 4, 6, 6, 6, 6, 6],  # dips around day 4, back above by day 5
            [0, 6, 6, 6, 6, 6, 6, 4, 4, 4],  # falls once, between day 6 and 7
        ],
        dtype=np.float64,
    )
    t, cens = noticeable_time(day, curves, 5.0, 0.0, anchor_day=1.0)
    # row 0: days 0-1 counted in full (noticeable at the anchor), then 1-3.5 and 4.5-9
    assert t[0] == pytest.approx(1.0 + 2.5 + 4.5)
    assert cens.tolist() == [True, False]
    span, _ = noticeable_span(day, curves, 5.0, 0.0, anchor_day=1.0)
    assert t[1] == pytest.approx(span[1]) == pytest.approx(6.5)
    assert span[0] < t[0]  # the first-dip span stops at the dip


def test_without_upkeep_the_headline_is_the_first_dip_span() -> None:
    sd = series_days(5, 35)
    res = forecast(REF, sd, n_initial=5, band=False)
    day = res.day
    li = res.last_initial_day
    span, _ = noticeable_span(
        day, res.median[None, :], res.noticeable_threshold, li, li + res.anchor_days
    )
    months = res.milestones.noticeable_months_after_last_initial.median
    assert months == pytest.approx(span[0] / DAYS_PER_MONTH)


def test_the_band_is_called_what_it_is_on_every_text_surface() -> None:
    from needleplan.cli.forecast_view import reading
    from needleplan.forecasting.wording import BAND_MEANING, EVIDENCE_LIMIT

    res = forecast(REF, series_days(5, 35), n_initial=5, draws=200)
    text = reading(res)
    assert "like her:" not in text
    assert "8 in 10 patients" not in text
    assert "as patients differ and the model's own numbers are uncertain" in text
    assert "patients with the same answers respond differently" in BAND_MEANING
    assert "the model's own numbers are uncertain" in BAND_MEANING
    assert "how much each answer" in BAND_MEANING  # the covariate effects' uncertainty
    assert "6 months" in EVIDENCE_LIMIT
