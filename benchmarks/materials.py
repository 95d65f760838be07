"""Real-material benchmark: bcc Fe anomalous Hall conductivity, qkinetics against WannierBerri.

Run from the repository root:
    python benchmarks/materials.py [--quick] [--grids 12 24 48] [--T 0] [--workers 2]

Both codes run on the same cores with one BLAS/OpenMP thread each (the variables are set here
before numpy is imported and passed on to the WannierBerri subprocess), interleaved in one run
(qkinetics, then WannierBerri, on each grid and symmetry setting) so that the load of other
processes falls on both alike. The main output is the ratio WannierBerri time / qkinetics time
(CPU seconds of the process; wall seconds in brackets).

Input. qkinetics builds the model from the raw Wannier90 run (``tests/data/wannier90/fe/Fe.win``
with Fe.eig, Fe.mmn, Fe.chk.fmt: 18 Wannier functions, full position matrix, as postw90).
WannierBerri reads ``Fe_tb.dat`` written by the same Wannier90 run
(``tests/data/wannier90/reference/Fe_tb.dat.bz2``). WannierBerri's own construction from the .chk
(``System_w90``) is not used: it gives a different model (sigma_xy = -349.8 S/cm on 10^3, against
1222.15 S/cm from postw90). Not traced; a likely cause is that it always applies its minimal-distance
R-vector scheme while this run sets ``use_ws_distance = .false.``, on a coarse 2x2x2 ab-initio mesh.

Grids are Γ-centred n^3. WannierBerri splits n = NKdiv * NKFFT itself (its default choice is
printed); its symmetry reduction acts on the NKdiv grid of FFT blocks. qkinetics uses the wedge of
4/mm'm' found by ``find_symmetry(model, tol=1e-3)`` (the Wannier fit breaks the group at 1e-5-1e-4,
see docs/performance.md); WannierBerri is given the generators C4z, Inversion, T*C2x.

Temperature. At T = 0 both codes sum the Berry curvature of the occupied states. At T > 0
qkinetics puts the Fermi function in the integrand; WannierBerri computes sigma(E) at T = 0 on
``--wb-energies`` energies within 10 k_B T of mu and convolves it with -df/dE (its FermiDiracSmoother),
the usual way to get finite T from it. The energy step must resolve the steps of sigma(E) on the
grid: at 24^3 and 300 K, 201 energies (step kT/10) give 1086.3 S/cm, 801 give 1275.9, 3201 give 1281.0,
against qkinetics' 1281.7 (Fermi function in the integrand); hence the default 3201.

Sections: (1) time per k point and sigma_xy of both codes, full zone and wedge; (2) the grid and
time needed for a 1e-3 relative sigma_xy against the finest qkinetics wedge grid;
(3) qkinetics with 2 worker processes; (4) a cProfile of qkinetics per k point (Fourier sums, eigh,
rotations to the eigenbasis, Berry-curvature sums, the rest); (5) ``bcd``: time to a 1e-3 Berry curvature
dipole of a tilted 3D Weyl model at 300 K and 30 K, qkinetics against WannierBerri's Fermi-sea and
Fermi-surface calculators (run plans per temperature in ``BCD_PLAN``); (6) ``dask``: strong scaling of
the Dask backend on 1 and 2 LocalCluster workers, with the workers' user/system CPU and page faults.

WannierBerri is not a dependency of qkinetics: it is looked up in ``$QK_WANNIERBERRI_PYTHON`` or
``/work/wbenv/bin/python`` (a venv with wannierberri, fortio and numba) and its side is skipped
with a message when neither exists.
"""

from __future__ import annotations

import os

for _var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS", "NUMBA_NUM_THREADS"):
    os.environ[_var] = "1"

import argparse  # noqa: E402
import bz2  # noqa: E402
import cProfile  # noqa: E402
import json  # noqa: E402
import pstats  # noqa: E402
import shutil  # noqa: E402
import subprocess  # noqa: E402
import sys  # noqa: E402
import tempfile  # noqa: E402
import time  # noqa: E402
from pathlib import Path  # noqa: E402

import numpy as np  # noqa: E402

import qkinetics as qk  # noqa: E402
from qkinetics.symmetry import find_symmetry  # noqa: E402

T = 0.0               # K; set by --T
ROOT = Path(__file__).resolve().parents[1]
FE_WIN = ROOT / "tests/data/wannier90/fe/Fe.win"
FE_TB = ROOT / "tests/data/wannier90/reference/Fe_tb.dat.bz2"
MU = 12.6279          # eV, the Fermi level of the Wannier90 run
TO_S_PER_CM = 1e-2    # both codes return S/m

