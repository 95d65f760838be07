"""Exact diagonalization of a 2D lattice model in a uniform magnetic field (Hofstadter), and the Streda check.

A uniform field B (along +z) at rational flux :math:`\\phi = BA_c/\\Phi_0 = p/q` per unit cell
(:math:`A_c` the cell area, :math:`\\Phi_0 = h/e`) enters a tight-binding model through Peierls phases; the
Hamiltonian is then periodic on a magnetic supercell of q cells along :math:`\\mathbf a_1` and its spectrum
follows from Bloch's theorem on that supercell, exactly. The equilibrium electron density at fixed chemical
potential and temperature, differentiated in B, is the Streda response that the semiclassical theory of
Bloch electrons predicts from the Berry curvature and the orbital moment (:func:`streda_prediction`): the
check shares no derivation with :mod:`qkinetics.geometry`.

Peierls phases and gauge
------------------------
For the electron (charge -e) the hopping from orbital j to orbital i gains
:math:`t_{ij} \\to t_{ij}\\, e^{i\\theta_{ij}}`, :math:`\\theta_{ij} = -(e/\\hbar)\\int_{r_j}^{r_i}\\mathbf A\\cdot d\\mathbf l`
along the straight bond (minimal coupling :math:`\\mathbf p \\to \\mathbf p + e\\mathbf A`). With reduced
coordinates :math:`\\mathbf r = x_1\\mathbf a_1 + x_2\\mathbf a_2` the gauge
:math:`\\mathbf A = BA_c\\,x_1\\nabla x_2` (so :math:`\\nabla\\times\\mathbf A = B\\hat z`, since
:math:`(\\nabla x_1\\times\\nabla x_2)_z = 1/A_c`) gives :math:`\\int\\mathbf A\\cdot d\\mathbf l = BA_c\\,\\bar x_1\\,\\Delta x_2`
(:math:`\\bar x_1` the bond midpoint, :math:`\\Delta x_2 = x_{2,i} - x_{2,j}`), and
:math:`(e/\\hbar)BA_c = 2\\pi\\phi`. A site-dependent gauge change :math:`e^{i\\chi}`,
:math:`\\chi = 2\\pi\\phi\\, n_1\\tau_2` (:math:`n_1` the cell index along :math:`\\mathbf a_1`,
:math:`\\tau_2` the orbital's offset along :math:`\\mathbf a_2`), makes the phases periodic under
:math:`n_1 \\to n_1 + q` for any orbital positions:

.. math::
    \\theta_{ij} = -2\\pi\\phi\\,\\big[\\bar x_1\\,\\Delta x_2 - n_{1,i}\\tau_{2,i} + n_{1,j}\\tau_{2,j}\\big]

(shifting :math:`n_1` by q changes it by :math:`2\\pi p R_2`, R the hopping's lattice vector). The flux
through any closed loop is unchanged by the gauge: a counterclockwise loop of area S gains
:math:`-2\\pi\\phi S/A_c`.

Streda formula, semiclassical side (derivation)
-----------------------------------------------
To first order in B the semiclassical density of a band is (Xiao, Shi, Niu, PRL 95, 137204 (2005)): the
phase-space density of states :math:`(1 + (e/\\hbar)B\\Omega^{xy}_n)d^2k/(2\\pi)^2` (electron charge -e,
:math:`\\Omega` the project's curvature) occupied with the energy :math:`\\varepsilon_n - m_n B`
(:math:`m_n = (e/\\hbar)X_n`, ``BandGeometry.orbital_moment``). Hence at fixed :math:`\\mu` and T

.. math::
    \\frac{\\partial n}{\\partial B}\\Big|_\\mu = \\frac e\\hbar\\sum_n\\int\\frac{d^2k}{(2\\pi)^2}
        \\big[\\Omega^{xy}_n f(\\varepsilon_n) - X_n f'(\\varepsilon_n)\\big],\\qquad
    \\frac{\\partial\\nu}{\\partial\\phi} = \\Phi_0\\frac{\\partial n}{\\partial B}
        = 2\\pi\\sum_n\\int\\frac{d^2k}{(2\\pi)^2}\\big[\\Omega^{xy}_n f_n - X_n f'_n\\big]

with :math:`\\nu = nA_c` the electrons per cell. In a gap at T = 0 the second term vanishes and the first
is the Chern number C of the filled bands: :math:`\\partial\\nu/\\partial\\phi = C`, the Streda form of
:math:`\\sigma_{xy} = -e\\,\\partial n/\\partial B|_\\mu = -(e^2/h)C` (docs/conventions.md). In a metal the
orbital moment contributes, so the check measures the sign and size of m.
"""

