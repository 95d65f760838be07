"""Conductivity tensors, mechanism by mechanism, as labelled xarray Datasets with convergence estimates."""

from __future__ import annotations

import json

import numpy as np
import xarray as xr

from . import __version__
from .geometry import DEFAULT_DEGENERACY_TOL
from .integrate import KGrid, integrate_mechanisms
from .integrate.convergence import grid_error
from .integrate.executors import executor_scope
from .models.base import ModelError
from .symmetry import irreducible_grid, resolve_symmetry, symmetrize_integrals
from .responses import LINEAR_CHANNELS, SECOND_ORDER_CHANNELS, Mechanism, mechanisms_by_name

AXES = ("x", "y", "z")


def tensor_dims(order, gradient):
    """Tensor dimension names: current j, field E1 (, E2), and the field's wave vector q for gradients."""
    return ("j", "E1", "E2")[: order + 1] + (("q",) if gradient else ())

def _units(mech, dim):
    """SI units: j is A (1D), A/m (2D), A/m^2 (3D); E is V/m; a gradient response has one more metre."""
    if mech.units:
        return mech.units[dim]
    table = {(1, False): ("S m", "S", "S/m"), (2, False): ("A m^2/V^2", "A m/V^2", "A/V^2"),
             (1, True): ("S m^2", "S m", "S"), (2, True): ("A m^3/V^2", "A m^2/V^2", "A m/V^2")}
    return table[(mech.order, mech.gradient)][dim - 1]


