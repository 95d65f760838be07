"""The main job: a TOML-configured, resumable conductivity run (``qkinetics run config.toml``).

Config keys (every key is checked; an error names the key and the allowed values)::

    [model]
    zoo = "massive_dirac"             # a zoo name, or
    # wannier90 = "path/seed_tb.dat"  # a Wannier90 file (relative to the config); lattice = [[...]] for _hr.dat
    params = { mass = 0.1, tilt = 0.05 }

    [response]
    order = 2                         # 1 or 2
    gradient = false                  # true: responses to field gradients, O(q)
    mechanisms = "all"                # or a list of names

    [sweep]                           # each a number, a list, or {start, stop, num}
    mu = { start = -0.5, stop = 0.5, num = 101 }   # eV
    T = 10.0                          # K
    tau = 1e-13                       # s
    omega = 0.0                       # rad/s

    [grid]
    n = 300                           # points per direction
    shift = 0.5                       # Monkhorst-Pack shift (lattice models)
    kcut = 1.0                        # cutoff of continuum models, 1/Angstrom
    chunk_size = 20000                # optional
    convergence = true                # also integrate a grid with n/2 for an error bar

    [output]
    directory = "qkinetics-run"       # relative to the config file
    checkpoint_every = 1              # chunks between checkpoints

Progress is checkpointed to ``<directory>/checkpoint.npz`` after every chunk; rerunning the same
config resumes from it (a changed config starts afresh). Results: ``result.nc`` (netCDF),
``result.csv`` (a flat table) and ``response.png``.
"""

from __future__ import annotations

import hashlib
import json
import tomllib
from pathlib import Path

import numpy as np

from .conductivity import assemble_dataset, write_netcdf
from .integrate import KGrid, integrate_mechanisms
from .integrate.integrator import default_chunk_size
from .models import read_wannier90, zoo
from .models.base import ModelError
from .responses import mechanisms_by_name


class ConfigError(ModelError):
    """A malformed run configuration."""


SECTIONS = {
    "model": {"zoo", "wannier90", "params", "lattice", "positions"},
    "response": {"order", "mechanisms", "gradient"},
    "sweep": {"mu", "T", "tau", "omega"},
    "grid": {"n", "shift", "kcut", "chunk_size", "convergence"},
    "output": {"directory", "checkpoint_every"},
}
DEFAULT_SWEEP = {"mu": 0.0, "T": 10.0, "tau": 1e-13, "omega": 0.0}


def _sweep_values(key, value):
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        return np.array([float(value)])
    if isinstance(value, list) and value and all(isinstance(v, (int, float)) for v in value):
        return np.array(value, dtype=float)
    if isinstance(value, dict) and set(value) == {"start", "stop", "num"}:
        return np.linspace(float(value["start"]), float(value["stop"]), int(value["num"]))
    raise ConfigError(f"[sweep] {key} must be a number, a list of numbers, or {{start, stop, num}}; got {value!r}.")


