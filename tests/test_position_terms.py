"""Position-matrix input of TightBinding and the position-block terms of the band geometry."""

import numpy as np
import pytest

from qkinetics.models.base import ModelError
from qkinetics.models.tight_binding import TightBinding


def _chain_with_positions(r1=None):
    """A 1D two-orbital chain with a position matrix; r1 the R = 1 block (1, 2, 2)."""
    hop = {(0,): [[0.5, 0.2], [0.2, -0.5]], (1,): [[0.1, 0.3], [0.0, -0.1]], (-1,): [[0.1, 0.0], [0.3, -0.1]]}
    r0 = np.array([[[0.0, 0.05j], [-0.05j, 0.5]]])
    r1 = np.array([[[0.02, 0.01 + 0.03j], [0.0, -0.01]]]) if r1 is None else r1
    return hop, {(0,): r0, (1,): r1, (-1,): r1.conj().swapaxes(-1, -2)}


def test_position_matrix_is_stored_and_kept_through_with_convention():
    hop, pos = _chain_with_positions()
    m = TightBinding([[2.0]], [[0.0], [0.25]], hop, position_matrix=pos)
    assert set(m.position_matrix) == {(0,), (1,), (-1,)}
    assert m.position_matrix[(1,)].shape == (1, 2, 2)
    other = m.with_convention("lattice")
    assert other.convention == "lattice"
    for R, r in m.position_matrix.items():
        np.testing.assert_array_equal(other.position_matrix[R], r)
    assert TightBinding([[2.0]], [[0.0], [0.25]], hop).position_matrix is None


def test_position_matrix_hermiticity_and_completion():
    hop, pos = _chain_with_positions()
    bad = dict(pos)
    bad[(-1,)] = pos[(1,)]                       # r(-R) = r(R) instead of r(R)^dagger
    with pytest.raises(ModelError, match="position matrix is not Hermitian"):
        TightBinding([[2.0]], [[0.0], [0.25]], hop, position_matrix=bad)
    half = {R: r for R, r in pos.items() if R != (-1,)}
    with pytest.raises(ModelError, match="no partner"):
        TightBinding([[2.0]], [[0.0], [0.25]], hop, position_matrix=half)
    m = TightBinding([[2.0]], [[0.0], [0.25]], hop, position_matrix=half, hermiticity="complete")
    np.testing.assert_array_equal(m.position_matrix[(-1,)], pos[(-1,)])
    complex_centre = dict(pos)
    complex_centre[(0,)] = pos[(0,)] + np.diag([0.1j, 0.0])[None]
    with pytest.raises(ModelError, match="R=\\(0,\\) block is not Hermitian"):
        TightBinding([[2.0]], [[0.0], [0.25]], hop, position_matrix=complex_centre)


@pytest.mark.parametrize("bad, match", [
    ([1, 2], "must be a dict"),
    ({}, "is empty"),
    ({(0,): np.zeros((2, 2))}, "has shape \\(2, 2\\); expected \\(1, 2, 2\\)"),
    ({(0,): np.full((1, 2, 2), np.nan)}, "NaN"),
    ({(0.5,): np.zeros((1, 2, 2))}, "not integer"),
])
def test_position_matrix_bad_input(bad, match):
    hop, _ = _chain_with_positions()
    with pytest.raises(ModelError, match=match):
        TightBinding([[2.0]], [[0.0], [0.25]], hop, position_matrix=bad)


# ---------------------------------------------------------------------------------------------------------
# Exact basis changes of a tight-binding model with diagonal positions (no shared derivation with the code:
# hoppings and position matrix of the new basis are computed in real space from the definitions).

import qkinetics as qk                                                   # noqa: E402

FIELDS = ("berry_curvature", "quantum_metric", "normalized_metric", "orbital_moment",
          "berry_curvature_derivative", "quantum_metric_derivative", "normalized_metric_derivative")


