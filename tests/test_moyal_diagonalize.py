"""Star diagonalization to O(hbar^2): identities, gauge invariance, closed forms, separable case."""

import numpy as np
import pytest
import sympy as sp

import qkinetics as qk
from qkinetics.geometry import geometry_from_hamiltonian
from qkinetics.moyal import (PhaseSpace, first_order_band_energy, separable_band_energy, separable_hamiltonian_jet,
                             star_band_energies, star_diagonalize, star_diagonalize_jet, two_band_polar)
from qkinetics.moyal import jet as J
from qkinetics.moyal.diagonalize import jet_star_term
from qkinetics.moyal.jet import Jet, jet_space
from qkinetics.moyal.symbolic_eval import evaluate, random_values


def series_star(As, Bs, order, coords):
    """Coefficients of (sum hbar^b A_b) * (sum hbar^c B_c) for jets."""
    out = []
    for n in range(order + 1):
        tot = None
        for b in range(min(n, len(As) - 1) + 1):
            for c in range(min(n - b, len(Bs) - 1) + 1):
                t = jet_star_term(As[b], Bs[c], n - b - c, coords)
                tot = t if tot is None else tot + t
        out.append(tot)
    return out


def check_identities(Hj, U, h_tilde, coords, order=2, atol=1e-11):
    """U*U^dag = 1 and U*h~*U^dag = H through hbar^order, at every valid Taylor degree."""
    Uh = [u.H for u in U]
    ht = [h if len(h.shape) == len(Hj.shape) else h.diag_matrix() for h in h_tilde]
    UU = series_star(U, Uh, order, coords)
    R = series_star(series_star(U, ht, order, coords), Uh, order, coords)
    N = Hj.shape[-1]
    for n in range(order + 1):
        one = np.zeros_like(UU[n].coef)
        if n == 0:
            one[0] = np.eye(N)
        np.testing.assert_allclose(UU[n].coef, one, atol=atol)
        ref = Hj.coef[: R[n].coef.shape[0]] if n == 0 else 0
        np.testing.assert_allclose(R[n].coef, ref + np.zeros_like(R[n].coef), atol=atol)
        assert R[n].deg >= Hj.deg - n


def random_hamiltonian(dim, N, seed):
    """A smooth random Hermitian N x N H(x, k) on jets: sums of constant Hermitian matrices times
    sin / cos / exp / polynomials of x and k, with a gapped diagonal."""
    rng = np.random.default_rng(seed)
    mats = [0.25 * (lambda a: a + a.conj().T)(rng.normal(size=(N, N)) + 1j * rng.normal(size=(N, N)))
            for _ in range(4 * dim + 1)]
    mats[0] = mats[0] + np.diag(np.linspace(-1.5, 1.5, N))

    def H(*v):
        xs, ks = v[:dim], v[dim:2 * dim]
        M = mats[0] + 0.0 * ks[0][..., None, None]
        for i in range(dim):
            M = M + J.sin(ks[i] + 0.3 * xs[i])[..., None, None] * mats[1 + 4 * i]
            M = M + J.cos(0.7 * xs[i] - ks[i] * xs[(i + 1) % dim])[..., None, None] * mats[2 + 4 * i]
            M = M + (ks[i] ** 2 * J.exp(0.2 * xs[i]))[..., None, None] * mats[3 + 4 * i]
            M = M + (xs[i] * ks[(i + 1) % dim])[..., None, None] * mats[4 + 4 * i]
        return M
    return H


# ---------------------------------------------------------------- numeric, random N x N

@pytest.mark.parametrize("dim,N,degree", [(1, 3, 4), (2, 3, 3)])
def test_numeric_star_unitarity_and_reconstruction(dim, N, degree):
    pts = np.random.default_rng(dim).normal(size=(5, 2 * dim)) * 0.5
    Hj = Jet.from_function(random_hamiltonian(dim, N, seed=10 + dim), pts, degree)
    res = star_diagonalize_jet(Hj, order=2)
    assert [u.deg for u in res.U] == [degree, degree - 1, degree - 2]
    check_identities(Hj, res.U, res.h_tilde, res.coords)
    # energies real, h~ and h real
    for h in res.h_tilde + res.h:
        assert np.abs(h.coef.imag).max() < 1e-12
    assert np.abs(res.h_values()[1:]).max() > 1e-3                      # non-trivial corrections