def load_config(path) -> dict:
    """Read and validate a run config; returns a normalized dict."""
    path = Path(path)
    try:
        raw = tomllib.loads(path.read_text())
    except FileNotFoundError:
        raise ConfigError(f"config file {path} not found.") from None
    except tomllib.TOMLDecodeError as err:
        raise ConfigError(f"{path} is not valid TOML: {err}.") from None
    for section, content in raw.items():
        if section not in SECTIONS:
            raise ConfigError(f"unknown section [{section}] in {path}; allowed: {sorted(SECTIONS)}.")
        if not isinstance(content, dict):
            raise ConfigError(f"[{section}] must be a table.")
        unknown = set(content) - SECTIONS[section]
        if unknown:
            raise ConfigError(f"unknown key(s) {sorted(unknown)} in [{section}]; allowed: {sorted(SECTIONS[section])}.")
    model_cfg = raw.get("model", {})
    if ("zoo" in model_cfg) == ("wannier90" in model_cfg):
        raise ConfigError(f"[model] needs exactly one of 'zoo' (one of {sorted(zoo.MODELS)}) or 'wannier90' (a file).")
    response = raw.get("response", {})
    order = response.get("order", 1)
    if order not in (1, 2):
        raise ConfigError(f"[response] order must be 1 or 2; got {order!r}.")
    gradient = response.get("gradient", False)
    if not isinstance(gradient, bool):
        raise ConfigError(f"[response] gradient must be true or false; got {gradient!r}.")
    mechanisms = response.get("mechanisms", "all")
    if not (isinstance(mechanisms, str) or (isinstance(mechanisms, list) and all(isinstance(m, str) for m in mechanisms))):
        raise ConfigError("[response] mechanisms must be 'all', a name, or a list of names.")
    try:
        mechanisms_by_name(mechanisms, order, gradient)
    except ModelError as err:
        raise ConfigError(f"[response] mechanisms: {err}") from None
    sweep = {k: _sweep_values(k, raw.get("sweep", {}).get(k, v)) for k, v in DEFAULT_SWEEP.items()}
    if np.any(sweep["T"] < 0):
        raise ConfigError(f"[sweep] T must be >= 0 K; got {sweep['T'].tolist()}.")
    if np.any(sweep["tau"] <= 0):
        raise ConfigError(f"[sweep] tau must be > 0 s; got {sweep['tau'].tolist()}.")
    if np.any(sweep["omega"] < 0):
        raise ConfigError(f"[sweep] omega must be >= 0 rad/s; got {sweep['omega'].tolist()}.")
    grid = raw.get("grid", {})
    n = grid.get("n", 200)
    if not (isinstance(n, int) or (isinstance(n, list) and all(isinstance(x, int) for x in n))) or np.any(np.asarray(n) < 2):
        raise ConfigError(f"[grid] n must be an integer >= 2 or a list of them; got {n!r}.")
    kcut = grid.get("kcut")
    if kcut is not None and (isinstance(kcut, bool) or not isinstance(kcut, (int, float)) or kcut <= 0):
        raise ConfigError(f"[grid] kcut must be a positive number (1/Angstrom); got {kcut!r}.")
    shift = grid.get("shift", 0.5)
    if isinstance(shift, bool) or not isinstance(shift, (int, float)):
        raise ConfigError(f"[grid] shift must be a number (units of the grid step); got {shift!r}.")
    chunk_size = grid.get("chunk_size")
    if chunk_size is not None and (not isinstance(chunk_size, int) or chunk_size < 1):
        raise ConfigError(f"[grid] chunk_size must be a positive integer; got {chunk_size!r}.")
    output = raw.get("output", {})
    if not isinstance(output.get("directory", ""), str):
        raise ConfigError(f"[output] directory must be a string (a path relative to the config); got {output['directory']!r}.")
    directory = (path.parent / output.get("directory", "qkinetics-run")).resolve()
    every = output.get("checkpoint_every", 1)
    if not isinstance(every, int) or every < 1:
        raise ConfigError(f"[output] checkpoint_every must be a positive integer; got {every!r}.")
    return {
        "path": path, "model": model_cfg, "order": order, "gradient": gradient, "mechanisms": mechanisms,
        "sweep": sweep,
        "grid": {"n": n, "shift": shift, "kcut": kcut, "chunk_size": chunk_size,
                 "convergence": bool(grid.get("convergence", True))},
        "directory": directory, "checkpoint_every": every, "raw": raw,
    }


def build_model(cfg):
    """The model named by a validated config."""
    m = cfg["model"]
    params = m.get("params", {})
    if not isinstance(params, dict):
        raise ConfigError("[model] params must be a table of name = value.")
    if "zoo" in m:
        try:
            return zoo.get(m["zoo"], **params)
        except ModelError as err:
            raise ConfigError(f"[model] {err}") from None
    if params:
        raise ConfigError("[model] params apply to zoo models only; a Wannier90 model takes lattice and positions.")
    path = cfg["path"].parent / m["wannier90"]
    if not path.is_file():
        raise ConfigError(f"[model] wannier90 file {path} not found (paths are relative to the config file).")
    model = read_wannier90(path, lattice=m.get("lattice"), positions=m.get("positions"))
    model.provenance = {"wannier90": str(path.resolve()), "sha256": _file_hash(path)}
    return model


def _file_hash(path) -> str:
    return hashlib.sha256(Path(path).read_bytes()).hexdigest()


