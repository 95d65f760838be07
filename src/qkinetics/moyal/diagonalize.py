"""Star diagonalization of a matrix-valued phase-space Hamiltonian, order by order in ħ.

Problem
-------
Given an N x N Hermitian symbol H(ξ) (ξ = (x, k), t a parameter), find U and a band-diagonal
:math:`\\tilde h` with

.. math::
    U\\star U^\\dagger = 1,\\qquad U\\star\\tilde h\\star U^\\dagger = H
    \\qquad(\\text{equivalently } H\\star U = U\\star\\tilde h,\\ U^\\dagger\\star U = 1)

to a given order in ħ, with :math:`U = \\sum_n \\hbar^n U_n`, :math:`\\tilde h = \\sum_n \\hbar^n\\tilde h_n`.

Recursion (the one the code runs)
---------------------------------
Write :math:`(A\\star B)_a` for the ħ^a term of the star product of ħ-free A, B
(:func:`qkinetics.moyal.star.star_term`). Order 0: :math:`H U_0 = U_0\\tilde h_0`, the pointwise
eigendecomposition (ascending ε_n, columns of U_0 the eigenvectors). Order n >= 1: with
:math:`X_n = U_0^\\dagger U_n`,

.. math::
    S_n &= \\sum_{\\substack{a+b+c=n\\\\(a,b,c)\\ne(0,n,0),(0,0,n)}} (U_b\\star\\tilde h_c)_a
          - \\sum_{a=1}^{n}(H\\star U_{n-a})_a,\\qquad T_n = U_0^\\dagger S_n,\\\\
    K_n &= \\sum_{\\substack{a+b+c=n\\\\(a,b,c)\\ne(0,n,0),(0,0,n)}} (U_b^\\dagger\\star U_c)_a,\\\\
    \\tilde h_{n} &= -\\mathrm{diag}\\,T_n,\\qquad
    (X_n)_{ml} = \\frac{(T_n)_{ml}}{\\varepsilon_m-\\varepsilon_l}\\ (m\\ne l),\\qquad
    (X_n)_{mm} = -\\tfrac12 (K_n)_{mm} + i\\varphi_{n,m},\\qquad U_n = U_0X_n .

The first line is the ħ^n part of :math:`H\\star U = U\\star\\tilde h` projected with U_0^†, the second
the ħ^n part of :math:`U^\\dagger\\star U = 1` (it fixes the Hermitian part of X_n; its off-diagonal
part is then automatically consistent because :math:`[U^\\dagger\\star U, \\tilde h]_\\star = 0`).
The real phases φ_{n,m} (and the phases of the eigenvectors in U_0) are the gauge freedom;
the default is φ = 0. Bands must be non-degenerate at every point used.

Gauge-invariant band energy
---------------------------
:math:`\\tilde h` depends on the gauge: under :math:`U\\to U\\star\\Phi` with Φ diagonal and
star-unitary, :math:`\\tilde h\\to\\Phi^\\dagger\\star\\tilde h\\star\\Phi` (for ħ-free phases
:math:`\\tilde h_1\\to\\tilde h_1 + \\{\\varphi, \\varepsilon\\}`). The phase-space Berry connection
:math:`\\Lambda_\\alpha = iU^\\dagger\\star\\partial_\\alpha U`, :math:`A_\\alpha = \\mathrm{diag}\\,\\Lambda_\\alpha`
transforms as :math:`A\\to\\Phi^\\dagger\\star A\\star\\Phi + i\\Phi^\\dagger\\star\\partial\\Phi`, so the
covariant ("kinetic") coordinates of band n,

.. math:: \\pi^\\alpha = \\xi^\\alpha + \\hbar\\,\\epsilon^{\\alpha\\beta}A_{\\beta},

transform covariantly, :math:`\\hat\\pi\\to\\hat\\Phi^\\dagger\\hat\\pi\\hat\\Phi`, exactly. We **define** the
band energy h_n as the function whose Weyl-symmetrized form in the covariant operators equals
:math:`\\tilde h_n`: :math:`\\mathrm{Op}(\\tilde h_n) = h_n(\\hat\\pi)_{\\mathrm{Weyl}}`. It is gauge
invariant by construction, and because the star exponential of :math:`s\\cdot\\pi` differs from
the ordinary one only by terms containing :math:`\\partial\\partial\\pi = O(\\hbar)` at order ħ²,

.. math:: \\tilde h(\\xi) = h\\big(\\xi + \\hbar\\,a(\\xi)\\big) + O(\\hbar^3),\\qquad a^\\alpha = \\epsilon^{\\alpha\\beta}A_\\beta,

which inverted order by order gives (with :math:`a = a_0 + \\hbar a_1`, A to O(ħ))

.. math::
    h_0 &= \\tilde h_0 = \\varepsilon_n,\\qquad
    h_1 = \\tilde h_1 - a_0^\\alpha\\partial_\\alpha h_0,\\\\
    h_2 &= \\tilde h_2 - a_0^\\alpha\\partial_\\alpha h_1 - a_1^\\alpha\\partial_\\alpha h_0
          - \\tfrac12 a_0^\\alpha a_0^\\beta\\partial_\\alpha\\partial_\\beta h_0 .

First order in closed form (derived from the recursion; tested):

.. math::
    h_{1,n} = -\\tfrac{i}{2}\\epsilon^{\\alpha\\beta}\\langle\\partial_\\alpha u_n|(H-\\varepsilon_n)|\\partial_\\beta u_n\\rangle
            = \\tfrac{i}{2}\\epsilon^{\\alpha\\beta}\\sum_{m\\ne n}\\frac{V^\\alpha_{nm}V^\\beta_{mn}}{\\varepsilon_n-\\varepsilon_m}
            = -\\sum_i\\mathrm{Im}\\sum_{m\\ne n}\\frac{V^{x_i}_{nm}V^{k_i}_{mn}}{\\varepsilon_n-\\varepsilon_m},

with :math:`V^\\alpha_{nm} = \\langle u_n|\\partial_\\alpha H|u_m\\rangle` (phase-space velocity matrix), the
"magnetization-like" companion of the phase-space Berry curvature
:math:`\\Omega_n^{\\alpha\\beta} = -2\\,\\mathrm{Im}\\sum_m V^\\alpha_{nm}V^\\beta_{mn}/(\\varepsilon_n-\\varepsilon_m)^2`
(one power of the gap less; for two bands :math:`h_{1,n} = \\tfrac12(\\varepsilon_n-\\varepsilon_m)\\sum_i\\Omega_n^{x_ik_i}`,
the phase-space analogue of the orbital moment), while
:math:`\\tilde h_{1,n} = h_{1,n} - \\epsilon^{\\alpha\\beta}A_{\\alpha}\\partial_\\beta\\varepsilon_n`.

Separable case H = H_0(k) + V(x) 1 (energy units; V = -e φ for the electron)
-----------------------------------------------------------------------------
Derived by hand from the recursion (gauge Im diag X = 0; 𝒜 = iU_0^†∂_kU_0, V^i = U_0^†∂_{k_i}H_0U_0,
g, G as in :mod:`qkinetics.geometry`, F_i = ∂_{x_i}V):

.. math::
    \\tilde h_{1,n} &= F_i A^{i}_n,\\qquad
    \\tilde h_{2,n} = \\tfrac12 G_n^{ij}F_iF_j + \\tfrac12(g_n^{ij} + A^i_nA^j_n)\\,\\partial_i\\partial_jV,\\\\
    A_{k_i,n} &= A^i_n + \\hbar\\,G_n^{ij}F_j + O(\\hbar^2)\\ \\ (\\text{positional shift}),\\qquad A_{x_i,n} = O(\\hbar^2),

hence the gauge-invariant band energy (the variables are the covariant coordinates
:math:`x^{\\mathrm{cov}}_i = x_i + \\hbar A_{k_i}`, the wave-packet centre)

.. math::
    h_n(x, k) = \\varepsilon_n(k) + V(x)
        - \\frac{\\hbar^2}{2}\\,G_n^{ij}(k)\\,\\partial_iV\\,\\partial_jV
        + \\frac{\\hbar^2}{2}\\,g_n^{ij}(k)\\,\\partial_i\\partial_jV + O(\\hbar^3),
    \\qquad h_{1,n} = 0 .

With V = -eφ, ∂_iV = eE_i: :math:`h_2 = -\\tfrac{e^2}{2}E\\cdot G_n\\cdot E - \\tfrac{e}{2}g_n^{ij}\\partial_iE_j`:
the band-normalized metric times E E and the quantum metric times the field gradient. In terms
of the canonical x the energy is :math:`\\varepsilon + V(x) + \\hbar A\\cdot\\nabla V + \\hbar^2[+\\tfrac12 G F F
+ \\tfrac12 (g + AA)\\partial\\partial V]`: the +½GFF there is the ordinary second-order Stark shift;
the covariant form differs by the dipole energy F·(ħ²GF) of the field-induced positional shift.
:func:`separable_band_energy` evaluates the formula; tests check the recursion against it.

Two implementations
-------------------
* :func:`star_diagonalize`: symbolic (sympy), for small models (2 x 2 closed-form eigenvectors,
  or a supplied eigensystem).
* :func:`star_diagonalize_jet` / :func:`star_band_energies`: numeric, exact order by order, on
  Taylor jets of H at a batch of points (:mod:`qkinetics.moyal.jet`): with H known to degree D
  (derivatives up to order D), U_n and h_n come out to degree D - n, i.e. with their phase-space
  derivatives. D = order suffices for the values of h_1, h_2.

Units: x in Å, k in 1/Å, energies in eV; the formal ħ of the expansion is 1 in these units
(``[x, k] = i``), so h_1 and h_2 are returned in eV.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import sympy as sp

from .jet import Jet, constant, jet_from_sympy, jet_space
from .star import HBAR, PhaseSpace, _Derivatives, bidifferential_terms, from_coefficients, star_term

__all__ = [
    "StarDiagonalization", "star_diagonalize", "JetStarDiagonalization", "star_diagonalize_jet",
    "star_band_energies", "eigen_jet", "jet_star_term", "first_order_band_energy", "separable_band_energy",
    "two_band_eigensystem", "two_band_polar", "separable_hamiltonian_jet",
]


def _triples(n):
    """(a, b, c) with a + b + c = n except (0, n, 0) and (0, 0, n)."""
    return [(a, b, n - a - b) for a in range(n + 1) for b in range(n - a + 1)
            if not (a == 0 and (b == n or b == 0))]


def _gauge_invariant_energy(h_tilde, a, deriv, order):
    """h_0..h_min(order,2) from h~ (per-band objects), a[m][alpha] and a derivative function.

    ``deriv(f, alpha)`` differentiates f by symplectic coordinate alpha; ``a[m][alpha]`` the
    covariant shift a_m^alpha = eps^{alpha beta} A_beta^{(m)}.
    """
    h = [h_tilde[0]]
    nsym = len(a[0]) if a else 0
    if order >= 1:
        h1 = h_tilde[1]
        for al in range(nsym):
            h1 = h1 - a[0][al] * deriv(h[0], al)
        h.append(h1)
    if order >= 2:
        h2 = h_tilde[2]
        for al in range(nsym):
            dh0 = deriv(h[0], al)
            h2 = h2 - a[0][al] * deriv(h[1], al) - a[1][al] * dh0
            for be in range(nsym):
                h2 = h2 - a[0][al] * a[0][be] * deriv(dh0, be) / 2
        h.append(h2)
    return h


# ============================================================================ symbolic

@dataclass
class StarDiagonalization:
    """Result of :func:`star_diagonalize` (sympy objects).

    Attributes
    ----------
    coords : PhaseSpace
    order : int
    energies : list of N expressions ε_n (ascending where decidable).
    U : list ``[U_0, ..., U_order]`` of Matrices, :math:`U = \\sum_n \\hbar^n U_n`.
    h_tilde : list per order of N expressions (diagonal of :math:`\\tilde h_n`), gauge dependent.
    berry_connection : ``berry_connection[m][v][n]``: :math:`A^{(m)}_{v}` of band n for
        m = 0..order-1 and v indexing ``coords.variables`` (x, k, and t if declared).
    h : list per order (<= 2) of N expressions: the gauge-invariant band energy (module docstring).
    """

    coords: PhaseSpace
    order: int
    energies: list
    U: list
    h_tilde: list
    berry_connection: list
    h: list

    def U_series(self, hbar=HBAR):
        """:math:`\\sum_n \\hbar^n U_n`."""
        return from_coefficients(self.U, hbar)

    def h_tilde_matrix(self, hbar=HBAR):
        """:math:`\\tilde h = \\sum_n \\hbar^n \\mathrm{diag}(\\tilde h_n)` as a Matrix."""
        return from_coefficients([sp.diag(*hn) for hn in self.h_tilde], hbar)

    def h_series(self, band: int, hbar=HBAR):
        """:math:`h_n = \\sum_m \\hbar^m h_{m,n}` for one band."""
        return from_coefficients([hm[band] for hm in self.h], hbar)


def two_band_eigensystem(H):
    """Closed-form eigensystem of a 2x2 Hermitian symbolic H = d0 + d·σ.

    ε_∓ = d0 ∓ |d| (ascending) with eigenvectors u_s = (H_01, s|d| - d_z)/sqrt(2|d|(|d| - s d_z)),
    s = -1, +1 (columns of U_0). Singular where d_x = d_y = 0 and s d_z = |d|.
    """
    H = sp.Matrix(H)
    if H.shape != (2, 2):
        raise ValueError("two_band_eigensystem needs a 2x2 matrix.")
    d0 = (H[0, 0] + H[1, 1]) / 2
    dz = (H[0, 0] - H[1, 1]) / 2
    b = H[0, 1]
    d = sp.sqrt(dz**2 + b * sp.conjugate(b))
    cols, energies = [], []
    for s in (-1, 1):
        norm = sp.sqrt(2 * d * (d - s * dz))
        cols.append(sp.Matrix([b / norm, (s * d - dz) / norm]))
        energies.append(d0 + s * d)
    return energies, sp.Matrix.hstack(*cols)


def two_band_polar(d0, m, beta, theta):
    """A generic 2x2 Hermitian H = d0 + m n·σ in polar form, with its eigensystem (no square roots).

    n = (sin β cos θ, sin β sin θ, cos β); ε_∓ = d0 ∓ m (m > 0), eigenvectors
    u_- = (-e^{-iθ} sin(β/2), cos(β/2)), u_+ = (cos(β/2), e^{iθ} sin(β/2)). Any 2x2 Hermitian
    symbol can be written so; the symbolic star diagonalization is far cheaper in this form than
    with the square-root eigenvectors of :func:`two_band_eigensystem`.

    Returns
    -------
    H : Matrix; eigensystem : ([ε_-, ε_+], U0), to pass as ``star_diagonalize(H, eigensystem=...)``.
    """
    c, s = sp.cos(beta / 2), sp.sin(beta / 2)
    e = sp.exp(sp.I * theta)
    H = sp.Matrix([[d0 + m * sp.cos(beta), m * sp.sin(beta) * sp.exp(-sp.I * theta)],
                   [m * sp.sin(beta) * e, d0 - m * sp.cos(beta)]])
    U0 = sp.Matrix([[-s * sp.exp(-sp.I * theta), c], [c, s * e]])
    return H, ([d0 - m, d0 + m], U0)


def star_diagonalize(H, order: int = 2, coords: PhaseSpace | None = None, *, eigensystem=None,
                     gauge=None, simplify=None) -> StarDiagonalization:
    """Symbolic star diagonalization of a Hermitian sympy Matrix H(ξ) (module docstring).

    Parameters
    ----------
    H : sympy Matrix (N, N), Hermitian, hbar-free, in ``coords.variables``.
    order : int
        Highest power of ħ of U and :math:`\\tilde h`; the gauge-invariant h is returned up to
        ``min(order, 2)``.
    coords : PhaseSpace, default ``PhaseSpace(1)``
    eigensystem : (energies, U0), optional
        Pointwise eigenvalues (list) and eigenvector matrix (columns). Default: closed form for
        N = 2 (:func:`two_band_eigensystem`), identity for a diagonal H; otherwise required.
    gauge : list, optional
        ``gauge[0]``: N real functions φ_n, U_0 -> U_0 diag(e^{iφ_n}); ``gauge[m]`` (m >= 1): N real
        functions, the free imaginary diagonal of X_m. Changes U and :math:`\\tilde h`, never h.
    simplify : callable, optional
        Applied element-wise to T_n, K_n and U_n (e.g. ``sympy.simplify``; default none).

    Returns
    -------
    StarDiagonalization
    """
    coords = coords or PhaseSpace(1)
    H = sp.Matrix(H)
    N = H.rows
    if eigensystem is None:
        if H.is_diagonal():
            eigensystem = ([H[i, i] for i in range(N)], sp.eye(N))
        elif N == 2:
            eigensystem = two_band_eigensystem(H)
        else:
            raise NotImplementedError("Pass eigensystem=(energies, U0) for symbolic N > 2 Hamiltonians "
                                      "(or use the numeric star_diagonalize_jet).")
    energies, U0 = list(eigensystem[0]), sp.Matrix(eigensystem[1])
    gauge = list(gauge) if gauge is not None else []
    if gauge and gauge[0] is not None:
        U0 = U0 * sp.diag(*[sp.exp(sp.I * p) for p in gauge[0]])
    simp = (lambda M: M.applyfunc(simplify)) if simplify else (lambda M: M)
    var = coords.variables
    dH = _Derivatives(H, var)
    E = sp.diag(*energies)
    U = [U0]
    dU = [_Derivatives(U0, var)]
    dUh = [_Derivatives(U0.H, var)]
    ht = [E]
    dht = [_Derivatives(E, var)]
    U0h = U0.H

    def st(dA, dB, a):
        return star_term(dA.expr, dB.expr, a, coords, _dA=dA, _dB=dB)

    for n in range(1, order + 1):
        S = sp.zeros(N)
        K = sp.zeros(N)
        for a, b, c in _triples(n):
            S += st(dU[b], dht[c], a)
            K += st(dUh[b], dU[c], a)
        for a in range(1, n + 1):
            S -= st(dH, dU[n - a], a)
        T = simp(U0h * S)
        K = simp(K)
        phases = gauge[n] if len(gauge) > n and gauge[n] is not None else [0] * N
        X = sp.zeros(N)
        for i in range(N):
            for j in range(N):
                X[i, j] = (-K[i, i] / 2 + sp.I * phases[i]) if i == j else T[i, j] / (energies[i] - energies[j])
        hn = sp.diag(*[-T[i, i] for i in range(N)])
        Un = simp(U0 * X)
        U.append(Un)
        dU.append(_Derivatives(Un, var))
        dUh.append(_Derivatives(Un.H, var))
        ht.append(hn)
        dht.append(_Derivatives(hn, var))

    # Berry connection A_v^(m) = diag(i sum_{a+b+c=m} (U_b^dag * d_v U_c)_a), m < min(order, 2)
    berry = []
    for m in range(min(order, 2)):
        per_var = []
        for iv in range(len(var)):
            tot = sp.zeros(N)
            for a in range(m + 1):
                for b in range(m - a + 1):
                    c = m - a - b
                    tot += st(dUh[b], dU[c].shifted(iv), a)
            per_var.append([sp.I * tot[i, i] for i in range(N)])
        berry.append(per_var)

    nsym = 2 * coords.dim
    eps = coords.poisson
    avec = [[[sum((eps[al, be] * berry[m][be][i] for be in range(nsym)), sp.Integer(0)) for i in range(N)]
             for al in range(nsym)] for m in range(len(berry))]
    h_tilde = [[hn[i, i] for i in range(N)] for hn in ht]
    h = []
    for i in range(N):
        hb = _gauge_invariant_energy([hm[i] for hm in h_tilde], [[am[al][i] for al in range(nsym)] for am in avec],
                                     lambda f, al: sp.diff(f, coords.coordinates[al]), min(order, 2))
        h.append(hb)
    h = [[h[i][m] for i in range(N)] for m in range(min(order, 2) + 1)]
    return StarDiagonalization(coords=coords, order=order, energies=energies, U=U, h_tilde=h_tilde,
                               berry_connection=berry, h=h)


# ============================================================================ numeric (jets)

def _pairs_numeric(coords: PhaseSpace):
    return tuple((a, b, complex(e)) for a, b, e in coords.pairs)


def jet_star_term(A: Jet, B: Jet, n: int, coords: PhaseSpace, op=np.matmul) -> Jet:
    """ħ^n term of A ⋆ B for jets (exact; valid degree min(deg A, deg B) - n).

    ``op`` combines the derivative jets (``np.matmul`` for matrices, ``np.multiply`` element-wise).
    """
    if n == 0:
        return A._product(B, op)
    pref = (0.5j) ** n
    nv = A.space.nvar
    total = None
    for c, left, right in bidifferential_terms(n, coords.pairs, nv):
        term = A.deriv(left)._product(B.deriv(right), op) * (pref * complex(c))
        total = term if total is None else total + term
    return total


def eigen_jet(Hj: Jet, gap_tol: float = 1e-9, phases: Jet | None = None):
    """Pointwise eigendecomposition as jets: H = U E U^† with U unitary, E = diag(ε) ascending.

    Degree by degree (Rayleigh-Schrödinger in the displacement δξ) in the gauge where the
    imaginary diagonal of U(ξ0)^† δU vanishes at every degree ("parallel transport" from ξ0),
    optionally times diag(exp(i phases)). Returns ``(eps, U)``: a jet (B, N) and a jet (B, N, N).
    Raises ValueError if two bands are closer than ``gap_tol`` at an expansion point.
    """
    space, D = Hj.space, Hj.deg
    H0 = Hj.value
    eps0, V = np.linalg.eigh(H0)
    if H0.shape[-1] > 1:
        gaps = np.diff(eps0, axis=-1)
        if np.any(gaps < gap_tol):
            raise ValueError(f"Degenerate bands (gap {gaps.min():.3g} < gap_tol={gap_tol}) at an expansion point: "
                             "the star diagonalization needs non-degenerate bands.")
    Vh = np.conj(np.swapaxes(V, -1, -2))
    Ht = Jet(space, Vh[None] @ Hj.coef @ V[None], D)                        # H in the eigenbasis at ξ0
    N = H0.shape[-1]
    B = H0.shape[:-2]
    with np.errstate(divide="ignore"):
        R0 = 1.0 / (eps0[..., :, None] - eps0[..., None, :])
    idx = np.arange(N)
    R0[..., idx, idx] = 0.0
    W = constant(space, np.broadcast_to(np.eye(N, dtype=complex), B + (N, N)).copy(), D)
    Ev = constant(space, eps0.astype(complex), D)
    for j in range(1, D + 1):
        sl = slice(space.count[j - 1], space.count[j])
        Rj = (Ht @ W - W * Ev[..., None, :]).coef[sl]                     # degree-j residual, W_j = E_j = 0
        Kj = (W.H @ W).coef[sl]
        Ej = np.diagonal(Rj, axis1=-2, axis2=-1)
        Wj = -Rj * R0[None]
        Wj[..., idx, idx] = -np.diagonal(Kj, axis1=-2, axis2=-1).real / 2
        W.coef[sl] = Wj
        Ev.coef[sl] = Ej.real
    U = Jet(space, V[None] @ W.coef, D)
    if phases is not None:
        from .jet import exp
        U = U * exp(1j * phases)[..., None, :]
    return Ev.real, U


@dataclass
class JetStarDiagonalization:
    """Result of :func:`star_diagonalize_jet`: jets about a batch of B points.

    Attributes
    ----------
    coords : PhaseSpace
    order : int
    energies : Jet (B, N), ε_n.
    U : list of Jets (B, N, N), U_n valid to degree D - n.
    h_tilde : list of Jets (B, N), gauge dependent.
    berry_connection : ``berry_connection[m][v]`` Jet (B, N): A_v^{(m)}, m < min(order, 2),
        v over ``coords.variables``.
    h : list of Jets (B, N): gauge-invariant band energy, orders 0..min(order, 2).
    """

    coords: PhaseSpace
    order: int
    energies: Jet
    U: list
    h_tilde: list
    berry_connection: list
    h: list
    H: Jet = field(repr=False, default=None)

    def h_values(self) -> np.ndarray:
        """Values of h_0, h_1, h_2 at the points, shape (orders, B, N), real (eV)."""
        return np.stack([np.real(hm.value) for hm in self.h])

    def h_tilde_values(self) -> np.ndarray:
        return np.stack([np.real(hm.value) for hm in self.h_tilde])


def star_diagonalize_jet(Hj: Jet, order: int = 2, coords: PhaseSpace | None = None, *, gauge=None,
                         gap_tol: float = 1e-9) -> JetStarDiagonalization:
    """Numeric star diagonalization on Taylor jets of H (module docstring, same recursion).

    Parameters
    ----------
    Hj : Jet (B, N, N)
        Jet of the Hermitian H about B points, variables in the order of ``coords.variables``
        (x_1..x_d, k_1..k_d[, t]), degree D >= order.
    order : int
    coords : PhaseSpace, default inferred as PhaseSpace(nvar // 2, time=nvar odd)
    gauge : list, optional
        ``gauge[0]``: real jet (B, N) of eigenvector phases; ``gauge[m]``: real jet (B, N), the
        imaginary diagonal of X_m. Default: all zero.
    gap_tol : float
        Minimum band spacing (eV) at the expansion points.
    """
    nv = Hj.space.nvar
    coords = coords or PhaseSpace(nv // 2, time=bool(nv % 2))
    if coords.nvar != nv:
        raise ValueError(f"The jet has {nv} variables; {coords} has {coords.nvar}.")
    if Hj.deg < order:
        raise ValueError(f"A jet of degree {Hj.deg} cannot give order {order}: "
                         f"need derivatives of H up to order {order}.")
    herm = np.max(np.abs(Hj.coef - np.conj(np.swapaxes(Hj.coef, -1, -2))))
    if herm > 1e-10 * max(1.0, np.max(np.abs(Hj.coef))):
        raise ValueError(f"H is not Hermitian (max |H - H^dagger| over its Taylor coefficients = {herm:.3g}).")
    gauge = list(gauge) if gauge is not None else []
    Hj = Jet(Hj.space, Hj.coef.astype(complex), Hj.deg)
    eps, U0 = eigen_jet(Hj, gap_tol, gauge[0] if gauge else None)
    N = Hj.shape[-1]
    idx = np.arange(N)
    gap = eps[..., :, None] - eps[..., None, :]                               # (B, N, N)
    gap = gap + np.eye(N)                                                     # keep the diagonal nonzero
    Rg = gap.reciprocal()
    Rg.coef[..., idx, idx] = 0.0
    U = [U0]
    Uh = [U0.H]
    ht = [Jet(eps.space, eps.coef.astype(complex), eps.deg).diag_matrix()]
    U0h = U0.H
    for n in range(1, order + 1):
        S = K = None
        for a, b, c in _triples(n):
            s = jet_star_term(U[b], ht[c], a, coords)
            k = jet_star_term(Uh[b], U[c], a, coords)
            S = s if S is None else S + s
            K = k if K is None else K + k
        for a in range(1, n + 1):
            S = S - jet_star_term(Hj, U[n - a], a, coords)
        T = U0h @ S
        X = T * Rg
        d = -K.diagonal() / 2
        if len(gauge) > n and gauge[n] is not None:
            d = d + 1j * gauge[n]
        X.coef[..., idx, idx] = d.coef[: X.coef.shape[0]]
        hn = -T.diagonal()
        Un = U0 @ X
        U.append(Un)
        Uh.append(Un.H)
        ht.append(hn.diag_matrix())

    berry = []
    for m in range(min(order, 2)):
        per_var = []
        for v in range(nv):
            tot = None
            for a in range(m + 1):
                for b in range(m - a + 1):
                    c = m - a - b
                    t = jet_star_term(Uh[b], U[c].diff(v), a, coords)
                    tot = t if tot is None else tot + t
            per_var.append((tot * 1j).diagonal())
        berry.append(per_var)
    nsym = 2 * coords.dim
    eps_np = np.array(coords.poisson, dtype=complex)
    avec = []
    for m in range(len(berry)):
        row = []
        for al in range(nsym):
            acc = None
            for be in range(nsym):
                if eps_np[al, be] != 0:
                    t = berry[m][be] * eps_np[al, be]
                    acc = t if acc is None else acc + t
            row.append(acc if acc is not None else berry[m][0] * 0.0)
        avec.append(row)
    h_tilde = [hm.diagonal() for hm in ht]
    h = _gauge_invariant_energy(h_tilde, avec, lambda f, al: f.diff(al), min(order, 2))
    return JetStarDiagonalization(coords=coords, order=order, energies=eps, U=U, h_tilde=h_tilde,
                                  berry_connection=berry, h=h, H=Hj)


def separable_hamiltonian_jet(model, points, potential, degree: int = 2) -> Jet:
    """Jet of H(x, k) = H_0(k) + V(x) 1 from a band model and a potential.

    Parameters
    ----------
    model : qkinetics Model (``model.hamiltonian(k, order)`` gives exact k-derivatives up to 3).
    points : (B, 2d) phase-space points (x_1..x_d, k_1..k_d), Å and 1/Å.
    potential : callable ``V(x_1, .., x_d)`` on jets (eV), e.g. ``lambda x: 0.1 * jet.sin(x)``.
    degree : int <= ``model.max_derivative_order`` (3; 6 for tight-binding models)
    """
    from .jet import jet_from_derivatives

    points = np.atleast_2d(np.asarray(points, dtype=float))
    d = model.dim
    if points.shape[1] != 2 * d:
        raise ValueError(f"points must have shape (B, {2 * d}) = (x, k) for this {d}D model; got {points.shape}.")
    if degree > model.max_derivative_order:
        raise ValueError(f"{type(model).__name__} models give k-derivatives up to order {model.max_derivative_order}: "
                         f"degree must be <= {model.max_derivative_order}.")
    space = jet_space(2 * d, degree)
    Hk = jet_from_derivatives(model.hamiltonian(points[:, d:], order=degree)[: degree + 1], degree)
    coef = np.zeros((space.count[degree],) + Hk.shape, dtype=complex)
    for i, mon in enumerate(Hk.space.monomials):                        # embed k-monomials into (x, k)
        coef[space.index[(0,) * d + mon]] = Hk.coef[i]
    V = Jet.from_function(lambda *v: potential(*v[:d]), points, degree)
    return Jet(space, coef, degree) + V[..., None, None] * np.eye(model.norb)


def star_band_energies(H, points, coords: PhaseSpace | None = None, order: int = 2, degree: int | None = None,
                       gauge=None, gap_tol: float = 1e-9) -> JetStarDiagonalization:
    """Star diagonalization of a concrete model at a batch of phase-space points.

    Parameters
    ----------
    H : sympy Matrix in ``coords.variables``, a callable on jets (see :meth:`Jet.from_function`),
        or a Jet already expanded about ``points``.
    points : (B, nvar) array of (x_1..x_d, k_1..k_d[, t]) (Å, 1/Å).
    degree : int, optional
        Taylor degree of H (default ``order``: values of h_1, h_2; raise it to also get their
        derivatives from the returned jets).

    Returns
    -------
    JetStarDiagonalization; ``.h_values()`` gives (order+1, B, N) band energies h_0, h_1, h_2 in eV.
    """
    degree = order if degree is None else degree
    points = np.atleast_2d(np.asarray(points, dtype=float))
    if isinstance(H, Jet):
        Hj = H
    elif isinstance(H, sp.MatrixBase):
        coords = coords or PhaseSpace(points.shape[1] // 2, time=bool(points.shape[1] % 2))
        Hj = jet_from_sympy(H, coords, points, degree)
    elif callable(H):
        Hj = Jet.from_function(H, points, degree)
    else:
        raise TypeError("H must be a sympy Matrix, a callable on jets, or a Jet.")
    return star_diagonalize_jet(Hj, order, coords, gauge=gauge, gap_tol=gap_tol)


# ============================================================================ closed forms

def first_order_band_energy(H, dH, poisson=None) -> np.ndarray:
    """Gauge-invariant first-order band energy h_1 from H and its phase-space gradient.

    .. math:: h_{1,n} = \\tfrac{i}{2}\\,\\epsilon^{\\alpha\\beta}\\sum_{m\\ne n}
              \\frac{V^\\alpha_{nm}V^\\beta_{mn}}{\\varepsilon_n-\\varepsilon_m}

    Parameters
    ----------
    H : (B, N, N); dH : (B, 2d, N, N) derivatives by (x_1..x_d, k_1..k_d).
    poisson : (2d, 2d), default canonical.

    Returns
    -------
    (B, N) real array (eV).
    """
    H, dH = np.asarray(H), np.asarray(dH)
    n2 = dH.shape[1]
    d = n2 // 2
    if poisson is None:
        poisson = np.block([[np.zeros((d, d)), np.eye(d)], [-np.eye(d), np.zeros((d, d))]])
    eps, U = np.linalg.eigh(H)
    Uh = np.conj(np.swapaxes(U, -1, -2))
    V = Uh[:, None] @ dH @ U[:, None]
    N = H.shape[-1]
    with np.errstate(divide="ignore"):
        R = 1.0 / (eps[:, :, None] - eps[:, None, :])
    R[:, np.arange(N), np.arange(N)] = 0.0
    Q = np.einsum("banm,bcmn,bnm->bnac", V, V, R)
    return np.real(0.5j * np.einsum("ac,bnac->bn", poisson, Q))


def separable_band_energy(normalized_metric, quantum_metric, grad_V, hess_V) -> np.ndarray:
    """Second-order band energy of H = H_0(k) + V(x) (module docstring):

    .. math:: h_{2,n} = -\\tfrac12 G_n^{ij}\\partial_iV\\partial_jV + \\tfrac12 g_n^{ij}\\partial_i\\partial_jV

    Parameters
    ----------
    normalized_metric, quantum_metric : (B, N, d, d) G_n and g_n at k (``BandGeometry`` fields).
    grad_V : (B, d) ∂_iV (eV/Å); hess_V : (B, d, d) ∂_i∂_jV (eV/Å²).

    Returns
    -------
    (B, N) in eV (times ħ² = 1 in the library units).
    """
    G, g = np.asarray(normalized_metric), np.asarray(quantum_metric)
    F, W = np.asarray(grad_V), np.asarray(hess_V)
    return -0.5 * np.einsum("bnij,bi,bj->bn", G, F, F) + 0.5 * np.einsum("bnij,bij->bn", g, W)
