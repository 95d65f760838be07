"""Figures for docs/magnetotransport.md: magnetoconductance, the chiral anomaly, and Landau levels.

(1) magnetotransport.png, three panels:
    (a) one parabolic band (m = m_e, mu = 0.2 eV, 300 K, tau = 1e-13 s): sigma_xx and -sigma_xy versus B from the
        k-space Boltzmann solver (lines) and the closed forms sigma_0/(1 + (w_c tau)^2), sigma_0 w_c tau/(1 + ...)
        (markers); two bands (masses 1 and 0.5 m_e, tau 1 and 3 x 1e-13 s): rho_xx(B)/rho_xx(0) - 1, positive;
    (b) zoo Weyl semimetal (a = 10 A, mu = 0.3 eV, 600 K, tau = 1e-14 s), B parallel to E along the node axis:
        sigma_xx(B)/sigma_xx(0) - 1 for three intervalley times, and the Son-Spivak closed form
        (e^4/h^4) tau_v B^2 sum_v 1/nu_v (dashed);
    (c) Landau levels of the same lattice model (a = 1 A) at flux 1/64 along x versus k_x: the chiral zeroth
        levels cross E = 0 at the two nodes with opposite slopes.

Run:  python examples/magnetotransport.py [--output DIR]   (about 40 s; default DIR ./qkinetics-examples;
      docs/make_figures.py passes docs/figures)
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

import qkinetics as qk
from qkinetics import units
from qkinetics.exact.landau import landau_levels
from qkinetics.run.writer import save_figure

M_E = 9.1093837015e-31
C_FREE = units.hbar ** 2 / (2 * M_E) / units.e * 1e20          # hbar^2/2m_e in eV A^2


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--output", default="qkinetics-examples", help="output directory")
    out = Path(parser.parse_args().output)
    out.mkdir(parents=True, exist_ok=True)
    start = time.time()
    fig, axs = plt.subplots(1, 3, figsize=(14, 4))

    # (a) parabolic bands
    kx, ky = sp.symbols("kx ky", real=True)
    B = np.linspace(0, 60, 13)
    one = qk.Continuum(sp.Matrix([[C_FREE * (kx ** 2 + ky ** 2)]]), kcut=1.0)
    s = qk.magnetoconductivity(one, B=B, mu=0.2, T=300.0, tau=1e-13, kgrid=128)["total"].squeeze()
    kT = units.kB_eV * 300.0
    n = M_E / (2 * np.pi * units.hbar ** 2) * kT * units.e * np.log1p(np.exp(0.2 / kT))
    s0, x = n * units.e ** 2 * 1e-13 / M_E, units.e * B / M_E * 1e-13
    ax = axs[0]
    ax.plot(B, s.sel(j="x", E="x") * 1e3, "C0-", label="σ_xx (solver)")
    ax.plot(B, -s.sel(j="x", E="y") * 1e3, "C1-", label="−σ_xy (solver)")
    ax.plot(B[::2], s0 / (1 + x[::2] ** 2) * 1e3, "C0o", ms=4, label="closed forms")
    ax.plot(B[::2], s0 * x[::2] / (1 + x[::2] ** 2) * 1e3, "C1o", ms=4)
    two = qk.Continuum(sp.Matrix([[C_FREE * (kx ** 2 + ky ** 2), 0], [0, 0.05 + 2 * C_FREE * (kx ** 2 + ky ** 2)]]),
                       kcut=1.0)
    s2 = qk.magnetoconductivity(two, B=B, mu=0.2, T=300.0, tau=1e-13, band_tau=[1.0, 3.0], kgrid=128)
    s2 = s2["total"].squeeze()
    rho = s2.sel(j="x", E="x") / (s2.sel(j="x", E="x") ** 2 + s2.sel(j="x", E="y") ** 2)
    ax.set_xlabel("B (T)")
    ax.set_ylabel("σ (mS)")
    ax.set_title("(a) parabolic band: Drude in B", fontsize=9)
    ax.legend(fontsize=7, loc="center right")
    twin = ax.twinx()
    twin.plot(B, rho / rho[0] - 1, "k--", label="two bands: ρ_xx(B)/ρ_xx(0) − 1")
    twin.set_ylabel("two-band magnetoresistance")
    twin.legend(fontsize=7, loc="upper center")

    # (b) chiral anomaly
    a = 10.0
    weyl = qk.zoo.weyl_semimetal(a=a)
    nodes = [[np.pi / 2 / a, 0, 0], [-np.pi / 2 / a, 0, 0]]
    Bw = np.linspace(0.0, 3.0, 7)
    tv = np.array([2e-13, 5e-13, 1e-12])
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")              # 64^3 resolves the Son-Spivak slope to 1.4% (docs)
        res = qk.magnetoconductivity(weyl, B=Bw, direction=[1, 0, 0], mu=0.3, T=600.0, tau=1e-14, tau_valley=tv,
                                     valleys=nodes, kgrid=64)
    qk.plot.magnetoconductance(res, "xx", ax=axs[1])
    sxx0 = res["total"].sel(j="x", E="x", B=0.0).squeeze().values
    nu = res["density_of_states"].squeeze().values / units.e             # (B, valley) 1/(J m^3)
    for i, t in enumerate(tv):
        closed = units.e ** 4 / units.h ** 4 * t * Bw ** 2 * np.sum(1 / nu, axis=-1)
        axs[1].plot(Bw, closed / sxx0[i], "k:", lw=1)
    axs[1].set_title("(b) Weyl semimetal, B ∥ E: chiral anomaly\n(dotted: Son–Spivak, τ_v-linear part)", fontsize=9)

    # (c) Landau levels
    model = qk.zoo.weyl_semimetal()
    kxs = np.linspace(-np.pi, np.pi, 241)
    k = np.stack([kxs, 0 * kxs, 0 * kxs], axis=-1)
    e = landau_levels(model, 1, 64, k, axis=0)
    axs[2].plot(kxs, e, "C0-", lw=0.6)
    axs[2].set_ylim(-1, 1)
    axs[2].axhline(0, color="k", lw=0.5)
    axs[2].set_xlabel("k_x a")
    axs[2].set_ylabel("E (eV)")
    axs[2].set_title("(c) Landau levels, flux h/64e per cell along x", fontsize=9)
    fig.tight_layout()
    save_figure(fig, out / "magnetotransport.png", dpi=120)
    print(f"wrote {out / 'magnetotransport.png'} in {time.time() - start:.0f} s")


if __name__ == "__main__":
    main()
