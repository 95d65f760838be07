"""Executor benchmark: speed-up of the local process pool and of a Dask LocalCluster over a serial run.

Run:  python benchmarks/executors.py [--n 40] [--norb 18] [--workers 2] [--chunk 0]

A random 3D tight-binding model with ``norb`` orbitals (the size of the bcc Fe Wannier model) is
integrated (anomalous Hall + Drude, 5 chemical potentials) on an n^3 grid: serial with the
library-default BLAS threads, serial with one BLAS thread, the process pool and a Dask LocalCluster
with ``workers`` workers. Wall times are the best of ``--repeat`` runs; the load average is
printed before and after, since other processes on the machine take cores away. Every parallel
result is checked to equal the single-thread serial one bit for bit.
"""

from __future__ import annotations

import argparse
import os
import resource
import time

import numpy as np

from qkinetics.integrate import KGrid, get_executor, integrate_mechanisms
from qkinetics.integrate.executors import set_blas_threads
from qkinetics.integrate.integrator import default_chunk_size
from qkinetics.models.tight_binding import TightBinding
from qkinetics.responses import mechanisms_by_name


def random_model_3d(norb: int, seed: int = 0) -> TightBinding:
    """Random Hermitian model on a triclinic lattice: on-site block and 5 hopping vectors (+ partners)."""
    rng = np.random.default_rng(seed)
    lattice = np.array([[3.0, 0.0, 0.0], [1.5, 2.6, 0.0], [0.3, 0.4, 3.5]])

    def cmat():
        return rng.normal(size=(norb, norb)) + 1j * rng.normal(size=(norb, norb))

    t0 = cmat()
    hop = {(0, 0, 0): (t0 + t0.conj().T) / 2}
    for R in [(1, 0, 0), (0, 1, 0), (0, 0, 1), (1, 1, 0), (0, 1, 1)]:
        hop[R] = 0.5 * cmat()
    return TightBinding(lattice, rng.random((norb, 3)), hop, hermiticity="complete", name=f"random-3D-N{norb}")


def best_time(fn, repeat):
    best, out = np.inf, None
    for _ in range(repeat):
        t0 = time.perf_counter()
        out = fn()
        best = min(best, time.perf_counter() - t0)
    return best, out


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--n", type=int, default=40)
    ap.add_argument("--norb", type=int, default=18)
    ap.add_argument("--workers", type=int, default=2)
    ap.add_argument("--chunk", type=int, default=0, help="k points per chunk (0: the library default)")
    ap.add_argument("--repeat", type=int, default=2)
    ap.add_argument("--no-dask", action="store_true")
    args = ap.parse_args()
    model = random_model_3d(args.norb)
    grid = KGrid(model, args.n)
    mechs = mechanisms_by_name(["anomalous_hall", "drude"], 1)
    mu, T = np.linspace(-1, 1, 5), [100.0]
    chunk = args.chunk or default_chunk_size(model, len(mu), len(T), npoints=grid.npoints)
    print(f"{model.name}, grid {args.n}^3 = {grid.npoints} k points, chunk {chunk} ({grid.nchunks(chunk)} chunks), "
          f"{args.workers} workers, {os.cpu_count()} CPUs")
    print(f"load average before: {' '.join(f'{x:.2f}' for x in os.getloadavg())}")

    def run(executor=None):
        return integrate_mechanisms(model, mechs, grid, mu, T, executor=executor, chunk_size=chunk, warn=False)

    t_default, _ = best_time(run, args.repeat)
    set_blas_threads(1)
    t_serial, ref = best_time(run, args.repeat)
    print(f"serial, default BLAS threads : {t_default:7.2f} s")
    print(f"serial, 1 BLAS thread        : {t_serial:7.2f} s")
    cpu0 = time.process_time()
    run()
    cpu_serial = time.process_time() - cpu0
    print(f"serial CPU time (1 thread)   : {cpu_serial:7.2f} s")
    kinds = ["processes"] + ([] if args.no_dask else ["dask"])
    for kind in kinds:
        with get_executor(kind, args.workers) as ex:
            run(ex)                                                       # warm-up: start the workers
            t, res = best_time(lambda: run(ex), args.repeat)
        same = all(np.array_equal(ref.values[k], res.values[k]) for k in ref.values)
        print(f"{kind:<10} x{args.workers}: {t:7.2f} s   speed-up {t_serial / t:4.2f}x over 1-thread serial, "
              f"{t_default / t:4.2f}x over default serial; bit-identical: {same}")
    # CPU accounting, insensitive to other load: the pool's workers (reaped children) and this process
    # (chunk generation, pickling, sums) share the cores, so on w idle cores the wall time is at least
    # (workers' CPU + parent's CPU) / w: the speed-up ceiling below.
    child0, parent0 = resource.getrusage(resource.RUSAGE_CHILDREN), time.process_time()
    with get_executor("processes", args.workers) as ex:
        run(ex)
    child1, parent = resource.getrusage(resource.RUSAGE_CHILDREN), time.process_time() - parent0
    workers_cpu = (child1.ru_utime + child1.ru_stime) - (child0.ru_utime + child0.ru_stime)
    ceiling = cpu_serial * args.workers / (workers_cpu + parent)
    print(f"processes x{args.workers} CPU: workers {workers_cpu:.2f} s (incl. start-up), parent {parent:.2f} s; "
          f"overhead {((workers_cpu + parent) / cpu_serial - 1) * 100:.0f}% -> speed-up ceiling on "
          f"{args.workers} idle cores {ceiling:.2f}x")
    print(f"load average after: {' '.join(f'{x:.2f}' for x in os.getloadavg())}")


if __name__ == "__main__":
    main()
