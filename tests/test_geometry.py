"""Band geometry: closed forms, identities, gauge invariance, finite differences, degenerate groups."""

import numpy as np
import pytest

import qkinetics as qk
from qkinetics import zoo
from qkinetics.geometry import band_geometry, geometry_from_hamiltonian, iter_band_geometry

from conftest import random_tight_binding

QUANTITIES = ("berry_curvature", "quantum_metric", "normalized_metric")


# ---------------------------------------------------------------- closed forms (massive Dirac)

def dirac_closed_form(v, m, kx, ky):
    """Derived by hand for H = t kx + v (kx sx + ky sy) + m sz, E = sqrt(v^2 k^2 + m^2).

    Omega_-^{xy} = +v^2 m / (2E^3) = -Omega_+^{xy};  g_+- = (1/4) d_a dhat . d_b dhat, i.e.
    g^{xx} = v^2 (v^2 ky^2 + m^2) / (4E^4), g^{yy} = v^2 (v^2 kx^2 + m^2) / (4E^4),
    g^{xy} = -v^4 kx ky / (4E^4);  G_n = 2 g / (eps_n - eps_m) = -+ g / E. The tilt t moves
    both energies by t kx and leaves the eigenvectors, hence Omega, g, G, unchanged.
    """
    E = np.sqrt(v**2 * (kx**2 + ky**2) + m**2)
    om = v**2 * m / (2 * E**3)
    g = np.empty(kx.shape + (2, 2))
    g[..., 0, 0] = v**2 * (v**2 * ky**2 + m**2) / (4 * E**4)
    g[..., 1, 1] = v**2 * (v**2 * kx**2 + m**2) / (4 * E**4)
    g[..., 0, 1] = g[..., 1, 0] = -v**4 * kx * ky / (4 * E**4)
    return E, om, g


@pytest.mark.parametrize("mass", [0.4, -0.25])
def test_massive_dirac_closed_forms(rng, mass):
    v, tilt = 1.7, 0.3
    model = zoo.massive_dirac(v=v, mass=mass, tilt=tilt)
    k = rng.normal(size=(50, 2)) * 0.6
    geo = band_geometry(model, k)
    E, om, g = dirac_closed_form(v, mass, k[:, 0], k[:, 1])
    np.testing.assert_allclose(geo.energies, np.stack([tilt * k[:, 0] - E, tilt * k[:, 0] + E], 1), atol=1e-12)
    np.testing.assert_allclose(geo.berry_curvature[:, 0, 0, 1], om, rtol=1e-10, atol=1e-13)
    np.testing.assert_allclose(geo.berry_curvature[:, 1, 0, 1], -om, rtol=1e-10, atol=1e-13)
    np.testing.assert_allclose(geo.berry_curvature[:, :, 1, 0], -geo.berry_curvature[:, :, 0, 1], atol=1e-13)
    for n in (0, 1):
        np.testing.assert_allclose(geo.quantum_metric[:, n], g, rtol=1e-10, atol=1e-13)
    np.testing.assert_allclose(geo.normalized_metric[:, 0], -g / E[:, None, None], rtol=1e-10, atol=1e-13)
    np.testing.assert_allclose(geo.normalized_metric[:, 1], g / E[:, None, None], rtol=1e-10, atol=1e-13)
    # velocity d eps/dk: t +- v^2 k / E
    vx = v**2 * k[:, 0] / E
    np.testing.assert_allclose(geo.velocity[:, 0, 0], tilt - vx, rtol=1e-10, atol=1e-12)
    np.testing.assert_allclose(geo.velocity[:, 1, 0], tilt + vx, rtol=1e-10, atol=1e-12)
    # inverse mass of the upper band: d^2 E / dkx^2 = v^2 (v^2 ky^2 + m^2) / E^3
    np.testing.assert_allclose(geo.inverse_mass[:, 1, 0, 0], v**2 * (v**2 * k[:, 1]**2 + mass**2) / E**3, rtol=1e-10)
    # orbital moment X = Im<d_x u|H - eps|d_y u>: for two bands (eps_n - eps_m) Im<d_x u_n|d_y u_n> =
    # -(eps_n - eps_m) Omega_n/2, the same for both bands: -v^2 m/(2 E^2) (the tilt cancels)
    assert geo.orbital_moment.shape == (50, 2, 1)
    for n in (0, 1):
        np.testing.assert_allclose(geo.orbital_moment[:, n, 0], -v**2 * mass / (2 * E**2), rtol=1e-10, atol=1e-13)


