"""Figure for docs/responses.md: the mechanism-resolved nonlinear Hall effect of a tilted massive Dirac cone.

Model: H = w k_x + v (k_x sigma_x + k_y sigma_y) + m sigma_z with v = 1 eV A, m = 0.1 eV (gap 0.2 eV),
tilt w = 0.1 eV A along x, integrated inside |k| < kcut = 0.5 1/A (the result does not change
with a larger cutoff for |mu| <= 0.3 eV; see docs/responses.md, section 6).
Rectified second-order conductivity sigma_abc (j_a = sigma_abc E_b E_c^* + c.c.) at T = 20 K,
tau = 1e-13 s, omega -> 0, for 121 chemical potentials, with an error bar from a grid with half the
points per direction.

(a) sigma_yxx (field along the tilt, current across it): only the Berry curvature dipole;
    nonlinear Drude and the tau^0 terms vanish by the symmetry H(kx, -ky) = H(kx, ky)^*.
(b) sigma_xyy (field across the tilt, current along it): nonlinear Drude and the tau^0 terms;
    here the Berry curvature dipole vanishes.
(c) the published tau^0 variants of sigma_xyy alone, on their own scale (alternatives, not addends).
(d) their longitudinal component sigma_xxx: zero for Wang/Liu (purely Hall), finite for the others.

Run from anywhere:  python examples/nonlinear_hall.py   (about 20 s of CPU time)
Writes qkinetics-examples/nonlinear_hall.png (``--output DIR`` to change; docs/make_figures.py makes the docs'
figure). A GridResolutionWarning (grid too coarse for T) stops it.
"""

import time
import warnings
import argparse
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt
import numpy as np

import qkinetics as qk
from qkinetics.integrate import GridResolutionWarning

parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
parser.add_argument("--output", type=Path, default=Path("qkinetics-examples"),
                    help="directory for the figure (docs/make_figures.py passes docs/figures)")
OUT = parser.parse_args().output / "nonlinear_hall.png"
warnings.simplefilter("error", GridResolutionWarning)       # a too-coarse grid is an error here

start = time.perf_counter()
model = qk.zoo.massive_dirac(v=1.0, mass=0.1, tilt=0.1, kcut=0.5)
T, tau = 20.0, 1e-13
mu = np.linspace(-0.3, 0.3, 121)
# grid step 2 kcut / 720 = 1.4e-3 1/A: |v| dk = 1.5 meV < k_B T = 1.7 meV (thermal_resolution < 1)
ds = qk.conductivity(model, 2, mu=mu, T=T, tau=tau, kgrid=720)
print(f"{ds.attrs['grid']}; thermal resolution {float(ds['thermal_resolution'][0]):.2f}; "
      f"{time.perf_counter() - start:.1f} s")

tau0 = [v for v in ds.data_vars if v.startswith("intrinsic_")]
only_tau0 = ds[tau0 + [f"error_{v}" for v in tau0]]           # no "total": they are alternatives

fig, axes = plt.subplots(2, 2, figsize=(11, 8), constrained_layout=True)
panels = [
    (ds, "yxx", "(a) $\\sigma_{yxx}$: $E \\parallel$ tilt, $j \\perp E$ (Berry curvature dipole only)"),
    (ds, "xyy", "(b) $\\sigma_{xyy}$: $E \\perp$ tilt, $j \\perp E$ (nonlinear Drude + $\\tau^0$)"),
    (only_tau0, "xyy", "(c) $\\tau^0$ variants of $\\sigma_{xyy}$ (alternatives)"),
    (only_tau0, "xxx", "(d) $\\tau^0$ variants, longitudinal $\\sigma_{xxx}$"),
]
for ax, (data, comp, title) in zip(axes.flat, panels):
    qk.plot.response(data, comp, channel="rectified", ax=ax)
    for line in ax.get_lines():
        if line.get_label() == "total":
            line.set_linestyle("--")                          # let the mechanism under it show
    ax.legend(fontsize=8)
    ax.set_title(title, fontsize=10)
    ax.axvspan(-0.1, 0.1, color="0.93", zorder=0)             # the gap 2m
fig.suptitle(f"Tilted massive Dirac cone (v = 1 eV Å, m = 0.1 eV, w = 0.1 eV Å): rectified second-order "
             f"conductivity, T = {T:g} K, τ = {tau:g} s", fontsize=11)
OUT.parent.mkdir(parents=True, exist_ok=True)
fig.savefig(OUT, dpi=110)
print(f"figure written to {OUT}")

# a few numbers (A m/V^2) and the checks the figure illustrates
sel = dict(channel="rectified", T=T, tau=tau, omega=0.0)
print(f"\n{'mu/eV':>6} {'BCD yxx':>11} {'NLD xyy':>11} " + " ".join(f"{v[10:] + ' xyy':>15}" for v in tau0))
for m in (-0.25, -0.15, 0.15, 0.25):
    row = ds.sel(sel).sel(mu=m, method="nearest")
    vals = [row["berry_curvature_dipole"].sel(j="y", E1="x", E2="x"), row["nonlinear_drude"].sel(j="x", E1="y", E2="y")]
    vals += [row[v].sel(j="x", E1="y", E2="y") for v in tau0]
    print(f"{float(row.mu):>6.2f} {float(vals[0].real):>11.3e} {float(vals[1].real):>11.3e} "
          + " ".join(f"{float(x.real):>15.3e}" for x in vals[2:]))
wl = ds["intrinsic_wang_liu"].sel(sel).sel(j="x", E1="x", E2="x")
print(f"\nmax |sigma_xxx| of Wang/Liu: {float(abs(wl).max()):.1e} (purely Hall); Kaplan/Das: "
      f"{float(abs(ds['intrinsic_kaplan_das'].sel(sel).sel(j='x', E1='x', E2='x')).max()):.1e}")
print("largest relative change against the half grid:",
      f"{max(ds[v].attrs['relative_change_vs_coarse_grid'] for v in ds.data_vars if 'relative_change_vs_coarse_grid' in ds[v].attrs):.1e}")
print(f"total = {ds['total'].attrs['included']}; {time.perf_counter() - start:.1f} s")
