"""Kubo linear conductivity (qkinetics.kubo.linear): the quantum reference without gradient expansion.

Expected values: Chern numbers from qk.chern_number (link variables, no velocity matrices) and the
quantized -(e^2/h) C; closed forms (parabolic-band Drude n e^2 tau/m; massive-Dirac optical
absorption); the semiclassical mechanisms of qkinetics.responses (drude, anomalous_hall via
qk.conductivity), which share no code with the Kubo sum beyond the eigendecomposition.
"""

import numpy as np
import pytest
import sympy as sp
from conftest import random_tight_binding

import qkinetics as qk
from qkinetics import units
from qkinetics.kubo.linear import kubo_conductivity
from qkinetics.integrate import polar_grid

E2H = units.e2_over_h


def _xy(ds, var="total"):
    return ds[var].sel(j="x", E1="y").values


# --------------------------------------------------------------------------- clean-limit anomalous Hall


@pytest.mark.parametrize("name,model,nk", [
    ("qwz", qk.zoo.qi_wu_zhang(u=1.0), 48),                              # gap 2 eV
    ("haldane", qk.zoo.haldane(t2=0.1, phi=np.pi / 2, mass=0.2), 90),      # gap 2|0.2 - 3 sqrt3 0.1| = 0.64 eV
])
def test_chern_insulator_clean_limit(name, model, nk):
    """sigma_xy -> -(e^2/h) C at mu in the gap as eta -> 0; the approach is O(eta^2 / gap^2)."""
    C = qk.chern_number(model, bands=[0])
    assert abs(C) == 1
    etas = np.array([0.1, 0.03, 0.01, 0.003, 0.0])
    ds = kubo_conductivity(model, 0.0, eta=etas, mu=0.0, T=1.0, kgrid=nk)
    s = ds.total.values[0, 0, :, 0]                                      # (eta, j, E1)
    target = -E2H * C
    err = np.abs(s[:, 0, 1] - target) / E2H
    assert err[-1] < 1e-6                                               # grid error of a gapped Chern band
    assert np.allclose(s[:, 1, 0], -s[:, 0, 1], rtol=1e-10, atol=1e-14)  # Hall: antisymmetric
    assert np.all(np.abs(s[-1].imag) < 1e-10 * E2H)                    # dc clean: real, dissipationless
    assert np.abs(s[-1, 0, 0]) < 1e-10 * E2H                            # no longitudinal dc current in a gap
    # convergence: error(eta) ~ c eta^2 (measured: c ~ 0.23 for QWZ, ~ 0.6 for Haldane, in units e^2/h / eV^2)
    slope = np.polyfit(np.log(etas[:-1]), np.log(err[:-1] - err[-1]), 1)[0]
    assert slope == pytest.approx(2.0, abs=0.05)
    assert np.all(np.diff(err) < 0)
    # the intraband part vanishes in an insulator (no Fermi surface at T = 1 K)
    assert np.max(np.abs(ds.intraband.values)) < 1e-12 * E2H


def test_degenerate_bands_kane_mele_no_hall():
    """Kane-Mele (every band doubly degenerate, time reversal): the group treatment gives no Hall response,
    and the insulator's dc conductivity vanishes."""
    model = qk.zoo.kane_mele(lambda_so=0.1)
    ds = kubo_conductivity(model, 0.0, eta=[0.01, 0.0], mu=0.0, T=1.0, kgrid=36)
    assert np.max(np.abs(ds.total.values[0, 0, -1, 0])) < 1e-10 * E2H
    metal = kubo_conductivity(model, 0.0, tau=1e-13, mu=-1.5, T=300.0, kgrid=36)
    s = metal.total.values[0, 0, 0, 0]
    assert abs(s[0, 1] - s[1, 0]) < 1e-9 * abs(s[0, 0])


# --------------------------------------------------------------------------- Drude


