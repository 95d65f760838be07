"""The run configuration: the schema of every TOML section and its validation (:func:`load_config`), and the
model, potential, field and profiles it describes."""

from __future__ import annotations

import hashlib
import math
import tomllib
from pathlib import Path

import numpy as np

from .. import checks
from ..conductivity import result_bytes
from ..models import read_wannier90, zoo
from ..models.base import ModelError
from ..responses import mechanisms_by_name
from .errors import ConfigError
from .expressions import EXPRESSION_NAMES, compile_expression, evaluate, evaluate_like_x, profile_function

SECTIONS = {
    "model": {"zoo", "wannier90", "params", "lattice", "positions"},
    "response": {"order", "mechanisms", "gradient"},
    "thermal": {"mechanisms", "quantity", "component"},
    "parallel": {"executor", "workers", "scheduler"},
    "sweep": {"mu", "T", "tau", "omega"},
    "grid": {"n", "shift", "kcut", "chunk_size", "convergence", "max_points", "symmetry", "symmetry_tol", "refine",
             "tol"},
    "output": {"directory", "checkpoint_every", "component"},
    "kinetics": {"order", "length", "nx", "nk", "nk_perp", "mu", "T", "tau", "relaxation", "initial", "steady",
                 "t_end", "n_save", "tol", "max_steps", "limiter", "cfl", "boundary", "snapshots", "field",
                 "dispersion"},
    "potential": {"kind", "V0", "q", "omega", "phase", "x0", "width", "expression", "ramp"},
    "field": {"B"},
}
#: keys of [potential] per kind (``ramp`` and ``kind`` apply to all)
POTENTIAL_KINDS = {"none": set(), "cos": {"V0", "q", "omega", "phase"}, "step": {"V0", "x0", "width"},
                   "expression": {"expression"}}
DEFAULT_SWEEP = {"mu": 0.0, "T": 300.0, "tau": 1e-13, "omega": 0.0}


def _sweep_values(key, value):
    """A [sweep] entry (a number, a list of numbers, or {start, stop, num}) as a float array; the number of values
    is checked against the memory limit before the array is built."""
    where = f"[sweep] {key}"
    if isinstance(value, dict):
        if set(value) != {"start", "stop", "num"}:
            raise ConfigError(f"{where} as a table must have exactly the keys start, stop and num; got "
                              f"{sorted(value)}.")
        ends = [_number("sweep", f"{key} {end}", value[end]) for end in ("start", "stop")]
        num = value["num"]
        if isinstance(num, bool) or not isinstance(num, int) or num < 1:
            raise ConfigError(f"{where} num must be an integer >= 1 (the number of values); got {num!r}.")
        try:
            checks.memory(f"{where} with num = {num}", 8.0 * num, "use a smaller num")
        except ModelError as err:
            raise ConfigError(str(err)) from None
        return np.linspace(*ends, num)
    if isinstance(value, list) and not value:
        raise ConfigError(f"{where} must have at least one value; got [].")
    if isinstance(value, bool) or not isinstance(value, (int, float, list)) or (
            isinstance(value, list) and not all(isinstance(v, (int, float)) and not isinstance(v, bool) for v in value)):
        raise ConfigError(f"{where} must be a number, a list of numbers, or {{start, stop, num}}; got {value!r}.")
    return np.atleast_1d(np.array(value, dtype=float))