from __future__ import annotations

import numpy as np

from ..geometry import band_geometry
from ..integrate.grids import KGrid
from ..integrate.occupation import fermi_dirac
from ..models.base import ModelError

__all__ = ["magnetic_supercell", "hofstadter_density", "streda_exact", "streda_prediction"]

#: k points whose supercell Hamiltonians are diagonalized at once (bounded memory)
CHUNK = 64


def _check_model(model):
    if getattr(model, "dim", None) != 2 or not hasattr(model, "hoppings") or not model.periodic:
        raise ModelError("the Hofstadter calculation needs a 2D lattice tight-binding model (qk.TightBinding).")
    if getattr(model, "position_matrix", None) is not None:
        raise ModelError("Peierls phases need point-like orbitals at their positions: use "
                         "model.tight_binding_approximation() (a position matrix is not supported here).")


def magnetic_supercell(model, p: int, q: int) -> dict:
    """Real-space blocks of the magnetic supercell at flux p/q per unit cell.

    Parameters
    ----------
    model : TightBinding (2D, no position matrix)
    p, q : int
        Flux per unit cell :math:`\\phi = p/q` in flux quanta h/e (B along +z; p may be negative or zero).

    Returns
    -------
    dict ``{(L1, L2): M}`` with M (q N, q N) complex: the supercell Bloch Hamiltonian is
    :math:`H(\\kappa) = \\sum_L M_L e^{2\\pi i(\\kappa_1 L_1 + \\kappa_2 L_2)}`, :math:`\\kappa` in reduced
    coordinates of the supercell (lattice vectors :math:`q\\mathbf a_1, \\mathbf a_2`). Row index ``s N + i``:
    orbital i of cell s = 0..q-1 along :math:`\\mathbf a_1`.
    """
    _check_model(model)
    if int(q) != q or q < 1 or int(p) != p:
        raise ModelError(f"the flux per cell must be p/q with integers p and q >= 1; got p={p!r}, q={q!r}.")
    p, q = int(p), int(q)
    phi = p / q
    N = model.norb
    tau = np.asarray(model.positions, dtype=float)                          # (N, 2) reduced
    s = np.arange(q)
    i, j = np.arange(N)[:, None], np.arange(N)[None, :]
    blocks = {}
    for R, t in model.hoppings.items():
        R1, R2 = R
        xbar1 = s[:, None, None] + 0.5 * (tau[i, 0] + R1 + tau[j, 0])        # (q, N, N) bond midpoints
        dx2 = tau[i, 1] - R2 - tau[j, 1]
        theta = -2 * np.pi * phi * (xbar1 * dx2 - s[:, None, None] * tau[i, 1] + (s[:, None, None] + R1) * tau[j, 1])
        values = t[None] * np.exp(1j * theta)
        target = s + R1
        L1 = target // q
        rows = (s[:, None, None] * N + i) + 0 * j
        cols = ((target % q)[:, None, None] * N + j) + 0 * i
        for L in np.unique(L1):
            sel = L1 == L
            M = blocks.setdefault((int(L), int(R2)), np.zeros((q * N, q * N), dtype=complex))
            np.add.at(M, (rows[sel], cols[sel]), values[sel])
    return blocks


