"""Phase-space kinetic-equation solver for inhomogeneous, time-dependent problems (:mod:`.solver`)."""

from .solver import LIMITERS, KineticSolver, benchmark_cell_updates

__all__ = ["KineticSolver", "LIMITERS", "benchmark_cell_updates"]
