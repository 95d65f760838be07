"""Zoo models against closed forms written out here, symmetries, gap closings, registry errors.

The closed-form matrices below are derived by hand from the real-space definitions in the
docstrings (Fourier convention with orbitals at their positions), not taken from the code.
"""

import inspect

import numpy as np
import pytest

from qkinetics.models import ModelError, zoo

S0 = np.eye(2, dtype=complex)
SX = np.array([[0, 1], [1, 0]], dtype=complex)
SY = np.array([[0, -1j], [1j, 0]], dtype=complex)
SZ = np.array([[1, 0], [0, -1]], dtype=complex)
SQ3 = np.sqrt(3.0)


@pytest.fixture
def rng():
    return np.random.default_rng(7)


def _f(x):
    """Broadcast a (B,) array of coefficients against a 2x2 or 4x4 matrix."""
    return np.asarray(x)[:, None, None]


# ----------------------------------------------------------------------------- closed forms


def dirac_ref(k, v, mass, tilt, tilt_y):
    kx, ky = k[:, 0], k[:, 1]
    return _f(tilt * kx + tilt_y * ky) * S0 + v * (_f(kx) * SX + _f(ky) * SY) + mass * SZ


def qwz_ref(k, u, t, a):
    kx, ky = k[:, 0] * a, k[:, 1] * a
    return t * (_f(np.sin(kx)) * SX + _f(np.sin(ky)) * SY + _f(u + np.cos(kx) + np.cos(ky)) * SZ)


def honeycomb_vectors(a):
    # A->B nearest-neighbour vectors for a1 = a(1,0), a2 = a(1/2, sqrt3/2), A at (a1+a2)/3, B at 2(a1+a2)/3
    delta = a * np.array([[0.5, 0.5 / SQ3], [-0.5, 0.5 / SQ3], [0.0, -1 / SQ3]])
    # second-neighbour vectors b_j: A->A hops j -> i with r_i - r_j = -b_j run counterclockwise
    b = a * np.array([[1.0, 0.0], [-0.5, SQ3 / 2], [-0.5, -SQ3 / 2]])
    return delta, b


def haldane_ref(k, t1, t2, phi, mass, a, strain=0.0):
    delta, b = honeycomb_vectors(a)
    kd, kb = k @ delta.T, k @ b.T
    bond = t1 * np.array([1 + strain, 1.0, 1.0])              # strain scales the delta_0 bond
    d0 = 2 * t2 * np.cos(phi) * np.cos(kb).sum(1)
    dx = (bond * np.cos(kd)).sum(1)
    dy = -(bond * np.sin(kd)).sum(1)
    dz = mass - 2 * t2 * np.sin(phi) * np.sin(kb).sum(1)
    return _f(d0) * S0 + _f(dx) * SX + _f(dy) * SY + _f(dz) * SZ


def kane_mele_ref(k, t, lambda_so, lambda_r, lambda_v, a):
    delta, b = honeycomb_vectors(a)
    kd, kb = k @ delta.T, k @ b.T
    f = np.exp(1j * kd)                                     # (B, 3)
    H = np.zeros((k.shape[0], 4, 4), complex)
    ab = t * f.sum(1)[:, None, None] * S0
    for j in range(3):
        dh = delta[j] / np.linalg.norm(delta[j])            # unit vector from A (i) to B (j)
        ab = ab + 1j * lambda_r * f[:, j, None, None] * (SX * dh[1] - SY * dh[0])
    H[:, 0:2, 2:4] = ab
    H[:, 2:4, 0:2] = np.conj(np.swapaxes(ab, 1, 2))
    so = -2 * lambda_so * np.sin(kb).sum(1)
    H[:, 0:2, 0:2] += _f(so) * SZ + lambda_v * S0
    H[:, 2:4, 2:4] += -_f(so) * SZ - lambda_v * S0
    return H


def rice_mele_ref(k, t, delta_t, staggered, a):
    x = k[:, 0] * a / 2
    return 2 * t * _f(np.cos(x)) * SX - 2 * delta_t * _f(np.sin(x)) * SY + staggered * SZ


