"""Magnetotransport from the uniform k-space Boltzmann solver against closed forms and Landau levels.

Closed forms (docs/magnetotransport.md derives them): one parabolic band of mass m and density n gives
sigma_xx = sigma_0/(1 + (w_c tau)^2), sigma_xy = -sigma_0 w_c tau/(1 + (w_c tau)^2) (B along +z, charge -e,
w_c = eB/m, sigma_0 = n e^2 tau/m), hence R_H = -1/(n e) and no magnetoresistance; two bands add their tensors,
which gives a positive magnetoresistance; a Weyl semimetal gains the Son-Spivak conductance
d sigma_ab / d tau_v = (e^4/h^4) B_a B_b sum_v 1/nu_v, from the anomaly pumping -(e^2/h^2) C_v E.B per node.
"""

import warnings

import numpy as np
import pytest
import sympy as sp

import qkinetics as qk
from qkinetics import units
from qkinetics.exact.landau import chiral_branch_count, field_of_flux, landau_levels
from qkinetics.models.base import ModelError

M_E = 9.1093837015e-31
#: hbar^2 / (2 m_e) in eV Angstrom^2
C_FREE = units.hbar ** 2 / (2 * M_E) / units.e * 1e20
KX, KY = sp.symbols("kx ky", real=True)


def parabolic_density(mass, mu, T, offset=0.0):
    """Electrons per m^2 of one spinless 2D parabolic band (bottom at ``offset``) at chemical potential mu, T."""
    kT = units.kB_eV * T
    return mass / (2 * np.pi * units.hbar ** 2) * kT * units.e * np.log1p(np.exp((mu - offset) / kT))


def drude_tensor(n, mass, tau, B):
    """(sigma_xx, sigma_xy) of one parabolic electron band in B along +z (S)."""
    s0 = n * units.e ** 2 * tau / mass
    x = units.e * np.asarray(B) / mass * tau
    return s0 / (1 + x ** 2), -s0 * x / (1 + x ** 2)


def resistivity(sxx, sxy):
    """rho_xx, rho_yx of an isotropic 2D tensor [[sxx, sxy], [-sxy, sxx]]."""
    det = sxx ** 2 + sxy ** 2
    return sxx / det, sxy / det


B_SWEEP = np.array([0.0, 5.0, 20.0, 60.0])          # omega_c tau up to 1.05 at tau = 1e-13


def test_one_parabolic_band_closed_form():
    """sigma_xx, sigma_xy at all B (measured error 8e-5 on 128^2 at 300 K); R_H = -1/(n e); no magnetoresistance."""
    band = qk.Continuum(sp.Matrix([[C_FREE * (KX ** 2 + KY ** 2)]]), kcut=1.0)
    mu, T, tau = 0.2, 300.0, 1e-13
    res = qk.magnetoconductivity(band, B=B_SWEEP, mu=mu, T=T, tau=tau, kgrid=128)
    s = res["total"].squeeze()
    n = parabolic_density(M_E, mu, T)
    xx, xy = drude_tensor(n, M_E, tau, B_SWEEP)
    assert np.allclose(s.sel(j="x", E="x"), xx, rtol=1e-3)
    assert np.allclose(s.sel(j="x", E="y"), xy, rtol=1e-3, atol=1e-3 * xx[0])
    assert np.allclose(s.sel(j="y", E="x"), -xy, rtol=1e-3, atol=1e-3 * xx[0])
    rho_xx, rho_yx = resistivity(s.sel(j="x", E="x").values, s.sel(j="x", E="y").values)
    assert np.allclose(rho_xx, rho_xx[0], rtol=2e-3)                                   # no magnetoresistance
    hall = rho_yx[1:] / B_SWEEP[1:]
    assert np.allclose(hall * n * units.e, -1.0, rtol=2e-3)                            # R_H = -1/(n e)


