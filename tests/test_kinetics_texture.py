"""KineticSolver with a parameter texture model(x) at order 1: the mixed Berry curvature Omega_xk (phase-space
density rho = 1 - Omega_xk), the O(hbar) band energy h_1, the bound charge -d_x P of a polarization texture and
of a domain wall, against the Moyal engine and against exact diagonalization of the textured chain."""

import numpy as np
import pytest
import sympy as sp

import qkinetics as qk
from qkinetics.exact import real_space_chain, supercell_density, wannier_centers
from qkinetics.kinetics import KineticSolver
from qkinetics.kinetics.solver import plaquette_berry_flux
from qkinetics.models.base import ModelError
from qkinetics.moyal import PhaseSpace
from qkinetics.moyal.phase_space import PhaseSpaceModel, phase_space_current, phase_space_geometry

L = 20.0
Q = 2 * np.pi / L


def texture(x):
    """Rice-Mele chain with dimerization and staggered potential both varying in x (period L)."""
    return qk.zoo.rice_mele(delta_t=0.3 + 0.1 * np.cos(Q * x), staggered=0.2 + 0.15 * np.sin(Q * x))


def texture_symbol():
    """The Weyl symbol of the same chain written out by hand (positions convention, A at 0, B at a/2):
    H_AB = (t + dt(x)) e^{ik/2} + (t - dt(x)) e^{-ik/2}, H_AA = -H_BB = Delta(x)."""
    c = PhaseSpace(1)
    x, k = c.variables
    dt, D = 0.3 + 0.1 * sp.cos(Q * x), 0.2 + 0.15 * sp.sin(Q * x)
    hab = (1 + dt) * sp.exp(sp.I * k / 2) + (1 - dt) * sp.exp(-sp.I * k / 2)
    hba = (1 + dt) * sp.exp(-sp.I * k / 2) + (1 - dt) * sp.exp(sp.I * k / 2)
    return PhaseSpaceModel(hamiltonian=sp.Matrix([[D, hab], [hba, -D]]), coords=c)


# ------------------------------------------------------------------------------ geometry against the engine
def test_mixed_curvature_and_h1_against_the_star_diagonalization():
    """Omega_xk (cell average of the plaquette fluxes) and h_1 (sum over states with a finite-difference d_x H)
    against phase_space_geometry of the hand-written symbol (exact jets, the star-diagonalization recursion) at
    the cell centres. Measured: |Omega - Omega_engine| = 1.46e-3 (32 x 64), 3.87e-4 (64 x 128) (midpoint vs cell
    average, O(dx^2 + dk^2); max |Omega| = 0.13); |h_1 - h_1,engine| = 3e-12 and 4e-12 eV (max |h_1| = 0.055 eV)."""
    psm = texture_symbol()
    errs = []
    for nx, nk in ((32, 64), (64, 128)):
        s = KineticSolver(texture, None, length=L, nx=nx, nk=nk, mu=0.0, T=300.0, order=1)
        pts = np.stack(np.broadcast_arrays(s.x[:, None], s.k[None, :]), -1).reshape(-1, 2)
        geo = phase_space_geometry(psm, pts, order=1)
        om = geo.berry_curvature[:, :, 0, 1].T.reshape(2, nx, nk)
        h1 = geo.h[1].T.reshape(2, nx, nk)
        assert np.abs(om).max() > 0.1 and np.abs(h1).max() > 0.05                 # the terms are really there
        errs.append(np.abs(s.mixed_berry_curvature[..., 0] - om).max())
        np.testing.assert_allclose(s.first_order_energy[..., 0], h1, atol=1e-10)
        np.testing.assert_allclose(s._E[..., 0], s.energy[..., 0] + h1, atol=1e-10)     # equilibria use h
        np.testing.assert_allclose(s.density(np.ones(s.shape)), s.weight * (1 - om).sum(2), atol=2e-3 * s.weight * nk)
    print(f"Omega_xk: {errs[0]:.2e} (32 x 64), {errs[1]:.2e} (64 x 128)")
    assert errs[0] < 3e-3 and errs[1] < errs[0] / 3.5


