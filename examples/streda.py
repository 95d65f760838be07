"""Figure for docs/orbital-moment.md: the Streda response of the Haldane model, exact and semiclassical.

(a) d nu / d phi (electrons per cell per flux quantum per cell, i.e. Phi_0 dn/dB at fixed mu) against the chemical
    potential at k_B T = 0.15 eV. Line: the semiclassical weak-field result from the Berry curvature and the
    orbital moment of qk.band_geometry; dashed: the Berry-curvature term alone; dots: exact diagonalization in
    the magnetic supercell at fluxes 0, +-1/q, +-2/q per cell (qkinetics.exact.hofstadter, q = 32).
(b) The largest difference over mu against q: the Richardson estimate converges as q^-4, the plain difference at
    flux 1/q as q^-2.

Run from anywhere:  python examples/streda.py   (about 10 s of CPU time)
Writes qkinetics-examples/streda.png (``--output DIR`` to change; docs/make_figures.py makes the docs' figure).
"""

import argparse
import os
import tempfile
import time
from pathlib import Path

import numpy as np
import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt

import qkinetics as qk
from qkinetics.exact.hofstadter import streda_exact, streda_prediction
from qkinetics.integrate.grids import KGrid
from qkinetics.integrate.occupation import fermi_dirac

FIGURE = "streda.png"                                # written to --output (default ./qkinetics-examples)
KT = 0.15                                            # eV


def curvature_term(model, mu, T, nk=150):
    """2 pi sum_n int d^2k/(2 pi)^2 f_n Omega_n^xy: the Streda response without the orbital moment."""
    k, w = next(KGrid(model, nk).chunks(nk * nk))
    geo = qk.band_geometry(model, k, inverse_mass=False)
    f = fermi_dirac(geo.energies, mu, T)[:, 0]
    return 2 * np.pi * np.einsum("k,mkn,kn->m", np.broadcast_to(w, (len(k),)), f, geo.berry_curvature[..., 0, 1])


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--output", type=Path, default=Path("qkinetics-examples"),
                        help="directory for the figure (docs/make_figures.py passes docs/figures)")
    out = parser.parse_args().output / FIGURE
    t0 = time.perf_counter()
    model = qk.zoo.haldane(t1=1.0, t2=0.15, mass=0.2)
    T = KT / qk.units.kB_eV
    mu = np.linspace(-3.5, 3.5, 141)
    pred = streda_prediction(model, mu, T, nk=150)
    curv = curvature_term(model, mu, T)
    mu_ed = np.linspace(-3.5, 3.5, 29)
    pred_ed = streda_prediction(model, mu_ed, T, nk=150)
    qs = [12, 16, 24, 32, 48]
    errs = {}
    for q in qs:
        rich, d1 = streda_exact(model, mu_ed, T, q, nk=(1, 2 * q))
        errs[q] = (np.abs(rich - pred_ed).max(), np.abs(d1 - pred_ed).max())
        if q == 32:
            ed32 = rich

    fig, (ax, bx) = plt.subplots(1, 2, figsize=(11, 4.2), constrained_layout=True)
    ax.plot(mu, pred, color="C0", label=r"semiclassical: $2\pi\sum_n\int[\Omega_n f_n - X_n f'_n]$")
    ax.plot(mu, curv, "--", color="C1", label=r"Berry curvature term alone")
    ax.plot(mu_ed, ed32, "o", color="k", mfc="none", ms=5, label="exact diagonalization, flux 1/32, 2/32 per cell")
    ax.axhline(qk.chern_number(model, [0]), color="0.7", lw=0.7, ls=":")
    ax.axhline(0, color="0.8", lw=0.5)
    ax.set_xlabel(r"$\mu$ (eV)")
    ax.set_ylabel(r"$\partial\nu/\partial\phi = \Phi_0\,\partial n/\partial B|_\mu$")
    ax.set_title(f"(a) Haldane model ($t_1$ = 1, $t_2$ = 0.15, M = 0.2 eV, C = -1), $k_BT$ = {KT:g} eV", fontsize=9)
    ax.legend(fontsize=8)
    q = np.array(qs, dtype=float)
    bx.loglog(q, [errs[x][0] for x in qs], "o-", label="Richardson from fluxes 1/q, 2/q")
    bx.loglog(q, [errs[x][1] for x in qs], "s-", label="difference at flux 1/q")
    bx.loglog(q, errs[qs[-1]][0] * (q / q[-1]) ** -4, ":", color="0.5", label=r"$\propto q^{-4}$")
    bx.loglog(q, errs[qs[-1]][1] * (q / q[-1]) ** -2, "--", color="0.5", label=r"$\propto q^{-2}$")
    bx.set_xlabel("q (flux quanta per cell 1/q)")
    bx.set_ylabel("max over $\\mu$ of |exact - semiclassical|")
    bx.set_title("(b) convergence in the flux", fontsize=9)
    bx.legend(fontsize=8)
    out.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(suffix=".png", dir=out.parent)
    os.close(fd)
    fig.savefig(tmp, dpi=110)
    plt.close(fig)
    os.replace(tmp, out)
    for x in qs:
        print(f"q = {x:3d}: max error Richardson {errs[x][0]:.1e}, plain difference {errs[x][1]:.1e}")
    print(f"wrote {out} in {time.perf_counter() - t0:.1f} s")


if __name__ == "__main__":
    main()
