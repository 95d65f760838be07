"""Moyal-product machinery (PHYSICS.md, section 1).

* :mod:`.star`: symbolic star product, Moyal and Poisson brackets (sympy; scalars and matrices).
* :mod:`.jet`: exact Taylor jets of matrix-valued phase-space functions at a batch of points.
* :mod:`.diagonalize`: star diagonalization H = U * h~ * U^dagger to O(hbar^2), symbolic and numeric,
  and the gauge-invariant band energy h (closed forms for h_1 and the separable case).
* :mod:`.symbolic_eval`: fast numeric evaluation of large sympy expressions (checks of identities).
* :mod:`.phase_space`: phase-space models (separable or general H(x, k, t)), phase-space Berry curvature
  and quantum metric, and the phase-space current to first order in hbar.
"""

from .star import (HBAR, PhaseSpace, bidifferential_terms, dagger, from_coefficients, hbar_coefficients,
                   moyal_bracket, poisson_bracket, star, star_product, star_series, star_term, star_terms)

__all__ = [
    "HBAR", "PhaseSpace", "bidifferential_terms", "dagger", "from_coefficients", "hbar_coefficients",
    "moyal_bracket", "poisson_bracket", "star", "star_product", "star_series", "star_term", "star_terms",
]

from . import jet, symbolic_eval  # noqa: E402
from .diagonalize import (JetStarDiagonalization, StarDiagonalization, first_order_band_energy,  # noqa: E402
                          separable_band_energy, separable_hamiltonian_jet, star_band_energies, star_diagonalize,
                          star_diagonalize_jet, two_band_eigensystem, two_band_polar)

__all__ += [
    "jet", "symbolic_eval", "JetStarDiagonalization", "StarDiagonalization", "first_order_band_energy",
    "separable_band_energy",
    "star_band_energies", "star_diagonalize", "star_diagonalize_jet", "separable_hamiltonian_jet",
    "two_band_eigensystem", "two_band_polar",
]

from .phase_space import (PhaseSpaceCurrent, PhaseSpaceGeometry, PhaseSpaceModel, fermi_jet,  # noqa: E402
                          phase_space_current, phase_space_geometry, poisson_bracket_jet)

__all__ += ["PhaseSpaceModel", "PhaseSpaceGeometry", "phase_space_geometry", "phase_space_current",
            "PhaseSpaceCurrent", "poisson_bracket_jet", "fermi_jet"]