def test_docstring_example_value():
    geo = band_geometry(zoo.massive_dirac(v=1.0, mass=0.5), [[0.0, 0.0]])
    assert geo.berry_curvature[0, 0, 0, 1] == pytest.approx(2.0)


# ---------------------------------------------------------------- identities and bounds

@pytest.mark.parametrize("norb", [2, 4])
def test_metric_curvature_bounds(norb):
    model = random_tight_binding(2, norb, seed=norb)
    k = model.k_from_reduced(np.random.default_rng(1).random((300, 2)))
    geo = band_geometry(model, k)
    om = geo.berry_curvature[..., 0, 1]
    g = geo.quantum_metric
    tr = g[..., 0, 0] + g[..., 1, 1]
    det = g[..., 0, 0] * g[..., 1, 1] - g[..., 0, 1] ** 2
    scale = np.maximum(tr, 1e-12)
    assert np.all(np.abs(om) <= tr + 1e-9 * scale)
    assert np.all(det >= om**2 / 4 - 1e-9 * scale**2)
    # metric is symmetric positive semidefinite, curvature antisymmetric
    np.testing.assert_allclose(g, np.swapaxes(g, -1, -2), atol=1e-10 * scale.max())
    assert np.all(np.linalg.eigvalsh(g) >= -1e-9 * scale[..., None])
    if norb == 2:
        # two bands: equality in both bounds
        np.testing.assert_allclose(np.abs(om), np.sqrt(4 * det), rtol=1e-6, atol=1e-10)
        np.testing.assert_allclose(4 * det, om**2, rtol=1e-7, atol=1e-12)
    else:
        assert np.max(det - om**2 / 4) > 1e-6        # strict somewhere: the bound is not trivially tight


def test_sum_rules_over_bands():
    """Sum over all bands: sum_n Omega_n = 0; sum_n G_n = 0 for two bands (antisymmetric pair sum)."""
    model = random_tight_binding(3, 3, seed=4)
    k = model.k_from_reduced(np.random.default_rng(2).random((100, 3)))
    geo = band_geometry(model, k)
    assert np.abs(geo.berry_curvature.sum(axis=1)).max() < 1e-8 * np.abs(geo.berry_curvature).max()
    two = band_geometry(random_tight_binding(2, 2, seed=3), k[:, :2])
    assert np.abs(two.normalized_metric.sum(axis=1)).max() < 1e-8 * np.abs(two.normalized_metric).max()


# ---------------------------------------------------------------- analytic derivatives vs finite differences

def _fd_check(model, k, h=1e-4, **kw):
    """Analytic derivatives against Richardson-extrapolated central differences (error O(h^4)).

    Plain central differences lose accuracy near small gaps (error ~ h^2 / gap^5); the
    extrapolation keeps the measured relative error below 1e-8 on these random models.
    """
    geo = band_geometry(model, k, derivatives=True, **kw)

    def central(c, step, name):
        kp, km = k.copy(), k.copy()
        kp[:, c] += step
        km[:, c] -= step
        return (getattr(band_geometry(model, kp, **kw), name) - getattr(band_geometry(model, km, **kw), name)) / (2 * step)

    def richardson(c, name):
        return (4 * central(c, h / 2, name) - central(c, h, name)) / 3

    for c in range(model.dim):
        for name in QUANTITIES:
            fd = richardson(c, name)
            an = getattr(geo, name + "_derivative")[..., c]
            np.testing.assert_allclose(an, fd, rtol=1e-6, atol=1e-7 * np.abs(an).max() + 1e-9, err_msg=f"d_{c} {name}")
        fd_v = richardson(c, "velocity")
        np.testing.assert_allclose(geo.inverse_mass[..., c], fd_v, rtol=1e-6, atol=1e-7 * np.abs(fd_v).max())
        fd_e = richardson(c, "energies")
        np.testing.assert_allclose(geo.velocity[..., c], fd_e, rtol=1e-6, atol=1e-7 * np.abs(fd_e).max())


