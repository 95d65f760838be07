"""The tau^0 second-order conductivity of the density-matrix equation of motion, in closed form.

The quantum reference (:mod:`qkinetics.kubo.density_matrix`) solves the equation of motion of the
one-body density matrix in a uniform dc field with an explicit relaxation model. Expanding its exact
:math:`\\sigma_{abc}(\\tau)` at large :math:`\\tau` gives :math:`c_2\\tau^2 + c_1\\tau + c_0 + O(1/\\tau)`;
:math:`c_2` is the nonlinear Drude term and :math:`c_1` the Berry curvature dipole for every
relaxation model, while :math:`c_0` depends on how the coherences relax. This module is :math:`c_0`
in closed form (derivation: docs/tau0.md), for the relaxation models of
:class:`qkinetics.kubo.density_matrix.Relaxation`: populations (the blocks of :math:`\\rho` inside
each degenerate group) relax at :math:`1/\\tau`, coherences between groups at :math:`\\alpha/\\tau`,
towards the equilibrium of the bare :math:`H(k)` (target ``"bare"``) or of the field-dressed
:math:`H(k) + eE\\cdot r_{\\rm inter}` (target ``"dressed"``).

Result (any number of bands, degenerate groups included; :math:`m` runs over the bands of the
groups other than that of :math:`n`; :math:`\\int = \\sum_n\\int d^dk/(2\\pi)^d`; prefactor
:math:`-e^3/\\hbar` as for the published variants of :mod:`qkinetics.responses.nonlinear`):

.. math::
    c_0^{\\rm bare}(\\alpha) = \\alpha\\,W + (\\tfrac12 - \\alpha)\\,Q, \\qquad
    c_0^{\\rm dressed}(\\alpha) = \\alpha\\,(W + F),

with the Wang/Liu tensor :math:`W`, the band-resolved metric dipole over the gap :math:`Q` and the
energy-shift term :math:`F`:

.. math::
    W_{abc} &= \\int f_n\\big[\\partial_aG^{bc}_n - \\tfrac12(\\partial_bG^{ac}_n + \\partial_cG^{ab}_n)\\big]
             = -\\int f'_n\\big[v^a_nG^{bc}_n - \\tfrac12(v^b_nG^{ac}_n + v^c_nG^{ab}_n)\\big],\\\\
    Q_{abc} &= \\int f_n \\sum_m \\frac{2\\,\\partial_a g^{bc}_{nm}}{\\varepsilon_n - \\varepsilon_m}
             = -\\int\\big[f'_n\\,v^a_nG^{bc}_n + f_n\\,K^{abc}_n\\big],\\\\
    F_{abc} &= -\\int f_n\\,\\partial_aG^{bc}_n = \\int f'_n\\,v^a_nG^{bc}_n,

where :math:`g^{bc}_{nm} = \\mathrm{Re}\\,r^b_{nm}r^c_{mn}` is the band-resolved quantum metric
(:math:`r^a_{nm} = -iV^a_{nm}/(\\varepsilon_n - \\varepsilon_m)`, :math:`V^a = \\partial_aH` in the
eigenbasis, eV Å), :math:`G^{bc}_n = 2\\sum_m g^{bc}_{nm}/(\\varepsilon_n - \\varepsilon_m)` the band-normalized
metric and

.. math::
    K^{abc}_n = \\sum_m \\frac{2(v^a_m - v^a_n)\\,g^{bc}_{nm}}{(\\varepsilon_m - \\varepsilon_n)^2}
    = \\partial_aG^{bc}_n - \\sum_m\\frac{2\\,\\partial_ag^{bc}_{nm}}{\\varepsilon_n - \\varepsilon_m}

the part of :math:`\\partial_aG` that comes from the k-dependence of the gaps (metric over gap
squared times the velocity difference: not a derivative of :math:`G`). Special cases:
``"full"`` (:math:`\\alpha = 1`): :math:`W - Q/2`; ``"populations"`` (:math:`\\alpha \\to 0`): :math:`Q/2`;
so :math:`c_0(\\text{full}) + c_0(\\text{populations}) = W` and :math:`c_0(\\tfrac12) = W/2` identically.
Relaxation to the dressed equilibrium gives :math:`\\alpha(W + F)`, :math:`\\alpha` times the
:math:`\\lambda = 0` member of the published family (the (b, c)-symmetric part
:math:`-\\frac12\\int f(\\partial_bG^{ac} + \\partial_cG^{ab})` alone), not Wang/Liu.

Everything is computed from the energies and the velocity matrix of one eigendecomposition (no
k-derivative of a geometric quantity): Fermi-surface terms :math:`f'vG` and the Fermi-sea term
:math:`fK`. Units: :math:`G` Å²/eV, :math:`K` Å³/eV; the band integral is converted to A m/V² (2D)
by :math:`-(e^3/\\hbar)\\,e^{-1}(10^{-10})^{3-d}`.

Validity: the dc, large-tau expansion of the density-matrix equation of motion with one relaxation
time for populations (assumptions of each model in :class:`~qkinetics.kubo.density_matrix.Relaxation`),
fillings away from band touchings between different groups (the expansion in :math:`\\hbar/\\tau`
needs :math:`\\hbar/\\tau` below the direct gaps). The dc value is used for both channels.
"""

