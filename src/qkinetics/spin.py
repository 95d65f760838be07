"""Band spin expectation values and the spin magnetic moment, from a model's spin operator.

A :class:`~qkinetics.models.tight_binding.TightBinding` with a ``spin_matrix`` (e.g. read from Wannier90's
``seedname.spn`` by :func:`qkinetics.read_wannier90_run`) interpolates the Pauli matrices to
:math:`S^W_a(k)` (:meth:`~qkinetics.models.tight_binding.TightBinding.spin_operator`). In the eigenbasis U of
H(k) (the same Fourier convention),

.. math::
    S^a_n(k) = \\frac{1}{|G(n)|}\\,\\mathrm{tr}_{G(n)}\\big(U^\\dagger S^W_a U\\big),

the expectation value of :math:`\\sigma_a` (dimensionless, spin :math:`\\hbar\\sigma/2`) for a non-degenerate
band and, for a degenerate group G(n) (bands closer than ``degeneracy_tol``, as in :mod:`qkinetics.geometry`),
the group trace divided by the group size: invariant under any unitary rotation inside the group, so the band
values of a group sum to the trace of :math:`\\sigma` over the group.

The spin magnetic moment per cell in Bohr magnetons (g = 2, electron charge -e, so the moment is opposite to
the spin), the quantity postw90 prints with ``spin_moment = true``:

.. math:: m_a = -\\,\\frac{V_{cell}}{(2\\pi)^d}\\int_{BZ} d^dk\\,\\sum_n f(\\varepsilon_n(k))\\,S^a_n(k).

The spin magnetic moment of a band (:func:`band_spin_moment`), for the Zeeman energy and the spin part of the
gyrotropic magnetic effect, in the units of the orbital moment (:attr:`BandGeometry.orbital_moment
<qkinetics.BandGeometry>`, eV Å², :math:`m = (e/\\hbar)X`):

.. math::
    m^{spin}_n = -\\frac{g_s\\mu_B}{\\hbar}\\langle \\mathbf S\\rangle_n = -\\frac{g_s}{2}\\,\\mu_B\\,\\boldsymbol\\sigma_n
        = \\frac{e}{\\hbar}X^{spin}_n,\\qquad
    X^{spin}_n = -\\frac{g_s}{2}\\,\\frac{\\hbar^2}{2m_e}\\,\\boldsymbol\\sigma_n,

with :math:`\\mathbf S = \\hbar\\boldsymbol\\sigma/2`, :math:`\\boldsymbol\\sigma_n = (S^x_n, S^y_n, S^z_n)` the band value of
:math:`\\boldsymbol\\sigma` above, :math:`\\mu_B = e\\hbar/2m_e` and :math:`g_s = 2.00231930436`
(:data:`G_SPIN`, the magnitude of the free-electron g factor; electron charge -e, so the moment is opposite to
the spin). :math:`\\hbar^2/2m_e = 3.80998` eV Å² (:data:`HBAR2_OVER_2ME`). A wave packet in a field B has the
Zeeman energy :math:`-m^{spin}_n\\cdot B = (g_s\\mu_B/2)\\,\\boldsymbol\\sigma_n\\cdot B`.
"""

from __future__ import annotations

import numpy as np

from scipy import constants as _c

from .geometry import DEFAULT_DEGENERACY_TOL, _group_average, degenerate_groups
from .integrate.grids import KGrid
from .integrate.occupation import fermi_dirac
from .models.base import ModelError

__all__ = ["band_spin", "band_spin_moment", "spin_moment", "G_SPIN", "HBAR2_OVER_2ME"]

#: Magnitude of the free-electron spin g factor (CODATA), g_s in m = -(g_s mu_B/hbar) S.
G_SPIN = -_c.physical_constants["electron g factor"][0]
#: hbar^2/(2 m_e) in eV Angstrom^2: X^spin = -(g_s/2) HBAR2_OVER_2ME sigma gives m = (e/hbar) X = -(g_s/2) mu_B sigma.
HBAR2_OVER_2ME = _c.hbar ** 2 / (2 * _c.m_e) / _c.e / 1e-20


def _spin_in_groups(U, S, same, size):
    """Band values of sigma (B, N, 3): diagonal of U^dagger S_a U, averaged over degenerate groups.

    U (B, N, N) eigenvectors as columns, S (B, 3, N, N) in the same basis, ``same`` (B, N, N) bool or None and
    ``size`` (B, N) the group structure (:func:`qkinetics.geometry.degenerate_groups`).
    """
    # diagonal of U^dagger S_a U without forming the matrix: sum_ij conj(U_in) S_ij U_jn
    diag = np.einsum("bin,baij,bjn->bna", U.conj(), S, U).real                  # (B, N, 3)
    return _group_average(same, size, diag)


def _groups_from_sizes(size):
    """The (B, N, N) same-group mask of consecutive degenerate groups given their sizes (BandGeometry.degeneracy)."""
    size = np.asarray(size)
    B, N = size.shape
    labels = np.zeros((B, N), dtype=int)
    start = np.zeros(B, dtype=int)                                              # first band of the next group
    label = np.full(B, -1)
    for n in range(N):                                                          # a loop over bands, not k
        new = start == n
        label = label + new
        start = np.where(new, n + size[:, n], start)
        labels[:, n] = label
    return labels[:, :, None] == labels[:, None, :]


