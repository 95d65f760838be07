"""Named band models with closed-form Bloch Hamiltonians.

Every function takes keyword parameters (energies in eV, lengths in Angstrom) and returns
a :class:`~qkinetics.models.base.Model` whose ``name`` is the function name and whose
``provenance`` attribute records ``{"zoo": name, "params": {...}}``. Lattice models are
:class:`~qkinetics.models.tight_binding.TightBinding` models in the ``"positions"``
Fourier convention with orbitals at their real positions,
:math:`H_{ij}(k) = \\sum_R t_{R,ij} e^{i k\\cdot(R + \\tau_j - \\tau_i)}`, so the
formulas below hold literally (with ``a`` the lattice constant).

Pauli matrices: :math:`\\sigma` act on the orbital (or sublattice) index of two-band models;
in four-band models :math:`\\tau` acts on the sublattice (A, B) and :math:`s` (or :math:`\\sigma`)
on spin (up, down); the orbital order is ``(A up, A down, B up, B down)``, i.e.
:math:`\\tau \\otimes s` = ``np.kron(tau, s)``.

Use :func:`get` to build a model by name: ``get("haldane", t2=0.2)``.
"""

from __future__ import annotations

import inspect as _inspect
import math as _math

import numpy as _np
import sympy as _sympy

from .base import Model, ModelError
from .continuum import Continuum
from .tight_binding import TightBinding

_S0 = _np.eye(2, dtype=complex)
_SX = _np.array([[0, 1], [1, 0]], dtype=complex)
_SY = _np.array([[0, -1j], [1j, 0]], dtype=complex)
_SZ = _np.array([[1, 0], [0, -1]], dtype=complex)


def _real(name, value) -> float:
    try:
        z = complex(value)
    except (TypeError, ValueError):
        raise ModelError(f"parameter {name!r} must be a real number; got {value!r}.") from None
    if z.imag != 0 or not _math.isfinite(z.real):
        raise ModelError(f"parameter {name!r} must be a finite real number; got {value!r}.")
    return float(z.real)


def _positive(name, value) -> float:
    x = _real(name, value)
    if x <= 0:
        raise ModelError(f"parameter {name!r} must be positive; got {value!r}.")
    return x


class _Hoppings:
    """Accumulates ``{R: t_R}`` with explicit Hermitian partners."""

    def __init__(self, dim, norb):
        self.dim, self.norb = dim, norb
        self.hop = {}

    def _add(self, R, M):
        R = tuple(int(r) for r in R)
        self.hop[R] = self.hop.get(R, _np.zeros((self.norb, self.norb), complex)) + M

    def onsite(self, M):
        """Add a Hermitian on-site matrix."""
        self._add((0,) * self.dim, _np.asarray(M, complex))

    def bond(self, R, M):
        """Add ``t_R += M`` and its partner ``t_{-R} += M^dagger`` (one direction of each bond)."""
        M = _np.asarray(M, complex)
        self._add(R, M)
        self._add(tuple(-r for r in R), M.conj().T)


def _finish(model: Model, name: str, params: dict) -> Model:
    model.name = name
    model.provenance = {"zoo": name, "params": dict(params)}
    return model


# --------------------------------------------------------------------------- continuum


def _pauli_sym():
    s0 = _sympy.eye(2)
    sx = _sympy.Matrix([[0, 1], [1, 0]])
    sy = _sympy.Matrix([[0, -_sympy.I], [_sympy.I, 0]])
    sz = _sympy.Matrix([[1, 0], [0, -1]])
    return s0, sx, sy, sz


def massive_dirac(v=1.0, mass=0.5, tilt=0.0, tilt_y=0.0, kcut=5.0):
    """Tilted massive Dirac cone in 2D (continuum).

    .. math::
        H(k) = (w_x k_x + w_y k_y)\\,\\sigma_0 + v\\,(k_x \\sigma_x + k_y \\sigma_y) + m\\,\\sigma_z

    Parameters
    ----------
    v : float
        Dirac velocity :math:`\\hbar v` in eV Angstrom.
    mass : float
        Mass :math:`m` in eV (band gap :math:`2|m|` at k = 0).
    tilt, tilt_y : float
        Tilt :math:`w_x, w_y` in eV Angstrom.
    kcut : float
        Momentum cutoff for integrations, 1/Angstrom.

    Returns
    -------
    Continuum
        dim = 2, N = 2; parameters ``v, mass, tilt, tilt_y`` (change them with
        ``with_params``). Bands :math:`w\\cdot k \\pm \\sqrt{v^2 k^2 + m^2}`.
    """
    kx, ky = _sympy.symbols("kx ky", real=True)
    v_, m_, wx, wy = _sympy.symbols("v mass tilt tilt_y", real=True)
    s0, sx, sy, sz = _pauli_sym()
    H = (wx * kx + wy * ky) * s0 + v_ * (kx * sx + ky * sy) + m_ * sz
    params = {"v": _real("v", v), "mass": _real("mass", mass),
              "tilt": _real("tilt", tilt), "tilt_y": _real("tilt_y", tilt_y)}
    model = Continuum(H, params=params, dim=2, kcut=kcut, name="massive_dirac")
    return _finish(model, "massive_dirac", dict(params, kcut=kcut))


