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