from __future__ import annotations

from functools import partial

import numpy as np

from ..models.base import ModelError
from ..units import angstrom, e, hbar
from .mechanism import SECOND_ORDER_CHANNELS, Mechanism

__all__ = [
    "tau0_pair_sums", "tau0_integrand", "intrinsic_density_matrix", "metric_dipole_over_gap_integrand",
    "INTRINSIC_DM_FULL", "INTRINSIC_DM_POPULATIONS", "INTRINSIC_DM_DRESSED", "METRIC_DIPOLE_OVER_GAP",
    "TAU0_MECHANISMS",
]

TARGETS = ("bare", "dressed")


def _group_labels(degeneracy):
    """Group labels (B, N) of ascending bands from the group sizes (B, N) of BandGeometry.degeneracy."""
    deg = np.asarray(degeneracy)
    labels = np.zeros(deg.shape, int)
    count = np.ones(deg.shape[0], int)
    for i in range(1, deg.shape[1]):                        # loop over bands (few), vectorized over k
        new = count >= deg[:, i - 1]
        labels[:, i] = labels[:, i - 1] + new
        count = np.where(new, 1, count + 1)
    return labels


def tau0_pair_sums(geo):
    """The pair sums of the closed forms from one eigendecomposition.

    Returns ``(v, G, K)``: band velocities :math:`v^a_n` (B, N, d, eV Å), the band-normalized metric
    :math:`G^{bc}_n = 2\\sum_m \\mathrm{Re}(r^b_{nm}r^c_{mn})/(\\varepsilon_n - \\varepsilon_m)` (B, N, d, d,
    Å²/eV) and :math:`K^{abc}_n = \\sum_m 2(v^a_m - v^a_n)\\mathrm{Re}(r^b_{nm}r^c_{mn})/(\\varepsilon_m -
    \\varepsilon_n)^2` (B, N, d, d, d, Å³/eV), m over the bands of other degenerate groups.
    Needs ``geo.velocity_matrix`` (geometry with ``keep_eigenvectors=True``).
    """
    V = geo.velocity_matrix
    if V is None:
        raise ModelError("the tau^0 closed forms need BandGeometry.velocity_matrix; compute the geometry with "
                         "keep_eigenvectors=True (qk.conductivity does this for mechanisms with "
                         "needs_eigenvectors).")
    E = geo.energies
    labels = _group_labels(geo.degeneracy)
    other = labels[:, :, None] != labels[:, None, :]                                   # (B, n, m)
    gap = E[:, None, :] - E[:, :, None]                                               # e_m - e_n
    inv = np.where(other, 1.0 / np.where(other, gap, 1.0), 0.0)
    v = np.real(np.einsum("kann->kna", V))
    # Re(r^b_nm r^c_mn) = Re(V^b_nm V^c_mn)/(e_m - e_n)^2
    metric = np.einsum("kbnm,kcmn->knmbc", V, V).real * (inv**2)[..., None, None]
    G = -2.0 * np.einsum("knmbc,knm->knbc", metric, inv)
    dv = v[:, None, :, :] - v[:, :, None, :]                                          # v_m - v_n, (B, n, m, d)
    K = 2.0 * np.einsum("knma,knmbc,knm->knabc", dv, metric, inv**2)
    return v, G, K


