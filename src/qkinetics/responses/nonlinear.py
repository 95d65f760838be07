"""Second-order conductivities :math:`j_a = \\sigma_{abc} E_b E_c`, mechanism by mechanism.

Conventions (PHYSICS.md, section 2): electron charge :math:`-e`; :math:`\\hbar\\dot k = -eE`;
anomalous velocity :math:`\\dot r_a = \\partial_a\\varepsilon/\\hbar - \\Omega^{ab}\\dot k_b`;
:math:`\\sigma_{abc}` is symmetric in the field indices b, c. Band quantities in model units
(:mod:`qkinetics.geometry`): :math:`v^a = \\partial_a\\varepsilon` (eV Å), :math:`M^{ab} =
\\partial_a\\partial_b\\varepsilon` (eV Å²), :math:`\\Omega^{ab}` (Å²), the band-normalized metric
:math:`G^{ab}_n = 2\\,\\mathrm{Re}\\sum_m V^a_{nm}V^b_{mn}/(\\varepsilon_n-\\varepsilon_m)^3` (Å²/eV);
:math:`\\int_k = \\int d^dk/(2\\pi)^d`, :math:`f' = \\partial f/\\partial\\varepsilon`.

Fields and channels (:mod:`qkinetics.responses.mechanism`): :math:`E(t) = E e^{-i\\omega t} + c.c.`,
:math:`j(t) = \\sigma^{\\rm rect}_{abc}E_bE_c^* + \\sigma^{\\rm SH}_{abc}E_bE_c e^{-2i\\omega t} + c.c.`;
both channels tend to the static :math:`\\sigma_{abc}` as :math:`\\omega\\to0`.

Units
-----
A band integral :math:`I = \\sum_k w_k \\sum_n f^{(p)} X^{(p)}` in model units is converted to SI by
the mechanism's prefactor. With j in A (1D), A/m (2D), A/m² (3D) and E in V/m, the second-order
conductivity is in :math:`\\mathrm{A\\,m^{3-d}/V^2}`: A m²/V² (1D), **A m/V² (2D)**, **A/V² (3D)**.
The conversion of I is :math:`e^{n_E}\\,(10^{-10})^{3-d}` with :math:`n_E` the net power of eV in
:math:`f^{(p)}X^{(p)}` (+1 nonlinear Drude, 0 Berry curvature dipole, -1 intrinsic terms).

Derivations (sketch)
--------------------
*Boltzmann, order by order.* :math:`(\\partial_t + 1/\\tau) f = (e/\\hbar)E(t)\\cdot\\partial_k f + f_0/\\tau`.
With :math:`f = f_0 + f_1 + f_2`:
:math:`f_1 = (e\\tau/\\hbar)\\,[E_c e^{-i\\omega t}/(1-i\\omega\\tau) + c.c.]\\,\\partial_c f_0`;
:math:`f_2^{(0)} = (e\\tau/\\hbar)^2[E_bE_c^*/(1-i\\omega\\tau) + c.c.]\\,\\partial_b\\partial_c f_0`,
:math:`f_2^{(2\\omega)} = (e\\tau/\\hbar)^2 E_bE_c\\,\\partial_b\\partial_c f_0/[(1-i\\omega\\tau)(1-2i\\omega\\tau)]`.

*Nonlinear Drude* (:math:`\\tau^2`): :math:`j_a = -(e/\\hbar)\\sum_n\\int_k v^a f_2` gives in dc
:math:`\\sigma_{abc} = -(e^3\\tau^2/\\hbar^3)\\sum\\int_k v^a\\partial_b\\partial_c f_0
= -(e^3\\tau^2/\\hbar^3)\\sum\\int_k f\\,\\partial_a\\partial_b\\partial_c\\varepsilon`; integrating by
parts once, :math:`\\sigma_{abc} = (e^3\\tau^2/2\\hbar^3)\\sum\\int_k f'(M^{ab}v^c + M^{ac}v^b)`.
Channel factors: rectified :math:`1/(1+\\omega^2\\tau^2)` (real), second harmonic
:math:`1/[(1-i\\omega\\tau)(1-2i\\omega\\tau)]` (complex). The rectified current
:math:`\\sigma^{\\rm rect}_{abc}E_bE_c^* + c.c.` of a tensor symmetric in (b, c) depends only on
:math:`\\mathrm{Re}\\,\\sigma^{\\rm rect}` (:math:`\\mathrm{Im}(E_bE_c^*)` is antisymmetric), so the
natural :math:`1/(1-i\\omega\\tau)` of :math:`f_2^{(0)}` is replaced by its real part, which makes
the rectified tensor unique.

*Berry curvature dipole* (:math:`\\tau^1`, Sodemann & Fu, PRL 115, 216806 (2015)): the anomalous
velocity :math:`(e/\\hbar)\\Omega^{ab}E_b` carried by :math:`f_1` gives
:math:`j_a = -(e^2/\\hbar)\\sum\\int_k f_1\\Omega^{ab}E_b`, i.e. in dc
:math:`\\sigma_{abc} = (e^3\\tau/2\\hbar^2)\\sum\\int_k f\\,(\\partial_c\\Omega^{ab} + \\partial_b\\Omega^{ac})
= -(e^3\\tau/2\\hbar^2)\\sum\\int_k f'(v^c\\Omega^{ab} + v^b\\Omega^{ac})` (for a charge q with
:math:`\\hbar\\dot k = qE` the prefactor is :math:`-q^3\\tau/\\hbar^2`). It is purely Hall:
:math:`\\sigma_{abc}E_aE_bE_c = 0`. Channels: second harmonic :math:`1/(1-i\\omega\\tau)`;
rectified: the full rectified tensor is :math:`(e^3\\tau/\\hbar^2)\\,\\sum\\int_k f\\,\\partial_b\\Omega^{ac}/(1-i\\omega\\tau)`,
not symmetric in (b, c). Its symmetric part enters the physical current only through
:math:`\\mathrm{Re}[1/(1-i\\omega\\tau)] = 1/(1+\\omega^2\\tau^2)`, which is what
``berry_curvature_dipole`` returns; its antisymmetric part (a response to circular polarization,
:math:`\\propto i\\omega\\tau/(1+\\omega^2\\tau^2)`) is the separate
:data:`BERRY_CURVATURE_DIPOLE_CIRCULAR`, kept out of :data:`SECOND_ORDER_MECHANISMS` because it
is not symmetric in b, c.

*Intrinsic* (:math:`\\tau^0`). A field shifts the Bloch states by first-order perturbation in
:math:`H' = eE\\cdot r`: the Berry connection gains :math:`A'^a = eG^{ab}E_b` (Gao, Yang, Niu,
PRL 112, 166601 (2014)), the curvature :math:`\\Omega'^{ab} = e(\\partial_aG^{bc} - \\partial_bG^{ac})E_c`,
and the energy :math:`\\varepsilon^{(2)} = (e^2/2)G^{bc}E_bE_c` (second-order perturbation theory).
With the equilibrium distribution of the field-corrected energy, the energy shift drops out (total
derivative) and :math:`j_a = -(e^2/\\hbar)\\sum\\int_k f\\,\\Omega'^{ab}E_b` gives Wang/Liu. The
published variants form one family

.. math::
    \\sigma_{abc} = -\\frac{e^3}{\\hbar}\\sum_n\\int_k f_n
        \\Big[\\lambda\\,\\partial_a G^{bc}_n - \\tfrac12(\\partial_b G^{ac}_n + \\partial_c G^{ab}_n)\\Big]

with :math:`\\lambda = 1` (Wang/Liu, purely Hall), :math:`\\lambda = 2` (Kaplan/Das, as written in
the Rustb crate; not checked against the papers, whose equations were not available to us) and
:math:`\\lambda = 1/2` (the talk, with :math:`T = -G`, an assumption, see :data:`INTRINSIC_TALK`). The
literature check behind these weights, and why the intraband quantum-metric dipole term of
Ulrich et al. (arXiv:2506.17386) is not implemented as theirs, are in docs/responses.md, section 5.1.
The tau^0 coefficient of the density-matrix equation of motion in closed form, for each relaxation
model, and what it says about these weights: :mod:`qkinetics.responses.tau0` (docs/tau0.md). The
difference :math:`-(\\lambda-1)(e^3/\\hbar)\\sum\\int_k f\\,\\partial_aG^{bc}` is the velocity of a
field-induced energy shift :math:`(\\lambda-1)e^2G^{bc}E_bE_c` that the distribution does not
follow; for comparison, relaxing to :math:`f_0` of the bare band while the velocity contains the
perturbative shift gives :math:`\\lambda = 3/2`, the opposite (distribution follows, velocity bare)
:math:`\\lambda = 1/2`. Which one holds depends on the relaxation model and on the order of the
limits (PHYSICS.md, section 4); the library computes each by name and never adds them.
Its longitudinal part is :math:`\\sigma_{abc}E_aE_bE_c = -(\\lambda-1)(e^3/\\hbar)\\sum\\int_k
f\\,E\\cdot\\partial_k(E\\cdot G\\cdot E)`, identically zero for Wang/Liu.

Fermi-sea and Fermi-surface forms are related by :math:`\\int_k f\\,\\partial_c X = -\\int_k f' v^c X`
(closed Brillouin zone; continuum models need the integrand to vanish at the cutoff). The
factories below build either form; the defaults are the Fermi-sea forms of the published formulas
for the Berry curvature dipole and the intrinsic terms (no Fermi-surface sampling problem at low
temperature, but they need the k-derivatives of Omega and G), and the Fermi-surface form with the
inverse mass for the nonlinear Drude term (no third derivative of the band energy needed).

Validity: semiclassical, :math:`\\hbar\\omega` and :math:`\\hbar/\\tau` small compared with the
interband gaps near the Fermi level; single relaxation time; no side jump / skew scattering.
"""

