"""Thermoelectric and thermal transport tensors, mechanism by mechanism, as labelled xarray Datasets.

The band integrals of :mod:`qkinetics.responses.thermal` (Boltzmann Onsager coefficients
:math:`L^{(0,1,2)}`, anomalous Hall, anomalous Nernst, anomalous thermal Hall) are integrated in one
pass (one eigendecomposition per k for all mechanisms, chemical potentials and temperatures) and
combined into

.. math::
    \\sigma = L^{(0)} + \\sigma^{AH},\\quad \\alpha = -L^{(1)}/T + \\alpha^{AN},\\quad
    K = L^{(2)}/T + K^{AH},

    S = \\sigma^{-1}\\alpha,\\quad \\Pi = T\\,\\alpha\\,\\sigma^{-1},\\quad
    \\kappa = K - T\\,\\alpha\\,\\sigma^{-1}\\alpha,

for :math:`j = \\sigma\\mathcal{E} + \\alpha(-\\nabla T)`, :math:`j^Q = T\\alpha\\mathcal{E} + K(-\\nabla T)`
(electron charge -e; :math:`\\mathcal{E} = E + \\nabla\\mu/e`). Conventions and derivations:
:mod:`qkinetics.responses.thermal` and docs/thermoelectric.md.
"""

from __future__ import annotations


import numpy as np
import xarray as xr

from .conductivity import AXES, provenance_attrs
from .geometry import DEFAULT_DEGENERACY_TOL
from .integrate import KGrid, integrate_mechanisms
from .integrate.convergence import grid_error
from .models.base import ModelError
from .responses.thermal import MECHANISM_GROUPS, TEMPERATURE_POWER, THERMAL_MECHANISMS

__all__ = ["thermoelectric", "thermal_mechanisms", "assemble_dataset", "check_sweep", "CONVENTIONS", "UNITS"]

#: The transport equations the tensors are defined by.
CONVENTIONS = (
    "electron charge -e; dc; j = sigma Ec + alpha (-grad T), j^Q = T alpha Ec + K (-grad T), with Ec = E + grad(mu)/e "
    "the electrochemical field and j^Q the heat current; seebeck S = sigma^-1 alpha (Ec = S grad T at j = 0), "
    "peltier Pi = T alpha sigma^-1 (j^Q = Pi j at grad T = 0), kappa = K - T alpha sigma^-1 alpha "
    "(j^Q = kappa (-grad T) at j = 0); tensor [a, b]: current along a, drive along b")

#: SI units of every output variable by dimension (1D, 2D, 3D).
UNITS = {
    "sigma": ("S m", "S", "S/m"), "L0": ("S m", "S", "S/m"), "anomalous_hall": ("S m", "S", "S/m"),
    "L1": ("A m", "A", "A/m"), "L2": ("W m", "W", "W/m"),
    "alpha": ("A m/K", "A/K", "A/(m K)"), "anomalous_nernst": ("A m/K", "A/K", "A/(m K)"),
    "kappa": ("W m/K", "W/K", "W/(m K)"), "kappa_zero_field": ("W m/K", "W/K", "W/(m K)"),
    "anomalous_thermal_hall": ("W m/K", "W/K", "W/(m K)"),
    "seebeck": ("V/K",) * 3, "peltier": ("V",) * 3,
}

_DESCRIPTIONS = {
    "sigma": "electrical conductivity: j = sigma Ec at grad T = 0 (L0 + anomalous_hall)",
    "alpha": "thermoelectric conductivity: j = alpha (-grad T) at Ec = 0 (-L1/T + anomalous_nernst)",
    "kappa_zero_field": "thermal conductivity at zero electrochemical field, K (L2/T + anomalous_thermal_hall)",
    "seebeck": "Seebeck tensor S = sigma^-1 alpha: Ec = S grad T at j = 0 (NaN where sigma is singular)",
    "peltier": "Peltier tensor Pi = T alpha sigma^-1: j^Q = Pi j at grad T = 0 (NaN where sigma is singular)",
    "kappa": ("electronic thermal conductivity at j = 0: kappa = K - T alpha sigma^-1 alpha "
              "(NaN where sigma is singular)"),
}

#: Conductivity tensors whose condition number exceeds this are treated as singular (S, Pi, kappa NaN).
SINGULAR_CONDITION = 1e10


def _mechanism_names(mechanisms):
    """Resolve "all", a group name ("boltzmann", "berry") or a sequence of them to mechanism names."""
    if isinstance(mechanisms, str):
        mechanisms = [mechanisms]
    names = []
    for m in mechanisms:
        if m == "all":
            group = [n for g in MECHANISM_GROUPS.values() for n in g]
        elif m in MECHANISM_GROUPS:
            group = MECHANISM_GROUPS[m]
        else:
            raise ModelError(f"unknown thermoelectric mechanism group {m!r}; choose from "
                             f"{sorted(MECHANISM_GROUPS)} or 'all'.")
        names.extend(n for n in group if n not in names)
    if not names:
        raise ModelError("no mechanisms selected.")
    return names


