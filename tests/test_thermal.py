"""Thermoelectric and thermal responses: weights, Onsager coefficients, Seebeck, kappa, anomalous Nernst.

Expected values come from routes that do not share the library's derivation: one-dimensional energy
quadratures of closed-form transport functions sigma(eps) (parabolic band: Fermi-Dirac integrals; chain:
|v(eps)|; massive Dirac: the analytic Berry curvature), Sommerfeld limits (Mott, Wiedemann-Franz) derived
by hand, the zero-temperature anomalous Hall conductivity and the Kubo interband conductivity integrated
with thermal weights (generalized Mott relation), and Onsager reciprocity between a model and its
time-reversed partner. Tolerances quote the measured error of the comparison route.
"""

import warnings

import numpy as np
import pytest
import sympy as sp
from scipy import integrate as sint
from scipy.special import expit

import qkinetics as qk
from qkinetics import units
from qkinetics.integrate import GridResolutionWarning
from qkinetics.integrate.integrator import fermi_contractions
from qkinetics.integrate.occupation import c2_function, check_weight_key, entropy_density, occupation_weight
from qkinetics.models.base import ModelError

kB = units.kB_eV                       # eV/K
kB_e = units.kB_eV                     # kB/e in V/K (numerically kB in eV/K)
LORENZ = np.pi ** 2 / 3 * kB_e ** 2    # Sommerfeld value of the Lorenz number, (V/K)^2


def xy(ds, name, a="x", b="x"):
    """The (mu, T) array of one tensor component at the first tau."""
    return ds[name].sel(a=a, b=b).isel(tau=0).values


def minus_fprime(eps, mu, kT):
    return 0.25 / np.cosh((eps - mu) / (2 * kT)) ** 2 / kT


# --------------------------------------------------------------------------- weights


def test_entropy_and_c2_functions_match_their_defining_integrals():
    x = np.array([-35.0, -8.0, -2.5, -0.3, 0.0, 0.4, 1.7, 6.0, 30.0])
    f = expit(-x)
    s_direct = -f * np.log(f) - (1 - f) * np.log1p(-f)            # loses digits as f -> 1: compare for |x| <= 8
    small = np.abs(x) <= 8
    assert np.allclose(entropy_density(x[small]), s_direct[small], rtol=1e-12, atol=0)
    mfp = lambda y: 0.25 / np.cosh(y / 2) ** 2                                  # -df/dy
    quad = lambda g, lo, hi: sint.quad(g, lo, hi, epsabs=0, epsrel=1e-12, limit=200)[0]
    for xi in x:
        # int_x^inf y^n (-f') for x >= 0; for x < 0 the complement of int_-inf^x (full integrals 0 and pi^2/3),
        # which avoids the cancellation of the two signs of y
        if xi >= 0:
            s_int, c_int = quad(lambda y: y * mfp(y), xi, 80), quad(lambda y: y * y * mfp(y), xi, 80)
        else:
            s_int = -quad(lambda y: y * mfp(y), -80, xi)
            c_int = np.pi ** 2 / 3 - quad(lambda y: y * y * mfp(y), -80, xi)
        assert entropy_density(xi) == pytest.approx(s_int, rel=1e-10, abs=1e-15)
        assert c2_function(xi) == pytest.approx(c_int, rel=1e-10, abs=1e-15)
    assert c2_function(0.0) == pytest.approx(np.pi ** 2 / 6, rel=1e-14)
    assert c2_function(-50.0) == pytest.approx(np.pi ** 2 / 3, rel=1e-14)
    assert entropy_density(0.0) == pytest.approx(np.log(2), rel=1e-15)