def load_config(path) -> dict:
    """Read and validate a run config; returns a normalized dict."""
    path = Path(path)
    try:
        raw = tomllib.loads(path.read_text())
    except RecursionError:
        raise ConfigError(f"{path}: arrays or tables nested too deeply.") from None
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
    if "kinetics" in raw:
        return _load_kinetics(path, raw)
    if "potential" in raw:
        raise ConfigError("[potential] belongs to a kinetic run: add a [kinetics] section (or remove [potential]).")
    params = model_cfg.get("params", {})
    expressions = sorted(name for name, value in params.items() if isinstance(value, str)) \
        if isinstance(params, dict) else []
    if expressions:
        raise ConfigError(f"[model] params {expressions} are strings (expressions in x): x-dependent parameters apply "
                          "to kinetic runs ([kinetics]) only; give numbers here.")
    if "thermal" in raw and "response" in raw:
        raise ConfigError("[thermal] and [response] are two kinds of run: keep one of them.")
    thermal = _load_thermal(raw) if "thermal" in raw else None
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
    if thermal is None:
        try:
            mechanisms_by_name(mechanisms, order, gradient)
        except ModelError as err:
            raise ConfigError(f"[response] mechanisms: {err}") from None
    elif "omega" in raw.get("sweep", {}):
        raise ConfigError("[sweep] omega: thermoelectric runs ([thermal]) are dc only; remove omega.")
    sweep = {k: _sweep_values(k, raw.get("sweep", {}).get(k, v)) for k, v in DEFAULT_SWEEP.items()}
    for key, unit, bound in (("mu", "eV", {}), ("T", "K", {"minimum": 0.0}), ("tau", "s", {"positive": True}),
                             ("omega", "rad/s", {"minimum": 0.0})):
        try:
            checks.values(key, sweep[key], unit, **bound)
        except ModelError as err:
            raise ConfigError(f"[sweep] {err}") from None
    if thermal is not None and np.any(sweep["T"] <= 0):
        raise ConfigError(f"[sweep] T must be > 0 K for thermoelectric coefficients; got {sweep['T'].tolist()}.")
    nmech = len(thermal["mechanisms"]) if thermal is not None else len(mechanisms_by_name(mechanisms, order, gradient))
    try:                                   # a lower bound (1D); run() checks again with the model's dimension
        checks.memory(f"[sweep] ({' x '.join(f'{len(v)} {k}' for k, v in sweep.items())} values)",
                      result_bytes(1, order, gradient, nmech, *(len(sweep[k]) for k in DEFAULT_SWEEP)),
                      "sweep fewer values, or split the sweep over several configs")
    except ModelError as err:
        raise ConfigError(str(err)) from None
    grid = raw.get("grid", {})
    n = grid.get("n", 200)
    if isinstance(n, bool) or not (isinstance(n, int) or (isinstance(n, list) and n and len(n) <= 3 and all(
            isinstance(x, int) and not isinstance(x, bool) for x in n))) or np.any(np.asarray(n) < 2):
        raise ConfigError(f"[grid] n must be an integer >= 2 or a list of them (one per direction); got {n!r}.")
    kcut = grid.get("kcut")
    if kcut is not None:
        kcut = _number("grid", "kcut", kcut, positive=True, unit="1/Angstrom")
    shift = _number("grid", "shift", grid.get("shift", 0.5), unit="units of the grid step")
    chunk_size = grid.get("chunk_size")
    if chunk_size is not None and (isinstance(chunk_size, bool) or not isinstance(chunk_size, int) or chunk_size < 1):
        raise ConfigError(f"[grid] chunk_size must be a positive integer; got {chunk_size!r}.")
    convergence = grid.get("convergence", True)
    if not isinstance(convergence, bool):
        raise ConfigError(f"[grid] convergence must be true or false; got {convergence!r}.")
    max_points = grid.get("max_points", checks.LIMITS["k_points"])
    if isinstance(max_points, bool) or not isinstance(max_points, (int, float)) or not max_points >= 1 \
            or not math.isfinite(max_points):
        raise ConfigError(f"[grid] max_points must be a positive number (the largest k grid to run); got "
                          f"{max_points!r}.")
    symmetry = grid.get("symmetry", False)
    if not (symmetry is False or symmetry == "auto" or (isinstance(symmetry, list) and symmetry
                                                        and all(isinstance(g, str) for g in symmetry))):
        raise ConfigError(f"[grid] symmetry must be false (the whole zone), \"auto\" (the magnetic point group the "
                          f"Hamiltonian obeys) or a list of generators such as [\"4[0,0,1]\", \"m'[1,0,0]\"]; "
                          f"got {symmetry!r}.")
    symmetry_tol = _number("grid", "symmetry_tol", grid.get("symmetry_tol", 1e-6), positive=True,
                           unit="relative violation")
    refine, tol = _load_refine(grid, thermal, raw)
    if refine:
        max_points = grid.get("max_points", REFINE_MAX_POINTS)
        if isinstance(max_points, float) and max_points.is_integer():
            max_points = int(max_points)
        max_points = _integer("grid", "max_points (with refine = true: the budget of k points)", max_points, 1)
    parallel = _load_parallel(raw)
    directory, every = _output(path, raw)
    component, rank = raw.get("output", {}).get("component"), order + 1 + gradient
    if thermal is not None:
        component, rank = None, 2
    if component is not None and not (isinstance(component, str) and len(component) == rank
                                      and set(component) <= set("xyz")):
        raise ConfigError(f"[output] component must be {rank} letters x, y, z (tensor indices j, E1"
                          f"{', E2' if order == 2 else ''}{', q' if gradient else ''}; e.g. "
                          f"{'yxx' if order == 2 else 'xy'!r}); got {component!r}.")
    field = _load_magnetic_field(raw, order, gradient, thermal) if "field" in raw else None
    return {
        "field": field,
        "component": component, "thermal": thermal, "parallel": parallel,
        "kind": "response" if thermal is None else "thermal", "path": path, "model": model_cfg, "order": order,
        "gradient": gradient, "mechanisms": mechanisms,
        "sweep": sweep,
        "grid": {"n": n, "shift": shift, "kcut": kcut, "chunk_size": chunk_size, "convergence": convergence,
                 "max_points": max_points, "symmetry": symmetry, "symmetry_tol": symmetry_tol, "refine": refine,
                 "tol": tol},
        "directory": directory, "checkpoint_every": every, "raw": raw,
    }


