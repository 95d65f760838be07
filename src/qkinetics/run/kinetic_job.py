"""The kinetic job: a validated kinetic config run by :class:`qkinetics.kinetics.KineticSolver`, checkpointed
(distribution, time, frames) and written as ``result.nc`` and ``kinetics.png``."""

from __future__ import annotations

import hashlib
import json

import numpy as np

from .. import checks
from ..models.base import ModelError
from .config import field_function, potential_function
from .errors import ConfigError
from .checkpoint import read_checkpoint, write_checkpoint
from .expressions import profile_function
from .writer import atomic_path, save_figure

#: pseudo-time steps per steady-state block (one checkpoint opportunity per block)
STEADY_BLOCK = 1000


def run_kinetics(cfg, model, *, progress=True, stop_after=None):
    """A validated kinetic config to completion; returns the Dataset (also in ``result.nc``).

    ``model`` is a Model or a function model(x) -> Model (:func:`build_model`). A finished run (``result.nc``
    written by the same config) is read back, not recomputed. An interrupted one resumes from
    ``checkpoint.npz`` (distribution f, time, steps, boundary inflow and the frames saved so far), written every
    ``checkpoint_every`` frames / steady-state blocks of ``STEADY_BLOCK`` steps."""
    import warnings

    from ..conductivity import read_netcdf
    from ..kinetics import KineticSolver

    k = cfg["kinetics"]
    outdir = cfg["directory"]
    outdir.mkdir(parents=True, exist_ok=True)
    key = hashlib.sha256(json.dumps(["kinetics", cfg["raw"], getattr(model, "provenance", None)], sort_keys=True,
                                    default=str).encode()).hexdigest()
    result_path = outdir / "result.nc"
    if result_path.exists():
        try:
            old = read_netcdf(result_path)
        except Exception:          # noqa: BLE001 - an unreadable result is recomputed
            old = None
        if old is not None and old.attrs.get("config_key") == key:
            old.attrs["output_directory"] = str(outdir)
            _write_derived(old, outdir, always=False)     # a figure or table lost since: drawn again
            return old
    _check_memory(k, model)
    V = potential_function(cfg["potential"], k["length"])
    T = profile_function(k["T"]["code"], k["length"]) if isinstance(k["T"], dict) else k["T"]
    try:
        solver = KineticSolver(model, V, length=k["length"], nx=k["nx"], nk=k["nk"], nk_perp=k["nk_perp"],
                               mu=k["mu"], T=T, tau=k["tau"], order=k["order"], relaxation=k["relaxation"],
                               limiter=k["limiter"], cfl=k["cfl"], boundary=k["boundary"],
                               field=field_function(k.get("field"), k["length"]),
                               dispersion=k.get("dispersion", "explicit"), B=k.get("B"))
    except ModelError as err:
        raise ConfigError(f"[kinetics] / [model]: {err}") from None
    if solver.model.dim == 1 and k["nk_perp"] is not None:
        raise ConfigError("[kinetics] nk_perp applies to 2D models only (this model is 1D).")
    if k["initial"] == "uniform":
        solver.f = solver.equilibrium(potential=False)
    N0 = solver.number()
    ckpt_path = outdir / "checkpoint.npz"
    ck = _load_kinetic_checkpoint(ckpt_path, key, solver.shape)
    first = None if k["steady"] else _kinetic_frame(solver, k)      # the frame at the start (time evolution)
    if ck is not None and first is not None and {n for n in ck if n.startswith("frame_")} != \
            {f"frame_{n}" for n in first}:
        ck = None                          # frames of another layout (an older version): start afresh
    if ck is not None:
        solver.f, solver.t, solver.steps, N0 = ck["f"], float(ck["t"]), int(ck["steps"]), float(ck["N0"])
        solver.boundary_inflow = float(ck.get("boundary_inflow", 0.0))
    every = cfg["checkpoint_every"]
    w0 = _time_now()
    new_blocks = 0

    def save(extra):
        _save_kinetic_checkpoint(ckpt_path, key, solver, N0, extra)

    if k["steady"]:
        total = solver.steps
        bar = _ResidualBar(progress, solver, k["tol"], k["max_steps"])
        converged, blocks = False, 0
        while total < k["max_steps"]:
            nblock = min(STEADY_BLOCK, k["max_steps"] - total)
            # check at least at the end of every block: a block shorter than 50 steps was never checked
            ds = solver.steady_state(tol=k["tol"], max_steps=nblock, check_every=min(50, nblock))
            total = solver.steps
            blocks += 1
            new_blocks += 1
            bar.update(float(ds.attrs["residual"]), solver.steps)
            converged = bool(ds.attrs["converged"])
            if converged or blocks % every == 0:
                save({})
            if converged:
                break
            if stop_after is not None and new_blocks >= stop_after:
                save({})
                raise KeyboardInterrupt(f"stopped after {new_blocks} steady-state blocks (checkpoint saved)")
        bar.close()
        residual = float(np.abs(solver.rhs(solver.f, solver.t)).max() * solver.tau)
        converged = residual < k["tol"]
        ds = _kinetic_dataset(solver, cfg, _kinetic_frame(solver, k))
        if k["order"] == 2:
            ds["n_physical"] = (("band", "x"), solver.physical_density())
        ds.attrs = {"residual": residual, "converged": int(converged), "tol": k["tol"]}
        if not converged:
            warnings.warn(f"kinetic steady state not converged after {total} steps: residual max|d_t f| tau = "
                          f"{residual:.2e} > tol = {k['tol']:.1e}; raise [kinetics] max_steps (if the residual stalls, "
                          "the 'mc' limiter may be chattering on an under-resolved grid: refine the grid or use "
                          "limiter = 'minmod').", stacklevel=2)
    else:
        times = np.linspace(0.0, k["t_end"], k["n_save"] + 1)
        if ck is None:
            frames = {name: [value] for name, value in first.items()}
        else:
            frames = {n[len("frame_"):]: list(ck[n]) for n in ck if n.startswith("frame_")}
        done = len(frames["n"]) - 1
        bar = _bar(progress, k["n_save"], done, "frames")
        for i in range(done + 1, k["n_save"] + 1):
            solver.advance(times[i])
            for name, value in _kinetic_frame(solver, k).items():
                frames[name].append(value)
            new_blocks += 1
            if bar is not None:
                bar.update(1)
            arrays = {f"frame_{name}": np.array(fr) for name, fr in frames.items()}
            if i % every == 0 or i == k["n_save"]:
                save(arrays)
            if stop_after is not None and new_blocks >= stop_after and i < k["n_save"]:
                save(arrays)
                raise KeyboardInterrupt(f"stopped after {new_blocks} frames (checkpoint saved)")
        if bar is not None:
            bar.close()
        ds = _kinetic_dataset(solver, cfg, {name: np.array(fr) for name, fr in frames.items()}, times=times)
        ds.attrs = {}
    grid = f"kinetic grid nx={k['nx']} x nk={k['nk']}" + (f" x nk_perp={solver.nky}" if solver.model.dim == 2 else "") \
        + f" ({solver.ncells} phase-space cells)"
    N1 = solver.number()
    ds.attrs.update({
        "kind": "kinetics_steady" if k["steady"] else "kinetics_time", "model": solver.model.name, "grid": grid,
        "dim": solver.model.dim, "order": k["order"], "relaxation": k["relaxation"], "tau_s": k["tau"],
        "mu_eV": k["mu"], "length_A": k["length"], "limiter": k["limiter"], "cfl": k["cfl"],
        "initial": k["initial"], "boundary": k["boundary"], "steps": int(solver.steps), "time_s": float(solver.t),
        "wall_s_this_session": _time_now() - w0,
        "particle_number_initial": N0, "particle_number_final": N1,
        "config": json.dumps(cfg["raw"], default=str), "config_key": key, "output_directory": str(outdir),
    })
    if isinstance(k["T"], dict):
        ds.attrs["T_expression"] = k["T"]["expression"]
    else:
        ds.attrs["T_K"] = k["T"]
    if k["boundary"] == "open":
        ds.attrs["boundary_inflow"] = float(solver.boundary_inflow)   # N1 - N0 to round-off
    for name, p in cfg.get("model_profiles", {}).items():
        ds.attrs[f"param_{name}_expression"] = p["expression"]
    if k.get("B") is not None:
        ds.attrs["B_T"] = k["B"]                                            # B_z, tesla
    if k.get("field") is not None:
        ds.attrs["field_expression"] = k["field"]["expression"]              # V/Angstrom
    if cfg["potential"]["kind"] == "expression":
        ds.attrs["potential_expression"] = cfg["potential"]["expression"]
    _set_units(ds)
    with atomic_path(result_path) as tmp:
        ds.to_netcdf(tmp, engine="scipy")
    _write_derived(ds, outdir, always=True)
    return ds


