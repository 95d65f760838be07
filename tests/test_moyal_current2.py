"""The O(ħ²) phase-space current (issue 5): stationarity of the O(ħ²) equilibrium, the Moyal term
against the symbolic star product, the uniform-field velocity against the band-normalized metric of
qkinetics.geometry, and no net current in a static chain without time reversal."""

import numpy as np
import pytest
import sympy as sp
from test_moyal_phase_space import random_general

import qkinetics as qk
from qkinetics.kinetics.equilibrium import fermi_derivatives, star_function_terms
from qkinetics.moyal import PhaseSpace, PhaseSpaceModel, moyal_bracket, phase_space_current, phase_space_geometry
from qkinetics.moyal.uniform_field import phase_space_velocity


def _divergence_orders(geo, F, convention, nfit=9):
    """ħ-power coefficients c_0..c_4 of ∂_a J^a for f = F0 + ħF1 + ħ²F2, from a polynomial fit in ħ
    (every piece is a polynomial of degree <= 4 in the formal ħ)."""
    lams = np.linspace(-0.6, 0.6, 11)
    D = [phase_space_current(geo, F[0] + F[1] * lam + F[2] * lam ** 2, hbar=lam, convention=convention,
                             order=2).divergence() for lam in lams]
    c = np.linalg.lstsq(np.vander(lams, nfit, increasing=True), np.reshape(D, (len(lams), -1)), rcond=None)[0]
    return np.abs(c).max(axis=1)


@pytest.mark.parametrize("dim", [1, 2])
def test_second_order_current_keeps_the_equilibrium_stationary(dim):
    # General non-separable 2x2 H(x, k): for f = f(h)_* to O(ħ²) (Fermi function of the gauge-invariant
    # h_0 + ħh_1 + ħ²h_2 plus the Wigner-Kirkwood term), the 'liouville' current is divergence free at
    # orders ħ^0, ħ^1 and ħ^2 (measured 1e-17, 1e-16, 7e-16; the ħ^3 coefficient is 1e-4 .. 5e-5).
    psm = random_general(dim, 2, 8 if dim == 1 else 12)
    pts = np.random.default_rng(9).normal(size=(4, 2 * dim)) * 0.5
    geo = phase_space_geometry(psm, pts, order=2, degree=6)
    F = star_function_terms(geo.star.h, lambda y: fermi_derivatives(y, 0.1, 0.4), geo.coords, 2)
    c = _divergence_orders(geo, F, "liouville")
    assert c[3] > 1e-6                                                   # the test is not empty
    assert max(c[:3]) < 1e-7 * c[3]
    # without the Wigner-Kirkwood term (f = f(h) pointwise) the O(ħ²) divergence is not zero
    fd = fermi_derivatives(geo.star.h[0], 0.1, 0.4)
    h = geo.star.h
    F_pointwise = [F[0], F[1], fd[1] * h[2] + fd[2] * h[1] * h[1] * 0.5]
    assert _divergence_orders(geo, F_pointwise, "liouville")[2] > 1e-6
    # the literal reading of the talk (with its quantum-metric terms) is not stationary at O(ħ) and O(ħ²)
    talk = _divergence_orders(geo, F, "talk")
    assert talk[1] > 1e-4 and talk[2] > 1e-4


def test_moyal_term_against_the_symbolic_star_product():
    # One band (no geometry): ∂_a J2^a = (1/24) P^3(h, f) for any f, with P^3 from the ħ^3 term of the
    # symbolic star commutator, [h, f]_* = iħ{h, f} - (iħ^3/24) P^3(h, f).
    coords = PhaseSpace(1)
    X, K = coords.variables
    h = sp.cos(K) + 0.3 * K ** 3 / 6 + 0.4 * sp.sin(0.7 * X) + 0.2 * X * sp.sin(K)
    f = sp.exp(-(K - 0.2) ** 2) * (1 + 0.3 * sp.cos(X))
    cs = moyal_bracket(h, f, order=3, coords=coords, coefficients=True)
    ref = sp.lambdify((X, K), sp.I * cs[3])
    pts = np.array([[0.3, -0.4], [1.1, 0.8], [-0.7, 0.2]])
    geo = phase_space_geometry(PhaseSpaceModel(hamiltonian=sp.Matrix([[h]]), coords=coords), pts, order=2, degree=6)
    from qkinetics.moyal.jet import jet_from_sympy
    fj = jet_from_sympy(sp.Matrix([[f]]), coords, pts, 6)[..., 0]
    cur = phase_space_current(geo, fj, order=2)
    expected = np.real(np.array(ref(pts[:, 0], pts[:, 1]), dtype=complex))
    np.testing.assert_allclose(cur.divergence("J2")[:, 0], expected, rtol=1e-9, atol=1e-12)
    assert np.abs(expected).max() > 1e-3