@pytest.mark.parametrize("dim,norb", [(2, 2), (2, 5), (3, 4), (1, 3)])
def test_derivatives_match_finite_differences(dim, norb):
    model = random_tight_binding(dim, norb, seed=10 * dim + norb)
    k = model.k_from_reduced(np.random.default_rng(3).random((20, dim)))
    _fd_check(model, k)


def test_derivatives_degenerate_pt_model():
    model = zoo.pt_antiferromagnet()
    k = model.k_from_reduced(np.random.default_rng(5).random((20, 2)))
    _fd_check(model, k)


# ---------------------------------------------------------------- gauge invariance

def test_invariance_under_orbital_basis_rotation(rng):
    model = random_tight_binding(2, 4, seed=7)
    Q, _ = np.linalg.qr(rng.normal(size=(4, 4)) + 1j * rng.normal(size=(4, 4)))
    rotated = qk.TightBinding(model.lattice, np.zeros((4, 2)), {R: t for R, t in model.hoppings.items()},
                              convention="lattice")
    k = model.k_from_reduced(rng.random((40, 2)))
    base = band_geometry(rotated, k, derivatives=True)
    H, dH, d2H = rotated.hamiltonian(k, 2)
    rot = geometry_from_hamiltonian(Q @ H @ Q.conj().T, Q @ dH @ Q.conj().T, Q @ d2H @ Q.conj().T,
                                    derivatives=True)
    for name in QUANTITIES + ("velocity", "inverse_mass", "berry_curvature_derivative", "orbital_moment",
                              "normalized_metric_derivative", "quantum_metric_derivative"):
        a, b = getattr(base, name), getattr(rot, name)
        np.testing.assert_allclose(a, b, atol=1e-9 * np.abs(a).max(), err_msg=name)


@pytest.mark.parametrize("model_name", ["random", "pt_antiferromagnet", "kane_mele"])
def test_invariance_under_eigenvector_gauge(monkeypatch, model_name):
    """Random k-dependent band phases, and random unitary mixing inside degenerate groups."""
    model = random_tight_binding(2, 4, seed=8) if model_name == "random" else zoo.get(model_name)
    k = model.k_from_reduced(np.random.default_rng(6).random((30, 2)))
    ref = band_geometry(model, k, derivatives=True)
    true_eigh = np.linalg.eigh
    rng = np.random.default_rng(99)

    def scrambled_eigh(H):
        eps, U = true_eigh(H)
        U = U * np.exp(2j * np.pi * rng.random(eps.shape))[..., None, :]
        if model_name != "random":          # Kramers pairs (2n, 2n+1): random U(2) per k and pair
            for p in range(0, eps.shape[-1], 2):
                X = rng.normal(size=eps.shape[:-1] + (2, 2)) + 1j * rng.normal(size=eps.shape[:-1] + (2, 2))
                W, _ = np.linalg.qr(X)
                U[..., p:p + 2] = U[..., p:p + 2] @ W
        return eps, U

    monkeypatch.setattr(np.linalg, "eigh", scrambled_eigh)
    new = band_geometry(model, k, derivatives=True)
    for name in QUANTITIES + ("velocity", "inverse_mass", "berry_curvature_derivative", "orbital_moment",
                              "quantum_metric_derivative", "normalized_metric_derivative"):
        a, b = getattr(ref, name), getattr(new, name)
        np.testing.assert_allclose(b, a, atol=1e-9 * max(np.abs(a).max(), 1.0), err_msg=name)   # O(1) models


