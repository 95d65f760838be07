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


# --------------------------------------------------------------------------- weights of thermal responses
#
# Thermoelectric and thermal responses weigh states with functions of x = (eps - mu)/(kB T) other than the
# derivatives of f. The integrator (``fermi_contractions``) accepts them as integrand keys next to the
# derivative orders p = 0, 1, 2:
#
# * ``(p, n)`` with p in (1, 2), n in 0..4: (eps - mu)^n f^(p)(eps), eV^(n - p). Vanishes far from mu on
#   both sides (the energy moments of the Fermi-surface weight of the Onsager coefficients).
# * ``"entropy"``: the entropy per state in units of kB, s = -f ln f - (1 - f) ln(1 - f) (dimensionless);
#   vanishes far from mu on both sides.
# * ``"c2"``: c_2 = int_eps^inf d eta ((eta - mu)/kB T)^2 (-df/d eta) (dimensionless); tends to pi^2/3
#   deep below mu (a Fermi-sea weight, like f) and to 0 far above.

#: Integrand keys of thermal-response weights that are not plain derivative orders.
THERMAL_WEIGHT_NAMES = ("entropy", "c2")

#: Value of each Fermi-sea-type weight deep below mu (used by the integrator's prefix sums below the
#: thermal window); weights absent here vanish there.
SEA_VALUE = {0: 1.0, "c2": np.pi ** 2 / 3}


def check_weight_key(key):
    """Validate an integrand key: a derivative order 0..2, ``(p, n)`` with p in (1, 2) and n in 0..4, or
    one of :data:`THERMAL_WEIGHT_NAMES`. Returns the key; raises :class:`ModelError` otherwise."""
    if isinstance(key, (int, np.integer)) and not isinstance(key, bool) and 0 <= key <= 2:
        return int(key)
    if isinstance(key, str) and key in THERMAL_WEIGHT_NAMES:
        return key
    if (isinstance(key, tuple) and len(key) == 2 and all(isinstance(i, (int, np.integer)) for i in key)
            and key[0] in (1, 2) and 0 <= key[1] <= 4):
        return (int(key[0]), int(key[1]))
    raise ModelError(
        f"unknown occupation weight {key!r}: use a Fermi-function derivative order 0, 1 or 2, a pair (p, n) "
        f"for (eps - mu)^n f^(p) with p in (1, 2) and n in 0..4, or one of {THERMAL_WEIGHT_NAMES}.")


def entropy_density(x):
    """Entropy of a state in units of kB, :math:`s = -f\\ln f - (1-f)\\ln(1-f)`, as a function of
    :math:`x = (\\varepsilon-\\mu)/k_BT`.

    Evaluated as :math:`s = \\ln(1 + e^{-|x|}) + |x|/(e^{|x|} + 1)` (s is even in x; both terms are
    positive, so no cancellation). Equivalently :math:`k_BT\\,s = (\\varepsilon-\\mu) f + k_BT\\ln(1 + e^{-x})
    = \\int_\\varepsilon^\\infty d\\eta\\,(\\eta-\\mu)(-\\partial f/\\partial\\eta)`.
    """
    a = np.abs(np.asarray(x, dtype=float))
    u = np.exp(-a)
    return np.log1p(u) + a * u / (1.0 + u)


def c2_function(x):
    """:math:`c_2(x) = \\int_x^\\infty dy\\, y^2\\,(-\\partial f/\\partial y)` with :math:`f = 1/(e^y + 1)`
    (dimensionless; :math:`x = (\\varepsilon-\\mu)/k_BT`).

    Closed form for x >= 0 (integration by parts, then the series of :math:`y/(e^y + 1)`):
    :math:`c_2 = x^2 f + 2x\\ln(1 + e^{-x}) - 2\\,\\mathrm{Li}_2(-e^{-x})`, with
    :math:`\\mathrm{Li}_2(-u)` = ``scipy.special.spence(1 + u)``; for x < 0,
    :math:`c_2(x) = \\pi^2/3 - c_2(-x)` (the integrand is even and integrates to :math:`\\pi^2/3`).
    Limits: :math:`c_2(-\\infty) = \\pi^2/3`, :math:`c_2(0) = \\pi^2/6`, :math:`c_2(+\\infty) = 0`.
    """
    from scipy.special import spence

    x = np.asarray(x, dtype=float)
    a = np.abs(x)
    u = np.exp(-a)
    c = a * a * u / (1.0 + u) + 2.0 * a * np.log1p(u) - 2.0 * spence(1.0 + u)
    return np.where(x >= 0, c, np.pi ** 2 / 3 - c)


def occupation_weight(energies, mu, T, key):
    """The weight of integrand key ``key`` (see :func:`check_weight_key`) evaluated directly.

    Shape ``(len(mu), len(T), *energies.shape)``; T > 0 for every key but 0. A reference evaluation
    for small arrays; the integrator builds the same weights tile by tile inside thermal windows.
    """
    key = check_weight_key(key)
    if isinstance(key, int):
        return fermi_dirac(energies, mu, T, key)
    mu = np.atleast_1d(np.asarray(mu, dtype=float))
    T = np.atleast_1d(np.asarray(T, dtype=float))
    if np.any(T <= 0):
        raise ModelError(f"the weight {key!r} of thermal responses needs T > 0; got T = {T.tolist()}.")
    e = np.asarray(energies, dtype=float)
    de = e[None, None] - mu.reshape((-1, 1) + (1,) * e.ndim)
    kT = (kB_eV * T).reshape((1, -1) + (1,) * e.ndim)
    if isinstance(key, tuple):
        p, n = key
        return fermi_dirac(e, mu, T, p) * de ** n
    x = de / kT
    return entropy_density(x) if key == "entropy" else c2_function(x)
