"""Figure and tables for docs/quantum-reference.md: the tau^0 second-order conductivity from the
density-matrix equation of motion (quantum reference, no gradient expansion) against the published variants.

Models (those of tests/test_density_matrix.py):
* tilted Qi-Wu-Zhang, H = t sin kx sx + sin ky sy + (u + cos kx + cos ky) sz + w sin kx s0 with
  t = 1.2, u = 1, w = 0.3 eV, a = 1 Angstrom, T = 600 K (conduction band edge 0.892 eV; smallest direct
  gap 2.0 eV);
* zoo.pt_antiferromagnet(t=0.5, t_ab=0.4, lambda_so=0.2, neel=(0.1, 0.5, 0)), T = 600 K (Kramers-
  degenerate bands, no Berry curvature; smallest direct gap between Kramers pairs 0.63 eV);
* (--dirac) the lattice-regularized tilted massive Dirac model: the same tilted QWZ form at t = 1,
  u = -2 + m, w = 0.3: near Gamma v (kx sx + ky sy) + (m - k^2/2) sz + w kx s0 with v = 1 eV A.

(a) dc sigma_xyy(tau) of the tilted QWZ model (mu = 1.1 eV, 4 kT inside the band) from the solver, both
    relaxation models, with the extracted c2 tau^2 + c1 tau + c0 (contour method) overlaid.
(b) what is left after subtracting the semiclassical nonlinear Drude (tau^2) and Berry curvature dipole
    (tau^1) terms computed independently by qkinetics.conductivity: it tends to c0 of each relaxation
    model, and to none of the published tau^0 variants (horizontal lines).
(c, d) the (b, c)-symmetric tau^0 coefficients component by component (tilted QWZ at mu = 1.1 eV, PT
    antiferromagnet at mu = 0): density matrix with each relaxation model, the three published variants,
    and (black diamonds) c0(full) + c0(populations), which lands on Wang/Liu.
(e, f) mu sweeps: distance max|c0 - variant| / max|Wang/Liu| of each relaxation model from each variant
    (none approaches 0), and (grey, right axis) the residual of c0(full) + c0(populations) = Wang/Liu.

Run from anywhere:
    python examples/tau0_reference.py                 # figure + tables (about 1.5 minutes of CPU time)
    python examples/tau0_reference.py --dirac         # + the Dirac-limit study (m = 0.4, 0.2, 0.1; ~30 min)
    python examples/tau0_reference.py --time-domain   # + the time-domain check at 600 K (~5 min)
Writes qkinetics-examples/tau0_reference.png (``--output DIR`` to change; docs/make_figures.py makes the docs'
figure) and prints the numbers quoted in the docs.
"""

import argparse
import time
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt
import numpy as np

import qkinetics as qk
from qkinetics import TightBinding
from qkinetics.kubo.density_matrix import DensityMatrixSolver
from qkinetics.responses.nonlinear import intrinsic
from qkinetics.units import hbar_eVs

T = 600.0
VARIANTS = ("intrinsic_wang_liu", "intrinsic_kaplan_das", "intrinsic_talk")
NAMES = ("nonlinear_drude", "berry_curvature_dipole") + VARIANTS
COMPONENTS = ("xxx", "xxy", "xyy", "yxx", "yxy", "yyy")
IDX = {"x": 0, "y": 1}
LABELS = {"full": 'DM "full"', "populations": 'DM "populations"', "intrinsic_wang_liu": "Wang/Liu",
          "intrinsic_kaplan_das": "Kaplan/Das", "intrinsic_talk": "talk"}
COLORS = {"full": "C0", "populations": "C1", "intrinsic_wang_liu": "C2", "intrinsic_kaplan_das": "C3",
          "intrinsic_talk": "C4"}


def tilted_qwz(t=1.2, u=1.0, w=0.3):
    """The tilted QWZ model of tests/test_density_matrix.py (both orbitals at the origin)."""
    s0, sx = np.eye(2, dtype=complex), np.array([[0, 1], [1, 0]], dtype=complex)
    sy, sz = np.array([[0, -1j], [1j, 0]]), np.diag([1.0, -1.0]).astype(complex)
    bx = t * sx / 2j + sz / 2 + w * s0 / 2j            # hopping along +x
    by = sy / 2j + sz / 2                              # hopping along +y
    hop = {(0, 0): u * sz, (1, 0): bx, (-1, 0): bx.conj().T, (0, 1): by, (0, -1): by.conj().T}
    return TightBinding(np.eye(2), [[0, 0], [0, 0]], hop, name="tilted_qwz")


