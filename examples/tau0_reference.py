"""Figure for docs/quantum-reference.md: the tau^0 second-order conductivity from the density-matrix
equation of motion (quantum reference, no gradient expansion) against the published variants.

Models (those of tests/test_density_matrix.py, T = 600 K):
* tilted Qi-Wu-Zhang, H = t sin kx sx + sin ky sy + (u + cos kx + cos ky) sz + w sin kx s0 with
  t = 1.2, u = 1, w = 0.3 eV, a = 1 Angstrom, mu = 0.8 eV (metal; smallest direct gap 2.0 eV);
* zoo.pt_antiferromagnet(t=0.5, t_ab=0.4, lambda_so=0.2, neel=(0.1, 0.5, 0)), mu = 0 (Kramers-
  degenerate bands, no Berry curvature; smallest direct gap between Kramers pairs 0.63 eV).

(a) dc sigma_xyy(tau) of the tilted QWZ model from the solver, both relaxation models, with the
    extracted c2 tau^2 + c1 tau + c0 (contour method) overlaid: the expansion in tau holds for
    hbar/tau well below the gap ("full") and exactly at every tau ("populations").
(b) what is left after subtracting the semiclassical nonlinear Drude (tau^2) and Berry curvature
    dipole (tau^1) terms computed independently by qkinetics.conductivity: it tends to c0 of each
    relaxation model, and to none of the published tau^0 variants (horizontal lines).
(c, d) the (b, c)-symmetric tau^0 coefficients component by component: density matrix with each
    relaxation model, the three published variants, and (black diamonds) c0(full) + c0(populations),
    which lands on Wang/Liu.

Run from anywhere:  python examples/tau0_reference.py   (about 30 s)
Writes docs/figures/tau0_reference.png and prints the numbers behind panels (c, d).
"""

import time
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt
import numpy as np

import qkinetics as qk
from qkinetics import TightBinding
from qkinetics.kubo.density_matrix import DensityMatrixSolver
from qkinetics.units import hbar_eVs

OUT = Path(__file__).resolve().parent.parent / "docs" / "figures" / "tau0_reference.png"
T = 600.0
VARIANTS = ("intrinsic_wang_liu", "intrinsic_kaplan_das", "intrinsic_talk")
NAMES = ("nonlinear_drude", "berry_curvature_dipole") + VARIANTS
COMPONENTS = ("xxx", "xxy", "xyy", "yxx", "yxy", "yyy")
IDX = {"x": 0, "y": 1}


def tilted_qwz(t=1.2, u=1.0, w=0.3):
    """The tilted QWZ model of tests/test_density_matrix.py (both orbitals at the origin)."""
    s0, sx = np.eye(2, dtype=complex), np.array([[0, 1], [1, 0]], dtype=complex)
    sy, sz = np.array([[0, -1j], [1j, 0]]), np.diag([1.0, -1.0]).astype(complex)
    bx = t * sx / 2j + sz / 2 + w * s0 / 2j            # hopping along +x
    by = sy / 2j + sz / 2                              # hopping along +y
    hop = {(0, 0): u * sz, (1, 0): bx, (-1, 0): bx.conj().T, (0, 1): by, (0, -1): by.conj().T}
    return TightBinding(np.eye(2), [[0, 0], [0, 0]], hop, name="tilted_qwz")


def sym(X):
    """(b, c)-symmetric part of a (j, E1, E2) tensor."""
    return 0.5 * (X + np.swapaxes(X, 1, 2))


def semiclassical(model, mu, kgrid):
    """dc coefficients of tau^p (A m/V^2/s^p) of the library's mechanisms, as (2, 2, 2) tensors."""
    ds = qk.conductivity(model, 2, mu=mu, T=T, tau=1.0, omega=0.0, mechanisms=list(NAMES), kgrid=kgrid,
                         convergence=False)
    return {m: ds[m].sel(channel="rectified").values.reshape(2, 2, 2).real for m in NAMES}


def comps(X, components=COMPONENTS):
    return np.array([X[IDX[c[0]], IDX[c[1]], IDX[c[2]]] for c in components])


start = time.perf_counter()
# --------------------------------------------------------------------------- tilted QWZ
qwz = tilted_qwz()
solver = DensityMatrixSolver(qwz, mu=0.8, T=T, kgrid=64)           # 48 and 64 agree to ~1e-6 (tests)
coef = {rel: solver.tau_coefficients(rel) for rel in ("full", "populations")}
sc = semiclassical(qwz, 0.8, 400)
taus = np.geomspace(1e-17, 1e-12, 61)
sigma = {rel: np.array([solver.second_order(t, relaxation=rel, channel="static")[0, 1, 1].real for t in taus])
         for rel in coef}
print(f"tilted QWZ: grid {solver.n}, min gap {solver.min_gap:.3f} eV, {time.perf_counter() - start:.1f} s")

# --------------------------------------------------------------------------- PT antiferromagnet
pt = qk.zoo.pt_antiferromagnet(t=0.5, t_ab=0.4, lambda_so=0.2, neel=(0.1, 0.5, 0.0))
pt_solver = DensityMatrixSolver(pt, mu=0.0, T=T, kgrid=128)             # 96: identity to 6e-8, 128: 5e-10
pt_coef = {rel: pt_solver.tau_coefficients(rel) for rel in ("full", "populations")}
pt_sc = semiclassical(pt, 0.0, 300)
print(f"PT antiferromagnet: grid {pt_solver.n}, min gap {pt_solver.min_gap:.3f} eV, "
      f"{time.perf_counter() - start:.1f} s")

