"""Adaptive Brillouin-zone integration: uniform cells refined by local 3^d sub-grids where the error is.

The zone (lattice models: reduced coordinates :math:`u \\in [0,1)^d`, :math:`k = u B`; continuum models:
the cube :math:`[-k_c, k_c]^d` with the integrand cut to :math:`|k| < k_c`) is tiled by a uniform grid of
``base`` cells per direction. A cell C of volume :math:`V_C` carries two quadratures of the band integral
:math:`I_C = \\int_C d^dk/(2\\pi)^d\\, \\sum_n f^{(p)}(\\varepsilon_{nk})\\, X^{(p)}_n(k)`:

- the coarse rule, its centre point: :math:`Q^{(1)}_C = V_C F(k_C)`;
- the fine rule, the :math:`3^d` centres of its sub-cells of side h/3: :math:`Q^{(3)}_C = (V_C/3^d) \\sum_s F(k_s)`.

Its value is :math:`Q^{(3)}_C` and its error indicator :math:`d_C = Q^{(3)}_C - Q^{(1)}_C`. The integral is
:math:`I = \\sum_C Q^{(3)}_C` over the leaves and its error estimate, for every component (mechanism,
:math:`\\mu`, T, tensor index), :math:`E = \\sum_C |d_C|`. A cell is refined by splitting it into its
:math:`3^d` sub-cells, each evaluated with its own two rules. Splitting by three keeps the whole scheme a
proper composite quadrature (the leaves tile the zone, every point has the weight of its sub-cell) and
makes the bookkeeping free: the children's centres are the parent's fine points, so
:math:`Q^{(3)}_{parent} = \\sum_{child} Q^{(1)}_{child}` and :math:`Q^{(1)}_{parent} = 3^d Q^{(1)}_{middle}`;
the update of I and E when a parent is replaced by its children follows from the children's values alone,
and no per-cell vector is ever stored (a cell keeps its centre, level and a scalar indicator).

Why E bounds the error. On a cell where the integrand is resolved the midpoint error falls as
:math:`h^2` (smooth) or faster, so the error of :math:`Q^{(3)}` is about :math:`|d_C|/8` or less: E is a
conservative estimate (measured 10-30x the true error on the 2D models, 44-160x on bcc Fe, where the cells'
errors cancel in the sum and E adds them up; docs/adaptive.md). Where a feature (a Berry-curvature peak near a
small gap, a Fermi-surface shell of width :math:`k_BT`) is resolved by neither rule, :math:`|d_C|` is of
the size of the feature's contribution, so such a cell is flagged, not trusted. Two rules guard against
what sampling alone misses: cells where a pair of bands straddling the Fermi level may cross between
the fine points (:func:`_near_crossings`, from the energies and velocities at the points) are split
whatever their indicator, and the mesh is kept 2:1 balanced (:func:`unbalanced`), so that a cell whose
corner a T = 0 Fermi line cuts between its points (:math:`d_C = 0` by chance) follows its refined
neighbours. What remains invisible is a feature between all points that the band structure does not
announce; the base grid should resolve the zone's coarse structure (margins measured in
docs/adaptive.md and tests/test_adaptive.py).

Which cells to refine (bulk marking, as in adaptive finite elements): every leaf's indicator
:math:`\\eta_C = \\max |d_C| / \\mathrm{target}` (maximum over mechanisms, :math:`\\mu`, T and the largest
tensor component) and the leaves with the largest :math:`\\eta` whose sum makes ``fraction`` of the total
are split, a whole round at a time (one executor map per round), until :math:`E \\le` target for every
component, the point budget is spent or the marked cells are at ``max_level``. All mechanisms and the
whole :math:`(\\mu, T)` sweep share one eigendecomposition per k point.

Target per (mechanism, :math:`\\mu`, T): ``tol`` times the largest tensor component of the current
estimate, but not below ``tol * floor`` times the mechanism's largest value over the sweep (so a
quantity that vanishes at some :math:`\\mu` does not ask for infinite work) nor below ``ROUNDOFF``
times the integral of its absolute value (components zero by symmetry).

Compared with postw90 (``berry_curv_adpt_kmesh``: a fixed sub-mesh replaces a point whose |Omega|
exceeds a threshold, once, with no error estimate) and WannierBerri (refines the k points of largest
contribution, iteratively, with no bound), the indicator here is the quadrature error itself, refinement
is recursive, and the result carries an error estimate per component.
"""

