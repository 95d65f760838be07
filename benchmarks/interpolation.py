"""Where the time goes per k point in Wannier interpolation, for 18 to 100 Wannier functions.

Run from the repository root:
    python benchmarks/interpolation.py [--quick] [--norb 18 36 64 100] [--nR 125]

One BLAS thread, CPU time of this process (other jobs on a shared machine slow it less than wall
time; contention for caches and memory bandwidth still shows). Every stage is timed round-robin
(one call of each stage per round, the best of several rounds) over the same k points, in the
sub-batches ``band_geometry`` itself uses, so that the arrays are cache-sized as in a real run.

Models: the bcc Fe Wannier model (``tests/data/wannier90/fe/Fe.win``: 18 Wannier functions, 15 R
vectors, full position matrix) and random models with ``--norb`` Wannier functions on a cubic
lattice with the ``--nR`` lattice vectors nearest the origin (125: all of [-2, 2]^3), hoppings
decaying as exp(-|R|), a random Hermitian position matrix with the same R vectors.

Part 1, stages of ``band_geometry`` (what ``qk.conductivity`` computes per k point), in µs per k:

* ``F(H)``      Fourier sums of H, ∂H, ∂∂H (``model.hamiltonian(k, 2)``),
* ``F(A)``      Fourier sums of the Wannier-gauge connection A^W and ∂A^W (``model.wannier_connection(k, 1)``),
* ``F(H+A)``    H, ∂H, ∂∂H, A^W and its curl from one product (``model.interpolate(k, 2, connection="curl")``,
                what ``band_geometry`` uses for a model with a position matrix),
* ``eigh``      the batched ``np.linalg.eigh`` of H(k) (the floor),
* ``geometry``  ``geometry_from_hamiltonian`` less its ``eigh``: rotations to the eigenbasis, band-pair
                sums, Wannier curvature (with ∂∂H: inverse mass; given dA, whose curl it forms),
* ``total``     ``band_geometry(model, k)`` end to end (Fourier sums included, as the library runs them),
* ``no mass``   ``band_geometry(model, k, inverse_mass=False)`` end to end (what the Drude term and the
                Berry curvature dipole need),
* ``Omega only`` ``band_geometry(model, k, inverse_mass=False, quantities=("berry_curvature",))``: what the
                anomalous Hall conductivity computes (``Mechanism.needs_quantities``).

Part 2, Fourier sums on a uniform grid, µs per k point: H, ∂H and A^W as the library sums them
(batched real matrix products), against a fast Fourier transform of the real-space matrices onto
the whole n^3 grid (``scipy.fft``; H, ∂_a H = FFT of i R_a H(R), A likewise). The FFT needs the whole
grid (or sub-grid blocks, WannierBerri's approach) and ignores the irreducible wedge; the product
works on any chunk of any k points.
"""

from __future__ import annotations

import os

for _var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ[_var] = "1"

import argparse  # noqa: E402
import time  # noqa: E402
from itertools import product  # noqa: E402
from pathlib import Path  # noqa: E402

import numpy as np  # noqa: E402
import scipy.fft  # noqa: E402

import qkinetics as qk  # noqa: E402
from qkinetics import geometry as G  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
FE_WIN = ROOT / "tests/data/wannier90/fe/Fe.win"
CLOCK = time.process_time


