"""The kinetic job: a validated kinetic config run by :class:`qkinetics.kinetics.KineticSolver`, checkpointed
(distribution, time, frames) and written as ``result.nc`` and ``kinetics.png``."""

from __future__ import annotations

import hashlib
import json

import numpy as np

from ..models.base import ModelError
from .config import field_function, potential_function
from .errors import ConfigError
from .expressions import profile_function

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
            return old
    V = potential_function(cfg["potential"], k["length"])
    T = profile_function(k["T"]["code"], k["length"]) if isinstance(k["T"], dict) else k["T"]
    try:
        solver = KineticSolver(model, V, length=k["length"], nx=k["nx"], nk=k["nk"], nk_perp=k["nk_perp"],
                               mu=k["mu"], T=T, tau=k["tau"], order=k["order"], relaxation=k["relaxation"],
                               limiter=k["limiter"], cfl=k["cfl"], boundary=k["boundary"],
                               field=field_function(k.get("field"), k["length"]))
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
        bar = _bar(progress, k["max_steps"], total, "steps")
        converged, blocks = False, 0
        while total < k["max_steps"]:
            nblock = min(STEADY_BLOCK, k["max_steps"] - total)
            # check at least at the end of every block: a block shorter than 50 steps was never checked
            ds = solver.steady_state(tol=k["tol"], max_steps=nblock, check_every=min(50, nblock))
            total = solver.steps
            blocks += 1
            new_blocks += 1
            if bar is not None:
                bar.update(int(ds.attrs["steps"]))
                bar.set_postfix(residual=f"{ds.attrs['residual']:.1e}")
            converged = bool(ds.attrs["converged"])
            if converged or blocks % every == 0:
                save({})
            if converged:
                break
            if stop_after is not None and new_blocks >= stop_after:
                save({})
                raise KeyboardInterrupt(f"stopped after {new_blocks} steady-state blocks (checkpoint saved)")
        if bar is not None:
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
        "units": "x, x_face: A, time: s, n: 1/A^d per band (no spin), jx/jy: particle current 1/(A^(d-1) s) per band "
                 "(electric current = -e x), jx_face: particle flux through the cell faces x_face, 1/(A^(d-1) s), "
                 "V: eV, T: K, particle_number: sum n dx, 1/A^(d-1)"
                 + (", f: occupation, k, k_y: 1/A" if k["snapshots"] else ""),
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
    if k.get("field") is not None:
        ds.attrs["field_expression"] = k["field"]["expression"]              # V/Angstrom
    if cfg["potential"]["kind"] == "expression":
        ds.attrs["potential_expression"] = cfg["potential"]["expression"]
    tmp = outdir / "result.tmp.nc"
    ds.to_netcdf(tmp, engine="scipy")
    tmp.replace(result_path)
    plot_kinetics(ds, outdir / "kinetics.png")
    return ds


def _kinetic_frame(solver, k):
    """The saved fields at the solver's current time: n, jx (jy in 2D), V, jx_face, f (snapshots)."""
    m = solver.moments()
    frame = {"n": m["n"].values, "jx": m["jx"].values, "V": solver.V()}
    if "jy" in m:
        frame["jy"] = m["jy"].values
    frame["jx_face"] = solver.face_current()
    if k["snapshots"]:
        frame["f"] = solver.snapshot().values
    return frame


def _kinetic_dataset(solver, cfg, frame, times=None):
    """A Dataset of :func:`_kinetic_frame` fields (with a leading time axis when ``times`` is given), the
    temperature T(x) and the x-dependent model parameters ``param_<name>`` (x) at the cell centres."""
    import xarray as xr

    dims = {"n": ("band", "x"), "jx": ("band", "x"), "jy": ("band", "x"), "V": ("x",),
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


def _bar(progress, total, initial, unit):
    if not progress:
        return None
    from tqdm.auto import tqdm

    return tqdm(total=total, initial=initial, unit=unit, desc="kinetics")


def _save_kinetic_checkpoint(path, key, solver, N0, extra):
    tmp = path.with_suffix(".tmp.npz")
    np.savez(tmp, key=np.array(key), f=solver.f, t=np.array(solver.t), steps=np.array(solver.steps),
             N0=np.array(N0), boundary_inflow=np.array(solver.boundary_inflow), **extra)
    tmp.replace(path)                      # atomic


def _load_kinetic_checkpoint(path, key, shape):
    if not path.exists():
        return None
    try:
        with np.load(path) as f:
            if str(f["key"]) != key or f["f"].shape != tuple(shape):
                return None
            return {name: f[name] for name in f.files}
    except (OSError, ValueError, KeyError):
        return None


def plot_kinetics(ds, path):
    """Density, current(s) and potential versus x: every saved time (colour = time) or the steady state."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    panels = [(name, f"{name[len('param_'):]}(x), [model]") for name in ds.data_vars if name.startswith("param_")]
    if "T" in ds and np.ptp(ds["T"].values) > 0:
        panels.append(("T", "T (K)"))
    if np.any(ds["V"].values != 0):
        panels.append(("V", "V (eV)"))
    panels += [("n", r"$n$ (1/$\AA^d$, bands summed)"),
               ("jx", r"$j_x$ (1/($\AA^{d-1}$ s))" + (", dashed: face flux" if "jx_face" in ds else ""))]
    if "jy" in ds:
        panels.append(("jy", r"$j_y$ (1/($\AA$ s))" + (" incl. anomalous velocity" if ds.attrs.get("order") else "")))
    fig, axes = plt.subplots(len(panels), 1, figsize=(7, 2.1 * len(panels)), sharex=True, constrained_layout=True)
    x = ds["x"].values
    steady = "time" not in ds.dims
    times = [None] if steady else list(range(ds.sizes["time"]))
    cmap = plt.get_cmap("viridis")
    for ax, (name, label) in zip(axes, panels):
        da = ds[name]
        if "band" in da.dims:
            da = da.sum("band")
        face = ds["jx_face"].sum("band") if name == "jx" and "jx_face" in ds else None
        for i in times if "time" in da.dims else [None]:      # T(x) and parameter profiles are static
            y = da.values if i is None else da.isel(time=i).values
            color = "C0" if i is None else cmap(i / max(len(times) - 1, 1))
            ax.plot(x, y, color=color, lw=1.3)
            if face is not None:
                yf = face.values if i is None else face.isel(time=i).values
                ax.plot(ds["x_face"].values, yf, color=color, lw=1.0, ls="--")
        ax.set_ylabel(label)
        if name not in ("n", "T"):                  # signed quantities: a zero line (n and T keep their own scale)
            ax.axhline(0, color="0.8", lw=0.5)
    axes[-1].set_xlabel(r"x ($\AA$)")
    title = f"{ds.attrs.get('model', '')}: " + (
        f"steady state (order {ds.attrs.get('order')}, {ds.attrs.get('relaxation')} relaxation, "
        f"tau = {ds.attrs.get('tau_s'):.2g} s)" if steady else
        f"t = 0 .. {float(ds['time'][-1]):.3g} s (dark to light), order {ds.attrs.get('order')}")
    axes[0].set_title(title, fontsize=10)
    fig.savefig(path, dpi=120)
    plt.close(fig)
