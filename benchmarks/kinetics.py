"""Throughput of the phase-space kinetic solver (qkinetics.kinetics): cell-updates per second.

Run as ``python benchmarks/kinetics.py [--quick] [--threads N]``. One "cell update" is one band x (x, k_x[, k_y])
cell advanced by one full SSP-RK2 step (two flux evaluations with MUSCL reconstruction, two local-mu solves
of the number-conserving relaxation). 1D Rice-Mele chain with a travelling-wave potential; grid sizes
from 64 x 128 to 512 x 1024 (two bands: 1.05e6 cells; ``--quick``: the first two), with the compiled kernels
(:mod:`qkinetics.kinetics.kernels`, numba) and with the numpy form (``KineticSolver.compiled = False``).
Wall-clock rates depend on what else runs on the machine; the CPU-time rate per core (process time summed over
threads) does much less.

Then the memory-bandwidth floor: the bytes one cell-update moves (the arrays each pass reads and writes) against
the bandwidth of a numpy copy of an array of the same size. Then a full 10^6-cell problem: the same chain evolved
for 20 fs (a few hundred CFL-limited steps), wall time and peak resident memory (the solver holds a handful of
arrays of the grid size; nothing grows with the number of steps). Last, the step cost, CFL step and cost to a
fixed time of order 2 (static and travelling V; explicit and with the implicit dispersion, ``dispersion="imex"``)
and of order 1 with a model(x) texture and in 2D, relative to order 0, on one grid.
"""

import argparse
import resource
import time

import numpy as np

from qkinetics.kinetics import KineticSolver, kernels
from qkinetics.models import zoo


def peak_rss_mib():
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def rates(s, steps):
    """Wall and CPU-time (per core: process time) cell-updates/s of ``steps`` steps at the CFL step."""
    dt = s.max_dt()
    s.step(dt)                                                      # warm up (and compile)
    w0, c0 = time.perf_counter(), time.process_time()
    for _ in range(steps):
        s.step(dt)
    wall, cpu = time.perf_counter() - w0, time.process_time() - c0
    return s.ncells * steps / wall, s.ncells * steps / cpu