def test_uniform_field_second_order_velocity_is_the_normalized_metric_dipole():
    # V = E.x: the O(E^2) velocity of the O(ħ²) 'liouville' current is d_a h_2 + Omega^(1)_{k_a k_j} E_j with
    # h_2 = -G E E / 2, i.e. (b, c)-symmetrized  G-dipole  (1/2) d_a G^bc - (1/2)(d_b G^ac + d_c G^ab), the
    # lambda = 1/2 member of the tau^0 family. Reference: analytic dG of qkinetics.geometry (sum over states).
    model = qk.zoo.haldane(strain=0.3, mass=0.2)
    k = np.array([[0.3, 0.2], [-0.8, 0.5], [1.1, -0.6]])
    u0 = phase_space_velocity(model, k, (0.0, 0.0), order=2)[0][..., :2]

    def even(E):
        up = phase_space_velocity(model, k, E, order=2)[0][..., :2]
        um = phase_space_velocity(model, k, tuple(-e for e in E), order=2)[0][..., :2]
        return 0.5 * (up + um) - u0
    ex, ey, exy = even((0.1, 0.0)), even((0.0, 0.1)), even((0.1, 0.1))
    U2 = np.empty(ex.shape + (2, 2))
    U2[..., 0, 0], U2[..., 1, 1] = ex / 0.01, ey / 0.01
    U2[..., 0, 1] = U2[..., 1, 0] = 0.5 * (exy - ex - ey) / 0.01
    dG = qk.band_geometry(model, k, derivatives=True).normalized_metric_derivative     # [k, n, a, b, c] = d_c G^ab
    ref = 0.5 * np.einsum("knbca->knabc", dG) - 0.5 * (np.einsum("knacb->knabc", dG) + np.einsum("knabc->knabc", dG))
    np.testing.assert_allclose(U2, ref, atol=1e-8 * np.abs(ref).max())
    assert np.abs(ref).max() > 1e-4


def test_no_net_equilibrium_current_in_a_chain_without_time_reversal():
    # Rice-Mele plus m sin(k) sigma_z + w sin(k) (eps(k) != eps(-k)) in V0 cos(qx), f = f(h)_* to O(ħ²):
    # int dk J^x = 0 at each x to O(ħ²) with the 'liouville' current (residual ~q^4: 2.2e-9, 3.6e-8 at
    # M = 100, 50 against 4.6e-7, 1.9e-6 for each of its two O(ħ²) parts); the literal reading carries an
    # O(q^2) current.
    rm = qk.zoo.rice_mele()
    hop = {R: np.array(t, complex) for R, t in rm.hoppings.items()}
    extra = np.array([[-0.25j, 0], [0, 0.05j]])                          # m = 0.3, w = 0.2 eV
    hop[(1,)] = hop[(1,)] + extra
    hop[(-1,)] = hop[(-1,)] + extra.conj().T
    model = qk.TightBinding(rm.lattice, rm.positions, hop, convention="positions")
    assert abs(model.bands([[0.7]])[0, 0] - model.bands([[-0.7]])[0, 0]) > 0.1
    coords = PhaseSpace(1)
    nk = 128
    k = -np.pi + (np.arange(nk) + 0.5) * 2 * np.pi / nk
    net = {}
    for M in (100, 50):
        psm = PhaseSpaceModel(model, 0.05 * sp.cos(2 * sp.pi / M * coords.x[0]))
        pts = np.stack(np.broadcast_arrays(np.array([0.3 * M, 0.1 * M])[:, None], k[None, :]), -1).reshape(-1, 2)
        geo = phase_space_geometry(psm, pts, order=2, degree=5)
        F = star_function_terms(geo.star.h, lambda y: fermi_derivatives(y, -1.0, qk.units.kB_eV * 1000.0), coords, 2)
        for conv in ("liouville", "talk"):
            cur = phase_space_current(geo, F[0] + F[1] + F[2], convention=conv, order=2)
            parts = [cur.values(p)[..., 0].reshape(2, nk, 2).sum(axis=(1, 2)) / nk for p in ("J0", "J2")]
            net[conv, M] = (np.abs(parts[0] + parts[1]).max(), np.abs(parts[1]).max())
    (l100, p100), (l50, p50) = net["liouville", 100], net["liouville", 50]
    assert l100 < 2e-2 * p100 and l50 / l100 > 8                         # cancels to beyond O(q^2)
    t100, t50 = net["talk", 100][0], net["talk", 50][0]
    assert t100 > 0.3 * p100 and 3 < t50 / t100 < 5                      # O(q^2) net current


def test_second_order_current_errors():
    psm = random_general(1, 2, 8)
    geo = phase_space_geometry(psm, np.zeros((1, 2)), order=2, degree=3)
    with pytest.raises(ValueError, match="degree >= 5"):
        phase_space_current(geo, geo.star.h[0] * 0 + 1, order=2)
    with pytest.raises(ValueError, match="order must be 1 or 2"):
        phase_space_current(geo, geo.star.h[0] * 0 + 1, order=3)
    geo1 = phase_space_geometry(psm, np.zeros((1, 2)), order=1, degree=3)
    with pytest.raises(ValueError, match="order >= 2"):
        phase_space_current(geo1, geo1.star.h[0] * 0 + 1, order=2)