@pytest.mark.parametrize("dim", [1, 2])
def test_numeric_gauge_invariance(dim):
    """Random smooth band phases (eigenvector phases and the free imaginary diagonals of X_1, X_2)
    change U and h~ but leave h unchanged, including its phase-space derivatives."""
    rng = np.random.default_rng(5)
    pts = rng.normal(size=(4, 2 * dim)) * 0.5
    degree = 4 if dim == 1 else 3
    Hj = Jet.from_function(random_hamiltonian(dim, 3, seed=20 + dim), pts, degree)
    space = Hj.space
    ref = star_diagonalize_jet(Hj, order=2)
    gauge = [Jet(space, rng.normal(size=(space.count[degree], 4, 3))) for _ in range(3)]
    res = star_diagonalize_jet(Hj, order=2, gauge=gauge)
    check_identities(Hj, res.U, res.h_tilde, res.coords)
    assert np.abs(res.h_tilde[1].coef - ref.h_tilde[1].coef).max() > 1e-2
    for m in range(3):
        np.testing.assert_allclose(res.h[m].coef, ref.h[m].coef, atol=1e-11)


@pytest.mark.parametrize("dim", [1, 2, 3])
def test_first_order_closed_form(dim):
    """h_1 from the recursion equals (i/2) eps^{ab} sum_m V^a_nm V^b_mn / (e_n - e_m), computed from
    one eigendecomposition of H and its gradient (no recursion, no star products)."""
    pts = np.random.default_rng(dim).normal(size=(6, 2 * dim)) * 0.5
    Hj = Jet.from_function(random_hamiltonian(dim, 3, seed=30 + dim), pts, 1)
    res = star_diagonalize_jet(Hj, order=1)
    dH = np.stack([Hj.diff(v).value for v in range(2 * dim)], axis=1)
    h1 = first_order_band_energy(Hj.value, dH)
    np.testing.assert_allclose(res.h_values()[1], h1, atol=1e-12)
    assert np.abs(h1).max() > 1e-3


def test_h_jet_derivatives_match_finite_differences():
    """The higher Taylor coefficients of h_2 (degree D - 2) are its true derivatives."""
    H = random_hamiltonian(1, 3, seed=41)
    p0 = np.array([[0.2, -0.3]])
    res = star_diagonalize_jet(Jet.from_function(H, p0, 3), order=2)
    step = 1e-4
    for v in range(2):
        e = np.zeros((1, 2))
        e[0, v] = step
        hp = star_diagonalize_jet(Jet.from_function(H, p0 + e, 2), order=2).h_values()
        hm = star_diagonalize_jet(Jet.from_function(H, p0 - e, 2), order=2).h_values()
        for m in (1, 2):
            np.testing.assert_allclose(res.h[m].diff(v).value.real, (hp[m] - hm[m]) / (2 * step), atol=1e-6)


def test_errors():
    pts = np.array([[0.1, 0.2]])
    with pytest.raises(ValueError, match="Degenerate"):
        star_diagonalize_jet(Jet.from_function(lambda x, k: J.matrix([[x * 0, 0], [0, x * 0]]), pts, 2))
    with pytest.raises(ValueError, match="Hermitian"):
        star_diagonalize_jet(Jet.from_function(lambda x, k: J.matrix([[x, k], [0, -x + 1]]), pts, 2))
    with pytest.raises(ValueError, match="degree"):
        star_diagonalize_jet(Jet.from_function(lambda x, k: J.matrix([[x, k], [k, -x + 1]]), pts, 1), order=2)


# ---------------------------------------------------------------- separable case H0(k) + V(x)

