"""Every figures block of docs/model.md is what the code computes now, and the threshold's
derivation from the observation model."""

from __future__ import annotations

import dataclasses
import json

import pytest

from needleplan.domain.records import MeasurementScale
from needleplan.exceptions import InputError
from needleplan.forecasting import docs_figures
from needleplan.forecasting.observation import (
    DEFAULT_LINKS,
    TIGHTENING_SCALES,
    ScaleLink,
    change_recorded_probability,
    derived_noticeable_threshold,
    noticeable_from_link,
    noticeable_range,
    shipped_noticeable_threshold,
)
from needleplan.forecasting.params import PARAMS_PATH, ModelParams, default_params
from needleplan.scheduling.clinic import DEFAULT_RECALL_THRESHOLD


@pytest.mark.parametrize("name", sorted(docs_figures.FIGURES))
def test_each_figures_block_in_the_docs_matches_the_code(name: str) -> None:
    """Run ``python -m needleplan.forecasting.docs_figures --write`` when this fails."""
    page = docs_figures.DOCS_PAGE.read_text(encoding="utf-8")
    blocks = {m.group("name"): m.group("body") for m in docs_figures.BLOCK.finditer(page)}
    assert name in blocks, f"docs/model.md has no figures block {name!r}"
    assert blocks[name] == docs_figures.FIGURES[name]()


def test_every_block_in_the_docs_has_a_figure() -> None:
    page = docs_figures.DOCS_PAGE.read_text(encoding="utf-8")
    assert {m.group("name") for m in docs_figures.BLOCK.finditer(page)} == set(docs_figures.FIGURES)


def test_the_threshold_is_the_first_recorded_step_through_the_link() -> None:
    """GAIS: cut 3.5 is half a grade from "no change" at 0.10 grade per %: 5 %; the laxity
    grade records half grades, so a quarter grade at 0.06 per %: 4.17 %."""
    assert noticeable_from_link(DEFAULT_LINKS[MeasurementScale.GAIS]) == pytest.approx(5.0)
    assert noticeable_from_link(DEFAULT_LINKS[MeasurementScale.LAXITY_GRADE]) == pytest.approx(
        0.25 / 0.06
    )
    with pytest.raises(InputError, match="graded scale"):
        noticeable_from_link(DEFAULT_LINKS[MeasurementScale.CUTOMETER_R2])


def test_the_shipped_threshold_lies_within_the_just_noticeable_range() -> None:
    lo, hi = noticeable_range()
    assert lo <= default_params().noticeable_threshold <= hi


def test_the_threshold_is_derived_where_raters_notice_half_of_the_time() -> None:
    """The derived threshold is the 50 % point of the mean psychometric function of GAIS and
    the laxity grade: for two scales, their own values weighted by |slope| / noise."""
    thr = derived_noticeable_threshold()
    links = [DEFAULT_LINKS[s] for s in TIGHTENING_SCALES]
    mean = sum(float(change_recorded_probability(lk, thr)) for lk in links) / len(links)
    assert mean == pytest.approx(0.5, abs=1e-9)
    w = [abs(lk.slope) / lk.noise_sd for lk in links]
    own = [noticeable_from_link(lk) for lk in links]
    assert thr == pytest.approx(sum(a * b for a, b in zip(w, own, strict=True)) / sum(w))
    assert thr == pytest.approx(60 / 13)  # (0.5/0.5 + 0.25/0.35) / (0.1/0.5 + 0.06/0.35)
    lo, hi = noticeable_range()
    assert lo < thr < hi


def test_the_derived_threshold_follows_the_links() -> None:
    """Noisier GAIS ratings give GAIS less weight (towards laxity's 4.17 %); a steeper GAIS link
    lowers it; one scale alone gives that scale's own value."""
    gais = DEFAULT_LINKS[MeasurementScale.GAIS]
    base = derived_noticeable_threshold()
    noisy = {**DEFAULT_LINKS, MeasurementScale.GAIS: dataclasses.replace(gais, noise_sd=2.0)}
    steep = {**DEFAULT_LINKS, MeasurementScale.GAIS: dataclasses.replace(gais, slope=-0.2)}
    assert derived_noticeable_threshold(noisy) < base
    assert derived_noticeable_threshold(steep) < base
    only: tuple[MeasurementScale, ...] = (MeasurementScale.GAIS,)
    assert derived_noticeable_threshold(scales=only) == pytest.approx(5.0)
    assert isinstance(gais, ScaleLink)


def test_the_product_uses_the_derived_threshold() -> None:
    """The shipped parameters (written by the calibration script) carry the derived value, to
    0.1 %; so do the priors the fit starts from."""
    assert shipped_noticeable_threshold() == round(derived_noticeable_threshold(), 1) == 4.6
    assert default_params().noticeable_threshold == shipped_noticeable_threshold()
    doc = json.loads(PARAMS_PATH.read_text(encoding="utf-8"))
    assert doc["params"]["noticeable_threshold"] == shipped_noticeable_threshold()
    assert ModelParams().noticeable_threshold == shipped_noticeable_threshold()
    assert shipped_noticeable_threshold() == DEFAULT_RECALL_THRESHOLD  # a clinic may override it
