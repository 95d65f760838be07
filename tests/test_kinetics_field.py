"""KineticSolver with an applied electric field E(x, t) (V/Angstrom): the force -E/hbar on the electron.

Checks against routes that do not share the solver's code: the linear-response Drude current of a
Rice-Mele ring from a direct quadrature of the closed-form band energies; the Hall and Drude currents of
a QWZ lattice against :func:`qkinetics.conductivity`; the quantized Hall current of the insulator against
the Fukui-Hatsugai Chern number; the exact identity between a zero-mean field and the potential with
dV/dx = E; particle-number conservation and the discrete Liouville theorem; and the refusals."""

import numpy as np
import pytest

import qkinetics as qk
from qkinetics import units
from qkinetics.kinetics import KineticSolver
from qkinetics.models.base import ModelError

HBAR = units.hbar_eVs
L = 40.0
Q = 2 * np.pi / L


def uniform(E):
    return lambda x, t: E + 0 * x


def rice_mele_drude_integral(mu, T, t=1.0, dt=0.3, delta=0.2, n=20000):
    """-∫dk/2π f_0 ε_n'' per band (eV Å) of the Rice-Mele chain (a = 1 Å), from the closed form
    ε_± = ±sqrt(c0 + c1 cos k), c0 = 2t² + 2δt² + Δ², c1 = 2(t² - δt²), differentiated by hand, on a fine
    periodic grid (the trapezoid rule is spectrally accurate for this smooth periodic integrand)."""
    k = np.linspace(-np.pi, np.pi, n, endpoint=False)
    c0, c1 = 2 * t ** 2 + 2 * dt ** 2 + delta ** 2, 2 * (t ** 2 - dt ** 2)
    A, A1, A2 = c0 + c1 * np.cos(k), -c1 * np.sin(k), -c1 * np.cos(k)
    out = []
    for s in (-1, 1):                                        # ascending: lower band first
        e = s * np.sqrt(A)
        e2 = s * (A2 / (2 * np.sqrt(A)) - A1 ** 2 / (4 * A ** 1.5))
        f0 = 1.0 / (1.0 + np.exp((e - mu) / (units.kB_eV * T)))
        out.append(-(f0 * e2).mean())
    return np.array(out)


def test_uniform_field_drude_current_rice_mele_ring():
    """Steady state of a ring in a weak uniform static E with relaxation to f_FD(ε - μ): linearizing
    k̇ ∂_k f = -(f - f_0)/τ with k̇ = -E/ħ gives g = (τE/ħ) ∂_k f_0 and
    j_n = ∫dk/2π (ε_n'/ħ) g = -(τE/ħ²) ∫dk/2π f_0 ε_n'' (by parts): electrons drift against E (j < 0 for E > 0).

    Measured (μ = -1.2 eV, T = 600 K, τ = 1e-14 s, E = 1e-4 V/Å): relative error of the lower band's current
    3.4e-4, 8.7e-5, 2.0e-5 at nk = 64, 128, 256 (second order); |j(2E)/(2j(E)) - 1| = 6e-6 at nk = 256 (the
    O(E²) nonlinearity)."""
    mu, T, tau = -1.2, 600.0, 1e-14
    ref_int = rice_mele_drude_integral(mu, T)
    errs, js = [], {}
    for E in (1e-4, 2e-4):
        for nk in (64, 128, 256):
            if E == 2e-4 and nk != 256:
                continue
            s = KineticSolver(qk.zoo.rice_mele(), None, length=1000.0, nx=2, nk=nk, mu=mu, T=T, tau=tau,
                              relaxation="global", field=uniform(E))
            ds = s.steady_state(tol=1e-12)
            assert ds.attrs["converged"]
            j = ds.jx.values.mean(axis=1)                     # uniform in x
            np.testing.assert_allclose(ds.jx.values, np.repeat(j[:, None], 2, 1), rtol=1e-12)
            ref = tau * E / HBAR ** 2 * ref_int
            if E == 1e-4:
                errs.append(abs(j[0] / ref[0] - 1))
            js[E, nk] = j
            assert j[0] < 0 and ref[0] < 0                    # particles flow against the field
            np.testing.assert_allclose(j[1], ref[1], rtol=0, atol=1e-6 * abs(ref[0]))
    print("relative errors nk = 64, 128, 256:", errs)
    assert errs[-1] < 5e-5                                    # measured 2.0e-5
    assert errs[0] / errs[1] > 3 and errs[1] / errs[2] > 3    # second-order convergence (measured 3.9, 4.4)
    ratio = js[2e-4, 256][0] / (2 * js[1e-4, 256][0])
    print(f"j(2E)/(2 j(E)) - 1 = {ratio - 1:.1e}")
    assert abs(ratio - 1) < 2e-5                              # linear in E (measured 6e-6)


