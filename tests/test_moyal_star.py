"""Moyal star product: canonical commutators, operator products, associativity, brackets, jets."""

from math import comb, factorial

import numpy as np
import pytest
import sympy as sp

from qkinetics.moyal import (HBAR, PhaseSpace, dagger, hbar_coefficients, moyal_bracket, poisson_bracket, star,
                             star_product, star_series, star_term, star_terms)
from qkinetics.moyal.jet import Jet, cos, exp, jet_from_derivatives, jet_from_sympy, matrix, sin, sqrt

from qkinetics.moyal.symbolic_eval import evaluate, random_values

I = sp.I


def zero(expr):
    expr = sp.Matrix(expr) if isinstance(expr, sp.MatrixBase) else expr
    return sp.expand(expr) == (sp.zeros(*expr.shape) if isinstance(expr, sp.MatrixBase) else 0)


# ---------------------------------------------------------------- canonical structure

@pytest.mark.parametrize("dim", [1, 2, 3])
def test_canonical_commutators(dim):
    ps = PhaseSpace(dim)
    for i in range(dim):
        for j in range(dim):
            xi, xj, ki, kj = ps.x[i], ps.x[j], ps.k[i], ps.k[j]
            assert sp.expand(moyal_bracket(xi, kj, 3, ps) - I * HBAR * (1 if i == j else 0)) == 0
            assert sp.expand(moyal_bracket(ki, kj, 3, ps)) == 0
            assert sp.expand(moyal_bracket(xi, xj, 3, ps)) == 0
    x, k = ps.x[0], ps.k[0]
    assert sp.expand(star(x, k, 2, ps) - (x * k + I * HBAR / 2)) == 0
    assert sp.expand(star(k, x, 2, ps) - (x * k - I * HBAR / 2)) == 0


def test_time_is_a_parameter():
    ps = PhaseSpace(1, time=True)
    x, k, t = ps.x[0], ps.k[0], ps.t
    f = sp.Function("f")(x, k, t)
    assert ps.variables == (x, k, t)
    assert sp.expand(moyal_bracket(t, f, 3, ps)) == 0
    # t-dependence rides along: [x, f]_* = i hbar d_k f, whatever f does in t
    assert sp.expand(moyal_bracket(x, f, 3, ps) - I * HBAR * sp.diff(f, k)) == 0


def test_weyl_symmetric_products():
    """x*k*x is the Weyl symbol of the symmetric operator x k x: x^2 k exactly; k*x*k = x k^2."""
    ps = PhaseSpace(1)
    x, k = ps.x[0], ps.k[0]
    assert sp.expand(star_product(x, k, x, order=4, coords=ps) - x**2 * k) == 0
    assert sp.expand(star_product(k, x, k, order=4, coords=ps) - x * k**2) == 0
    # x^2 * k^2 = x^2 k^2 + 2 i hbar x k - hbar^2/2 (by hand from the binomial formula)
    assert sp.expand(star(x**2, k**2, 4, ps) - (x**2 * k**2 + 2 * I * HBAR * x * k - HBAR**2 / 2)) == 0


def weyl_operator(symbol, x, k, psi):
    """Op(symbol) psi for a polynomial symbol (McCoy): Op(x^a k^b) = 2^-a sum_j C(a,j) x^j K^b x^(a-j),
    K = -i hbar d/dx. An independent route from the star product."""
    poly = sp.Poly(sp.expand(symbol), x, k)
    out = 0
    for (a, b), c in poly.terms():
        for j in range(a + 1):
            f = x ** (a - j) * psi
            for _ in range(b):
                f = -I * HBAR * sp.diff(f, x)
            out += c * sp.Rational(comb(a, j), 2**a) * x**j * f
    return sp.expand(out)


def test_polynomial_star_products_equal_operator_products():
    ps = PhaseSpace(1)
    x, k = ps.x[0], ps.k[0]
    psi = sp.Function("psi")(x)
    rng = np.random.default_rng(3)
    for _ in range(3):
        A = sum(int(rng.integers(-3, 4)) * x**a * k**b for a in range(3) for b in range(3))
        B = sum(int(rng.integers(-3, 4)) * x**a * k**b for a in range(3) for b in range(3) if a + b <= 3)
        C = star(A, B, order=6, coords=ps)                        # exact: degrees are bounded
        lhs = weyl_operator(C, x, k, psi)
        rhs = weyl_operator(A, x, k, weyl_operator(B, x, k, psi))
        assert sp.expand(lhs - rhs) == 0