def _random_model(rng, dim, norb, nhop=5):
    """A generic tight-binding model with orbitals at random positions (time reversal broken)."""
    lat = np.eye(dim) * 2.0 + 0.3 * rng.normal(size=(dim, dim))
    Rs = [tuple(int(x) for x in rng.integers(-1, 2, size=dim)) for _ in range(nhop)]
    hop = {(0,) * dim: np.zeros((norb, norb), complex)}
    for R in Rs:
        R = max(R, tuple(-x for x in R))                                # one of each pair R, -R
        t = 0.5 * (rng.normal(size=(norb, norb)) + 1j * rng.normal(size=(norb, norb)))
        hop[R] = hop.get(R, 0) + t
    hop[(0,) * dim] = hop[(0,) * dim] + hop[(0,) * dim].conj().T + np.diag(rng.normal(size=norb))
    return TightBinding(lat, rng.random((norb, dim)), hop, hermiticity="complete")


def _haar(rng, n):
    q, r = np.linalg.qr(rng.normal(size=(n, n)) + 1j * rng.normal(size=(n, n)))
    return q * (np.diag(r) / np.abs(np.diag(r)))


def _translation_invariant_isometry(rng, dim, nbig, nsmall):
    """{S: c_S (nbig, nsmall)}: new orbitals |n,R>' = sum_{i,S} c_{S,in} |i,R+S>, orthonormal.

    A product of constant unitaries and diagonal lattice shifts (unitary at every k), then nsmall columns.
    """
    def mul(a, b):
        out = {}
        for S, x in a.items():
            for T, y in b.items():
                K = tuple(int(v) for v in np.add(S, T))
                out[K] = out.get(K, 0) + x @ y
        return out

    def shift():
        out = {}
        for j in range(nbig):
            s = tuple(int(v) for v in rng.integers(-1, 2, size=dim))
            out[s] = out.get(s, 0) + np.diag(np.eye(nbig)[j])
        return out

    c = {(0,) * dim: _haar(rng, nbig)}
    for _ in range(2):
        c = mul(mul(c, shift()), {(0,) * dim: _haar(rng, nbig)})
    return {S: x[:, :nsmall] for S, x in c.items()}


def _new_basis_model(old, c):
    """Hoppings and position matrix of the basis |n,R>' = sum_{i,S} c_{S,in}|i,R+S> (old positions diagonal).

    <i,S|H|j,T> = t_{T-S,ij} and <i,S|r|j,T> = delta_ij delta_ST (S + tau_i) (Cartesian) give
    t'(R) = sum_{S,S'} c_S^dagger t_{R+S'-S} c_S' and r'_a(R) = sum_{S'} c_{R+S'}^dagger diag(S + tau)_a c_S'.
    """
    lat, tau = old.lattice, old.positions @ old.lattice
    hop, r = {}, {}
    for S, cS in c.items():
        for Sp, cSp in c.items():
            for Rt, t in old.hoppings.items():
                R = tuple(int(v) for v in np.array(Rt) - np.array(Sp) + np.array(S))
                hop[R] = hop.get(R, 0) + cS.conj().T @ t @ cSp
            R = tuple(int(v) for v in np.array(S) - np.array(Sp))
            pos = (np.array(S) @ lat)[:, None] + tau.T                   # (dim, nbig): S + tau_i
            r[R] = r.get(R, 0) + np.einsum("im,ai,in->amn", cS.conj(), pos, cSp)
    centres = np.real(np.diagonal(r[(0,) * old.dim], axis1=1, axis2=2)).T    # (N, dim) Cartesian
    return TightBinding(lat, centres @ np.linalg.inv(lat), hop, position_matrix=r)


def _max_rel(a, b):
    """max |a - b| / max |a|, or max |b| where a vanishes identically (the 1D Berry curvature)."""
    scale = np.max(np.abs(a))
    return np.max(np.abs(a - b)) / scale if scale > 0 else np.max(np.abs(b))


