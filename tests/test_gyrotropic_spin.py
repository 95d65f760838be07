"""Spin part of the gyrotropic magnetic effect: the Zeeman energy -m_spin.B, m_spin = -(g_s mu_B/hbar) <S>.

Checks that share no derivation with the code: the closed form of a Weyl node whose pseudospin is the electron spin
(any tilt and temperature), the current-current Kubo sum at finite q with the Zeeman coupling to B = curl A, gauge
invariance (degenerate pairs rotated by random U(2), a random unitary change of orbital basis), a doubled model
whose answer follows from the single one, inversion symmetry of bcc Fe (K_spin = 0, spin moment not) and postw90's
K_spin of Fe on an off-centre box.
"""

from pathlib import Path

import numpy as np
import pytest
from scipy import integrate as sint
from test_gyrotropic_magnetic import KB, PAULI, spherical_grid, weyl_node

from conftest import pair_scrambled_eigh, random_hoppings

import qkinetics as qk
from qkinetics.integrate.occupation import fermi_dirac
from qkinetics.models.base import ModelError
from qkinetics.responses import linear as L
from qkinetics.responses.gyrotropic import gyrotropic_tensors
from qkinetics.spin import G_SPIN, band_spin, band_spin_moment

FE = Path(__file__).parent / "data" / "wannier90" / "fe_spin" / "Fe"


def spin_x_unit():
    """X^spin per unit <sigma> in eV Å², from the Bohr magneton: m = -(g/2) mu_B sigma and X = (hbar/e) m."""
    return -0.5 * G_SPIN * qk.units.bohr_magneton_eV * qk.units.hbar / qk.units.e / qk.units.angstrom ** 2


def weyl_spin_closed_form(chi, v, w, mu_rel, kT):
    """S_{ij} = sum_n int d^3k/(2 pi)^3 (-f'_n) d_i eps_n <sigma_j>_n for H = chi v k.sigma + w kz + e0 (|w| < v).

    Derived here: <sigma>_+- = +-chi khat; the shell eps = E (E > 0 upper band, k = E/(v + w c); E < 0 lower band,
    k = |E|/(v - w c), the same after c -> -c) gives chi E^2 J/(2 pi)^3 with J_zz = 2 pi int c (v c + w)/(v + w c)^3 dc,
    J_xx = J_yy = pi v int (1 - c^2)/(v + w c)^3 dc, so the thermal average is exact:
    S = chi [(mu - e0)^2 + pi^2 (kT)^2/3] J/(2 pi)^3. Untilted: chi [(mu - e0)^2 + pi^2 (kT)^2/3]/(6 pi^2 v^2)."""
    Jzz = 2 * np.pi * sint.quad(lambda c: c * (v * c + w) / (v + w * c) ** 3, -1, 1)[0]
    Jxx = np.pi * v * sint.quad(lambda c: (1 - c * c) / (v + w * c) ** 3, -1, 1)[0]
    return chi * (mu_rel ** 2 + np.pi ** 2 * kT ** 2 / 3) * np.diag([Jxx, Jxx, Jzz]) / (2 * np.pi) ** 3


