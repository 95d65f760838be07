"""Adaptive k integration against uniform grids: k points (eigendecompositions) to a given accuracy.

Run from the repository root:
    python benchmarks/adaptive.py                 # Haldane near a small gap, ~5 min on 2 cores
    python benchmarks/adaptive.py --quick         # smoke test, ~1 min
    python benchmarks/adaptive.py --fe            # also bcc Fe at 300 K (wedge grids up to 256^3: ~10 min CPU)
    python benchmarks/adaptive.py --fe-only --fe-grids 64 96 128 160 192 --fe-reference 256 --fe-base 8 \
        --fe-budgets 100000 300000 1000000        # the Fe run of docs/adaptive.md (~15 min CPU)
    python benchmarks/adaptive.py --fe-only --quick --fe-reference 32   # smoke test of the Fe path

For each case the adaptive integrator (``qkinetics.integrate.adaptive``, the engine of
``conductivity(refine=True)``) runs at several tolerances; it prints the k points it evaluated, its
error estimate and its true error against a reference. Uniform Monkhorst-Pack grids n^2 (n^3) are
run on a geometric sequence of n, and for every adaptive run the benchmark finds the smallest
uniform grid whose *true* error is below the adaptive *estimate* (an oracle favourable to the uniform
grid: it is told its error). The ratio uniform points / adaptive points is the saving at equal,
guaranteed accuracy. Counts of k points, not times, are compared (both integrators spend their time
in one eigendecomposition per point; the per-point time of both is printed too).

References (true errors):
- Haldane t2 = 0.1, phi = pi/2, M = 0.515 (a 9.2 meV gap at K'), anomalous Hall at 10 K with mu mid-gap
  (the Chern insulator, thermally smeared) and mu = 0.6 eV in the band: uniform 5400^2 (29 M points,
  ``--reference`` recomputes it; otherwise the stored numbers below, from that run);
- bcc Fe (18 Wannier functions, tests/data/wannier90/reference/Fe_tb.dat.bz2), anomalous Hall sigma_xy at
  300 K, mu = 12.6279 eV: the irreducible wedge of 4/mm'm' on a Gamma-centred uniform grid of
  ``--fe-reference`` points per direction (the Wannier fit breaks the group at 1e-5 - 1e-4,
  docs/performance.md, below the accuracies compared); the spread of the last three wedge grids is
  printed as the reference's own uncertainty (4 % at 256^3: the sequence is erratic).
"""

from __future__ import annotations

import os

for _var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):     # CPU times comparable: one thread
    os.environ.setdefault(_var, "1")

import argparse  # noqa: E402
import time  # noqa: E402
import warnings  # noqa: E402
from pathlib import Path  # noqa: E402

import numpy as np  # noqa: E402

import qkinetics as qk  # noqa: E402
from qkinetics.integrate import KGrid, integrate_mechanisms  # noqa: E402
from qkinetics.integrate.adaptive import AdaptiveToleranceWarning, integrate_adaptive  # noqa: E402
from qkinetics.responses import mechanisms_by_name  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
HALDANE = dict(t1=1.0, t2=0.1, phi=np.pi / 2, mass=0.515)
HALDANE_MU, HALDANE_T = [0.0, 0.6], [10.0]
#: sigma_xy band integrals (natural units) on the uniform 5400^2 grid, 10 K: mu = 0, 0.6 eV
HALDANE_REFERENCE = [-0.1590495, -0.07126312]
FE_TB = ROOT / "tests" / "data" / "wannier90" / "reference" / "Fe_tb.dat.bz2"
FE_MU = 12.6279


def uniform_sequence(model, mechs, mu, T, ns, component, symmetry=None):
    """Band integrals of ``component`` on uniform n^d grids: list of (points, values, seconds)."""
    from qkinetics.symmetry import irreducible_grid

    rows = []
    for n in ns:
        grid = KGrid(model, n, shift=0 if symmetry is not None else 0.5)
        if symmetry is not None:
            grid = irreducible_grid(model, grid, symmetry)
        t0 = time.process_time()
        res = integrate_mechanisms(model, mechs, grid, mu, T, warn=False)
        if symmetry is not None:
            from qkinetics.symmetry import symmetrize_integrals

            res = symmetrize_integrals(symmetry, mechs, res)
        seconds = time.process_time() - t0
        points = grid.count() if symmetry is not None else grid.npoints
        rows.append((n, points, component(res.values), seconds))
        print(f"  uniform {n}^{model.dim}: {points} points, {seconds:.1f} s CPU, values {np.round(rows[-1][2], 8)}",
              flush=True)
    return rows