# --------------------------------------------------------------------------- figure
fig, axes = plt.subplots(2, 2, figsize=(12, 9), constrained_layout=True)
colors = {"full": "C0", "populations": "C1", "intrinsic_wang_liu": "C2", "intrinsic_kaplan_das": "C3",
          "intrinsic_talk": "C4"}
labels = {"full": 'DM "full"', "populations": 'DM "populations"', "intrinsic_wang_liu": "Wang/Liu",
          "intrinsic_kaplan_das": "Kaplan/Das", "intrinsic_talk": "talk"}
tau_gap = hbar_eVs / solver.min_gap                                  # hbar/tau = smallest direct gap

ax = axes[0, 0]
for rel in coef:
    c2, c1, c0 = (sym(coef[rel][f"c{p}"]).real[0, 1, 1] for p in (2, 1, 0))
    ax.loglog(taus, np.abs(sigma[rel]), color=colors[rel], lw=2.5, alpha=0.6, label=f"{labels[rel]}: solver")
    ax.loglog(taus, np.abs(c2 * taus**2 + c1 * taus + c0), "--", color=colors[rel],
              label=f"{labels[rel]}: $c_2\\tau^2 + c_1\\tau + c_0$")
ax.axvline(tau_gap, color="0.6", lw=0.8)
ax.text(tau_gap * 1.15, 1e-11, "$\\hbar/\\tau$ = min gap", color="0.4", fontsize=8)
ax.set_xlabel("$\\tau$ (s)")
ax.set_ylabel("$|\\sigma_{xyy}|$ (A m/V$^2$)")
ax.set_title("(a) tilted QWZ: dc $\\sigma_{xyy}(\\tau)$ from the density matrix", fontsize=10)
ax.legend(fontsize=8)

ax = axes[0, 1]
mask = taus >= 3e-16
nld = sc["nonlinear_drude"][0, 1, 1] * taus**2
bcd = sc["berry_curvature_dipole"][0, 1, 1] * taus
for rel in coef:
    ax.semilogx(taus[mask], (sigma[rel] - nld - bcd)[mask], color=colors[rel], lw=2,
                label=f"{labels[rel]}: $\\sigma - \\sigma_{{NLD}} - \\sigma_{{BCD}}$")
    ax.axhline(sym(coef[rel]["c0"]).real[0, 1, 1], color=colors[rel], ls=":", lw=1)
for v in VARIANTS:
    ax.axhline(sc[v][0, 1, 1], color=colors[v], ls="--", lw=1.2, label=labels[v])
ax.axvline(tau_gap, color="0.6", lw=0.8)
ax.set_xlabel("$\\tau$ (s)")
ax.set_ylabel("$\\sigma_{xyy}$ minus semiclassical $\\tau^2$, $\\tau^1$ terms (A m/V$^2$)")
ax.set_title("(b) tilted QWZ: the $\\tau^0$ remainder (dotted: extracted $c_0$)", fontsize=10)
ax.legend(fontsize=8, loc="lower right")

# the QWZ model has H(kx, -ky) = H(kx, ky)^*: components with an odd number of y indices vanish
for ax, co, s, title, cs in ((axes[1, 0], coef, sc, "(c) tilted QWZ ($\\mu$ = 0.8 eV)", ("xxx", "xyy", "yxy")),
                             (axes[1, 1], pt_coef, pt_sc, "(d) PT antiferromagnet ($\\mu$ = 0)", COMPONENTS)):
    rows = {"full": comps(sym(co["full"]["c0"]).real, cs),
            "populations": comps(sym(co["populations"]["c0"]).real, cs)}
    rows.update({v: comps(s[v], cs) for v in VARIANTS})
    x = np.arange(len(cs))
    width = 0.16
    for i, (name, vals) in enumerate(rows.items()):
        ax.bar(x + (i - 2) * width, vals, width, color=colors[name], label=labels[name])
    total = rows["full"] + rows["populations"]
    ax.plot(x, total, "D", color="k", ms=5, label="DM full + populations")   # centred on the Wang/Liu bar
    ax.axhline(0, color="k", lw=0.6)
    ax.set_xticks(x, [f"$\\sigma_{{{c}}}$" for c in cs])
    ax.set_ylabel("$c_0$ ($\\tau^0$ coefficient, A m/V$^2$)")
    ax.set_title(f"{title}: $\\tau^0$ coefficients, $T$ = {T:.0f} K", fontsize=10)
    ax.legend(fontsize=8, ncols=2)
    scale = np.abs(rows["intrinsic_wang_liu"]).max()
    plain_title = title[4:].replace("$\\mu$", "mu")
    print(f"\n{plain_title}  (A m/V^2; components {' '.join(cs)})")
    for name, vals in rows.items():
        print(f"  {labels[name]:20s}" + " ".join(f"{v:+.4e}" for v in vals))
    print(f"  max|c0(full) + c0(populations) - Wang/Liu| / max|Wang/Liu| = "
          f"{np.abs(total - rows['intrinsic_wang_liu']).max() / scale:.1e}")

fig.suptitle("Second-order dc conductivity: density-matrix equation of motion vs the published $\\tau^0$ "
             "variants", fontsize=11)
OUT.parent.mkdir(parents=True, exist_ok=True)
fig.savefig(OUT, dpi=110)
print(f"\nwrote {OUT} ({time.perf_counter() - start:.1f} s)")
