"""The response job: mechanism-resolved conductivities of a validated response config, checkpointed chunk by
chunk (``checkpoint.npz``) and written as ``result.nc``, ``result.csv`` and ``response.png``."""

from __future__ import annotations

import hashlib
import json

import numpy as np

from .. import checks
from ..conductivity import assemble_dataset, result_bytes, write_netcdf
from ..integrate import KGrid, integrate_mechanisms
from ..integrate.integrator import BandIntegrals, default_chunk_size
from ..models.base import ModelError
from ..responses import mechanisms_by_name
from .checkpoint import read_checkpoint, write_checkpoint
from .errors import ConfigError
from .writer import atomic_path

def run_response(cfg, model, *, executor=None, progress=True, stop_after=None):
    """A validated response config to completion (resuming from ``checkpoint.npz`` if it matches); returns the
    Dataset (also written as ``result.nc``, ``result.csv`` and ``response.png``).

    ``stop_after`` (chunks) interrupts the run deliberately after that many new chunks, leaving the checkpoint
    behind (used to test resuming)."""
    thermal = cfg.get("thermal")
    mechs = thermal["mechanisms"] if thermal else mechanisms_by_name(cfg["mechanisms"], cfg["order"], cfg["gradient"])
    if cfg["component"] and set(cfg["component"]) - set("xyz"[:model.dim]):
        raise ConfigError(f"[output] component {cfg['component']!r}: a {model.dim}D model has the axes "
                          f"{'xyz'[:model.dim]}.")
    s = cfg["sweep"]
    outdir = cfg["directory"]
    outdir.mkdir(parents=True, exist_ok=True)
    g = cfg["grid"]
    try:
        checks.memory(f"the result ({' x '.join(f'{len(s[k])} {k}' for k in ('mu', 'T', 'tau', 'omega'))} values)",
                      result_bytes(model.dim, cfg["order"], cfg["gradient"], len(mechs),
                                   *(len(s[k]) for k in ("mu", "T", "tau", "omega"))),
                      "sweep fewer values, or split the sweep over several configs")
    except ModelError as err:
        raise ConfigError(f"[sweep] {err}") from None
    if g.get("refine"):
        return _finish(cfg, _run_adaptive(cfg, model, mechs, executor, progress), outdir)
    try:
        checks.grid_sizes("n", g["n"], model.dim)
        with checks.limits(k_points=g["max_points"]):
            grid = KGrid(model, g["n"], shift=g["shift"], kcut=g["kcut"])
    except ModelError as err:
        raise ConfigError(f"[grid] {err}") from None
    # grid-only chunking: the same chunks, and so bit-identical sums, on every executor
    chunk = g["chunk_size"] or default_chunk_size(model, len(s["mu"]), len(s["T"]), npoints=grid.npoints)
    grids = {"fine": grid}
    if g["convergence"]:                 # the same three levels as qkinetics.conductivity (grid_error)
        grids["coarse"] = grid.coarsened(model)
        grids["coarser"] = grids["coarse"].coarsened(model)
    report = None
    if g["symmetry"] is not False:       # the irreducible wedge of each level, the tensors symmetrized below
        from ..symmetry import irreducible_grid, resolve_symmetry

        try:
            report = resolve_symmetry(model, g["symmetry"], tol=g["symmetry_tol"])
        except ModelError as err:
            raise ConfigError(f"[grid] symmetry: {err}") from None
        grids = {label: irreducible_grid(model, gr, report.group) for label, gr in grids.items()}
    # the checkpoint belongs to this config (executor settings aside: a run resumes on another one), the
    # chunking of its sums and, for Wannier90 input, the file's content
    raw = {k: v for k, v in cfg["raw"].items() if k != "parallel"}
    key = hashlib.sha256(json.dumps([raw, getattr(model, "provenance", None), chunk], sort_keys=True,
                                    default=str).encode()).hexdigest()
    ckpt_path = outdir / "checkpoint.npz"
    state = _load_checkpoint(ckpt_path, key)
    results = {}
    new_chunks = 0

    def _integrate_grid(label, gr):
        resume = state.get(label)

        def on_chunk(done, totals, resolution):
            nonlocal new_chunks
            new_chunks += 1
            if bar is not None:
                bar.update(1)
            state[label] = (done, totals, resolution)
            if done % cfg["checkpoint_every"] == 0 or done == gr.nchunks(chunk):
                _save_checkpoint(ckpt_path, key, state)
            if stop_after is not None and new_chunks >= stop_after:
                _save_checkpoint(ckpt_path, key, state)
                raise KeyboardInterrupt(f"stopped after {new_chunks} chunks (checkpoint saved)")

        if resume is not None and resume[0] >= gr.nchunks(chunk):
            return BandIntegrals(values=resume[1], resolution=resume[2], npoints=gr.npoints)
        result = integrate_mechanisms(model, mechs, gr, s["mu"], s["T"], executor=executor,
                                       chunk_size=chunk, progress=False, resume=resume,
                                       on_chunk=on_chunk, warn=(label == "fine"))
        state[label] = (gr.nchunks(chunk), result.values, result.resolution)
        _save_checkpoint(ckpt_path, key, state)
        return result

    bar = _overall_bar(progress, model, grids, chunk, state)
    finished = 0                           # chunks of the grids done so far (continuum grids skip empty ones)
    try:
        for label, gr in grids.items():
            results[label] = _integrate_grid(label, gr)
            finished += gr.nchunks(chunk)
            if bar is not None:
                bar.n = finished
                bar.refresh()
    finally:
        if bar is not None:
            bar.close()
    if report is not None:
        from ..symmetry import symmetrize_integrals

        results = {label: symmetrize_integrals(report.group, mechs, r) for label, r in results.items()}
    if thermal:
        from ..thermoelectric import assemble_dataset as assemble_thermal

        ds = assemble_thermal(model, mechs, grid, s["mu"], s["T"], s["tau"], results["fine"], results.get("coarse"),
                              results.get("coarser"))
    else:
        ds = assemble_dataset(model, cfg["order"], mechs, results["fine"], results.get("coarse"), grid,
                              s["mu"], s["T"], s["tau"], s["omega"], coarser=results.get("coarser"))
    if report is not None:
        ds.attrs.update(symmetry=", ".join(report.group.names), symmetry_report=report.summary(),
                        npoints_irreducible=grids["fine"].count())
    return _finish(cfg, ds, outdir)


