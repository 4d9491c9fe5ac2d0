"""Cohort simulation: a clinic's population of patients over the years, month by month.

``simulate_cohort(population, settings, prices=...)`` answers: if these patients follow their
plans with this adherence, how many sessions a month will the clinic deliver, how much revenue,
how many recalls fall due, and what share of patients are noticeably firmer. The population is a
clinic's assessments (:func:`fixed_population`), copies of the reference patient
(:func:`reference_population`) or a synthetic population from a spec file
(:func:`load_population_spec`). See ``docs/cohort.md``.
"""

from needleplan.cohort.engine import (
    DEFAULT_CHUNK_SIZE,
    SEED_BLOCK,
    CohortSettings,
    make_settings,
    simulate_cohort,
)
from needleplan.cohort.population import (
    FixedPopulation,
    PatientTable,
    fixed_population,
    reference_population,
)
from needleplan.cohort.result import (
    Adherence,
    CohortMonth,
    CohortResult,
    CohortSummary,
    Spread,
)
from needleplan.cohort.spec import (
    PopulationSpec,
    example_spec_text,
    load_population_spec,
    parse_population_spec,
)

__all__ = [
    "DEFAULT_CHUNK_SIZE",
    "SEED_BLOCK",
    "Adherence",
    "CohortMonth",
    "CohortResult",
    "CohortSettings",
    "CohortSummary",
    "FixedPopulation",
    "PatientTable",
    "PopulationSpec",
    "Spread",
    "example_spec_text",
    "fixed_population",
    "load_population_spec",
    "make_settings",
    "parse_population_spec",
    "reference_population",
    "simulate_cohort",
]