@pytest.mark.parametrize("chi, w", [(1, 0.0), (-1, 0.4), (1, -0.3)])
def test_weyl_node_spin_closed_form(chi, w):
    v, e0, mu, kT = 1.3, 0.1, 0.4, 0.025
    model = weyl_node(chi, v, w, e0, spin=True)
    k, wts = spherical_grid(1.6, nk=160, nth=48)                  # f' < e^-30 beyond, for both bands
    geo = qk.band_geometry(model, k, inverse_mass=False, keep_eigenvectors=True)
    mag, gyr = L.spin_field_gradient_mechanisms(model)
    fp = fermi_dirac(geo.energies, mu, kT / KB, order=1)[0, 0]
    I = np.einsum("k,kn,knuab->uab", wts, fp, gyr.integrand(geo)[1])
    Bmn = np.stack([I[:, 1, 2], I[:, 2, 0], I[:, 0, 1]], -1)      # I_{mu alpha beta} = B_{mu nu} eps_{alpha beta nu}
    ref = -spin_x_unit() * weyl_spin_closed_form(chi, v, w, mu - e0, kT)     # f' = -(-f')
    # measured agreement 4.6e-13 to 6.9e-13 relative (Gauss-Legendre 160 x 48 x 8, kT = 25 meV)
    np.testing.assert_allclose(Bmn, ref, rtol=0, atol=1e-9 * np.abs(ref).max())
    # the magnetization partner is the same band integral with the roles of the indices exchanged
    M = np.einsum("k,kn,knuab->uab", wts, fp, mag.integrand(geo)[1])
    np.testing.assert_allclose(M, -np.einsum("uab->aub", I), atol=1e-12 * np.abs(I).max())
    if w == 0:
        iso = chi * ((mu - e0) ** 2 + np.pi ** 2 * kT ** 2 / 3) / (6 * np.pi ** 2 * v ** 2)
        np.testing.assert_allclose(Bmn, -spin_x_unit() * iso * np.eye(3), rtol=0, atol=1e-9 * abs(iso))


# --------------------------------------------------------------------------- the whole O(q/omega) term with Zeeman


def random_spinful(dim, nsite=2, seed=0, nR=2):
    """A random model of spin-1/2 sites (orbital 2 s + spin), no symmetry; sigma = 1_sites x Pauli, on site."""
    rng = np.random.default_rng(seed)
    norb = 2 * nsite
    lattice = np.eye(dim) * 2.0 + 0.3 * rng.normal(size=(dim, dim))
    positions = np.repeat(rng.random((nsite, dim)), 2, axis=0)     # both spins of a site at one position
    hop = random_hoppings(rng, dim, norb, nR)
    spin = {(0,) * dim: np.stack([np.kron(np.eye(nsite), s) for s in PAULI])}
    return qk.TightBinding(lattice, positions, hop, hermiticity="complete", name="random spinful", spin_matrix=spin)


def _current_current_with_zeeman(model, k, w, q, mu, kT, Xop):
    """Interband static current-current sum (as test_gyrotropic_magnetic) with the Zeeman coupling added.

    A e^{iq.x} enters H(k + eA/hbar) (Peierls, vertex J = dH, midpoint rule) and -m_spin.B with B = i q x A e^{iq.x},
    m_spin = (e/hbar) X: -(e/hbar) X.(i q x A) = (e/hbar) A.(i q x X). So the vertex of A(q) is J + i q x X and that
    of the measured current, its Hermitian conjugate (the A(-q) vertex), J - i q x X (which adds the curl of the
    spin magnetization to the current)."""
    H1, dH1 = model.hamiltonian(k - q / 2, 1)
    H2, dH2 = model.hamiltonian(k + q / 2, 1)
    e1, U1 = np.linalg.eigh(H1)
    e2, U2 = np.linalg.eigh(H2)
    d = len(q)
    q3 = np.zeros(3)
    q3[:d] = q
    qX = np.cross(q3[:, None, None], Xop, axisa=0, axisb=0, axisc=0)[:d]        # (q x X)^a, (d, N, N)
    J = 0.5 * (dH1 + dH2)
    left = np.einsum("bin,bdij,bjm->bdnm", U1.conj(), J - 1j * qX[None], U2)
    right = np.einsum("bim,bdij,bjn->bdmn", U2.conj(), J + 1j * qX[None], U1)
    f1, f2 = fermi_dirac(e1, mu, kT / KB)[0, 0], fermi_dirac(e2, mu, kT / KB)[0, 0]
    off = ~np.eye(e1.shape[1], dtype=bool)[None]
    R = np.where(off, (f1[:, :, None] - f2[:, None, :]) / np.where(off, e1[:, :, None] - e2[:, None, :], 1.0), 0.0)
    return np.einsum("b,bunm,bamn,bnm->ua", w, left, right, R)


