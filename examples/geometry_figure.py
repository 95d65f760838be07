"""Figure for docs/models-and-geometry.md: band geometry of three zoo models.

(a) massive Dirac cone: Berry curvature of both bands along k_y = 0 (lines: qk.band_geometry on a
    tilted cone; points: closed forms of the untilted cone; the tilt does not change them);
(b) the same for the quantum metric g^xx, g^yy and the band-normalized metric G^xx;
(c) Haldane model: Chern number of the lower band over (phi, M/t2) from qk.chern_number on a
    coarse grid, with the analytic phase boundaries M = +-3 sqrt(3) t2 sin(phi);
(d) PT-symmetric antiferromagnet: bands along Gamma-X-M-Gamma coloured by tr G (every band is a
    Kramers pair; its Berry curvature vanishes identically but its normalized metric does not).

Run from anywhere:  python examples/geometry_figure.py   (about 4 s of CPU time)
Writes qkinetics-examples/models_geometry.png (``--output DIR`` to change; docs/make_figures.py makes the docs'
figure).
"""

import argparse
from pathlib import Path
import time

import numpy as np
import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt
from matplotlib.colors import BoundaryNorm, ListedColormap, SymLogNorm

import qkinetics as qk

FIGURE = "models_geometry.png"                       # written to --output (default ./qkinetics-examples)


def dirac_closed_form(v, m, kx):
    """Closed forms on the line k_y = 0 for H = v (kx sx + ky sy) + m sz, E = sqrt(v^2 kx^2 + m^2).

    With d = (v kx, v ky, m): Omega_lower^xy = v^2 m / (2 E^3) = -Omega_upper^xy;
    g^ab = (1/4) d_a d^ . d_b d^ gives g^xx = v^2 m^2 / (4 E^4), g^yy = v^2 / (4 E^2);
    two bands: G_upper = 2 g / (E - (-E)) = g / E.
    """
    E = np.sqrt(v**2 * kx**2 + m**2)
    return dict(omega=v**2 * m / (2 * E**3), gxx=v**2 * m**2 / (4 * E**4), gyy=v**2 / (4 * E**2), E=E)


def panel_dirac(ax_om, ax_g):
    v, mass, tilt = 1.0, 0.5, 0.3                       # eV Angstrom, eV, eV Angstrom
    model = qk.zoo.massive_dirac(v=v, mass=mass, tilt=tilt)
    kx = np.linspace(-2.0, 2.0, 401)
    geo = qk.band_geometry(model, np.stack([kx, 0 * kx], axis=1))
    kp = np.linspace(-2.0, 2.0, 21)
    ref = dirac_closed_form(v, mass, kp)

    ax_om.plot(kx, geo.berry_curvature[:, 0, 0, 1], color="C0", label=r"lower band $\Omega^{xy}_-$")
    ax_om.plot(kx, geo.berry_curvature[:, 1, 0, 1], color="C3", label=r"upper band $\Omega^{xy}_+$")
    ax_om.plot(kp, ref["omega"], "o", ms=4, mfc="none", color="k", label=r"closed form $\pm v^2 m/2E^3$")
    ax_om.plot(kp, -ref["omega"], "o", ms=4, mfc="none", color="k")
    ax_om.axhline(0, color="0.8", lw=0.5)
    ax_om.set_xlabel(r"$k_x$ ($\AA^{-1}$), $k_y = 0$")
    ax_om.set_ylabel(r"Berry curvature ($\AA^2$)")
    ax_om.set_title(f"(a) massive Dirac, v={v:g} eV$\\AA$, m={mass:g} eV, tilt={tilt:g} eV$\\AA$", fontsize=9)
    ax_om.legend(fontsize=8, loc="upper right")

    ax_g.plot(kx, geo.quantum_metric[:, 0, 0, 0], color="C0", label=r"$g^{xx}$ (both bands), $\AA^2$")
    ax_g.plot(kx, geo.quantum_metric[:, 0, 1, 1], color="C2", label=r"$g^{yy}$ (both bands), $\AA^2$")
    ax_g.plot(kx, geo.normalized_metric[:, 1, 0, 0], color="C1", label=r"$G^{xx}_+$ (upper band), $\AA^2$/eV")
    ax_g.plot(kp, ref["gxx"], "o", ms=4, mfc="none", color="k", label="closed forms")
    ax_g.plot(kp, ref["gyy"], "o", ms=4, mfc="none", color="k")
    ax_g.plot(kp, ref["gxx"] / ref["E"], "o", ms=4, mfc="none", color="k")
    ax_g.set_xlabel(r"$k_x$ ($\AA^{-1}$), $k_y = 0$")
    ax_g.set_ylabel("quantum metric, normalized metric")
    ax_g.set_title("(b) same cone: metric and band-normalized metric", fontsize=9)
    ax_g.legend(fontsize=8, loc="upper right")
    err = max(np.abs(qk.band_geometry(model, np.stack([kp, 0 * kp], 1)).berry_curvature[:, 0, 0, 1]
                     - ref["omega"]).max(), 0.0)
    return err