@pytest.mark.parametrize("tile,rows,slack", [(None, None, None), (300, 3, 0)])
def test_thermal_weights_in_fermi_contractions_equal_direct_sums(monkeypatch, tile, rows, slack):
    from qkinetics.integrate import integrator

    if tile is not None:
        monkeypatch.setattr(integrator, "FERMI_TILE_ELEMENTS", tile)
        monkeypatch.setattr(integrator, "MAX_BLOCK_ROWS", rows)
        monkeypatch.setattr(integrator, "BLOCK_MERGE_SLACK", slack)
    rng = np.random.default_rng(3)
    E = rng.normal(size=(400, 3)) * 1.5
    w = rng.random(400)
    X = rng.normal(size=(400, 3, 2)) + 1j * rng.normal(size=(400, 3, 2))
    keys = [0, 1, (1, 1), (1, 2), (2, 1), (1, 4), "entropy", "c2"]
    mu = np.linspace(-3, 3, 23)[::-1]
    T = [80.0, 2000.0, 30000.0]
    res = fermi_contractions(E, w, [(k, X) for k in keys], mu, T)
    for key, r in zip(keys, res):
        direct = np.einsum("mtbn,b,bnc->mtc", occupation_weight(E, mu, T, key), w, X)
        assert np.max(np.abs(r - direct)) <= 1e-13 * np.max(np.abs(direct)), key


def test_weight_keys_are_checked():
    for bad in (3, (0, 1), (1, 5), "entropie", (1,), 1.0, True):
        with pytest.raises(ModelError, match="occupation weight"):
            check_weight_key(bad)
    with pytest.raises(ModelError, match="T > 0"):
        fermi_contractions(np.zeros((2, 1)), np.ones(2), [("c2", np.ones((2, 1, 1)))], [0.0], [0.0])


# --------------------------------------------------------------------------- Boltzmann: parabolic band


def parabolic_2d(kcut=1.2):
    kx, ky = sp.symbols("kx ky", real=True)
    c = sp.Symbol("c", real=True)
    return qk.Continuum(sp.Matrix([[c * (kx ** 2 + ky ** 2)]]), params={"c": 3.80998}, dim=2, kcut=kcut,
                        name="parabolic")


def fermi_dirac_integral(j, eta):
    """F_j(eta) = int_0^inf x^j / (exp(x - eta) + 1) dx (not normalized by Gamma(j + 1)), by quadrature."""
    top = max(eta, 0.0) + 60.0
    return sint.quad(lambda x: x ** j * expit(eta - x), 0, top, points=[max(eta, 0.0)], epsabs=0, epsrel=1e-13,
                     limit=400)[0]


def test_parabolic_band_seebeck_and_lorenz_number_closed_forms():
    """2D parabolic band: sigma(eps) = C eps Theta(eps) (constant DOS, v^2 ~ eps). With M_n = int (-f')
    (eps - mu)^n eps d eps = kT F_0, 2 (kT)^2 F_1 - mu kT F_0, ...:
        S = -(kB/e) [2 F_1/F_0 - eta],   kappa / (sigma T) = (kB/e)^2 [3 F_2/F_0 - 4 F_1^2/F_0^2],
    eta = mu/kT. Degenerate limit (exact up to e^{-eta} since sigma is linear in eps): Mott,
    S = -(pi^2/3)(kB/e) kT/mu, and the Lorenz ratio 1 - (pi^2/3)(kT/mu)^2: the Wiedemann-Franz law and its
    breakdown ~ (kT/E_F)^2. Grid: thermal resolution <= 0.5; measured deviations from the closed forms at
    400^2 points: 6e-8 relative (S), 4e-9 (Lorenz ratio), 9e-5 (breakdown coefficient pi^2/3)."""
    model = parabolic_2d()
    mu = np.array([-0.03, 0.0, 0.02, 0.05, 0.1, 0.3, 0.8, 1.0])
    T = np.array([300.0, 600.0])
    ds = qk.thermoelectric(model, mu=mu, T=T, tau=1e-14, mechanisms="boltzmann", kgrid=400)
    assert np.all(ds.thermal_resolution.values <= 1.0)
    S, kappa, sigma = xy(ds, "seebeck"), xy(ds, "kappa"), xy(ds, "sigma")
    err_S = xy(ds, "error_seebeck")
    for i, m in enumerate(mu):
        for j, t in enumerate(T):
            eta = m / (kB * t)
            F0, F1, F2 = (fermi_dirac_integral(n, eta) for n in range(3))
            S_exact = -kB_e * (2 * F1 / F0 - eta)
            L_exact = kB_e ** 2 * (3 * F2 / F0 - 4 * F1 ** 2 / F0 ** 2)
            assert S[i, j] == pytest.approx(S_exact, rel=2e-7)
            assert abs(S[i, j] - S_exact) <= err_S[i, j] + 1e-9 * abs(S_exact)
            assert kappa[i, j] / (sigma[i, j] * t) == pytest.approx(L_exact, rel=2e-8)
    # Onsager (isotropic band): Pi = T S
    assert np.allclose(xy(ds, "peltier"), T[None, :] * S, rtol=1e-12)
    # degenerate limit: Mott and Wiedemann-Franz, deviation (pi^2/3) (kT/mu)^2
    deg = mu >= 0.8                                                   # mu/kT >= 15: e^{-mu/kT} < 3e-7
    kT = kB * T[None, :]
    S_mott = -np.pi ** 2 / 3 * kB_e * kT / mu[deg, None]
    assert np.allclose(S[deg], S_mott, rtol=1e-6)
    lorenz = kappa[deg] / (sigma[deg] * T[None, :])
    deviation = 1 - lorenz / LORENZ
    assert np.allclose(deviation / (kT / mu[deg, None]) ** 2, np.pi ** 2 / 3, rtol=5e-4)


