"""Kinetic equation with the phase-space current (first or second order in ħ) in a uniform static field.

Setup (issue "Moyal engine", last item)
---------------------------------------
Separable :math:`H = H_0(k) + V(x)` with :math:`V(x) = eE\\cdot x`, the potential energy of the
charge :math:`-e` in the field E (force :math:`-\\nabla V = -eE`, i.e. :math:`\\hbar\\dot k = -eE`).
Library units: V in eV, x in Å, E in V/Å and e = 1 (charge in units of e), so numerically
``V = E[0]*x1 + E[1]*x2`` eV. Time is measured in ħ/eV, so a relaxation time τ (s) enters as
:math:`\\tau/\\hbar_{eV}`.

The distribution is band diagonal and independent of x, :math:`f_n(k)`. The current of
:func:`~qkinetics.moyal.phase_space.phase_space_current` (``convention="liouville"``, ħ = 1) is
linear in f, :math:`J^a_n = f_n\\,u^a_n` with the phase-space velocity :math:`u^a_n` (the current of
f = 1, read from the jets at x = 0 on the k grid). The relaxation-time kinetic equation

.. math:: \\partial_a J^a_n = u^{k_i}_n\\,\\partial_{k_i} f_n + (\\partial_a u^a_n)\\,f_n
          = -\\frac{f_n - f^{\\rm eq}_n}{\\tau}

is solved order by order in E: :math:`f^{(0)} = f^{\\rm eq}`,
:math:`f^{(m+1)} = -\\tau\\,[u^{k}\\cdot\\partial_k f^{(m)} + (\\partial_a u^a) f^{(m)}]`, with the
k-derivatives taken spectrally on the periodic Monkhorst-Pack grid of a lattice model (the same
points as :class:`qkinetics.integrate.KGrid` with shift 0.5). The u's are split into powers of E
by evaluating at +E, -E (and 0, to check that nothing is left at O(E²)); the divergence
:math:`\\partial_a u^a` is returned so that callers can check that it vanishes (it does:
W = 0 and Ω^{(0)}_{xk} = 0 in the separable case). Because :math:`u^k` is O(E),
:math:`f^{(m)}\\propto(\\tau E)^m` and the powers of τ are separated by construction.

Current density :math:`j_a = -e\\sum_n\\int d^2k/(2\\pi)^2\\,J^{x_a}_n/\\hbar`, so with
:math:`I = \\sum_n\\int_k f\\,u^{x}` in eV Å⁻¹ (per unit field in V/Å):
σ_ab [S] = -(e/ħ_eV) I and σ_abc [A m/V²] = -(e/ħ_eV) I · 1e-10.

Equilibrium distribution: :math:`f^{\\rm eq}_n = f_0(\\varepsilon_n(k))`, the Fermi function of the
bare band energy :math:`h_0 - V` at fixed μ (the x-independent, field-free part of the phase-space
band energy). This is the relaxation target of the responses capability ("relaxation to f0 of the
bare band at fixed mu"). In a uniform field h_1 = 0 (checked). The O(ħ²) energy is
:math:`h_2 = -\\tfrac12 G^{ab}\\partial_aV\\partial_bV = -\\tfrac{e^2}{2}G^{ab}E_aE_b` (G the band-normalized
metric of :mod:`qkinetics.geometry`; checked numerically). It is the energy at fixed *covariant* position
π = x + ħεA, and has the opposite sign of the perturbative Stark shift
:math:`\\varepsilon^{(2)} = +\\tfrac{e^2}{2}GEE` used by the responses' intrinsic family: the two differ by
:math:`eE\\cdot a'` with the field-induced positional shift :math:`a' = eGE`. h_2 is left out of
:math:`f^{\\rm eq}`. Including it, :math:`f^{\\rm eq} = f_0(\\varepsilon + h_2)`, would add the τ⁰ O(E²)
current :math:`j_a = -(e/\\hbar)\\sum\\int_k f_0'\\,v^a h_2`, i.e.
:math:`\\sigma_{abc} = -(e^3/2\\hbar)\\sum\\int_k f\\,\\partial_aG^{bc}` (a shift of λ by +1/2 in the
intrinsic family, i.e. wang_liu - talk; ``equilibrium="h2"``, tested); with ε^(2) instead the sign flips.

O(ħ²) current (``order=2``): for V linear in x every derivative term of the current of
:func:`~qkinetics.moyal.phase_space.phase_space_current` vanishes (the Moyal term needs ∂³h with an x
index or an x-dependent f; W = W^(1) = 0 and tr N² = 0), so the current is still f times a velocity,
now with the O(E²) part :math:`\\partial_{k_a}h_2 + \\Omega^{(1)}_{k_ak_j}E_j`,
:math:`\\Omega^{(1)}_{k_ik_j} = \\partial_i(G^{jl}E_l) - \\partial_j(G^{il}E_l)` (e = 1 units). f0 flowing
with it gives the τ⁰ term :math:`\\sigma_{abc} = -(e^3/\\hbar)\\sum\\int_k f\\,[\\tfrac12\\partial_aG^{bc} -
\\tfrac12(\\partial_bG^{ac} + \\partial_cG^{ab})]`, the talk's variant (λ = 1/2), pointwise on the grid
(tested against ``intrinsic_talk``); with ``equilibrium="h2"`` it becomes Wang/Liu (λ = 1). So the
band-diagonal kinetic theory gives a member of the λ family for either relaxation target; the quantum
reference (docs/quantum-reference.md, section 7) gives neither, because it also relaxes interband
coherences, which a band-diagonal distribution does not have.
"""

