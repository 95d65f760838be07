"""Streda check: exact Hofstadter densities of a Chern lattice model against the semiclassical weak-field
response (Berry curvature and orbital moment), which share no derivation."""

import numpy as np
import pytest

import qkinetics as qk
from qkinetics.exact.hofstadter import (hofstadter_density, magnetic_supercell, streda_exact,
                                        streda_prediction)

KB = 8.617333262e-5                                                      # eV/K
MU = np.linspace(-3.5, 3.5, 15)


@pytest.fixture(scope="module")
def haldane():
    # orbitals off the cell origin on a non-orthogonal lattice: exercises the gauge of exact/hofstadter.py
    return qk.zoo.haldane(t1=1.0, t2=0.15, phi=np.pi / 2, mass=0.2)


def test_metal_and_insulator_against_semiclassics(haldane):
    """d nu/d phi at kT = 0.15 eV over the whole band. Measured (Richardson from fluxes 1/q and 2/q): max error
    1.0e-2, 3.0e-3, 1.1e-3, 2.3e-4 at q = 16, 24, 32, 48 (~q^-4), unchanged from nk = (4, 2q) down to (1, 2q)
    (finite-size effects below 1e-6); the plain difference at 1/q converges as q^-2 (1.6e-2 at q = 32)."""
    T = 0.15 / KB
    pred = streda_prediction(haldane, MU, T, nk=150)                  # converged to 1e-14 (150 vs 300)
    rich, d1 = streda_exact(haldane, MU, T, 32, nk=(1, 64))
    assert np.abs(rich - pred).max() < 2e-3
    assert 5e-3 < np.abs(d1 - pred).max() < 3e-2                       # the O(phi^2) error Richardson removes
    # the orbital-moment term matters: without it (or with the opposite sign) the prediction is far off
    geo_free = streda_prediction(haldane.tight_binding_approximation(), MU, T, nk=150)
    np.testing.assert_allclose(geo_free, pred, atol=1e-12)            # no position matrix: same model
    curvature_only = _curvature_only(haldane, MU, T)
    assert np.abs(curvature_only - rich).max() > 0.3


def _curvature_only(model, mu, T, nk=150):
    from qkinetics.integrate.grids import KGrid
    from qkinetics.integrate.occupation import fermi_dirac
    k, w = next(KGrid(model, nk).chunks(nk * nk))
    geo = qk.band_geometry(model, k, inverse_mass=False)
    f = fermi_dirac(geo.energies, mu, T)[:, 0]
    return 2 * np.pi * np.einsum("k,mkn,kn->m", np.broadcast_to(w, (len(k),)), f, geo.berry_curvature[..., 0, 1])


def test_chern_insulator_density_is_linear_in_flux(haldane):
    """In the gap at low T the exact density is nu = 1 + C phi (Streda, sigma_xy = -(e^2/h) C): C = -1 here,
    exact up to exp(-gap/kT)."""
    C = qk.chern_number(haldane, [0])
    assert C == -1
    T = 0.01 / KB
    for p, q in ((1, 24), (-1, 24), (2, 24), (1, 17)):
        nu = hofstadter_density(haldane, [0.0], T, p, q, nk=(1, 2 * q))
        assert abs(nu[0] - (1 + C * p / q)) < 1e-10


def test_qi_wu_zhang_square_lattice():
    """A second model (square lattice, orbitals at the origin), both signs of the mass (C = -1, +1): measured
    8.1e-4 at q = 32."""
    for u in (1.2, -1.2):
        model = qk.zoo.qi_wu_zhang(u=u)
        T = 0.2 / KB
        mu = np.linspace(-3.0, 3.0, 13)
        rich, _ = streda_exact(model, mu, T, 32, nk=(1, 64))
        np.testing.assert_allclose(rich, streda_prediction(model, mu, T, nk=120), rtol=0, atol=2e-3)


def test_zero_flux_supercell_is_the_model_and_bad_input(haldane):
    blocks = magnetic_supercell(haldane, 0, 1)
    k = haldane.k_from_reduced(np.array([[0.2, 0.7]]))
    H = sum(M * np.exp(2j * np.pi * np.dot((0.2, 0.7), L)) for L, M in blocks.items())
    np.testing.assert_allclose(np.linalg.eigvalsh(H), haldane.bands(k)[0], atol=1e-12)
    with pytest.raises(qk.ModelError, match="p/q"):
        magnetic_supercell(haldane, 1, 0)
    with pytest.raises(qk.ModelError, match="2D"):
        magnetic_supercell(qk.zoo.weyl_semimetal(), 1, 4)
