"""Figure for docs/thermoelectric.md and docs/kinetics.md: kinetic T(x) runs against the response coefficients.

kinetic_thermoelectric.png, steady states of the phase-space kinetic equation with a temperature profile
T(x) = T0 + dT cos(2 pi x / L) on a ring (T0 = 600 K, dT = 30 K, tau = 1 fs, dx = 1.25 A), against
:func:`qkinetics.thermoelectric` on the same model, tau, T and mu:
    (a) Seebeck coefficient of the Rice-Mele chain versus mu: open circuit (number-conserving "local"
        relaxation: the ring's electrochemical potential follows S dT), markers; response S_xx, line;
    (b) electronic thermal conductivity kappa (heat current per -grad T at zero current), same runs;
    (c) anomalous Nernst conductivity alpha_yx of the Qi-Wu-Zhang Chern model (u = 1, order 1, short circuit:
        relaxation to the local equilibrium at T(x) and the uniform mu), from the transverse transport current
        (centre-of-mass current plus the curl of the Berry magnetization), markers; response, line;
    (d) relative error versus the wavelength L: short-circuit alpha = -L1/T and K = L2/T, open-circuit S and
        kappa (Rice-Mele, mu = -1.6 eV), Nernst alpha_yx and thermal Hall K_yx (QWZ, mu = -1.2 eV): the
        gradient correction, ~ (q l)^2 with l = v tau the mean free path.

Run:  python examples/kinetic_thermoelectric.py [--output DIR]   (about 3 minutes; default DIR ./qkinetics-examples;
      docs/make_figures.py passes docs/figures)
"""

import argparse
import time
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt
import numpy as np

import qkinetics as qk
from qkinetics import units
from qkinetics.kinetics import KineticSolver
from qkinetics.run.writer import save_figure

parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
parser.add_argument("--output", type=Path, default=Path("qkinetics-examples"),
                    help="directory for the figure (docs/make_figures.py passes docs/figures)")
OUT = parser.parse_args().output
OUT.mkdir(parents=True, exist_ok=True)
start = time.perf_counter()

RM, QWZ = qk.zoo.rice_mele(), qk.zoo.qi_wu_zhang(u=1.0)
T0, DT, TAU, DX = 600.0, 30.0, 1e-15, 1.25
E = units.e


def ring(model, L, mu, relaxation, order=0, nk=128):
    """Steady state on a ring of wavelength L with T(x) = T0 + DT cos(qx); the solver and its moments."""
    q = 2 * np.pi / L
    s = KineticSolver(model, None, length=L, nx=int(round(L / DX)), nk=nk, nk_perp=nk if model.dim == 2 else None,
                      mu=mu, T=lambda x: T0 + DT * np.cos(q * x), tau=TAU, relaxation=relaxation,
                      limiter="none", order=order)
    ds = s.steady_state(tol=1e-10, max_steps=400000)
    if not ds.attrs["converged"]:
        raise RuntimeError(f"steady state not reached (L = {L}, mu = {mu})")
    return s, ds


def per_grad(s, y):
    """sin(qx) harmonic of y over that of -dT/dx (K/m)."""
    q = 2 * np.pi / s.length
    return 2 * np.mean(y * np.sin(q * s.x)) / (DT * q * 1e10)


def open_circuit(L, mu):
    s, ds = ring(RM, L, mu, "local")
    S = 2 * np.mean(ds["mu_local"].values * np.cos(2 * np.pi * s.x / L)) / DT          # V/K
    return S, E * per_grad(s, ds["jQ"].sum("band").values)                             # V/K, W m/K


def short_circuit(L, mu):
    s, ds = ring(RM, L, mu, "global")
    return -E * per_grad(s, ds["jx"].sum("band").values), E * per_grad(s, ds["jQ"].sum("band").values)


def nernst(L, mu):
    s, ds = ring(QWZ, L, mu, "global", order=1, nk=48)
    return (-E * per_grad(s, ds["jy_transport"].sum("band").values) * 1e10,           # A/K
            E * per_grad(s, ds["jQy"].sum("band").values) * 1e10)                      # W/K


def coefficients(model, mu, kgrid):
    ds = qk.thermoelectric(model, mu=mu, T=T0, tau=TAU, kgrid=kgrid, convergence=False)
    return lambda name, a="x", b="x": ds[name].sel(a=a, b=b, T=T0, tau=TAU).values


fig, axes = plt.subplots(2, 2, figsize=(10, 7.5))
(ax_s, ax_k), (ax_n, ax_e) = axes

