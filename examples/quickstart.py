"""qkinetics in a few seconds: a zoo model, band geometry at a few k points, a Chern number,
and a round trip through a Wannier90 ``_tb.dat`` file.

Run:  python examples/quickstart.py
"""

import tempfile
from pathlib import Path

import numpy as np

import qkinetics as qk
from qkinetics.models import write_wannier90_tb

# 1. A zoo model: the Haldane Chern insulator (energies in eV, lengths in Angstrom).
model = qk.zoo.haldane(t1=1.0, t2=0.1, phi=np.pi / 2, mass=0.2)
print(model, model.provenance)

# 2. Band geometry at Gamma, K and K' (reduced coordinates -> Cartesian k in 1/Angstrom).
points = {"G": (0.0, 0.0), "K": (2 / 3, 1 / 3), "K'": (1 / 3, 2 / 3)}
k = model.k_from_reduced(list(points.values()))
geo = qk.band_geometry(model, k, derivatives=True)
print(f"\n{'k':>3} {'band':>4} {'E (eV)':>9} {'Omega_xy (A^2)':>15} {'tr g (A^2)':>11} {'tr G (A^2/eV)':>14}")
for i, name in enumerate(points):
    for n in range(model.norb):
        print(f"{name:>3} {n:>4} {geo.energies[i, n]:>9.4f} {geo.berry_curvature[i, n, 0, 1]:>15.4f} "
              f"{np.trace(geo.quantum_metric[i, n]):>11.4f} {np.trace(geo.normalized_metric[i, n]):>14.4f}")
print("d_c g^{ab} has shape", geo.quantum_metric_derivative.shape, "(k, band, a, b, c)")

# 3. Chern number of the lower band and the Hall conductance of the filled band.
C = qk.chern_number(model, [0])
print(f"\nChern number of the lower band: {C}; sigma_xy = -(e^2/h) C = {-C * qk.units.e2_over_h:.4e} S")

# 4. Write the model as a Wannier90 seedname_tb.dat, read it back, compare.
with tempfile.TemporaryDirectory() as tmp:
    path = Path(tmp) / "haldane_tb.dat"
    write_wannier90_tb(model, path)
    back = qk.read_wannier90(path, dim=2)               # lattice and Wannier centres from the file
    print(f"\nread back {back}: positions (reduced) {back.positions.tolist()}")
    geo_back = qk.band_geometry(back, k)
    print("max |Delta E| =", np.abs(geo_back.energies - geo.energies).max(), "eV;",
          "max |Delta Omega| =", np.abs(geo_back.berry_curvature - geo.berry_curvature).max(), "A^2;",
          "Chern number", qk.chern_number(back, [0]))
