"""Equilibrium density of a Rice-Mele chain in V0 cos(q x): exact vs the O(hbar^m) phase-space theory.

Exact: supercell diagonalization (qkinetics.exact.supercell_density). Theory:
qkinetics.kinetics.equilibrium_density, the density of U * f(h~)_* * U^dagger to first order
(local-density approximation) and to second order (quantum-metric, band-normalized-metric and
Wigner-Kirkwood gradient terms). Prints the errors of the first and second harmonics and writes
qkinetics-examples/static_density.png (``--output DIR`` to change; the figure of docs/kinetics.md, made by
docs/make_figures.py).

    python examples/static_density.py        # about 2.5 minutes of CPU time
"""

import argparse
from pathlib import Path

import matplotlib
import matplotlib.ticker

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402

import qkinetics as qk  # noqa: E402
from qkinetics.exact import supercell_density  # noqa: E402
from qkinetics.kinetics import equilibrium_density  # noqa: E402
from qkinetics.moyal import jet  # noqa: E402

FIGURE = "static_density.png"                       # written to --output (default ./qkinetics-examples)
CASES = {"insulator (μ = 0 in the gap, 300 K)": (0.0, 300.0), "metal (μ = -1 eV, 1000 K)": (-1.0, 1000.0)}
V0 = 0.1                   # eV
PERIODS = (200, 100, 50, 25, 12)


def harmonics(model, M, mu, T, nx=16, nk=256):
    q = 2 * np.pi / M                                    # a = 1 Angstrom
    ns, xs = supercell_density(model, M, lambda x: V0 * np.cos(q * x), mu, T, n_twist=32)
    exact = np.array([(ns * np.exp(-1j * p * q * xs)).sum() / M for p in (1, 2)])
    x = (np.arange(nx) + 0.5) * M / nx
    dens = equilibrium_density(model, lambda y: V0 * jet.cos(q * y), x, nk, mu, T, order=2).sum(axis=1)
    cum = np.cumsum(dens, axis=0)
    theory = np.array([[(cum[o] * np.exp(-1j * p * q * x)).mean() for p in (1, 2)] for o in (1, 2)])
    return q, exact, theory


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--output", type=Path, default=Path("qkinetics-examples"),
                        help="directory for the figure (docs/make_figures.py passes docs/figures)")
    OUT = parser.parse_args().output / FIGURE
    model = qk.zoo.rice_mele()
    fig, axes = plt.subplots(1, 2, figsize=(10, 4), constrained_layout=True)
    for ax, (label, (mu, T)) in zip(axes, CASES.items()):
        rows = [harmonics(model, M, mu, T) for M in PERIODS]
        q = np.array([r[0] for r in rows])
        print(label)
        for p, marker in ((0, "o"), (1, "s")):
            e1 = np.array([abs(r[2][0, p] - r[1][p]) for r in rows])
            e2 = np.array([abs(r[2][1, p] - r[1][p]) for r in rows])
            s1 = np.polyfit(np.log(q[:3]), np.log(e1[:3]), 1)[0]
            s2 = np.polyfit(np.log(q[:3]), np.log(e2[:3]), 1)[0]
            print(f"  harmonic {p + 1}q: |n_exact| = {abs(rows[0][1][p]):.3e} 1/A; first-order error "
                  + " ".join(f"{v:.2e}" for v in e1) + f" (slope {s1:.2f}); second-order error "
                  + " ".join(f"{v:.2e}" for v in e2) + f" (slope {s2:.2f})")
            ax.loglog(q, e1, marker + "--", color="C0" if p == 0 else "C2",
                      label=f"{p + 1}q, first order (slope {s1:.1f})")
            ax.loglog(q, e2, marker + "-", color="C3" if p == 0 else "C1",
                      label=f"{p + 1}q, second order (slope {s2:.1f})")
        ax.xaxis.set_minor_formatter(matplotlib.ticker.NullFormatter())
        ax.set_title(f"Rice-Mele, V0 = {V0} eV: {label}", fontsize=9)
        ax.set_xlabel(r"$q$ (1/Å)")
        ax.set_ylabel(r"$|n_{q}^{\rm theory} - n_{q}^{\rm exact}|$ (1/Å)")
        ax.legend(fontsize=7)
    OUT.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(OUT, dpi=130)
    print(f"wrote {OUT}")


if __name__ == "__main__":
    main()
