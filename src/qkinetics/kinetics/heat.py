"""Energy and heat currents of the distribution, and the transport currents of 2D models at order 1.

Longitudinal currents (orders 0 and 1)
--------------------------------------
The energy and heat currents along x carried by the band distribution, per band (N, nx):

.. math::
    j^E_n(x) = \\int\\frac{d^dk}{(2\\pi)^d}\\,(\\varepsilon_n + V)\\,\\dot x_n f_n,\\qquad
    j^Q_n(x) = j^E_n - \\mu_{ec}(x)\\,j^N_n = \\int\\frac{d^dk}{(2\\pi)^d}\\,(\\varepsilon_n - \\tilde\\mu(x))\\,\\dot x_n f_n,

with ẋ the cell-averaged velocity of :meth:`.Observables.current` (ε_n → h_n = ε_n + h_1 with model(x) at
order 1), :math:`j^N` the particle current, and the electrochemical potential :math:`\\mu_{ec} = \\tilde\\mu + V`
of the local equilibrium: :math:`\\tilde\\mu(x)` is the chemical potential of the Fermi function at T(x) with the
same total density as f (:meth:`HeatCurrents.local_chemical_potential`; the ``"local"`` relaxation's μ̃ for
that relaxation, defined the same way for the others). Units: eV/(Å^{d-1} s); times :data:`HEAT_CURRENT_SI`
(e, J/eV) and 10^{10(d-1)} in W/m^{d-1}. No magnetization current
runs along x (a magnetization M_z(x) of a system uniform in y has curl along y only), so j^Q is the transport
heat current along x.

Transverse transport currents (2D, order 1)
-------------------------------------------
The centre-of-mass current :math:`j^N_y = \\int \\dot y f` (:meth:`.AnomalousVelocity.current_y`) is not the
transport current: in equilibrium in a potential V(x) it is :math:`-\\hbar^{-1}\\int\\Omega^{xy}f_0\\,V'`, a
magnetization current that circulates and transports nothing, and a temperature gradient, a statistical force,
drives no anomalous velocity at all (Xiao, Yao, Fang, Niu, PRL 97, 026603 (2006)). The transport current is
:math:`j^{tr} = j - \\nabla\\times M`; for :math:`M_z(x)`, :math:`-(\\nabla\\times M)_y = \\partial_xM_z`, so

.. math::
    j^{N,tr}_y = j^N_y + \\partial_x m_N(x),\\qquad
    m_N = -\\frac{1}{\\hbar}\\sum_n\\int\\frac{d^2k}{(2\\pi)^2}\\,\\Omega^{xy}_n\\,
        k_BT\\ln\\big(1 + e^{-(\\varepsilon_n - \\tilde\\mu)/k_BT}\\big),

at the local :math:`(\\tilde\\mu(x), T(x))` (the particle analogue of the Berry part of the orbital
magnetization; the self-rotation part :math:`\\int f m` is in neither the centre-of-mass current nor here, so
it cancels). Derivation, which shares nothing with :mod:`qkinetics.responses.thermal`: m_N is a function of
the local (μ̃, T) whose x-derivative must cancel j^N_y in every equilibrium in a potential
(:math:`\\tilde\\mu = \\mu - V`, uniform T), which fixes :math:`\\partial_{\\mu}m_N = -\\hbar^{-1}\\sum\\int\\Omega f_0`;
the μ-independent constant, which could depend on T, is zero because an empty system (μ̃ → -∞) carries no
magnetization at any T. Its T-derivative is then forced: :math:`\\partial_T[k_BT\\ln(1+e^{-x})] = k_B s`, s the entropy
density, so a gradient ∂_xT gives :math:`j^{N,tr}_y = -(k_B/\\hbar)\\sum\\int\\Omega^{xy}s\\,\\partial_xT`, the
anomalous Nernst current :math:`j = \\alpha^{AN}_{yx}(-\\partial_xT)` (charge -e) of
:func:`qkinetics.thermoelectric`.

For the heat current, the energy current's magnetization :math:`m_E` is fixed the same way (zero transport
energy current in every equilibrium in V, :math:`m_E = m^0_E(\\tilde\\mu, T) + V m_N` since a uniform shift of
the energies by V shifts the energy magnetization by V m_N), which gives
:math:`\\partial_\\mu m^0_E = -\\hbar^{-1}\\sum\\int\\Omega\\,[k_BT\\ln(1 + e^{-x}) + \\varepsilon f_0]`; then
:math:`j^{Q,tr} = j^{E,tr} - \\mu_{ec}j^{N,tr}` becomes

.. math::
    j^{Q,tr}_y = \\int(\\varepsilon - \\tilde\\mu)\\,\\dot y f + \\partial_x m_Q + m_N\\,\\partial_x\\mu_{ec},\\qquad
    m_Q = m^0_E - \\tilde\\mu\\,m_N = -\\frac{1}{\\hbar}\\sum_n\\int\\frac{d^2k}{(2\\pi)^2}\\,\\Omega^{xy}_n
        \\big[(\\varepsilon_n - \\tilde\\mu)\\,k_BT\\ln(1 + e^{-x}) - (k_BT)^2\\,\\mathrm{Li}_2(-e^{-x})\\big],

x = (ε - μ̃)/k_BT: the heat magnetization's curl and the :math:`E\\times M` term of Qin, Niu and Shi, PRL 107,
236601 (2011). Its T-derivative is :math:`-(k_B^2T/\\hbar)\\sum\\int\\Omega\\,c_2` with
:math:`c_2(x) = \\int_x^\\infty u^2(-\\partial_uf)\\,du` (the anomalous thermal Hall
:math:`K^{AH}` of :mod:`qkinetics.responses.thermal`) and its μ-derivative plus the E×M term give
:math:`-(k_BT/\\hbar)\\sum\\int\\Omega s\\,\\partial_x\\tilde\\mu`, the Onsager partner Tα^{AN} of the Nernst current.
Both are checked numerically against :func:`qkinetics.thermoelectric` (tests/test_kinetics_heat.py).

At order 0 the theory has no Berry curvature: the transport currents are the centre-of-mass ones. Order 2 is not
built (a uniform T only; the O(ħ²) energy current is not derived), nor a magnetic field (the orbital moment shifts
the energy and B changes the magnetization currents): ModelError, and :meth:`HeatCurrents.heat_moments` is empty.
"""

