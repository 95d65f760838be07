"""Wannier-Stark ladder of two Rice-Mele chains: exact vs the Moyal band energy (docs/moyal.md, section 7).

The ladder offsets E_n(F) of an open chain in V = F x, from exact diagonalization, against the
semiclassical <eps_n> + F x^W_n (first order) and + c_n F^2, c_n = 1/2 <G_n^xx>_BZ (second
order). Writes qkinetics-examples/wannier_stark.png (``--output DIR`` to change; docs/make_figures.py makes
the docs' figure) and prints the fitted log-log slopes.

    python examples/wannier_stark.py        # about 4 s of CPU time
"""

import argparse
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402

import qkinetics as qk  # noqa: E402
from qkinetics.exact import ladder_errors, wannier_stark_prediction  # noqa: E402

MODELS = {
    "Rice-Mele (t=1, δt=0.3, Δ=0.2, a=1 Å)": dict(),
    "Rice-Mele (t=0.8, δt=-0.25, Δ=0.5, a=2.5 Å)": dict(t=0.8, delta_t=-0.25, staggered=0.5, a=2.5),
}
FIGURE = "wannier_stark.png"                       # written to --output (default ./qkinetics-examples)


def slope(F, err):
    return np.polyfit(np.log(F), np.log(np.abs(err)), 1)[0]


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--output", type=Path, default=Path("qkinetics-examples"),
                        help="directory for the figure (docs/make_figures.py passes docs/figures)")
    OUT = parser.parse_args().output / FIGURE
    fig, axes = plt.subplots(1, 2, figsize=(10, 4.2), sharey=True)
    for ax, (label, kw) in zip(axes, MODELS.items()):
        model = qk.zoo.rice_mele(**kw)
        p = wannier_stark_prediction(model)
        Fa = np.geomspace(1e-3, 3e-2, 8)                  # F a in eV (gap of order 1 eV)
        F = Fa / p.a
        r = ladder_errors(model, F, prediction=p)
        _, e1, e2 = np.abs(r["error"])
        print(label)
        # lower band: large open markers; upper band: small filled ones (for the Rice-Mele chain the two
        # coincide to plotting accuracy: the spectrum is symmetric under E -> -E)
        style = [dict(color="C0", ms=9, mfc="none", mew=1.5), dict(color="C3", ms=4)]
        for n, (st, name) in enumerate(zip(style, ["lower", "upper"])):
            s1, s2 = slope(F, e1[:, n]), slope(F, e2[:, n])
            print(f"  {name} band: c_n = {p.c2[n]:+.4f} Å²/eV, slope 1st order {s1:.2f}, 2nd order {s2:.2f}")
            ax.loglog(Fa, e1[:, n], "o-", label=f"{name}, 1st order (slope {s1:.2f})", **st)
            ax.loglog(Fa, e2[:, n], "s--", label=f"{name}, 2nd order (slope {s2:.2f})", **st)
            print("    |err| 1st:", np.array2string(e1[:, n], precision=2), "\n    |err| 2nd:",
                  np.array2string(e2[:, n], precision=2))
        # slope guides, anchored near the data
        ref1 = np.max(e1[0]) * 3
        ref2 = np.max(e2[0]) * 3
        ax.loglog(Fa, ref1 * (Fa / Fa[0]) ** 2, ":", color="0.4", lw=1)
        ax.loglog(Fa, ref2 * (Fa / Fa[0]) ** 3, ":", color="0.4", lw=1)
        ax.text(Fa[-1], ref1 * (Fa[-1] / Fa[0]) ** 2, r" $\propto F^2$", va="center", fontsize=9)
        ax.text(Fa[-1], ref2 * (Fa[-1] / Fa[0]) ** 3, r" $\propto F^3$", va="center", fontsize=9)
        ax.set_title(label, fontsize=10)
        ax.set_xlabel(r"$F a$ (eV)")
        ax.set_xlim(Fa[0] / 1.3, Fa[-1] * 3)
        ax.grid(True, which="major", alpha=0.3)
        ax.legend(fontsize=7.5, loc="upper left")
    axes[0].set_ylabel(r"$|E_n^{\rm exact}(F) - E_n^{\rm pred}(F)|$ (eV)")
    fig.suptitle("Wannier-Stark ladder offsets: exact diagonalization vs Moyal band energy", fontsize=11)
    fig.tight_layout()
    OUT.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(OUT, dpi=130)
    print(f"wrote {OUT}")


if __name__ == "__main__":
    main()
