"""Dynamic density response of the phase-space kinetic solver against the multiband Lindhard function.

A Rice-Mele chain doped into its lower band (mu = -1.3 eV, T = 300 K) in a weak travelling wave
V0 cos(qx - wt): the kinetic solver (qkinetics.kinetics.KineticSolver, one wavelength in the periodic box)
is run into the periodic steady state and chi = 2 <delta n e^{-iqx}> e^{iwt} / V0 is compared with
qkinetics.kubo.lindhard at eta = hbar/tau, for the three relaxation models:

* "bare"   (relax to f_FD(eps - mu))      -> Lindhard(q, w; eta = hbar/tau) itself (to O(q^2)),
* "global" (relax to f_FD(eps + V - mu))  -> (w chi_L + i chi_L(q, 0) / tau) / (w + i / tau),
* "local"  (number conserving)            -> Mermin: (w + i/tau) chi_L / (w + i chi_L / (tau chi_L(q, 0))).

Left: Re and Im chi versus w at q = 0.05/A (lines: Lindhard-built forms; points: kinetic solver,
Richardson-extrapolated from nx = 32 and 64). Right: |kinetic - Lindhard| / |Lindhard| for "bare" versus q
at fixed q v_F tau and w tau: the O(q^2) interband and quantum intraband terms the kinetic theory lacks.
See docs/kinetics.md and tests/test_kinetics_lindhard.py.

    python examples/kinetics_lindhard.py            # about 2 minutes of CPU time; writes qkinetics-examples/kinetics_lindhard.png
    python examples/kinetics_lindhard.py --quick    # fewer frequencies, nx = 16/32
"""

import argparse
from pathlib import Path

import numpy as np

import qkinetics as qk
from qkinetics import units
from qkinetics.kinetics import KineticSolver
from qkinetics.kubo.lindhard import lindhard

HBAR = units.hbar_eVs
MU, T, V0 = -1.3, 300.0, 1e-4
Q0, TAU0 = 0.05, 4e-14
MODEL = qk.zoo.rice_mele()


def kinetic_chi(q, omega, tau, nx, relaxation="bare", nk=256):
    """chi of the kinetic solver in the periodic steady state (10 tau; 25 tau for "local")."""
    L = 2 * np.pi / q
    s = KineticSolver(MODEL, lambda x, t: V0 * np.cos(q * x - omega * t), length=L, nx=nx, nk=nk, mu=MU, T=T,
                      tau=tau, relaxation=relaxation, limiter="none")
    s.f = s.equilibrium(potential=False)
    n0 = s.density().sum(0)
    t_end = (25 if relaxation == "local" else 10) * tau
    s.advance(t_end)
    dn = s.density().sum(0) - n0
    return 2 * np.mean(dn * np.exp(-1j * q * s.x)) * np.exp(1j * omega * t_end) / V0


def kinetic_richardson(q, omega, tau, nx, relaxation="bare"):
    return (4 * kinetic_chi(q, omega, tau, 2 * nx, relaxation) - kinetic_chi(q, omega, tau, nx, relaxation)) / 3