def pt_afm_ref(k, t, t_ab, lambda_so, neel, e0, staggered, a):
    kx, ky = k[:, 0] * a, k[:, 1] * a
    eps = e0 - 2 * t * (np.cos(kx) + np.cos(ky))
    vab = -4 * t_ab * np.cos(kx / 2) * np.cos(ky / 2)
    tz = np.kron(SZ, S0)
    H = _f(eps) * np.eye(4) + _f(vab) * np.kron(SX, S0)
    H = H + lambda_so * (_f(np.sin(ky)) * np.kron(SZ, SX) - _f(np.sin(kx)) * np.kron(SZ, SY))
    H = H + np.kron(SZ, neel[0] * SX + neel[1] * SY + neel[2] * SZ) + staggered * tz
    return H


def weyl_ref(k, t, k0, m, tilt, tilt_y, tilt_z, a):
    kx, ky, kz = (k * a).T
    dx = np.cos(kx) - np.cos(k0) + m * (2 - np.cos(ky) - np.cos(kz))
    d0 = tilt * np.sin(kx) + tilt_y * np.sin(ky) + tilt_z * np.sin(kz)
    return t * (_f(dx) * SX + _f(np.sin(ky)) * SY + _f(np.sin(kz)) * SZ) + _f(d0) * S0


CASES = [
    ("massive_dirac", dict(v=1.3, mass=-0.4, tilt=0.2, tilt_y=-0.15), dirac_ref),
    ("qi_wu_zhang", dict(u=-0.7, t=0.8, a=1.7), qwz_ref),
    ("haldane", dict(t1=0.9, t2=0.17, phi=0.7, mass=0.25, a=2.46), haldane_ref),
    ("haldane", dict(t1=0.9, t2=0.17, phi=0.7, mass=0.25, a=2.46, strain=0.3), haldane_ref),
    ("kane_mele", dict(t=1.1, lambda_so=0.07, lambda_r=0.05, lambda_v=0.1, a=2.46), kane_mele_ref),
    ("rice_mele", dict(t=0.9, delta_t=0.25, staggered=-0.3, a=3.1), rice_mele_ref),
    ("pt_antiferromagnet", dict(t=0.3, t_ab=0.9, lambda_so=0.4, neel=(0.1, 0.35, -0.2), e0=0.05,
                                staggered=0.0, a=3.8), pt_afm_ref),
    ("weyl_semimetal", dict(t=0.8, k0=1.1, m=1.2, tilt=0.3, tilt_y=-0.2, tilt_z=0.1, a=2.0), weyl_ref),
]


def random_k(model, n, rng, scale=2.0):
    return rng.uniform(-scale, scale, size=(n, model.dim))


@pytest.mark.parametrize("name,params,ref", CASES, ids=[c[0] for c in CASES])
def test_closed_form(name, params, ref, rng):
    model = zoo.get(name, **params)
    assert model.name == name
    k = random_k(model, 25, rng)
    H = model.hamiltonian(k, 0)[0]
    np.testing.assert_allclose(H, ref(k, **params), atol=1e-12)


@pytest.mark.parametrize("name,params,ref", CASES, ids=[c[0] for c in CASES])
def test_hermitian(name, params, ref, rng):
    model = zoo.get(name, **params)
    k = random_k(model, 40, rng)
    for D in model.hamiltonian(k, 3):
        np.testing.assert_allclose(D, np.conj(np.swapaxes(D, -1, -2)), atol=1e-12)


@pytest.mark.parametrize("name,params,ref", CASES, ids=[c[0] for c in CASES])
def test_derivatives_vs_finite_differences(name, params, ref, rng):
    """d^{p+1}H (analytic) against central differences of the analytic d^p H, p = 0, 1, 2."""
    model = zoo.get(name, **params)
    k = random_k(model, 6, rng)
    h = 1e-4
    out = model.hamiltonian(k, 3)
    scale = max(1.0, max(np.max(np.abs(o)) for o in out))
    for a in range(model.dim):
        e = np.zeros(model.dim)
        e[a] = h
        plus, minus = model.hamiltonian(k + e, 2), model.hamiltonian(k - e, 2)
        for p in range(3):
            fd = (plus[p] - minus[p]) / (2 * h)
            analytic = np.take(out[p + 1], a, axis=1 + p)     # derivative index a in last slot
            # error of the central difference ~ h^2/6 |d^{p+3}H| ~ 1e-9 scale; allow 3e-7
            np.testing.assert_allclose(analytic, fd, atol=3e-7 * scale, rtol=0)


