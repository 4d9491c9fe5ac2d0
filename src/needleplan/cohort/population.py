"""Who is in the cohort: a clinic's assessments, a synthetic population, or reference copies.

Every patient comes down to her age and one row of *profile values*: what her protocol (from the
guideline) and her covariate multipliers (from the forecast model) are
(:mod:`needleplan.cohort.profiles`). Neither depends on age, so patients who differ only in age
share a profile, and the guideline engine runs once per distinct profile, never once per
patient.

Only assessments enter a cohort: no name, record number or id, so nothing that identifies a
patient is handed to the simulation (or sent to Dask workers).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
from numpy.typing import NDArray
from scipy.special import ndtr, ndtri

from needleplan.cohort.profiles import (
    OUT_OF_RANGE,
    PROFILE_FIELDS,
    guideline_key,
    profile_outcome,
)
from needleplan.cohort.rows import unique_rows
from needleplan.cohort.spec import PopulationSpec, parse_area_set
from needleplan.domain.assessment import Assessment, Menopause, reference_assessment
from needleplan.forecasting.chain import (
    VALIDATED_AGE,
)
from needleplan.forecasting.models import patient_modifiers
from needleplan.forecasting.models.covariates import BOUNDS
from needleplan.guideline import Guideline

FloatArray = NDArray[np.float64]
IntArray = NDArray[np.int64]


@dataclass(frozen=True)
class PatientTable:
    """Patients as columns: age, profile values, and the assessment each came from.

    Attributes
    ----------
    age : ndarray, shape (n,)
        Age at the first session [years].
    values : ndarray, shape (n, 9)
        Profile values in the order of :data:`PROFILE_FIELDS`.
    template : ndarray of int, shape (n,)
        Index into ``templates``.
    templates : tuple of Assessment
        Distinct assessments (their own age is ignored; ``age`` holds each patient's).
    """

    age: FloatArray
    values: FloatArray
    template: IntArray
    templates: tuple[Assessment, ...]
    codes: IntArray | None = None
    spec: PopulationSpec | None = None

    @property
    def n(self) -> int:
        return int(self.age.size)

    def assessment(self, i: int) -> Assessment:
        """Patient ``i``'s assessment (for the per-patient reference implementation)."""
        if self.codes is not None and self.spec is not None:
            template = template_for(self.spec, self.codes[i])
        else:
            template = self.templates[int(self.template[i])]
        return template.model_copy(update={"age": int(self.age[i])})

    def take(self, lo: int, hi: int) -> PatientTable:
        """Patients ``lo:hi``, keeping only the templates they use."""
        used, inverse = np.unique(self.template[lo:hi], return_inverse=True)
        return PatientTable(
            age=self.age[lo:hi].copy(),
            values=self.values[lo:hi].copy(),
            template=np.asarray(inverse, dtype=np.int64).reshape(-1),
            templates=tuple(self.templates[int(i)] for i in used),
        )

    @staticmethod
    def concat(parts: Sequence[PatientTable]) -> PatientTable:
        """Synthetic parts of one spec, stacked."""
        codes = [p.codes for p in parts if p.codes is not None]
        n = sum(p.n for p in parts)
        return PatientTable(
            age=np.concatenate([p.age for p in parts]),
            values=np.concatenate([p.values for p in parts]),
            template=np.arange(n, dtype=np.int64),
            templates=(),
            codes=np.concatenate(codes) if len(codes) == len(parts) else None,
            spec=parts[0].spec if parts else None,
        )


@dataclass(frozen=True)
class FixedPopulation:
    """Given patients (a clinic's latest assessments, or copies of one assessment).

    Attributes
    ----------
    table : PatientTable
        The patients that can be simulated, in a fixed order.
    excluded : dict
        How many were left out and why (blocked, outside the model's range).
    description : str
    """

    table: PatientTable
    excluded: dict[str, int]
    description: str

    @property
    def size(self) -> int:
        return self.table.n


def fixed_population(
    assessments: Sequence[Assessment], guideline: Guideline, *, description: str
) -> FixedPopulation:
    """Profile the given assessments (once per distinct assessment, whatever the age).

    Patients whose plan is blocked by an absolute contraindication, or whose age or protocol is
    outside the forecast model's validated range, are left out and counted in ``excluded``.
    """
    key = guideline_key(guideline)
    templates: list[Assessment] = []
    rows: list[tuple[float, ...]] = []
    seen: dict[str, int] = {}
    ages: list[float] = []
    template_of: list[int] = []
    excluded: dict[str, int] = {}
    lo_age, hi_age = VALIDATED_AGE
    for a in assessments:  # preparation, once per run: the hot path is vectorised
        outcome = profile_outcome(a, guideline, key)
        reason = outcome.excluded
        if reason is None and not lo_age <= a.age <= hi_age:
            reason = OUT_OF_RANGE
        if reason is not None or outcome.values is None:
            excluded[reason or OUT_OF_RANGE] = excluded.get(reason or OUT_OF_RANGE, 0) + 1
            continue
        tkey = a.model_copy(update={"age": 50}).model_dump_json()
        if tkey not in seen:
            seen[tkey] = len(templates)
            templates.append(a)
            rows.append(outcome.values)
        template_of.append(seen[tkey])
        ages.append(float(a.age))
    idx = np.asarray(template_of, dtype=np.int64)
    values = (
        np.asarray(rows, dtype=np.float64)[idx]
        if rows
        else np.zeros((0, len(PROFILE_FIELDS)), dtype=np.float64)
    )
    table = PatientTable(
        age=np.asarray(ages, dtype=np.float64),
        values=values,
        template=idx,
        templates=tuple(templates),
    )
    return FixedPopulation(table, excluded, description)


def reference_population(n: int, guideline: Guideline) -> FixedPopulation:
    """``n`` copies of the SPEC's reference patient."""
    ref = reference_assessment()
    key = guideline_key(guideline)
    outcome = profile_outcome(ref, guideline, key)
    if outcome.values is None:  # a clinic guideline that blocks or breaks the reference patient
        return FixedPopulation(
            PatientTable(
                np.zeros(0), np.zeros((0, len(PROFILE_FIELDS))), np.zeros(0, np.int64), ()
            ),
            {outcome.excluded or OUT_OF_RANGE: n},
            f"{n} x the reference patient",
        )
    return FixedPopulation(
        PatientTable(
            age=np.full(n, float(ref.age)),
            values=np.tile(np.asarray(outcome.values, dtype=np.float64), (n, 1)),
            template=np.zeros(n, dtype=np.int64),
            templates=(ref,),
        ),
        {},
        f"{n} x the reference patient",
    )


# --------------------------------------------------------------------------------------------
# Synthetic populations
# --------------------------------------------------------------------------------------------
#: Share tables of a spec, in draw order (one level per patient each).
TABLES = (
    "severity",
    "areas",
    "goal",
    "smoking",
    "sun_exposure",
    "diet",
    "aftercare",
    "repair_capacity",
)
#: Single-share traits of a spec, in draw order (yes/no per patient each).
TRAITS = (
    "diabetes",
    "autoimmune",
    "spf_habit",
    "sun_damage_history",
    "accelerated_aging",
    "slow_healing",
)
#: Groups drawn after the others (added later: their uniforms have a stream of their own, so
#: the earlier draws keep their values).
LATE = ("menopause",)
GROUPS = TABLES + TRAITS + LATE
#: Column of the menopause status in the codes.
MENOPAUSE = GROUPS.index("menopause")
#: Uniforms a synthetic patient draws first: her age and one per group of TABLES and TRAITS.
PATIENT_UNIFORMS = 1 + len(TABLES) + len(TRAITS)
#: The order in which :func:`needleplan.forecasting.models.covariates.present_keys` lists the
#: factors; multiplying in this order reproduces ``patient_modifiers`` bit for bit.
MODIFIER_ORDER = (
    "smoking",
    "sun_exposure",
    "spf_habit",
    "sun_damage_history",
    "diet",
    "diabetes",
    "autoimmune",
    "accelerated_aging",
    "slow_healing",
    "aftercare",
    "repair_capacity",
    "severity",
    "areas",
    "menopause",
    "goal",
)
#: The multipliers the cohort uses. The goal's ``threshold`` is not among them: the cohort
#: counts "noticeably firmer" at the population threshold (docs/cohort.md).
MODIFIERS = ("response", "fade", "ageing", "heal", "capacity")


def spec_levels(spec: PopulationSpec, group: str) -> tuple[list[Any], FloatArray]:
    """The levels of a group (table keys, or no/yes for a trait) and their shares."""
    if group in TRAITS:
        share = float(getattr(spec, group))
        return [False, True], np.asarray([1.0 - share, share])
    table: dict[Any, float] = getattr(spec, group)
    if group == "menopause" and Menopause.NONE not in table:
        table = {Menopause.NONE: 0.0, **table}  # the level of patients below the age
    shares = np.asarray(list(table.values()), dtype=np.float64)
    return list(table), shares / shares.sum()


def _level_fields(group: str, level: Any) -> dict[str, Any]:
    """The assessment fields a group's level sets."""
    if group == "areas":
        return {"areas": [a.value for a in parse_area_set(str(level))]}
    if group in ("diabetes", "autoimmune"):
        return {"conditions": [group] if level else []}
    if group in ("accelerated_aging", "slow_healing"):
        return {"genetics": [group] if level else []}
    if group in ("spf_habit", "sun_damage_history"):
        return {group: bool(level)}
    return {group: getattr(level, "value", level)}


def template_for(spec: PopulationSpec, code: Sequence[int] | IntArray) -> Assessment:
    """The assessment (age 50 placeholder) a row of :func:`sample_codes` stands for."""
    data: dict[str, Any] = reference_assessment().model_dump(mode="json")
    data["conditions"], data["genetics"] = [], []
    for j, group in enumerate(GROUPS):
        fields = _level_fields(group, spec_levels(spec, group)[0][int(code[j])])
        for key in ("conditions", "genetics"):
            if key in fields:
                data[key] = data[key] + fields.pop(key)
        data.update(fields)
    return Assessment.model_validate(data)


def sample_ages(spec: PopulationSpec, rng: np.random.Generator, size: int) -> FloatArray:
    """Whole-year ages from the spec's distribution (one uniform draw per patient)."""
    return ages_from(spec, rng.random(size))


def ages_from(spec: PopulationSpec, u: FloatArray) -> FloatArray:
    """Whole-year ages for uniforms ``u`` in [0, 1) (inverse of the spec's distribution)."""
    a = spec.age
    if a.distribution == "uniform":
        return np.asarray(np.floor(a.min + u * (a.max - a.min + 1)).clip(a.min, a.max))
    assert a.mean is not None  # guaranteed by AgeSpec
    assert a.sd is not None
    lo = float(ndtr((a.min - 0.5 - a.mean) / a.sd))
    hi = float(ndtr((a.max + 0.5 - a.mean) / a.sd))
    x = a.mean + a.sd * ndtri(lo + u * (hi - lo))
    return np.asarray(np.rint(x).clip(a.min, a.max), dtype=np.float64)


def sample_codes(spec: PopulationSpec, rng: np.random.Generator, size: int) -> IntArray:
    """Level index of each group, shape ``(size, 15)`` in :data:`GROUPS` order.

    Draw order (fixed, so a seed gives the same patients): one uniform per patient per group,
    group after group.
    """
    return codes_from(spec, np.column_stack([rng.random(size) for _ in GROUPS]))


def codes_from(spec: PopulationSpec, u: FloatArray) -> IntArray:
    """Level index of each group for uniforms ``u`` of shape ``(size, 15)`` (:data:`GROUPS`)."""
    # Column by column (Fortran order): the level is how many of the cumulative shares are at
    # or below the uniform, searchsorted(cdf, u, "right") by a few comparisons per group.
    codes = np.zeros(u.shape, dtype=np.int64, order="F")
    columns = np.asfortranarray(u)
    for j, group in enumerate(GROUPS):
        _, shares = spec_levels(spec, group)
        cdf = np.cumsum(shares)
        cdf[-1] = 1.0
        for edge in cdf[:-1]:  # u < 1 = cdf[-1] always
            codes[:, j] += columns[:, j] >= edge
    return codes


def draw_uniforms(rng: np.random.Generator, size: int) -> FloatArray:
    """The first uniforms one patient draw uses, shape ``(size, 15)``: age, then one per group
    of :data:`TABLES` and :data:`TRAITS`; the groups of :data:`LATE` draw theirs later.

    :func:`sample_patients` draws exactly these, then the late ones; :func:`patients_from`
    turns them into patients, so a chunk can draw block by block and map all its patients at
    once.
    """
    # One call: the generator fills the (15, size) array in order, the same numbers as 15 calls
    # of ``rng.random(size)`` one after the other.
    return np.ascontiguousarray(draw_uniforms_by_column(rng, size).T)


def draw_uniforms_by_column(rng: np.random.Generator, size: int) -> FloatArray:
    """:func:`draw_uniforms` transposed, ``(15, size)`` (blocks stack along axis 1)."""
    return rng.random((PATIENT_UNIFORMS, size))


@dataclass(frozen=True)
class SpecTables:
    """What each level of each group contributes to the protocol score and the modifiers.

    The guideline's score is additive over the groups (severity base + area load + goal + the
    raising factors, each factor set by exactly one group) and the covariate multipliers are a
    product over them, so a patient's score and multipliers follow from her levels without
    building her assessment. The protocol depends on the assessment only through the score
    (``total``, ``raising``, ``retention_risk``) when there is no contraindication, so the
    guideline engine runs once per distinct score: a handful per chunk, not one per patient.
    Sums and products run in the engine's order, so the figures are bit for bit those of
    :func:`~needleplan.guideline.score` and :func:`~needleplan.forecasting.models.patient_modifiers`
    (a Hypothesis test checks this).
    """

    spec: PopulationSpec
    base: FloatArray  # per severity level
    area_load: FloatArray  # per area-set level
    goal: FloatArray  # per goal level
    sessions: tuple[tuple[int, FloatArray], ...]  # (group index, per level) in FactorId order
    retention: tuple[tuple[int, FloatArray], ...]
    multipliers: dict[str, tuple[tuple[int, FloatArray], ...]]  # modifier -> in MODIFIER_ORDER

    @classmethod
    def build(cls, spec: PopulationSpec, guideline: Guideline) -> SpecTables:
        from needleplan.guideline import FactorId, score

        ref = reference_assessment()
        by_factor: dict[FactorId, tuple[int, list[float], list[float]]] = {}
        base: list[float] = []
        area: list[float] = []
        goal: list[float] = []
        mult: dict[str, dict[str, list[float]]] = {m: {} for m in MODIFIERS}
        for j, group in enumerate(GROUPS):
            levels, _ = spec_levels(spec, group)
            for li, level in enumerate(levels):
                fields = _level_fields(group, level)
                one = Assessment.model_validate({**ref.model_dump(mode="json"), **fields})
                s = score(one, guideline)
                if group == "severity":
                    base.append(s.base)
                elif group == "areas":
                    area.append(s.area_load)
                elif group == "goal":
                    goal.append(s.goal)
                for f in s.factors:
                    entry = by_factor.setdefault(f, (j, [0.0] * len(levels), [0.0] * len(levels)))
                    if entry[0] != j:  # pragma: no cover - FactorId maps to one field each
                        raise RuntimeError(f"factor {f} is set by two groups")
                    entry[1][li] = guideline.factors[f].sessions
                    entry[2][li] = guideline.factors[f].retention_risk
                mods = patient_modifiers(one)
                for m in MODIFIERS:
                    mult[m].setdefault(group, []).append(float(getattr(mods, m)))
        ordered = [f for f in FactorId if f in by_factor]
        return cls(
            spec=spec,
            base=np.asarray(base),
            area_load=np.asarray(area),
            goal=np.asarray(goal),
            sessions=tuple((by_factor[f][0], np.asarray(by_factor[f][1])) for f in ordered),
            retention=tuple((by_factor[f][0], np.asarray(by_factor[f][2])) for f in ordered),
            multipliers={
                m: tuple((GROUPS.index(g), np.asarray(mult[m][g])) for g in MODIFIER_ORDER)
                for m in MODIFIERS
            },
        )

    def scores(self, codes: IntArray) -> FloatArray:
        """``(total, raising, retention_risk)`` of each patient, shape ``(n, 3)``."""
        n = codes.shape[0]
        raising: FloatArray | int = 0  # sum() starts at 0, like Score's
        retention: FloatArray | int = 0
        for j, per_level in self.sessions:
            raising = raising + per_level[codes[:, j]]
        for j, per_level in self.retention:
            retention = retention + per_level[codes[:, j]]
        raising_a = np.broadcast_to(np.asarray(raising, dtype=np.float64), (n,))
        retention_a = np.broadcast_to(np.asarray(retention, dtype=np.float64), (n,))
        sev, area, goal = (GROUPS.index(g) for g in ("severity", "areas", "goal"))
        total = (
            self.base[codes[:, sev]] + self.area_load[codes[:, area]] + self.goal[codes[:, goal]]
        ) + raising_a
        return np.column_stack([total, raising_a, retention_a])

    def modifiers(self, codes: IntArray) -> FloatArray:
        """Covariate multipliers, shape ``(n, 5)`` in :data:`MODIFIERS` order."""
        out = np.ones((codes.shape[0], len(MODIFIERS)))
        for c, m in enumerate(MODIFIERS):
            acc = out[:, c]
            for j, per_level in self.multipliers[m]:
                acc = acc * per_level[codes[:, j]]
            lo, hi = BOUNDS[m]
            out[:, c] = np.minimum(np.maximum(acc, lo), hi)  # as patient_modifiers clips
        return out


_SCORE_CACHE: dict[tuple[str, tuple[float, ...]], tuple[float, ...]] = {}
_CACHE_LIMIT = 50_000


def _protocol_for_score(
    spec: PopulationSpec,
    code: IntArray,
    triple: tuple[float, ...],
    guideline: Guideline,
    key: str,
) -> tuple[float, ...]:
    """Initial count, interval and maintenance window for a score (cached per guideline)."""
    found = _SCORE_CACHE.get((key, triple))
    if found is not None:
        return found
    from needleplan.guideline import score

    template = template_for(spec, code)
    s = score(template, guideline)
    if (s.total, s.raising, s.retention_risk) != triple:  # pragma: no cover - additive by design
        raise RuntimeError("the guideline score is not additive over the spec's factors")
    outcome = profile_outcome(template, guideline, key)
    if outcome.values is None:
        from needleplan.exceptions import ModelRangeError

        raise ModelRangeError(
            f"population: a profile of the spec ({template.effective_severity.value}, "
            f"{'+'.join(a.value for a in template.areas)}) is {outcome.excluded} under "
            "this guideline"
        )
    if len(_SCORE_CACHE) >= _CACHE_LIMIT:
        _SCORE_CACHE.clear()
    _SCORE_CACHE[(key, triple)] = outcome.values[:4]
    return outcome.values[:4]


def known_protocols() -> dict[tuple[str, tuple[float, ...]], tuple[float, ...]]:
    """The protocols this process has found per (guideline, score), to hand to processes
    forked later (:mod:`needleplan.cohort.parallel`), which then need not find them again."""
    return dict(_SCORE_CACHE)


def learn_protocols(known: dict[tuple[str, tuple[float, ...]], tuple[float, ...]]) -> None:
    """Add protocols another process found (:func:`known_protocols`): each is keyed by its
    guideline's digest, so it is the protocol this process would find."""
    if len(_SCORE_CACHE) + len(known) >= _CACHE_LIMIT:
        _SCORE_CACHE.clear()
    _SCORE_CACHE.update(known)


def sample_patients(
    tables: SpecTables,
    rng: np.random.Generator,
    size: int,
    guideline: Guideline,
    key: str,
) -> PatientTable:
    """Draw ``size`` patients from a spec; the guideline runs once per distinct score."""
    first = draw_uniforms(rng, size)
    late = np.column_stack([rng.random(size) for _ in LATE])
    return patients_from(tables, np.hstack([first, late]), guideline, key)


def patients_from(
    tables: SpecTables, uniforms: FloatArray, guideline: Guideline, key: str
) -> PatientTable:
    """The patients that uniforms stand for (any number of rows): those of
    :func:`draw_uniforms` followed by one column per :data:`LATE` group, ``(n, 16)``.

    A patient younger than the spec's ``menopause_from_age`` gets menopause ``none``.
    """
    spec = tables.spec
    size = uniforms.shape[0]
    ages = ages_from(spec, uniforms[:, 0])
    codes = codes_from(spec, uniforms[:, 1:])
    levels, _ = spec_levels(spec, "menopause")
    codes[ages < spec.menopause_from_age, MENOPAUSE] = levels.index(Menopause.NONE)
    scores = tables.scores(codes)
    unique, inv = unique_rows(scores)
    first = np.unique(inv, return_index=True)[1]  # each distinct score's first patient
    protocol = np.empty((unique.shape[0], 4))
    for u, i in enumerate(first):  # distinct scores (a handful), not patients
        protocol[u] = _protocol_for_score(spec, codes[i], tuple(unique[u]), guideline, key)
    return PatientTable(
        age=ages,
        values=np.column_stack([protocol[inv], tables.modifiers(codes)]),
        template=np.arange(size, dtype=np.int64),
        templates=(),
        codes=codes,
        spec=spec,
    )
