"""Phase-space kinetics for inhomogeneous, time-dependent problems.

* :mod:`.solver`: finite-volume solver of the band-resolved kinetic equation (:class:`KineticSolver`), assembled
  from its parts (the table and how to add a term in :mod:`.solver`'s docstring): :mod:`.grid` (phase-space
  grid), :mod:`.order0`, :mod:`.order1`, :mod:`.order2`, :mod:`.texture`, :mod:`.field` (the terms),
  :mod:`.fluxes` (reconstruction, limiters, upwind fluxes), :mod:`.relaxation`, :mod:`.boundaries`,
  :mod:`.observables` and :mod:`.heat` (energy and heat currents, transverse transport currents).
* :mod:`.equilibrium`: the O(ħ²) phase-space equilibrium (star Fermi function) and its density.
"""

from .equilibrium import equilibrium_density, equilibrium_wigner, fermi_derivatives, star_function_terms
from .solver import LIMITERS, KineticSolver, benchmark_cell_updates

__all__ = ["KineticSolver", "LIMITERS", "benchmark_cell_updates", "equilibrium_density", "equilibrium_wigner",
           "fermi_derivatives", "star_function_terms"]