def thermoelectric(model, mu=0.0, T=300.0, tau=1e-13, *, mechanisms="all", kgrid=200, shift=0.5, kcut=None,
                   convergence=True, executor=None, chunk_size=None, progress=False,
                   degeneracy_tol=DEFAULT_DEGENERACY_TOL) -> xr.Dataset:
    """Thermoelectric and thermal transport of ``model``: sigma, Seebeck, Peltier, kappa and their parts.

    Parameters
    ----------
    model : Model
    mu : float or array, eV
    T : float or array, kelvin (> 0)
    tau : float or array, seconds (relaxation time of the Boltzmann mechanism; positive)
    mechanisms : "all", "boltzmann", "berry", or a sequence of these
        ``"boltzmann"``: the relaxation-time Onsager coefficients L0, L1, L2 (tau^1);
        ``"berry"``: the intrinsic anomalous Hall, anomalous Nernst and anomalous thermal Hall
        conductivities (tau^0). The totals add the selected groups.
    kgrid, shift, kcut, executor, chunk_size, progress, degeneracy_tol
        As for :func:`qkinetics.conductivity`.
    convergence : bool
        Also integrate on grids with half and a quarter of the points per direction and store an
        error bar ``error_<name>`` for every variable (derived tensors included: S, Pi and kappa
        are formed on each grid and :func:`qkinetics.integrate.convergence.grid_error` applied to
        them).

    Returns
    -------
    xarray.Dataset
        Real variables with dims ``(mu, T, tau, a, b)`` (tensor labels x, y, z; a the current, b the
        drive): the mechanisms (``L0``, ``L1``, ``L2``, ``anomalous_hall``, ``anomalous_nernst``,
        ``anomalous_thermal_hall``, as selected) and the totals ``sigma``, ``alpha``,
        ``kappa_zero_field``, ``seebeck``, ``peltier``, ``kappa``; SI units in each variable's
        attrs (2D: S, A/K, W/K, V/K, V; 3D: S/m, A/(m K), W/(m K)), conventions in the Dataset's
        attrs (:data:`CONVENTIONS`).
    """
    mechs = thermal_mechanisms(mechanisms)
    mu, T, tau = check_sweep(mu, T, tau)
    grid = KGrid(model, kgrid, shift=shift, kcut=kcut)
    options = dict(executor=executor, chunk_size=chunk_size, degeneracy_tol=degeneracy_tol)
    levels = [integrate_mechanisms(model, mechs, grid, mu, T, progress=progress, **options)]
    if convergence:
        cgrid = grid.coarsened(model)
        levels += [integrate_mechanisms(model, mechs, g, mu, T, progress=False, warn=False, **options)
                   for g in (cgrid, cgrid.coarsened(model))]
    return assemble_dataset(model, mechs, grid, mu, T, tau, *levels)


def check_sweep(mu, T, tau):
    """``mu`` (eV), ``T`` (K, > 0) and ``tau`` (s, > 0) as finite 1D float arrays; ModelError otherwise."""
    mu, T, tau = (np.atleast_1d(np.asarray(x, dtype=float)) for x in (mu, T, tau))
    for label, x, unit in (("mu", mu, "eV"), ("T", T, "K"), ("tau", tau, "s")):
        if x.ndim != 1 or not np.all(np.isfinite(x)):
            raise ModelError(f"{label} must be a finite scalar or 1D array ({unit}); got {x.tolist()}.")
    if np.any(T <= 0):
        raise ModelError(f"thermoelectric coefficients need T > 0 K (they weigh states by -df/d eps); got "
                         f"{T.tolist()}.")
    if np.any(tau <= 0):
        raise ModelError(f"tau must be positive (seconds); got {tau.tolist()}.")
    return mu, T, tau


def thermal_mechanisms(mechanisms="all") -> list:
    """The :class:`~qkinetics.responses.Mechanism` objects of ``"all"``, ``"boltzmann"``, ``"berry"`` or a
    sequence of these (for callers that integrate themselves, e.g. a resumable run)."""
    return [THERMAL_MECHANISMS[n] for n in _mechanism_names(mechanisms)]