@pytest.mark.parametrize("dim, n, tol", [(2, 60, 1e-4), (3, 32, 1e-2)])
def test_whole_term_with_spin_matches_kubo_with_zeeman(dim, n, tol):
    """The O(q) odd part of the static interband sum (test_gyrotropic_magnetic explains why it is the whole
    O(q/omega) response) with Zeeman vertices equals -i (I_mag + I_gme).q with orbital plus spin moments, for every
    field direction. Measured: 2D 3.0e-5 and 6.9e-7 (dq = 1e-3); 3D 2.7e-2, 4.7e-3, 5.7e-4 on 24^3, 32^3, 40^3 (k-grid
    sampling of the small gaps). Without the spin mechanisms, or with the spin GME but not the spin magnetization
    curl, the error is 80% to 200%."""
    model = random_spinful(dim)
    s = (np.arange(n) + 0.5) / n
    red = np.stack(np.meshgrid(*[s] * dim, indexing="ij"), -1).reshape(-1, dim)
    k = model.k_from_reduced(red)
    w = np.full(len(k), abs(np.linalg.det(model.reciprocal)) / len(k) / (2 * np.pi) ** dim)
    mu, kT, dq = 0.5, 0.15, 1e-3
    geo = qk.band_geometry(model, k, inverse_mass=False, keep_eigenvectors=True)
    fp = fermi_dirac(geo.energies, mu, kT / KB, order=1)[0, 0]

    def band_integral(mech):
        return np.einsum("k,kn,knuab->uab", w, fp, mech.integrand(geo)[1])

    mag_spin, gme_spin = L.spin_field_gradient_mechanisms(model)
    orbital = band_integral(L.field_gradient_magnetization) + band_integral(L.field_gradient_gyrotropic)
    spin_gme = band_integral(gme_spin)
    spin = band_integral(mag_spin) + spin_gme
    Xop = spin_x_unit() * np.stack([np.kron(np.eye(2), p) for p in PAULI])
    for th in (0.3, 1.9):
        qh = np.array([np.cos(th), np.sin(th), 0.5][:dim])
        qh /= np.linalg.norm(qh)
        C = (_current_current_with_zeeman(model, k, w, dq * qh, mu, kT, Xop)
             - _current_current_with_zeeman(model, k, w, -dq * qh, mu, kT, Xop)) / (2 * dq)
        scale = np.abs(C).max()
        assert np.abs(C + 1j * np.einsum("uab,b->ua", orbital + spin, qh)).max() < tol * scale
        assert np.abs(C + 1j * np.einsum("uab,b->ua", orbital, qh)).max() > 0.5 * scale
        assert np.abs(C + 1j * np.einsum("uab,b->ua", orbital + spin_gme, qh)).max() > 0.5 * scale


# --------------------------------------------------------------------------- gauge invariance, K_spin in ampere


def _layered(model, weights):
    """Two identical uncoupled copies of a spinful model, the spin of copy l scaled by weights[l]."""
    hop = {R: np.kron(np.eye(2), t) for R, t in model.hoppings.items()}
    spin = {R: np.stack([np.kron(np.diag(weights), s_a) for s_a in s]) for R, s in model.spin_matrix.items()}
    return qk.TightBinding(model.lattice, np.tile(model.positions, (2, 1)), hop, spin_matrix=spin, name="two copies")