def conductivity(model, order=1, *, gradient=False, mu=0.0, T=10.0, tau=1e-13, omega=0.0, mechanisms="all",
                 kgrid=200, shift=0.5, kcut=None, convergence=True, executor=None, chunk_size=None,
                 progress=False, degeneracy_tol=DEFAULT_DEGENERACY_TOL, workers=None, symmetry=None,
                 symmetry_tol=1e-6) -> xr.Dataset:
    """Conductivity of ``model`` by mechanism, for sweeps over mu, T, tau and omega.

    Parameters
    ----------
    model : Model
    order : {1, 2}
        Power of the electric field: 1 gives sigma_ab (j_a = sigma_ab E_b), 2 gives sigma_abc
        (j_a = sigma_abc E_b E_c).
    gradient : bool
        Responses to field gradients at O(q): j_a = sigma_abq E_b q_q (tensor dims j, E1, q;
        fields E e^{i(q.x - omega t)}).
    mu : float or array, eV
    T : float or array, kelvin
    tau : float or array, seconds (relaxation time)
    omega : float or array, rad/s (frequency of the field; convention E(t) = E e^{-i omega t} + c.c.)
    mechanisms : "all", a name, or a sequence of names / Mechanism objects
    kgrid : int or sequence
        Points per direction (Monkhorst-Pack for lattice models, a grid inside kcut for continuum ones).
    shift : float
        Monkhorst-Pack shift (units of the grid step).
    kcut : float, optional
        Momentum cutoff of continuum models (1/Angstrom), default ``model.kcut``.
    convergence : bool
        Also integrate on grids with half and a quarter of the points per direction (about 30% more
        work in 2D) and store, for every mechanism, an error bar ``error_<name>``
        (:func:`qkinetics.integrate.convergence.grid_error`: Richardson-style from the two level
        differences, raised while the thermal resolution of the grid is marginal, never below
        round-off) and the relative change |fine - coarse| / max |fine| in attrs.
    executor : str or object with ``map``/``submit``, optional
        Where the k chunks run: ``"serial"`` (default), ``"processes"`` (local process pool),
        ``"dask"`` (a local ``dask.distributed`` cluster, started and closed by this call),
        ``"dask://HOST:PORT"`` (a running dask scheduler, e.g. from dask-jobqueue), or an executor
        object (``qkinetics.integrate.get_executor(...)``, left open). Results are bit-identical
        whatever the executor (docs/performance.md).
    workers : int, optional
        Worker processes of a named local executor (default: the CPUs).
    symmetry : None, "auto", MagneticPointGroup or sequence of operation symbols
        Integrate over the irreducible wedge of a magnetic point group and symmetrize every tensor
        (:mod:`qkinetics.symmetry`). ``"auto"`` finds the group from the Hamiltonian, keeping only
        the operations the model obeys within ``symmetry_tol``; a group or generators (e.g.
        ``["3[0,0,1]", "m'[1,0]"]``) are checked first and rejected with their violation if the
        model breaks them. Use a Gamma-centred grid (``shift=0``) for the full reduction. The
        group and every candidate's violation are stored in attrs ``symmetry``, ``symmetry_report``.
    symmetry_tol : float
        Largest relative violation of an operation still counted as a symmetry.

    Returns
    -------
    xarray.Dataset
        One complex variable per mechanism plus ``total``, dims ``(channel, mu, T, tau, omega, j, E1[, E2][, q])``
        with tensor labels x, y, z; units and conventions in attrs (2D: S or A m/V^2; 3D: S/m or A/V^2).
        ``total`` adds the mechanisms that are parts of the conductivity, taking only the first selected
        variant of each family of alternatives (attrs ``included``).
    """
    if order not in (1, 2):
        raise ModelError(f"order must be 1 (linear) or 2 (second order in E); got {order!r}.")
    mechs = mechanisms_by_name(mechanisms, order, gradient)
    mu, T, tau, omega = (np.atleast_1d(np.asarray(x, dtype=float)) for x in (mu, T, tau, omega))
    if np.any(tau <= 0):
        raise ModelError(f"tau must be positive (seconds); got {tau.tolist()}.")
    if np.any(T < 0):
        raise ModelError(f"T must be >= 0 K; got {T.tolist()}.")
    grid = KGrid(model, kgrid, shift=shift, kcut=kcut)
    report = resolve_symmetry(model, symmetry, tol=symmetry_tol)
    if report is not None:
        grid = irreducible_grid(model, grid, report.group)
    coarse = coarser = None
    with executor_scope(executor, workers) as ex:            # a named executor serves all three grids
        fine = integrate_mechanisms(model, mechs, grid, mu, T, executor=ex, chunk_size=chunk_size,
                                    progress=progress, degeneracy_tol=degeneracy_tol)
        if convergence:
            cgrid = grid.coarsened(model)
            coarse, coarser = (integrate_mechanisms(model, mechs, g, mu, T, executor=ex, chunk_size=chunk_size,
                                                    progress=False, degeneracy_tol=degeneracy_tol, warn=False)
                               for g in (cgrid, cgrid.coarsened(model)))
    if report is not None:
        fine, coarse, coarser = (None if r is None else symmetrize_integrals(report.group, mechs, r)
                                 for r in (fine, coarse, coarser))
    ds = assemble_dataset(model, order, mechs, fine, coarse, grid, mu, T, tau, omega, coarser=coarser)
    if report is not None:
        ds.attrs.update(symmetry=", ".join(report.group.names), symmetry_report=report.summary(),
                        npoints_irreducible=grid.count())
    return ds


def _prefactors(mech: Mechanism, dim, tau, omega, channels):
    """Array (channel, tau, omega) of SI prefactors."""
    return np.array([[[mech.prefactor(dim, t, w, ch) for w in omega] for t in tau] for ch in channels], dtype=complex)


