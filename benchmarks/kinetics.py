"""Throughput of the phase-space kinetic solver (qkinetics.kinetics): cell-updates per second.

Run as ``python benchmarks/kinetics.py [--quick]``. One "cell update" is one band x (x, k_x[, k_y]) cell
advanced by one full SSP-RK2 step (two flux evaluations with MUSCL reconstruction, two local-mu solves
of the number-conserving relaxation). 1D Rice-Mele chain with a travelling-wave potential; grid sizes
from 64 x 128 to 512 x 1024 (two bands: 1.05e6 cells; ``--quick``: the first two).

Then a full 10^6-cell problem: the same chain evolved for 20 fs (a few hundred CFL-limited steps),
wall time and peak resident memory (the solver holds a handful of arrays of the grid size; nothing
grows with the number of steps). Last, the step cost, CFL step and cost to a fixed time of order 2 (static and
travelling V) and of order 1 with a model(x) texture, relative to order 0, on one grid.
"""

import argparse
import resource
import time

import numpy as np

from qkinetics.kinetics import KineticSolver, benchmark_cell_updates
from qkinetics.models import zoo


def peak_rss_mib():
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--quick", action="store_true")
    args = ap.parse_args()
    sizes = [(64, 128), (128, 256), (256, 512), (512, 1024)]
    if args.quick:
        sizes = sizes[:2]
    print(f"{'nx':>6} {'nk':>6} {'cells':>9} {'steps':>6} {'wall s':>8} {'cell-updates/s':>15}")
    for nx, nk in sizes:
        b = benchmark_cell_updates(nx=nx, nk=nk, steps=20)
        print(f"{nx:>6} {nk:>6} {b['cells']:>9} {b['steps']:>6} {b['wall_s']:>8.3f} {b['cell_updates_per_s']:>15.3g}")

    model = zoo.rice_mele()
    nx, nk = (128, 256) if args.quick else (512, 1024)
    L = 100.0
    rss0 = peak_rss_mib()
    s = KineticSolver(model, lambda x, t: 0.05 * np.cos(2 * np.pi * x / L - 1e14 * t), length=L, nx=nx, nk=nk,
                      mu=-0.5, T=1000.0, tau=1e-13)
    N0 = s.density().sum()
    w0 = time.perf_counter()
    s.advance(2e-14)
    wall = time.perf_counter() - w0
    print(f"\nfull problem: {s.ncells} cells, {s.steps} steps to t = 20 fs in {wall:.1f} s "
          f"({s.ncells * s.steps / wall:.3g} cell-updates/s); particle number drift {s.density().sum() / N0 - 1:.1e}; "
          f"peak RSS {peak_rss_mib():.0f} MiB (before the problem: {rss0:.0f} MiB; f alone: "
          f"{s.f.nbytes / 2**20:.0f} MiB)")

    nx, nk = 64, 256
    cases = {                                                       # label: (potential, order, model)
        "order 0": (lambda x, t: 0.05 * np.cos(2 * np.pi * x / 25.0), 0, model),
        "order 2, static V": (lambda x, t: 0.05 * np.cos(2 * np.pi * x / 25.0), 2, model),
        "order 2, travelling V(x, t)": (lambda x, t: 0.05 * np.cos(2 * np.pi * x / 25.0 - 1e14 * t), 2, model),
        "order 1, model(x) texture": (None, 1,
                                      lambda x: zoo.rice_mele(staggered=0.2 + 0.1 * np.cos(2 * np.pi * x / 25.0))),
    }
    rates, dts = {}, {}
    for label, (V, order, m) in cases.items():
        s = KineticSolver(m, V, length=25.0, nx=nx, nk=nk, mu=-1.0, T=1000.0, tau=1e-14, order=order,
                          relaxation="global")
        dt = dts[label] = s.max_dt()
        s.step(dt)
        w0 = time.perf_counter()
        for _ in range(20):
            s.step(dt)
        rates[label] = s.ncells * 20 / (time.perf_counter() - w0)
    print(f"\nper-step cost on {nx} x {nk} (cell-updates/s; CFL step dt; cost to a fixed time relative to order 0):")
    r0, d0 = rates["order 0"], dts["order 0"]
    for label in cases:
        print(f"  {label:<30} {rates[label]:10.3g}  dt = {dts[label]:.2e} s  "
              f"{(r0 / rates[label]) * (d0 / dts[label]):6.2f}x")


if __name__ == "__main__":
    main()