def test_uniform_field_hall_and_drude_currents_qwz_vs_conductivity():
    """2D QWZ at order 1 in a uniform E along x, relaxation "global", steady state, against
    :func:`qkinetics.conductivity` (same μ, T, τ). Neither side has a spin factor (both per band: the solver's
    densities are ∫d²k/(2π)² f_n, the conductivity module's integrals likewise). j_a(electric) = σ_ab E_b (S,
    E in V/m), particle current = -j_el/e; with E in V/Å and j in 1/(Å s) the factors 10^10 cancel: j = -σE/e.
    The transverse current is the anomalous velocity Ω^{xy} k̇_x, which must pick up the field through kdot
    (the band-velocity part ∫v_y g vanishes: v_y is odd in k_y).

    Measured (u = -1.2, μ = 1.0 eV, T = 1000 K, τ = 1e-14 s, E = 1e-4 V/Å, nk = nk_perp = 128): jy relative
    difference 1.43e-6 (3.8e-7 at E/2: the O(E²) term of the exact steady state; the conductivity's 200² and
    400² grids agree to 3e-15), jx 1.9e-4 (8.5e-5 at 192, 4.6e-5 at 256: the k_x-flux discretization)."""
    m = qk.zoo.qi_wu_zhang(u=-1.2)
    mu, T, tau, E = 1.0, 1000.0, 1e-14, 1e-4
    c = qk.conductivity(m, mu=mu, T=T, tau=tau, mechanisms=["drude", "anomalous_hall"], kgrid=200,
                        convergence=False)
    sig_xx = float(np.real(c["drude"].sel(j="x", E1="x").squeeze()))
    sig_yx = float(np.real(c["anomalous_hall"].sel(j="y", E1="x").squeeze()))
    s = KineticSolver(m, None, length=1000.0, nx=2, nk=128, nk_perp=128, mu=mu, T=T, tau=tau, order=1,
                      relaxation="global", field=uniform(E))
    ds = s.steady_state(tol=1e-12)
    jx, jy = ds.jx.values.sum(0).mean(), ds.jy.values.sum(0).mean()
    rx, ry = -sig_xx * E / units.e, -sig_yx * E / units.e
    print(f"jx {jx:.6e} vs {rx:.6e} ({jx / rx - 1:.1e}); jy {jy:.6e} vs {ry:.6e} ({jy / ry - 1:.1e})")
    assert abs(jy / ry - 1) < 5e-6
    assert abs(jx / rx - 1) < 5e-4
    s0 = KineticSolver(m, None, length=1000.0, nx=2, nk=32, nk_perp=32, mu=mu, T=T, tau=tau, order=0,
                       relaxation="global", field=uniform(E))
    jy0 = s0.steady_state(tol=1e-12).jy.values.sum()
    assert abs(jy0) < 1e-10 * abs(ry)                         # order 0 has no anomalous velocity


def test_insulator_hall_current_is_quantized():
    """μ in the gap of QWZ (u = -1.2, gap 1.6 eV), T = 300 K: j_y = -C E/h per filled band of Chern number C
    (σ_xy = -(e²/h)C), C from the Fukui-Hatsugai link variables (:func:`qkinetics.topology.chern_number`), not
    the sum-over-states Ω of the solver. Measured: |j_y h/E + C| = 4e-13 at 48 × 48 (Ω smooth, midpoint rule
    spectrally accurate; the thermal occupation of the upper band e^{-31} is negligible)."""
    m = qk.zoo.qi_wu_zhang(u=-1.2)
    E = 1e-4
    C = qk.topology.chern_number(m, [0])
    assert abs(abs(C) - 1) < 1e-8
    s = KineticSolver(m, None, length=1000.0, nx=2, nk=48, nk_perp=48, mu=0.0, T=300.0, tau=1e-14, order=1,
                      relaxation="global", field=uniform(E))
    jy = s.steady_state(tol=1e-12).jy.values.sum(0).mean()
    nu = jy * 2 * np.pi * HBAR / E
    print(f"j_y h / E = {nu:.15f}, C = {C}")
    assert abs(nu + C) < 1e-10


def test_zero_mean_field_equals_potential_with_gradient_E():
    """Exact identity: k̇ = -(V' + E)/ħ, so E(x) = E1 cos qx with V = 0 is the same flow as V(x) = (E1/q) sin qx
    with no field; with relaxation that does not see V ("local": μ̃ from the local density; "bare") and the same
    initial f, the two runs agree to round-off (the field's Gauss-Legendre cell average against the potential's
    exact face difference). 1D order 0 with "local" and 2D QWZ at order 1 (the anomalous velocity in jy) with
    "bare". Measured max |Δf| 8.9e-16 (1D), 1.3e-15 (2D)."""
    E1 = 0.02
    cases = [(qk.zoo.rice_mele(), dict(nk=64, mu=-1.0, order=0, relaxation="local")),
             (qk.zoo.qi_wu_zhang(u=-1.2), dict(nk=24, nk_perp=16, mu=1.0, order=1, relaxation="bare"))]
    for m, kw in cases:
        a = KineticSolver(m, None, length=L, nx=32, T=800.0, tau=2e-14, field=lambda x, t: E1 * np.cos(Q * x), **kw)
        b = KineticSolver(m, lambda x, t: E1 / Q * np.sin(Q * x), length=L, nx=32, T=800.0, tau=2e-14, **kw)
        np.testing.assert_allclose(a.force(), b.force(), rtol=0, atol=1e-14 * np.abs(b.force()).max())
        b.f = a.f.copy()
        a.advance(5e-14)
        b.advance(5e-14)
        assert a.steps == b.steps > 50
        dev = np.abs(a.f - b.f).max()
        moved = np.abs(a.f - a.equilibrium()).max()
        print(f"{m.name if hasattr(m, 'name') else m}: {a.steps} steps, max |f_E - f_V| = {dev:.1e}, moved {moved:.1e}")
        assert moved > 1e-3 and dev < 1e-13
        if m.dim == 2:
            np.testing.assert_allclose(a.current_y(), b.current_y(), rtol=0,
                                       atol=1e-12 * np.abs(b.current_y()).max())
            assert np.abs(b.current_y()).max() > 0


