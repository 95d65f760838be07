"""Phase-space equilibrium to O(ħ²): the star-function Fermi distribution and the density it carries.

Equilibrium
-----------
The exact equilibrium Wigner function of a phase-space Hamiltonian H(x, k) is the star function
:math:`W = f(H)_\\star` (the Weyl symbol of the operator :math:`f(\\hat H)`), with
f the Fermi function. In the star-diagonal basis of :mod:`qkinetics.moyal.diagonalize`,
:math:`H = U\\star\\tilde h\\star U^\\dagger` with U star-unitary, so exactly

.. math:: W = U\\star f(\\tilde h)_\\star\\star U^\\dagger ,

where :math:`f(\\tilde h)_\\star` is band diagonal (a star function of a diagonal symbol is diagonal).
The star function of a scalar symbol h follows from the star resolvent
:math:`(z - h)\\star G = 1`, :math:`G = g_0 - \\tfrac{\\hbar^2}{8}(D g_0^3 + 2Q g_0^4) + O(\\hbar^4)`,
:math:`g_0 = 1/(z-h)` (the O(ħ) term vanishes because :math:`\\{h, g_0\\} = 0`), and
:math:`f(h)_\\star = \\oint\\frac{dz}{2\\pi i} f(z) G(z)`:

.. math::
    f(h)_\\star = f(h) - \\hbar^2\\Big[\\tfrac{1}{16} D f''(h) + \\tfrac{1}{24} Q f'''(h)\\Big] + O(\\hbar^4),
    \\qquad D = \\epsilon^{ab}\\epsilon^{cd}\\,\\partial_a\\partial_c h\\,\\partial_b\\partial_d h,\\quad
    Q = \\epsilon^{ab}\\epsilon^{cd}\\,\\partial_a\\partial_c h\\,\\partial_b h\\,\\partial_d h,

(the Wigner-Kirkwood correction; for the harmonic oscillator it reproduces the expansion of the
exact :math:`e^{-\\beta H}_\\star = \\mathrm{sech}(\\beta\\hbar/2)\\,e^{-(2/\\hbar)\\tanh(\\beta\\hbar/2)H}`,
tested). With :math:`\\tilde h = \\tilde h_0 + \\hbar\\tilde h_1 + \\hbar^2\\tilde h_2`,

.. math::
    F_0 = f(\\tilde h_0),\\quad F_1 = f'(\\tilde h_0)\\tilde h_1,\\quad
    F_2 = f'(\\tilde h_0)\\tilde h_2 + \\tfrac12 f''(\\tilde h_0)\\tilde h_1^2
          - \\tfrac{1}{16} D f''(\\tilde h_0) - \\tfrac{1}{24} Q f'''(\\tilde h_0).

Density
-------
The particle density at x is :math:`n(x) = \\int\\frac{d^dk}{(2\\pi)^d}\\,\\mathrm{tr}\\,W(x, k)`;
its band-resolved part is :math:`n_n(x) = \\int\\frac{d^dk}{(2\\pi)^d}\\,\\mathrm{tr}\\,[U\\star (P_nF)\\star U^\\dagger]`
with P_n the projector on band n. Each order in ħ is returned separately. Orders 0 and 1 together
are the first-order theory: in the separable case H_0(k) + V(x) their sum is the local-density
(Thomas-Fermi) density :math:`\\sum_n\\int f(\\varepsilon_n + V - \\mu)`, up to the total derivatives
that integrate to zero over the zone; order 2 adds the quantum-metric, band-normalized-metric and
Wigner-Kirkwood gradient corrections. Gauge: U and h̃ come from the same local jets at each point,
so :math:`U\\star F\\star U^\\dagger` is gauge invariant point by point (no global smooth gauge needed).

Everything is evaluated with exact Taylor jets (:mod:`qkinetics.moyal.jet`) and the numeric star
diagonalization, at every phase-space point of a batch; ħ = 1 in the library units (x in Å, k in
1/Å, energies in eV).
"""

