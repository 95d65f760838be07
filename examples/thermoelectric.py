"""Figures for docs/thermoelectric.md: Seebeck coefficient and anomalous Nernst conductivity versus mu.

(1) thermoelectric_seebeck.png, a 2D parabolic band eps = hbar^2 k^2 / 2m_e (Boltzmann, constant tau):
    (a) Seebeck coefficient S_xx versus mu at 150, 300 and 600 K, with the closed form
        S = -(kB/e) [2 F_1(eta)/F_0(eta) - eta] (markers) and the Mott formula S = -(pi^2/3)(kB/e) kT/mu
        (dashed);
    (b) the Lorenz ratio kappa/(sigma T) in units of pi^2 kB^2/3e^2: 1 in the degenerate limit, falling
        as 1 - (pi^2/3)(kT/mu)^2 (dashed) and breaking down near the band bottom.
(2) thermoelectric_nernst.png, intrinsic (Berry-curvature) transport:
    (a) anomalous Nernst conductivity alpha_xy of the massive Dirac model (v = 1 eV A, m = 0.2 eV) at
        150, 300 and 600 K, with the closed form (markers) and the Mott formula
        -(pi^2 kB^2 T / 3e) d sigma_xy/d mu at 150 K (dashed);
    (b) alpha_xy and the anomalous thermal Hall K_xy / (L0 T) (L0 = pi^2 kB^2/3e^2) next to sigma_xy of
        the Qi-Wu-Zhang Chern insulator (u = -1.2) at 300 K: in the gap K_xy = L0 T sigma_xy (quantized),
        alpha_xy vanishes.

Run:  python examples/thermoelectric.py [--output DIR]   (about 20 s; default DIR ./qkinetics-examples;
      docs/make_figures.py passes docs/figures, the figures of the docs page)
A GridResolutionWarning (grid too coarse for T) stops it.
"""

import argparse
import time
import warnings
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt
import numpy as np
import sympy as sp
from scipy import integrate
from scipy.special import expit

import qkinetics as qk
from qkinetics import units
from qkinetics.integrate import GridResolutionWarning
from qkinetics.integrate.occupation import entropy_density
from qkinetics.run.writer import save_figure

warnings.simplefilter("error", GridResolutionWarning)       # a too-coarse grid is an error here
parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
parser.add_argument("--output", type=Path, default=Path("qkinetics-examples"),
                    help="directory for the figures (docs/make_figures.py passes docs/figures)")
OUT = parser.parse_args().output
OUT.mkdir(parents=True, exist_ok=True)
kB = units.kB_eV                                             # eV/K; kB/e in V/K has the same value
start = time.perf_counter()

# ------------------------------------------------------------------ (1) parabolic band
kx, ky = sp.symbols("kx ky", real=True)
c = sp.Symbol("c", real=True)
parabolic = qk.Continuum(sp.Matrix([[c * (kx ** 2 + ky ** 2)]]), params={"c": 3.80998}, dim=2, kcut=1.2,
                         name="parabolic band (2D)")
mu = np.linspace(-0.1, 0.6, 71)
Ts = np.array([150.0, 300.0, 600.0])
ds = qk.thermoelectric(parabolic, mu=mu, T=Ts, tau=1e-14, mechanisms="boltzmann", kgrid=800)


def fd(j, eta):
    top = max(eta, 0.0) + 60.0
    return integrate.quad(lambda x: x ** j * expit(eta - x), 0, top, points=[max(eta, 0.0)], limit=400)[0]


fig, (ax1, ax2) = plt.subplots(1, 2, figsize=(10, 4), constrained_layout=True)
qk.plot.thermoelectric(ds, "seebeck", "xx", ax=ax1)
for T, line in zip(Ts, ax1.get_lines()):
    kT = kB * T
    marks = mu[::7]
    exact = [-kB * (2 * fd(1, m / kT) / fd(0, m / kT) - m / kT) for m in marks]
    ax1.plot(marks, 1e6 * np.array(exact), "o", mfc="none", color=line.get_color())
    deg = mu > 4 * kT
    ax1.plot(mu[deg], -1e6 * np.pi ** 2 / 3 * kB * kT / mu[deg], "--", lw=0.9, color=line.get_color())