WB_DRIVER = r'''
import json, sys, time, warnings
import numpy as np
warnings.filterwarnings("ignore")
import wannierberri as wb
from wannierberri.system.system_tb import get_system_tb
tb, mu, work, T, nE = sys.argv[1], float(sys.argv[2]), sys.argv[3], float(sys.argv[4]), int(sys.argv[5])
if T > 0:   # sigma(mu, T) = convolution of the T = 0 sigma(E) with -df/dE on a fine E grid
    kT = T * 8.617333262e-5
    E = mu + kT * np.linspace(-10.0, 10.0, nE)
    imu, smoother = nE // 2, wb.smoother.FermiDiracSmoother(E, T_Kelvin=T, maxdE=10)
else:
    E, imu, smoother = np.array([mu]), 0, None
full = get_system_tb(tb, berry=True)
wedge = get_system_tb(tb, berry=True)
wedge.set_pointgroup(symmetry_gen=["C4z", "Inversion", "TimeReversal*C2x"])
print(json.dumps({"ready": True}), flush=True)
for line in sys.stdin:
    req = json.loads(line)
    system = wedge if req["symmetry"] else full
    grid = wb.Grid(system, NK=req["n"])
    calc = {"ahc": wb.calculators.static.AHC(Efermi=E, smoother=smoother)}
    t0, c0 = time.perf_counter(), time.process_time()
    res = wb.run(system, grid=grid, calculators=calc, use_irred_kpt=req["symmetry"],
                 symmetrize=req["symmetry"], parallel=False, print_Kpoints=False,
                 fout_name=work + "/wb", print_progress_step_time=1e9)
    wall, cpu = time.perf_counter() - t0, time.process_time() - c0
    r = res.results["ahc"]
    ahc = np.asarray(r.dataSmooth if smoother else r.data).reshape(-1, 3)[imu]
    print(json.dumps({"wall": wall, "cpu": cpu, "sigma_xy": float(ahc[2]),
                      "div": [int(x) for x in grid.div], "fft": [int(x) for x in grid.FFT]}), flush=True)
'''


WB_BCD_DRIVER = r'''
import json, sys, time, warnings
import numpy as np
warnings.filterwarnings("ignore")
import wannierberri as wb
from wannierberri.system.system_tb import get_system_tb
tb, mu, work = sys.argv[1], float(sys.argv[2]), sys.argv[3]
system = get_system_tb(tb, berry=True)
calculators = {"sea": wb.calculators.static.BerryDipole_FermiSea, "surf": wb.calculators.static.BerryDipole_FermiSurf}
print(json.dumps({"ready": True}), flush=True)
for line in sys.stdin:
    req = json.loads(line)
    n, nE = req["n"], req["energies"]
    kT = req["T"] * 8.617333262e-5      # D(mu, T) = D(E) at T = 0 on nE energies within 10 kT, smoothed with -df/dE
    E = mu + kT * np.linspace(-10.0, 10.0, nE)
    smoother = wb.smoother.FermiDiracSmoother(E, T_Kelvin=req["T"], maxdE=10)
    calc = {"bcd": calculators[req["calc"]](Efermi=E, smoother=smoother)}
    # Grid(NK=n) splits a 2-band nearest-neighbour model into 3^3 or 4^3 FFT blocks (NKdiv = n/4): the
    # per-block cost (result arrays and smoothing over nE energies) then dominates (4x slower at 32^3,
    # 1601 energies). Blocks of at most 48^3 points keep memory bounded.
    div = next(d for d in range(1, n + 1) if n % d == 0 and n // d <= 48)
    grid = wb.Grid(system, NKdiv=div, NKFFT=n // div)
    t0, c0 = time.perf_counter(), time.process_time()
    res = wb.run(system, grid=grid, calculators=calc, parallel=False, print_Kpoints=False,
                 fout_name=work + "/wb_bcd", print_progress_step_time=1e9)
    wall, cpu = time.perf_counter() - t0, time.process_time() - c0
    D = np.asarray(res.results["bcd"].dataSmooth).reshape(nE, 3, 3)[nE // 2]
    print(json.dumps({"wall": wall, "cpu": cpu, "D": D.tolist(), "div": div}), flush=True)
'''