def test_binomial_form_in_one_dimension():
    """star_term equals the d = 1 binomial formula written out independently."""
    ps = PhaseSpace(1)
    x, k = ps.x[0], ps.k[0]
    f, g = sp.Function("f")(x, k), sp.Function("g")(x, k)
    for n in range(5):
        ref = sp.Rational(1, factorial(n)) * (I / 2) ** n * sum(
            comb(n, j) * (-1) ** j * sp.diff(f, x, n - j, k, j) * sp.diff(g, k, n - j, x, j) for j in range(n + 1))
        assert sp.expand(star_term(f, g, n, ps) - ref) == 0


def test_moyal_bracket_of_scalars():
    """[A, B]_* = i hbar {A, B} - (i hbar^3/24) P^3(A, B) + O(hbar^5): no even orders."""
    ps = PhaseSpace(1)
    x, k = ps.x[0], ps.k[0]
    A = sp.Function("A")(x, k)
    B = sp.exp(x * k) * sp.sin(k) + sp.Function("B")(x, k)
    c = moyal_bracket(A, B, order=4, coords=ps, coefficients=True)
    pb = sp.diff(A, x) * sp.diff(B, k) - sp.diff(A, k) * sp.diff(B, x)
    assert c[0] == 0 and zero(c[1] - I * pb) and zero(c[2]) and zero(c[4])
    P3 = sum(comb(3, j) * (-1) ** j * sp.diff(A, x, 3 - j, k, j) * sp.diff(B, k, 3 - j, x, j) for j in range(4))
    assert zero(c[3] + I * P3 / 24)
    assert zero(poisson_bracket(A, B, ps) - pb)


@pytest.mark.parametrize("dim", [2, 3])
def test_moyal_bracket_first_order_is_poisson(dim):
    ps = PhaseSpace(dim)
    f = sp.Function("f")(*ps.variables)
    g = sp.Function("g")(*ps.variables)
    c = moyal_bracket(f, g, order=2, coords=ps, coefficients=True)
    pb = sum(sp.diff(f, ps.x[i]) * sp.diff(g, ps.k[i]) - sp.diff(f, ps.k[i]) * sp.diff(g, ps.x[i]) for i in range(dim))
    assert zero(c[1] - I * pb) and zero(c[2])


# ---------------------------------------------------------------- matrices and associativity

def matrices_1d(ps):
    x, k = ps.x[0], ps.k[0]
    f = sp.Function("f")(x, k)
    A = sp.Matrix([[sp.exp(x * k), sp.sin(x) + I * k], [f, 1 / sp.sqrt(1 + k**2)]])
    B = sp.Matrix([[k**2, sp.cos(x * k)], [I * x, sp.exp(-x) * f]])
    C = sp.Matrix([[sp.sin(k) * x, 1], [sp.Function("g")(x, k), x * k**2]])
    return A, B, C


def test_matrix_order_is_kept():
    ps = PhaseSpace(1)
    x, k = ps.x[0], ps.k[0]
    sx, sy, sz = sp.Matrix([[0, 1], [1, 0]]), sp.Matrix([[0, -I], [I, 0]]), sp.Matrix([[1, 0], [0, -1]])
    c = star(sx * x, sy * k, 2, ps, coefficients=True)
    assert zero(c[0] - I * sz * x * k) and zero(c[1] - I * sz * I / 2) and zero(c[2])
    c = star(sy * k, sx * x, 2, ps, coefficients=True)
    assert zero(c[0] + I * sz * x * k) and zero(c[1] - I * sz * I / 2)
    # (A * B)^dagger = B^dagger * A^dagger for matrix symbols
    A, B, _ = matrices_1d(ps)
    lhs = star(A, B, 3, ps, coefficients=True)
    rhs = star(dagger(B), dagger(A), 3, ps, coefficients=True)
    vals = random_values([*lhs, *rhs], np.random.default_rng(1), ps)
    for p, q in zip(lhs, rhs):
        np.testing.assert_allclose(evaluate(dagger(p), vals), evaluate(q, vals), atol=1e-12)


def test_associativity_matrix_valued_nonpolynomial():
    """(A*B)*C = A*(B*C) order by order to hbar^3 (random points and random values of f, g and their
    derivatives), 2x2 matrices of exp, sin, 1/sqrt and generic functions."""
    ps = PhaseSpace(1)
    A, B, C = matrices_1d(ps)
    cA, cB, cC = ([M, sp.zeros(2), sp.zeros(2), sp.zeros(2)] for M in (A, B, C))
    left = star_series(star_series(cA, cB, 3, ps), cC, 3, ps)
    right = star_series(cA, star_series(cB, cC, 3, ps), 3, ps)
    rng = np.random.default_rng(7)
    for _ in range(3):
        vals = random_values([*left, *right], rng, ps)
        for n in range(4):
            L, R = evaluate(left[n], vals), evaluate(right[n], vals)
            assert np.abs(L).max() > 1e-3 or n == 0
            np.testing.assert_allclose(L, R, atol=1e-11 * max(1, np.abs(L).max()))