#: [grid] max_points of an adaptive run when not given: the budget of ``conductivity(refine=True)``
REFINE_MAX_POINTS = 2_000_000


def _load_refine(grid, thermal, raw) -> tuple:
    """``[grid] refine`` (adaptive integration, docs/adaptive.md) and its relative ``tol``: (refine, tol).

    The adaptive integrator serves conductivities only, cuts ``n`` into base cells of 3 points per direction
    (no ``shift``) and carries its own error estimate (no ``convergence`` grids)."""
    refine = grid.get("refine", False)
    if not isinstance(refine, bool):
        raise ConfigError(f"[grid] refine must be true (adaptive integration, docs/adaptive.md) or false (a uniform "
                          f"grid); got {refine!r}.")
    if not refine:
        if "tol" in grid:
            raise ConfigError("[grid] tol is the tolerance of adaptive integration: add refine = true, or remove tol.")
        return False, None
    tol = grid.get("tol", 1e-3)
    if isinstance(tol, bool) or not isinstance(tol, (int, float)) or not 0 < tol <= 1:
        raise ConfigError(f"[grid] tol must be a number in (0, 1] (the relative tolerance of refine = true, e.g. "
                          f"1e-3); got {tol!r}.")
    if thermal is not None:
        raise ConfigError("[grid] refine = true: adaptive integration serves conductivities ([response]) only; "
                          "thermoelectric runs ([thermal]) use a uniform grid: remove refine.")
    if "field" in raw:
        raise ConfigError("[grid] refine = true: magnetotransport runs ([field] B) use a uniform grid: remove refine.")
    for key, why in (("shift", "the adaptive base cells are centred in their cells (shift 1/2)"),
                     ("convergence", "the adaptive run carries its own error estimate")):
        if key in grid:
            raise ConfigError(f"[grid] {key} does not apply with refine = true ({why}): remove {key}.")
    return True, float(tol)


def _load_magnetic_field(raw, order, gradient, thermal) -> dict:
    """``[field] B`` of a response run: tesla, a number (B_z of a 2D model) or a 3-vector (3D), or a list of either
    (a sweep along one direction). The run becomes :func:`qkinetics.magnetoconductivity` (linear, dc)."""
    if thermal is not None or order != 1 or gradient:
        raise ConfigError("[field] B applies to linear response runs ([response] order = 1, no gradient, no [thermal]).")
    if "omega" in raw.get("sweep", {}):
        raise ConfigError("[field] B: magnetotransport runs are dc; remove [sweep] omega.")
    B = _magnetic_field_values(raw)
    if B is None:
        raise ConfigError("[field] needs B (tesla): a number, a 3-vector or a list of them.")
    return {"B": B.tolist()}


def _magnetic_field_values(raw) -> np.ndarray | None:
    """``[field] B`` as a finite float array (tesla): () a number, (3,) a vector or (n,) numbers, (n, 3) vectors; None
    without it. The one parser of the key; response and kinetic runs check the shapes they accept."""
    value = raw.get("field", {}).get("B")
    if value is None:
        return None
    try:
        arr = np.asarray(value, dtype=float)
    except (TypeError, ValueError):
        arr = None
    if arr is None or isinstance(value, bool) or arr.ndim > 2 or arr.size == 0 or not np.all(np.isfinite(arr)) \
            or (arr.ndim == 2 and arr.shape[1] != 3):
        raise ConfigError(f"[field] B must be a number, a 3-vector or a list of them (tesla); got {value!r}.")
    return arr


