"""Phase-space band geometry and the phase-space current from the star diagonalization.

Models with a position matrix (Wannier90) are refused by :class:`PhaseSpaceModel` (``MOYAL_NEEDS``): the
engine's x is the position operator of the orbital basis, while the Wannier basis has r = x + A^W(k).

Variables and indices
---------------------
Phase-space variables ``ξ = (x_1..x_d, k_1..k_d[, t])`` in the order of
:attr:`qkinetics.moyal.PhaseSpace.variables` (Å, 1/Å, and t in whatever unit the user's H uses);
Greek indices below run over all of them (t included), the symplectic form
:math:`\\epsilon^{x_ik_j} = \\delta_{ij} = -\\epsilon^{k_jx_i}` pairs only x and k. The formal ħ is 1
in the library units (``[x, k] = i``), so every order is returned separately.

Model
-----
:class:`PhaseSpaceModel` holds a matrix-valued phase-space Hamiltonian H(x, k, t):

* separable: a band :class:`~qkinetics.models.base.Model` H_0(k) plus a scalar potential V(x, t)
  (``H = H_0(k) + V(x, t) 1``, V in eV; for the electron V = -eφ), V a callable on jets
  ``V(x_1, .., x_d[, t])`` or a sympy expression in the :class:`PhaseSpace` symbols;
* general: H a sympy Matrix in ``coords.variables``, a callable on jets
  ``H(x_1, .., k_1, ..[, t])`` (:meth:`qkinetics.moyal.jet.Jet.from_function`), or a callable
  ``H(points, order)`` returning the derivative arrays ``(H, dH, d2H, ...)`` over all variables
  (layout of :func:`qkinetics.moyal.jet.jet_from_derivatives`).

:meth:`PhaseSpaceModel.jet` gives the exact Taylor jet of H at a batch of points.

Geometry (:func:`phase_space_geometry`)
---------------------------------------
From :func:`qkinetics.moyal.diagonalize.star_diagonalize_jet` (``U = U_0 + ħU_1 + ..``,
:math:`A_\\alpha = \\mathrm{diag}\\,iU^\\dagger\\star\\partial_\\alpha U = A^{(0)}_\\alpha + \\hbar A^{(1)}_\\alpha`):

* band energy h_0, h_1, h_2 (gauge invariant, as defined in :mod:`.diagonalize`);
* zeroth-order phase-space Berry curvature, for every pair of variables (x, k and t),

  .. math:: \\Omega^{(0)}_{\\alpha\\beta} = \\partial_\\alpha A^{(0)}_\\beta - \\partial_\\beta A^{(0)}_\\alpha
            = -2\\,\\mathrm{Im}\\,Q_{\\alpha\\beta},

  computed as the curl of the Berry-connection jets (exact Taylor arithmetic);
* zeroth-order phase-space quantum metric :math:`g_{\\alpha\\beta} = \\mathrm{Re}\\,Q_{\\alpha\\beta}` from the
  quantum geometric tensor of the pointwise eigenvectors (columns of U_0),
  :math:`Q^n_{\\alpha\\beta} = \\langle\\partial_\\alpha u_n|(1-|u_n\\rangle\\langle u_n|)|\\partial_\\beta u_n\\rangle`.
  Both reduce on the k-k block to :func:`qkinetics.geometry.band_geometry`'s ``berry_curvature`` and
  ``quantum_metric`` (tested);
* the O(ħ) correction :math:`\\Omega^{(1)}` (``berry_curvature_1``, needs order >= 2 and Taylor
  degree >= 3). A^(1) is gauge dependent and the plain curl of A is not gauge invariant at O(ħ).
  What is included, precisely: the star-covariant field strength
  :math:`F_{\\alpha\\beta} = \\partial_\\alpha A_\\beta - \\partial_\\beta A_\\alpha - i[A_\\alpha, A_\\beta]_\\star`
  (it transforms as :math:`F\\to\\Phi^\\dagger\\star F\\star\\Phi`), whose O(ħ) part is

  .. math:: F^{(1)}_{\\alpha\\beta} = \\partial_\\alpha A^{(1)}_\\beta - \\partial_\\beta A^{(1)}_\\alpha
            + \\{A^{(0)}_\\alpha, A^{(0)}_\\beta\\},\\qquad \\{a, b\\} = \\epsilon^{\\mu\\nu}\\partial_\\mu a\\,\\partial_\\nu b,

  and, exactly as for the band energy (:mod:`.diagonalize`: the gauge-invariant function is the one
  whose Weyl form in the covariant coordinates :math:`\\pi = \\xi + \\hbar\\epsilon A` is F),
  :math:`F(\\xi) = \\Omega(\\xi + \\hbar a)`, :math:`a^\\mu = \\epsilon^{\\mu\\nu}A^{(0)}_\\nu`, so

  .. math:: \\Omega^{(1)}_{\\alpha\\beta} = F^{(1)}_{\\alpha\\beta} - a^\\mu\\partial_\\mu\\Omega^{(0)}_{\\alpha\\beta}.

  Gauge invariance under random band phases at orders ħ^0 and ħ^1 is tested, and in the separable
  case :math:`\\Omega^{(1)}_{k_ik_j} = \\partial_{k_i}(G^{jl}\\partial_lV) - \\partial_{k_j}(G^{il}\\partial_lV)`,
  :math:`\\Omega^{(1)}_{x_ik_j} = G^{jl}\\partial_i\\partial_lV`, :math:`\\Omega^{(1)}_{x_ix_j} = 0`
  (G the band-normalized metric) is checked against :mod:`qkinetics.geometry`. No O(ħ) quantum metric.

Current to first order (:func:`phase_space_current`)
----------------------------------------------------
For a band-diagonal distribution f (per band, a jet or a callable on jets), with :math:`W = \\epsilon^{\\mu\\nu}\\Omega^{(0)}_{\\mu\\nu}`
and the reading of ``reference/talk-formulas.md`` (``convention="talk"``),

.. math::
    J^a = \\epsilon^{ab} f\\,\\partial_b(h_0 + \\hbar h_1)
          + \\hbar\\,\\epsilon^{ab} f\\,\\big(s\\,\\epsilon^{cd}\\partial_c h_0\\,\\Omega_{db} + s_t\\Omega_{tb}
          - \\tfrac{c_D}{2} W\\,\\partial_b h_0\\big) + O(\\hbar^2)

with ``s = +1, s_t = -1, c_D = 0`` for ``convention="talk"`` (literally the first-order formula of
talk-formulas.md) and ``s = -1, s_t = +1, c_D = 1`` for ``convention="liouville"``: the Liouville current of the covariant
coordinates, :math:`J = \\rho f \\{\\pi^a, \\pi^b\\}\\partial_b h` with
:math:`\\{\\pi^a,\\pi^b\\} = \\epsilon^{ab} + \\hbar\\epsilon^{a\\mu}\\epsilon^{b\\nu}\\Omega_{\\mu\\nu}` (our π) and phase-space
density of states :math:`\\rho = \\det\\{\\pi,\\pi\\}^{-1/2} = 1 - \\tfrac{\\hbar}{2}W` (the talk's factor).
For a static f = f0(h) the divergence of the ``"liouville"`` current vanishes at O(ħ) (tested in
d = 2; in d = 1 its O(ħ) term vanishes identically, since ρ{π, π} = ε there); that of the
literal ``"talk"`` reading is :math:`\\tfrac{\\hbar}{2}f\\{h_0, W\\}` (both verified numerically), so the
literal reading is divergence-free only where :math:`\\{h_0, W\\} = 0` (e.g. the separable case, W = 0).
In the separable case the ``"liouville"`` sign gives the standard anomalous velocity
:math:`\\dot x_i = \\partial_{k_i}h + \\hbar\\Omega_{k_ik_j}\\partial_{x_j}V` (Xiao, Chang, Niu, RMP 82, 1959
(2010), with Ω = ∂A - ∂A, A = i<u|∂u>, force -∇V), tested; the literal reading has the opposite sign.
Both differences are what a global sign flip Ω_talk = -Ω_ours (with ε_{mn} = -ε^{mn} in the density
of states) would produce. The time term :math:`s_t = +1` (RMP: :math:`\\dot x = \\partial_k\\varepsilon - \\Omega_{kt}`)
is checked at O(ħ²) for H_0(k) + V(x, t) (below); a first-order test with Ω⁽⁰⁾_t ≠ 0 is not made.

Current to second order (``order=2``)
-------------------------------------
*Derivation of the* ``"liouville"`` *current.* In the canonical coordinates ξ the band-diagonal symbols obey
the Moyal equation :math:`\\partial_t\\tilde f = \\{\\tilde h, \\tilde f\\} - \\tfrac{\\hbar^2}{24}P^3(\\tilde h, \\tilde f)`,
:math:`P^3(a, b) = \\epsilon^{ab}\\epsilon^{cd}\\epsilon^{mn}\\partial_{acm}a\\,\\partial_{bdn}b`. With
:math:`\\tilde h = h\\circ\\pi + O(\\hbar^3)` and :math:`\\tilde f = f\\circ\\pi + O(\\hbar^3)` (the covariant
coordinates π = ξ + ħa define the gauge-invariant h and f alike), the Poisson bracket in ξ becomes
:math:`P^{cd}\\partial_ch\\,\\partial_df` with :math:`P^{cd} = \\{\\pi^c, \\pi^d\\} = \\epsilon^{cd} +
\\hbar\\epsilon^{c\\mu}\\epsilon^{d\\nu}(\\Omega^{(0)} + \\hbar\\Omega^{(1)})_{\\mu\\nu}` and P³ keeps its form at
this order. The conserved density is ρf with the Liouville measure
:math:`\\rho = \\det(1 - \\hbar\\Omega\\epsilon)^{-1/2} = 1 - \\tfrac{\\hbar}{2}W + \\hbar^2(\\tfrac18W^2 + \\tfrac14\\mathrm{tr}N^2)`,
:math:`N_\\mu{}^\\beta = \\Omega_{\\mu\\nu}\\epsilon^{\\nu\\beta}` (W and N from Ω^(0); W^(1) from Ω^(1) at O(ħ²)), and

.. math::
    \\partial_t(\\rho f) + \\partial_aJ^a = 0,\\qquad
    J^a = \\rho f\\,\\big(P^{ab}\\partial_bh + \\hbar\\,\\epsilon^{ab}\\Omega_{tb}\\big)
          - \\tfrac{\\hbar^2}{24}\\epsilon^{ab}\\epsilon^{cd}\\epsilon^{mn}\\partial_c\\partial_m\\big[f\\,\\partial_b\\partial_d\\partial_nh\\big]

truncated at O(ħ²), with h = h_0 + ħh_1 + ħ²h_2. ``J2`` holds the O(ħ²) remainder: the density of states
at O(ħ²) and its cross terms, the anomalous velocity of h_1 and of Ω^(1), and the Moyal term. The quantum
metric enters through h_2 and Ω^(1) (and through observables such as the density of
:mod:`qkinetics.kinetics.equilibrium`), not through extra terms in the flow. Checks (tests): for
:math:`f = f(h)_\\star` to O(ħ²) (Fermi function of h plus the Wigner-Kirkwood term of
:func:`qkinetics.kinetics.equilibrium.star_function_terms`) the divergence vanishes at orders ħ⁰, ħ¹, ħ²
on general non-separable H(x, k) in d = 1 and 2 (without the Wigner-Kirkwood term it does not); with one
band the Moyal term's divergence equals the symbolic star product's P³/24; in a uniform field the O(E²)
velocity is :math:`\\partial_ah_2 + \\Omega^{(1)}_{k_ak_j}E_j`, the (b, c)-symmetrized
:math:`\\tfrac12\\partial_aG^{bc} - \\tfrac12(\\partial_bG^{ac} + \\partial_cG^{ab})` (the λ = 1/2 member of
the τ⁰ family, :mod:`.uniform_field`); a static chain without time reversal carries no net current at
O(ħ²). The time terms, for H_0(k) + V(x, t) (tests/test_kinetics_order2_dynamic.py): Ω⁽¹⁾_tk = G∂_t∂_xV and
Ω⁽¹⁾_tx = 0 (G from :func:`qkinetics.geometry.band_geometry`, 1e-12); the current with t minus that with t
frozen is f G∂_tV' in J^x only, so ∂_tρ + ∂_x(G∂_tV') = 0 keeps f = 1 a solution; the kinetic solver built on
it reproduces the multiband Lindhard function with an O(q⁴) difference (:mod:`qkinetics.kinetics.solver`).

*The literal reading* (``"talk"``, order 2): ``reference/talk-formulas.md`` adds to the first line the
metric term :math:`\\tfrac{\\hbar^2}{2}\\epsilon^{ab}\\epsilon^{cd}\\epsilon^{mn}f\\partial^2_{cm}h\\,\\partial_dg_{nb}`
and the line :math:`\\hbar^2\\epsilon^{ab}\\epsilon^{cd}\\partial_c[f(\\tfrac12\\epsilon^{mn}\\partial_mh\\,\\partial_ng_{bd}
- \\tfrac12\\partial_tg_{bd} + \\epsilon^{mn}\\partial^2_{mb}h\\,g_{nd})]`, with the DOS factor only on the
anomalous term. Implemented as read, it does not leave the O(ħ²) equilibrium stationary (divergence
O(ħ) and O(ħ²)), and for H_0(k) + V(x) in 1D its metric terms add
:math:`\\partial_x[\\tfrac12 f'V'^2\\partial_kg - f'\\varepsilon'V''g]` to the divergence, so a chain without
time reversal would carry an O(q²) equilibrium current. Either the extraction garbled the indices
(a term whose inner tensor is symmetric in (b, d) is not a curl) or the talk's f and J are defined
differently; the library keeps the reading under its name and uses ``"liouville"``.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import sympy as sp

from ..models.tight_binding import check_diagonal_positions
from .diagonalize import JetStarDiagonalization, star_diagonalize_jet
from .jet import Jet, jet_from_derivatives, jet_from_sympy, jet_space
from .star import PhaseSpace

#: why a band model with a position matrix is refused (module docstring, "Models with a position matrix")
MOYAL_NEEDS = (
    "the star diagonalization takes x as the position operator of the orbital basis, but in the Wannier basis "
    "r = x + A^W(k), so the phase-space symbol of H_0(k) + V(r) is H_0(k) + V(x) + A^W(k).grad V(x) + (1/2) "
    "<r_a r_b> d_a d_b V(x) + ...: its O(hbar) part is a k-dependent matrix term that the recursion (an hbar-free "
    "symbol) does not take, and its O(hbar^2) part needs the second moments <m,0|r_a r_b|n,R> between Wannier "
    "functions, which a Wannier run does not give. The kinetic solver at orders 0 and 1 uses the band geometry "
    "with the position block instead.")

__all__ = ["PhaseSpaceModel", "PhaseSpaceGeometry", "phase_space_geometry", "phase_space_current",
           "PhaseSpaceCurrent", "poisson_bracket_jet", "fermi_jet"]


# ============================================================================ model

class PhaseSpaceModel:
    """Matrix-valued phase-space Hamiltonian H(x, k[, t]) (module docstring).

    Parameters
    ----------
    model : Model, optional
        Band model H_0(k) (separable case; exact k-derivatives up to order 3).
    potential : callable or sympy expression, optional
        Scalar V(x[, t]) in eV, added times the identity: a callable on jets
        ``V(x_1, .., x_d[, t])`` or a sympy expression in ``coords.x`` (and ``coords.t``).
        Default 0 (with ``model``).
    hamiltonian : sympy Matrix or callable, optional
        General H(x, k[, t]): sympy Matrix in ``coords.variables`` or a callable on jets
        ``H(x_1, .., k_1, ..[, t])`` returning a (B, N, N) jet. Exclusive with ``model``.
    derivatives : callable, optional
        General H given as ``derivatives(points, order) -> (H, dH, d2H, ...)`` with shapes
        ``(B, N, N)``, ``(B, nvar, N, N)``, ... over all variables. Exclusive with the others.
    dim : int, optional
        Spatial dimension d (taken from ``model``; required for the general case unless
        ``coords`` is given).
    time : bool
        Declare a time variable (points then carry t as the last column).
    coords : PhaseSpace, optional
        Coordinates (default ``PhaseSpace(dim, time)``).
    """

    def __init__(self, model=None, potential=None, *, hamiltonian=None, derivatives=None, dim=None,
                 time: bool = False, coords: PhaseSpace | None = None):
        given = [model is not None, hamiltonian is not None, derivatives is not None]
        if sum(given) != 1:
            raise ValueError("Give exactly one of model (separable, with potential), hamiltonian or derivatives.")
        if potential is not None and model is None:
            raise ValueError("potential goes with a band model (separable case); include it in hamiltonian otherwise.")
        if coords is None:
            d = model.dim if model is not None else dim
            if d is None:
                raise ValueError("Give dim (or coords) for a general phase-space Hamiltonian.")
            coords = PhaseSpace(d, time=time)
        if model is not None and coords.dim != model.dim:
            raise ValueError(f"coords has dim {coords.dim}, the model {model.dim}.")
        if model is not None:
            check_diagonal_positions(model, "the Moyal engine", MOYAL_NEEDS)
        self.coords = coords
        self.model, self.potential = model, potential
        self.hamiltonian, self.derivatives = hamiltonian, derivatives
        if isinstance(hamiltonian, sp.MatrixBase):
            extra = hamiltonian.free_symbols - set(coords.variables)
            if extra:
                raise ValueError(f"The sympy Hamiltonian has symbols outside {coords.variables}: {sorted(map(str, extra))}.")
        if potential is not None and not callable(potential):
            potential = sp.sympify(potential)
            allowed = set(coords.x) | ({coords.t} if coords.t is not None else set())
            extra = potential.free_symbols - allowed
            if extra:
                raise ValueError(f"The potential may depend on {sorted(map(str, allowed))} only; "
                                 f"got {sorted(map(str, extra))}.")
            self.potential = potential

    @property
    def dim(self) -> int:
        return self.coords.dim

    @property
    def nvar(self) -> int:
        return self.coords.nvar

    @property
    def separable(self) -> bool:
        return self.model is not None

    def check_points(self, points) -> np.ndarray:
        points = np.atleast_2d(np.asarray(points, dtype=float))
        if points.ndim != 2 or points.shape[1] != self.nvar:
            raise ValueError(f"points must have shape (B, {self.nvar}) = {self.coords.variables}; got {points.shape}.")
        return points

    def jet(self, points, degree: int = 3) -> Jet:
        """Exact Taylor jet (B, N, N) of H about ``points`` (B, nvar), to ``degree``."""
        points = self.check_points(points)
        nv, d = self.nvar, self.dim
        if self.hamiltonian is not None:
            if isinstance(self.hamiltonian, sp.MatrixBase):
                return jet_from_sympy(self.hamiltonian, self.coords, points, degree)
            return Jet.from_function(self.hamiltonian, points, degree)
        if self.derivatives is not None:
            ders = self.derivatives(points, degree)
            if len(ders) < degree + 1:
                raise ValueError(f"derivatives() returned {len(ders)} arrays; degree {degree} needs {degree + 1}.")
            return jet_from_derivatives(list(ders)[: degree + 1], degree)
        # separable: H_0(k) embedded in (x, k[, t]) plus V(x[, t]) 1
        if degree > self.model.max_derivative_order:
            raise ValueError(f"{type(self.model).__name__} models give k-derivatives up to order "
                             f"{self.model.max_derivative_order}: degree must be <= {self.model.max_derivative_order}.")
        space = jet_space(nv, degree)
        Hk = jet_from_derivatives(self.model.hamiltonian(points[:, d:2 * d], order=degree)[: degree + 1], degree)
        coef = np.zeros((space.count[degree],) + Hk.shape, dtype=complex)
        tail = (0,) * (nv - 2 * d)
        for i, mon in enumerate(Hk.space.monomials):
            coef[space.index[(0,) * d + mon + tail]] = Hk.coef[i]
        H = Jet(space, coef, degree)
        if self.potential is None:
            return H
        if callable(self.potential):
            xi = [*range(d)] + ([2 * d] if self.coords.t is not None else [])
            V = Jet.from_function(lambda *v: self.potential(*[v[i] for i in xi]), points, degree)
        else:
            V = jet_from_sympy(self.potential, self.coords, points, degree)
        V = Jet(space, V.coef.real.astype(complex) if np.iscomplexobj(V.coef) else V.coef, V.deg)
        return H + V[..., None, None] * np.eye(self.model.norb)

    def __repr__(self):
        kind = "separable" if self.separable else "general"
        return f"<PhaseSpaceModel {kind}: {self.coords}>"


# ============================================================================ helpers

def _poisson_np(coords: PhaseSpace) -> np.ndarray:
    return np.array(coords.poisson, dtype=float)


def poisson_bracket_jet(a: Jet, b: Jet, coords: PhaseSpace) -> Jet:
    """:math:`\\{a, b\\} = \\epsilon^{\\mu\\nu}\\partial_\\mu a\\,\\partial_\\nu b` for element-wise jets (symplectic
    indices only; t never enters)."""
    out = None
    for mu, nu, e in coords.pairs:
        t = a.diff(mu) * b.diff(nu) * float(e)
        out = t if out is None else out + t
    return out


def fermi_jet(h: Jet, mu: float, kT: float) -> Jet:
    """Fermi function :math:`1/(e^{(h-\\mu)/k_BT} + 1)` of a jet (exact Taylor composition)."""
    from .jet import exp
    return (exp((h - mu) * (1.0 / kT)) + 1.0).reciprocal()


# ============================================================================ geometry

@dataclass
class PhaseSpaceGeometry:
    """Result of :func:`phase_space_geometry` at B points (arrays indexed [point, band, ...]).

    Attributes
    ----------
    coords : PhaseSpace
    points : (B, nvar)
    h : (order+1, B, N) gauge-invariant band energy h_0, h_1, h_2 (eV).
    berry_curvature : (B, N, nvar, nvar) Ω^(0)_{αβ}, indices over ``coords.variables``.
    quantum_metric : (B, N, nvar, nvar) g^(0)_{αβ}.
    berry_curvature_1 : (B, N, nvar, nvar) or None, the gauge-invariant O(ħ) correction Ω^(1).
    star : JetStarDiagonalization (jets of U, h~, A, h).
    curvature_jets : nested list [α][β] of (B, N) jets of Ω^(0) (degree D - 2).
    curvature_1_jets : nested list [α][β] of (B, N) real jets of Ω^(1) (degree D - 3), or None.
    metric_jets : nested list [α][β] of (B, N) real jets of g^(0) (degree D - 1).
    """

    coords: PhaseSpace
    points: np.ndarray
    h: np.ndarray
    berry_curvature: np.ndarray
    quantum_metric: np.ndarray
    berry_curvature_1: np.ndarray | None
    star: JetStarDiagonalization = field(repr=False)
    curvature_jets: list = field(repr=False)
    curvature_1_jets: list | None = field(repr=False, default=None)
    metric_jets: list | None = field(repr=False, default=None)

    def block(self, name: str, rows: str, cols: str) -> np.ndarray:
        """Sub-block of ``berry_curvature``, ``quantum_metric`` or ``berry_curvature_1`` by variable
        kinds 'x', 'k', 't', e.g. ``geo.block("berry_curvature", "k", "k")`` (B, N, d, d)."""
        arr = getattr(self, name)
        d = self.coords.dim
        sl = {"x": slice(0, d), "k": slice(d, 2 * d), "t": slice(2 * d, 2 * d + 1)}
        if rows == "t" or cols == "t":
            if self.coords.t is None:
                raise ValueError("No time variable declared.")
        return arr[:, :, sl[rows], sl[cols]]


def _as_jet(H, points, degree, coords):
    if isinstance(H, PhaseSpaceModel):
        return H.jet(points, degree), H.coords
    if isinstance(H, Jet):
        return H, coords
    if isinstance(H, sp.MatrixBase):
        coords = coords or PhaseSpace(points.shape[1] // 2, time=bool(points.shape[1] % 2))
        return jet_from_sympy(H, coords, points, degree), coords
    if callable(H):
        return Jet.from_function(H, points, degree), coords
    raise TypeError("model must be a PhaseSpaceModel, a Jet, a sympy Matrix or a callable on jets.")


def phase_space_geometry(model, points, order: int = 2, *, degree: int | None = None,
                         coords: PhaseSpace | None = None, gauge=None, gap_tol: float = 1e-9) -> PhaseSpaceGeometry:
    """Band energy to O(ħ^order) and phase-space Berry curvature / quantum metric at a batch of points.

    Parameters
    ----------
    model : PhaseSpaceModel (or a Jet / sympy Matrix / jet callable of H)
    points : (B, nvar) phase-space points (x, k[, t]).
    order : int
        ħ order of the star diagonalization (h up to min(order, 2)).
    degree : int, optional
        Taylor degree of H (default ``max(order + 1, 2)``, i.e. 3 for order 2). Ω^(0) needs 2,
        Ω^(1) needs order >= 2 and degree >= 3.
    gauge : passed to :func:`star_diagonalize_jet` (results are gauge invariant; for tests).

    Returns
    -------
    PhaseSpaceGeometry
    """
    points = np.atleast_2d(np.asarray(points, dtype=float))
    degree = max(order + 1, 2) if degree is None else degree
    if degree < 2:
        raise ValueError("The Berry curvature needs a Taylor degree >= 2.")
    Hj, coords = _as_jet(model, points, degree, coords)
    res = star_diagonalize_jet(Hj, order, coords, gauge=gauge, gap_tol=gap_tol)
    coords = res.coords
    nv = coords.nvar
    A0 = res.berry_connection[0] if res.berry_connection else None
    if A0 is None:                                       # order 0: A^(0) from U_0 directly
        U0 = res.U[0]
        A0 = [(U0.H @ U0.diff(v) * 1j).diagonal() for v in range(nv)]
    Om = [[None] * nv for _ in range(nv)]
    for a in range(nv):
        for b in range(nv):
            Om[a][b] = A0[b].diff(a) - A0[a].diff(b) if a != b else A0[a].diff(a) * 0.0
    curv = np.real(np.stack([np.stack([Om[a][b].value for b in range(nv)], -1) for a in range(nv)], -2))

    # quantum geometric tensor of the pointwise eigenvectors
    U0 = res.U[0]
    dU = np.stack([U0.diff(v).value for v in range(nv)], 1)             # (B, nv, N, N)
    U0v = U0.value
    ov = np.einsum("bin,bain->ban", U0v.conj(), dU)                       # <u_n|d_a u_n>
    Q = np.einsum("bain,bcin->bnac", dU.conj(), dU) - np.einsum("ban,bcn->bnac", ov.conj(), ov)
    metric = Q.real

    # the same metric as jets (degree D - 1), for the O(ħ²) current
    dUj = [U0.diff(v) for v in range(nv)]
    ovj = [(U0.H @ dUj[v]).diagonal() for v in range(nv)]
    gj = [[((dUj[a].H @ dUj[b]).diagonal() - ovj[a].conj() * ovj[b]).real for b in range(nv)] for a in range(nv)]

    curv1 = curv1_jets = None
    if order >= 2 and degree >= 3:
        A1 = res.berry_connection[1]
        eps = _poisson_np(coords)
        nsym = 2 * coords.dim
        a0 = [sum(A0[nu] * eps[mu, nu] for nu in range(nsym) if eps[mu, nu] != 0) for mu in range(nsym)]
        out = np.zeros_like(curv)
        curv1_jets = [[None] * nv for _ in range(nv)]
        for a in range(nv):
            for b in range(a + 1, nv):
                F1 = (A1[b].diff(a) - A1[a].diff(b)) + poisson_bracket_jet(A0[a], A0[b], coords)
                shift = None
                for mu in range(nsym):
                    t = a0[mu] * Om[a][b].diff(mu)
                    shift = t if shift is None else shift + t
                jet_ab = (F1 - shift).real
                curv1_jets[a][b], curv1_jets[b][a] = jet_ab, -jet_ab
                out[..., a, b] = np.real(jet_ab.value)
                out[..., b, a] = -out[..., a, b]
            curv1_jets[a][a] = curv1_jets[a][(a + 1) % nv] * 0.0
        curv1 = out
    return PhaseSpaceGeometry(coords=coords, points=points, h=res.h_values(), berry_curvature=curv,
                              quantum_metric=metric, berry_curvature_1=curv1, star=res, curvature_jets=Om,
                              curvature_1_jets=curv1_jets, metric_jets=gj)


# ============================================================================ current

@dataclass
class PhaseSpaceCurrent:
    """Phase-space current (module docstring), per symplectic index a = (x_i, k_i), by explicit ħ order.

    Attributes
    ----------
    J0 : list of 2d jets (B, N): ε^{ab} f ∂_b h, h = h_0 + ħh_1 (+ ħ²h_2 at order 2), with ``hbar``.
    J1 : list of 2d jets (B, N): the geometric O(ħ) term without the factor ħ.
    J2 : list of 2d jets (B, N) or None: the O(ħ²) remainder without the factor ħ² (order 2).
    hbar : float
    """

    J0: list
    J1: list
    hbar: float
    J2: list | None = None

    def _parts(self, part):
        if part == "J0":
            return [self.J0], [1.0]
        if part == "J1":
            return [self.J1], [1.0]
        if part == "J2":
            if self.J2 is None:
                raise ValueError("This current has no O(hbar^2) part (order 1).")
            return [self.J2], [1.0]
        if part != "total":
            raise ValueError("part must be 'total', 'J0', 'J1' or 'J2'.")
        groups = [self.J0, self.J1] + ([self.J2] if self.J2 is not None else [])
        return groups, [self.hbar ** n for n in range(len(groups))]

    def values(self, part: str = "total") -> np.ndarray:
        """J^a at the points, shape (B, N, 2d): J0 + ħJ1 (+ ħ²J2) for ``part="total"``."""
        groups, w = self._parts(part)
        return sum(wi * np.real(np.stack([j.value for j in js], -1)) for js, wi in zip(groups, w))

    def divergence(self, part: str = "total") -> np.ndarray:
        """∂_a J^a at the points (B, N) (exact, from the jets): 'total', 'J0', 'J1' or 'J2'."""
        groups, w = self._parts(part)
        return sum(wi * np.real(sum(j.diff(a).value for a, j in enumerate(js))) for js, wi in zip(groups, w))


def _add(acc, t):
    return t if acc is None else acc + t


def phase_space_current(geo: PhaseSpaceGeometry, f, *, hbar: float = 1.0,
                        convention: str = "liouville", order: int = 1) -> PhaseSpaceCurrent:
    """Phase-space current of band densities to first or second order in ħ (module docstring).

    Parameters
    ----------
    geo : PhaseSpaceGeometry
        Order >= 1 (>= 2 for ``order=2``). Taylor degrees: the values of the order-1 current need 2,
        its divergence 3; the values of the order-2 current need 5 (the ħ²/24 term has five
        derivatives of h), its divergence 6.
    f : Jet (B, N) or callable
        Band-diagonal distribution: a jet in the variables of ``geo.coords`` or a callable
        ``f(h, *variables)`` on jets (h the (B, N) jet of h_0 + ħ h_1 [+ ħ² h_2]), e.g.
        ``lambda h, *v: fermi_jet(h, mu, kT)``.
    hbar : float
        Formal expansion parameter (1 in the library units); the higher orders of h enter J0 with it.
    convention : 'liouville' or 'talk'
        'talk': literal reading of talk-formulas.md; 'liouville': the Liouville current of the
        covariant coordinates (density of states and anomalous velocity to O(ħ²)) plus the same
        quantum-metric, curl and Moyal terms (module docstring).
    order : 1 or 2
    """
    if convention not in ("liouville", "talk"):
        raise ValueError("convention must be 'liouville' or 'talk'.")
    if order not in (1, 2):
        raise ValueError("order must be 1 or 2.")
    s, cD, st = (-1.0, 1.0, 1.0) if convention == "liouville" else (1.0, 0.0, -1.0)
    coords = geo.coords
    res = geo.star
    if len(res.h) < order + 1:
        raise ValueError(f"phase_space_current(order={order}) needs a geometry of order >= {order}.")
    if order == 2:
        D = res.h[0].deg
        if geo.curvature_1_jets is None or D < 5:
            raise ValueError(f"The O(hbar^2) current needs a geometry of order 2 with Taylor degree >= 5 "
                             f"(got degree {D}): phase_space_geometry(model, points, order=2, degree=5).")
    h0, h1 = res.h[0], res.h[1]
    h = h0 + h1 * hbar
    if order == 2:
        h = h + res.h[2] * hbar ** 2
    if callable(f) and not isinstance(f, Jet):
        from .jet import variables
        f = f(h, *variables(geo.points, h.deg))
    eps = _poisson_np(coords)
    nsym = 2 * coords.dim
    tidx = 2 * coords.dim if coords.t is not None else None
    pairs = [(a, b, float(eps[a, b])) for a in range(nsym) for b in range(nsym) if eps[a, b] != 0]
    Om0 = geo.curvature_jets

    def W_of(Om):
        acc = None
        for m, n, e in pairs:
            acc = _add(acc, Om[m][n] * e)
        return acc

    def flow(hh):                               # ε^{ab} ∂_b hh
        out = [None] * nsym
        for a, b, e in pairs:
            out[a] = _add(out[a], hh.diff(b) * e)
        return out

    def anomalous(hh, Om, time=True):           # ε^{ab} [s ε^{cd} ∂_c hh Ω_db + s_t Ω_tb]
        out = [None] * nsym
        for a, b, e in pairs:
            g = None
            for c, d, e2 in pairs:
                g = _add(g, hh.diff(c) * Om[d][b] * (s * e2))
            if time and tidx is not None:
                g = g + Om[tidx][b] * st
            out[a] = _add(out[a], g * e)
        return out

    W0 = W_of(Om0)
    v0 = flow(h0)
    A0 = anomalous(h0, Om0)
    J0 = [f * vj for vj in flow(h)]
    J1 = [f * (A0[a] - v0[a] * (cD / 2) * W0) if cD else f * A0[a] for a in range(nsym)]
    if order == 1:
        return PhaseSpaceCurrent(J0=J0, J1=J1, hbar=hbar)

    # ---- O(ħ²): density of states, anomalous velocity with h_1 and Ω^(1), then the quantum terms
    Om1 = geo.curvature_1_jets
    W1 = W_of(Om1)
    A1 = [x + y for x, y in zip(anomalous(h1, Om0, time=False), anomalous(h0, Om1))]
    if cD:
        # ρ = det(1 - ħΩε)^(-1/2) = 1 - ħW/2 + ħ²(W²/8 + tr N²/4), N_μ^β = Ω_μν ε^{νβ}
        trN2 = None
        for nu, beta, e1 in pairs:
            for gam, mu, e2 in pairs:
                trN2 = _add(trN2, Om0[mu][nu] * Om0[beta][gam] * (e1 * e2))
        rho2 = W0 * W0 * 0.125 + trN2 * 0.25
        v1 = flow(h1)
        J2 = [f * (A1[a] - A0[a] * (0.5 * W0) - v1[a] * (0.5 * W0) - v0[a] * (0.5 * W1) + v0[a] * rho2)
              for a in range(nsym)]
    else:
        J2 = [f * (A1[a] - A0[a] * (0.5 * W0)) for a in range(nsym)]

    g = geo.metric_jets
    for a, b, e_ab in pairs:
        if not cD:
            # the literal reading's quantum-metric terms (module docstring: they break the stationarity
            # of equilibrium, so the 'liouville' current does not carry them)
            # (1/2) ε^{ab} ε^{cd} ε^{mn} f ∂_c∂_m h ∂_d g_{nb}
            for c, d, e_cd in pairs:
                for m, n, e_mn in pairs:
                    J2[a] = J2[a] + f * h0.diff(c).diff(m) * g[n][b].diff(d) * (0.5 * e_ab * e_cd * e_mn)
            # ε^{ab} ε^{cd} ∂_c [f (½ ε^{mn} ∂_m h ∂_n g_{bd} - ½ ∂_t g_{bd} + ε^{mn} ∂_m∂_b h g_{nd})]
            for c, d, e_cd in pairs:
                inner = None
                for m, n, e_mn in pairs:
                    inner = _add(inner, h0.diff(m) * g[b][d].diff(n) * (0.5 * e_mn))
                    inner = inner + h0.diff(m).diff(b) * g[n][d] * e_mn
                if tidx is not None:
                    inner = inner - g[b][d].diff(tidx) * 0.5
                J2[a] = J2[a] + (f * inner).diff(c) * (e_ab * e_cd)
        # the Moyal term -(1/24) ε^{ab} ε^{cd} ε^{mn} ∂_c∂_m [f ∂_b∂_d∂_n h]
        for c, d, e_cd in pairs:
            for m, n, e_mn in pairs:
                J2[a] = J2[a] - (f * h0.diff(b).diff(d).diff(n)).diff(c).diff(m) * (e_ab * e_cd * e_mn / 24)
    return PhaseSpaceCurrent(J0=J0, J1=J1, hbar=hbar, J2=J2)
