"""O(ħ²) phase-space equilibrium: the star Fermi function and the density it carries, against exact
diagonalization of a chain in V0 cos(q x) (issue 6, static check)."""

import numpy as np
import pytest
import sympy as sp

import qkinetics as qk
from qkinetics.exact import supercell_density
from qkinetics.kinetics import KineticSolver
from qkinetics.kinetics.equilibrium import equilibrium_density, star_function_terms
from qkinetics.moyal import PhaseSpace, jet, star_term


def _exp_derivatives(beta):
    def ders(h):
        e = jet.exp(h * (-beta))
        return [e, e * (-beta), e * beta ** 2, e * (-beta ** 3)]
    return ders


def test_star_exponential_of_the_harmonic_oscillator():
    # exact: exp(-beta H)_* = sech(beta hbar / 2) exp(-(2 / hbar) tanh(beta hbar / 2) H), H = (x^2 + k^2) / 2,
    # whose hbar^2 term is exp(-beta H) (-beta^2 / 8 + beta^3 H / 12) (Bartlett-Moyal 1949).
    rng = np.random.default_rng(1)
    pts = rng.normal(size=(6, 2))
    x, k = jet.variables(pts, 4)
    h = ((x * x + k * k) * 0.5)[:, None]
    beta = 0.7
    F = star_function_terms([h, h * 0.0, h * 0.0], _exp_derivatives(beta), PhaseSpace(1), order=2)
    H = 0.5 * (pts ** 2).sum(1)
    expected = np.exp(-beta * H) * (-beta ** 2 / 8 + beta ** 3 * H / 12)
    np.testing.assert_allclose(F[2].value[:, 0].real, expected, rtol=1e-12)
    np.testing.assert_allclose(F[1].value, 0.0, atol=1e-15)


def test_star_exponential_obeys_the_bloch_equation_for_an_anharmonic_symbol():
    # E(beta) = exp(-beta h)_* obeys dE/dbeta = -(h * E + E * h) / 2; at hbar^2, with e = exp(-beta h):
    # dE2/dbeta + h E2 = -(h * e)_2, the right side from the symbolic star product (independent code).
    X, K = sp.symbols("x k", real=True)
    b = sp.Symbol("beta", positive=True)
    hs = K ** 4 / 4 + sp.cos(X) + X * K / 3
    rhs = -star_term(hs, sp.exp(-b * hs), 2, PhaseSpace(1, x=[X], k=[K]))
    f_rhs = sp.lambdify((X, K, b), rhs)
    pts = np.array([[0.3, -0.4], [1.1, 0.8], [-0.7, 0.2]])

    def E2(beta):
        x, k = jet.variables(pts, 4)
        h = (k ** 4 * 0.25 + jet.cos(x) + x * k * (1 / 3))[:, None]
        return star_function_terms([h, h * 0.0, h * 0.0], _exp_derivatives(beta), PhaseSpace(1), 2)[2].value[:, 0].real

    beta, d = 0.9, 1e-4
    lhs = (E2(beta + d) - E2(beta - d)) / (2 * d) + (pts[:, 1] ** 4 / 4 + np.cos(pts[:, 0]) + pts[:, 0] * pts[:, 1] / 3) * E2(beta)
    np.testing.assert_allclose(lhs, f_rhs(pts[:, 0], pts[:, 1], beta), rtol=1e-6)


def _harmonics(model, M, V0, mu, T, nk=256, nx=8):
    """Fourier components p = 0, 1, 2 of the exact density and of the O(ħ^m) theory, V = V0 cos(2 pi x / M a)."""
    a = float(model.lattice[0, 0])
    q = 2 * np.pi / (M * a)
    ns, xs = supercell_density(model, M, lambda x: V0 * np.cos(q * x), mu, T, n_twist=32)
    exact = np.array([(ns * np.exp(-1j * p * q * xs)).sum() / (M * a) for p in range(3)])
    x = (np.arange(nx) + 0.5) * M * a / nx
    dens = equilibrium_density(model, lambda y: V0 * jet.cos(q * y), x, nk, mu, T, order=2).sum(axis=1)
    cum = np.cumsum(dens, axis=0)                                       # density to O(ħ^0), O(ħ^1), O(ħ^2)
    theory = np.array([[(cum[o] * np.exp(-1j * p * q * x)).mean() for p in range(3)] for o in range(3)])
    return q, exact, theory


