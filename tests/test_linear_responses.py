"""Linear responses: Drude, anomalous Hall (Fermi sea and Fermi surface), field-gradient terms.

Expected values come from closed forms derived here (by hand or with sympy, from the d-vector of
two-band models, never from the library's sum-over-states geometry), from exact identities
(Chern numbers, time reversal, charge conservation), and from independent quantum routes (a
direct finite-q Kubo sum and the exact finite-q Boltzmann solution). Integrals are done with the
small grid sums defined below (the library's integrator is tested elsewhere).
"""

import functools
import math

import numpy as np
import pytest
import sympy as sp
from conftest import random_tight_binding
from scipy import integrate as sint

import qkinetics as qk
from qkinetics import units
from qkinetics.responses import linear as L
from qkinetics.responses.mechanism import Mechanism
from qkinetics.integrate import polar_grid

E2H = units.e2_over_h
E2HBAR = units.e ** 2 / units.hbar
HBAR_EV = units.hbar_eVs


# --------------------------------------------------------------------------- grid helpers


def fermi_derivative(e, mu, kT, p):
    """p-th energy derivative of the Fermi-Dirac function (eV^-p), analytic in terms of f."""
    if kT == 0:
        if p:
            raise ValueError("f^(p>0) at T = 0 is a distribution; use kT > 0")
        return (e < mu).astype(float)
    f = 0.5 * (1.0 - np.tanh((e - mu) / (2.0 * kT)))
    g = f * (1.0 - f)
    return {0: f, 1: -g / kT, 2: g * (1 - 2 * f) / kT ** 2, 3: -g * (1 - 6 * f + 6 * f * f) / kT ** 3}[p]


def mp_grid(model, n):
    """Monkhorst-Pack grid over the BZ of a lattice model: k (Cartesian) and weights (1/A^d)."""
    d = model.dim
    s = (np.arange(n) + 0.5) / n
    kr = np.stack(np.meshgrid(*([s] * d), indexing="ij"), axis=-1).reshape(-1, d)
    w = abs(np.linalg.det(model.reciprocal)) / (n ** d * (2 * np.pi) ** d)
    return model.k_from_reduced(kr), np.full(len(kr), w)


def square_grid(kc, n):
    """Uniform square grid (2D) restricted to |k| < kc; weights h^2/(2 pi)^2."""
    h = 2 * kc / n
    x = -kc + h * (np.arange(n) + 0.5)
    k = np.stack(np.meshgrid(x, x, indexing="ij"), axis=-1).reshape(-1, 2)
    k = k[np.linalg.norm(k, axis=1) < kc]
    return k, np.full(len(k), h * h / (2 * np.pi) ** 2)


def band_integral(mech, model, k, w, mus, kT, geo=None):
    """I(mu) = sum_k w_k sum_n sum_p f^(p)(eps_nk - mu) X^(p)_n(k), shape (len(mus), *tensor)."""
    if geo is None:
        geo = qk.band_geometry(model, k, derivatives=mech.needs_derivatives, keep_eigenvectors=True)
    X = mech.integrand(geo)
    mus = np.atleast_1d(mus)
    out = 0
    for p, Xp in X.items():
        F = np.stack([fermi_derivative(geo.energies, mu, kT, p) for mu in mus])      # (M, B, N)
        out = out + np.einsum("k,mkn,kn...->m...", w, F, Xp)
    return out


def conductivity(mech, model, k, w, mus, kT, tau=1e-14, omega=0.0, geo=None):
    """SI response: prefactor x band integral."""
    return mech.prefactor(model.dim, tau, omega, "linear") * band_integral(mech, model, k, w, mus, kT, geo)


# --------------------------------------------------------------------------- sympy closed forms (d-vector)


@functools.lru_cache(maxsize=None)
def dirac_sym():
    """Massive Dirac H = v k.sigma + m sigma_z: lower-band Berry curvature and the metric from d-hat.

    Omega_lower = (1/2) d^.(d_x d^ x d_y d^) (A = i<u|du>, conftest.solid_angle_chern), and
    g_ab = (1/4) d_a d^ . d_b d^ (same for both bands); no eigenvectors involved.
    """
    kx, ky, v, m = sp.symbols("kx ky v m", real=True)
    d = sp.Matrix([v * kx, v * ky, m])
    n = d / sp.sqrt(d.dot(d))
    nx, ny = n.diff(kx), n.diff(ky)
    omega = sp.simplify(n.dot(nx.cross(ny)) / 2)
    K = (kx, ky)
    g = [[sp.simplify(n.diff(K[a]).dot(n.diff(K[b])) / 4) for b in range(2)] for a in range(2)]
    return (kx, ky, v, m), omega, g


# --------------------------------------------------------------------------- mechanism interface


def test_registry_and_interface():
    names = [m.name for m in L.LINEAR_MECHANISMS]
    assert names[:3] == ["drude", "anomalous_hall", "anomalous_hall_fermi_surface"]
    assert {"field_gradient", "field_gradient_drude", "field_gradient_clean"} <= set(names)
    for m in L.LINEAR_MECHANISMS:
        assert isinstance(m, Mechanism) and m.order == 1 and m.formula and m.reference and m.assumptions
        assert m.tensor_rank in (2, 3) and L.MECHANISMS[m.name] is m
        with pytest.raises(ValueError, match="channels"):
            m.prefactor(2, 1e-14, 0.0, "rectified")
        with pytest.raises(ValueError, match="dim"):
            m.prefactor(4, 1e-14, 0.0, "linear")
    assert [m.tau_power for m in (L.drude, L.anomalous_hall, L.field_gradient_drude, L.field_gradient,
                                  L.field_gradient_clean, L.field_gradient_magnetization)] == [1, 0, 2, 0, 0, 1]
    assert L.units_of("drude", 2) == "S" and L.units_of("drude", 3) == "S/m"
    assert L.units_of("field_gradient", 2) == "S m" and L.units_of("anomalous_hall_fermi_surface", 2) == "S/eV"
    # omega convention: 1/(1/tau - i omega); clean limit i/omega
    assert L.relaxation_factor(2e-14, 1e14) == pytest.approx(2e-14 / (1 - 2j))
    assert L.relaxation_factor(np.inf, 1e14) == pytest.approx(1e-14j)