def test_k_spin_gauge_invariance_and_units(monkeypatch):
    """K_spin (A) of gyrotropic_tensors against -(g/2) mu_B sum int v sigma delta from band_spin (its own
    eigendecomposition) and the Bohr magneton; unchanged by a random unitary change of orbital basis applied to H
    and sigma; every band twice (two copies, spins weighted a, b): the spin GME integral is (a + b) times the single
    model's, whatever U(2) rotation inside the pairs the eigensolver returns. Measured: basis change 3e-15 relative,
    pairs round-off."""
    model = random_spinful(3, seed=3, nR=3)
    EF, eta = [0.0, 0.6], 0.2
    res = gyrotropic_tensors(model, EF, kgrid=8, smearing=eta, tensors=("K_spin", "dos"), degen_thresh=0.0)
    assert res.K_spin.attrs["units"] == "A"
    # reference: band_spin and the Bohr magneton (no X^spin, no e^2/hbar)
    grid = qk.integrate.KGrid(model, 8, shift=0.0)
    k = np.concatenate([kc for kc, _ in grid.chunks(10 ** 6)])
    E, S = band_spin(model, k)
    v = qk.band_geometry(model, k, inverse_mass=False).velocity
    x = (E[None] - np.array(EF)[:, None, None]) / eta
    delta = np.where(np.abs(x) <= 5, np.exp(-x ** 2), 0) / (np.sqrt(np.pi) * eta) / len(k)
    volume = abs(np.linalg.det(model.lattice))
    mu_B = qk.units.bohr_magneton_eV * qk.units.e                   # J/T = A m^2
    ref = -0.5 * G_SPIN * mu_B * np.einsum("fbn,bna,bnc->fac", delta, v, S) / (volume * qk.units.angstrom ** 2)
    scale = np.abs(ref).max()
    assert scale > 0
    # measured 9.6e-13: CODATA's tabulated mu_B and e hbar/2m_e from its m_e differ by that much
    np.testing.assert_allclose(res.K_spin.values, ref, rtol=0, atol=1e-10 * scale)

    rng = np.random.default_rng(4)
    W, _ = np.linalg.qr(rng.normal(size=(4, 4)) + 1j * rng.normal(size=(4, 4)))
    lat = model.with_convention("lattice")
    rotated = qk.TightBinding(lat.lattice, lat.positions, {R: W.conj().T @ t @ W for R, t in lat.hoppings.items()},
                              convention="lattice", spin_matrix={R: W.conj().T @ s @ W for R, s in
                                                                 model.spin_matrix.items()})
    again = gyrotropic_tensors(rotated, EF, kgrid=8, smearing=eta, tensors=("K_spin",), degen_thresh=0.0)
    np.testing.assert_allclose(again.K_spin.values, res.K_spin.values, rtol=0, atol=1e-12 * scale)

    # every band twice: gyrotropic_tensors leaves degenerate bands out (postw90); the mechanism keeps the groups
    a, b = 0.7, -0.2
    pairs = _layered(model, [a, b])

    def gme_spin(m, kk):
        geo = qk.band_geometry(m, kk, inverse_mass=False, keep_eigenvectors=True)
        fp = fermi_dirac(geo.energies, 0.6, 0.2 / KB, order=1)[0, 0]
        X1 = L.spin_field_gradient_mechanisms(m)[1].integrand(geo)[1]
        return np.einsum("kn,knuab->uab", fp, X1) / len(kk), geo

    single, _ = gme_spin(model, k)
    two, geo = gme_spin(pairs, k)
    assert np.all(geo.degeneracy == 2)
    np.testing.assert_allclose(two, (a + b) * single, rtol=0, atol=1e-12 * np.abs(single).max())
    monkeypatch.setattr(np.linalg, "eigh", pair_scrambled_eigh(rng))        # a random U(2) inside every pair
    mixed, geo_mixed = gme_spin(pairs, k)
    monkeypatch.undo()
    assert np.abs(geo_mixed.eigenvectors - geo.eigenvectors).max() > 0.1           # the gauge did change
    np.testing.assert_allclose(mixed, two, rtol=0, atol=1e-12 * np.abs(single).max())
    # the group average is (a + b)/2 times the single band's value (band by band it is gauge dependent)
    X1 = band_spin_moment(model, qk.band_geometry(model, k, keep_eigenvectors=True))
    X2 = band_spin_moment(pairs, geo_mixed)
    for j in (0, 1):
        np.testing.assert_allclose(X2[:, j::2], 0.5 * (a + b) * X1, rtol=0, atol=1e-12 * np.abs(X1).max())