def run(config_path, *, executor=None, progress=True, stop_after=None):
    """Run a config to completion (resuming from a checkpoint if one matches); returns the Dataset.

    ``stop_after`` (chunks) interrupts the run deliberately after that many new chunks, leaving the
    checkpoint behind (used to test resuming).
    """
    cfg = load_config(config_path)
    model = build_model(cfg)
    mechs = mechanisms_by_name(cfg["mechanisms"], cfg["order"], cfg["gradient"])
    s = cfg["sweep"]
    outdir = cfg["directory"]
    outdir.mkdir(parents=True, exist_ok=True)
    g = cfg["grid"]
    grid = KGrid(model, g["n"], shift=g["shift"], kcut=g["kcut"])
    chunk = g["chunk_size"] or default_chunk_size(model, len(s["mu"]), len(s["T"]))
    grids = {"fine": grid}
    if g["convergence"]:
        grids["coarse"] = grid.coarsened(model)
    # the checkpoint belongs to this config and, for Wannier90 input, this file's content
    key = hashlib.sha256(json.dumps([cfg["raw"], getattr(model, "provenance", None)], sort_keys=True,
                                    default=str).encode()).hexdigest()
    ckpt_path = outdir / "checkpoint.npz"
    state = _load_checkpoint(ckpt_path, key)
    results = {}
    new_chunks = 0
    for label, gr in grids.items():
        resume = state.get(label)

        def on_chunk(done, totals, resolution, label=label):
            nonlocal new_chunks
            new_chunks += 1
            state[label] = (done, totals, resolution)
            if done % cfg["checkpoint_every"] == 0 or done == gr.nchunks(chunk):
                _save_checkpoint(ckpt_path, key, state)
            if stop_after is not None and new_chunks >= stop_after:
                _save_checkpoint(ckpt_path, key, state)
                raise KeyboardInterrupt(f"stopped after {new_chunks} chunks (checkpoint saved)")

        if resume is not None and resume[0] >= gr.nchunks(chunk):
            from .integrate.integrator import BandIntegrals

            results[label] = BandIntegrals(values=resume[1], resolution=resume[2], npoints=gr.npoints)
            continue
        results[label] = integrate_mechanisms(model, mechs, gr, s["mu"], s["T"], executor=executor,
                                              chunk_size=chunk, progress=progress, resume=resume,
                                              on_chunk=on_chunk, warn=(label == "fine"))
        state[label] = (gr.nchunks(chunk), results[label].values, results[label].resolution)
        _save_checkpoint(ckpt_path, key, state)
    ds = assemble_dataset(model, cfg["order"], mechs, results["fine"], results.get("coarse"), grid,
                          s["mu"], s["T"], s["tau"], s["omega"])
    ds.attrs["config"] = json.dumps(cfg["raw"], default=str)
    ds.attrs["output_directory"] = str(outdir)
    write_netcdf(ds, outdir / "result.nc")
    write_csv(ds, outdir / "result.csv")
    from .plot import response

    response(ds, path=outdir / "response.png")
    return ds


def _save_checkpoint(path, key, state):
    arrays = {"key": np.array(key)}
    for label, (done, totals, resolution) in state.items():
        arrays[f"{label}__done"] = np.array(done)
        arrays[f"{label}__resolution"] = resolution
        for name, val in totals.items():
            arrays[f"{label}__val__{name}"] = val
    tmp = path.with_suffix(".tmp.npz")
    np.savez(tmp, **arrays)
    tmp.replace(path)                      # atomic: an interruption never leaves a broken checkpoint


def _load_checkpoint(path, key):
    if not path.exists():
        return {}
    with np.load(path) as f:
        if str(f["key"]) != key:
            return {}
        state = {}
        for label in ("fine", "coarse"):
            if f"{label}__done" in f:
                vals = {k.split("__val__", 1)[1]: f[k] for k in f.files if k.startswith(f"{label}__val__")}
                state[label] = (int(f[f"{label}__done"]), vals, f[f"{label}__resolution"])
        return state


def write_csv(ds, path):
    """A flat table: one row per (channel, mu, T, tau, omega, tensor component), a column per mechanism."""
    names = [v for v in ds.data_vars if ds[v].dims[:1] == ("channel",) and not v.startswith("error_")]
    df = ds[names].to_dataframe()
    cols = {}
    for n in names:
        cols[f"{n}_real"] = np.real(df[n].to_numpy())
        cols[f"{n}_imag"] = np.imag(df[n].to_numpy())
    import csv

    with open(path, "w", newline="") as fh:
        w = csv.writer(fh)
        w.writerow(list(df.index.names) + list(cols))
        for i, idx in enumerate(df.index):
            w.writerow(list(idx) + [f"{cols[c][i]:.10g}" for c in cols])