def _load_thermal(raw):
    """[thermal]: mechanisms ("all", "boltzmann", "berry" or a list), the figure's quantity and component."""
    from ..thermoelectric import thermal_mechanisms

    th = raw["thermal"]
    mechanisms = th.get("mechanisms", "all")
    try:
        mechs = thermal_mechanisms(mechanisms)
    except (ModelError, KeyError, TypeError) as err:
        raise ConfigError(f"[thermal] mechanisms must be \"all\", \"boltzmann\", \"berry\" or a list of these; got "
                          f"{mechanisms!r} ({err}).") from None
    quantity = th.get("quantity", "seebeck")
    if not isinstance(quantity, str):
        raise ConfigError(f"[thermal] quantity (the variable drawn) must be a name such as \"seebeck\"; got {quantity!r}.")
    component = th.get("component", "xx")
    if not (isinstance(component, str) and len(component) == 2 and set(component) <= set("xyz")):
        raise ConfigError(f"[thermal] component must be two letters x, y, z (current, drive), e.g. \"xy\"; got "
                          f"{component!r}.")
    return {"mechanisms": mechs, "names": mechanisms, "quantity": quantity, "component": component}


def _load_parallel(raw):
    """[parallel]: where the k chunks run. Not part of the checkpoint key: a run resumes on another executor."""
    from ..integrate.executors import EXECUTOR_NAMES

    par = raw.get("parallel", {})
    executor = par.get("executor", "serial")
    if executor not in EXECUTOR_NAMES:
        raise ConfigError(f"[parallel] executor must be one of {list(EXECUTOR_NAMES)}; got {executor!r} (a running "
                          "Dask cluster: scheduler = \"HOST:PORT\").")
    workers = par.get("workers")
    if workers is not None and (isinstance(workers, bool) or not isinstance(workers, int) or workers < 1):
        raise ConfigError(f"[parallel] workers must be a positive integer; got {workers!r}.")
    scheduler = par.get("scheduler")
    if scheduler is not None and not (isinstance(scheduler, str) and scheduler.strip()):
        raise ConfigError(f"[parallel] scheduler must be an address \"HOST:PORT\"; got {scheduler!r}.")
    return {"executor": executor, "workers": workers, "scheduler": scheduler}


def _output(path, raw):
    output = raw.get("output", {})
    if not isinstance(output.get("directory", ""), str):
        raise ConfigError(f"[output] directory must be a string (a path relative to the config); got {output['directory']!r}.")
    directory = (path.parent / output.get("directory", "qkinetics-run")).resolve()
    every = output.get("checkpoint_every", 1)
    if isinstance(every, bool) or not isinstance(every, int) or every < 1:
        raise ConfigError(f"[output] checkpoint_every must be a positive integer; got {every!r}.")
    return directory, every


def _number(section, key, value, *, positive=False, nonnegative=False, allow_inf=False, unit=""):
    """A float from a TOML value, or a ConfigError naming the key and what is allowed."""
    what = "a positive number" if positive else "a number >= 0" if nonnegative else "a number"
    if allow_inf:
        what += ' or "inf"'
    if allow_inf and isinstance(value, str) and value.strip().lower() in ("inf", "infinity"):
        return math.inf
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value) \
            or (positive and value <= 0) or (nonnegative and value < 0):
        finite = " (finite)" if isinstance(value, float) and not math.isfinite(value) else ""
        raise ConfigError(f"[{section}] {key} must be {what}{f' ({unit})' if unit else ''}{finite}; got {value!r}.")
    return float(value)


def _integer(section, key, value, minimum):
    if isinstance(value, bool) or not isinstance(value, int) or value < minimum:
        raise ConfigError(f"[{section}] {key} must be an integer >= {minimum}; got {value!r}.")
    return value


def load_magnetic_field(raw) -> np.ndarray | None:
    """[field] B of a kinetic run: one uniform field in tesla, a number (B_z, the field perpendicular to a 2D model)
    or a list [B_x, B_y, B_z]; returns the (3,) vector, or None without [field] B."""
    B = _magnetic_field_values(raw)
    if B is None or B.shape == (3,):
        return B
    if B.ndim == 0:
        return np.array([0.0, 0.0, float(B)])
    raise ConfigError(f"[field] B of a kinetic run is one field: a number (B_z, tesla) or a list [B_x, B_y, B_z]; "
                      f"got {raw['field']['B']!r} (a list of fields sweeps B in response runs only).")


