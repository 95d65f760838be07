"""Closed-form tau^0 coefficients (qkinetics.responses.tau0) against the density-matrix quantum reference.

The closed forms are evaluated by the library's band integrator from one eigendecomposition per k
(pair sums of the velocity matrix); the quantum reference solves the equation of motion order by
order with FFT k-derivatives and reads c0 off a contour in hbar/tau (qkinetics.kubo.density_matrix),
or integrates it in time (qkinetics.kubo.time_domain). They share only H(k) and the Fermi function.
Derivation: docs/tau0.md.
"""

import numpy as np
import pytest

import qkinetics as qk
from qkinetics import TightBinding
from qkinetics.kubo.density_matrix import DensityMatrixSolver, Relaxation
from qkinetics.responses import tau0
from qkinetics.models import zoo

from test_density_matrix import dirac_qwz, haldane_strained, pt_afm, sym, tilted_qwz

MODEL_NAMES = {"full": "intrinsic_dm_full", "populations": "intrinsic_dm_populations",
               "dressed": "intrinsic_dm_dressed"}


# --------------------------------------------------------------------------- models beyond test_density_matrix

POS3 = [[0.0, 0.0], [0.5, 0.0], [0.0, 0.5]]


def _p_hoppings():
    """Three orbitals on a Lieb-type square lattice with complex hoppings: T and inversion broken."""
    t0 = np.diag([-1.2, 0.1, 1.3]).astype(complex)
    t0[0, 1], t0[0, 2], t0[1, 2] = 0.4, 0.35, 0.2 * np.exp(0.7j)
    t0 = t0 + np.triu(t0, 1).conj().T
    tx = np.diag([0.25 * np.exp(0.5j), -0.2, 0.15 * np.exp(-0.8j)]).astype(complex)
    tx[1, 0] = 0.4
    ty = np.diag([0.2 * np.exp(0.4j), 0.1, -0.25 * np.exp(-0.3j)]).astype(complex)
    ty[2, 0] = 0.35
    return {(0, 0): t0, (1, 0): tx, (-1, 0): tx.conj().T, (0, 1): ty, (0, -1): ty.conj().T}


def three_band():
    """Three isolated bands (about [-2.13, -1.01], [-0.02, 0.58], [0.85, 2.12] eV; smallest direct gap 0.33 eV)."""
    return TightBinding(np.eye(2), POS3, _p_hoppings(), name="three_band")


def _antisym(i, j):
    J = np.zeros((3, 3), complex)
    J[i, j], J[j, i] = 1.0, -1.0
    return J


def kramers_six_band():
    """Six bands in three Kramers pairs, degenerate at every k.

    H(k) = [[P(k), Q(k)], [-Q(k)^*, P(k)^*]] with P the three-band model and Q(k) = -Q(k)^T: an
    antiunitary symmetry (i s_y) K with square -1 that keeps k (the PT of a 2D antiferromagnet),
    so every band is doubly degenerate; three groups, so three-group terms are present.
    """
    p = _p_hoppings()
    q = {(0, 0): 0.2j * _antisym(0, 1), (1, 0): 0.15 * _antisym(0, 2), (0, 1): 0.12j * _antisym(1, 2),
         (-1, 0): 0.1 * _antisym(1, 2)}
    Z = np.zeros((3, 3), complex)
    hop = {}
    for R in set(p) | set(q) | {(-a, -b) for a, b in q}:
        mR = (-R[0], -R[1])
        hop[R] = np.block([[p.get(R, Z), q.get(R, Z)], [-q.get(mR, Z).conj(), p.get(mR, Z).conj()]])
    return TightBinding(np.eye(2), POS3 + POS3, hop, name="kramers_six_band")


