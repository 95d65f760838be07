"""KineticSolver at order 2 (1D): the O(ħ²) current, well-balanced static equilibrium, the real-space
density of the kinetic solution against exact diagonalization (issue 6, static check)."""

import numpy as np
import pytest

import qkinetics as qk
from qkinetics.exact import supercell_density
from qkinetics.kinetics import KineticSolver
from qkinetics.models.base import ModelError

MU, T, V0 = -1.0, 1000.0, 0.05


def _first_harmonic_error(model, M, order):
    q = 2 * np.pi / M                                                    # a = 1 Angstrom
    ns, xs = supercell_density(model, M, lambda x: V0 * np.cos(q * x), MU, T, n_twist=32)
    exact = (ns * np.exp(-1j * q * xs)).sum() / M
    s = KineticSolver(model, lambda x, t: V0 * np.cos(q * x), length=M, nx=16, nk=256, mu=MU, T=T, tau=1e-14,
                      order=order, relaxation="global", well_balanced=True)
    f_eq = s.f.copy()
    ds = s.steady_state(tol=1e-13, max_steps=2000)
    assert ds.attrs["converged"]
    np.testing.assert_allclose(s.f, f_eq, atol=1e-14)                  # well balanced: the equilibrium is exact
    n = s.physical_density().sum(axis=0)
    return abs((n * np.exp(-1j * q * s.x)).mean() - exact)


def test_static_density_of_the_kinetic_solution_against_exact_diagonalization():
    # Rice-Mele, mu = -1 eV (metal), 1000 K, V0 cos(q x), q = 2 pi / (M a). Measured errors of the first harmonic
    # (1/Angstrom; |n_q| = 1.24e-2): order 1: 3.17e-6, 1.27e-5, 5.08e-5 (slope 2.00); order 2: 6.8e-9, 1.09e-7,
    # 1.73e-6 (slope 4.0) for M = 100, 50, 25. (In 1D order 1 is the local-density flow of order 0.)
    model = qk.zoo.rice_mele()
    Ms = (100, 50, 25)
    qs = [2 * np.pi / M for M in Ms]
    e1 = [_first_harmonic_error(model, M, 1) for M in Ms]
    e2 = [_first_harmonic_error(model, M, 2) for M in Ms]
    s1 = np.polyfit(np.log(qs), np.log(e1), 1)[0]
    s2 = np.polyfit(np.log(qs), np.log(e2), 1)[0]
    assert 1.8 < s1 < 2.2, (s1, e1)
    assert s2 > 3.0, (s2, e2)
    assert e2[0] < 1e-2 * e1[0]


def test_order2_transport_conserves_number_collisionless():
    model = qk.zoo.rice_mele()
    L = 25.0
    s = KineticSolver(model, lambda x, t: V0 * np.cos(2 * np.pi * x / L), length=L, nx=16, nk=128, mu=MU, T=T,
                      tau=np.inf, order=2, relaxation="global")
    s.f = s.f * (1 + 0.05 * np.cos(2 * np.pi * s.x / L))[None, :, None, None]
    N0 = s.density().sum()
    s.advance(1e-14)
    assert s.steps > 50
    assert abs(s.density().sum() / N0 - 1) < 1e-13
    assert np.all(np.isfinite(s.f))
    # the perturbation moved (the flow is not trivial) and the well-balanced equilibrium part did not
    assert np.abs(s.density() - KineticSolver(model, lambda x, t: V0 * np.cos(2 * np.pi * x / L), length=L, nx=16,
                                             nk=128, mu=MU, T=T, tau=np.inf, order=2,
                                             relaxation="global").density()).max() > 1e-4


def test_well_balanced_without_relaxation_keeps_the_equilibrium():
    model = qk.zoo.rice_mele()
    s = KineticSolver(model, lambda x, t: 0.1 * np.sin(2 * np.pi * x / 30.0), length=30.0, nx=16, nk=64, mu=MU,
                      T=T, tau=np.inf, order=0, well_balanced=True)
    f0 = s.f.copy()
    s.advance(1e-14)
    np.testing.assert_allclose(s.f, f0, atol=1e-14)
    plain = KineticSolver(model, lambda x, t: 0.1 * np.sin(2 * np.pi * x / 30.0), length=30.0, nx=16, nk=64, mu=MU,
                          T=T, tau=np.inf, order=0)
    plain.advance(1e-14)
    assert np.abs(plain.f - f0).max() > 1e-4                            # the plain scheme drifts (truncation error)


def test_order2_errors():
    V = lambda x, t: 0.05 * np.cos(2 * np.pi * x / 20.0)                 # noqa: E731
    with pytest.raises(ModelError, match="open boundaries"):
        KineticSolver(qk.zoo.rice_mele(), V, length=20.0, nx=8, nk=8, order=2, relaxation="global", boundary="open")
    moving = lambda x, t: 0.05 * np.cos(2 * np.pi * x / 20.0 - 1e14 * t)   # noqa: E731
    with pytest.raises(ModelError, match="static potential"):
        KineticSolver(qk.zoo.rice_mele(), moving, length=20.0, nx=8, nk=8, order=2, relaxation="global",
                      well_balanced=True)
    # a potential that starts moving only later: well-balancing refuses at the first step with a changed V
    late = lambda x, t: 0.05 * np.cos(2 * np.pi * x / 20.0 - 1e14 * max(t - 1e-8, 0.0))   # noqa: E731
    s = KineticSolver(qk.zoo.rice_mele(), late, length=20.0, nx=8, nk=8, order=2, relaxation="global")
    assert s.well_balanced
    s.t = 2e-8
    with pytest.raises(ModelError, match="well_balanced=False"):
        s.step(1e-16)
    assert not KineticSolver(qk.zoo.rice_mele(), moving, length=20.0, nx=8, nk=8, order=2,
                             relaxation="global").well_balanced
    with pytest.raises(ModelError, match="order must be 0, 1 or 2"):
        KineticSolver(qk.zoo.rice_mele(), V, length=20.0, nx=8, nk=8, order=3)
