"""Band integrals of response mechanisms over a k grid, for sweeps of chemical potential and temperature.

For every k chunk the band geometry is computed once; every mechanism's integrand terms
:math:`X^{(p)}` are then contracted with :math:`w_k f^{(p)}(\\varepsilon_{nk};\\mu,T)` for all
(mu, T) at once (one matrix product per Fermi-derivative order), so a sweep over 201 chemical
potentials costs little more than one. Chunks are independent jobs mapped by an executor.
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass

import numpy as np

from ..geometry import DEFAULT_DEGENERACY_TOL, band_geometry
from ..models.base import ModelError
from ..units import kB_eV
from .executors import SerialExecutor
from .occupation import fermi_dirac

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


def fermi_contractions(energies, w, terms, mu, T):
    """Σ_{k,n} w_k f^{(p)}(ε_kn; μ, T) X_kn for every μ, T and every term ``(p, X)``.

    ``energies`` (B, N), ``w`` (B,), each X shaped (B, N, C). Returns a list of (n_mu, n_T, C) arrays.
    States are sorted by energy once. When the thermal windows |ε - μ| < 40 k_B T hold few of the
    states (the usual case for sweeps at moderate T), states below a window enter through prefix
    sums and only the window is evaluated; otherwise all (μ, T) weights are built at once and
    contracted with one matrix product per Fermi-derivative order. Both routes are exact to
    double precision.
    """
    if np.any(T < 0):
        raise ModelError(f"temperatures must be >= 0 K; got {T.tolist()}.")
    if np.any(T == 0) and any(p > 0 for p, _ in terms):
        fermi_dirac(energies[:1, :1], mu[:1], T, 1)          # raises: Fermi-surface terms need T > 0
    B, N = energies.shape
    E = energies.ravel()
    order = np.argsort(E, kind="stable")
    Es = E[order]
    ws = np.repeat(w, N)[order]
    T0 = np.where(T > 0, T, 0.0)
    half = THERMAL_CUTOFF * kB_eV * T0
    lo = np.searchsorted(Es, mu[:, None] - half[None], side="left")            # (M, nT)
    hi = np.searchsorted(Es, mu[:, None] + half[None], side="right")
    if np.mean(hi - lo) > 0.6 * len(Es):
        out, weighted = [], {}
        for p, X in terms:
            if p not in weighted:
                weighted[p] = (fermi_dirac(energies, mu, T, p) * w[:, None]).reshape(len(mu) * len(T), B * N)
            X = np.asarray(X).reshape(B * N, -1)
            out.append((weighted[p] @ X).reshape(len(mu), len(T), -1))
        return out
    prepared = []
    for p, X in terms:
        Xs = np.asarray(X).reshape(B * N, -1)[order] * ws[:, None]
        cum = np.concatenate([np.zeros((1, Xs.shape[1]), Xs.dtype), np.cumsum(Xs, axis=0)]) if p == 0 else None
        prepared.append((p, Xs, cum))
    out = [np.zeros((len(mu), len(T), Xs.shape[1]), Xs.dtype) for _, Xs, _ in prepared]
    for j, t in enumerate(T):
        for i, m in enumerate(mu):
            a, b = lo[i, j], hi[i, j]
            for q, (p, Xs, cum) in enumerate(prepared):
                acc = cum[a] if p == 0 else 0.0
                if b > a:
                    if t == 0:                                          # states exactly at mu: f = 1/2
                        acc = acc + 0.5 * (cum[b] - cum[a])
                    else:
                        acc = acc + fermi_dirac(Es[a:b], m, t, p)[0, 0] @ Xs[a:b]
                out[q][i, j] = acc
    return out


def _chunk_job(job):
    """Integrals of one k chunk (module-level so process executors can pickle it)."""
    model, integrands, (derivatives, eigenvectors), k, w, mu, T, spacing, degeneracy_tol = job
    geo = band_geometry(model, k, derivatives=derivatives, inverse_mass=True, degeneracy_tol=degeneracy_tol,
                        keep_eigenvectors=eigenvectors)
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


def default_chunk_size(model, n_mu, n_T) -> int:
    """k points per job keeping each job's Fermi-weight array (mu x T x k x bands) near 64 MB."""
    return int(np.clip(8e6 / (n_mu * n_T * model.norb), 256, 20000))


def integrate_mechanisms(model, mechanisms, grid, mu, T, *, executor=None, chunk_size=None,
                         progress=False, degeneracy_tol=DEFAULT_DEGENERACY_TOL, warn=True,
                         resume=None, on_chunk=None) -> BandIntegrals:
    """Integrate the band integrands of ``mechanisms`` over ``grid`` for every (mu, T).

    Parameters
    ----------
    model : Model
    mechanisms : sequence of Mechanism
    grid : KGrid
    mu : array_like, eV
    T : array_like, kelvin (> 0 when a mechanism has Fermi-surface terms)
    executor : object with ``map``, optional
        Serial by default; e.g. ``get_executor("processes")``.
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
    if np.any(T < 0) or not np.all(np.isfinite(T)) or not np.all(np.isfinite(mu)):
        raise ModelError(f"T must be finite and >= 0 K and mu finite; got T = {T.tolist()}.")
    mechanisms = list(mechanisms)
    if not mechanisms:
        raise ModelError("no mechanisms to integrate.")
    if chunk_size is None:
        chunk_size = default_chunk_size(model, len(mu), len(T))
    needs = (any(m.needs_derivatives for m in mechanisms), any(m.needs_eigenvectors for m in mechanisms))
    integrands = {m.name: m.integrand for m in mechanisms}
    done, totals, resolution = resume if resume is not None else (0, {}, np.zeros(len(T)))
    totals = dict(totals)
    jobs = ((model, integrands, needs, k, w, mu, T, grid.spacing, degeneracy_tol)
            for i, (k, w) in enumerate(grid.chunks(chunk_size)) if i >= done)
    executor = executor or SerialExecutor()
    results = executor.map(_chunk_job, jobs)
    if progress:
        from tqdm.auto import tqdm

        results = tqdm(results, total=grid.nchunks(chunk_size), initial=done, unit="chunk",
                       desc=f"{model.name} {grid.description}")
    for out, res in results:
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
