"""Fused Fourier sums of TightBinding.interpolate, pickling without caches, shared inputs of process pools."""

import os
import pickle
from dataclasses import replace

import numpy as np
import pytest

import qkinetics as qk
from qkinetics.integrate import KGrid, get_executor, integrate_mechanisms
from qkinetics.integrate.executors import bounded_map
from qkinetics.models.tight_binding import TightBinding
from qkinetics.responses import mechanisms_by_name


def _random_model(convention, seed=3):
    """3D, 3 orbitals off the origin; the position matrix has an R vector the hoppings lack (and vice versa)."""
    rng = np.random.default_rng(seed)
    N = 3

    def cmat(s=1.0):
        return s * (rng.normal(size=(N, N)) + 1j * rng.normal(size=(N, N)))

    t0 = cmat()
    hop = {(0, 0, 0): (t0 + t0.conj().T) / 2, (1, 0, 0): cmat(0.5), (0, 1, 1): cmat(0.3)}
    r0 = np.stack([cmat(0.1) for _ in range(3)])
    pos = {(0, 0, 0): (r0 + r0.conj().swapaxes(-1, -2)) / 2, (1, 0, 0): np.stack([cmat(0.05) for _ in range(3)]),
           (1, -1, 0): np.stack([cmat(0.02) for _ in range(3)])}
    lattice = np.array([[3.0, 0.1, 0.0], [0.4, 2.7, 0.0], [0.2, 0.3, 3.3]])
    return TightBinding(lattice, rng.random((N, 3)), hop, position_matrix=pos, hermiticity="complete",
                        convention=convention)


def _direct_sums(model, k):
    """H, dH, A, dA by explicit sums over R of e^{ik.d} (d = R + tau_j - tau_i, or R), from the class docstrings."""
    tau = model.positions @ model.lattice
    N, d = model.norb, model.dim
    shift = tau[None, :, :] - tau[:, None, :] if model.convention == "positions" else np.zeros((N, N, d))
    H = np.zeros((len(k), N, N), complex)
    dH = np.zeros((len(k), d, N, N), complex)
    A = np.zeros((len(k), d, N, N), complex)
    dA = np.zeros((len(k), d, d, N, N), complex)
    for R, t in model.hoppings.items():
        disp = np.asarray(R) @ model.lattice + shift                             # (N, N, d)
        ph = np.exp(1j * np.einsum("kc,ijc->kij", k, disp))
        H += ph * t
        dH += 1j * np.einsum("kij,ijc->kcij", ph, disp) * t
    for R, r in model.position_matrix.items():
        r = r.copy()
        if R == (0, 0, 0) and model.convention == "positions":
            r -= np.einsum("na,nm->anm", tau, np.eye(N))                        # r_a - tau_a on the R = 0 diagonal
        disp = np.asarray(R) @ model.lattice + shift
        ph = np.exp(1j * np.einsum("kc,ijc->kij", k, disp))
        A += ph[:, None] * r
        dA += 1j * np.einsum("kij,ijc,aij->kacij", ph, disp, r)
    return H, dH, A, dA


@pytest.mark.parametrize("convention", ["positions", "lattice"])
def test_interpolate_equals_direct_fourier_sums(convention):
    model = _random_model(convention)
    k = model.k_from_reduced(np.random.default_rng(1).random((40, 3)))
    H, dH, A, dA = _direct_sums(model, k)
    (H1, dH1, d2H1), (A1, curl) = model.interpolate(k, 2, connection="curl")
    scale = np.abs(H).max()
    assert np.abs(H1 - H).max() < 1e-13 * scale and np.abs(dH1 - dH).max() < 1e-13 * np.abs(dH).max()
    assert np.abs(A1 - A).max() < 1e-13 * np.abs(A).max()
    ia, ib = np.triu_indices(3, 1)
    np.testing.assert_allclose(curl, dA[:, ib, ia] - dA[:, ia, ib], rtol=0, atol=1e-13 * np.abs(dA).max())
    # the fused blocks equal the separate methods, derivatives of every order included
    np.testing.assert_allclose(d2H1, model.hamiltonian(k, 2)[2], rtol=0, atol=1e-13 * np.abs(d2H1).max())
    ham, conn = model.interpolate(k, 1, connection=2)
    for x, y in zip(conn, model.wannier_connection(k, 2)):
        np.testing.assert_allclose(x, y, rtol=0, atol=1e-13 * np.abs(y).max())
    np.testing.assert_allclose(conn[1], dA, rtol=0, atol=1e-13 * np.abs(dA).max())
    assert model.interpolate(k, 1)[1] is None


def test_interpolate_refuses_bad_requests():
    model = _random_model("positions")
    with pytest.raises(qk.ModelError, match="connection must be"):
        model.interpolate([[0.0, 0.0, 0.0]], 1, connection="grad")
    with pytest.raises(qk.ModelError, match="order must be"):
        model.interpolate([[0.0, 0.0, 0.0]], 9)
    with pytest.raises(qk.ModelError, match="no position matrix"):
        model.tight_binding_approximation().interpolate([[0.0, 0.0, 0.0]], 1, connection=1)


def test_pickled_model_leaves_its_fourier_weights_behind():
    model = _random_model("positions")
    k = model.k_from_reduced(np.random.default_rng(2).random((5, 3)))
    H = model.interpolate(k, 2, connection="curl")[0][0]
    assert model._weights
    blob = pickle.dumps(model)
    other = pickle.loads(blob)
    assert not other._weights and len(blob) < len(pickle.dumps(model.__dict__))
    np.testing.assert_array_equal(other.interpolate(k, 2, connection="curl")[0][0], H)


def test_inverse_mass_is_computed_only_when_a_mechanism_needs_it(monkeypatch):
    """Dropping the inverse mass leaves the anomalous Hall and Drude integrals unchanged to rounding."""
    model = qk.zoo.get("weyl", tilt_y=0.2)
    grid = KGrid(model, 8)
    mechs = mechanisms_by_name(["anomalous_hall", "drude"], 1)
    assert not any(m.needs_inverse_mass for m in mechs)
    import qkinetics.integrate.integrator as integrator

    seen = []
    real = integrator.band_geometry
    monkeypatch.setattr(integrator, "band_geometry", lambda *a, **kw: seen.append(kw["inverse_mass"]) or real(*a, **kw))
    lean = integrate_mechanisms(model, mechs, grid, [0.1], [300.0], warn=False)
    full = integrate_mechanisms(model, [replace(m, needs_inverse_mass=True) for m in mechs], grid, [0.1], [300.0],
                                warn=False)
    assert set(seen) == {False, True}
    for name in full.values:
        np.testing.assert_allclose(lean.values[name], full.values[name], rtol=1e-12, atol=0)


_UNPICKLED = []


def _counted_common():
    _UNPICKLED.append(os.getpid())
    return "shared"


class _Common:
    """Records in the unpickling process how often it is unpickled."""

    def __reduce__(self):
        return (_counted_common, ())


def _job(common, x):
    return os.getpid(), len(_UNPICKLED), common, x


def test_process_pool_unpickles_the_shared_inputs_once_per_worker():
    with get_executor("processes", 2) as pool:
        out = list(bounded_map(pool, _job, range(12), max_in_flight=4, common=_Common()))
    assert [x for *_, x in out] == list(range(12)) and {c for _, _, c, _ in out} == {"shared"}
    assert {n for _, n, _, _ in out} == {1}                       # every worker unpickled the inputs once
