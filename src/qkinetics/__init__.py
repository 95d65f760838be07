"""qkinetics: band quantum geometry, nonlinear response and phase-space quantum kinetics.

Conventions: electron charge -e (e > 0); energies in eV, lengths in Angstrom, k in 1/Angstrom;
outputs in SI. See docs/conventions.md.
"""

from . import units
from .geometry import BandGeometry, band_geometry, geometry_from_hamiltonian, iter_band_geometry
from .models import Continuum, Model, ModelError, TightBinding, read_wannier90, zoo
from .topology import chern_number

__version__ = "0.1.0"

__all__ = [
    "units", "BandGeometry", "band_geometry", "geometry_from_hamiltonian", "iter_band_geometry",
    "Continuum", "Model", "ModelError", "TightBinding", "read_wannier90", "zoo", "chern_number",
]
