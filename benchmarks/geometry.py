"""Throughput and memory benchmark of the band-geometry kernel.

Run as ``python benchmarks/geometry.py [--quick]``.

Part 1 (memory-bounded grid): ``iter_band_geometry`` over a Monkhorst-Pack grid for the N = 2 model,
generated chunk by chunk (the full grid array is never built), accumulating the BZ integral of the
Berry curvature of band 0 (its Chern number). Each grid size runs in a fresh subprocess, started
before Part 2 (Linux carries the parent's ``ru_maxrss`` over fork+exec), so that the peak resident
memory (``resource.getrusage().ru_maxrss``) of one size is not hidden by another run; the peak must not
grow with the grid size. Default sizes 1e5, 1e6, 1e7 points; ``--quick``: 1e5, 1e6.

Part 2 (dense batches): for random Hermitian tight-binding models with N = 2, 8, 32 bands in 2D
(and N = 8 in 3D) it times, on the same batch of k points,

* ``eigh``          the bare batched ``np.linalg.eigh`` of the H(k) matrices (the floor),
* ``H(k)+eigh``     H(k) construction (``model.hamiltonian(k, 0)``) plus ``eigh``,
* ``H,dH,d2H``      H(k) construction up to second derivatives (``model.hamiltonian(k, 2)``), for reference,
* ``geo(H,dH)``     ``geometry_from_hamiltonian(H, dH)``: energies, velocity, Berry curvature, quantum
                    metric and normalized metric ("geometry without derivatives"),
* ``geo(+d2H)``     the same with d2H (adds the inverse mass),
* ``geo(deriv)``    the same with ``derivatives=True``,
* ``band_geometry`` ``band_geometry(model, k, derivatives=True)`` including the H(k) construction,

as k points per second (best of several repeats after a warm-up) and as the ratio of the time to the
``eigh`` floor. Target: for N >= 8, geometry without derivatives within 2x of the floor.

Part 3 (default run only): time per k point against the batch size, for N = 8 and N = 32.

``--blas-threads N`` sets OMP/OPENBLAS/MKL_NUM_THREADS before numpy is imported (small matrices are often
faster single-threaded). threadpoolctl, if installed, reports the BLAS thread pools.
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


def _preset_blas_threads(argv) -> None:
    """``--blas-threads N`` must act before numpy loads its BLAS: set the thread env vars now."""
    for i, a in enumerate(argv):
        value = a.split("=", 1)[1] if a.startswith("--blas-threads=") else (
            argv[i + 1] if a == "--blas-threads" and i + 1 < len(argv) else None)
        if value is not None:
            for var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
                os.environ[var] = value


_preset_blas_threads(sys.argv[1:])

import numpy as np  # noqa: E402

import qkinetics as qk  # noqa: E402
from qkinetics.geometry import band_geometry, geometry_from_hamiltonian, iter_band_geometry  # noqa: E402

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
    try:
        from threadpoolctl import threadpool_info
    except ImportError:
        print("threadpoolctl: not installed (thread pools not reported)")
    else:
        for pool in threadpool_info():
            print(f"threadpoolctl: {pool.get('internal_api')} {pool.get('version')} "
                  f"num_threads={pool.get('num_threads')} "
                  f"arch={pool.get('architecture')} lib={os.path.basename(pool.get('filepath', ''))}")


# -------------------------------------------------------------------------------- dense batches

def best_time(fn, min_repeat: int = 3, max_repeat: int = 10, budget: float = 1.5, warmup: int = 1) -> float:
    """Best wall time of ``fn()`` over at least ``min_repeat`` runs (more, up to ``max_repeat``, while the
    total stays under ``budget`` seconds), after ``warmup`` untimed runs."""
    for _ in range(warmup):
        fn()
    best, spent, n = np.inf, 0.0, 0
    while n < min_repeat or (n < max_repeat and spent < budget):
        t = time.perf_counter()
        fn()
        dt = time.perf_counter() - t
        best, spent, n = min(best, dt), spent + dt, n + 1
    return best


def peak_alloc(fn) -> float:
    """Peak memory (bytes) allocated through Python/numpy allocators during one call of ``fn``."""
    tracemalloc.start()
    try:
        fn()
        return tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()


CASES = ["eigh", "H(k)+eigh", "H,dH,d2H", "geo(H,dH)", "geo(+d2H)", "geo(deriv)", "band_geo(basic)",
         "band_geometry"]


def dense_cases(model, nk: int, seed: int = 1) -> dict:
    rng = np.random.default_rng(seed)
    k = model.k_from_reduced(rng.random((nk, model.dim)))
    H, dH, d2H = model.hamiltonian(k, 2)
    # H is a strided view into the order-2 buffer: give the floor and geometry the same contiguous copy.
    H = np.ascontiguousarray(H)
    return {
        "eigh": lambda: np.linalg.eigh(H),
        "H(k)+eigh": lambda: np.linalg.eigh(model.hamiltonian(k, 0)[0]),
        "H,dH,d2H": lambda: model.hamiltonian(k, 2),
        "geo(H,dH)": lambda: geometry_from_hamiltonian(H, dH),
        "geo(+d2H)": lambda: geometry_from_hamiltonian(H, dH, d2H),
        "geo(deriv)": lambda: geometry_from_hamiltonian(H, dH, d2H, derivatives=True),
        "band_geo(basic)": lambda: band_geometry(model, k, inverse_mass=False),
        "band_geometry": lambda: band_geometry(model, k, derivatives=True),
    }


def run_dense(quick: bool) -> None:
    timing = dict(min_repeat=2, max_repeat=5, budget=0.5) if quick else dict(min_repeat=3, max_repeat=10, budget=1.5)
    configs = [(2, 2, 4096), (8, 2, 4096), (32, 2, 1024), (8, 3, 4096)]
    print()
    print("== Part 2: dense batches: k points per second, best of {min_repeat}..{max_repeat} runs "
          "(more while under {budget} s) after 1 warm-up ==".format(**timing))
    print("   ratio = time / eigh time.  H,dH,d2H = model.hamiltonian(k, 2) alone (reference).")
    print("   band_geometry = band_geometry(model, k, derivatives=True), H(k) construction included.")
    print("   band_geo(basic) = band_geometry(model, k, inverse_mass=False): energies, velocity, Omega, g, G,")
    print("   H(k) construction and the library's cache-sized sub-batches included; compare with H(k)+eigh.")
    print("   alloc = peak memory allocated during one call (tracemalloc), MiB per batch and KiB per k point.")
    verdicts = []
    for norb, dim, nk in configs:
        model = random_model(norb, dim)
        cases = dense_cases(model, nk)
        times = {name: best_time(fn, **timing) for name, fn in cases.items()}
        allocs = {name: peak_alloc(fn) for name, fn in cases.items()}
        floor = times["eigh"]
        print(f"\n-- {dim}D N={norb:<3d} batch {nk} k, {len(model.hoppings)} hopping vectors --")
        print(f"   {'step':<15s}{'k/s':>11s}{'us/k':>10s}{'ratio':>8s}{'alloc MiB':>11s}{'KiB/k':>8s}")
        for name in CASES:
            t, a = times[name], allocs[name]
            print(f"   {name:<15s}{nk / t:11.3g}{1e6 * t / nk:10.2f}{t / floor:8.2f}"
                  f"{a / 2**20:11.1f}{a / 1024 / nk:8.1f}")
        if norb >= 8:
            verdicts.append((dim, norb, times["geo(H,dH)"] / floor,
                             times["band_geo(basic)"] / times["H(k)+eigh"],
                             times["band_geometry"] / times["H(k)+eigh"]))
    print(f"\nTarget: for N >= 8, geometry without derivatives within {TARGET_RATIO:g}x of the floor")
    print("   (a) geo(H,dH) / eigh of the same batch   (b) band_geo(basic) / (H(k)+eigh)   "
          "(c) with derivatives, band_geometry / (H(k)+eigh)")
    for dim, norb, r, rb, rd in verdicts:
        print(f"   {dim}D N={norb:<3d} (a) {r:5.2f} {'MET' if r <= TARGET_RATIO else 'NOT MET':8s}"
              f"(b) {rb:5.2f} {'MET' if rb <= TARGET_RATIO else 'NOT MET':8s}(c) {rd:5.2f}")


def run_batch_sweep() -> None:
    """us per k point vs batch size: large batches make every temporary a fresh mmap (page faults) and
    fall out of cache; small batches pay per-call overhead."""
    timing = dict(min_repeat=3, max_repeat=10, budget=0.5)
    print()
    print("== Part 3: batch-size dependence (2D; us per k point, ratio to eigh of the same batch) ==")
    print(f"   {'N':>3s}{'batch':>7s}{'eigh':>9s}{'geo(H,dH)':>11s}{'ratio':>7s}{'geo(deriv)':>12s}{'ratio':>7s}")
    for norb, batches in ((8, (256, 2048, 16384)), (32, (64, 256, 1024))):
        model = random_model(norb, 2)
        for nk in batches:
            cases = dense_cases(model, nk)
            t = {name: best_time(cases[name], **timing) / nk * 1e6 for name in ("eigh", "geo(H,dH)", "geo(deriv)")}
            print(f"   {norb:3d}{nk:7d}{t['eigh']:9.2f}{t['geo(H,dH)']:11.2f}{t['geo(H,dH)'] / t['eigh']:7.2f}"
                  f"{t['geo(deriv)']:12.2f}{t['geo(deriv)'] / t['eigh']:7.2f}")


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
                   help="fewer repeats, no batch-size sweep, grid up to 1e6 points instead of 1e7")
    p.add_argument("--blas-threads", type=int, default=None,
                   help="set OMP/OPENBLAS/MKL_NUM_THREADS before numpy is imported (default: leave as is)")
    p.add_argument("--mp-worker", type=int, default=None, help=argparse.SUPPRESS)
    p.add_argument("--chunk", type=int, default=MP_CHUNK, help=argparse.SUPPRESS)
    args = p.parse_args(argv)
    if args.mp_worker is not None:
        print(json.dumps(mp_worker(args.mp_worker, args.chunk)))
        return
    t0 = time.perf_counter()
    print("qkinetics band-geometry benchmark" + (" (--quick)" if args.quick else ""))
    print_environment()
    run_grid(args.quick)
    run_dense(args.quick)
    if not args.quick:
        run_batch_sweep()
    print(f"\ntotal wall time {time.perf_counter() - t0:.1f} s")


if __name__ == "__main__":
    main()