@pytest.mark.filterwarnings("ignore::qkinetics.integrate.GridResolutionWarning")
def test_intraband_equals_semiclassical_drude():
    """The n = m Kubo part is the relaxation-time Drude term, for any omega and tau (random 3-band metal,
    given in the 'lattice' convention: the Kubo code converts, the Drude weight is convention independent)."""
    model = random_tight_binding(2, 3, seed=3, convention="lattice")
    tau = np.array([1e-14, 1e-13])
    omega = np.array([0.0, 2e13, 1e14])
    mu = [-0.5, 0.7]
    ds = kubo_conductivity(model, omega, tau=tau, mu=mu, T=400.0, kgrid=40)
    ref = qk.conductivity(model, mu=mu, T=400.0, tau=tau, omega=omega, mechanisms=["drude"], kgrid=40,
                          convergence=False).drude.sel(channel="linear").values
    assert np.max(np.abs(ref)) > 0.1 * E2H
    np.testing.assert_allclose(ds.intraband.values, ref, rtol=1e-9, atol=1e-12 * np.max(np.abs(ref)))


def test_drude_parabolic_band_closed_form():
    """Single parabolic band eps = alpha k^2 in 2D: sigma(omega) = n e^2 tau / m / (1 - i omega tau),
    hbar^2/(2m) = alpha, n = kT ln(1 + e^{mu/kT}) / (4 pi alpha) (no spin)."""
    kx, ky, a = sp.symbols("kx ky alpha", real=True)
    alpha = 3.81                                                          # eV A^2 (free electron)
    model = qk.Continuum(sp.Matrix([[a * (kx ** 2 + ky ** 2)]]), params={"alpha": alpha}, dim=2, kcut=1.3)
    mu, T = 0.3, 300.0
    kT = units.kB_eV * T
    tau = np.array([1e-14, 1e-13])
    omega = np.array([0.0, 5e12, 3e13])
    ds = kubo_conductivity(model, omega, tau=tau, mu=mu, T=T, kgrid=360)
    n = kT * np.log1p(np.exp(mu / kT)) / (4 * np.pi * alpha) * 1e20      # 1/m^2
    inv_m = 2 * alpha * units.e * 1e-20 / units.hbar ** 2                 # 1/kg
    ref = n * units.e ** 2 * inv_m * tau[:, None] / (1 - 1j * omega[None, :] * tau[:, None])
    got = ds.intraband.values[0, 0, :, :, 0, 0]
    np.testing.assert_allclose(got, ref, rtol=1e-9)                       # measured: 7e-14
    np.testing.assert_allclose(ds.intraband.values[0, 0, :, :, 1, 1], ref, rtol=1e-9)
    assert np.max(np.abs(ds.interband.values)) == 0.0                     # one band: no interband pairs


# --------------------------------------------------------------------------- tau scaling


@pytest.mark.filterwarnings("ignore::qkinetics.integrate.GridResolutionWarning")
def test_tau_scaling_metallic_chern_model():
    """Haldane model with mu in the lower band: Kubo sigma_xx = a tau + O(1/tau) with a the Drude coefficient,
    and the Hall part -> the intrinsic anomalous Hall value (Fermi-sea Berry curvature, qk.conductivity) with a
    relative difference ~ (hbar/tau / gap)^2 for hbar/tau << gap (0.64 eV)."""
    model = qk.zoo.haldane(t2=0.1, phi=np.pi / 2, mass=0.2)
    taus = np.array([1e-14, 1e-13, 1e-12, 1e-11])
    mu, T, nk = -0.9, 300.0, 120
    ds = kubo_conductivity(model, 0.0, tau=taus, mu=mu, T=T, kgrid=nk)
    sc = qk.conductivity(model, mu=mu, T=T, tau=taus, omega=0.0, mechanisms=["drude", "anomalous_hall"],
                         kgrid=nk, convergence=False)
    drude = sc.drude.sel(channel="linear").values[0, 0, :, 0]
    ahe = sc.anomalous_hall.sel(channel="linear").values[0, 0, 0, 0, 0, 1].real
    s = ds.total.values[0, 0, :, 0]
    assert 0.3 * E2H < abs(ahe) < 0.6 * E2H                               # a metal: not quantized
    hall = 0.5 * (s[:, 0, 1] - s[:, 1, 0]).real
    rel_h = np.abs(hall / ahe - 1)
    rel_x = np.abs(s[:, 0, 0].real / drude[:, 0, 0].real - 1)
    # measured: rel_h = 9.1e-4, 9.1e-6, 9.1e-8, 9.1e-10; rel_x = 1.8e-3, 1.8e-5, 1.8e-7, 1.8e-9
    assert rel_h[-1] < 1e-8 and rel_x[-1] < 1e-8
    assert np.polyfit(np.log(taus), np.log(rel_h), 1)[0] == pytest.approx(-2.0, abs=0.02)
    assert np.polyfit(np.log(taus), np.log(rel_x), 1)[0] == pytest.approx(-2.0, abs=0.02)
    # sigma_xx / tau is constant to that accuracy (the tau^1 coefficient is the Drude one)
    np.testing.assert_allclose(s[:, 0, 0].real / taus, drude[0, 0, 0].real / taus[0], rtol=3e-3)