#: memory of the kinetic solver per phase-space cell and band: about 170 bytes measured (tracemalloc peak of
#: the setup and a few steps, orders 0-2, 1D and 2D), with a margin
BYTES_PER_CELL = 256


def _check_memory(k, model):
    """Refuse a phase-space grid whose solver arrays (and saved snapshots) exceed the memory limit."""
    norb = model.norb if hasattr(model, "norb") else model(0.0).norb
    cells = float(k["nx"]) * k["nk"] * (k["nk_perp"] or 1) * norb
    frames = 1 if k["steady"] else k["n_save"] + 1
    nbytes = cells * BYTES_PER_CELL + (cells * 8 * frames if k["snapshots"] else 0)
    try:
        checks.memory(f"the kinetic grid nx={k['nx']} x nk={k['nk']}" + (f" x nk_perp={k['nk_perp']}" if k["nk_perp"]
                                                                         else "") + f" x {norb} bands",
                      nbytes, "use fewer cells (refine only until the result converges)"
                      + ("; without snapshots the saved frames need no f" if k["snapshots"] else ""))
    except ModelError as err:
        raise ConfigError(f"[kinetics] {err}") from None


def _kinetic_frame(solver, k):
    """The saved fields at the solver's current time: n, jx (jy in 2D), V, jx_face, f (snapshots)."""
    m = solver.moments()
    frame = {"n": m["n"].values, "jx": m["jx"].values, "V": solver.V()}
    if "jy" in m:
        frame["jy"] = m["jy"].values
    for name in ("mu_local", "jE", "jQ", "jy_transport", "jQy"):       # orders 0 and 1 (qkinetics.kinetics.heat)
        if name in m:
            frame[name] = m[name].values
    frame["jx_face"] = solver.face_current()
    if k["snapshots"]:
        frame["f"] = solver.snapshot().values
    return frame