from __future__ import annotations

from functools import partial

import numpy as np

from ..models.base import ModelError
from ..units import angstrom, e, hbar
from .mechanism import SECOND_ORDER_CHANNELS, Mechanism

__all__ = [
    "nonlinear_drude", "berry_curvature_dipole", "intrinsic", "INTRINSIC_VARIANTS",
    "INTRINSIC_NOT_IMPLEMENTED",
    "NONLINEAR_DRUDE", "BERRY_CURVATURE_DIPOLE", "BERRY_CURVATURE_DIPOLE_CIRCULAR",
    "INTRINSIC_WANG_LIU", "INTRINSIC_KAPLAN_DAS", "INTRINSIC_TALK", "SECOND_ORDER_MECHANISMS",
    "nonlinear_drude_integrand", "berry_curvature_dipole_integrand", "intrinsic_integrand",
]


# --------------------------------------------------------------------------- helpers


def _si(dim: int, energy_power: int) -> float:
    """SI value of a band integral in eV^energy_power Å^(3-d): e^energy_power (1e-10)^(3-d)."""
    return e**energy_power * angstrom ** (3 - dim)


def _check_channel(channel):
    if channel not in SECOND_ORDER_CHANNELS:
        raise ModelError(f"unknown channel {channel!r} for a second-order response; "
                         f"choose one of {SECOND_ORDER_CHANNELS}.")