class WannierBerri:
    """A persistent WannierBerri process that runs one grid per request (no start-up cost per run).

    Default: the Fe anomalous Hall driver (WB_DRIVER, with T and energies); ``driver`` gives another
    (WB_BCD_DRIVER: T, energies and calculator per request) on ``tb`` (the contents of a ``_tb.dat`` file).
    """

    def __init__(self, python: str, work: Path, T: float = 0.0, energies: int = 3201, *, driver=WB_DRIVER,
                 tb=None, mu=MU, name="wb"):
        tb_path = work / f"{name}_tb.dat"
        tb_path.write_bytes(bz2.decompress(FE_TB.read_bytes()) if tb is None else tb)
        script = work / f"{name}_driver.py"
        script.write_text(driver)
        args = [str(T), str(energies)] if driver is WB_DRIVER else []
        self.log = open(work / f"{name}_driver.log", "w")
        self.proc = subprocess.Popen([python, str(script), str(tb_path), str(mu), str(work)] + args, cwd=work,
                                     stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=self.log,
                                     text=True, env=dict(os.environ))
        self._read()

    def request(self, **req) -> dict:
        self.proc.stdin.write(json.dumps(req) + "\n")
        self.proc.stdin.flush()
        return self._read()

    def _read(self) -> dict:
        while True:   # WannierBerri prints its own messages on stdout: keep only our JSON lines
            line = self.proc.stdout.readline()
            if not line:
                raise RuntimeError(f"the WannierBerri driver died; see {self.log.name}")
            if line.startswith("{"):
                return json.loads(line)

    def run(self, n: int, symmetry: bool) -> dict:
        out = self.request(n=n, symmetry=symmetry)
        out["sigma_xy"] *= TO_S_PER_CM
        return out

    def close(self):
        self.proc.stdin.close()
        self.proc.wait()
        self.log.close()


def find_wannierberri() -> str | None:
    for python in (os.environ.get("QK_WANNIERBERRI_PYTHON"), "/work/wbenv/bin/python"):
        if python and Path(python).exists():
            return python
    return None


def qk_run(model, n: int, symmetry, **kw) -> dict:
    """sigma_xy (S/cm) and CPU/wall seconds of one qkinetics run at the benchmark's temperature."""
    t0, c0 = time.perf_counter(), time.process_time()
    res = qk.conductivity(model, mu=MU, T=T, mechanisms="anomalous_hall", kgrid=n,
                          shift=0.0, convergence=False, symmetry=symmetry, **kw)
    wall, cpu = time.perf_counter() - t0, time.process_time() - c0
    sxy = float(np.real(res["total"].sel(j="x", E1="y").squeeze())) * TO_S_PER_CM
    npts = res.attrs.get("npoints_irreducible") or n ** 3
    return {"wall": wall, "cpu": cpu, "sigma_xy": sxy, "npoints": int(npts)}


def load() -> str:
    return os.getloadavg()[0].__format__(".1f")


def section_timing(fe, group, wb, grids):
    print(f"\n(1) Time per k point of the n^3 grid (T = {T} K, mu = {MU} eV), one thread each; load {load()}")
    print("    ratio = WannierBerri / qkinetics, CPU seconds (wall in brackets)")
    hdr = f"{'n':>4} {'zone':>6} {'qk pts':>7} {'qk us/k':>8} {'WB us/k':>8} {'ratio':>13} " \
          f"{'WB NKdiv x NKFFT':>17} {'qk s_xy':>10} {'WB s_xy':>10} {'rel diff':>8}"
    print(hdr)
    rows = []
    for n in grids:
        for sym in (False, True):
            q = qk_run(fe, n, group if sym else None)
            w = wb.run(n, sym) if wb else None
            per = n ** 3
            line = f"{n:>4} {'wedge' if sym else 'full':>6} {q['npoints']:>7} {1e6 * q['cpu'] / per:>8.1f} "
            if w:
                ratio, ratio_wall = w["cpu"] / q["cpu"], w["wall"] / q["wall"]
                rel = abs(w["sigma_xy"] - q["sigma_xy"]) / abs(q["sigma_xy"])
                line += f"{1e6 * w['cpu'] / per:>8.1f} {ratio:>5.2f} ({ratio_wall:>5.2f}) " \
                        f"{'x'.join(map(str, w['div'])) + ' x ' + 'x'.join(map(str, w['fft'])):>17} " \
                        f"{q['sigma_xy']:>10.3f} {w['sigma_xy']:>10.3f} {rel:>8.1e}"
            else:
                line += f"{'-':>8} {'-':>13} {'-':>17} {q['sigma_xy']:>10.3f}"
            print(line, flush=True)
            rows.append((n, sym, q, w))
    print("    (us/k: CPU microseconds per k point of the full n^3 grid, whether or not the wedge is used)")
    return rows


