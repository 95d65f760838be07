"""Moyal-product machinery: symbolic star product and star diagonalization (PHYSICS.md, section 1)."""

from .star import (HBAR, PhaseSpace, bidifferential_terms, dagger, from_coefficients, hbar_coefficients,
                   moyal_bracket, poisson_bracket, star, star_product, star_series, star_term, star_terms)

__all__ = [
    "HBAR", "PhaseSpace", "bidifferential_terms", "dagger", "from_coefficients", "hbar_coefficients",
    "moyal_bracket", "poisson_bracket", "star", "star_product", "star_series", "star_term", "star_terms",
]
