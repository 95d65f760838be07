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
    T = 300.0                         # K (the default)
    tau = 1e-13                       # s
    omega = 0.0                       # rad/s

    [grid]
    n = 300                           # points per direction
    shift = 0.5                       # Monkhorst-Pack shift (lattice models)
    kcut = 1.0                        # cutoff of continuum models, 1/Angstrom
    chunk_size = 20000                # optional
    convergence = true                # also integrate grids with n/2 and n/4 for an error bar
    max_points = 1e9                  # refuse larger grids (qkinetics.checks.LIMITS["k_points"])
    symmetry = "auto"                 # optional: false (default), "auto", or generators ["4[0,0,1]", "m'[1,0,0]"]:
                                      # integrate the irreducible wedge, symmetrize the tensors (qkinetics.symmetry)
    symmetry_tol = 1e-6               # largest relative violation still counted as a symmetry

    [parallel]                        # optional; the CLI's --executor / --workers / --scheduler override it
    executor = "processes"            # "serial" (default), "processes", "dask" (a local cluster)
    workers = 2                       # local workers (default: the CPUs)
    scheduler = "tcp://10.0.0.1:8786" # a running Dask scheduler (e.g. from dask-jobqueue): overrides executor

    [output]
    directory = "qkinetics-run"       # relative to the config file
    checkpoint_every = 1              # chunks between checkpoints
    component = "yxx"                 # optional: the tensor component drawn in response.png (default the largest)

A thermoelectric run (:func:`qkinetics.thermoelectric`) replaces ``[response]`` by ``[thermal]`` (``[sweep]``
without omega, T > 0; ``[grid]``, ``[output]`` and ``[parallel]`` as above; the figure is
``thermoelectric.png``)::

    [thermal]
    mechanisms = "all"                # "boltzmann" (L0, L1, L2), "berry" (anomalous Hall, Nernst, thermal Hall)
    quantity = "seebeck"              # the variable drawn: seebeck, peltier, kappa, alpha, anomalous_nernst, ...
    component = "xx"                  # current then drive direction

Progress is checkpointed to ``<directory>/checkpoint.npz`` after every chunk; rerunning the same
config resumes from it (a changed config starts afresh; a damaged checkpoint is moved aside and
recomputed, :mod:`qkinetics.run.checkpoint`). Results: ``result.nc`` (netCDF), ``result.csv`` (a flat
table) and ``response.png``. Every file is written atomically (:mod:`qkinetics.run.writer`), and one run
at a time holds the output directory (:mod:`qkinetics.run.lock`).

