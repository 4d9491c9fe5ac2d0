"""Every figures block of docs/model.md is what the code computes now, and the threshold's
derivation from the observation model."""

from __future__ import annotations

import pytest

from needleplan.domain.records import MeasurementScale
from needleplan.exceptions import InputError
from needleplan.forecasting import docs_figures
from needleplan.forecasting.observation import (
    DEFAULT_LINKS,
    noticeable_from_link,
    noticeable_range,
)
from needleplan.forecasting.params import default_params


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