import numpy as np
from scipy.special import spence

from .. import units
from ..models.base import ModelError

__all__ = ["HeatCurrents", "berry_magnetization_weights", "HEAT_CURRENT_SI"]

#: eV/s in W: multiply a heat or energy current (eV/(Å^{d-1} s)) by this and by 1e10^(d-1) for W/m^(d-1).
HEAT_CURRENT_SI = units.e


def _log1p_exp_neg(x):
    """ln(1 + e^{-x}), stable for both signs of x."""
    return np.logaddexp(0.0, -x)


def _minus_dilog_minus_exp(x):
    """-Li_2(-e^{-x}) (> 0), stable for both signs of x: Li_2(z) = spence(1 - z) for x >= 0 and the inversion
    formula Li_2(-e^y) = -π²/6 - y²/2 - Li_2(-e^{-y}) for x = -y < 0."""
    x = np.asarray(x, dtype=float)
    pos = x >= 0
    out = np.empty_like(x)
    out[pos] = -spence(1.0 + np.exp(-x[pos]))
    xn = x[~pos]
    out[~pos] = np.pi ** 2 / 6 + 0.5 * xn ** 2 + spence(1.0 + np.exp(xn))
    return out


def berry_magnetization_weights(e, kT):
    """The per-state weights of the particle and heat magnetizations, for e = ε - μ̃ (eV) and k_BT (eV):

    G = k_BT ln(1 + e^{-e/k_BT}) (eV; ∂G/∂μ̃ = f_FD) and Q = e G - (k_BT)² Li_2(-e^{-e/k_BT}) (eV²), so that
    m_N = -ħ^{-1}Σ∫Ω G and m_Q = -ħ^{-1}Σ∫Ω Q (module docstring). Both vanish for empty states (e → +∞)."""
    x = e / kT
    G = kT * _log1p_exp_neg(x)
    return G, e * G + kT ** 2 * _minus_dilog_minus_exp(x)