def _kinetic_dataset(solver, cfg, frame, times=None):
    """A Dataset of :func:`_kinetic_frame` fields (with a leading time axis when ``times`` is given), the
    temperature T(x) and the x-dependent model parameters ``param_<name>`` (x) at the cell centres."""
    import xarray as xr

    dims = {"n": ("band", "x"), "jx": ("band", "x"), "jy": ("band", "x"), "V": ("x",), "mu_local": ("x",),
            "jE": ("band", "x"), "jQ": ("band", "x"), "jy_transport": ("band", "x"), "jQy": ("band", "x"),
            "jx_face": ("band", "x_face"), "f": ("band", "x", "k") + (("k_y",) if solver.model.dim == 2 else ())}
    lead = () if times is None else ("time",)
    data = {name: (lead + dims[name], value) for name, value in frame.items()}
    data["T"] = (("x",), np.broadcast_to(solver.T, solver.x.shape).copy())
    coords = {"band": np.arange(solver.nbands), "x": solver.x, "x_face": solver.x_faces}   # jx_face: every frame
    if "f" in frame:
        coords["k"] = solver.k
        if solver.model.dim == 2:
            coords["k_y"] = solver.ky
    if times is not None:
        coords["time"] = times
    ds = xr.Dataset(data, coords=coords)
    for name, p in cfg.get("model_profiles", {}).items():
        ds[f"param_{name}"] = (("x",), profile_function(p["code"], cfg["kinetics"]["length"])(solver.x))
    return ds


def _time_now():
    import time

    return time.perf_counter()


class _ResidualBar:
    """Progress of a steady-state run toward what it waits for: the residual max|d_t f| tau falling from its
    value at the start to the tolerance, shown in decades (log10), so the ETA follows the (roughly exponential)
    relaxation; the postfix shows the residual and the steps against max_steps."""

    def __init__(self, progress, solver, tol, max_steps):
        self.bar = None
        if not progress:
            return
        from tqdm.auto import tqdm

        r0 = float(np.abs(solver.rhs(solver.f, solver.t)).max() * solver.tau)
        self.top, self.tol, self.max_steps = np.log10(max(r0, tol * 1.0001)), np.log10(tol), max_steps
        self.bar = tqdm(total=round(self.top - self.tol, 2), unit="decade", desc="kinetics: residual -> tol",
                        bar_format="{desc}: {percentage:3.0f}%|{bar}| {n:.2f}/{total:.2f} decades "
                                   "[{elapsed}<{remaining}{postfix}]")
        self.update(r0, solver.steps)

    def update(self, residual, steps):
        if self.bar is None:
            return
        self.bar.n = round(float(np.clip(self.top - np.log10(max(residual, 1e-300)), 0, self.top - self.tol)), 2)
        self.bar.set_postfix_str(f"residual {residual:.1e} (tol {10 ** self.tol:.0e}), step {steps}/"
                                 f"{self.max_steps}")

    def close(self):
        if self.bar is not None:
            self.bar.close()