def test_clean_mechanisms_need_eigenvectors_and_nondegenerate_bands():
    m = qk.zoo.massive_dirac()
    geo = qk.band_geometry(m, [[0.3, 0.1]], derivatives=True)
    with pytest.raises(ValueError, match="keep_eigenvectors"):
        L.field_gradient_clean.integrand(geo)
    km = qk.zoo.kane_mele()                                     # lambda_R = 0: Kramers-degenerate bands
    geo = qk.band_geometry(km, km.k_from_reduced([[0.1, 0.2]]), keep_eigenvectors=True)
    with pytest.raises(ValueError, match="degenerate"):
        L.field_gradient_clean.integrand(geo)


# --------------------------------------------------------------------------- Drude


def test_drude_parabolic_band_n_e2_tau_over_m():
    """sigma_xx = n e^2 tau/m* / (1 - i omega tau) for eps = hbar^2 k^2/2m* (c = hbar^2/2m*)."""
    c, mu, kT, tau = 3.81, 0.5, 0.01, 2e-14
    kx, ky = sp.symbols("kx ky", real=True)
    model = qk.Continuum(sp.Matrix([[c * (kx ** 2 + ky ** 2)]]), kcut=1.5, name="parabola")
    kF = math.sqrt(mu / c)
    k, w = polar_grid(1.5, nth=16, refine=[kF], width=0.05, fine=0.002)
    n_si = kF ** 2 / (4 * math.pi) * 1e20                                # per m^2 (one spin), T -> 0
    m_star = units.hbar ** 2 / (2 * c * units.e * 1e-20)                 # kg
    for omega in (0.0, 3e13):
        s = conductivity(L.drude, model, k, w, mu, kT, tau=tau, omega=omega)[0]
        expected = n_si * units.e ** 2 * tau / m_star / (1 - 1j * omega * tau)
        assert s[0, 0] == pytest.approx(expected, rel=1e-6)
        assert s[1, 1] == pytest.approx(expected, rel=1e-6)
        assert abs(s[0, 1]) < 1e-9 * abs(expected)


def test_drude_massive_dirac_upper_band():
    """sum int f' v_x v_x = -k_F v_F/(4 pi) = -(mu^2 - m^2)/(4 pi mu) for the upper Dirac band."""
    v, m, mu, kT, tau = 1.3, 0.4, 0.9, 2e-3, 1e-14
    model = qk.zoo.massive_dirac(v=v, mass=m, kcut=4.0)
    kF = math.sqrt(mu ** 2 - m ** 2) / v
    k, w = polar_grid(4.0, nth=16, refine=[kF], width=0.03, fine=0.001)
    s = conductivity(L.drude, model, k, w, mu, kT, tau=tau)[0]
    expected = E2HBAR * tau / HBAR_EV * (mu ** 2 - m ** 2) / (4 * math.pi * mu)
    assert s[0, 0].real == pytest.approx(expected, rel=1e-4)
    assert abs(s[0, 1]) < 1e-9 * expected


# --------------------------------------------------------------------------- anomalous Hall, massive Dirac


def _dirac_hall_T0(mu, m, v, kc):
    """T = 0 closed form from sympy: -(e^2/h) int_0^kc k dk [f(eps_-) - f(eps_+)] Omega_-."""
    (kx, ky, vs, ms), omega, _ = dirac_sym()
    kk, K = sp.symbols("k K", positive=True)
    om = sp.simplify(omega.subs({kx: kk, ky: 0}))                         # isotropic
    vals = {vs: sp.nsimplify(v), ms: sp.nsimplify(m)}
    assert sp.simplify(om - ms * vs ** 2 / (2 * (vs ** 2 * kk ** 2 + ms ** 2) ** sp.Rational(3, 2))) == 0
    prim = sp.integrate((kk * om).subs(vals), (kk, 0, K))                  # (m/2)(1/|m| - 1/E(K))
    Ecut = math.sqrt(v ** 2 * kc ** 2 + m ** 2)
    kF = math.sqrt(max(mu ** 2 - m ** 2, 0)) / v
    if abs(mu) <= abs(m):
        flux = float(prim.subs(K, kc))
    elif mu > 0:                                       # lower band full, upper band filled for k < kF
        flux = float(prim.subs(K, kc)) - float(prim.subs(K, kF))
    else:                                              # lower band filled only for k > kF
        flux = float(prim.subs(K, kc)) - float(prim.subs(K, kF))
    # by hand: -(e^2/h)(m/2)(1/max(|mu|,|m|) - 1/E_c)
    assert flux == pytest.approx((m / 2) * (1 / max(abs(mu), abs(m)) - 1 / Ecut), rel=1e-10)
    return -E2H * flux


