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
