"""Fermi-Dirac occupation and its energy derivatives, for sweeps over chemical potential and temperature."""

from __future__ import annotations

import numpy as np
from scipy.special import expit

from ..models.base import ModelError
from ..units import kB_eV


def fermi_dirac(energies, mu, T, order: int = 0):
    """Fermi-Dirac function :math:`f = 1/(e^{(\\varepsilon-\\mu)/k_BT} + 1)` or its energy derivatives.

    Parameters
    ----------
    energies : ndarray, eV
    mu : array_like, eV
        Chemical potentials; broadcast against ``T`` and ``energies`` as ``(mu, T, *energies.shape)``.
    T : array_like, kelvin
        Temperatures. T = 0 is allowed only for ``order = 0`` (step function, 1/2 at the Fermi level).
    order : int, 0..2
        Derivative order p of :math:`\\partial^p f/\\partial\\varepsilon^p` (units eV^-p).

    Returns
    -------
    ndarray, shape ``(len(mu), len(T), *energies.shape)``
    """
    mu = np.atleast_1d(np.asarray(mu, dtype=float))
    T = np.atleast_1d(np.asarray(T, dtype=float))
    if np.any(T < 0):
        raise ModelError(f"temperatures must be >= 0 K; got {T.tolist()}.")
    if order not in (0, 1, 2):
        raise ModelError(f"Fermi-function derivative order must be 0, 1 or 2; got {order}.")
    if order > 0 and np.any(T == 0):
        raise ModelError(
            "Fermi-surface terms need T > 0 (the derivative of the step function is a delta function): "
            "use a small positive temperature with a k grid fine enough to resolve it."
        )
    e = np.asarray(energies, dtype=float)
    shape = (len(mu), len(T)) + (1,) * e.ndim
    de = e[None, None] - mu.reshape((-1, 1) + (1,) * e.ndim)                # (mu, 1, ...)
    kT = (kB_eV * T).reshape((1, -1) + (1,) * e.ndim)
    safe_kT = np.where(kT > 0, kT, 1.0)
    step = np.where(de < 0, 1.0, np.where(de > 0, 0.0, 0.5))
    f = np.where(kT > 0, expit(-de / safe_kT), step)
    assert f.shape[:2] == shape[:2]
    if order == 0:
        return f
    df = -f * (1 - f) / kT
    if order == 1:
        return df
    return -df * (1 - 2 * f) / kT
