"""Figure for docs/adaptive.md: where the adaptive integrator puts its k points on the Haldane zone.

Haldane model t1 = 1 eV, t2 = 0.1 eV, phi = pi/2, M = 0.515 eV: a Chern insulator whose gap at K' is only
9.2 meV. Anomalous Hall sigma_xy at 10 K with mu = 0.6 eV in the conduction band:
    (a) the leaves of the refined mesh on the reciprocal unit cell (colour: refinement level; cell side
        1/(base 3^level) of the cell), refined around K' (the small-gap Berry-curvature hot spot) and along
        the Fermi line of mu = 0.6 eV (the 0.9 meV thermal shell);
    (b) the error estimate of sigma_xy against the true error (reference: uniform 5400^2 grid, stored in
        tests/test_adaptive.py) as the tolerance is tightened, and the error of uniform grids of the same
        number of points (computed here up to 1350^2).

Run:  python examples/adaptive_haldane.py [--output DIR]   (about 1 minute; default DIR ./qkinetics-examples;
      docs/make_figures.py passes docs/figures)
"""

import argparse
import time
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt
import numpy as np
from matplotlib.collections import PolyCollection

import qkinetics as qk
from qkinetics.integrate import KGrid, integrate_mechanisms
from qkinetics.integrate.adaptive import integrate_adaptive
from qkinetics.responses import mechanisms_by_name
from qkinetics.run.writer import save_figure

parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
parser.add_argument("--output", type=Path, default=Path("qkinetics-examples"),
                    help="directory for the figures (docs/make_figures.py passes docs/figures)")
OUT = parser.parse_args().output
OUT.mkdir(parents=True, exist_ok=True)
start = time.perf_counter()

model = qk.zoo.haldane(t1=1.0, t2=0.1, phi=np.pi / 2, mass=0.515)
mechs = mechanisms_by_name(["anomalous_hall"], 1)
MU, T, BASE = 0.6, 10.0, 10
REFERENCE = -0.07126311943                   # band integral, uniform 5400^2 (tests/test_adaptive.py)

runs = {tol: integrate_adaptive(model, mechs, MU, T, base=BASE, tol=tol) for tol in (1e-1, 1e-2, 1e-3, 1e-4)}
uniform = []
for n in (150, 300, 450, 600, 900, 1350):
    res = integrate_mechanisms(model, mechs, KGrid(model, n), MU, T, warn=False)
    uniform.append((n * n, abs(res.values["anomalous_hall"][0, 0, 0, 1].real - REFERENCE)))

fig, (ax, bx) = plt.subplots(1, 2, figsize=(11, 4.6), gridspec_kw=dict(width_ratios=[1.25, 1]))
centres, levels = runs[1e-2].cells
side = 1.0 / (BASE * 3.0 ** levels)
corners = np.array([[-0.5, -0.5], [0.5, -0.5], [0.5, 0.5], [-0.5, 0.5]])
u = centres[:, None, :] + corners[None] * side[:, None, None]              # reduced coordinates
k = u @ model.reciprocal
cells = PolyCollection(k, array=levels.astype(float), cmap="viridis", edgecolors="none")
ax.add_collection(cells)
ax.autoscale()
ax.set_aspect("equal")
K = 4 * np.pi / 3
ax.plot([K, -K], [0, 0], "o", mfc="none", mec="r", ms=9)
ax.annotate("K", (K, 0), xytext=(6, 6), textcoords="offset points", color="r")
ax.annotate("K' (9 meV gap)", (-K, 0), xytext=(6, 6), textcoords="offset points", color="r")
fig.colorbar(cells, ax=ax, label="refinement level")
ax.set_xlabel(r"$k_x$ (1/Å)")
ax.set_ylabel(r"$k_y$ (1/Å)")
ax.set_title(f"(a) refined cells, tol 1e-2: {runs[1e-2].npoints} points, {len(levels)} leaves")

pts = [r.npoints for r in runs.values()]
est = [r.error["anomalous_hall"][0, 0, 0, 1] for r in runs.values()]
true = [abs(r.values["anomalous_hall"][0, 0, 0, 1].real - REFERENCE) for r in runs.values()]
bx.loglog(pts, np.array(est) / abs(REFERENCE), "o-", label="adaptive: error estimate")
bx.loglog(pts, np.array(true) / abs(REFERENCE), "s--", label="adaptive: true error")
bx.loglog(*np.array(uniform).T / [[1], [abs(REFERENCE)]], "^:", label="uniform grid: true error")
for tol, p, e in zip(runs, pts, est):
    bx.annotate(f"tol {tol:g}", (p, e / abs(REFERENCE)), xytext=(4, 4), textcoords="offset points", fontsize=8)
bx.set_xlabel("k points evaluated")
bx.set_ylabel(r"relative error of $\sigma_{xy}$")
bx.set_title(r"(b) $\mu$ = 0.6 eV, 10 K")
bx.legend(fontsize=8)
fig.tight_layout()
save_figure(fig, OUT / "adaptive_haldane.png")
for tol, r in runs.items():
    print(f"tol {tol:g}: {r.npoints} points, estimate {est[list(runs).index(tol)] / abs(REFERENCE):.2e}, "
          f"true {true[list(runs).index(tol)] / abs(REFERENCE):.2e} (relative)")
print("uniform:", ", ".join(f"{p} points: {e / abs(REFERENCE):.2e}" for p, e in uniform))
print(f"wrote {OUT / 'adaptive_haldane.png'} in {time.perf_counter() - start:.0f} s")
