"""Continuum (sympy k.p) models: evaluation against numpy closed forms, exact derivatives, errors."""

import pickle

import numpy as np
import pytest
import sympy as sp

from qkinetics.models import Continuum, ModelError

S0 = np.eye(2, dtype=complex)
SX = np.array([[0, 1], [1, 0]], dtype=complex)
SY = np.array([[0, -1j], [1j, 0]], dtype=complex)
SZ = np.array([[1, 0], [0, -1]], dtype=complex)

kx, ky, kz = sp.symbols("kx ky kz", real=True)
A, B, C, m = sp.symbols("A B C m", real=True)


@pytest.fixture
def rng():
    return np.random.default_rng(2024)


def nonlinear_3d():
    """3x3 Hermitian matrix mixing all three k's non-polynomially, with a constant entry."""
    H = sp.Matrix([
        [A * kx**2 + sp.cos(ky) * kz, B * (kx - sp.I * ky) * sp.exp(kz / 3), 0.25],
        [B * (kx + sp.I * ky) * sp.exp(kz / 3), -A * ky**2 * kx + m, C * sp.sin(kx * kz) + sp.I * ky**3],
        [0.25, C * sp.sin(kx * kz) - sp.I * ky**3, m * kz**2],
    ])
    return Continuum(H, params={"A": 0.7, "B": -1.2, "C": 0.4, "m": 0.3}, kcut=3.0, name="nl3d")


def nonlinear_3d_numpy(k, A=0.7, B=-1.2, C=0.4, m=0.3):
    x, y, z = k.T
    H = np.zeros((k.shape[0], 3, 3), complex)
    H[:, 0, 0] = A * x**2 + np.cos(y) * z
    H[:, 0, 1] = B * (x - 1j * y) * np.exp(z / 3)
    H[:, 1, 0] = np.conj(H[:, 0, 1])
    H[:, 0, 2] = H[:, 2, 0] = 0.25
    H[:, 1, 1] = -A * y**2 * x + m
    H[:, 1, 2] = C * np.sin(x * z) + 1j * y**3
    H[:, 2, 1] = np.conj(H[:, 1, 2])
    H[:, 2, 2] = m * z**2
    return H


def test_evaluation_matches_numpy(rng):
    model = nonlinear_3d()
    assert (model.dim, model.norb, model.kcut, model.name) == (3, 3, 3.0, "nl3d")
    assert model.lattice is None and not model.periodic
    k = rng.normal(size=(17, 3))
    H = model.hamiltonian(k, 0)[0]
    assert H.shape == (17, 3, 3) and H.dtype == complex
    np.testing.assert_allclose(H, nonlinear_3d_numpy(k), atol=1e-13)


def test_derivatives_all_orders_vs_finite_differences(rng):
    model = nonlinear_3d()
    k = rng.normal(size=(5, 3))
    h = 1e-4
    out = model.hamiltonian(k, 3)
    assert [o.shape for o in out] == [(5, 3, 3), (5, 3, 3, 3), (5, 3, 3, 3, 3), (5, 3, 3, 3, 3, 3)]
    scale = max(1.0, max(np.max(np.abs(o)) for o in out))
    for a in range(3):
        e = np.zeros(3)
        e[a] = h
        plus, minus = model.hamiltonian(k + e, 2), model.hamiltonian(k - e, 2)
        for p in range(3):
            fd = (plus[p] - minus[p]) / (2 * h)
            np.testing.assert_allclose(np.take(out[p + 1], a, axis=1 + p), fd, atol=3e-7 * scale, rtol=0)
    # zeroth order from the numpy closed form, first order against differences of it too
    for a in range(3):
        e = np.zeros(3)
        e[a] = h
        fd = (nonlinear_3d_numpy(k + e) - nonlinear_3d_numpy(k - e)) / (2 * h)
        np.testing.assert_allclose(out[1][:, a], fd, atol=3e-7 * scale, rtol=0)


