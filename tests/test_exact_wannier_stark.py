"""Exact Wannier-Stark ladder of a chain vs the Moyal band energy (PHYSICS.md section 5, rung 4).

The ladder offsets E_n(F) of a two-band chain in V = F x, from exact diagonalization of the
open chain, against <eps_n> + F x^W_n + c_n F^2 with c_n = +1/2 <G_n^xx>_BZ (qkinetics.exact.chain):
the first-order error falls as F^2, the second-order one as F^3.
"""

import numpy as np
import pytest

import qkinetics as qk
from qkinetics.exact import ladder_errors, real_space_chain, wannier_centers, wannier_stark_prediction

MODELS = {
    "rice_mele": dict(),
    "rice_mele_b": dict(t=0.8, delta_t=-0.25, staggered=0.5, a=2.5),
}


def slope(F, err):
    return np.polyfit(np.log(F), np.log(np.abs(err)), 1)[0]


def test_real_space_chain_bloch_sum():
    """Bloch sum of the real-space rows of a bulk cell reproduces H(k) (positions convention)."""
    m = qk.zoo.rice_mele(t=0.8, delta_t=-0.25, staggered=0.5, a=2.5)
    L, N = 12, m.norb
    H, x = real_space_chain(m, L, potential=lambda x: 0.01 * x)
    assert np.allclose(H, H.conj().T)
    assert np.allclose(x[:4], [0.0, 1.25, 2.5, 3.75])
    assert np.allclose(np.diag(H).real, 0.01 * x + np.tile([0.5, -0.5], L))
    H0, _ = real_space_chain(m, L)
    c = L // 2
    for kk in [0.0, 0.37, -1.1]:
        rows = H0[c * N:(c + 1) * N]
        phase = np.exp(1j * kk * (x[None, :] - x[c * N:(c + 1) * N, None]))
        Hk = (rows * phase).reshape(N, L, N).sum(axis=1)
        assert np.allclose(Hk, m.hamiltonian([[kk]])[0][0], atol=1e-12)


def test_wannier_centers_converged():
    m = qk.zoo.rice_mele()
    assert np.allclose(wannier_centers(m, 1024), wannier_centers(m, 4096), atol=1e-11, rtol=0)


@pytest.mark.parametrize("name", list(MODELS))
def test_second_order_coefficient_engine_vs_geometry(name):
    """c_n from the Moyal engine (<h_2 + A^(1)_k> and <h~_2>) equals 1/2 <G_n>; covariant <h_2> = -c_n."""
    p = wannier_stark_prediction(qk.zoo.rice_mele(**MODELS[name]))
    assert np.allclose(p.c2_engine, p.c2, rtol=1e-9, atol=1e-12)
    assert np.allclose(p.c2_engine_tilde, p.c2, rtol=1e-9, atol=1e-12)
    assert np.allclose(p.h2_engine, -p.c2, rtol=1e-9, atol=1e-12)
    assert p.c2[0] < 0 < p.c2[1]                          # level repulsion: lower band pushed down


@pytest.mark.parametrize("name", list(MODELS))
def test_wannier_stark_ladder_orders(name):
    m = qk.zoo.rice_mele(**MODELS[name])
    p = wannier_stark_prediction(m)
    F = np.geomspace(1e-3, 3e-2, 6) / p.a                 # gap ~ 1 eV; F a from 1e-3 to 3e-2 eV
    r = ladder_errors(m, F, prediction=p)
    e0, e1, e2 = r["error"]
    for n in range(m.norb):
        s0, s1, s2 = slope(F, e0[:, n]), slope(F, e1[:, n]), slope(F, e2[:, n])
        assert 0.8 < s0 < 1.2, (n, s0)
        assert 1.8 < s1 < 2.2, (n, s1)                     # first order: error ~ c_n F^2
        assert s2 > 2.7, (n, s2)                           # second order: error ~ F^3
        assert np.all(np.abs(e2[:, n]) < 0.05 * np.abs(e1[:, n]))
        assert abs(e2[0, n]) < 1e-3 * abs(e1[0, n])
        # the first-order error is the F^2 term itself
        assert np.allclose(e1[:, n], F**2 * p.c2[n], rtol=0.05)
