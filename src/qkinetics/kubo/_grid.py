"""Shared helpers of the Kubo reference solvers: k-point sources, Fourier convention, Fermi weights."""

from __future__ import annotations

import numpy as np

from ..integrate.grids import KGrid
from ..models.base import Model, ModelError
from ..models.tight_binding import TightBinding


def physical_model(model: Model) -> Model:
    """The model in the Fourier convention whose k-derivatives and overlaps are the physical ones.

    A :class:`~qkinetics.models.tight_binding.TightBinding` model in the ``"lattice"`` convention is
    converted to the ``"positions"`` convention: there :math:`\\partial_k H` is the current operator
    and :math:`\\langle u_n(k)|u_m(k+q)\\rangle` the density form factor of orbitals at their positions
    (diagonal position operator). Other models are returned unchanged.
    """
    if isinstance(model, TightBinding) and model.convention != "positions":
        return model.with_convention("positions")
    return model


def k_source(model: Model, kgrid, shift=0.5, kcut=None):
    """Normalise a k-point specification to ``(description, iterator factory over (k, w) chunks)``.

    ``kgrid`` is an int or sequence (points per direction of a :class:`KGrid`), a :class:`KGrid`, or a
    pair ``(k, w)`` of explicit Cartesian points (B, d) in 1/Angstrom and weights (B,) in Angstrom^-d
    with :math:`\\sum_k w_k F(k) \\approx \\int d^dk/(2\\pi)^d F(k)`.
    """
    if isinstance(kgrid, KGrid):
        grid = kgrid
    elif isinstance(kgrid, tuple) and len(kgrid) == 2 and np.ndim(kgrid[0]) == 2:
        k = model.check_k(kgrid[0])
        w = np.asarray(kgrid[1], dtype=float)
        if w.shape != (len(k),):
            raise ModelError(f"explicit weights must have shape ({len(k)},); got {w.shape}.")

        def chunks(chunk_size):
            for i in range(0, len(k), chunk_size):
                yield k[i:i + chunk_size], w[i:i + chunk_size]
        return f"explicit k points ({len(k)})", chunks
    else:
        grid = KGrid(model, kgrid, shift=shift, kcut=kcut)
    return grid.description, grid.chunks


def fermi_and_derivative(energies, mu, T):
    """f and f' (eV^-1) of shape (n_mu, n_T, *energies.shape); f' is 0 where T = 0 (no delta functions on a grid)."""
    from ..integrate.occupation import fermi_dirac

    f = fermi_dirac(energies, mu, T, 0)
    Tpos = np.where(T > 0, T, 1.0)
    fp = fermi_dirac(energies, mu, Tpos, 1)
    fp = np.where((T > 0).reshape((1, -1) + (1,) * np.ndim(energies)), fp, 0.0)
    return f, fp
