"""Exact diagonalization of 1D tight-binding chains in a potential or with a parameter texture; the Wannier-Stark ladder.

This is the exact reference for the second-order band energy of the Moyal engine
(:mod:`qkinetics.moyal.diagonalize`) in the simplest case where it can be checked against a
lattice calculation: a 1D N-band chain in a uniform field, V(x) = F x (potential energy, eV;
F in eV/Å; V = -eφ, so F = eE for the electron).

Real-space chain
----------------
:func:`real_space_chain` builds the (L N) x (L N) Hamiltonian of L cells with open boundaries from
the model's hoppings, ``H[(c, i), (c + R, j)] = t_R[i, j]``, plus the potential on the diagonal at
the physical orbital positions :math:`x_{c,j} = (c + \\tau_j)\\,a`.

A parameter texture is a callable ``model(x) -> TightBinding`` (same lattice, orbitals and bonds at every x):
each hopping is taken from the model at its bond midpoint, :math:`t_R[i, j]((x_{c,i} + x_{c+R,j})/2)`, and each
on-site term at its site. Then the Weyl symbol of the chain, in the positions convention, is
:math:`H(x, k) =` ``model(x).hamiltonian(k)`` (for every matrix element the midpoint is the phase-space x), the
phase-space Hamiltonian of :class:`~qkinetics.kinetics.KineticSolver` with ``model(x)``; the supercell density
of a periodic texture (:func:`supercell_density`) is the exact reference for its bound charge -∂_xP at order 1.

Semiclassical prediction (derivation)
-------------------------------------
For H = H_0(k) + F x the star diagonalization (module docstring of
:mod:`qkinetics.moyal.diagonalize`, separable case, gauge Im diag X = 0) gives, in the
*canonical* coordinates (x, k) with [x, k] = i (ħ = 1 in library units),

.. math::
    \\tilde h_n(x, k) = \\varepsilon_n(k) + F x + F\\,\\mathcal A_n(k) + \\tfrac12 F^2 G_n^{xx}(k) + O(F^3),

where :math:`\\mathcal A_n = i\\langle u_n|\\partial_k u_n\\rangle` (positions convention, in which
the physical position operator is :math:`x = i\\partial_k` on the Bloch coefficients) and
:math:`G_n = 2\\,\\mathrm{Re}\\sum_m |V_{nm}|^2/(\\varepsilon_n-\\varepsilon_m)^3` the
band-normalized metric (:mod:`qkinetics.geometry`; negative for the lowest band). Equivalently,
in the gauge-invariant form the engine returns, :math:`h_n = \\varepsilon_n + F x^{\\rm cov}
- \\tfrac12 F^2 G_n` in the covariant coordinate :math:`x^{\\rm cov} = x + \\mathcal A_n + F G_n`
(the field-induced positional shift :math:`A^{(1)}_{k} = F G_n` is part of the O(ħ) Berry
connection); substituting gives the same :math:`\\tilde h_n`: the −½GFF of the covariant energy and
the dipole energy +GFF of the shift add up to the ordinary +½GFF Stark term.

Since F x is linear, :math:`\\mathrm{Op}(\\tilde h_n) = f_n(k) + F\\,i\\partial_k` exactly, with
:math:`f_n = \\varepsilon_n + F\\mathcal A_n + \\tfrac12F^2G_n`. Its eigenfunctions
:math:`\\psi(k) = \\exp[-\\tfrac{i}{F}\\int^k (E - f_n)]` are single valued on the Brillouin zone
(in a gauge where the Bloch state is periodic) iff
:math:`\\tfrac1F\\int_{BZ}(E - f_n)\\,dk = 2\\pi j`, i.e.

.. math::
    E_{n,j} = F a j + \\langle\\varepsilon_n\\rangle_{BZ} + F x^W_n + c_n F^2 + O(F^3),\\qquad
    x^W_n = \\langle\\mathcal A_n\\rangle_{BZ} = \\frac{a}{2\\pi}\\oint\\mathcal A_n\\,dk,\\qquad
    c_n = +\\tfrac12\\langle G^{xx}_n\\rangle_{BZ},

with :math:`\\langle\\cdot\\rangle_{BZ}` the BZ average and x^W_n the Wannier centre (Zak phase,
positions convention, defined modulo a, which is the ladder's own ambiguity). The sign of c_n is
that of ordinary second-order perturbation theory: the interband matrix element of F x
between Bloch states of bands n, m is :math:`F\\mathcal A_{nm} = iF V_{nm}/(\\varepsilon_m-\\varepsilon_n)`,
and a Wannier-Stark state samples all k of the BZ uniformly, so the shift is
:math:`\\langle\\sum_m F^2|\\mathcal A_{nm}|^2/(\\varepsilon_n-\\varepsilon_m)\\rangle_{BZ} = \\tfrac12F^2\\langle G_n\\rangle`
(level repulsion: the lower band is pushed down, G < 0 there). It is *not* −½⟨G⟩: the covariant
−½GFF must be read with the covariant position, which the quantization condition does not use.

:func:`wannier_stark_prediction` evaluates ⟨ε_n⟩, x^W_n and c_n; c_n twice, from the closed-form
geometry and from the Moyal engine itself (:func:`~qkinetics.moyal.star_band_energies` on
H_0(k) + F x with F = 1: c_n = ⟨h_2 + A^{(1)}_k⟩, which equals ⟨h̃_2⟩).

Exact ladder
------------
For a tight-binding chain in a uniform field the infinite-chain spectrum is exactly N ladders
:math:`E_{n,j} = F a j + E_n(F)` (translation by one cell shifts the energy by F a). On a finite
chain the states far from both edges (a Wannier-Stark state spans about W/F, W the bandwidth)
reproduce the ladders to machine precision. :func:`wannier_stark_exact` takes, for each band, the
eigenvalues (banded LAPACK, values only) in an energy window of width F a about
:math:`F x_{mid} + \\langle\\varepsilon_n\\rangle`, computes their eigenvectors by inverse iteration,
and assigns each to the band whose ⟨ε⟩ is closest to its kinetic energy ⟨H_0⟩ (for a Wannier-Stark
state of band n, ⟨H_0⟩ = ⟨ε_n⟩ + O(F)); the chain is long enough (about 4 W_total/F) that no edge
state falls in the window. :func:`ladder_errors` compares E_n(F) with the prediction modulo F a.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import scipy.linalg as sla
import scipy.sparse as sps

from ..models.base import ModelError

__all__ = ["real_space_chain", "supercell_density", "wannier_centers", "LadderPrediction", "wannier_stark_prediction",
           "wannier_stark_exact", "ladder_errors"]


def _chain_data(model):
    if getattr(model, "dim", None) != 1 or not hasattr(model, "hoppings"):
        raise ModelError("real_space_chain needs a 1D TightBinding model (or a callable x -> TightBinding).")
    a = float(np.asarray(model.lattice)[0, 0])
    tau = np.asarray(model.positions, dtype=float)[:, 0]
    return a, tau, model.norb


def _chain_terms(model, L: int, potential, periodic: bool):
    """Matrix elements of the chain: (rows, cols, values, wraps, x) with ``wraps`` the number of times a hop
    winds around the ring (0 for open chains), so that a twisted ring adds the phase exp(i θ wraps).

    ``model`` is a TightBinding or a callable ``model(x) -> TightBinding`` (x in Å): each hopping
    t_R[i, j] from orbital (c, i) to (c + R, j) is taken from the model at the bond midpoint
    (x_{c,i} + x_{c+R,j})/2, on-site terms (R = 0, i = j) at the site (the midpoint of a site with itself).
    On a ring the midpoint is reduced modulo L a (the texture must then be periodic)."""
    model_fn = None if hasattr(model, "hoppings") else model
    ref = model if model_fn is None else model_fn(0.0)
    a, tau, N = _chain_data(ref)
    L = int(L)
    if L < 1:
        raise ModelError(f"L must be a positive number of cells; got {L}.")
    cells = np.arange(L)
    entries = []                                     # (R, i, j, c) for every matrix element
    for R in ref.hoppings:
        R = int(R[0])
        c = cells if periodic else cells[(cells + R >= 0) & (cells + R < L)]
        if periodic and abs(R) >= L:
            raise ModelError(f"A ring of L = {L} cells is shorter than the hopping range |R| = {abs(R)}.")
        if len(c):
            entries.append((R, c))
    x = ((cells[:, None] + tau[None, :]) * a).ravel()
    rows, cols, vals, wraps = [], [], [], []
    if model_fn is None:
        for R, c in entries:
            t = np.asarray(ref.hoppings[(R,)], dtype=complex)
            i, j = np.nonzero(t)
            rows.append((c[:, None] * N + i[None, :]).ravel())
            cols.append((((c[:, None] + R) % L) * N + j[None, :]).ravel())
            vals.append(np.broadcast_to(t[i, j][None, :], (len(c), len(i))).ravel())
            wraps.append(np.broadcast_to(np.floor_divide(c + R, L)[:, None], (len(c), len(i))).ravel())
    else:
        # the models at all bond midpoints, each evaluated once (a midpoint is shared by a hop and its reverse)
        mids = {}
        for R, c in entries:
            m = 0.5 * a * (2 * c[:, None, None] + R + tau[:, None] + tau[None, :])       # (c, i, j)
            if periodic:
                m = np.mod(m, L * a)
            mids[R] = np.round(m, 12)
        uniq = np.unique(np.concatenate([m.ravel() for m in mids.values()]))
        hop = {}
        for xv in uniq:
            mx = model_fn(float(xv))
            if (getattr(mx, "dim", None) != 1 or mx.norb != N or not hasattr(mx, "hoppings")
                    or abs(float(np.asarray(mx.lattice)[0, 0]) - a) > 1e-12
                    or not np.allclose(np.asarray(mx.positions, dtype=float)[:, 0], tau, atol=1e-12)):
                raise ModelError(f"model(x) at x = {xv} differs in dim, norb, lattice or orbital positions from "
                                 "model(0); the texture may change the hoppings only.")
            if set(mx.hoppings) != set(ref.hoppings):
                raise ModelError(f"model(x) at x = {xv} has the bonds {sorted(mx.hoppings)}, model(0) "
                                 f"{sorted(ref.hoppings)}; give every bond at every x (a zero amplitude is fine).")
            hop[xv] = mx.hoppings
        for R, c in entries:
            idx = np.searchsorted(uniq, mids[R])
            t = np.array([[[hop[uniq[idx[ci, i, j]]][(R,)][i, j] for j in range(N)] for i in range(N)]
                          for ci in range(len(c))], dtype=complex)                  # (c, i, j)
            ci, i, j = np.nonzero(np.ones_like(t, dtype=bool))
            keep = np.abs(t).max(axis=0)[i, j] > 0                                 # bonds absent at every x
            ci, i, j = ci[keep], i[keep], j[keep]
            rows.append(c[ci] * N + i)
            cols.append(((c[ci] + R) % L) * N + j)
            vals.append(t[ci, i, j])
            wraps.append(np.floor_divide(c[ci] + R, L))
    n = L * N
    rows.append(np.arange(n))
    cols.append(np.arange(n))
    vals.append(np.zeros(n, complex) if potential is None else np.asarray(potential(x), dtype=complex))
    wraps.append(np.zeros(n, int))
    return np.concatenate(rows), np.concatenate(cols), np.concatenate(vals), np.concatenate(wraps), x


def _assemble(terms, twist, sparse):
    rows, cols, vals, wraps, x = terms
    n = len(x)
    v = vals * np.exp(1j * twist * wraps) if twist else vals
    H = sps.coo_matrix((v, (rows, cols)), shape=(n, n)).tocsr()
    return H if sparse else H.toarray()


def real_space_chain(model, L: int, potential=None, *, sparse: bool = False, periodic: bool = False,
                     twist: float = 0.0):
    """Real-space Hamiltonian of L cells of a 1D tight-binding model, open (or periodic) boundaries.

    Parameters
    ----------
    model : 1D :class:`~qkinetics.models.tight_binding.TightBinding` (any Fourier convention;
        only the hoppings and the orbital positions are used), or a callable ``model(x) -> TightBinding``
        (x in Å) for x-dependent parameters (a texture): every hopping t_R[i, j] between orbitals at x_1 and
        x_2 is taken from ``model((x_1 + x_2)/2)`` (bond midpoint), every on-site term from the model at
        the site. This is the lattice Hamiltonian whose Weyl symbol, in the positions convention, is
        H(x, k) = model(x).hamiltonian(k) (the midpoint rule is what makes the symbol local in x), the
        phase-space Hamiltonian of :class:`~qkinetics.kinetics.KineticSolver` with ``model(x)``. All models
        must share the lattice, orbitals and positions; the same bonds must exist at every x.
    L : number of cells.
    potential : callable ``V(x)`` (eV) on an array of positions (Å), added on the diagonal, or None.
    sparse : return a ``scipy.sparse.csr_matrix`` instead of a dense array.
    periodic : close the chain into a ring of L cells (hoppings wrap around; the potential should
        then be periodic with period L a, and so should a texture, which is read modulo L a).
    twist : Bloch phase θ (rad) picked up by a hop that wraps once around the ring (periodic only):
        the ring is then one supercell of an infinite chain at supercell Bloch momentum θ / (L a).

    Returns
    -------
    H : (L N, L N) Hermitian, index ``c * N + j`` for orbital j of cell c (c = 0..L-1).
    x : (L N,) orbital positions :math:`(c + \\tau_j) a` in Å.
    """
    if twist and not periodic:
        raise ModelError("twist applies to a periodic chain (periodic=True).")
    terms = _chain_terms(model, L, potential, periodic)
    x = terms[-1]
    return _assemble(terms, twist, sparse), x


def supercell_density(model, cells: int, potential, mu: float, T: float, n_twist: int = 32):
    r"""Exact equilibrium site occupations of an infinite chain in a potential of period ``cells`` a.

    The chain is one supercell of ``cells`` cells (:func:`real_space_chain` with ``periodic=True``)
    at ``n_twist`` supercell Bloch phases θ_j = 2π(j + 1/2)/n_twist (midpoint rule over the
    supercell zone; exponentially accurate in n_twist for an insulator or for k_B T well above the
    level spacing of the supercell band structure), each diagonalized exactly:

    .. math:: n_s = \frac{1}{n_\theta}\sum_j\sum_\nu f(E_\nu(\theta_j) - \mu)\,|\psi_\nu(s;\theta_j)|^2 .

    Parameters
    ----------
    model : 1D TightBinding, or a callable ``model(x) -> TightBinding`` periodic with period ``cells * a``
        (a parameter texture: hoppings at bond midpoints, on-site terms at the sites, as in
        :func:`real_space_chain`); ``cells`` must exceed the hopping range.
    potential : callable ``V(x)`` (eV, x in Å), periodic with period ``cells * a``, or None.
    mu, T : chemical potential (eV) and temperature (K; T = 0 fills states below mu).

    Returns
    -------
    n : (cells N,) electrons per site (no spin); x : (cells N,) site positions (Å).
    """
    from .. import units
    from scipy.special import expit

    kT = units.kB_eV * T
    terms = _chain_terms(model, cells, potential, periodic=True)        # the model(s) evaluated once
    x = terms[-1]
    n = None
    for j in range(int(n_twist)):
        H = _assemble(terms, 2 * np.pi * (j + 0.5) / n_twist, sparse=False)
        E, psi = np.linalg.eigh(H)
        occ = expit(-(E - mu) / kT) if kT > 0 else (E < mu).astype(float)
        nj = (np.abs(psi) ** 2) @ occ
        n = nj if n is None else n + nj
    return n / n_twist, x


def _upper_banded(H):
    """Upper banded storage (for ``scipy.linalg.eig_banded``) of a sparse Hermitian matrix."""
    H = sps.csr_matrix(H)
    coo = H.tocoo()
    u = int(np.max(coo.col - coo.row)) if coo.nnz else 0
    n = H.shape[0]
    ab = np.zeros((u + 1, n), dtype=complex)
    for d in range(u + 1):
        ab[u - d, d:] = H.diagonal(d)
    return ab, u


def wannier_centers(model, nk: int = 2048) -> np.ndarray:
    """Wannier centres x^W_n (Å, in [0, a)) of every band from the discrete Zak phase.

    Positions convention (physical orbital positions): the Bloch eigenvectors obey
    :math:`u(k + 2\\pi/a) = D^\\dagger u(k)` with :math:`D = \\mathrm{diag}(e^{2\\pi i\\tau_j})`, which
    closes the Wilson loop; :math:`x^W = \\frac{a}{2\\pi}\\oint\\mathcal A\\,dk` with
    :math:`\\mathcal A = i\\langle u|\\partial_k u\\rangle`, i.e. minus the phase of the loop product,
    from loops of nk and 2 nk points Richardson-extrapolated (error O(nk^-4)). Bands must be isolated.
    """
    a, tau, N = _chain_data(model)
    m = model if getattr(model, "convention", "positions") == "positions" else model.with_convention("positions")

    def loop(nk):
        k = (np.arange(nk) / nk * 2 * np.pi / a)[:, None]
        _, U = np.linalg.eigh(m.hamiltonian(k)[0])                               # (nk, N, N)
        Unext = np.concatenate([U[1:], (np.exp(-2j * np.pi * tau)[:, None] * U[0])[None]], axis=0)
        ov = np.einsum("kin,kin->kn", U.conj(), Unext)                          # <u_k|u_k+dk>
        return -np.sum(np.angle(ov), axis=0)                                     # phase of the product

    # The discrete loop errs by O(1/nk^2): one Richardson step (nk, 2 nk) leaves O(1/nk^4).
    p1, p2 = loop(nk), loop(2 * nk)
    d = np.angle(np.exp(1j * (p2 - p1)))
    phase = p2 + d / 3
    return np.mod(phase * a / (2 * np.pi), a)


@dataclass
class LadderPrediction:
    """Semiclassical Wannier-Stark ladder :math:`E_n(F) = \\langle\\varepsilon_n\\rangle + F x^W_n + c_n F^2`.

    Attributes (arrays over bands, ascending)
    -----------------------------------------
    a : lattice constant, Å.
    mean_energy : ⟨ε_n⟩_BZ, eV.
    wannier_center : x^W_n, Å (modulo a).
    c2 : c_n = ½⟨G_n^{xx}⟩_BZ from the closed-form geometry, Å²/eV.
    c2_engine : the same from the Moyal engine, ⟨h_2 + A^{(1)}_k⟩ at F = 1.
    c2_engine_tilde : ⟨h̃_2⟩ from the engine (gauge Im diag X = 0), equal to c2_engine.
    h2_engine : ⟨h_2⟩ at F = 1 (the covariant band energy, = −c_n).
    bandwidth : (min ε, max ε) over all bands, eV.
    """

    a: float
    mean_energy: np.ndarray
    wannier_center: np.ndarray
    c2: np.ndarray
    c2_engine: np.ndarray
    c2_engine_tilde: np.ndarray
    h2_engine: np.ndarray
    bandwidth: tuple

    def energy(self, F: float, order: int = 2) -> np.ndarray:
        """Ladder offsets E_n(F) to the given order in F (0, 1 or 2), eV."""
        E = self.mean_energy.copy()
        if order >= 1:
            E = E + F * self.wannier_center
        if order >= 2:
            E = E + F**2 * self.c2
        return E


def wannier_stark_prediction(model, nk: int = 256, engine: bool = True) -> LadderPrediction:
    """Semiclassical ladder coefficients (module docstring) on a uniform grid of nk points.

    The BZ averages are trapezoid sums of periodic analytic functions: exponentially accurate.
    """
    from ..geometry import band_geometry

    a, tau, N = _chain_data(model)
    m = model if getattr(model, "convention", "positions") == "positions" else model.with_convention("positions")
    k = (np.arange(nk) / nk * 2 * np.pi / a)[:, None]
    geo = band_geometry(m, k, inverse_mass=False)
    mean = geo.energies.mean(axis=0)
    c2 = 0.5 * geo.normalized_metric[:, :, 0, 0].mean(axis=0)
    c2e = c2t = h2e = np.full(N, np.nan)
    if engine:
        from ..moyal.diagonalize import separable_hamiltonian_jet, star_diagonalize_jet

        pts = np.column_stack([np.zeros(nk), k[:, 0]])
        Hj = separable_hamiltonian_jet(m, pts, lambda x: x, degree=2)
        res = star_diagonalize_jet(Hj, order=2)
        h2 = np.real(res.h[2].value)                                            # (nk, N), F = 1
        shift = np.real(res.berry_connection[1][1].value)                       # A^{(1)}_k
        h2e = h2.mean(axis=0)
        c2e = (h2 + shift).mean(axis=0)
        c2t = np.real(res.h_tilde[2].value).mean(axis=0)
    return LadderPrediction(a=a, mean_energy=mean, wannier_center=wannier_centers(m), c2=c2,
                            c2_engine=c2e, c2_engine_tilde=c2t, h2_engine=h2e,
                            bandwidth=(float(geo.energies.min()), float(geo.energies.max())))


def _inverse_iteration(ab, u, E, n, iters=3):
    """Eigenvector of the banded Hermitian matrix (upper storage ab) at eigenvalue E."""
    full = np.zeros((2 * u + 1, n), dtype=complex)                               # general band storage
    full[:u + 1] = ab
    for d in range(1, u + 1):                                                   # lower diagonals = conj(upper)
        full[u + d, :n - d] = np.conj(ab[u - d, d:])
    shift = E + 1e-10 * max(1.0, abs(E))
    full[u] = full[u] - shift
    rng = np.random.default_rng(0)
    v = rng.standard_normal(n) + 0j
    for _ in range(iters):
        v = sla.solve_banded((u, u), full, v)
        v /= np.linalg.norm(v)
    return v


def wannier_stark_exact(model, F: float, L: int | None = None, prediction: LadderPrediction | None = None,
                        margin: float = 4.0):
    """Exact Wannier-Stark ladder offsets E_n(F) of a 1D chain in V = F x (module docstring).

    Parameters
    ----------
    model : 1D TightBinding.
    F : field, eV/Å (> 0).
    L : number of cells; default ``margin * (max ε - min ε) / (F a)`` + 40 (edges far from the window).
    prediction : :class:`LadderPrediction` (for ⟨ε_n⟩ and the bandwidth); computed if None.

    Returns
    -------
    dict with ``E`` (N,) one exact ladder energy per band (eV; any rung: compare modulo F a),
    ``x`` (N,) its position expectation (Å), ``kinetic`` (N,) its ⟨H_0⟩, ``spread`` (N,) its rms
    width (Å), ``L``.
    """
    F = float(F)
    if F <= 0:
        raise ModelError(f"F must be positive; got {F}.")
    a, tau, N = _chain_data(model)
    pred = prediction or wannier_stark_prediction(model, engine=False)
    width = pred.bandwidth[1] - pred.bandwidth[0]
    if L is None:
        L = int(np.ceil(margin * width / (F * a))) + 40
    H0, x = real_space_chain(model, L, sparse=True)
    H = H0 + sps.diags(F * x)
    ab, u = _upper_banded(H)
    xmid = 0.5 * L * a
    out = {"E": np.full(N, np.nan), "x": np.full(N, np.nan), "kinetic": np.full(N, np.nan),
           "spread": np.full(N, np.nan), "L": L}
    for n in range(N):
        E0 = F * xmid + pred.mean_energy[n]
        w = sla.eig_banded(ab, lower=False, eigvals_only=True, select="v",
                           select_range=(E0 - 0.5 * F * a, E0 + 0.5 * F * a))
        best = None
        for E in w:
            v = _inverse_iteration(ab, u, E, len(x))
            p = np.abs(v) ** 2
            kin = float(np.real(np.vdot(v, H0 @ v)))
            xm = float(p @ x)
            sp_ = float(np.sqrt(max(p @ (x - xm) ** 2, 0.0)))
            band = int(np.argmin(np.abs(pred.mean_energy - kin)))
            if band == n and (best is None or abs(kin - pred.mean_energy[n]) < abs(best[2] - pred.mean_energy[n])):
                best = (E, xm, kin, sp_)
        if best is None:
            raise RuntimeError(f"No Wannier-Stark state of band {n} found in the window (F = {F}, L = {L}).")
        E, xm, kin, sp_ = best
        if min(xm, L * a - xm) < 3 * sp_ + 5 * a:
            raise RuntimeError(f"The band-{n} state at x = {xm:.1f} Å (spread {sp_:.1f} Å) is too close to an edge.")
        out["E"][n], out["x"][n], out["kinetic"][n], out["spread"][n] = E, xm, kin, sp_
    return out


def _wrap(d, period):
    return d - period * np.round(d / period)


def ladder_errors(model, F_values, prediction: LadderPrediction | None = None, **kw):
    """Errors of the semiclassical ladder at orders 0, 1, 2 in F, modulo the spacing F a.

    Returns
    -------
    dict with ``F`` (nF,), ``exact`` (nF, N) exact offsets (wrapped to [0, F a)), and ``error``
    (3, nF, N): E_exact − E_pred(order) folded into [−F a/2, F a/2).
    """
    pred = prediction or wannier_stark_prediction(model)
    F_values = np.asarray(F_values, dtype=float)
    N = len(pred.mean_energy)
    exact = np.zeros((len(F_values), N))
    err = np.zeros((3, len(F_values), N))
    for i, F in enumerate(F_values):
        E = wannier_stark_exact(model, F, prediction=pred, **kw)["E"]
        exact[i] = np.mod(E, F * pred.a)
        for order in range(3):
            err[order, i] = _wrap(E - pred.energy(F, order), F * pred.a)
    return {"F": F_values, "exact": exact, "error": err}
