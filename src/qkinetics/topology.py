"""Chern numbers of isolated band groups by link variables (Fukui, Hatsugai, Suzuki 2005).

On an ``nk x nk`` grid of a Brillouin-zone plane the link variables of a band group are
:math:`U_\\mu(k) = \\det\\, \\Psi(k)^\\dagger \\Psi(k+\\hat\\mu)` (non-Abelian: the determinant of the
overlap matrix of the group's eigenvectors), the plaquette flux
:math:`F = -\\arg[U_1(k) U_2(k+\\hat 1) U_1(k+\\hat 2)^{-1} U_2(k)^{-1}]` is the Berry flux of the
plaquette with :math:`A = i\\langle u|\\partial u\\rangle`, and

.. math::  C = \\frac{1}{2\\pi}\\sum_{\\text{plaquettes}} F = \\frac{1}{2\\pi}\\int_{BZ} \\Omega^{xy}\\, d^2k ,

an exact integer for any grid on which the group stays gapped from the other bands.
Eigenvectors are taken in the periodic (lattice) Fourier convention, which leaves C unchanged.
With the library's sign convention a filled band of Chern number C gives
:math:`\\sigma_{xy} = -(e^2/h)\\,C`.
"""

from __future__ import annotations

import numpy as np

from . import checks
from .models.base import Model, ModelError


def _link(psi, axis):
    """det(Psi(k)^dagger Psi(k + mu)) on a periodic grid, psi shaped (n1, n2, N, ng)."""
    shifted = np.roll(psi, -1, axis=axis)
    return np.linalg.det(np.conj(np.swapaxes(psi, -1, -2)) @ shifted)


def chern_number(model: Model, bands, *, nk: int = 60, plane=(0, 1), k_fixed: float = 0.0,
                 min_gap: float = 1e-8, return_curvature: bool = False):
    """Chern number of an isolated group of bands.

    Parameters
    ----------
    model : Model
        A lattice model (2D, or 3D with ``plane`` and ``k_fixed``).
    bands : int or sequence of int
        Band indices (ascending-energy order, 0 = lowest) forming the group, e.g. ``range(n_occ)``.
    nk : int
        Grid points per direction of the plane.
    plane : (i, j)
        Reduced reciprocal directions spanning the plane (3D models); in 2D it must be (0, 1).
    k_fixed : float
        Reduced coordinate of the third direction (3D models).
    min_gap : float
        The group must be separated from the other bands by at least this (eV) on the grid;
        otherwise the link-variable Chern number is undefined and a ModelError is raised.
    return_curvature : bool
        Also return the plaquette fluxes (nk, nk).

    Returns
    -------
    int (or (int, ndarray))
        For a 2D model the Chern number with Cartesian orientation,
        :math:`C = (1/2\\pi)\\int \\Omega^{xy} dk_x dk_y`. For a 3D model, the Chern number of the
        plane oriented by (b_i, b_j).
    """
    if not model.periodic:
        raise ModelError(
            f"{model.name} is a continuum model: its momentum space is not closed, so the Chern number is "
            "not an integer. Integrate the Berry curvature (qkinetics.band_geometry) instead."
        )
    if model.dim not in (2, 3):
        raise ModelError(f"Chern numbers need a 2D or 3D model; {model.name} has dim={model.dim}.")
    bands = np.atleast_1d(np.asarray(bands, dtype=int))
    if bands.size == 0 or bands.min() < 0 or bands.max() >= model.norb:
        raise ModelError(f"bands must be indices in 0..{model.norb - 1}; got {bands.tolist()}.")
    if model.dim == 2 and tuple(plane) != (0, 1):
        raise ModelError("a 2D model has the single plane (0, 1).")
    i, j = plane
    if i == j or not (0 <= i < model.dim and 0 <= j < model.dim):
        raise ModelError(f"plane must be two different reduced directions in 0..{model.dim - 1}; got {plane}.")
    nk = checks.integer("nk", nk, 3)
    checks.finite("k_fixed", k_fixed, "reduced coordinate")
    # the whole plane at once: k points, Hamiltonians, eigenvectors and links (~4 complex norb x norb per point)
    checks.memory(f"chern_number with nk = {nk} ({nk}^2 k points, {model.norb} orbitals)",
                  nk**2 * (16.0 * model.dim + 64.0 * model.norb**2),
                  f"nk = {int(np.sqrt(checks.LIMITS['memory_bytes'] / (16.0 * model.dim + 64.0 * model.norb**2)))} "
                  "fits; the link-variable Chern number is exact once nk resolves the Berry curvature, so a few "
                  "hundred usually suffice (check by doubling nk)")

    s = np.arange(nk) / nk
    kred = np.full((nk, nk, model.dim), float(k_fixed))
    kred[..., i] = s[:, None]
    kred[..., j] = s[None, :]
    periodic = model.with_convention("lattice") if hasattr(model, "with_convention") else model
    H = periodic.hamiltonian(model.k_from_reduced(kred.reshape(-1, model.dim)), 0)[0]
    eps, U = np.linalg.eigh(H)
    others = np.setdiff1d(np.arange(model.norb), bands)
    if others.size:
        gap = np.min(np.abs(eps[:, bands][:, :, None] - eps[:, others][:, None, :]))
        if gap < min_gap:
            worst = np.argmin(np.min(np.abs(eps[:, bands][:, :, None] - eps[:, others][:, None, :]), axis=(1, 2)))
            raise ModelError(
                f"band group {bands.tolist()} is not isolated: its gap to the other bands falls to {gap:.3g} eV "
                f"near reduced k = {kred.reshape(-1, model.dim)[worst].round(4).tolist()}. Choose a gapped group, "
                "change the parameters, or shift the grid."
            )
    psi = U[:, :, bands].reshape(nk, nk, model.norb, bands.size)
    U1, U2 = _link(psi, 0), _link(psi, 1)
    flux = -np.angle(U1 * np.roll(U2, -1, axis=0) / (np.roll(U1, -1, axis=1) * U2))
    # Orientation: reduced-plane flux integrates Omega_(ij) dk_i dk_j; in 2D convert to Cartesian xy.
    sign = np.sign(np.linalg.det(model.reciprocal)) if model.dim == 2 else 1.0
    total = sign * flux.sum() / (2 * np.pi)
    c = int(np.rint(total))
    if abs(total - c) > 1e-6:
        raise ModelError(f"link-variable Chern sum {total:.6f} is not an integer; increase nk.")
    return (c, sign * flux) if return_curvature else c
