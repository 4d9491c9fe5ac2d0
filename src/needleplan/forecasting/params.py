"""Model parameters: the shipped calibration and how to load, validate and change it.

The calibrated values live in ``params.json`` next to this module and are written by the
calibration script (``python -m needleplan.forecasting.calibration.fit``). Every field below
states its unit and where its value comes from; ``docs/model.md`` has the full table.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, fields, replace
from pathlib import Path
from typing import Any

from needleplan.exceptions import ConfigError, FieldProblem

PARAMS_PATH = Path(__file__).with_name("params.json")

DAYS_PER_YEAR = 365.25
DAYS_PER_MONTH = DAYS_PER_YEAR / 12.0

#: Parameters the calibration fits to the seed claims (the rest are fixed by a source).
FITTED = (
    "gain",
    "capacity",
    "build_days",
    "fast_fade_days",
    "slow_fade_years",
    "remodelled_fraction",
    "ageing_rate_per_year",
)


@dataclass(frozen=True)
class ModelParams:
    """Population parameters of the firmness model (the typical patient: age 50, no risk factor).

    Parameters
    ----------
    gain : float
        Collagen-induction dose of one fully healed session for the typical patient
        [% of pre-treatment firmness]. Fitted.
    capacity : float
        Ceiling of treatment-induced firmness for moderate laxity [% of pre-treatment firmness];
        diminishing returns as the skin nears it. Fitted.
    build_days : float
        Time constant of the wound-healing build-up ``1/k_b`` [days]. Fitted (prior 30 days).
    fast_fade_days : float
        Time constant of the fast-fading (unremodelled) part ``1/k_f`` [days]. Fitted.
    slow_fade_years : float
        Time constant of the remodelled, long-lived part ``1/k_s`` [years]. Fitted.
    remodelled_fraction : float
        Share of each response that is remodelled into long-lived collagen ``phi`` [-]. Fitted.
    ageing_rate_per_year : float
        Age-related decline of the pre-treatment firmness at age 50 ``r_0`` [1/year]. Fitted with
        a prior at 0.01/year (skin collagen falls about 1 % a year in adults; Shuster, Black &
        McVitie 1975, Br J Dermatol 93:639-643).
    heal_days : float
        Recovery time constant of healing capacity between sessions ``tau_h`` [days]; a session
        ``Delta`` days after the previous one responds with ``1 - exp(-Delta/tau_h)``. Fixed:
        chosen so the seeds' 3-6 week spacing keeps >= 95 % of the response.
    age_response_per_decade : float
        Fractional drop of the session response per decade of age at the session [1/decade].
        Fixed (judgement; direction from Varani et al. 2006, Am J Pathol 168:1861-1868).
    age_ageing_per_decade : float
        Log-increase of the ageing rate per decade of baseline age above 50 [1/decade]. Fixed.
    omega_response : float
        Loading of the patient's response effect ``u_R ~ N(0, 1)`` on her log session dose [-].
    omega_fade, omega_ageing : float
        Loadings of her persistence effect ``u_P ~ N(0, 1)`` on her log fading rates and log
        ageing rate [-] (a larger ``u_P`` keeps collagen longer). Fixed (judgement: an 80 % band
        on the noticeable duration of roughly 0.5x-2x the median, as the seeds' "varies with
        genes, health and lifestyle"; trial T2's spread is a posterior-predictive check).
    random_effect_correlation : float
        Correlation ``rho`` of ``u_R`` and ``u_P`` [-], ``|rho| < 1``. Stated, not estimated:
        0.5 (judgement: good responders tend to keep their gain, as the seeds' "genes, health
        and lifestyle" act on both, but "responds well, fades fast" must be possible; no trial
        measures both in the same patients).
    noticeable_threshold : float
        Just-noticeable improvement [% of pre-treatment firmness]. Derived from the
        observation model: the improvement at which a rating on GAIS or the laxity grade
        records a change half of the time
        (:func:`~needleplan.forecasting.observation.derived_noticeable_threshold`, 4.615),
        kept to 0.1 % (4.6); the calibration script writes it and a test keeps it equal.
    """

    gain: float = 6.0
    capacity: float = 14.0
    build_days: float = 30.0
    fast_fade_days: float = 120.0
    slow_fade_years: float = 3.0
    remodelled_fraction: float = 0.3
    ageing_rate_per_year: float = 0.01
    heal_days: float = 7.0
    age_response_per_decade: float = 0.10
    age_ageing_per_decade: float = 0.15
    omega_response: float = 0.25
    omega_fade: float = 0.25
    omega_ageing: float = 0.20
    random_effect_correlation: float = 0.5
    noticeable_threshold: float = 4.6

    def __post_init__(self) -> None:
        problems: list[FieldProblem] = []
        for f in fields(self):
            value = getattr(self, f.name)
            if not isinstance(value, int | float) or isinstance(value, bool):
                problems.append(FieldProblem(f.name, value, "must be a number"))
            elif f.name == "random_effect_correlation":
                if not -1.0 < value < 1.0:
                    problems.append(FieldProblem(f.name, value, "must be within -1 and 1 (open)"))
            elif not value >= 0 or value != value:  # rejects negative and NaN
                problems.append(FieldProblem(f.name, value, "must be >= 0"))
        if not problems:
            positive = ("gain", "capacity", "build_days", "fast_fade_days", "slow_fade_years")
            for name in (*positive, "heal_days", "noticeable_threshold"):
                if getattr(self, name) <= 0:
                    problems.append(FieldProblem(name, getattr(self, name), "must be > 0"))
            if not 0.0 <= self.remodelled_fraction <= 1.0:
                problems.append(
                    FieldProblem(
                        "remodelled_fraction", self.remodelled_fraction, "must be within 0-1"
                    )
                )
            if not problems and not (
                self.build_days < self.fast_fade_days < self.slow_fade_years * DAYS_PER_YEAR
            ):
                problems.append(
                    FieldProblem(
                        "fast_fade_days",
                        self.fast_fade_days,
                        "time constants must satisfy build_days < fast_fade_days < slow_fade_years",
                    )
                )
        if problems:
            raise ConfigError(problems, source="model parameters")

    # Rates in the units the equations use -------------------------------------------------
    @property
    def k_build(self) -> float:
        """Build-up rate ``k_b`` [1/day]."""
        return 1.0 / self.build_days

    @property
    def k_fast(self) -> float:
        """Fast fading rate ``k_f`` [1/day]."""
        return 1.0 / self.fast_fade_days

    @property
    def k_slow(self) -> float:
        """Slow (remodelled) fading rate ``k_s`` [1/day]."""
        return 1.0 / (self.slow_fade_years * DAYS_PER_YEAR)

    def to_dict(self) -> dict[str, float]:
        return {k: float(v) for k, v in asdict(self).items()}

    def with_values(self, **values: float) -> ModelParams:
        """A copy with some values replaced (validated)."""
        return replace(self, **values)

    @classmethod
    def from_dict(cls, data: dict[str, Any], *, source: str = "model parameters") -> ModelParams:
        known = {f.name for f in fields(cls)}
        unknown = sorted(set(data) - known)
        if unknown:
            raise ConfigError(
                [FieldProblem(k, data[k], "unknown parameter") for k in unknown], source=source
            )
        try:
            return cls(**data)
        except ConfigError as exc:
            raise ConfigError(exc.problems, source=source) from None


def load_params(path: str | Path | None = None) -> ModelParams:
    """Load model parameters from a JSON file (``None``: the shipped calibration).

    The file holds ``{"params": {...}, "calibration": {...}}``; only ``params`` is read here.

    Raises
    ------
    ConfigError
        if the file is missing, not JSON, or a value breaks a rule.
    """
    p = PARAMS_PATH if path is None else Path(path)
    try:
        raw = json.loads(p.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise ConfigError.one("path", str(p), "file not found", source=str(p)) from None
    except (OSError, json.JSONDecodeError) as exc:
        raise ConfigError.one("path", str(p), f"cannot read JSON ({exc})", source=str(p)) from None
    if not isinstance(raw, dict) or not isinstance(raw.get("params"), dict):
        raise ConfigError.one("params", None, "must be an object", source=str(p))
    return ModelParams.from_dict(raw["params"], source=str(p))


_DEFAULT: ModelParams | None = None


def default_params() -> ModelParams:
    """The shipped calibration (cached)."""
    global _DEFAULT
    if _DEFAULT is None:
        _DEFAULT = load_params(None)
    return _DEFAULT


def own_threshold_only(params: ModelParams) -> bool:
    """True when ``params`` differ from the shipped calibration in ``noticeable_threshold``
    only (a clinic's own threshold for what counts as noticeable leaves the fit, and its
    posterior draws, as they are). The shipped parameters themselves, given explicitly, are
    not (a caller who passes them, such as the calibration at its optimum, gets what it always
    got: no posterior draws unless it asks)."""
    base = default_params()
    return (
        params != base and replace(params, noticeable_threshold=base.noticeable_threshold) == base
    )


def with_noticeable_threshold(params: ModelParams | None, threshold: float) -> ModelParams:
    """``params`` (``None``: the shipped calibration) with the noticeable threshold ``threshold``
    [% of pre-treatment firmness] (a clinic setting; her goal still scales it)."""
    base = default_params() if params is None else params
    return replace(base, noticeable_threshold=float(threshold))
