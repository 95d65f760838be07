"""The compiled kernels of the order-0/1 step (qkinetics.kinetics.kernels) against the solver's numpy form.

The transport kernel repeats the numpy arithmetic in the same order, so it must agree to the last bit; the local
chemical potential is a sum in another order (and f_FD from one exponential per cell), so μ̃ and f_loc agree to
round-off, and f_loc must keep the local density (the relaxation's defining property) to round-off. Both paths
run here, so the numpy fallback stays tested where numba is installed."""

import numpy as np
import pytest

from qkinetics.kinetics import KineticSolver, LIMITERS, kernels
from qkinetics.models import zoo

pytestmark = pytest.mark.skipif(not kernels.AVAILABLE, reason="numba not installed: only the numpy form exists")

L = 25.0


def V_moving(x, t):
    return 0.05 * np.cos(2 * np.pi * x / L - 1e14 * t)


def texture(x):
    return zoo.rice_mele(staggered=0.2 + 0.1 * np.cos(2 * np.pi * x / L))


def pair(*args, **kw):
    """The same solver twice, numpy form and compiled."""
    a, b = KineticSolver(*args, **kw), KineticSolver(*args, **kw)
    a.compiled, b.compiled = False, True
    return a, b


def perturbed(s, seed=0):
    """A generic distribution: the equilibrium times a random modulation (so every limiter branch is taken)."""
    rng = np.random.default_rng(seed)
    return s.f * (1 + 0.05 * rng.standard_normal(s.shape))


@pytest.mark.parametrize("limiter", sorted(LIMITERS))
def test_transport_kernel_is_bit_identical(limiter):
    a, b = pair(zoo.rice_mele(), V_moving, length=L, nx=16, nk=32, mu=-0.5, T=1000.0, tau=1e-13, limiter=limiter)
    f = perturbed(a)
    np.testing.assert_array_equal(b.transport(f, 1e-15), a.transport(f, 1e-15))


@pytest.mark.parametrize("case", ["texture", "2d_field", "no_force"])
def test_transport_kernel_with_texture_2d_and_zero_force(case):
    if case == "texture":                            # ρ = 1 - Ω_xk and the corner-difference band force
        a, b = pair(texture, V_moving, length=L, nx=16, nk=32, mu=-0.5, T=1000.0, tau=1e-14, order=1)
    elif case == "2d_field":
        a, b = pair(zoo.qi_wu_zhang(), None, length=L, nx=8, nk=16, nk_perp=6, mu=0.3, T=1000.0, tau=1e-14,
                    order=1, field=lambda x, t: 1e-3 + 1e-3 * np.sin(2 * np.pi * x / L))
    else:                                            # k̇ = 0: the k-flux is skipped in both forms
        a, b = pair(zoo.rice_mele(), None, length=L, nx=16, nk=32, mu=-0.5, T=1000.0, tau=1e-13)
    f = perturbed(a, 1)
    np.testing.assert_array_equal(b.transport(f, 0.0), a.transport(f, 0.0))


@pytest.mark.parametrize("model", [zoo.rice_mele(), texture])
def test_local_equilibrium_kernel_keeps_the_local_density(model):
    a, b = pair(model, V_moving, length=L, nx=16, nk=32, mu=-0.5, T=lambda x: 600 + 20 * x, tau=1e-14,
                order=1 if callable(model) else 0)
    f = perturbed(a, 2)
    fa, fb = a.f_local(f, 0.0), b.f_local(f, 0.0)
    np.testing.assert_allclose(fb, fa, rtol=0, atol=1e-13)
    np.testing.assert_allclose(b._mu_loc, a._mu_loc, rtol=0, atol=1e-12)
    n = b.density(f).sum(axis=0)                     # ∫ρf per x: the compiled f_loc keeps it
    np.testing.assert_allclose(b.density(fb).sum(axis=0), n, rtol=1e-13)


def test_local_equilibrium_kernel_far_start():
    """A start far from the root (|δμ| >> k_BT): the bisection and the refreshed exponentials find the same μ̃."""
    a, b = pair(zoo.rice_mele(), V_moving, length=L, nx=8, nk=32, mu=-0.5, T=300.0, tau=1e-14)
    f = perturbed(a, 3)
    a._mu_loc = np.full(a.nx, 3.0)
    b._mu_loc = np.full(b.nx, 3.0)
    np.testing.assert_allclose(b.f_local(f, 0.0), a.f_local(f, 0.0), rtol=0, atol=1e-13)


@pytest.mark.parametrize("relaxation", ["local", "global", "bare"])
def test_compiled_steps_match_the_numpy_form(relaxation):
    a, b = pair(zoo.rice_mele(), V_moving, length=L, nx=16, nk=32, mu=-0.5, T=1000.0, tau=1e-14,
                relaxation=relaxation)
    dt = a.max_dt()
    for s in (a, b):
        s.f = perturbed(s, 4)
        for _ in range(5):
            s.step(dt)
    np.testing.assert_allclose(b.f, a.f, rtol=0, atol=1e-14)
    assert abs(b.number() - a.number()) < 1e-13 * a.number()


def test_open_boundaries_and_order2_keep_the_numpy_form():
    """Open ends and order 2 have no compiled kernel: compiled=True gives the numpy results exactly."""
    a, b = pair(zoo.rice_mele(), None, length=L, nx=16, nk=32, mu=-0.5, T=lambda x: 600 + 20 * x, tau=1e-14,
                boundary="open", relaxation="global")
    c, d = pair(zoo.rice_mele(), V_moving, length=L, nx=16, nk=32, mu=-0.5, T=1000.0, tau=1e-14, order=2,
                relaxation="global")
    for s in (a, b, c, d):
        for _ in range(3):
            s.step(1e-17)
    np.testing.assert_array_equal(b.f, a.f)
    np.testing.assert_array_equal(d.f, c.f)
    assert b.boundary_inflow == a.boundary_inflow


def test_threaded_builds_match_the_numpy_form(monkeypatch):
    """The threaded kernels (grids of >= PARALLEL_MIN_CELLS cells; forced here on a small grid, two threads and
    x blocks that do not divide nx): transport bit-identical, steps to round-off."""
    import numba
    monkeypatch.setattr(kernels, "PARALLEL_MIN_CELLS", 0)
    threads = numba.get_num_threads()
    numba.set_num_threads(min(2, numba.config.NUMBA_NUM_THREADS))
    try:
        a, b = pair(texture, V_moving, length=L, nx=15, nk=32, mu=-0.5, T=1000.0, tau=1e-14, order=1)
        assert kernels.threads(b.ncells) == numba.get_num_threads()
        f = perturbed(a, 5)
        np.testing.assert_array_equal(b.transport(f, 1e-15), a.transport(f, 1e-15))
        dt = a.max_dt()
        for s in (a, b):
            for _ in range(3):
                s.step(dt)
        np.testing.assert_allclose(b.f, a.f, rtol=0, atol=1e-14)
    finally:
        numba.set_num_threads(threads)
