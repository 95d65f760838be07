"""Quantum reference solvers: response without a gradient expansion.

- :mod:`.density_matrix`: the k-space density-matrix equation of motion in a uniform field,
  solved order by order in E with explicit relaxation models; tau^2, tau^1, tau^0 coefficients.
"""

from .density_matrix import (RELAXATION_MODELS, TAU0_FINDING, DensityMatrixSolver, compare_with_kinetics,
                             linear_conductivity, second_order_conductivity, tau_coefficients)

__all__ = ["DensityMatrixSolver", "RELAXATION_MODELS", "TAU0_FINDING", "compare_with_kinetics",
           "linear_conductivity", "second_order_conductivity", "tau_coefficients"]