# --------------------------------------------------------------------------- Boltzmann: chain, Mott breakdown


def chain(t=1.0, a=2.0):
    hop = {(1,): np.array([[-t]], complex), (-1,): np.array([[-t]], complex)}
    return qk.TightBinding([[a]], [[0.0]], hop, name="chain")


def test_chain_onsager_coefficients_mott_and_wiedemann_franz_breakdown():
    """Chain eps = -2t cos(ka): sigma(eps) = (e^2 tau/hbar^2)(1/pi) a sqrt(4t^2 - eps^2) (two k per energy,
    dk = d eps/|v|); L^(n) = int (-f')(eps - mu)^n sigma(eps) by quadrature. The Mott formula
    S = -(pi^2 kB^2 T/3e) sigma'/sigma and the Wiedemann-Franz law hold as T -> 0 with relative
    deviations growing as T^2 (next Sommerfeld term): the exponent fitted over 75-300 K is 2 (measured 2.003
    and 2.015 between successive doublings; the T^4 term shows above 300 K)."""
    t, a, tau = 1.0, 2.0, 1e-14
    model = chain(t, a)
    mu = np.array([-1.2, 0.5])
    T = np.array([75.0, 150.0, 300.0, 600.0])
    ds = qk.thermoelectric(model, mu=mu, T=T, tau=tau, mechanisms="boltzmann", kgrid=4000)
    assert np.all(ds.thermal_resolution.values <= 1.0)
    pref = units.e ** 2 * tau / units.hbar ** 2 * units.e * units.angstrom / np.pi    # eV A -> SI, 1D: S m
    sigma_eps = lambda e: pref * a * np.sqrt(np.maximum(4 * t * t - e * e, 0.0))
    for i, m in enumerate(mu):
        for j, temp in enumerate(T):
            kT = kB * temp
            L = [sint.quad(lambda e: minus_fprime(e, m, kT) * (e - m) ** n * sigma_eps(e), m - 40 * kT,
                           m + 40 * kT, points=[m], epsabs=0, epsrel=1e-11, limit=400)[0] for n in range(3)]
            for n in range(3):
                assert xy(ds, f"L{n}", "x", "x")[i, j] == pytest.approx(L[n], rel=1e-9)
            assert xy(ds, "seebeck")[i, j] == pytest.approx(-L[1] / (L[0] * temp), rel=1e-9)
            assert xy(ds, "kappa")[i, j] == pytest.approx((L[2] - L[1] ** 2 / L[0]) / temp, rel=1e-9)
    dlog = -mu / (4 * t * t - mu ** 2)                                    # sigma'/sigma
    S_mott = -np.pi ** 2 / 3 * kB_e * (kB * T[None, :]) * dlog[:, None]
    mott_dev = np.abs(xy(ds, "seebeck") / S_mott - 1)
    wf_dev = np.abs(xy(ds, "kappa") / (xy(ds, "sigma") * T[None, :] * LORENZ) - 1)
    for dev in (mott_dev, wf_dev):
        assert np.all(dev[:, 0] < 1e-3)                                   # degenerate limit holds
        slope = np.polyfit(np.log(T[:3]), np.log(dev[:, :3]).T, 1)[0]    # deviation ~ T^slope
        assert np.allclose(slope, 2.0, atol=0.05)