@pytest.mark.parametrize("dim", [1, 2, 3])
def test_separable_second_order_energy(dim):
    """h = eps + V - (1/2) G^{ij} dV_i dV_j + (1/2) g^{ij} d_i d_j V, h_1 = 0 (derived by hand in the
    module docstring); G and g from qkinetics.geometry (independent code). Also the first-order
    Berry connection A_k^(1) = G . grad V (positional shift; default gauge)."""
    rng = np.random.default_rng(50 + dim)
    N = 3
    mats = [0.3 * (lambda a: a + a.conj().T)(rng.normal(size=(N, N)) + 1j * rng.normal(size=(N, N)))
            for _ in range(2 * dim + 1)]
    mats[0] = mats[0] + np.diag([-1.5, 0.0, 1.5])
    a, b, c = rng.normal(size=3)

    def H(*v):
        xs, ks = v[:dim], v[dim:]
        M = mats[0] + 0.0 * ks[0][..., None, None]
        for i in range(dim):
            M = M + J.sin(ks[i])[..., None, None] * mats[1 + i]
            M = M + J.cos(0.7 * ks[i])[..., None, None] * mats[1 + dim + i]
        V = a * J.sin(xs[0]) + c * xs[0] ** 3
        for i in range(1, dim):
            V = V + b * xs[i] ** 2 * J.cos(xs[0])
        return M + V[..., None, None] * np.eye(N)

    pts = rng.normal(size=(6, 2 * dim)) * 0.7
    Hj = Jet.from_function(H, pts, 2)
    res = star_diagonalize_jet(Hj, order=2)
    # independent reference: geometry of H0 at k and derivatives of V at x
    kidx = [dim + i for i in range(dim)]

    def d2(i, j):
        m = [0] * (2 * dim)
        m[i] += 1
        m[j] += 1
        return Hj.deriv(m).value

    geo = geometry_from_hamiltonian(Hj.value, np.stack([Hj.diff(i).value for i in kidx], 1),
                                    np.stack([np.stack([d2(i, j) for j in kidx], 1) for i in kidx], 1))
    tr = lambda M: np.trace(M, axis1=-2, axis2=-1).real / N          # noqa: E731  (V = tr/N of x-derivatives)
    F = np.stack([tr(Hj.diff(i).value) for i in range(dim)], 1)
    W = np.stack([np.stack([tr(d2(i, j)) for j in range(dim)], 1) for i in range(dim)], 1)
    h2 = separable_band_energy(geo.normalized_metric, geo.quantum_metric, F, W)
    hv = res.h_values()
    np.testing.assert_allclose(hv[0], geo.energies, atol=1e-12)          # eps_n(k) + V(x): H includes V
    np.testing.assert_allclose(hv[1], 0.0, atol=1e-12)
    np.testing.assert_allclose(hv[2], h2, atol=1e-12)
    assert np.abs(h2).max() > 1e-2
    # positional shift: A_{k_i}^(1) = G^{ij} dV_j; A_{x_i}^(1) = 0
    for i in range(dim):
        shift = np.einsum("bnj,bj->bn", geo.normalized_metric[:, :, i], F)
        np.testing.assert_allclose(res.berry_connection[1][dim + i].value, shift, atol=1e-12)
        np.testing.assert_allclose(res.berry_connection[1][i].value, 0.0, atol=1e-12)


def test_separable_massive_dirac_model():
    """Library model (zoo.massive_dirac, tilted) + potential: same closed form, via model derivatives."""
    model = qk.zoo.massive_dirac(v=1.3, mass=0.4, tilt=0.2)
    pts = np.random.default_rng(0).normal(size=(8, 4)) * 0.5
    Hj = separable_hamiltonian_jet(model, pts, lambda x, y: 0.2 * J.sin(x) + 0.1 * x * y**2, degree=3)
    res = star_diagonalize_jet(Hj, 2)
    geo = qk.band_geometry(model, pts[:, 2:])
    x, y = pts[:, 0], pts[:, 1]
    F = np.stack([0.2 * np.cos(x) + 0.1 * y**2, 0.2 * x * y], 1)
    W = np.stack([np.stack([-0.2 * np.sin(x), 0.2 * y], 1), np.stack([0.2 * y, 0.2 * x], 1)], 1)
    V = 0.2 * np.sin(x) + 0.1 * x * y**2
    np.testing.assert_allclose(res.h_values()[0], geo.energies + V[:, None], atol=1e-12)
    np.testing.assert_allclose(res.h_values()[1], 0.0, atol=1e-12)
    h2 = separable_band_energy(geo.normalized_metric, geo.quantum_metric, F, W)
    np.testing.assert_allclose(res.h_values()[2], h2, atol=1e-12)