def test_plaquette_flux_is_gauge_invariant_and_telescopes_into_the_polarization():
    """Random phases on the corner eigenvectors leave the plaquette fluxes unchanged; the column sums are the
    differences of the Berry phases 2 pi P of the two x-faces, checked against qkinetics.exact.wannier_centers
    (an independent Wilson loop, Richardson-extrapolated): measured max deviation 1.3e-6 with nk = 128 (the
    O(dk^2) error of a discrete loop; 3.4e-7 with nk = 256). A lattice-convention model gives the same terms."""
    rng = np.random.default_rng(3)
    U = np.linalg.eigh(rng.standard_normal((5, 7, 2, 3, 3)) + 1j * rng.standard_normal((5, 7, 2, 3, 3)))[1]
    phases = np.exp(2j * np.pi * rng.random((5, 7, 2, 1, 3)))
    np.testing.assert_allclose(plaquette_berry_flux(U * phases), plaquette_berry_flux(U), atol=1e-12)

    devs = []
    for nk in (128, 256):
        s = KineticSolver(texture, None, length=L, nx=10, nk=nk, mu=0.0, T=300.0, order=1, boundary="open")
        column = (s.mixed_berry_curvature[0, :, :, 0] * s.dx * s.dk).sum(1) / (2 * np.pi)  # P(x_{i+1/2}) - P(x_{i-1/2})
        P = np.array([wannier_centers(texture(xf))[0] for xf in s.x_faces])        # a = 1: P = x_W / a
        dP = np.angle(np.exp(2j * np.pi * np.diff(P))) / (2 * np.pi)
        assert np.abs(dP).max() > 0.01
        devs.append(np.abs(column - dP).max())
    print(f"column sums vs Wannier-centre differences: {devs[0]:.1e} (nk = 128), {devs[1]:.1e} (nk = 256)")
    assert devs[0] < 3e-6 and devs[1] < devs[0] / 3

    lat = KineticSolver(lambda x: texture(x).with_convention("lattice"), None, length=L, nx=8, nk=32, order=1)
    pos = KineticSolver(texture, None, length=L, nx=8, nk=32, order=1)
    np.testing.assert_allclose(lat.mixed_berry_curvature, pos.mixed_berry_curvature, atol=1e-12)
    np.testing.assert_allclose(lat.first_order_energy, pos.first_order_energy, atol=1e-12)


# --------------------------------------------------------------------- the density against exact diagonalization
def _first_harmonics(model_of_M, M, mu, T, nx, insulator):
    """First harmonic of the exact site density (supercell diagonalization of the textured chain) and of the
    kinetic densities at orders 0 and 1 (equilibrium f_FD(h - mu), rho f)."""
    q = 2 * np.pi / M
    ns, xs = supercell_density(model_of_M(M), M, None, mu, T, n_twist=16 if insulator else 32)
    exact = (ns * np.exp(-1j * q * xs)).sum() / M
    out = []
    for order in (0, 1):
        s = KineticSolver(model_of_M(M), None, length=M, nx=nx, nk=256, mu=mu, T=T, order=order)
        n = s.density().sum(0)
        nq = (n * np.exp(-1j * q * s.x)).mean()
        if insulator:
            # f = 1: n_i is exactly the cell average of -d_x P, whose first harmonic is sinc(q dx/2) times the
            # continuum one (measured: this removes the x-grid dependence, nx = 16 .. 128, to 1e-9)
            nq = nq / np.sinc(q * s.dx / (2 * np.pi))
        out.append((nq, s))
    return exact, out