def pt_afm():
    return qk.zoo.pt_antiferromagnet(t=0.5, t_ab=0.4, lambda_so=0.2, neel=(0.1, 0.5, 0.0))


def sym(X):
    """(b, c)-symmetric part of a (j, E1, E2) tensor."""
    return 0.5 * (X + np.swapaxes(X, 1, 2))


def tsym(X):
    """Totally symmetric (longitudinal) part."""
    return (X + np.einsum("abc->bca", X) + np.einsum("abc->cab", X)) / 3


def semiclassical(model, mu, kgrid, names=NAMES, temp=T):
    """dc coefficients of tau^p (A m/V^2/s^p) of the library's mechanisms, as (2, 2, 2) tensors."""
    ds = qk.conductivity(model, 2, mu=mu, T=temp, tau=1.0, omega=0.0, mechanisms=list(names), kgrid=kgrid,
                         convergence=False)
    return {getattr(m, "name", m): ds[getattr(m, "name", m)].sel(channel="rectified").values.reshape(2, 2, 2).real
            for m in names}


def comps(X, components=COMPONENTS):
    return np.array([X[IDX[c[0]], IDX[c[1]], IDX[c[2]]] for c in components])


def quantum_c0(model, mu, kgrid, temp=T):
    s = DensityMatrixSolver(model, mu=mu, T=temp, kgrid=kgrid)
    return s, {rel: sym(s.tau_coefficients(rel)["c0"]).real for rel in ("full", "populations")}


def best_lambda(c0, sc):
    """Closest member of the family sigma(lambda) = WL + (lambda - 1)(KD - WL); residual |c0 - sigma| / |c0|."""
    wl, kd = sc["intrinsic_wang_liu"], sc["intrinsic_kaplan_das"]
    d = (kd - wl).ravel()
    lm1 = np.dot((c0 - wl).ravel(), d) / np.dot(d, d)
    return 1 + lm1, np.linalg.norm(c0 - wl - lm1 * (kd - wl)) / np.linalg.norm(c0)


def distances(q, sc):
    scale = np.abs(sc["intrinsic_wang_liu"]).max()
    dist = {(rel, v): np.abs(q[rel] - sc[v]).max() / scale for rel in q for v in VARIANTS}
    ident = np.abs(q["full"] + q["populations"] - sc["intrinsic_wang_liu"]).max() / scale
    return dist, ident, scale


def print_row(label, dist, ident, q, sc):
    lf, rf = best_lambda(q["full"], sc)
    lp, rp = best_lambda(q["populations"], sc)
    print(f"  {label:>9s}  " + "  ".join(f"{dist[('full', v)]:.3f}" for v in VARIANTS) + "  |  "
          + "  ".join(f"{dist[('populations', v)]:.3f}" for v in VARIANTS)
          + f"  | {lf:.3f} {rf:.3f} | {lp:.3f} {rp:.2f} | {ident:.1e}")


HEADER = ("  distance max|c0 - variant| / max|Wang/Liu|: full (WL KD talk) | populations (WL KD talk) | "
          "best lambda, residual (full) | (populations) | identity residual")

parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
parser.add_argument("--output", type=Path, default=Path("qkinetics-examples"),
                    help="directory for the figure (docs/make_figures.py passes docs/figures)")
parser.add_argument("--dirac", action="store_true", help="also run the Dirac-limit study (slow)")
parser.add_argument("--time-domain", action="store_true", help="also run the time-domain check (slow)")
args = parser.parse_args()
OUT = args.output / "tau0_reference.png"

start = time.perf_counter()
# --------------------------------------------------------------------------- tilted QWZ, tau dependence
qwz = tilted_qwz()
MU_QWZ = 1.1
solver = DensityMatrixSolver(qwz, mu=MU_QWZ, T=T, kgrid=96)
coef = {rel: solver.tau_coefficients(rel) for rel in ("full", "populations")}
sc = semiclassical(qwz, MU_QWZ, 500)
taus = np.geomspace(1e-17, 1e-12, 61)
sigma = {rel: np.array([solver.second_order(t, relaxation=rel, channel="static")[0, 1, 1].real for t in taus])
         for rel in coef}
print(f"tilted QWZ: grid {solver.n}, min gap {solver.min_gap:.3f} eV, {time.perf_counter() - start:.1f} s")

