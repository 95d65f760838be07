"""The phase-space grid: cells in x, k_x (and the k_y parameter grid of 2D models) and their measures.

* x_i = (i + 1/2) dx, i = 0..nx-1, faces x_{i-1/2} = i dx (i = 0..nx), dx = L/nx (Å).
* k_j = -b/2 + (j + 1/2) dk over the Brillouin zone of the lattice along x, b = 2π/a_x the first reciprocal
  vector's x component, dk = b/nk (1/Å); faces k_{j-1/2} (j = 0..nk).
* 2D models: k_y is a midpoint grid over the zone (a parameter: V depends on x only, so k̇_y = 0 and each k_y
  line evolves on its own); 1D models carry a dummy k_y axis of length 1 (dk_y = 1).
* The state f has shape (band, x, k_x, k_y) = :attr:`PhaseSpaceGrid.shape`; ``weight`` = dk dk_y/(2π)^d is
  the measure of one k cell, so a density is ``weight * f.sum(k axes)`` (1/Å^d, no spin factor).
"""

import numpy as np

from ..models.base import ModelError

__all__ = ["PhaseSpaceGrid"]


class PhaseSpaceGrid:
    """Cell centres, faces and measures of the (x, k_x[, k_y]) grid (a part of :class:`.KineticSolver`)."""

    def _init_x_grid(self, length, nx):
        """x cells of a box of ``length`` Å (periodic or open)."""
        self.length, self.nx = float(length), int(nx)
        self.dx = self.length / self.nx
        self.x = (np.arange(self.nx) + 0.5) * self.dx
        self.x_faces = np.arange(self.nx + 1) * self.dx                     # x_{i-1/2}, i = 0..nx

    @staticmethod
    def _check_lattice(model, nk_perp):
        """The models the grid can hold: 1D or 2D lattice models with a rectangular reciprocal cell."""
        if not model.periodic:
            raise ModelError("KineticSolver needs a lattice model (periodic k); continuum models are not supported yet.")
        if model.dim not in (1, 2):
            raise ModelError(f"KineticSolver supports 1D and 2D models; got dim={model.dim}.")
        rec = model.reciprocal
        if model.dim == 2 and (abs(rec[0, 1]) > 1e-12 or abs(rec[1, 0]) > 1e-12):
            raise ModelError("2D models need a rectangular reciprocal cell (x along b1, y along b2).")
        if model.dim == 2 and not nk_perp:
            raise ModelError("Give nk_perp (k_y points) for a 2D model.")

    def _init_k_grid(self, model, nk, nk_perp):
        """k_x cells over the zone (and the k_y midpoint grid in 2D); returns the k_x faces k_{j-1/2}, j = 0..nk."""
        rec = model.reciprocal
        self.nk = int(nk)
        self.nky = int(nk_perp) if model.dim == 2 else 1
        bx = rec[0, 0]
        self.dk = bx / self.nk
        self.k = -bx / 2 + (np.arange(self.nk) + 0.5) * self.dk
        kfaces = -bx / 2 + np.arange(self.nk + 1) * self.dk
        if model.dim == 2:
            by = rec[1, 1]
            self.dky = by / self.nky
            self.ky = -by / 2 + (np.arange(self.nky) + 0.5) * self.dky
        else:
            self.dky, self.ky = 1.0, np.zeros(1)
        d = model.dim
        self.weight = self.dk * self.dky / (2 * np.pi) ** d                 # dk/(2π)^d per cell
        return kfaces

    def _kgrid(self, kx):
        """The (k_x[, k_y]) points of the k_x values ``kx`` times the k_y grid, k_x major: (len(kx) nky, dim)."""
        return np.stack(np.broadcast_arrays(kx[:, None], self.ky[None, :]), -1).reshape(-1, 2)[:, :self.model.dim]


    @property
    def shape(self):
        return (self.nbands, self.nx, self.nk, self.nky)

    @property
    def ncells(self) -> int:
        return int(np.prod(self.shape))