#: model, T (K), density-matrix grid, fillings (gap / edge / band, eV). Edges: tilted QWZ 0.892,
#: strained Haldane +-0.313, PT antiferromagnet [-3.68, 2.53] (no global gap: both edges), dirac_qwz(0.4)
#: 0.371 (64 x 64 grid minimum), three_band and kramers_six_band: second band from about -0.02.
CASES = {
    "tilted_qwz": (tilted_qwz, 600.0, 96, {"gap": 0.7, "edge": 0.89, "band": 1.1}),
    "pt_antiferromagnet": (pt_afm, 600.0, 144, {"edge": -3.65, "band": 0.0, "top_edge": 2.5}),
    "haldane_strained": (haldane_strained, 600.0, 96, {"gap": 0.0, "edge": 0.31, "band": 0.6}),
    "dirac_qwz": (lambda: dirac_qwz(0.4), 600.0, 96, {"gap": 0.2, "edge": 0.37, "band": 0.64}),
    "three_band": (three_band, 600.0, 48, {"gap": -0.5, "edge": 0.0, "band": 0.3}),
    "kramers_six_band": (kramers_six_band, 600.0, 32, {"gap": -0.5, "edge": 0.0, "band": 0.3}),
}
FAST = {("three_band", "band"), ("kramers_six_band", "band")}


def closed_forms(model, mu, T, kgrid, names=tuple(MODEL_NAMES.values()) + ("intrinsic_wang_liu",
                                                                          "metric_dipole_over_gap")):
    ds = qk.conductivity(model, 2, mu=mu, T=T, tau=1.0, mechanisms=list(names), kgrid=kgrid, convergence=False)
    d = model.dim
    return {m: ds[m].sel(channel="rectified").values.reshape(d, d, d).real for m in names}


def _params():
    out = []
    for name, (_, _, _, fill) in CASES.items():
        for where in fill:
            marks = () if (name, where) in FAST else (pytest.mark.slow,)
            out.append(pytest.param(name, where, marks=marks, id=f"{name}-{where}"))
    return out


@pytest.mark.parametrize("name, where", _params())
def test_closed_forms_match_density_matrix(name, where):
    """c0 of "full", "populations" and "dressed" from the contour extraction = the closed forms on the
    same k grid, to 1e-6 of the largest c0. Measured (docs/tau0.md): 1e-15 - 1e-7 on these grids, falling
    exponentially with the grid (e.g. QWZ in the band 1.9e-5 / 1.2e-7 on 64 / 96, PT antiferromagnet in the band
    5.2e-6 / 1.1e-8 on 96 / 144): the difference is the grid error of the FFT derivatives of the solver."""
    make, T, kq, fill = CASES[name]
    model, mu = make(), fill[where]
    cf = closed_forms(model, mu, T, kq)
    solver = DensityMatrixSolver(model, mu=mu, T=T, kgrid=kq)
    scale = max(np.abs(cf[m]).max() for m in MODEL_NAMES.values())
    for rel, mech in MODEL_NAMES.items():
        co = solver.tau_coefficients(rel, radius=0.05)
        c0 = sym(co["c0"]).real
        assert np.abs(sym(co["err0"])).max() < 1e-9 * scale
        assert np.abs(c0 - cf[mech]).max() < 1e-6 * scale, (rel, np.abs(c0 - cf[mech]).max() / scale)


@pytest.mark.slow
def test_closed_forms_on_independent_converged_grid():
    """The closed forms on a fine grid of their own against the reference on its converged grid."""
    model, mu, T = tilted_qwz(), 1.1, 600.0
    cf = closed_forms(model, mu, T, 400)
    solver = DensityMatrixSolver(model, mu=mu, T=T, kgrid=128)
    scale = np.abs(cf["intrinsic_wang_liu"]).max()
    for rel, mech in MODEL_NAMES.items():
        c0 = sym(solver.tau_coefficients(rel, radius=0.05)["c0"]).real
        assert np.abs(c0 - cf[mech]).max() < 1e-6 * scale


