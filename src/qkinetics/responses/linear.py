"""Linear response mechanisms: Drude, anomalous Hall, and the O(q) response to field gradients.

Every mechanism is a :class:`~qkinetics.responses.mechanism.Mechanism`: an integrand
``{p: X^(p)}`` in natural units (eV, Angstrom) that the integrator contracts with the p-th
energy derivative of the Fermi function, and an SI prefactor,

.. math::
    \\sigma = \\mathrm{prefactor}(d, \\tau, \\omega)\\;
              \\sum_p \\sum_n \\int \\frac{d^dk}{(2\\pi)^d}\\, f^{(p)}(\\varepsilon_{nk})\\, X^{(p)}_n(k).

Conventions (PHYSICS.md, section 2)
-----------------------------------
* Electron charge :math:`-e`; :math:`\\hbar\\dot k = -eE`; anomalous velocity
  :math:`\\dot r_a = \\partial_a\\varepsilon/\\hbar - \\Omega^{ab}\\dot k_b`.
* Fields :math:`E(x, t) = E\\, e^{i(q\\cdot x - \\omega t)} + c.c.` and
  :math:`j = \\sigma(q, \\omega) E\\, e^{i(q\\cdot x - \\omega t)} + c.c.` The relaxation-time
  factor that follows from this convention is :math:`1/(1/\\tau - i\\omega) = \\tau/(1 - i\\omega\\tau)`
  (the talk prints :math:`1/(i\\omega + 1/\\tau)`, the :math:`e^{+i\\omega t}` convention: its
  formulas map onto these by :math:`\\omega \\to -\\omega`; the sign of its q-linear tau^2 term
  agrees with :math:`e^{+iq\\cdot x}`, as here).
* ``velocity`` :math:`v = \\partial_k\\varepsilon` is in eV Angstrom (group velocity times hbar).
* Rank-2 tensors ``[a, b]``: current a, field b. Rank-3 field-gradient tensors ``[mu, alpha, beta]``:
  current mu, field alpha, gradient beta, defined by
  :math:`\\sigma_{\\mu\\alpha}(q) = \\sigma^{(0)}_{\\mu\\alpha} + q_\\beta\\,\\sigma_{\\mu\\alpha\\beta} + O(q^2)`,
  i.e. :math:`j_\\mu = \\sigma^{(0)}_{\\mu\\alpha}E_\\alpha - i\\,\\sigma_{\\mu\\alpha\\beta}\\,\\partial_\\beta E_\\alpha`
  in real space.

SI units of the results (:data:`UNITS`): linear conductivities S (2D), S/m (3D), S m (1D);
field-gradient tensors S m (2D), S (3D), S m^2 (1D); ``anomalous_hall_fermi_surface`` is a
derivative with respect to the chemical potential, S/eV (2D).

Unit bookkeeping: with ``w_k`` in Angstrom^-d, a band integral ``I`` of ``f^(p) X`` carries
Angstrom^-d times the units of ``X`` and eV^-p. For example, Drude: ``f' v v`` is
eV^-1 (eV Angstrom)^2 Angstrom^-d = eV Angstrom^(2-d); the prefactor
:math:`-(e^2/\\hbar)\\,[\\hbar_{eV}(1/\\tau - i\\omega)]^{-1}\\,\\text{Angstrom}^{2-d}` then gives
S m^(2-d) (with :math:`\\hbar_{eV}` in eV s, so eV/:math:`\\hbar_{eV}` is 1/s).

The field-gradient response: what is derived, what is read from the talk
------------------------------------------------------------------------
The talk (reference/talk-formulas.md, linear conductivity to O(q)) prints a tau^2 Drude-like
gradient term and an intrinsic (tau^0) quantum-metric term. This module provides:

``field_gradient_drude`` (tau^2)
    Derived here from the relaxation-time Boltzmann equation at finite q; agrees with the talk up
    to the frequency convention. Checked against the exact finite-q Boltzmann solution and against
    the 1/omega^2 term of the clean Kubo formula.
``field_gradient`` (tau^0, the talk's formula as read)
    :math:`-\\frac{i e^2}{4\\hbar}\\sum_n\\int f_n\\,[\\partial_{(\\mu} g_{\\alpha\\beta)}
    + v_{(\\mu} T_{\\alpha\\beta)}]` with the symmetrization read as the sum over the three
    placements of the index (no 1/3) and :math:`T = G` (band-normalized metric,
    :math:`G = 2\\,\\mathrm{Re}\\sum_m V V/\\Delta^3`, the field-induced Berry connection per unit
    charge: :math:`a'_a = e\\,G_{ab}E_b` for charge -e, derived by first-order perturbation
    theory in :math:`eE\\cdot x`). Neither reading could be verified from the talk; use
    :func:`talk_field_gradient` for the other readings. **Known problem**: this formula gives a
    longitudinal (mu = alpha = beta) response of a band insulator, :math:`\\propto
    \\int_{filled} v_\\mu G_{\\mu\\mu} \\neq 0` when P and T are broken (tests show it for
    random 2D insulators), which violates charge conservation (a steady state with
    :math:`\\nabla\\cdot j \\neq 0`); the clean Kubo result below has no such term.
``field_gradient_clean`` (tau^0, derived from the Kubo formula)
    The O(q omega^0) term of the clean (collisionless) Kubo conductivity for a longitudinal field,
    in the window :math:`q v_F \\ll \\omega \\ll` gap, derived here by expanding the Kubo
    formula to second order in q (details in :func:`_clean_gradient_integrand`), and checked
    against a direct finite-q Kubo sum for the massive Dirac model and random 2- and 3-band
    lattice models. Only the part symmetric in (alpha, beta) is defined: a longitudinal field
    :math:`E \\parallel q` does not probe the antisymmetric part (that is the response to
    :math:`B = q\\times E/\\omega`). Its Fermi-sea part is purely transverse (its fully
    longitudinal contraction vanishes at every k); the longitudinal response is the Fermi-surface
    term :math:`(i e^2/\\hbar)\\sum_n\\int f'_n v_q g_{qq} = -(i e^2/\\hbar)\\sum_n\\int f_n\\partial_q g_{qq}`,
    twice the Lapa-Hughes value below.
``field_gradient_magnetization`` (tau^1, derived from the Kubo formula)
    The O(q/omega) intraband term of the same expansion: the curl of the orbital magnetization
    carried by the Drude-shifted distribution (kinetic magnetoelectric / orbital Edelstein
    effect), absent from the talk's formula. Written with the relaxation factor
    :math:`1/(1/\\tau - i\\omega)` of the Drude shift. The whole tensor (not only its
    (alpha, beta)-symmetric part).
``field_gradient_gyrotropic`` (tau^1, derived from the Boltzmann equation)
    The gyrotropic magnetic effect: the rest of the same O(q/omega) term, antisymmetric in
    (alpha, beta), the response to :math:`B = q\\times E/\\omega` through the orbital-moment energy
    :math:`-m\\cdot B(t)` (Zhong, Moore, Souza 2016; docs/orbital-moment.md). With the
    magnetization curl above it is the whole O(q/omega) term for any field direction (checked
    against the current-current Kubo sum at finite q).
:func:`spin_field_gradient_mechanisms` (tau^1, for a model with a spin operator)
    The same two terms from the spin moment :math:`m^{spin} = -(g_s\\mu_B/\\hbar)\\langle S\\rangle` (Zeeman
    energy, spin Edelstein magnetization): ``field_gradient_magnetization_spin`` and
    ``field_gradient_gyrotropic_spin``, bound to the model (checked against a Weyl-node closed form and the
    finite-q Kubo sum with the Zeeman coupling).
``field_gradient_lapa_hughes`` (tau^0)
    :math:`-\\frac{i e^2}{2\\hbar}\\sum_n\\int f_n\\,\\partial_\\mu g_{\\alpha\\beta}`: the velocity
    correction from the quadrupole energy :math:`\\delta\\varepsilon = (e/2)\\,g^{ab}\\partial_a E_b`
    of a wave packet (Lapa and Hughes, PRB 99, 121111 (2019)) with carriers occupying the
    unperturbed energies. Reconstructed from that mechanism here; the paper's equations were not
    available to check the overall factor.

These tau^0 variants differ, and which one a dc experiment sees depends on the relaxation model
(PHYSICS.md, section 4); the clean one is the omega tau >> 1 limit of any model.
"""