def tilted_dirac(v=1.0, mass=0.5, tilt=0.05, tilt_y=0.0, kcut=5.0):
    """Same as :func:`massive_dirac` with a default tilt along x (``tilt=0.05`` eV Angstrom).

    .. math::
        H(k) = (w_x k_x + w_y k_y)\\,\\sigma_0 + v\\,(k_x \\sigma_x + k_y \\sigma_y) + m\\,\\sigma_z
    """
    model = massive_dirac(v=v, mass=mass, tilt=tilt, tilt_y=tilt_y, kcut=kcut)
    return _finish(model, "tilted_dirac", model.provenance["params"])


# --------------------------------------------------------------------------- square lattice


def qi_wu_zhang(u=1.0, t=1.0, a=1.0):
    """Qi-Wu-Zhang Chern insulator on the square lattice (two orbitals per site at the origin).

    .. math::
        H(k) = t\\,[\\sin(k_x a)\\,\\sigma_x + \\sin(k_y a)\\,\\sigma_y
               + (u + \\cos k_x a + \\cos k_y a)\\,\\sigma_z]

    Parameters
    ----------
    u : float
        Dimensionless mass in units of ``t``. Gap closings at ``u = 0, +-2``; the model is a
        Chern insulator (|C| = 1) for ``0 < |u| < 2`` and trivial for ``|u| > 2``.
    t : float
        Energy scale in eV.
    a : float
        Lattice constant in Angstrom.
    """
    u, t, a = _real("u", u), _real("t", t), _positive("a", a)
    hb = _Hoppings(2, 2)
    hb.onsite(t * u * _SZ)
    # sin(k.R) = (e^{ik.R} - e^{-ik.R}) / 2i, cos(k.R) = (e^{ik.R} + e^{-ik.R}) / 2
    hb.bond((1, 0), t * (_SX / 2j + _SZ / 2))
    hb.bond((0, 1), t * (_SY / 2j + _SZ / 2))
    model = TightBinding(a * _np.eye(2), [[0, 0], [0, 0]], hb.hop, convention="positions")
    return _finish(model, "qi_wu_zhang", {"u": u, "t": t, "a": a})