def test_derivative_entries_exact():
    # d^3/dkx dky dkz of exp(kz/3) (kx - i ky) B etc.: check a few mixed entries by hand
    model = nonlinear_3d()
    k = np.array([[0.3, -0.5, 0.8]])
    _, dH, d2H, d3H = model.hamiltonian(k, 3)
    x, y, z = k[0]
    B, C = -1.2, 0.4
    # d/dky of H01 = -i B exp(z/3)
    assert dH[0, 1, 0, 1] == pytest.approx(-1j * B * np.exp(z / 3))
    # d2/dkx dkz of H12 = C [cos(xz) - xz sin(xz)]
    expected = C * (np.cos(x * z) - x * z * np.sin(x * z))
    assert d2H[0, 0, 2, 1, 2] == pytest.approx(expected)
    assert d2H[0, 2, 0, 1, 2] == pytest.approx(expected)
    # d3/dky^3 of H12 = 6i; d3/dkx dky dkz of H01 = 0 since (kx - i ky) is linear
    assert d3H[0, 1, 1, 1, 1, 2] == pytest.approx(6j)
    assert d3H[0, 0, 1, 2, 0, 1] == pytest.approx(0)
    # d3/dkx dkz dkz of H12 = C d/dz[cos(xz) - xz sin(xz)] = C [-2x sin(xz) - x^2 z cos(xz)], any index order
    expected3 = C * (-2 * x * np.sin(x * z) - x**2 * z * np.cos(x * z))
    for idx in ((0, 2, 2), (2, 0, 2), (2, 2, 0)):
        assert d3H[(0,) + idx + (1, 2)] == pytest.approx(expected3)


def test_constant_entries_broadcast():
    H = sp.Matrix([[1.5, 0.2 - 0.1 * sp.I], [0.2 + 0.1 * sp.I, kx]])
    model = Continuum(H)
    assert model.dim == 1
    k = np.linspace(-1, 1, 7)[:, None]
    H0, dH, d2H, d3H = model.hamiltonian(k, 3)
    assert H0.shape == (7, 2, 2)
    np.testing.assert_allclose(H0[:, 0, 0], 1.5)
    np.testing.assert_allclose(H0[:, 0, 1], 0.2 - 0.1j)
    np.testing.assert_allclose(H0[:, 1, 1], k[:, 0])
    np.testing.assert_allclose(dH[:, 0], np.broadcast_to([[0, 0], [0, 1]], (7, 2, 2)))
    assert not d2H.any() and not d3H.any()


def test_dirac_with_params_and_tilt(rng):
    v, mass, w = sp.symbols("v mass w", real=True)
    H = w * kx * sp.eye(2) + v * (kx * sp.Matrix(SX) + ky * sp.Matrix(SY)) + mass * sp.Matrix(SZ)
    model = Continuum(H, params={"v": 1.0, "mass": 0.5, "w": 0.1}, kcut=4.0)
    assert model.dim == 2 and model.params == {"v": 1.0, "mass": 0.5, "w": 0.1}
    model2 = model.with_params(mass=-0.2, v=2.0)
    assert model.params["mass"] == 0.5                   # the original is unchanged
    assert model2.params == {"v": 2.0, "mass": -0.2, "w": 0.1}
    assert model2.kcut == 4.0 and model2.name == model.name
    k = rng.normal(size=(9, 2))
    ref = (0.1 * k[:, 0])[:, None, None] * S0 + 2.0 * (k[:, 0, None, None] * SX + k[:, 1, None, None] * SY) \
        - 0.2 * SZ
    np.testing.assert_allclose(model2.hamiltonian(k)[0], ref, atol=1e-14)
    E = model2.bands(k)
    kk = np.linalg.norm(k, axis=1)
    np.testing.assert_allclose(E, 0.1 * k[:, :1] + np.stack([-1, 1])[None] * np.hypot(2 * kk, 0.2)[:, None])
    with pytest.raises(ModelError, match="no parameter"):
        model.with_params(velocity=1.0)


def test_symbols_matched_by_name():
    # plain symbols (no real=True) are the same momenta and parameters
    px, py, g = sp.symbols("kx ky g")
    model = Continuum(sp.Matrix([[px**2, g * py], [g * py, -px]]), params={"g": 2.0})
    H = model.hamiltonian(np.array([[0.5, 2.0]]))[0][0]
    np.testing.assert_allclose(H, [[0.25, 4.0], [4.0, -0.5]])