def _load_kinetics(path, raw) -> dict:
    """Validate a kinetic run: [model], [kinetics], [potential], [output]."""
    from ..kinetics import LIMITERS

    clash = sorted({"response", "sweep", "grid"} & set(raw))
    if clash:
        raise ConfigError(f"[kinetics] and [{'], ['.join(clash)}] are mutually exclusive: a config is either a "
                          "kinetic run ([model], [kinetics], [potential], [output]) or a response run.")
    kin = raw["kinetics"]
    sec = "kinetics"
    out = {}
    order = kin.get("order", 0)
    if isinstance(order, bool) or order not in (0, 1, 2):
        raise ConfigError(f"[kinetics] order must be 0, 1 or 2; got {order!r}.")
    out["order"] = int(order)
    if "length" not in kin:
        raise ConfigError("[kinetics] length is required: the period of the x box, a positive number (Angstrom).")
    out["length"] = _number(sec, "length", kin["length"], positive=True, unit="Angstrom")
    out["nx"] = _integer(sec, "nx", kin.get("nx", 64), 4)
    out["nk"] = _integer(sec, "nk", kin.get("nk", 64), 4)
    out["nk_perp"] = None if kin.get("nk_perp") is None else _integer(sec, "nk_perp", kin["nk_perp"], 1)
    out["mu"] = _number(sec, "mu", kin.get("mu", 0.0), unit="eV")
    boundary = kin.get("boundary", "periodic")
    if boundary not in ("periodic", "open"):
        raise ConfigError(f"[kinetics] boundary must be 'periodic' or 'open'; got {boundary!r}.")
    out["boundary"] = boundary
    if isinstance(kin.get("T"), str):
        out["T"] = _load_profile(sec, "T", kin["T"], out["length"], out["nx"], positive=True, unit="K")
    else:
        out["T"] = _number(sec, "T", kin.get("T", 300.0), nonnegative=True,
                           unit='K; or a string expression in x, e.g. "600 + 800*x/L"')
    out["tau"] = _number(sec, "tau", kin.get("tau", 1e-14), positive=True, allow_inf=True, unit="s")
    for key, allowed, default in (("relaxation", ("local", "global", "bare"), "local"),
                                  ("initial", ("equilibrium", "uniform"), "equilibrium"),
                                  ("limiter", tuple(sorted(LIMITERS)), "mc")):
        val = kin.get(key, default)
        if val not in allowed:
            raise ConfigError(f"[kinetics] {key} must be one of {list(allowed)}; got {val!r}.")
        out[key] = val
    if isinstance(out["T"], float) and out["T"] <= 0:
        if math.isfinite(out["tau"]):
            raise ConfigError(f"[kinetics] T must be > 0 K with a finite tau (relaxation to a smooth Fermi function); "
                              f"got {out['T']!r}.")
        if boundary == "open":
            raise ConfigError(f"[kinetics] T must be > 0 K with boundary = 'open' (the leads are Fermi seas); "
                              f"got {out['T']!r}.")
    snapshots = kin.get("snapshots", False)
    if not isinstance(snapshots, bool):
        raise ConfigError(f"[kinetics] snapshots must be true or false; got {snapshots!r}.")
    out["snapshots"] = snapshots
    out["cfl"] = _number(sec, "cfl", kin.get("cfl", 0.4), positive=True)
    if out["cfl"] > 1:
        raise ConfigError(f"[kinetics] cfl must be in (0, 1] (0.4 is safe for MUSCL + SSP-RK2); got {out['cfl']!r}.")
    steady = kin.get("steady", False)
    if not isinstance(steady, bool):
        raise ConfigError(f"[kinetics] steady must be true or false; got {steady!r}.")
    out["steady"] = steady
    if steady:
        for key in ("t_end", "n_save"):
            if key in kin:
                raise ConfigError(f"[kinetics] {key} applies to time evolution (steady = false); a steady run relaxes "
                                  "to the stationary state of V(x, 0) (use tol and max_steps).")
        if not math.isfinite(out["tau"]):
            raise ConfigError('[kinetics] tau must be finite with steady = true (the collisionless flow has no '
                              'unique steady state); got "inf".')
        out["tol"] = _number(sec, "tol", kin.get("tol", 1e-8), positive=True)
        out["max_steps"] = _integer(sec, "max_steps", kin.get("max_steps", 200000), 50)
    else:
        for key in ("tol", "max_steps"):
            if key in kin:
                raise ConfigError(f"[kinetics] {key} applies to steady = true only.")
        if "t_end" not in kin:
            raise ConfigError("[kinetics] t_end is required for time evolution (steady = false): a positive number (s).")
        out["t_end"] = _number(sec, "t_end", kin["t_end"], positive=True, unit="s")
        out["n_save"] = _integer(sec, "n_save", kin.get("n_save", 10), 1)
    out["field"] = _load_field(kin["field"], out["length"], out["order"]) if "field" in kin else None
    B = load_magnetic_field(raw)
    if B is not None and np.any(B[:2] != 0):
        raise ConfigError(f"[field] B = {B.tolist()} T: the kinetic solver takes a field perpendicular to its 2D model, "
                          "B_z (give a number, or [0, 0, B_z]).")
    out["B"] = None if B is None or B[2] == 0 else float(B[2])
    if out["B"] is not None and out["order"] == 2:
        raise ConfigError("[field] B: kinetic runs in a magnetic field are available at [kinetics] order = 0 or 1.")
    pot = _load_potential(raw.get("potential", {}), out["length"], periodic=boundary == "periodic")
    if steady and pot["ramp"] > 0:
        raise ConfigError("[potential] ramp applies to time evolution only: with steady = true the stationary state "
                          "of V(x, 0) is computed, and a ramp makes V(x, 0) = 0 (remove ramp).")
    profiles = _load_model_profiles(raw["model"], out["length"], out["nx"], periodic=boundary == "periodic")
    if out["order"] == 2:
        extra = [what for what, on in (("T given as an expression in x", isinstance(out["T"], dict)),
                                       (f"[model] params {sorted(profiles)} given as expressions in x", profiles),
                                       ("boundary = 'open'", boundary == "open")) if on]
        if extra:
            raise ConfigError(f"[kinetics] order = 2 is built for a uniform model, uniform T and a periodic box; this "
                              f"config has {' and '.join(extra)}: use order = 0 or 1 (or drop them).")
    out["dispersion"] = kin.get("dispersion", "explicit")
    if out["dispersion"] not in ("explicit", "imex"):
        raise ConfigError(f"[kinetics] dispersion must be 'explicit' or 'imex' (order 2: the dispersive Moyal terms "
                          f"stepped with the rest, or implicitly so that the step is the advective CFL step); got "
                          f"{out['dispersion']!r}.")
    if out["dispersion"] == "imex" and out["order"] != 2:
        raise ConfigError(f"[kinetics] dispersion = 'imex' applies to order = 2 (the dispersive Moyal terms); this "
                          f"config has order = {out['order']}: remove dispersion.")
    directory, every = _output(path, raw)
    if "component" in raw.get("output", {}):
        raise ConfigError("[output] component (the figure's tensor component) applies to response runs only.")
    return {"kind": "kinetics", "path": path, "model": raw["model"], "model_profiles": profiles, "kinetics": out,
            "potential": pot, "directory": directory, "checkpoint_every": every, "raw": raw}