def test_two_parabolic_bands_positive_magnetoresistance():
    """Two electron bands of different masses and band-resolved tau: tensors add, rho_xx grows as B^2 at weak B."""
    m1, m2, offset = 1.0, 0.5, 0.05                       # masses in m_e; the lighter band starts higher: no crossing
    H = sp.Matrix([[C_FREE / m1 * (KX ** 2 + KY ** 2), 0], [0, offset + C_FREE / m2 * (KX ** 2 + KY ** 2)]])
    model = qk.Continuum(H, kcut=1.0)
    mu, T, tau, ratio = 0.2, 300.0, 1e-13, (1.0, 3.0)
    res = qk.magnetoconductivity(model, B=B_SWEEP, mu=mu, T=T, tau=tau, band_tau=ratio, kgrid=128)
    s = res["total"].squeeze()
    xx1, xy1 = drude_tensor(parabolic_density(m1 * M_E, mu, T), m1 * M_E, tau * ratio[0], B_SWEEP)
    xx2, xy2 = drude_tensor(parabolic_density(m2 * M_E, mu, T, offset), m2 * M_E, tau * ratio[1], B_SWEEP)
    assert np.allclose(s.sel(j="x", E="x"), xx1 + xx2, rtol=2e-3)
    assert np.allclose(s.sel(j="x", E="y"), xy1 + xy2, rtol=2e-3, atol=1e-3 * (xx1[0] + xx2[0]))
    rho = resistivity(s.sel(j="x", E="x").values, s.sel(j="x", E="y").values)[0]
    rho_closed = resistivity(xx1 + xx2, xy1 + xy2)[0]
    assert np.all(np.diff(rho) > 0)                                                    # positive magnetoresistance
    assert np.allclose(rho / rho[0] - 1, rho_closed / rho_closed[0] - 1, rtol=2e-2, atol=1e-4)


def square_lattice(t=1.0, a=3.0):
    hop = {(1, 0): np.array([[-t]]), (-1, 0): np.array([[-t]]), (0, 1): np.array([[-t]]), (0, -1): np.array([[-t]])}
    return qk.TightBinding(a * np.eye(2), [[0.0, 0.0]], hop, convention="positions")


def test_lattice_band_tends_to_parabolic_at_low_filling():
    """Square lattice, mass hbar^2/(2 t a^2): the deviation from the parabolic closed form falls with the filling."""
    t, a, T, tau = 1.0, 3.0, 300.0, 1e-13
    mass = units.hbar ** 2 / (2 * t * units.e * (a * 1e-10) ** 2)
    B = np.array([0.0, 20.0, 100.0])
    errors = []
    for filling in (0.4, 0.2):                         # mu - band bottom, eV
        res = qk.magnetoconductivity(square_lattice(t, a), B=B, mu=-4 * t + filling, T=T, tau=tau, kgrid=128,
                                     derivative="fd4")
        s = res["total"].squeeze()
        xx, xy = drude_tensor(parabolic_density(mass, -4 * t + filling, T, -4 * t), mass, tau, B)
        errors.append(max(np.max(np.abs(s.sel(j="x", E="x").values / xx - 1)),
                          np.max(np.abs(s.sel(j="x", E="y").values[1:] / xy[1:] - 1))))
    assert errors[1] < 0.6 * errors[0] and errors[1] < 0.05


def test_zero_field_is_drude_plus_anomalous_hall():
    """At B = 0 the solver gives the library's Drude and intrinsic anomalous Hall conductivities."""
    model = qk.zoo.qi_wu_zhang(u=-1.0)
    mu, T, tau = 0.6, 1500.0, 1e-14
    res = qk.magnetoconductivity(model, B=0.0, mu=mu, T=T, tau=tau, kgrid=96)
    ref = qk.conductivity(model, mu=mu, T=T, tau=tau, kgrid=96, mechanisms=["drude", "anomalous_hall"],
                          convergence=False)
    s = res["total"].squeeze()
    r = (ref["drude"] + ref["anomalous_hall"]).squeeze().real
    assert np.allclose(s.values, r.transpose("j", "E1").values, rtol=1e-9, atol=1e-12 * float(abs(r).max()))


def test_onsager_reciprocity_in_field():
    """sigma_ab(B) = sigma_ba(-B) (Onsager) for a time-reversal-symmetric lattice model with Berry curvature and
    orbital moment (gapped honeycomb), at omega_c tau ~ 2.5. It holds in the continuum; on the grid -f0' is not
    exactly constant along the discrete orbits, so it converges: 6.9e-3 on 64^2, 1.2e-3 on 128^2 (measured)."""
    model = qk.zoo.haldane(t2=0.0, mass=0.3, a=10.0)
    violation = []
    for n in (64, 128):
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            res = qk.magnetoconductivity(model, B=[-20.0, 20.0], mu=0.8, T=600.0, tau=1e-13, kgrid=n,
                                         orbital_moment=True)
        s = res["total"].squeeze()
        plus, minus = s.sel(B=20.0).values, s.sel(B=-20.0).values
        assert abs(plus[0, 1]) > abs(plus[0, 0])                         # strong field: Hall exceeds xx
        violation.append(np.abs(plus - minus.T).max() / np.abs(plus).max())
    assert violation[1] < 0.3 * violation[0] and violation[1] < 3e-3


