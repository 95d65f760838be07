"""Phase-space geometry (Omega, g to zeroth order, Omega to O(hbar)) and the first-order current,
against qkinetics.geometry, two-band closed forms with finite differences, gauge changes and exact
divergence identities."""

import numpy as np
import pytest
import sympy as sp

import qkinetics as qk
from qkinetics.moyal import PhaseSpace
from qkinetics.moyal import jet as J
from qkinetics.moyal.phase_space import (PhaseSpaceModel, fermi_jet, phase_space_current, phase_space_geometry,
                                         poisson_bracket_jet)


def dirac_with_potential(time=False):
    model = qk.zoo.massive_dirac(v=1.3, mass=0.4, tilt=0.2)
    if time:
        pot = lambda x, y, t: 0.2 * J.sin(x + 0.3 * t) + 0.1 * x * y**2 + 0.05 * t * y   # noqa: E731
    else:
        pot = lambda x, y: 0.2 * J.sin(x) + 0.1 * x * y**2 + 0.15 * J.cos(0.5 * y)       # noqa: E731
    return model, PhaseSpaceModel(model, pot, time=time)


def random_general(dim, N, seed, time=False):
    """Smooth random Hermitian H(x, k[, t]) with x-k mixing (gapped diagonal)."""
    rng = np.random.default_rng(seed)
    mats = [0.25 * (lambda a: a + a.conj().T)(rng.normal(size=(N, N)) + 1j * rng.normal(size=(N, N)))
            for _ in range(3 * dim + 2)]
    mats[0] = mats[0] + np.diag(np.linspace(-1.5, 1.5, N))

    def H(*v):
        xs, ks = v[:dim], v[dim:2 * dim]
        M = mats[0] + 0.0 * ks[0][..., None, None]
        for i in range(dim):
            M = M + J.sin(ks[i] + 0.4 * xs[i])[..., None, None] * mats[1 + 3 * i]
            M = M + J.cos(0.7 * xs[i] - 0.5 * ks[i] * xs[(i + 1) % dim])[..., None, None] * mats[2 + 3 * i]
            M = M + (0.3 * xs[i] * ks[(i + 1) % dim])[..., None, None] * mats[3 + 3 * i]
        if time:
            M = M + J.sin(0.8 * v[-1] + 0.3 * xs[0])[..., None, None] * mats[-1]
        return M
    return PhaseSpaceModel(hamiltonian=H, dim=dim, time=time)


@pytest.mark.parametrize("time", [False, True])
def test_separable_blocks(time):
    """k-k blocks of Omega^(0) and g^(0) equal band_geometry; every block touching x or t vanishes
    (U_0 depends on k only); h_0 = eps(k) + V."""
    model, psm = dirac_with_potential(time)
    rng = np.random.default_rng(1)
    pts = rng.normal(size=(7, psm.nvar)) * 0.6
    geo = phase_space_geometry(psm, pts)
    bg = qk.band_geometry(model, pts[:, 2:4])
    np.testing.assert_allclose(geo.block("berry_curvature", "k", "k"), bg.berry_curvature, atol=1e-12)
    np.testing.assert_allclose(geo.block("quantum_metric", "k", "k"), bg.quantum_metric, atol=1e-12)
    assert np.abs(bg.berry_curvature).max() > 0.1
    mask = np.zeros((psm.nvar, psm.nvar), bool)
    mask[2:4, 2:4] = True
    assert np.abs(geo.berry_curvature[..., ~mask]).max() < 1e-13
    assert np.abs(geo.quantum_metric[..., ~mask]).max() < 1e-13
    x, y = pts[:, 0], pts[:, 1]
    if time:
        V = 0.2 * np.sin(x + 0.3 * pts[:, 4]) + 0.1 * x * y**2 + 0.05 * pts[:, 4] * y
    else:
        V = 0.2 * np.sin(x) + 0.1 * x * y**2 + 0.15 * np.cos(0.5 * y)
    np.testing.assert_allclose(geo.h[0], bg.energies + V[:, None], atol=1e-12)