@pytest.mark.parametrize("kind", ["staggered", "dimerization"])
def test_insulator_bound_charge_of_a_texture_against_exact(kind):
    """mu = 0 in the gap, 300 K, texture lambda0 + 0.1 cos(q x) of the staggered potential or the dimerization,
    q = 2 pi/(M a). Order 0 gives no modulation at all; the exact density carries the bound charge -d_x P ~ q;
    order 1 reproduces it. Measured (first harmonic, 1/A), M = 100, 50, 25:
    staggered: |n_q| = 8.20e-4, 1.63e-3, 3.21e-3; order-1 error 1.20e-6, 9.51e-6, 7.43e-5 (slope 2.98);
    dimerization: |n_q| = 5.01e-4, 9.96e-4, 1.94e-3; error 1.18e-6, 9.27e-6, 6.97e-5 (slope 2.94).
    The mean density is 1 per cell at both orders (round-off)."""
    if kind == "staggered":
        make = lambda M: lambda x: qk.zoo.rice_mele(staggered=0.2 + 0.1 * np.cos(2 * np.pi * x / M))  # noqa: E731
    else:
        make = lambda M: lambda x: qk.zoo.rice_mele(delta_t=0.3 + 0.1 * np.cos(2 * np.pi * x / M))  # noqa: E731
    Ms = (100, 50, 25)
    exact, err1 = [], []
    for M in Ms:
        ex, ((n0, s0), (n1, s1)) = _first_harmonics(make, M, 0.0, 300.0, 16, insulator=True)
        assert abs(n0) < 1e-12 * abs(ex)                              # order 0: a filled band is uniform
        assert abs(s1.density().sum(0).mean() - 1.0) < 1e-12          # the bound charges integrate to zero
        exact.append(abs(ex))
        err1.append(abs(n1 - ex))
    qs = 2 * np.pi / np.array(Ms)
    slope_n = np.polyfit(np.log(qs), np.log(exact), 1)[0]
    slope_1 = np.polyfit(np.log(qs), np.log(err1), 1)[0]
    print(f"{kind}: |n_q| = {exact}, order-1 errors = {err1}, slopes {slope_n:.2f}, {slope_1:.2f}")
    assert 0.9 < slope_n < 1.1                                       # the bound charge ~ q
    assert slope_1 > 2.6                                             # measured 2.98 / 2.94
    assert err1[0] < 3e-3 * exact[0]


def test_metal_first_harmonic_error_falls_one_power_faster_at_order_1():
    """mu = -1 eV (lower band partly filled), 1000 K, staggered potential 0.2 + 0.1 cos(q x). Measured errors of the
    first harmonic (|n_q| = 5.2e-3 1/A), M = 100, 50, 25, nx = 64: order 0 2.93e-4, 5.88e-4, 1.19e-3 (slope 1.01);
    order 1 3.79e-6, 1.53e-5, 6.27e-5 (slope 2.02). With rho alone (f of eps) or h_1 alone (rho = 1) the error
    stays O(q) (5.2e-4 and 2.3e-4 at M = 100): both O(hbar) terms are needed."""
    make = lambda M: lambda x: qk.zoo.rice_mele(staggered=0.2 + 0.1 * np.cos(2 * np.pi * x / M))  # noqa: E731
    Ms = (100, 50, 25)
    e0, e1, e_rho, e_h1 = [], [], [], []
    for M in Ms:
        q = 2 * np.pi / M
        ex, ((n0, s0), (n1, s1)) = _first_harmonics(make, M, -1.0, 1000.0, 64, insulator=False)
        e0.append(abs(n0 - ex))
        e1.append(abs(n1 - ex))
        harmonic = lambda n: (n.sum(0) * np.exp(-1j * q * s1.x)).mean()  # noqa: E731
        e_rho.append(abs(harmonic(s1.density(s0.f)) - ex))
        e_h1.append(abs(harmonic(s0.density(s1.f)) - ex))
    qs = 2 * np.pi / np.array(Ms)
    s0_, s1_ = (np.polyfit(np.log(qs), np.log(e), 1)[0] for e in (e0, e1))
    print(f"metal: order 0 {e0} (slope {s0_:.2f}); order 1 {e1} (slope {s1_:.2f}); rho only {e_rho}; h1 only {e_h1}")
    assert 0.85 < s0_ < 1.15 and 1.8 < s1_ < 2.3
    assert e1[0] < 0.03 * e0[0]
    assert min(e_rho[0], e_h1[0]) > 0.5 * e0[0]