from __future__ import annotations

from functools import partial

import numpy as np

from .. import units
from ..geometry import DEFAULT_DEGENERACY_TOL, degenerate_groups
from .mechanism import LINEAR_CHANNELS, Mechanism

__all__ = [
    "drude", "anomalous_hall", "anomalous_hall_fermi_surface", "field_gradient", "field_gradient_drude",
    "field_gradient_clean", "field_gradient_magnetization", "field_gradient_gyrotropic", "field_gradient_lapa_hughes",
    "talk_field_gradient", "spin_field_gradient_mechanisms", "LINEAR_MECHANISMS", "MECHANISMS", "UNITS", "units_of",
    "anomalous_hall_from_fermi_surface", "chern_gap_conductivity", "relaxation_factor",
]

#: e^2/hbar in siemens.
_E2_HBAR = units.e ** 2 / units.hbar
#: hbar in eV s: (energy in eV) / _HBAR_EV is a rate in 1/s.
_HBAR_EV = units.hbar_eVs


# --------------------------------------------------------------------------- helpers


def _check_channel(channel) -> None:
    if channel not in LINEAR_CHANNELS:
        raise ValueError(f"linear mechanisms have the channels {LINEAR_CHANNELS}; got {channel!r}.")


def _check_dim(dim) -> int:
    if dim not in (1, 2, 3):
        raise ValueError(f"dim must be 1, 2 or 3; got {dim!r}.")
    return int(dim)


def _length(dim: int, power: int) -> float:
    """Angstrom^(power - dim) in metres^(power - dim): converts w_k (Angstrom^-d) times X."""
    return units.angstrom ** (power - _check_dim(dim))


def relaxation_factor(tau, omega):
    """:math:`1/(1/\\tau - i\\omega) = \\tau/(1 - i\\omega\\tau)` in seconds (complex).

    ``tau`` in s (``numpy.inf`` for the clean limit), ``omega`` in rad/s; both broadcast.
    For fields :math:`\\propto e^{-i\\omega t}` this is the factor of the relaxation-time
    Boltzmann equation; at :math:`\\tau = \\infty` it is :math:`i/\\omega`.
    """
    tau = np.asarray(tau, dtype=float)
    omega = np.asarray(omega, dtype=float)
    if np.any(tau < 0):
        raise ValueError(f"tau must be >= 0 (seconds); got {tau}.")
    with np.errstate(divide="ignore", invalid="ignore"):
        rate = np.where(tau > 0, 1.0 / np.where(tau > 0, tau, 1.0), np.inf)
        out = 1.0 / (rate - 1j * omega)
    out = np.where(np.isinf(rate), 0.0 + 0.0j, out)
    return out[()] if out.ndim == 0 else out


def _const(value, tau, omega):
    """A tau- and omega-independent prefactor, broadcast to the shape of (tau, omega) if given as arrays."""
    shape = np.broadcast(np.asarray(0.0 if tau is None else tau), np.asarray(0.0 if omega is None else omega)).shape
    out = np.full(shape, complex(value))
    return out[()] if out.ndim == 0 else out


def _sym_last_two(X):
    """Symmetrize a (..., d, d, d) tensor in its last two indices."""
    return 0.5 * (X + np.swapaxes(X, -1, -2))


def _cyclic_sum(X):
    """S[mu, a, b] = X[mu, a, b] + X[a, b, mu] + X[b, mu, a] for X (..., d, d, d)."""
    return X + np.einsum("...jli->...ijl", X) + np.einsum("...lij->...ijl", X)


def _need(geo, attr: str, how: str):
    val = getattr(geo, attr)
    if val is None:
        raise ValueError(f"this mechanism needs BandGeometry.{attr}; compute the geometry with {how}.")
    return val


# --------------------------------------------------------------------------- Drude


