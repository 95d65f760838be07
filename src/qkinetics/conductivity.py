"""Conductivity tensors, mechanism by mechanism, as labelled xarray Datasets with convergence estimates."""

from __future__ import annotations

import json

import numpy as np
import xarray as xr

from . import __version__, checks
from .geometry import DEFAULT_DEGENERACY_TOL
from .integrate import KGrid, integrate_mechanisms
from .integrate.convergence import grid_error
from .integrate.executors import executor_scope
from .models.base import ModelError
from .symmetry import irreducible_grid, resolve_symmetry, symmetrize_integrals, time_reversal_parity
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


def conductivity(model, order=1, *, gradient=False, mu=0.0, T=300.0, tau=1e-13, omega=0.0, mechanisms="all",
                 kgrid=200, shift=0.5, kcut=None, convergence=True, executor=None, chunk_size=None,
                 progress=False, degeneracy_tol=DEFAULT_DEGENERACY_TOL, workers=None, symmetry=None,
                 symmetry_tol=1e-6, refine=False, tol=1e-3, max_points=2_000_000) -> xr.Dataset:
    """Conductivity of ``model`` by mechanism, for sweeps over mu, T, tau and omega.

    Every mechanism is a band integral :math:`\\int d^dk/(2\\pi)^d \\sum_n f^{(p)}(\\varepsilon_n - \\mu)\\,X_n(k)`
    of band-geometric quantities (its formula, reference and assumptions are in the result's attrs),
    computed from one eigendecomposition per k point shared by all mechanisms, times an SI prefactor
    carrying tau and omega. Charge -e (e > 0); fields :math:`E(t) = E e^{-i\\omega t} + c.c.`

    Parameters
    ----------
    model : Model
        Any model of the package (lattice or continuum, 1D/2D/3D), e.g. from :mod:`qkinetics.zoo`,
        :class:`~qkinetics.TightBinding`, :class:`~qkinetics.Continuum` or :func:`qkinetics.read_wannier90`.
    order : {1, 2}
        Power of the electric field: 1 gives sigma_ab (j_a = sigma_ab E_b), 2 gives sigma_abc
        (j_a = sigma_abc E_b E_c).
    gradient : bool
        Responses to field gradients at O(q): j_a = sigma_abq E_b q_q (tensor dims j, E1, q;
        fields E e^{i(q.x - omega t)}); ``order=1`` only.
    mu : float or array, eV
        Chemical potentials (one pass over k serves the whole sweep).
    T : float or array, kelvin
        Temperatures, default 300 K (the same default as :func:`qkinetics.kubo.kubo_conductivity`,
        :func:`qkinetics.kubo.lindhard` and the density-matrix solvers). A grid must resolve
        :math:`k_BT` on the Fermi surface: a :class:`~qkinetics.integrate.GridResolutionWarning` says
        when it does not (``thermal_resolution`` in the result).
    tau : float or array, seconds
        Relaxation times (> 0).
    omega : float or array, rad/s
        Angular frequencies of the field (a photon energy E in eV is ``E / qkinetics.units.hbar_eVs``).
    mechanisms : "all", a name, or a sequence of names / Mechanism objects
        "all" takes every mechanism of the requested ``order`` and ``gradient`` that is a part of the
        conductivity. The registered names (also ``qkinetics.responses.available_mechanisms()``):

{mechanism_table}
    kgrid : int or sequence of int
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
    chunk_size : int, optional
        k points per chunk (one job of the executor). The default keeps each chunk's arrays near 64 MB;
        smaller chunks lower the memory, larger ones the overhead; the result changes only by round-off.
    progress : bool
        Show a progress bar over the chunks of the finest grid.
    degeneracy_tol : float, eV
        Bands closer than this at the same k form one degenerate group (e.g. a Kramers pair), treated
        gauge-invariantly; default ``qkinetics.geometry.DEFAULT_DEGENERACY_TOL``.
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
    refine : bool
        Adaptive integration (:func:`qkinetics.integrate.adaptive.integrate_adaptive`, docs/adaptive.md):
        the uniform grid ``kgrid`` is cut into cells of 3 points per direction, and cells where the
        quadrature error is large (Berry-curvature hot spots near small gaps, Fermi surfaces at low T)
        are split recursively into 3^d sub-cells until the error estimate of every component is below
        ``tol`` times the largest component of its mechanism at that (mu, T), or ``max_points`` k points
        have been evaluated (then an ``AdaptiveToleranceWarning``). The error bars ``error_<name>`` are
        the adaptive estimate :math:`\\sum_C |Q^{(3)}_C - Q^{(1)}_C|` (``convergence`` is not used);
        attrs ``npoints`` (points evaluated), ``adaptive_converged``, ``adaptive_max_level``.
        All mechanisms and the whole (mu, T) sweep share each eigendecomposition, as on uniform grids.
        With ``symmetry``, the full zone is refined and the tensors projected onto the group's invariant
        subspace (forbidden components exactly zero, error bars :math:`|P| E`; no k points saved).
    tol : float
        Relative tolerance of ``refine``.
    max_points : int
        Budget of k points of ``refine``.

    Returns
    -------
    xarray.Dataset
        One complex variable per mechanism plus ``total``, dims ``(channel, mu, T, tau, omega, j, E1[, E2][, q])``
        with tensor labels x, y, z; units and conventions in attrs (2D: S or A m/V^2; 3D: S/m or A/V^2).
        ``total`` adds the mechanisms that are parts of the conductivity, taking only the first selected
        variant of each family of alternatives (attrs ``included``). ``channel`` is "linear" at first
        order and ("rectified", "second_harmonic") at second order.

        The sweep dimensions are always present, also for a single value, so that code written for one
        sweep works for any other and results concatenate; select with ``.sel(...)`` and drop the
        size-1 dimensions with ``.squeeze()``: ``res["drude"].sel(j="x", E1="x").squeeze()`` is a
        scalar for scalar mu, T, tau, omega, and a function of mu alone for a mu sweep.
    """
    if order not in (1, 2):
        raise ModelError(f"order must be 1 (linear) or 2 (second order in E); got {order!r}.")
    mechs = mechanisms_by_name(mechanisms, order, gradient)
    mu = checks.values("mu", mu, "eV")
    T = checks.values("T", T, "K", minimum=0.0)
    tau = checks.values("tau", tau, "s", positive=True)
    omega = checks.values("omega", omega, "rad/s", minimum=0.0)
    checks.grid_sizes("kgrid", kgrid, model.dim)
    checks.values("shift", shift, "units of the grid step")
    if kcut is not None:
        checks.finite("kcut", kcut, "1/Angstrom, > 0")
    if chunk_size is not None:
        checks.integer("chunk_size", chunk_size, 1)
    checks.memory(f"the result ({len(mu)} mu x {len(T)} T x {len(tau)} tau x {len(omega)} omega values)",
                  result_bytes(model.dim, order, gradient, len(mechs), len(mu), len(T), len(tau), len(omega)),
                  "sweep fewer mu, T, tau or omega values, or split the sweep into several calls")
    if refine:
        return _adaptive_conductivity(model, order, mechs, mu, T, tau, omega, kgrid=kgrid, kcut=kcut, tol=tol,
                                      max_points=max_points, symmetry=symmetry, symmetry_tol=symmetry_tol,
                                      executor=executor, workers=workers,
                                      chunk_size=chunk_size, degeneracy_tol=degeneracy_tol, progress=progress)
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


