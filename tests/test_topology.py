"""Chern numbers by link variables against the degree of the d-vector map and Dirac-point masses."""

import numpy as np
import pytest

import qkinetics as qk
from qkinetics import zoo

from conftest import random_tight_binding, solid_angle_chern


@pytest.mark.parametrize("u", [-3.0, -1.5, -0.5, 0.5, 1.5, 3.0])
def test_qi_wu_zhang_all_phases(u):
    model = zoo.qi_wu_zhang(u=u)
    # Dirac-point masses at (0,0), (pi,0), (0,pi), (pi,pi) are u+2, u, u, u-2 with chiralities +,-,-,+:
    # C_lower = (1/2)[sgn(u+2) - 2 sgn(u) + sgn(u-2)] = -sgn(u) for 0 < |u| < 2, else 0.
    expected = -int(np.sign(u)) if abs(u) < 2 else 0
    assert qk.chern_number(model, [0]) == expected
    assert qk.chern_number(model, [1]) == -expected
    assert round(solid_angle_chern(model)) == expected


@pytest.mark.parametrize("phi", [np.pi / 2, -np.pi / 2, 0.3, -2.5])
@pytest.mark.parametrize("mass_ratio", [0.0, 0.6, -0.6, 1.4, -1.4])
def test_haldane_phase_diagram(phi, mass_ratio):
    t2 = 0.1
    critical = 3 * np.sqrt(3) * t2 * abs(np.sin(phi))     # gap at K or K' closes when |M| equals this
    model = zoo.haldane(t1=1.0, t2=t2, phi=phi, mass=mass_ratio * critical)
    c = qk.chern_number(model, [0], nk=48)
    assert c == round(solid_angle_chern(model, nk=150))
    assert abs(c) == (1 if abs(mass_ratio) < 1 else 0)
    if abs(mass_ratio) < 1:
        # time reversal (phi -> -phi) flips the Chern number
        assert qk.chern_number(zoo.haldane(t1=1.0, t2=t2, phi=-phi, mass=mass_ratio * critical), [0], nk=48) == -c


def test_chern_equals_integrated_berry_curvature():
    model = zoo.haldane(t2=0.2, phi=1.0, mass=0.2)
    n = 120
    s = (np.arange(n) + 0.5) / n
    k = model.k_from_reduced(np.stack(np.meshgrid(s, s, indexing="ij"), -1).reshape(-1, 2))
    om = qk.band_geometry(model, k).berry_curvature[:, 0, 0, 1]
    integral = om.sum() * abs(np.linalg.det(model.reciprocal)) / n**2 / (2 * np.pi)
    assert integral == pytest.approx(qk.chern_number(model, [0]), abs=1e-4)


def test_chern_invariant_under_positions_and_conventions():
    model = random_tight_binding(2, 3, seed=21)
    c = [qk.chern_number(model, [0], nk=40), qk.chern_number(model.with_convention("lattice"), [0], nk=40)]
    assert c[0] == c[1]


def test_non_abelian_group_chern():
    # Kane-Mele: the occupied Kramers pair has total C = 0 (time reversal); QWZ doubled with its
    # time-reversed copy likewise; a QWZ copy plus a trivial band gives the QWZ value.
    km = zoo.kane_mele(lambda_so=0.1)
    assert qk.chern_number(km, [0, 1], nk=36) == 0
    q = zoo.qi_wu_zhang(u=1.0)
    triv = {R: np.zeros((3, 3), complex) for R in q.hoppings}
    for R, t in q.hoppings.items():
        triv[R][:2, :2] = t
    triv[(0, 0)][2, 2] = -5.0
    model = qk.TightBinding(q.lattice, np.zeros((3, 2)), triv)
    assert qk.chern_number(model, [0, 1], nk=40) == qk.chern_number(q, [0])


def test_weyl_plane_chern_numbers():
    k0 = np.pi / 2
    model = zoo.weyl_semimetal(k0=k0)
    # At fixed kx the (ky, kz) plane is a QWZ-like model with Dirac masses M0, M0 + 2m, M0 + 2m, M0 + 4m,
    # M0 = t (cos kx - cos k0): topological iff M0 < 0 < M0 + 2m, i.e. |kx| > k0 (for m = 1).
    between = qk.chern_number(model, [0], plane=(1, 2), k_fixed=0.0, nk=40)
    beyond = qk.chern_number(model, [0], plane=(1, 2), k_fixed=0.5, nk=40)
    assert between == 0 and abs(beyond) == 1
    # crossing one node changes the plane Chern number by one
    assert qk.chern_number(model, [0], plane=(1, 2), k_fixed=0.3, nk=40) == beyond
    assert qk.chern_number(model, [0], plane=(1, 2), k_fixed=0.2, nk=40) == 0