def test_onsager_L0_is_the_drude_conductivity():
    model = qk.zoo.haldane(t2=0.1, strain=0.1)
    kw = dict(mu=[-0.5, 0.4], T=[900.0], tau=2e-14, kgrid=90, convergence=False)
    te = qk.thermoelectric(model, mechanisms="boltzmann", **kw)
    dr = qk.conductivity(model, mechanisms="drude", **kw)
    assert np.allclose(te.L0.values, dr.drude.isel(channel=0, omega=0).values.real, rtol=1e-13, atol=0)


# --------------------------------------------------------------------------- Onsager reciprocity


def test_onsager_reciprocity_peltier_equals_T_seebeck_transposed_of_time_reversed_model():
    """Pi(M) = T S(-M)^T: Haldane model with strain (anisotropic) and its time-reversed partner (phi -> -phi),
    both mechanisms (the Hall parts are odd under time reversal)."""
    kw = dict(mu=[-0.9, 0.3, 1.1], T=[1000.0], tau=1e-14, kgrid=120, convergence=False)
    ds = qk.thermoelectric(qk.zoo.haldane(t2=0.15, phi=1.2, mass=0.1, strain=0.15), **kw)
    rev = qk.thermoelectric(qk.zoo.haldane(t2=0.15, phi=-1.2, mass=0.1, strain=0.15), **kw)
    assert np.max(np.abs(ds.anomalous_nernst.sel(a="x", b="y"))) > 1e-3 * np.max(np.abs(ds.alpha))
    Pi = ds.peltier.values
    TS_rev = ds.T.values[None, :, None, None, None] * np.swapaxes(rev.seebeck.values, -1, -2)
    assert np.allclose(Pi, TS_rev, rtol=1e-12, atol=1e-12 * np.max(np.abs(Pi)))        # measured 8e-16
    assert not np.allclose(Pi, np.swapaxes(Pi, -1, -2), rtol=1e-3)        # the Hall part is there


# --------------------------------------------------------------------------- Berry curvature


def dirac_nernst_closed_form(mu, T, v, m, kcut):
    """alpha_xy of H = v (kx sx + ky sy) + m sz with analytic Omega_{c,v} = -+ m v^2 / 2E^3 (E = sqrt(v^2k^2+m^2)):
        alpha_xy = (e kB m / 4 pi hbar) int_|m|^Ecut dE [s((-E - mu)/kT) - s((E - mu)/kT)] / E^2."""
    kT = kB * T
    Ec = np.sqrt(v * v * kcut * kcut + m * m)
    s = lambda x: np.log1p(np.exp(-abs(x))) + abs(x) / (np.exp(abs(x)) + 1)
    f = lambda E: (s((-E - mu) / kT) - s((E - mu) / kT)) / E ** 2
    val = sint.quad(f, abs(m), Ec, points=[abs(mu)] if abs(m) < abs(mu) < Ec else None, epsabs=0, epsrel=1e-12,
                    limit=400)[0]
    return units.e * (kB * units.e) / units.hbar * m / (4 * np.pi) * val


def test_anomalous_nernst_of_massive_dirac_closed_form_and_mott_limit():
    """Measured: the library (400^2 disc grid, resolution <= 0.4) agrees with the closed form to 1e-9 relative.
    Mott limit (mu > |m|, kT << mu - |m|): alpha = -(pi^2 kB^2 T / 3e) d sigma_xy/d mu with
    d sigma_xy/d mu = e^2 m / (4 pi hbar mu^2) from the same Omega; measured deviation 1.6e-3 at 75 K and
    6.5e-3 at 150 K (mu = 0.6 eV): it grows as T^2."""
    v, m, kcut = 1.0, 0.2, 2.0
    model = qk.zoo.massive_dirac(v=v, mass=m, kcut=kcut)
    mu = np.array([-0.5, -0.25, -0.1, 0.0, 0.15, 0.3, 0.6])
    T = np.array([150.0, 300.0, 600.0])
    ds = qk.thermoelectric(model, mu=mu, T=T, mechanisms="berry", kgrid=400)
    alpha = xy(ds, "anomalous_nernst", "x", "y")
    scale = np.max(np.abs(alpha))
    for i, x in enumerate(mu):
        for j, t in enumerate(T):
            exact = dirac_nernst_closed_form(x, t, v, m, kcut)
            assert abs(alpha[i, j] - exact) <= 1e-8 * scale
            assert abs(alpha[i, j] - exact) <= xy(ds, "error_anomalous_nernst", "x", "y")[i, j] + 1e-12 * scale
    assert np.allclose(alpha, -xy(ds, "anomalous_nernst", "y", "x"), rtol=1e-12)
    assert np.allclose(alpha[mu == 0.0], 0.0, atol=1e-12 * scale)          # particle-hole odd
    # Mott limit
    T = np.array([75.0, 150.0])
    mu0 = 0.6
    low = qk.thermoelectric(model, mu=mu0, T=T, mechanisms="berry", kgrid=800, convergence=False)
    assert np.all(low.thermal_resolution.values <= 1.0)
    dsigma = units.e ** 2 * (m * units.e) / (4 * np.pi * units.hbar * (mu0 * units.e) ** 2)   # S/J
    mott = -np.pi ** 2 * (kB * units.e) ** 2 * T / (3 * units.e) * dsigma
    dev = np.abs(xy(low, "anomalous_nernst", "x", "y")[0] / mott - 1)
    assert dev[0] < 2e-3
    assert np.log(dev[1] / dev[0]) / np.log(2) == pytest.approx(2.0, abs=0.05)