def _drude_integrand(geo):
    v = geo.velocity
    return {1: np.einsum("kna,knb->knab", v, v)}


def _drude_prefactor(dim, tau, omega, channel="linear"):
    _check_channel(channel)
    return -_E2_HBAR / _HBAR_EV * relaxation_factor(tau, omega) * _length(dim, 2)


drude = Mechanism(
    name="drude",
    needs_inverse_mass=False,
    needs_quantities=(),
    order=1,
    tau_power=1,
    integrand=_drude_integrand,
    prefactor=_drude_prefactor,
    tensor_rank=2,
    formula=("sigma_ab(omega) = -(e^2/hbar^2) tau/(1 - i omega tau) sum_n int d^dk/(2pi)^d f'(eps_n) "
             "v_a v_b, v = d eps/dk (eV A); fields E e^{-i omega t} + c.c."),
    reference="Boltzmann equation in the relaxation-time approximation (Ashcroft & Mermin, ch. 13).",
    assumptions=("Relaxation-time approximation, one tau for all states; relaxation to f0 at fixed mu. "
                 "Derivation: (-i omega + 1/tau) delta f = (e/hbar) f' v.E from hbar kdot = -eE, "
                 "j = -e sum int (v/hbar) delta f. sigma(omega) = sigma(0)/(1 - i omega tau); "
                 "Im sigma > 0 for omega > 0 (inductive). tau = inf gives i/omega (clean Drude weight)."),
)


# --------------------------------------------------------------------------- anomalous Hall


def _ahe_integrand(geo):
    return {0: geo.berry_curvature}


def _ahe_prefactor(dim, tau=None, omega=None, channel="linear"):
    _check_channel(channel)
    return _const(-_E2_HBAR * _length(dim, 2), tau, omega)


anomalous_hall = Mechanism(
    name="anomalous_hall",
    needs_inverse_mass=False,
    needs_quantities=("berry_curvature",),
    order=1,
    tau_power=0,
    integrand=_ahe_integrand,
    prefactor=_ahe_prefactor,
    tensor_rank=2,
    formula="sigma_ab = -(e^2/hbar) sum_n int d^dk/(2pi)^d f(eps_n) Omega_n^{ab} (Fermi-sea form)",
    reference=("Karplus & Luttinger, Phys. Rev. 95, 1154 (1954); Xiao, Chang, Niu, RMP 82, 1959 (2010); "
               "TKNN, PRL 49, 405 (1982)."),
    assumptions=("Intrinsic (clean, dc, omega << gap) anomalous velocity -Omega^{ab} kdot_b with "
                 "hbar kdot = -eE; a filled band of Chern number C gives sigma_xy = -(e^2/h) C. "
                 "Independent of tau and omega (valid for omega << interband gaps)."),
)


def _ahe_fs_integrand(geo):
    return {1: geo.berry_curvature}


def _ahe_fs_prefactor(dim, tau=None, omega=None, channel="linear"):
    _check_channel(channel)
    return _const(+_E2_HBAR * _length(dim, 2), tau, omega)


anomalous_hall_fermi_surface = Mechanism(
    name="anomalous_hall_fermi_surface",
    needs_inverse_mass=False,
    needs_quantities=("berry_curvature",),
    order=1,
    tau_power=0,
    in_total=False,
    units={1: "S m/eV", 2: "S/eV", 3: "S/(m eV)"},
    integrand=_ahe_fs_integrand,
    prefactor=_ahe_fs_prefactor,
    tensor_rank=2,
    formula=("d sigma_ab / d mu = -(e^2/hbar) sum_n int d^dk/(2pi)^d (df/dmu) Omega_n^{ab} "
             "= +(e^2/hbar) sum_n int f'(eps_n) Omega_n^{ab}   [S/eV in 2D, S/(m eV) in 3D]"),
    reference=("F. D. M. Haldane, PRL 93, 206602 (2004) (the non-quantized part of the AHE is a Fermi-surface "
               "property); WannierBerri computes the AHC from the Fermi-sea Berry curvature with a Fermi-level "
               "scan (S. S. Tsirkin, npj Comput. Mater. 7, 33 (2021))."),
    assumptions=(
        "This is the chemical-potential DERIVATIVE of the intrinsic anomalous Hall conductivity, not sigma "
        "itself. A pure Fermi-surface integrand sum_n f^(p) X_n with a gauge-invariant local X cannot give "
        "sigma: integrating the sea form by parts in k, f Omega = f (d_a A_b - d_b A_a), moves the "
        "derivative onto f only through the gauge-dependent Berry connection A (and fails for Chern bands, "
        "which have no global smooth gauge); Haldane's Fermi-surface formula uses Berry phases of Fermi "
        "loops, defined modulo 2 pi, so the integer (filled-band Chern) part is not a Fermi-surface "
        "property. What is a gauge-invariant Fermi-surface integral is d sigma/d mu (exact at any T: "
        "d f(eps - mu)/d mu = -f'). sigma(mu) follows by integrating in mu from a reference "
        "(anomalous_hall_from_fermi_surface): mu below all bands (sigma = 0), or mu in a gap with "
        "sigma = -(e^2/h) sum_{filled} C (chern_gap_conductivity; exact up to exp(-gap/2kT) at finite T)."),
)


def chern_gap_conductivity(chern) -> float:
    """Anomalous Hall conductivity (S) of a 2D insulator whose filled bands have total Chern number C.

    :math:`\\sigma_{xy} = -(e^2/h)\\,C` in the library's sign convention (PHYSICS.md), C as returned
    by :func:`qkinetics.chern_number` (Cartesian orientation, :math:`C = (1/2\\pi)\\int\\Omega^{xy}`).
    """
    return -units.e2_over_h * float(chern)


