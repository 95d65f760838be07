"""Band integrals of response mechanisms over a k grid, for sweeps of chemical potential and temperature.

For every k chunk the band geometry is computed once; every mechanism's integrand terms
:math:`X^{(p)}` are then contracted with :math:`w_k f^{(p)}(\\varepsilon_{nk};\\mu,T)` for all
(mu, T) at once (:func:`fermi_contractions`: states sorted once, prefix sums below the thermal
windows, blocked matrix products over the windows, no Python loop over (mu, T) pairs), so a sweep
over 201 chemical potentials costs little more than one and a mu x T sweep a few times one.
Chunks are independent jobs mapped by an executor, a few at a time (bounded memory).
"""

from __future__ import annotations

import numbers
import warnings
from dataclasses import dataclass

import numpy as np

from ..geometry import DEFAULT_DEGENERACY_TOL, band_geometry
from ..models.base import ModelError
from ..units import kB_eV
from .executors import bounded_map, executor_scope
from .occupation import SEA_VALUE, c2_function, check_weight_key, entropy_density, fermi_dirac

#: Thermal-shell resolution above which a grid is flagged as too coarse for the temperature.
RESOLUTION_LIMIT = 1.0


class GridResolutionWarning(UserWarning):
    """The k grid does not resolve the thermal shell |ε - μ| < k_B T at the requested temperature."""


@dataclass
class BandIntegrals:
    """Band integrals I = Σ_k w_k Σ_n f^(p) X^(p) of each mechanism.

    Attributes
    ----------
    values : dict name -> ndarray (n_mu, n_T, *tensor), natural units.
    resolution : ndarray (n_T,)
        Largest |v| Δk / (k_B T) over states whose grid cell reaches within 5 k_B T of some μ: how many thermal widths one
        grid step crosses on the Fermi surface. Values above ~1 mean the grid is too coarse for T.
    npoints : int
    """

    values: dict
    resolution: np.ndarray
    npoints: int


#: Beyond this many k_B T from mu the Fermi function is 0 or 1 to double precision (expit(-40) = 4e-18)
#: and its derivatives vanish: only states inside this window are evaluated explicitly.
THERMAL_CUTOFF = 40.0

#: Fermi weights (rows (mu, T) x sorted states) built at once: a tile of a few arrays this size stays in
#: cache, and it bounds the contraction's memory whatever the sweep and the chunk size.
FERMI_TILE_ELEMENTS = 1 << 15

#: Rows (chemical potentials at one T) contracted together at most, and the extra Fermi weights
#: (outside the rows' own windows) that merging one more row into a block may cost: about the
#: Python overhead of one more block and of a matrix-vector instead of a matrix-matrix product.
MAX_BLOCK_ROWS = 64
BLOCK_MERGE_SLACK = 4096


def _row_blocks(lo, hi):
    """Split rows with nondecreasing windows [lo_i, hi_i) into blocks ``(i0, i1)`` evaluated together.

    A block is evaluated on the union [lo_i0, hi_{i1-1}) of its windows. A row joins the current
    block while the weights this adds outside the rows' windows stay below ``BLOCK_MERGE_SLACK``
    plus half the new row's own window, up to ``MAX_BLOCK_ROWS`` rows.
    """
    lo, hi = lo.tolist(), hi.tolist()
    blocks, i0, n = [], 0, len(lo)
    for i in range(1, n + 1):
        if i < n and i - i0 < MAX_BLOCK_ROWS:
            rows, own = i - i0, hi[i] - lo[i]
            extra = (rows + 1) * (hi[i] - lo[i0]) - rows * (hi[i - 1] - lo[i0]) - own
            if extra <= BLOCK_MERGE_SLACK + own // 2:
                continue
        blocks.append((i0, i))
        i0 = i
    return blocks


