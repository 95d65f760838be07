"""qkinetics: band quantum geometry, nonlinear response and phase-space quantum kinetics.

Conventions: electron charge -e (e > 0); energies in eV, lengths in Angstrom, k in 1/Angstrom;
outputs in SI. See docs/conventions.md.
"""

from . import units
from .models import Model, ModelError, TightBinding

__version__ = "0.1.0"

__all__ = ["units", "Model", "ModelError", "TightBinding"]
