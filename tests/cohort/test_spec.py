"""The population spec: the bundled example loads; bad files name the key, value and rule."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from needleplan.cohort import example_spec_text, load_population_spec, parse_population_spec
from needleplan.cohort.population import GROUPS, sample_ages, sample_codes, spec_levels
from needleplan.exceptions import InputError
from tests.strategies import examples


def test_bundled_example_loads_and_its_shares_add_up() -> None:
    spec = load_population_spec()
    assert spec.patients == 2000
    for table in ("severity", "areas", "goal", "smoking", "sun_exposure", "diet", "aftercare"):
        assert sum(getattr(spec, table).values()) == pytest.approx(1.0)
    assert 0 < spec.diabetes < 1
    assert sum(spec.menopause.values()) == pytest.approx(1.0)
    assert 18 <= spec.menopause_from_age <= 90


def test_example_text_is_the_bundled_file(tmp_path: Path) -> None:
    path = tmp_path / "copy.toml"
    path.write_text(example_spec_text(), encoding="utf-8")
    assert load_population_spec(path) == load_population_spec()


def test_empty_spec_is_the_reference_patient() -> None:
    spec = parse_population_spec({})
    assert spec.age.min == spec.age.max == 50
    assert {str(k): v for k, v in spec.severity.items()} == {"moderate": 1.0}
    assert spec.areas == {"full_face": 1.0}


@pytest.mark.parametrize(
    ("data", "field", "value", "rule"),
    [
        ({"severity": {"mild": 0.5}}, "severity", "{'mild': 0.5}", "shares must add up to 1"),
        ({"severity": {"tiny": 1.0}}, "severity.tiny", "'tiny'", "Input should be 'mild'"),
        ({"smoking": {"never": 1.2}}, "smoking.never", "1.2", "less than or equal to 1"),
        ({"diabetes": True}, "diabetes", "True", "must be a number"),
        ({"diabetes": -0.1}, "diabetes", "-0.1", "greater than or equal to 0"),
        ({"areas": {"full_face+cheeks": 1.0}}, "areas", "full_face+cheeks", "full_face already"),
        ({"areas": {"elbow": 1.0}}, "areas", "elbow", "is not one of"),
        ({"age": {"min": 60, "max": 40}}, "age", "'min': 60", "must not exceed max"),
        ({"age": {"min": 10, "max": 40}}, "age.min", "10", "greater than or equal to 18"),
        ({"age": {"distribution": "normal"}}, "age", "normal", "needs mean and sd"),
        ({"patients": 0}, "patients", "0", "greater than or equal to 1"),
        ({"smokers": 0.1}, "smokers", "0.1", "unknown field"),
        (
            {"menopause": {"none": 0.5, "recent": 0.2}},
            "menopause",
            "'recent': 0.2",
            "shares must add up to 1",
        ),
        ({"menopause": {"early": 1.0}}, "menopause.early", "'early'", "Input should be 'none'"),
        ({"menopause_from_age": 12}, "menopause_from_age", "12", "greater than or equal to 18"),
    ],
)
def test_bad_spec_names_field_value_and_rule(
    data: dict[str, Any], field: str, value: str, rule: str
) -> None:
    with pytest.raises(InputError) as err:
        parse_population_spec(data, source="my.toml")
    message = str(err.value)
    assert message.startswith("my.toml: ")
    assert f"{field}:" in message
    assert value in message
    assert rule in message


def test_unreadable_files_are_input_errors(tmp_path: Path) -> None:
    with pytest.raises(InputError, match="--population: file does not exist"):
        load_population_spec(tmp_path / "missing.toml")
    bad = tmp_path / "bad.toml"
    bad.write_text("severity = {", encoding="utf-8")
    with pytest.raises(InputError, match="is not valid TOML"):
        load_population_spec(bad)


@st.composite
def share_tables(draw: st.DrawFn, levels: list[str]) -> dict[str, float]:
    chosen = draw(st.lists(st.sampled_from(levels), min_size=1, max_size=len(levels), unique=True))
    weights = [draw(st.integers(1, 20)) for _ in chosen]
    total = sum(weights)
    shares = [w / total for w in weights]
    shares[-1] = 1.0 - sum(shares[:-1])
    return dict(zip(chosen, shares, strict=True))


@st.composite
def specs(draw: st.DrawFn) -> dict[str, Any]:
    lo = draw(st.integers(18, 90))
    hi = draw(st.integers(lo, 90))
    age: dict[str, Any] = {"min": lo, "max": hi}
    if draw(st.booleans()):
        age |= {"distribution": "normal", "mean": (lo + hi) / 2, "sd": draw(st.floats(1, 20))}
    return {
        "age": age,
        "severity": draw(share_tables(["mild", "moderate", "advanced", "severe"])),
        "areas": draw(share_tables(["full_face", "full_face+neck", "under_eyes", "neck+chest"])),
        "goal": draw(share_tables(["preventive", "subtle", "noticeable", "maximal"])),
        "smoking": draw(share_tables(["never", "former", "current"])),
        "sun_exposure": draw(share_tables(["low", "moderate", "high"])),
        "diet": draw(share_tables(["poor", "average", "good"])),
        "aftercare": draw(share_tables(["good", "fair", "poor"])),
        "repair_capacity": draw(share_tables(["reduced", "normal", "good"])),
        "menopause": draw(share_tables(["none", "recent", "past"])),
        "menopause_from_age": draw(st.integers(18, 90)),
        "diabetes": draw(st.floats(0, 1)),
        "autoimmune": draw(st.floats(0, 1)),
        "spf_habit": draw(st.floats(0, 1)),
        "sun_damage_history": draw(st.floats(0, 1)),
        "accelerated_aging": draw(st.floats(0, 1)),
        "slow_healing": draw(st.floats(0, 1)),
    }


@settings(max_examples=examples(40), deadline=None)
@given(data=specs(), seed=st.integers(0, 2**32 - 1))
def test_valid_specs_load_and_draw_only_their_levels(data: dict[str, Any], seed: int) -> None:
    spec = parse_population_spec(data)
    rng = np.random.default_rng(seed)
    ages = sample_ages(spec, rng, 200)
    assert ages.min() >= spec.age.min
    assert ages.max() <= spec.age.max
    assert np.all(ages == np.round(ages))
    codes = sample_codes(spec, rng, 200)
    for j, group in enumerate(GROUPS):
        levels, shares = spec_levels(spec, group)
        assert codes[:, j].min() >= 0
        assert codes[:, j].max() < len(levels)
        assert np.all(shares[np.unique(codes[:, j])] > 0)  # a level with no share never drawn


def test_drawn_shares_follow_the_spec() -> None:
    spec = load_population_spec()
    codes = sample_codes(spec, np.random.default_rng(3), 40_000)
    for j, group in enumerate(GROUPS):
        _, shares = spec_levels(spec, group)
        seen = np.bincount(codes[:, j], minlength=shares.size) / codes.shape[0]
        assert seen == pytest.approx(shares, abs=0.01)
    ages = sample_ages(spec, np.random.default_rng(4), 40_000)
    assert ages.mean() == pytest.approx(spec.age.mean, abs=0.3)


def test_menopause_share_applies_from_its_age_on() -> None:
    """Patients below ``menopause_from_age`` are drawn menopause none; from that age on the
    statuses follow the spec's shares; and her status reaches the model (fading, ageing)."""
    from needleplan.cohort.population import SpecTables, sample_patients
    from needleplan.cohort.profiles import AGEING, guideline_key
    from needleplan.domain.assessment import Menopause
    from needleplan.forecasting.models import patient_modifiers
    from needleplan.guideline import load_guideline

    guideline = load_guideline()
    spec = parse_population_spec(
        {
            "age": {"min": 30, "max": 70},
            "menopause": {"none": 0.2, "recent": 0.5, "past": 0.3},
            "menopause_from_age": 48,
        }
    )
    table = sample_patients(
        SpecTables.build(spec, guideline),
        np.random.default_rng(7),
        4000,
        guideline,
        guideline_key(guideline),
    )
    status = np.asarray([table.assessment(i).menopause for i in range(table.n)])
    young = table.age < 48
    assert young.any()
    assert (~young).any()
    assert np.all(status[young] == Menopause.NONE)
    older = status[~young]
    for level, share in (("none", 0.2), ("recent", 0.5), ("past", 0.3)):
        assert np.mean(older == Menopause(level)) == pytest.approx(share, abs=0.04)
    i = int(np.nonzero(status == Menopause.RECENT)[0][0])
    ageing = table.values[i, AGEING]
    assert ageing == patient_modifiers(table.assessment(i)).ageing
    assert (
        ageing
        > patient_modifiers(
            table.assessment(i).model_copy(update={"menopause": Menopause.NONE})
        ).ageing
    )