def test_chern_errors():
    with pytest.raises(qk.ModelError, match="continuum"):
        qk.chern_number(zoo.massive_dirac(), [0])
    with pytest.raises(qk.ModelError, match="not isolated"):
        qk.chern_number(zoo.qi_wu_zhang(u=2.0), [0], nk=40)       # gap closes at (pi, pi)... on the grid
    with pytest.raises(qk.ModelError, match="band"):
        qk.chern_number(zoo.qi_wu_zhang(), [5])
    with pytest.raises(qk.ModelError, match="single plane"):
        qk.chern_number(zoo.qi_wu_zhang(), [0], plane=(1, 0))


def _doubled_qwz(u, rotation=None):
    """Two identical Qi-Wu-Zhang copies, block diagonal (orbitals [copy 0: a, b, copy 1: a, b]), optionally
    rotated by a k-independent unitary W: t_R -> W^dagger t_R W (all orbitals sit at the origin, so this
    is an exact basis change in either Fourier convention)."""
    q = zoo.qi_wu_zhang(u=u)
    hop = {R: np.kron(np.eye(2), t) for R, t in q.hoppings.items()}
    if rotation is not None:
        hop = {R: rotation.conj().T @ t @ rotation for R, t in hop.items()}
    return q, qk.TightBinding(q.lattice, np.zeros((4, 2)), hop, name=f"doubled-qwz-u{u}")


@pytest.mark.parametrize("u, c_single", [(1.0, -1), (-1.0, 1), (1.5, -1), (-0.5, 1)])
@pytest.mark.parametrize("rotated", [False, True])
def test_non_abelian_chern_of_doubly_degenerate_group(u, c_single, rotated):
    # The occupied bands of two identical QWZ copies are exactly doubly degenerate at every k; the
    # non-Abelian (determinant) link variable of the pair gives 2 C. A random k-independent unitary
    # that mixes the copies leaves every eigenvalue and C unchanged but makes the degenerate subspace
    # non-block-diagonal in the orbital basis, so eigh returns an arbitrary basis of it at each k.
    rng = np.random.default_rng(7 if u > 0 else 8)
    W = None
    if rotated:
        W, _ = np.linalg.qr(rng.normal(size=(4, 4)) + 1j * rng.normal(size=(4, 4)))
    q, model = _doubled_qwz(u, W)
    assert qk.chern_number(q, [0]) == c_single
    # exact double degeneracy, and (rotated) the occupied subspace mixes the two copies
    kred = rng.random((50, 2))
    eps, U = np.linalg.eigh(model.hamiltonian(model.k_from_reduced(kred), 0)[0])
    np.testing.assert_allclose(eps[:, 1] - eps[:, 0], 0, atol=1e-12)
    np.testing.assert_allclose(eps[:, 3] - eps[:, 2], 0, atol=1e-12)
    assert np.min(eps[:, 2] - eps[:, 1]) > 0.5
    P = U[:, :, :2] @ np.conj(np.swapaxes(U[:, :, :2], -1, -2))          # projector on the pair
    mixing = np.max(np.abs(P[:, :2, 2:]))
    assert (mixing > 0.1) if rotated else (mixing < 1e-12)
    assert qk.chern_number(model, [0, 1]) == 2 * c_single
    assert qk.chern_number(model, [2, 3]) == -2 * c_single
    assert qk.chern_number(model, [0, 1], nk=17) == 2 * c_single        # exact on coarse grids too
    # the group-traced Berry curvature of band_geometry integrates to the same 2 C
    n = 90
    s = (np.arange(n) + 0.5) / n
    k = model.k_from_reduced(np.stack(np.meshgrid(s, s, indexing="ij"), -1).reshape(-1, 2))
    geo = qk.band_geometry(model, k, inverse_mass=False)
    assert np.all(geo.degeneracy == 2)
    om = geo.berry_curvature[:, :2, 0, 1].sum(axis=1)
    integral = om.sum() * abs(np.linalg.det(model.reciprocal)) / n**2 / (2 * np.pi)
    assert integral == pytest.approx(2 * c_single, abs=1e-3)