def random_wannier_model(norb: int, nR: int, seed: int = 0) -> qk.TightBinding:
    """Random Wannier-like model: cubic lattice (a = 3 Å), the nR lattice vectors nearest the origin (closed
    under R -> -R), hoppings and position matrix decaying as exp(-|R|), random Wannier centres."""
    rng = np.random.default_rng(seed + norb)
    a = 3.0
    span = int(np.ceil(nR ** (1 / 3))) + 1
    Rs = sorted(product(range(-span, span + 1), repeat=3), key=lambda R: (np.dot(R, R), R))
    keep, seen = [], set()
    for R in Rs:                                          # nearest first, partners together
        if R in seen:
            continue
        mR = tuple(-x for x in R)
        keep += [R] if R == mR else [R, mR]
        seen.update((R, mR))
        if len(keep) >= nR:
            break
    pos = rng.random((norb, 3))

    def cmat(scale):
        return scale * (rng.normal(size=(norb, norb)) + 1j * rng.normal(size=(norb, norb)))

    hop, rmat = {}, {}
    for R in keep:
        if R in hop:
            continue
        mR = tuple(-x for x in R)
        s = np.exp(-np.linalg.norm(R))
        t = cmat(s)
        r = np.stack([cmat(0.1 * s) for _ in range(3)])
        if R == mR:
            t = (t + t.conj().T) / 2
            r = (r + r.conj().swapaxes(-1, -2)) / 2
            r[:, range(norb), range(norb)] = (pos * a).T
        hop[R], rmat[R] = t, r
        hop[mR], rmat[mR] = t.conj().T, r.conj().swapaxes(-1, -2)
    return qk.TightBinding(a * np.eye(3), pos, hop, position_matrix=rmat, name=f"random N={norb} nR={len(hop)}")


def best_round_robin(cases: dict, rounds: int) -> dict:
    """Best CPU time of each case, one call of each per round (load bursts hit all alike); one warm-up."""
    for fn in cases.values():
        fn()
    best = dict.fromkeys(cases, np.inf)
    for _ in range(rounds):
        for name, fn in cases.items():
            t = CLOCK()
            fn()
            best[name] = min(best[name], CLOCK() - t)
    return best


def stages(model, nk: int, rounds: int) -> dict:
    """µs per k point of each stage of band_geometry (module docstring), on nk random k points."""
    rng = np.random.default_rng(1)
    k = model.k_from_reduced(rng.random((nk, 3)))
    step = G._subbatch_size(3, model.norb, False)
    sub = [k[i:i + step] for i in range(0, nk, step)]
    Hs = [model.hamiltonian(kb, order=2) for kb in sub]
    conns = [model.wannier_connection(kb, order=1) for kb in sub]

    def geometry():
        for (H, dH, d2H), conn in zip(Hs, conns):
            G.geometry_from_hamiltonian(H, dH, d2H, connection=conn)

    def each(fn, items):                      # results dropped at once, as band_geometry drops its sub-batches
        for x in items:
            fn(x)

    cases = {
        "F(H)": lambda: each(lambda kb: model.hamiltonian(kb, order=2), sub),
        "F(A)": lambda: each(lambda kb: model.wannier_connection(kb, order=1), sub),
        "F(H+A)": lambda: each(lambda kb: model.interpolate(kb, 2, connection="curl"), sub),
        "eigh": lambda: each(lambda H: np.linalg.eigh(H[0]), Hs),
        "geometry": geometry,
        "total": lambda: G.band_geometry(model, k),
        "no mass": lambda: G.band_geometry(model, k, inverse_mass=False),
        "Omega only": lambda: G.band_geometry(model, k, inverse_mass=False, quantities=("berry_curvature",)),
    }
    best = best_round_robin(cases, rounds)
    out = {name: 1e6 * t / nk for name, t in best.items()}
    out["geometry"] -= out["eigh"]
    return out