@pytest.mark.parametrize("dim, norb", [(1, 3), (2, 3), (3, 3)])
def test_full_interpolation_is_exact_in_a_complete_mixed_basis(dim, norb):
    """A complete Wannier basis that mixes sites and cells: full interpolation reproduces the original model's
    geometry (Omega, g, G and derivatives) to round-off in both Fourier conventions; the tight-binding
    approximation in the new basis does not."""
    rng = np.random.default_rng(7 + dim)
    old = _random_model(rng, dim, norb)
    new = _new_basis_model(old, _translation_invariant_isometry(rng, dim, norb, norb))
    offdiag = max(np.max(np.abs(r - np.einsum("amm,mn->amn", r, np.eye(norb)))) for r in new.position_matrix.values())
    assert offdiag > 0.1 and len(new.position_matrix) > 5       # a genuinely non-diagonal, R-dependent r(R)
    k = old.k_from_reduced(rng.random((40, dim)))
    np.testing.assert_allclose(new.bands(k), old.bands(k), atol=1e-12)
    ref = qk.band_geometry(old, k, derivatives=True)
    fields = FIELDS if dim > 1 else [f for f in FIELDS if not f.startswith("berry") and f != "orbital_moment"]
    for model in (new, new.with_convention("lattice")):
        geo = qk.band_geometry(model, k, derivatives=True)
        np.testing.assert_allclose(geo.velocity, ref.velocity, atol=1e-12 * np.max(np.abs(ref.velocity)))
        np.testing.assert_allclose(geo.inverse_mass, ref.inverse_mass, atol=1e-12 * np.max(np.abs(ref.inverse_mass)))
        for f in fields:
            assert _max_rel(getattr(ref, f), getattr(geo, f)) < 1e-11, f
    tb = qk.band_geometry(new.tight_binding_approximation(), k, derivatives=True)
    for f in fields:
        assert _max_rel(getattr(ref, f), getattr(tb, f)) > 0.05, f
    # the kept velocity matrix is the physical one, |<n|v_a|m>|^2 basis independent (non-degenerate bands)
    V0 = qk.band_geometry(old, k, keep_eigenvectors=True).velocity_matrix
    V1 = qk.band_geometry(new, k, keep_eigenvectors=True).velocity_matrix
    assert _max_rel(np.abs(V0) ** 2, np.abs(V1) ** 2) < 1e-12


def _embedded_states(old, c, small, k):
    """Eigenstates of the small model as vectors of the complete big model, cell-periodic, (B, nbig, nsmall).

    |psi'_nk> = sum_R e^{ik.R} |n,R>' = sum_i |psi_ik> U_in(k), U(k) = sum_S c_S e^{-ik.S}; with point-like
    big orbitals the cell-periodic parts of e^{ik.(R + tau_i)}-phased Bloch sums are k-independent and
    orthonormal, so a state is the vector e^{-ik.tau} U(k) v(k) with the plain inner product.
    """
    lat, tau = old.lattice, old.positions @ old.lattice
    U = sum(np.exp(-1j * k @ (np.array(S) @ lat))[:, None, None] * cS for S, cS in c.items())
    _, v = np.linalg.eigh(small.with_convention("lattice").hamiltonian(k)[0])
    return np.exp(-1j * k @ tau.T)[:, :, None] * (U @ v)


