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


def worker_cpu(pool) -> float:
    """CPU seconds (user + system) the pool's live worker processes have used so far (from /proc)."""
    total = 0.0
    for pid in list(pool._processes):
        with open(f"/proc/{pid}/stat") as f:
            fields = f.read().rsplit(")", 1)[1].split()
        total += (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
    return total


def interleaved(run, args):
    """Serial and process-pool runs alternated (A B A B ...), each with its wall and CPU time.

    On a machine shared with other jobs the wall-time speed-up depends on the load of the moment;
    alternating the runs exposes both to the same load, and the per-run ratios show the spread. The CPU
    accounting does not depend on the load (only on contention for caches and memory): on w idle cores
    the pool's wall time is at least (workers' CPU + parent's CPU) / w, so
    ceiling = w x serial CPU / (workers' CPU + parent's CPU) bounds the speed-up.
    """
    print(f"\ninterleaved serial / processes x{args.workers} runs ({args.rounds} rounds), load "
          f"{' '.join(f'{x:.2f}' for x in os.getloadavg())}")
    print(f"{'round':>5} {'serial wall':>11} {'pool wall':>9} {'speed-up':>8} {'serial CPU':>10} "
          f"{'workers CPU':>11} {'parent CPU':>10} {'ceiling':>7} {'load':>5}")
    ratios, ceilings = [], []
    with get_executor("processes", args.workers) as pool:
        run(pool)                                                         # start the workers
        for r in range(args.rounds):
            t0, c0 = time.perf_counter(), time.process_time()
            run()
            ts, cs = time.perf_counter() - t0, time.process_time() - c0
            w0, t0, c0 = worker_cpu(pool), time.perf_counter(), time.process_time()
            run(pool)
            tp, cp, wp = time.perf_counter() - t0, time.process_time() - c0, worker_cpu(pool) - w0
            ceiling = args.workers * cs / (wp + cp)
            ratios.append(ts / tp)
            ceilings.append(ceiling)
            print(f"{r:>5} {ts:>10.2f}s {tp:>8.2f}s {ts / tp:>7.2f}x {cs:>9.2f}s {wp:>10.2f}s {cp:>9.2f}s "
                  f"{ceiling:>6.2f}x {os.getloadavg()[0]:>5.1f}", flush=True)
    print(f"speed-up: median {np.median(ratios):.2f}x, best {max(ratios):.2f}x; CPU ceiling on {args.workers} idle "
          f"cores: median {np.median(ceilings):.2f}x")


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--n", type=int, default=40)
    ap.add_argument("--norb", type=int, default=18)
    ap.add_argument("--workers", type=int, default=2)
    ap.add_argument("--chunk", type=int, default=0, help="k points per chunk (0: the library default)")
    ap.add_argument("--repeat", type=int, default=2)
    ap.add_argument("--no-dask", action="store_true")
    ap.add_argument("--rounds", type=int, default=4, help="interleaved serial / pool rounds")
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
    interleaved(run, args)
    print(f"load average after: {' '.join(f'{x:.2f}' for x in os.getloadavg())}")


if __name__ == "__main__":
    main()