# --------------------------------------------------------------------------- chiral anomaly
A_WEYL = 10.0                               # lattice constant (Angstrom): fields of a few tesla matter
NODES = [[np.pi / 2 / A_WEYL, 0, 0], [-np.pi / 2 / A_WEYL, 0, 0]]


@pytest.fixture(scope="module")
def weyl_longitudinal():
    """B parallel to E along the node axis x; two intervalley times."""
    model = qk.zoo.weyl_semimetal(a=A_WEYL)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")                  # thermal resolution 2.3 on 64^3, measured convergence below
        res = qk.magnetoconductivity(model, B=[0.0, 2.0], direction=[1, 0, 0], mu=0.3, T=600.0, tau=1e-14,
                                     tau_valley=[1e-13, 1e-12], valleys=NODES, kgrid=64)
    return model, res


def test_chiral_anomaly_pumping_is_topological(weyl_longitudinal):
    """Valley pumping per E_x = -(e^2/h^2) C_v B_x with C = -1, +1 at the nodes +k0, -k0 (0.7% on 64^3)."""
    _, res = weyl_longitudinal
    pump = res["valley_pumping"].squeeze().sel(E="x", B=2.0).values / (units.e ** 2 / units.h ** 2 * 2.0)
    assert np.allclose(pump, [-1.0, 1.0], atol=0.01)
    # without B only the current through the valley boundaries (thermal tail, e^-13.5) moves electrons
    assert np.allclose(res["valley_pumping"].squeeze().sel(B=0.0).values, 0.0, atol=0.005 * units.e ** 2 / units.h ** 2 * 2.0)


def test_son_spivak_coefficient(weyl_longitudinal):
    """d sigma_xx / d tau_v = (e^4/h^4) B^2 sum_v 1/nu_v (1.4% on 64^3, 0.9% on 80^3); none at B = 0."""
    _, res = weyl_longitudinal
    s = res["total"].squeeze().sel(j="x", E="x")
    tv = res["tau_valley"].values
    slope = (s.isel(tau_valley=1) - s.isel(tau_valley=0)) / (tv[1] - tv[0])
    nu = res["density_of_states"].squeeze().sel(B=2.0).values / units.e       # 1/(eV m^3) -> 1/(J m^3)
    predicted = units.e ** 4 / units.h ** 4 * 2.0 ** 2 * np.sum(1 / nu)
    assert abs(float(slope.sel(B=2.0)) / predicted - 1) < 0.03
    assert abs(float(slope.sel(B=0.0))) < 1e-3 * predicted
    # continuum node, v = (t a sin k0, t a, t a)/hbar: nu = (mu^2 + pi^2 (kT)^2/3)/(2 pi^2 hbar^3 v_x v_y v_z);
    # the lattice density of states at mu = 0.3 t exceeds it by 8% (band curvature, O((mu/t)^2))
    kT = units.kB_eV * 600.0
    hv = A_WEYL * 1e-10 * units.e
    nu_node = (0.3 ** 2 + np.pi ** 2 * kT ** 2 / 3) * units.e ** 2 / (2 * np.pi ** 2 * hv ** 3)
    assert np.allclose(nu, nu_node, rtol=0.1)


def test_landau_levels_chiral_zeroth_level():
    """One chiral zeroth Landau level per node and per flux quantum, slopes of opposite sign at the two nodes."""
    model = qk.zoo.weyl_semimetal()
    for p, q in ((1, 16), (2, 31)):
        for kperp in ([0.0, 0.0, 0.0], [0.0, 0.07, 0.11]):
            right = chiral_branch_count(model, p, q, kperp, (np.pi / 2 - 0.6, np.pi / 2 + 0.6), axis=0)
            left = chiral_branch_count(model, p, q, kperp, (-np.pi / 2 - 0.6, -np.pi / 2 + 0.6), axis=0)
            assert (right, left) == (p, -p)


