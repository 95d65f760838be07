"""The position matrix in the quantum references and the kinetic solver: one geometry in every layer.

The check that shares no derivation with the code: a complete Wannier basis that mixes orbitals of different
sites and cells (hoppings and position matrix computed in real space from the definitions, as in
tests/test_position_terms.py) describes the same physics as the original tight-binding model, so every
response must agree with the original's, to round-off or to the measured discretization error, while the
tight-binding approximation of the re-based model (position matrix dropped) must not.
"""

import numpy as np
import pytest
from test_position_terms import _new_basis_model, _random_model, _small_model, _translation_invariant_isometry

import qkinetics as qk
from qkinetics.kubo import kubo_conductivity
from qkinetics.kubo.density_matrix import DensityMatrixSolver
from qkinetics.kubo.time_domain import TimeDomainSolver


@pytest.fixture(scope="module")
def rebased():
    """(original, re-based, its tight-binding approximation, mu): a 3-band 2D metal, bands -1.8 .. 1.7 eV."""
    rng = np.random.default_rng(11)
    raw = _random_model(rng, 2, 3)
    old = qk.TightBinding(raw.lattice, raw.positions, {R: 0.25 * t for R, t in raw.hoppings.items()})
    new = _new_basis_model(old, _translation_invariant_isometry(rng, 2, 3, 3))
    mu = float(np.median(old.bands(old.k_from_reduced(rng.random((2000, 2))))[:, 1]))      # inside band 2
    return old, new, new.tight_binding_approximation(), mu


def _rel(a, b):
    return float(np.max(np.abs(a - b)) / np.max(np.abs(a)))


def test_kubo_linear_conductivity_is_basis_independent(rebased):
    """Velocity dH + i[H, A^W] per k: the same sigma(omega) to round-off (measured 3.6e-16, both Fourier
    conventions); the tight-binding approximation of the re-based model differs by 4.5 %."""
    old, new, tb, mu = rebased
    kw = dict(omega=[0.0, 2e14], tau=1e-14, mu=mu, T=300.0, kgrid=24)
    ref = kubo_conductivity(old, **kw).total.values
    assert _rel(ref, kubo_conductivity(new, **kw).total.values) < 1e-12
    assert _rel(ref, kubo_conductivity(new.with_convention("lattice"), **kw).total.values) < 1e-12
    assert _rel(ref, kubo_conductivity(tb, **kw).total.values) > 5e-3


def test_density_matrix_solver_is_basis_independent(rebased):
    """Covariant derivative d_k - i[A^W, .]: linear and second-order conductivities equal the original's up to the
    spectral-derivative error of the grid (the re-based density matrix W^dagger rho W carries more Fourier
    harmonics). Measured (T = 3000 K, tau = 10 fs): linear 6.6e-7 / 1.3e-10 / 1.4e-12 on 32 / 48 / 64 points,
    second order 4.0e-3 / 8.4e-4 / 1.5e-4; tight-binding approximation 1.1e-2 (linear) and 5.3e-2 (second)."""
    old, new, tb, mu = rebased
    diffs = []
    for n in (32, 48):
        solvers = [DensityMatrixSolver(m, mu=mu, T=3000.0, kgrid=n) for m in (old, new, tb)]
        lin = [s.linear(1e-14) for s in solvers]
        sec = [s.second_order(1e-14) for s in solvers]
        diffs.append((_rel(lin[0], lin[1]), _rel(sec[0], sec[1])))
        assert _rel(lin[0], lin[2]) > 5e-3 and _rel(sec[0], sec[2]) > 3e-2
    (l32, s32), (l48, s48) = diffs
    assert l48 < 1e-9 and l48 < 1e-2 * l32
    assert s48 < 2e-3 and s48 < 0.3 * s32


def test_incomplete_wannier_space_density_matrix_against_kubo():
    """An incomplete Wannier space (3 of 5 bands, curvature F^W != 0): the density-matrix solver (covariant
    spectral derivative in the orbital basis) and the Kubo formula (sum over states with the velocity
    dH + i[H, A^W]) share no derivation and give the same sigma(omega) up to the grid error. Measured
    (hbar omega = 66 meV, tau = 10 fs, 3000 K): 6.2e-4 / 4.9e-5 / 1.7e-6 on 32 / 48 / 64 points; the position
    block changes sigma by 6.8e-3."""
    small, rng = _small_model(5)
    small = qk.TightBinding(small.lattice, small.positions, {R: 0.25 * t for R, t in small.hoppings.items()},
                            position_matrix=small.position_matrix)
    mu = float(np.median(small.bands(small.k_from_reduced(rng.random((2000, 2))))[:, 1]))
    kw = dict(mu=mu, T=3000.0, kgrid=64)
    dm = DensityMatrixSolver(small, **kw).linear(1e-14, omega=1e14)
    kubo = kubo_conductivity(small, 1e14, tau=1e-14, degeneracy_tol=0.0, **kw).total.values[0, 0, 0, 0]
    tb = DensityMatrixSolver(small.tight_binding_approximation(), **kw).linear(1e-14, omega=1e14)
    assert _rel(dm, kubo) < 1e-5
    assert _rel(dm, tb) > 5e-3