@pytest.mark.parametrize("mu", [0.0, 0.3, 0.8, 1.5, -0.8, -1.5])
def test_anomalous_hall_massive_dirac_vs_mu(mu):
    v, m, kc = 1.0, 0.5, 5.0
    model = qk.zoo.massive_dirac(v=v, mass=m, kcut=kc)
    kT = 1e-3
    kF = math.sqrt(max(mu ** 2 - m ** 2, 0.0)) / v
    k, w = polar_grid(kc, nth=8, refine=[kF] if kF else [], width=0.02, fine=0.0005)
    s = conductivity(L.anomalous_hall, model, k, w, mu, kT)[0]
    expected = _dirac_hall_T0(mu, m, v, kc)
    assert s[0, 1].real == pytest.approx(expected, rel=2e-5)
    assert s[1, 0].real == pytest.approx(-expected, rel=2e-5)
    assert abs(s[0, 0]) < 1e-12 * E2H
    if abs(mu) < abs(m):                              # in the gap: -(e^2/h) sign(m)/2 up to the cutoff
        assert s[0, 1].real == pytest.approx(-E2H * 0.5 * np.sign(m) * (1 - abs(m) / math.hypot(v * kc, m)),
                                             rel=1e-8)


def test_anomalous_hall_massive_dirac_finite_T_square_grid():
    """Finite T: sigma = -(e^2/h)(m/2) int_|m|^Ec dE [f(-E) - f(E)]/E^2 (k dk = E dE/v^2)."""
    v, m, kc, kT = 1.0, -0.5, 3.0, 0.05
    model = qk.zoo.massive_dirac(v=v, mass=m, kcut=kc)
    k, w = square_grid(kc, 500)
    mus = [0.2, 0.7, -1.1]
    s = conductivity(L.anomalous_hall, model, k, w, mus, kT)[:, 0, 1].real
    Ec = math.hypot(v * kc, m)
    for mu, val in zip(mus, s):
        f = lambda E: fermi_derivative(np.array(E), mu, kT, 0)
        integral, _ = sint.quad(lambda E: (f(-E) - f(E)) / E ** 2, abs(m), Ec, epsabs=1e-13, limit=200)
        assert val == pytest.approx(-E2H * (m / 2) * integral, rel=2e-3)


# --------------------------------------------------------------------------- anomalous Hall, lattice models


@pytest.mark.parametrize("mass", [0.0, 0.3, 1.3])
def test_haldane_chern_insulator_quantized(mass):
    model = qk.zoo.haldane(t1=1.0, t2=0.15, phi=np.pi / 2, mass=mass)
    C = qk.chern_number(model, [0])
    k, w = mp_grid(model, 90)
    s = conductivity(L.anomalous_hall, model, k, w, 0.0, 0.01)[0]
    assert s[0, 1].real == pytest.approx(L.chern_gap_conductivity(C), abs=1e-6 * E2H)
    assert s[0, 1].real == pytest.approx(-E2H * C, abs=1e-6 * E2H)
    assert s[1, 0].real == pytest.approx(E2H * C, abs=1e-6 * E2H)
    assert (C != 0) == (mass < 3 * math.sqrt(3) * 0.15)


def test_kane_mele_time_reversal_no_hall():
    model = qk.zoo.kane_mele(lambda_so=0.06, lambda_r=0.05, lambda_v=0.1)
    k, w = mp_grid(model, 30)
    mus = [-2.0, -0.5, 0.0, 0.4, 1.5]
    s = conductivity(L.anomalous_hall, model, k, w, mus, 0.05)
    ds = conductivity(L.anomalous_hall_fermi_surface, model, k, w, mus, 0.05)
    assert np.abs(s).max() < 1e-12 * E2H
    assert np.abs(ds).max() < 1e-12 * E2H
    # each spin-polarized Haldane-like band does carry curvature: the zero is a cancellation
    geo = qk.band_geometry(model, k)
    assert np.abs(geo.berry_curvature[:, 0, 0, 1]).max() > 1e-2


# --------------------------------------------------------------------------- Fermi sea = Fermi surface


def test_fermi_surface_route_equals_sea_massive_dirac():
    v, m, kc, kT = 1.0, 0.5, 5.0, 0.03
    model = qk.zoo.massive_dirac(v=v, mass=m, kcut=kc)
    k, w = polar_grid(kc, nth=4, refine=[0.9], width=0.9, fine=0.01, order=6)
    mus = np.linspace(-1.4, 1.4, 701)
    sea = conductivity(L.anomalous_hall, model, k, w, mus, kT).real
    dsdmu = conductivity(L.anomalous_hall_fermi_surface, model, k, w, mus, kT).real
    ref = _dirac_hall_T0(0.0, m, v, kc)                     # gap value (kT << |m|)
    fs = L.anomalous_hall_from_fermi_surface(mus, dsdmu, mu_ref=0.0, sigma_ref=np.array([[0, ref], [-ref, 0]]))
    assert np.abs(fs - sea).max() < 1e-4 * abs(ref)
    # T -> 0 structure of the derivative: (e^2/h)(m/2)/mu^2 in the upper band
    # (Sommerfeld: d sigma/d mu(T) = s'(mu) + (pi kT)^2/6 s'''(mu), s'(mu) = (m/2)/mu^2 for T = 0)
    i = np.argmin(abs(mus - 1.2))
    expected = E2H * (m / 2) / mus[i] ** 2 * (1 + (np.pi * kT / mus[i]) ** 2)
    assert dsdmu[i, 0, 1] == pytest.approx(expected, rel=2e-4)


def test_fermi_surface_route_equals_sea_haldane():
    model = qk.zoo.haldane(t1=1.0, t2=0.15, phi=np.pi / 2, mass=0.2)
    C = qk.chern_number(model, [0])
    k, w = mp_grid(model, 60)
    kT = 0.05
    mus = np.linspace(0.0, 2.0, 801)                        # from mid-gap through the upper band
    sea = conductivity(L.anomalous_hall, model, k, w, mus, kT)[:, 0, 1].real
    ds = conductivity(L.anomalous_hall_fermi_surface, model, k, w, mus, kT)[:, 0, 1].real
    fs = L.anomalous_hall_from_fermi_surface(mus, ds, mu_ref=0.0, sigma_ref=L.chern_gap_conductivity(C))
    assert abs(sea[0] - L.chern_gap_conductivity(C)) < 1e-5 * E2H     # thermal tail exp(-gap/2kT)
    assert np.abs(fs - sea).max() < 2e-4 * E2H
    assert np.ptp(sea) > 0.3 * E2H                            # the metal really is not quantized
    with pytest.raises(ValueError, match="grid"):
        L.anomalous_hall_from_fermi_surface(mus, ds, mu_ref=0.00123)


