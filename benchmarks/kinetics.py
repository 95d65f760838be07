"""Throughput of the phase-space kinetic solver (qkinetics.kinetics): cell-updates per second.

Run as ``python benchmarks/kinetics.py [--quick]``. One "cell update" is one band x (x, k_x[, k_y]) cell
advanced by one full SSP-RK2 step (two flux evaluations with MUSCL reconstruction, two local-mu solves
of the number-conserving relaxation). 1D Rice-Mele chain with a travelling-wave potential; grid sizes
from 64 x 128 to 256 x 1024 (``--quick``: the first two).
"""

import argparse

from qkinetics.kinetics import benchmark_cell_updates


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--quick", action="store_true")
    args = ap.parse_args()
    sizes = [(64, 128), (128, 256), (256, 512), (256, 1024)]
    if args.quick:
        sizes = sizes[:2]
    print(f"{'nx':>6} {'nk':>6} {'cells':>9} {'steps':>6} {'wall s':>8} {'cell-updates/s':>15}")
    for nx, nk in sizes:
        b = benchmark_cell_updates(nx=nx, nk=nk, steps=20)
        print(f"{nx:>6} {nk:>6} {b['cells']:>9} {b['steps']:>6} {b['wall_s']:>8.3f} {b['cell_updates_per_s']:>15.3g}")


if __name__ == "__main__":
    main()
