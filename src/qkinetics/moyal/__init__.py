"""Moyal-product machinery: symbolic star product and star diagonalization (PHYSICS.md, section 1)."""

from .star import (HBAR, PhaseSpace, bidifferential_terms, dagger, from_coefficients, hbar_coefficients,
                   moyal_bracket, poisson_bracket, star, star_product, star_series, star_term, star_terms)

__all__ = [
    "HBAR", "PhaseSpace", "bidifferential_terms", "dagger", "from_coefficients", "hbar_coefficients",
    "moyal_bracket", "poisson_bracket", "star", "star_product", "star_series", "star_term", "star_terms",
]

from . import jet  # noqa: E402
from .diagonalize import (JetStarDiagonalization, StarDiagonalization, first_order_band_energy,  # noqa: E402
                          separable_band_energy, star_band_energies, star_diagonalize, star_diagonalize_jet)

__all__ += [
    "jet", "JetStarDiagonalization", "StarDiagonalization", "first_order_band_energy", "separable_band_energy",
    "star_band_energies", "star_diagonalize", "star_diagonalize_jet",
]