def _supercell_energies(blocks, nk):
    """Eigenvalues (K, q N) of the supercell Hamiltonian on an nk[0] x nk[1] grid (cell-centred, reduced)."""
    Ls = np.array(list(blocks), dtype=float)                                 # (nL, 2)
    Ms = np.array(list(blocks.values()))                                     # (nL, M, M)
    kap = np.stack(np.meshgrid((np.arange(nk[0]) + 0.5) / nk[0], (np.arange(nk[1]) + 0.5) / nk[1],
                               indexing="ij"), -1).reshape(-1, 2)
    out = []
    for c in range(0, len(kap), CHUNK):
        phase = np.exp(2j * np.pi * kap[c:c + CHUNK] @ Ls.T)                 # (K, nL)
        H = np.einsum("kl,lmn->kmn", phase, Ms)
        out.append(np.linalg.eigvalsh(H))
    return np.concatenate(out)


def hofstadter_density(model, mu, T, p: int, q: int, nk=(4, 64)) -> np.ndarray:
    """Electrons per unit cell :math:`\\nu(\\mu, \\phi)` at flux :math:`\\phi = p/q` and temperature T, exactly.

    Parameters
    ----------
    model : TightBinding (2D)
    mu : array_like, eV
    T : float, kelvin (> 0 keeps the k sums smooth)
    p, q : int
        Flux per unit cell p/q (flux quanta h/e, B along +z).
    nk : (int, int)
        k points of the supercell Brillouin zone along the supercell's two reciprocal vectors: the system has
        q nk[0] x nk[1] cells with periodic boundaries.

    Returns
    -------
    (len(mu),) electrons per unit cell, :math:`\\nu = \\frac{1}{q\\,N_k}\\sum_{\\kappa, n} f(E_{\\kappa n})`.
    """
    nk = tuple(int(x) for x in np.broadcast_to(nk, (2,)))
    if min(nk) < 1:
        raise ModelError(f"nk must be positive; got {nk}.")
    E = _supercell_energies(magnetic_supercell(model, p, q), nk)
    f = fermi_dirac(E, mu, T)[:, 0]                                          # (mu, K, qN)
    return f.sum(axis=(1, 2)) / (q * E.shape[0])


def streda_exact(model, mu, T, q: int, nk=(4, 64)) -> tuple:
    """:math:`\\partial\\nu/\\partial\\phi` at :math:`\\phi = 0` from exact densities at fluxes 0, ±1/q, ±2/q.

    The symmetric differences :math:`D_p = [\\nu(p/q) - \\nu(-p/q)]\\,q/(2p)` carry errors
    :math:`\\propto (p/q)^2`; Richardson's :math:`(4D_1 - D_2)/3` removes them. All fluxes use the same
    supercell and k grid, so finite-size errors largely cancel in the differences.

    Returns
    -------
    (richardson, D1) : two (len(mu),) arrays, dimensionless (electrons per flux quantum).
    """
    nu = {p: hofstadter_density(model, mu, T, p, q, nk) for p in (-2, -1, 1, 2)}
    D1 = (nu[1] - nu[-1]) * q / 2
    D2 = (nu[2] - nu[-2]) * q / 4
    return (4 * D1 - D2) / 3, D1


def streda_prediction(model, mu, T, nk: int = 200) -> np.ndarray:
    """Semiclassical :math:`\\partial\\nu/\\partial\\phi = 2\\pi\\sum_n\\int\\frac{d^2k}{(2\\pi)^2}[\\Omega^{xy}_n f_n
    - X_n f'_n]` (module docstring) on an nk x nk grid, for each chemical potential (dimensionless)."""
    if getattr(model, "dim", None) != 2:
        raise ModelError("the Streda response is defined here for 2D models.")
    grid = KGrid(model, nk, shift=0.5)
    total = np.zeros(np.atleast_1d(mu).shape)
    for k, w in grid.chunks(20000):
        geo = band_geometry(model, k, inverse_mass=False)
        f = fermi_dirac(geo.energies, mu, T)[:, 0]
        df = fermi_dirac(geo.energies, mu, T, order=1)[:, 0]
        w = np.broadcast_to(w, (len(k),))
        total += (np.einsum("k,mkn,kn->m", w, f, geo.berry_curvature[..., 0, 1])
                  - np.einsum("k,mkn,kn->m", w, df, geo.orbital_moment[..., 0]))
    return 2 * np.pi * total