def test_separable_two_band_symbolic():
    """Symbolic recursion, generic 2-band H0(k) = d0 + m n(beta, theta).sigma and generic V(x):
    h_1 = 0 and h_2 = -(1/2) G V'^2 + (1/2) g V'' with the two-band closed forms
    g = (beta'^2 + sin^2(beta) theta'^2)/4, G_-+ = -+ g/m."""
    ps = PhaseSpace(1)
    x, k = ps.x[0], ps.k[0]
    d0, m, beta, theta = (sp.Function(n, real=True)(k) for n in ("d0", "m", "beta", "theta"))
    V = sp.Function("V", real=True)(x)
    H, (energies, U0) = two_band_polar(d0 + V, m, beta, theta)
    sd = star_diagonalize(H, 2, ps, eigensystem=(energies, U0))
    g = (sp.diff(beta, k) ** 2 + sp.sin(beta) ** 2 * sp.diff(theta, k) ** 2) / 4
    F, W = sp.diff(V, x), sp.diff(V, x, 2)
    rng = np.random.default_rng(2)
    for _ in range(3):
        vals = random_values([sd.h, g, F, W], rng, ps, shift={m: 2.0})
        for n, sign in ((0, -1), (1, 1)):
            G = sign * g / m
            assert abs(evaluate(sd.h[1][n], vals)) < 1e-13
            ref = evaluate(-G * F**2 / 2 + g * W / 2, vals)
            assert abs(evaluate(sd.h[2][n], vals) - ref) < 1e-12 and abs(ref) > 1e-3


# ---------------------------------------------------------------- symbolic, generic 2 x 2 in 1D

def symbolic_jet(expr, coords, space, deg, vals, memo):
    """Jet of a symbolic expression from its derivatives evaluated with generic-function values."""
    der, coef = {}, []
    for mon in space.monomials[: space.count[deg]]:
        if not any(mon):
            der[mon] = expr
        else:
            v = max(i for i, c in enumerate(mon) if c)
            lower = list(mon)
            lower[v] -= 1
            der[mon] = der[tuple(lower)].applyfunc(lambda e: e.diff(coords.variables[v]))
        random_values(der[mon], np.random.default_rng(len(vals)), values=vals)
        coef.append(evaluate(der[mon], vals, memo) / space.factorials[space.index[mon]])
    return Jet(space, np.array(coef)[:, None], deg)


def test_symbolic_generic_two_band():
    """Generic 2x2 H(x, k) = d0 + m n(beta, theta).sigma with generic functions of (x, k), in a
    non-trivial gauge (eigenvector phases and imaginary diagonals of X_1, X_2 generic functions):
    U*U^dag = 1 and U*h~*U^dag = H through hbar^2 at random values of all derivatives; h_1 equals
    the closed form; h_0..h_2 equal the numeric jet route, which works in another gauge."""
    ps = PhaseSpace(1)
    x, k = ps.x[0], ps.k[0]
    d0, m, beta, theta = (sp.Function(n, real=True)(x, k) for n in ("d0", "m", "beta", "theta"))
    H, eig = two_band_polar(d0, m, beta, theta)
    phases = [[sp.Function(f"p{o}{n}", real=True)(x, k) for n in range(2)] for o in range(3)]
    sd = star_diagonalize(H, 2, ps, eigensystem=eig, gauge=phases)
    vals = {x: 0.3, k: -0.2, m: 1.7}
    random_values([H, sd.U[0]], np.random.default_rng(0), values=vals)
    memo = {}
    space = jet_space(2, 2)
    Uj = [symbolic_jet(sd.U[n], ps, space, 2 - n, vals, memo) for n in range(3)]
    hj = [symbolic_jet(sp.diag(*sd.h_tilde[n]), ps, space, 2 - n, vals, memo) for n in range(3)]
    Hj = symbolic_jet(H, ps, space, 2, vals, memo)
    check_identities(Hj, Uj, hj, ps)
    h = np.array([[evaluate(e, vals, memo) for e in hm] for hm in sd.h])
    assert np.abs(h.imag).max() < 1e-12
    num = star_diagonalize_jet(Hj, 2, ps)
    np.testing.assert_allclose(h.real, num.h_values()[:, 0], atol=1e-11)
    assert np.abs(np.array([[evaluate(e, vals, memo) for e in hm] for hm in sd.h_tilde])[1:].real
                  - num.h_tilde_values()[1:, 0]).max() > 1e-3               # h~ is gauge dependent
    # closed form, two bands: h_1 = (e_n - e_m)/2 Omega_n^{xk} = -m Omega_-^{xk} for both bands, with
    # Omega_-^{xk} = (1/2) n.(d_x n x d_k n) = (1/2) sin(beta) {beta, theta} (lower band of m n.sigma)
    pb = sp.diff(beta, x) * sp.diff(theta, k) - sp.diff(beta, k) * sp.diff(theta, x)
    np.testing.assert_allclose(h[1].real, evaluate(-m * sp.sin(beta) * pb / 2, vals), atol=1e-12)
    assert abs(h[1, 0]) > 1e-3


