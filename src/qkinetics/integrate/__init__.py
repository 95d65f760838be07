"""Brillouin-zone integration: grids, Fermi-Dirac occupation, executors, the band integrator."""

from .executors import SerialExecutor, get_executor
from .grids import KGrid
from .integrator import BandIntegrals, GridResolutionWarning, integrate_mechanisms
from .occupation import fermi_dirac

__all__ = ["KGrid", "fermi_dirac", "SerialExecutor", "get_executor", "BandIntegrals",
           "GridResolutionWarning", "integrate_mechanisms"]