def _check_form(form, forms):
    if form not in forms:
        raise ModelError(f"unknown form {form!r}; choose one of {forms}.")


def _sym_bc(X):
    """Symmetrize X[..., a, b, c] in its last two indices."""
    return 0.5 * (X + np.swapaxes(X, -1, -2))


def _need(geo, attr, what):
    value = getattr(geo, attr)
    if value is None:
        raise ModelError(f"{what} needs BandGeometry.{attr}; compute the geometry with "
                         + ("derivatives=True." if attr.endswith("derivative") else "inverse_mass=True."))
    return value


def _outer_vc(X, v):
    """Y[..., a, b, c] = X[..., a, b] v[..., c]."""
    return X[..., :, :, None] * v[..., None, None, :]


# --------------------------------------------------------------------------- nonlinear Drude

_NLD_FORMS = ("surface", "direct")


def nonlinear_drude_integrand(geo, form: str = "surface") -> dict:
    """Band integrand of the nonlinear Drude term (dc value = prefactor x integral).

    ``form="surface"``: :math:`\\{1: \\tfrac12(M^{ab}v^c + M^{ac}v^b)\\}` with prefactor
    :math:`+e^3\\tau^2/\\hbar^3` (one integration by parts of
    :math:`-\\int_k v^a\\partial_b\\partial_c f_0`).
    ``form="direct"``: :math:`-\\int_k v^a\\partial_b\\partial_c f_0` written out,
    :math:`\\{2: -v^av^bv^c,\\ 1: -v^aM^{bc}\\}` (no integration by parts; an independent check).
    """
    _check_form(form, _NLD_FORMS)
    v = geo.velocity
    M = _need(geo, "inverse_mass", "the nonlinear Drude term")
    if form == "surface":
        return {1: _sym_bc(_outer_vc(M, v))}
    vvv = v[..., :, None, None] * v[..., None, :, None] * v[..., None, None, :]
    vM = v[..., :, None, None] * M[..., None, :, :]
    return {2: -vvv, 1: -vM}


