"""Thermoelectric and thermal response mechanisms: Boltzmann Onsager coefficients and Berry-curvature terms.

Conventions
-----------
Electron charge :math:`-e` (e > 0). The drives are the electrochemical field
:math:`\\mathcal{E} = E + \\nabla\\mu/e` and the temperature gradient; the currents are the charge
current j and the heat current :math:`j^Q = j^E - \\mu\\,j^N` (:math:`j^N` the particle current):

.. math::
    j = \\sigma\\,\\mathcal{E} + \\alpha\\,(-\\nabla T), \\qquad
    j^Q = T\\alpha\\,\\mathcal{E} + K\\,(-\\nabla T).

Boltzmann mechanism (relaxation time tau, one for all states)
-------------------------------------------------------------
The relaxation-time equation for :math:`f = f_0(\\varepsilon;\\mu(r), T(r)) + \\delta f` with
:math:`\\hbar\\dot k = -eE`, :math:`\\nabla_r f_0 = (-f')[\\nabla\\mu + (\\varepsilon-\\mu)\\nabla T/T]`
gives :math:`\\delta f = e\\tau f'\\,v\\cdot[\\mathcal{E} + (\\varepsilon-\\mu)\\nabla T/(eT)]` with
:math:`v = \\partial_k\\varepsilon/\\hbar`. Then :math:`j = -e\\sum\\int v\\,\\delta f` and
:math:`j^Q = \\sum\\int(\\varepsilon-\\mu)v\\,\\delta f` give, with the Onsager coefficients

.. math::
    L^{(n)}_{ab} = -\\frac{e^2\\tau}{\\hbar^2}\\sum_n\\int\\frac{d^dk}{(2\\pi)^d}\\,
        f'(\\varepsilon_{nk})\\left(\\frac{\\varepsilon_{nk}-\\mu}{e}\\right)^n v_a v_b
      = \\int d\\varepsilon\\,(-f')\\left(\\frac{\\varepsilon-\\mu}{e}\\right)^n\\sigma_{ab}(\\varepsilon),

(:math:`v` here in eV Angstrom, :math:`\\sigma_{ab}(\\varepsilon)` the T = 0 Drude conductivity at
chemical potential :math:`\\varepsilon`; :math:`(\\varepsilon-\\mu)/e` in volts, so
:math:`L^{(n)}` is in S V^n: S, A, W in 2D),

.. math::
    \\sigma = L^{(0)},\\quad \\alpha = -L^{(1)}/T,\\quad K = L^{(2)}/T,

and the heat current's response to :math:`\\mathcal{E}` is :math:`-L^{(1)} = T\\alpha` (Onsager
reciprocity, here by direct computation). Hence the Seebeck tensor (:math:`\\mathcal{E} = S\\nabla T`
at j = 0), the Peltier tensor (:math:`j^Q = \\Pi j` at :math:`\\nabla T = 0`) and the electronic thermal
conductivity (:math:`j^Q = \\kappa(-\\nabla T)` at j = 0)

.. math::
    S = -\\frac{1}{T}\\,(L^{(0)})^{-1}L^{(1)},\\quad \\Pi = -L^{(1)}(L^{(0)})^{-1} = T S^{\\mathsf T},\\quad
    \\kappa = \\frac{1}{T}\\left[L^{(2)} - L^{(1)}(L^{(0)})^{-1}L^{(1)}\\right].

Electron-like carriers (:math:`\\sigma(\\varepsilon)` increasing at :math:`\\mu`) give S < 0.

Berry-curvature mechanisms (intrinsic, tau^0)
----------------------------------------------
Xiao, Yao, Fang and Niu (PRL 97, 026603 (2006)): a statistical force (:math:`\\nabla T`,
:math:`\\nabla\\mu`) exerts no force on wave packets, so the local Berry current vanishes under
:math:`\\nabla T`; the transport current is the local current minus the curl of the orbital
magnetization, :math:`j^{tr} = j - \\nabla\\times M`, and :math:`\\nabla\\times M` is driven by
:math:`\\nabla T` through the temperature dependence of M. The result, in this library's
conventions (anomalous velocity :math:`\\dot r_a = \\partial_a\\varepsilon/\\hbar - \\Omega^{ab}\\dot k_b`,
:math:`\\sigma^{AH}_{ab} = -(e^2/\\hbar)\\sum\\int f\\,\\Omega^{ab}`), is

.. math::
    \\alpha^{AN}_{ab} = \\frac{e k_B}{\\hbar}\\sum_n\\int\\frac{d^dk}{(2\\pi)^d}\\,\\Omega^{ab}_n\\,s(\\varepsilon_{nk}),
    \\qquad s = -f\\ln f - (1-f)\\ln(1-f),

and for the heat current at zero field (Qin, Niu, Shi, PRL 107, 236601 (2011), energy magnetization)

.. math::
    K^{AH}_{ab} = -\\frac{k_B^2 T}{\\hbar}\\sum_n\\int\\frac{d^dk}{(2\\pi)^d}\\,\\Omega^{ab}_n\\,c_2(\\varepsilon_{nk}),
    \\qquad c_2(\\varepsilon) = \\int_\\varepsilon^\\infty d\\eta\\,\\Big(\\frac{\\eta-\\mu}{k_BT}\\Big)^2(-\\partial_\\eta f).

The signs follow from the requirement that both obey the same generalized Mott and Wiedemann-Franz
relations as the Boltzmann terms, :math:`\\alpha = -L^{(1)}/T` and :math:`K = L^{(2)}/T` with
:math:`\\sigma(\\varepsilon) = \\sigma^{AH}(\\mu = \\varepsilon, T = 0)`: inserting
:math:`\\sigma^{AH}(\\varepsilon) = -(e^2/\\hbar)\\sum\\int\\Theta(\\varepsilon - \\varepsilon_k)\\Omega` and
doing the energy integral first, :math:`\\int_{\\varepsilon_k}^\\infty d\\varepsilon\\,(-f')(\\varepsilon-\\mu)
= k_BT\\,s(\\varepsilon_k)` and :math:`\\int_{\\varepsilon_k}^\\infty d\\varepsilon\\,(-f')(\\varepsilon-\\mu)^2 =
(k_BT)^2 c_2(\\varepsilon_k)` give the two formulas above; that is what the magnetization correction
achieves (tests check the identity numerically against the T = 0 anomalous Hall conductivity and the
Kubo formula). A filled Chern band gives :math:`K^{AH} = -(\\pi^2k_B^2T/3h)\\,C = (\\pi^2k_B^2/3e^2)\\,T
\\sigma^{AH}` (:math:`c_2 \\to \\pi^2/3`): the Wiedemann-Franz law of the quantized thermal Hall effect.
The heat current's response to :math:`\\mathcal{E}` of these terms is :math:`T\\alpha^{AN}` by Onsager
reciprocity (not computed independently).

Every mechanism here is a :class:`~qkinetics.responses.mechanism.Mechanism` whose integrand uses the
thermal weights of :func:`qkinetics.integrate.occupation.check_weight_key`; the prefactor of
``anomalous_thermal_hall`` is per kelvin (multiply by T, :data:`TEMPERATURE_POWER`).
"""