from __future__ import annotations

import numpy as np

from ..units import e as E_CHARGE
from ..units import hbar_eVs, kB_eV
from .phase_space import PhaseSpaceModel, phase_space_current, phase_space_geometry
from .star import PhaseSpace

__all__ = ["kinetic_conductivities", "phase_space_velocity"]


def _grid(model, n):
    if not model.periodic:
        raise ValueError("kinetic_conductivities needs a lattice model (periodic k grid).")
    if model.dim != 2:
        raise ValueError("kinetic_conductivities is written for 2D models.")
    s = (np.arange(n) + 0.5) / n
    red = np.stack(np.meshgrid(s, s, indexing="ij"), -1).reshape(-1, 2)
    k = red @ model.reciprocal
    weight = abs(np.linalg.det(model.reciprocal)) / n**2 / (2 * np.pi) ** 2
    return k, weight


def phase_space_velocity(model, k, E, *, hbar: float = 1.0, convention: str = "liouville", order: int = 1,
                         chunk: int = 1024):
    """Phase-space velocity u^a (current of f = 1) and its divergence at x = 0, for V = E.x.

    ``order`` is the ħ order of the current (1, or 2: Taylor degree 5, so the model must give
    k-derivatives to fifth order, as tight-binding models do). For V linear in x every term of the
    current is f times a velocity (the derivative terms of the O(ħ²) current vanish), so u is the
    velocity of any x-independent f. Returns ``(u, div, h)`` with u of shape (B, N, 4) over
    (x1, x2, k1, k2), div (B, N) (None at order 2, whose divergence would need degree 6) and h the
    (order+1, B, N) band energies of :func:`phase_space_geometry`.
    """
    coords = PhaseSpace(2)
    x1, x2 = coords.x
    pm = PhaseSpaceModel(model, float(E[0]) * x1 + float(E[1]) * x2)
    pts = np.concatenate([np.zeros((len(k), 2)), k], 1)
    out = []
    for s in range(0, len(pts), chunk):
        geo = phase_space_geometry(pm, pts[s:s + chunk], order=order, degree=3 if order == 1 else 5)
        cur = phase_space_current(geo, lambda h, *v: h * 0.0 + 1.0, hbar=hbar, convention=convention, order=order)
        out.append((cur.values(), cur.divergence() if order == 1 else None, geo.h))
    u = np.concatenate([o[0] for o in out], axis=0)
    div = np.concatenate([o[1] for o in out], axis=0) if order == 1 else None
    return u, div, np.concatenate([o[2] for o in out], axis=1)