def timed_adaptive(model, mechs, mu, T, base, tol, max_points):
    """One adaptive integration and its CPU seconds (a budget-limited run's tolerance warning silenced)."""
    t0 = time.process_time()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", AdaptiveToleranceWarning)
        res = integrate_adaptive(model, mechs, mu, T, base=base, tol=tol, max_points=max_points)
    return res, time.process_time() - t0


def adaptive_runs(model, mechs, mu, T, base, tols, component, max_points):
    rows = []
    for tol in tols:
        res, seconds = timed_adaptive(model, mechs, mu, T, base, tol, max_points)
        rows.append((tol, res.npoints, component(res.values), component(res.error), res.converged, seconds,
                     res.max_level))
        print(f"  adaptive tol {tol:g}: {res.npoints} points, {seconds:.1f} s CPU, converged {res.converged}, "
              f"deepest level {res.max_level}", flush=True)
    return rows


def compare(name, adaptive, uniform, reference, labels, per_point=True):
    """Per component: adaptive points, estimate, true error, and the uniform grid reaching that estimate."""
    reference = np.atleast_1d(reference)
    print(f"\n{name}")
    for i, label in enumerate(labels):
        ref = reference[i]
        print(f"  {label}: tol | adaptive points | estimate/|ref| | true error/|ref| | bounded | "
              "smallest uniform n (points) with true error <= estimate | ratio uniform/adaptive points")
        for tol, pts, val, est, conv, sec, level in adaptive:
            true, bar = abs(val[i] - ref), est[i]
            need = next(((n, p) for n, p, v, _ in uniform if abs(v[i] - ref) <= bar), None)
            ratio = (f"{need[1] / pts:.1f}" if need else
                     f"> {uniform[-1][1] / pts:.1f} (no uniform grid tried reached it)")
            where = f"{need[0]} ({need[1]})" if need else f"> {uniform[-1][0]}"
            print(f"    {tol:<7g} | {pts:>9d} | {bar / abs(ref):.2e} | {true / abs(ref):.2e} | {true <= bar} | "
                  f"{where} | {ratio}" + ("" if conv else "   (budget reached)"))
    if per_point:
        per_u = uniform[-1][3] / uniform[-1][1]
        per_a = adaptive[-1][5] / adaptive[-1][1]
        print(f"  CPU time per k point: adaptive / uniform = {per_a / per_u:.2f}")


def haldane_case(quick, reference_run):
    model = qk.zoo.haldane(**HALDANE)
    mechs = mechanisms_by_name(["anomalous_hall"], 1)
    xy = lambda values: values["anomalous_hall"][:, 0, 0, 1].real              # noqa: E731  (per mu)
    ref = HALDANE_REFERENCE
    if reference_run:
        ref = uniform_sequence(model, mechs, HALDANE_MU, HALDANE_T, [5400], xy)[0][2]
    print("Haldane model, 9.2 meV gap at K', anomalous Hall sigma_xy at 10 K, mu = 0 (gap) and 0.6 eV (band)")
    ns = [300, 600, 900, 1350] if quick else [300, 450, 600, 900, 1350, 1800, 2700]
    uniform = uniform_sequence(model, mechs, HALDANE_MU, HALDANE_T, ns, xy)
    tols = [1e-2, 1e-3] if quick else [1e-2, 1e-3, 1e-4]
    adaptive = adaptive_runs(model, mechs, HALDANE_MU, HALDANE_T, 10, tols, xy, 4_000_000)
    compare("Haldane small gap, anomalous Hall at 10 K", adaptive, uniform, ref, ["mu = 0 (mid-gap)", "mu = 0.6 eV"])