# ---------------------------------------------------------------- degenerate groups

def _projector_and_derivatives(model, k, bands, h=1e-5):
    """Group projector P = sum_{n in bands} |u_n><u_n| and its central-difference k-derivatives [d_a P]."""
    def proj(kk):
        _, U = np.linalg.eigh(model.hamiltonian(kk, 0)[0])
        Ug = U[..., bands]
        return Ug @ np.conj(np.swapaxes(Ug, -1, -2))
    dP = []
    for a in range(model.dim):
        kp, km = k.copy(), k.copy()
        kp[:, a] += h
        km[:, a] -= h
        dP.append((proj(kp) - proj(km)) / (2 * h))
    return proj(k), dP


def _projector_geometry(model, k, bands, h=1e-5):
    """Group quantum geometric tensor tr[P d_a P d_b P] from finite-difference projectors (independent route)."""
    P, dP = _projector_and_derivatives(model, k, bands, h)
    Q = np.array([[np.trace(P @ dP[a] @ dP[b], axis1=-2, axis2=-1) for b in range(model.dim)]
                  for a in range(model.dim)])
    return np.moveaxis(Q, (0, 1), (-2, -1))


def _projector_moment(model, k, bands, h=1e-5):
    """Group orbital moment Im tr[P d_a P (H - eps_G) d_b P] (eps_G the group's mean energy) from
    finite-difference projectors, as a pseudovector: with (H - eps_G) P = 0 this is the group sum of
    Im<d_a u_n|H - eps_n|d_b u_n> (independent route)."""
    H = model.hamiltonian(k, 0)[0]
    eps = np.linalg.eigvalsh(H)[:, bands].mean(axis=1)
    HmE = H - eps[:, None, None] * np.eye(H.shape[-1])
    P, dP = _projector_and_derivatives(model, k, bands, h)
    pairs = [(0, 1)] if model.dim == 2 else [(1, 2), (2, 0), (0, 1)]
    return np.stack([np.trace(P @ dP[a] @ HmE @ dP[b], axis1=-2, axis2=-1).imag for a, b in pairs], axis=-1)


def test_orbital_moment_by_finite_difference_projectors():
    """Every band of a generic 3D model (no degeneracy) against the definition, by finite differences."""
    model = random_tight_binding(3, 4, seed=21)
    k = model.k_from_reduced(np.random.default_rng(2).random((20, 3)))
    geo = band_geometry(model, k)
    assert geo.orbital_moment.shape == (20, 4, 3) and np.all(geo.degeneracy == 1)
    for n in range(4):
        X = _projector_moment(model, k, [n])
        # central differences h = 1e-5: error ~ h^2 |d^3 P| ~ 1e-9 relative (measured 4.6e-9)
        np.testing.assert_allclose(geo.orbital_moment[:, n], X, atol=1e-7 * np.abs(X).max())


@pytest.mark.parametrize("model_name", ["pt_antiferromagnet", "kane_mele"])
def test_degenerate_groups(model_name):
    model = zoo.get(model_name)
    k = model.k_from_reduced(np.random.default_rng(11).random((25, 2)) * 0.9 + 0.05)
    geo = band_geometry(model, k)
    assert np.all(geo.degeneracy == 2)
    for pair in ([0, 1], [2, 3]):
        Q = _projector_geometry(model, k, pair)
        # group trace = per-band value times group size
        g_group = geo.quantum_metric[:, pair].sum(axis=1)
        om_group = geo.berry_curvature[:, pair].sum(axis=1)
        np.testing.assert_allclose(g_group, Q.real, atol=1e-6 * np.abs(Q).max())
        np.testing.assert_allclose(om_group, -2 * Q.imag, atol=1e-6 * np.abs(Q).max())
        np.testing.assert_allclose(geo.quantum_metric[:, pair[0]], geo.quantum_metric[:, pair[1]])
        X = _projector_moment(model, k, pair)
        # O(1) models (eV, Å): finite-difference error ~1e-10 (measured); PT forces X = 0 in pt_antiferromagnet
        np.testing.assert_allclose(geo.orbital_moment[:, pair].sum(axis=1), X, atol=1e-7 * max(np.abs(X).max(), 1.0))
        np.testing.assert_allclose(geo.orbital_moment[:, pair[0]], geo.orbital_moment[:, pair[1]])
    # PT symmetry forces zero Berry curvature of every Kramers group; the metric is finite
    if model_name == "pt_antiferromagnet":
        assert np.abs(geo.berry_curvature).max() < 1e-10 * np.abs(geo.quantum_metric).max()
        assert np.abs(geo.normalized_metric).max() > 1e-3
        assert np.abs(geo.orbital_moment).max() < 1e-10 * np.abs(geo.quantum_metric).max()