def test_incomplete_wannier_space_curvature_and_metric_against_embedded_states():
    """Wannier functions spanning 3 of 5 bands of a complete model: Omega (with the out-of-space term F^W) is
    the curvature of the embedded states (Berry phase of small plaquettes); g and G are the metric of the
    states within the Wannier space (finite-difference overlaps, sums over the other Wannier-space bands).

    Both finite-difference routes converge as h^2 (measured: errors 9.3e-4, 2.3e-4, 5.8e-5 of Omega ~ 12 A^2
    for h = 2e-3, 1e-3, 5e-4 1/A); Richardson extrapolation from h and h/2 leaves ~1e-8."""
    rng = np.random.default_rng(3)
    old = _random_model(rng, 2, 5)
    c = _translation_invariant_isometry(rng, 2, 5, 3)
    small = _new_basis_model(old, c)
    k0 = small.k_from_reduced(rng.random((6, 2)))
    geo = qk.band_geometry(small, k0)
    tb = qk.band_geometry(small.tight_binding_approximation(), k0)
    eps = small.bands(k0)
    off = ~np.eye(3, dtype=bool)
    inv_gap = np.where(off, 1 / np.where(off, eps[:, None, :] - eps[:, :, None], 1), 0)      # [k, m, n] = 1/(e_n - e_m)
    u0 = _embedded_states(old, c, small, k0)

    def finite_differences(h):
        e = np.eye(2) * h
        # Berry curvature: -Im log of the product of overlaps around a square (counterclockwise in x, y)
        corners = [k0 + s for s in (-(e[0] + e[1]) / 2, (e[0] - e[1]) / 2, (e[0] + e[1]) / 2, (e[1] - e[0]) / 2)]
        u = [_embedded_states(old, c, small, q) for q in corners]
        loop = np.ones((len(k0), 3), dtype=complex)
        for i in range(4):
            loop *= np.einsum("kin,kin->kn", u[i].conj(), u[(i + 1) % 4])
        omega = -np.angle(loop) / h**2

        def aligned(q):                                                 # phases of u_n(q) aligned with u_n(k0)
            v = _embedded_states(old, c, small, q)
            ov = np.einsum("kin,kin->kn", u0.conj(), v)
            return v * (ov.conj() / np.abs(ov))[:, None, :]

        # <u_m|d_a u_n> by central differences; in-space metric: sum over the other Wannier-space bands m
        conn = np.array([np.einsum("kim,kin->kmn", u0.conj(), (aligned(k0 + e[a]) - aligned(k0 - e[a])) / (2 * h))
                         for a in range(2)])                            # (a, k, m, n)
        g = np.einsum("akmn,bkmn,mn->knab", conn.conj(), conn, off).real
        G = 2 * np.einsum("akmn,bkmn,kmn->knab", conn.conj(), conn, inv_gap).real
        return omega, g, G

    coarse, fine = finite_differences(2e-3), finite_differences(1e-3)
    omega, g, G = ((4 * f - c) / 3 for f, c in zip(fine, coarse))
    np.testing.assert_allclose(geo.berry_curvature[:, :, 0, 1], omega, atol=1e-7 * np.max(np.abs(omega)))
    np.testing.assert_allclose(geo.quantum_metric, g, atol=1e-7 * np.max(np.abs(g)))
    np.testing.assert_allclose(geo.normalized_metric, G, atol=1e-7 * np.max(np.abs(G)))
    assert np.max(np.abs(tb.berry_curvature[:, :, 0, 1] - omega)) > 0.05 * np.max(np.abs(omega))


def _doubled(model, rng):
    """Every band of ``model`` twice (H ⊗ 1), with a position matrix that mixes the copies (r ⊗ 1 + s ⊗ sigma_x):
    exactly degenerate pairs at every k whose non-Abelian geometry the position block changes."""
    sx = np.array([[0, 1], [1, 0]])
    hop = {R: np.kron(t, np.eye(2)) for R, t in model.hoppings.items()}
    r = {R: np.array([np.kron(x, np.eye(2)) for x in ra]) for R, ra in model.position_matrix.items()}
    for R in list(r):
        if R > tuple(-x for x in R):
            s = 0.1 * (rng.normal(size=(model.dim,) + (model.norb,) * 2)
                       + 1j * rng.normal(size=(model.dim,) + (model.norb,) * 2))
            r[R] = r[R] + np.array([np.kron(x, sx) for x in s])
            mR = tuple(-x for x in R)
            r[mR] = r[mR] + np.array([np.kron(x.conj().T, sx) for x in s])
    return TightBinding(model.lattice, np.repeat(model.positions, 2, axis=0), hop, position_matrix=r)


def _small_model(seed, dim=2, nbig=5, nsmall=3):
    rng = np.random.default_rng(seed)
    old = _random_model(rng, dim, nbig)
    return _new_basis_model(old, _translation_invariant_isometry(rng, dim, nbig, nsmall)), rng


