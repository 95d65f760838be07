"""Brillouin-zone and continuum k grids, generated chunk by chunk with integration weights.

A grid yields ``(k, w)`` chunks: Cartesian wave vectors k (1/Angstrom) and weights w (Angstrom^-d)
such that :math:`\\sum_k w_k F(k) \\approx \\int d^dk/(2\\pi)^d\\, F(k)`. No grid is ever held whole,
so memory is bounded by the chunk size whatever the number of points.
"""

from __future__ import annotations

import numbers

import numpy as np

from ..checks import grid_sizes, k_points
from ..models.base import Model, ModelError


class KGrid:
    """Uniform k grid for a model.

    Lattice models: a Monkhorst-Pack grid of ``n`` points per reciprocal direction over the whole
    Brillouin zone (reduced coordinates (i + shift)/n), weight ``V_BZ / (N (2 pi)^d)``.
    Continuum models: a grid of spacing ``2 kcut / n`` over the cube [-kcut, kcut]^d keeping the
    points with |k| < kcut (cell centres, so k = 0 is avoided for even n), weight ``dk^d / (2 pi)^d``.

    Parameters
    ----------
    model : Model
    n : int or sequence of int
        Points per direction (for continuum models a single int).
    shift : float or sequence of float
        Monkhorst-Pack shift in units of the grid step (0 = Gamma-centred, 0.5 = shifted).
        Ignored for continuum grids, which always use cell centres.
    kcut : float, optional
        Momentum cutoff (1/Angstrom) of a continuum grid; defaults to ``model.kcut``.
    """

    def __init__(self, model: Model, n, shift=0.5, kcut=None):
        self.dim = model.dim
        self.periodic = model.periodic
        n = grid_sizes("grid size n", n, self.dim)
        self.n = n
        if self.periodic:
            self.shift = np.broadcast_to(np.asarray(shift, dtype=float), (self.dim,)).copy()
            self.reciprocal = model.reciprocal
            self.npoints = int(np.prod(n))
            k_points(self.npoints, f"Monkhorst-Pack {'x'.join(map(str, n))}", getattr(model, "norb", 2))
            self.weight = abs(np.linalg.det(self.reciprocal)) / self.npoints / (2 * np.pi) ** self.dim
            self.spacing = float(np.max(np.linalg.norm(self.reciprocal, axis=1) / n))
            self.description = f"Monkhorst-Pack {'x'.join(map(str, n))}, shift {self.shift.tolist()}"
        else:
            kcut = model.kcut if kcut is None else kcut
            if kcut is None or isinstance(kcut, bool) or not isinstance(kcut, numbers.Real) or not np.isfinite(kcut) \
                    or kcut <= 0:
                raise ModelError(
                    f"{model.name} is a continuum model: integration needs a momentum cutoff kcut > 0 (1/Angstrom); "
                    "give kcut to the model or to the grid."
                )
            if len(set(n.tolist())) != 1:
                raise ModelError("continuum grids use the same n in every direction.")
            self.kcut = float(kcut)
            self.spacing = 2 * self.kcut / n[0]
            self.weight = self.spacing**self.dim / (2 * np.pi) ** self.dim
            ball = np.pi / 4 if self.dim == 2 else np.pi / 6 if self.dim == 3 else 1.0
            k_points(ball * float(n[0]) ** self.dim, f"continuum {n[0]}^{self.dim} in |k| < {self.kcut:g} 1/A",
                     getattr(model, "norb", 2))
            axis = -self.kcut + (np.arange(n[0]) + 0.5) * self.spacing
            self.npoints = _count_inside(axis, self.kcut**2, self.dim)
            self.description = f"continuum grid {n[0]}^{self.dim} in |k| < {self.kcut:g} 1/A ({self.npoints} points)"

    def _reduced_or_axis_points(self, start, stop):
        """Multi-indices start..stop of the full product grid, as (M, dim) integer array."""
        idx = np.arange(start, stop)
        return np.stack(np.unravel_index(idx, tuple(self.n)), axis=-1)

    def nchunks(self, chunk_size: int) -> int:
        """Number of chunks :meth:`chunks` yields at most (continuum chunks outside kcut are skipped)."""
        return -(-int(np.prod(self.n)) // chunk_size)

    def chunks(self, chunk_size: int = 20000):
        """Yield ``(k, w)`` with k of shape (B, dim) in 1/Angstrom and w of shape (B,) in Angstrom^-d."""
        total = int(np.prod(self.n))
        for start in range(0, total, chunk_size):
            ij = self._reduced_or_axis_points(start, min(start + chunk_size, total))
            if self.periodic:
                k = ((ij + self.shift) / self.n) @ self.reciprocal
            else:
                k = -self.kcut + (ij + 0.5) * self.spacing
                k = k[_squared_norm(k) < self.kcut**2]
                if not len(k):
                    continue
            yield k, np.full(len(k), self.weight)

    def coarsened(self, model: Model) -> "KGrid":
        """The same grid with half the points per direction (for convergence estimates)."""
        if self.periodic:
            return KGrid(model, np.maximum(self.n // 2, 2), shift=self.shift)
        return KGrid(model, max(self.n[0] // 2, 2), kcut=self.kcut)


def _squared_norm(k):
    """|k|^2 of points (M, dim), summed over the components in order (the sum :func:`_count_inside` mirrors)."""
    r2 = k[:, 0] ** 2
    for d in range(1, k.shape[1]):
        r2 = r2 + k[:, d] ** 2
    return r2


def _count_inside(axis, kcut2, dim):
    """Number of points of the product grid axis^dim with :func:`_squared_norm` < kcut2, exactly as
    :meth:`KGrid.chunks` filters them, in O(n^(dim-1) log n) time and O(n) memory (not a dense n^dim array).

    The last component is counted by bisection: with s = sorted(axis^2), fl(t + s_j) < kcut2 holds for a prefix
    of s (rounded addition is monotone), found by searchsorted and corrected at its edge."""
    s = np.sort(axis**2)

    def prefix(t):                                     # t: partial sums of the other components, any shape
        c = np.searchsorted(s, kcut2 - t, side="left")
        for _ in range(4):                             # rounding moves the edge by at most an element or two
            up = (c < s.size) & (t + s[np.minimum(c, s.size - 1)] < kcut2)
            down = (c > 0) & ~(t + s[np.maximum(c - 1, 0)] < kcut2)
            if not (up.any() or down.any()):
                break
            c = c + up - down
        return c

    if dim == 1:
        return int(np.count_nonzero(s < kcut2))
    sq = axis**2
    if dim == 2:
        return int(prefix(sq).sum())
    total = 0
    rows = max(1, 2**20 // sq.size)                    # blocks of rows: memory O(2^20) whatever n
    for start in range(0, sq.size, rows):
        total += int(prefix(sq[start:start + rows, None] + sq[None, :]).sum())
    return total


def polar_grid(kcut, nth=64, refine=(), width=0.02, fine=0.001, coarse=0.1, order=8):
    """Quadrature over the 2D disc |k| < kcut, refined around chosen radii (e.g. Fermi radii).

    Gauss-Legendre panels of ``order`` nodes in |k| (panel size ``coarse``, and ``fine`` within
    ``width`` of each radius in ``refine``; all 1/Angstrom) times ``nth`` uniform angles. For isotropic
    continuum models whose Fermi surface is a circle this converges far faster than a square grid.

    Returns
    -------
    k : (M, 2) Cartesian points, 1/Angstrom
    w : (M,) weights, Angstrom^-2, such that sum w F(k) ~ int d^2k/(2 pi)^2 F(k) over the disc
    """
    edges = [np.linspace(0, kcut, int(np.ceil(kcut / coarse)) + 1)]
    for r0 in refine:
        edges.append(np.clip(np.linspace(r0 - width, r0 + width, int(round(2 * width / fine)) + 1), 0, kcut))
    edges = np.unique(np.concatenate(edges))
    x, wx = np.polynomial.legendre.leggauss(order)
    a, b = edges[:-1, None], edges[1:, None]
    r = ((b - a) / 2 * x + (a + b) / 2).ravel()
    wr = ((b - a) / 2 * wx).ravel()
    th = (np.arange(nth) + 0.5) * 2 * np.pi / nth
    R, TH = np.meshgrid(r, th, indexing="ij")
    W = (wr[:, None] * R * (2 * np.pi / nth)) / (2 * np.pi) ** 2
    return np.stack([R * np.cos(TH), R * np.sin(TH)], axis=-1).reshape(-1, 2), W.ravel()
