"""Dynamic density response at order 2 against the multiband Lindhard function (no gradient expansion).

Setup as tests/test_kinetics_lindhard.py (Rice-Mele, mu = -1.3 eV in the lower band, T = 300 K, V = V0 cos(qx - wt),
V0 = 1e-4 eV, relaxation "bare" with eta = hbar/tau; chi = 2 <delta n e^{-iqx}> e^{iwt} / V0 after 10 tau), with
q -> 0 at fixed q v_F tau = 2.1 and w tau = 1.52 (tau ~ 1/q, w ~ q): the semiclassical expansion parameter is q.
The order-2 density is the physical (star-dressed) density, V taken at the measurement time.

The linearized order-2 kinetic theory, derived here by hand from the solver's equation (module docstring of
qkinetics.kinetics.solver), f = f0(eps(k)) + g e^{i(qx - wt)} + c.c., V = U e^{i(qx - wt)} + c.c.:
rho = 1 - G V'', h = eps + V + g_m V''/2 - G V'^2/2, J^x = f (d_k h + G d_t V') - d_x^2(f eps''')/24,
J^k = -f d_x h + d_k^2(f V''')/24. The rho f0 and G d_tV' f0 terms cancel exactly at linear order (Liouville:
d_t rho + d_x(G d_t V') = 0), and the relaxation target f0(eps) is the band-diagonal part of f0(H0) in the frame
of H0 + V to linear order in V (its O(hbar^2) diagonal correction is ~ V'^2, measured with the star engine:
the V'' coefficient vanishes to 1e-21), so with d_k derivatives of f0(eps(k)) written F', F''':

    (-iw + i(q eps' + q^3 eps'''/24)/hbar + 1/tau) g = i [q F' (1 - q^2 g_m / 2) + q^3 F''' / 24] U / hbar.

``order2_chi`` evaluates this with the Rice-Mele bands written out (eps'', F''' by FFT in k) and the quantum metric
g_m of band_geometry, and dresses f0 + g e^{iqx} + c.c. with the solver's physical_density (the star dressing
checked statically against exact diagonalization in tests/test_kinetics_order2.py).

Measured (relative to Lindhard):

    q [1/A]:                         0.4      0.28     0.2      0.14     0.1      0.05
    order 1 (chi_b):                 1.37e-2  6.64e-3  3.38e-3  1.65e-3  8.42e-4  2.10e-4   slope 2.0
    order 2 (linearized theory):     2.04e-4  4.79e-5  1.23e-5  2.94e-6  7.63e-7  4.76e-8   slope 4.02
    order 2 solver, R(32, 64):       4.7e-4   3.5e-4   3.4e-4    (grid floor ~3e-4 of the 32/64 extrapolation)
    order 1 solver, R(32, 64):       1.39e-2  6.8e-3   3.6e-3

The solver reaches the linearized order-2 theory to 2.9e-4 (q = 0.4) and 3.3e-4 (q = 0.2) at R(32, 64), the same
grid floor as order 1; nk = 512 -> 1024 changes the linearized chi by < 1e-9 (below).
"""

import functools

import numpy as np
import pytest

import qkinetics as qk
from qkinetics import units
from qkinetics.geometry import band_geometry
from qkinetics.kinetics import KineticSolver
from qkinetics.kubo.lindhard import lindhard

HBAR = units.hbar_eVs
MU, T = -1.3, 300.0
Q0, TAU0, HW = 0.05, 4e-14, 0.025       # q v_F tau = 2.1, w tau = 1.52 at q = Q0; scaled with q below
V0 = 1e-4
RM = dict(t=1.0, delta_t=0.3, staggered=0.2, a=1.0)


def scaled(q):
    """tau and w at wave vector q for fixed q v_F tau and w tau."""
    return TAU0 * Q0 / q, HW / HBAR * q / Q0


def rel(a, b):
    return abs(a - b) / abs(b)


