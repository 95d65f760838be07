"""Exact (real-space) reference calculations for checking the semiclassical machinery.

* :mod:`.chain`: 1D tight-binding chains with open boundaries in a potential; the Wannier-Stark
  ladder and its semiclassical prediction from the Moyal band energy (PHYSICS.md section 5, rung 4);
  exact equilibrium densities of a chain in a periodic potential (:func:`supercell_density`).
* :mod:`.hofstadter`: 2D lattice models in a uniform magnetic field at rational flux (Peierls phases,
  magnetic supercell); the Streda response dn/dB against the Berry curvature and orbital moment.
* :mod:`.landau`: Landau levels of 3D lattice models in a field along a lattice axis (Peierls phases in the
  Landau gauge); the chiral zeroth Landau levels of Weyl nodes and their spectral flow (chiral anomaly).
"""

from .chain import (LadderPrediction, ladder_errors, real_space_chain, supercell_density, wannier_centers,
                    wannier_stark_exact, wannier_stark_prediction)

from .hofstadter import hofstadter_density, magnetic_supercell, streda_exact, streda_prediction
from .landau import chiral_branch_count, field_of_flux, landau_levels, landau_supercell

__all__ = ["chiral_branch_count", "field_of_flux", "landau_levels", "landau_supercell", "hofstadter_density", "magnetic_supercell", "streda_exact", "streda_prediction", "LadderPrediction", "ladder_errors", "real_space_chain", "supercell_density", "wannier_centers", "wannier_stark_exact",
           "wannier_stark_prediction"]