def test_landau_level_energies_approach_the_node_closed_form():
    """E_1 = sqrt(2 e hbar B v_y v_z) = t sqrt(4 pi p/q) at the node; the lattice correction falls as q^-1/2."""
    model = qk.zoo.weyl_semimetal()
    ratios = []
    for q in (64, 256):
        e = landau_levels(model, 1, q, [[np.pi / 2, 0.0, 0.0]], axis=0)[0]
        levels = np.sort(e[e > 1e-9])
        ratios.append(levels[0] / np.sqrt(4 * np.pi / q))
        assert abs(levels[1] / levels[0] - np.sqrt(2)) < (0.06 if q == 64 else 0.03)    # E_n ~ sqrt(n)
    assert abs(ratios[1] - 1) < 0.6 * abs(ratios[0] - 1) and abs(ratios[1] - 1) < 0.06


def test_anomaly_pumping_matches_landau_level_spectral_flow(weyl_longitudinal):
    """The semiclassical valley pumping equals the spectral flow of the chiral Landau levels (no shared derivation)."""
    model, res = weyl_longitudinal
    p, q = 1, 16
    count = chiral_branch_count(model, p, q, [0, 0, 0], (np.pi / 2 / A_WEYL - 0.06, np.pi / 2 / A_WEYL + 0.06),
                                axis=0)
    B = field_of_flux(model, p, q, axis=0)
    area = q * (A_WEYL * 1e-10) ** 2                                           # magnetic cell, m^2
    flow = -(units.e / units.h) * count / area / B                             # dn/dt per E_x per tesla
    semiclassical = float(res["valley_pumping"].squeeze().sel(B=2.0, E="x", valley=0)) / 2.0
    assert abs(semiclassical / flow - 1) < 0.01


def test_bad_input():
    band = qk.Continuum(sp.Matrix([[C_FREE * (KX ** 2 + KY ** 2)]]), kcut=1.0)
    with pytest.raises(ModelError, match="tau_valley needs valleys"):
        qk.magnetoconductivity(band, B=1.0, tau_valley=1e-12, kgrid=16)
    with pytest.raises(ModelError, match="band_tau"):
        qk.magnetoconductivity(band, B=1.0, band_tau=[1.0, 2.0], kgrid=16)
    with pytest.raises(ModelError, match="derivative"):
        qk.magnetoconductivity(band, B=1.0, derivative="spectral", kgrid=16)
    with pytest.raises(ModelError, match="2D model takes B along z"):
        qk.magnetoconductivity(band, B=1.0, direction=[1, 0, 0], kgrid=16)
    with pytest.raises(ModelError, match="orthorhombic|TightBinding"):
        landau_levels(qk.zoo.haldane(), 1, 8, [[0.0, 0.0]])


@pytest.mark.slow
def test_planar_hall_angle_dependence():
    """B in the xy plane at angle theta to E (x): the anomaly part of sigma_xx goes as cos^2 theta and the planar
    Hall sigma_yx as sin theta cos theta (measured on 48^3: within 0.02 of the theta = 0 value; GMRES path)."""
    model = qk.zoo.weyl_semimetal(a=A_WEYL)
    theta = np.deg2rad([0.0, 30.0, 60.0, 90.0])
    dirs = np.stack([np.cos(theta), np.sin(theta), 0 * theta], axis=-1)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        res = qk.magnetoconductivity(model, B=2.0, direction=dirs, mu=0.3, T=600.0, tau=1e-14,
                                     tau_valley=[1e-13, 1e-12], valleys=NODES, kgrid=48)
    s = res["total"].squeeze()
    slope = s.isel(tau_valley=1) - s.isel(tau_valley=0)
    ref = float(slope.sel(j="x", E="x").isel(direction=0))
    assert np.allclose(slope.sel(j="x", E="x") / ref, np.cos(theta) ** 2, atol=0.02)
    assert np.allclose(slope.sel(j="y", E="x") / ref, np.sin(theta) * np.cos(theta), atol=0.02)
    assert np.allclose(slope.sel(j="x", E="y") / ref, np.sin(theta) * np.cos(theta), atol=0.02)