def test_sympy_potential_and_derivatives_input():
    """Same H from a sympy potential, a sympy matrix and a derivative callable: same geometry."""
    model, psm = dirac_with_potential()
    c = PhaseSpace(2)
    x, y = c.x
    Vs = 0.2 * sp.sin(x) + 0.1 * x * y**2 + 0.15 * sp.cos(y / 2)
    pts = np.random.default_rng(2).normal(size=(4, 4)) * 0.5
    ref = phase_space_geometry(psm, pts)
    alt = phase_space_geometry(PhaseSpaceModel(model, Vs), pts)
    kx, ky = c.k
    Hs = sp.Matrix([[0.2 * kx + 0.4, 1.3 * (kx - sp.I * ky)], [1.3 * (kx + sp.I * ky), 0.2 * kx - 0.4]]) + Vs * sp.eye(2)
    alt2 = phase_space_geometry(PhaseSpaceModel(hamiltonian=Hs, coords=c), pts)
    jet_of = psm.jet

    def ders(points, order):
        j = jet_of(points, order)
        return [j.derivative_tensor(n) if n == 0 else np.moveaxis(j.derivative_tensor(n), list(range(n)),
                                                                    list(range(1, n + 1)))
                for n in range(order + 1)]
    alt3 = phase_space_geometry(PhaseSpaceModel(derivatives=ders, dim=2), pts)
    for a in (alt, alt2, alt3):
        for name in ("h", "berry_curvature", "quantum_metric", "berry_curvature_1"):
            np.testing.assert_allclose(getattr(a, name), getattr(ref, name), atol=1e-11)


def _two_band_n(points):
    """Unit vector n(x, k, t) of the test Hamiltonian below, numpy."""
    x, k, t = points.T
    d = np.stack([np.sin(k + 0.5 * x), 0.7 * np.cos(x * k) + 0.3 * t, 0.8 + 0.4 * np.cos(k - t) + 0.2 * x], -1)
    return d / np.linalg.norm(d, axis=-1, keepdims=True)


def test_general_two_band_closed_form():
    """H = d(x, k, t).sigma: lower band Omega_ab = (1/2) n.(d_a n x d_b n), g_ab = (1/4) d_a n . d_b n,
    for all pairs (x, k, t), with d_a n from central finite differences of the numpy n (independent route).
    The sign of the closed form is tied to band_geometry by the separable test (same conventions)."""
    def H(x, k, t):
        dx = J.sin(k + 0.5 * x)
        dy = 0.7 * J.cos(x * k) + 0.3 * t
        dz = 0.8 + 0.4 * J.cos(k - t) + 0.2 * x
        return J.matrix([[dz, dx - 1j * dy], [dx + 1j * dy, -dz]])

    psm = PhaseSpaceModel(hamiltonian=H, dim=1, time=True)
    pts = np.random.default_rng(3).normal(size=(6, 3)) * 0.7
    geo = phase_space_geometry(psm, pts)
    step = 1e-5
    dn = np.stack([(_two_band_n(pts + step * e) - _two_band_n(pts - step * e)) / (2 * step) for e in np.eye(3)], 1)
    n = _two_band_n(pts)
    Om = 0.5 * np.einsum("bi,bcdi->bcd", n, np.cross(dn[:, :, None], dn[:, None, :]))
    g = 0.25 * np.einsum("bci,bdi->bcd", dn, dn)
    np.testing.assert_allclose(geo.berry_curvature[:, 0], Om, atol=1e-8)
    np.testing.assert_allclose(geo.berry_curvature[:, 1], -Om, atol=1e-8)
    np.testing.assert_allclose(geo.quantum_metric[:, 0], g, atol=1e-8)
    np.testing.assert_allclose(geo.quantum_metric[:, 1], g, atol=1e-8)
    # the x-k, x-t, k-t entries are all exercised
    assert np.abs(Om[:, [0, 0, 1], [1, 2, 2]]).max(0).min() > 1e-2


@pytest.mark.parametrize("dim,time", [(1, True), (2, False)])
def test_gauge_invariance(dim, time):
    """h, Omega^(0), g^(0), Omega^(1) unchanged under random band phases at orders hbar^0 and hbar^1;
    the naive curl of A^(1) alone is not (so the {A, A} and covariant-shift terms matter)."""
    psm = random_general(dim, 3, 10 + dim, time)
    rng = np.random.default_rng(20 + dim)
    pts = rng.normal(size=(5, psm.nvar)) * 0.5
    ref = phase_space_geometry(psm, pts)
    assert np.abs(ref.berry_curvature_1).max() > 1e-2
    c1 = rng.normal(size=(psm.nvar, 3))
    c2 = rng.normal(size=(psm.nvar, 3))
    ph0 = lambda *v: sum(J.sin(v[i][..., None] * c1[i]) for i in range(len(v)))       # noqa: E731
    ph1 = lambda *v: sum(J.cos(v[i][..., None] * c2[i] + 0.3) for i in range(len(v)))  # noqa: E731
    gauge = [J.Jet.from_function(ph0, pts, 3), J.Jet.from_function(ph1, pts, 3)]
    new = phase_space_geometry(psm, pts, gauge=gauge)
    for name in ("h", "berry_curvature", "quantum_metric", "berry_curvature_1"):
        np.testing.assert_allclose(getattr(new, name), getattr(ref, name), atol=1e-10)
    A1r, A1n = ref.star.berry_connection[1], new.star.berry_connection[1]
    naive = lambda A: np.real((A[dim].diff(0) - A[0].diff(dim)).value)   # noqa: E731
    assert np.abs(naive(A1r) - naive(A1n)).max() > 1e-3