def test_orbital_moment_of_doubled_bands_is_gauge_invariant(monkeypatch):
    """Every band of a generic 2D model twice, H ⊗ 1 in a random orbital basis: exact pairs whose group moment is
    twice the single-band one, whatever unitary mixes each pair (and X is not zero here)."""
    model = random_tight_binding(2, 3, seed=4)
    k = model.k_from_reduced(np.random.default_rng(5).random((30, 2)))
    single = band_geometry(model, k).orbital_moment
    assert np.abs(single).max() > 0.1
    rng = np.random.default_rng(6)
    Q, _ = np.linalg.qr(rng.normal(size=(6, 6)) + 1j * rng.normal(size=(6, 6)))
    H, dH = model.hamiltonian(k, 1)
    big = [Q @ np.kron(X, np.eye(2)) @ Q.conj().T for X in (H, dH)]
    ref = geometry_from_hamiltonian(*big)
    assert np.all(ref.degeneracy == 2)
    np.testing.assert_allclose(ref.orbital_moment[:, 0::2], single, atol=1e-10 * np.abs(single).max())
    true_eigh = np.linalg.eigh

    def scrambled_eigh(H):
        eps, U = true_eigh(H)
        for p in range(0, eps.shape[-1], 2):
            W, _ = np.linalg.qr(rng.normal(size=eps.shape[:-1] + (2, 2)) + 1j * rng.normal(size=eps.shape[:-1] + (2, 2)))
            U[..., p:p + 2] = U[..., p:p + 2] @ W
        return eps, U

    monkeypatch.setattr(np.linalg, "eigh", scrambled_eigh)
    new = geometry_from_hamiltonian(*big)
    np.testing.assert_allclose(new.orbital_moment, ref.orbital_moment, atol=1e-10 * np.abs(single).max())


def test_group_normalized_metric_by_resolvent():
    """G of a degenerate group via 2 Re tr[P dH Q (eps - H)^-3 Q dH] with a reduced resolvent."""
    model = zoo.pt_antiferromagnet()
    k = model.k_from_reduced(np.random.default_rng(12).random((10, 2)))
    geo = band_geometry(model, k)
    H, dH = model.hamiltonian(k, 1)
    for i in range(len(k)):
        e, U = np.linalg.eigh(H[i])
        P = U[:, :2] @ U[:, :2].conj().T
        Qp = np.eye(4) - P
        res = Qp @ np.linalg.pinv(Qp @ (e[0] * np.eye(4) - H[i]) @ Qp, rcond=1e-8) @ Qp
        res3 = res @ res @ res
        G = np.array([[2 * np.real(np.trace(P @ dH[i, a] @ res3 @ dH[i, b])) for b in range(2)] for a in range(2)])
        np.testing.assert_allclose(geo.normalized_metric[i, :2].sum(axis=0), G, atol=1e-10 * np.abs(G).max())