# ------------------------------------------------------------------------------------------ the scheme
def test_texture_order1_scheme_conserves_and_is_well_balanced():
    V = lambda x, t: 0.1 * np.cos(Q * x - 1e14 * t)  # noqa: E731
    s = KineticSolver(texture, V, length=L, nx=32, nk=64, mu=-0.5, T=800.0, tau=np.inf, order=1)
    assert s._rho.min() < 0.95 and s._rho.max() > 1.05
    c = np.array([0.37, 0.81])[:, None, None, None]
    s.f = np.ones(s.shape) * c
    s.advance(3e-14)
    assert s.steps > 50 and np.abs(s.f - c).max() < 1e-13            # discrete Liouville with rho and h_1
    s.f = s.equilibrium(mu=-0.8) * (1 + 0.2 * np.sin(Q * s.x))[None, :, None, None]
    N0 = s.number()
    s.advance(6e-14)
    assert abs(s.number() / N0 - 1) < 1e-13                          # rho f is conserved
    # local relaxation: rho-weighted local equilibrium, number conserved
    s = KineticSolver(texture, V, length=L, nx=32, nk=64, mu=-0.5, T=800.0, tau=2e-14, order=1)
    s.f = s.equilibrium(mu=-0.8, potential=False)
    N0 = s.number()
    s.advance(5e-14)
    assert abs(s.number() / N0 - 1) < 1e-13
    fl = s.f_local(s.f, s.t)
    np.testing.assert_allclose(s.density(fl).sum(0), s.density().sum(0), rtol=1e-13)
    # well balanced: the order-1 equilibrium f_FD(eps + h_1 + V - mu) is an exact discrete steady state
    Vs = lambda x, t: 0.1 * np.cos(Q * x)  # noqa: E731
    s = KineticSolver(texture, Vs, length=L, nx=32, nk=64, mu=-0.5, T=800.0, tau=5e-15, order=1,
                      relaxation="global", well_balanced=True)
    f_eq = s.f.copy()
    np.testing.assert_allclose(f_eq, 1 / (1 + np.exp((s.energy + s.first_order_energy + Vs(s.x, 0)[None, :, None, None]
                                                      + 0.5) / (qk.units.kB_eV * 800.0))), atol=1e-14)
    s.f = s.equilibrium(potential=False)
    assert s.steady_state(tol=1e-13).attrs["converged"]
    np.testing.assert_allclose(s.f, f_eq, atol=1e-12)


def test_texture_order1_open_boundaries_balance_number():
    s = KineticSolver(texture, lambda x, t: 0.2 * np.tanh((x - L / 2) / 3.0), length=L, nx=32, nk=64, mu=-0.5,
                      T=1000.0, tau=np.inf, boundary="open", order=1)
    s.f = s.equilibrium(mu=-1.0, potential=False)
    N0 = s.number()
    for _ in range(30):
        s.step(s.max_dt())
    dN = s.number() - N0
    assert abs(dN) > 1e-4 and abs(dN - s.boundary_inflow) < 1e-12 * abs(dN)


def test_texture_local_relaxation_reaches_the_order1_equilibrium():
    """Number-conserving relaxation from a perturbed state: the steady state is f_FD(h - mu*) with
    h = eps + h_1, mu* fixed by the conserved number int rho f (zero net current); the difference is the
    truncation error of the scheme. Measured max |n - n_eq| / ptp(n_eq) = 1.5e-2 (nx = 16), 2.5e-3 (32), nk = 64."""
    errs = []
    for nx in (16, 32):
        s = KineticSolver(texture, None, length=L, nx=nx, nk=64, mu=-1.0, T=1500.0, tau=5e-15, order=1)
        s.f = s.f * (1 + 0.1 * np.sin(Q * s.x))[None, :, None, None]
        N0 = s.number()
        ds = s.steady_state(tol=1e-10)
        assert ds.attrs["converged"] and abs(s.number() / N0 - 1) < 1e-12
        lo, hi = -3.0, 1.0
        for _ in range(100):
            mid = 0.5 * (lo + hi)
            lo, hi = (mid, hi) if s.number(s.equilibrium(mu=mid)) < N0 else (lo, mid)
        n_eq = s.density(s.equilibrium(mu=mid)).sum(0)
        errs.append(np.abs(ds["n"].sum("band").values - n_eq).max() / np.ptp(n_eq))
    print(f"texture, local relaxation: |n - n_eq|/ptp = {errs}")
    assert errs[0] < 3e-2 and errs[1] < 0.7 * errs[0]


