"""Paths through the Brillouin zone between labelled high-symmetry points (for band-structure plots).

Points are given in reduced coordinates :math:`\\kappa` of the model's reciprocal vectors,
:math:`k = \\sum_i \\kappa_i b_i` (:meth:`~qkinetics.models.base.Model.k_from_reduced`), so one table of
labels serves every lattice constant; the path is straight in Cartesian k between consecutive labels and
its coordinate is the accumulated Cartesian length (1/Angstrom), as in Wannier90's ``bands_plot``.
"""

from __future__ import annotations

import numpy as np

from .models.base import ModelError

__all__ = ["high_symmetry_path", "HONEYCOMB_POINTS", "SQUARE_POINTS", "HEXAGONAL_POINTS"]

#: Honeycomb (triangular Bravais) lattice with primitive vectors at 60 degrees (the zoo's Haldane and
#: Kane-Mele models): Gamma, the two valleys K and K', and M.
HONEYCOMB_POINTS = {"G": (0.0, 0.0), "K": (2 / 3, 1 / 3), "M": (0.5, 0.5), "K'": (1 / 3, 2 / 3)}
#: Square lattice: Gamma, X = (pi/a, 0), Y = (0, pi/a), M = (pi/a, pi/a).
SQUARE_POINTS = {"G": (0.0, 0.0), "X": (0.5, 0.0), "Y": (0.0, 0.5), "M": (0.5, 0.5)}
#: 3D hexagonal lattice with a_1, a_2 at 120 degrees and a_3 along z (e.g. trigonal tellurium,
#: ``examples/data/Te_tb.dat``).
HEXAGONAL_POINTS = {"G": (0.0, 0.0, 0.0), "M": (0.5, 0.0, 0.0), "K": (1 / 3, 1 / 3, 0.0), "A": (0.0, 0.0, 0.5),
                    "L": (0.5, 0.0, 0.5), "H": (1 / 3, 1 / 3, 0.5)}


def high_symmetry_path(model, labels, points, n_per_segment=120):
    """Cartesian k points along straight segments between labelled points.

    Parameters
    ----------
    model : Model
        Supplies the reciprocal vectors (``model.k_from_reduced``).
    labels : sequence of str
        The corners of the path in order, e.g. ``["G", "K", "M", "G"]`` (at least two).
    points : dict
        ``{label: reduced coordinates}`` (``model.dim`` numbers each), e.g. :data:`HONEYCOMB_POINTS`.
    n_per_segment : int
        Points per segment; the last corner is added once at the end.

    Returns
    -------
    k : ndarray, shape (n_per_segment * (len(labels) - 1) + 1, dim)
        Cartesian wave vectors, 1/Angstrom.
    distance : ndarray
        Accumulated path length at each k, 1/Angstrom (the abscissa of a band plot).
    ticks : list of float
        The distance of every corner (``len(labels)`` values).
    """
    labels = list(labels)
    if len(labels) < 2:
        raise ModelError(f"a path needs at least two labelled points; got {labels!r}.")
    missing = [p for p in labels if p not in points]
    if missing:
        raise ModelError(f"unknown point label(s) {missing}; the points given are {sorted(points)}.")
    if isinstance(n_per_segment, bool) or not isinstance(n_per_segment, (int, np.integer)) or n_per_segment < 1:
        raise ModelError(f"n_per_segment must be a positive integer; got {n_per_segment!r}.")
    red = np.array([np.atleast_1d(np.asarray(points[p], dtype=float)) for p in labels])
    if red.shape[1] != model.dim:
        raise ModelError(f"the points have {red.shape[1]} reduced coordinates each; the {model.dim}D model "
                         f"{model.name!r} needs {model.dim}.")
    cart = model.k_from_reduced(red)
    t = np.arange(n_per_segment)[:, None] / n_per_segment
    seg = cart[:-1, None, :] + t[None] * (cart[1:] - cart[:-1])[:, None, :]     # (segments, n, dim)
    lengths = np.linalg.norm(cart[1:] - cart[:-1], axis=1)
    ticks = np.concatenate([[0.0], np.cumsum(lengths)])
    dist = ticks[:-1, None] + t[None, :, 0] * lengths[:, None]
    k = np.concatenate([seg.reshape(-1, model.dim), cart[-1:]])
    return k, np.concatenate([dist.reshape(-1), ticks[-1:]]), ticks.tolist()