def _run_adaptive(cfg, model, mechs, executor, progress):
    """``[grid] refine = true``: :func:`qkinetics.conductivity` with ``refine=True`` (docs/adaptive.md). Not
    checkpointed: an interrupted adaptive run starts again (its mesh is built round by round)."""
    from ..conductivity import conductivity

    g, s = cfg["grid"], cfg["sweep"]
    try:
        return conductivity(model, order=cfg["order"], mechanisms=[m.name for m in mechs], gradient=cfg["gradient"],
                            mu=s["mu"], T=s["T"], tau=s["tau"], omega=s["omega"], kgrid=g["n"], kcut=g["kcut"],
                            chunk_size=g["chunk_size"], refine=True, tol=g["tol"], max_points=g["max_points"],
                            symmetry=None if g["symmetry"] is False else g["symmetry"],
                            symmetry_tol=g["symmetry_tol"], executor=executor, progress=progress)
    except ModelError as err:
        raise ConfigError(f"[grid] {err}") from None


def _finish(cfg, ds, outdir):
    """Attach the config to the result and write result.nc, result.csv and the figure (each atomically)."""
    thermal = cfg.get("thermal")
    ds.attrs["config"] = json.dumps(cfg["raw"], default=str)
    ds.attrs["output_directory"] = str(outdir)
    write_netcdf(ds, outdir / "result.nc")                   # atomic
    write_csv(ds, outdir / "result.csv")
    from .. import plot

    if thermal:
        with atomic_path(outdir / "thermoelectric.png") as tmp:
            plot.thermoelectric(ds, thermal["quantity"], thermal["component"], path=tmp)
    else:
        with atomic_path(outdir / "response.png") as tmp:
            plot.response(ds, cfg["component"], path=tmp)
    return ds


GRID_LABELS = ("fine", "coarse", "coarser")


def _overall_bar(progress, model, grids, chunk, state):
    """One progress bar over the chunks of every grid (the fine grid and the convergence grids), so that its
    ETA is the run's; a resumed run starts at the chunks its checkpoint holds."""
    if not progress:
        return None
    from tqdm.auto import tqdm

    total = sum(gr.nchunks(chunk) for gr in grids.values())
    done = sum(min(state[label][0], gr.nchunks(chunk)) for label, gr in grids.items() if label in state)
    points = " + ".join(str(gr.npoints) for gr in grids.values())
    return tqdm(total=total, initial=done, unit="chunk", desc=f"{model.name}: {points} k points")


def _save_checkpoint(path, key, state):
    arrays = {}
    for label, (done, totals, resolution) in state.items():
        arrays[f"{label}__done"] = np.array(done)
        arrays[f"{label}__resolution"] = resolution
        for name, val in totals.items():
            arrays[f"{label}__val__{name}"] = val
    write_checkpoint(path, key, arrays)


def _load_checkpoint(path, key):
    """{grid label: (chunks done, totals, resolution)} of a matching checkpoint, else {}."""
    f = read_checkpoint(path, key)
    if f is None:
        return {}
    labels = [label for label in GRID_LABELS if f"{label}__done" in f]
    required = [f"{label}__{part}" for label in labels for part in ("done", "resolution")]
    if any(name not in f for name in required):        # a checkpoint cut to pieces: the same as damaged
        f = read_checkpoint(path, key, required=required)
        return {}
    state = {}
    for label in labels:
        vals = {k.split("__val__", 1)[1]: f[k] for k in f if k.startswith(f"{label}__val__")}
        state[label] = (int(f[f"{label}__done"]), vals, f[f"{label}__resolution"])
    return state


def write_csv(ds, path):
    """A flat table, written atomically: one row per sweep point and tensor component (channel, mu, T, tau, omega,
    j, E1, ... for conductivities; mu, T, tau, a, b for thermoelectric results), a column per variable (real and
    imaginary parts of complex ones)."""
    import csv

    lead = max((ds[v].dims for v in ds.data_vars), key=len)
    names = [v for v in ds.data_vars if ds[v].dims == lead and not v.startswith("error_")]
    df = ds[names].to_dataframe()
    cols = {}
    for n in names:
        if np.iscomplexobj(df[n].to_numpy()):
            cols[f"{n}_real"] = np.real(df[n].to_numpy())
            cols[f"{n}_imag"] = np.imag(df[n].to_numpy())
        else:
            cols[n] = df[n].to_numpy()
    with atomic_path(path) as tmp, open(tmp, "w", newline="") as fh:
        w = csv.writer(fh)
        w.writerow(list(df.index.names) + list(cols))
        for i, idx in enumerate(df.index):
            w.writerow(list(idx) + [f"{cols[c][i]:.10g}" for c in cols])