class HeatCurrents:
    """Energy and heat currents along x, the local chemical potential, and the transverse transport (particle and
    heat) currents with the magnetization subtraction of 2D models (a part of :class:`.KineticSolver`)."""

    def _check_heat_order(self):
        if self.order == 2:
            raise ModelError("energy and heat currents are built for orders 0 and 1 (the O(hbar^2) energy current "
                             "is not derived; order 2 also needs a uniform T).")
        if getattr(self, "magnetic_field", None) is not None:
            raise ModelError("energy and heat currents are not derived with a magnetic field (the orbital moment "
                             "shifts the energy, and the magnetization currents change); run without B.")

    def _heat_available(self):
        return self.order < 2 and getattr(self, "magnetic_field", None) is None

    def local_chemical_potential(self, f=None):
        """μ̃(x) (eV, shape (nx,)): the chemical potential of the Fermi function at the local T(x) whose total
        density (with ρ for model(x) at order 1) equals that of f at every x (:meth:`.Relaxation.local_mu`; for
        ``relaxation="local"`` the collision term's μ̃). With a potential the electrochemical potential is μ̃ + V."""
        self._check_heat_order()
        if np.any(np.asarray(self.kT) <= 0):
            raise ModelError("the local chemical potential (and the heat and transverse transport currents that use it) "
                             "needs T > 0 (at T = 0 it is not unique in a gap); give T > 0.")
        f = self.f if f is None else f
        saved = getattr(self, "_mu_loc", None)       # keep the relaxation's warm start untouched
        try:
            mu = self.local_mu(self.density(f).sum(axis=0)).copy()
        finally:
            if saved is None:
                del self._mu_loc
            else:
                self._mu_loc = saved
        return mu

    def energy_current(self, f=None, t=None):
        """Band-resolved energy current along x (N, nx), eV/(Å^{d-1} s): ∫dk/(2π)^d (ε_n + V) ẋ_n f_n."""
        self._check_heat_order()
        f = self.f if f is None else f
        e = self._E + self.V(t)[None, :, None, None]
        return self.weight * (e * self._vcell * f).sum(axis=(2, 3))

    def heat_current(self, f=None, t=None, mu_local=None):
        """Band-resolved heat current along x (N, nx), eV/(Å^{d-1} s): ∫dk/(2π)^d (ε_n - μ̃(x)) ẋ_n f_n, i.e.
        j^E - (μ̃ + V) j^N with the local electrochemical potential (``mu_local``: μ̃ if already computed)."""
        f = self.f if f is None else f
        mu = self.local_chemical_potential(f) if mu_local is None else mu_local
        return self.weight * ((self._E - mu[None, :, None, None]) * self._vcell * f).sum(axis=(2, 3))

    def _x_derivative(self, m):
        """∂_x of cell-centre values (..., nx): central differences (periodic), one-sided second order at open
        ends."""
        if self.boundary == "periodic":
            return (np.roll(m, -1, -1) - np.roll(m, 1, -1)) / (2 * self.dx)
        return np.gradient(m, self.dx, axis=-1, edge_order=2)

    def berry_magnetizations(self, mu_local):
        """The Berry parts of the particle and heat magnetizations per band at the local (μ̃(x), T(x)):
        m_N (1/s) and m_Q (eV/s), each (N, nx) (module docstring; 2D models only)."""
        kT = np.broadcast_to(np.asarray(self.kT, dtype=float), self.x.shape)[None, :, None, None]
        G, Q = berry_magnetization_weights(self._E - mu_local[None, :, None, None], kT)
        omega = self.omega_xy if self.omega_xy.ndim == 4 else self.omega_xy[:, None]
        pref = -self.weight / self.hbar
        return pref * (omega * G).sum(axis=(2, 3)), pref * (omega * Q).sum(axis=(2, 3))

    def transport_current_y(self, f=None, t=None, mu_local=None):
        """Band-resolved transverse transport particle current (N, nx), 1/(Å s) (2D; None in 1D):
        j^N_y + ∂_x m_N at order 1 (module docstring), the centre-of-mass j^N_y at order 0. The electric
        current is -e times it."""
        if self.velocity_y is None:
            return None
        self._check_heat_order()
        f = self.f if f is None else f
        j = self.current_y(f, t)
        if self.order == 0:
            return j
        mu = self.local_chemical_potential(f) if mu_local is None else mu_local
        return j + self._x_derivative(self.berry_magnetizations(mu)[0])

    def heat_current_y(self, f=None, t=None, mu_local=None):
        """Band-resolved transverse transport heat current (N, nx), eV/(Å s) (2D; None in 1D):
        ∫(ε - μ̃) ẏ f + ∂_x m_Q + m_N ∂_x(μ̃ + V) at order 1 (module docstring), ∫(ε - μ̃) ẏ f at order 0."""
        if self.velocity_y is None:
            return None
        self._check_heat_order()
        f = self.f if f is None else f
        mu = self.local_chemical_potential(f) if mu_local is None else mu_local
        vy = self.transverse_velocity(t)
        j = self.weight * ((self._E - mu[None, :, None, None]) * vy * f).sum(axis=(2, 3))
        if self.order == 0:
            return j
        mN, mQ = self.berry_magnetizations(mu)
        return j + self._x_derivative(mQ) + mN * self._x_derivative(mu + self.V(t))[None, :]

    def heat_moments(self, f=None, t=None):
        """The local chemical potential ``mu_local`` (x) and the band-resolved ``jE``, ``jQ`` (band, x) (2D: also
        the transverse transport currents ``jy_transport`` and ``jQy``) as a dict of (dims, values); at T = 0
        (allowed for collisionless runs) ``jE`` only; empty at order 2 and with a magnetic field."""
        if not self._heat_available():
            return {}
        f = self.f if f is None else f
        out = {"jE": (("band", "x"), self.energy_current(f, t))}
        if np.any(np.asarray(self.kT) <= 0):           # T = 0 (collisionless runs): no unique local mu
            return out
        mu = self.local_chemical_potential(f)
        out.update(mu_local=(("x",), mu), jQ=(("band", "x"), self.heat_current(f, t, mu)))
        if self.velocity_y is not None:
            out["jy_transport"] = (("band", "x"), self.transport_current_y(f, t, mu))
            out["jQy"] = (("band", "x"), self.heat_current_y(f, t, mu))
        return out
