"""Phase-space kinetics for inhomogeneous, time-dependent problems.

* :mod:`.solver`: finite-volume solver of the band-resolved kinetic equation (:class:`KineticSolver`).
* :mod:`.equilibrium`: the O(ħ²) phase-space equilibrium (star Fermi function) and its density.
"""

from .equilibrium import equilibrium_density, equilibrium_wigner, fermi_derivatives, star_function_terms
from .solver import LIMITERS, KineticSolver, benchmark_cell_updates

__all__ = ["KineticSolver", "LIMITERS", "benchmark_cell_updates", "equilibrium_density", "equilibrium_wigner",
           "fermi_derivatives", "star_function_terms"]
