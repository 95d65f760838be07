"""Physical constants and unit conventions of qkinetics.

Input units: energies in eV, lengths in Angstrom, wave vectors in 1/Angstrom,
temperatures in kelvin, times in seconds. Output: SI.
The electron charge is ``-e`` with ``e > 0`` (see docs/conventions.md).
"""

from scipy import constants as _c

#: Elementary charge e > 0 in coulomb.
e = _c.e
#: Reduced Planck constant in J s.
hbar = _c.hbar
#: Reduced Planck constant in eV s.
hbar_eVs = _c.hbar / _c.e
#: Planck constant in J s.
h = _c.h
#: Boltzmann constant in eV/K.
kB_eV = _c.k / _c.e
#: Conductance quantum e^2/h in siemens.
e2_over_h = _c.e**2 / _c.h
#: One Angstrom in metres.
angstrom = 1e-10
#: Magnetic flux quantum h/e in weber (T m^2); the Streda density change per flux is 1/(h/e) per band.
flux_quantum = _c.h / _c.e
#: Bohr magneton in eV/T.
bohr_magneton_eV = _c.physical_constants["Bohr magneton in eV/T"][0]
#: The orbital moment m = (e/hbar) X of X = 1 eV Angstrom^2 (``BandGeometry.orbital_moment``), in eV/T.
orbital_moment_eV_per_T = _c.e * angstrom**2 / _c.hbar
#: The same in Bohr magnetons (about 0.2625).
orbital_moment_bohr = orbital_moment_eV_per_T / bohr_magneton_eV