def _load_model_profiles(model_cfg, length, nx, *, periodic):
    """The [model] params given as string expressions in x: {name: {"expression", "code"}} (zoo models only)."""
    params = model_cfg.get("params", {})
    if not isinstance(params, dict):
        raise ConfigError("[model] params must be a table of name = value.")
    names = [name for name, value in params.items() if isinstance(value, str)]
    if not names:
        return {}
    if "zoo" not in model_cfg:
        raise ConfigError("[model] params apply to zoo models only; a Wannier90 model takes lattice and positions.")
    try:
        valid = list(zoo.parameters(model_cfg["zoo"]))
    except ModelError as err:
        raise ConfigError(f"[model] {err}") from None
    unknown = [name for name in names if name not in valid]
    if unknown:
        raise ConfigError(f"[model] model {model_cfg['zoo']!r} has no parameter(s) {unknown}; valid parameters: "
                          f"{', '.join(valid)}.")
    return {name: _load_profile("model", f"params.{name}", params[name], length, nx, periodic=periodic)
            for name in names}


def _load_potential(pot, length, periodic=True) -> dict:
    sec = "potential"
    kind = pot.get("kind", "none" if not pot else None)
    if kind not in POTENTIAL_KINDS:
        raise ConfigError(f"[potential] kind must be one of {sorted(POTENTIAL_KINDS)}; got {kind!r}.")
    extra = set(pot) - POTENTIAL_KINDS[kind] - {"kind", "ramp"}
    if extra:
        raise ConfigError(f"[potential] key(s) {sorted(extra)} do not apply to kind = {kind!r}; allowed: "
                          f"{sorted(POTENTIAL_KINDS[kind] | {'kind', 'ramp'})}.")
    out = {"kind": kind, "ramp": _number(sec, "ramp", pot.get("ramp", 0.0), nonnegative=True, unit="s")}
    if kind == "cos":
        out["V0"] = _number(sec, "V0", pot.get("V0", 0.0), unit="eV")
        if "q" not in pot:
            raise ConfigError("[potential] q is required for kind = 'cos': a multiple of 2 pi / length (1/Angstrom).")
        q = _number(sec, "q", pot["q"], unit="1/Angstrom")
        m = q * length / (2 * np.pi)
        if periodic and abs(m - round(m)) > 1e-6 * max(1.0, abs(m)):
            raise ConfigError(f"[potential] q must be a multiple of 2 pi / length = {2 * np.pi / length:.10g} 1/Angstrom "
                              f"(the x box is periodic; boundary = 'open' lifts this); got {q!r} = {m:.6g} x 2 pi / "
                              "length.")
        out["q"] = 2 * np.pi * round(m) / length if periodic else q
        out["omega"] = _number(sec, "omega", pot.get("omega", 0.0), unit="rad/s")
        out["phase"] = _number(sec, "phase", pot.get("phase", 0.0), unit="rad")
    elif kind == "step":
        out["V0"] = _number(sec, "V0", pot.get("V0", 0.0), unit="eV")
        out["x0"] = _number(sec, "x0", pot.get("x0", 0.25 * length), unit="Angstrom")
        out["width"] = _number(sec, "width", pot.get("width", 0.05 * length), positive=True, unit="Angstrom")
        if out["width"] > 0.25 * length:
            raise ConfigError(f"[potential] width must be <= length / 4 = {0.25 * length:g} Angstrom (two steps share "
                              f"the periodic box); got {out['width']!r}.")
    elif kind == "expression":
        expr = pot.get("expression")
        if not isinstance(expr, str) or not expr.strip():
            raise ConfigError("[potential] expression must be a string in x (Angstrom), t (s) and L (the length), "
                              f"e.g. \"0.1 * cos(2*pi*x/L)\"; allowed functions: {sorted(EXPRESSION_NAMES)}.")
        out["code"] = compile_expression(expr)
        out["expression"] = expr
    V = potential_function(out, length)
    xs = np.linspace(0.0, length, 257)
    for tt in (0.0, 1e-15, 1e-13) if V is not None else ():
        try:
            vals = np.broadcast_to(np.asarray(V(xs, tt), dtype=float), xs.shape)
        except ConfigError:
            raise
        except Exception as err:     # noqa: BLE001 - any evaluation failure is a config error
            raise ConfigError(f"[potential] expression cannot be evaluated at t = {tt:g} s: {err}.") from None
        if not np.all(np.isfinite(vals)):
            raise ConfigError(f"[potential] V(x, t = {tt:g} s) is not finite everywhere in [0, length].")
        if periodic and _not_periodic(vals):
            raise ConfigError(f"[potential] V(x, t) must be periodic in x with period [kinetics] length = {length:g} "
                              f"Angstrom (or use boundary = 'open'); V(0) = {vals[0]:.6g} eV, V(length) = "
                              f"{vals[-1]:.6g} eV at t = {tt:g} s.")
    return out


