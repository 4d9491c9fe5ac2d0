"""The counter-based draws: each patient's values do not depend on the chunk she is drawn in."""

from __future__ import annotations

import numpy as np
import pytest

from needleplan.cohort.draws import STREAMS, draw, normals, replicate_key, uniforms

KEY = replicate_key(1, 0, 1)


@pytest.mark.parametrize("lo", [0, 64, 128, 448])
def test_a_chunk_draws_the_same_values_as_the_whole_cohort(lo: int) -> None:
    whole = draw(KEY, 0, 512, rounds=7, spread_days=365)
    part = draw(KEY, lo, 512, rounds=7, spread_days=365)
    for name in ("z", "start", "u_complete", "u_drop", "u_keep", "e_persistence"):
        np.testing.assert_array_equal(getattr(whole, name)[lo:], getattr(part, name))


def test_streams_and_replicates_are_distinct() -> None:
    firsts = {name: uniforms(KEY, name, 0, 8).tobytes() for name in STREAMS}
    assert len(set(firsts.values())) == len(STREAMS)
    assert replicate_key(1, 0, 1) == replicate_key(1, 0, 5)  # replicate 0 whatever R is
    assert replicate_key(1, 1, 5) != replicate_key(1, 0, 5) != replicate_key(2, 0, 5)


def test_uniforms_and_normals_have_their_distributions() -> None:
    u = uniforms(KEY, "keep", 0, 20_000, 3)
    assert u.shape == (20_000, 3)
    assert u.min() >= 0.0
    assert u.max() < 1.0
    assert abs(u.mean() - 0.5) < 0.01
    z = normals(KEY, "z", 0, 200_000)
    assert np.isfinite(z).all()
    assert abs(z.mean()) < 0.01
    assert abs(z.std() - 1.0) < 0.01
    start = draw(KEY, 0, 20_000, rounds=1, spread_days=30).start
    assert start.min() == 0
    assert start.max() == 29