def chain(nx, nk, compiled, L=100.0, **kw):
    s = KineticSolver(zoo.rice_mele(), lambda x, t: 0.05 * np.cos(2 * np.pi * x / L - 1e14 * t), length=L, nx=nx,
                      nk=nk, mu=-0.5, T=1000.0, tau=1e-13, **kw)
    s.compiled = compiled
    return s


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--quick", action="store_true")
    ap.add_argument("--threads", type=int, default=None, help="numba threads (default: all cores)")
    args = ap.parse_args()
    if kernels.AVAILABLE and args.threads:
        import numba
        numba.set_num_threads(args.threads)
    threads = kernels.threads(kernels.PARALLEL_MIN_CELLS)
    print(f"compiled kernels: {'numba, %d threads' % threads if kernels.AVAILABLE else 'not available'}")
    sizes = [(64, 128), (128, 256), (256, 512), (512, 1024)]
    if args.quick:
        sizes = sizes[:2]
    print("\norder 0, local relaxation (cell-updates/s; CPU: per core)")
    print(f"{'nx':>6} {'nk':>6} {'cells':>9} {'numpy wall':>11} {'numpy CPU':>10} {'compiled wall':>14} "
          f"{'compiled CPU':>13} {'speed-up':>9}")
    for nx, nk in sizes:
        steps = max(4, int(4e6 / (2 * nx * nk)))
        nw, nc = rates(chain(nx, nk, False), max(2, steps // 8))
        cw, cc = rates(chain(nx, nk, True), steps) if kernels.AVAILABLE else (np.nan, np.nan)
        print(f"{nx:>6} {nk:>6} {2 * nx * nk:>9} {nw:>11.3g} {nc:>10.3g} {cw:>14.3g} {cc:>13.3g} {cw / nw:>8.1f}x")

    # memory-bandwidth floor: bytes per cell-update of the compiled step (each array pass over the grid counted:
    # per stage the transport reads f and writes the rate (16 B), the local relaxation reads f twice and updates
    # the rate (32 B); the RK2 combination makes six in-place passes (f1 *= dt, f1 += f0, r1 *= dt, f1 += f0,
    # f1 += r1, f1 *= 0.5: 120 B)) against a numpy copy (read + write, 16 B per element) of a grid-sized array
    nx, nk = sizes[-1]
    n = 2 * nx * nk
    a, b = np.random.rand(n), np.empty(n)
    np.copyto(b, a)
    c0 = time.process_time()                                        # CPU time: what one core moves
    for _ in range(20):
        np.copyto(b, a)
    bw = 16 * n * 20 / (time.process_time() - c0)
    bytes_compiled = 2 * (16 + 32) + 120
    print(f"\nmemory-bandwidth floor ({n} cells, one core): numpy copy {bw / 1e9:.1f} GB/s; the compiled step moves "
          f"~{bytes_compiled} B per cell-update, a floor of {bw / bytes_compiled:.3g} cell-updates/s (a fully fused "
          f"RK2 step, f0 read twice, f1 written and read, f written: 40 B, {bw / 40:.3g}/s)")

    model = zoo.rice_mele()
    nx, nk = (128, 256) if args.quick else (512, 1024)
    rss0 = peak_rss_mib()
    s = chain(nx, nk, kernels.AVAILABLE)
    N0 = s.density().sum()
    w0 = time.perf_counter()
    s.advance(2e-14)
    wall = time.perf_counter() - w0
    print(f"\nfull problem: {s.ncells} cells, {s.steps} steps to t = 20 fs in {wall:.1f} s "
          f"({s.ncells * s.steps / wall:.3g} cell-updates/s); particle number drift {s.density().sum() / N0 - 1:.1e}; "
          f"peak RSS {peak_rss_mib():.0f} MiB (before the problem: {rss0:.0f} MiB; f alone: "
          f"{s.f.nbytes / 2**20:.0f} MiB)")

    nx, nk = 64, 256
    V25 = lambda x, t: 0.05 * np.cos(2 * np.pi * x / 25.0)                   # noqa: E731
    cases = {                                                       # label: (potential, order, model, extra)
        "order 0": (V25, 0, model, {}),
        "order 0, numpy": (V25, 0, model, {"compiled": False}),
        "order 1, model(x) texture": (None, 1, lambda x: zoo.rice_mele(staggered=0.2 + 0.1 * np.cos(2 * np.pi * x / 25.0)),
                                      {}),
        "order 1, 2D (QWZ, nk_perp 8)": (V25, 1, zoo.qi_wu_zhang(), {"nk_perp": 8}),
        "order 2, static V": (V25, 2, model, {}),
        "order 2, travelling V(x, t)": (lambda x, t: 0.05 * np.cos(2 * np.pi * x / 25.0 - 1e14 * t), 2, model, {}),
        "order 2, static V, imex": (V25, 2, model, {"dispersion": "imex"}),
        "order 2, travelling V, imex": (lambda x, t: 0.05 * np.cos(2 * np.pi * x / 25.0 - 1e14 * t), 2, model,
                                        {"dispersion": "imex"}),
    }
    rates_, dts = {}, {}
    for label, (V, order, m, extra) in cases.items():
        extra = dict(extra)
        compiled = extra.pop("compiled", kernels.AVAILABLE)
        s = KineticSolver(m, V, length=25.0, nx=nx, nk=nk if "2D" not in label else nk // 4, mu=-1.0 if "2D" not in label
                          else 0.3, T=1000.0, tau=1e-14, order=order, relaxation="global", **extra)
        s.compiled = compiled
        dts[label] = s.max_dt()
        rates_[label] = rates(s, 20)[1]
    print(f"\nper-step cost on {nx} x {nk}, relaxation 'global' (CPU-time cell-updates/s; CFL step dt; cost to a fixed "
          f"time relative to order 0 compiled, and to order 0 numpy):")
    r0, d0, rn = rates_["order 0"], dts["order 0"], rates_["order 0, numpy"]
    for label in cases:
        print(f"  {label:<30} {rates_[label]:10.3g}  dt = {dts[label]:.2e} s  "
              f"{(r0 / rates_[label]) * (d0 / dts[label]):6.2f}x  {(rn / rates_[label]) * (d0 / dts[label]):6.2f}x")


if __name__ == "__main__":
    main()