def test_separable_first_order_curvature():
    """Separable H0(k) + V(x): Omega^(1)_{k_i k_j} = d_i G^{jl} F_l - d_j G^{il} F_l,
    Omega^(1)_{x_i k_j} = G^{jl} d_i d_l V, Omega^(1)_{x_i x_j} = 0 (F = grad V), G and dG from
    band_geometry (sum over states)."""
    model, psm = dirac_with_potential()
    pts = np.random.default_rng(4).normal(size=(6, 4)) * 0.6
    geo = phase_space_geometry(psm, pts)
    bg = qk.band_geometry(model, pts[:, 2:], derivatives=True)
    x, y = pts[:, 0], pts[:, 1]
    F = np.stack([0.2 * np.cos(x) + 0.1 * y**2, 0.2 * x * y - 0.075 * np.sin(0.5 * y)], 1)
    W = np.stack([np.stack([-0.2 * np.sin(x), 0.2 * y], 1),
                  np.stack([0.2 * y, 0.2 * x - 0.0375 * np.cos(0.5 * y)], 1)], 1)
    dG = bg.normalized_metric_derivative                      # [..., a, b, c] = d_c G^{ab}
    S = np.einsum("bnjlc,bl->bncj", dG, F)                   # d_c (G^{jl} F_l)
    np.testing.assert_allclose(geo.block("berry_curvature_1", "k", "k"), S - np.swapaxes(S, -1, -2), atol=1e-11)
    np.testing.assert_allclose(geo.block("berry_curvature_1", "x", "k"),
                               np.einsum("bnjl,bil->bnij", bg.normalized_metric, W), atol=1e-11)
    np.testing.assert_allclose(geo.block("berry_curvature_1", "x", "x"), 0.0, atol=1e-12)
    assert np.abs(S).max() > 1e-2


def test_curvature_matches_qgt_and_finite_differences():
    """Omega^(0) (curl of the A-jets) equals -2 Im Q from U_0 derivatives, and its jet derivatives
    agree with finite differences of Omega^(0) at shifted points."""
    psm = random_general(1, 3, 5, time=True)
    pts = np.random.default_rng(6).normal(size=(4, 3)) * 0.5
    geo = phase_space_geometry(psm, pts)
    U0 = geo.star.U[0]
    dU = np.stack([U0.diff(v).value for v in range(3)], 1)
    Q = np.einsum("bain,bcin->bnac", dU.conj(), dU)
    np.testing.assert_allclose(geo.berry_curvature, -2 * Q.imag, atol=1e-12)
    step = 1e-5
    for mu in range(3):
        e = np.eye(3)[mu] * step
        fd = (phase_space_geometry(psm, pts + e, order=0).berry_curvature
              - phase_space_geometry(psm, pts - e, order=0).berry_curvature) / (2 * step)
        jd = np.real(np.stack([np.stack([geo.curvature_jets[a][b].diff(mu).value for b in range(3)], -1)
                               for a in range(3)], -2))
        np.testing.assert_allclose(jd, fd, atol=1e-7)


def test_current_separable_anomalous_velocity():
    """Separable: J^{x_i}/f = d_{k_i} h + hbar Omega_{k_i k_j} d_j V (Xiao-Chang-Niu) with the
    'liouville' sign; the literal 'talk' reading gives the opposite anomalous term; J^{k_i}/f = -d_{x_i} h."""
    model, psm = dirac_with_potential()
    pts = np.random.default_rng(7).normal(size=(5, 4)) * 0.6
    geo = phase_space_geometry(psm, pts)
    bg = qk.band_geometry(model, pts[:, 2:])
    x, y = pts[:, 0], pts[:, 1]
    F = np.stack([0.2 * np.cos(x) + 0.1 * y**2, 0.2 * x * y - 0.075 * np.sin(0.5 * y)], 1)
    f = J.constant(geo.star.h[0].space, np.ones((5, 2)), 3)
    anom = np.einsum("bnij,bj->bni", bg.berry_curvature, F)
    for conv, sign in (("liouville", 1), ("talk", -1)):
        cur = phase_space_current(geo, f, convention=conv)
        Jv = cur.values()
        np.testing.assert_allclose(Jv[..., :2], bg.velocity + sign * anom, atol=1e-12)   # h_1 = 0 here
        np.testing.assert_allclose(Jv[..., 2:], -F[:, None, :] + 0 * Jv[..., 2:], atol=1e-12)
    assert np.abs(anom).max() > 1e-2