# --------------------------------------------------------------------------- field gradient: tau^2 term


def _band_1d(c, b, kcut):
    kx = sp.symbols("kx", real=True)
    return qk.Continuum(sp.Matrix([[c * kx ** 2 + b * kx ** 3]]), dim=1, kcut=kcut, name="cubic")


def _line(kcut, n):
    h = 2 * kcut / n
    k = (-kcut + h * (np.arange(n) + 0.5))[:, None]
    return k, np.full(n, h / (2 * np.pi))


def test_gradient_drude_against_exact_finite_q_boltzmann():
    """Exact RTA Boltzmann at finite q, sigma(q) = -e^2 int dk/2pi f'_J v^2/(1/tau - i omega + i q v),
    against drude + q * field_gradient_drude (signs, omega convention and SI units of both)."""
    c, b, mu, kT, kc = 1.0, 0.3, 0.5, 0.02, 3.0
    model = _band_1d(c, b, kc)
    k, w = _line(kc, 60000)
    tau, omega = 5e-14, 8e12
    e = c * k[:, 0] ** 2 + b * k[:, 0] ** 3
    v_si = (2 * c * k[:, 0] + 3 * b * k[:, 0] ** 2) * 1e-10 / HBAR_EV          # m/s
    fp_J = fermi_derivative(e, mu, kT, 1) / units.e                             # 1/J
    wk = w * 1e10                                                               # dk/2pi in 1/m

    def exact(q):
        return -units.e ** 2 * np.sum(wk * fp_J * v_si ** 2 / (1 / tau - 1j * omega + 1j * q * v_si))

    q = 2e5                                                                      # 1/m: q v tau ~ 1e-2
    s0 = conductivity(L.drude, model, k, w, mu, kT, tau, omega)[0, 0, 0]
    s1 = conductivity(L.field_gradient_drude, model, k, w, mu, kT, tau, omega)[0, 0, 0, 0]
    assert s0 == pytest.approx(0.5 * (exact(q) + exact(-q)), rel=1e-3)          # O(q^2) even part
    assert s1 == pytest.approx((exact(q) - exact(-q)) / (2 * q), rel=1e-3)
    assert abs(s1.imag) > 0.1 * abs(s1)                                          # genuinely complex at omega tau ~ 0.4


def test_gradient_drude_closed_forms():
    """T -> 0: int dk/2pi f' v^3 = -(1/2pi) sum_FS v^2 sign(v) (f' = -delta, dk = d eps/|v|).

    Parabola eps = c k^2 + w k: |v| equal at both Fermi points, the tau^2 term vanishes (it does
    for any parabolic band). Cubic band c k^2 + b k^3: -(v_R^2 - v_L^2)/(2 pi)."""
    kT, mu, kc = 2e-3, 0.5, 3.0
    k, w = _line(kc, 200000)
    kx = sp.symbols("kx", real=True)
    for c, b, lin in ((1.0, 0.0, 0.4), (1.0, 0.3, 0.0)):
        eps = c * kx ** 2 + b * kx ** 3 + lin * kx
        model = qk.Continuum(sp.Matrix([[eps]]), dim=1, kcut=kc)
        roots = sorted(float(r) for r in sp.Poly(eps - mu, kx).nroots() if abs(sp.im(r)) < 1e-12
                       and abs(float(sp.re(r))) < kc)
        assert len(roots) == 2
        vel = sp.lambdify(kx, sp.diff(eps, kx))
        closed = -(vel(roots[1]) ** 2 - vel(roots[0]) ** 2) / (2 * np.pi)
        I = band_integral(L.field_gradient_drude, model, k, w, mu, kT)[0, 0, 0, 0]
        assert I == pytest.approx(closed, abs=1e-4 * max(1.0, abs(closed)))
        if b == 0:
            assert abs(I) < 1e-6


# --------------------------------------------------------------------------- field gradient: tau^0 terms


GRADIENT_TAU0 = (L.field_gradient, L.field_gradient_clean, L.field_gradient_lapa_hughes)
GRADIENT_ALL = GRADIENT_TAU0 + (L.field_gradient_drude, L.field_gradient_magnetization)