def band_spin_moment(model, geo, *, g_factor: float = G_SPIN) -> np.ndarray:
    """Spin magnetic moment of every band as X^spin (B, N, 3), eV Å², m^spin = (e/hbar) X^spin (module docstring).

    Uses the eigenvectors and degenerate groups of a geometry (one eigendecomposition for everything):
    ``X^spin_n = -(g/2) (hbar^2/2m_e) tr_G(n)(U^dagger sigma U)/|G(n)|``, the group trace over the group size,
    invariant under any unitary rotation inside a degenerate group, as the orbital moment.

    Parameters
    ----------
    model : model with a spin operator (``TightBinding(spin_matrix=...)``, ``Continuum(spin_matrix=...)``)
        The model the geometry was computed from, in the same Fourier convention.
    geo : BandGeometry
        From ``band_geometry(model, k, keep_eigenvectors=True)``.
    g_factor : float
        g_s (default :data:`G_SPIN` = 2.0023; 2 is postw90's value).
    """
    if getattr(model, "spin_matrix", None) is None:
        raise ModelError(
            f"{getattr(model, 'name', model)!r} has no spin operator, so it has no spin magnetic moment: build the "
            "model with spin_matrix=... (TightBinding or Continuum), or read a Wannier90 run with its seedname.spn "
            "(qkinetics.read_wannier90_run(seed, spin=True)); or use the orbital moment alone.")
    if geo.eigenvectors is None or geo.k is None:
        raise ModelError("the spin moment needs the eigenvectors and k points of the geometry: compute it with "
                         "band_geometry(model, k, keep_eigenvectors=True).")
    if not np.isfinite(g_factor):
        raise ModelError(f"g_factor must be a finite number; got {g_factor!r}.")
    size = geo.degeneracy
    same = None if np.all(size == 1) else _groups_from_sizes(size)
    S = model.spin_operator(geo.k)
    return -0.5 * g_factor * HBAR2_OVER_2ME * _spin_in_groups(geo.eigenvectors, S, same, size)


def band_spin(model, k, *, degeneracy_tol: float = DEFAULT_DEGENERACY_TOL):
    """Band energies (B, N) in eV and band spin expectation values S^a_n(k) (B, N, 3) (module docstring).

    Parameters
    ----------
    model : TightBinding with a ``spin_matrix``
    k : (B, d) or (d,) Cartesian wave vectors, 1/Å.
    degeneracy_tol : float
        Bands closer than this (eV) form a group whose values are the group average.
    """
    k = model.check_k(k)
    if getattr(model, "spin_matrix", None) is None:
        raise ModelError(
            f"{getattr(model, 'name', model)!r} has no spin operator: build the TightBinding with spin_matrix=..., "
            "or read a Wannier90 run with its seedname.spn (qkinetics.read_wannier90_run(seed, spin=True)).")
    if degeneracy_tol < 0:
        raise ModelError(f"degeneracy_tol must be >= 0 (eV); got {degeneracy_tol}.")
    H = model.hamiltonian(k, 0)[0]
    E, U = np.linalg.eigh(H)
    S = model.spin_operator(k)                                                  # (B, 3, N, N)
    labels = degenerate_groups(E, degeneracy_tol)
    same = labels[:, :, None] == labels[:, None, :]
    size = same.sum(-1)
    return E, _spin_in_groups(U, S, same, size)


def spin_moment(model, mu, kgrid, *, T: float = 0.0, shift=0.0, chunk_size: int = 20000,
                degeneracy_tol: float = DEFAULT_DEGENERACY_TOL) -> np.ndarray:
    """Spin magnetic moment per cell (Bohr magnetons), ``m_a = -sum_n int f_n S^a_n`` (module docstring), shape (3,).

    Parameters
    ----------
    model : TightBinding with a ``spin_matrix``
    mu : float, eV
        Chemical potential (Fermi energy).
    kgrid : int or sequence
        Points per reciprocal direction of a :class:`~qkinetics.integrate.KGrid`.
    T : float, K
        0 (default): the sharp step f = 1 for ε < μ (postw90's occupation); > 0: Fermi-Dirac.
    shift : float
        Monkhorst-Pack shift (0: Γ-centred, postw90's ``kmesh``).
    """
    if not T >= 0:
        raise ModelError(f"T must be >= 0 K; got {T}.")
    grid = KGrid(model, kgrid, shift=shift)
    volume = abs(np.linalg.det(np.asarray(model.lattice, float)))
    total = np.zeros(3)
    for k, w in grid.chunks(chunk_size):
        E, S = band_spin(model, k, degeneracy_tol=degeneracy_tol)
        f = (E < mu).astype(float) if T == 0 else fermi_dirac(E, mu, T)[0, 0]
        total += np.einsum("b,bn,bna->a", w, f, S)
    return -volume * total