def test_alpha_linear_identity_and_half_from_closed_forms():
    """From the closed forms alone: c0(alpha) = alpha W + (1/2 - alpha) Q, so c0(full) + c0(populations) = W and
    c0(1/2) = W / 2, with W the library's independent Wang/Liu (G and its k-derivatives from geometry.py), and the
    reference at alpha = 0.3 and 2 (coherences relaxing slower / faster) on the same grid."""
    model, mu, T, kq = three_band(), 0.3, 600.0, 48
    alphas = (0.0, 0.3, 0.5, 1.0, 2.0)
    mechs = [tau0.intrinsic_density_matrix(a) for a in alphas]
    ds = qk.conductivity(model, 2, mu=mu, T=T, tau=1.0, mechanisms=mechs + ["intrinsic_wang_liu"], kgrid=kq,
                         convergence=False)
    c = {a: ds[m.name].sel(channel="rectified").values.reshape(2, 2, 2).real for a, m in zip(alphas, mechs)}
    W = ds["intrinsic_wang_liu"].sel(channel="rectified").values.reshape(2, 2, 2).real
    scale = np.abs(W).max()
    # W here is the Fermi-sea form (d G from geometry.py), the closed forms use f' v G: they differ by the grid
    # error of one integration by parts (1.5e-9 on 32 x 32, below 1e-10 on 48 x 48)
    assert np.abs(c[1.0] + c[0.0] - W).max() < 1e-9 * scale
    assert np.abs(c[0.5] - W / 2).max() < 1e-9 * scale
    for a in alphas:                                                    # linear in alpha
        assert np.abs(c[a] - (c[0.0] + a * (c[1.0] - c[0.0]))).max() < 1e-12 * scale
    assert np.abs(c[0.0]).max() > 0.1 * scale                          # not trivially zero
    solver = DensityMatrixSolver(model, mu=mu, T=T, kgrid=kq)
    for a in (0.3, 2.0):
        c0 = sym(solver.tau_coefficients(Relaxation(a), radius=0.05)["c0"]).real
        assert np.abs(c0 - c[a]).max() < 1e-6 * scale


def test_dressed_relaxation_gives_lambda_zero_member_times_alpha():
    """Relaxation to the field-dressed equilibrium: c0 = alpha (W + F) = alpha x the lambda = 0 member of the
    published family (the (b, c)-symmetric part alone), checked on the reference at alpha = 0, 0.5, 1."""
    model, mu, T, kq = tilted_qwz(), 0.8, 600.0, 64
    c = closed_forms(model, mu, T, kq, ("intrinsic_wang_liu", "intrinsic_kaplan_das"))
    W, KD = c["intrinsic_wang_liu"], c["intrinsic_kaplan_das"]
    lam0 = W - (KD - W)                                                 # sigma(lambda) = W + (lambda - 1)(KD - W)
    solver = DensityMatrixSolver(model, mu=mu, T=T, kgrid=kq)
    for a in (0.0, 0.5, 1.0):
        c0 = sym(solver.tau_coefficients(Relaxation(a, "dressed"), radius=0.05)["c0"]).real
        assert np.abs(c0 - a * lam0).max() < 1e-6 * np.abs(W).max()


def test_published_variants_from_closed_forms():
    """Where the published weights sit: c0(full) = talk (lambda = 1/2) + (1/2) int f K, so "full" equals the talk's
    variant exactly when the gap-dispersion term K is dropped; no relaxation model gives Kaplan/Das (lambda = 2)."""
    model, mu, T, kq = tilted_qwz(), 1.1, 600.0, 96
    names = ("intrinsic_dm_full", "intrinsic_dm_dressed", "intrinsic_talk", "intrinsic_kaplan_das",
             "intrinsic_wang_liu", "metric_dipole_over_gap")
    c = closed_forms(model, mu, T, kq, names)
    W, KD, talk = c["intrinsic_wang_liu"], c["intrinsic_kaplan_das"], c["intrinsic_talk"]
    F = W - KD                                                          # -int f d_a G^bc, Fermi-sea sum
    Q = c["metric_dipole_over_gap"]
    fK = -Q - F                                                         # Q = -F - int f K
    scale = np.abs(W).max()
    # talk and Kaplan/Das are Fermi-sea forms (d G), the closed forms Fermi-surface ones: grid error 2e-7 here
    assert np.abs(c["intrinsic_dm_full"] - (talk + fK / 2)).max() < 1e-6 * scale
    assert np.abs(fK).max() > 0.05 * scale
    for rel in ("intrinsic_dm_full", "intrinsic_dm_dressed"):
        assert np.abs(c[rel] - KD).max() > 0.3 * scale


