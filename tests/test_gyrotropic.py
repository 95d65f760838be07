"""Gyrotropic Fermi-surface tensors (TAS17) against postw90's Te regression benchmark and an identity."""

from pathlib import Path

import numpy as np
import pytest
from scipy.special import erfc

import qkinetics as qk
from qkinetics.integrate.grids import KGrid
from qkinetics.models.wannier90_run import read_wannier90_run
from qkinetics.responses.gyrotropic import box_kpoints, gyrotropic_tensors

from conftest import pair_scrambled_eigh, random_tight_binding

DATA = Path(__file__).parent / "data" / "wannier90"

# postw90 (Wannier90 2.1 test suite, testpostw90_te_gyrotropic), E_F = 2 eV, gyrotropic_task = -D0:
# symmetric part xx yy zz xy xz yz | antisymmetric part as a vector x y z, printed to 6 digits
TE_D_REFERENCE = ([0.472879e-02, 0.462620e-02, -0.637568e-02, -0.547908e-02, 0.432360e-02, -0.132636e-02],
                  [-0.539361e-02, -0.678192e-02, -0.253531e-02])
TE_BOX = {"center": [0.33333, 0.33333, 0.5], "vectors": 0.2 * np.eye(3), "mesh": 5}


def postw90_layout(D):
    sym, anti = 0.5 * (D + D.T), 0.5 * (D - D.T)
    return ([sym[0, 0], sym[1, 1], sym[2, 2], sym[0, 1], sym[0, 2], sym[1, 2]],
            [anti[1, 2], anti[2, 0], anti[0, 1]])


@pytest.fixture(scope="module")
def tellurium():
    return read_wannier90_run(DATA / "te" / "Te.win")


def test_te_berry_curvature_dipole_postw90(tellurium):
    res = gyrotropic_tensors(tellurium, 2.0, box=TE_BOX, smearing=0.1, max_arg=5.0, degen_thresh=0.001,
                             tensors=("D",))
    sym, anti = postw90_layout(res.D.values[0])
    # agreement to the printed digits: one unit of the last digit is 1e-8 (measured max 3e-9)
    np.testing.assert_allclose(sym, TE_D_REFERENCE[0], rtol=0, atol=1e-8)
    np.testing.assert_allclose(anti, TE_D_REFERENCE[1], rtol=0, atol=1e-8)


# the same run with gyrotropic_task = -C and -dos (test suite testpostw90_te_gyrotropic_C / _dos), E_F = 2..10 eV:
# C (A/cm as printed; xx yy zz xy xz yz, symmetric) and the density of states (1/(eV A^3))
TE_EF = [2.0, 4.0, 6.0, 8.0, 10.0]
TE_C_REFERENCE = [[0.361959e+01, 0.326754e+01, 0.447568e+01, -0.210217e+00, -0.393533e+00, 0.324436e+00],
                  [0.0] * 6,
                  [0.107132e-06, 0.442235e-06, 0.227112e-04, -0.139424e-07, -0.868363e-07, 0.656907e-06],
                  [0.143525e-01, 0.361078e-01, 0.420984e-02, 0.201734e-01, 0.468490e-05, 0.573896e-05],
                  [0.0] * 6]
TE_DOS_REFERENCE = [0.277695e-03, 0.0, 0.209609e-09, 0.103847e-05, 0.0]


def test_te_c_tensor_and_dos_postw90(tellurium):
    res = gyrotropic_tensors(tellurium, TE_EF, box=TE_BOX, tensors=("C", "dos"))
    C = res.C.values / 100                                                   # A/m -> A/cm as printed
    ours = [[c[0, 0], c[1, 1], c[2, 2], c[0, 1], c[0, 2], c[1, 2]] for c in C]
    # six printed digits: relative 1e-5 (measured agreement 1e-6); exact zeros where no state is in reach
    np.testing.assert_allclose(ours, TE_C_REFERENCE, rtol=1e-5, atol=0)
    np.testing.assert_allclose(res.dos.values, TE_DOS_REFERENCE, rtol=1e-5, atol=0)


