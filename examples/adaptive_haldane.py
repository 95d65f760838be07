"""Figure for docs/adaptive.md: where the adaptive integrator puts its k points on the Haldane zone.

Haldane model t1 = 1 eV, t2 = 0.1 eV, phi = pi/2, M = 0.515 eV: a Chern insulator whose gap at K' is only
9.2 meV. Anomalous Hall sigma_xy at 10 K with mu = 0 (mid-gap) and mu = 0.6 eV (conduction band), one run:
    (a) the leaves of the refined mesh on the reciprocal unit cell centred at Gamma (colour: refinement level;
        cell side 1/(base 3^level)), refined around K' (the small-gap Berry-curvature hot spot) and along
        the Fermi line of mu = 0.6 eV;
    (b) the error estimate of sigma_xy and its true error (reference: uniform 5400^2 grid, stored in
        tests/test_adaptive.py) as the tolerance is tightened, and the true error of uniform grids
        (computed here up to 1350^2), for both chemical potentials.

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
MU, T, BASE = [0.0, 0.6], 10.0, 10
REFERENCE = np.array([-0.15904961826, -0.07126311943])    # band integrals, uniform 5400^2 (tests/test_adaptive.py)

runs = {tol: integrate_adaptive(model, mechs, MU, T, base=BASE, tol=tol) for tol in (1e-1, 1e-2, 1e-3, 1e-4)}
uniform = []
for n in (150, 300, 450, 600, 900, 1350):
    res = integrate_mechanisms(model, mechs, KGrid(model, n), MU, T, warn=False)
    uniform.append((n * n, np.abs(res.values["anomalous_hall"][:, 0, 0, 1].real - REFERENCE) / np.abs(REFERENCE)))

fig, (ax, bx) = plt.subplots(1, 2, figsize=(11, 4.6), gridspec_kw=dict(width_ratios=[1.25, 1]))
SHOWN = 1e-2
centres, levels = runs[SHOWN].cells
side = 1.0 / (BASE * 3.0 ** levels)
corners = np.array([[-0.5, -0.5], [0.5, -0.5], [0.5, 0.5], [-0.5, 0.5]])
centres = centres - (centres >= 0.5)                                         # the cell centred at Gamma
u = centres[:, None, :] + corners[None] * side[:, None, None]              # reduced coordinates
cells = PolyCollection(u @ model.reciprocal, array=levels.astype(float), cmap="viridis", edgecolors="k", linewidths=0.1)
ax.add_collection(cells)
ax.autoscale()
ax.set_aspect("equal")
K = np.array([4 * np.pi / 3, 0.0])
for label, point in (("K", K), ("K' (9 meV gap)", -K)):
    red = point @ np.linalg.inv(model.reciprocal)
    red = red - np.round(red)                                                # the image inside the cell
    kk = red @ model.reciprocal
    ax.plot(*kk, "o", mfc="none", mec="r", ms=10)
    ax.annotate(label, kk, xytext=(-60, -16) if "gap" in label else (7, 7), textcoords="offset points", color="r")
fig.colorbar(cells, ax=ax, label="refinement level")
ax.set_xlabel(r"$k_x$ (1/Å)")
ax.set_ylabel(r"$k_y$ (1/Å)")
ax.set_title(f"(a) refined cells, tol {SHOWN:g}: {runs[SHOWN].npoints} points, {len(levels)} leaves", fontsize=10)

pts = np.array([r.npoints for r in runs.values()])
est = np.array([r.error["anomalous_hall"][:, 0, 0, 1] for r in runs.values()]) / np.abs(REFERENCE)
true = np.array([np.abs(r.values["anomalous_hall"][:, 0, 0, 1].real - REFERENCE) for r in runs.values()]) \
    / np.abs(REFERENCE)
upts, uerr = np.array([p for p, _ in uniform]), np.array([e for _, e in uniform])
for i, (name, colour) in enumerate((("mid-gap", "C0"), ("0.6 eV", "C1"))):
    bx.loglog(pts, est[:, i], "o-", color=colour, label=f"mu {name}: adaptive estimate")
    bx.loglog(pts, true[:, i], "s--", color=colour, mfc="none", label=f"mu {name}: adaptive true error")
    bx.loglog(upts, uerr[:, i], "^:", color=colour, label=f"mu {name}: uniform grid true error")
for tol, p, e in zip(runs, pts, est[:, 0]):
    bx.annotate(f"tol {tol:g}", (p, e), xytext=(4, 4), textcoords="offset points", fontsize=7)
bx.set_xlabel("k points evaluated")
bx.set_ylabel(r"relative error of $\sigma_{xy}$")
bx.set_title(r"(b) anomalous Hall, 10 K", fontsize=10)
bx.legend(fontsize=7)
fig.tight_layout()
save_figure(fig, OUT / "adaptive_haldane.png")
for i, tol in enumerate(runs):
    print(f"tol {tol:g}: {pts[i]} points, relative estimate {np.array2string(est[i], precision=2)}, "
          f"true {np.array2string(true[i], precision=2)} (mu = 0, 0.6 eV)")
print("uniform:", ", ".join(f"{p} points: {np.array2string(e, precision=2)}" for p, e in uniform))
print(f"wrote {OUT / 'adaptive_haldane.png'} in {time.perf_counter() - start:.0f} s")