from __future__ import annotations

import numbers
import warnings
from dataclasses import dataclass, field

import numpy as np

from ..geometry import DEFAULT_DEGENERACY_TOL, band_geometry
from ..models.base import ModelError
from .executors import bounded_map, executor_scope
from .grids import _squared_norm
from .integrator import _needed_quantities
from ..units import kB_eV
from .occupation import occupation_weight

#: Sub-cells per direction of a split (odd, so that a cell's centre is its middle child's centre).
SPLIT = 3
#: Error estimates are never asked to go below this multiple of the integral of the absolute value.
ROUNDOFF = 1e-11
#: Elements of one tile of Fermi weights (mu x T x points x bands): bounds the memory of a job.
WEIGHT_TILE = 1 << 22
#: Rounds of refinement at most (each round is one pass of the executor over the marked cells).
MAX_ROUNDS = 200


class AdaptiveToleranceWarning(UserWarning):
    """Adaptive integration stopped (point budget or deepest level) before reaching the tolerance."""


@dataclass
class AdaptiveIntegrals:
    """Band integrals of each mechanism from :func:`integrate_adaptive`, with their error estimates.

    Attributes
    ----------
    values : dict name -> ndarray (n_mu, n_T, *tensor), natural units (as :class:`~qkinetics.integrate.BandIntegrals`)
    error : dict name -> real ndarray, same shapes: :math:`E = \\sum_C |Q^{(3)}_C - Q^{(1)}_C|` over the leaves.
    npoints : int
        k points evaluated (the cost; every eigendecomposition counted once per evaluation).
    converged : bool
        Whether E <= target for every component.
    cells : (centres, levels)
        Leaves: centres (L, d) in reduced coordinates of the box (lattice: of the reciprocal basis;
        continuum: of [-kcut, kcut]^d mapped to [0, 1)^d) and levels (L,) (side = 1 / (base 3^level)).
    history : list of (npoints, max E / target) after every round.
    centre_rule : dict name -> ndarray, as ``values``
        The coarse composite rule :math:`\\sum_C Q^{(1)}_C` over the leaves (one point per leaf), so that
        ``values - centre_rule`` is :math:`\\sum_C d_C`, the signed two-rule difference. It is a diagnostic,
        not the error bar: in the asymptotic regime of every cell the error of the result is
        :math:`\\sum_C d_C / 8` (measured 8.0x on the Haldane cases of docs/adaptive.md), but where the
        cells are not in that regime (bcc Fe from a coarse base) nothing makes it bound the error.
    """

    values: dict
    error: dict
    npoints: int
    converged: bool
    cells: tuple
    history: list = field(default_factory=list)
    description: str = ""
    centre_rule: dict = field(default_factory=dict)
    resolution = None                     # no thermal-resolution diagnostic: the refinement resolves the shells

    @property
    def max_level(self) -> int:
        return int(self.cells[1].max()) if len(self.cells[1]) else 0


class _Box:
    """The integration domain: k = origin + u @ axes for u in [0, 1)^d, and the continuum cutoff mask."""

    def __init__(self, model, kcut=None):
        d = model.dim
        if model.periodic:
            self.axes = np.asarray(model.reciprocal, dtype=float)
            self.origin = np.zeros(d)
            self.kcut = None
        else:
            kcut = model.kcut if kcut is None else kcut
            if kcut is None or isinstance(kcut, bool) or not isinstance(kcut, numbers.Real) \
                    or not np.isfinite(kcut) or kcut <= 0:
                raise ModelError(f"{model.name} is a continuum model: adaptive integration needs a momentum cutoff "
                                 "kcut > 0 (1/Angstrom); give kcut to the model or to the integrator.")
            self.kcut = float(kcut)
            self.axes = 2 * self.kcut * np.eye(d)
            self.origin = -self.kcut * np.ones(d)
        self.volume = abs(np.linalg.det(self.axes)) / (2 * np.pi) ** d      # Angstrom^-d / (2 pi)^d

    def k(self, u):
        return self.origin + u @ self.axes

    def inside(self, k):
        if self.kcut is None:
            return np.ones(len(k))
        return (_squared_norm(k) < self.kcut ** 2).astype(float)