def anomalous_hall_from_fermi_surface(mu, dsigma_dmu, *, mu_ref=None, sigma_ref=0.0):
    """Integrate the Fermi-surface derivative d sigma/d mu over the chemical potential.

    .. math::  \\sigma(\\mu) = \\sigma(\\mu_{ref}) + \\int_{\\mu_{ref}}^{\\mu} d\\mu'\\,
               \\frac{d\\sigma}{d\\mu'}

    (cumulative trapezoid rule on the given grid, in both directions from the reference).

    Parameters
    ----------
    mu : (M,) ascending chemical potentials, eV.
    dsigma_dmu : (M, ...) values of ``anomalous_hall_fermi_surface`` (S/eV in 2D) on that grid,
        all at the same temperature.
    mu_ref : float, optional
        A grid point where sigma is known (default ``mu[0]``): below all bands (``sigma_ref = 0``)
        or in a gap (``sigma_ref = chern_gap_conductivity(C)`` for a 2D lattice model; for a
        continuum model the finite-cutoff sea value).
    sigma_ref : float or array broadcastable to ``dsigma_dmu[0]``, S.

    Returns
    -------
    ndarray (M, ...): sigma(mu) in S (2D). The trapezoid error is O(dmu^2 d^3 sigma/d mu^3);
    resolve the thermal width (dmu << kT) or the band features.
    """
    mu = np.asarray(mu, dtype=float)
    ds = np.asarray(dsigma_dmu)
    if mu.ndim != 1 or mu.size < 2:
        raise ValueError("mu must be a 1D grid of at least two chemical potentials.")
    if ds.shape[0] != mu.size:
        raise ValueError(f"dsigma_dmu must have the mu grid as first axis ({mu.size}); got shape {ds.shape}.")
    if np.any(np.diff(mu) <= 0):
        raise ValueError("mu must be strictly ascending.")
    i0 = 0 if mu_ref is None else int(np.argmin(np.abs(mu - mu_ref)))
    if mu_ref is not None and not np.isclose(mu[i0], mu_ref, rtol=0, atol=1e-12 + 1e-9 * np.ptp(mu)):
        raise ValueError(f"mu_ref = {mu_ref} eV is not a point of the mu grid; put it on the grid.")
    dmu = np.diff(mu).reshape((-1,) + (1,) * (ds.ndim - 1))
    steps = 0.5 * (ds[1:] + ds[:-1]) * dmu
    cum = np.concatenate([np.zeros_like(steps[:1]), np.cumsum(steps, axis=0)], axis=0)
    return cum - cum[i0] + np.asarray(sigma_ref)


# --------------------------------------------------------------------------- field gradient, tau^2


def _grad_drude_integrand(geo):
    v = geo.velocity
    return {1: np.einsum("kni,knj,knl->knijl", v, v, v)}


def _grad_drude_prefactor(dim, tau, omega, channel="linear"):
    _check_channel(channel)
    return 1j * _E2_HBAR / _HBAR_EV ** 2 * relaxation_factor(tau, omega) ** 2 * _length(dim, 3)


field_gradient_drude = Mechanism(
    name="field_gradient_drude",
    order=1,
    tau_power=2,
    integrand=_grad_drude_integrand,
    prefactor=_grad_drude_prefactor,
    tensor_rank=3,
    formula=("sigma_{mu alpha beta} = i e^2 / (hbar^3 (1/tau - i omega)^2) sum_n int f'(eps_n) "
             "v_mu v_alpha v_beta   (j_mu = ... + q_beta sigma_{mu alpha beta} E_alpha)"),
    reference=("Talk formula (reference/talk-formulas.md, third line of the linear conductivity), "
               "with (i omega + 1/tau) -> (1/tau - i omega) for fields e^{-i omega t}."),
    assumptions=("Derived: Boltzmann equation in the relaxation-time approximation at finite q, "
                 "(1/tau - i omega + i q.v/hbar) delta f = (e/hbar) f' v.E, expanded to first order in q. "
                 "Fully symmetric in (mu, alpha, beta). Vanishes for any parabolic band (Galilean invariance: "
                 "f' v v v is odd about the band minimum). Valid for q v_F << |1/tau - i omega|."),
)


# --------------------------------------------------------------------------- field gradient, talk's tau^0


def _talk_gradient_integrand(geo, t_factor):
    """Integrand of :func:`talk_field_gradient` (module level so process executors can pickle it)."""
    dg = _need(geo, "quantum_metric_derivative", "derivatives=True")
    D = np.moveaxis(dg, -1, -3)                                   # D[mu, a, b] = d_mu g^{ab}
    VG = np.einsum("kni,knjl->knijl", geo.velocity, geo.normalized_metric)
    return {0: _cyclic_sum(D) + t_factor * _cyclic_sum(VG)}


def _talk_gradient_prefactor(dim, tau=None, omega=None, channel="linear", *, s=1.0):
    _check_channel(channel)
    return _const(-0.25j * s * _E2_HBAR * _length(dim, 3), tau, omega)