def test_degeneracy_tolerance_groups_near_degenerate_bands():
    H = np.diag([0.0, 1e-9, 1.0])[None].astype(complex)
    dH = np.zeros((1, 1, 3, 3), complex)
    dH[0, 0] = [[0, 1, 0.5], [1, 0, 0.2], [0.5, 0.2, 0]]
    loose = geometry_from_hamiltonian(H, dH, degeneracy_tol=1e-6)
    assert loose.degeneracy.tolist() == [[2, 2, 1]]
    assert np.all(np.isfinite(loose.quantum_metric))
    tight = geometry_from_hamiltonian(H, dH, degeneracy_tol=0.0)
    assert tight.degeneracy.tolist() == [[1, 1, 1]]
    assert tight.quantum_metric[0, 0, 0, 0] > 1e17          # 1/gap^2 with gap 1e-9 eV


# ---------------------------------------------------------------- conventions, chunking, errors

def test_fourier_conventions_local_differ_integrated_agree():
    model = zoo.haldane(t2=0.15, phi=0.7, mass=0.1)
    other = model.with_convention("lattice")
    n = 90
    s = (np.arange(n) + 0.5) / n
    k = model.k_from_reduced(np.stack(np.meshgrid(s, s, indexing="ij"), -1).reshape(-1, 2))
    a, b = band_geometry(model, k), band_geometry(other, k)
    np.testing.assert_allclose(a.energies, b.energies, atol=1e-12)
    assert np.abs(a.berry_curvature - b.berry_curvature).max() > 1e-3        # local values differ
    area = abs(np.linalg.det(model.reciprocal))
    ca = a.berry_curvature[:, 0, 0, 1].sum() * area / n**2 / (2 * np.pi)
    cb = b.berry_curvature[:, 0, 0, 1].sum() * area / n**2 / (2 * np.pi)
    assert ca == pytest.approx(cb, abs=1e-6)
    assert ca == pytest.approx(qk.chern_number(model, [0]), abs=1e-3)


def test_iter_band_geometry_chunks_equal_whole():
    model = random_tight_binding(2, 3, seed=2)
    k = model.k_from_reduced(np.random.default_rng(0).random((1000, 2)))
    whole = band_geometry(model, k)
    parts = list(iter_band_geometry(model, k, chunk_size=300))
    assert [len(p) for p in parts] == [300, 300, 300, 100]
    np.testing.assert_allclose(np.concatenate([p.berry_curvature for p in parts]), whole.berry_curvature)


@pytest.mark.parametrize("model_name", ["random", "pt_antiferromagnet"])
def test_sub_batches_equal_one_batch(monkeypatch, model_name):
    # band_geometry and geometry_from_hamiltonian split large batches into sub-batches that reuse
    # scratch memory: every result must equal the single-batch one (nothing may alias the scratch).
    import qkinetics.geometry as geometry_module
    model = random_tight_binding(2, 3, seed=5) if model_name == "random" else zoo.pt_antiferromagnet()
    k = model.k_from_reduced(np.random.default_rng(1).random((203, 2)))
    opts = dict(derivatives=True, keep_eigenvectors=True)
    monkeypatch.setattr(geometry_module, "SUBBATCH_ELEMENTS", 10**9)
    whole = band_geometry(model, k, **opts)
    basic_whole = band_geometry(model, k, inverse_mass=False)
    monkeypatch.setattr(geometry_module, "SUBBATCH_ELEMENTS", 1)
    monkeypatch.setattr(geometry_module, "SUBBATCH_MIN", 16)        # sub-batches of 16 (8 with derivatives) k
    for split, ref in ((band_geometry(model, k, **opts), whole),
                       (geometry_from_hamiltonian(*model.hamiltonian(k, 2), k=k, **opts), whole),
                       (band_geometry(model, k, inverse_mass=False), basic_whole)):
        for f in ("energies", "velocity", "inverse_mass", "berry_curvature", "quantum_metric", "normalized_metric",
                  "berry_curvature_derivative", "quantum_metric_derivative", "normalized_metric_derivative",
                  "degeneracy", "velocity_matrix", "orbital_moment"):
            a, b = getattr(split, f), getattr(ref, f)
            assert (a is None) == (b is None), f
            if a is not None:
                np.testing.assert_allclose(a, b, rtol=1e-10, atol=1e-10, err_msg=f)