# (a), (b): Rice-Mele, open circuit, versus mu
mu_line = np.linspace(-2.0, -0.4, 161)
c = coefficients(RM, mu_line, 2048)
mu_pts = np.array([-1.8, -1.6, -1.3, -1.0, -0.7, -0.5])
kin = np.array([open_circuit(40.0, mu) for mu in mu_pts])
ax_s.plot(mu_line, 1e6 * c("seebeck"), label="qk.thermoelectric S_xx")
ax_s.plot(mu_pts, 1e6 * kin[:, 0], "o", mfc="none", label="kinetic ring, L = 40 A (open circuit)")
ax_s.axhline(0, color="0.7", lw=0.6)
ax_s.set_xlabel("chemical potential mu (eV)")
ax_s.set_ylabel("Seebeck S (uV/K)")
ax_s.set_title(f"(a) Rice-Mele chain, T = {T0:g} K, tau = 1 fs")
ax_s.legend(fontsize=8)
ax_k.plot(mu_line, 1e19 * c("kappa"), label="qk.thermoelectric kappa_xx")
ax_k.plot(mu_pts, 1e19 * kin[:, 1], "o", mfc="none", label="kinetic ring: j^Q / (-grad T) at j = 0")
ax_k.set_xlabel("chemical potential mu (eV)")
ax_k.set_ylabel("kappa (1e-19 W m/K)")
ax_k.set_title("(b) electronic thermal conductivity (1D)")
ax_k.legend(fontsize=8)

# (c): QWZ, anomalous Nernst versus mu
mu_line2 = np.linspace(-3.2, -0.8, 121)
c2 = coefficients(QWZ, mu_line2, 400)
mu_pts2 = np.array([-2.6, -2.0, -1.5, -1.2, -1.0])
kin2 = np.array([nernst(20.0, mu) for mu in mu_pts2])
ax_n.plot(mu_line2, 1e9 * c2("anomalous_nernst", "y", "x"), label="qk.thermoelectric alpha^AN_yx")
ax_n.plot(mu_pts2, 1e9 * kin2[:, 0], "o", mfc="none", label="kinetic: transverse transport current, L = 20 A")
ax_n.axhline(0, color="0.7", lw=0.6)
ax_n.set_xlabel("chemical potential mu (eV)")
ax_n.set_ylabel("alpha_yx (nA/K)")
ax_n.set_title("(c) Qi-Wu-Zhang (u = 1), order 1: anomalous Nernst")
ax_n.legend(fontsize=8)

# (d): relative error versus wavelength
rows = []
Ls = np.array([20.0, 40.0, 80.0])
ref = coefficients(RM, -1.6, 4096)
sc = np.array([short_circuit(L, -1.6) for L in Ls])
oc = np.array([open_circuit(L, -1.6) for L in Ls[:2]])
refq = coefficients(QWZ, -1.2, 400)
Lq = np.array([10.0, 20.0, 40.0])
nq = np.array([nernst(L, -1.2) for L in Lq])
curves = [("alpha (short circuit)", Ls, sc[:, 0] / ref("alpha") - 1),
          ("K (short circuit)", Ls, sc[:, 1] / ref("kappa_zero_field") - 1),
          ("S (open circuit)", Ls[:2], oc[:, 0] / ref("seebeck") - 1),
          ("kappa (open circuit)", Ls[:2], oc[:, 1] / ref("kappa") - 1),
          ("alpha^AN_yx (QWZ)", Lq, nq[:, 0] / refq("anomalous_nernst", "y", "x") - 1),
          ("K^AH_yx (QWZ)", Lq, nq[:, 1] / refq("anomalous_thermal_hall", "y", "x") - 1)]
for label, L, err in curves:
    ax_e.loglog(L, np.abs(err), "o-", label=label)
    print(f"{label}: L = {L.tolist()} A, relative error {np.round(err, 5).tolist()}")
ax_e.loglog(Ls, 0.2 * (Ls / 20.0) ** -2, "k--", lw=0.9, label="~ L^-2")
ax_e.set_xlabel("wavelength L of T(x) (A)")
ax_e.set_ylabel("|kinetic / response - 1|")
ax_e.set_title("(d) error versus the gradient (dx = 1.25 A)")
ax_e.legend(fontsize=7)
fig.tight_layout()
save_figure(fig, OUT / "kinetic_thermoelectric.png", dpi=120)
plt.close(fig)
print(f"wrote {OUT / 'kinetic_thermoelectric.png'} in {time.perf_counter() - start:.0f} s")