@pytest.mark.parametrize("name,params,ref", CASES, ids=[c[0] for c in CASES])
def test_derivative_tensors_symmetric(name, params, ref, rng):
    model = zoo.get(name, **params)
    k = random_k(model, 4, rng)
    _, _, d2, d3 = model.hamiltonian(k, 3)
    np.testing.assert_allclose(d2, np.swapaxes(d2, 1, 2), atol=1e-12)
    np.testing.assert_allclose(d3, np.transpose(d3, (0, 2, 1, 3, 4, 5)), atol=1e-12)
    np.testing.assert_allclose(d3, np.transpose(d3, (0, 1, 3, 2, 4, 5)), atol=1e-12)


def test_defaults_build_and_names():
    for name, func in zoo.MODELS.items():
        model = func()
        assert model.name == name
        assert model.provenance["zoo"] == name
        assert set(model.provenance["params"]) == set(inspect.signature(func).parameters)


# ----------------------------------------------------------------------------- symmetries


def pairs_degenerate(E, tol=1e-10):
    return np.max(np.abs(E[:, 0::2] - E[:, 1::2])) < tol


def test_kane_mele_time_reversal(rng):
    U = np.kron(S0, 1j * SY)                                  # i s_y on spin, identity on sublattice
    for params in (dict(), dict(lambda_r=0.08, lambda_v=0.2), dict(lambda_so=-0.1, lambda_r=0.3)):
        model = zoo.kane_mele(**params)
        k = random_k(model, 30, rng)
        Hk = model.hamiltonian(k, 0)[0]
        Hmk = model.hamiltonian(-k, 0)[0]
        np.testing.assert_allclose(U @ Hk.conj() @ U.conj().T, Hmk, atol=1e-12)


def test_kane_mele_degeneracy_needs_inversion(rng):
    k = random_k(zoo.kane_mele(), 50, rng)
    E = zoo.kane_mele(lambda_so=0.08).bands(k)
    assert pairs_degenerate(E)
    # PT operator: P = tau_x (A <-> B, k -> -k), T = i s_y K
    O = np.kron(SX, 1j * SY)
    H = zoo.kane_mele(lambda_so=0.08).hamiltonian(k, 0)[0]
    np.testing.assert_allclose(O @ H.conj() @ O.conj().T, H, atol=1e-12)
    # Rashba or staggered potential break inversion: Kramers pairs split at generic k
    for params in (dict(lambda_r=0.1), dict(lambda_v=0.1)):
        E = zoo.kane_mele(**params).bands(k)
        assert np.max(np.abs(E[:, 0] - E[:, 1])) > 1e-3


def test_kane_mele_spin_orbit_gap():
    # lambda_R = lambda_v = 0: at K, f(K) = 0 and sum_j sin(K.b_j) = -3 sqrt3 / 2, so E = +-3 sqrt3 lambda_SO
    lam = 0.06
    K = np.array([[4 * np.pi / 3, 0.0]])
    E = zoo.kane_mele(lambda_so=lam).bands(K)[0]
    np.testing.assert_allclose(E, 3 * SQ3 * lam * np.array([-1, -1, 1, 1]), atol=1e-12)


def test_pt_antiferromagnet_symmetries(rng):
    model = zoo.pt_antiferromagnet()
    k = random_k(model, 50, rng)
    H = model.hamiltonian(k, 0)[0]
    Hm = model.hamiltonian(-k, 0)[0]
    PT = np.kron(SX, 1j * SY)                                  # tau_x (i s_y) K
    np.testing.assert_allclose(PT @ H.conj() @ PT.conj().T, H, atol=1e-12)
    assert pairs_degenerate(model.bands(k))
    P = np.kron(SX, S0)
    T = np.kron(S0, 1j * SY)
    # the Neel term breaks P and T separately ...
    assert np.max(np.abs(P @ Hm @ P - H)) > 0.1
    assert np.max(np.abs(T @ Hm.conj() @ T.conj().T - H)) > 0.1
    # ... and both hold without it
    m0 = zoo.pt_antiferromagnet(neel=(0, 0, 0))
    H0, H0m = m0.hamiltonian(k, 0)[0], m0.hamiltonian(-k, 0)[0]
    np.testing.assert_allclose(P @ H0m @ P, H0, atol=1e-12)
    np.testing.assert_allclose(T @ H0m.conj() @ T.conj().T, H0, atol=1e-12)
    # a sublattice potential breaks PT: the Kramers pairs split
    E = zoo.pt_antiferromagnet(staggered=0.2).bands(k)
    assert np.max(np.abs(E[:, 0] - E[:, 1])) > 1e-3