def section_convergence(fe, group, timing_rows, grids, ref_n, tol=1e-3):
    print(f"\n(2) Convergence of sigma_xy at T = {T} K (qkinetics wedge); reference: n = {ref_n}; load {load()}")
    ref = qk_run(fe, ref_n, group)
    print(f"    reference sigma_xy({ref_n}^3) = {ref['sigma_xy']:.3f} S/cm "
          f"({ref['npoints']} wedge points, {ref['cpu']:.1f} s CPU)")
    reached = None
    for n in grids:
        r = qk_run(fe, n, group) if n != ref_n else ref
        err = abs(r["sigma_xy"] - ref["sigma_xy"]) / abs(ref["sigma_xy"])
        print(f"    n = {n:>4}: sigma_xy = {r['sigma_xy']:10.3f}  rel. diff. to reference {err:.1e}", flush=True)
        if err < tol and reached is None and n < ref_n:
            reached = n
    # Both codes give the same sigma_xy on the same grid (section 1), so they need the same grid
    # for a given accuracy and the ratio of times to that accuracy is the ratio of times per point.
    ratios = {}
    for sym in (False, True):
        rs = [w["cpu"] / q["cpu"] for n, s, q, w in timing_rows if s == sym and w]
        if rs:
            ratios[sym] = rs[-1]
    if reached:
        print(f"    1e-3 first reached at n = {reached} (on the grids tried)")
    else:
        print(f"    1e-3 is not reached below n = {ref_n} at T = {T} K: the Fermi-surface"
              " contributions converge slowly; the Fe AHC needs far larger grids.")
    for sym, r in ratios.items():
        print(f"    time to a given accuracy, WB / qk, {'wedge' if sym else 'full zone'} on both sides:"
              f" {r:.2f} (same grid for both, ratio of section 1 at the largest n)")
    if True in ratios and False in ratios:
        q_full = [q for n, s, q, w in timing_rows if not s][-1]
        w_wedge = [w for n, s, q, w in timing_rows if s and w][-1]
        q_wedge = [q for n, s, q, w in timing_rows if s][-1]
        print(f"    WB wedge / qk full zone: {w_wedge['cpu'] / q_full['cpu']:.2f};"
              f"  qk full / qk wedge: {q_full['cpu'] / q_wedge['cpu']:.1f}")


def section_workers(fe, group, n, workers):
    print(f"\n(3) qkinetics with {workers} worker processes, n = {n}; load {load()}"
          " (WannierBerri's parallel mode needs ray, not installed: not measured)")
    for sym in (False, True):
        s = qk_run(fe, n, group if sym else None)
        p = qk_run(fe, n, group if sym else None, executor="processes", workers=workers)
        same = "bit-identical" if p["sigma_xy"] == s["sigma_xy"] else f"differs by {abs(p['sigma_xy'] - s['sigma_xy']):.1e}"
        print(f"    {'wedge' if sym else 'full':>5}: wall speed-up serial/processes = {s['wall'] / p['wall']:.2f}"
              f" (serial {s['wall']:.2f} s wall), result {same}", flush=True)


BCD_MU = 0.02         # eV, in the tilted Weyl cones of the model below
BCD_TAU = 1e-13       # s, qkinetics' default
#: sigma_zyy = -(e^3 tau / hbar^2) D_yx (qkinetics' sigma_abc = (e^3 tau/2 hbar^2) sum int f (d_c Omega^ab + d_b Omega^ac),
#: Omega^zy = -Omega_x; WannierBerri's D_yx = int [dk] f d_y Omega_x, dimensionless): A/V^2 per unit D
WB_D_TO_SIGMA_ZYY = -(1.602176634e-19 ** 3) * BCD_TAU / 1.054571817e-34 ** 2