def talk_field_gradient(t_factor: float = 1.0, symmetrization: str = "sum") -> Mechanism:
    """The talk's intrinsic field-gradient term with an explicit reading of its notation.

    .. math::
        \\sigma_{\\mu\\alpha\\beta} = -\\frac{i e^2}{4\\hbar}\\, s\\sum_n\\int f_n\\,
        \\big[\\partial_\\mu g_{\\alpha\\beta} + \\partial_\\alpha g_{\\beta\\mu} + \\partial_\\beta g_{\\mu\\alpha}
        + v_\\mu T_{\\alpha\\beta} + v_\\alpha T_{\\beta\\mu} + v_\\beta T_{\\mu\\alpha}\\big],
        \\qquad T = t_{factor}\\, G,

    with :math:`s = 1` for ``symmetrization="sum"`` (the printed (mu beta alpha) and {mu ...}
    read as sums over the three placements) and :math:`s = 1/3` for ``"average"`` (normalized
    symmetrization). The registered :data:`field_gradient` is ``t_factor=1, "sum"``.
    """
    if symmetrization not in ("sum", "average"):
        raise ValueError(f"symmetrization must be 'sum' or 'average'; got {symmetrization!r}.")
    t_factor = float(t_factor)
    s = 1.0 if symmetrization == "sum" else 1.0 / 3.0

    return Mechanism(
        name="field_gradient",
        order=1,
        tau_power=0,
        integrand=partial(_talk_gradient_integrand, t_factor=t_factor),
        prefactor=partial(_talk_gradient_prefactor, s=s),
        family="field_gradient_tau0",
        tensor_rank=3,
        needs_derivatives=True,
        formula=("sigma_{mu alpha beta} = -(i e^2/(4 hbar)) sum_n int f_n [d_(mu g_{alpha beta)} "
                 "+ v_(mu T_{alpha beta)}], T = G = 2 Re sum_m V V/(eps_n - eps_m)^3; "
                 f"symmetrization = {symmetrization!r}, T = {t_factor:g} G"),
        reference=("Talk on the Moyal-product kinetic theory (reference/talk-formulas.md, last line of the linear "
                   "conductivity); T. Park, X. Huang, L. Savary, L. Balents, arXiv:2504.10447 (2025); "
                   "M. F. Lapa and T. L. Hughes, PRB 99, 121111 (2019)."),
        assumptions=(
            "Taken from the talk as read, not derived here. Unverified choices: (i) the symmetrizations are "
            "sums over the three index placements (not averages), (ii) T = G, the band-normalized metric of "
            "PHYSICS.md (derived here: the field-induced Berry connection is e G E for charge -e), (iii) the "
            "sign and i are kept as printed, consistent with the talk's tau^2 term in the e^{i q x} "
            "convention. The result is fully symmetric in (mu, alpha, beta). Known problem: for a band "
            "insulator with broken P and T the longitudinal component is -(3 i e^2/4hbar) int_filled "
            "v_mu G_{mu mu} != 0, which violates charge conservation; it also disagrees with the clean "
            "Kubo limit (field_gradient_clean). Vanishes with P or T symmetry (odd in k)."),
    )


field_gradient = talk_field_gradient()


# --------------------------------------------------------------------------- field gradient, Lapa-Hughes
# Value checked against a closed form (tilted massive Dirac cone, first order in the tilt, d-vector
# metric; tests/test_linear_responses.py::test_field_gradient_lapa_hughes_tilted_dirac_closed_form):
# sum_n int f d_mu g_ab = w (mu^2 - m^2)/(16 pi mu^5) x [mu^2 + 3 m^2 (xxx), mu^2 + m^2 (xyy), m^2 (yxy, yyx)] at T = 0.


def _lh_integrand(geo):
    dg = _need(geo, "quantum_metric_derivative", "derivatives=True")
    return {0: np.moveaxis(dg, -1, -3)}                             # d_mu g^{alpha beta}


def _lh_prefactor(dim, tau=None, omega=None, channel="linear"):
    _check_channel(channel)
    return _const(-0.5j * _E2_HBAR * _length(dim, 3), tau, omega)


field_gradient_lapa_hughes = Mechanism(
    name="field_gradient_lapa_hughes",
    order=1,
    tau_power=0,
    family="field_gradient_tau0",
    integrand=_lh_integrand,
    prefactor=_lh_prefactor,
    tensor_rank=3,
    needs_derivatives=True,
    formula=("sigma_{mu alpha beta} = -(i e^2/(2 hbar)) sum_n int f_n d_mu g_{alpha beta} "
             "= +(i e^2/(2 hbar)) sum_n int f'_n v_mu g_{alpha beta}"),
    reference="M. F. Lapa and T. L. Hughes, PRB 99, 121111(R) (2019), arXiv:1812.10497.",
    assumptions=(
        "Reconstructed from the mechanism of the paper, not from its equations (not available here): "
        "wave-packet energy correction (1/2) g^{ab} d_a d_b U = (e/2) g^{ab} d_a E_b for potential energy "
        "U = -e phi, velocity correction d_k(delta eps)/hbar, carriers occupying f0 of the UNPERTURBED "
        "energy (if they occupy f0 of the corrected energy, the term cancels exactly by parts). Symmetric "
        "in (alpha, beta); a Fermi-surface property; vanishes for insulators and with P or T symmetry."),
)


# --------------------------------------------------------------------------- field gradient, clean Kubo


def _pair_data(geo, allow_degenerate: bool):
    """Velocity matrix, band velocities and 1/(eps_n - eps_m) with intra-group pairs removed."""
    V = _need(geo, "velocity_matrix", "keep_eigenvectors=True")
    e = geo.energies
    labels = degenerate_groups(e, DEFAULT_DEGENERACY_TOL)
    same = labels[:, :, None] == labels[:, None, :]
    N = e.shape[1]
    if not allow_degenerate and np.any(same & ~np.eye(N, dtype=bool)[None]):
        raise ValueError(
            "field_gradient_clean assumes non-degenerate bands (its derivation uses band-diagonal "
            f"velocities); this geometry has degenerate bands (within {DEFAULT_DEGENERACY_TOL:g} eV). Lift the "
            "degeneracy (e.g. a small symmetry-breaking term) or use another mechanism.")
    with np.errstate(divide="ignore"):
        inv = 1.0 / (e[:, :, None] - e[:, None, :])                  # inv[n, m] = 1/(eps_n - eps_m)
    inv[same] = 0.0
    return V, inv, same