def test_dim_inference_and_override():
    assert Continuum(sp.Matrix([[ky]])).dim == 2
    assert Continuum(sp.Matrix([[kz]])).dim == 3
    model = Continuum(sp.Matrix([[kx**2]]), dim=3)
    assert model.dim == 3
    _, dH = model.hamiltonian(np.array([[0.5, 1.0, 2.0]]), 1)
    np.testing.assert_allclose(dH[0, :, 0, 0], [1.0, 0.0, 0.0])
    with pytest.raises(ModelError, match="dim"):
        Continuum(sp.Matrix([[kz]]), dim=2)
    with pytest.raises(ModelError, match="dim"):
        Continuum(sp.Matrix([[1.0]]))
    with pytest.raises(ModelError, match="dim"):
        Continuum(sp.Matrix([[kx]]), dim=4)


def test_unknown_symbol_is_named():
    q = sp.Symbol("q", real=True)
    with pytest.raises(ModelError) as exc:
        Continuum(sp.Matrix([[A * kx, q], [q, -A * kx]]), params={"A": 1.0})
    assert "'q'" in str(exc.value)
    with pytest.raises(ModelError, match="'A'"):
        Continuum(sp.Matrix([[A * kx]]))


def test_unused_param_raises():
    with pytest.raises(ModelError, match="'beta'"):
        Continuum(sp.Matrix([[A * kx]]), params={"A": 1.0, "beta": 2.0})
    with pytest.raises(ModelError, match="momentum"):
        Continuum(sp.Matrix([[A * kx]]), params={"A": 1.0, "kx": 2.0})


def test_non_hermitian_raises():
    with pytest.raises(ModelError, match="not Hermitian") as exc:
        Continuum(sp.Matrix([[kx, kx - sp.I * ky], [kx - sp.I * ky, -kx]]))
    assert "complex conjugate" in str(exc.value)
    with pytest.raises(ModelError, match="not Hermitian"):
        Continuum(sp.Matrix([[sp.I * kx]]))
    # Hermitian only for A == B: accepted numerically when equal, rejected otherwise
    H = sp.Matrix([[0, A * kx], [B * kx, 0]])
    ok = Continuum(H, params={"A": 0.5, "B": 0.5})
    with pytest.raises(ModelError, match="not Hermitian"):
        ok.with_params(B=0.7)
    with pytest.raises(ModelError, match="not Hermitian"):
        Continuum(H, params={"A": 0.5, "B": -0.5})


@pytest.mark.parametrize("kcut", [0.0, -1.0, float("nan"), float("inf"), "big"])
def test_bad_kcut(kcut):
    with pytest.raises(ModelError, match="kcut"):
        Continuum(sp.Matrix([[kx]]), kcut=kcut)


@pytest.mark.parametrize("bad", [
    lambda: Continuum(sp.Matrix([[kx, 0]])),                                     # not square
    lambda: Continuum(sp.Matrix([[A * kx]]), params={"A": 1 + 1j}),              # complex parameter
    lambda: Continuum(sp.Matrix([[sp.Function("f")(kx)]])),                      # undefined function
    lambda: Continuum(sp.Matrix([[A * kx]]), params={"A": "x"}),                 # non-numeric
])
def test_malformed_input(bad):
    with pytest.raises(ModelError):
        bad()


def test_bad_k_shape():
    model = nonlinear_3d()
    with pytest.raises(ModelError, match="shape"):
        model.hamiltonian(np.zeros((4, 2)))
    with pytest.raises(ModelError, match="order"):
        model.hamiltonian(np.zeros((4, 3)), order=4)


def test_pickle_roundtrip(rng):
    model = nonlinear_3d()
    k = rng.normal(size=(4, 3))
    before = model.hamiltonian(k, 3)
    clone = pickle.loads(pickle.dumps(model))
    for x, y in zip(before, clone.hamiltonian(k, 3)):
        np.testing.assert_allclose(x, y)
    assert clone.params == model.params and clone.kcut == model.kcut


def test_large_batch_vectorized(rng):
    model = nonlinear_3d()
    k = rng.normal(size=(20000, 3))
    H = model.hamiltonian(k, 1)[0]
    np.testing.assert_allclose(H[::997], nonlinear_3d_numpy(k[::997]), atol=1e-12)
