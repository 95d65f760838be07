"""The solver's parts: the public surface is kept, and a new term drops in through the flow hook.

A term is a part whose ``_flow`` adds its force to ``super()._flow(t)`` (qkinetics.kinetics.solver docstring). The
check: a part that adds the uniform force -E/ħ to k̇_x must give exactly the solution of the applied-field term
``field=E`` (the same discrete force through the same faces), in both the numpy and the compiled form."""

import numpy as np
import pytest

from qkinetics.kinetics import KineticSolver
from qkinetics.kinetics.order0 import BandFlow
from qkinetics.kinetics.solver import plaquette_berry_flux  # noqa: F401  (kept importable from solver)
from qkinetics.models import zoo

L, E0 = 25.0, 2e-3


class UniformForce:
    """A test part: the force of a uniform field E0 (V/Å), -E0/ħ in k̇_x, through the flow hook."""

    def _flow(self, t):
        flow = super()._flow(t)
        flow[2] = flow[2] - E0 / self.hbar
        return flow


class DrivenSolver(UniformForce, KineticSolver):
    pass


def test_a_new_term_drops_in_through_the_flow_hook():
    assert DrivenSolver.__mro__.index(UniformForce) < DrivenSolver.__mro__.index(BandFlow)
    V = lambda x, t: 0.05 * np.cos(2 * np.pi * x / L)              # noqa: E731
    kw = dict(length=L, nx=16, nk=64, mu=-0.5, T=1000.0, tau=1e-14, relaxation="global")
    for compiled in (False, True):
        a = KineticSolver(zoo.rice_mele(), V, field=lambda x, t: E0 + 0 * x, **kw)
        b = DrivenSolver(zoo.rice_mele(), V, **kw)
        a.compiled = b.compiled = compiled
        assert a.max_dt() == pytest.approx(b.max_dt(), rel=1e-14)
        for _ in range(20):
            dt = a.max_dt()
            a.step(dt)
            b.step(dt)
        np.testing.assert_allclose(b.f, a.f, rtol=0, atol=1e-15)
        j = b.current().sum()
        assert abs(j) > 1e-3 * np.abs(b.weight * (b._vcell * b.f).sum(axis=(2, 3))).max()  # the force drives a current


def test_public_surface():
    s = KineticSolver(zoo.rice_mele(), None, length=L, nx=8, nk=16, mu=-0.5, T=1000.0, tau=1e-14)
    for name in ("x", "x_faces", "k", "ky", "dx", "dk", "weight", "shape", "ncells", "energy", "velocity", "f", "t",
                 "steps", "boundary_inflow", "V", "field", "field_at", "force", "kdot", "fermi", "equilibrium",
                 "local_mu", "f_local", "rhs", "transport", "reservoirs", "number", "max_dt", "step", "advance",
                 "density", "physical_density", "current", "face_current", "transverse_velocity", "current_y",
                 "moments", "snapshot", "run", "steady_state"):
        assert hasattr(s, name), name