def test_te_tight_binding_approximation_differs(tellurium):
    """Te's position matrix is far from diagonal: dropping it moves D by 2e-5..1.2e-4, 1000x the print step."""
    res = gyrotropic_tensors(tellurium.tight_binding_approximation(), 2.0, box=TE_BOX, tensors=("D",))
    sym, anti = postw90_layout(res.D.values[0])
    diff = np.abs(np.concatenate([np.subtract(sym, TE_D_REFERENCE[0]), np.subtract(anti, TE_D_REFERENCE[1])]))
    assert diff.max() > 1e-4


def test_fermi_surface_equals_fermi_sea():
    """D_ab = sum int delta(e - E_F) v_a Omega^b = sum int f d_a Omega^b with f = erfc((e - E_F)/eta)/2.

    The right side uses the analytic curvature derivative of band_geometry: a route that shares only the
    eigendecomposition. Measured difference on a gapped 3-band model: 2.6e-3, 1.9e-4, 6.5e-5, 5.0e-6 at
    n = 6, 8, 10, 14 (|D| = 4e-3).
    """
    model = random_tight_binding(3, 3, seed=2, nR=3, scale=0.15)
    EF, eta, n = 0.35, 0.2, 14
    D_surface = gyrotropic_tensors(model, EF, kgrid=n, smearing=eta, max_arg=10, degen_thresh=0.0).D.values[0]
    grid = KGrid(model, n, shift=0.0)
    D_sea = np.zeros((3, 3))
    for k, _ in grid.chunks(20000):
        geo = qk.band_geometry(model, k, derivatives=True, degeneracy_tol=0.0)
        f = 0.5 * erfc((geo.energies - EF) / eta)
        dO = geo.berry_curvature_derivative                                        # [..., a, b, c] = d_c Omega^ab
        dOmega = np.stack([dO[..., 1, 2, :], dO[..., 2, 0, :], dO[..., 0, 1, :]], axis=-2)   # d_c Omega^b
        D_sea += np.einsum("kn,knbc->cb", f, dOmega)
    D_sea /= grid.npoints * abs(np.linalg.det(model.lattice))
    assert np.abs(D_surface).max() > 1e-3
    np.testing.assert_allclose(D_surface, D_sea, rtol=0, atol=1.5e-5)


def test_whole_zone_box_is_the_grid():
    model = random_tight_binding(3, 2, seed=5)
    a = gyrotropic_tensors(model, 0.0, kgrid=4)
    b = gyrotropic_tensors(model, 0.0, box={"center": [0.5, 0.5, 0.5], "vectors": np.eye(3), "mesh": 4})
    for name in ("D", "C", "dos"):
        np.testing.assert_allclose(a[name].values, b[name].values, rtol=1e-13, atol=1e-16)
    kred, w = box_kpoints([0.5, 0.5, 0.5], np.eye(3), 4)
    assert kred.shape == (64, 3) and w == pytest.approx(1 / 64)


@pytest.mark.parametrize("kw, match", [({}, "exactly one"), ({"kgrid": 4, "box": TE_BOX}, "exactly one"),
                                       ({"kgrid": 4, "smearing": 0.0}, "smearing"),
                                       ({"kgrid": 4, "tensors": ("X",)}, "unknown"),
                                       ({"box": {"center": [0, 0, 0]}}, "box")])
def test_bad_input(kw, match):
    model = random_tight_binding(3, 2, seed=5)
    with pytest.raises(qk.ModelError, match=match):
        gyrotropic_tensors(model, 0.0, **kw)


def test_two_dimensional_model_refused():
    with pytest.raises(qk.ModelError, match="3D"):
        gyrotropic_tensors(qk.zoo.qi_wu_zhang(), 0.0, kgrid=4)


# postw90, gyrotropic_task = -K (orbital part; Te has no spin-orbit), E_F = 2 eV, in ampere
TE_K_REFERENCE = ([-0.825795e-07, 0.507721e-07, 0.774538e-07, -0.569499e-07, 0.135849e-07, -0.992074e-08],
                  [0.142193e-07, 0.346068e-07, -0.279798e-07])


