"""Mass domain wall in a Rice-Mele chain: density and current near the wall (KineticSolver, issue 6).

The staggered potential changes sign across the box, Delta(x) = 0.4 eV tanh((x - L/2)/3 A), passed as an
x-dependent model(x). Open ends with equilibrium leads at mu = -1 eV; the left lead is cold (600 K), the right
one hot (1400 K), T(x) linear in between; number-conserving ("local") relaxation, tau = 2 fs. The steady
state has close to the local-density-approximation density of the local Hamiltonian, and a uniform particle
current through the wall whose sign is that of the band's Seebeck response, -L1 dT/dx with
L1 = tau int v^2 (-f0') (eps - mu)/T: at mu = -1 eV the lower band is hole-like (L1 < 0), so particles
flow from the cold to the hot lead (j > 0). ``face_current`` is the scheme's conserved flux through the
cell faces (uniform in the steady state); ``jx`` of the moments is the cell-centre moment of xdot f, which
carries the upwind correction where f varies fast (at the wall).

Run: python examples/domain_wall.py
"""

import numpy as np

import qkinetics as qk
from qkinetics.kinetics import KineticSolver

L, D0, w = 60.0, 0.4, 3.0
s = KineticSolver(lambda x: qk.zoo.rice_mele(staggered=D0 * np.tanh((x - L / 2) / w)), None,
                  length=L, nx=48, nk=128, mu=-1.0, T=lambda x: 600.0 + 800.0 * x / L, tau=2e-15,
                  relaxation="local", boundary="open")
ds = s.steady_state(tol=1e-9, max_steps=50000)
n = ds["n"].sum("band")
jf = s.face_current().sum(0)                        # flux through the faces x_{i-1/2}, i = 0..nx
j = 0.5 * (jf[1:] + jf[:-1])                        # at the cell centres
n_lda = s.density(s.equilibrium()).sum(0)          # f_FD((eps_n(x, k) - mu)/k_B T(x)) at the leads' mu
print(f"converged {ds.attrs['converged']} after {ds.attrs['steps']} steps")
for xi in (5.0, 24.0, 28.0, 30.0, 32.0, 36.0, 55.0):
    i = int(np.argmin(abs(s.x - xi)))
    print(f"x = {s.x[i]:5.2f} A: n = {n[i].item():.5f} 1/A (LDA {n_lda[i]:.5f}), j = {j[i]:+.4e} 1/s, "
          f"cell moment jx = {ds['jx'].sum('band')[i].item():+.3e}")
E, v, T0 = s.energy[:, 0].ravel(), s.velocity[:, 0].ravel(), 600.0  # left (cold) end
f0 = 1 / (1 + np.exp((E + 1.0) / (qk.units.kB_eV * T0)))
L1 = (v ** 2 * f0 * (1 - f0) * (E + 1.0)).sum()
print(f"face flux: min {jf.min():+.4e}, max {jf.max():+.4e} 1/s; sign of L1 at the cold end: {np.sign(L1):+.0f}")
snap = s.snapshot()                                 # f(band, x, k): phase-space portrait near the wall
print("snapshot", dict(snap.sizes))
