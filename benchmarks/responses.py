"""Response benchmarks: time to 1e-3 relative accuracy, and the cost of a chemical-potential sweep.

Run:  python benchmarks/responses.py [--quick]

1. Anomalous Hall conductivity of the Haldane model, mu in the gap and mu in a band: the grid is
   doubled until two successive grids agree to 1e-3 relative; prints the grid, the time and the
   value in units of e^2/h.
2. Berry curvature dipole of a tilted massive Dirac model at 10 K, same procedure.
3. A sweep over 201 chemical potentials against a single one on the same grid (target < 1.5x):
   one mechanism, then every mechanism of order 1 and of order 2 (mechanisms="all"), and a
   201 mu x 30 T sweep of every order-2 mechanism against a single (mu, T) point.
"""

from __future__ import annotations

import argparse
import time

import numpy as np

import qkinetics as qk
from qkinetics import units
from qkinetics.integrate import KGrid, integrate_mechanisms
from qkinetics.responses import available_mechanisms, mechanisms_by_name


def converge(model, mech, component, mu, T, n0, nmax, tol=1e-3):
    """Double the grid from n0 until successive values agree to tol; returns (n, seconds, value, rel)."""
    t0 = time.perf_counter()
    prev, n = None, n0
    while n <= nmax:
        res = integrate_mechanisms(model, [mech], KGrid(model, n), mu, T, warn=False)
        val = res.values[mech.name][(0, 0) + component]
        if prev is not None:
            rel = abs(val - prev) / max(abs(val), 1e-300)
            if rel < tol:
                return n, time.perf_counter() - t0, val, rel
        prev, n = val, 2 * n
    return n // 2, time.perf_counter() - t0, prev, float("nan")


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--quick", action="store_true", help="smaller grids (for a smoke test)")
    args = parser.parse_args()
    mechs = available_mechanisms()
    nmax = 800 if args.quick else 3200
    print(f"qkinetics {qk.__version__}  numpy {np.__version__}")

    print("\n== 1. Anomalous Hall conductivity, Haldane (t2 = 0.1, phi = pi/2, M = 0.2), tolerance 1e-3 ==")
    haldane = qk.zoo.haldane(t2=0.1, phi=np.pi / 2, mass=0.2)
    ahe = mechs["anomalous_hall"]
    to_e2h = ahe.prefactor(2, 1e-13, 0.0, "linear") / units.e2_over_h
    for label, mu, T in (("mu in gap  ", 0.0, 10.0), ("mu in band ", 1.2, 100.0), ("mu in band ", 1.2, 10.0)):
        n, sec, val, rel = converge(haldane, ahe, (0, 1), mu, T, 25, nmax)
        print(f"   {label} mu = {mu:4.1f} eV, T = {T:5.1f} K: grid {n:5d}^2, {sec:7.2f} s, "
              f"sigma_xy = {np.real(val * to_e2h):+.6f} e^2/h (last change {rel:.1e})")

    print("\n== 2. Berry curvature dipole, tilted massive Dirac (v = 1 eV A, m = 0.1 eV, tilt = 0.1 eV A), 10 K ==")
    dirac = qk.zoo.massive_dirac(v=1.0, mass=0.1, tilt=0.1, kcut=0.5)
    bcd = mechs["berry_curvature_dipole"]
    n, sec, val, rel = converge(dirac, bcd, (1, 0, 0), 0.2, 10.0, 50, 4 * nmax)
    print(f"   mu = 0.2 eV: grid {n:5d}^2 inside kcut, {sec:7.2f} s, band integral (yxx) = {np.real(val):+.6e} "
          f"(last change {rel:.1e})")

    print("\n== 3. Sweep over chemical potential (and temperature) vs a single point, same grid ==")
    mus, Ts = np.linspace(-1, 1, 201), np.linspace(10.0, 300.0, 30)
    all1, all2 = mechanisms_by_name("all", 1, False), mechanisms_by_name("all", 2, False)
    scale = 2 if args.quick else 1
    for model, mech, n in ((haldane, ahe, 400 // scale), (dirac, bcd, 600 // scale)):
        grid = KGrid(model, n)
        for label, ms, sweep_T, target in ((mech.name, [mech], 100.0, 1.5),
                                           (f"all order 1 ({len(all1)} mechanisms)", all1, 100.0, 1.5),
                                           (f"all order 2 ({len(all2)} mechanisms)", all2, 100.0, 1.5),
                                           (f"all order 2 ({len(all2)} mechanisms)", all2, Ts, None)):
            one = _timed(lambda: integrate_mechanisms(model, ms, grid, 0.2, 100.0, warn=False))
            many = _timed(lambda: integrate_mechanisms(model, ms, grid, mus, sweep_T, warn=False))
            print(f"   {model.name:14s} {label:28s} grid {n}: single {one:6.2f} s, "
                  f"{mus.size} mu x {np.size(sweep_T):2d} T {many:6.2f} s, ratio {many / one:5.2f}"
                  + (f" (target < {target})" if target else ""))


def _timed(fn, repeat=2):
    """Best wall time of ``repeat`` calls (seconds)."""
    best = np.inf
    for _ in range(repeat):
        t0 = time.perf_counter()
        fn()
        best = min(best, time.perf_counter() - t0)
    return best


if __name__ == "__main__":
    main()