def test_te_orbital_k_tensor_postw90(tellurium):
    from qkinetics.models.wannier90_orbital import read_wannier90_orbital

    orbital = read_wannier90_orbital(DATA / "te" / "Te.win")
    res = gyrotropic_tensors(tellurium, 2.0, box=TE_BOX, tensors=("K", "D"), orbital=orbital)
    sym, anti = postw90_layout(res.K.values[0])
    # measured agreement 1.7e-13 A (largest relative 1.7e-5, on the smallest component, -9.9e-9 A): to 1e-4
    np.testing.assert_allclose(sym, TE_K_REFERENCE[0], rtol=1e-4, atol=0)
    np.testing.assert_allclose(anti, TE_K_REFERENCE[1], rtol=1e-4, atol=0)
    # the curvature of the orbital-moment route is band_geometry's (D unchanged)
    sym, anti = postw90_layout(res.D.values[0])
    np.testing.assert_allclose(sym, TE_D_REFERENCE[0], rtol=0, atol=1e-8)


def test_orbital_moment_needs_the_uhu_operators(tellurium):
    with pytest.raises(qk.ModelError, match="uHu"):
        gyrotropic_tensors(tellurium, 2.0, box=TE_BOX, tensors=("K",))


def _mixed_basis(model, Q, shifts):
    """The model in the basis |m,0>' = sum_j Q[j, m] |j, S_m>: H'(R), r'(R), B'(R), C'(R) from the old, diagonal
    position operator r|j,S> = (S + tau_j)|j,S> (Cartesian), exactly."""
    lat = model.lattice
    tau = model.positions @ lat
    N = model.norb
    S = np.asarray(shifts)                                  # (N, 3) reduced shifts of the new orbitals
    Rs = {tuple(int(x) for x in np.subtract(np.add(R, S[m]), S[n])) for R in model.hoppings
          for m in range(N) for n in range(N)}
    Rs |= {tuple(int(x) for x in S[m] - S[n]) for m in range(N) for n in range(N)}
    Rs = sorted(Rs)
    H, r, B, C = {}, {}, [], []
    for R in Rs:
        h = np.zeros((N, N), complex)
        rr = np.zeros((3, N, N), complex)
        b = np.zeros((3, N, N), complex)
        c = np.zeros((3, 3, N, N), complex)
        for m in range(N):
            for n in range(N):
                Rold = tuple(int(x) for x in np.add(R, S[n]) - S[m])
                pos_m = S[m] @ lat + tau                    # (N_old, 3): S_m + tau_j
                pos_n = S[n] @ lat + tau
                t = model.hoppings.get(Rold)
                if t is not None:
                    h[m, n] = Q[:, m].conj() @ t @ Q[:, n]
                    b[:, m, n] = np.einsum("j,jk,k,ka->a", Q[:, m].conj(), t, Q[:, n], pos_n)
                    c[:, :, m, n] = np.einsum("j,ja,jk,k,kb->ab", Q[:, m].conj(), pos_m, t, Q[:, n], pos_n)
                if Rold == (0, 0, 0):
                    rr[:, m, n] = np.einsum("j,j,ja->a", Q[:, m].conj(), Q[:, n], pos_m)
        H[R] = h
        r[R] = rr
        B.append(b)
        C.append(c)
    from qkinetics.models.wannier90_orbital import OrbitalOperators

    new = qk.TightBinding(lat, np.zeros((N, 3)), H, convention="lattice", position_matrix=r)
    return new, OrbitalOperators(Rs, np.array(B), np.array(C), lat)