def test_associativity_exact_scalar_2d():
    """Exact (expand to zero) associativity for generic scalar functions in d = 2, to hbar^3."""
    ps = PhaseSpace(2)
    f, g, h = (sp.Function(n)(*ps.variables) for n in "fgh")
    left = star_series(star_series([f], [g], 3, ps), [h], 3, ps)
    right = star_series([f], star_series([g], [h], 3, ps), 3, ps)
    for p, q in zip(left, right):
        assert zero(p - q)


def test_associativity_with_magnetic_poisson_tensor():
    """A constant non-canonical tensor (eps^{k1 k2} = -b, a uniform field) keeps the product associative
    and gives [xi^a, xi^b]_* = i hbar eps^{ab}."""
    b = sp.Rational(3, 7)
    eps = sp.Matrix([[0, 0, 1, 0], [0, 0, 0, 1], [-1, 0, 0, -b], [0, -1, b, 0]])
    ps = PhaseSpace(2, poisson=eps)
    xi = ps.coordinates
    for a in range(4):
        for c in range(4):
            assert sp.expand(moyal_bracket(xi[a], xi[c], 3, ps) - I * HBAR * eps[a, c]) == 0
    f, g, h = (sp.Function(n)(*ps.variables) for n in "fgh")
    left = star_series(star_series([f], [g], 3, ps), [h], 3, ps)
    right = star_series([f], star_series([g], [h], 3, ps), 3, ps)
    for p, q in zip(left, right):
        assert zero(p - q)


def test_hbar_dependent_factors_are_truncated():
    ps = PhaseSpace(1)
    x, k = ps.x[0], ps.k[0]
    A = x + HBAR * k**2
    B = k + HBAR**2 * x
    full = sp.expand(star(A, B, order=2, coords=ps))
    # by hand: x*k = xk + i hbar/2; hbar k^2*k = hbar k^3; hbar^2 x*x = hbar^2 x^2; hbar k^2 * hbar^2 x dropped
    assert sp.expand(full - (x * k + I * HBAR / 2 + HBAR * k**3 + HBAR**2 * x**2)) == 0
    assert hbar_coefficients(full, 2) == [x * k, I / 2 + k**3, x**2]
    assert len(star_terms(A, B, 3, ps)) == 4


def test_input_errors():
    with pytest.raises(ValueError):
        PhaseSpace(4)
    with pytest.raises(ValueError):
        PhaseSpace(1, poisson=sp.Matrix([[0, 1], [1, 0]]))
    ps = PhaseSpace(1)
    with pytest.raises(ValueError):
        star(sp.ones(2, 3), sp.ones(2, 2), 1, ps)


# ---------------------------------------------------------------- jets (numeric backbone)

def test_jets_exact_against_sympy():
    ps = PhaseSpace(1)
    x, k = ps.x[0], ps.k[0]
    expr = sp.Matrix([[sp.cos(x) + k**2, k * sp.exp(x)], [sp.sqrt(2 + sp.sin(k * x)), -sp.cos(x) / (1 + k**2)]])
    pts = np.array([[0.3, 0.7], [-0.2, 1.1], [1.0, -0.4]])
    J1 = jet_from_sympy(expr, ps, pts, 4)
    J2 = Jet.from_function(lambda X, K: matrix([[cos(X) + K**2, K * exp(X)],
                                                [sqrt(2 + sin(K * X)), -cos(X) / (1 + K**2)]]), pts, 4)
    np.testing.assert_allclose(J1.coef, J2.coef, atol=1e-13)
    # products and derivatives of jets against the sympy expressions
    J3 = jet_from_sympy(expr * sp.diff(expr, k, 1, x, 1), ps, pts, 2)
    np.testing.assert_allclose((J1 @ J1.deriv((1, 1))).coef, J3.coef, atol=1e-12)
    # derivative tensors round-trip through jet_from_derivatives
    J4 = jet_from_derivatives([J1.value] + [np.moveaxis(J1.derivative_tensor(n), list(range(n)), list(range(1, n + 1)))
                                            for n in (1, 2, 3)])
    np.testing.assert_allclose(J4.coef, J1.coef[: J4.coef.shape[0]], atol=1e-13)
    assert (J1 @ J1.diff(0)).deg == 3
