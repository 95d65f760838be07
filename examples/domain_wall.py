"""Domain walls in a Rice-Mele chain with the KineticSolver (x-dependent parameters, model(x)).

Part 1: the bound charge of a dimerization domain wall (soliton), order 1 against exact diagonalization.
The dimerization changes sign, delta_t(x) = 0.3 eV tanh(sin(2 pi x/M) M/(2 pi w)) (two walls in a periodic ring of M
cells, at x = 0 and M/2, width w), at a fixed staggered potential Delta0; mu = 0 in the gap, so the chain is an
insulator everywhere (local gap >= 2 Delta0). At order 1 the filled band carries n = int dk/2pi (1 - Omega_xk) =
1/a - d_x P (P the Berry phase / 2 pi), so the charge of a wall is -(P_right - P_left): order 0 gives none. The
exact reference is the ring diagonalized (qkinetics.exact.supercell_density, hoppings at bond midpoints), midgap
soliton state included. As Delta0 -> 0 (the SSH limit) the charge tends to -1/2; the Dirac (Goldstone-Wilczek)
limit is -(1/pi) arctan(2 delta0/Delta0). The wall must be wider than about 0.3 A (eV/Delta0)^2 for 1 - Omega_xk to stay
above 0.05 (the gradient expansion; Omega_xk peaks at the zone edge as 1/(w Delta0^2)), so the ring grows as
Delta0 falls. The wall profile is compared after a 1 A Gaussian smoothing (see the comment below).

Part 2: a mass (staggered-potential) wall between a cold (600 K) and a hot (1400 K) lead, open ends, equilibrium
leads at mu = -1 eV, number-conserving ("local") relaxation, tau = 2 fs, order 1: a uniform particle current
through the wall whose sign is that of the band's Seebeck response, -L1 dT/dx with
L1 = tau int v^2 (-f0') (eps - mu)/T (at mu = -1 eV the lower band is hole-like, L1 < 0, so particles flow
from the cold to the hot lead, j > 0). ``face_current`` is the scheme's conserved flux through the cell faces
(uniform in the steady state); ``jx`` of the moments is the cell-centre moment of xdot f, which carries the
upwind correction where f varies fast (at the wall).

Writes docs/figures/domain_wall_charge.png (docs/kinetics.md).

    python examples/domain_wall.py           # about 80 s on one core
"""

import argparse
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402

import qkinetics as qk  # noqa: E402
from qkinetics.exact import supercell_density, wannier_centers  # noqa: E402
from qkinetics.kinetics import KineticSolver  # noqa: E402

parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
parser.add_argument("--output", type=Path, default=Path("qkinetics-examples"),
                    help="directory for the figure (docs/make_figures.py passes docs/figures)")
OUT = parser.parse_args().output / "domain_wall_charge.png"
DELTA0 = 0.3                                             # eV, |delta_t| far from the walls


def soliton_ring(D0, w, M):
    def profile(x):
        return DELTA0 * np.tanh(np.sin(2 * np.pi * x / M) * M / (2 * np.pi * w))
    return profile, (lambda x: qk.zoo.rice_mele(delta_t=profile(x), staggered=D0))


def polarization(dt, D0):
    return wannier_centers(qk.zoo.rice_mele(delta_t=dt, staggered=D0))[0]      # a = 1 A: P = x_W / a


