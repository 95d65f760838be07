"""Landau levels of a 3D lattice model in a uniform field along a lattice axis (exact diagonalization).

A field :math:`B\\,\\hat e_a` along the Cartesian axis a of an orthorhombic lattice, with flux
:math:`\\phi = B\\,a_b a_c/\\Phi_0 = p/q` (:math:`\\Phi_0 = h/e`) through the cell face normal to it, enters the
tight-binding model through Peierls phases in the Landau gauge :math:`A_c = B\\,r_b` ((a, b, c) cyclic, so
:math:`\\nabla\\times A = B\\hat e_a`). For the electron (charge :math:`-e`) the hopping from orbital j at
:math:`r_j` to orbital i at :math:`r_i` becomes

.. math::
    t_{ij} \\to t_{ij}\\,e^{i\\theta_{ij}},\\qquad
    \\theta_{ij} = -\\frac{e}{\\hbar}\\int_{r_j}^{r_i} A\\cdot dl = -\\frac{e}{\\hbar}B\\,\\frac{r_{b,i}+r_{b,j}}{2}\\,(r_{c,i}-r_{c,j})

(straight bonds; minimal coupling :math:`p\\to p + eA`). The phases are periodic under :math:`r_b \\to r_b + q a_b`
when every orbital of a cell sits at the same c coordinate, and the model becomes a tight-binding model on a
magnetic supercell of q cells along b, diagonalized exactly at any k (:func:`landau_supercell`). The Berry
curvature and the semiclassics play no part: this is the quantum reference for the chiral anomaly of
:mod:`qkinetics.responses.magnetotransport`. A Weyl node of chirality :math:`\\chi` gives a chiral zeroth Landau
level crossing the node energy with slope :math:`\\chi`-signed along B, p times per point of the magnetic
Brillouin zone (degeneracy :math:`eB/h` per area); :func:`chiral_branch_count` counts them, and their spectral
flow under :math:`\\hbar\\dot k = -eE` pumps :math:`e^2 E\\cdot B/h^2` electrons per volume and time per node.

The 2D Hofstadter problem (field normal to a 2D lattice) is :mod:`qkinetics.exact.hofstadter`; this module
builds its own Peierls phases for a 3D field direction.
"""

from __future__ import annotations

import math

import numpy as np

from .. import units
from ..models.base import ModelError
from ..models.tight_binding import TightBinding

__all__ = ["landau_supercell", "landau_levels", "chiral_branch_count", "field_of_flux"]


def field_of_flux(model, p: int, q: int, axis: int = 2) -> float:
    """The field (tesla) of flux p/q flux quanta h/e through the cell face normal to ``axis``."""
    b, c = (axis + 1) % 3, (axis + 2) % 3
    lat = np.asarray(model.lattice, dtype=float)
    area = lat[b, b] * lat[c, c] * 1e-20
    return p / q * (units.h / units.e) / area


def _check(model, axis, p, q):
    if not isinstance(model, TightBinding) or model.dim != 3:
        raise ModelError("Landau levels need a 3D TightBinding model (e.g. qkinetics.zoo.weyl_semimetal()).")
    lat = np.asarray(model.lattice, dtype=float)
    if not np.allclose(lat, np.diag(np.diag(lat))):
        raise ModelError("Landau levels need an orthorhombic lattice with vectors along x, y, z (diagonal lattice).")
    if axis not in (0, 1, 2):
        raise ModelError(f"axis must be 0, 1 or 2 (the field direction x, y or z); got {axis!r}.")
    if not (isinstance(p, (int, np.integer)) and isinstance(q, (int, np.integer)) and q >= 1 and 0 <= p):
        raise ModelError(f"the flux p/q needs integers p >= 0, q >= 1; got p={p!r}, q={q!r}.")
    c = (axis + 2) % 3
    pos = np.asarray(model.positions, dtype=float)
    if not np.allclose(pos[:, c], pos[0, c]):
        raise ModelError("every orbital must sit at the same coordinate along the gauge direction "
                         f"(axis {c}) for the Landau-gauge supercell.")