def _adaptive_conductivity(model, order, mechs, mu, T, tau, omega, *, kgrid, kcut, tol, max_points, symmetry,
                           symmetry_tol, executor, workers, chunk_size, degeneracy_tol, progress) -> xr.Dataset:
    r"""The ``refine=True`` branch of :func:`conductivity`: base cells from ``kgrid``, adaptive band integrals.

    With ``symmetry``, the full zone is refined and the tensors are then projected onto the group's
    invariant subspace (:func:`~qkinetics.symmetry.symmetrize_integrals`): components the group forbids come
    out exactly zero, and no k point is saved (docs/adaptive.md says why). The projection P is linear, so
    the error of a projected component is :math:`|(P e)_c| \le \sum_{c'} |P_{cc'}|\, E_{c'}`: the error
    bars are :math:`|P| E`, still a bound wherever E is one.
    """
    from .integrate.adaptive import integrate_adaptive

    report = resolve_symmetry(model, symmetry, tol=symmetry_tol)
    base = np.maximum(np.rint(checks.grid_sizes("kgrid", kgrid, model.dim) / 3).astype(int), 1)
    with executor_scope(executor, workers) as ex:
        res = integrate_adaptive(model, mechs, mu, T, base=base, tol=tol, max_points=max_points, kcut=kcut,
                                 executor=ex, chunk_size=chunk_size, degeneracy_tol=degeneracy_tol,
                                 progress=progress)
    errors = res.error
    if report is not None:
        res = symmetrize_integrals(report.group, mechs, res)
        errors = dict(errors)
        for m in mechs:
            P = np.abs(report.group.projector(m.tensor_rank, time_reversal_parity(m)))
            e = errors[m.name]
            errors[m.name] = (e.reshape(e.shape[:2] + (-1,)) @ P.T).reshape(e.shape)
    ds = assemble_dataset(model, order, mechs, res, None, res, mu, T, tau, omega, errors=errors)
    ds.attrs.update(adaptive_converged=int(res.converged), adaptive_max_level=res.max_level, adaptive_tol=tol)
    if report is not None:
        ds.attrs.update(symmetry=", ".join(report.group.names), symmetry_report=report.summary())
        for m in mechs:
            ds[f"error_{m.name}"].attrs["description"] += ("; symmetrized: |P| E with P the group's projector "
                                                           "(qkinetics.symmetry)")
    return ds


