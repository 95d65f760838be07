"""Quantum reference solvers: response without a gradient expansion.

- :mod:`.linear`: Kubo conductivity sigma_ab(omega) with a relaxation rate (Drude and intrinsic
  anomalous Hall in their limits).
- :mod:`.lindhard`: multiband Lindhard density response chi(q, omega) with band form factors.
- :mod:`.density_matrix`: the k-space density-matrix equation of motion in a uniform field,
  solved order by order in E with explicit relaxation models; tau^2, tau^1, tau^0 coefficients.
- :mod:`.time_domain`: the same equation of motion integrated in time (velocity gauge, RK4), an
  independent check of the density-matrix coefficients that shares no code with it.
"""

from .lindhard import LINDHARD_FORMULA, lindhard
from .linear import KUBO_FORMULA, RELAXATION_MODEL, kubo_conductivity

from .density_matrix import (RELAXATION_MODELS, TAU0_FINDING, DensityMatrixSolver, Relaxation, compare_with_kinetics,
                             linear_conductivity, second_order_conductivity, tau_coefficients)
from .time_domain import TimeDomainSolver, time_domain_tau_coefficients

__all__ = ["kubo_conductivity", "KUBO_FORMULA", "RELAXATION_MODEL", "lindhard", "LINDHARD_FORMULA",
           "DensityMatrixSolver", "Relaxation", "RELAXATION_MODELS", "TAU0_FINDING", "compare_with_kinetics",
           "linear_conductivity", "second_order_conductivity", "tau_coefficients", "TimeDomainSolver",
           "time_domain_tau_coefficients"]
