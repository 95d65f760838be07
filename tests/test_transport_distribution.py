"""Boltzmann transport from the transport distribution function (BoltzWann's method).

Independent routes: the closed-form TDF of a nearest-neighbour chain integrated by quadrature, and the
Drude mechanism of ``qk.conductivity`` (Fermi contractions on a grid, no energy binning).
"""

import numpy as np
import pytest
from scipy import integrate

import qkinetics as qk
from qkinetics import units
from qkinetics.responses.transport_distribution import boltzmann_transport, transport_distribution

T_HOP, A = 1.0, 2.0                     # eV, Angstrom
TAU = 1e-14


def chain():
    return qk.TightBinding([[A]], [[0.0]], {(1,): np.array([[-T_HOP]]), (-1,): np.array([[-T_HOP]])})


def chain_tdf(E):
    """Closed form: Sigma(E) = e^2 tau |v(E)| / (pi hbar^2), |v| = a sqrt(4t^2 - E^2) (eV A), in S m."""
    v = A * np.sqrt(np.clip(4 * T_HOP**2 - E**2, 0, None)) * units.e * units.angstrom
    return units.e**2 * TAU * v / (np.pi * units.hbar**2)


def chain_onsager(mu, T, n):
    kT = units.kB_eV * T

    def f(E):
        x = (E - mu) / kT
        return (E - mu) ** n * np.exp(-abs(x)) / (kT * (1 + np.exp(-abs(x))) ** 2) * chain_tdf(E)

    val, _ = integrate.quad(f, -2 * T_HOP, 2 * T_HOP, points=[mu], limit=400, epsabs=0, epsrel=1e-12)
    return val


@pytest.mark.parametrize("mu", [-1.2, 0.3])
@pytest.mark.parametrize("n, smearing, tol_sigma, tol_seebeck", [
    # measured relative errors (sigma, S, kappa): Gaussian 5 meV on 50000 k points: 4e-6, 1.5e-5, 4e-6
    # (the smearing's own bias, independent of n); histogram (no smearing) on 200000 k points:
    # 2.4e-5, 2.4e-3, 5e-6 (sampling noise of the bins, which the small S = L1/(L0 T) feels most)
    (50000, 0.005, 2e-5, 6e-5),
    (200000, 0.0, 1e-4, 1e-2),
])
def test_chain_closed_form(mu, n, smearing, tol_sigma, tol_seebeck):
    T = 300.0
    tdf = transport_distribution(chain(), n, tau=TAU, energy_step=0.001, smearing=smearing)
    res = boltzmann_transport(tdf, mu, T)
    L0, L1, L2 = (chain_onsager(mu, T, n) for n in range(3))
    sigma = float(res.sigma[0, 0, 0, 0])
    seebeck = float(res.seebeck[0, 0, 0, 0])
    kappa = float(res.kappa[0, 0, 0, 0])
    assert sigma == pytest.approx(L0, rel=tol_sigma)
    assert seebeck == pytest.approx(-L1 / (L0 * T), rel=tol_seebeck)
    assert kappa == pytest.approx((L2 - L1**2 / L0) / T, rel=tol_sigma)
    assert float(res.peltier[0, 0, 0, 0]) == pytest.approx(T * seebeck, rel=1e-12)


def test_seebeck_sign_electrons_and_holes():
    tdf = transport_distribution(chain(), 20000, tau=TAU, smearing=0.01)
    res = boltzmann_transport(tdf, [-1.5, 1.5], 300.0)
    S = res.seebeck.values[:, 0, 0, 0]
    # bottom of the band: electrons, S < 0; top: holes, S > 0 (charge -e)
    assert S[0] < 0 < S[1]
    assert S[0] == pytest.approx(-S[1], rel=1e-6)     # particle-hole symmetry of the chain


@pytest.mark.filterwarnings("ignore::qkinetics.integrate.integrator.GridResolutionWarning")
def test_drude_mechanism_agrees():
    model = qk.zoo.weyl_semimetal(tilt=0.3, tilt_y=0.1)
    mu, T, n = 0.2, 600.0, 25          # odd n: the Weyl nodes at k0 = pi/2 are off the Gamma-centred grid
    res = qk.conductivity(model, 1, mu=mu, T=T, tau=TAU, mechanisms="drude", kgrid=n, shift=0.0,
                          convergence=False, degeneracy_tol=1e-8)
    drude = res["drude"].sel(channel=res.channel.values[0]).values.real.squeeze()
    tdf = transport_distribution(model, n, tau=TAU, energy_step=5e-5, smearing=0.0, degeneracy_tol=1e-8)
    sigma = boltzmann_transport(tdf, mu, T).sigma.values[0, 0]
    # same k points and velocities; only -f' at the nearest bin centre instead of at the band energy
    # differs: a random shift of up to dE/2 per state, a relative error ~ (dE/kT)/sqrt(states in the
    # window), measured 5.8e-4, 1.7e-4, 1.8e-5 for dE = 1, 0.2, 0.05 meV
    assert np.allclose(sigma, drude, rtol=0, atol=1e-4 * np.abs(drude).max())


def test_smearing_converges_to_histogram():
    m = chain()
    ref = boltzmann_transport(transport_distribution(m, 100000, tau=TAU), 0.5, 300.0).sigma.values
    for width, tol in ((0.01, 2e-3), (0.003, 3e-4)):
        s = boltzmann_transport(transport_distribution(m, 100000, tau=TAU, smearing=width), 0.5, 300.0).sigma.values
        assert abs(s - ref).max() / abs(ref).max() < tol


@pytest.mark.parametrize("kw, match", [({"tau": -1.0}, "tau"), ({"tau": np.nan}, "tau"),
                                       ({"tau": 1e-14, "energy_step": 0.0}, "energy_step"),
                                       ({"tau": 1e-14, "smearing": -0.1}, "smearing"),
                                       ({"tau": 1e-14, "spin_degeneracy": 3}, "spin_degeneracy")])
def test_bad_input(kw, match):
    with pytest.raises(qk.ModelError, match=match):
        transport_distribution(chain(), 100, **kw)


def test_bad_temperature():
    tdf = transport_distribution(chain(), 100, tau=TAU)
    with pytest.raises(qk.ModelError, match="T must be"):
        boltzmann_transport(tdf, 0.0, 0.0)