def test_field_gradient_symmetry_massive_dirac():
    """No tilt: inversion sigma_z H(-k) sigma_z = H(k) kills every O(q) tensor. Tilt along x:
    H(kx, -ky) = H(kx, ky)^* (antiunitary mirror) kills components with an odd number of y indices."""
    k, w = polar_grid(4.0, nth=48, refine=[0.9], width=0.3, fine=0.01, order=6)
    ref = {}
    for tilt in (0.3, 0.0):
        model = qk.zoo.massive_dirac(v=1.0, mass=0.5, tilt=tilt, kcut=4.0)
        geo = qk.band_geometry(model, k, derivatives=True, keep_eigenvectors=True)
        for mech in GRADIENT_ALL:
            s = conductivity(mech, model, k, w, 1.0, 0.05, tau=1e-14, geo=geo)[0]
            scale = np.abs(s).max()
            # M^{ab} (orbital moment) is odd under the conjugation, so the magnetization term has
            # the opposite pattern: an odd number of y indices survives
            parity = 1 if mech is L.field_gradient_magnetization else 0
            nonzero = np.zeros((2, 2, 2), bool)
            for idx in np.ndindex(2, 2, 2):
                if tilt and sum(idx) % 2 == parity:
                    nonzero[idx] = True
            if tilt:
                ref[mech.name] = scale
                assert scale > 0, mech.name
                assert np.abs(s[~nonzero]).max() < 1e-10 * scale, mech.name
                big = (1, 0, 0) if parity else (0, 0, 0)
                assert abs(s[big]) > 1e-3 * scale, mech.name
            else:
                assert scale < 1e-10 * ref[mech.name], mech.name
    # the talk's and Lapa-Hughes' tensors are symmetric in (alpha, beta); the talk's fully symmetric
    model = qk.zoo.massive_dirac(v=1.0, mass=0.5, tilt=0.2, tilt_y=0.1, kcut=4.0)
    geo = qk.band_geometry(model, k, derivatives=True, keep_eigenvectors=True)
    t = band_integral(L.field_gradient, model, k, w, 1.0, 0.05, geo)[0]
    assert np.allclose(t, t.transpose(1, 0, 2)) and np.allclose(t, t.transpose(0, 2, 1))
    c = band_integral(L.field_gradient_clean, model, k, w, 1.0, 0.05, geo)[0]
    assert np.allclose(c, c.transpose(0, 2, 1)) and not np.allclose(c, c.transpose(1, 0, 2))


def _tilted_dirac_first_order(variant, comp, v=1.0, m=0.5, mu=1.0, kc=5.0):
    """d I/d w at w = 0 (T = 0, mu in the upper band) of I = sum_s int_disk [Theta(mu - eps_s) X0_s
    - delta(mu - eps_s) X1_s] for H = w kx + v k.sigma + m sigma_z, from the d-vector metric (sympy).

    eps_s = w kx + s E, v_s = w x + s v^2 k/E, G_s = s g/E; the pocket k < kF(theta, w) moves with
    dkF/dw = -mu cos(theta)/v^2; the Fermi-surface term is int dtheta k X1/|d_k eps| at kF(theta, w).
    """
    (kx, ky, vs, ms), _, g = dirac_sym()
    w, kk, th = sp.symbols("w k theta", real=True)
    vals = {vs: v, ms: m}
    K = (kx, ky)
    E = sp.sqrt(v ** 2 * (kx ** 2 + ky ** 2) + m ** 2)
    g = [[g[a][b].subs(vals) for b in range(2)] for a in range(2)]
    dg = [[[sp.diff(g[a][b], K[c]) for c in range(2)] for b in range(2)] for a in range(2)]   # d_c g_ab

    def X(s):
        vel = [w * (1 - i) + s * v ** 2 * K[i] / E for i in range(2)]
        G = [[s * g[i][j] / E for j in range(2)] for i in range(2)]
        i, a, b = comp
        if variant == "talk":      # S3[d g] + S3[v G]
            x0 = dg[a][b][i] + dg[b][i][a] + dg[i][a][b] + vel[i] * G[a][b] + vel[a] * G[b][i] + vel[b] * G[i][a]
            return x0, 0
        # clean: sym_ab [calG^{i;ab} - calG^{b;ia}], calG^{c;ab}_s = (2 w delta_cx) g_ab/(2 s E); X1 = sym v^b g^{ia}
        cal = lambda cc, p, r: s * w * (1 - cc) * g[p][r] / E
        x0 = cal(i, a, b) - (cal(b, i, a) + cal(a, i, b)) / 2
        x1 = (vel[b] * g[i][a] + vel[a] * g[i][b]) / 2
        return x0, x1

    polar = {kx: kk * sp.cos(th), ky: kk * sp.sin(th)}
    kF0 = math.sqrt(mu ** 2 - m ** 2) / v
    dkF = -mu * sp.cos(th) / v ** 2
    (x0p, x1p), (x0m, _) = X(1), X(-1)
    f = lambda e: sp.lambdify((kk, th), e.subs(polar), "numpy")
    lower = f(sp.diff(x0m, w).subs(w, 0) * kk)
    upper = f(sp.diff(x0p, w).subs(w, 0) * kk)
    boundary = f((x0p.subs(w, 0) * kk * dkF))
    Ep = sp.sqrt(v ** 2 * kk ** 2 + m ** 2)
    h = (kk * x1p.subs(polar) / (w * sp.cos(th) + v ** 2 * kk / Ep)) if variant == "clean" else sp.Integer(0)
    dh = sp.lambdify((kk, th), (sp.diff(h, w) + sp.diff(h, kk) * dkF).subs(w, 0), "numpy")

    nth = 256
    tt = (np.arange(nth) + 0.5) * 2 * np.pi / nth
    x, wx = np.polynomial.legendre.leggauss(40)

    def radial(fun, a, b, panels):
        edges = np.linspace(a, b, panels + 1)
        r = ((edges[1:, None] - edges[:-1, None]) / 2 * x + (edges[1:, None] + edges[:-1, None]) / 2).ravel()
        wr = ((edges[1:, None] - edges[:-1, None]) / 2 * wx).ravel()
        R, T = np.meshgrid(r, tt, indexing="ij")
        return np.sum(wr[:, None] * np.broadcast_to(fun(R, T), R.shape)) * 2 * np.pi / nth

    total = radial(lower, 0, kc, 20) + radial(upper, 0, kF0, 4)
    total += np.sum(np.broadcast_to(boundary(kF0, tt), tt.shape)) * 2 * np.pi / nth
    total -= np.sum(np.broadcast_to(dh(kF0, tt), tt.shape)) * 2 * np.pi / nth
    return total / (2 * np.pi) ** 2