def _clean_gradient_integrand(geo):
    """Integrand of ``field_gradient_clean``: {0: X0, 1: X1}, symmetric in (alpha, beta).

    Derivation (clean Kubo, longitudinal potential U e^{i(q.x - omega t)}, non-degenerate bands).
    With states at k -+ q/2, the current response is
    :math:`\\sum_{nm} \\langle n_-|J_\\mu|m_+\\rangle\\langle m_+|n_-\\rangle
    (f_n^- - f_m^+)/(\\hbar\\omega + \\varepsilon_n^- - \\varepsilon_m^+)`; expanding the overlaps
    :math:`\\langle m_+|n_-\\rangle = [1 - Q + Q^2/2]_{mn}`, :math:`Q = q\\cdot\\langle m|\\partial n\\rangle`,
    and the vertex :math:`J = V^\\mu + \\{V^\\mu, Q\\}/2`, the interband (n != m) terms at
    omega -> 0 give the O(q^2) current (diagonal Q, which is gauge dependent, cancels):

    .. math::
        X^{(0)}_{n,\\mu ab} = \\mathcal G^{\\mu;ab}_n - \\mathcal G^{b;\\mu a}_n + X^{3b}_{n,\\mu ab},\\quad
        \\mathcal G^{c;ab}_n = \\sum_{m\\neq n}\\frac{(v^c_n + v^c_m)\\, g^{ab}_{nm}}{\\varepsilon_n-\\varepsilon_m},
        \\quad X^{(1)}_{n,\\mu ab} = v^b_n\\, g^{\\mu a}_n,

    symmetrized in (a, b), with :math:`g^{ab}_{nm} = \\mathrm{Re}\\,V^a_{nm}V^b_{mn}/(\\varepsilon_n-\\varepsilon_m)^2`
    and the three-band term :math:`X^{3b}_n = \\mathrm{Re}\\sum_{m\\neq n}(P_{nm}+P_{mn})/(\\varepsilon_n-\\varepsilon_m)`,
    :math:`P_{nm} = \\tfrac12 V^\\mu_{nm}(Q^aQ^b)_{mn} - \\tfrac12(V^\\mu Q^a + Q^a V^\\mu)_{nm}Q^b_{mn}` with
    all sums over intermediate bands l != n, m (off-diagonal V and Q). For two bands the
    three-band term vanishes and :math:`\\mathcal G^{c;ab}_n = v^c_n G^{ab}_n - g^{ab}_n\\,\\partial_c\\ln|\\varepsilon_n - \\varepsilon_m|`.
    """
    V, inv, _ = _pair_data(geo, allow_degenerate=False)
    B, d, N, _ = V.shape
    v = geo.velocity                                                    # (B, N, d)
    off = inv != 0.0
    # band-resolved metric g_nm^{ab}
    gnm = np.einsum("kanm,kbmn->knmab", V, V).real * (inv ** 2)[..., None, None]
    vsum = v[:, :, None, :] + v[:, None, :, :]                          # (B, n, m, c)
    calG = np.einsum("knmc,knmab,knm->kncab", vsum, gnm, inv)           # G^{c;ab}_n
    X0 = calG - np.einsum("knbma->knmab", calG)                         # G^{mu;ab} - G^{b;mu a}
    # three-band term
    if N > 2:
        Q = -V * inv[:, None]                                           # Q^a_mn = V^a_mn/(eps_n - eps_m)
        Vo = V * off[:, None]
        X3 = np.zeros((B, N, d, d, d))
        for a in range(d):
            for b in range(a, d):
                QQ = Q[:, a] @ Q[:, b]                                  # (Q^a Q^b)_mn, l != m, n
                QQs = 0.5 * (QQ + Q[:, b] @ Q[:, a])
                for mu in range(d):
                    VQa = Vo[:, mu] @ Q[:, a] + Q[:, a] @ Vo[:, mu]
                    VQb = Vo[:, mu] @ Q[:, b] + Q[:, b] @ Vo[:, mu]
                    P = (0.5 * V[:, mu] * np.swapaxes(QQs, -1, -2)
                         - 0.25 * (VQa * np.swapaxes(Q[:, b], -1, -2) + VQb * np.swapaxes(Q[:, a], -1, -2)))
                    x = np.einsum("knm,knm->kn", (P + np.swapaxes(P, -1, -2)), inv).real
                    X3[:, :, mu, a, b] = x
                    X3[:, :, mu, b, a] = x
        X0 = X0 + X3
    X1 = np.einsum("knb,knma->knmab", v, geo.quantum_metric)
    return {0: _sym_last_two(X0), 1: _sym_last_two(X1)}


def _clean_prefactor(dim, tau=None, omega=None, channel="linear"):
    _check_channel(channel)
    return _const(1j * _E2_HBAR * _length(dim, 3), tau, omega)


field_gradient_clean = Mechanism(
    name="field_gradient_clean",
    order=1,
    tau_power=0,
    family="field_gradient_tau0",
    needs_eigenvectors=True,
    integrand=_clean_gradient_integrand,
    prefactor=_clean_prefactor,
    tensor_rank=3,
    formula=("sigma_{mu (alpha beta)} = (i e^2/hbar) sum_n int { f_n [G^{mu;alpha beta}_n - G^{(beta;mu alpha)}_n "
             "+ X3b_n] + f'_n v^(beta_n g^{mu alpha)}_n },  G^{c;ab}_n = sum_m (v_n + v_m)^c g^{ab}_nm/(eps_n - eps_m)"),
    reference=("Derived here from the Kubo formula at finite q (see _clean_gradient_integrand); compare "
               "Lapa & Hughes PRB 99, 121111 (2019) and the talk's intrinsic term (field_gradient)."),
    assumptions=(
        "Clean (collisionless) limit, window q v_F << omega << interband gaps: the O(q omega^0) part of "
        "sigma_{mu alpha}(q, omega) for a longitudinal field (E parallel to q, a scalar potential); only the "
        "part symmetric in (alpha, beta) is defined. Non-degenerate bands (raises otherwise); needs the "
        "velocity matrix (geometry with keep_eigenvectors=True). Verified against a direct finite-q Kubo sum "
        "(massive Dirac; random 2- and 3-band lattice models). Charge conservation: the longitudinal "
        "component of a band insulator vanishes. In the dc limit the tau^0 term depends on the relaxation "
        "model (PHYSICS.md section 4); this is the omega tau >> 1 value."),
)


# --------------------------------------------------------------------------- field gradient, magnetization current


def _moment_tensor(geo):
    """The orbital moment X as an antisymmetric tensor X^{ab} = ε_abc X_c (B, N, d, d), eV Å² (zero in 1D)."""
    return _axial_tensor(geo.orbital_moment, geo.velocity.shape[-1])


def _axial_tensor(X, d):
    """X^{ab} = ε_abc X_c (B, N, d, d) of a pseudovector X (B, N, P): P = 3 in 3D, the z component alone in 2D."""
    B, N = X.shape[:2]
    T = np.zeros((B, N, d, d))
    pairs = {2: [(0, 1)], 3: [(1, 2), (2, 0), (0, 1)]}.get(d, [])
    for c, (a, b) in enumerate(pairs):
        T[..., a, b] = X[..., c]
        T[..., b, a] = -X[..., c]
    return T


