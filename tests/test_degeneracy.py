"""Degenerate groups in real (noisy) data: time-reversal-symmetric models whose Kramers pairs are split by noise.

Wannier Hamiltonians are time-reversal symmetric only up to numerical noise (GaAs: pairs split by 5e-7 to
1.2e-4 eV). At a Kramers point the split pair carries an intra-pair Berry curvature ~ |V_nm|^2 / Delta^2
that is unresolvable on any grid and, weighted by f_n - f_m ~ f' Delta, gives a spurious anomalous Hall
conductivity ~ 1/Delta. The default degeneracy tolerance (qkinetics.geometry.DEFAULT_DEGENERACY_TOL) groups
such pairs.
"""

import warnings

import numpy as np
import pytest

import qkinetics as qk
from qkinetics.geometry import DEFAULT_DEGENERACY_TOL
from qkinetics.models.tight_binding import TightBinding

NOISE = 1e-5                                                             # eV, T-breaking noise in every hopping


def kramers_model(noise=NOISE, exchange=0.0, seed=0):
    """A spinful (2 orbitals x spin) cubic model without inversion, time-reversal symmetric up to ``noise``.

    Random hoppings symmetrized with Theta = (1 x i sigma_y) K: t_R = S conj(t_R) S^dagger, so that
    Theta H(k) Theta^-1 = H(-k) and every band is a Kramers pair at the 8 TRIM (split elsewhere by the
    spin-orbit terms, as in zincblende). ``noise``: random, T-breaking complex hoppings of that size (eV)
    on every R, mimicking Wannier noise. ``exchange``: a Zeeman term exchange * sigma_z (eV), a genuine magnet.
    """
    rng = np.random.default_rng(seed)
    N = 4
    S = np.kron(np.eye(2), [[0, 1], [-1, 0]])
    hop = {}
    for R in [(0, 0, 0), (1, 0, 0), (0, 1, 0), (0, 0, 1), (1, 1, 0), (1, -1, 0), (1, 0, 1), (1, 0, -1),
              (0, 1, 1), (0, 1, -1)]:
        t = (0.3 if R == (0, 0, 0) else 0.5 if sum(map(abs, R)) == 1 else 0.2) * (
            rng.normal(size=(N, N)) + 1j * rng.normal(size=(N, N)))
        if R == (0, 0, 0):
            t = t + t.conj().T + np.diag([-1.0, -1.0, 1.0, 1.0])
        hop[R] = 0.5 * (t + S @ t.conj() @ S.conj().T)
    hop[(0, 0, 0)] = hop[(0, 0, 0)] + exchange * np.kron(np.eye(2), np.diag([1.0, -1.0]))
    for R in hop:
        x = noise * (rng.normal(size=(N, N)) + 1j * rng.normal(size=(N, N)))
        hop[R] = hop[R] + (0.5 * (x + x.conj().T) if R == (0, 0, 0) else x)
    return TightBinding(np.eye(3) * 3.0, np.zeros((N, 3)), hop, hermiticity="complete", name="kramers")


TRIM = np.array([[i, j, k] for i in (0, 0.5) for j in (0, 0.5) for k in (0, 0.5)])
MU = np.array([-3.53, 0.2, 3.86])                                        # eV, inside the bands


def _ahc(model, shift, tol=DEFAULT_DEGENERACY_TOL, kgrid=24, T=(10.0, 300.0), mu=MU, convergence=True):
    """Anomalous Hall conductivity (S/cm) and its error bar, (mu, T, 3, 3)."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")                                 # 10 K is not resolved on 24^3
        ds = qk.conductivity(model, mu=mu, T=list(T), mechanisms="anomalous_hall", kgrid=kgrid, shift=shift,
                             degeneracy_tol=tol, convergence=convergence)
    sigma = ds["anomalous_hall"].isel(channel=0, tau=0, omega=0).real.values * 1e-2
    err = ds["error_anomalous_hall"].isel(channel=0, tau=0, omega=0).values * 1e-2 if convergence else None
    return sigma, err


def test_noise_splits_the_kramers_pairs_and_the_default_groups_them():
    clean, noisy = kramers_model(noise=0.0), kramers_model()
    k = clean.k_from_reduced(TRIM)
    assert np.max(np.diff(clean.bands(k), axis=1)[:, [0, 2]]) < 1e-12            # exact Kramers pairs
    split = np.diff(noisy.bands(k), axis=1)[:, [0, 2]]
    assert 1e-6 < np.median(split) and np.max(split) < 5e-4                        # noise-split, as in GaAs
    assert np.all(qk.band_geometry(noisy, k).degeneracy == 2)                       # grouped by the default
    assert np.all(qk.band_geometry(noisy, k, degeneracy_tol=1e-6).degeneracy == 1)  # not by the old 1e-6
    # away from the TRIM the spin-orbit splitting is large: no groups there
    generic = noisy.k_from_reduced(np.random.default_rng(0).random((2000, 3)))
    assert np.all(qk.band_geometry(noisy, generic).degeneracy == 1)


@pytest.mark.parametrize("shift", [0.0, 0.5])
def test_time_reversal_symmetric_model_has_no_anomalous_hall_at_default_settings(shift):
    """Zero within 0.1 S/cm at 10 K and 300 K (measured: |sigma| <= 0.063 S/cm, the size of the error bars, 0.12-0.8
    S/cm; what remains is the genuine Hall conductivity of the noise, linear in it); the old default 1e-6 eV
    gave 1438 S/cm at 300 K on the unshifted grid, whose points include the TRIM."""
    sigma, err = _ahc(kramers_model(), shift)
    assert np.max(np.abs(sigma)) < 0.1
    assert np.max(err) < 1.0
    if shift == 0.0:
        old, _ = _ahc(kramers_model(), shift, tol=1e-6, convergence=False)
        assert np.max(np.abs(old)) > 100.0


def test_the_remainder_is_the_hall_conductivity_of_the_noise():
    """What remains at the default is physics of the noisy model, not a degeneracy artefact: it doubles with the
    noise (300 K, shifted grid; a degeneracy artefact would grow as 1/Delta, i.e. halve) and vanishes without it."""
    kw = dict(shift=0.5, T=(300.0,), convergence=False)
    once, _ = _ahc(kramers_model(), **kw)
    twice, _ = _ahc(kramers_model(noise=2 * NOISE), **kw)
    none, _ = _ahc(kramers_model(noise=0.0), **kw)
    assert np.max(np.abs(none)) < 1e-9
    assert np.max(np.abs(once)) > 1e-3
    np.testing.assert_allclose(twice, 2 * once, atol=0.05 * np.max(np.abs(once)))


def test_default_keeps_genuine_small_splittings():
    """A genuine magnet (exchange 0.05 eV on the same model) and a Weyl semimetal: the default tolerance changes
    their anomalous Hall conductivity by less than its error bar relative to 1e-6 eV."""
    for model, kgrid in ((kramers_model(noise=0.0, exchange=0.05), 24), (qk.zoo.weyl_semimetal(), 32)):
        new, err = _ahc(model, 0.5, kgrid=kgrid, mu=MU[:2])
        old, _ = _ahc(model, 0.5, tol=1e-6, kgrid=kgrid, mu=MU[:2], convergence=False)
        assert np.max(np.abs(new)) > 10.0                                          # a real Hall signal
        assert np.all(np.abs(new - old) <= err)