@pytest.mark.parametrize("variant", ["talk", "clean"])
def test_field_gradient_tilted_dirac_closed_form(variant):
    mech = {"talk": L.field_gradient, "clean": L.field_gradient_clean}[variant]
    mu, kc, dw = 1.0, 5.0, 0.01
    kF = math.sqrt(mu ** 2 - 0.25)
    k, wts = polar_grid(kc, nth=96, refine=[kF], width=0.03, fine=0.001, coarse=0.1, order=8)
    I = {s: band_integral(mech, qk.zoo.massive_dirac(v=1.0, mass=0.5, tilt=s * dw, kcut=kc), k, wts, mu, 2e-3)[0]
         for s in (1, -1)}
    deriv = (I[1] - I[-1]) / (2 * dw)                       # these components are odd in w: O(w^2) error
    for comp in [(0, 0, 0), (0, 1, 1), (1, 0, 1)]:
        closed = _tilted_dirac_first_order(variant, comp, mu=mu, kc=kc)
        assert deriv[comp] == pytest.approx(closed, rel=1e-3), (variant, comp)
    assert abs(deriv[0, 0, 0]) > 1e-3


# --------------------------------------------------------------------------- clean limit vs Kubo


def _kubo_interband_static(model, k, w, q, mu, kT):
    """Direct Kubo sum for the current response to U e^{i q.x} at omega = 0, interband pairs only:
    sum_k sum_{n != m} <n,k-q/2|J|m,k+q/2><m,k+q/2|n,k-q/2> (f_n - f_m)/(eps_n - eps_m), J = dH(k)."""
    H1, dH1 = model.hamiltonian(k - q / 2, 1)
    H2, dH2 = model.hamiltonian(k + q / 2, 1)
    e1, U1 = np.linalg.eigh(H1)
    e2, U2 = np.linalg.eigh(H2)
    J = 0.5 * (dH1 + dH2)
    Jnm = np.einsum("bin,bdij,bjm->bdnm", U1.conj(), J, U2)
    O = np.einsum("bim,bin->bmn", U2.conj(), U1)
    f1, f2 = fermi_derivative(e1, mu, kT, 0), fermi_derivative(e2, mu, kT, 0)
    off = ~np.eye(e1.shape[1], dtype=bool)[None]
    den = np.where(off, e1[:, :, None] - e2[:, None, :], 1.0)
    R = np.where(off, (f1[:, :, None] - f2[:, None, :]) / den, 0.0)
    return np.einsum("b,bdnm,bmn,bnm->d", w, Jnm, O, R)


def _kubo_intraband(model, k, w, q, mu, kT, hw):
    H1, dH1 = model.hamiltonian(k - q / 2, 1)
    H2, dH2 = model.hamiltonian(k + q / 2, 1)
    e1, U1 = np.linalg.eigh(H1)
    e2, U2 = np.linalg.eigh(H2)
    Jnn = np.einsum("bin,bdij,bjn->bdn", U1.conj(), 0.5 * (dH1 + dH2), U2)
    O = np.einsum("bin,bin->bn", U2.conj(), U1)
    df = fermi_derivative(e1, mu, kT, 0) - fermi_derivative(e2, mu, kT, 0)
    return np.einsum("b,bdn,bn,bn->d", w, Jnn, O, df / (hw + e1 - e2))


def test_field_gradient_clean_limit_matches_kubo():
    """O(q^2) part of the Kubo current, sigma_{mu ab} q_a q_b = (i e^2/hbar) K_even(q), for a random
    3-band lattice model (no symmetry): omega^0 (interband, static) = field_gradient_clean;
    1/omega^2 and 1/omega (intraband) = field_gradient_drude and field_gradient_magnetization at tau = inf."""
    model = random_tight_binding(2, 3, seed=0)                  # direct gaps >= 0.75 eV (q v << gap)
    k, w = mp_grid(model, 40)
    mu, kT, dq = 0.5, 0.15, 1e-3
    c = band_integral(L.field_gradient_clean, model, k, w, mu, kT)[0]
    dr = band_integral(L.field_gradient_drude, model, k, w, mu, kT)[0]
    mg = band_integral(L.field_gradient_magnetization, model, k, w, mu, kT)[0]
    hw = 0.4
    for th in (0.0, 1.1):
        qh = np.array([np.cos(th), np.sin(th)])
        even = 0.5 * (_kubo_interband_static(model, k, w, dq * qh, mu, kT)
                      + _kubo_interband_static(model, k, w, -dq * qh, mu, kT)) / dq ** 2
        assert np.allclose(even.real, np.einsum("ijl,j,l->i", c, qh, qh), rtol=1e-4, atol=1e-6)
        intra = 0.5 * (_kubo_intraband(model, k, w, dq * qh, mu, kT, hw)
                       + _kubo_intraband(model, k, w, -dq * qh, mu, kT, hw)) / dq ** 2
        pred = (-np.einsum("ijl,j,l->i", dr, qh, qh) / hw ** 2 - 1j * np.einsum("ijl,j,l->i", mg, qh, qh) / hw)
        assert np.allclose(intra, pred, rtol=2e-3, atol=1e-5)
    # SI prefactors consistent with that Kubo normalization: sigma = (i e^2/hbar) K_SI, omega = hw/hbar
    om = hw / HBAR_EV
    assert L.field_gradient_clean.prefactor(2, np.inf, om) == pytest.approx(1j * E2HBAR * 1e-10)
    assert L.field_gradient_drude.prefactor(2, np.inf, om) * dr[0, 0, 0] == pytest.approx(
        1j * E2HBAR * 1e-10 * (-dr[0, 0, 0] / hw ** 2))
    assert L.field_gradient_magnetization.prefactor(2, np.inf, om) == pytest.approx(
        1j * E2HBAR * 1e-10 * (-1j / hw))


