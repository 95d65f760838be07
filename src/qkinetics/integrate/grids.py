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


class IrreducibleGrid:
    """The points of a :class:`KGrid` reduced to one representative per orbit of a point group.

    Every operation's action on reduced k coordinates is an integer matrix M (kappa -> kappa M).
    A grid point (i + s) / n (``i`` integer, shift s = 0 or 1/2) is kept as ``p = 2 i + 2 s``;
    the grid is invariant when p M stays on it, and the orbit of a point is found in integer
    arithmetic: its images p M reduced modulo 2n, their linear indices, the representative the
    smallest index. Only representatives are yielded, each with the weight of the grid point times
    its orbit size, so the weights still sum to the Brillouin-zone volume. Scanning the grid costs
    integer work only (chunk by chunk, bounded memory); the band geometry is computed for about
    1/|G| of the points.

    Operations that do not leave the grid invariant (a shifted grid under a 3-fold rotation, unequal
    n along related directions) are left out of the reduction and listed in ``dropped``; summing
    the representatives then gives the full-grid sum symmetrized over the kept operations only.

    Parameters
    ----------
    grid : KGrid
        A lattice grid.
    k_actions : sequence of (d, d) integer arrays
        Reduced-coordinate actions M of the group's operations (distinct; the identity included).
    names : sequence of str, optional
        Labels of the actions, for ``dropped``.
    """

    def __init__(self, grid: KGrid, k_actions, names=None):
        if not grid.periodic:
            raise ModelError("symmetry reduction needs a lattice (Monkhorst-Pack) grid, not a continuum grid.")
        twice = 2 * grid.shift
        if not np.allclose(twice, np.round(twice)):
            raise ModelError(f"symmetry reduction needs a grid shift of 0 or 0.5 per direction; got {grid.shift.tolist()}.")
        self.grid = grid
        self.dim, self.n, self.periodic = grid.dim, grid.n, True
        self._twice_shift = np.round(twice).astype(np.int64) % 2
        names = list(names) if names is not None else [str(i) for i in range(len(k_actions))]
        kept, self.dropped = [], []
        for M, name in zip(k_actions, names):
            M = np.asarray(M, dtype=np.int64)
            if self._preserves_grid(M):
                kept.append(M)
            else:
                self.dropped.append(name)
        self.actions = np.array(kept)                                    # (|K|, d, d)
        self.npoints, self.weight, self.spacing = grid.npoints, grid.weight, grid.spacing
        self.reciprocal = grid.reciprocal
        self._counts = {}
        self.description = f"{grid.description}, irreducible wedge of {len(kept)} operations"

    def _preserves_grid(self, M) -> bool:
        n = self.n
        related = M != 0
        if np.any(related & (n[:, None] != n[None, :])):                   # mixes directions of unequal n
            return False
        return np.array_equal((self._twice_shift @ M) % 2, self._twice_shift)

    def _linear(self, p, M):
        """Linear indices of the images p M (doubled coordinates p, (B, d)) on the grid."""
        s2, n = self._twice_shift, self.n
        images = (p @ M) % (2 * n)
        return np.ravel_multi_index(tuple(((images - s2) // 2).T), tuple(n))

    def _orbits(self, start, stop):
        """Representatives among the linear indices start..stop: (their indices, their orbit sizes).

        A point is its orbit's representative when no image has a smaller index. Most points are
        rejected by the first few operations, so the survivors shrink geometrically and the scan
        costs a few integer matrix products per point, not |G|; the orbit sizes are counted on the
        representatives only.
        """
        idx = np.arange(start, stop, dtype=np.int64)
        p = 2 * np.stack(np.unravel_index(idx, tuple(self.n)), axis=-1) + self._twice_shift
        for M in self.actions:
            keep = self._linear(p, M) >= idx
            idx, p = idx[keep], p[keep]
        images = np.stack([self._linear(p, M) for M in self.actions], axis=1)        # (reps, |K|)
        images.sort(axis=1)
        return idx, 1 + np.count_nonzero(np.diff(images, axis=1), axis=1)

    def _representatives(self, scan):
        """Yield (linear index, orbit size) arrays of the representatives, block by block."""
        total = self.npoints
        for start in range(0, total, scan):
            yield self._orbits(start, min(start + scan, total))

    def chunks(self, chunk_size: int = 20000):
        """Yield ``(k, w)`` of the representatives, ``chunk_size`` at a time, w = grid weight x orbit size."""
        buf_i, buf_s, held, total = [], [], 0, 0
        for idx, size in self._representatives(max(chunk_size, 4096)):
            total += len(idx)
            buf_i.append(idx)
            buf_s.append(size)
            held += len(idx)
            while held >= chunk_size:
                idx_all, size_all = np.concatenate(buf_i), np.concatenate(buf_s)
                yield self._points(idx_all[:chunk_size], size_all[:chunk_size])
                buf_i, buf_s, held = [idx_all[chunk_size:]], [size_all[chunk_size:]], held - chunk_size
        if held:
            yield self._points(np.concatenate(buf_i), np.concatenate(buf_s))
        self._counts["reps"] = total                                   # a full pass counted them: no rescan

    def _points(self, idx, size):
        ij = np.stack(np.unravel_index(idx, tuple(self.n)), axis=-1)
        k = ((ij + self.grid.shift) / self.n) @ self.reciprocal
        return k, self.weight * size.astype(float)

    def count(self) -> int:
        """Number of representatives (orbits), found by one integer scan of the grid."""
        if "reps" not in self._counts:
            self._counts["reps"] = sum(len(i) for i, _ in self._representatives(1 << 16))
        return self._counts["reps"]

    def nchunks(self, chunk_size: int) -> int:
        """Number of chunks :meth:`chunks` yields (exact)."""
        return -(-self.count() // chunk_size)

    def coarsened(self, model: Model) -> "IrreducibleGrid":
        """The same reduction on the grid with half the points per direction."""
        g = IrreducibleGrid(self.grid.coarsened(model), self.actions)
        g.dropped = self.dropped + g.dropped
        return g