def _spin_moment_tensor(geo, model, g_factor):
    """The spin moment X^spin (module docstring of qkinetics.spin) as the tensor ε_abc X^spin_c (B, N, d, d)."""
    from ..spin import band_spin_moment       # spin imports geometry; imported here to keep this module light

    d = geo.velocity.shape[-1]
    X = band_spin_moment(model, geo, g_factor=g_factor)                         # (B, N, 3), eV Å²
    return _axial_tensor(X if d == 3 else X[..., 2:], d)                        # in 2D the z component (B normal)


def _magnetization_integrand(geo, moment=_moment_tensor):
    # M^{mu b}_n = Im sum_{m not in group(n)} V^mu_nm V^b_mn / (eps_n - eps_m) = -X^{mu b}_n, the orbital moment
    # of band_geometry as a tensor (group trace / size in degenerate groups); moment= another moment tensor
    X1 = -np.einsum("kna,knub->knuab", geo.velocity, moment(geo))             # v_alpha M^{mu beta}
    return {1: X1}


def _magnetization_prefactor(dim, tau, omega, channel="linear"):
    _check_channel(channel)
    return -1j * _E2_HBAR / _HBAR_EV * relaxation_factor(tau, omega) * _length(dim, 3)


field_gradient_magnetization = Mechanism(
    name="field_gradient_magnetization",
    order=1,
    tau_power=1,
    integrand=_magnetization_integrand,
    prefactor=_magnetization_prefactor,
    tensor_rank=3,
    formula=("sigma_{mu alpha beta} = -(i e^2/hbar^2) / (1/tau - i omega) sum_n int f'_n v_alpha M^{mu beta}_n, "
             "M^{ab}_n = Im sum_m V^a_nm V^b_mn/(eps_n - eps_m) = -X^{ab}_n (the orbital moment, m = (e/hbar) X)"),
    reference=("Derived here from the intraband O(q^2/omega) term of the Kubo formula; the physics is the "
               "kinetic magnetoelectric (orbital Edelstein) effect, cf. Yoda, Yokoyama, Murakami, Sci. Rep. 5, "
               "12024 (2015) and Zhong, Moore, Souza, PRL 116, 077201 (2016)."),
    assumptions=(
        "Curl of the orbital magnetization carried by the Drude-shifted distribution (M^{ab} is, up to e/hbar, "
        "the orbital moment of band n). Clean Kubo gives the 1/(-i omega) form: its (alpha, beta)-symmetric part "
        "(longitudinal fields) against the scalar-potential Kubo sum, the whole tensor together with "
        "field_gradient_gyrotropic (the gyrotropic magnetic effect, which transverse fields add) against the "
        "current-current Kubo sum at finite q (tests/test_gyrotropic_magnetic.py); the relaxation factor "
        "1/(1/tau - i omega) is that of the Drude shift. Degenerate groups: group trace of M (valid where the "
        "group stays degenerate in a neighbourhood)."),
)


# --------------------------------------------------------------------------- field gradient, gyrotropic magnetic effect


def _gyrotropic_integrand(geo, moment=_moment_tensor):
    X1 = np.einsum("knu,knab->knuab", geo.velocity, moment(geo))                # v_mu X^{alpha beta}
    return {1: X1}


field_gradient_gyrotropic = Mechanism(
    name="field_gradient_gyrotropic",
    order=1,
    tau_power=1,
    integrand=_gyrotropic_integrand,
    prefactor=_magnetization_prefactor,
    tensor_rank=3,
    formula=("sigma_{mu [alpha beta]} = -(i e^2/hbar^2) / (1/tau - i omega) sum_n int f'_n v_mu X^{alpha beta}_n, "
             "X^{ab}_n = eps_abc X^c_n the orbital moment (m = (e/hbar) X); i.e. j_mu = alpha_{mu nu} B_nu with "
             "alpha = -i omega tau/(1 - i omega tau) K', K'_{mu nu} = -(e^2/hbar^2) sum_n int f'_n v_mu X^nu_n"),
    reference=("Gyrotropic magnetic effect (kinetic magnetoelectric effect): Zhong, Moore, Souza, PRL 116, 077201 "
               "(2016); Ma and Pesin, PRB 92, 235205 (2015). Derived here from the relaxation-time Boltzmann "
               "equation with the energy -m.B(t) (docs/orbital-moment.md)."),
    assumptions=(
        "Orbital moment only; the spin (Zeeman) part is spin_field_gradient_mechanisms(model). Intraband, relaxation "
        "towards the instantaneous equilibrium f0(eps - m.B(t)); B = q x E/omega from Faraday's law, so the "
        "tensor is antisymmetric in (alpha, beta) and only transverse fields see it. With "
        "field_gradient_magnetization it makes the whole O(q/omega) term, checked against the clean "
        "current-current Kubo sum at finite q (2D and 3D random models). Static limit omega -> 0: alpha -> 0 "
        "(no current in equilibrium); clean limit: j = K' B. With a position matrix the moment is the one within "
        "the Wannier space (band_geometry without orbital=); for Wannier90 runs use gyrotropic_tensors(..., "
        "tensors=('K',), orbital=...), K' = (e/hbar) K."),
)


# --------------------------------------------------------------------------- the same two terms from the spin moment