def _bar(progress, total, initial, unit):
    if not progress:
        return None
    from tqdm.auto import tqdm

    return tqdm(total=total, initial=initial, unit=unit, desc="kinetics")


def _save_kinetic_checkpoint(path, key, solver, N0, extra):
    write_checkpoint(path, key, {"f": solver.f, "t": np.array(solver.t), "steps": np.array(solver.steps),
                                 "N0": np.array(N0), "boundary_inflow": np.array(solver.boundary_inflow), **extra})


def _load_kinetic_checkpoint(path, key, shape):
    ck = read_checkpoint(path, key, required=("f", "t", "steps", "N0"))
    if ck is None or ck["f"].shape != tuple(shape):
        return None                        # none, damaged (moved aside), or of another config or grid
    return ck


def _units(dim):
    """Units of the variables of a kinetic result in ``dim`` dimensions (particle density and current per band,
    no spin; the electric current is -e times the particle current)."""
    current, density, heat = {1: ("1/s", "1/A", "eV/s"), 2: ("1/(A s)", "1/A^2", "eV/(A s)")}[dim]
    return {
        "x": "A", "x_face": "A", "time": "s", "k": "1/A", "k_y": "1/A", "V": "eV", "T": "K", "f": "1",
        "n": density, "n_physical": density,
        "jx": current, "jy": current, "jx_face": current, "jy_transport": current,
        "mu_local": "eV", "jE": heat, "jQ": heat, "jQy": heat,
    }


#: what each variable of a kinetic result is (the ``long_name`` attribute)
LONG_NAMES = {
    "n": "particle density per band", "n_physical": "physical (O(hbar^2)-corrected) particle density per band",
    "jx": "cell-centre particle current density per band (moment of xdot f; carries the upwind truncation error)",
    "jy": "transverse particle current density per band",
    "jx_face": "particle flux through the cell faces x_face per band (the scheme's conserved flux)",
    "V": "potential energy V(x, t)", "T": "temperature T(x)", "f": "occupation f(band, x, k[, k_y])",
    "mu_local": "local chemical potential (Fermi function at T(x) with the density of f; electrochemical: + V)",
    "jE": "energy current density per band, int (eps + V) xdot f",
    "jQ": "heat current density per band, int (eps - mu_local) xdot f (transport heat current along x)",
    "jy_transport": "transverse transport particle current per band (jy + d_x of the Berry magnetization, order 1)",
    "jQy": "transverse transport heat current per band (heat magnetization and E x M terms subtracted, order 1)",
}


def _set_units(ds):
    """Per-variable ``units`` and ``long_name`` attributes (coordinates included)."""
    units = _units(int(ds.attrs["dim"]))
    for name in list(ds.data_vars) + list(ds.coords):
        if name in units:
            ds[name].attrs["units"] = units[name]
        if name in LONG_NAMES:
            ds[name].attrs["long_name"] = LONG_NAMES[name]
        if name.startswith("param_"):
            ds[name].attrs["long_name"] = f"model parameter {name[len('param_'):]}(x) (units of the zoo model)"
    ds.attrs["particle_number_units"] = {1: "1", 2: "1/A"}[int(ds.attrs["dim"])]


def _png_complete(path) -> bool:
    """Whether ``path`` is a whole PNG file (signature and final IEND chunk)."""
    try:
        with open(path, "rb") as fh:
            head = fh.read(8)
            fh.seek(0, 2)
            if fh.tell() < 20:
                return False
            fh.seek(-12, 2)
            tail = fh.read(12)
    except OSError:
        return False
    return head == b"\x89PNG\r\n\x1a\n" and tail[4:8] == b"IEND"


def _write_derived(ds, outdir, *, always):
    """``result.csv`` and ``kinetics.png`` from a result (atomically); with ``always=False`` only those missing
    or incomplete (a finished run read back after an older version or a crash lost them)."""
    csv_path, png_path = outdir / "result.csv", outdir / "kinetics.png"
    if always or not csv_path.exists():
        write_kinetic_csv(ds, csv_path)
    if always or not _png_complete(png_path):
        plot_kinetics(ds, png_path)