@pytest.fixture(scope="module")
def incomplete():
    """A 2-band Wannier space cut from a 4-orbital model (F^W != 0), bands -0.43 .. 0.78 eV, direct gap >= 0.08 eV;
    mu inside the lower band."""
    small, rng = _small_model(18, dim=2, nbig=4, nsmall=2)
    small = qk.TightBinding(small.lattice, small.positions, {R: 0.1 * t for R, t in small.hoppings.items()},
                            position_matrix=small.position_matrix)
    return small, float(np.median(small.bands(small.k_from_reduced(rng.random((3000, 2))))[:, 0]))


def test_incomplete_wannier_space_kubo_hall_is_the_full_curvature(incomplete):
    """The clean dc Kubo Hall conductivity of an incomplete Wannier space equals -(e^2/hbar) sum int f Omega with
    the full Wannier-interpolated curvature of band_geometry (F^W included): the field-dependent velocity
    (e/hbar) E_b F^W_ab of the non-commuting projected positions carries the part of the bands outside. Measured
    1.3e-11 at eta = 1e-6 eV (the O(eta^2/gap^2) of the Kubo formula); the tight-binding approximation differs by
    10 %, and without the F^W term the Kubo result would too."""
    small, mu = incomplete
    kubo = kubo_conductivity(small, 0.0, eta=1e-6, mu=mu, T=1500.0, kgrid=48).interband.values[0, 0, 0, 0]
    kw = dict(mu=mu, T=1500.0, tau=1e-14, mechanisms=["anomalous_hall"], kgrid=48, convergence=False)
    ah = qk.conductivity(small, 1, **kw)["anomalous_hall"].values.squeeze()
    tb = qk.conductivity(small.tight_binding_approximation(), 1, **kw)["anomalous_hall"].values.squeeze()
    hall = 0.5 * (kubo - kubo.T)
    assert abs(hall[0, 1] - ah[0, 1]) < 1e-9 * abs(ah[0, 1])
    assert abs(tb[0, 1] - ah[0, 1]) > 0.05 * abs(ah[0, 1])


def test_incomplete_wannier_space_density_matrix_tau_coefficients_against_band_geometry(incomplete):
    """The density-matrix tau^2 and tau^1 coefficients (covariant derivative, field-dependent velocity E_b F^W_ab)
    against the nonlinear Drude term and the Berry curvature dipole of qkinetics.conductivity (band_geometry with
    the position block, F^W included), which share no derivation. Measured (3000 K; kinetic grid 200) max
    relative difference of the tensors, density matrix on 32 / 48 / 64 points: Drude 0.18 / 2.4e-2 / 4.1e-3, BCD
    0.10 / 3.3e-2 / 1.1e-2 (1.3e-3 on 96 points at 1500 K, kinetic grid 300); without the F^W velocity term the
    BCD differed by 74 %; the tight-binding approximation's BCD differs from the full one by 115 %."""
    from qkinetics.kubo.density_matrix import compare_with_kinetics

    small, mu = incomplete
    ds = compare_with_kinetics(small, mu=mu, T=3000.0, kgrid=64, kgrid_kinetic=200, relaxations=("full",))
    rel = {}
    for mech in ("nonlinear_drude", "berry_curvature_dipole"):
        s = ds.semiclassical.sel(mechanism=mech).values
        rel[mech] = float(np.max(np.abs(ds.quantum.sel(relaxation="full", mechanism=mech).values - s)) /
                          np.max(np.abs(s)))
    assert rel["nonlinear_drude"] < 1e-2 and rel["berry_curvature_dipole"] < 2e-2
    tb = qk.conductivity(small.tight_binding_approximation(), 2, mu=mu, T=3000.0, tau=1.0,
                         mechanisms=["berry_curvature_dipole"], kgrid=200, convergence=False)
    bcd_tb = tb["berry_curvature_dipole"].sel(channel="rectified").values.reshape(2, 2, 2).real
    bcd = ds.semiclassical.sel(mechanism="berry_curvature_dipole").values
    assert np.max(np.abs(bcd_tb - bcd)) > 0.5 * np.max(np.abs(bcd))