# --------------------------------------------------------------------------- optical (interband at finite omega)


def test_massive_dirac_optical_absorption():
    """Re sigma_xx(omega) of one massive Dirac cone H = v k.sigma + m sigma_z, mu in the gap, clean limit:
    (e^2/(16 hbar)) (1 + (2m/hbar omega)^2) for hbar omega > 2|m|, 0 below (Fermi golden rule with the
    d-vector matrix elements). The Lorentzian broadening eta shifts it by O(eta): shown by an eta sweep."""
    v, m = 1.0, 0.3
    model = qk.zoo.massive_dirac(v=v, mass=m)
    hw = np.array([0.4, 0.8, 1.0, 1.5])
    kres = np.sqrt((hw[1:] / 2) ** 2 - m ** 2) / v                        # resonant radii
    k, w = polar_grid(3.0, nth=16, refine=kres, width=0.1, fine=0.001, coarse=0.05)
    etas = np.array([0.004, 0.001])
    ds = kubo_conductivity(model, hw / units.hbar_eVs, eta=etas, mu=0.0, T=1.0, kgrid=(k, w))
    unit = units.e ** 2 / (16 * units.hbar)
    got = ds.total.values[0, 0, :, :, 0, 0].real / unit                   # (eta, omega)
    ref = 1 + (2 * m / hw[1:]) ** 2
    err = np.abs(got[:, 1:] / ref - 1)
    # measured: eta = 4 meV: 6.5e-3, 2.5e-3, 8e-4; eta = 1 meV: 1.6e-3, 6.3e-4, 2.0e-4 (linear in eta)
    assert np.all(err[1] < 2.5e-3)
    np.testing.assert_allclose(err[0] / err[1], 4.0, rtol=0.1)
    assert np.all(np.abs(got[:, 0]) < 3 * etas / 0.004 * 0.011)          # below the gap: Lorentzian tail only
    s = ds.total.values[0, 0]                                             # rotation symmetry: isotropic + Hall
    np.testing.assert_allclose(s[..., 1, 1], s[..., 0, 0], rtol=1e-8)
    np.testing.assert_allclose(s[..., 1, 0], -s[..., 0, 1], rtol=1e-8)


def test_kubo_units_and_interface():
    model = qk.zoo.qi_wu_zhang()
    with pytest.raises(qk.ModelError):
        kubo_conductivity(model, 0.0, tau=1e-13, eta=0.01, kgrid=8)
    with pytest.raises(qk.ModelError):
        kubo_conductivity(model, 0.0, kgrid=8)
    ds = kubo_conductivity(model, [0.0, 1e14], tau=[1e-13, np.inf], mu=[0.0, 1.0], T=[10.0, 100.0], kgrid=8)
    assert ds.total.dims == ("mu", "T", "tau", "omega", "j", "E1")
    assert ds.total.shape == (2, 2, 2, 2, 2, 2)
    assert ds.total.attrs["units"] == "S"
    assert ds.eta.values[1] == 0.0
    assert np.allclose(ds.eta.values[0], units.hbar_eVs / 1e-13)