def result_bytes(dim, order, gradient, nmech, nmu, nT, ntau, nomega) -> float:
    """Bytes of the complex arrays of a result (mechanisms, total and error bars, every channel and tensor
    component) and of the integrator's partial sums, for the memory check before a run."""
    components = dim ** len(tensor_dims(order, gradient))
    channels = len(LINEAR_CHANNELS if order == 1 else SECOND_ORDER_CHANNELS)
    result = 2 * (nmech + 1) * channels * nmu * nT * ntau * nomega * components * 16
    sums = 3 * nmech * nmu * nT * components * 4 * 16               # fine + 2 coarse grids, a few terms each
    return float(result + sums)


def _mechanism_table() -> str:
    """The registered mechanisms, one line each, for the docstring of :func:`conductivity`."""
    from .responses import available_mechanisms

    lines = []
    for name, m in available_mechanisms().items():
        kind = f"order {m.order}" + (", gradient" if m.gradient else "")
        extra = f", variant of {m.family}" if m.family else ""
        extra += "" if m.in_total else ", not in total or 'all'"
        lines.append(f"        - ``{name}`` ({kind}, tau^{m.tau_power}{extra})")
    return "\n".join(lines) + "\n"


if conductivity.__doc__:                     # None under python -OO
    conductivity.__doc__ = conductivity.__doc__.replace("{mechanism_table}\n", _mechanism_table())


def _prefactors(mech: Mechanism, dim, tau, omega, channels):
    """Array (channel, tau, omega) of SI prefactors."""
    return np.array([[[mech.prefactor(dim, t, w, ch) for w in omega] for t in tau] for ch in channels], dtype=complex)