def test_time_domain_currents_are_basis_independent(rebased):
    """H(kappa) + eE(t).A^W(kappa) and current dH + i[H, A^W], every relaxation model, two field directions: the
    re-based currents equal the original's up to the RK4 error, which falls as dt^4 (measured 1.6e-5 at
    dt = 0.2 fs and 7.9e-7 at 0.1 fs on 12 x 12, 1.9e-5 and 9.0e-7 on 8 x 8; here 6 x 6); the tight-binding approximation
    differs by 21 %."""
    old, new, tb, mu = rebased
    fields = np.array([[0.02, 0.01], [-0.01, 0.03]])                                    # V/Angstrom
    kw = dict(relaxations=("populations", "dressed"), ramp=1e-15, settle=3)
    out = {}
    for dt in (0.2e-15, 0.1e-15):
        for name, m in (("old", old), ("new", new)):
            out[name, dt] = TimeDomainSolver(m, mu=mu, T=3000.0, kgrid=6).run([2e-15], fields, dt=dt, **kw)["I"]
    e1, e2 = _rel(out["old", 0.2e-15], out["new", 0.2e-15]), _rel(out["old", 0.1e-15], out["new", 0.1e-15])
    assert e2 < 3e-6 and e2 < e1 / 8
    I_tb = TimeDomainSolver(tb, mu=mu, T=3000.0, kgrid=6).run([2e-15], fields, dt=0.2e-15, **kw)["I"]
    assert _rel(out["old", 0.2e-15], I_tb) > 0.05
    with pytest.raises(qk.ModelError, match="method='matrix'"):
        TimeDomainSolver(new.__class__(new.lattice, new.positions[:2], {R: t[:2, :2] for R, t in new.hoppings.items()},
                                       position_matrix={R: r[:, :2, :2] for R, r in new.position_matrix.items()}),
                         kgrid=4, method="bloch")


def test_kinetic_solver_orders_0_and_1_are_basis_independent():
    """QWZ (square lattice) re-based: energies and the Berry curvature of band_geometry (position block) drive the
    order-1 kinetic solver; in a uniform field the steady Hall and longitudinal currents equal the original's
    (measured 1.6e-11, the steady-state tolerance, and 1.8e-13), while the tight-binding approximation changes the
    Hall current by 81 %."""
    from qkinetics.kinetics import KineticSolver

    rng = np.random.default_rng(3)
    old = qk.zoo.qi_wu_zhang(u=-1.2)
    new = _new_basis_model(old, _translation_invariant_isometry(rng, 2, 2, 2))
    kw = dict(length=1000.0, nx=2, nk=16, nk_perp=16, mu=1.0, T=1000.0, tau=1e-14, order=1, relaxation="global",
              field=lambda x, t: 1e-4 + 0 * x)
    res = [KineticSolver(m, None, **kw).steady_state(tol=1e-12)
           for m in (old, new, new.tight_binding_approximation())]
    jx, jy = ([float(r[c].values.sum(0).mean()) for r in res] for c in ("jx", "jy"))
    assert abs(jy[1] / jy[0] - 1) < 1e-9 and abs(jx[1] / jx[0] - 1) < 1e-9
    assert abs(jy[2] / jy[0] - 1) > 0.1


def test_layers_that_need_more_than_first_moments_refuse_with_the_reason():
    """Lindhard (form factor e^{-iq.r}), the Moyal engine (symbol V(x + A^W(k))), the kinetic solver at order 2 and
    with a texture model(x): refused, the message names the missing matrix elements; the tight-binding
    approximation is accepted."""
    from qkinetics.kinetics import KineticSolver
    from qkinetics.kubo import lindhard
    from qkinetics.moyal.phase_space import PhaseSpaceModel

    base = qk.zoo.rice_mele()
    r0 = np.zeros((1, 2, 2), complex)
    r0[0, 0, 1] = r0[0, 1, 0] = 0.1
    model = qk.TightBinding(base.lattice, base.positions, base.hoppings, position_matrix={(0,): r0})
    calls = [(lambda m: lindhard(m, [[0.05]], eta=0.01, kgrid=8), "e\\^\\{-iq.r\\}"),
             (lambda m: PhaseSpaceModel(m), "r_a r_b"),
             (lambda m: KineticSolver(m, lambda x, t: 0.01 * np.cos(2 * np.pi * x / 10.0), length=10.0, nx=8,
                                      nk=8, order=2), "r_x r_x"),
             (lambda m: KineticSolver(lambda x: m, length=10.0, nx=8, nk=8), "neighbouring x")]
    for call, why in calls:
        with pytest.raises(qk.ModelError, match=why) as err:
            call(model)
        assert "tight_binding_approximation" in str(err.value)
        call(model.tight_binding_approximation())
    KineticSolver(model, length=10.0, nx=8, nk=8, order=1)            # orders 0 and 1 take the position block