def test_star_band_energies_symbolic_input():
    """star_band_energies accepts a sympy Matrix; agrees with the callable route."""
    ps = PhaseSpace(1)
    x, k = ps.x[0], ps.k[0]
    Hs = sp.Matrix([[sp.Rational(1, 2) + k**2 / 4 + sp.cos(x) / 5, k / 2 - sp.I * sp.sin(x) / 3],
                    [k / 2 + sp.I * sp.sin(x) / 3, -sp.Rational(1, 2) + x * k / 5]])
    pts = np.array([[0.3, 0.4], [-0.5, 0.1]])
    a = star_band_energies(Hs, pts, ps).h_values()
    b = star_band_energies(lambda X, K: J.matrix([[0.5 + K**2 / 4 + J.cos(X) / 5, K / 2 - 1j * J.sin(X) / 3],
                                                  [K / 2 + 1j * J.sin(X) / 3, -0.5 + X * K / 5]]), pts).h_values()
    np.testing.assert_allclose(a, b, atol=1e-13)


def test_numeric_third_order_and_time_parameter():
    """U and h~ to hbar^3 (any order works for them); a time-dependent H (t a parameter, not paired by
    the symplectic form) gives the same identities and a Berry connection component A_t."""
    base = random_hamiltonian(1, 3, seed=61)
    rng = np.random.default_rng(61)
    Q = (lambda a: a + a.conj().T)(rng.normal(size=(3, 3)) + 1j * rng.normal(size=(3, 3))) * 0.2

    def H(x, k, t):
        return base(x, k) + (J.cos(t) * x + J.sin(2 * t) * k)[..., None, None] * Q

    pts = rng.normal(size=(3, 3)) * 0.5
    Hj = Jet.from_function(H, pts, 4)
    ps = PhaseSpace(1, time=True)
    res = star_diagonalize_jet(Hj, order=3, coords=ps)
    check_identities(Hj, res.U, res.h_tilde, ps, order=3, atol=1e-10)
    assert len(res.berry_connection[0]) == 3 and len(res.h) == 3
    # A^(0) = i <u|d u>: zero at the expansion point in the default gauge; its curl is the Berry
    # curvature -2 Im sum V^a V^b / gap^2 (qkinetics.geometry with (d_x H, d_k H, d_t H) as "dH")
    A0 = res.berry_connection[0]
    for v in range(3):
        np.testing.assert_allclose(A0[v].value, 0.0, atol=1e-13)
    geo = geometry_from_hamiltonian(Hj.value, np.stack([Hj.diff(v).value for v in range(3)], 1))
    for a, b in ((0, 1), (0, 2), (1, 2)):
        curl = (A0[b].diff(a) - A0[a].diff(b)).value
        np.testing.assert_allclose(curl.real, geo.berry_curvature[:, :, a, b], atol=1e-12)
        assert np.abs(curl).max() > 1e-3
    # time-independent slice: h at fixed t equals the 1D result of H(., ., t0)
    t0 = pts[:, 2]
    res1 = star_diagonalize_jet(Jet.from_function(lambda x, k: H(x, k, t0 + 0 * x), pts[:, :2], 2), order=2)
    np.testing.assert_allclose(res.h_values(), res1.h_values(), atol=1e-12)