# ------------------------------------------------------------------------------------------ domain wall
def test_domain_wall_fractional_charge_against_exact():
    """Rice-Mele ring of 120 cells, dimerization delta_t(x) = 0.3 tanh(sin(2 pi x/M) M/(2 pi w)) (two walls, width
    w = 6 A), staggered potential 0.4 eV, mu = 0 in the gap. The charge of the wall at M/2 (window [M/4, 3M/4]):
    exact (site occupations, midgap soliton state included) and order 1 agree to 1e-5 (measured -0.29390 both;
    order 0: exactly 0); with the bulk polarizations of the two sides, -dP = -0.29437 (the window edges are
    not quite bulk). In the SSH limit (staggered -> 0) the charge tends to -1/2 (docs/kinetics.md, example)."""
    M, w, D0 = 120, 6.0, 0.4
    wall = lambda x: qk.zoo.rice_mele(delta_t=0.3 * np.tanh(np.sin(2 * np.pi * x / M) * M / (2 * np.pi * w)),  # noqa
                                      staggered=D0)
    ns, xs = supercell_density(wall, M, None, 0.0, 100.0, n_twist=4)
    cells = ns.reshape(M, 2).sum(1)
    q_exact = (cells[M // 4: 3 * M // 4] - 1).sum()
    # the charge in the window telescopes into P at its two edges: independent of nx (measured: nx = 60 and 240
    # agree to 1e-15)
    s = KineticSolver(wall, None, length=M, nx=60, nk=256, mu=0.0, T=100.0, order=1)
    window = (s.x > M / 4) & (s.x < 3 * M / 4)
    q_kin = ((s.density().sum(0) - 1)[window]).sum() * s.dx
    s0 = KineticSolver(wall, None, length=M, nx=60, nk=64, mu=0.0, T=100.0, order=0)
    q0 = ((s0.density().sum(0) - 1)[window]).sum() * s0.dx
    P = [wannier_centers(qk.zoo.rice_mele(delta_t=d, staggered=D0))[0] for d in (0.3, -0.3)]
    dP = np.angle(np.exp(2j * np.pi * (P[1] - P[0]))) / (2 * np.pi)
    print(f"wall charge: exact {q_exact:+.6f}, order 1 {q_kin:+.6f}, order 0 {q0:+.1e}, bulk -dP {-dP:+.6f}")
    assert -0.5 < q_exact < -0.1
    assert abs(q_kin - q_exact) < 2e-5 and abs(q0) < 1e-12
    assert abs(q_exact + dP) < 2e-3


def test_real_space_chain_texture_evaluates_bonds_at_midpoints():
    """Each bond of the textured chain carries the model's hopping at the bond midpoint, each site its on-site
    term; a constant texture is the plain chain."""
    M = 10
    f = lambda x: qk.zoo.rice_mele(delta_t=0.3 + 0.1 * np.cos(2 * np.pi * x / M),  # noqa: E731
                                   staggered=0.2 * np.sin(2 * np.pi * x / M))
    H, x = real_space_chain(f, M, periodic=True, twist=0.7)
    np.testing.assert_allclose(H, H.conj().T, atol=1e-15)
    c = 3                                                   # A_c at c, B_c at c + 1/2 (a = 1)
    assert np.isclose(H[2 * c, 2 * c], 0.2 * np.sin(2 * np.pi * c / M))
    assert np.isclose(H[2 * c + 1, 2 * c + 1], -0.2 * np.sin(2 * np.pi * (c + 0.5) / M))
    assert np.isclose(H[2 * c, 2 * c + 1], 1.3 + 0.1 * np.cos(2 * np.pi * (c + 0.25) / M))         # intra bond
    assert np.isclose(H[2 * c + 1, 2 * c + 2], 0.7 - 0.1 * np.cos(2 * np.pi * (c + 0.75) / M))     # inter bond
    m = qk.zoo.rice_mele()
    np.testing.assert_array_equal(real_space_chain(lambda x: m, M, periodic=True, twist=0.3)[0],
                                  real_space_chain(m, M, periodic=True, twist=0.3)[0])
    with pytest.raises(ModelError, match="lattice"):
        real_space_chain(lambda x: qk.zoo.rice_mele(a=1.0 if x < 3 else 2.0), M)


# ------------------------------------------------------------------------------------------------ 2D
def test_2d_texture_transverse_velocity_against_the_liouville_current():
    """QWZ with u(x) = -1 + 0.3 sin(q x) and V = 0.05 cos(q x), order 1: the solver's y-velocity (band velocity,
    anomalous Omega^xy kdot, and the texture terms -Omega_xkx v_y + d_ky h_1 + Omega_xky v_x) against
    phase_space_current (Liouville, f = 1) of the same H(x, k) at the cell centres. Measured max error
    6.2e-4 (12 x 32 x 4), 1.6e-4 eV A (24 x 64 x 4): O(dx^2) (the O(hbar) part is 2.5e-2 eV A)."""
    Lx = 12.0
    q = 2 * np.pi / Lx
    c = PhaseSpace(2)
    x, y, kx, ky = c.variables
    sx, sy, sz = sp.Matrix([[0, 1], [1, 0]]), sp.Matrix([[0, -sp.I], [sp.I, 0]]), sp.Matrix([[1, 0], [0, -1]])
    H = 0.5 * (sp.sin(kx) * sx + sp.sin(ky) * sy + (-1 + 0.3 * sp.sin(q * x) + sp.cos(kx) + sp.cos(ky)) * sz) \
        + 0.05 * sp.cos(q * x) * sp.eye(2)
    psm = PhaseSpaceModel(hamiltonian=H, coords=c)
    errs = []
    for nx, nk in ((12, 32), (24, 64)):
        s = KineticSolver(lambda x: qk.zoo.qi_wu_zhang(u=-1.0 + 0.3 * np.sin(q * x), t=0.5),
                          lambda x, t: 0.05 * np.cos(q * x), length=Lx, nx=nx, nk=nk, nk_perp=4, order=1)
        X, K, KY = np.broadcast_arrays(s.x[:, None, None], s.k[None, :, None], s.ky[None, None, :])
        pts = np.stack([X.ravel(), 0 * X.ravel(), K.ravel(), KY.ravel()], -1)
        geo = phase_space_geometry(psm, pts, order=1, degree=2)
        Jy = phase_space_current(geo, lambda h, *v: h * 0.0 + 1.0).values()[:, :, 1].T.reshape(s.shape)
        errs.append(np.abs(s.transverse_velocity() * s.hbar - Jy).max())
        np.testing.assert_allclose(s.omega_x_ky, geo.berry_curvature[:, :, 0, 3].T.reshape(s.shape), atol=1e-9)
        assert np.abs(Jy - s.velocity_y * s.hbar).max() > 0.02                  # the O(hbar) part is not small
    print(f"2D transverse velocity vs phase_space_current: {errs}")
    assert errs[0] < 1.5e-3 and errs[1] < errs[0] / 3


# ------------------------------------------------------------------------------------------------ errors
def test_texture_errors():
    sharp = lambda x: qk.zoo.rice_mele(delta_t=0.3 * np.tanh((x - 10.0) / 0.3), staggered=0.05)  # noqa: E731
    with pytest.raises(ModelError, match="too fast"):
        KineticSolver(sharp, None, length=20.0, nx=64, nk=64, order=1, boundary="open")
    KineticSolver(sharp, None, length=20.0, nx=64, nk=64, order=0, boundary="open")       # order 0 is fine
    closing = lambda x: qk.zoo.rice_mele(delta_t=0.3 * np.cos(Q * x), staggered=0.0)  # noqa: E731
    with pytest.raises(ModelError, match="touch"):
        KineticSolver(closing, None, length=L, nx=8, nk=16, order=1)