def _nld_prefactor(dim, tau, omega, channel):
    _check_channel(channel)
    x = omega * tau
    base = e**3 * tau**2 / hbar**3 * _si(dim, 1)
    if channel == "rectified":
        return complex(base / (1.0 + x * x))
    return complex(base / ((1.0 - 1j * x) * (1.0 - 2j * x)))


def nonlinear_drude(form: str = "surface") -> Mechanism:
    """The nonlinear Drude mechanism (:math:`\\tau^2`); see the module docstring for the derivation."""
    _check_form(form, _NLD_FORMS)
    return Mechanism(
        name="nonlinear_drude", order=2, tau_power=2, tensor_rank=3, needs_derivatives=False,
        integrand=partial(nonlinear_drude_integrand, form=form),
        prefactor=_nld_prefactor, channels=SECOND_ORDER_CHANNELS,
        formula=("sigma_abc = -(e^3 tau^2/hbar^3) sum_n int_k f d_a d_b d_c eps_n "
                 "= (e^3 tau^2/2 hbar^3) sum_n int_k f' (M^ab v^c + M^ac v^b); "
                 "rectified x 1/(1 + w^2 tau^2) [= Re 1/(1 - i w tau)], "
                 "second harmonic x 1/((1 - i w tau)(1 - 2 i w tau)); "
                 f"form: {form}"),
        reference=("Boltzmann equation with relaxation time at second order in E, derived here order by "
                   "order for E e^{-i w t} + c.c.; same dc formula (sign and both forms) as WannierBerri's "
                   "NLDrude_FermiSea / NLDrude_FermiSurf calculators (citing Phys. Rev. Research 2, 043081 "
                   "(2020), Eq. 3)"),
        assumptions=("single relaxation time tau relaxing to f0 of the bare band; semiclassical "
                     "(hbar w, hbar/tau << interband gaps); odd under time reversal: vanishes with T "
                     "symmetry or with k -> -k symmetry of the bands"),
    )


# --------------------------------------------------------------------------- Berry curvature dipole

_SEA_SURFACE = ("sea", "surface")


def berry_curvature_dipole_integrand(geo, form: str = "sea") -> dict:
    """Band integrand of the (b, c)-symmetric Berry curvature dipole term.

    ``form="sea"``: :math:`\\{0: \\tfrac12(\\partial_c\\Omega^{ab} + \\partial_b\\Omega^{ac})\\}`;
    ``form="surface"``: :math:`\\{1: -\\tfrac12(v^c\\Omega^{ab} + v^b\\Omega^{ac})\\}`.
    """
    _check_form(form, _SEA_SURFACE)
    if form == "sea":
        dO = _need(geo, "berry_curvature_derivative", "the Berry curvature dipole (Fermi-sea form)")
        return {0: _sym_bc(dO)}
    return {1: -_sym_bc(_outer_vc(geo.berry_curvature, geo.velocity))}


def _bcd_prefactor(dim, tau, omega, channel):
    _check_channel(channel)
    x = omega * tau
    base = e**3 * tau / hbar**2 * _si(dim, 0)
    if channel == "rectified":
        return complex(base / (1.0 + x * x))
    return complex(base / (1.0 - 1j * x))


def berry_curvature_dipole(form: str = "sea") -> Mechanism:
    """The Berry curvature dipole mechanism (:math:`\\tau^1`, Sodemann & Fu 2015)."""
    _check_form(form, _SEA_SURFACE)
    needs = form == "sea"
    return Mechanism(
        name="berry_curvature_dipole", order=2, tau_power=1, tensor_rank=3, needs_derivatives=needs,
        needs_inverse_mass=False,
        integrand=partial(berry_curvature_dipole_integrand, form=form),
        prefactor=_bcd_prefactor, channels=SECOND_ORDER_CHANNELS,
        formula=("sigma_abc = (e^3 tau/2 hbar^2) sum_n int_k f (d_c Omega^ab + d_b Omega^ac) "
                 "= -(e^3 tau/2 hbar^2) sum_n int_k f' (v^c Omega^ab + v^b Omega^ac); "
                 "rectified x 1/(1 + w^2 tau^2) [= Re 1/(1 - i w tau); the antisymmetric (circular) part "
                 "is berry_curvature_dipole_circular], second harmonic x 1/(1 - i w tau); "
                 f"form: {form}"),
        reference=("I. Sodemann and L. Fu, PRL 115, 216806 (2015): chi_abc = -eps_adc e^3 tau D_bd/"
                   "(2(1 + i w tau)), D_bd = int f d_b Omega_d, for E(t) = Re E e^{i w t}; re-derived here for "
                   "charge -e: the same -eps_adc sign structure (sigma = 2 chi in our field convention)"),
        assumptions=("single relaxation time; semiclassical (hbar w, hbar/tau << gaps); purely Hall "
                     "(sigma_abc E_a E_b E_c = 0); even under time reversal, needs broken inversion; "
                     "vanishes where Omega = 0 (e.g. PT-symmetric bands)"),
    )