# ------------------------------------------------------------------ part 1: the charge of a soliton
print("Part 1: charge of the dimerization wall at x = M/2 (window [M/4, 3M/4])")
rows = []
for D0 in (0.6, 0.4, 0.3, 0.2, 0.15, 0.1):
    w = max(4.0, 0.42 / D0 ** 2)                          # keeps min(1 - Omega_xk) near 0.3 at small Delta0
    M = int(np.ceil(16 * w / 20) * 20)
    profile, ring = soliton_ring(D0, w, M)
    ns, _ = supercell_density(ring, M, None, 0.0, 30.0, n_twist=4)
    q_exact = (ns.reshape(M, 2).sum(1)[M // 4: 3 * M // 4] - 1).sum()
    s = KineticSolver(ring, None, length=M, nx=M // 2, nk=256 if D0 >= 0.15 else 512, mu=0.0, T=30.0, order=1)
    window = (s.x > M / 4) & (s.x < 3 * M / 4)
    q_kin = ((s.density().sum(0) - 1)[window]).sum() * s.dx
    dP = np.angle(np.exp(2j * np.pi * (polarization(-DELTA0, D0) - polarization(DELTA0, D0)))) / (2 * np.pi)
    dirac = -np.arctan(2 * DELTA0 / D0) / np.pi
    rows.append((D0, q_exact, q_kin, -dP, dirac))
    print(f"Delta0 = {D0:4.2f} eV (w = {w:5.1f} A, M = {M:4d}): exact {q_exact:+.6f}, order 1 {q_kin:+.6f} "
          f"(diff {q_kin - q_exact:+.1e}), bulk -dP {-dP:+.6f}, Dirac limit {dirac:+.4f}, "
          f"min(1 - Omega_xk) = {s._rho.min():.2f}")
rows = np.array(rows)

# the profile of one wall. The exact site occupations carry lattice-scale structure (A and B sites hold 0.38 and
# 0.62 here), and a sum per cell is not the smooth density (the intra-cell dipole changes across the wall); the
# kinetic n(x) is the smooth (Wigner) density. Both are compared after the same Gaussian smoothing of width
# sigma = 1 A, which removes the lattice harmonics (factor exp(-2 pi^2 sigma^2/a^2) ~ 3e-9) and hardly touches
# a wall of width w >= 6 A.
SIGMA = 1.0


def smooth(x_points, weights, grid, period):
    d = (grid[:, None] - x_points[None, :] + period / 2) % period - period / 2
    return (np.exp(-d ** 2 / (2 * SIGMA ** 2)) * weights[None, :]).sum(1) / np.sqrt(2 * np.pi * SIGMA ** 2)


D0 = 0.3
profiles = {}
for w in (6.0, 12.0, 24.0):
    M = int(20 * w)
    profile, ring = soliton_ring(D0, w, M)
    ns, xs = supercell_density(ring, M, None, 0.0, 30.0, n_twist=4)
    s1 = KineticSolver(ring, None, length=M, nx=4 * M, nk=256, mu=0.0, T=30.0, order=1)
    s0 = KineticSolver(ring, None, length=M, nx=4 * M, nk=256, mu=0.0, T=30.0, order=0)
    X = M / 2 + np.linspace(-4 * w, 4 * w, 321)
    n_ex = smooth(xs, ns, X, M) - 1
    n_1 = smooth(s1.x, s1.density().sum(0) * s1.dx, X, M) - 1
    n_0 = smooth(s0.x, s0.density().sum(0) * s0.dx, X, M) - 1
    profiles[w] = (X - M / 2, n_ex, n_1, n_0, profile(X))
    print(f"profile (Delta0 = {D0} eV, w = {w:4.1f} A): peak |n - 1/a| = {np.abs(n_ex).max():.3e} 1/A, max |order 1 - "
          f"exact| / peak = {np.abs(n_1 - n_ex).max() / np.abs(n_ex).max():.1e}, order 0: "
          f"{np.abs(n_0).max():.0e} (min 1 - Omega_xk = {s1._rho.min():.2f})")

fig, (ax1, ax2) = plt.subplots(1, 2, figsize=(10, 3.8))
for w, style in ((6.0, "C0"), (12.0, "C1")):
    Xr, n_ex, n_1, n_0, prof = profiles[w]
    ax1.plot(Xr[::8], n_ex[::8], "o", ms=4, color=style, label=f"exact, w = {w:.0f} Å")
    ax1.plot(Xr, n_1, "-", color=style, label=f"kinetic order 1 ($-\\partial_xP$), w = {w:.0f} Å")
ax1.plot(Xr, n_0, "--", color="C2", label="kinetic order 0")
ax1.set_xlim(-25, 25)
ax1.set_xlabel("$x - M/2$ (Å)")
ax1.set_ylabel("$n - 1/a$ (1/Å, smoothed over 1 Å)")
ax1.set_title(f"wall profiles, $\\Delta_0$ = {D0} eV")
ax1.legend(fontsize=7, loc="lower left")
ax2.plot(rows[:, 0], rows[:, 1], "o", label="exact (ring diagonalization)")
ax2.plot(rows[:, 0], rows[:, 2], "x", ms=9, label="kinetic, order 1")
Dg = np.linspace(0.02, 0.65, 100)
ax2.plot(rows[:, 0], rows[:, 3], "-", lw=1, label="$-\\Delta P$ of the bulk phases")
ax2.plot(Dg, -np.arctan(2 * DELTA0 / Dg) / np.pi, ":", label="Dirac limit $-\\arctan(2\\delta_0/\\Delta_0)/\\pi$")
ax2.axhline(-0.5, color="k", lw=0.5)
ax2.set_xlabel("staggered potential $\\Delta_0$ (eV)")
ax2.set_ylabel("wall charge (particles)")
ax2.set_title("charge of a dimerization wall (SSH limit: $-1/2$)")
ax2.legend(fontsize=8)
fig.tight_layout()
OUT.parent.mkdir(parents=True, exist_ok=True)
fig.savefig(OUT, dpi=130)
print(f"wrote {OUT}")

# ------------------------------------------------------------------ part 2: current through a mass wall
print("\nPart 2: thermoelectric current through a mass domain wall")
L, D0, w = 60.0, 0.4, 3.0
s = KineticSolver(lambda x: qk.zoo.rice_mele(staggered=D0 * np.tanh((x - L / 2) / w)), None,
                  length=L, nx=48, nk=128, mu=-1.0, T=lambda x: 600.0 + 800.0 * x / L, tau=2e-15,
                  relaxation="local", boundary="open", order=1)
ds = s.steady_state(tol=1e-9, max_steps=50000)
n = ds["n"].sum("band")
jf = s.face_current().sum(0)                        # flux through the faces x_{i-1/2}, i = 0..nx
j = 0.5 * (jf[1:] + jf[:-1])                        # at the cell centres
n_eq = s.density(s.equilibrium()).sum(0)           # rho f_FD((eps_n + h_1 - mu)/k_B T(x)) at the leads' mu
print(f"converged {ds.attrs['converged']} after {ds.attrs['steps']} steps")
for xi in (5.0, 24.0, 28.0, 30.0, 32.0, 36.0, 55.0):
    i = int(np.argmin(abs(s.x - xi)))
    print(f"x = {s.x[i]:5.2f} A: n = {n[i].item():.5f} 1/A (local equilibrium {n_eq[i]:.5f}), j = {j[i]:+.4e} 1/s, "
          f"cell moment jx = {ds['jx'].sum('band')[i].item():+.3e}")
E, v, T0 = s.energy[:, 0].ravel(), s.velocity[:, 0].ravel(), 600.0  # left (cold) end
f0 = 1 / (1 + np.exp((E + 1.0) / (qk.units.kB_eV * T0)))
L1 = (v ** 2 * f0 * (1 - f0) * (E + 1.0)).sum()
print(f"face flux: min {jf.min():+.4e}, max {jf.max():+.4e} 1/s; sign of L1 at the cold end: {np.sign(L1):+.0f}")
snap = s.snapshot()                                 # f(band, x, k): phase-space portrait near the wall
print("snapshot", dict(snap.sizes))