def test_gauge_invariance_under_band_phases_and_rotations_in_degenerate_groups(monkeypatch):
    small, rng = _small_model(11)
    model = _doubled(small, rng)
    k = model.k_from_reduced(rng.random((20, 2)))
    ref = qk.band_geometry(model, k, derivatives=True)
    assert np.all(ref.degeneracy == 2)
    eigh = np.linalg.eigh

    def scrambled(H):                                    # eigenvectors times a random U(2) in each pair
        eps, U = eigh(H)
        B, N = eps.shape
        W = np.zeros((B, N, N), dtype=complex)
        for n in range(0, N, 2):
            W[:, n:n + 2, n:n + 2] = [_haar(rng, 2) for _ in range(B)]
        return eps, U @ W

    monkeypatch.setattr(np.linalg, "eigh", scrambled)
    geo = qk.band_geometry(model, k, derivatives=True)
    monkeypatch.undo()
    for f in FIELDS + ("velocity", "inverse_mass"):
        assert _max_rel(getattr(ref, f), getattr(geo, f)) < 1e-11, f


@pytest.mark.parametrize("doubled", [False, True])
def test_derivatives_of_position_terms_by_finite_differences(doubled):
    """d_c Omega, d_c g, d_c G with the position-block terms against central differences (Richardson from h and
    h/2; the plain differences converge as h^2) on an incomplete Wannier space, also for degenerate pairs."""
    small, rng = _small_model(5, dim=3)
    model = _doubled(small, rng) if doubled else small
    k = model.k_from_reduced(rng.random((8, 3)))
    geo = qk.band_geometry(model, k, derivatives=True)
    names = ("berry_curvature", "quantum_metric", "normalized_metric")

    def central(h):
        out = {f: np.empty(getattr(geo, f + "_derivative").shape) for f in names}
        for c in range(3):
            plus = qk.band_geometry(model, k + h * np.eye(3)[c])
            minus = qk.band_geometry(model, k - h * np.eye(3)[c])
            for f in names:
                out[f][..., c] = (getattr(plus, f) - getattr(minus, f)) / (2 * h)
        return out

    coarse, fine = central(2e-4), central(1e-4)
    for f in names:
        fd = (4 * fine[f] - coarse[f]) / 3
        assert _max_rel(fd, getattr(geo, f + "_derivative")) < 1e-6, f


def test_diagonal_position_matrix_reduces_to_the_tight_binding_geometry():
    """r(R) = diag(tau) delta_R0: identical to the model without a position matrix in the "positions" convention,
    and in the "lattice" convention (where H(k) alone puts every orbital at the origin) the full interpolation
    recovers the "positions" geometry."""
    rng = np.random.default_rng(2)
    model = _random_model(rng, 3, 4)
    tau = model.positions @ model.lattice
    r = {(0, 0, 0): np.array([np.diag(tau[:, a]) for a in range(3)])}
    withr = TightBinding(model.lattice, model.positions, model.hoppings, position_matrix=r)
    k = model.k_from_reduced(rng.random((30, 3)))
    ref = qk.band_geometry(model, k, derivatives=True)
    same = qk.band_geometry(withr, k, derivatives=True)
    lattice = qk.band_geometry(withr.with_convention("lattice"), k, derivatives=True)
    lattice_tb = qk.band_geometry(model.with_convention("lattice"), k, derivatives=True)
    for f in FIELDS:
        np.testing.assert_array_equal(getattr(same, f), getattr(ref, f))
        assert _max_rel(getattr(ref, f), getattr(lattice, f)) < 1e-11, f
        assert _max_rel(getattr(ref, f), getattr(lattice_tb, f)) > 1e-2, f


