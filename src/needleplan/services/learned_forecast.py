"""Her learned forecast where staff look: the patient page and ``GET /api/v1/patients/{id}/forecast``.

:func:`learned_forecast` wraps :func:`needleplan.services.learning.patient_outcome` (the posterior
of her response from her measurements, her forecast and the population's side by side, a recall
day from each) and says what the difference implies, each with its reason:

- ``recall``: her own forecast moves the maintenance recall earlier or later than the
  population forecast would (by at least :data:`RECALL_SHIFT_DAYS`);
- ``extra_session``: her measurements say she responds poorly (the posterior mean of her
  response ``z`` is at most :data:`POOR_RESPONSE_Z` and she has been measured after a session),
  so one extra session of the initial series is worth considering.

Without a measurement the personal forecast is the population one and nothing is implied.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from needleplan.scheduling import ClinicConfig
from needleplan.services.learning import PatientOutcome, patient_outcome
from needleplan.storage import Database

#: A recall moved by fewer days than this is "the same" (a fortnight: a reminder's granularity).
RECALL_SHIFT_DAYS = 14
#: Posterior mean of ``z`` at or below which she counts as a poor responder (about the slowest
#: 30 % of the population under the N(0, 1) prior) [-].
POOR_RESPONSE_Z = -0.5


@dataclass(frozen=True)
class Implication:
    """What her learned forecast implies for her plan, and why (plain words for staff)."""

    kind: str  # "recall" or "extra_session"
    text: str
    reason: str

    def to_json(self) -> dict[str, str]:
        return {"kind": self.kind, "text": self.text, "reason": self.reason}


@dataclass(frozen=True)
class LearnedForecast:
    outcome: PatientOutcome
    implications: list[Implication]

    @property
    def measured(self) -> bool:
        return not self.outcome.update.posterior.is_prior

    def to_json(self, *, curves: bool = True) -> dict[str, Any]:
        out = self.outcome.to_json(curves=curves)
        out["measured"] = self.measured
        out["implications"] = [i.to_json() for i in self.implications]
        return out


def _response_words(z: float) -> str:
    if z <= POOR_RESPONSE_Z:
        return "responds less than most patients"
    if z >= -POOR_RESPONSE_Z:
        return "responds better than most patients"
    return "responds about as the population does"


def implications_of(outcome: PatientOutcome) -> list[Implication]:
    """The recall and extra-session consequences of her measurements (see the module doc)."""
    post = outcome.update.posterior
    if post.is_prior:
        return []
    found: list[Implication] = []
    z, sd = post.mean, post.sd
    evidence = (
        f"{post.n_observations} measurement(s) say the patient {_response_words(z)} "
        f"(response score {z:+.2f} ± {sd:.2f}; the population is 0 ± 1)"
    )
    pop, own = outcome.recall_population, outcome.recall_personal
    if pop is not None and own is not None:
        shift = (own.due - pop.due).days
        if abs(shift) >= RECALL_SHIFT_DAYS:
            when = "earlier" if shift < 0 else "later"
            found.append(
                Implication(
                    "recall",
                    f"recall {when}: {own.due.isoformat()} instead of {pop.due.isoformat()} "
                    f"({abs(shift)} days {when})",
                    f"{evidence}; the patient's own forecast falls to the recall threshold "
                    f"{'sooner' if shift < 0 else 'later'} than the population's.",
                )
            )
    measured_after_session = any(
        m.measured_at.date() > outcome.first_session for m in outcome.measurements
    )
    if z <= POOR_RESPONSE_Z and measured_after_session:
        found.append(
            Implication(
                "extra_session",
                "consider one extra session in the initial series",
                f"{evidence}; each session builds less collagen than the population's, so "
                "one more session brings the improvement nearer the planned level.",
            )
        )
    return found


def learned_forecast(
    db: Database,
    patient_id: int,
    *,
    clinic: ClinicConfig | None = None,
    draws: int = 400,
    seed: int = 0,
) -> LearnedForecast:
    """Her forecast updated from her measurements, the population's, and what they imply.

    Raises ``NotFoundError`` for an unknown patient or one without an assessment or session.
    """
    outcome = patient_outcome(db, patient_id, clinic=clinic, draws=draws, seed=seed)
    return LearnedForecast(outcome, implications_of(outcome))
