"""Figures for docs/real-materials.md: bcc Fe anomalous Hall and Te Berry curvature dipole from Wannier90 runs.

Both models are Wannier90's own regression inputs (tests/data/wannier90, from 2x2x2 ab-initio grids): they
show the workflow and what the position-block terms of the full Wannier interpolation change, not
converged physical values.

(a) Fe: sigma_xy versus Fermi energy at 300 K on a Gamma-centred 16^3 grid, split into the contributions of
    the bands (band index counted from the bottom of the Wannier manifold): the bands whose occupation
    changes in the window one by one, the others summed; symlog scale, because single bands carry large
    curvature of opposite sign near their mutual (avoided) crossings that cancels in the total. Full
    interpolation against the tight-binding approximation (position matrix dropped): equal here to 1e-9 S/cm.
(b) Te: Berry curvature dipole D_xx, D_yy and D_zy (TAS17, Gaussian delta of 0.1 eV) over the whole zone on a
    Gamma-centred 12^3 grid versus Fermi energy, full interpolation and tight-binding approximation.

Run from the repository root:  python examples/real_materials.py [--output DIR]   (about 2 minutes)
Writes DIR/real_materials.png (default ./qkinetics-examples; docs/make_figures.py passes docs/figures).
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

DATA = Path(__file__).resolve().parent.parent / "tests" / "data" / "wannier90"


def fe_band_resolved_ahc(model, fermi, T, n):
    """-(e^2/hbar) int f_n Omega_n^xy per band n, S/cm, on a Gamma-centred n^3 grid: (band, E_F)."""
    grid = qk.integrate.KGrid(model, n, shift=0.0)
    kT = units.kB_eV * T
    per_band = np.zeros((model.norb, len(fermi)))
    for k, _ in grid.chunks(2000):
        geo = qk.band_geometry(model, k, inverse_mass=False)
        occ = 0.5 * (1 - np.tanh((geo.energies[None] - fermi[:, None, None]) / (2 * kT)))   # (F, B, N)
        per_band += np.einsum("fkn,kn->nf", occ, geo.berry_curvature[..., 0, 1])
    volume = abs(np.linalg.det(model.lattice)) * units.angstrom**3
    scale = -units.e**2 / units.hbar / (grid.npoints * volume) * units.angstrom**2 / 100   # S/cm
    return per_band * scale


def main(out: Path):
    start = time.perf_counter()
    fe = qk.read_wannier90(DATA / "fe" / "Fe.win")
    te = qk.read_wannier90(DATA / "te" / "Te.win")
    ef0 = fe.provenance["fermi_energy"]
    fermi = ef0 + np.linspace(-1.0, 1.0, 81)
    full = fe_band_resolved_ahc(fe, fermi, 300.0, 16)
    tb = fe_band_resolved_ahc(fe.tight_binding_approximation(), fermi, 300.0, 16)

    fermi_te = np.linspace(1.0, 3.0, 81)
    d_full = qk.gyrotropic_tensors(te, fermi_te, kgrid=12, tensors=("D",)).D.values
    d_tb = qk.gyrotropic_tensors(te.tight_binding_approximation(), fermi_te, kgrid=12, tensors=("D",)).D.values

    fig, (ax1, ax2) = plt.subplots(1, 2, figsize=(11, 4.2), constrained_layout=True)
    # bands whose occupation changes across the window, one by one; the others (filled or empty
    # throughout) as one sum: single deep bands carry huge, cancelling curvature near their crossings
    swing = full.max(axis=1) - full.min(axis=1)
    crossing = np.flatnonzero(swing > 1e-3 * swing.max())
    rest = np.setdiff1d(np.arange(fe.norb), crossing)
    x = fermi - ef0
    for n in crossing:
        ax1.plot(x, full[n], lw=1.1, label=f"band {n + 1}")
    ax1.plot(x, full[rest].sum(axis=0), lw=1.4, color="0.5", label="bands filled or empty throughout")
    ax1.plot(x, full.sum(axis=0), "k", lw=2.2, label="total (full interpolation)")
    ax1.plot(x, tb.sum(axis=0), "k--", lw=1.5, label="total (tight-binding approx.)")
    ax1.axvline(0, color="0.7", lw=0.8)
    ax1.set_yscale("symlog", linthresh=3000)         # single bands carry large, cancelling curvature
    ax1.set_xlabel(r"$E_F - 12.6279$ eV")
    ax1.set_ylabel(r"$\sigma_{xy}$ (S/cm)")
    ax1.set_title("(a) bcc Fe, 300 K, 16$^3$ grid: band contributions")
    ax1.legend(fontsize=6, ncol=2)
    for (a, b), color in (((0, 0), "C0"), ((1, 1), "C2"), ((2, 1), "C3")):
        label = "xyz"[a] + "xyz"[b]
        ax2.plot(fermi_te, d_full[:, a, b], color=color, lw=2, label=f"$D_{{{label}}}$ full")
        ax2.plot(fermi_te, d_tb[:, a, b], color=color, ls="--", lw=1.3, label=f"$D_{{{label}}}$ tight-binding")
    ax2.axhline(0, color="0.7", lw=0.8)
    ax2.set_xlabel(r"$E_F$ (eV)")
    ax2.set_ylabel("Berry curvature dipole $D$")
    ax2.set_title("(b) Te, whole zone 12$^3$, Gaussian 0.1 eV")
    ax2.legend(fontsize=8)
    out.mkdir(parents=True, exist_ok=True)
    path = out / "real_materials.png"
    tmp = path.with_name(path.stem + ".tmp.png")
    fig.savefig(tmp, dpi=110)
    tmp.replace(path)
    i0 = np.argmin(np.abs(x))
    print(f"Fe sigma_xy at E_F (300 K, 16^3): full {full.sum(axis=0)[i0]:.2f} S/cm, tight-binding approximation "
          f"{tb.sum(axis=0)[i0]:.2f} S/cm (largest difference in the window "
          f"{np.abs(full.sum(axis=0) - tb.sum(axis=0)).max():.1e} S/cm)")
    print(f"Te D at E_F = 2 eV (12^3): full {d_full[40].round(5).tolist()}, tight-binding {d_tb[40].round(5).tolist()}")
    print(f"wrote {path} in {time.perf_counter() - start:.0f} s")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--output", type=Path, default=Path("qkinetics-examples"),
                        help="directory for the figure (docs/make_figures.py passes docs/figures)")
    main(parser.parse_args().output)