#: Runs of the BCD comparison per temperature: qkinetics (form, n), WannierBerri (calculator, n, energies), and the
#: reference (qkinetics, Fermi-sea form, on ``ref``^3). The grids bracket each code's 1e-3 point (measured
#: beforehand, docs/performance.md). At 300 K the Fermi-sea forms converge fastest in k (1e-3 on 32^3), but
#: WannierBerri's BerryDipole_FermiSea needs thousands of energies; its BerryDipole_FermiSurf (-f' v Omega) needs
#: 96^3. At 30 K both forms need ~128^3, and WannierBerri's sea calculator (every occupied state in Python,
#: ~1.6 ms per k point) would take an hour: not run. qkinetics' surface form runs on WannierBerri's surface grids
#: (same quantity, same grid: the column "same grid & form" checks the two codes against each other).
BCD_PLAN = {
    300.0: dict(ref=128, qk=[("sea", 24), ("sea", 32), ("sea", 48), ("surface", 96)],
                wb=[("sea", 24, 6401), ("sea", 32, 6401), ("sea", 32, 25601), ("surf", 96, 1601)]),
    30.0: dict(ref=192, qk=[("sea", 96), ("sea", 128), ("surface", 128), ("surface", 192)],
               wb=[("surf", 128, 1601), ("surf", 128, 6401), ("surf", 192, 1601)]),
}
BCD_PLAN_QUICK = {300.0: dict(ref=24, qk=[("sea", 8), ("sea", 12), ("surface", 12)], wb=[("sea", 8, 801), ("surf", 12, 801)])}


def bcd_model():
    """The 3D model of the Berry-curvature-dipole comparison: the zoo's two-band Weyl semimetal with a = 5 Å,
    t = 0.1 eV (Fermi velocity ~ 0.5 eV Å), tilted along y by 0.02 eV (inversion broken: the dipole is allowed)."""
    return qk.zoo.get("weyl", t=0.1, a=5.0, tilt_y=0.02)


def qk_bcd(model, n: int, T: float, form: str = "sea") -> dict:
    """sigma_zyy of the Berry curvature dipole (rectified channel, A/V^2 at tau = BCD_TAU) and CPU seconds.

    ``form``: "sea" (f d_c Omega^ab, the default of ``berry_curvature_dipole``) or "surface" (-f' v^c Omega^ab)."""
    import warnings

    from qkinetics.responses.nonlinear import berry_curvature_dipole

    t0, c0 = time.perf_counter(), time.process_time()
    with warnings.catch_warnings():                          # coarse grids at 30 K: the warning is the point
        warnings.simplefilter("ignore")
        res = qk.conductivity(model, order=2, mechanisms=[berry_curvature_dipole(form)], mu=BCD_MU, T=T,
                              tau=BCD_TAU, kgrid=n, shift=0.0, convergence=False)
    wall, cpu = time.perf_counter() - t0, time.process_time() - c0
    total = res["total"].squeeze()
    sigma = np.real(total.isel(channel=0).values if "channel" in total.dims else total.values)
    return {"wall": wall, "cpu": cpu, "value": float(sigma[2, 1, 1])}


def section_bcd(python, work, plan, tol=1e-3):
    """Berry curvature dipole of a 3D model: each code's sigma_zyy against one reference, and its CPU time to tol."""
    from qkinetics.models.wannier90 import write_wannier90_tb

    model = bcd_model()
    print(f"\n(5) Berry curvature dipole of a 3D model ({model.name}, t = 0.1 eV, a = 5 Å, tilt_y = 0.02 eV, "
          f"mu = {BCD_MU} eV), sigma_zyy, full zone, one thread each; load {load()}")
    print("    qkinetics: the Fermi function at T in the integrand, Fermi-sea form f dOmega (sea) or Fermi-surface"
          " form -f' v Omega (surface).\n    WannierBerri: BerryDipole_FermiSea (sea) or _FermiSurf (surf) at T = 0 on"
          " nE energies within 10 kT of mu, convolved with -df/dE (FermiDiracSmoother);"
          f" D_yx x {WB_D_TO_SIGMA_ZYY:.5g} A/V^2 = sigma_zyy (tau = {BCD_TAU:g} s)")
    wb = None
    if python:
        path = work / "weyl_tb.dat"
        write_wannier90_tb(model, path)
        wb = WannierBerri(python, work, driver=WB_BCD_DRIVER, tb=path.read_bytes(), mu=BCD_MU, name="weyl")
        for calc in ("sea", "surf"):              # compile numba kernels before timing
            wb.request(n=4, T=300.0, energies=101, calc=calc)
    ratios = {}
    try:
        for T, runs in plan.items():
            ref = qk_bcd(model, runs["ref"], T)
            print(f"\n    T = {T:g} K: reference sigma_zyy = {ref['value']:.6e} A/V^2 (qkinetics, sea form,"
                  f" {runs['ref']}^3, {ref['cpu']:.1f} s CPU); rel. err. against it")
            print(f"    {'code':>4} {'form':>7} {'n':>4} {'nE':>6} {'CPU s':>8} {'sigma_zyy':>13} {'rel err':>8}"
                  f" {'same grid & form, qk vs WB':>27}")
            best, by_grid = {}, {}
            rows = [("qk", form, n, None) for form, n in runs["qk"]]
            rows += [("WB", calc, n, nE) for calc, n, nE in runs["wb"]] if wb else []
            for code, form, n, nE in rows:
                if code == "qk":
                    r = qk_bcd(model, n, T, form)
                    by_grid[("sea" if form == "sea" else "surf", n)] = r["value"]
                else:
                    out = wb.request(n=n, T=T, energies=nE, calc=form)
                    r = {"cpu": out["cpu"], "value": WB_D_TO_SIGMA_ZYY * out["D"][1][0]}
                err = abs(r["value"] - ref["value"]) / abs(ref["value"])
                same = by_grid.get((form, n)) if code == "WB" else None
                same = f"{abs(r['value'] - same) / abs(same):>27.1e}" if same is not None else ""
                print(f"    {code:>4} {form:>7} {n:>4} {nE or '':>6} {r['cpu']:>8.2f} {r['value']:>13.6e} {err:>8.1e}"
                      f" {same}", flush=True)
                if err < tol and r["cpu"] < best.get(code, (np.inf,))[0]:
                    best[code] = (r["cpu"], form, n, nE)
            for code in ("qk", "WB") if wb else ("qk",):
                if code in best:
                    cpu, form, n, nE = best[code]
                    print(f"    {code}: fastest run within {tol:g}: {form}, {n}^3" + (f", {nE} energies" if nE else "")
                          + f", {cpu:.2f} s CPU")
                else:
                    print(f"    {code}: no run within {tol:g} of the reference")
            if wb and "qk" in best and "WB" in best:
                ratios[T] = best["WB"][0] / best["qk"][0]
                print(f"    time to a {tol:g} answer at {T:g} K, WB / qk: {ratios[T]:.1f}", flush=True)
    finally:
        if wb:
            wb.close()
    return ratios