def _bcd_circular_integrand(geo):
    dO = _need(geo, "berry_curvature_derivative", "the circular Berry curvature dipole")
    return {0: 0.5 * (np.swapaxes(dO, -1, -2) - dO)}          # (d_b Omega^ac - d_c Omega^ab)/2


def _bcd_circular_prefactor(dim, tau, omega, channel):
    _check_channel(channel)
    if channel == "second_harmonic":
        return 0j
    x = omega * tau
    return e**3 * tau / hbar**2 * _si(dim, 0) * 1j * x / (1.0 + x * x)


#: Antisymmetric-in-(b, c) part of the rectified Berry-curvature-dipole response (circular
#: polarization): sigma_abc E_b E_c^* + c.c. with sigma_abc = (e^3 tau/hbar^2) i w tau/(1 + w^2 tau^2)
#: x (1/2) sum int_k f (d_b Omega^ac - d_c Omega^ab). Zero in the second-harmonic channel and at
#: w = 0. Not part of SECOND_ORDER_MECHANISMS (whose tensors are symmetric in b, c).
BERRY_CURVATURE_DIPOLE_CIRCULAR = Mechanism(
    name="berry_curvature_dipole_circular", order=2, tau_power=1, tensor_rank=3, needs_derivatives=True,
    integrand=_bcd_circular_integrand, prefactor=_bcd_circular_prefactor, channels=SECOND_ORDER_CHANNELS,
    formula=("sigma^rect_abc = (e^3 tau/hbar^2) [i w tau/(1 + w^2 tau^2)] (1/2) sum_n int_k f "
             "(d_b Omega^ac - d_c Omega^ab), antisymmetric in b, c; second harmonic: 0"),
    reference="Antisymmetric part of the Sodemann-Fu rectified tensor (PRL 115, 216806 (2015)); derived here",
    assumptions="as berry_curvature_dipole; responds only to circularly/elliptically polarized fields",
)


# --------------------------------------------------------------------------- intrinsic (tau^0)

#: lambda of the intrinsic family -(e^3/hbar) sum int f [lambda d_a G^bc - (d_b G^ac + d_c G^ab)/2].
INTRINSIC_VARIANTS = {"wang_liu": 1.0, "kaplan_das": 2.0, "talk": 0.5}