def landau_supercell(model: TightBinding, p: int, q: int, axis: int = 2) -> TightBinding:
    """The model in a field of flux p/q (flux quanta h/e per cell face normal to ``axis``), on its q-cell supercell.

    Returns a :class:`~qkinetics.TightBinding` (``"positions"`` convention) with lattice vector b multiplied
    by q and orbitals ``(cell s, orbital i)`` in the order ``s * N + i``; its Bloch Hamiltonian is the exact
    magnetic Bloch Hamiltonian (module docstring). The field is :func:`field_of_flux` tesla along +axis.
    """
    _check(model, axis, p, q)
    b, c = (axis + 1) % 3, (axis + 2) % 3
    lat = np.asarray(model.lattice, dtype=float)
    N = model.norb
    pos = np.asarray(model.positions, dtype=float)                     # reduced
    conv_positions = model.convention == "positions"
    hop = {}
    phi = p / q
    for R, t in model.hoppings.items():
        R = np.asarray(R, dtype=int)
        for s in range(q):
            # r_b, r_c in units of a_b, a_c: orbital i of cell s (row), orbital j of cell s + R_b (column)
            rb_i = s + pos[:, b]
            rb_j = s + R[b] + pos[:, b]
            rc_i = pos[:, c]
            rc_j = R[c] + pos[:, c]
            # θ_ij = -(e/ħ) B a_b a_c (rb_i + rb_j)/2 (rc_i - rc_j) = -2π φ (...)
            theta = -2 * math.pi * phi * 0.5 * (rb_i[:, None] + rb_j[None, :]) * (rc_i[:, None] - rc_j[None, :])
            block = t * np.exp(1j * theta)
            target = s + R[b]
            Rsc = R.copy()
            Rsc[b] = target // q
            key = tuple(int(x) for x in Rsc)
            mat = hop.setdefault(key, np.zeros((q * N, q * N), dtype=complex))
            mat[s * N:(s + 1) * N, (target % q) * N:(target % q + 1) * N] += block
    sc_lat = lat.copy()
    sc_lat[b] *= q
    sc_pos = np.array([[*(pos[i] / np.where(np.arange(3) == b, q, 1))] for s in range(q) for i in range(N)])
    sc_pos[:, b] += np.repeat(np.arange(q) / q, N)
    if not conv_positions:
        raise ModelError("landau_supercell needs a model in the 'positions' Fourier convention "
                         "(model.with_convention('positions')).")
    return TightBinding(sc_lat, sc_pos, hop, convention="positions", name=f"{model.name} in B (flux {p}/{q})")


def landau_levels(model: TightBinding, p: int, q: int, k, axis: int = 2) -> np.ndarray:
    """Energies (eV, ascending) of the model in the field of flux p/q along ``axis`` at Cartesian k (1/Å), (B, qN)."""
    return landau_supercell(model, p, q, axis).bands(k)


def chiral_branch_count(model: TightBinding, p: int, q: int, k_perp, k_window, energy: float = 0.0,
                        axis: int = 2) -> int:
    """Net number of levels that cross ``energy`` upwards as k along the field runs over ``k_window``.

    At fixed transverse k (``k_perp``, Cartesian 1/Å, the component along ``axis`` ignored), the count of
    eigenvalues below ``energy`` at the start of the window minus that at its end: +1 for each branch crossing
    upwards (dE/dk_a > 0), -1 for each crossing downwards. A window around one Weyl node counts its chiral
    zeroth Landau levels (p of them per magnetic-Brillouin-zone point, signed by the chirality). Under
    :math:`\\hbar\\dot k_a = -eE_a` the branches carry ``count / (q a_b a_c)`` states per area through the node
    energy at the rate :math:`(-eE_a/\\hbar)/(2\\pi)` per length of k_a: the node's density changes at
    :math:`-(e E_a/h)\\,` ``count`` :math:`/(q\\,a_b a_c)`, i.e. :math:`-\\chi\\, e^2 E_a B/h^2`.
    """
    k0, k1 = (float(x) for x in k_window)
    ks = np.tile(np.asarray(k_perp, dtype=float), (2, 1))
    ks[0, axis], ks[1, axis] = k0, k1
    e = landau_levels(model, p, q, ks, axis)
    if np.any(np.min(np.abs(e - energy), axis=1) < 1e-9):
        raise ModelError("a level sits at the counting energy at the end of the window: move the window.")
    return int(np.sum(e[0] < energy) - np.sum(e[1] < energy))