def test_geometry_errors():
    model = zoo.massive_dirac()
    with pytest.raises(qk.ModelError, match=r"shape \(B, 2\)"):
        band_geometry(model, np.zeros((4, 3)))
    with pytest.raises(qk.ModelError, match="NaN"):
        band_geometry(model, [[np.nan, 0.0]])
    with pytest.raises(qk.ModelError, match="d2H"):
        geometry_from_hamiltonian(np.eye(2)[None], np.zeros((1, 2, 2, 2)), derivatives=True)
    with pytest.raises(qk.ModelError, match=r"\(B, N, N\)"):
        geometry_from_hamiltonian(np.zeros((2, 3)), np.zeros((1, 2, 2, 2)))
    with pytest.raises(qk.ModelError, match="dH must have shape"):
        geometry_from_hamiltonian(np.eye(2)[None], np.zeros((1, 2, 3, 3)))


def test_iter_band_geometry_accepts_grid_chunks_and_lists():
    from qkinetics.integrate import KGrid
    model = zoo.qi_wu_zhang()
    grid = KGrid(model, 10)
    parts = list(iter_band_geometry(model, grid.chunks(30)))
    assert sum(len(p) for p in parts) == 100
    listed = list(iter_band_geometry(model, [[0.1, 0.2], [0.3, 0.4]]))
    assert len(listed) == 1 and len(listed[0]) == 2


# ---------------------------------------------------------------- internal code paths agree

ALL_FIELDS = ("energies", "velocity", "inverse_mass", "berry_curvature", "quantum_metric", "normalized_metric",
              "berry_curvature_derivative", "quantum_metric_derivative", "normalized_metric_derivative",
              "orbital_moment")


@pytest.mark.parametrize("model_name", ["random-1D", "random-2D", "random-3D", "pt_antiferromagnet", "kane_mele"])
def test_pair_sum_methods_agree(monkeypatch, model_name):
    """Band-pair sums by k-last elementwise planes and by per-(k, n) Gram products give the same geometry,
    with and without degenerate groups; Re sums stay exactly symmetric and Im sums antisymmetric."""
    import qkinetics.geometry as geometry_module
    if model_name.startswith("random"):
        dim = int(model_name[-2])
        model = random_tight_binding(dim, 5, seed=4, nR=2 if dim == 1 else 3)      # 1D has only R = 1, 2
    else:
        model = zoo.get(model_name)
    k = model.k_from_reduced(np.random.default_rng(2).random((40, model.dim)))
    results = {}
    for method, threshold in (("planes", 10**9), ("gram", 0)):
        monkeypatch.setattr(geometry_module, "GRAM_PAIR_MIN", threshold)
        results[method] = band_geometry(model, k, derivatives=True, keep_eigenvectors=True)
        geo = results[method]
        for name in ("quantum_metric", "normalized_metric", "inverse_mass"):
            x = getattr(geo, name)
            assert np.array_equal(x, x.swapaxes(-1, -2)), (method, name)
        assert np.array_equal(geo.berry_curvature, -geo.berry_curvature.swapaxes(-1, -2)), method
    for name in ALL_FIELDS + ("velocity_matrix",):
        a, b = getattr(results["planes"], name), getattr(results["gram"], name)
        np.testing.assert_allclose(b, a, rtol=0, atol=1e-11 * max(np.abs(a).max(initial=0.0), 1.0), err_msg=name)


@pytest.mark.parametrize("model_name", ["random-3D-N3", "random-3D-N9", "pt_antiferromagnet"])
def test_inverse_mass_from_diagonal_only(model_name):
    """The inverse mass without derivatives uses only the diagonal of U^dagger d2H U (from the d(d+1)/2
    distinct components of d2H from N = 8 on, all d² below); it must equal the full transform used with
    derivatives=True, exactly symmetric."""
    if model_name.startswith("random"):
        model = random_tight_binding(3, int(model_name.split("N")[1]), seed=9)
    else:
        model = zoo.get(model_name)
    k = model.k_from_reduced(np.random.default_rng(3).random((30, model.dim)))
    diag_only = band_geometry(model, k).inverse_mass
    full = band_geometry(model, k, derivatives=True).inverse_mass
    assert np.array_equal(diag_only, diag_only.swapaxes(-1, -2))
    np.testing.assert_allclose(diag_only, full, rtol=0, atol=1e-11 * np.abs(full).max())


