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
"""

from __future__ import annotations

import numpy as np

from .geometry import DEFAULT_DEGENERACY_TOL, _group_average, degenerate_groups
from .integrate.grids import KGrid
from .integrate.occupation import fermi_dirac
from .models.base import ModelError

__all__ = ["band_spin", "spin_moment"]


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
    # diagonal of U^dagger S_a U without forming the matrix: sum_ij conj(U_in) S_ij U_jn
    diag = np.einsum("bin,baij,bjn->bna", U.conj(), S, U).real                  # (B, N, 3)
    labels = degenerate_groups(E, degeneracy_tol)
    same = labels[:, :, None] == labels[:, None, :]
    size = same.sum(-1)
    return E, _group_average(same, size, diag)


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