def lindhard_chi(q, omegas, tau):
    ds = lindhard(MODEL, [[q]], omegas, mu=MU, T=T, eta=HBAR / tau, kgrid=4000)
    return ds["chi"].values[0, 0, 0, 0], ds["interband"].values[0, 0, 0, 0]


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true")
    ap.add_argument("--output", type=Path, default=Path("qkinetics-examples"),
                    help="directory for the figure (docs/make_figures.py passes docs/figures)")
    args = ap.parse_args()
    out = args.output / "kinetics_lindhard.png"
    nx = 16 if args.quick else 32

    # ---- chi(w) at fixed q
    hw_line = np.linspace(0.0, 0.08, 161)
    chiL, _ = lindhard_chi(Q0, hw_line / HBAR, TAU0)
    chiL0 = complex(lindhard(MODEL, [[Q0]], [0.0], mu=MU, T=T, eta=0.0, kgrid=4000)["chi"].values.ravel()[0])
    om = hw_line / HBAR
    G = 1 / TAU0
    forms = {"bare": chiL, "global": (om * chiL + 1j * G * chiL0) / (om + 1j * G),
             "local": (om + 1j * G) * chiL / (om + 1j * G * chiL / chiL0)}
    hw_pts = np.array([0.005, 0.015, 0.025, 0.04, 0.06] if args.quick else
                      [0.0025, 0.01, 0.02, 0.03, 0.04, 0.05, 0.065, 0.08])
    pts = {r: np.array([kinetic_richardson(Q0, h / HBAR, TAU0, nx, r) for h in hw_pts]) for r in forms}
    print(f"q = {Q0}/A, tau = {TAU0:g} s (eta = {HBAR / TAU0 * 1e3:.1f} meV), mu = {MU} eV, T = {T} K; "
          f"chi in 1/(eV A)")
    print(f"{'hbar w (eV)':>11} {'w tau':>6} " + " ".join(f"{r + ' kin':>22} {'rel vs form':>11}" for r in forms)
          + f" {'bare vs Lindhard':>16}")
    for i, h in enumerate(hw_pts):
        row = []
        for r in forms:
            f = np.interp(h, hw_line, forms[r].real) + 1j * np.interp(h, hw_line, forms[r].imag)
            row.append(f"{pts[r][i].real:>10.5f}{pts[r][i].imag:+.5f}j {abs(pts[r][i] - f) / abs(f):>11.2e}")
        exact = complex(lindhard_chi(Q0, [h / HBAR], TAU0)[0][0])
        print(f"{h:>11.4f} {h / HBAR * TAU0:>6.2f} " + " ".join(row)
              + f" {abs(pts['bare'][i] - exact) / abs(exact):>16.2e}")

    # ---- q -> 0 at fixed q v_F tau and w tau (hbar w = 0.025 eV at q = 0.05/A)
    qs = np.array([0.4, 0.2, 0.1] if args.quick else [0.4, 0.28, 0.2, 0.14, 0.1])
    d, inter = [], []
    for q in qs:
        tau, w = TAU0 * Q0 / q, 0.025 / HBAR * q / Q0
        chi, chi_inter = lindhard_chi(q, [w], tau)
        d.append(abs(kinetic_richardson(q, w, tau, nx) - chi[0]) / abs(chi[0]))
        inter.append(abs(chi_inter[0]) / abs(chi[0]))
    d, inter = np.array(d), np.array(inter)
    p = np.polyfit(np.log(qs), np.log(d), 1)[0]
    print("q (1/A):                 " + " ".join(f"{q:>8.3f}" for q in qs))
    print("bare kinetic vs Lindhard " + " ".join(f"{x:>8.2e}" for x in d) + f"   (slope {p:.2f})")
    print("interband / chi          " + " ".join(f"{x:>8.2e}" for x in inter))

    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, (ax, bx) = plt.subplots(1, 2, figsize=(11, 4.2), constrained_layout=True,
                                 gridspec_kw={"width_ratios": [1.6, 1]})
    from matplotlib.lines import Line2D

    colors = {"bare": "C0", "global": "C1", "local": "C2"}
    labels = {"bare": r"bare: Lindhard($\eta=\hbar/\tau$)", "global": "global: built from Lindhard",
              "local": "local: Mermin (from Lindhard)"}
    for r in forms:
        ax.plot(hw_line, forms[r].real, color=colors[r], lw=1.4)
        ax.plot(hw_line, forms[r].imag, color=colors[r], lw=1.4, ls="--")
        ax.plot(hw_pts, pts[r].real, "o", color=colors[r], ms=5, mfc="none")
        ax.plot(hw_pts, pts[r].imag, "s", color=colors[r], ms=4)
    handles = [Line2D([], [], color=colors[r], label=labels[r]) for r in forms] + [
        Line2D([], [], color="k", label="Re (line), kinetic (open circles)"),
        Line2D([], [], color="k", ls="--", label="Im (dashed), kinetic (squares)")]
    ax.axvline(HBAR * Q0 * 1.05e15, color="0.7", lw=0.8)
    ax.text(HBAR * Q0 * 1.05e15, ax.get_ylim()[1] * 0.9, r" $\hbar q v_F$", color="0.4", fontsize=9)
    ax.set_xlabel(r"$\hbar\omega$ (eV)")
    ax.set_ylabel(r"$\chi(q,\omega)$ (1/(eV $\AA$))")
    ax.set_title(f"Rice-Mele, q = {Q0}/$\\AA$, $\\tau$ = {TAU0:g} s: lines quantum reference, "
                 "points kinetic solver", fontsize=9)
    ax.legend(handles=handles, fontsize=7, loc="lower right", framealpha=0.9)
    bx.loglog(qs, d, "o-", label="bare kinetic vs Lindhard")
    bx.loglog(qs, inter, "s--", label="interband part of Lindhard")
    bx.loglog(qs, d[0] * (qs / qs[0]) ** 2, ":", color="0.5", label=r"$\propto q^2$")
    bx.set_xlabel(r"q (1/$\AA$) at fixed $q v_F\tau$ = 2.1, $\omega\tau$ = 1.5")
    bx.set_ylabel("relative difference")
    bx.legend(fontsize=8)
    out.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(out, dpi=130)
    print(f"Figure written to {out}")


if __name__ == "__main__":
    main()