def _load_field(value, length, order) -> dict:
    """``[kinetics] field``: E(x, t) in V/Angstrom, a number or a string expression in x, t and L, checked finite
    on [0, length] at a few times (no periodicity: a uniform field on a ring is the point). Returns
    ``{"expression": str, "code": code}`` (:func:`field_function` makes E(x, t) of it)."""
    where = "[kinetics] field"
    if isinstance(value, bool) or not isinstance(value, (int, float, str)) or (isinstance(value, str)
                                                                              and not value.strip()):
        raise ConfigError(f"{where} must be a number or a string expression in x (Angstrom), t (s) and L "
                          f"(V/Angstrom, e.g. \"1e-4 * cos(2*pi*x/L)\"); got {value!r}.")
    expr = repr(float(value)) if not isinstance(value, str) else value
    code = compile_expression(expr, where)
    E = field_function({"code": code}, length)
    xs = np.linspace(0.0, length, 257)
    for tt in (0.0, 1e-15, 1e-13):
        try:
            with np.errstate(all="ignore"):
                vals = E(xs, tt)
        except ConfigError:
            raise
        except Exception as err:     # noqa: BLE001 - any evaluation failure is a config error
            raise ConfigError(f"{where} = {value!r} cannot be evaluated at t = {tt:g} s: {err}.") from None
        if not np.all(np.isfinite(vals)):
            raise ConfigError(f"{where} = {value!r} is not finite everywhere in [0, length] at t = {tt:g} s.")
    return {"expression": expr, "code": code}


def field_function(field, length):
    """E(x, t) (V/Angstrom; x in Angstrom, t in s) from a validated ``[kinetics] field``, or None."""
    if field is None:
        return None

    def E(x, t):
        return evaluate_like_x(field["code"], x, t=t, L=length)
    return E


def _not_periodic(vals):
    """Whether samples of a profile on [0, length] differ at the two ends by more than round-off."""
    return abs(vals[0] - vals[-1]) > 1e-8 * max(1.0, np.abs(vals).max())


