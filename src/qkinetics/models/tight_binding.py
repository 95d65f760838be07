"""Tight-binding models: exact Fourier sums of real-space hoppings.

Hoppings are given as ``{R: t_R}`` with ``R`` a tuple of integers (lattice vector in
units of the primitive vectors) and ``t_R[i, j] = <i, 0| H |j, R>`` in eV. Two Fourier
conventions are supported (they give the same bands and the same integrated
invariants, but different Berry connections and different k-local quantum metric
and Berry curvature when orbitals sit away from the cell origin):

``convention="positions"`` (default, "convention II")
    :math:`H_{ij}(k) = \\sum_R t_{R,ij}\\, e^{i k\\cdot(R + \\tau_j - \\tau_i)}`.
    Berry curvature and metric are those of the physical position operator; this is
    the convention in which semiclassical responses are computed.
``convention="lattice"`` ("convention I")
    :math:`H_{ij}(k) = \\sum_R t_{R,ij}\\, e^{i k\\cdot R}`: periodic in k,
    orbital positions ignored.

Both are related by :math:`H_{II}(k) = D(k)^\\dagger H_{I}(k) D(k)` with
:math:`D = \\mathrm{diag}(e^{i k\\cdot\\tau_j})`.
"""

from __future__ import annotations

import numpy as np

from .base import Model, ModelError

CONVENTIONS = ("positions", "lattice")