def pt_antiferromagnet(t=1.0, t_ab=0.8, lambda_so=0.3, neel=(0.0, 0.3, 0.0), e0=0.0, staggered=0.0, a=1.0):
    """PT-symmetric collinear antiferromagnet of CuMnAs type (four bands, square lattice).

    Two magnetic sublattices A at (0, 0) and B at (a/2, a/2) of a square lattice with
    constant ``a``, each with spin; orbital order (A up, A down, B up, B down):

    .. math::
        H(k) = [e_0 - 2t(\\cos k_x a + \\cos k_y a)]\\,\\tau_0
               - 4 t_{AB} \\cos\\tfrac{k_x a}{2}\\cos\\tfrac{k_y a}{2}\\,\\tau_x
               + \\lambda\\,\\tau_z\\,(\\sin k_y a\\; s_x - \\sin k_x a\\; s_y)
               + \\tau_z\\,(\\mathbf{n}\\cdot\\mathbf{s}) + \\Delta\\,\\tau_z

    Factor conventions: ``t`` and ``t_ab`` are the amplitudes of a single bond
    (hopping ``-t`` between same-sublattice nearest neighbours along x and y,
    ``-t_ab`` on each of the four A-B bonds); ``lambda_so`` multiplies the
    sublattice-staggered Rashba-type spin-orbit coupling (bond amplitude
    :math:`\\mp i\\lambda/2` on same-sublattice bonds); the exchange field
    :math:`\\tau_z\\,\\mathbf{n}\\cdot\\mathbf{s}` is ``+n`` on A and ``-n`` on B (``neel`` in eV).
    ``staggered`` (:math:`\\Delta`) is an optional sublattice potential that breaks P and PT.

    Symmetries: with ``staggered = 0``, PT = :math:`\\tau_x (i s_y) K` (:math:`(PT)^2 = -1`)
    commutes with H(k), so every band is doubly degenerate at every k. Inversion
    :math:`P = \\tau_x, k \\to -k` (centre at (a/4, a/4), between A and B) and time reversal
    :math:`T = i s_y K, k \\to -k` are each broken by the Neel term and restored
    when ``neel = 0``.

    Literature: this is the 2D CuMnAs model of L. Smejkal, J. Zelezny, J. Sinova and
    T. Jungwirth, PRL 118, 106402 (2017), as implemented in WannierBerri
    (``wannierberri.models.CuMnAs_2d``, checked against its source): its
    :math:`-2t\\cos\\frac{k_x}{2}\\cos\\frac{k_y}{2}\\tau_x - t'(\\cos k_x + \\cos k_y)
    + \\lambda\\tau_z(\\sin k_x s_y - \\sin k_y s_x) + J\\tau_z\\,\\mathbf{n}\\cdot\\mathbf{s}`
    maps onto this one with ``t_ab = t_Smejkal/2``, ``t = t'/2``, ``lambda_so = -lambda``,
    ``neel = J n``. The same sublattice structure (staggered spin-orbit coupling and
    staggered exchange) underlies the PT-symmetric antiferromagnet models used for the
    quantum-metric (tau^0) nonlinear Hall effect (Watanabe & Yanase, PRX 11, 011001 (2021);
    Wang et al., PRL 127, 277201; Liu et al., PRL 127, 277202 (2021)); their prefactor
    conventions were not checked here, so compare parameters through the formula above.

    Parameters
    ----------
    t : float
        Same-sublattice nearest-neighbour hopping (eV).
    t_ab : float
        A-B hopping per bond (eV).
    lambda_so : float
        Staggered spin-orbit coupling (eV).
    neel : sequence of 3 floats
        Staggered exchange field :math:`\\mathbf{n}` (eV), +n on A and -n on B.
    e0 : float
        Uniform on-site energy (eV).
    staggered : float
        Sublattice potential (eV), +on A, -on B; breaks PT (default 0).
    a : float
        Lattice constant (Angstrom).
    """
    t, t_ab, lam = _real("t", t), _real("t_ab", t_ab), _real("lambda_so", lambda_so)
    e0, stag, a = _real("e0", e0), _real("staggered", staggered), _positive("a", a)
    try:
        n = _np.array([_real("neel", x) for x in neel])
    except TypeError:
        raise ModelError(f"neel must be a sequence of three real numbers (eV); got {neel!r}.") from None
    if n.shape != (3,):
        raise ModelError(f"neel must be a sequence of three real numbers (eV); got {neel!r}.")
    tz = _SZ
    hb = _Hoppings(2, 4)
    ns = n[0] * _SX + n[1] * _SY + n[2] * _SZ
    hb.onsite(e0 * _np.eye(4) + _np.kron(tz, ns) + stag * _np.kron(tz, _S0))
    # same-sublattice bonds along x and y: -t cos, lambda sin terms
    hb.bond((1, 0), -t * _np.eye(4) + lam * _np.kron(tz, -_SY) / 2j)
    hb.bond((0, 1), -t * _np.eye(4) + lam * _np.kron(tz, _SX) / 2j)
    # A -> B bonds: B sits at R + (1/2, 1/2) for R in {(0,0), (-1,0), (0,-1), (-1,-1)}
    ab = _np.zeros((4, 4), complex)
    ab[0:2, 2:4] = -t_ab * _S0
    for R in ((0, 0), (-1, 0), (0, -1), (-1, -1)):
        hb.bond(R, ab)
    pos = [[0, 0], [0, 0], [0.5, 0.5], [0.5, 0.5]]
    model = TightBinding(a * _np.eye(2), pos, hb.hop, convention="positions")
    return _finish(model, "pt_antiferromagnet",
                   {"t": t, "t_ab": t_ab, "lambda_so": lam, "neel": tuple(n), "e0": e0,
                    "staggered": stag, "a": a})