A kinetic run (the phase-space solver :class:`qkinetics.kinetics.KineticSolver`) replaces
``[response]``, ``[sweep]`` and ``[grid]`` by ``[kinetics]`` and ``[potential]``::

    [model]
    zoo = "rice_mele"                 # a 1D or 2D lattice model; any parameter may be an expression in x:
    params = { staggered = "0.4 * tanh((x - L/2) / 3)" }   # -> model(x) (orders 0 and 1)

    [kinetics]
    order = 1                         # 0, 1 (anomalous velocity in jy, 2D models) or 2 (O(hbar^2) current:
                                      # uniform model and T, periodic x; any relaxation)
    length = 60.0                     # period of the x box, Angstrom
    nx = 64                           # cells in x
    nk = 64                           # cells in k_x over the Brillouin zone
    nk_perp = 32                      # k_y points (2D models only, required there)
    mu = 0.0                          # eV
    T = 300.0                         # K, or an expression in x: T = "600 + 800 * x / L" (> 0; orders 0 and 1)
    tau = 1e-14                       # s, or "inf" (collisionless; not with steady = true)
    boundary = "periodic"             # or "open": equilibrium leads at both ends (orders 0 and 1; V and the
                                      # profiles need not be periodic)
    relaxation = "local"              # "local" (number conserving), "global" or "bare" (docs/kinetics.md)
    initial = "equilibrium"           # f_FD(eps + V(x, 0) - mu), or "uniform": f_FD(eps - mu)
    steady = false                    # true: relax to the stationary state of V(x, 0)
    t_end = 1e-13                     # s (time evolution only)
    n_save = 10                       # saved frames after t = 0 (time evolution only)
    tol = 1e-8                        # steady only: max|d_t f| tau at convergence
    max_steps = 200000                # steady only
    limiter = "mc"                    # MUSCL limiter
    cfl = 0.4
    snapshots = false                 # true: also write f(band, x, k[, k_y]) (every saved frame, or the steady state)
    field = "1e-4"                    # applied electric field E(x, t) along x, V/Angstrom: a number or an expression
                                      # in x, t and L (any mean, a drive the relaxation does not see; all orders)

    [potential]                       # V(x, t) in eV, x in Angstrom, t in s
    kind = "cos"                      # V0 cos(q x - omega t + phase)
    V0 = 0.05
    q = 0.1047                        # 1/Angstrom, a multiple of 2 pi / length (periodic boundary)
    omega = 0.0                       # rad/s
    # kind = "step": V0/2 [1 + tanh(L/(2 pi width) sin(2 pi (x - x0)/L))], up at x0, down at x0 + L/2
    # kind = "expression": expression = "0.1 * sin(2*pi*x/L) * exp(-t/1e-13)"
    ramp = 0.0                        # s: switch on with sin^2(pi t / (2 ramp)) (all kinds)

    [field]
    B = 10.0                          # uniform magnetic field, tesla: B_z of a 2D model (or [0, 0, B_z]); orders 0
                                      # and 1, uniform model (Lorentz force; order 1: 1 + (e/hbar) B Omega, the
                                      # anomalous velocity and the orbital-moment energy)

    [output]
    directory = "kinetics-out"
    checkpoint_every = 1              # saved frames (or steady-state blocks) between checkpoints

Expressions (``[potential] expression``, ``[kinetics] field``, ``T``, string ``[model] params``) are parsed
into a whitelisted syntax tree (numbers, arithmetic, comparisons, the functions of :data:`EXPRESSION_NAMES` such
as ``where(c, a, b)``, ``pi``, ``e``) and evaluated with float64 numpy arithmetic
(:mod:`qkinetics.run.expressions`: at most 2000 characters, 100 levels deep; overflow is an error); their
variables are x (Angstrom), L (the length) and, for V and the field only, t (s). An unknown name is an error
that lists the allowed ones. Profiles are checked on [0, length]: finite, T > 0, and with periodic boundaries
p(0) = p(length) for V and the model parameters (T enters only the
collision term cell by cell, so a temperature jump at the junction of the ring is allowed).