def _load_profile(section, key, value, length, nx, *, positive=False, periodic=False, unit=""):
    """A profile p(x) given as a string expression in x (Angstrom) and L (the length), checked on [0, length]
    and on the cell faces and centres (where the solver evaluates it): finite, ``positive`` (> 0 everywhere), ``periodic`` (p(0) = p(length)).

    Returns ``{"expression": value, "code": code}`` (:func:`profile_function` makes p(x) of it)."""
    where = f"[{section}] {key}"
    if not value.strip():
        raise ConfigError(f"{where} must be a number or an expression in x (Angstrom) and L (the length); got ''.")
    code = compile_expression(value, where, ("x", "L"))
    xs = np.union1d(np.linspace(0.0, length, 257), np.arange(2 * nx + 1) * length / (2 * nx))  # + faces, centres
    try:
        with np.errstate(all="ignore"):          # overflow or 0/0 shows up as a non-finite value below
            vals = profile_function(code, length)(xs)
    except ConfigError:
        raise
    except Exception as err:         # noqa: BLE001 - any evaluation failure is a config error
        raise ConfigError(f"{where} = {value!r} cannot be evaluated on [0, length]: {err}.") from None
    if not np.all(np.isfinite(vals)):
        i = int(np.argmin(np.isfinite(vals)))
        raise ConfigError(f"{where} = {value!r} is not finite at x = {xs[i]:.6g} Angstrom.")
    if positive and np.any(vals <= 0):
        i = int(np.argmax(vals <= 0))
        raise ConfigError(f"{where} = {value!r} must be > 0{f' {unit}' if unit else ''} everywhere in [0, length]; "
                          f"it is {vals[i]:.6g} at x = {xs[i]:.6g} Angstrom.")
    if periodic and _not_periodic(vals):
        raise ConfigError(f"{where} = {value!r} must be periodic in x with period [kinetics] length = {length:g} "
                          f"Angstrom (boundary = 'periodic'); it is {vals[0]:.6g} at x = 0 and {vals[-1]:.6g} at "
                          "x = length. Use boundary = 'open', or a periodic profile (e.g. a pair of walls, "
                          "tanh((x - L/4)/w) * tanh((3*L/4 - x)/w)).")
    return {"expression": value, "code": code}


def potential_function(pot, length):
    """V(x, t) (eV; x in Angstrom, t in s) from a validated [potential] table, or None for kind = 'none'."""
    kind, ramp = pot["kind"], pot["ramp"]
    if kind == "none":
        return None
    if kind == "cos":
        def V(x, t):
            return pot["V0"] * np.cos(pot["q"] * x - pot["omega"] * t + pot["phase"])
    elif kind == "step":
        scale = length / (2 * np.pi * pot["width"])

        def V(x, t):
            return 0.5 * pot["V0"] * (1 + np.tanh(scale * np.sin(2 * np.pi * (x - pot["x0"]) / length)))
    else:
        code = pot["code"]

        def V(x, t):
            return evaluate(code, x=x, t=t, L=length)
    if ramp > 0:
        V0 = V

        def V(x, t):
            return np.sin(0.5 * np.pi * min(max(t / ramp, 0.0), 1.0)) ** 2 * V0(x, t)
    return V


def build_model(cfg):
    """The model named by a validated config: a Model, or (kinetic runs with [model] params given as expressions
    in x) the function model(x) -> Model that :class:`qkinetics.kinetics.KineticSolver` takes."""
    m = cfg["model"]
    params = m.get("params", {})
    if not isinstance(params, dict):
        raise ConfigError("[model] params must be a table of name = value.")
    profiles = cfg.get("model_profiles")
    if profiles:
        length = cfg["kinetics"]["length"]
        uniform = {name: value for name, value in params.items() if name not in profiles}
        shapes = {name: profile_function(p["code"], length) for name, p in profiles.items()}

        def model(x):
            return zoo.get(m["zoo"], **uniform, **{name: float(p(x)) for name, p in shapes.items()})
        try:
            model(0.0)
        except ModelError as err:
            raise ConfigError(f"[model] at x = 0: {err}") from None
        return model
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
    # keep the reader's provenance (for a run: every file's sha256, the sizes, the outer window, spinors)
    model.provenance = {**(getattr(model, "provenance", None) or {}), "wannier90": str(path.resolve()),
                        "sha256": _file_hash(path)}
    return model


def _file_hash(path) -> str:
    return hashlib.sha256(Path(path).read_bytes()).hexdigest()