# --------------------------------------------------------------------------- honeycomb


def _honeycomb(a):
    """Lattice (rows a1 = a(1,0), a2 = a(1/2, sqrt3/2)), reduced positions A, B, A->B bonds."""
    lattice = a * _np.array([[1.0, 0.0], [0.5, _math.sqrt(3) / 2]])
    pos = _np.array([[1 / 3, 1 / 3], [2 / 3, 2 / 3]])
    # B at R + tau_B nearest to A at tau_A for these R
    ab_bonds = ((0, 0), (-1, 0), (0, -1))
    return lattice, pos, ab_bonds


_NNN = ((1, 0), (0, 1), (-1, 1), (-1, 0), (0, -1), (1, -1))


def _chirality(lattice, pos, sub, R):
    """nu = sign[(d1 x d2)_z] for the second-neighbour hop from site j = (sub, R) to site i = (sub, 0).

    d1, d2 are the two nearest-neighbour bonds the electron traverses going from j to i
    (Haldane 1988; Kane & Mele 2005): +1 when the path turns left, i.e. runs
    counterclockwise around the hexagon it borders.
    """
    other = 1 - sub
    ri = pos[sub] @ lattice
    rj = (pos[sub] + _np.asarray(R)) @ lattice
    dnn = _np.linalg.norm((pos[1] - pos[0]) @ lattice)
    for m1 in range(-2, 3):
        for m2 in range(-2, 3):
            rm = (pos[other] + _np.array([m1, m2])) @ lattice
            if abs(_np.linalg.norm(rm - ri) - dnn) < 1e-9 * dnn and abs(_np.linalg.norm(rm - rj) - dnn) < 1e-9 * dnn:
                d1, d2 = rm - rj, ri - rm
                return int(_np.sign(d1[0] * d2[1] - d1[1] * d2[0]))
    raise AssertionError("no common neighbour found")  # pragma: no cover


def haldane(t1=1.0, t2=0.1, phi=_np.pi / 2, mass=0.0, a=1.0, strain=0.0):
    """Haldane model on the honeycomb lattice (F. D. M. Haldane, PRL 61, 2015 (1988)).

    .. math::
        H = t_1 \\sum_{\\langle ij\\rangle} c_i^\\dagger c_j
            + t_2 \\sum_{\\langle\\langle ij\\rangle\\rangle} e^{i \\nu_{ij} \\phi} c_i^\\dagger c_j
            + M \\sum_i \\xi_i c_i^\\dagger c_i

    with :math:`\\xi = +1` on A, :math:`-1` on B, and :math:`\\nu_{ij} = \\mathrm{sign}(\\mathbf{d}_1\\times\\mathbf{d}_2)_z`
    for the two nearest-neighbour bonds :math:`\\mathbf{d}_1, \\mathbf{d}_2` traversed going from j to i:
    the amplitude of a second-neighbour hop is :math:`t_2 e^{+i\\phi}` when the hop runs
    counterclockwise around the hexagon it borders (Haldane's convention).

    Geometry: :math:`\\mathbf{a}_1 = a(1, 0)`, :math:`\\mathbf{a}_2 = a(1/2, \\sqrt3/2)`,
    A at :math:`(\\mathbf{a}_1+\\mathbf{a}_2)/3`, B at :math:`2(\\mathbf{a}_1+\\mathbf{a}_2)/3`
    (nearest-neighbour distance :math:`a/\\sqrt3`). In closed form, with
    :math:`\\boldsymbol\\delta_j` the three A->B bond vectors and
    :math:`\\mathbf{b}_j \\in \\{a(1,0), a(-\\frac12, \\frac{\\sqrt3}{2}), a(-\\frac12, -\\frac{\\sqrt3}{2})\\}`,

    .. math::
        H(k) = 2 t_2 \\cos\\phi \\sum_j \\cos(k\\cdot b_j)\\,\\sigma_0
             + t_1 \\sum_j [\\cos(k\\cdot\\delta_j)\\sigma_x - \\sin(k\\cdot\\delta_j)\\sigma_y]
             + [M - 2 t_2 \\sin\\phi \\sum_j \\sin(k\\cdot b_j)]\\,\\sigma_z .

    The Dirac mass is :math:`M + 3\\sqrt3\\, t_2 \\sin\\phi` at :math:`K = (4\\pi/3a, 0)` and
    :math:`M - 3\\sqrt3\\, t_2 \\sin\\phi` at :math:`K' = -K`: the gap closes at K' when
    :math:`M = 3\\sqrt3\\, t_2\\sin\\phi` and at K when :math:`M = -3\\sqrt3\\, t_2\\sin\\phi`;
    Chern insulator for :math:`|M| < 3\\sqrt3 |t_2 \\sin\\phi|`.

    Parameters
    ----------
    t1, t2 : float
        First- and second-neighbour hopping amplitudes (eV).
    phi : float
        Phase of the second-neighbour hopping (radians).
    mass : float
        Sublattice potential M (eV): +M on A, -M on B.
    a : float
        Lattice constant |a1| (Angstrom).
    strain : float
        Uniaxial anisotropy: the first of the three nearest-neighbour bonds carries
        :math:`t_1(1 + \\text{strain})`. Nonzero strain breaks the threefold rotation, which
        otherwise forces the Berry curvature dipole to vanish (default 0: Haldane's model). The
        closed form above and the gap-closing condition hold for strain = 0; with strain the first
        bond term of the sum carries the factor (1 + strain).
    """
    t1, t2, phi, mass, a = _real("t1", t1), _real("t2", t2), _real("phi", phi), _real("mass", mass), _positive("a", a)
    strain = _real("strain", strain)
    lattice, pos, ab_bonds = _honeycomb(a)
    hb = _Hoppings(2, 2)
    hb.onsite(mass * _SZ)
    for j, R in enumerate(ab_bonds):
        M = _np.zeros((2, 2), complex)
        M[0, 1] = t1 * (1 + strain) if j == 0 else t1
        hb.bond(R, M)
    for sub in (0, 1):
        for R in _NNN:  # all six directions: Hermiticity of the result checks the chiralities
            nu = _chirality(lattice, pos, sub, R)
            M = _np.zeros((2, 2), complex)
            M[sub, sub] = t2 * _np.exp(1j * nu * phi)
            hb._add(R, M)
    model = TightBinding(lattice, pos, hb.hop, convention="positions")
    return _finish(model, "haldane", {"t1": t1, "t2": t2, "phi": phi, "mass": mass, "a": a, "strain": strain})


