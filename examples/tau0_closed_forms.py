"""Figure for docs/tau0.md: the closed-form tau^0 coefficients of the density-matrix relaxation models
(qkinetics.responses.tau0) on top of the quantum reference (contour extraction of the solver) versus mu.

Models: the tilted Qi-Wu-Zhang model of docs/quantum-reference.md (t = 1.2, u = 1, w = 0.3 eV; conduction
band edge 0.892 eV) and the three-band model of tests/test_tau0.py (three isolated bands), T = 600 K.
Lines: closed forms (qk.conductivity, mechanisms intrinsic_dm_full / _populations / _dressed, and
intrinsic_wang_liu) on fine grids; markers: c0 from DensityMatrixSolver.tau_coefficients on a 96 x 96
(QWZ) or 48 x 48 (three-band) grid. Prints the largest relative deviation per model.

    python examples/tau0_closed_forms.py [--output DIR]   # about 3 minutes; writes DIR/tau0_closed_forms.png
                                                          # (default ./qkinetics-examples; docs/make_figures.py
                                                          # passes docs/figures)
"""

import argparse
import os
import sys
import tempfile
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt
import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "src"))
sys.path.insert(0, str(ROOT / "tests"))

import qkinetics as qk  # noqa: E402
from qkinetics.kubo.density_matrix import DensityMatrixSolver  # noqa: E402
from test_density_matrix import tilted_qwz  # noqa: E402
from test_tau0 import three_band  # noqa: E402

parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
parser.add_argument("--output", type=Path, default=Path("qkinetics-examples"),
                    help="directory for the figure (docs/make_figures.py passes docs/figures)")
OUT = parser.parse_args().output / "tau0_closed_forms.png"
T = 600.0
MECHS = {"full": "intrinsic_dm_full", "populations": "intrinsic_dm_populations", "dressed": "intrinsic_dm_dressed"}
COLORS = {"full": "C0", "populations": "C1", "dressed": "C2"}
CASES = [("tilted QWZ", tilted_qwz, np.linspace(0.6, 1.5, 91), np.linspace(0.7, 1.4, 8), 96, 400, (0, 1, 1)),
         ("three-band model", three_band, np.linspace(-0.6, 0.8, 71), np.linspace(-0.4, 0.6, 6), 48, 200, (1, 0, 0))]


def closed(model, mus, kgrid):
    names = list(MECHS.values()) + ["intrinsic_wang_liu"]
    ds = qk.conductivity(model, 2, mu=mus, T=T, tau=1.0, mechanisms=names, kgrid=kgrid, convergence=False)
    return {m: ds[m].sel(channel="rectified", T=T, tau=1.0, omega=0.0).values.real for m in names}


fig, axes = plt.subplots(1, 2, figsize=(11, 4.2))
for ax, (title, make, mus, mus_q, kq, ks, comp) in zip(axes, CASES):
    model = make()
    cf = closed(model, mus, ks)
    a, b, c = comp
    lab = "xyz"[a] + "xyz"[b] + "xyz"[c]
    for rel, m in MECHS.items():
        ax.plot(mus, cf[m][:, a, b, c], color=COLORS[rel], label=f"closed form, {rel}")
    ax.plot(mus, cf["intrinsic_wang_liu"][:, a, b, c], "k--", lw=1, label="Wang/Liu")
    ax.plot(mus, 0.5 * cf["intrinsic_wang_liu"][:, a, b, c], "k:", lw=1, label="Wang/Liu / 2 (alpha = 1/2)")
    cq = closed(model, mus_q, ks)
    worst = 0.0
    for mu_i, mu in enumerate(mus_q):
        solver = DensityMatrixSolver(model, mu=mu, T=T, kgrid=kq)
        for rel, m in MECHS.items():
            c0 = solver.tau_coefficients(rel, radius=0.05)["c0"]
            c0 = 0.5 * (c0 + np.swapaxes(c0, 1, 2)).real
            worst = max(worst, np.abs(c0 - cq[m][mu_i]).max() / np.abs(cq["intrinsic_wang_liu"]).max())
            ax.plot(mu, c0[a, b, c], "o", color=COLORS[rel], mfc="none", ms=7,
                    label="density matrix (contour)" if (mu_i == 0 and rel == "full") else None)
    print(f"{title}: max |quantum - closed form| / max |Wang/Liu| over {len(mus_q)} fillings = {worst:.1e}")
    ax.set_title(f"{title}, T = {T:.0f} K: $c_0$ of $\\sigma_{{{lab}}}$")
    ax.set_xlabel("$\\mu$ (eV)")
    ax.set_ylabel("$c_0$ (A m/V$^2$)")
    ax.axhline(0, color="grey", lw=0.5)
axes[0].legend(fontsize=7)
fig.tight_layout()
OUT.parent.mkdir(parents=True, exist_ok=True)
fd, tmp = tempfile.mkstemp(suffix=".png", dir=OUT.parent)
os.close(fd)
fig.savefig(tmp, dpi=100)
os.replace(tmp, OUT)
print("wrote", OUT)