@pytest.mark.parametrize("N", [3, 9])
def test_real_input_matrices(N):
    """Real symmetric H, dH, d2H (e.g. a time-reversal-symmetric model in a real basis) give the same
    geometry as the same matrices stored as complex."""
    rng = np.random.default_rng(N)
    sym = lambda X: X + np.swapaxes(X, -1, -2)                                  # noqa: E731
    H, dH = sym(rng.normal(size=(20, N, N))), sym(rng.normal(size=(20, 3, N, N)))
    d2H = sym(rng.normal(size=(20, 3, 3, N, N)))
    d2H = d2H + d2H.transpose(0, 2, 1, 3, 4)
    real = geometry_from_hamiltonian(H, dH, d2H)
    cplx = geometry_from_hamiltonian(H.astype(complex), dH.astype(complex), d2H.astype(complex))
    for name in QUANTITIES + ("energies", "velocity", "inverse_mass"):
        a, b = getattr(real, name), getattr(cplx, name)
        np.testing.assert_allclose(a, b, rtol=0, atol=1e-12 * max(np.abs(b).max(), 1.0), err_msg=name)


def _with_position_matrix(model, seed):
    """The model with a random Hermitian position matrix on its hopping vectors (r_a(-R) = r_a(R)^dagger)."""
    rng = np.random.default_rng(seed)
    N, r = model.norb, {}
    for R in model.hoppings:
        if R in r:
            continue
        X = 0.2 * (rng.normal(size=(3, N, N)) + 1j * rng.normal(size=(3, N, N)))
        if not any(R):
            X = X + np.conj(X.swapaxes(-1, -2))
        r[R] = X
        r[tuple(-x for x in R)] = np.conj(X.swapaxes(-1, -2))
    return qk.TightBinding(model.lattice, model.positions, model.hoppings, position_matrix=r)


@pytest.mark.parametrize("positions", [False, True])
def test_quantities_selects_tensors_without_changing_them(positions):
    """band_geometry(quantities=...) computes the named tensors only (the others None) and gives them as the full
    computation does; the Berry curvature alone with a position matrix (its own band-pair sum, pairs n < m only,
    commutator of F^W in the same sum) equals the one of derivatives=True, which rotates the whole F^W and takes
    the generic pair sums: a route that shares neither."""
    model = random_tight_binding(3, 9, seed=11, nR=3)
    if positions:
        model = _with_position_matrix(model, 12)
    k = model.k_from_reduced(np.random.default_rng(13).random((70, 3)))
    every = band_geometry(model, k, inverse_mass=False)
    optional = ("berry_curvature", "quantum_metric", "normalized_metric", "orbital_moment")
    for wanted in [("berry_curvature",), ("quantum_metric", "orbital_moment"), ("normalized_metric",), ()]:
        some = band_geometry(model, k, inverse_mass=False, quantities=wanted)
        for name in ("energies", "velocity", "degeneracy") + optional:
            if name in optional and name not in wanted:
                assert getattr(some, name) is None, (wanted, name)
            else:
                ref = getattr(every, name)
                np.testing.assert_allclose(getattr(some, name), ref, rtol=0, atol=1e-13 * np.abs(ref).max(),
                                           err_msg=f"{wanted}: {name}")
    alone = band_geometry(model, k, inverse_mass=False, quantities=["berry_curvature"]).berry_curvature
    other = band_geometry(model, k, derivatives=True).berry_curvature
    np.testing.assert_allclose(alone, other, rtol=0, atol=1e-11 * np.abs(other).max())
    with pytest.raises(qk.ModelError, match="quantities must name"):
        band_geometry(model, k, quantities=["berry"])
