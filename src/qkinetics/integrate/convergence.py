"""Error bars of grid integrals from the same integral on grids with half and a quarter of the points.

:func:`grid_error` turns three grid levels (n, n/2 and n/4 points per direction) into an error bar
for the finest one. The estimator (checked against much finer grids and closed forms in
tests/test_convergence.py), with :math:`d_1 = |I_n - I_{n/2}|`, :math:`d_2 = |I_{n/2} - I_{n/4}|`
and the observed contraction :math:`\\rho = d_1/d_2`:

1. Richardson with two coarse levels and a safety factor. If the differences keep shrinking by
   :math:`\\rho`, the error of :math:`I_n` is the geometric tail :math:`d_1\\rho/(1-\\rho)`. The bar
   is :math:`\\max(2, \\rho/(1-\\rho))\\,d_1`, at most :math:`9d_1` (when no convergence is seen,
   :math:`\\rho \\ge 0.9`, ``SLOW_RATIO``). The factor 2 (``SAFETY``, as the safety factor of Roache's
   grid convergence index) covers levels whose errors shrink irregularly: on the continuum disc a
   200^2 grid had |error| = 1.02 d_1 (tests/test_convergence.py).
2. Algebraic convergence may be irregular. Only a fast contraction (:math:`\\rho \\le 1/8`,
   ``FAST_RATIO``: observed order >= 3, the exponential convergence of smooth periodic or resolved
   integrands) lets the bar of item 1 stand alone. Otherwise it is at least :math:`2^{-3/2} d_2`
   (``ALGEBRAIC_STEP``): lattice-point errors of steps (T = 0, unresolved Fermi surfaces) and of the
   disc cut out of a continuum grid fluctuate around :math:`h^{3/2}` from level to level, and two
   levels can agree by chance.
3. Thermal resolution. Fermi-surface features have width :math:`k_BT`; while a grid step crosses
   more than about one thermal width (``thermal_resolution`` r of the finest grid; the warning
   threshold is 1) the grid samples them like steps, the error is irregular in n and levels can
   agree by chance whatever :math:`\\rho` says (Haldane model, mu = 1.2 eV, 10 K, 200^2: r = 40,
   :math:`d_1` = 2.1e-5 e^2/h for a true error of 3.2e-5). The bar is raised to :math:`w(r)\\,d_2`
   with :math:`w(r) = \\min(1, e^{9/2 - 9/r})`: 1 for r >= 2, 0.2 at r = 1.5, 0.01 at r = 1, 1e-3
   at r = 0.8, 1e-6 at r = 0.5 (measured: the error falls like :math:`e^{-c/r}`, c ~ 18, once the
   shell is resolved; a tilted Dirac cone at 10 K was still irregular at r = 3). T = 0 (r = inf)
   gets w = 1. So a grid that triggers the resolution warning gets a large, conservative bar; tight
   bars need r <= 1.
4. Round-off: never below ``ROUNDOFF`` times the largest tensor component at the same (mu, T).

Without the quarter grid (``coarser=None``) only :math:`d_1` is known and the bar is
:math:`d_1(2 + 2w(r))`, a weaker guard against chance agreement.

Limits: an error bar from three levels is an estimate, not a bound. Measured margins (bar / true
error, tests/test_convergence.py) are smallest, about 2, where the error is the irregular
lattice-point error of the continuum cutoff disc (Fermi-sea terms of continuum models).
"""

from __future__ import annotations

import numpy as np

#: Relative floor of an error bar (round-off of sums over up to ~1e8 states).
ROUNDOFF = 1e-12
#: The bar is at least this multiple of |I_n - I_{n/2}| (a safety factor, as Roache's grid convergence index).
SAFETY = 2.0
#: Contraction ratio d1/d2 above which no convergence is credited (the bar is d1 rho/(1 - rho) at most 9 d1).
SLOW_RATIO = 0.9
#: Below this contraction ratio (observed order >= 3: the exponential convergence of resolved, smooth
#: integrands) d1 alone is trusted; above it the convergence is algebraic and may be irregular.
FAST_RATIO = 0.125
#: Algebraic regime: the error of level n is at least d2 2^(-3/2) (lattice-point errors of steps and of the
#: continuum cutoff disc fluctuate around h^(3/2)).
ALGEBRAIC_STEP = 2.0 ** -1.5


def thermal_weight(resolution):
    """:math:`w(r) = \\min(1, e^{9/2 - 9/r})` for the thermal resolution r (0 -> 0, inf -> 1), as an array."""
    r = np.asarray(resolution, dtype=float)
    with np.errstate(divide="ignore", over="ignore"):
        return np.where(r > 0, np.minimum(1.0, np.exp(4.5 - 9.0 / np.where(r > 0, r, 1.0))), 0.0)


def grid_error(fine, coarse, coarser=None, resolution=None):
    """Error bar of ``fine`` from the same integrals on grids with half (``coarse``) and a quarter (``coarser``) of
    the points per direction; see the module docstring for the estimator.

    Parameters
    ----------
    fine, coarse, coarser : ndarray (n_mu, n_T, *tensor), real or complex
        Band integrals on the grids with n, n/2 and n/4 points per direction; ``coarser`` may be None.
    resolution : ndarray (n_T,), optional
        ``thermal_resolution`` of the finest grid (``BandIntegrals.resolution``); None means resolved.

    Returns
    -------
    ndarray, real, shape of ``fine``: the error bar, in the units of ``fine``.
    """
    fine, coarse = np.asarray(fine), np.asarray(coarse)
    extra = (1,) * (fine.ndim - 2)
    w = np.zeros(fine.shape[1]) if resolution is None else thermal_weight(resolution)
    w = w.reshape((1, -1) + extra)
    d1 = np.abs(fine - coarse)
    levels = [fine, coarse]
    if coarser is None:
        err = d1 * (SAFETY + 2 * w)
    else:
        coarser = np.asarray(coarser)
        levels.append(coarser)
        d2 = np.abs(coarse - coarser)
        with np.errstate(divide="ignore", invalid="ignore"):
            rho = np.where(d2 > 0, d1 / np.where(d2 > 0, d2, 1.0), np.where(d1 > 0, np.inf, 0.0))
        tail = np.minimum(rho, SLOW_RATIO)
        factor = np.maximum(SAFETY, np.where(rho < SLOW_RATIO, tail / (1 - tail), SLOW_RATIO / (1 - SLOW_RATIO)))
        algebraic = np.where(rho > FAST_RATIO, d2 * ALGEBRAIC_STEP, 0.0)
        err = np.maximum(np.maximum(factor * d1, algebraic), w * d2)
    tensor_axes = tuple(range(2, fine.ndim))
    scale = np.max([np.abs(x).max(axis=tensor_axes, keepdims=True) if tensor_axes else np.abs(x) for x in levels],
                   axis=0)
    return np.maximum(err, ROUNDOFF * scale)