def _sym_bc(X):
    return 0.5 * (X + np.swapaxes(X, -1, -2))


def _parts(geo):
    """Integrands {p: X} of W, Q and F (prefactor -e^3/hbar), from :func:`tau0_pair_sums`."""
    v, G, K = tau0_pair_sums(geo)
    vaG = v[..., :, None, None] * G[..., None, :, :]                                  # v^a G^bc
    vcG = _sym_bc(G[..., :, :, None] * v[..., None, None, :])                         # (v^c G^ab + v^b G^ac)/2
    W = {1: -(vaG - vcG)}
    Q = {1: -vaG, 0: -_sym_bc(K)}
    F = {1: vaG}
    return W, Q, F


def _combine(*weighted):
    out = {}
    for w, terms in weighted:
        if w == 0:
            continue
        for p, X in terms.items():
            out[p] = out.get(p, 0) + w * X
    return out or {0: np.zeros_like(weighted[0][1][1])}


def tau0_integrand(geo, alpha: float = 1.0, target: str = "bare") -> dict:
    """Band integrand ``{p: X}`` of :math:`c_0` for relaxation ``(alpha, target)`` (prefactor :math:`-e^3/\\hbar`).

    ``target="bare"``: :math:`\\alpha W + (\\frac12 - \\alpha)Q`; ``target="dressed"``: :math:`\\alpha(W + F)`
    (module docstring).
    """
    W, Q, F = _parts(geo)
    if target == "bare":
        return _combine((alpha, W), (0.5 - alpha, Q))
    if target == "dressed":
        return _combine((alpha, W), (alpha, F))
    raise ModelError(f"unknown relaxation target {target!r}; choose one of {TARGETS}.")


def metric_dipole_over_gap_integrand(geo) -> dict:
    """Band integrand of
    :math:`Q_{abc} = \\int f_n\\sum_m 2\\partial_ag^{bc}_{nm}/(\\varepsilon_n - \\varepsilon_m)`."""
    return _parts(geo)[1]


def _prefactor(dim, tau, omega, channel):
    if channel not in SECOND_ORDER_CHANNELS:
        raise ModelError(f"unknown channel {channel!r} for a second-order response; "
                         f"choose one of {SECOND_ORDER_CHANNELS}.")
    return complex(-e**3 / hbar * e**-1 * angstrom ** (3 - dim))


_FORMULAS = {
    "bare": ("sigma_abc = -(e^3/hbar) [alpha W + (1/2 - alpha) Q], W = Wang/Liu = -int f' [v^a G^bc - "
             "(v^b G^ac + v^c G^ab)/2], Q = int f_n sum_m 2 d_a g^bc_nm/(e_n - e_m) = -int [f' v^a G^bc + f K^abc], "
             "K^abc_n = sum_m 2 (v^a_m - v^a_n) Re(r^b_nm r^c_mn)/(e_m - e_n)^2"),
    "dressed": ("sigma_abc = -(e^3/hbar) alpha (W + F), F = -int f d_a G^bc = int f' v^a G^bc: alpha times the "
                "lambda = 0 member -(e^3/hbar) int f [-(d_b G^ac + d_c G^ab)/2] of the published family"),
}

_ASSUMPTIONS = {
    "bare": ("relaxation of the density matrix: populations (blocks inside degenerate groups) at 1/tau, coherences "
             "between groups at alpha/tau, towards f(H(k)) of the bare Hamiltonian at fixed mu, T; k-local, one tau, "
             "no particle-number conservation; dc, hbar/tau << direct gaps"),
    "dressed": ("relaxation of the density matrix: populations at 1/tau, coherences at alpha/tau, towards the "
                "field-dressed equilibrium f(H(k) + eE.r_inter) (field-corrected states and energies to second "
                "order); k-local, one tau; dc, hbar/tau << direct gaps"),
}

_REFERENCE = ("derived here from the density-matrix equation of motion (docs/tau0.md) and checked against "
              "qkinetics.kubo.density_matrix (contour extraction, <= 1e-10 on converged grids) and "
              "qkinetics.kubo.time_domain; tests/test_tau0.py")