def test_anomalous_thermal_hall_of_a_chern_insulator_obeys_wiedemann_franz():
    """mu in the gap of the QWZ model (C = 1 filled band), kT << gap: c2 -> pi^2/3 under the filled band, so
    K_xy = (pi^2 kB^2 / 3 e^2) T sigma_xy = -(pi^2 kB^2 T / 3h) C (exact up to exp(-gap/2kT))."""
    model = qk.zoo.qi_wu_zhang(u=-1.0)
    T = np.array([50.0, 200.0])
    ds = qk.thermoelectric(model, mu=[0.0], T=T, mechanisms="berry", kgrid=48)
    sxy = xy(ds, "anomalous_hall", "x", "y")[0]
    assert np.allclose(np.abs(sxy), units.e2_over_h, rtol=1e-9)
    K = xy(ds, "anomalous_thermal_hall", "x", "y")[0]
    assert np.allclose(K, LORENZ * T * sxy, rtol=1e-9)
    assert np.allclose(np.abs(K), np.pi ** 2 * (kB * units.e) ** 2 * T / (3 * units.h), rtol=1e-9)


def _thermal_moments(eps, sigma_eps, mu, T):
    """alpha = -(1/eT) int (-f')(eps - mu) sigma(eps), K = (1/e^2 T) int (-f')(eps - mu)^2 sigma(eps) (eV -> V)."""
    kT = kB * T
    w = minus_fprime(eps[None, :], mu[:, None], kT)
    d = eps[None, :] - mu[:, None]
    alpha = -np.trapezoid(w * d * sigma_eps[None, :], eps, axis=1) / T
    K = np.trapezoid(w * d * d * sigma_eps[None, :], eps, axis=1) / T
    return alpha, K


def test_generalized_mott_relation_from_zero_temperature_anomalous_hall():
    """alpha_xy(mu, T) and K_xy(mu, T) of the entropy and c2 forms equal the thermal moments of the T = 0
    anomalous Hall conductivity sigma_xy(eps) (conductivity(..., T=0) on a fine eps grid, trapezoid rule).
    Measured error of that route (QWZ, 480^2 k points, 3201 energies) against 960^2 and 6401: <= 2e-4 of
    max |alpha|; the library's own grid error is below 1e-9 here."""
    model = qk.zoo.qi_wu_zhang(u=-1.2)
    T = 600.0
    kT = kB * T
    mu = np.array([-1.5, -0.8, -0.3, 0.3, 1.0])
    ds = qk.thermoelectric(model, mu=mu, T=T, mechanisms="berry", kgrid=240)
    eps = np.linspace(mu.min() - 40 * kT, mu.max() + 40 * kT, 3201)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        c = qk.conductivity(model, mu=eps, T=0.0, mechanisms="anomalous_hall", kgrid=480, convergence=False)
    sig = c.anomalous_hall.sel(j="x", E1="y").values.real.ravel()
    alpha, K = _thermal_moments(eps, sig, mu, T)
    a_lib = xy(ds, "anomalous_nernst", "x", "y")[:, 0]
    K_lib = xy(ds, "anomalous_thermal_hall", "x", "y")[:, 0]
    assert np.max(np.abs(alpha - a_lib)) <= 5e-4 * np.max(np.abs(a_lib))
    assert np.max(np.abs(K - K_lib)) <= 5e-4 * np.max(np.abs(K_lib))