def fourier_fft_vs_product(model, n: int, rounds: int) -> tuple:
    """µs per k point of H, ∂H, A^W on the n^3 Γ-centred grid: the library's sums against an FFT of the grid."""
    N, d = model.norb, 3
    idx = np.array(list(product(range(n), repeat=3)))
    k = model.k_from_reduced(idx / n)
    step = G._subbatch_size(3, N, False)
    lat = model.with_convention("lattice")               # the FFT gives the periodic ("lattice") gauge
    Rred = np.array(list(lat.hoppings), dtype=int)
    Rcart = Rred @ lat.lattice
    t = np.array([lat.hoppings[tuple(R)] for R in Rred])                    # (nR, N, N)
    r = np.array([lat.position_matrix[tuple(R)] for R in Rred])             # (nR, 3, N, N)
    comps = np.concatenate([t[:, None], 1j * Rcart[:, :, None, None] * t[:, None], r], axis=1)   # (nR, 7, N, N)
    # sum_R e^{2 pi i j.R/n} X_R: fold R mod n onto the grid, inverse FFT (numpy's ifft has +i and 1/n)
    # (components, n, n, n): each transform contiguous; then one transpose to (k, components)
    flat = np.ravel_multi_index(tuple((Rred % n).T), (n, n, n))
    cols = comps.reshape(len(Rred), -1).T                                   # (7 N N, nR)
    folded = np.zeros((7 * N * N, n ** 3), dtype=complex)

    def fft():
        folded[...] = 0.0
        for j, f in enumerate(flat):                                        # R vectors that alias add up
            folded[:, f] += cols[:, j]
        out = scipy.fft.ifftn(folded.reshape(-1, n, n, n), axes=(1, 2, 3))
        return np.ascontiguousarray(out.reshape(-1, n ** 3).T) * n**3

    def library():
        for i in range(0, len(k), step):
            lat.hamiltonian(k[i:i + step], order=1)
            lat.wannier_connection(k[i:i + step], order=0)

    best = best_round_robin({"product": library, "fft": fft}, rounds)
    # same numbers: H(k) from the FFT against the library at a few grid points
    grid = fft().reshape(n ** 3, 7, N, N)
    pick = np.arange(0, n ** 3, max(1, n ** 3 // 7))
    H_lib = lat.hamiltonian(k[pick], order=0)[0]
    err = np.abs(grid[pick, 0] - H_lib).max() / np.abs(H_lib).max()
    return 1e6 * best["product"] / n**3, 1e6 * best["fft"] / n**3, err


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true", help="smoke test: small batches, N = 18 and 36 only")
    ap.add_argument("--norb", type=int, nargs="+", default=[36, 64, 100])
    ap.add_argument("--nR", type=int, default=125, help="lattice vectors of the random models")
    ap.add_argument("--rounds", type=int, default=3)
    args = ap.parse_args()
    if args.quick:
        args.norb, args.rounds = [36], 1
    print(f"One BLAS thread, CPU time, best of {args.rounds} round-robin rounds; load average {os.getloadavg()}")
    models = [qk.read_wannier90(str(FE_WIN))]
    models[0].name = "bcc Fe (Wannier90 run)"
    models += [random_wannier_model(N, args.nR) for N in args.norb]

    print("\nPart 1: band_geometry stages, µs per k point (share of 'total' in brackets)")
    names = ["F(H)", "F(A)", "F(H+A)", "eigh", "geometry", "total", "no mass", "Omega only"]
    print(f"{'model':<28} {'N':>4} {'nR':>4} " + " ".join(f"{n:>13}" for n in names))
    for model in models:
        nk = max(256, int((2048 if not args.quick else 512) * (18 / model.norb) ** 2))
        s = stages(model, nk, args.rounds)
        cells = [f"{s[n]:8.1f} ({100 * s[n] / s['total']:2.0f}%)" if n not in ("total", "no mass", "Omega only")
                 else f"{s[n]:13.1f}" for n in names]
        print(f"{model.name:<28} {model.norb:>4} {len(model.hoppings):>4} " + " ".join(cells), flush=True)
    print("    (the stages are timed apart; 'total' runs them together, and its Fourier sums on smaller batches)")

    print("\nPart 2: Fourier sums of H, ∂H, A^W on a uniform n^3 grid, µs per k point")
    print(f"{'model':<28} {'n':>4} {'product':>9} {'FFT':>9} {'FFT err':>9}")
    for model in models[:2]:                 # the whole grid is held at once: (n^3, 7 N^2) complex numbers
        for n in ([8] if args.quick else [8, 16] if model.norb <= 18 else [8, 12]):
            prod_t, fft_t, err = fourier_fft_vs_product(model, n, args.rounds)
            print(f"{model.name:<28} {n:>4} {prod_t:>9.2f} {fft_t:>9.2f} {err:>9.1e}", flush=True)
    print(f"\nload average at the end {os.getloadavg()}")


if __name__ == "__main__":
    main()