def test_pt_antiferromagnet_neel_orientations_degenerate(rng):
    k = random_k(zoo.pt_antiferromagnet(), 30, rng)
    for neel in ((0.3, 0, 0), (0, 0, 0.4), (0.2, -0.1, 0.3)):
        assert pairs_degenerate(zoo.pt_antiferromagnet(neel=neel, lambda_so=0.5).bands(k))


# ----------------------------------------------------------------------------- gaps and nodes


def test_haldane_gap_closing():
    """Dirac masses at K = (4pi/3a, 0) and K' = -K.

    At K the three phases k.delta_j are 2pi/3, -2pi/3, 0, so sum_j e^{iK.delta_j} = 0; the
    k.b_j are 4pi/3, -2pi/3, -2pi/3, so sum_j sin(K.b_j) = -3 sqrt3/2 and
    d_z(K) = M + 3 sqrt3 t2 sin(phi); at K' the sign of the t2 term flips.
    """
    t2, phi, a = 0.13, 1.1, 1.4
    K = np.array([[4 * np.pi / (3 * a), 0.0]])
    Mc = 3 * SQ3 * t2 * np.sin(phi)
    for mass, gap_K, gap_Kp in ((Mc, 2 * 2 * Mc, 0.0), (-Mc, 0.0, 2 * 2 * Mc), (0.0, 2 * Mc, 2 * Mc)):
        model = zoo.haldane(t2=t2, phi=phi, mass=mass, a=a)
        gK = np.diff(model.bands(K)[0])[0]
        gKp = np.diff(model.bands(-K)[0])[0]
        assert gK == pytest.approx(gap_K, abs=1e-12)
        assert gKp == pytest.approx(gap_Kp, abs=1e-12)


def test_haldane_counterclockwise_phase():
    """Real-space check of the stated convention, independent of the Bloch closed form.

    A at (a1+a2)/3; its B neighbours at A + delta_j. The path j -> m -> i with
    j = A + a1 (hop by -a1), passing m = A + delta_1 = (A + a1) + delta_2: turn left iff
    (m - j) x (i - m) > 0. The amplitude <i|H|j> = t_{R=a1}[A, A] must be t2 e^{+i phi} then.
    """
    t2, phi = 0.2, 0.6
    model = zoo.haldane(t2=t2, phi=phi)
    delta, _ = honeycomb_vectors(1.0)
    a1 = np.array([1.0, 0.0])
    j, i = a1, np.zeros(2)
    m = i + delta[0]
    assert np.allclose(m, j + delta[1])
    d1, d2 = m - j, i - m
    ccw = d1[0] * d2[1] - d1[1] * d2[0] > 0
    expected = t2 * np.exp(1j * phi * (1 if ccw else -1))
    assert model.hoppings[(1, 0)][0, 0] == pytest.approx(expected, abs=1e-14)


def _lower_chern(model, nk=90):
    """Degree of d/|d| over the BZ (sum of signed solid angles) for a 2-band 2D lattice model."""
    s = np.arange(nk + 1) / nk
    kr = np.stack(np.meshgrid(s, s, indexing="ij"), axis=-1).reshape(-1, 2)
    H = model.with_convention("lattice").hamiltonian(model.k_from_reduced(kr), 0)[0]
    d = np.stack([np.real(np.einsum("bij,ji->b", H, P)) / 2 for P in (SX, SY, SZ)], -1)
    n = (d / np.linalg.norm(d, axis=-1, keepdims=True)).reshape(nk + 1, nk + 1, 3)

    def tri(x, y, z):
        num = np.einsum("...i,...i->...", x, np.cross(y, z))
        den = 1 + (x * y).sum(-1) + (y * z).sum(-1) + (z * x).sum(-1)
        return 2 * np.arctan2(num, den)

    p, q, r, s_ = n[:-1, :-1], n[1:, :-1], n[1:, 1:], n[:-1, 1:]
    return np.sign(np.linalg.det(model.reciprocal)) * (tri(p, q, r) + tri(p, r, s_)).sum() / (4 * np.pi)