def test_anomalous_nernst_from_energy_resolved_kubo_conductivity():
    """Quantum check: the clean Kubo interband conductivity at T = 0 (kubo_conductivity, a sum over band pairs
    of velocity matrix elements, no Berry curvature, no entropy function) on an energy grid, integrated
    with the thermal weights -(eps - mu) f'/(eT) and (eps - mu)^2 (-f')/(e^2 T): massive Dirac (the thermal
    Hall K includes the filled valence band inside the same cutoff disc in both routes). Measured error of
    this route at 100 k points per direction and 301 energies: 2.7e-3 of max |alpha| and 7.3e-4 of max |K|
    (3e-4 and 1e-4 at 200 and 601)."""
    from qkinetics.kubo import kubo_conductivity

    model = qk.zoo.massive_dirac(v=1.0, mass=0.2, kcut=2.0)
    T = 600.0
    kT = kB * T
    mu = np.array([0.1, 0.3, 0.5])
    ds = qk.thermoelectric(model, mu=mu, T=T, mechanisms="berry", kgrid=200, convergence=False)
    eps = np.linspace(mu.min() - 20 * kT, mu.max() + 20 * kT, 301)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        kubo = kubo_conductivity(model, tau=np.inf, mu=eps, T=0.0, kgrid=100)
    alpha, K = _thermal_moments(eps, kubo.interband.sel(j="x", E1="y").values.real.ravel(), mu, T)
    a_lib = xy(ds, "anomalous_nernst", "x", "y")[:, 0]
    K_lib = xy(ds, "anomalous_thermal_hall", "x", "y")[:, 0]
    assert np.max(np.abs(alpha - a_lib)) <= 6e-3 * np.max(np.abs(a_lib))
    assert np.max(np.abs(K - K_lib)) <= 2e-3 * np.max(np.abs(K_lib))


# --------------------------------------------------------------------------- the Dataset


def test_thermoelectric_dataset_units_error_bars_and_netcdf(tmp_path):
    """The error bars (from the 48^2, 24^2 and 12^2 grids, thermal shell under-resolved on purpose) cover the
    difference from a 192^2 grid."""
    model = qk.zoo.haldane(t2=0.1, strain=0.1)
    with pytest.warns(GridResolutionWarning):
        ds = qk.thermoelectric(model, mu=[-0.6, 0.5], T=[600.0, 1200.0], tau=[1e-14, 3e-14], kgrid=48)
    assert ds.seebeck.dims == ("mu", "T", "tau", "a", "b")
    assert ds.seebeck.attrs["units"] == "V/K" and ds.kappa.attrs["units"] == "W/K"
    assert ds.anomalous_nernst.attrs["units"] == "A/K" and ds.L1.attrs["units"] == "A"
    for name in ("sigma", "alpha", "seebeck", "peltier", "kappa", "L0", "L1", "L2", "anomalous_nernst"):
        assert f"error_{name}" in ds
    # S and kappa do not depend on a constant tau when the Boltzmann terms dominate; sigma is linear in tau
    assert np.allclose(ds.L0.isel(tau=1), 3 * ds.L0.isel(tau=0), rtol=1e-12)
    fine = qk.thermoelectric(model, mu=[-0.6, 0.5], T=[600.0, 1200.0], tau=[1e-14, 3e-14], kgrid=192,
                             convergence=False)
    for name in ("seebeck", "kappa", "anomalous_nernst"):
        true_err = np.abs(ds[name] - fine[name])
        assert np.all(true_err <= ds[f"error_{name}"] + 1e-12 * np.abs(fine[name]).max()), name
    path = tmp_path / "te.nc"
    qk.write_netcdf(ds, path)
    back = qk.read_netcdf(path)
    assert np.allclose(back.seebeck, ds.seebeck) and back.attrs["conventions"] == ds.attrs["conventions"]