class TightBinding(Model):
    """A tight-binding model in 1, 2 or 3 dimensions.

    Parameters
    ----------
    lattice : array_like, shape (dim, dim)
        Primitive lattice vectors as rows, in Angstrom.
    positions : array_like, shape (N, dim)
        Orbital positions in reduced coordinates (fractions of the lattice vectors).
    hoppings : dict
        ``{R: t_R}`` with ``R`` a tuple of ``dim`` integers and ``t_R`` an (N, N) array in
        eV, ``t_R[i, j] = <i, 0|H|j, R>``. Hermiticity requires ``t_{-R} = t_R^dagger``.
    hermiticity : {"check", "complete"}
        ``"check"`` (default) raises :class:`ModelError` unless every ``t_{-R}`` equals
        ``t_R^dagger``. ``"complete"`` adds the missing partner ``t_{-R} = t_R^dagger`` of
        every ``R != 0`` that lacks one (an ``R`` whose partner is present must still
        match), and requires ``t_0`` Hermitian.
    convention : {"positions", "lattice"}
        Fourier convention, see the module docstring.
    name : str
        Label used in output and provenance.
    """

    def __init__(self, lattice, positions, hoppings, *, hermiticity="check",
                 convention="positions", name="tight-binding"):
        lattice = np.atleast_2d(np.asarray(lattice, dtype=float))
        if lattice.ndim != 2 or lattice.shape[0] != lattice.shape[1] or lattice.shape[0] not in (1, 2, 3):
            raise ModelError(
                f"lattice must be a square (dim, dim) array of primitive vectors as rows with dim 1, 2 or 3; "
                f"got shape {lattice.shape}."
            )
        if abs(np.linalg.det(lattice)) < 1e-12:
            raise ModelError("lattice vectors are linearly dependent (zero cell volume).")
        dim = lattice.shape[0]
        positions = np.asarray(positions, dtype=float)
        if positions.ndim == 1 and dim == 1:
            positions = positions[:, None]
        if positions.ndim != 2 or positions.shape[1] != dim:
            raise ModelError(f"positions must have shape (N, {dim}) in reduced coordinates; got {positions.shape}.")
        norb = positions.shape[0]
        if convention not in CONVENTIONS:
            raise ModelError(f"unknown convention {convention!r}; choose one of {CONVENTIONS}.")
        if hermiticity not in ("check", "complete"):
            raise ModelError(f"hermiticity must be 'check' or 'complete'; got {hermiticity!r}.")
        if not hoppings:
            raise ModelError("hoppings is empty: give at least the on-site block {(0,)*dim: t_0}.")

        hop = {}
        for R, t in hoppings.items():
            Rt = tuple(int(r) for r in np.atleast_1d(R))
            if len(Rt) != dim or not np.allclose(np.atleast_1d(R), Rt):
                raise ModelError(f"hopping key {R!r} must be a tuple of {dim} integers (lattice vector in reduced units).")
            t = np.asarray(t, dtype=complex)
            if t.shape != (norb, norb):
                raise ModelError(f"hopping t_R for R={Rt} has shape {t.shape}; expected ({norb}, {norb}) for {norb} orbitals.")
            hop[Rt] = hop.get(Rt, 0) + t
        zero = (0,) * dim
        if hermiticity == "complete":
            for R in list(hop):
                mR = tuple(-r for r in R)
                if R != zero and mR not in hop:
                    hop[mR] = hop[R].conj().T
        for R, t in hop.items():
            mR = tuple(-r for r in R)
            partner = hop.get(mR)
            if partner is None:
                raise ModelError(
                    f"hopping R={R} has no Hermitian partner R={mR}; add t_{{-R}} = t_R^dagger "
                    "or pass hermiticity='complete'."
                )
            dev = np.max(np.abs(partner - t.conj().T))
            if dev > 1e-10 * max(1.0, np.max(np.abs(t))):
                raise ModelError(
                    f"hoppings are not Hermitian: t_{{-R}} != t_R^dagger for R={R} (max deviation {dev:.3g} eV)."
                )

        self.dim, self.norb = dim, norb
        self.lattice = lattice
        self.positions = positions
        self.hoppings = hop
        self.convention = convention
        self.name = name
        self._R = np.array(list(hop), dtype=float).reshape(len(hop), dim)      # reduced
        self._t = np.array([hop[R] for R in hop])                              # (nR, N, N)
        # Cartesian hopping displacement d_{R,ij} = R + tau_j - tau_i (convention II) or R.
        Rcart = self._R @ lattice
        if convention == "positions":
            tau = positions @ lattice
            self._disp = Rcart[:, None, None, :] + tau[None, None, :, :] - tau[None, :, None, :]
        else:
            self._disp = np.broadcast_to(Rcart[:, None, None, :], (len(hop), norb, norb, dim))
        self._weights = {}

    #: exact Fourier-sum derivatives: any order is cheap; 6 bounds the memory of the weights
    max_derivative_order = 6

    def with_convention(self, convention: str) -> "TightBinding":
        """The same model in the given Fourier convention ("lattice" gives H(k) periodic over the BZ)."""
        other = TightBinding(self.lattice, self.positions, self.hoppings, convention=convention, name=self.name)
        if hasattr(self, "provenance"):
            other.provenance = self.provenance
        return other

    def _derivative_weights(self, order: int) -> np.ndarray:
        """Hopping matrices times (i d)^n for every derivative multi-index up to ``order``.

        Shape (nR, M, N, N) with M = 1 + dim + dim^2 + ... ; cached per order.
        """
        if order not in self._weights:
            blocks = [self._t[:, None]]
            idisp = 1j * np.moveaxis(self._disp, -1, 1)                         # (nR, dim, N, N)
            cur = self._t[:, None]
            for _ in range(order):
                cur = (cur[:, :, None] * idisp[:, None, :]).reshape(len(self._t), -1, self.norb, self.norb)
                blocks.append(cur)
            self._weights[order] = np.concatenate(blocks, axis=1)
        return self._weights[order]

    def _hamiltonian(self, k, order):
        n, d = self.norb, self.dim
        W = self._derivative_weights(order)
        phase = np.exp(1j * (k @ (self._R @ self.lattice).T))                   # (B, nR)
        if self.convention == "positions":
            # e^{ik.(R + tau_j - tau_i)} = e^{-ik.tau_i} e^{ik.R} e^{ik.tau_j}
            tau = self.positions @ self.lattice
            ph_tau = np.exp(1j * (k @ tau.T))                                    # (B, N)
        allm = (phase @ W.reshape(W.shape[0], -1)).reshape(k.shape[0], W.shape[1], n, n)
        if self.convention == "positions":
            allm *= (ph_tau.conj()[:, :, None] * ph_tau[:, None, :])[:, None]
        out, start = [], 0
        for p in range(order + 1):
            m = d**p
            out.append(allm[:, start:start + m].reshape((k.shape[0],) + (d,) * p + (n, n)))
            start += m
        return tuple(out)