def assemble_dataset(model, order, mechs, fine, coarse, grid, mu, T, tau, omega, coarser=None,
                     errors=None) -> xr.Dataset:
    """Build the labelled result from band integrals (shared by the API and the resumable CLI run).

    ``coarse`` and ``coarser`` are the band integrals on the grids with half and a quarter of the points
    per direction (either may be None); the error bars come from
    :func:`qkinetics.integrate.convergence.grid_error` (with ``coarser=None``, the weaker one-level form).
    ``errors`` (name -> error bars of the band integrals, e.g. the adaptive estimate) replaces them.
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
        if errors is not None:
            ds[f"error_{m.name}"] = (dims, np.abs(pref) * errors[m.name][None, :, :, None, None])
            ds[f"error_{m.name}"].attrs.update(units=_units(m, dim), description=(
                "adaptive error estimate: sum over the refined cells of |3^d-point rule - centre-point rule| "
                "(qkinetics.integrate.adaptive)"))
        elif coarse is not None:
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
    if fine.resolution is not None:
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
        **provenance_attrs(model, grid),
    )
    return ds


def provenance_attrs(model, grid) -> dict:
    """The attrs every result carries: the model, its provenance, the k grid and the library version."""
    return dict(model=model.name,
                model_provenance=json.dumps(getattr(model, "provenance", {"name": model.name}), default=str),
                grid=grid.description, npoints=grid.npoints, qkinetics_version=__version__)


#: netCDF conventions of the files written by :func:`write_netcdf`.
NETCDF_CONVENTIONS = "CF-1.11"
#: Descriptions (CF ``long_name``) of the coordinates of conductivity results, used where none is set.
LONG_NAMES = {"channel": "response channel", "mu": "chemical potential", "T": "temperature", "tau": "relaxation time",
              "omega": "angular frequency of the field", "j": "current direction", "E1": "direction of the first field",
              "E2": "direction of the second field", "q": "direction of the field's wave vector",
              "part": "part of a complex number", "thermal_resolution": "thermal resolution of the k grid"}


def storable(ds: xr.Dataset) -> xr.Dataset:
    """The Dataset as written to netCDF: complex variables split along a ``part`` dimension, CF attributes.

    netCDF has no complex type, so every complex variable gets a last dimension ``part`` with the
    labels ("real", "imag"): ``ds["total"].sel(part="real")`` is its real part, and
    ``ds["total"].sel(part="real") + 1j * ds["total"].sel(part="imag")`` the complex value, in plain
    xarray. Real variables are unchanged. Global attributes follow CF: ``Conventions``, ``title``,
    ``source``, ``history`` (a line per write, appended), ``date_created`` (kept from an earlier write),
    and every coordinate gets a ``long_name``.
    """
    from datetime import datetime, timezone

    out = ds.copy()
    part = xr.DataArray(["real", "imag"], dims="part")
    for name in list(out.data_vars) + [c for c in out.coords if c not in out.dims]:
        var = out[name]
        if np.iscomplexobj(var):
            split = xr.concat([var.real, var.imag], dim=part).transpose(*var.dims, "part")
            out[name] = split.assign_attrs(var.attrs, comment=(
                "complex values: real part at part = 'real', imaginary part at part = 'imag' "
                "(qkinetics.read_netcdf restores the complex variable)"))
    if "part" in out.dims:
        out = out.assign_coords(part=part)
    for name, long_name in LONG_NAMES.items():
        if name in out.variables and "long_name" not in out[name].attrs:
            out[name].attrs["long_name"] = long_name
    if "thermal_resolution" in out.variables:
        out["thermal_resolution"].attrs.setdefault("units", "1")          # CF: dimensionless
    for name in out.data_vars:
        if name.startswith("error_") and "long_name" not in out[name].attrs:
            out[name].attrs["long_name"] = f"error bar of {name[len('error_'):]}"
    now = datetime.now(timezone.utc).replace(microsecond=0).isoformat()
    model = out.attrs.get("model", "")
    out.attrs.setdefault("title", f"qkinetics result{f' for {model}' if model else ''}")
    out.attrs["Conventions"] = NETCDF_CONVENTIONS
    out.attrs["source"] = f"qkinetics {__version__}"
    out.attrs.setdefault("date_created", now)
    line = f"{now}: written by qkinetics {__version__} write_netcdf"
    out.attrs["history"] = f"{out.attrs['history']}\n{line}" if out.attrs.get("history") else line
    return out


def write_netcdf(ds: xr.Dataset, path) -> None:
    """Write a result to netCDF (classic format, readable by any netCDF tool and plain ``xarray.open_dataset``).

    Complex variables are stored with a last dimension ``part`` = ("real", "imag") and CF attributes are
    added (:func:`storable`); :func:`read_netcdf` gives back the Dataset with its complex variables.
    """
    from .run.writer import atomic_path        # (lazy: run imports this module)

    with atomic_path(path) as tmp:             # an interrupted write never leaves a file that looks complete
        storable(ds).to_netcdf(tmp, engine="scipy")


def read_netcdf(path) -> xr.Dataset:
    """Read a result written by :func:`write_netcdf`, restoring complex variables.

    Also reads files of earlier versions of this function, which stored complex variables as ``<name>__real`` /
    ``<name>__imag`` pairs.
    """
    with xr.open_dataset(path, engine="scipy") as f:
        ds = f.load()
    complex_vars = [v for v in ds.variables if v != "part" and ds[v].dims[-1:] == ("part",)]
    if complex_vars:
        labels = [str(x) for x in ds["part"].values]
        re, im = labels.index("real"), labels.index("imag")
        for name in complex_vars:
            var = ds[name]
            attrs = {k: v for k, v in var.attrs.items() if k != "comment"}
            value = xr.Variable(var.dims[:-1], var.values[..., re] + 1j * var.values[..., im], attrs)
            ds = ds.assign_coords({name: value}) if name in ds.coords else ds.assign({name: value})
        ds = ds.drop_vars("part")
    for name in [v for v in ds.data_vars if v.endswith("__real")]:
        base = name[: -len("__real")]
        attrs = dict(ds[name].attrs)
        ds[base] = (ds[name] + 1j * ds[f"{base}__imag"]).assign_attrs(attrs)
        ds = ds.drop_vars([name, f"{base}__imag"])
    return ds