@functools.lru_cache(maxsize=None)
def lindhard_chi(q):
    tau, om = scaled(q)
    ds = lindhard(qk.zoo.rice_mele(**RM), [[q]], [om], mu=MU, T=T, eta=HBAR / tau, kgrid=4000)
    return complex(ds["chi"].values.ravel()[0])


def _dk(f, n):
    """n-th k-derivative of a periodic function on the midpoint zone grid (FFT)."""
    N = f.shape[-1]
    m = np.fft.fftfreq(N, d=1.0 / N)
    if N % 2 == 0:
        m[N // 2] = 0.0
    return np.real(np.fft.ifft((2j * np.pi * m / (2 * np.pi / RM["a"])) ** n * np.fft.fft(f, axis=-1), axis=-1))


@functools.lru_cache(maxsize=None)
def order2_chi(q, order=2, nk=512, nx=8):
    """The linearized kinetic response of the module docstring (order 1: the q^3 terms and the dressing dropped)."""
    tau, om = scaled(q)
    t, dt, D, a = RM["t"], RM["delta_t"], RM["staggered"], RM["a"]
    k = (-np.pi + (np.arange(nk) + 0.5) * 2 * np.pi / nk) / a
    E = np.sqrt(4 * t ** 2 * np.cos(k * a / 2) ** 2 + 4 * dt ** 2 * np.sin(k * a / 2) ** 2 + D ** 2)
    eps = np.stack([-E, E])
    f0 = 1 / (np.exp((eps - MU) / (units.kB_eV * T)) + 1)
    gm = band_geometry(qk.zoo.rice_mele(**RM), k[:, None]).quantum_metric[:, :, 0, 0].T
    c = 1.0 if order == 2 else 0.0
    U = V0 / 2
    num = 1j / HBAR * (q * _dk(f0, 1) * (1 - c * q * q * gm / 2) + c * q ** 3 * _dk(f0, 3) / 24) * U
    g = num / (-1j * om + 1j / HBAR * (q * _dk(eps, 1) + c * q ** 3 * _dk(eps, 3) / 24) + 1 / tau)
    s = KineticSolver(qk.zoo.rice_mele(**RM), lambda x, tt: V0 * np.cos(q * x), length=2 * np.pi / q, nx=nx, nk=nk,
                      mu=MU, T=T, tau=tau, order=2, relaxation="bare", well_balanced=False)
    assert np.allclose(s.k, k)
    f = (f0[:, None, :] + 2 * np.real(g[:, None, :] * np.exp(1j * q * s.x)[None, :, None]))[..., None]
    n = (s.physical_density(f) if order == 2 else s.weight * f.sum(axis=(2, 3))).sum(0)
    return complex(2 * np.mean(n * np.exp(-1j * q * s.x)) / V0)


@functools.lru_cache(maxsize=None)
def solver_chi(q, nx, order=2, nk=256):
    """(chi, relative drift over the last tau) of the order-1/2 solver; the physical density at the end."""
    tau, om = scaled(q)
    s = KineticSolver(qk.zoo.rice_mele(**RM), lambda x, t: V0 * np.cos(q * x - om * t), length=2 * np.pi / q,
                      nx=nx, nk=nk, mu=MU, T=T, tau=tau, order=order, relaxation="bare", limiter="none",
                      well_balanced=False)
    s.f = s.equilibrium(potential=False)
    n0 = s.weight * s.f.sum(axis=(0, 2, 3))

    def amp(n, tt):
        return 2 * np.mean((n - n0) * np.exp(-1j * q * s.x)) * np.exp(1j * om * tt) / V0
    s.advance(10 * tau)
    a10 = amp(s.density().sum(0), s.t)
    s.advance(11 * tau)
    a11 = amp(s.density().sum(0), s.t)
    chi = amp(s.physical_density().sum(0), s.t) if order == 2 else a11
    return chi, abs(a11 - a10) / abs(a11)


def test_linearized_order2_theory_approaches_lindhard_as_q4():
    """The fast slope check: order 1 falls as q^2, order 2 as q^4 (measured 4.02 over 0.4 .. 0.05)."""
    qs = (0.4, 0.2, 0.1)
    d1 = [rel(order2_chi(q, order=1), lindhard_chi(q)) for q in qs]
    d2 = [rel(order2_chi(q), lindhard_chi(q)) for q in qs]
    s1 = np.polyfit(np.log(qs), np.log(d1), 1)[0]
    s2 = np.polyfit(np.log(qs), np.log(d2), 1)[0]
    print("order 1:", [f"{x:.3e}" for x in d1], f"slope {s1:.2f}; order 2:", [f"{x:.3e}" for x in d2],
          f"slope {s2:.2f}")
    assert 1.9 < s1 < 2.1
    assert 3.7 < s2 < 4.3                                  # measured 4.02
    assert d2[0] < 0.03 * d1[0]                            # 2.0e-4 vs 1.4e-2 at q = 0.4


def test_linearized_order2_theory_is_converged_in_k():
    assert rel(order2_chi(0.2, nk=1024), order2_chi(0.2)) < 1e-8


def test_solver_converges_to_the_linearized_theory_and_beats_order_1():
    """q = 0.4/A, nx = 16 and 32: the order-2 solver converges at second order in nx to the linearized order-2
    theory (measured order 2.18; R(16, 32) within 2.3e-3 of it), and R(16, 32) is within 2.4e-3 of Lindhard where
    order 1 (same grids) misses by 1.5e-2, its O(q^2) physics."""
    q = 0.4
    ref, chiL = order2_chi(q), lindhard_chi(q)
    c16, c32 = solver_chi(q, 16)[0], solver_chi(q, 32)[0]
    e16, e32 = rel(c16, ref), rel(c32, ref)
    R2 = (4 * c32 - c16) / 3
    R1 = (4 * solver_chi(q, 32, order=1)[0] - solver_chi(q, 16, order=1)[0]) / 3
    print(f"vs theory: nx=16 {e16:.3e}, nx=32 {e32:.3e} (order {np.log2(e16 / e32):.2f}), R {rel(R2, ref):.3e}; "
          f"vs Lindhard: order 2 R {rel(R2, chiL):.3e}, order 1 R {rel(R1, chiL):.3e}")
    assert solver_chi(q, 32)[1] < 1e-4                       # periodic steady state (drift 3.2e-5)
    assert 1.8 < np.log2(e16 / e32) < 2.6
    assert rel(R2, ref) < 5e-3
    assert rel(R2, chiL) < 5e-3 and rel(R1, chiL) > 1e-2


@pytest.mark.slow
@pytest.mark.parametrize("q", [0.4, 0.2])
def test_solver_fine_grid_against_theory_and_lindhard(q):
    """R(32, 64): within 2.9e-4 (q = 0.4) and 3.3e-4 (q = 0.2) of the linearized order-2 theory (the 32/64 grid
    floor, as at order 1); vs Lindhard 4.7e-4 and 3.4e-4 where order 1 misses by 1.39e-2 and 3.6e-3 (~130 s). With
    the sign of the time flux G d_tV' flipped the q = 0.4 value is 2.2e-3 from the theory (the check sees it)."""
    ref, chiL = order2_chi(q), lindhard_chi(q)
    R2 = (4 * solver_chi(q, 64)[0] - solver_chi(q, 32)[0]) / 3
    R1 = (4 * solver_chi(q, 64, order=1)[0] - solver_chi(q, 32, order=1)[0]) / 3
    print(f"q = {q}: order 2 R(32,64) vs theory {rel(R2, ref):.3e}, vs Lindhard {rel(R2, chiL):.3e}; "
          f"order 1 vs Lindhard {rel(R1, chiL):.3e}")
    assert rel(R2, ref) < 6e-4
    assert rel(R2, chiL) < 7e-4 and rel(R1, chiL) > 3e-3           # order 2 at the grid floor, order 1 above it