def test_orbital_moment_exact_in_a_complete_mixed_basis():
    """A complete Wannier basis that mixes orbitals of different sites and cells: the full formula (A, B, C)
    must give the orbital moment and curvature of the original model (tight-binding formula, diagonal
    positions) to round-off; dropping the position terms must not."""
    from qkinetics.responses.gyrotropic import wannier_orbital_moment

    model = random_tight_binding(3, 3, seed=7, nR=3, scale=0.6)
    rng = np.random.default_rng(3)
    Q, _ = np.linalg.qr(rng.normal(size=(3, 3)) + 1j * rng.normal(size=(3, 3)))
    new, ops = _mixed_basis(model, Q, [(0, 0, 0), (1, 0, 0), (0, -1, 1)])
    k = model.k_from_reduced(rng.random((40, 3)))
    e0, v0, om0, m0 = wannier_orbital_moment(model, None, k)
    e1, v1, om1, m1 = wannier_orbital_moment(new, ops, k)
    np.testing.assert_allclose(e1, e0, atol=1e-12)
    np.testing.assert_allclose(v1, v0, atol=1e-10)
    scale = np.abs(m0).max()
    np.testing.assert_allclose(om1, om0, rtol=0, atol=1e-9 * np.abs(om0).max())
    np.testing.assert_allclose(m1, m0, rtol=0, atol=1e-9 * scale)
    _, _, _, m_tb = wannier_orbital_moment(new.tight_binding_approximation(), None, k)
    assert np.abs(m_tb - m0).max() > 1e-2 * scale


def test_two_band_moment_is_curvature_times_gap():
    """Two bands, tight-binding limit: M_n = (e_n - e_m) Omega_n (both sums have the single partner m)."""
    from qkinetics.responses.gyrotropic import wannier_orbital_moment

    model = random_tight_binding(3, 2, seed=11, nR=3)
    k = model.k_from_reduced(np.random.default_rng(0).random((30, 3)))
    e, _, om, m = wannier_orbital_moment(model, None, k)
    gap = e[:, :1] - e[:, 1:]
    np.testing.assert_allclose(m[:, 0], gap * om[:, 0], rtol=1e-10, atol=1e-12)
    np.testing.assert_allclose(m[:, 1], -gap * om[:, 1], rtol=1e-10, atol=1e-12)


def test_orbital_moment_of_degenerate_pairs_with_b_and_c_operators(monkeypatch):
    """Every band twice (H ⊗ 1), rebuilt in a complete basis that mixes the copies, sites and cells: the full
    formula with B and C (band_geometry(orbital=)) gives each exact pair the single band's moment, for any
    unitary mixing inside the pairs."""
    model = random_tight_binding(3, 3, seed=5, nR=3, scale=0.6)
    doubled = qk.TightBinding(model.lattice, np.repeat(model.positions, 2, axis=0),
                              {R: np.kron(t, np.eye(2)) for R, t in model.hoppings.items()})
    rng = np.random.default_rng(8)
    Q, _ = np.linalg.qr(rng.normal(size=(6, 6)) + 1j * rng.normal(size=(6, 6)))
    new, ops = _mixed_basis(doubled, Q, [(0, 0, 0), (1, 0, 0), (0, -1, 1), (0, 0, 0), (0, 1, 0), (-1, 0, 0)])
    k = model.k_from_reduced(rng.random((30, 3)))
    single = qk.band_geometry(model, k).orbital_moment
    geo = qk.band_geometry(new, k, orbital=ops)
    assert np.all(geo.degeneracy == 2)
    scale = np.abs(single).max()
    np.testing.assert_allclose(geo.orbital_moment[:, 0::2], single, rtol=0, atol=1e-9 * scale)
    np.testing.assert_allclose(geo.orbital_moment[:, 1::2], single, rtol=0, atol=1e-9 * scale)
    # without B and C (the moment within the Wannier space) the pairs' moment is the same here: complete basis
    inner = qk.band_geometry(new, k).orbital_moment
    np.testing.assert_allclose(inner[:, 0::2], single, rtol=0, atol=1e-9 * scale)
    monkeypatch.setattr(np.linalg, "eigh", pair_scrambled_eigh(rng))        # a random U(2) inside every pair
    again = qk.band_geometry(new, k, orbital=ops).orbital_moment
    monkeypatch.undo()
    np.testing.assert_allclose(again, geo.orbital_moment, rtol=0, atol=1e-9 * scale)
