"""qkinetics: band quantum geometry, nonlinear response and phase-space quantum kinetics.

Conventions: electron charge -e (e > 0); energies in eV, lengths in Angstrom, k in 1/Angstrom;
band-level quantities in those units, conductivities in SI. See docs/conventions.md.
"""

__version__ = "0.1.0"

from . import exact, kinetics, kpath, kubo, moyal, plot, units  # noqa: E402
from .conductivity import conductivity, read_netcdf, write_netcdf  # noqa: E402
from .geometry import BandGeometry, band_geometry, geometry_from_hamiltonian, iter_band_geometry  # noqa: E402
from .models import Continuum, Model, ModelError, TightBinding, read_wannier90, read_wannier90_run, zoo  # noqa: E402
from .responses.gyrotropic import gyrotropic_tensors  # noqa: E402
from .responses.magnetotransport import magnetoconductivity  # noqa: E402
from .responses.transport_distribution import boltzmann_transport, transport_distribution  # noqa: E402
from .thermoelectric import thermoelectric  # noqa: E402
from .topology import chern_number  # noqa: E402
from .spin import band_spin, band_spin_moment, spin_moment  # noqa: E402

__all__ = [
    "units", "plot", "kpath", "kubo", "moyal", "exact", "kinetics", "conductivity", "thermoelectric", "read_netcdf",
    "write_netcdf",
    "BandGeometry", "band_geometry", "geometry_from_hamiltonian", "iter_band_geometry",
    "Continuum", "Model", "ModelError", "TightBinding", "read_wannier90", "read_wannier90_run", "zoo", "chern_number",
    "transport_distribution", "boltzmann_transport", "gyrotropic_tensors", "magnetoconductivity",
    "band_spin", "band_spin_moment", "spin_moment",
]