def fermi_contractions(energies, w, terms, mu, T):
    """Σ_{k,n} w_k f^{(p)}(ε_kn; μ, T) X_kn for every μ, T and every term ``(p, X)``.

    ``energies`` (B, N), ``w`` (B,), each X shaped (B, N, C). Returns a list of (n_mu, n_T, C) arrays.

    States are sorted by energy once, and the terms of each Fermi-derivative order p are stacked
    into one matrix of columns (weighted by w_k). Only states inside the thermal window
    :math:`|\\varepsilon - \\mu| < 40\\,k_BT` (``THERMAL_CUTOFF``) of some (μ, T) are weighted
    explicitly. Below a window :math:`f = 1` to the last bit and :math:`f' = f'' = 0`: those states
    enter the Fermi-sea (p = 0) terms through prefix sums. Above it :math:`f < e^{-40} = 4\\times10^{-18}`
    and :math:`|f^{(p)}| < e^{-40}/(k_BT)^p`: those states are dropped, a relative change below
    4e-18 per state, far under the round-off of the sums.

    For each T the chemical potentials are taken in ascending order, so their windows move
    monotonically through the sorted states; consecutive ones are grouped into blocks
    (:func:`_row_blocks`) contracted on the union of their windows: the Fermi weights of a block
    (rows x states, exact for every state of the union) are built tile by tile
    (``FERMI_TILE_ELEMENTS``, so memory stays bounded) and contracted with one matrix product per
    order p. No Python loop runs over single (μ, T) pairs and their states; the result equals the
    direct sum :math:`\\sum w f^{(p)} X` to round-off.

    Besides the derivative orders p = 0, 1, 2 a term may carry a thermal-response weight
    (:func:`~qkinetics.integrate.occupation.check_weight_key`): ``(p, n)`` for
    :math:`(\\varepsilon-\\mu)^n f^{(p)}`, ``"entropy"`` for the entropy per state
    :math:`s(\\varepsilon)` and ``"c2"`` for :math:`c_2(\\varepsilon)`. They are windowed the same
    way: all vanish above a window; below it :math:`(\\varepsilon-\\mu)^n f^{(p)}` and s vanish
    (:math:`|x|^n e^{-40}` at most, n <= 4) and :math:`c_2 = \\pi^2/3` to the last bit (deviation
    :math:`< x^2 e^{-40}`), entering through the prefix sums like f (``SEA_VALUE``).
    """
    mu = np.atleast_1d(np.asarray(mu, dtype=float))
    T = np.atleast_1d(np.asarray(T, dtype=float))
    if np.any(T < 0):
        raise ModelError(f"temperatures must be >= 0 K; got {T.tolist()}.")
    terms = [(check_weight_key(p), X) for p, X in terms]
    if np.any(T == 0) and any(p != 0 for p, _ in terms):
        fermi_dirac(energies[:1, :1], mu[:1], T, 1)          # raises: Fermi-surface and thermal terms need T > 0
    B, N = energies.shape
    S = B * N
    E = np.asarray(energies, dtype=float).ravel()
    order = np.argsort(E, kind="stable")
    Es = E[order]
    ws = np.repeat(np.asarray(w, dtype=float), N)[order]
    # stack the terms of each (order p, real or complex) into one column matrix, sorted and weighted
    groups = {}
    for q, (p, X) in enumerate(terms):
        X = np.asarray(X).reshape(S, -1)
        groups.setdefault((p, np.iscomplexobj(X)), []).append((q, X))
    stacked = []
    for (p, _), members in sorted(groups.items(), key=lambda item: repr(item[0])):
        Xs = np.concatenate([X for _, X in members], axis=1)[order] if len(members) > 1 else members[0][1][order]
        Xs = Xs.astype(np.result_type(Xs.dtype, float), copy=False)
        Xs *= ws[:, None]
        cum = None
        if p in SEA_VALUE:
            cum = np.empty((S + 1, Xs.shape[1]), Xs.dtype)
            cum[0] = 0
            np.cumsum(Xs, axis=0, out=cum[1:])
        out = np.zeros((len(mu), len(T), Xs.shape[1]), Xs.dtype)
        cols = np.cumsum([0] + [X.shape[1] for _, X in members])
        stacked.append((p, Xs, cum, out, [(q, cols[i], cols[i + 1]) for i, (q, _) in enumerate(members)]))
    orders = {p for p, *_ in stacked}
    # which intermediate arrays the tiles need beyond f (and f', f'' for p = 1, 2)
    need_f1 = bool(orders & {1, 2}) or any(isinstance(p, tuple) for p in orders)
    need_f2 = 2 in orders or any(isinstance(p, tuple) and p[0] == 2 for p in orders)
    need_de = any(isinstance(p, tuple) and p[1] > 0 for p in orders)
    need_x = bool(orders & {"entropy", "c2"})
    by_mu = np.argsort(mu, kind="stable")
    mus = mu[by_mu]
    for j, t in enumerate(T):
        kT = kB_eV * t
        half = THERMAL_CUTOFF * kT
        lo = np.searchsorted(Es, mus - half, side="left")
        hi = np.searchsorted(Es, mus + half, side="right")
        if t == 0:                                   # step function, 1/2 for states exactly at mu; p = 0 only
            for p, Xs, cum, out, _ in stacked:
                out[by_mu, j] = cum[lo] + 0.5 * (cum[hi] - cum[lo])
            continue
        ikT = 1.0 / kT
        for i0, i1 in _row_blocks(lo, hi):
            a, b = int(lo[i0]), int(hi[i1 - 1])
            rows = by_mu[i0:i1]
            acc = [np.zeros((i1 - i0, Xs.shape[1]), Xs.dtype) if cum is None else
                   np.repeat(cum[a][None], i1 - i0, axis=0) if p == 0 else
                   np.repeat(SEA_VALUE[p] * cum[a][None], i1 - i0, axis=0)
                   for p, Xs, cum, _, _ in stacked]
            tile = max(256, FERMI_TILE_ELEMENTS // (i1 - i0))
            for s0 in range(a, b, tile):
                s1 = min(s0 + tile, b)
                with np.errstate(over="ignore"):             # far above mu: exp -> inf, f -> 0 exactly
                    f = np.subtract(Es[None, s0:s1], mus[i0:i1, None])
                    de = f.copy() if need_de else None       # eps - mu, eV
                    f *= ikT
                    x = f.copy() if need_x else None         # (eps - mu) / kT
                    np.exp(f, out=f)
                    f += 1.0
                    np.reciprocal(f, out=f)                  # f = 1 / (exp((e - mu)/kT) + 1)
                weights = {0: f}
                if need_f1:
                    f1 = f - 1.0
                    f1 *= f
                    f1 *= ikT                                # f' = -f (1 - f) / kT
                    weights[1] = f1
                    if need_f2:
                        f2 = 2.0 * f
                        f2 -= 1.0
                        f2 *= f1
                        f2 *= ikT                            # f'' = -f' (1 - 2 f) / kT
                        weights[2] = f2
                for p in orders:
                    if isinstance(p, tuple):                 # (eps - mu)^n f^(p)
                        weights[p] = weights[p[0]] * de ** p[1] if p[1] else weights[p[0]]
                    elif p == "entropy":
                        weights[p] = entropy_density(x)
                    elif p == "c2":
                        weights[p] = c2_function(x)
                for g, (p, Xs, _, _, _) in enumerate(stacked):
                    acc[g] += weights[p] @ Xs[s0:s1]
            for g, (_, _, _, out, _) in enumerate(stacked):
                out[rows, j] = acc[g]
    result = [None] * len(terms)
    for p, Xs, cum, out, members in stacked:
        for q, c0, c1 in members:
            result[q] = out[:, :, c0:c1]
    return result


def _needed_quantities(mechanisms):
    """The band-geometry tensors some mechanism reads (``Mechanism.needs_quantities``), None for all."""
    wanted = set()
    for m in mechanisms:
        q = getattr(m, "needs_quantities", None)
        if q is None:
            return None
        wanted.update(q)
    return tuple(sorted(wanted))


def _chunk_job(common, chunk):
    """Integrals of one k chunk (module-level so process executors can pickle it).

    ``common`` holds what every chunk shares (sent once per worker by executors that can),
    ``chunk`` is ``(k, w)``.
    """
    model, integrands, (derivatives, eigenvectors, mass, quantities), mu, T, spacing, degeneracy_tol = common
    k, w = chunk
    geo = band_geometry(model, k, derivatives=derivatives, inverse_mass=mass, degeneracy_tol=degeneracy_tol,
                        keep_eigenvectors=eigenvectors, quantities=quantities)
    B, N = geo.energies.shape
    names, terms, shapes = [], [], {}
    for name, integrand in integrands.items():
        for p, X in integrand(geo).items():
            X = np.asarray(X)
            names.append(name)
            terms.append((p, X))
            shapes[name] = X.shape[2:]
    out = {}
    for name, val in zip(names, fermi_contractions(geo.energies, w, terms, mu, T)):
        out[name] = out.get(name, 0) + val
    out = {name: val.reshape((len(mu), len(T)) + shapes[name]) for name, val in out.items()}
    # thermal-shell resolution: states whose grid cell (|v| dk / 2 around them) reaches the thermal shell
    # of the nearest mu
    resolution = np.zeros(len(T))
    speed = np.linalg.norm(geo.velocity, axis=-1)                          # |dε/dk|, eV Å
    mus = np.sort(mu)
    idx = np.searchsorted(mus, geo.energies)
    gap = np.minimum(np.abs(geo.energies - mus[np.clip(idx - 1, 0, len(mus) - 1)]),
                     np.abs(geo.energies - mus[np.clip(idx, 0, len(mus) - 1)]))
    for j, t in enumerate(T):
        if t <= 0:
            resolution[j] = np.inf
            continue
        kT = kB_eV * t
        near = gap < 5 * kT + 0.5 * speed * spacing
        if np.any(near):
            resolution[j] = np.max(speed[near]) * spacing / kT
    return out, resolution


#: A grid is cut into at least this many chunks (when chunks stay above ``MIN_CHUNK`` points), so that
#: parallel workers share it evenly: with c chunks on w workers the last round leaves workers idle, a
#: ceiling of c / (w ceil(c / w)) on the parallel efficiency (3 chunks on 2 workers: 75%).
MIN_CHUNKS = 64
MIN_CHUNK = 1024


def default_chunk_size(model, n_mu, n_T, npoints=None) -> int:
    """k points per job: at most 20000, and fewer for models with many orbitals.

    The Fermi weights of a job are built in tiles of ``FERMI_TILE_ELEMENTS`` whatever the sweep, so
    the size of the (mu, T) sweep no longer limits the chunk (``n_mu``, ``n_T`` are kept for the
    signature); what grows with it is the job's geometry, about 20 arrays of k x bands x bands
    complex numbers, kept near 64 MB each at most. With the grid's ``npoints`` given, chunks are
    also cut to give ``MIN_CHUNKS`` chunks at least (not below ``MIN_CHUNK`` points): the chunking
    depends on the grid only, never on the executor, so results stay bit-identical across executors.
    """
    size = int(np.clip(4e6 / model.norb**2, 256, 20000))
    if npoints is not None:
        size = min(size, max(-(-int(npoints) // MIN_CHUNKS), MIN_CHUNK))
    return size


def integrate_mechanisms(model, mechanisms, grid, mu, T, *, executor=None, chunk_size=None,
                         progress=False, degeneracy_tol=DEFAULT_DEGENERACY_TOL, warn=True,
                         resume=None, on_chunk=None, max_in_flight=None) -> BandIntegrals:
    """Integrate the band integrands of ``mechanisms`` over ``grid`` for every (mu, T).

    Parameters
    ----------
    model : Model
    mechanisms : sequence of Mechanism
    grid : KGrid
    mu : array_like, eV
    T : array_like, kelvin (> 0 when a mechanism has Fermi-surface terms)
    executor : str or object with ``map``/``submit``, optional
        Serial by default; a name (``"processes"``, ``"dask"``, ``"dask://HOST:PORT"``: built for this
        call and shut down after it) or an executor such as ``get_executor("dask", 2)``. Chunks are
        handed to it a few at a time (:func:`~qkinetics.integrate.executors.bounded_map`), never the
        whole grid at once.
    max_in_flight : int, optional
        Chunks submitted to the executor and not yet summed, at most (default: twice its workers).
        Bounds memory (the chunks' inputs and results) whatever the grid size.
    chunk_size : int, optional
        k points per job; by default chosen to keep each job's Fermi-weight array under ~64 MB.
    progress : bool
        Show a progress bar over chunks.
    resume : (int, dict, ndarray), optional
        ``(chunks_done, totals, resolution)`` from an interrupted run: the first ``chunks_done``
        chunks are skipped and the partial sums continue from ``totals``.
    on_chunk : callable, optional
        ``on_chunk(chunks_done, totals, resolution)`` after every finished chunk (for checkpoints).
    """
    mu = np.atleast_1d(np.asarray(mu, dtype=float))
    T = np.atleast_1d(np.asarray(T, dtype=float))
    if mu.ndim != 1 or T.ndim != 1:
        raise ModelError("mu and T must be scalars or 1D arrays (eV, kelvin).")
    if mu.size == 0 or not np.all(np.isfinite(mu)):
        raise ModelError(f"mu must be finite (eV), at least one value; got mu = {mu.tolist()[:5]}.")
    if T.size == 0 or not np.all(np.isfinite(T)) or np.any(T < 0):
        raise ModelError(f"T must be finite and >= 0 K, at least one value; got T = {T.tolist()[:5]}.")
    if chunk_size is not None and (isinstance(chunk_size, bool) or not isinstance(chunk_size, numbers.Integral)
                                   or chunk_size < 1):
        raise ModelError(f"chunk_size must be an integer >= 1 (k points per job); got {chunk_size!r}.")
    mechanisms = list(mechanisms)
    if not mechanisms:
        raise ModelError("no mechanisms to integrate.")
    if chunk_size is None:
        chunk_size = default_chunk_size(model, len(mu), len(T), npoints=grid.npoints)
    needs = (any(m.needs_derivatives for m in mechanisms), any(m.needs_eigenvectors for m in mechanisms),
             any(getattr(m, "needs_inverse_mass", True) for m in mechanisms), _needed_quantities(mechanisms))
    integrands = {m.name: m.integrand for m in mechanisms}
    done, totals, resolution = resume if resume is not None else (0, {}, np.zeros(len(T)))
    totals = dict(totals)
    common = (model, integrands, needs, mu, T, grid.spacing, degeneracy_tol)
    jobs = (chunk for i, chunk in enumerate(grid.chunks(chunk_size)) if i >= done)
    with executor_scope(executor) as ex:
        results = bounded_map(ex, _chunk_job, jobs, max_in_flight, common=common)
        if progress:
            from tqdm.auto import tqdm

            results = tqdm(results, total=grid.nchunks(chunk_size), initial=done, unit="chunk",
                           desc=f"{model.name} {grid.description}")
        for out, res in results:             # chunk order whatever the executor: bit-identical sums
            for name, val in out.items():
                totals[name] = val if name not in totals else totals[name] + val
            resolution = np.maximum(resolution, res)
            done += 1
            if on_chunk is not None:
                on_chunk(done, totals, resolution)
    if warn:
        for t, r in zip(T, resolution):
            if r > RESOLUTION_LIMIT and np.isfinite(r):
                warnings.warn(
                    f"k grid too coarse for T = {t:g} K: one grid step crosses {r:.1f} thermal widths k_B T on the "
                    f"Fermi surface. Use about {r / RESOLUTION_LIMIT:.1f}x more points per direction, or a higher T.",
                    GridResolutionWarning, stacklevel=2)
    return BandIntegrals(values=totals, resolution=resolution, npoints=grid.npoints)