_INTRINSIC_DOCS = {
    "wang_liu": dict(
        formula=("sigma_abc = -(e^3/hbar) sum_n int_k f [d_a G^bc - (d_b G^ac + d_c G^ab)/2] "
                 "= (e^3/hbar) sum_n int_k f' [v^a G^bc - (v^b G^ac + v^c G^ab)/2]; purely Hall"),
        reference=("Y. Gao, S. A. Yang, Q. Niu, PRL 112, 166601 (2014) (field-induced Berry connection "
                   "A' = e G E); C. Wang et al., PRL 127, 277201 (2021); H. Liu et al., PRL 127, 277202 "
                   "(2021). Same form: X.-B. Qiang et al., arXiv:2508.02088 (2025)"),
        assumptions=("distribution = equilibrium f0 of the field-corrected energy eps + (e^2/2) G E E "
                     "(the energy shift then drops out); adiabatic in w (hbar w << gaps), independent of "
                     "tau and w; odd under time reversal; purely Hall (sigma_abc E_a E_b E_c = 0, no "
                     "dissipation)"),
    ),
    "kaplan_das": dict(
        formula=("sigma_abc = -(e^3/hbar) sum_n int_k f [2 d_a G^bc - (d_b G^ac + d_c G^ab)/2]; "
                 "= Wang/Liu - (e^3/hbar) sum_n int_k f d_a G^bc, which has a longitudinal part"),
        reference=("D. Kaplan, T. Holder, B. Yan, PRL 132, 026301 (2024) (arXiv:2211.17213); K. Das, "
                   "S. Lahiri, R. B. Atencia, D. Culcer, A. Agarwal, PRB 108, L201405 (2023) "
                   "(arXiv:2207.02178). The weight lambda = 2 is NOT taken from either paper: it is the "
                   "Rustb crate's formula (nonlinear Hall module, comment 'SM Eq. (43)', source paper not "
                   "named: -(e^3/hbar) sum int f [2 d_c G^ab - (d_a G^bc + d_b G^ac)/2], c the current "
                   "index, i.e. lambda = 2 here). Only the two papers' abstracts could be read (literature "
                   "check in docs/responses.md, section 5.1): both add to the Berry-connection-polarizability "
                   "(Wang/Liu) term an intrinsic 'normalized quantum metric dipole' term with a longitudinal "
                   "part, which means lambda != 1 in this family, not which value"),
        assumptions=("lambda = 2 unverified against the papers, and not produced by the density-matrix equation of "
                     "motion under any relaxation model of qkinetics.kubo.density_matrix (docs/tau0.md, section 6: "
                     "'full' gives W - Q/2, relaxation to the dressed equilibrium lambda = 0); the two papers are "
                     "kept as one variant because "
                     "nothing available shows that they differ (split them if their equations do). The "
                     "difference from Wang/Liu, -(e^3/hbar) sum int f d_a G^bc, has the form of the "
                     "velocity of an energy shift e^2 G^bc E_b E_c (twice the perturbative (e^2/2) G E E) "
                     "that the distribution does not follow; the authors' derivations were not reproduced "
                     "here. Disputed: Qiang et al. arXiv:2508.02088 and P. Tang arXiv:2605.02750 find no "
                     "intrinsic longitudinal part. dc value used for both channels (the w dependence of the "
                     "extra term depends on the relaxation model); odd under time reversal"),
    ),
    "talk": dict(
        formula=("sigma_abc = (e^3/2 hbar) sum_n int_k f (d_a T^bc - d_b T^ac - d_c T^ab) with T = -G, i.e. "
                 "-(e^3/hbar) sum_n int_k f [d_a G^bc/2 - (d_b G^ac + d_c G^ab)/2] "
                 "= Wang/Liu + (e^3/2 hbar) sum_n int_k f d_a G^bc (talk's mu, alpha, beta -> a, b, c)"),
        reference=("Talk on the Moyal-product quantum kinetic theory (reference/talk-formulas.md, quadratic "
                   "conductivity, third line); T. Park, X. Huang, L. Savary, L. Balents, arXiv:2504.10447 "
                   "(2025). T is not defined on the slides (the line is labelled 'band-normalized quantum "
                   "metric dipole'); the paper's text beyond its abstract was not available to us. "
                   "T = -G = 2 Re sum_m A^a_nm A^b_mn/(eps_m - eps_n) is our normalization, see assumptions"),
        assumptions=("normalization T = -G fixed here, not read from the source: it is the only one for "
                     "which the talk's formula differs from Wang/Liu by an energy-shift term d_a G^bc alone "
                     "(the form every variant's difference takes), namely the perturbative shift "
                     "(e^2/2) G E E followed by the distribution but not by the velocity; any other "
                     "normalization also changes the (d_b G^ac + d_c G^ab) weight. With T = -G it is the c0 of the "
                     "density matrix with 'full' relaxation less (1/2) int f K, the gap-dispersion term (identity, "
                     "docs/tau0.md, section 6). Not purely Hall; "
                     "dc value used for both channels; odd under time reversal"),
    ),
}


#: Published tau^0 terms the library names but does not compute, with the reason (shown on request).
INTRINSIC_NOT_IMPLEMENTED = {
    "ulrich": ("the intraband quantum-metric dipole term of Y. Ulrich, J. Mitscherling, L. Classen, "
               "A. P. Schnyder, arXiv:2506.17386 (2025; PRB 113, L201107 (2026)) is not implemented as theirs: its "
               "formula (prefactor, index structure, Fermi-sea or Fermi-surface form) was not available "
               "to us, only its abstract ('momentum derivative of the intraband quantum metric', nonzero with "
               "broken time reversal). The density-matrix closed forms contain one such term, offered as "
               "'metric_dipole_over_gap' (qkinetics.responses.tau0; for two bands 2 int f_n d_a g^bc_n/(e_n - e_m)), "
               "with the properties the abstract states; that it is their term is not confirmed. "
               "What was searched: docs/responses.md, section 5.1; docs/tau0.md, section 6."),
}