def kane_mele(t=1.0, lambda_so=0.06, lambda_r=0.0, lambda_v=0.0, a=1.0):
    """Kane-Mele model of graphene with spin-orbit coupling (C. L. Kane & E. J. Mele, PRL 95, 226801 (2005)).

    .. math::
        H = t \\sum_{\\langle ij\\rangle} c_i^\\dagger c_j
            + i\\lambda_{SO} \\sum_{\\langle\\langle ij\\rangle\\rangle} \\nu_{ij}\\, c_i^\\dagger s_z c_j
            + i\\lambda_R \\sum_{\\langle ij\\rangle} c_i^\\dagger (\\mathbf{s}\\times\\hat{\\mathbf{d}}_{ij})_z c_j
            + \\lambda_v \\sum_i \\xi_i c_i^\\dagger c_i

    on the honeycomb geometry of :func:`haldane` (``a`` = |a1|, nearest-neighbour distance
    :math:`a/\\sqrt3`); orbital order (A up, A down, B up, B down). :math:`\\nu_{ij} = \\pm1`
    as in :func:`haldane` (the sign of :math:`\\hat d_1\\times\\hat d_2` for the path from j
    to i), so each spin block is a Haldane model with :math:`t_2 = \\lambda_{SO}`,
    :math:`\\phi = \\pm\\pi/2` (spin up/down) and :math:`M = \\lambda_v`; with
    :math:`\\lambda_R = 0`,

    .. math::
        H(k) = t\\sum_j [\\cos(k\\cdot\\delta_j)\\tau_x - \\sin(k\\cdot\\delta_j)\\tau_y]
               - 2\\lambda_{SO}\\sum_j \\sin(k\\cdot b_j)\\,\\tau_z s_z + \\lambda_v \\tau_z ,

    gap :math:`6\\sqrt3\\lambda_{SO}` at K and K' for :math:`\\lambda_v = 0`.
    :math:`\\hat{\\mathbf{d}}_{ij}` is the unit vector from site i to site j (the convention of
    the PythTB Kane-Mele example); the sign of :math:`\\lambda_R` is a convention (flipped by
    a spin rotation by pi about z). :math:`\\xi = +1` on A, :math:`-1` on B.

    Symmetries: time reversal :math:`(i s_y) H(k)^* (-i s_y) = H(-k)` for all parameters;
    with :math:`\\lambda_R = \\lambda_v = 0` inversion holds as well and every band is doubly
    degenerate. Z2 topological for :math:`\\lambda_R = 0`, :math:`|\\lambda_v| < 3\\sqrt3\\lambda_{SO}`.

    Parameters
    ----------
    t : float
        Nearest-neighbour hopping (eV).
    lambda_so : float
        Intrinsic (second-neighbour) spin-orbit coupling (eV).
    lambda_r : float
        Nearest-neighbour Rashba coupling (eV).
    lambda_v : float
        Staggered sublattice potential (eV).
    a : float
        Lattice constant (Angstrom).
    """
    t, lso, lr, lv, a = (_real("t", t), _real("lambda_so", lambda_so), _real("lambda_r", lambda_r),
                         _real("lambda_v", lambda_v), _positive("a", a))
    lattice, pos, ab_bonds = _honeycomb(a)
    pos4 = _np.repeat(pos, 2, axis=0)
    hb = _Hoppings(2, 4)
    hb.onsite(lv * _np.kron(_SZ, _S0))
    for R in ab_bonds:
        d = (pos[1] + _np.asarray(R) - pos[0]) @ lattice          # from A (i) to B (j)
        d = d / _np.linalg.norm(d)
        block = t * _S0 + 1j * lr * (_SX * d[1] - _SY * d[0])
        M = _np.zeros((4, 4), complex)
        M[0:2, 2:4] = block
        hb.bond(R, M)
    for sub in (0, 1):
        for R in _NNN:
            nu = _chirality(lattice, pos, sub, R)
            M = _np.zeros((4, 4), complex)
            M[2 * sub:2 * sub + 2, 2 * sub:2 * sub + 2] = 1j * lso * nu * _SZ
            hb._add(R, M)
    model = TightBinding(lattice, pos4, hb.hop, convention="positions")
    return _finish(model, "kane_mele", {"t": t, "lambda_so": lso, "lambda_r": lr, "lambda_v": lv, "a": a})