def _tensors(model, mu, T, kgrid):
    c = closed_forms(model, mu, T, kgrid, ("intrinsic_wang_liu", "metric_dipole_over_gap", "intrinsic_dm_dressed",
                                           "berry_curvature_dipole"))
    W, Q = c["intrinsic_wang_liu"], c["metric_dipole_over_gap"]
    return {"W": W, "Q": Q, "F": c["intrinsic_dm_dressed"] - W, "BCD": c["berry_curvature_dipole"]}


def test_symmetry_time_reversal_kills_every_tau0_piece():
    """Kane-Mele with Rashba and a staggered potential (T kept, inversion broken): W, Q, F all vanish (odd under T;
    the grid is symmetric under k -> -k), while the Berry curvature dipole need not."""
    model = zoo.kane_mele(t=1.0, lambda_so=0.06, lambda_r=0.05, lambda_v=0.1)
    t = _tensors(model, 0.6, 600.0, 60)
    ref = max(np.abs(_tensors(pt_afm(), 0.0, 600.0, 60)[x]).max() for x in "WQF")
    for piece in "WQF":
        assert np.abs(t[piece]).max() < 1e-10 * ref, piece


def test_symmetry_pt_keeps_every_tau0_piece_and_mirror_components():
    """PT antiferromagnet (no Berry curvature): W, Q, F all survive (PT relates k to k). Tilted QWZ with
    the mirror H(kx, -ky) = H(kx, ky)^*: the components with an odd number of y indices vanish in every piece.
    W is purely Hall (sigma_abc E_a E_b E_c = 0), Q and F are not."""
    pt = _tensors(pt_afm(), 0.0, 600.0, 96)
    scale = np.abs(pt["W"]).max()
    for piece in "WQF":
        assert np.abs(pt[piece]).max() > 0.1 * scale, piece
    q = _tensors(tilted_qwz(), 1.1, 600.0, 96)
    odd = [(0, 0, 1), (0, 1, 0), (1, 0, 0), (1, 1, 1)]
    for piece in "WQF":
        X = q[piece]
        assert max(abs(X[i]) for i in odd) < 1e-10 * np.abs(X).max(), piece
    rng = np.random.default_rng(3)
    for _ in range(3):
        E = rng.normal(size=2)
        long = {p: np.einsum("abc,a,b,c->", q[p], E, E, E) for p in "WQF"}
        assert abs(long["W"]) < 1e-10 * np.abs(q["W"]).max()
        assert abs(long["Q"]) > 1e-3 * np.abs(q["Q"]).max() or abs(long["F"]) > 1e-3 * np.abs(q["F"]).max()


@pytest.mark.slow
def test_time_domain_c0_matches_closed_forms():
    """(~40 s) The time-domain integration (velocity gauge, RK4; no code shared with the frequency-domain solver or
    the closed forms) gives c0 of "populations" and "full" equal to the closed forms within its own accuracy
    (docs/quantum-reference.md, 7.3: 2.5e-4 and 1.3e-3 at this setting)."""
    from qkinetics.kubo.time_domain import time_domain_tau_coefficients
    from qkinetics.units import hbar_eVs

    model, mu, T = tilted_qwz(), 1.1, 2000.0
    cf = closed_forms(model, mu, T, 200)
    gap = DensityMatrixSolver(model, mu=mu, T=T, kgrid=16).min_gap
    taus = hbar_eVs / (gap * np.linspace(0.25, 0.08, 5))
    e = np.array([[0.6, 0.8]])
    td = time_domain_tau_coefficients(model, mu, T, kgrid=32, directions=e, taus=taus)
    for rel, tol in (("populations", 1e-3), ("full", 3e-3)):
        ref = np.einsum("abc,b,c->a", cf[MODEL_NAMES[rel]], e[0], e[0])
        assert np.abs(td[rel]["c0"][0] - ref).max() < tol * np.abs(ref).max(), rel