def test_run_config_with_field(tmp_path):
    """A response run with [field] B gives magnetoconductivity's result, written to result.nc."""
    from qkinetics.run import ConfigError, run

    cfg = tmp_path / "mt.toml"
    cfg.write_text('[model]\nzoo = "weyl"\nparams = {a = 10.0}\n[field]\nB = [[1.0, 0, 0], [2.0, 0, 0]]\n'
                   '[sweep]\nmu = 0.3\nT = 600\ntau = 1e-14\n[grid]\nn = 16\n'
                   f'[output]\ndirectory = "{tmp_path / "out"}"\n')
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        ds = run(cfg, progress=False)
        direct = qk.magnetoconductivity(qk.zoo.weyl_semimetal(a=10.0), B=[1.0, 2.0], direction=[1, 0, 0], mu=0.3,
                                        T=600.0, tau=1e-14, kgrid=16)
    assert np.allclose(ds["total"].values, direct["total"].values, rtol=1e-12)
    back = qk.read_netcdf(tmp_path / "out" / "result.nc")
    assert np.allclose(back["total"].values, direct["total"].values, rtol=1e-12)
    cfg.write_text('[model]\nzoo = "weyl"\n[field]\nB = 2.0\n[response]\norder = 2\n')
    with pytest.raises(ConfigError, match="linear response"):
        run(cfg, progress=False)
    cfg.write_text('[model]\nzoo = "weyl"\n[field]\nB = 2.0\n' f'[output]\ndirectory = "{tmp_path / "o2"}"\n')
    with pytest.raises(ConfigError, match="3-vector"):
        run(cfg, progress=False)


def test_orbital_moment_energy_keeps_the_anomaly_topological():
    """With eps - m.B the energy surfaces move (density of states +5.8% at 20 T) but the pumping through them is
    still the Berry flux -C (e^2/h^2) B: a check that the velocity is the gradient of the shifted energy
    (measured on 48^3: 0.9957 with the moment, 0.9907 without)."""
    model = qk.zoo.weyl_semimetal(a=A_WEYL)
    out = {}
    for moment in (False, True):
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            out[moment] = qk.magnetoconductivity(model, B=20.0, direction=[1, 0, 0], mu=0.3, T=600.0, tau=1e-14,
                                                 valleys=NODES, kgrid=48, orbital_moment=moment)
    dos = [float(out[m]["density_of_states"].squeeze()[0]) for m in (False, True)]
    assert dos[1] / dos[0] - 1 > 0.03                                   # the moment matters
    pump = out[True]["valley_pumping"].squeeze().sel(E="x").values / (units.e ** 2 / units.h ** 2 * 20.0)
    assert np.allclose(pump, [-1.0, 1.0], atol=0.01)


def test_run_config_with_field_resumes_after_an_interruption(tmp_path):
    """A [field] B sweep is checkpointed field by field: interrupted after one of three fields, the rerun computes
    only the other two and gives the uninterrupted result exactly."""
    from qkinetics.run import run

    text = ('[model]\nzoo = "qi_wu_zhang"\nparams = {{u = -1.0, t = 0.25, a = 4.0}}\n[field]\nB = [0.0, 50.0, 100.0]\n'
            '[sweep]\nmu = [0.3, 0.32]\nT = 600\ntau = 1e-14\n[grid]\nn = 24\n[output]\ndirectory = "{}"\n')
    full, cut = tmp_path / "full.toml", tmp_path / "cut.toml"
    full.write_text(text.format(tmp_path / "full"))
    cut.write_text(text.format(tmp_path / "cut"))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        ref = run(full, progress=False)
        with pytest.raises(KeyboardInterrupt):
            run(cut, progress=False, stop_after=1)
        assert (tmp_path / "cut" / "checkpoint.npz").exists() and not (tmp_path / "cut" / "result.nc").exists()
        import qkinetics.responses.magnetotransport as mt
        calls = []
        original = mt.magnetoconductivity

        def counting(*args, **kw):
            calls.append(kw["B"])
            return original(*args, **kw)
        mt.magnetoconductivity = counting
        try:
            res = run(cut, progress=False)
        finally:
            mt.magnetoconductivity = original
    assert [list(b) for b in calls] == [[50.0], [100.0]]
    assert np.array_equal(res["B"].values, [0.0, 50.0, 100.0])
    for name in ("total", "boltzmann", "anomalous_hall"):
        assert np.array_equal(res[name].values, ref[name].values)
    assert np.array_equal(qk.read_netcdf(tmp_path / "cut" / "result.nc")["total"].values, ref["total"].values)