# --------------------------------------------------------------------------- 1D and 3D


def rice_mele(t=1.0, delta_t=0.3, staggered=0.2, a=1.0):
    """Rice-Mele chain: two sites per cell, A at 0 and B at a/2.

    .. math::
        H = \\sum_n [(t + \\delta t)\\, c_{A,n}^\\dagger c_{B,n} + (t - \\delta t)\\, c_{B,n}^\\dagger c_{A,n+1} + h.c.]
            + \\Delta \\sum_n (c_{A,n}^\\dagger c_{A,n} - c_{B,n}^\\dagger c_{B,n})

    .. math::
        H(k) = 2t\\cos\\frac{ka}{2}\\,\\sigma_x - 2\\delta t \\sin\\frac{ka}{2}\\,\\sigma_y + \\Delta\\,\\sigma_z

    Parameters
    ----------
    t : float
        Mean hopping (eV); intra-cell bond t + delta_t, inter-cell bond t - delta_t.
    delta_t : float
        Dimerization (eV).
    staggered : float
        On-site energy +Delta on A, -Delta on B (eV).
    a : float
        Lattice constant (Angstrom).
    """
    t, dt, st, a = _real("t", t), _real("delta_t", delta_t), _real("staggered", staggered), _positive("a", a)
    hb = _Hoppings(1, 2)
    hb.onsite(st * _SZ)
    intra = _np.zeros((2, 2), complex)
    intra[0, 1] = t + dt
    hb.bond((0,), intra)
    inter = _np.zeros((2, 2), complex)
    inter[1, 0] = t - dt                                          # B in cell 0 -> A in cell 1
    hb.bond((1,), inter)
    model = TightBinding([[a]], [[0.0], [0.5]], hb.hop, convention="positions")
    return _finish(model, "rice_mele", {"t": t, "delta_t": dt, "staggered": st, "a": a})