from __future__ import annotations

import numpy as np

from .. import units
from .linear import _check_channel, _const, _drude_prefactor, _length, anomalous_hall
from .mechanism import Mechanism

__all__ = ["onsager_L0", "onsager_L1", "onsager_L2", "anomalous_nernst", "anomalous_thermal_hall",
           "THERMAL_MECHANISMS", "MECHANISM_GROUPS", "TEMPERATURE_POWER", "kB_SI"]

#: Boltzmann constant in J/K.
kB_SI = units.kB_eV * units.e

# --------------------------------------------------------------------------- Boltzmann Onsager coefficients


def _velocity_product(geo):
    v = geo.velocity
    return np.einsum("kna,knb->knab", v, v)


def _onsager_integrand_0(geo):
    return {1: _velocity_product(geo)}


def _onsager_integrand_1(geo):
    return {(1, 1): _velocity_product(geo)}


def _onsager_integrand_2(geo):
    return {(1, 2): _velocity_product(geo)}


def _onsager_prefactor(dim, tau, omega=0.0, channel="linear"):
    """-(e^2/hbar^2) tau Angstrom^(2-d): band integral (eV^n Angstrom^(2-d) eV) -> S V^n m^(2-d) (dc)."""
    return _drude_prefactor(dim, tau, 0.0, channel)


def _onsager(n, integrand, units_):
    return Mechanism(
        name=f"L{n}",
        order=1,
        tau_power=1,
        integrand=integrand,
        prefactor=_onsager_prefactor,
        tensor_rank=2,
        units=units_,
        in_total=False,
        formula=(f"L{n}_ab = -(e^2 tau/hbar^2) sum_n int d^dk/(2pi)^d f'(eps_n) ((eps_n - mu)/e)^{n} v_a v_b "
                 f"= int d eps (-f') ((eps - mu)/e)^{n} sigma_ab(eps); v = d eps/dk (eV A)"),
        reference="Boltzmann equation in the relaxation-time approximation (Ashcroft & Mermin, ch. 13).",
        assumptions=("Relaxation-time approximation, one tau for all states, dc; relaxation to f0 at the local "
                     "mu and T. (eps - mu)/e in volts: L^(n) in S V^n."),
    )