def intrinsic_integrand(geo, lam: float, form: str = "sea") -> dict:
    """Band integrand of the intrinsic family with weight ``lam`` (prefactor :math:`-e^3/\\hbar`).

    ``form="sea"``: :math:`\\{0: \\lambda\\partial_aG^{bc} - \\tfrac12(\\partial_bG^{ac} + \\partial_cG^{ab})\\}`;
    ``form="surface"``: :math:`\\{1: -[\\lambda v^aG^{bc} - \\tfrac12(v^bG^{ac} + v^cG^{ab})]\\}`.
    """
    _check_form(form, _SEA_SURFACE)
    if form == "sea":
        dG = _need(geo, "normalized_metric_derivative", "the intrinsic (tau^0) terms, Fermi-sea form")
        P = np.moveaxis(dG, -1, -3)                                 # P[a, b, c] = d_a G^bc
        return {0: lam * P - _sym_bc(dG)}                          # _sym_bc(dG)[a,b,c] = (d_c G^ab + d_b G^ac)/2
    G, v = geo.normalized_metric, geo.velocity
    P = v[..., :, None, None] * G[..., None, :, :]                  # v^a G^bc
    return {1: -(lam * P - _sym_bc(_outer_vc(G, v)))}


def _intrinsic_prefactor(dim, tau, omega, channel):
    _check_channel(channel)
    return complex(-e**3 / hbar * _si(dim, -1))


def intrinsic(variant: str, form: str = "sea") -> Mechanism:
    """An intrinsic (:math:`\\tau^0`) second-order mechanism by published variant.

    Parameters
    ----------
    variant : {"wang_liu", "kaplan_das", "talk"}
        (``"ulrich"``, the intraband quantum-metric dipole of Ulrich et al., is named but not
        implemented: asking for it raises :class:`ModelError` saying why, see
        :data:`INTRINSIC_NOT_IMPLEMENTED`.)
    form : {"sea", "surface"}
        Fermi-sea form with :math:`\\partial_c G^{ab}` (needs geometry derivatives) or the
        Fermi-surface form with :math:`f' v G`.
    """
    if variant in INTRINSIC_NOT_IMPLEMENTED:
        raise ModelError(f"intrinsic variant {variant!r}: {INTRINSIC_NOT_IMPLEMENTED[variant]}")
    if variant not in INTRINSIC_VARIANTS:
        raise ModelError(f"unknown intrinsic variant {variant!r}; choose one of {sorted(INTRINSIC_VARIANTS)}.")
    _check_form(form, _SEA_SURFACE)
    lam = INTRINSIC_VARIANTS[variant]
    doc = _INTRINSIC_DOCS[variant]
    return Mechanism(
        name=f"intrinsic_{variant}", order=2, tau_power=0, tensor_rank=3, needs_derivatives=form == "sea",
        integrand=partial(intrinsic_integrand, lam=lam, form=form), prefactor=_intrinsic_prefactor,
        family="intrinsic_tau0",
        channels=SECOND_ORDER_CHANNELS, formula=doc["formula"] + f"; form: {form}",
        reference=doc["reference"],
        assumptions=doc["assumptions"] + ("; ALTERNATIVE to the other intrinsic_* variants (never add them); "
                                          "G = 2 Re sum_m V^a_nm V^b_mn/(eps_n - eps_m)^3"),
    )


# --------------------------------------------------------------------------- registry

NONLINEAR_DRUDE = nonlinear_drude()
BERRY_CURVATURE_DIPOLE = berry_curvature_dipole()
INTRINSIC_WANG_LIU = intrinsic("wang_liu")
INTRINSIC_KAPLAN_DAS = intrinsic("kaplan_das")
INTRINSIC_TALK = intrinsic("talk")

#: The named second-order mechanisms (tensors symmetric in b, c). The intrinsic_* entries are
#: alternative published forms of one tau^0 term: compare them, do not add them.
SECOND_ORDER_MECHANISMS = (NONLINEAR_DRUDE, BERRY_CURVATURE_DIPOLE, INTRINSIC_WANG_LIU,
                           INTRINSIC_KAPLAN_DAS, INTRINSIC_TALK)