def test_field_gradient_charge_conservation_in_insulators():
    """A band insulator carries no longitudinal O(q) current (q.j = omega rho with rho finite): the
    clean and Lapa-Hughes terms vanish for filled bands; the talk's term (as read, T = G) does not."""
    for norb, seed, scale in ((2, 0, 1.0), (3, 4, 0.5)):
        model = random_tight_binding(2, norb, seed=seed, scale=scale)
        k, w = mp_grid(model, 40)
        e = model.bands(k)
        assert e[:, 1].min() - e[:, 0].max() > 0.5                 # lowest band isolated: an insulator
        mu_gap = 0.5 * (e[:, 0].max() + e[:, 1].min())
        geo = qk.band_geometry(model, k, derivatives=True, keep_eigenvectors=True)
        for th in (0.3, 1.2):
            q = np.array([np.cos(th), np.sin(th)])
            long = {m.name: np.einsum("ijl,i,j,l->", band_integral(m, model, k, w, mu_gap, 0.01, geo)[0], q, q, q)
                    for m in GRADIENT_TAU0}
            scale = np.abs(band_integral(L.field_gradient_clean, model, k, w, mu_gap, 0.01, geo)).max()
            assert scale > 1e-3                                 # transverse (Hall-like) parts survive
            assert abs(long["field_gradient_clean"]) < 1e-10 * scale
            # int_BZ of d g over a filled band: zero up to the (spectral) accuracy of the MP sum
            lh_scale = np.sum(w[:, None] * np.abs(geo.quantum_metric_derivative[:, :1]).sum(axis=(2, 3, 4)))
            assert abs(long["field_gradient_lapa_hughes"]) < 1e-4 * lh_scale
            assert abs(long["field_gradient"]) > 1e-2 * scale   # the talk's formula: a known defect


def test_talk_field_gradient_readings():
    m = qk.zoo.massive_dirac(v=1.0, mass=0.5, tilt=0.2)
    k, w = polar_grid(3.0, nth=32, coarse=0.05, order=6)
    base = conductivity(L.field_gradient, m, k, w, 1.0, 0.05)[0]
    avg = conductivity(L.talk_field_gradient(symmetrization="average"), m, k, w, 1.0, 0.05)[0]
    assert np.allclose(avg, base / 3)
    half = L.talk_field_gradient(t_factor=0.5)
    geo = qk.band_geometry(m, k[:50], derivatives=True)
    dgpart = L.talk_field_gradient(t_factor=0.0).integrand(geo)[0]
    assert np.allclose(2 * half.integrand(geo)[0] - dgpart, L.field_gradient.integrand(geo)[0])
    with pytest.raises(ValueError):
        L.talk_field_gradient(symmetrization="mean")


# --------------------------------------------------------------------------- field gradient: Lapa-Hughes value


@functools.lru_cache(maxsize=None)
def _lapa_hughes_dirac_sym():
    """First order in the tilt of the Lapa-Hughes band integral for H = w kx + v k.sigma + m sigma_z.

    Derivation (the library's sum-over-states metric derivative is not used):

    * I_{mu ab} = sum_n int d^2k/(2 pi)^2 f(eps_n) d_mu g_ab, the band integral of
      field_gradient_lapa_hughes (tensor order (j, E1, q) = (mu, a, b) in the library's integrand:
      ``moveaxis(dg, -1, -3)`` puts the derivative index first).
    * The tilt is proportional to the identity: eigenvectors, hence g_ab = (1/4) d_a d^ . d_b d^ (from
      the d-vector, :func:`dirac_sym`, the same for both bands), do not depend on w; eps_+- = w kx +- E.
    * Lower band (filled for mu in the upper band, f = 1 to exp(-(mu + m)/kT)): int_disk d_mu g_ab is the
      boundary term int_{|k| = kc} g_ab n_mu, zero because g is even in k (and on any grid symmetric under
      k -> -k, exactly). Upper band: by parts (f = 0 at the cutoff),
      I = -int f'(eps_+) d_mu eps_+ g_ab, d_mu eps_+ = w delta_mu,x + v^2 k_mu / E.
    * d/dw at w = 0, with f(E + w kx) = f(E) + w kx f'(E):
      dI/dw = -int d^2k/(2 pi)^2 [f'(E) delta_mu,x g_ab + f''(E) kx v^2 k_mu g_ab / E].
      In polar coordinates, d^2k = (E/v^2) dE dtheta, kx = k cos, k_mu = k n_mu, k^2 = (E^2 - m^2)/v^2:
      dI/dw = -(1/4 pi^2) int_m^inf dE [f'(E) delta_mu,x (E/v^2) PhiA_ab(E) + f''(E) k^2 PhiB_mu,ab(E)],
      PhiA_ab = int dtheta g_ab, PhiB_mu,ab = int dtheta cos(theta) n_mu g_ab (exact, sympy).
    * I is odd in w (sigma_z H_w(-k) sigma_z = H_{-w}(k) and d_mu g is odd in k), so
      [I(w) - I(-w)]/(2w) = dI/dw + O(w^2).
    * T = 0: -f' = delta(E - mu) and int f'' F dE = F'(mu), so
      dI/dw = (1/4 pi^2) [delta_mu,x (mu/v^2) PhiA_ab(mu) - d/dE (k^2 PhiB_mu,ab)(mu)]:
      xxx: (mu^2 - m^2)(mu^2 + 3 m^2)/(16 pi mu^5),  xyy: (mu^2 - m^2)(mu^2 + m^2)/(16 pi mu^5),
      yxy = yyx: m^2 (mu^2 - m^2)/(16 pi mu^5), the other four zero (v drops out).

    Returns (PhiA, PhiB, T0) as sympy expressions in (E, v, m, mu): PhiA[a][b], PhiB[mu][a][b], T0[mu][a][b].
    """
    (kx, ky, v, m), _, g = dirac_sym()
    th = sp.symbols("theta", real=True)
    E, k, mu = sp.symbols("E k mu", positive=True)

    def angular(expr):
        e = sp.trigsimp(sp.simplify(expr.subs({kx: k * sp.cos(th), ky: k * sp.sin(th)})))
        return sp.factor(sp.simplify(sp.integrate(sp.expand(e), (th, 0, 2 * sp.pi)).subs(k, sp.sqrt(E**2 - m**2) / v)))

    n = (sp.cos(th), sp.sin(th))
    phiA = [[angular(g[a][b]) for b in range(2)] for a in range(2)]
    phiB = [[[angular(sp.cos(th) * n[c] * g[a][b]) for b in range(2)] for a in range(2)] for c in range(2)]
    k2 = (E**2 - m**2) / v**2
    t0 = [[[sp.factor(sp.simplify((((E / v**2) * phiA[a][b] if c == 0 else 0) - sp.diff(k2 * phiB[c][a][b], E))
                                  .subs(E, mu) / (4 * sp.pi**2))) for b in range(2)] for a in range(2)]
          for c in range(2)]
    return (E, v, m, mu), phiA, phiB, t0