def _offsets(dim):
    """Fine points of a unit cell relative to its centre, (3^d, d); row (3^d - 1)/2 is the centre."""
    j = np.stack(np.unravel_index(np.arange(SPLIT ** dim), (SPLIT,) * dim), axis=-1)
    return (j - (SPLIT - 1) / 2) / SPLIT


def _sides(base, levels):
    """Cell sides (M, d) in reduced coordinates: 1 / (base 3^level)."""
    return 1.0 / (base[None, :] * float(SPLIT) ** levels[:, None])


def pointwise_contractions(energies, terms, mu, T):
    """:math:`Y_k = \\sum_n f^{(p)}(\\varepsilon_{kn};\\mu,T) X_{kn}` for every k point, summed over the terms.

    ``energies`` (B, N); ``terms`` a list of ``(p, X)`` with X (B, N, *tensor) (all of one tensor shape).
    Returns (B, n_mu, n_T, *tensor). The Fermi weights are built in tiles of points (``WEIGHT_TILE``
    elements), so memory is the result plus one tile; :func:`~qkinetics.integrate.integrator.fermi_contractions`
    gives the same numbers summed over k.
    """
    mu, T = np.atleast_1d(mu), np.atleast_1d(T)
    B, N = energies.shape
    out = None
    tile = max(1, WEIGHT_TILE // max(1, len(mu) * len(T) * N))
    for p, X in terms:
        X = np.asarray(X)
        if out is None:
            out = np.zeros((B, len(mu), len(T)) + X.shape[2:], dtype=np.result_type(X.dtype, float))
        elif np.iscomplexobj(X) and not np.iscomplexobj(out):
            out = out.astype(complex)
        flat = X.reshape(B, N, -1)
        for s in range(0, B, tile):
            W = occupation_weight(energies[s:s + tile], mu, T, p)            # (n_mu, n_T, b, N)
            out[s:s + tile] += np.einsum("mtbn,bnc->bmtc", W, flat[s:s + tile]).reshape(
                out[s:s + tile].shape)
    return out


def _cell_rules(common, centres, levels):
    """Fine and coarse quadratures of cells: dicts name -> (M, n_mu, n_T, *tensor)."""
    model, integrands, (derivatives, eigenvectors, mass, quantities), mu, T, box, base, degeneracy_tol, tol = common
    M, d = centres.shape
    S = SPLIT ** d
    h = _sides(base, levels)                                              # (M, d)
    u = centres[:, None, :] + _offsets(d)[None] * h[:, None, :]             # (M, S, d)
    k = box.k(u.reshape(-1, d))
    w = (box.volume * np.prod(h, axis=1) / S)[:, None] * box.inside(k).reshape(M, S)   # (M, S)
    geo = band_geometry(model, k, derivatives=derivatives, inverse_mass=mass, degeneracy_tol=degeneracy_tol,
                        keep_eigenvectors=eigenvectors, quantities=quantities)
    fine, coarse = {}, {}
    mid = (S - 1) // 2
    diameter = np.sum(h * np.linalg.norm(box.axes, axis=1)[None, :], axis=1)          # (M,) 1/Angstrom
    unresolved = _near_crossings(geo.energies, geo.velocity, np.repeat(diameter / SPLIT, S), mu, T,
                                 tol).reshape(M, S)
    for name, integrand in integrands.items():
        terms = list(integrand(geo).items())
        Y = pointwise_contractions(geo.energies, terms, mu, T)             # (M S, n_mu, n_T, *tensor)
        Y = Y.reshape((M, S) + Y.shape[1:])
        wb = w.reshape((M, S) + (1,) * (Y.ndim - 2))
        fine[name] = np.sum(wb * Y, axis=1)
        coarse[name] = S * wb[:, mid] * Y[:, mid]
    return fine, coarse, unresolved.any(axis=1)


def _near_crossings(energies, velocity, reach, mu, T, tol):
    """Points (B,) where two adjacent bands on either side of the Fermi level may cross within ``reach``.

    Linearizing, bands n and n+1 at k close at a distance :math:`g/|v_{n+1} - v_n|` (g their gap, v the
    band velocities); within it the Berry curvature of the pair is as large as :math:`1/g^2` and its flux
    (up to half a quantum in 2D) is concentrated, so a cell whose sub-cells (``reach`` = their size) may
    hold the crossing cannot be trusted whatever its two rules say: such a peak can fall between all its
    points. Only pairs straddling the Fermi level count: the curvature of a pair of occupied (or of
    empty) bands cancels in the sum over bands, up to the difference of their occupations, below
    ``tol``/10 when both are more than :math:`k_BT \\ln(10/\\mathrm{tol})` on the same side of every mu.
    """
    if energies.shape[1] < 2:
        return np.zeros(len(energies), dtype=bool)
    window = kB_eV * float(np.max(T)) * np.log(10.0 / tol)
    lower, upper = energies[:, :-1], energies[:, 1:]
    straddle = (lower <= np.max(mu) + window) & (upper >= np.min(mu) - window)
    gap = upper - lower
    speed = np.linalg.norm(velocity[:, 1:] - velocity[:, :-1], axis=-1)
    return np.any(straddle & (gap < speed * reach[:, None]), axis=1)


def _children(centres, levels, base):
    """The 3^d sub-cells of each cell, parent by parent: centres (M 3^d, d), levels (M 3^d,)."""
    M, d = centres.shape
    u = centres[:, None, :] + _offsets(d)[None] * _sides(base, levels)[:, None, :]
    return u.reshape(-1, d), np.repeat(levels + 1, SPLIT ** d)


def _group_max(x):
    """max over the tensor axes of |x| (M, n_mu, n_T, *tensor) -> (M, n_mu, n_T)."""
    a = np.abs(x)
    return a.reshape(a.shape[:3] + (-1,)).max(axis=-1)


def _adaptive_job(common, job):
    """Evaluate a chunk of cells (``("base", centres, levels)``) or split a chunk of parents
    (``("split", centres, levels)``). Returns the update of the value and error sums (dicts) and the
    per-cell indicators (dict name -> (M, n_mu, n_T) of max |d| over tensor components)."""
    kind, centres, levels = job
    base = common[6]
    if kind == "split":
        cells, lv = _children(centres, levels, base)
    else:
        cells, lv = centres, levels
    fine, coarse, unresolved = _cell_rules(common, cells, lv)
    S = SPLIT ** centres.shape[1]
    dvalue, derror, dmax = {}, {}, {}
    for name in fine:
        d = fine[name] - coarse[name]
        if kind == "split":
            shape = (len(centres), S) + d.shape[1:]
            parent_fine = coarse[name].reshape(shape).sum(axis=1)
            parent_coarse = S * coarse[name].reshape(shape)[:, (S - 1) // 2]
            dvalue[name] = d.sum(axis=0)
            dvalue[f"<{name}>"] = coarse[name].sum(axis=0) - parent_coarse.sum(axis=0)
            derror[name] = np.abs(d).sum(axis=0) - np.abs(parent_fine - parent_coarse).sum(axis=0)
        else:
            dvalue[name] = fine[name].sum(axis=0)
            dvalue[f"<{name}>"] = coarse[name].sum(axis=0)
            derror[name] = np.abs(d).sum(axis=0)
            dvalue[f"|{name}|"] = np.abs(fine[name]).sum(axis=0)
        dmax[name] = _group_max(d).astype(np.float32)
    return dvalue, derror, dmax, unresolved


def _cell_keys(u, levels, base, periodic):
    """Integer key of the cell of level ``levels`` containing the reduced points ``u`` (-1 outside the box)."""
    scale = base[None, :] * float(SPLIT) ** levels[:, None]
    idx = np.floor(u * scale).astype(np.int64)
    dims = scale.astype(np.int64)
    if periodic:
        idx %= dims
        outside = np.zeros(len(u), dtype=bool)
    else:
        outside = np.any((idx < 0) | (idx >= dims), axis=1)
        idx = np.clip(idx, 0, dims - 1)
    lin = np.zeros(len(u), dtype=np.int64)
    for a in range(u.shape[1]):
        lin = lin * dims[:, a] + idx[:, a]
    return np.where(outside, -1, lin * 32 + levels)


def unbalanced(centres, levels, base, periodic):
    """Leaves more than one level coarser than a leaf they touch (by a face or a corner): boolean mask.

    Splitting them keeps the mesh graded (2:1 balance). Why: a step (a T = 0 Fermi surface) can cut the
    corner of a cell between its fine points, leaving :math:`d_C = 0` by chance while its neighbours along
    the step are split again and again; balance forces such a cell to follow its neighbours down to one
    level above theirs, so no coarse cell is left on a refined feature.
    """
    d = centres.shape[1]
    order = np.argsort(_cell_keys(centres, levels, base, periodic))
    keys = _cell_keys(centres, levels, base, periodic)[order]
    flag = np.zeros(len(levels), dtype=bool)
    deep = levels >= 2
    if not np.any(deep):
        return flag
    c, lv = centres[deep], levels[deep]
    shifts = np.stack(np.unravel_index(np.arange(3 ** d), (3,) * d), axis=-1) - 1
    shifts = shifts[np.any(shifts != 0, axis=1)]
    h = _sides(base, lv)
    for delta in shifts:
        p = c + delta[None] * h
        if periodic:
            p %= 1.0
        for coarser in range(int(lv.max()) - 1):
            sel = lv - 2 >= coarser
            if not np.any(sel):
                continue
            key = _cell_keys(p[sel], np.full(int(sel.sum()), coarser, dtype=levels.dtype), base, periodic)
            pos = np.clip(np.searchsorted(keys, key), 0, len(keys) - 1)
            hit = (keys[pos] == key) & (key >= 0)
            flag[order[pos[hit]]] = True
    return flag


def _targets(values, tol, floor, magnitude):
    """Absolute target per (mechanism, mu, T): see the module docstring."""
    out = {}
    for name, v in values.items():
        scale = _group_max(v[None])[0]                                        # (n_mu, n_T)
        out[name] = np.maximum(np.maximum(tol * scale, tol * floor * scale.max()), ROUNDOFF * magnitude[name])
    return out


def _ratio(error, targets):
    """Largest E / target over every component."""
    worst = 0.0
    for name, e in error.items():
        t = targets[name]
        r = _group_max(e[None])[0] / np.where(t > 0, t, np.inf)
        worst = max(worst, float(r.max()))
    return worst


def integrate_adaptive(model, mechanisms, mu, T, *, base, tol=1e-3, max_points=2_000_000, max_level=None,
                       fraction=0.5, floor=1e-2, kcut=None, executor=None, chunk_size=None,
                       degeneracy_tol=DEFAULT_DEGENERACY_TOL, progress=False, warn=True) -> AdaptiveIntegrals:
    """Integrate the band integrands of ``mechanisms`` adaptively to a relative tolerance ``tol``.

    Parameters
    ----------
    model : Model
    mechanisms : sequence of Mechanism
    mu, T : array_like, eV and kelvin (T > 0 when a mechanism has Fermi-surface terms)
    base : int or sequence of int
        Cells per direction of the starting uniform grid; its first pass evaluates ``(3 base)^d`` points
        (the uniform Monkhorst-Pack grid of 3 base points per direction, shift 1/2).
    tol : float
        Relative tolerance: stop when the error estimate of every component is below ``tol`` times the
        largest tensor component of its mechanism at that (mu, T) (floors in the module docstring).
    max_points : int
        Budget of k points evaluated; the integration stops (with a warning) when the next round would
        exceed it.
    max_level : int, optional
        Deepest refinement (cell side ``1 / (base 3^level)``); default 12 in 2D, 8 in 3D, 20 in 1D.
    fraction : float in (0, 1]
        Bulk-marking fraction: each round splits the leaves of largest indicator that make up this fraction
        of the summed indicator (1 splits every leaf with a nonzero indicator; smaller values refine more
        selectively in more rounds).
    floor : float
        Targets are not below ``tol * floor`` times the mechanism's largest value over the sweep.
    kcut : float, optional
        Cutoff of continuum models (1/Angstrom), default ``model.kcut``.
    executor, chunk_size, degeneracy_tol, progress
        As for :func:`~qkinetics.integrate.integrate_mechanisms`; ``chunk_size`` counts k points per job.

    Returns
    -------
    AdaptiveIntegrals
    """
    from ..checks import grid_sizes

    mu = np.atleast_1d(np.asarray(mu, dtype=float))
    T = np.atleast_1d(np.asarray(T, dtype=float))
    if mu.ndim != 1 or T.ndim != 1 or not (np.all(np.isfinite(mu)) and np.all(np.isfinite(T))) or np.any(T < 0):
        raise ModelError("mu and T must be finite scalars or 1D arrays (eV, kelvin >= 0).")
    base = grid_sizes("base (cells per direction)", base, model.dim)
    for name, value, lo, hi in (("tol", tol, 0.0, 1.0), ("fraction", fraction, 0.0, 1.0), ("floor", floor, 0.0, 1.0)):
        if isinstance(value, bool) or not isinstance(value, numbers.Real) or not lo < value <= hi:
            raise ModelError(f"{name} must be a number in ({lo:g}, {hi:g}]; got {value!r}.")
    if isinstance(max_points, bool) or not isinstance(max_points, numbers.Integral) or max_points < 1:
        raise ModelError(f"max_points must be an integer >= 1 (a budget of k points); got {max_points!r}.")
    d = model.dim
    S = SPLIT ** d
    if max_level is None:
        max_level = {1: 20, 2: 12}.get(d, 8)
    if isinstance(max_level, bool) or not isinstance(max_level, numbers.Integral) or max_level < 0:
        raise ModelError(f"max_level must be an integer >= 0; got {max_level!r}.")
    first = int(np.prod(base)) * S
    if first > max_points:
        raise ModelError(f"the base grid alone needs {first} k points ((3 x {base.tolist()})^{d}), above "
                         f"max_points = {max_points}: use a smaller base or a larger max_points.")
    mechanisms = list(mechanisms)
    if not mechanisms:
        raise ModelError("no mechanisms to integrate.")
    if chunk_size is None:
        # the geometry of a job (~20 arrays of points x norb^2) and its per-point contractions (points x mu x T x
        # tensor, for each mechanism) both kept near 64 MB; at least one split (9^d points) per job
        per_point = max(model.norb ** 2, len(mu) * len(T) * model.dim ** 3 * len(mechanisms))
        chunk_size = int(np.clip(4e6 / per_point, S * S, 20000))
    box = _Box(model, kcut)
    needs = (any(m.needs_derivatives for m in mechanisms), any(m.needs_eigenvectors for m in mechanisms),
             any(getattr(m, "needs_inverse_mass", True) for m in mechanisms), _needed_quantities(mechanisms))
    common = (model, {m.name: m.integrand for m in mechanisms}, needs, mu, T, box, base.astype(float),
              degeneracy_tol, tol)
    value, error, magnitude, centre_rule = {}, {}, {}, {}
    npoints, history = 0, []

    def run(kind, centres, levels, ex):
        per = max(1, chunk_size // (S if kind == "base" else S * S))
        jobs = ((kind, centres[s:s + per], levels[s:s + per]) for s in range(0, len(levels), per))
        dmax, flags = [], []
        for dv, de, dm, fl in bounded_map(ex, _adaptive_job, jobs, None, common=common):
            flags.append(fl)
            for name, v in dv.items():
                acc, key = ((magnitude, name[1:-1]) if name.startswith("|") else
                            (centre_rule, name[1:-1]) if name.startswith("<") else (value, name))
                acc[key] = v if key not in acc else acc[key] + v
            for name, e in de.items():
                error[name] = e if name not in error else error[name] + e
            dmax.append(dm)
        return {name: np.concatenate([dm[name] for dm in dmax]) for name in dmax[0]}, np.concatenate(flags)

    def indicators(dmax, targets):
        eta = None
        for name, dm in dmax.items():
            t = targets[name]
            r = (dm / np.where(t > 0, t, np.inf)[None]).reshape(len(dm), -1).max(axis=1)
            eta = r if eta is None else np.maximum(eta, r)
        return eta

    idx = np.stack(np.unravel_index(np.arange(int(np.prod(base))), tuple(base)), axis=-1)
    centres = (idx + 0.5) / base
    levels = np.zeros(len(centres), dtype=np.int16)
    bar = None
    if progress:
        from tqdm.auto import tqdm

        bar = tqdm(total=max_points, unit="k", desc=f"{model.name} adaptive, tol {tol:g}")
    converged = False
    with executor_scope(executor) as ex:
        dmax, hot = run("base", centres, levels, ex)
        npoints += first
        magnitude = {name: float(np.max(m)) for name, m in magnitude.items()}
        targets = _targets(value, tol, floor, magnitude)
        eta = indicators(dmax, targets)
        ratio = _ratio(error, targets)
        history.append((npoints, ratio))
        if bar is not None:
            bar.update(first)
        for _ in range(MAX_ROUNDS):
            open_ = levels < max_level
            if ratio <= 1.0 and not np.any(hot & open_):
                converged = True
                break
            if not np.any(open_):
                break
            order = np.argsort(-np.where(open_, eta, -1.0), kind="stable")
            order = order[open_[order]]
            cum = np.cumsum(eta[order])
            n_mark = int(np.searchsorted(cum, fraction * cum[-1])) + 1
            if ratio <= 1.0:
                n_mark = 0
            forced = np.flatnonzero(hot & open_)
            wanted = np.concatenate([forced, order[:n_mark]])                  # unresolved crossings first
            wanted = wanted[np.sort(np.unique(wanted, return_index=True)[1])]
            marked = np.sort(wanted[: (max_points - npoints) // (S * S)])
            if len(marked) < 1:
                break
            for _pass in range(max_level + 1):                 # split the marked cells, then balance 2:1
                keep = np.ones(len(levels), dtype=bool)
                keep[marked] = False
                dmax, new_hot = run("split", centres[marked], levels[marked], ex)
                new_c, new_l = _children(centres[marked], levels[marked], base.astype(float))
                new_eta = indicators(dmax, targets)
                centres = np.concatenate([centres[keep], new_c])
                levels = np.concatenate([levels[keep], new_l.astype(np.int16)])
                eta = np.concatenate([eta[keep], new_eta])
                hot = np.concatenate([hot[keep], new_hot])
                npoints += len(marked) * S * S
                if bar is not None:
                    bar.update(len(marked) * S * S)
                marked = np.flatnonzero(unbalanced(centres, levels, base.astype(float), box.kcut is None))
                if not len(marked) or npoints + len(marked) * S * S > max_points:
                    break
            targets = _targets(value, tol, floor, magnitude)
            ratio = _ratio(error, targets)
            history.append((npoints, ratio))
    if bar is not None:
        bar.close()
    error = {name: np.maximum(e, 0.0) for name, e in error.items()}
    if warn and not converged:
        warnings.warn(f"adaptive integration stopped at {npoints} k points with the error estimate {ratio:.3g} times "
                      f"the tolerance {tol:g} (deepest level {int(levels.max())} of max_level {max_level}, "
                      f"max_points {max_points}): raise max_points or max_level, or ask for a looser tol.",
                      AdaptiveToleranceWarning, stacklevel=2)
    return AdaptiveIntegrals(values=value, error=error, npoints=npoints, converged=converged,
                             cells=(centres, levels), history=history, centre_rule=centre_rule,
                             description=(f"adaptive: base {'x'.join(map(str, base))} cells x 3^{d} points, "
                                          f"tol {tol:g}, {npoints} points, deepest level {int(levels.max())}"
                                          + ("" if converged else " (tolerance not reached)")))