@pytest.mark.parametrize("mu, T, label", [(0.0, 300.0, "insulator"), (-1.0, 1000.0, "metal")])
def test_static_density_error_falls_as_q2_at_first_order_and_q4_at_second(mu, T, label):
    # Rice-Mele chain (gap 1.26 eV) in V0 cos(q x). Measured (M = 100, 50, 25 cells per period, first
    # harmonic): insulator: first order err 5.6e-6 .. 8.8e-5 (slope 2.0), second 9.8e-9 .. 2.4e-6 (slope 4.0);
    # metal (mu = -1 eV, 1000 K): first 1.3e-6 .. 2.0e-5 (2.0), second 3.1e-10 .. 7.5e-8 (3.96).
    # nk = 256 and 32 twists are converged to 1e-15 relative (checked against 1024 and 128).
    model = qk.zoo.rice_mele()
    qs, err1, err2 = [], [], []
    for M in (100, 50, 25):
        q, exact, theory = _harmonics(model, M, 0.02, mu, T)
        qs.append(q)
        err1.append(abs(theory[1, 1] - exact[1]))                      # first-order theory (orders 0 + 1)
        err2.append(abs(theory[2, 1] - exact[1]))
        np.testing.assert_allclose(theory[1], theory[0], atol=1e-18)   # the O(ħ) density vanishes here
    s1 = np.polyfit(np.log(qs), np.log(err1), 1)[0]
    s2 = np.polyfit(np.log(qs), np.log(err2), 1)[0]
    assert 1.8 < s1 < 2.2, (label, s1, err1)
    assert s2 > 3.0, (label, s2, err2)
    assert err2[0] < 1e-2 * err1[0]


def test_second_order_density_captures_the_nonlinear_harmonic_and_mean_shift():
    # V0 = 0.1 eV, metal: the 2q harmonic (O(V0^2)) and the shift of the mean density are gradient
    # corrections too. Measured (nx = 16; nx = 8 aliases the 6q harmonic onto 2q at the 1e-8 level),
    # M = 200, 100, 50 cells: 2q harmonic first order 2.9e-7, 1.2e-6, 4.5e-6; second 5.5e-10, 8.3e-9, 1.35e-7;
    # mean density first 1.9e-7, 7.5e-7, 3.0e-6; second 1.5e-10, 2.5e-9, 4.0e-8 (1/Angstrom).
    model = qk.zoo.rice_mele()
    out = []
    for M in (100, 50):
        q, exact, theory = _harmonics(model, M, 0.1, -1.0, 1000.0, nx=16)
        out.append([abs(theory[o, p] - exact[p]) for p in (0, 2) for o in (1, 2)])
    for (a1, a2), (b1, b2) in zip(zip(out[0][::2], out[0][1::2]), zip(out[1][::2], out[1][1::2])):
        assert a2 < 0.01 * a1 and b2 < 0.03 * b1
        assert 3.0 < b1 / a1 < 5.0 and b2 / a2 > 10.0                  # q^2 versus q^4


def test_finite_volume_steady_state_converges_to_the_zeroth_order_equilibrium():
    # The kinetic solver at order 0 relaxing to global equilibrium: its static steady state tends to
    # f_FD(eps + V - mu), whose density is the zeroth-order term of equilibrium_density, at the scheme's
    # second order. Measured max relative deviation: 5.5e-4 (16 x 64), 1.5e-4 (32 x 128), 3.8e-5 (64 x 256).
    model = qk.zoo.rice_mele()
    L = 40.0
    V = lambda x, t: 0.05 * np.cos(2 * np.pi * x / L)                 # noqa: E731
    dev = []
    for nx, nk in ((16, 64), (32, 128)):
        s = KineticSolver(model, V, length=L, nx=nx, nk=nk, mu=-1.0, T=1000.0, tau=1e-14, relaxation="global")
        assert s.steady_state(tol=1e-12, max_steps=4000).attrs["converged"]
        ref = equilibrium_density(model, lambda y: 0.05 * jet.cos(2 * np.pi * y / L), s.x, nk, -1.0, 1000.0,
                                  order=0)[0]
        dev.append(np.abs(s.density() - ref).max() / ref.max())
    assert dev[0] < 1e-3 and dev[1] < dev[0] / 3


def test_equilibrium_density_errors():
    with pytest.raises(ValueError, match="1D lattice"):
        equilibrium_density(qk.zoo.qi_wu_zhang(), lambda y: 0 * y, [0.0], 16, 0.0, 300.0)
    with pytest.raises(ValueError, match="order"):
        equilibrium_density(qk.zoo.rice_mele(), lambda y: 0 * y, [0.0], 16, 0.0, 300.0, order=3)
    with pytest.raises(ValueError, match="T > 0"):
        equilibrium_density(qk.zoo.rice_mele(), lambda y: 0 * y, [0.0], 16, 0.0, 0.0)