def _lapa_hughes_dirac_finite_T(mu, kT, v=1.0, m=0.5):
    """dI/dw at temperature kT (eV) by radial quadrature of the closed-form angular integrals."""
    (E, vs, ms, _), phiA, phiB, _ = _lapa_hughes_dirac_sym()
    vals = {vs: v, ms: m}
    out = np.zeros((2, 2, 2))
    for c, a, b in np.ndindex(2, 2, 2):
        A = sp.lambdify(E, (phiA[a][b] * E / vs**2).subs(vals) if c == 0 else sp.S(0), "numpy")
        B = sp.lambdify(E, (phiB[c][a][b] * (E**2 - ms**2) / vs**2).subs(vals), "numpy")
        fun = lambda e: -(fermi_derivative(e, mu, kT, 1) * A(e) + fermi_derivative(e, mu, kT, 2) * B(e))
        out[c, a, b] = sum(sint.quad(fun, lo, hi, epsabs=0, epsrel=1e-11, limit=200)[0]
                           for lo, hi in ((m, mu), (mu, mu + 60 * kT))) / (4 * np.pi**2)
    return out


def test_field_gradient_lapa_hughes_tilted_dirac_closed_form():
    """Lapa-Hughes band integral of the tilted massive Dirac cone against the closed form derived above.

    The library's value comes from its sum-over-states metric derivative on a polar grid; the closed
    form from the d-vector metric (sympy) with the radial integral by quadrature at the same T.
    Measured: agreement to 1.9e-5 of the largest component at w = +-0.01 eV A, 4.6e-6 at w/2 (the
    O(w^2) remainder; the grid error is below it); tolerance 1e-4. Also: the T = 0 limits (rational
    functions of mu and m), the quadrature's approach to them as T -> 0 (Sommerfeld, ~T^2), and the SI
    prefactor -(i e^2/2 hbar) Angstrom.
    """
    v, m, mu, kc, dw, kT = 1.0, 0.5, 1.0, 5.0, 0.01, 0.01
    (E, vs, ms, mus), _, _, t0 = _lapa_hughes_dirac_sym()
    x = {(0, 0, 0): (mus**2 - ms**2) * (mus**2 + 3 * ms**2), (0, 1, 1): (mus**2 - ms**2) * (mus**2 + ms**2),
         (1, 0, 1): ms**2 * (mus**2 - ms**2), (1, 1, 0): ms**2 * (mus**2 - ms**2)}
    for idx in np.ndindex(2, 2, 2):
        expected = x.get(idx, 0) / (16 * sp.pi * mus**5)
        assert sp.simplify(t0[idx[0]][idx[1]][idx[2]] - expected) == 0, idx
    closed = _lapa_hughes_dirac_finite_T(mu, kT, v, m)
    zero_T = np.array([[[float(t0[c][a][b].subs({vs: v, ms: m, mus: mu})) for b in range(2)] for a in range(2)]
                       for c in range(2)])
    # T -> 0: the finite-T closed form tends to the T = 0 one, the difference falling like T^2
    diffs = [np.abs(_lapa_hughes_dirac_finite_T(mu, t, v, m) - zero_T).max() for t in (0.02, 0.01)]
    assert diffs[0] / diffs[1] == pytest.approx(4.0, rel=0.05)
    assert np.abs(closed - zero_T).max() < 1e-2 * np.abs(zero_T).max()
    # the library, on a polar grid refined at the Fermi radius
    kF = math.sqrt(mu**2 - m**2) / v
    k, wts = polar_grid(kc, nth=96, refine=[kF], width=0.25, fine=0.002, coarse=0.1, order=8)
    mech = L.field_gradient_lapa_hughes
    I = {s: band_integral(mech, qk.zoo.massive_dirac(v=v, mass=m, tilt=s * dw, kcut=kc), k, wts, mu, kT)[0]
         for s in (1, -1)}
    assert np.abs(I[1] + I[-1]).max() < 1e-10 * np.abs(I[1]).max()      # odd in the tilt
    deriv = (I[1] - I[-1]).real / (2 * dw)
    scale = np.abs(closed).max()
    np.testing.assert_allclose(deriv, closed, rtol=0, atol=1e-4 * scale)
    assert abs(deriv[0, 0, 0]) > 0.5 * scale and abs(deriv[1, 0, 1]) > 0.05 * scale
    # SI: sigma_{mu ab} = -(i e^2 / 2 hbar) I, I in Angstrom (2D: S m)
    assert mech.prefactor(2, 1e-13, 0.0) == pytest.approx(-0.5j * E2HBAR * 1e-10)