from __future__ import annotations

import numpy as np

from ..moyal.diagonalize import JetStarDiagonalization, jet_star_term, star_diagonalize_jet
from ..moyal.jet import Jet
from ..moyal.star import PhaseSpace

__all__ = ["fermi_derivatives", "star_function_terms", "wigner_kirkwood_invariants", "equilibrium_wigner",
           "equilibrium_density", "spectral_jet", "canonical_distribution", "wigner_trace"]


def fermi_derivatives(h, mu: float, kT: float) -> list:
    """f, f', f'', f^(3) (energy derivatives of the Fermi function) at h: jets for a Jet h, arrays otherwise.

    With s = f(h) = 1/(e^{(h-μ)/kT} + 1): f' = -s(1-s)/kT, f'' = s(1-s)(1-2s)/kT²,
    f^(3) = -s(1-s)(1-6s+6s²)/kT³."""
    from scipy.special import expit

    from ..moyal.phase_space import fermi_jet
    if np.any(np.asarray(kT) <= 0):
        raise ValueError("The star-function equilibrium needs T > 0 (smooth Fermi function).")
    s = fermi_jet(h, mu, kT) if isinstance(h, Jet) else expit(-(np.asarray(h) - mu) / kT)
    u = s * (1.0 - s)
    return [s, u * (-1.0 / kT), u * (1.0 - s * 2.0) * (1.0 / kT ** 2),
            u * (1.0 - s * 6.0 + s * s * 6.0) * (-1.0 / kT ** 3)]


def wigner_kirkwood_invariants(h: Jet, coords: PhaseSpace):
    """D = ε^{ab}ε^{cd} ∂_a∂_c h ∂_b∂_d h and Q = ε^{ab}ε^{cd} ∂_a∂_c h ∂_b h ∂_d h (jets, degree - 2)."""
    pairs = [(a, b, float(e)) for a, b, e in coords.pairs]
    D = Q = None
    for a, b, e1 in pairs:
        for c, d, e2 in pairs:
            hac = h.diff(a).diff(c)
            tD = hac * h.diff(b).diff(d) * (e1 * e2)
            tQ = hac * h.diff(b) * h.diff(d) * (e1 * e2)
            D = tD if D is None else D + tD
            Q = tQ if Q is None else Q + tQ
    return D, Q


def star_function_terms(h_tilde: list, derivatives, coords: PhaseSpace, order: int = 2) -> list:
    """ħ-series F_0, F_1, F_2 of the star function f(h̃)_⋆ of a band-diagonal h̃ (module docstring).

    Parameters
    ----------
    h_tilde : list of (B, N) jets h̃_0, h̃_1, ... (element-wise: one scalar symbol per band).
    derivatives : callable ``h -> [f(h), f'(h), f''(h), f'''(h)]`` on jets, e.g.
        ``lambda h: fermi_derivatives(h, mu, kT)``.
    coords : PhaseSpace (its Poisson tensor ε^{ab}).
    order : 0, 1 or 2.

    Returns
    -------
    list of (B, N) jets; F_m is valid to degree deg(h̃_0) - m.
    """
    if order > 2:
        raise ValueError("The star-function equilibrium is implemented to O(hbar^2).")
    if len(h_tilde) < order + 1:
        raise ValueError(f"Order {order} needs h_tilde_0..h_tilde_{order}; got {len(h_tilde)} terms.")
    f = derivatives(h_tilde[0])
    out = [f[0]]
    if order >= 1:
        out.append(f[1] * h_tilde[1])
    if order >= 2:
        D, Q = wigner_kirkwood_invariants(h_tilde[0], coords)
        out.append(f[1] * h_tilde[2] + f[2] * h_tilde[1] * h_tilde[1] * 0.5
                   - f[2] * D * (1.0 / 16) - f[3] * Q * (1.0 / 24))
    return out