def write_kinetic_csv(ds, path):
    """A long table of a kinetic result, written atomically: one row per value of every field on x or x_face,

    ``[time,] quantity, band, position, value, units``

    with ``band`` empty for fields without one (V, T, param_<name>) and ``position`` the cell centre x or,
    for ``jx_face``, the face x_face (Angstrom). The occupation f (``snapshots``) is in ``result.nc`` only."""
    import csv

    timed = "time" in ds.dims

    def fmt(values):
        return [f"{v:.10g}" for v in np.asarray(values, dtype=float).ravel()]

    with atomic_path(path) as tmp, open(tmp, "w", newline="") as fh:
        w = csv.writer(fh)
        w.writerow((["time_s"] if timed else []) + ["quantity", "band", "position_A", "value", "units"])
        for name in ds.data_vars:
            da = ds[name]
            pos = "x_face" if "x_face" in da.dims else "x" if "x" in da.dims else None
            if pos is None or "k" in da.dims:
                continue
            order = tuple(d for d in ("time", "band", pos) if d in da.dims)
            grids = dict(zip(order, np.meshgrid(*(ds[d].values for d in order), indexing="ij")))
            size = da.size
            lead = [fmt(grids["time"]) if "time" in grids else [""] * size] if timed else []
            band = [str(b) for b in grids["band"].ravel()] if "band" in grids else [""] * size
            w.writerows(zip(*lead, [name] * size, band, fmt(grids[pos]), fmt(da.transpose(*order).values),
                            [da.attrs.get("units", "")] * size))


def plot_kinetics(ds, path):
    """Density, current(s) and potential versus x: every saved time (colour = time) or the steady state; written
    atomically to ``path``.

    The x current drawn is the flux through the cell faces (``jx_face``, summed over bands): the scheme's
    conserved flux, uniform in a number-conserving steady state. The cell-centre moment ``jx`` (in
    ``result.nc``) differs from it by the upwind truncation term ~ |xdot| dx d_x f, which spikes where f varies
    on the scale of a cell, so it is not drawn."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    dim = int(ds.attrs.get("dim", 1))
    units = _units(dim)
    tex = {"1/A": r"1/$\AA$", "1/A^2": r"1/$\AA^2$", "1/s": "1/s", "1/(A s)": r"1/($\AA$ s)"}
    panels = [(name, f"{name[len('param_'):]}", "model parameter (x)") for name in ds.data_vars
              if name.startswith("param_")]
    if "T" in ds and np.ptp(ds["T"].values) > 0:
        panels.append(("T", "T (K)", "temperature"))
    if np.any(ds["V"].values != 0):
        panels.append(("V", "V (eV)", "potential energy"))
    panels.append(("n", f"n ({tex[units['n']]})", "particle density, bands summed"))
    if "jx_face" in ds:
        panels.append(("jx_face", f"$j_x$ ({tex[units['jx']]})", "particle flux through the cell faces, bands summed"))
    else:                                           # results of older versions
        panels.append(("jx", f"$j_x$ ({tex[units['jx']]})", "cell-centre particle current, bands summed"))
    if "jy" in ds:
        panels.append(("jy", f"$j_y$ ({tex[units['jy']]})", "transverse particle current, bands summed"
                       + (", incl. anomalous velocity" if ds.attrs.get("order") else "")))
    fig, axes = plt.subplots(len(panels), 1, figsize=(7, 1.9 + 1.9 * len(panels)), sharex=True,
                             constrained_layout=True, squeeze=False)
    axes = axes[:, 0]
    steady = "time" not in ds.dims
    times = [None] if steady else list(range(ds.sizes["time"]))
    cmap = plt.get_cmap("viridis")
    for ax, (name, label, what) in zip(axes, panels):
        da = ds[name]
        if "band" in da.dims:
            da = da.sum("band")
        x = ds["x_face" if "x_face" in da.dims else "x"].values
        for i in times if "time" in da.dims else [None]:      # T(x) and parameter profiles are static
            y = da.values if i is None else da.isel(time=i).values
            ax.plot(x, y, color="C0" if i is None else cmap(i / max(len(times) - 1, 1)), lw=1.3)
        ax.set_ylabel(label)
        ax.set_title(what, fontsize=8.5, loc="left", color="0.3")
        ax.ticklabel_format(axis="y", style="sci", scilimits=(-3, 4), useMathText=True)
        if name not in ("n", "T"):                  # signed quantities: a zero line (n and T keep their own scale)
            ax.axhline(0, color="0.8", lw=0.5)
    axes[-1].set_xlabel(r"x ($\AA$)")
    title = f"{ds.attrs.get('model', '')}: " + (
        f"steady state (order {ds.attrs.get('order')}, {ds.attrs.get('relaxation')} relaxation, "
        f"tau = {ds.attrs.get('tau_s'):.2g} s)" if steady else
        f"t = 0 .. {float(ds['time'][-1]):.3g} s (dark to light), order {ds.attrs.get('order')}")
    fig.suptitle(title, fontsize=10)
    save_figure(fig, path, dpi=120)
    plt.close(fig)