# --------------------------------------------------------------------------- PT antiferromagnet
pt = pt_afm()
pt_solver = DensityMatrixSolver(pt, mu=0.0, T=T, kgrid=128)             # 96: identity to 6e-8, 128: 5e-10
pt_coef = {rel: pt_solver.tau_coefficients(rel) for rel in ("full", "populations")}
pt_sc = semiclassical(pt, 0.0, 300)
print(f"PT antiferromagnet: grid {pt_solver.n}, min gap {pt_solver.min_gap:.3f} eV, "
      f"{time.perf_counter() - start:.1f} s")

# --------------------------------------------------------------------------- mu sweeps
SWEEPS = {"tilted QWZ": (qwz, [0.8, 0.95, 1.1, 1.25, 1.4], 64, 400),
          "PT antiferromagnet": (pt, [-0.6, -0.3, 0.0, 0.3, 0.6], 96, 300)}
sweep = {}
for name, (model, mus, kq, ks) in SWEEPS.items():
    print(f"\n{name}, mu sweep at T = {T:.0f} K (density matrix {kq} x {kq}, semiclassical {ks} x {ks})")
    print(HEADER)
    rows = []
    for mu in mus:
        _, q = quantum_c0(model, mu, kq)
        s = semiclassical(model, mu, ks, VARIANTS)
        dist, ident, scale = distances(q, s)
        print_row(f"mu={mu:+.2f}", dist, ident, q, s)
        rows.append((mu, dist, ident))
    sweep[name] = rows
print(f"\nsweeps done, {time.perf_counter() - start:.1f} s")

# --------------------------------------------------------------------------- figure
fig, axes = plt.subplots(3, 2, figsize=(12, 13), constrained_layout=True)
tau_gap = hbar_eVs / solver.min_gap                                  # hbar/tau = smallest direct gap

ax = axes[0, 0]
for rel in coef:
    c2, c1, c0 = (sym(coef[rel][f"c{p}"]).real[0, 1, 1] for p in (2, 1, 0))
    ax.loglog(taus, np.abs(sigma[rel]), color=COLORS[rel], lw=2.5, alpha=0.6, label=f"{LABELS[rel]}: solver")
    ax.loglog(taus, np.abs(c2 * taus**2 + c1 * taus + c0), "--", color=COLORS[rel],
              label=f"{LABELS[rel]}: $c_2\\tau^2 + c_1\\tau + c_0$")
ax.axvline(tau_gap, color="0.6", lw=0.8)
ax.text(tau_gap * 1.15, 1e-10, "$\\hbar/\\tau$ = min gap", color="0.4", fontsize=8)
ax.set_xlabel("$\\tau$ (s)")
ax.set_ylabel("$|\\sigma_{xyy}|$ (A m/V$^2$)")
ax.set_title(f"(a) tilted QWZ, $\\mu$ = {MU_QWZ} eV: dc $\\sigma_{{xyy}}(\\tau)$ from the density matrix", fontsize=10)
ax.legend(fontsize=8)

ax = axes[0, 1]
mask = taus >= 3e-16
nld = sc["nonlinear_drude"][0, 1, 1] * taus**2
bcd = sc["berry_curvature_dipole"][0, 1, 1] * taus
for rel in coef:
    ax.semilogx(taus[mask], (sigma[rel] - nld - bcd)[mask], color=COLORS[rel], lw=2,
                label=f"{LABELS[rel]}: $\\sigma - \\sigma_{{NLD}} - \\sigma_{{BCD}}$")
    ax.axhline(sym(coef[rel]["c0"]).real[0, 1, 1], color=COLORS[rel], ls=":", lw=1)
for v in VARIANTS:
    ax.axhline(sc[v][0, 1, 1], color=COLORS[v], ls="--", lw=1.2, label=LABELS[v])
ax.axvline(tau_gap, color="0.6", lw=0.8)
ax.set_xlabel("$\\tau$ (s)")
ax.set_ylabel("$\\sigma_{xyy}$ minus semiclassical $\\tau^2$, $\\tau^1$ terms (A m/V$^2$)")
ax.set_title("(b) tilted QWZ: the $\\tau^0$ remainder (dotted: extracted $c_0$)", fontsize=10)
ax.legend(fontsize=8, loc="lower right")