def _dk(model, F, n):
    """Spectral k-derivatives of grid data F (n*n, ...) -> (2, n*n, ...)."""
    shape = F.shape
    G = F.reshape((n, n) + shape[1:])
    m = np.fft.fftfreq(n, d=1.0 / n)
    if n % 2 == 0:
        m[n // 2] = 0.0
    ds = []
    for ax in range(2):
        k = 2j * np.pi * (m[:, None] if ax == 0 else m[None, :])
        k = k.reshape(k.shape + (1,) * (len(shape) - 1))
        ds.append(np.real(np.fft.ifftn(k * np.fft.fftn(G, axes=(0, 1)), axes=(0, 1))))
    ds = np.stack(ds)                                           # d/ds_j
    jac = model.lattice.T / (2 * np.pi)                          # ds_j/dk_i = A_ji/(2 pi)  -> [i, j]
    out = np.einsum("ij,j...->i...", jac, ds)
    return out.reshape((2,) + shape)


def kinetic_conductivities(model, *, mu: float, T: float, n: int = 96, field: float = 1e-3,
                           convention: str = "liouville", equilibrium: str = "bare", order: int = 1):
    """Conductivities from the first-order phase-space current, separated by order in E and power of τ.

    Parameters
    ----------
    model : 2D lattice Model
    mu : eV;  T : K
    n : points per reciprocal direction (Monkhorst-Pack, shift 0.5)
    field : amplitude (V/Å) used to read off the E-linear part of the phase-space velocity (exact:
        the velocity is affine in E, checked through ``checks``).
    convention : passed to :func:`phase_space_current` ('talk' flips the anomalous velocity).
    equilibrium : 'bare' (relax to f0(eps), the default and the responses' choice) or 'h2'
        (relax to f0(eps + h_2) with the O(ħ²) band energy h_2 of :func:`phase_space_geometry`,
        linearized: f0 + f0' h_2); 'h2' adds to ``sigma2[0]`` the τ⁰ O(E²) current of that shift.
    order : 1 or 2
        ħ order of the phase-space current. Order 2 adds to ``sigma2[0]`` the τ⁰ O(E²) current of
        f0 flowing with the O(ħ²) velocity (∂_k h_2 and the anomalous velocity of Ω^(1)).

    Returns
    -------
    dict with
      ``sigma1``: {tau_power: (2, 2)} with sigma1[p] * tau**p in S (tau in s);
      ``sigma2``: {tau_power: (2, 2, 2)} with sigma2[p] * tau**p in A m/V^2, symmetric in (b, c);
      ``checks``: max |div u|, max |u^k + E|, max |h_1|, max |u(E) + u(-E) - 2u(0)|.
    """
    if order not in (1, 2):
        raise ValueError("order must be 1 or 2.")
    k, w = _grid(model, n)
    u0, div0, h0 = phase_space_velocity(model, k, (0.0, 0.0), convention=convention)
    eps = h0[0]                                                   # bare band energy at x = 0 (V(0) = 0)
    kT = kB_eV * T
    feq = 0.5 * (1.0 - np.tanh((eps - mu) / (2 * kT)))
    ux0 = u0[..., :2]                                             # (B, N, 2): band velocity
    checks = {"div": float(np.max(np.abs(div0))), "h1": float(np.max(np.abs(h0[1]))), "uk_plus_E": 0.0,
              "even_E2": 0.0}
    ux1 = np.zeros(ux0.shape + (2,))                              # [.., a, b]: d u^{x_a} / d E_b
    uk1 = np.zeros(ux0.shape + (2,))                              # [.., i, b]: d u^{k_i} / d E_b
    for b in range(2):
        Eb = np.zeros(2)
        Eb[b] = field
        up, dp, hp = phase_space_velocity(model, k, Eb, convention=convention)
        um, dm, hm = phase_space_velocity(model, k, -Eb, convention=convention)
        odd = (up - um) / (2 * field)
        ux1[..., b], uk1[..., b] = odd[..., :2], odd[..., 2:]
        checks["div"] = max(checks["div"], float(np.max(np.abs(dp))), float(np.max(np.abs(dm))))
        checks["h1"] = max(checks["h1"], float(np.max(np.abs(hp[1]))), float(np.max(np.abs(hm[1]))))
        checks["uk_plus_E"] = max(checks["uk_plus_E"], float(np.max(np.abs(up[..., 2:] + Eb))))
        checks["even_E2"] = max(checks["even_E2"], float(np.max(np.abs(up + um - 2 * u0))))

    # order by order, per unit field component and unit tau (model units, tau in hbar/eV)
    def step(fm):
        """-(u^k . d_k) f for each field component: f (B, N, ...) -> (B, N, ..., 2) [last: b]."""
        dk = _dk(model, fm, n)                                    # (2, B, N, ...)
        ukb = uk1.reshape(uk1.shape[:2] + (1,) * (fm.ndim - 2) + (2, 2))     # [B, N, .., i, b]
        return -np.einsum("i...,...ib->...b", dk, ukb)

    f1 = step(feq)                                                # (B, N, b)   coefficient of tau E_b
    f2 = step(f1)                                                 # (B, N, b, c) coefficient of tau^2 E_b E_c
    f2 = 0.5 * (f2 + np.swapaxes(f2, -1, -2))
    pref = -E_CHARGE / hbar_eVs                                   # j = pref * I (model -> SI, see module)
    tau_si = 1.0 / hbar_eVs                                       # tau_model = tau_s * tau_si
    I1 = {1: w * np.einsum("kna,knb->ab", ux0, f1), 0: w * np.einsum("knab,kn->ab", ux1, feq)}
    I2 = {2: w * np.einsum("kna,knbc->abc", ux0, f2), 1: w * np.einsum("knab,knc->abc", ux1, f1)}
    I2[1] = 0.5 * (I2[1] + np.swapaxes(I2[1], -1, -2))
    sigma1 = {p: pref * I * tau_si**p for p, I in I1.items()}
    sigma2 = {p: pref * I * tau_si**p * 1e-10 for p, I in I2.items()}
    if equilibrium == "h2":
        # h_2 is exactly quadratic in E for a linear V: read G_bc from unit fields along x, y, x + y
        coords = PhaseSpace(2)
        x1, x2 = coords.x
        pts = np.concatenate([np.zeros((len(k), 2)), k], 1)

        def h2(E):
            pm = PhaseSpaceModel(model, float(E[0]) * x1 + float(E[1]) * x2)
            return phase_space_geometry(pm, pts, order=2, degree=3).h[2]

        hx, hy, hxy = h2((1.0, 0.0)), h2((0.0, 1.0)), h2((1.0, 1.0))
        H2 = np.empty(hx.shape + (2, 2))                          # h_2 = sum_bc H2[.., b, c] E_b E_c
        H2[..., 0, 0], H2[..., 1, 1] = hx, hy
        H2[..., 0, 1] = H2[..., 1, 0] = 0.5 * (hxy - hx - hy)
        fp = -feq * (1.0 - feq) / kT                              # f0'(eps)
        I20 = w * np.einsum("kna,kn,knbc->abc", ux0, fp, H2)
        sigma2[0] = pref * I20 * 1e-10
    elif equilibrium != "bare":
        raise ValueError("equilibrium must be 'bare' or 'h2'.")
    if order == 2:
        # the O(E^2) part of the O(hbar^2) velocity: u(E) = u(0) + u1 E + E.U2.E (u1 from the order-1
        # current: the O(hbar^2) terms add nothing linear in E); U2 from fields along x, y and x + y
        def u_even(E):
            up = phase_space_velocity(model, k, E, convention=convention, order=2)[0][..., :2]
            um = phase_space_velocity(model, k, tuple(-e for e in E), convention=convention, order=2)[0][..., :2]
            return 0.5 * (up + um) - ux0
        ex, ey, exy = u_even((1.0, 0.0)), u_even((0.0, 1.0)), u_even((1.0, 1.0))
        U2 = np.empty(ex.shape + (2, 2))                         # [B, N, a, b, c]
        U2[..., 0, 0], U2[..., 1, 1] = ex, ey
        U2[..., 0, 1] = U2[..., 1, 0] = 0.5 * (exy - ex - ey)
        I20 = w * np.einsum("kn,knabc->abc", feq, U2)
        sigma2[0] = sigma2.get(0, 0.0) + pref * I20 * 1e-10
    return {"sigma1": sigma1, "sigma2": sigma2, "checks": checks}