# postw90.x (tests/data/wannier90/README.md), fe_spin with gyrotropic_task = -K-spin-dos on an off-centre box (no
# inversion partner inside it), Gaussian width 0.3 eV, degen_thresh 0.001, E_F = 12, 12.5, 13 eV: K_spin in A,
# symmetric part xx yy zz xy xz yz | antisymmetric part as a vector x y z, printed to 6 digits
FE_BOX = {"center": [0.1, 0.2, 0.3], "vectors": [[0.3, 0, 0], [0.05, 0.25, 0], [0, 0.1, 0.35]], "mesh": 10}
FE_K_SPIN_REFERENCE = [
    [-0.721213e-08, -0.740363e-08, 0.228135e-05, 0.407378e-08, -0.978228e-06, -0.804827e-06,
     -0.793843e-06, 0.970743e-06, 0.269405e-09],
    [0.113062e-08, -0.191903e-08, 0.720926e-06, -0.128883e-09, -0.540101e-06, -0.445629e-06,
     -0.440713e-06, 0.532515e-06, 0.251690e-08],
    [0.460053e-08, 0.202961e-08, -0.208095e-06, 0.126740e-11, 0.174663e-06, 0.329973e-06,
     0.335260e-06, -0.183013e-06, 0.384674e-09]]
FE_DOS_REFERENCE = [0.454773e-02, 0.363509e-02, 0.300041e-02]


def test_fe_k_spin_postw90_box():
    """K_spin of bcc Fe on a box away from the inversion-symmetric points, against postw90 (g = 2). Measured: every
    printed digit (largest deviation 3.5e-6 relative, within half a unit of the sixth digit); the DOS as well."""
    from test_gyrotropic import postw90_layout

    fe = qk.read_wannier90_run(FE, spin=True)
    res = gyrotropic_tensors(fe, [12.0, 12.5, 13.0], box=FE_BOX, smearing=0.3, max_arg=5.0, degen_thresh=0.001,
                             tensors=("K_spin", "dos"), g_factor=2.0)
    for i, ref in enumerate(FE_K_SPIN_REFERENCE):
        sym, anti = postw90_layout(res.K_spin.values[i])
        ref = np.array(ref)
        # six printed digits: half a unit of the last one, relative to each number
        np.testing.assert_allclose(np.r_[sym, anti], ref, rtol=5e-6, atol=1e-18)
    np.testing.assert_allclose(res.dos.values, FE_DOS_REFERENCE, rtol=5e-6)


def test_k_spin_with_the_orbital_operators(tmp_path):
    """With the orbital K (B and C operators: the geometry then runs in Wannier90's lattice convention) K_spin is the
    same as alone (model's convention), and K_total = K + K_spin. The test data has no Fe.uHu: a zero one (C = 0)
    gives well-defined, unphysical operators, enough for the bookkeeping."""
    from qkinetics.models.wannier90_orbital import read_wannier90_orbital

    for f in FE.parent.iterdir():
        if f.name.startswith("Fe.") and f.name != "Fe.win":
            (tmp_path / f.name).symlink_to(f.resolve())
    (tmp_path / "Fe.win").write_text(FE.with_suffix(".win").read_text() + "\nuHu_formatted = true\n")
    (tmp_path / "Fe.uHu").write_text("zero uHu\n28 8 12\n" + "0 0\n" * (8 * 12 * 12 * 28 * 28))
    fe = qk.read_wannier90_run(tmp_path / "Fe", spin=True)
    orbital = read_wannier90_orbital(tmp_path / "Fe")
    both = gyrotropic_tensors(fe, 12.6, box=FE_BOX | {"mesh": 4}, smearing=0.3, tensors=("K", "K_spin"),
                              orbital=orbital)
    alone = gyrotropic_tensors(fe, 12.6, box=FE_BOX | {"mesh": 4}, smearing=0.3, tensors=("K_spin",))
    scale = np.abs(alone.K_spin.values).max()
    assert scale > 0 and "K_total" not in alone
    np.testing.assert_allclose(both.K_spin.values, alone.K_spin.values, rtol=0, atol=1e-12 * scale)
    np.testing.assert_allclose(both.K_total.values, both.K.values + both.K_spin.values, rtol=0, atol=0)