def test_current_divergence_static_equilibrium():
    """Static f = f0(h): div J0 = 0 exactly for f = f0(h0 + hbar h1); for the O(hbar) term with
    f = f0(h0): 'liouville' divergence 0, literal 'talk' reading (1/2) f {h0, W}, W = eps^{mn} Omega_mn."""
    psm = random_general(1, 3, 8)
    pts = np.random.default_rng(9).normal(size=(5, 2)) * 0.5
    geo = phase_space_geometry(psm, pts)
    mu, kT = 0.1, 0.4
    cur = phase_space_current(geo, lambda h, *v: fermi_jet(h, mu, kT), hbar=1.0)
    np.testing.assert_allclose(cur.divergence("J0"), 0.0, atol=1e-12)
    assert np.abs(cur.values()).max() > 1e-2
    f0 = fermi_jet(geo.star.h[0], mu, kT)
    liou = phase_space_current(geo, f0, convention="liouville")
    talk = phase_space_current(geo, f0, convention="talk")
    np.testing.assert_allclose(liou.divergence("J1"), 0.0, atol=1e-12)
    Om = geo.curvature_jets
    Wj = Om[0][1] - Om[1][0]
    ref = 0.5 * np.real((f0 * poisson_bracket_jet(geo.star.h[0], Wj, geo.coords)).value)
    np.testing.assert_allclose(talk.divergence("J1"), ref, atol=1e-12)
    assert np.abs(ref).max() > 1e-3
    # {h0, W} by finite differences of the independently evaluated h0 and W at shifted points
    step = 1e-5

    def hw(p):
        g = phase_space_geometry(psm, p, order=0)
        return g.h[0], g.berry_curvature[..., 0, 1] - g.berry_curvature[..., 1, 0]
    (hxp, wxp), (hxm, wxm) = hw(pts + [step, 0]), hw(pts - [step, 0])
    (hkp, wkp), (hkm, wkm) = hw(pts + [0, step]), hw(pts - [0, step])
    pb = ((hxp - hxm) * (wkp - wkm) - (hkp - hkm) * (wxp - wxm)) / (2 * step) ** 2
    np.testing.assert_allclose(ref, 0.5 * np.real(f0.value) * pb, atol=1e-6)


def test_current_divergence_2d():
    """d = 2 (in d = 1 the O(hbar) 'liouville' term vanishes identically, rho {pi, pi} = eps): f = f0(h0),
    'liouville' divergence 0 while J1 itself is O(1); 'talk' divergence (1/2) f {h0, W}."""
    psm = random_general(2, 3, 12)
    pts = np.random.default_rng(13).normal(size=(4, 4)) * 0.5
    geo = phase_space_geometry(psm, pts)
    f0 = fermi_jet(geo.star.h[0], 0.0, 0.5)
    liou = phase_space_current(geo, f0, convention="liouville")
    talk = phase_space_current(geo, f0, convention="talk")
    assert np.abs(np.real(np.stack([j.value for j in liou.J1]))).max() > 1e-2
    np.testing.assert_allclose(liou.divergence("J1"), 0.0, atol=1e-12)
    Om = geo.curvature_jets
    eps = np.array(geo.coords.poisson, dtype=float)
    Wj = sum(Om[m][n] * eps[m, n] for m in range(4) for n in range(4) if eps[m, n])
    ref = 0.5 * np.real((f0 * poisson_bracket_jet(geo.star.h[0], Wj, geo.coords)).value)
    np.testing.assert_allclose(talk.divergence("J1"), ref, atol=1e-12)
    assert np.abs(ref).max() > 1e-3


def test_errors():
    model, _ = dirac_with_potential()
    with pytest.raises(ValueError):
        PhaseSpaceModel(model, hamiltonian=lambda *v: v[0])
    with pytest.raises(ValueError):
        PhaseSpaceModel(hamiltonian=lambda *v: v[0])
    with pytest.raises(ValueError):
        PhaseSpaceModel(model, sp.Symbol("k_1", real=True) * 2)
    psm = PhaseSpaceModel(model)
    with pytest.raises(ValueError):
        psm.jet(np.zeros((2, 3)))
