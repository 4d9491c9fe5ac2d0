"""A clinic's own noticeable threshold in every forecast it shows (issue 15, point 8).

The model derives what counts as a noticeable improvement from the rating scales (4.6 %,
``ModelParams.noticeable_threshold``); a clinic sets its recall threshold
(``ClinicConfig.recall_threshold``, default the derived value). Every "months noticeable" a
clinic shows (the consultation page, her record, her handout, her portal page, the recall) is
counted from the clinic's setting, so the months and the recall day agree, and the figure names
the setting when it differs from the derived value
(:func:`needleplan.forecasting.wording.threshold_note`). The public estimator and the library
stay on the derived value.
"""

from __future__ import annotations

from needleplan.forecasting.params import ModelParams, default_params, with_noticeable_threshold
from needleplan.scheduling import ClinicConfig


def clinic_params(params: ModelParams | None, clinic: ClinicConfig | None) -> ModelParams | None:
    """The parameters ``clinic``'s displayed forecasts use: ``params`` (``None``: the shipped
    calibration) with the clinic's recall threshold as the noticeable threshold; ``params``
    unchanged without a clinic or when the setting is already theirs. The shipped fit with only
    the threshold changed keeps its parameter uncertainty
    (:func:`~needleplan.forecasting.params.own_threshold_only`)."""
    if clinic is None:
        return params
    base = default_params() if params is None else params
    if abs(clinic.recall_threshold - base.noticeable_threshold) < 1e-12:
        return params
    return with_noticeable_threshold(base, clinic.recall_threshold)