def test_thermoelectric_bad_input():
    model = qk.zoo.massive_dirac()
    with pytest.raises(ModelError, match="T > 0"):
        qk.thermoelectric(model, T=0.0, kgrid=8)
    with pytest.raises(ModelError, match="tau must be positive"):
        qk.thermoelectric(model, tau=-1.0, kgrid=8)
    with pytest.raises(ModelError, match="mechanism group"):
        qk.thermoelectric(model, mechanisms="drude", kgrid=8)
    with pytest.raises(ModelError, match="mu must be"):
        qk.thermoelectric(model, mu=np.nan, kgrid=8)


def test_singular_conductivity_gives_nan_seebeck():
    """A trivial insulator at low T: sigma ~ 0 (singular), so S, Pi and kappa are NaN, not garbage."""
    model = qk.zoo.massive_dirac(mass=0.5, kcut=2.0)
    ds = qk.thermoelectric(model, mu=[0.0], T=[30.0], mechanisms="boltzmann", kgrid=40, convergence=False)
    assert np.all(np.isnan(ds.seebeck)) and np.all(np.isnan(ds.kappa))


def test_mechanisms_pickle_and_one_level_assembly_and_3d_units():
    """Process executors pickle the mechanisms; a resumable run can assemble from its own band integrals
    (one coarse level: the weaker error form); 3D units."""
    import pickle

    from qkinetics.integrate import KGrid, integrate_mechanisms
    from qkinetics.thermoelectric import assemble_dataset, thermal_mechanisms

    mechs = thermal_mechanisms("all")
    assert [m.name for m in pickle.loads(pickle.dumps(mechs))] == [m.name for m in mechs]
    model = qk.zoo.weyl_semimetal()
    grid = KGrid(model, 12)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        fine = integrate_mechanisms(model, mechs, grid, [0.3], [1500.0])
        coarse = integrate_mechanisms(model, mechs, grid.coarsened(model), [0.3], [1500.0])
        ds = assemble_dataset(model, mechs, grid, 0.3, 1500.0, 1e-14, fine, coarse)
        direct = qk.thermoelectric(model, mu=0.3, T=1500.0, tau=1e-14, kgrid=12, convergence=False)
    assert np.allclose(ds.kappa, direct.kappa, rtol=1e-12)
    # one-level bar: 2 |fine - coarse| (1 + w(r)), w = 1 for this under-resolved grid (r > 2)
    coarse_ds = assemble_dataset(model, mechs, grid.coarsened(model), 0.3, 1500.0, 1e-14, coarse)
    assert ds.thermal_resolution.item() > 2
    bar = ds.error_seebeck.sel(a="x", b="x").item()
    assert bar == pytest.approx(4 * abs(ds.seebeck.sel(a="x", b="x").item() - coarse_ds.seebeck.sel(a="x", b="x")
                                        .item()), rel=1e-12)
    assert "one-level" in ds.error_seebeck.attrs["description"]
    assert ds.anomalous_nernst.attrs["units"] == "A/(m K)" and ds.kappa.attrs["units"] == "W/(m K)"
    assert ds.seebeck.shape == (1, 1, 1, 3, 3)
    assert np.allclose(ds.anomalous_nernst, -np.swapaxes(ds.anomalous_nernst.values, -1, -2))


def test_plot_thermoelectric(tmp_path):
    import matplotlib

    matplotlib.use("Agg")
    model = qk.zoo.massive_dirac(mass=0.2, kcut=1.0)
    ds = qk.thermoelectric(model, mu=np.linspace(0.25, 0.5, 6), T=[600.0, 900.0], kgrid=60)
    ax = qk.plot.thermoelectric(ds, "seebeck", "xx")
    lines = ax.get_lines()
    assert len([ln for ln in lines if ln.get_label().startswith("T = ")]) == 2
    assert np.allclose(lines[0].get_ydata(), 1e6 * xy(ds, "seebeck")[:, 0])          # drawn in uV/K
    path = tmp_path / "nernst.png"
    qk.plot.thermoelectric(ds, "anomalous_nernst", "xy", path=path)
    assert path.stat().st_size > 0 and not list(tmp_path.glob(".*.tmp"))
    with pytest.raises(ValueError, match="component"):
        qk.plot.thermoelectric(ds, "seebeck", "xz")
    with pytest.raises(ValueError, match="no variable"):
        qk.plot.thermoelectric(ds, "thermopower")
    with pytest.raises(ValueError, match="plot.thermoelectric"):
        qk.plot.response(ds)