def spin_field_gradient_mechanisms(model, *, g_factor: float | None = None) -> tuple:
    """The spin parts of field_gradient_magnetization and field_gradient_gyrotropic, for a model with a spin operator.

    The same band integrals with the orbital moment X replaced by the spin moment
    :math:`X^{spin}_n = -(g_s/2)(\\hbar^2/2m_e)\\,\\boldsymbol\\sigma_n` (eV Å²; :math:`m^{spin} = (e/\\hbar)X^{spin}
    = -(g_s\\mu_B/\\hbar)\\langle\\mathbf S\\rangle`, :func:`qkinetics.spin.band_spin_moment`): the Zeeman energy
    :math:`-m^{spin}\\cdot B` of a wave packet gives the spin gyrotropic magnetic effect,
    :math:`\\sigma_{\\mu[\\alpha\\beta]} = -\\frac{i e^2/\\hbar^2}{1/\\tau - i\\omega}\\sum_n\\int f'_n\\,
    v_\\mu X^{spin,\\alpha\\beta}_n`, and the spin magnetization of the Drude-shifted distribution (spin
    Edelstein effect) a curl current, :math:`-\\frac{i e^2/\\hbar^2}{1/\\tau - i\\omega}\\sum_n\\int f'_n\\,
    v_\\alpha (-X^{spin,\\mu\\beta}_n)`. The total magnetic moment is orbital + spin, so the whole O(q/omega)
    term is the sum of the four mechanisms (checked against the current-current Kubo sum at finite q with the
    Zeeman coupling :math:`(g_s\\mu_B/2)\\,\\boldsymbol\\sigma\\cdot\\nabla\\times A`,
    tests/test_gyrotropic_magnetic.py). In 2D only the spin component normal to the plane enters.

    Parameters
    ----------
    model : TightBinding or Continuum with a ``spin_matrix``
        The mechanisms are bound to it (the spin operator is the model's); integrate them over this model only.
    g_factor : float, optional
        g_s; default :data:`qkinetics.spin.G_SPIN` = 2.0023 (2 for postw90's convention).

    Returns
    -------
    (field_gradient_magnetization_spin, field_gradient_gyrotropic_spin) : two Mechanisms
        For :func:`qkinetics.conductivity` (``mechanisms=[..., *spin_field_gradient_mechanisms(model)]``,
        ``gradient=True``); they need the eigenvectors (the integrator keeps them). Units as their orbital
        partners (S in 3D, S m in 2D).
    """
    from ..spin import G_SPIN

    g_factor = G_SPIN if g_factor is None else float(g_factor)
    if getattr(model, "spin_matrix", None) is None:
        raise ValueError(
            f"{getattr(model, 'name', model)!r} has no spin operator, so its spin moment is not defined: build the "
            "model with spin_matrix=... (TightBinding or Continuum) or read a Wannier90 run with its seedname.spn "
            "(read_wannier90_run(seed, spin=True)); without spin use field_gradient_gyrotropic (orbital) alone.")
    if not np.isfinite(g_factor):
        raise ValueError(f"g_factor must be a finite number; got {g_factor!r}.")
    moment = partial(_spin_moment_tensor, model=model, g_factor=g_factor)
    common = dict(order=1, tau_power=1, prefactor=_magnetization_prefactor, tensor_rank=3, needs_eigenvectors=True,
                  needs_inverse_mass=False)
    spin_text = (f"X^spin_n = -(g_s/2)(hbar^2/2m_e) <sigma>_n, g_s = {g_factor:.10g} (m^spin = (e/hbar) X^spin = "
                 "-(g_s mu_B/hbar) <S>, S = hbar sigma/2, electron charge -e); group trace / size in degenerate groups")
    magnetization = Mechanism(
        name="field_gradient_magnetization_spin",
        integrand=partial(_magnetization_integrand, moment=moment),
        formula=("sigma_{mu alpha beta} = -(i e^2/hbar^2) / (1/tau - i omega) sum_n int f'_n v_alpha (-X^{spin, mu beta}_n), "
                 + spin_text),
        reference=field_gradient_magnetization.reference + " Spin Edelstein effect: Edelstein, Solid State Commun. "
                  "73, 233 (1990).",
        assumptions=("Curl of the spin magnetization carried by the Drude-shifted distribution; as "
                     "field_gradient_magnetization with the spin moment of " + getattr(model, "name", "the model") + "."),
        **common)
    gyrotropic = Mechanism(
        name="field_gradient_gyrotropic_spin",
        integrand=partial(_gyrotropic_integrand, moment=moment),
        formula=("sigma_{mu [alpha beta]} = -(i e^2/hbar^2) / (1/tau - i omega) sum_n int f'_n v_mu X^{spin, alpha beta}_n, "
                 + spin_text + "; j = alpha B with K'_{mu nu} = -(e^2/hbar^2) sum_n int f'_n v_mu X^{spin, nu}_n"),
        reference=field_gradient_gyrotropic.reference + " Spin part: TAS17 (Tsirkin, Puente, Souza, PRB 97, 035158 "
                  "(2018)) Eq. 3, postw90's K_spin.",
        assumptions=("As field_gradient_gyrotropic with the Zeeman energy -m^spin.B of the spin moment of "
                     + getattr(model, "name", "the model") + "; no spin-orbit correction to g beyond the model's "
                     "spin operator."),
        **common)
    return magnetization, gyrotropic


# --------------------------------------------------------------------------- registry

#: All linear mechanisms, in the order they are reported.
# Order matters within a family of alternatives: totals take the first. field_gradient_clean comes
# before the talk's field_gradient, which violates charge conservation in insulators (tests).
LINEAR_MECHANISMS = (
    drude,
    anomalous_hall,
    anomalous_hall_fermi_surface,
    field_gradient_drude,
    field_gradient_clean,
    field_gradient,
    field_gradient_magnetization,
    field_gradient_gyrotropic,
    field_gradient_lapa_hughes,
)

#: Mechanisms by name.
MECHANISMS = {m.name: m for m in LINEAR_MECHANISMS}

_COND = {1: "S m", 2: "S", 3: "S/m"}
_GRAD = {1: "S m^2", 2: "S m", 3: "S"}
#: SI units of each mechanism's result by dimension.
UNITS = {m.name: (_GRAD if m.tensor_rank == 3 else _COND) for m in LINEAR_MECHANISMS}
UNITS["anomalous_hall_fermi_surface"] = {1: "S m/eV", 2: "S/eV", 3: "S/(m eV)"}


def units_of(name: str, dim: int) -> str:
    """SI unit string of mechanism ``name`` in ``dim`` dimensions."""
    if name not in UNITS:
        raise ValueError(f"unknown linear mechanism {name!r}; known: {', '.join(UNITS)}.")
    return UNITS[name][_check_dim(dim)]
