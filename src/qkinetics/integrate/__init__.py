"""Brillouin-zone integration: grids, Fermi-Dirac occupation, executors, the band integrator, error bars."""

from .adaptive import AdaptiveIntegrals, AdaptiveToleranceWarning, integrate_adaptive
from .convergence import grid_error
from .executors import SerialExecutor, bounded_map, get_executor
from .grids import KGrid, polar_grid
from .integrator import BandIntegrals, GridResolutionWarning, integrate_mechanisms
from .occupation import fermi_dirac

__all__ = ["KGrid", "polar_grid", "fermi_dirac", "SerialExecutor", "get_executor", "bounded_map", "BandIntegrals",
           "GridResolutionWarning", "integrate_mechanisms", "grid_error", "integrate_adaptive", "AdaptiveIntegrals",
           "AdaptiveToleranceWarning"]
