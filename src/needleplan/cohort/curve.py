"""The clinic's median curve after a session, for many rows, in few numpy operations.

The recall search (:mod:`needleplan.cohort.plan`) evaluates the median a few days at a time for
thousands of rows, so the cost of one evaluation is mostly numpy's per-call overhead. Here the
coefficients of the dose after the session are combined once per round (as
:func:`needleplan.forecasting.models.firmness.improvement` combines them for a forecast):

``Z(tau) = A e^{-k_f tau} + B e^{-k_s tau} - C e^{-k_b tau}`` with ``A = C_f + P a_f``,
``B = C_s + P a_s``, ``C = P (a_f + a_s)``, ``a_f = (1 - phi) k_b / (k_b - k_f)``,
``a_s = phi k_b / (k_b - k_s)``, then ``I = cap - cap e^{-Z/cap} - (100 - 100 e^{-r t})``.

Rows whose fading rate is within 0.1 % of ``k_b`` (where ``a_f`` or ``a_s`` loses digits) are
evaluated by :func:`~needleplan.cohort.model.improvement_from` with the stable kernels. Every
value depends on its own row only, whichever rows share the call.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray

from needleplan.cohort.model import PatientRates, improvement_from
from needleplan.forecasting.params import ModelParams

FloatArray = NDArray[np.float64]


@dataclass(frozen=True)
class MedianCurve:
    """Per row ``(U, 1)``: the regrouped coefficients, rates and the session day."""

    a: FloatArray
    b: FloatArray
    c: FloatArray
    neg_kf: FloatArray
    neg_ks: FloatArray
    cap: FloatArray
    neg_r: FloatArray
    last: FloatArray
    close: NDArray[np.int64]  # rows evaluated with the stable kernels
    neg_kb: float

    @classmethod
    def of(
        cls,
        p: FloatArray,
        cf: FloatArray,
        cs: FloatArray,
        last: FloatArray,
        rates: PatientRates,
        params: ModelParams,
    ) -> MedianCurve:
        """From the state ``(P, C_f, C_s)`` just after the session on day ``last``."""
        kb, phi = params.k_build, params.remodelled_fraction
        kf, ks = rates.k_fast, rates.k_slow
        near = (np.abs(kb - kf) < 1e-3 * kb) | (np.abs(kb - ks) < 1e-3 * kb)
        a_f = (1.0 - phi) * kb / np.where(near, 1.0, kb - kf)
        a_s = phi * kb / np.where(near, 1.0, kb - ks)
        return cls(
            a=cf + p * a_f,
            b=cs + p * a_s,
            c=p * (a_f + a_s),
            neg_kf=-kf,
            neg_ks=-ks,
            cap=rates.capacity,
            neg_r=-rates.ageing_rate,
            last=last.reshape(-1, 1),
            close=np.nonzero(near[:, 0])[0],
            neg_kb=-kb,
        )

    def take(self, rows: NDArray[np.int64]) -> MedianCurve:
        """The rows ``rows`` (an index array)."""
        mask = np.zeros(self.last.shape[0], dtype=bool)
        mask[self.close] = True
        return MedianCurve(
            self.a[rows],
            self.b[rows],
            self.c[rows],
            self.neg_kf[rows],
            self.neg_ks[rows],
            self.cap[rows],
            self.neg_r[rows],
            self.last[rows],
            np.nonzero(mask[rows])[0],
            self.neg_kb,
        )

    def __call__(self, tau: FloatArray) -> FloatArray:
        """Improvement ``tau`` days after the session [% of pre-treatment], ``tau`` ``(1, T)``
        or ``(U, T)``; rows in :attr:`close` are left to the caller."""
        shape = np.broadcast_shapes(self.a.shape, np.shape(tau))
        e = np.empty(shape)
        z = np.empty(shape)
        np.multiply(self.neg_kf, tau, out=e)
        np.exp(e, out=e)
        np.multiply(self.a, e, out=z)
        np.multiply(self.neg_ks, tau, out=e)
        np.exp(e, out=e)
        e *= self.b
        z += e
        np.multiply(self.neg_kb, tau, out=e)
        np.exp(e, out=e)
        e *= self.c
        z -= e
        # cap - cap e^{-Z/cap}
        np.negative(z, out=z)
        z /= self.cap
        np.exp(z, out=z)
        z *= self.cap
        np.subtract(self.cap, z, out=z)
        # minus 100 - 100 e^{-r (last + tau)}
        np.add(self.last, tau, out=e)
        e *= self.neg_r
        np.exp(e, out=e)
        e *= 100.0
        np.subtract(100.0, e, out=e)
        z -= e
        return z


def median_values(
    curve: MedianCurve,
    tau: FloatArray,
    p: FloatArray,
    cf: FloatArray,
    cs: FloatArray,
    rates: PatientRates,
    params: ModelParams,
) -> FloatArray:
    """:class:`MedianCurve` values, the rows near ``k_b`` by the stable kernels."""
    out = curve(tau)
    rows = curve.close
    if rows.size:
        t = tau if tau.shape[0] == 1 else tau[rows]
        t = np.broadcast_to(t, (rows.size, out.shape[1]))
        day = curve.last[rows] + t
        out[rows] = improvement_from(p[rows], cf[rows], cs[rows], t, day, rates.rows(rows), params)
    return out