def _series_star(A: list, B: list, order: int, coords: PhaseSpace) -> list:
    """ħ-series of A ⋆ B for ħ-series A, B of matrix jets, orders 0..order."""
    out = []
    for m in range(order + 1):
        tot = None
        for i in range(m + 1):
            for j in range(m - i + 1):
                s = m - i - j
                if i >= len(A) or j >= len(B):
                    continue
                t = jet_star_term(A[i], B[j], s, coords)
                tot = t if tot is None else tot + t
        out.append(tot)
    return out


def equilibrium_wigner(star: JetStarDiagonalization, mu: float, kT: float, order: int = 2) -> np.ndarray:
    """Band-resolved trace of the equilibrium Wigner function, order by order in ħ.

    Returns
    -------
    (order + 1, B, N) real array: ``[m, b, n]`` = ħ^m term of tr[U ⋆ (P_n f(h̃)_⋆) ⋆ U^†] at point b.
    """
    if star.order < order:
        raise ValueError(f"The star diagonalization has order {star.order}; order {order} was asked for.")
    F = star_function_terms(star.h_tilde, lambda h: fermi_derivatives(h, mu, kT), star.coords, order)
    return wigner_trace(star, F, order)


def equilibrium_density(model, potential, x, nk: int, mu: float, T: float, order: int = 2,
                        gap_tol: float = 1e-9, chunk: int = 8192) -> np.ndarray:
    """Band-resolved equilibrium density n_n(x) of a 1D lattice model in a static potential, by ħ order.

    .. math:: n^{(m)}_n(x) = \\int_{BZ}\\frac{dk}{2\\pi}\\,[\\mathrm{tr}\\,U\\star(P_nf(\\tilde h)_\\star)\\star U^\\dagger]_{\\hbar^m}

    for the separable H(x, k) = H_0(k) + V(x) (module docstring), on a midpoint k grid.

    Parameters
    ----------
    model : 1D lattice Model (exact k-derivatives to third order).
    potential : callable ``V(x)`` on jets (eV; x in Å), e.g. ``lambda x: 0.05 * jet.cos(0.1 * x)``.
    x : (nx,) positions (Å).
    nk : k points over the zone (midpoint rule: spectrally accurate for smooth periodic integrands).
    mu, T : chemical potential (eV), temperature (K, > 0).
    order : 0, 1 or 2.

    Returns
    -------
    (order + 1, N, nx) array: the ħ^m contribution to the density of band n at x, in 1/Å (no spin).
    Sum over the first axis for the density to O(ħ^order).
    """
    from .. import units
    from ..moyal.diagonalize import separable_hamiltonian_jet
    if model.dim != 1 or not model.periodic:
        raise ValueError("equilibrium_density is implemented for 1D lattice models.")
    if order not in (0, 1, 2):
        raise ValueError("order must be 0, 1 or 2.")
    x = np.atleast_1d(np.asarray(x, dtype=float))
    b = float(model.reciprocal[0, 0])
    dk = b / nk
    k = -b / 2 + (np.arange(nk) + 0.5) * dk
    pts = np.stack(np.broadcast_arrays(x[:, None], k[None, :]), -1).reshape(-1, 2)
    kT = units.kB_eV * T
    coords = PhaseSpace(1)
    vals = []
    degree = 3
    for s in range(0, len(pts), chunk):
        Hj = separable_hamiltonian_jet(model, pts[s:s + chunk], potential, degree=degree)
        star = star_diagonalize_jet(Hj, order, coords, gap_tol=gap_tol)
        vals.append(equilibrium_wigner(star, mu, kT, order))
    w = np.concatenate(vals, axis=1).reshape(order + 1, len(x), nk, -1)
    return np.moveaxis(w.sum(axis=2) * dk / (2 * np.pi), -1, 1)


# ---------------------------------------------------------------------------- density of any distribution