# the QWZ model has H(kx, -ky) = H(kx, ky)^*: components with an odd number of y indices vanish
tables = {}
for ax, co, s, title, cs in ((axes[1, 0], coef, sc, f"(c) tilted QWZ ($\\mu$ = {MU_QWZ} eV)", ("xxx", "xyy", "yxy")),
                             (axes[1, 1], pt_coef, pt_sc, "(d) PT antiferromagnet ($\\mu$ = 0)", COMPONENTS)):
    rows = {"full": comps(sym(co["full"]["c0"]).real, cs),
            "populations": comps(sym(co["populations"]["c0"]).real, cs)}
    rows.update({v: comps(s[v], cs) for v in VARIANTS})
    x = np.arange(len(cs))
    width = 0.16
    for i, (name, vals) in enumerate(rows.items()):
        ax.bar(x + (i - 2) * width, vals, width, color=COLORS[name], label=LABELS[name])
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
        print(f"  {LABELS[name]:20s}" + " ".join(f"{v:+.4e}" for v in vals))
    print(f"  max|c0(full) + c0(populations) - Wang/Liu| / max|Wang/Liu| = "
          f"{np.abs(total - rows['intrinsic_wang_liu']).max() / scale:.1e}")

for ax, name, edge in ((axes[2, 0], "tilted QWZ", 0.892), (axes[2, 1], "PT antiferromagnet", None)):
    rows = sweep[name]
    mus = [r[0] for r in rows]
    for rel, ls in (("full", "-"), ("populations", "--")):
        for v in VARIANTS:
            ax.plot(mus, [r[1][(rel, v)] for r in rows], ls, marker="o", ms=4, color=COLORS[v],
                    label=f"{LABELS[rel]} vs {LABELS[v]}")
    top = max(max(r[1].values()) for r in rows)
    ax.set_ylim(0, 1.8 * top)
    ax.set_xlabel("$\\mu$ (eV)")
    ax.set_ylabel("max$|c_0 - $variant$|$ / max$|$Wang/Liu$|$")
    if edge is not None:
        ax.axvline(edge, color="0.5", lw=0.8)
        ax.text(edge + 0.01, 0.05, "band edge", color="0.4", fontsize=8)
    axr = ax.twinx()
    axr.semilogy(mus, [r[2] for r in rows], "s", color="0.4", ms=5, label="identity residual")
    axr.set_ylim(1e-14, 1e-2)
    axr.set_ylabel("|c$_0$(full) + c$_0$(populations) - WL| / |WL|", color="0.4")
    letter = "(e)" if name == "tilted QWZ" else "(f)"
    ax.set_title(f"{letter} {name}: distance of $c_0$ from each variant vs $\\mu$, $T$ = {T:.0f} K", fontsize=10)
    ax.legend(fontsize=7, ncols=2, loc="upper left")

fig.suptitle("Second-order dc conductivity: density-matrix equation of motion vs the published $\\tau^0$ "
             "variants", fontsize=11)
OUT.parent.mkdir(parents=True, exist_ok=True)
fig.savefig(OUT, dpi=100)
print(f"\nwrote {OUT} ({time.perf_counter() - start:.1f} s)")