def _rusage():
    """(user s, system s, minor page faults) of this process: what a Dask worker has spent so far."""
    import resource

    r = resource.getrusage(resource.RUSAGE_SELF)
    return np.array([r.ru_utime, r.ru_stime, r.ru_minflt])


def section_dask(fe, n, rounds, plot=None):
    """Strong scaling of the Dask backend (LocalCluster of 1 and 2 workers) on the Fe AHC, full zone, n^3.

    The workers' CPU is split into user and system time with their minor page faults: Dask's default
    MALLOC_TRIM_THRESHOLD_ made every large NumPy temporary a fresh mmap (system time, page faults);
    qkinetics' LocalCluster now starts its workers without it (integrate/executors.py)."""
    from qkinetics.integrate import get_executor

    def workers_usage(ex):
        return sum(ex.client.run(_rusage).values())

    print(f"\n(6) Dask strong scaling, Fe anomalous Hall conductivity, full zone n = {n}; load {load()}")
    print("    serial and LocalClusters of 1 and 2 workers (1 thread each), alternated; speed-up = serial wall / wall;"
          " CPU = workers' user + system + driver (scheduler included);\n    CPU ceiling = workers x serial CPU / CPU;"
          " W/S = workers' CPU / serial CPU")
    print(f"    {'round':>5} {'run':>8} {'wall s':>8} {'speed-up':>8} {'CPU s':>7} {'user':>6} {'sys':>6} {'driver':>6}"
          f" {'minflt':>8} {'W/S':>5} {'ceiling':>7} {'load':>5}")
    import warnings

    results = {w: [] for w in (0, 1, 2)}
    warnings.filterwarnings("ignore", message="Port .* is already in use")   # another cluster on the machine
    with get_executor("dask", 1) as ex1, get_executor("dask", 2) as ex2:
        executors = {1: ex1, 2: ex2}
        for ex in executors.values():
            qk_run(fe, 8, None, executor=ex)                     # start-up: workers import qkinetics
        for r in range(rounds):
            u0 = _rusage()
            s = qk_run(fe, n, None)
            su = _rusage() - u0
            results[0].append((s["wall"], s["cpu"], 1.0, 1.0))
            print(f"    {r:>5} {'serial':>8} {s['wall']:>8.2f} {1.0:>8.2f} {s['cpu']:>7.2f} {su[0]:>6.2f} {su[1]:>6.2f}"
                  f" {'':>6} {int(su[2]):>8d} {'':>5} {'':>7} {load():>5}", flush=True)
            for w, ex in executors.items():
                u0 = workers_usage(ex)
                p = qk_run(fe, n, None, executor=ex)
                u = workers_usage(ex) - u0
                cpu = u[0] + u[1] + p["cpu"]
                ceiling, ws = w * s["cpu"] / cpu, (u[0] + u[1]) / s["cpu"]
                if p["sigma_xy"] != s["sigma_xy"]:
                    print(f"    WARNING: dask x{w} differs from serial by {abs(p['sigma_xy'] - s['sigma_xy']):.1e}")
                results[w].append((p["wall"], cpu, ceiling, ws))
                print(f"    {r:>5} {f'dask x{w}':>8} {p['wall']:>8.2f} {s['wall'] / p['wall']:>8.2f} {cpu:>7.2f}"
                      f" {u[0]:>6.2f} {u[1]:>6.2f} {p['cpu']:>6.2f} {int(u[2]):>8d} {ws:>5.2f} {ceiling:>6.2f}x"
                      f" {load():>5}", flush=True)
    med = {w: np.median([s[0] for s in results[0]]) / np.median([x[0] for x in results[w]]) for w in (1, 2)}
    ceil = {w: np.median([x[2] for x in results[w]]) for w in (1, 2)}
    ws = {w: np.median([x[3] for x in results[w]]) for w in (1, 2)}
    print(f"    median speed-up over serial: 1 worker {med[1]:.2f}x, 2 workers {med[2]:.2f}x "
          f"(2 vs 1 worker {med[2] / med[1]:.2f}x); CPU ceiling 1 worker {ceil[1]:.2f}x, 2 workers {ceil[2]:.2f}x;"
          f" workers' CPU / serial CPU {ws[1]:.2f} (1 worker), {ws[2]:.2f} (2 workers)")
    if plot:
        write_scaling_plot(Path(plot), med, ceil, n)