def weyl_semimetal(t=1.0, k0=_np.pi / 2, m=1.0, tilt=0.0, tilt_y=0.0, tilt_z=0.0, a=1.0):
    """Two-band Weyl semimetal on the cubic lattice with two Weyl nodes at :math:`(\\pm k_0/a, 0, 0)`.

    .. math::
        H(k) = t\\,\\{[\\cos k_x a - \\cos k_0 + m(2 - \\cos k_y a - \\cos k_z a)]\\,\\sigma_x
               + \\sin k_y a\\,\\sigma_y + \\sin k_z a\\,\\sigma_z\\}
               + (w_x \\sin k_x a + w_y \\sin k_y a + w_z \\sin k_z a)\\,\\sigma_0

    Inversion :math:`\\sigma_x H(-k)\\sigma_x = H(k)` holds without tilt; time reversal is broken.
    The nodes are the only band touchings when :math:`m > (1 + \\cos k_0)/2`. Tilt velocity at
    both nodes: :math:`a\\,(w_x\\cos k_0, w_y, w_z)` (so ``tilt`` along x does nothing at
    linear order for k0 = pi/2; use ``tilt_y``/``tilt_z`` or another k0).

    Parameters
    ----------
    t : float
        Energy scale (eV).
    k0 : float
        Node position :math:`k_0` in units of 1/a (radians), 0 < k0 < pi.
    m : float
        Dimensionless mass (units of t) that gaps the other time-reversal-invariant momenta.
    tilt, tilt_y, tilt_z : float
        Tilt amplitudes :math:`w_x, w_y, w_z` (eV).
    a : float
        Lattice constant (Angstrom).
    """
    t, k0, m, a = _real("t", t), _real("k0", k0), _real("m", m), _positive("a", a)
    w = [_real("tilt", tilt), _real("tilt_y", tilt_y), _real("tilt_z", tilt_z)]
    hb = _Hoppings(3, 2)
    hb.onsite(t * (2 * m - _math.cos(k0)) * _SX)
    hb.bond((1, 0, 0), t * _SX / 2 + w[0] * _S0 / 2j)
    hb.bond((0, 1, 0), -t * m * _SX / 2 + t * _SY / 2j + w[1] * _S0 / 2j)
    hb.bond((0, 0, 1), -t * m * _SX / 2 + t * _SZ / 2j + w[2] * _S0 / 2j)
    model = TightBinding(a * _np.eye(3), [[0, 0, 0], [0, 0, 0]], hb.hop, convention="positions")
    return _finish(model, "weyl_semimetal",
                   {"t": t, "k0": k0, "m": m, "tilt": w[0], "tilt_y": w[1], "tilt_z": w[2], "a": a})


# --------------------------------------------------------------------------- registry

MODELS = {
    "massive_dirac": massive_dirac,
    "tilted_dirac": tilted_dirac,
    "qi_wu_zhang": qi_wu_zhang,
    "haldane": haldane,
    "kane_mele": kane_mele,
    "rice_mele": rice_mele,
    "pt_antiferromagnet": pt_antiferromagnet,
    "weyl_semimetal": weyl_semimetal,
}

ALIASES = {"qwz": "qi_wu_zhang", "dirac": "massive_dirac", "cumnas": "pt_antiferromagnet",
           "weyl": "weyl_semimetal"}


def get(name: str, **params) -> Model:
    """Build the zoo model ``name`` with keyword parameters.

    Names are case-insensitive and may use '-' for '_'; aliases: ``qwz``, ``dirac``,
    ``cumnas``, ``weyl``. Raises :class:`ModelError` listing the valid names for an unknown
    model, and the valid parameters for an unknown parameter.
    """
    key = _model_key(name)
    func = MODELS[key]
    valid = list(_inspect.signature(func).parameters)
    unknown = [p for p in params if p not in valid]
    if unknown:
        raise ModelError(f"model {key!r} has no parameter(s) {unknown}; valid parameters: {', '.join(valid)}.")
    return func(**params)


def _model_key(name: str) -> str:
    """Registry key of a model name (case-insensitive, '-' or ' ' for '_', aliases resolved)."""
    key = str(name).strip().lower().replace("-", "_").replace(" ", "_")
    key = ALIASES.get(key, key)
    if key not in MODELS:
        raise ModelError(f"unknown model {name!r}; valid names: {', '.join(sorted(MODELS))} "
                         f"(aliases: {', '.join(sorted(ALIASES))}).")
    return key


def parameters(name: str) -> dict:
    """Default parameter values ``{name: default}`` of a zoo model."""
    key = _model_key(name)
    return {p.name: p.default for p in _inspect.signature(MODELS[key]).parameters.values()}


__all__ = ["MODELS", "ALIASES", "get", "parameters"] + list(MODELS)


def __dir__():
    """The public names only (the models, the registry and its helpers), not the imported modules."""
    return sorted(__all__)