def test_topological_phases():
    assert abs(_lower_chern(zoo.qi_wu_zhang(u=1.0))) == pytest.approx(1, abs=1e-6)
    assert abs(_lower_chern(zoo.qi_wu_zhang(u=-1.0))) == pytest.approx(1, abs=1e-6)
    assert _lower_chern(zoo.qi_wu_zhang(u=2.5)) == pytest.approx(0, abs=1e-6)
    Mc = 3 * SQ3 * 0.1
    assert abs(_lower_chern(zoo.haldane(t2=0.1, mass=0.5 * Mc))) == pytest.approx(1, abs=1e-6)
    assert _lower_chern(zoo.haldane(t2=0.1, mass=1.5 * Mc)) == pytest.approx(0, abs=1e-6)


def test_rice_mele_gap():
    # |d|^2 = 4t^2 cos^2 + 4 dt^2 sin^2 + D^2, minimal at k a = pi when |dt| < |t|
    t, dt, st, a = 1.0, 0.3, 0.2, 2.0
    model = zoo.rice_mele(t=t, delta_t=dt, staggered=st, a=a)
    E = model.bands(np.array([[np.pi / a], [0.0]]))
    np.testing.assert_allclose(E[0], [-np.hypot(2 * dt, st), np.hypot(2 * dt, st)], atol=1e-12)
    np.testing.assert_allclose(E[1], [-np.hypot(2 * t, st), np.hypot(2 * t, st)], atol=1e-12)


def test_weyl_nodes(rng):
    t, k0, m, a = 1.0, 0.9, 1.0, 1.5
    model = zoo.weyl_semimetal(t=t, k0=k0, m=m, tilt=0.4, tilt_z=0.2, a=a)
    nodes = np.array([[k0 / a, 0, 0], [-k0 / a, 0, 0]])
    gap = np.diff(model.bands(nodes), axis=1)[:, 0]
    np.testing.assert_allclose(gap, 0, atol=1e-12)
    k = rng.uniform(-np.pi / a, np.pi / a, size=(2000, 3))
    gaps = np.diff(model.bands(k), axis=1)[:, 0]
    # the gap is 2|d| >= 2 t |k - K_node| a (roughly); random points stay away from the nodes
    dist = np.min(np.linalg.norm(k[:, None, :] - nodes[None], axis=-1), axis=1)
    assert np.all(gaps > 0.1 * dist)
    # the other time-reversal-invariant momenta are gapped
    trim = np.array([[0, np.pi, 0], [0, 0, np.pi], [np.pi, np.pi, np.pi], [np.pi, 0, 0]]) / a
    assert np.all(np.diff(model.bands(trim), axis=1) > 0.5)
    # linear dispersion away from the node: E = +-t a |q| for q along y (isotropic in y, z; x: t a sin k0)
    q = 1e-5
    E = model.bands(np.array([[k0 / a, q, 0], [k0 / a + q, 0, 0]]))
    np.testing.assert_allclose(E[0, 1] - E[0, 0], 2 * t * a * q, rtol=1e-6)
    np.testing.assert_allclose(E[1, 1] - E[1, 0], 2 * t * a * np.sin(k0) * q, rtol=1e-4)


# ----------------------------------------------------------------------------- registry


def test_get_unknown_model():
    with pytest.raises(ModelError) as exc:
        zoo.get("graphene_bilayer")
    msg = str(exc.value)
    for name in zoo.MODELS:
        assert name in msg


def test_get_unknown_parameter():
    with pytest.raises(ModelError) as exc:
        zoo.get("haldane", t3=0.1)
    msg = str(exc.value)
    assert "t3" in msg
    for p in ("t1", "t2", "phi", "mass", "a"):
        assert p in msg


def test_get_builds_the_same_model(rng):
    k = rng.normal(size=(5, 2))
    np.testing.assert_allclose(zoo.get("Haldane", t2=0.2).hamiltonian(k)[0],
                               zoo.haldane(t2=0.2).hamiltonian(k)[0])
    np.testing.assert_allclose(zoo.get("qwz", u=0.3).hamiltonian(k)[0],
                               zoo.qi_wu_zhang(u=0.3).hamiltonian(k)[0])
    assert zoo.parameters("haldane")["t2"] == 0.1


@pytest.mark.parametrize("call", [
    lambda: zoo.haldane(a=0.0),
    lambda: zoo.qi_wu_zhang(t=1j),
    lambda: zoo.pt_antiferromagnet(neel=(0.1, 0.2)),
    lambda: zoo.massive_dirac(kcut=-1.0),
    lambda: zoo.weyl_semimetal(m=float("nan")),
])
def test_bad_parameters(call):
    with pytest.raises(ModelError):
        call()
