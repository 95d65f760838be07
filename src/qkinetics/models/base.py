"""The model interface: a Bloch Hamiltonian and its exact k-derivatives.

Every model gives, at a batch of Cartesian wave vectors ``k`` (shape ``(B, dim)``,
in 1/Angstrom), the Hermitian Bloch Hamiltonian in eV and its analytic derivatives

.. math::
    H(k),\\quad \\partial_a H,\\quad \\partial_a\\partial_b H,\\quad
    \\partial_a\\partial_b\\partial_c H

returned by :meth:`Model.hamiltonian` as a tuple of arrays shaped
``(B, N, N)``, ``(B, dim, N, N)``, ``(B, dim, dim, N, N)`` and
``(B, dim, dim, dim, N, N)`` (derivatives in eV Angstrom^n).
"""

from __future__ import annotations

from abc import ABC, abstractmethod

import numpy as np


class ModelError(ValueError):
    """Raised for a malformed model definition or malformed model input."""


class Model(ABC):
    """Base class of band models.

    Subclasses set ``dim`` (number of momentum components), ``norb`` (matrix size N)
    and implement :meth:`_hamiltonian`. Lattice models also set ``lattice``
    (rows are the primitive vectors, Angstrom); continuum models set ``lattice = None``
    and may set ``kcut`` (momentum cutoff for integration, 1/Angstrom).
    """

    dim: int
    norb: int
    lattice: np.ndarray | None = None
    kcut: float | None = None
    name: str = "model"

    @property
    def periodic(self) -> bool:
        """True for lattice models (k lives on a closed Brillouin zone)."""
        return self.lattice is not None

    @property
    def reciprocal(self) -> np.ndarray:
        """Reciprocal primitive vectors as rows, 1/Angstrom: ``a_i . b_j = 2 pi delta_ij``."""
        if self.lattice is None:
            raise ModelError(f"{self.name} is a continuum model: it has no reciprocal lattice.")
        return 2 * np.pi * np.linalg.inv(self.lattice).T

    def k_from_reduced(self, kred) -> np.ndarray:
        """Cartesian k (1/Angstrom) from reduced coordinates (units of the reciprocal vectors)."""
        kred = np.asarray(kred, dtype=float)
        return kred @ self.reciprocal

    def k_to_reduced(self, k) -> np.ndarray:
        """Reduced coordinates of Cartesian wave vectors k (1/Angstrom)."""
        if self.lattice is None:
            raise ModelError(f"{self.name} is a continuum model: it has no reduced coordinates.")
        return np.asarray(k, dtype=float) @ self.lattice.T / (2 * np.pi)

    def check_k(self, k) -> np.ndarray:
        """Return ``k`` as a float array of shape ``(B, dim)`` or raise a clear error."""
        k = np.asarray(k, dtype=float)
        if k.ndim == 1 and k.shape[0] == self.dim:
            k = k[None, :]
        if k.ndim != 2 or k.shape[1] != self.dim:
            raise ModelError(
                f"k must have shape (B, {self.dim}) for this {self.dim}D model "
                f"(Cartesian, 1/Angstrom); got shape {k.shape}."
            )
        if not np.all(np.isfinite(k)):
            raise ModelError("k contains NaN or infinite entries.")
        return k

    #: highest k-derivative order :meth:`hamiltonian` returns
    max_derivative_order = 3

    def hamiltonian(self, k, order: int = 0):
        """Bloch Hamiltonian and its derivatives at a batch of k points.

        Parameters
        ----------
        k : array_like, shape (B, dim) or (dim,)
            Cartesian wave vectors in 1/Angstrom.
        order : int, 0..max_derivative_order
            Highest derivative order returned (3 for every model; tight-binding models, whose
            derivatives are exact Fourier sums, give up to :attr:`max_derivative_order` = 6).

        Returns
        -------
        tuple of ndarray
            ``(H, dH, d2H, d3H)[: order + 1]`` with shapes ``(B, N, N)``,
            ``(B, dim, N, N)``, ``(B, dim, dim, N, N)``, ``(B, dim, dim, dim, N, N)``;
            ``dH[:, a] = dH/dk_a`` in eV Angstrom.
        """
        if not isinstance(order, (int, np.integer)) or not 0 <= order <= self.max_derivative_order:
            raise ModelError(f"order must be an integer from 0 to {self.max_derivative_order} for this "
                             f"{type(self).__name__}; got {order!r}.")
        return self._hamiltonian(self.check_k(k), order)

    @abstractmethod
    def _hamiltonian(self, k: np.ndarray, order: int):
        """Return ``(H, dH, ...)[: order + 1]`` for validated k of shape (B, dim)."""

    def bands(self, k) -> np.ndarray:
        """Band energies (eV, ascending) at a batch of k points, shape ``(B, N)``."""
        return np.linalg.eigvalsh(self.hamiltonian(k, 0)[0])

    def __repr__(self) -> str:
        return f"<{type(self).__name__} {self.name!r}: dim={self.dim}, N={self.norb}>"


def check_hermitian(H, what: str = "Hamiltonian", atol: float = 1e-10) -> None:
    """Raise :class:`ModelError` if the stack of matrices ``H`` is not Hermitian."""
    H = np.asarray(H)
    if H.shape[-1] != H.shape[-2]:
        raise ModelError(f"{what} must be square in its last two axes; got shape {H.shape}.")
    dev = np.max(np.abs(H - np.conj(np.swapaxes(H, -1, -2)))) if H.size else 0.0
    if dev > atol * max(1.0, np.max(np.abs(H)) if H.size else 1.0):
        raise ModelError(
            f"{what} is not Hermitian (max |H - H^dagger| = {dev:.3g}). "
            "Check the signs and complex conjugation of the off-diagonal terms."
        )