@pytest.mark.slow
def test_time_domain_c0_of_the_dressed_relaxation_matches_its_closed_form():
    """(~5 min) c0 of relaxation toward the field-dressed equilibrium from the time-domain integrator (matrix
    path, the dressed target diagonalized exactly at every step) against the closed form alpha (W + F) on a fine
    grid. Measured on 16 x 16 / 24 x 24: dressed 1.7e-2 / 2.2e-4, with populations 1.6e-2 / 5.9e-4 and full
    3.6e-3 / 1.4e-3 in the same runs (the time-domain grid error); the tolerance is that of "full" above."""
    from qkinetics.kubo.time_domain import time_domain_tau_coefficients
    from qkinetics.units import hbar_eVs

    model, mu, T = tilted_qwz(), 1.1, 2000.0
    cf = closed_forms(model, mu, T, 200)
    gap = DensityMatrixSolver(model, mu=mu, T=T, kgrid=16).min_gap
    taus = hbar_eVs / (gap * np.linspace(0.25, 0.08, 5))
    e = np.array([[0.6, 0.8]])
    td = time_domain_tau_coefficients(model, mu, T, kgrid=24, directions=e, taus=taus, more_relaxations=["dressed"],
                                      method="matrix")
    ref = np.einsum("abc,b,c->a", cf[MODEL_NAMES["dressed"]], e[0], e[0])
    assert np.abs(td["dressed"]["c0"][0] - ref).max() < 3e-3 * np.abs(ref).max()


def test_errors_and_registry():
    with pytest.raises(qk.ModelError, match="keep_eigenvectors"):
        geo = qk.band_geometry(tilted_qwz(), np.zeros((1, 2)))
        tau0.tau0_integrand(geo)
    with pytest.raises(qk.ModelError, match="alpha"):
        tau0.intrinsic_density_matrix(-1.0)
    with pytest.raises(qk.ModelError, match="target"):
        Relaxation(1.0, "local")
    from qkinetics.responses import available_mechanisms
    reg = available_mechanisms()
    for m in tau0.TAU0_MECHANISMS:
        assert reg[m.name] is m and m.needs_eigenvectors and m.tau_power == 0
    assert not tau0.METRIC_DIPOLE_OVER_GAP.in_total


@pytest.mark.slow
def test_time_domain_alpha_and_dressed_relaxation_sigma_at_finite_tau():
    """(~3 min) The new relaxation models in the time-domain integrator (matrix path; the dressed target
    diagonalized exactly at every step, no expansion in E) against the frequency-domain solver (dressed target
    expanded to second order): sigma(tau) at tau = 2 fs, tilted QWZ at 3000 K, 16 x 16. The relaxation-dependent
    parts sigma(model) - sigma("full") are compared (the grid error of sigma itself, 1.1e-2 here for every model
    including "full", cancels in them): measured 1e-2 (alpha = 1/2, whose difference is small) and 3e-3
    (dressed) of the largest difference."""
    from qkinetics.kubo.time_domain import TimeDomainSolver

    model, mu, T, n = tilted_qwz(), 1.1, 3000.0, 16
    taus = np.array([2e-15])
    e = np.array([0.6, 0.8])
    td = TimeDomainSolver(model, mu=mu, T=T, kgrid=n, method="matrix").second_order(
        taus, [e], [(0.5, "bare"), "dressed", "full"])
    fd = DensityMatrixSolver(model, mu=mu, T=T, kgrid=n)
    ref = [np.einsum("abc,b,c->a", fd.second_order(taus[0], relaxation=rel, channel="static").real, e, e)
           for rel in (Relaxation(0.5), Relaxation(1.0, "dressed"), "full")]
    for i, tol in ((0, 3e-2), (1, 1e-2)):
        d_td = td["sigma2"][i, 0, 0] - td["sigma2"][2, 0, 0]
        d_fd = ref[i] - ref[2]
        assert np.abs(d_td - d_fd).max() < tol * np.abs(d_fd).max(), i