# --------------------------------------------------------------------------- Dirac limit (optional)
if args.dirac:
    # tilted QWZ at t = 1, u = -2 + m: near Gamma a tilted massive Dirac cone (v = 1 eV A, mass m, tilt w)
    # with a Wilson term (m - k^2/2) sz. At fixed mu/m, kT/m, w/v, m^2 c0 of the continuum cone is
    # independent of m; the lattice tends to it as m -> 0 (corrections ~ m / (v^2 / B)).
    w = 0.3
    surf = [intrinsic(v.split("_", 1)[1], form="surface") for v in VARIANTS]
    study = {}
    print("\nDirac limit: m^2 c0 (1e-17 A m eV^2/V^2), lattice tilted QWZ at u = -2 + m, T = 1500 K x m/eV")
    for m, temp, kq, ks in ((0.4, 600.0, 64, 400), (0.2, 300.0, 128, 768), (0.1, 150.0, 256, 1536)):
        lat = tilted_qwz(t=1.0, u=-2.0 + m, w=w)
        cont = qk.zoo.massive_dirac(v=1.0, mass=m, tilt=w, kcut=8 * m)
        # mu = 1.2 m and 1.6 m enter the extrapolation; at m = 0.1 also a sweep (0.5 m: in the gap)
        for xm in ((1.2, 1.6) if m != 0.1 else (0.5, 1.2, 1.4, 1.6, 1.8, 2.0)):
            s, q = quantum_c0(lat, xm * m, kq, temp)
            sl = semiclassical(lat, xm * m, ks, VARIANTS, temp)
            scont = semiclassical(cont, xm * m, 1600, surf, temp)
            dist, ident, _ = distances(q, sl)
            study[(m, xm)] = {"full": q["full"] * m**2, "populations": q["populations"] * m**2,
                              **{"lat_" + v: sl[v] * m**2 for v in VARIANTS},
                              **{"cont_" + v: scont[v] * m**2 for v in VARIANTS}}
            lat_vs_cont = [np.abs(sl[v] - scont[v]).max() / np.abs(scont[v]).max() for v in VARIANTS]
            print(f"  m = {m} eV, T = {temp:.0f} K, mu = {xm} m, grid {kq} / {ks}: lattice vs continuum variants "
                  + " ".join(f"{x:.3f}" for x in lat_vs_cont))
            print(HEADER)
            print_row(f"mu={xm}m", dist, ident, q, sl)
    print("\n  extrapolated to m -> 0 (quadratic in m through 0.4, 0.2, 0.1) vs the continuum cone:")
    for xm in (1.2, 1.6):
        ext = {key: (8 * study[(0.1, xm)][key] - 6 * study[(0.2, xm)][key] + study[(0.4, xm)][key]) / 3
               for key in study[(0.1, xm)]}
        cont = {v: study[(0.1, xm)]["cont_" + v] for v in VARIANTS}
        wl = np.abs(cont["intrinsic_wang_liu"]).max()
        print(f"  mu = {xm} m: lattice variants vs continuum "
              + " ".join(f"{np.abs(ext['lat_' + v] - cont[v]).max() / np.abs(cont[v]).max():.3f}" for v in VARIANTS))
        for rel in ("full", "populations"):
            print(f"    {rel:12s} distance from continuum (WL KD talk): "
                  + " ".join(f"{np.abs(ext[rel] - cont[v]).max() / wl:.3f}" for v in VARIANTS)
                  + f"   m^2 c0 (xxx, xyy, yxy): "
                  + " ".join(f"{x / 1e-17:+.3f}" for x in comps(ext[rel], ("xxx", "xyy", "yxy"))))
        for v in VARIANTS:
            print(f"    continuum {LABELS[v]:10s} m^2 c0 (xxx, xyy, yxy): "
                  + " ".join(f"{x / 1e-17:+.3f}" for x in comps(cont[v], ("xxx", "xyy", "yxy"))))
        print(f"    identity (extrapolated): {np.abs(ext['full'] + ext['populations'] - cont['intrinsic_wang_liu']).max() / wl:.3f}")

# --------------------------------------------------------------------------- time domain (optional)
if args.time_domain:
    from qkinetics.kubo.time_domain import time_domain_tau_coefficients

    t0 = time.perf_counter()
    ref = DensityMatrixSolver(qwz, mu=MU_QWZ, T=T, kgrid=128)
    rt = hbar_eVs / (ref.min_gap * np.linspace(0.25, 0.08, 5))
    td = time_domain_tau_coefficients(qwz, MU_QWZ, T, kgrid=64, taus=rt, degree=3)
    print(f"\ntime-domain check, tilted QWZ mu = {MU_QWZ} eV, T = {T:.0f} K, grid 64 x 64, tau = "
          f"{rt.min() * 1e15:.2f}-{rt.max() * 1e15:.2f} fs, {td['nsteps']} RK4 steps, "
          f"{time.perf_counter() - t0:.0f} s")
    for rel in ("populations", "full"):
        fd = ref.tau_coefficients(rel)
        for p in (2, 1, 0):
            a, b = td[rel][f"c{p}"], sym(fd[f"c{p}"]).real
            print(f"  {rel:12s} c{p}: max|TD - FD| / max|FD| = {np.abs(a - b).max() / np.abs(b).max():.1e}")
    s = semiclassical(qwz, MU_QWZ, 500, VARIANTS)
    wl = s["intrinsic_wang_liu"]
    print(f"  identity from the time domain: {np.abs(td['full']['c0'] + td['populations']['c0'] - wl).max() / np.abs(wl).max():.1e}")
    for rel in ("full", "populations"):
        print(f"  {rel:12s} TD c0 distance (WL KD talk): "
              + " ".join(f"{np.abs(td[rel]['c0'] - s[v]).max() / np.abs(wl).max():.3f}" for v in VARIANTS))