onsager_L0 = _onsager(0, _onsager_integrand_0, {1: "S m", 2: "S", 3: "S/m"})
onsager_L1 = _onsager(1, _onsager_integrand_1, {1: "A m", 2: "A", 3: "A/m"})
onsager_L2 = _onsager(2, _onsager_integrand_2, {1: "W m", 2: "W", 3: "W/m"})


# --------------------------------------------------------------------------- Berry curvature: anomalous Nernst


def _nernst_integrand(geo):
    return {"entropy": geo.berry_curvature}


def _nernst_prefactor(dim, tau=None, omega=None, channel="linear"):
    _check_channel(channel)
    return _const(units.e * kB_SI / units.hbar * _length(dim, 2), tau, omega)


anomalous_nernst = Mechanism(
    name="anomalous_nernst",
    order=1,
    tau_power=0,
    integrand=_nernst_integrand,
    prefactor=_nernst_prefactor,
    tensor_rank=2,
    in_total=False,
    units={1: "A m/K", 2: "A/K", 3: "A/(m K)"},
    formula=("alpha_ab = (e kB/hbar) sum_n int d^dk/(2pi)^d Omega_n^{ab} s(eps_n), "
             "s = -f ln f - (1-f) ln(1-f); j = alpha (-grad T)"),
    reference="D. Xiao, Y. Yao, Z. Fang, Q. Niu, PRL 97, 026603 (2006).",
    assumptions=("Intrinsic (clean) transport current: local Berry current minus the curl of the orbital "
                 "magnetization; equals -(1/(eT)) int d eps (-f') (eps - mu) sigma^AH(eps, T = 0)."),
)


# --------------------------------------------------------------------------- Berry curvature: thermal Hall


def _thermal_hall_integrand(geo):
    return {"c2": geo.berry_curvature}


def _thermal_hall_prefactor(dim, tau=None, omega=None, channel="linear"):
    """Per kelvin: multiply by T."""
    _check_channel(channel)
    return _const(-kB_SI ** 2 / units.hbar * _length(dim, 2), tau, omega)


anomalous_thermal_hall = Mechanism(
    name="anomalous_thermal_hall",
    order=1,
    tau_power=0,
    integrand=_thermal_hall_integrand,
    prefactor=_thermal_hall_prefactor,
    tensor_rank=2,
    in_total=False,
    units={1: "W m/K", 2: "W/K", 3: "W/(m K)"},
    formula=("K_ab = -(kB^2 T/hbar) sum_n int d^dk/(2pi)^d Omega_n^{ab} c2(eps_n), "
             "c2(eps) = int_eps^inf d eta ((eta - mu)/kB T)^2 (-df/d eta); j^Q = K (-grad T) at zero field"),
    reference=("D. Xiao, Y. Yao, Z. Fang, Q. Niu, PRL 97, 026603 (2006); T. Qin, Q. Niu, J. Shi, "
               "PRL 107, 236601 (2011)."),
    assumptions=("Intrinsic (clean) transport heat current at zero electrochemical field (energy-magnetization "
                 "correction included); equals (1/(e^2 T)) int d eps (-f') (eps - mu)^2 sigma^AH(eps, T = 0)."),
)

#: Thermal mechanisms by name (kept out of the conductivity registry: their units are not conductivities).
THERMAL_MECHANISMS = {m.name: m for m in (onsager_L0, onsager_L1, onsager_L2, anomalous_hall, anomalous_nernst,
                                          anomalous_thermal_hall)}

#: The mechanisms of each physical group: the Boltzmann (relaxation-time, tau^1) Onsager coefficients and
#: the intrinsic Berry-curvature terms (tau^0).
MECHANISM_GROUPS = {"boltzmann": ("L0", "L1", "L2"),
                    "berry": ("anomalous_hall", "anomalous_nernst", "anomalous_thermal_hall")}

#: Power of T in a mechanism's prefactor beyond ``Mechanism.prefactor`` (the thermal Hall term is kB^2 T/hbar).
TEMPERATURE_POWER = {"anomalous_thermal_hall": 1}
