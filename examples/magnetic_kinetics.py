"""Kinetic runs in a magnetic field B_z: cyclotron precession and the steady Hall current against Drude.

A parabolic-like band on the square lattice (a = 1 Å, first and second neighbours chosen so that
ε = -5 eV + k² eV Å² + O(k⁶): m* = ħ²/(2 eV Å²)) at low filling, in the phase-space kinetic solver
(qkinetics.kinetics.KineticSolver with ``B=``, :mod:`qkinetics.kinetics.magnetic`):

* left: a displaced distribution, collisionless, precesses at ω_c = eB/m*: j_x, j_y against cos, sin(ω_c t);
* right: the steady currents of a uniform E_x on a ring with relaxation time τ, versus ω_cτ (B swept), against
  the Drude closed forms j_x = j_0/(1 + (ω_cτ)²), j_y = j_0 ω_cτ/(1 + (ω_cτ)²), j_0 = nτ(-eE)/m*.

Writes qkinetics-examples/magnetic_kinetics.png (``--output DIR`` to change; the figure of docs/kinetics.md,
made by docs/make_figures.py) and prints the relative deviations.

    python examples/magnetic_kinetics.py        # about a minute of CPU time
"""

import argparse
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402

from qkinetics import TightBinding, units  # noqa: E402
from qkinetics.kinetics import KineticSolver  # noqa: E402
from qkinetics.kinetics.magnetic import magnetic_wavenumber  # noqa: E402

FIGURE = "magnetic_kinetics.png"                     # written to --output (default ./qkinetics-examples)
HBAR = units.hbar_eVs
T1, T2 = -4.0 / 3.0, 1.0 / 12.0                        # eV: the k⁴ terms cancel (T1 = -16 T2, 6 T2 = 1 eV)
MU, T = -4.9, 1000.0                                   # eV (0.1 eV above the band bottom), K
NK = 48


def parabolic_band():
    return TightBinding(np.eye(2), [[0, 0]], {(1, 0): [[T1]], (0, 1): [[T1]], (2, 0): [[T2]], (0, 2): [[T2]]},
                        hermiticity="complete", name="parabolic-like")


def omega_c(B):
    """ω_c = eB/m* = b ε''/ħ with ε'' = ħ²/m* = 2 eV Å² (b = eB/ħ in 1/Å²)."""
    return 2.0 * magnetic_wavenumber(B) / HBAR


def precession(B=200.0):
    s = KineticSolver(parabolic_band(), None, length=1000.0, nx=2, nk=NK, nk_perp=NK, mu=MU, T=T, tau=np.inf, B=B,
                      limiter="none")
    KX, KY = np.meshgrid(s.k, s.ky, indexing="ij")
    e_shift = 2 * T1 * (np.cos(KX - 0.1) + np.cos(KY)) + 2 * T2 * (np.cos(2 * (KX - 0.1)) + np.cos(2 * KY))
    s.f = np.broadcast_to(s.fermi(e_shift - MU), s.shape).copy()        # displaced by 0.1/Å along k_x
    times = np.linspace(0, 2 * 2 * np.pi / omega_c(B), 61)
    J = []
    for t in times:
        s.advance(t)
        J.append((s.current().sum(), s.current_y().sum()))
    return times, np.array(J)


def hall(B, tau=1e-13, E=1e-6):
    s = KineticSolver(parabolic_band(), None, length=1000.0, nx=2, nk=NK, nk_perp=NK, mu=MU, T=T, tau=tau, B=B,
                      limiter="none", field=lambda x, t: E + 0 * x)
    ds = s.steady_state(tol=1e-8)
    n = float(s.density().sum(0).mean())
    j0 = n * tau * (-E) / (HBAR ** 2 / 2.0)
    return float(ds.jx.sum("band").mean()), float(ds.jy.sum("band").mean()), j0


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--output", type=Path, default=Path("qkinetics-examples"),
                        help="directory for the figure (docs/make_figures.py passes docs/figures)")
    out = parser.parse_args().output
    out.mkdir(parents=True, exist_ok=True)
    fig, (ax1, ax2) = plt.subplots(1, 2, figsize=(10, 4), constrained_layout=True)

    B, tau = 200.0, 1e-13
    times, J = precession(B)
    wc = omega_c(B)
    phase = np.unwrap(np.arctan2(J[:, 1], J[:, 0]))
    omega = np.polyfit(times, phase, 1)[0]
    amp = np.hypot(J[0, 0], J[0, 1])
    print(f"precession at B = {B:g} T: omega / omega_c - 1 = {omega / wc - 1:.1e}, amplitude kept "
          f"{np.hypot(*J[-1]) / amp:.3f} after two periods")
    tt = np.linspace(0, times[-1], 400)
    ax1.plot(tt * wc / (2 * np.pi), np.cos(wc * tt + phase[0]), color="0.6", lw=3, label=r"closed form, $\omega_c = eB/m^*$")
    ax1.plot(tt * wc / (2 * np.pi), np.sin(wc * tt + phase[0]), color="0.6", lw=3)
    ax1.plot(times * wc / (2 * np.pi), J[:, 0] / amp, "o", ms=3.5, color="C0", label="$j_x$ (kinetic)")
    ax1.plot(times * wc / (2 * np.pi), J[:, 1] / amp, "s", ms=3.5, color="C3", label="$j_y$ (kinetic)")
    ax1.set_xlabel(r"$t\,\omega_c/2\pi$")
    ax1.set_ylabel(r"current / $|j(0)|$")
    ax1.set_title(f"cyclotron precession, B = {B:g} T, collisionless", fontsize=10)
    ax1.legend(fontsize=8, loc="lower left")

    fields = np.array([0.0, 50.0, 100.0, 200.0, 400.0, 800.0])
    rows = np.array([hall(b, tau) for b in fields])
    x = omega_c(fields) * tau
    j0 = rows[:, 2]
    dx, dy = j0 / (1 + x ** 2), j0 * x / (1 + x ** 2)
    for b, r, ax_, ay_ in zip(fields, rows, dx, dy):
        print(f"B = {b:5.0f} T, omega_c tau = {omega_c(b) * tau:.3f}: j_x / Drude - 1 = {r[0] / ax_ - 1:+.1e}"
              + (f", j_y / Drude - 1 = {r[1] / ay_ - 1:+.1e}" if b else ""))
    xx = np.linspace(0, x.max(), 200)
    ax2.plot(xx, 1 / (1 + xx ** 2), color="0.6", lw=3, label="Drude")
    ax2.plot(xx, xx / (1 + xx ** 2), color="0.6", lw=3)
    ax2.plot(x, rows[:, 0] / j0, "o", color="C0", label=r"$j_x/j_0$ (kinetic)")
    ax2.plot(x, rows[:, 1] / j0, "s", color="C3", label=r"$j_y/j_0$ (kinetic)")
    ax2.set_xlabel(r"$\omega_c\tau$")
    ax2.set_ylabel(r"steady current / $j_0$")
    ax2.set_title(r"uniform $E_x$ on a ring, $\tau$ = 0.1 ps: Hall current", fontsize=10)
    ax2.legend(fontsize=8)
    fig.suptitle(f"parabolic-like band, μ - ε_min = 0.1 eV, T = {T:g} K, nk = {NK}x{NK}", fontsize=10)
    tmp = out / (FIGURE + ".tmp.png")
    fig.savefig(tmp, dpi=120)
    tmp.replace(out / FIGURE)
    print(f"wrote {out / FIGURE}")


if __name__ == "__main__":
    main()