def panel_haldane(ax, fig):
    t2, n_phi, n_mass, nk = 0.1, 25, 21, 24
    phis = np.linspace(-np.pi, np.pi, n_phi)
    ratios = np.linspace(-7.0, 7.0, n_mass)             # M / t2; critical |M|/t2 = 3 sqrt(3) |sin phi| <= 5.2
    C = np.full((n_mass, n_phi), np.nan)
    for i, r in enumerate(ratios):
        for j, phi in enumerate(phis):
            try:
                C[i, j] = qk.chern_number(qk.zoo.haldane(t1=1.0, t2=t2, phi=phi, mass=r * t2), [0], nk=nk)
            except qk.ModelError:                        # gap closes on the grid: C undefined
                pass
    # Haldane's result for the lower band in the library's sign convention: C = -sign(sin phi) inside
    crit = 3 * np.sqrt(3) * np.abs(np.sin(phis))[None, :]
    expected = np.where(np.abs(ratios)[:, None] < crit, -np.sign(np.sin(phis))[None, :], 0.0)
    ok = np.isfinite(C)
    agree = np.mean(C[ok] == expected[ok])

    cmap = ListedColormap(["#3b6fb6", "#eeeeee", "#c0392b"])
    norm = BoundaryNorm([-1.5, -0.5, 0.5, 1.5], cmap.N)
    mesh = ax.pcolormesh(phis, ratios, C, cmap=cmap, norm=norm, shading="nearest")
    bad = np.argwhere(~np.isfinite(C))
    if len(bad):
        ax.plot(phis[bad[:, 1]], ratios[bad[:, 0]], "kx", ms=6, label="gap closes on the k grid")
        ax.legend(fontsize=8, loc="lower center")
    phi_f = np.linspace(-np.pi, np.pi, 400)
    for s in (1, -1):
        ax.plot(phi_f, s * 3 * np.sqrt(3) * np.sin(phi_f), color="k", lw=1.2)
    cb = fig.colorbar(mesh, ax=ax, ticks=[-1, 0, 1])
    cb.set_label("Chern number C of the lower band")
    ax.set_xticks([-np.pi, -np.pi / 2, 0, np.pi / 2, np.pi], [r"$-\pi$", r"$-\pi/2$", "0", r"$\pi/2$", r"$\pi$"])
    ax.set_xlabel(r"$\phi$")
    ax.set_ylabel(r"$M / t_2$")
    ax.set_title(f"(c) Haldane, t1=1 eV, t2={t2:g} eV: qk.chern_number, nk={nk}\n"
                 rf"lines: $M = \pm 3\sqrt{{3}}\, t_2 \sin\phi$; agreement with Haldane {100 * agree:.0f}%",
                 fontsize=9)
    return agree, int((~ok).sum())


def panel_pt_afm(ax, fig):
    model = qk.zoo.pt_antiferromagnet()                  # t=1, t_ab=0.8, lambda_so=0.3, neel=(0, 0.3, 0) eV
    labels = [r"$\Gamma$", "X", "M", r"$\Gamma$"]
    red = np.array([[0, 0], [0.5, 0], [0.5, 0.5], [0, 0]], dtype=float)
    corners = model.k_from_reduced(red)
    ks, s, ticks = [], [], [0.0]
    for a, b in zip(corners[:-1], corners[1:]):
        t = np.linspace(0, 1, 150)[:, None]
        ks.append(a + t * (b - a))
        s.append(ticks[-1] + np.linalg.norm(b - a) * t[:, 0])
        ticks.append(ticks[-1] + np.linalg.norm(b - a))
    k, s = np.concatenate(ks), np.concatenate(s)
    geo = qk.band_geometry(model, k)
    trG = np.trace(geo.normalized_metric, axis1=-2, axis2=-1)
    lim = np.abs(trG).max()
    norm = SymLogNorm(linthresh=0.1, vmin=-lim, vmax=lim)   # G spans 0.01..25: log colour scale
    for n in range(model.norb):
        sc = ax.scatter(s, geo.energies[:, n], c=trG[:, n], cmap="coolwarm", norm=norm, s=5)
    cb = fig.colorbar(sc, ax=ax)
    cb.set_label(r"tr $G_n$ ($\AA^2$/eV, symmetric log scale)")
    ax.set_xticks(ticks, labels)
    for t in ticks:
        ax.axvline(t, color="0.8", lw=0.5)
    ax.set_xlim(ticks[0], ticks[-1])
    ax.set_ylabel("energy (eV)")
    ax.set_title("(d) PT antiferromagnet (defaults): Kramers-degenerate bands\n"
                 rf"coloured by tr $G$; max $|\Omega|$ = {np.abs(geo.berry_curvature).max():.0e} $\AA^2$",
                 fontsize=9)
    return int(geo.degeneracy.min()), float(np.abs(geo.berry_curvature).max())


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--output", type=Path, default=Path("qkinetics-examples"),
                        help="directory for the figure (docs/make_figures.py passes docs/figures)")
    OUT = parser.parse_args().output / FIGURE
    t0 = time.perf_counter()
    fig, axes = plt.subplots(2, 2, figsize=(11, 8.5), constrained_layout=True)
    err = panel_dirac(axes[0, 0], axes[0, 1])
    agree, gapless = panel_haldane(axes[1, 0], fig)
    deg, om_max = panel_pt_afm(axes[1, 1], fig)
    OUT.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(OUT, dpi=110)
    plt.close(fig)
    print(f"Dirac: max |Omega - closed form| = {err:.1e} Angstrom^2")
    print(f"Haldane: {100 * agree:.1f}% of grid points agree with the analytic phase diagram "
          f"({gapless} points gapless on the grid)")
    print(f"PT antiferromagnet: smallest degenerate group {deg}, max |Omega| = {om_max:.1e} Angstrom^2")
    print(f"wrote {OUT} in {time.perf_counter() - t0:.1f} s")


if __name__ == "__main__":
    main()