def spectral_jet(f, length: float, period_k: float, degree: int):
    """Taylor jets (B = nx nk points, shape (nx nk, N)) of a periodic grid function f (N, nx, nk).

    Derivatives ∂_x^p ∂_k^q f (p + q <= degree) by FFT on the cell-centre grid (x period ``length``, k
    period ``period_k``; Nyquist modes dropped), exact for band-limited f."""
    from ..moyal.jet import jet_space
    N, nx, nk = f.shape
    mx = np.fft.fftfreq(nx, d=1.0 / nx)
    mk = np.fft.fftfreq(nk, d=1.0 / nk)
    if nx % 2 == 0:
        mx[nx // 2] = 0.0
    if nk % 2 == 0:
        mk[nk // 2] = 0.0
    ikx = 2j * np.pi * mx / length
    ikk = 2j * np.pi * mk / period_k
    F = np.fft.fft2(f, axes=(1, 2))
    space = jet_space(2, degree)
    coef = np.zeros((space.count[degree], nx * nk, N))
    for i, (p, q) in enumerate(space.monomials):
        d = np.real(np.fft.ifft2(F * (ikx[:, None] ** p * ikk[None, :] ** q), axes=(1, 2)))
        coef[i] = np.moveaxis(d, 0, -1).reshape(nx * nk, N) / space.factorials[i]
    return Jet(space, coef, degree)


def canonical_distribution(star: JetStarDiagonalization, f: Jet, order: int = 2) -> list:
    """ħ-series of the canonical (gauge-dependent) band symbol f̃ = f∘π of a gauge-invariant f.

    With the covariant coordinates π = ξ + ħa, a^α = ε^{αβ}A_β (A = A^(0) + ħA^(1) of ``star``):
    f̃_0 = f, f̃_1 = a_0·∂f, f̃_2 = a_1·∂f + ½ a_0^α a_0^β ∂_α∂_β f (the inverse of the band-energy map of
    :mod:`qkinetics.moyal.diagonalize`). ``f`` is a (B, N) jet about the same points as ``star``."""
    coords = star.coords
    nsym = 2 * coords.dim
    eps = np.array(coords.poisson, dtype=float)
    a = []
    for m in range(min(order, len(star.berry_connection))):
        row = []
        for al in range(nsym):
            acc = None
            for be in range(nsym):
                if eps[al, be] != 0:
                    t = star.berry_connection[m][be].real * eps[al, be]
                    acc = t if acc is None else acc + t
            row.append(acc)
        a.append(row)
    out = [f]
    if order >= 1:
        out.append(sum((a[0][al] * f.diff(al) for al in range(nsym)), f * 0.0))
    if order >= 2:
        t = sum((a[1][al] * f.diff(al) for al in range(nsym)), f * 0.0)
        for al in range(nsym):
            for be in range(nsym):
                t = t + a[0][al] * a[0][be] * f.diff(al).diff(be) * 0.5
        out.append(t)
    return out


def wigner_trace(star: JetStarDiagonalization, F: list, order: int = 2) -> np.ndarray:
    """Band-resolved tr[U ⋆ (P_n F̃) ⋆ U^†] by ħ order, for an ħ-series F̃ of (B, N) band-symbol jets.

    Returns (order + 1, B, N) real."""
    coords = star.coords
    U = star.U[: order + 1]
    Uh = [u.H for u in U]
    N = F[0].shape[-1]
    out = np.zeros((order + 1,) + F[0].shape, dtype=float)
    for n in range(N):
        mask = np.zeros(N)
        mask[n] = 1.0
        Fn = [(Fm * mask).diag_matrix() for Fm in F]
        W = _series_star(_series_star(U, Fn, order, coords), Uh, order, coords)
        for m in range(order + 1):
            out[m, ..., n] = np.real(np.trace(W[m].value, axis1=-2, axis2=-1))
    return out