Results: ``result.nc`` (the solver's moments n, jx[, jy], V; ``jx_face``, the scheme's flux through the cell
faces x_face; ``T`` (x) in K; ``param_<name>`` (x) for x-dependent parameters; ``f`` with
snapshots; every variable with its ``units``), ``result.csv`` (a long table of the same, without f) and
``kinetics.png`` (the face flux, not the cell-centre jx). The distribution f, the time and the boundary inflow are checkpointed, so an
interrupted kinetic run resumes; a finished one is read back, not recomputed.
"""

from __future__ import annotations

import numpy as np

from ..integrate.executors import executor_scope
from .config import build_model, field_function, load_config, potential_function
from .errors import ConfigError
from .expressions import EXPRESSION_NAMES, profile_function
from .lock import directory_lock
from .kinetic_job import plot_kinetics, run_kinetics
from .response_job import run_response, write_csv

def run_magnetotransport(cfg, model, *, stop_after=None):
    """A response run with ``[field] B``: :func:`qkinetics.magnetoconductivity` field by field, checkpointed after
    each field value (``checkpoint.npz``: the finished fields' results), written to ``result.nc`` atomically.

    A run interrupted between fields resumes from the checkpoint with the same result; ``stop_after`` (field
    values) interrupts it deliberately (tests)."""
    import hashlib
    import io
    import json

    import xarray as xr

    from ..conductivity import write_netcdf
    from ..responses.magnetotransport import magnetoconductivity
    from .checkpoint import read_checkpoint, write_checkpoint

    sw, grid = cfg["sweep"], cfg["grid"]
    B = np.asarray(cfg["field"]["B"], dtype=float)
    direction = None
    if model.dim == 3:                                    # a 3-vector, or a list of them along one direction
        if B.ndim == 0 or B.shape[-1] != 3:
            raise ConfigError("[field] B of a 3D model is a 3-vector (tesla) or a list of them, e.g. B = [0, 0, 2.0].")
        vectors = np.atleast_2d(B)
        norms = np.linalg.norm(vectors, axis=1)
        direction = vectors[np.argmax(norms)] / norms.max() if norms.max() > 0 else np.array([0.0, 0.0, 1.0])
        if not np.allclose(np.cross(vectors, direction), 0.0, atol=1e-12 * max(norms.max(), 1.0)):
            raise ConfigError("[field] B: the vectors of a sweep must lie along one direction.")
        B = vectors @ direction
    elif B.ndim > 1:
        raise ConfigError("[field] B of a 2D model is a number (B_z, tesla) or a list of them.")
    fields = np.atleast_1d(B)
    key = hashlib.sha256(json.dumps([cfg["raw"], getattr(model, "provenance", None)], sort_keys=True,
                                    default=str).encode()).hexdigest()
    ckpt_path = cfg["directory"] / "checkpoint.npz"
    # each finished field's Dataset as netCDF bytes (no pickles: the checkpoint loads with allow_pickle=False)
    done = {name: arr for name, arr in (read_checkpoint(ckpt_path, key) or {}).items() if name.startswith("B")}
    new = 0
    for i, b in enumerate(fields):
        if f"B{i}" in done:
            continue
        part = magnetoconductivity(model, B=[b], direction=direction, mu=sw["mu"], T=sw["T"], tau=sw["tau"],
                                   kgrid=grid["n"], shift=grid["shift"], kcut=grid["kcut"],
                                   chunk_size=grid["chunk_size"] or 20000)
        done[f"B{i}"] = np.frombuffer(part.to_netcdf(engine="scipy"), dtype=np.uint8)
        write_checkpoint(ckpt_path, key, done)
        new += 1
        if stop_after is not None and new >= stop_after and len(done) < len(fields):
            raise KeyboardInterrupt(f"stopped after {new} field values (checkpoint saved)")
    parts = [xr.load_dataset(io.BytesIO(done[f"B{i}"].tobytes()), engine="scipy") for i in range(len(fields))]
    res = xr.concat(parts, dim="B", data_vars="minimal", coords="minimal", compat="override",
                    combine_attrs="override")
    write_netcdf(res, cfg["directory"] / "result.nc")
    return res


__all__ = ["ConfigError", "EXPRESSION_NAMES", "build_model", "field_function", "load_config", "plot_kinetics",
           "potential_function", "profile_function", "run", "run_magnetotransport", "run_kinetics", "run_response", "write_csv"]


def run(config_path, *, executor=None, workers=None, progress=True, stop_after=None):
    """Run a config to completion (resuming from a checkpoint if one matches); returns the Dataset.

    ``executor`` (a name, ``"dask://HOST:PORT"`` or an executor object) and ``workers`` override the config's
    ``[parallel]`` section; the result does not depend on them (bit-identical), and a run interrupted on one
    executor resumes on another. ``stop_after`` (chunks) interrupts the run deliberately after that many new
    chunks, leaving the checkpoint behind (used to test resuming); for a kinetic run it counts saved frames
    (time evolution) or steady-state blocks. Kinetic runs are serial (vectorized) and ignore the executor.
    """
    cfg = load_config(config_path)
    model = build_model(cfg)
    cfg["directory"].mkdir(parents=True, exist_ok=True)
    with directory_lock(cfg["directory"], cfg["path"]):      # one run per output directory
        if cfg["kind"] == "kinetics":
            return run_kinetics(cfg, model, progress=progress, stop_after=stop_after)
        if cfg.get("field") is not None:
            return run_magnetotransport(cfg, model, stop_after=stop_after)
        par = cfg["parallel"]
        if executor is None:
            executor = f"dask://{par['scheduler']}" if par["scheduler"] else par["executor"]
        with executor_scope(executor, workers or par["workers"]) as ex:
            return run_response(cfg, model, executor=ex, progress=progress, stop_after=stop_after)