def test_fe_k_spin_vanishes_by_inversion():
    """bcc Fe (spinor Wannier functions, magnetic along z) has inversion: v(-k) = -v(k) and sigma(-k) = sigma(k), so
    K_spin = 0 on a Gamma-centred grid although the spin moment (about 3 mu_B, test_wannier90_spin.py) and the
    one-sided sums do not vanish. Measured: |K_spin| / sum |v sigma delta| = 1.0e-14."""
    fe = qk.read_wannier90_run(FE, spin=True)
    res = gyrotropic_tensors(fe, 12.6279, kgrid=4, smearing=0.3, tensors=("K_spin", "dos"))
    grid = qk.integrate.KGrid(fe, 4, shift=0.0)
    k = np.concatenate([kc for kc, _ in grid.chunks(10 ** 6)])
    geo = qk.band_geometry(fe, k, inverse_mass=False, keep_eigenvectors=True, degeneracy_tol=1e-7)
    X = band_spin_moment(fe, geo)
    x = (geo.energies - 12.6279) / 0.3
    delta = np.where(np.abs(x) <= 5, np.exp(-x ** 2), 0.0)
    one_sided = np.einsum("bn,bna,bnc->ac", delta, np.abs(geo.velocity), np.abs(X)).max()
    assert np.abs(X[..., 2]).max() > 1.0                            # eV Å²: the spin moment is there
    assert res.dos.values[0] > 0
    # the same units as K_spin (A) for the scale: e^2/hbar / (N V) times the one-sided sum
    unit = qk.units.e ** 2 / qk.units.hbar / (len(k) * abs(np.linalg.det(fe.lattice))) / (np.sqrt(np.pi) * 0.3)
    assert np.abs(res.K_spin.values).max() < 1e-12 * unit * one_sided


# --------------------------------------------------------------------------- errors


def test_spin_requested_without_a_spin_operator():
    model = weyl_node(1, 1.0, 0.0, 0.0)
    with pytest.raises(ValueError, match="no spin operator"):
        L.spin_field_gradient_mechanisms(model)
    from conftest import random_tight_binding

    tb = random_tight_binding(3, 2)
    with pytest.raises(ModelError, match="K_spin needs the spin operator"):
        gyrotropic_tensors(tb, 0.0, kgrid=2, tensors=("K", "K_spin"))
    spinful = weyl_node(1, 1.0, 0.0, 0.0, spin=True)
    geo = qk.band_geometry(spinful, [[0.1, 0.2, 0.3]])
    with pytest.raises(ModelError, match="keep_eigenvectors=True"):
        band_spin_moment(spinful, geo)
    with pytest.raises(ModelError, match="spin_matrix must be three"):
        qk.Continuum(spinful.matrix, spin_matrix=PAULI[:2])
    with pytest.raises(ModelError, match="Hermitian"):
        qk.Continuum(spinful.matrix, spin_matrix=PAULI + 1j)


@pytest.mark.filterwarnings("ignore::qkinetics.integrate.integrator.GridResolutionWarning")
def test_spin_mechanisms_in_conductivity():
    """The bound mechanisms run through qk.conductivity (the integrator keeps the eigenvectors) and are labelled."""
    model = random_spinful(2, seed=1)
    mech = ["field_gradient_gyrotropic", *L.spin_field_gradient_mechanisms(model, g_factor=2.0)]
    res = qk.conductivity(model, gradient=True, mechanisms=mech, mu=0.5, T=1500.0, tau=1e-13, kgrid=24)
    for name in ("field_gradient_gyrotropic", "field_gradient_gyrotropic_spin", "field_gradient_magnetization_spin"):
        assert name in res
    assert res["field_gradient_gyrotropic_spin"].attrs["units"] == "S m"
    assert np.abs(res["field_gradient_gyrotropic_spin"]).max() > 0