def test_field_conserves_number_and_drives_current():
    """Periodic ring, E(x) = E0 + E1 cos qx (non-zero mean: no periodic V gives it), local relaxation: the
    number is conserved to round-off (face fluxes telescope; measured drift 4e-16) and a net current flows
    against E0."""
    E0, E1 = 2e-3, 1e-2
    s = KineticSolver(qk.zoo.rice_mele(), None, length=L, nx=32, nk=64, mu=-1.0, T=800.0, tau=2e-14,
                      field=lambda x, t: E0 + E1 * np.cos(Q * x))
    N0 = s.number()
    s.advance(2e-13)
    drift = abs(s.number() / N0 - 1)
    j = s.face_current().sum(0)
    print(f"{s.steps} steps, number drift {drift:.1e}, mean face current {j.mean():.3e} 1/s")
    assert s.steps > 100 and drift < 1e-13
    assert j.mean() < 0
    assert np.ptp(s.density().sum(0)) > 1e-4                 # the field gradient modulates the density


@pytest.mark.parametrize("order", [0, 1])
def test_discrete_liouville_with_field_and_model_of_x(order):
    """The field's force is k-independent, so a uniform f stays uniform (collisionless), also with model(x)
    (a Rice-Mele domain-wall texture, whose order-1 flow carries h_1 and ρ = 1 - Ω_xk) and a moving field.
    Measured deviation 0 (exactly)."""
    def wall(x):
        return qk.zoo.rice_mele(staggered=0.4 * np.tanh(3.0 * np.sin(Q * x)))
    s = KineticSolver(wall, None, length=L, nx=32, nk=48, tau=np.inf, order=order,
                      field=lambda x, t: 0.01 + 0.02 * np.cos(Q * x - 1e14 * t))
    c = np.array([0.37, 0.81])[:, None, None, None]
    s.f = np.ones(s.shape) * c
    s.advance(5e-14)
    dev = np.abs(s.f - c).max()
    print(f"order {order}: {s.steps} steps, max deviation {dev:.1e}")
    assert s.steps > 30 and dev < 1e-13


def test_field_refusals():
    kw = dict(length=L, nx=8, nk=16, mu=-1.0, T=800.0, tau=1e-14)
    m = qk.zoo.rice_mele()
    with pytest.raises(ModelError, match="well_balanced"):     # order 2 takes a field (test_kinetics_order2_field)
        KineticSolver(m, None, order=2, well_balanced=True, field=uniform(1e-3), **kw)
    with pytest.raises(ModelError, match="well_balanced"):
        KineticSolver(m, None, order=1, well_balanced=True, field=uniform(1e-3), **kw)
    with pytest.raises(ModelError, match="callable"):
        KineticSolver(m, None, field=1e-3, **kw)
    with pytest.raises(ModelError, match="shape"):
        KineticSolver(m, None, field=lambda x, t: np.ones(3), **kw)
    with pytest.raises(ModelError, match="not finite"):
        KineticSolver(m, None, field=lambda x, t: np.nan * x, **kw)
    s = KineticSolver(m, None, **kw)                          # no field: zero field, force unchanged
    assert np.all(s.field() == 0) and np.all(s.force() == 0)


def test_open_boundaries_with_field_number_balance():
    """Open ends with a field (the leads stay f_FD(ε + V - μ) at one μ): the number changes exactly by the
    boundary inflow (measured 4.9e-16 relative), and the field drives particles against it through the box."""
    s = KineticSolver(qk.zoo.rice_mele(), None, length=L, nx=32, nk=48, mu=-1.0, T=1000.0, tau=5e-15,
                      boundary="open", field=uniform(5e-3))
    N0 = s.number()
    s.advance(1e-13)
    bal = abs(s.number() - N0 - s.boundary_inflow) / N0
    j = s.face_current().sum(0)
    print(f"{s.steps} steps, number balance {bal:.1e}, face current {j.mean():.3e} 1/s")
    assert s.steps > 50 and bal < 1e-13
    assert j.mean() < 0