def write_scaling_plot(path: Path, speedup: dict, ceiling: dict, n: int):
    """Speed-up against workers (measured wall, CPU ceiling, ideal), written atomically."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    w = [1, 2]
    fig, ax = plt.subplots(figsize=(4.6, 3.4), constrained_layout=True)
    ax.plot([0.8, 2.2], [0.8, 2.2], "k:", lw=1, label="ideal")
    ax.plot(w, [ceiling[x] for x in w], "o-", label="CPU ceiling (idle cores)")
    ax.plot(w, [speedup[x] for x in w], "s--", label="wall, shared machine")
    ax.set_xticks(w)
    ax.set_xlabel("Dask workers (LocalCluster, 1 thread each)")
    ax.set_ylabel("speed-up over serial")
    ax.set_title(f"Fe anomalous Hall, {n}$^3$ k points", fontsize=10)
    ax.legend(fontsize=8)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".tmp.png")
    fig.savefig(tmp, dpi=120)
    plt.close(fig)
    os.replace(tmp, path)
    print(f"    scaling plot written to {path}")


def section_profile(fe, n=13):
    print(f"\n(4) cProfile of qkinetics, Fe AHC on a {n}^3 = {n ** 3}-point grid, full zone, one thread;"
          f" load {load()}")
    qk_run(fe, 4, None)                       # warm caches (derivative weights etc.)
    prof = cProfile.Profile(time.process_time)     # CPU time: other processes load the machine
    prof.enable()
    qk_run(fe, n, None)
    prof.disable()
    stats = pstats.Stats(prof).stats          # (file, line, name) -> (cc, nc, tt, ct, callers)
    total = sum(v[2] for v in stats.values())

    def entry(file_tail, name):
        return [v for (f, _, fn), v in stats.items() if fn == name and f.endswith(file_tail)]

    def cum(file_tail, name):
        return sum(v[3] for v in entry(file_tail, name))

    fourier = cum("tight_binding.py", "_sum_blocks")    # H, dH, A^W and its curl: one product (interpolate)
    eigh = cum("_linalg.py", "eigh")
    rotations = cum("geometry.py", "to_eigenbasis") + cum("geometry.py", "_diagonal_of_transformed")
    curvature = cum("geometry.py", "_wannier_berry_curvature")
    geometry = cum("geometry.py", "_geometry")          # eigh, rotations, curvature and the rest of one sub-batch
    rows = [("Fourier sums of H, dH/dk, A^W, curl A^W (one product)", fourier),
            ("eigh", eigh),
            ("rotations U^dagger X U (dH, A^W; diagonal of curl A^W)", rotations),
            ("Berry curvature band-pair sums", curvature),
            ("rest of the band geometry (energies, gaps, groups, copies)", geometry - eigh - rotations - curvature),
            ("Fermi sums, integration, bookkeeping (rest)", total - fourier - geometry)]
    print(f"    {'part':<56} {'us/k':>7} {'share':>6}")
    for label, t in rows:
        print(f"    {label:<56} {1e6 * t / n ** 3:>7.1f} {100 * t / total:>5.1f}%")
    print(f"    {'total (profiled, overhead included)':<56} {1e6 * total / n ** 3:>7.1f}")
    calls = sum(v[1] for (f, _, fn), v in stats.items() if fn == "eigh")
    print(f"    eigh called {calls} times: {n ** 3 / max(calls, 1):.0f} k points per call")


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true", help="smoke test: grids 6 and 8, small reference")
    ap.add_argument("--grids", type=int, nargs="+", default=[12, 24, 48])
    ap.add_argument("--conv-grids", type=int, nargs="+", default=[12, 24, 48, 96])
    ap.add_argument("--ref", type=int, default=128, help="reference grid (qkinetics wedge)")
    ap.add_argument("--T", type=float, default=0.0,
                    help="temperature (K); WannierBerri: T = 0 on --wb-energies energies within 10 kT, smoothed")
    ap.add_argument("--wb-energies", type=int, default=3201,
                    help="odd; energy step 20 kT / (n - 1). 201 (kT/10) is 15%% off at 24^3, 3201 0.05%%")
    ap.add_argument("--workers", type=int, default=2, help="0 to skip the worker measurement")
    ap.add_argument("--sections", nargs="+", default=["ahc", "workers", "profile", "bcd", "dask"],
                    choices=["ahc", "workers", "profile", "bcd", "dask"])
    ap.add_argument("--bcd-T", type=float, nargs="+", default=[300.0, 30.0],
                    help="temperatures of the Berry curvature dipole section, among those of BCD_PLAN (300, 30)")
    ap.add_argument("--dask-n", type=int, default=32, help="grid of the Dask scaling runs")
    ap.add_argument("--dask-rounds", type=int, default=2)
    ap.add_argument("--plot", default=None, help="write the Dask scaling plot here (e.g. docs/figures/dask_scaling.png)")
    args = ap.parse_args()
    if missing := [T for T in args.bcd_T if T not in BCD_PLAN]:
        ap.error(f"--bcd-T {missing}: no Berry curvature dipole run plan for these temperatures; add them to"
                 f" BCD_PLAN (has {sorted(BCD_PLAN)})")
    global T
    T = args.T
    if args.quick:
        args.grids, args.conv_grids, args.ref = [6, 8], [6, 8], 12
        args.dask_n, args.dask_rounds = 12, 1

    print(f"qkinetics vs WannierBerri on bcc Fe (18 Wannier functions); load average {os.getloadavg()},"
          f" {os.cpu_count()} cores")
    fe = qk.read_wannier90(str(FE_WIN))
    t0 = time.process_time()
    report = find_symmetry(fe, tol=1e-3)
    print(f"qkinetics group: {report.group} ({time.process_time() - t0:.2f} s)")

    python = find_wannierberri()
    work = Path(tempfile.mkdtemp(prefix="qk_materials_"))
    wb = None
    try:
        if python is None:
            print("WannierBerri side skipped: set QK_WANNIERBERRI_PYTHON to a python with wannierberri"
                  " (or create /work/wbenv); only qkinetics is timed.")
        elif "ahc" in args.sections:
            wb = WannierBerri(python, work, T, args.wb_energies)
            wb.run(4, False)                  # compile numba kernels before timing
            wb.run(4, True)
        qk_run(fe, 4, report)
        if "ahc" in args.sections:
            rows = section_timing(fe, report, wb, args.grids)
            section_convergence(fe, report, rows, args.conv_grids, args.ref)
        if args.workers > 1 and "workers" in args.sections:
            section_workers(fe, report, args.grids[-1], args.workers)
        if "profile" in args.sections:
            section_profile(fe, 8 if args.quick else 13)
        if "bcd" in args.sections:
            section_bcd(python, work, BCD_PLAN_QUICK if args.quick else {T: BCD_PLAN[T] for T in args.bcd_T})
        if "dask" in args.sections:
            section_dask(fe, args.dask_n, args.dask_rounds, args.plot)
    finally:
        if wb:
            wb.close()
        shutil.rmtree(work, ignore_errors=True)
    print(f"\nload average at the end {os.getloadavg()}")


if __name__ == "__main__":
    sys.exit(main())