def intrinsic_density_matrix(alpha: float = 1.0, target: str = "bare", name: str | None = None) -> Mechanism:
    """The :math:`\\tau^0` coefficient of the density-matrix equation of motion for one relaxation model.

    Parameters
    ----------
    alpha : float >= 0
        Coherences between degenerate groups relax at alpha/tau (populations at 1/tau).
    target : {"bare", "dressed"}
        Relaxation towards f(H(k)) or towards the field-dressed equilibrium f(H(k) + eE.r_inter).
    name : str, optional
        Registry name (default ``intrinsic_dm_alpha<alpha>_<target>``).
    """
    alpha = float(alpha)
    if not alpha >= 0:
        raise ModelError(f"alpha (coherence relaxation rate / population rate) must be >= 0; got {alpha}.")
    if target not in TARGETS:
        raise ModelError(f"unknown relaxation target {target!r}; choose one of {TARGETS}.")
    return Mechanism(
        name=name or f"intrinsic_dm_alpha{alpha:g}_{target}", order=2, tau_power=0, tensor_rank=3,
        needs_derivatives=False, needs_eigenvectors=True,
        integrand=partial(tau0_integrand, alpha=alpha, target=target), prefactor=_prefactor,
        family="intrinsic_tau0", channels=SECOND_ORDER_CHANNELS,
        formula=_FORMULAS[target] + f"; alpha = {alpha:g}",
        reference=_REFERENCE,
        assumptions=_ASSUMPTIONS[target] + ("; ALTERNATIVE to the other intrinsic_* variants (never add them); "
                                            "dc value used for both channels; odd under time reversal"),
    )


INTRINSIC_DM_FULL = intrinsic_density_matrix(1.0, "bare", name="intrinsic_dm_full")
INTRINSIC_DM_POPULATIONS = intrinsic_density_matrix(0.0, "bare", name="intrinsic_dm_populations")
INTRINSIC_DM_DRESSED = intrinsic_density_matrix(1.0, "dressed", name="intrinsic_dm_dressed")

#: Q alone, the piece of the tau^0 term that is not a derivative of G: a Fermi-sea dipole of the
#: band-resolved quantum metric weighted by the inverse gap. Not an alternative total (in_total=False).
METRIC_DIPOLE_OVER_GAP = Mechanism(
    name="metric_dipole_over_gap", order=2, tau_power=0, tensor_rank=3, needs_derivatives=False,
    needs_eigenvectors=True, integrand=metric_dipole_over_gap_integrand, prefactor=_prefactor,
    channels=SECOND_ORDER_CHANNELS, in_total=False,
    formula=("sigma_abc = -(e^3/hbar) Q, Q = sum_n int f_n sum_m 2 d_a g^bc_nm/(e_n - e_m) "
             "= -sum_n int [f'_n v^a_n G^bc_n + f_n K^abc_n]; two bands: 2 int f_n d_a g^bc_n/(e_n - e_m), the "
             "intraband quantum-metric dipole weighted by the inverse gap"),
    reference=("density-matrix closed form (docs/tau0.md): c0(populations) = Q/2, c0(full) = W - Q/2. It is the "
               "density-matrix counterpart of the intraband quantum-metric dipole of Y. Ulrich, J. Mitscherling, "
               "L. Classen, A. P. Schnyder, arXiv:2506.17386 (PRB 113, L201107 (2026)) in what can be checked: a "
               "k-derivative of the intraband metric, odd under time reversal, nonzero with PT symmetry (CuMnAs-type "
               "antiferromagnets), with a longitudinal part. NOT confirmed: that it is their term (their formula, "
               "prefactor and weighting were not available; their Green's-function expansion with a broadening "
               "may weight it differently or by a Fermi-surface form without the gap)"),
    assumptions=("a part of the tau^0 term, not a total: never add it to an intrinsic_* variant; dc value for both "
                 "channels; odd under time reversal"),
)

#: The closed-form tau^0 mechanisms offered by name (the relaxation models of the quantum reference).
TAU0_MECHANISMS = (INTRINSIC_DM_FULL, INTRINSIC_DM_POPULATIONS, INTRINSIC_DM_DRESSED, METRIC_DIPOLE_OVER_GAP)