ax1.set_ylim(-400, 10)
ax1.set_title("(a) Seebeck coefficient; o closed form, -- Mott")
L0 = np.pi ** 2 / 3 * kB ** 2
for T in Ts:
    sel = dict(a="x", b="x", T=T, tau=ds.tau.values[0])
    ratio = (ds.kappa.sel(sel) / (ds.sigma.sel(sel) * T)).values / L0
    line, = ax2.plot(mu, ratio, label=f"T = {T:g} K")
    deg = mu > 4 * kB * T
    ax2.plot(mu[deg], 1 - np.pi ** 2 / 3 * (kB * T / mu[deg]) ** 2, "--", lw=0.9, color=line.get_color())
ax2.set_ylim(0, 1.1)
ax2.set_xlabel("chemical potential mu (eV)")
ax2.set_ylabel("kappa / (sigma T L0)")
ax2.set_title("(b) Wiedemann-Franz ratio; -- 1 - (pi^2/3)(kT/mu)^2")
ax2.legend(fontsize=8)
save_figure(fig, OUT / "thermoelectric_seebeck.png")
plt.close(fig)

# ------------------------------------------------------------------ (2) anomalous Nernst
v, m, kcut = 1.0, 0.2, 2.0
dirac = qk.zoo.massive_dirac(v=v, mass=m, kcut=kcut)
mu = np.linspace(-0.6, 0.6, 121)
nd = qk.thermoelectric(dirac, mu=mu, T=Ts, mechanisms="berry", kgrid=600)


def dirac_alpha(x, T):
    kT = kB * T
    f = lambda E: (entropy_density((-E - x) / kT) - entropy_density((E - x) / kT)) / E ** 2
    val = integrate.quad(f, abs(m), np.hypot(v * kcut, m), points=[abs(x)] if abs(x) > abs(m) else None,
                         limit=400)[0]
    return units.e * kB * units.e / units.hbar * m / (4 * np.pi) * val


fig, (ax1, ax2) = plt.subplots(1, 2, figsize=(10, 4), constrained_layout=True)
scale = 1e9                                                   # nA/K
for T in Ts:
    y = nd.anomalous_nernst.sel(a="x", b="y", T=T).isel(tau=0).values
    line, = ax1.plot(mu, scale * y, label=f"T = {T:g} K")
    marks = mu[::10]
    ax1.plot(marks, [scale * dirac_alpha(x, T) for x in marks], "o", mfc="none", color=line.get_color())
band = np.abs(mu) > abs(m) + 8 * kB * Ts[0]
# d sigma_xy/d mu = -(e^2/hbar) int delta(eps_n - mu) Omega_n = +- e^2 m / (4 pi hbar mu^2) in the conduction
# (valence) band, from Omega_{c,v} = -+ m v^2 / 2E^3
dsigma = np.sign(mu[band]) * units.e ** 2 * (m * units.e) / (4 * np.pi * units.hbar * (mu[band] * units.e) ** 2)
mott = -np.pi ** 2 * (kB * units.e) ** 2 * Ts[0] / (3 * units.e) * dsigma
for side in (mu[band] < 0, mu[band] > 0):
    ax1.plot(mu[band][side], scale * mott[side], "k--", lw=0.9)
ax1.set_xlabel("chemical potential mu (eV)")
ax1.set_ylabel("alpha_xy (nA/K)")
ax1.set_title("(a) massive Dirac: o closed form, -- Mott (150 K)")
ax1.legend(fontsize=8)

qwz = qk.zoo.qi_wu_zhang(u=-1.2)
mu_q = np.linspace(-3.5, 3.5, 141)
T = 300.0
qd = qk.thermoelectric(qwz, mu=mu_q, T=T, mechanisms="berry", kgrid=600)
sel = dict(a="x", b="y", T=T, tau=qd.tau.values[0])
e2h = units.e2_over_h
ax2.plot(mu_q, qd.anomalous_hall.sel(sel) / e2h, label="sigma_xy (e^2/h)")
ax2.plot(mu_q, qd.anomalous_thermal_hall.sel(sel) / (L0 * T) / e2h, "--", label="K_xy / (L0 T) (e^2/h)")
ax2.plot(mu_q, qd.anomalous_nernst.sel(sel) / (kB * units.e ** 2 / units.h), label="alpha_xy (e kB/h)")
ax2.axhline(0, color="0.7", lw=0.6)
ax2.set_xlabel("chemical potential mu (eV)")
ax2.set_title(f"(b) Qi-Wu-Zhang Chern insulator, T = {T:g} K")
ax2.legend(fontsize=8)
save_figure(fig, OUT / "thermoelectric_nernst.png")
plt.close(fig)
print(f"wrote {OUT / 'thermoelectric_seebeck.png'} and {OUT / 'thermoelectric_nernst.png'} "
      f"in {time.perf_counter() - start:.0f} s")
