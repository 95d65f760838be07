"""Throughput and memory benchmark of the band-geometry kernel.

Run as ``python benchmarks/geometry.py [--quick]``.

Part 1 (memory-bounded grid): ``iter_band_geometry`` over a Monkhorst-Pack grid for the N = 2 model,
generated chunk by chunk (the full grid array is never built), accumulating the BZ integral of the
Berry curvature of band 0 (its Chern number). Each grid size runs in a fresh subprocess, started
before Part 2 (Linux carries the parent's ``ru_maxrss`` over fork+exec), so that the peak resident
memory (``resource.getrusage().ru_maxrss``) of one size is not hidden by another run; the peak must not
grow with the grid size. Default sizes 1e5, 1e6, 1e7 points; ``--quick``: 1e5, 1e6.

Part 2 (dense batches): for random Hermitian tight-binding models with N = 2, 8, 32 bands in 2D and
N = 8, 32 in 3D it times, on the same batch of k points,

* ``eigh``           the bare batched ``np.linalg.eigh`` of the H(k) matrices (the floor of the core),
* ``H(k)+eigh``      H(k) construction (``model.hamiltonian(k, 0)``) plus ``eigh`` (the end-to-end floor),
* ``H,dH`` / ``H,dH,d2H``  ``model.hamiltonian(k, 1)`` / ``(k, 2)`` alone, for reference,
* ``geo(H,dH)``      ``geometry_from_hamiltonian(H, dH)``: energies, velocity, Berry curvature, quantum
                     metric and normalized metric ("geometry without derivatives", the core; it works
                     in cache-sized sub-batches internally),
* ``geo(+d2H)``      the same with d2H (adds the inverse mass),
* ``geo(deriv)``     the same with ``derivatives=True``,
* ``bg(basic)``      ``band_geometry(model, k, inverse_mass=False)``: the core plus H, dH construction,
* ``bg(+mass)``      ``band_geometry(model, k)`` (the default: adds the inverse mass, needs d2H),
* ``bg(deriv)``      ``band_geometry(model, k, derivatives=True)``,

as k points per second and as ratios: the core steps against ``eigh``, the ``band_geometry`` steps
against ``H(k)+eigh``. The cases of one model are timed round-robin (one call of each per round, best
of several rounds after a warm-up) so that load from other processes hits them alike; the load average
is printed. Target (issue 2): for N >= 8, geometry without derivatives within 2x of the floor.

Part 3 (default run only): band_geometry time per k point against the library's sub-batch size
(``qkinetics.geometry.SUBBATCH_ELEMENTS``), for 3D N = 8 and 2D N = 32: the data behind its default.

Part 4 (default run only): ``geometry_from_hamiltonian`` with the band-pair sums forced to elementwise
products over k-last planes or to per-(k, n) Gram products, against d(d+1)/2 N: the data behind
``qkinetics.geometry.GRAM_PAIR_MIN`` (the library picks Gram from it on).

The floor is always numpy's batched ``np.linalg.eigh``, the same eigensolver geometry uses.

Clock: ``--clock cpu`` times the dense cases by this process's CPU time, which with one BLAS thread equals
the wall time on an idle machine but is not inflated by time-slicing when other processes share the cores
(contention for caches and memory bandwidth still shows); the default with ``--threads 1``. ``--clock wall``
uses wall time (the default otherwise).

BLAS threads: ``--threads N`` (default 1; 0 leaves the library default). With threadpoolctl installed it
limits the BLAS pools through threadpoolctl; otherwise it sets OMP/OPENBLAS/MKL_NUM_THREADS before numpy
is imported (and the grid subprocesses inherit them). The thread count in force is read back from the
BLAS library and printed. Small batched matrices are usually fastest single-threaded: with 2 threads on a
2-core machine the N = 32 ``eigh`` floor was inflated about 3.7x by threading overhead, which made every
ratio against it meaningless.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import resource
import subprocess
import sys
import time
import tracemalloc


def _requested_threads(argv) -> int:
    """``--threads N`` (alias ``--blas-threads``) from the command line, before argparse runs; default 1."""
    for i, a in enumerate(argv):
        for flag in ("--threads", "--blas-threads"):
            if a.startswith(flag + "="):
                return int(a.split("=", 1)[1])
            if a == flag and i + 1 < len(argv):
                return int(argv[i + 1])
    return 1


try:
    import threadpoolctl  # noqa: E402  (does not import numpy)
except ImportError:
    threadpoolctl = None

THREADS = _requested_threads(sys.argv[1:])
THREAD_CONTROL = "library default"
if THREADS > 0 and threadpoolctl is None:
    # must act before numpy loads its BLAS
    for var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
        os.environ[var] = str(THREADS)
    THREAD_CONTROL = "environment variables set before importing numpy"

import numpy as np  # noqa: E402

import qkinetics as qk  # noqa: E402
from qkinetics.geometry import band_geometry, geometry_from_hamiltonian, iter_band_geometry  # noqa: E402

if THREADS > 0 and threadpoolctl is not None:
    _THREAD_LIMITS = threadpoolctl.threadpool_limits(limits=THREADS)     # kept for the whole run
    THREAD_CONTROL = "threadpoolctl.threadpool_limits"

TARGET_RATIO = 2.0          # geometry without derivatives within 2x of the eigh floor, for N >= 8
MP_CHUNK = 20000            # k points per chunk in the grid run


# ----------------------------------------------------------------------------------------- models

def random_model(norb: int, dim: int = 2, seed: int = 0) -> qk.TightBinding:
    """Random Hermitian tight-binding model: on-site block plus 5 hopping vectors and their partners
    (11 hopping vectors in all), random orbital positions, Fourier convention "positions"."""
    rng = np.random.default_rng(seed + 100 * norb + dim)
    if dim == 2:
        lattice = np.array([[3.0, 0.0], [1.5, 2.6]])
        vectors = [(1, 0), (0, 1), (1, 1), (1, -1), (2, 0)]
    else:
        lattice = np.array([[3.0, 0.0, 0.0], [1.5, 2.6, 0.0], [0.3, 0.4, 3.5]])
        vectors = [(1, 0, 0), (0, 1, 0), (0, 0, 1), (1, 1, 0), (0, 1, 1)]

    def cmat():
        return rng.normal(size=(norb, norb)) + 1j * rng.normal(size=(norb, norb))

    t0 = cmat()
    hoppings = {(0,) * dim: (t0 + t0.conj().T) / 2}
    for R in vectors:
        hoppings[R] = 0.5 * cmat()
    return qk.TightBinding(lattice, rng.random((norb, dim)), hoppings, hermiticity="complete",
                           name=f"random-{dim}D-N{norb}")


# ------------------------------------------------------------------------------------ environment

def print_environment() -> None:
    print(f"python {platform.python_version()}  numpy {np.__version__}  qkinetics {qk.__version__}")
    print(f"platform {platform.platform()}  cpu_count {os.cpu_count()}  "
          f"affinity {len(os.sched_getaffinity(0)) if hasattr(os, 'sched_getaffinity') else '?'}")
    env = {v: os.environ[v] for v in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS")
           if v in os.environ}
    print(f"thread env vars: {env or 'none set'}")
    try:
        cfg = np.show_config(mode="dicts")
        blas = cfg.get("Build Dependencies", {}).get("blas", {})
        print(f"numpy BLAS: {blas.get('name', '?')} {blas.get('version', '')}")
    except Exception:                                                    # pragma: no cover
        pass
    print(f"BLAS threads requested: {THREADS if THREADS > 0 else 'library default'} (via {THREAD_CONTROL}); "
          f"in force: {blas_threads()}")
    if threadpoolctl is None:
        print("threadpoolctl: not installed")
    else:
        for pool in threadpoolctl.threadpool_info():
            print(f"threadpoolctl: {pool.get('internal_api')} {pool.get('version')} "
                  f"num_threads={pool.get('num_threads')} "
                  f"arch={pool.get('architecture')} lib={os.path.basename(pool.get('filepath', ''))}")
    print(f"load average (1, 5, 15 min): {' '.join(f'{x:.2f}' for x in os.getloadavg())}")


def blas_threads() -> str:
    """Thread count of the loaded BLAS, read from the library itself (OpenBLAS via ctypes, or threadpoolctl)."""
    if threadpoolctl is not None:
        pools = threadpoolctl.threadpool_info()
        if pools:
            return ", ".join(f"{p.get('internal_api')}={p.get('num_threads')}" for p in pools)
    import ctypes
    try:
        with open("/proc/self/maps") as f:
            libs = sorted({line.split()[-1] for line in f if "openblas" in line.lower() and ".so" in line})
    except OSError:
        libs = []
    for path in libs:
        try:
            lib = ctypes.CDLL(path)
        except OSError:
            continue
        for sym in ("scipy_openblas_get_num_threads64_", "scipy_openblas_get_num_threads",
                    "openblas_get_num_threads64_", "openblas_get_num_threads"):
            fn = getattr(lib, sym, None)
            if fn is not None:
                return f"openblas={fn()}"
    return "unknown (no OpenBLAS found and threadpoolctl not installed)"


# -------------------------------------------------------------------------------- dense batches

#: clock of the dense timings, set by --clock in main(): time.perf_counter (wall) or time.process_time (CPU)
CLOCK = time.perf_counter


def best_times_round_robin(cases: dict, min_rounds: int = 3, max_rounds: int = 10, budget: float = 6.0) -> dict:
    """Best time (``CLOCK``) of every case, timed round-robin: each round calls every case once, so that a
    burst of load from other processes slows all cases alike instead of one. At least ``min_rounds``
    rounds, more (up to ``max_rounds``) while the total stays under ``budget`` seconds; one untimed
    warm-up round."""
    for fn in cases.values():
        fn()
    best = {name: np.inf for name in cases}
    spent, rounds = 0.0, 0
    while rounds < min_rounds or (rounds < max_rounds and spent < budget):
        for name, fn in cases.items():
            t = CLOCK()
            fn()
            dt = CLOCK() - t
            best[name] = min(best[name], dt)
            spent += dt
        rounds += 1
    return best


def peak_alloc(fn) -> float:
    """Peak memory (bytes) allocated through Python/numpy allocators during one call of ``fn``."""
    tracemalloc.start()
    try:
        fn()
        return tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()


CORE = ["eigh", "H,dH", "H,dH,d2H", "geo(H,dH)", "geo(+d2H)", "geo(deriv)"]
END_TO_END = ["H(k)+eigh", "bg(basic)", "bg(+mass)", "bg(deriv)"]


def dense_cases(model, nk: int, seed: int = 1) -> dict:
    rng = np.random.default_rng(seed)
    k = model.k_from_reduced(rng.random((nk, model.dim)))
    H, dH, d2H = model.hamiltonian(k, 2)
    # H is a strided view into the order-2 buffer: give the floor and geometry the same contiguous copy.
    H = np.ascontiguousarray(H)
    return {
        "eigh": lambda: np.linalg.eigh(H),
        "H(k)+eigh": lambda: np.linalg.eigh(model.hamiltonian(k, 0)[0]),
        "H,dH": lambda: model.hamiltonian(k, 1),
        "H,dH,d2H": lambda: model.hamiltonian(k, 2),
        "geo(H,dH)": lambda: geometry_from_hamiltonian(H, dH),
        "geo(+d2H)": lambda: geometry_from_hamiltonian(H, dH, d2H),
        "geo(deriv)": lambda: geometry_from_hamiltonian(H, dH, d2H, derivatives=True),
        "bg(basic)": lambda: band_geometry(model, k, inverse_mass=False),
        "bg(+mass)": lambda: band_geometry(model, k),
        "bg(deriv)": lambda: band_geometry(model, k, derivatives=True),
    }


DENSE_CONFIGS = [(2, 2, 4096), (8, 2, 4096), (8, 3, 4096), (32, 2, 1024), (32, 3, 512)]


def run_dense(quick: bool) -> None:
    timing = (dict(min_rounds=2, max_rounds=4, budget=2.0) if quick
              else dict(min_rounds=3, max_rounds=12, budget=6.0))
    print()
    print("== Part 2: dense batches: k points per second, best of {min_rounds}..{max_rounds} round-robin rounds "
          "(more while under {budget} s) after 1 warm-up round ==".format(**timing))
    print("   core steps: ratio = time / eigh time (same contiguous H).  band_geometry steps (bg): ratio =")
    print("   time / (H(k)+eigh) time, H(k) construction and the library's cache-sized sub-batches included.")
    print("   bg(basic) = band_geometry(inverse_mass=False): energies, velocity, Omega, g, G;  bg(+mass) = the")
    print("   default (adds the inverse mass);  bg(deriv) = derivatives=True (adds dOmega, dg, dG).")
    print("   alloc = peak memory allocated during one call (tracemalloc), MiB per batch and KiB per k point.")
    summary = []
    for norb, dim, nk in DENSE_CONFIGS:
        model = random_model(norb, dim)
        cases = dense_cases(model, nk)
        load0 = os.getloadavg()[0]
        times = best_times_round_robin(cases, **timing)
        allocs = {} if quick else {name: peak_alloc(fn) for name, fn in cases.items()}
        print(f"\n-- {dim}D N={norb:<3d} batch {nk} k, {len(model.hoppings)} hopping vectors, "
              f"load average {load0:.2f} -> {os.getloadavg()[0]:.2f} --")
        print(f"   {'step':<12s}{'k/s':>11s}{'us/k':>10s}{'ratio':>8s}  {'vs':<10s}"
              + ("" if quick else f"{'alloc MiB':>10s}{'KiB/k':>8s}"))
        for group, ref in ((CORE, "eigh"), (END_TO_END, "H(k)+eigh")):
            for name in group:
                t = times[name]
                line = f"   {name:<12s}{nk / t:11.4g}{1e6 * t / nk:10.2f}{t / times[ref]:8.2f}  {ref:<10s}"
                if not quick:
                    a = allocs[name]
                    line += f"{a / 2**20:10.1f}{a / 1024 / nk:8.1f}"
                print(line)
        summary.append((dim, norb, nk, times))
    print_summary(summary)


def print_summary(summary) -> None:
    print(f"\n== Summary (target: for N >= 8, geometry without derivatives within {TARGET_RATIO:g}x of the floor) ==")
    print("   core = geometry_from_hamiltonian / eigh of the same H;  e2e = band_geometry / (H(k)+eigh).")
    print("   k/s: band_geometry throughput (end to end) without and with derivatives.")
    print(f"   {'model':<9s}{'core':>7s}{'e2e':>7s}  {'verdict':<9s}{'core+mass':>10s}{'e2e+mass':>9s}"
          f"{'core deriv':>11s}{'e2e deriv':>10s}{'k/s basic':>11s}{'k/s deriv':>11s}")
    for dim, norb, nk, t in summary:
        core = t["geo(H,dH)"] / t["eigh"]
        e2e = t["bg(basic)"] / t["H(k)+eigh"]
        verdict = "-" if norb < 8 else ("MET" if max(core, e2e) <= TARGET_RATIO else "NOT MET")
        print(f"   {f'{dim}D N={norb}':<9s}{core:7.2f}{e2e:7.2f}  {verdict:<9s}"
              f"{t['geo(+d2H)'] / t['eigh']:10.2f}{t['bg(+mass)'] / t['H(k)+eigh']:9.2f}"
              f"{t['geo(deriv)'] / t['eigh']:11.2f}{t['bg(deriv)'] / t['H(k)+eigh']:10.2f}"
              f"{nk / t['bg(basic)']:11.4g}{nk / t['bg(deriv)']:11.4g}")


def run_subbatch_sweep() -> None:
    """band_geometry time per k point against the library's sub-batch size (qkinetics.geometry.SUBBATCH_ELEMENTS):
    large sub-batches fall out of cache and page-fault on fresh temporaries; small ones pay per-call overhead."""
    import qkinetics.geometry as geometry_module
    timing = dict(min_rounds=3, max_rounds=8, budget=3.0)
    default = geometry_module.SUBBATCH_ELEMENTS
    sizes = [2**13, 2**14, 2**15, 2**16, 2**17]
    print()
    print(f"== Part 3: sub-batch size (SUBBATCH_ELEMENTS, default 2^{int(np.log2(default))}): band_geometry us per "
          "k point, ratio to H(k)+eigh ==")
    print(f"   {'model':<9s}{'elements':>9s}{'k/batch':>8s}{'H+eigh':>9s}{'bg(basic)':>10s}{'ratio':>7s}"
          f"{'bg(deriv)':>11s}{'ratio':>7s}")
    try:
        for norb, dim, nk in ((8, 3, 4096), (32, 2, 1024)):
            model = random_model(norb, dim)
            for e in sizes:
                geometry_module.SUBBATCH_ELEMENTS = e
                c = dense_cases(model, nk)
                t = best_times_round_robin({n: c[n] for n in ("H(k)+eigh", "bg(basic)", "bg(deriv)")}, **timing)
                t = {n: v / nk * 1e6 for n, v in t.items()}
                print(f"   {f'{dim}D N={norb}':<9s}{f'2^{int(np.log2(e))}':>9s}"
                      f"{geometry_module._subbatch_size(dim, norb, False):8d}{t['H(k)+eigh']:9.2f}"
                      f"{t['bg(basic)']:10.2f}{t['bg(basic)'] / t['H(k)+eigh']:7.2f}"
                      f"{t['bg(deriv)']:11.2f}{t['bg(deriv)'] / t['H(k)+eigh']:7.2f}")
    finally:
        geometry_module.SUBBATCH_ELEMENTS = default


def run_pair_sum_crossover() -> None:
    """Core geometry time per k point with the pair sums by planes and by Gram products
    (qkinetics.geometry.GRAM_PAIR_MIN forced to infinity / 0), for models around the default crossover."""
    import qkinetics.geometry as geometry_module
    timing = dict(min_rounds=3, max_rounds=8, budget=3.0)
    default = geometry_module.GRAM_PAIR_MIN
    print()
    print(f"== Part 4: band-pair sums by planes or by Gram products (GRAM_PAIR_MIN, default {default}: Gram from "
          "it on): ratio to eigh ==")
    print(f"   {'model':<9s}{'d(d+1)N/2':>10s}{'eigh us/k':>10s}{'planes':>8s}{'gram':>7s}{'+mass':>8s}{'gram':>7s}"
          f"  {'faster':<7s}{'default':<8s}")

    def forced(threshold, fn):
        def run():
            geometry_module.GRAM_PAIR_MIN = threshold
            fn()
        return run
    try:
        for norb, dim in ((8, 3), (12, 3), (16, 2), (16, 3), (24, 3), (32, 2), (32, 3)):
            nk = max(256, 2**17 // norb**2)
            model = random_model(norb, dim)
            c = dense_cases(model, nk)
            cases = {"eigh": c["eigh"]}
            for name, threshold in (("planes", 10**9), ("gram", 0)):
                cases[name] = forced(threshold, c["geo(H,dH)"])
                cases[name + "+m"] = forced(threshold, c["geo(+d2H)"])
            t = best_times_round_robin(cases, **timing)
            r = {n: v / t["eigh"] for n, v in t.items()}
            size = dim * (dim + 1) // 2 * norb
            print(f"   {f'{dim}D N={norb}':<9s}{size:>10d}{1e6 * t['eigh'] / nk:10.1f}{r['planes']:8.2f}{r['gram']:7.2f}"
                  f"{r['planes+m']:8.2f}{r['gram+m']:7.2f}  {'gram' if r['gram'] < r['planes'] else 'planes':<7s}"
                  f"{'gram' if size >= default else 'planes':<8s}")
    finally:
        geometry_module.GRAM_PAIR_MIN = default


# ------------------------------------------------------------------------------ grid / memory run

def mp_chunks(model, n: int, chunk: int):
    """Monkhorst-Pack n^dim grid (Cartesian k), yielded chunk by chunk; the full grid is never built."""
    coords = (2 * np.arange(1, n + 1) - n - 1) / (2 * n)
    total = n ** model.dim
    for start in range(0, total, chunk):
        idx = np.arange(start, min(start + chunk, total))
        kred = np.empty((idx.size, model.dim))
        for ax in range(model.dim - 1, -1, -1):
            kred[:, ax] = coords[idx % n]
            idx //= n
        yield model.k_from_reduced(kred)


def _vm_hwm_kib() -> int:
    """Peak RSS of this process image (VmHWM, Linux); -1 where unavailable."""
    try:
        with open("/proc/self/status") as f:
            for line in f:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1])
    except OSError:
        pass
    return -1


def mp_worker(npoints: int, chunk: int) -> dict:
    """One grid run (in a fresh process): BZ integral of the band-0 Berry curvature, time and peak memory."""
    model = random_model(2, 2)
    n = int(round(npoints ** (1 / model.dim)))
    total = n ** model.dim
    area = abs(np.linalg.det(model.reciprocal))
    base = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss          # KiB on Linux
    base_hwm = _vm_hwm_kib()
    t = time.perf_counter()
    acc, count, nchunks = 0.0, 0, 0
    for geo in iter_band_geometry(model, mp_chunks(model, n, chunk), chunk_size=chunk, inverse_mass=False):
        acc += geo.berry_curvature[:, 0, 0, 1].sum()
        count += len(geo)
        nchunks += 1
    elapsed = time.perf_counter() - t
    assert count == total
    return {"n": n, "points": total, "chunks": nchunks, "seconds": elapsed,
            "chern0": acc * area / total / (2 * np.pi),
            "base_kib": base, "peak_kib": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss,
            "base_hwm_kib": base_hwm, "peak_hwm_kib": _vm_hwm_kib()}


def run_grid(quick: bool) -> None:
    sizes = [10**5, 10**6] if quick else [10**5, 10**6, 10**7]
    print()
    print("== Part 1: memory-bounded Monkhorst-Pack grid, 2D N=2 model, iter_band_geometry "
          f"(chunk {MP_CHUNK}, inverse_mass=False) ==")
    print("   Each size runs in a fresh subprocess, started before the dense benchmarks: Linux carries a")
    print("   parent's ru_maxrss over fork+exec, so a parent that had already run Part 2 would mask the child's.")
    print("   The grid is generated chunk by chunk; the run accumulates C0 = (1/2pi) * BZ integral of Omega_xy")
    print("   of band 0. ru_maxrss = process peak RSS; increase = peak - baseline just before the run;")
    print("   VmHWM = the same from /proc/self/status (peak of the process image only).")
    print(f"   {'points':>10s}{'grid':>12s}{'chunks':>7s}{'seconds':>9s}{'k/s':>10s}{'C0':>11s}"
          f"{'maxrss base':>12s}{'peak':>7s}{'incr.':>7s}{'VmHWM incr.':>12s}  (MiB)")
    results = []
    for npts in sizes:
        out = subprocess.run([sys.executable, os.path.abspath(__file__), "--mp-worker", str(npts),
                              "--chunk", str(MP_CHUNK)], capture_output=True, text=True, check=True)
        r = json.loads(out.stdout.strip().splitlines()[-1])
        results.append(r)
        mib = lambda kib: kib / 1024                                   # noqa: E731
        hwm = (f"{mib(r['peak_hwm_kib'] - r['base_hwm_kib']):12.1f}" if r["base_hwm_kib"] >= 0 else f"{'n/a':>12s}")
        print(f"   {r['points']:>10d}{r['n']:>6d}x{r['n']:<5d}{r['chunks']:>7d}{r['seconds']:9.2f}"
              f"{r['points'] / r['seconds']:10.3g}{r['chern0']:11.6f}{mib(r['base_kib']):12.1f}"
              f"{mib(r['peak_kib']):7.1f}{mib(r['peak_kib'] - r['base_kib']):7.1f}{hwm}")
    inc = [(r["peak_kib"] - r["base_kib"]) / 1024 for r in results]
    full_grid_mib = results[-1]["points"] * 2 * 8 / 2**20
    print(f"   peak increase {inc[0]:.1f} MiB at {results[0]['points']:.1e} points vs {inc[-1]:.1f} MiB at "
          f"{results[-1]['points']:.1e} points (the full k array alone would be {full_grid_mib:.0f} MiB): "
          f"{'bounded' if inc[-1] <= inc[0] + 16 else 'GROWS WITH GRID SIZE'}")


# ------------------------------------------------------------------------------------------- main

def main(argv=None) -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--quick", action="store_true",
                   help="fewer repeats, no sub-batch sweep or pair-sum crossover, grid up to 1e6 points "
                        "instead of 1e7")
    p.add_argument("--threads", "--blas-threads", type=int, default=1, dest="threads",
                   help="BLAS threads (default 1; 0 = library default): threadpoolctl if installed, else "
                        "OMP/OPENBLAS/MKL_NUM_THREADS set before numpy is imported")
    p.add_argument("--clock", choices=("auto", "wall", "cpu"), default="auto",
                   help="clock of the dense timings: wall (perf_counter) or this process's CPU time "
                        "(process_time, not inflated when other processes share the cores; meaningful only "
                        "single-threaded). auto (default): cpu with --threads 1, else wall")
    p.add_argument("--mp-worker", type=int, default=None, help=argparse.SUPPRESS)
    p.add_argument("--chunk", type=int, default=MP_CHUNK, help=argparse.SUPPRESS)
    args = p.parse_args(argv)
    if args.mp_worker is not None:
        print(json.dumps(mp_worker(args.mp_worker, args.chunk)))
        return
    global CLOCK
    clock = args.clock if args.clock != "auto" else ("cpu" if args.threads == 1 else "wall")
    if clock == "cpu" and args.threads != 1:
        p.error("--clock cpu sums the CPU time of all BLAS threads: use it with --threads 1")
    CLOCK = time.process_time if clock == "cpu" else time.perf_counter
    t0 = time.perf_counter()
    print("qkinetics band-geometry benchmark" + (" (--quick)" if args.quick else ""))
    print_environment()
    print("dense timings (Parts 2-4) by " + ("this process's CPU time (time.process_time): with one BLAS thread "
          "it equals the wall time on an idle machine and is not inflated by time-slicing with other processes"
          if clock == "cpu" else "wall time (time.perf_counter)") + "; grid timings (Part 1) by wall time")
    run_grid(args.quick)
    run_dense(args.quick)
    if not args.quick:
        run_subbatch_sweep()
        run_pair_sum_crossover()
    print(f"\ntotal wall time {time.perf_counter() - t0:.1f} s")


if __name__ == "__main__":
    main()
