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

    [output]
    directory = "qkinetics-run"       # relative to the config file
    checkpoint_every = 1              # chunks between checkpoints
    component = "yxx"                 # optional: the tensor component drawn in response.png (default the largest)

Progress is checkpointed to ``<directory>/checkpoint.npz`` after every chunk; rerunning the same
config resumes from it (a changed config starts afresh). Results: ``result.nc`` (netCDF),
``result.csv`` (a flat table) and ``response.png``.

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

    [output]
    directory = "kinetics-out"
    checkpoint_every = 1              # saved frames (or steady-state blocks) between checkpoints

Expressions (``[potential] expression``, ``[kinetics] field``, ``T``, string ``[model] params``) are parsed
into a whitelisted syntax tree (numbers, arithmetic, comparisons, the functions of :data:`EXPRESSION_NAMES` such
as ``where(c, a, b)``, ``pi``, ``e``) and evaluated with numpy; their variables are x (Angstrom), L (the
length) and, for V and the field only, t (s). An unknown name is an error that lists the allowed ones. Profiles are checked on [0, length]: finite,
T > 0, and with periodic boundaries p(0) = p(length) for V and the model parameters (T enters only the
collision term cell by cell, so a temperature jump at the junction of the ring is allowed).

Results: ``result.nc`` (the solver's moments n, jx[, jy], V; ``jx_face``, the scheme's flux through the cell
faces x_face; ``T`` (x) in K; ``param_<name>`` (x) for x-dependent parameters; ``f`` with
snapshots), ``kinetics.png``. The distribution f, the time and the boundary inflow are checkpointed, so an
interrupted kinetic run resumes; a finished one is read back, not recomputed.
"""

from __future__ import annotations

import ast
import hashlib
import json
import math
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
    "output": {"directory", "checkpoint_every", "component"},
    "kinetics": {"order", "length", "nx", "nk", "nk_perp", "mu", "T", "tau", "relaxation", "initial", "steady",
                 "t_end", "n_save", "tol", "max_steps", "limiter", "cfl", "boundary", "snapshots", "field"},
    "potential": {"kind", "V0", "q", "omega", "phase", "x0", "width", "expression", "ramp"},
}
#: keys of [potential] per kind (``ramp`` and ``kind`` apply to all)
POTENTIAL_KINDS = {"none": set(), "cos": {"V0", "q", "omega", "phase"}, "step": {"V0", "x0", "width"},
                   "expression": {"expression"}}
#: names usable in a ``kind = "expression"`` potential (besides x, t and L)
EXPRESSION_NAMES = {
    **{n: getattr(np, n) for n in ("sin", "cos", "tan", "arcsin", "arccos", "arctan", "arctan2", "sinh", "cosh",
                                   "tanh", "exp", "log", "sqrt", "abs", "sign", "minimum", "maximum", "where",
                                   "heaviside", "mod", "floor", "ceil")},
    "pi": np.pi, "e": np.e,
}
_EXPR_NODES = (ast.Expression, ast.BinOp, ast.UnaryOp, ast.Compare, ast.IfExp, ast.Call, ast.Name, ast.Load,
               ast.Constant, ast.operator, ast.unaryop, ast.cmpop, ast.BoolOp, ast.boolop)
DEFAULT_SWEEP = {"mu": 0.0, "T": 300.0, "tau": 1e-13, "omega": 0.0}


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
    directory, every = _output(path, raw)
    component, rank = raw.get("output", {}).get("component"), order + 1 + gradient
    if component is not None and not (isinstance(component, str) and len(component) == rank
                                      and set(component) <= set("xyz")):
        indices = "j, E1" + (", E2" if order == 2 else "") + (", q" if gradient else "")
        raise ConfigError(f"[output] component must be {rank} letters x, y, z (tensor indices {indices}; "
                          f"e.g. {'yxx' if order == 2 else 'xy'!r}); got {component!r}.")
    return {
        "component": component,
        "kind": "response", "path": path, "model": model_cfg, "order": order, "gradient": gradient, "mechanisms": mechanisms,
        "sweep": sweep,
        "grid": {"n": n, "shift": shift, "kcut": kcut, "chunk_size": chunk_size,
                 "convergence": bool(grid.get("convergence", True))},
        "directory": directory, "checkpoint_every": every, "raw": raw,
    }


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
        raise ConfigError(f"[{section}] {key} must be {what}{f' ({unit})' if unit else ''}; got {value!r}.")
    return float(value)


def _integer(section, key, value, minimum):
    if isinstance(value, bool) or not isinstance(value, int) or value < minimum:
        raise ConfigError(f"[{section}] {key} must be an integer >= {minimum}; got {value!r}.")
    return value


def _load_kinetics(path, raw) -> dict:
    """Validate a kinetic run: [model], [kinetics], [potential], [output]."""
    from .kinetics import LIMITERS

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
        out["code"] = _compile_expression(expr)
        out["expression"] = expr
    V = potential_function(out, length)
    xs = np.linspace(0.0, length, 257)
    for tt in (0.0, 1e-15, 1e-13) if V is not None else ():
        try:
            vals = np.broadcast_to(np.asarray(V(xs, tt), dtype=float), xs.shape)
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
    code = _compile_expression(expr, where)
    E = field_function({"code": code}, length)
    xs = np.linspace(0.0, length, 257)
    for tt in (0.0, 1e-15, 1e-13):
        try:
            with np.errstate(all="ignore"):
                vals = E(xs, tt)
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
        return _evaluate_like_x(field["code"], x, t=t, L=length)
    return E


def _compile_expression(expr, where="[potential] expression", variables=("x", "t", "L")):
    """Code of a whitelisted arithmetic expression (``where`` names the config key in errors).

    Allowed: numbers, arithmetic, comparisons, conditional expressions, the ``variables`` and the names
    of :data:`EXPRESSION_NAMES`; integers become floats (so ``9**9**9`` overflows instead of hanging)."""
    try:
        tree = ast.parse(expr, mode="eval")
    except SyntaxError as err:
        raise ConfigError(f"{where} {expr!r} is not a valid expression: {err.msg}.") from None
    allowed = set(EXPRESSION_NAMES) | set(variables)
    for node in ast.walk(tree):
        if isinstance(node, ast.Constant) and isinstance(node.value, int) and not isinstance(node.value, bool):
            node.value = float(node.value)   # float arithmetic: 9**9**9 overflows at once instead of hanging
        if not isinstance(node, _EXPR_NODES):
            raise ConfigError(f"{where} may use numbers, arithmetic, comparisons and the names "
                              f"{sorted(allowed)}; {type(node).__name__} is not allowed in {expr!r}.")
        if isinstance(node, ast.Name) and node.id not in allowed:
            raise ConfigError(f"{where} uses unknown name {node.id!r}; allowed: {sorted(allowed)}.")
        if isinstance(node, ast.Call) and not (isinstance(node.func, ast.Name) and node.func.id in EXPRESSION_NAMES):
            called = node.func.id if isinstance(node.func, ast.Name) else ast.unparse(node.func)
            raise ConfigError(f"{where} may only call "
                              f"{sorted(k for k, v in EXPRESSION_NAMES.items() if callable(v))}; {called!r} is not "
                              f"allowed in {expr!r}.")
        if isinstance(node, ast.Constant) and not isinstance(node.value, (int, float)):
            raise ConfigError(f"{where} may only contain numeric constants; got {node.value!r}.")
    return compile(tree, f"<{where}>", "eval")


def _evaluate(code, **variables):
    """Value of an expression compiled by :func:`_compile_expression` (numpy arithmetic on the variables)."""
    return eval(code, {"__builtins__": {}, **EXPRESSION_NAMES, **variables})   # noqa: S307 - whitelisted AST


def _evaluate_like_x(code, x, **variables):
    """:func:`_evaluate` at x and the other variables, as floats broadcast to the shape of x."""
    return np.broadcast_to(np.asarray(_evaluate(code, x=x, **variables), dtype=float), np.shape(x))


def _not_periodic(vals):
    """Whether samples of a profile on [0, length] differ at the two ends by more than round-off."""
    return abs(vals[0] - vals[-1]) > 1e-8 * max(1.0, np.abs(vals).max())


def profile_function(code, length):
    """p(x) from a compiled expression in x (Angstrom) and L = length: an array shaped like x."""
    def profile(x):
        return _evaluate_like_x(code, x, L=length)
    return profile


def _load_profile(section, key, value, length, nx, *, positive=False, periodic=False, unit=""):
    """A profile p(x) given as a string expression in x (Angstrom) and L (the length), checked on [0, length]
    and on the cell faces and centres (where the solver evaluates it): finite, ``positive`` (> 0 everywhere), ``periodic`` (p(0) = p(length)).

    Returns ``{"expression": value, "code": code}`` (:func:`profile_function` makes p(x) of it)."""
    where = f"[{section}] {key}"
    if not value.strip():
        raise ConfigError(f"{where} must be a number or an expression in x (Angstrom) and L (the length); got ''.")
    code = _compile_expression(value, where, ("x", "L"))
    xs = np.union1d(np.linspace(0.0, length, 257), np.arange(2 * nx + 1) * length / (2 * nx))  # + faces, centres
    try:
        with np.errstate(all="ignore"):          # overflow or 0/0 shows up as a non-finite value below
            vals = profile_function(code, length)(xs)
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
            return _evaluate(code, x=x, t=t, L=length)
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
    model.provenance = {"wannier90": str(path.resolve()), "sha256": _file_hash(path)}
    return model


def _file_hash(path) -> str:
    return hashlib.sha256(Path(path).read_bytes()).hexdigest()


def run(config_path, *, executor=None, progress=True, stop_after=None):
    """Run a config to completion (resuming from a checkpoint if one matches); returns the Dataset.

    ``stop_after`` (chunks) interrupts the run deliberately after that many new chunks, leaving the
    checkpoint behind (used to test resuming); for a kinetic run it counts saved frames (time
    evolution) or steady-state blocks. ``executor`` is ignored by kinetic runs (serial, vectorized).
    """
    cfg = load_config(config_path)
    model = build_model(cfg)
    if cfg["kind"] == "kinetics":
        return run_kinetics(cfg, model, progress=progress, stop_after=stop_after)
    mechs = mechanisms_by_name(cfg["mechanisms"], cfg["order"], cfg["gradient"])
    if cfg["component"] and set(cfg["component"]) - set("xyz"[:model.dim]):
        raise ConfigError(f"[output] component {cfg['component']!r}: a {model.dim}D model has the axes "
                          f"{'xyz'[:model.dim]}.")
    s = cfg["sweep"]
    outdir = cfg["directory"]
    outdir.mkdir(parents=True, exist_ok=True)
    g = cfg["grid"]
    grid = KGrid(model, g["n"], shift=g["shift"], kcut=g["kcut"])
    chunk = g["chunk_size"] or default_chunk_size(model, len(s["mu"]), len(s["T"]))
    grids = {"fine": grid}
    if g["convergence"]:                 # the same three levels as qkinetics.conductivity (grid_error)
        grids["coarse"] = grid.coarsened(model)
        grids["coarser"] = grids["coarse"].coarsened(model)
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
                          s["mu"], s["T"], s["tau"], s["omega"], coarser=results.get("coarser"))
    ds.attrs["config"] = json.dumps(cfg["raw"], default=str)
    ds.attrs["output_directory"] = str(outdir)
    write_netcdf(ds, outdir / "result.nc")
    write_csv(ds, outdir / "result.csv")
    from .plot import response

    response(ds, cfg["component"], path=outdir / "response.png")
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


# ---------------------------------------------------------------------------- kinetic runs
#: pseudo-time steps per steady-state block (one checkpoint opportunity per block)
STEADY_BLOCK = 1000


def run_kinetics(cfg, model, *, progress=True, stop_after=None):
    """A validated kinetic config to completion; returns the Dataset (also in ``result.nc``).

    ``model`` is a Model or a function model(x) -> Model (:func:`build_model`). A finished run (``result.nc``
    written by the same config) is read back, not recomputed. An interrupted one resumes from
    ``checkpoint.npz`` (distribution f, time, steps, boundary inflow and the frames saved so far), written every
    ``checkpoint_every`` frames / steady-state blocks of ``STEADY_BLOCK`` steps."""
    import warnings

    from .conductivity import read_netcdf
    from .kinetics import KineticSolver

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