def fe_case(quick, ref_n, grids=None, tols=None, base=None, budget=None, budgets=None, T=300.0):
    """bcc Fe: uniform wedge grids (the reference sequence, and the uniform grids compared) and adaptive runs.

    The adaptive runs integrate the full zone. The uniform grids are integrated on the wedge of 4/mm'm'
    (the same numbers as the full zone up to the fit's 1e-4 symmetry breaking, 16x cheaper); they are
    credited with their full-zone count n^3, the count the adaptive integrator competes with, and the wedge
    count is printed too. The reference's own uncertainty is the spread of the last three grids."""
    from qkinetics.symmetry import find_symmetry

    fe = qk.read_wannier90(str(FE_TB))
    group = find_symmetry(fe, tol=1e-3).group
    mechs = mechanisms_by_name(["anomalous_hall"], 1)
    xy = lambda values: values["anomalous_hall"][:, 0, 0, 1].real              # noqa: E731
    mu, T = [FE_MU], [T]
    ns = sorted(set(grids or ([16, 24, 32] if quick else [32, 48, 64, 96, 128, 160, 192])) | {ref_n})
    print(f"\nbcc Fe, anomalous Hall sigma_xy at {T[0]:g} K: uniform wedge grids of 4/mm'm' (Gamma-centred), "
          f"reference {ref_n}^3")
    uniform = uniform_sequence(fe, mechs, mu, T, ns, xy, symmetry=group)
    last = [row[2][0] for row in uniform if row[0] <= ref_n][-3:]
    ref = next(row[2] for row in uniform if row[0] == ref_n)
    spread = (max(last) - min(last)) / abs(ref[0])
    print(f"  reference {ref[0]:.6f}; spread of the last three grids {spread:.2e} (relative): true errors below it "
          "are not resolved by this reference")
    per_wedge_point = uniform[-1][3] / uniform[-1][1]
    uniform = [(n, n ** 3, v, sec) for n, _, v, sec in uniform if n < ref_n]
    base = base or (4 if quick else 8)
    budgets = budgets or ([budget or (30_000 if quick else 1_000_000)])
    for tol in tols or ([0.3] if quick else [1e-2]):
        rows = []
        for points in budgets:
            res, sec = timed_adaptive(fe, mechs, mu, T, base, tol, points)
            val, est = xy(res.values)[0], xy(res.error)[0]
            centre = xy(res.centre_rule)[0]
            true = abs(val - ref[0])
            need = next((n for n, _, v, _ in uniform if abs(v[0] - ref[0]) <= est), None)
            print(f"  adaptive base {base} tol {tol:g} budget {points}: {res.npoints} points, {sec:.0f} s CPU, "
                  f"converged {res.converged}, deepest level {res.max_level}; value {val:.6f}, "
                  f"true error {true / abs(ref[0]):.3e}, estimate sum|d| {est / abs(ref[0]):.3e}, "
                  f"|sum d| {abs(val - centre) / abs(ref[0]):.3e}, bounded {est >= true}; "
                  f"smallest uniform n with true error <= estimate: {need}", flush=True)
            rows.append((tol, res.npoints, [val], [est], res.converged, sec, res.max_level))
        compare(f"bcc Fe, {T[0]:g} K (adaptive over the full zone, uniform n^3 counted as full zone)", rows,
                uniform, ref, ["sigma_xy"], per_point=False)
        print(f"  CPU time per k point: adaptive / uniform wedge = {rows[-1][5] / rows[-1][1] / per_wedge_point:.2f}")


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="fewer grids and tolerances")
    parser.add_argument("--reference", action="store_true", help="recompute the Haldane reference (5400^2)")
    parser.add_argument("--fe", action="store_true", help="also bcc Fe at 300 K")
    parser.add_argument("--fe-only", action="store_true", help="only bcc Fe")
    parser.add_argument("--fe-reference", type=int, default=256, help="points per direction of the Fe reference")
    parser.add_argument("--fe-grids", type=int, nargs="+", help="uniform Fe grids n (n^3 points)")
    parser.add_argument("--fe-tols", type=float, nargs="+", help="adaptive tolerances for Fe")
    parser.add_argument("--fe-base", type=int, help="adaptive base cells per direction for Fe")
    parser.add_argument("--fe-budget", type=int, help="adaptive k-point budget for Fe")
    parser.add_argument("--fe-budgets", type=int, nargs="+", help="several adaptive k-point budgets for Fe")
    parser.add_argument("--fe-T", type=float, default=300.0, help="temperature of the Fe case (K)")
    args = parser.parse_args()
    if not args.fe_only:
        haldane_case(args.quick, args.reference)
    if args.fe or args.fe_only:
        fe_case(args.quick, args.fe_reference, args.fe_grids, args.fe_tols, args.fe_base, args.fe_budget,
                args.fe_budgets, args.fe_T)


if __name__ == "__main__":
    main()