def assemble_dataset(model, mechs, grid, mu, T, tau, fine, coarse=None, coarser=None) -> xr.Dataset:
    """The labelled result from the band integrals (:class:`~qkinetics.integrate.BandIntegrals`) of ``mechs``.

    ``fine`` on ``grid``; ``coarse`` and ``coarser`` (either may be None) on the grids with half and a
    quarter of the points per direction. Every output tensor is formed on each level and its error bar
    taken from :func:`~qkinetics.integrate.convergence.grid_error` (the one-level form without ``coarser``).
    Shared by :func:`thermoelectric` and resumable runs that call ``integrate_mechanisms`` themselves.
    """
    mu, T, tau = check_sweep(mu, T, tau)
    levels = [fine] if coarse is None else [fine, coarse] if coarser is None else [fine, coarse, coarser]
    tensors = [_tensors(model.dim, mechs, level.values, T, tau) for level in levels]
    return _dataset(model, grid, mu, T, tau, tensors, fine.resolution)


def _tensors(dim, mechs, values, T, tau):
    """All output tensors (mu, T, tau, a, b) in SI from the band integrals of one grid level."""
    Tb = T[None, :, None, None, None]
    out = {}
    for m in mechs:
        pref = np.array([m.prefactor(dim, t, 0.0, "linear") for t in tau]).real             # (tau,)
        val = values[m.name].real[:, :, None] * pref[None, None, :, None, None]
        out[m.name] = val * Tb ** TEMPERATURE_POWER.get(m.name, 0)
    zero = 0.0
    sigma = out.get("L0", zero) + out.get("anomalous_hall", zero)
    alpha = (-out["L1"] / Tb if "L1" in out else zero) + out.get("anomalous_nernst", zero)
    K = (out["L2"] / Tb if "L2" in out else zero) + out.get("anomalous_thermal_hall", zero)
    shape = (values[mechs[0].name].shape[0], len(T), len(tau), dim, dim)
    sigma, alpha, K = (np.broadcast_to(x, shape).astype(float) for x in (sigma, alpha, K))
    inv = _inverse(sigma)
    out.update(sigma=sigma, alpha=alpha, kappa_zero_field=K, seebeck=inv @ alpha, peltier=Tb * (alpha @ inv),
               kappa=K - Tb * (alpha @ inv @ alpha))
    return out


def _inverse(sigma):
    """Inverse of every d x d block, NaN where the block is singular (condition > SINGULAR_CONDITION)."""
    with np.errstate(invalid="ignore", divide="ignore", over="ignore"):
        cond = np.linalg.cond(sigma)
        ok = np.isfinite(cond) & (cond < SINGULAR_CONDITION)
    inv = np.full_like(sigma, np.nan)
    if np.any(ok):
        inv[ok] = np.linalg.inv(sigma[ok])
    return inv


def _dataset(model, grid, mu, T, tau, tensors, resolution) -> xr.Dataset:
    dim = model.dim
    dims = ("mu", "T", "tau", "a", "b")
    ds = xr.Dataset(coords={"mu": mu, "T": T, "tau": tau, "a": list(AXES[:dim]), "b": list(AXES[:dim])})
    fine = tensors[0]
    for name, val in fine.items():
        ds[name] = (dims, val)
        ds[name].attrs["units"] = UNITS[name][dim - 1]
        if name in THERMAL_MECHANISMS:
            m = THERMAL_MECHANISMS[name]
            ds[name].attrs.update(formula=m.formula, reference=m.reference, assumptions=m.assumptions,
                                  tau_power=m.tau_power)
        else:
            ds[name].attrs["description"] = _DESCRIPTIONS[name]
        if len(tensors) > 1:
            with np.errstate(invalid="ignore"):
                err = grid_error(val, tensors[1][name], tensors[2][name] if len(tensors) > 2 else None,
                                 resolution)
            ds[f"error_{name}"] = (dims, err)
            ds[f"error_{name}"].attrs.update(
                units=UNITS[name][dim - 1],
                description=("error bar from the same tensor on the grids with 1/2 and 1/4 of the points per "
                             "direction (Richardson-style, raised where the thermal resolution is marginal; "
                             "qkinetics.integrate.convergence)" if len(tensors) > 2 else
                             "error bar 2 |fine - coarse| from the grid with half the points per direction, up to "
                             "4x where the thermal resolution is marginal (one-level form, "
                             "qkinetics.integrate.convergence)"))
    ds["thermal_resolution"] = (("T",), resolution)
    ds["thermal_resolution"].attrs["description"] = (
        "largest |v| dk / (kB T) on the Fermi surface; above 1 the grid is too coarse for T")
    ds["mu"].attrs["units"] = "eV"
    ds["T"].attrs["units"] = "K"
    ds["tau"].attrs["units"] = "s"
    ds.attrs.update(
        quantity="thermoelectric",
        dimension=dim,
        conventions=CONVENTIONS + f"; {dim}D units",
        **provenance_attrs(model, grid),
    )
    return ds