def test_geometry_from_hamiltonian_with_connection_and_sub_batches(monkeypatch):
    """The explicit connection argument gives band_geometry's result; sub-batching does not change it."""
    small, rng = _small_model(21, dim=3)
    k = small.k_from_reduced(rng.random((50, 3)))
    ref = qk.band_geometry(small, k, derivatives=True)
    H, dH, d2H = small.hamiltonian(k, order=2)
    geo = qk.geometry_from_hamiltonian(H, dH, d2H, derivatives=True, connection=small.wannier_connection(k, 2))
    for f in FIELDS + ("velocity", "inverse_mass"):
        np.testing.assert_allclose(getattr(geo, f), getattr(ref, f), rtol=0,
                                   atol=1e-12 * np.max(np.abs(getattr(ref, f))))
    import qkinetics.geometry as geometry
    monkeypatch.setattr(geometry, "SUBBATCH_ELEMENTS", 64)
    monkeypatch.setattr(geometry, "SUBBATCH_MIN", 4)
    small_batches = qk.band_geometry(small, k, derivatives=True)
    for f in FIELDS:
        np.testing.assert_allclose(getattr(small_batches, f), getattr(ref, f), rtol=0,
                                   atol=1e-12 * np.max(np.abs(getattr(ref, f))))
    with pytest.raises(ModelError, match="connection must be"):
        qk.geometry_from_hamiltonian(H, dH, d2H, derivatives=True, connection=small.wannier_connection(k, 1))
    with pytest.raises(ModelError, match="has no position matrix"):
        small.tight_binding_approximation().wannier_connection(k)


def test_wannier_connection_fourier_sums_and_convention_relation():
    """A^W(k) = sum_R e^{ik.R} r(R) (direct sum) in the lattice convention; A^II = D^dagger (A^I - diag tau) D with
    D = diag(e^{ik.tau}) in the positions convention; derivatives by central differences."""
    small, rng = _small_model(4, dim=3)
    lattice = small.with_convention("lattice")
    k = small.k_from_reduced(rng.random((5, 3)))
    direct = sum(np.exp(1j * k @ (np.array(R) @ small.lattice))[:, None, None, None] * r[None]
                 for R, r in small.position_matrix.items())
    AI = lattice.wannier_connection(k)[0]
    np.testing.assert_allclose(AI, direct, atol=1e-13)
    tau = small.positions @ small.lattice
    D = np.exp(1j * k @ tau.T)                                           # (B, N)
    centres = np.einsum("na,nm->anm", tau, np.eye(small.norb))[None]
    AII = D.conj()[:, None, :, None] * (AI - centres) * D[:, None, None, :]
    np.testing.assert_allclose(small.wannier_connection(k)[0], AII, atol=1e-13)
    A, dA, d2A = small.wannier_connection(k, order=2)
    h = 1e-5
    for c in range(3):
        plus, minus = (small.wannier_connection(k + s * h * np.eye(3)[c], order=1) for s in (1, -1))
        np.testing.assert_allclose(dA[:, :, c], (plus[0] - minus[0]) / (2 * h), atol=1e-8 * np.abs(dA).max())
        np.testing.assert_allclose(d2A[:, :, :, c], (plus[1] - minus[1]) / (2 * h), atol=1e-8 * np.abs(d2A).max())


def test_layers_on_the_tight_binding_position_operator_refuse_a_position_matrix():
    """The quantum reference, the Moyal engine and the kinetic solver take velocity = dH/dk: a model with a
    Wannier position matrix is refused there (no silent approximation) and accepted through
    tight_binding_approximation()."""
    from qkinetics.kinetics import KineticSolver
    from qkinetics.kubo import kubo_conductivity
    from qkinetics.kubo.density_matrix import DensityMatrixSolver
    from qkinetics.moyal.phase_space import PhaseSpaceModel

    base = qk.zoo.rice_mele()
    r0 = np.zeros((1, 2, 2), complex)
    r0[0, 0, 1] = r0[0, 1, 0] = 0.1                      # an off-diagonal <0|x|0> element
    model = qk.TightBinding(base.lattice, base.positions, base.hoppings, position_matrix={(0,): r0})
    for call in (lambda m: kubo_conductivity(m, 0.0, tau=1e-14, kgrid=8),
                 lambda m: DensityMatrixSolver(m, kgrid=8),
                 lambda m: PhaseSpaceModel(m),
                 lambda m: KineticSolver(m, length=10.0, nx=8, nk=8)):
        with pytest.raises(qk.ModelError, match="tight_binding_approximation"):
            call(model)
        call(model.tight_binding_approximation())