def assemble_dataset(model, order, mechs, fine, coarse, grid, mu, T, tau, omega, coarser=None) -> xr.Dataset:
    """Build the labelled result from band integrals (shared by the API and the resumable CLI run).

    ``coarse`` and ``coarser`` are the band integrals on the grids with half and a quarter of the points
    per direction (either may be None); the error bars come from
    :func:`qkinetics.integrate.convergence.grid_error` (with ``coarser=None``, the weaker one-level form).
    """
    dim = model.dim
    channels = LINEAR_CHANNELS if order == 1 else SECOND_ORDER_CHANNELS
    gradient = mechs[0].gradient
    tdims = tensor_dims(order, gradient)
    rank = len(tdims)
    coords = {"channel": list(channels), "mu": mu, "T": T, "tau": tau, "omega": omega}
    coords.update({d: list(AXES[:dim]) for d in tdims})
    dims = ("channel", "mu", "T", "tau", "omega") + tdims
    ds = xr.Dataset(coords=coords)
    total, included, families = 0, [], set()
    for m in mechs:
        pref = _prefactors(m, dim, tau, omega, channels)                   # (ch, tau, omega)
        pref = pref.reshape(pref.shape[:1] + (1, 1) + pref.shape[1:] + (1,) * rank)
        sig = pref * fine.values[m.name][None, :, :, None, None]            # (ch, mu, T, tau, omega, *tensor)
        ds[m.name] = (dims, sig)
        ds[m.name].attrs.update(units=_units(m, dim), tau_power=m.tau_power, formula=m.formula,
                                reference=m.reference, assumptions=m.assumptions, family=m.family)
        if coarse is not None:
            bar = grid_error(fine.values[m.name], coarse.values[m.name],
                             None if coarser is None else coarser.values[m.name], fine.resolution)
            err = np.abs(pref) * bar[None, :, :, None, None]
            ds[f"error_{m.name}"] = (dims, err)
            ds[f"error_{m.name}"].attrs.update(
                units=_units(m, dim),
                description=("error bar from the grids with 1/2 and 1/4 of the points per direction (Richardson-style, "
                             "raised where the thermal resolution is marginal; qkinetics.integrate.convergence)"
                             if coarser is not None else
                             "error bar 2 |fine - coarse| from the grid with half the points per direction, up to "
                             "4x where the thermal resolution is marginal (one-level form, "
                             "qkinetics.integrate.convergence)"))
            change = np.abs(pref) * np.abs(fine.values[m.name] - coarse.values[m.name])[None, :, :, None, None]
            scale = np.max(np.abs(sig))
            ds[m.name].attrs["relative_change_vs_coarse_grid"] = float(np.max(change) / scale) if scale > 0 else 0.0
        if m.in_total and (not m.family or m.family not in families):
            total = total + sig
            included.append(m.name)
            families.add(m.family)
    if included:
        ds["total"] = (dims, total)
        ds["total"].attrs.update(
            units=_units(next(m for m in mechs if m.name == included[0]), dim), included=", ".join(included),
            description="sum of the included mechanisms (one variant per family of alternatives)")
    ds["thermal_resolution"] = (("T",), fine.resolution)
    ds["thermal_resolution"].attrs["description"] = (
        "largest |v| dk / (kB T) on the Fermi surface; above 1 the grid is too coarse for T")
    ds["mu"].attrs["units"] = "eV"
    ds["T"].attrs["units"] = "K"
    ds["tau"].attrs["units"] = "s"
    ds["omega"].attrs["units"] = "rad/s"
    ds.attrs.update(
        order=order,
        dimension=dim,
        conventions=("electron charge -e; E(t) = E exp(-i omega t) + c.c.; "
                     + ("j_a = sigma_ab E_b" if order == 1 else
                        "j_a = sigma_abc E_b E_c (rectified: E_b E_c^*, second_harmonic: E_b E_c e^{-2i omega t})")
                     + ("; field-gradient response: fields E e^{i(q.x - omega t)}, extra index q" if gradient else "")
                     + f"; {dim}D units"),
        model=model.name,
        model_provenance=json.dumps(getattr(model, "provenance", {"name": model.name}), default=str),
        grid=grid.description,
        npoints=grid.npoints,
        qkinetics_version=__version__,
    )
    return ds


def write_netcdf(ds: xr.Dataset, path) -> None:
    """Write a result to netCDF (complex variables stored as ``<name>__real`` / ``<name>__imag`` pairs)."""
    out = ds.copy()
    for name in list(out.data_vars):
        if np.iscomplexobj(out[name]):
            attrs = dict(out[name].attrs)
            out[f"{name}__real"] = out[name].real.assign_attrs(attrs)
            out[f"{name}__imag"] = out[name].imag.assign_attrs(attrs)
            out = out.drop_vars(name)
    out.to_netcdf(path, engine="scipy")


def read_netcdf(path) -> xr.Dataset:
    """Read a result written by :func:`write_netcdf`, restoring complex variables."""
    with xr.open_dataset(path, engine="scipy") as f:
        ds = f.load()
    for name in [v for v in ds.data_vars if v.endswith("__real")]:
        base = name[: -len("__real")]
        attrs = dict(ds[name].attrs)
        ds[base] = (ds[name] + 1j * ds[f"{base}__imag"]).assign_attrs(attrs)
        ds = ds.drop_vars([name, f"{base}__imag"])
    return ds
