"""Time-domain reference: the density-matrix equation of motion integrated in time, in the velocity gauge.

An independent route to the dc conductivities of :mod:`.density_matrix`. That module works in the
length gauge and in the frequency domain: the field enters as the covariant k-derivative
:math:`eE\\cdot D_k\\rho` (spectral derivatives on the k grid), the equation is solved order by order
in E, and the tau coefficients are read off by analytic continuation in :math:`\\Gamma = \\hbar/\\tau`.
Here nothing of that is used. A uniform dc field is switched on smoothly at :math:`t \\approx t_c`,
in the **velocity gauge**: every k point of the grid evolves on its own, with the Hamiltonian at the
kinetic crystal momentum

.. math::
    \\kappa(t) = k - \\frac{e}{\\hbar}\\int_{-\\infty}^t E(t')\\,dt' \\qquad (\\hbar\\dot\\kappa = -eE,\\ \\text{charge } -e),

    \\partial_t\\rho_k = -\\frac{i}{\\hbar}[H(\\kappa(t)), \\rho_k] - R[\\rho_k],\\qquad
    j(t) = -e\\int_k \\mathrm{Tr}\\big[v(\\kappa(t))\\,\\rho_k(t)\\big],\\quad v = \\partial_\\kappa H/\\hbar,

with :math:`H(k)` in the ``"positions"`` Fourier convention (there the Peierls substitution
:math:`k \\to \\kappa` is exact for a uniform field and :math:`\\partial_kH` is the current operator),
integrated by classical fourth-order Runge-Kutta (RK4) from the equilibrium :math:`f(H(k))`. No
k-derivative of :math:`\\rho` is ever taken. The relaxation models are those of
:mod:`.density_matrix`, written at the instantaneous :math:`\\kappa` (gauge-equivalent to the
length-gauge forms):

``"full"``
    :math:`R = (\\rho - f(H(\\kappa)))/\\tau`.
``"populations"``
    :math:`R = \\sum_g P_g(\\rho - f(H(\\kappa)))P_g/\\tau`, :math:`P_g` the projector on a
    degenerate group of :math:`H(\\kappa)` (eigenvalues closer than ``degeneracy_tol``); coherences
    between groups evolve freely (no regulator).
``(alpha, "bare")`` and ``(alpha, "dressed")`` (matrix path only)
    Populations (group blocks) relax at :math:`1/\\tau` and coherences between groups at
    :math:`\\alpha/\\tau`, towards :math:`f(H(\\kappa))` (``"bare"``) or towards the field-dressed
    equilibrium :math:`f(H(\\kappa) + eE(t)\\cdot r_{\\rm inter}(\\kappa))` (``"dressed"``; ``"dressed"`` alone
    means ``(1, "dressed")``), with :math:`r_{\\rm inter}` the interband position matrix of :math:`H(\\kappa)`,
    :math:`-i\\langle m|\\partial H|n\\rangle/(\\varepsilon_m - \\varepsilon_n)` between groups, and the
    target diagonalized exactly at every step (no expansion in E: the Richardson step removes the E^4 part).

Models with a position matrix (Wannier90). In the Bloch basis of the ``"positions"`` convention the position
operator is :math:`r = i\\partial_k + A^W(k)`
(:meth:`~qkinetics.models.tight_binding.TightBinding.wannier_connection`; zero for orbitals at their diagonal
positions). Following the length-gauge equation :math:`i\\hbar\\partial_t\\rho = [H + eE\\cdot r, \\rho]` along
the characteristics :math:`\\hbar\\dot\\kappa = -eE` (:math:`\\frac{d}{dt}\\rho(\\kappa(t), t) = \\partial_t\\rho -
(eE/\\hbar)\\cdot\\partial_k\\rho` cancels the :math:`i\\partial_k` part of r exactly) leaves, for each k point,

.. math::
    \\partial_t\\rho_k = -\\frac{i}{\\hbar}[H(\\kappa) + eE(t)\\cdot A^W(\\kappa),\\ \\rho_k] - R[\\rho_k],\\qquad
    \\hbar v_a = \\partial_a H + i[H, A^W_a] + eE_b(t)F^W_{ab}\\quad\\text{at }\\kappa,

for any field history and any Wannier space (complete or not; no Wilson line is needed). The last term of the
velocity, :math:`(i/\\hbar)[eE\\cdot r, r_a]` with :math:`F^W_{ab} = i[r_b, r_a]` the curvature of the Wannier-gauge
states, vanishes for a complete basis and carries the curvature of the bands outside an incomplete one. The relaxation
targets are those of H(kappa) as above (the dressed one with the interband position
:math:`-i\\tilde V_{mn}/(\\varepsilon_m - \\varepsilon_n)` of the physical velocity). Such models run on the
matrix path. This shares nothing with :mod:`.density_matrix`'s covariant spectral derivative.

What is shared with the frequency-domain solver: the model's :math:`H(k)`, the physical constants
and the definition of the relaxation models. Not shared: the gauge, the k derivatives, the
order-by-order expansion, the Fermi function (written out here), the grouping of degenerate bands,
and the extraction of tau coefficients.

Numerics
--------
* **Field switch-on**: :math:`E(t) = E_0\\,[1 + \\mathrm{erf}((t - t_c)/w)]/2` with
  :math:`t_c = 5w`; its spectrum falls off as :math:`e^{-(\\Delta w/2\\hbar)^2}`, so the
  non-adiabatic excitation of interband coherences (which never decay under ``"populations"``) is
  :math:`\\sim e^{-(\\Delta_{\\min} w/2\\hbar)^2}`. Default :math:`w = 10\\hbar/\\Delta_{\\min}`
  (:math:`e^{-25}`), :math:`\\Delta_{\\min}` the smallest direct gap between groups on the grid.
* **Settling**: the run ends at :math:`t_c + 4w + ` ``settle`` :math:`\\times\\,\\tau_{\\max}`
  (default 20; transients decay as :math:`e^{-t/\\tau}`); the current is read at the last step.
* **Drift**: under a dc field :math:`\\kappa - k` grows linearly in time (to ``drift``, about
  :math:`eE_0t_{\\rm end}/\\hbar`, much more than the :math:`eE_0\\tau/\\hbar` that the response is made
  of). Read on the grid :math:`k + s`, the steady state's grid sum carries the aliasing error of the
  grid at shift :math:`s \\propto E_0`, whose even part is a spurious :math:`E^2` current amplified by
  :math:`(t_{\\rm end}/\\tau)^2` (it was 300 times the signal on a 32 x 32 grid). The canonical grid is
  therefore the Monkhorst-Pack grid shifted by minus the drift at :math:`t_{\\rm end}`: at the end
  :math:`\\kappa` is the Monkhorst-Pack grid itself, and the result is that grid's sum of the exact steady
  state (the start, in equilibrium on the shifted grid, is forgotten).
* **Order E^2**: fields :math:`\\pm E_0, \\pm 2E_0` along a unit vector :math:`\\hat e` (default
  :math:`E_0` from :meth:`TimeDomainSolver.default_field`: :math:`eE_0\\tau_{\\max}/\\hbar = 0.02\\,k_BT/v_F`);
  with
  :math:`S(E) = [j(E) + j(-E)]/2 - j(0) = \\sigma_{abc}\\hat e_b\\hat e_c E^2 + O(E^4)`, the
  Richardson combination :math:`[4S(E_0) - S(2E_0)/4]/(3E_0^2)` removes the :math:`E^4` term; the
  linear conductivity along :math:`\\hat e` comes from the odd part the same way.
  :math:`j(0)` is the equilibrium current on the grid (zero up to round-off).
* **Time step**: RK4 keeps the fixed point of a linear system with constant forcing exactly, so the
  fast interband precession only has to stay stable, :math:`\\Delta_{\\max}\\,dt/\\hbar \\lesssim 2.8`
  (:math:`\\Delta_{\\max}` the largest direct gap on the grid); the error comes from the slower time
  dependence, chiefly the relaxation at rate :math:`1/\\tau`: measured :math:`\\approx 0.1\\,(dt/\\tau)^4`
  relative. Default :math:`dt = \\min(\\hbar/\\Delta_{\\max}, \\tau_{\\min}/15)`. Measure convergence by
  halving ``dt``.
* **Two-band models** are integrated as Bloch equations for :math:`\\rho = a_0 + \\mathbf a\\cdot\\sigma`,
  :math:`H = d_0 + \\mathbf d\\cdot\\sigma`: :math:`\\dot{\\mathbf a} = (2/\\hbar)\\,\\mathbf d\\times\\mathbf a - R`,
  with :math:`f(H) = (f_+ + f_-)/2 + (f_+ - f_-)\\,\\hat d\\cdot\\sigma/2` and, for ``"populations"``,
  :math:`R = [x_0 + (\\mathbf x\\cdot\\hat d)\\,\\hat d\\cdot\\sigma]/\\tau` (no diagonalization). Other models
  use matrices and ``eigh``; ``method="matrix"`` forces that path for two bands too (tests compare them).
* SI: :math:`\\sigma^{(2)} = -e\\,I/(\\hbar E_0^2)\\,(10^{-10})^{3-d}` (A m^(3-d)/V^2) with
  :math:`I = \\sum_k w_k\\mathrm{Tr}[\\partial H\\rho]` in eV Angstrom^(1-d) and :math:`E_0` in V/Angstrom.

tau coefficients (:func:`time_domain_tau_coefficients`)
------------------------------------------------------
At :math:`\\omega = 0` the ``"populations"`` conductivity is exactly :math:`c_2\\tau^2 + c_1\\tau + c_0`
(no regulator): a weighted least-squares fit of the three powers to the time-domain
:math:`\\sigma(\\tau)` at any :math:`\\tau` (short ones make :math:`c_0` a large part of
:math:`\\sigma`) gives all three. ``"full"`` has the same :math:`c_2, c_1` and a tail
:math:`\\sum_{p\\ge1}c_{-p}\\tau^{-p}` that converges for :math:`\\hbar/\\tau < \\Delta_{\\min}`; the
difference :math:`D(\\Gamma) = \\sigma_{\\rm full} - \\sigma_{\\rm pop}` has no :math:`\\tau^2` term and is fitted
as a polynomial in :math:`\\Gamma = \\hbar/\\tau` (it is analytic for :math:`|\\Gamma| < \\Delta_{\\min}`; the
:math:`\\tau^2` term of :math:`\\sigma` that hides :math:`c_0` at large :math:`\\tau` cancels in D);
:math:`c_0^{\\rm full} = c_0^{\\rm pop} + D(0)`. The fitted
:math:`\\tau^2, \\tau^1` coefficients of D are returned as a check (they vanish). Error estimates: the
change of :math:`D(0)` when the polynomial degree is lowered by one; the residual of the exact
``"populations"`` polynomial.
"""

from __future__ import annotations

from math import erf, pi, sqrt

import numpy as np

from ..models.base import ModelError
from ._grid import wannier_curvature_matrix
from ..units import angstrom, e, hbar_eVs, kB_eV

__all__ = ["TimeDomainSolver", "time_domain_tau_coefficients"]

RELAXATIONS = ("full", "populations")
_NAMED = {"full": (1.0, "bare"), "populations": (0.0, "bare"), "dressed": (1.0, "dressed")}


def _relaxation(r):
    """(alpha, target) of a relaxation model: a name of ``_NAMED`` or a pair (alpha >= 0, "bare" / "dressed")."""
    if isinstance(r, str) and r in _NAMED:
        return _NAMED[r]
    try:
        alpha, target = r
        alpha = float(alpha)
    except (TypeError, ValueError):
        alpha, target = None, None
    if alpha is None or not alpha >= 0 or target not in ("bare", "dressed"):
        raise ModelError(f"unknown relaxation model {r!r}; choose from {tuple(_NAMED)} or a pair "
                         "(alpha >= 0, 'bare' | 'dressed').")
    return alpha, target
_HBAR_FS = hbar_eVs * 1e15                                                     # eV fs


def _fermi(E, mu, kT):
    return 0.5 * (1.0 - np.tanh(0.5 * (E - mu) / kT))


def _directions(d):
    """d(d+1)/2 unit vectors: e_i and (e_i + e_j)/sqrt 2, and the map from sigma_a(e) to sym sigma_abc."""
    dirs, pairs = [], []
    for i in range(d):
        v = np.zeros(d)
        v[i] = 1.0
        dirs.append(v)
        pairs.append((i, i))
    for i in range(d):
        for j in range(i + 1, d):
            v = np.zeros(d)
            v[i] = v[j] = 1.0 / sqrt(2.0)
            dirs.append(v)
            pairs.append((i, j))
    return np.array(dirs), pairs


def _tensor_from_directions(vals, d):
    """vals (ndir, ..., d) = sigma_a(e) for the directions of _directions -> symmetric sigma[a, b, c] (..., d, d, d)."""
    dirs, pairs = _directions(d)
    out = np.zeros(vals.shape[1:-1] + (d, d, d))
    for n, (i, j) in enumerate(pairs):
        if i == j:
            out[..., :, i, i] = vals[n]
    for n, (i, j) in enumerate(pairs):
        if i != j:
            # sigma_a(e) = (sigma_aii + 2 sigma_aij + sigma_ajj) / 2
            off = vals[n] - 0.5 * (out[..., :, i, i] + out[..., :, j, j])
            out[..., :, i, j] = out[..., :, j, i] = off
    return out


def _remember_last(fn):
    """fn(t), recomputed only when t changes: RK4 evaluates the midpoint t + h/2 twice (k2 and k3), and the
    first stage at t = 0 follows the initial state at t = 0. Callers must not modify the returned arrays."""
    last = []

    def wrapped(t):
        if not last or last[0] != t:
            last[:] = [t, fn(t)]
        return last[1]
    return wrapped


class TimeDomainSolver:
    """Velocity-gauge RK4 integration of the density-matrix equation of motion on one k grid.

    Parameters
    ----------
    model : TightBinding
        Converted to the ``"positions"`` convention.
    mu : float, eV
    T : float, K (> 0)
    kgrid : int or sequence of int
        Monkhorst-Pack points per reciprocal direction.
    shift : float
        Monkhorst-Pack shift (grid steps).
    degeneracy_tol : float, eV
        Eigenvalues of H(kappa) closer than this form one group (``"populations"``).
    method : {"auto", "bloch", "matrix"}
        ``"auto"``: Bloch equations for two bands, matrices otherwise.
    """

    def __init__(self, model, mu=0.0, T=300.0, kgrid=32, shift=0.5, degeneracy_tol=1e-6, method="auto"):
        if not getattr(model, "periodic", False) or not hasattr(model, "with_convention"):
            raise ModelError(f"{getattr(model, 'name', model)!r}: the time-domain solver needs a lattice "
                             "(TightBinding) model.")
        if not T > 0:
            raise ModelError(f"T must be > 0 K; got {T}.")
        m = model.with_convention("positions") if model.convention != "positions" else model
        self.model, self.dim, self.norb = m, m.dim, m.norb
        d = m.dim
        n = tuple(int(x) for x in np.broadcast_to(np.asarray(kgrid, int), (d,)))
        idx = np.stack(np.meshgrid(*[np.arange(x) for x in n], indexing="ij"), axis=-1).reshape(-1, d)
        self.n = n
        self.k = ((idx + shift) / np.array(n)) @ m.reciprocal                   # (B, d), 1/Angstrom
        self.weight = abs(np.linalg.det(m.reciprocal)) / len(self.k) / (2 * np.pi) ** d
        self.mu, self.T, self.kT = float(mu), float(T), kB_eV * float(T)
        self.tol = float(degeneracy_tol)
        #: position matrix (Wannier90): the dynamics adds eE(t).A^W(kappa) and the current is dH + i[H, A^W]
        self.position_block = getattr(m, "position_matrix", None) is not None
        if method == "auto":
            method = "bloch" if m.norb == 2 and not self.position_block else "matrix"
        if method not in ("bloch", "matrix") or (method == "bloch" and m.norb != 2):
            raise ModelError(f"method must be 'auto', 'matrix' or (two bands) 'bloch'; got {method!r}.")
        if method == "bloch" and self.position_block:
            raise ModelError(f"{m.name} carries a position matrix, whose term eE(t).A^W(kappa) the Bloch equations "
                             "do not hold: use method='matrix' (or 'auto').")
        self.method = method
        # H(k + delta) = sum_R P_R(k) e^{i delta . d_R} with d_R,ij = R + tau_j - tau_i ("positions"
        # convention): the hopping sum is set up once, a uniform shift costs one contraction
        Rc = np.array(list(m.hoppings), float).reshape(-1, d) @ np.asarray(m.lattice, float)
        tau = np.asarray(m.positions, float) @ np.asarray(m.lattice, float)
        self._disp = Rc[:, None, None, :] + tau[None, None, :, :] - tau[None, :, None, :]   # (nR, N, N, d)
        t_R = np.array([m.hoppings[R] for R in m.hoppings])                     # (nR, N, N)
        self._P = t_R[None] * np.exp(1j * np.einsum("bd,rijd->brij", self.k, self._disp))
        H0 = m.hamiltonian(self.k, 0)[0]
        if not np.allclose(self._P.sum(1), H0, rtol=0, atol=1e-12 * max(1.0, np.abs(H0).max())):
            raise ModelError("the hopping sum of the time-domain solver does not reproduce model.hamiltonian(k); "
                             "the model's hoppings are not in the 'positions' form sum_R t_R e^{ik.(R+tau_j-tau_i)}.")
        E, U = np.linalg.eigh(H0)
        dH = m.hamiltonian(self.k, 1)[1]
        vel = np.abs(np.einsum("kin,kaij,kjn->kna", U.conj(), dH, U).real)           # |d eps_n / dk_a|, eV A
        fs = np.abs(E - self.mu) < 6 * self.kT
        self.v_fermi = float(vel[fs].max()) if np.any(fs) else float(vel.max())  # eV Angstrom
        gaps = np.diff(E, axis=-1)
        big = gaps[gaps > self.tol]
        self.min_gap = float(big.min()) if big.size else np.inf                 # smallest direct gap, eV
        self.max_gap = float((E[:, -1] - E[:, 0]).max())                        # largest direct gap, eV

    # ------------------------------------------------------------------ one run

    def run(self, taus, fields, relaxations=RELAXATIONS, *, dt=None, ramp=None, settle=20.0):
        """Integrate from equilibrium with each field switched on; return the final currents.

        Parameters
        ----------
        taus : sequence of float, s
        fields : (F, d) array, V/Angstrom
        relaxations : sequence of "full" / "populations" / "dressed" / (alpha, "bare" | "dressed")
        dt, ramp : float, s (defaults: min(hbar / max gap, min(taus) / 15); 10 hbar / min gap)
        settle : float
            Run until t_c + 4 ramp + settle x max(taus).

        Returns
        -------
        dict with ``I`` (R, tau, F, d): sum_k w Tr[dH rho] at the final time (eV Angstrom^(1-d));
        ``I0`` (d,): the same in equilibrium; ``t_end``, ``dt``, ``ramp`` (s), ``nsteps``,
        ``drift`` (largest |kappa - k| at the end, 1/Angstrom).
        """
        taus = np.asarray(taus, float) * 1e15                                   # fs
        fields = np.atleast_2d(np.asarray(fields, float))
        rels = list(relaxations)
        spec = [_relaxation(r) for r in rels]
        if self.method == "bloch" and any(sp not in (_NAMED["full"], _NAMED["populations"]) for sp in spec):
            raise ModelError("relaxation with 0 < alpha != 1 or to the dressed equilibrium needs method='matrix'.")
        if fields.shape[1] != self.dim:
            raise ModelError(f"fields must have shape (F, {self.dim}); got {fields.shape}.")
        gap = self.min_gap if np.isfinite(self.min_gap) else self.max_gap
        w = (10 * _HBAR_FS / gap) if ramp is None else float(ramp) * 1e15
        h0 = min(_HBAR_FS / self.max_gap, taus.min() / 15) if dt is None else float(dt) * 1e15
        tc = 5 * w
        t_end = tc + 4 * w + settle * taus.max()
        nsteps = int(np.ceil(t_end / h0))
        h = t_end / nsteps
        B, d, N = len(self.k), self.dim, self.norb
        F = len(fields)
        rate = np.zeros((len(rels), len(taus), 1, 1))                           # (R, tau, F, B)
        rate[...] = (1.0 / taus)[None, :, None, None]
        pop = np.array([sp == _NAMED["populations"] for sp in spec])
        alphas = np.array([sp[0] for sp in spec])
        dressed = np.array([sp[1] == "dressed" for sp in spec])

        def S(t):                                                               # int_{-inf}^t of the ramp, fs
            x = (t - tc) / w
            return 0.5 * ((t - tc) * (1.0 + erf(x)) + w * np.exp(-x * x) / sqrt(pi))

        S_end = S(t_end)

        def field_at(t):                                                        # (F, d) V/Angstrom
            return fields * (0.5 * (1.0 + erf((t - tc) / w)))

        def hk(t, order=0):
            # canonical grid = MP grid shifted by minus the drift at t_end: kappa(t_end) is the MP grid itself
            delta = -fields * ((S(t) - S_end) / _HBAR_FS)                        # (F, d): kappa - k_MP
            if order == 0:
                ph = np.exp(1j * np.einsum("fd,rijd->frij", delta, self._disp))
                return (np.einsum("brij,frij->fbij", self._P, ph).reshape(F * B, N, N),)
            kap = self.k[None] + delta[:, None, :]
            return self.model.hamiltonian(kap.reshape(-1, d), order)

        def connection(t, order=0):                                             # (A^W, ...)(kappa(t)), (F B, d, N, N)
            delta = -fields * ((S(t) - S_end) / _HBAR_FS)
            kap = self.k[None] + delta[:, None, :]
            return self.model.wannier_connection(kap.reshape(-1, d), order)

        conn = connection if self.position_block else None
        if self.method == "bloch":
            init, rhs, current = self._bloch(hk, rate, pop, (F, B))
        else:
            init, rhs, current = self._matrix(hk, rate, pop, (F, B), alphas, dressed, field_at, conn)
        rho = init(len(rels), len(taus))                                        # equilibrium at t = 0
        for i in range(nsteps):
            t = i * h
            k1 = rhs(t, rho)
            k2 = rhs(t + h / 2, rho + (h / 2) * k1)
            k3 = rhs(t + h / 2, rho + (h / 2) * k2)
            k4 = rhs(t + h, rho + h * k3)
            rho = rho + (h / 6) * (k1 + 2 * k2 + 2 * k3 + k4)
        I = current(t_end, rho)
        # equilibrium current with the same code, no field (zero up to round-off)
        eq_hk = (lambda tt, order=0: (self._P.sum(1),) if order == 0 else self.model.hamiltonian(self.k, order))
        if self.method == "bloch":
            eq_init, _, eq_current = self._bloch(eq_hk, rate[:1, :1], pop[:1], (1, B))
        else:
            eq_conn = (lambda tt, order=0: self.model.wannier_connection(self.k, order)) if self.position_block else None
            eq_init, _, eq_current = self._matrix(eq_hk, rate[:1, :1], pop[:1], (1, B), conn=eq_conn)
        I0 = eq_current(0.0, eq_init(1, 1))[0, 0, 0]
        drift = float(np.abs(fields).max() * S_end / _HBAR_FS)
        return {"I": I, "I0": I0, "t_end": t_end * 1e-15, "dt": h * 1e-15, "ramp": w * 1e-15, "nsteps": nsteps,
                "drift": drift}

    def _bloch(self, hk, rate, pop, FB):
        """Bloch equations for two bands; state (4, R, tau, F, B) = (a0, ax, ay, az), rho = a0 + a.sigma."""
        F, B = FB
        w, mu, kT, tol = self.weight, self.mu, self.kT, self.tol
        ipop = np.flatnonzero(pop)
        c = 2.0 / _HBAR_FS

        def pauli(H):                                                           # (..., 2, 2) -> d0, (3, ...)
            d0 = 0.5 * (H[..., 0, 0] + H[..., 1, 1]).real
            return d0, np.stack([H[..., 0, 1].real, -H[..., 0, 1].imag, 0.5 * (H[..., 0, 0] - H[..., 1, 1]).real])

        @_remember_last
        def equilibrium(t):
            d0, dv = pauli(hk(t)[0].reshape(F, B, 2, 2))
            dn = np.sqrt((dv * dv).sum(0))
            fp, fm = _fermi(d0 + dn, mu, kT), _fermi(d0 - dn, mu, kT)
            with np.errstate(invalid="ignore", divide="ignore"):
                dhat = np.where(dn > 0, dv / dn, 0.0)
            return dv, dhat, 0.5 * (fp + fm), 0.5 * (fp - fm) * dhat, 2 * dn < tol

        def init(nR, nT):
            _, _, e0, ev, _ = equilibrium(0.0)
            a = np.empty((4, nR, nT, F, B))
            a[0] = e0
            a[1:] = ev[:, None, None]
            return a

        def rhs(t, a):
            dv, dhat, e0, ev, degenerate = equilibrium(t)
            out = np.empty_like(a)
            out[0] = -rate * (a[0] - e0)
            xv = a[1:] - ev[:, None, None]
            out[1:] = -rate * xv
            if ipop.size:
                # populations: only the component along d-hat (and a0) relaxes; one group where |d| ~ 0
                xp = xv[:, ipop]
                par = (xp * dhat[:, None, None]).sum(0)
                rp = np.where(degenerate, xp, par * dhat[:, None, None])
                out[1:, ipop] = -rate[ipop] * rp
            dx, dy, dz = dv
            out[1] += c * (dy * a[3] - dz * a[2])
            out[2] += c * (dz * a[1] - dx * a[3])
            out[3] += c * (dx * a[2] - dy * a[1])
            return out

        def current(t, a):
            _, dH = hk(t, 1)
            dd0, ddv = pauli(dH.reshape(F, B, self.dim, 2, 2))                   # (F, B, d), (3, F, B, d)
            # Tr[dH rho] = 2 (d0' a0 + d' . a)
            val = 2 * (np.einsum("fba,rtfb->rtfa", dd0, a[0]) + np.einsum("ifba,irtfb->rtfa", ddv, a[1:]))
            return w * val                                                      # (R, tau, F, d)

        return init, rhs, current

    def _matrix(self, hk, rate, pop, FB, alphas=None, dressed=None, field_at=None, conn=None):
        """Matrix equations (any number of bands); state (R, tau, F, B, N, N).

        ``conn(t, order)``: the Wannier-gauge connection (A^W, dA^W, ...)(kappa(t)), (F B, d, N, N), ..., of a model
        with a position matrix (None: tight-binding form). It adds eE(t).A^W to the Hamiltonian of the dynamics (not
        to the one whose equilibrium is the relaxation target) and i[H, A^W] + eE_b F^W_ab to the current operator.
        """
        F, B = FB
        F_ = F
        N, w, mu, kT, tol = self.norb, self.weight, self.mu, self.kT, self.tol
        alphas = np.where(pop, 0.0, 1.0) if alphas is None else np.asarray(alphas, float)
        dressed = np.zeros(len(pop), bool) if dressed is None else np.asarray(dressed, bool)
        am = alphas[:, None, None, None, None, None]
        dm = dressed[:, None, None, None, None, None]

        @_remember_last
        def equilibrium(t):
            H = hk(t)[0].reshape(F, B, N, N)
            Ev, U = np.linalg.eigh(H)
            Ud = np.conj(np.swapaxes(U, -1, -2))
            return H, Ev, U, Ud, (U * _fermi(Ev, mu, kT)[..., None, :]) @ Ud

        def init(nR, nT):
            eq = equilibrium(0.0)[-1]
            return np.broadcast_to(eq, (nR, nT) + eq.shape).copy()

        @_remember_last
        def groups(t):
            Ev = equilibrium(t)[1]
            lab = np.concatenate([np.zeros((F, B, 1), int), np.cumsum(np.diff(Ev, axis=-1) > tol, axis=-1)], -1)
            return lab[..., :, None] == lab[..., None, :]

        def velocity(t):
            # current operator (times hbar) at kappa(t): dH, plus i[H, A^W] with a position matrix
            dH = hk(t, 1)[1].reshape(F, B, self.dim, N, N)
            if conn is None:
                return dH
            H, A = equilibrium(t)[0][:, :, None], conn(t)[0].reshape(F, B, self.dim, N, N)
            return dH + 1j * (H @ A - A @ H)

        @_remember_last
        def dressed_equilibrium(t):
            # f(H + eE.r_inter) at kappa(t), exactly: in the eigenbasis diag(E) + E.r, r = -i V/(e_m - e_n)
            H, Ev, U, Ud, _ = equilibrium(t)
            same = groups(t)
            dH = velocity(t)
            Vx = np.einsum("fbij,fd,fbdjk,fbkl->fbil", Ud, field_at(t), dH, U)   # (E.V)_mn, eV^2 A / ... eV
            gap = Ev[..., :, None] - Ev[..., None, :]
            Hd = np.where(same, 0.0, -1j * Vx / np.where(same, 1.0, gap)) + Ev[..., :, None] * np.eye(N)
            Ed, Ux = np.linalg.eigh(Hd)
            return U @ ((Ux * _fermi(Ed, mu, kT)[..., None, :]) @ np.conj(np.swapaxes(Ux, -1, -2))) @ Ud

        @_remember_last
        def dynamics(t):
            # H(kappa) + eE(t).A^W(kappa): the length-gauge coupling along the characteristic (module docstring)
            H = equilibrium(t)[0]
            if conn is None:
                return H
            return H + np.einsum("fd,fbdij->fbij", field_at(t), conn(t)[0].reshape(F, B, self.dim, N, N))

        def rhs(t, rho):
            H, Ev, U, Ud, eq = equilibrium(t)
            Hdyn = dynamics(t)
            if dressed.any():
                eq = np.where(dm, dressed_equilibrium(t), eq)
            x = rho - eq
            same = groups(t)
            xpop = U @ ((Ud @ x @ U) * same) @ Ud
            R = (xpop + am * (x - xpop)) * rate[..., None, None]
            return -1j / _HBAR_FS * (Hdyn @ rho - rho @ Hdyn) - R

        def current(t, rho):
            v = velocity(t)
            if conn is not None and field_at is not None:
                # field-dependent velocity (e/hbar) E_b F^W_ab of the projected position operator, [r_b, r_a] = -i F_ab
                A, dA = conn(t, 1)
                Fw = wannier_curvature_matrix(A, dA).reshape(F_, B, self.dim, self.dim, N, N)
                v = v + np.einsum("fc,fbacij->fbaij", field_at(t), Fw)
            return w * np.einsum("fbaij,rtfbji->rtfa", v, rho).real

        return init, rhs, current

    # ------------------------------------------------------------------ conductivities

    def default_field(self, tau_max, strength=0.02):
        """E_0 (V/m) with e E_0 tau_max / hbar = ``strength`` x k_B T / v_F: the largest k shift during a
        relaxation time, in units of the thermal width of the Fermi surface (v_F: largest band velocity
        within 6 k_B T of mu). Sets the O(E^4) remainder (~ strength^2 before, strength^4 after the
        Richardson step) against round-off (~ 1e-16 / strength^2)."""
        return strength * self.kT / self.v_fermi * hbar_eVs / float(tau_max) / angstrom

    def second_order(self, taus, directions=None, relaxations=RELAXATIONS, *, field=None, **kw):
        """dc sigma_a(e) = sum_bc sigma_abc e_b e_c (A m^(3-d)/V^2) along each unit vector e.

        ``field``: E_0 in V/m (default :meth:`default_field` for the largest tau); fields +-E0, +-2E0
        per direction.
        ``directions``: (ndir, d) unit vectors (default: the d(d+1)/2 that determine the symmetric tensor;
        then ``tensor`` (R, tau, d, d, d) is returned too). Returns a dict with ``sigma2`` (R, tau, ndir, d),
        ``sigma2_E0`` (the same without the Richardson step: its difference from ``sigma2`` measures the
        O(E^2) correction), ``sigma1`` (R, tau, ndir, d) the linear dc conductivity along e (S m^(2-d)),
        and the run information of :meth:`run`.
        """
        d = self.dim
        default = directions is None
        dirs = _directions(d)[0] if default else np.atleast_2d(np.asarray(directions, float))
        dirs = dirs / np.linalg.norm(dirs, axis=1, keepdims=True)
        if field is None:
            field = self.default_field(np.max(taus))
        E0 = float(field) * angstrom                                            # V/Angstrom
        fields = np.concatenate([s * E0 * dirs for s in (1.0, -1.0, 2.0, -2.0)])
        out = self.run(taus, fields, relaxations, **kw)
        nd = len(dirs)
        I = out["I"].reshape(out["I"].shape[:2] + (4, nd, d))
        S1 = 0.5 * (I[:, :, 0] + I[:, :, 1]) - out["I0"]
        S2 = 0.5 * (I[:, :, 2] + I[:, :, 3]) - out["I0"]
        A1 = 0.5 * (I[:, :, 0] - I[:, :, 1])
        A2 = 0.5 * (I[:, :, 2] - I[:, :, 3])
        conv2 = -e / hbar_eVs * angstrom ** (3 - d)
        conv1 = -e / hbar_eVs * angstrom ** (2 - d)
        s2a = conv2 * S1 / E0**2
        s2b = conv2 * S2 / (4 * E0**2)
        out["sigma2"] = (4 * s2a - s2b) / 3
        out["sigma2_E0"] = s2a
        out["sigma1"] = conv1 * (8 * A1 / E0 - A2 / E0) / 6      # (4 s(E0) - s(2E0)) / 3, s(E) = A(E)/E
        out["directions"] = dirs
        out["field"] = float(field)
        out["taus"] = np.asarray(taus, float)
        out["relaxations"] = tuple(relaxations)
        if default:
            out["tensor"] = _tensor_from_directions(np.moveaxis(out["sigma2"], 2, 0), d)
        return out


def _fit_populations(taus, sig):
    """Weighted least squares of c2 tau^2 + c1 tau + c0 (exact for "populations"); sig (tau, ...)."""
    flat = sig.reshape(len(taus), -1)
    wgt = 1.0 / np.max(np.abs(flat), axis=1)                                    # relative errors
    ts = taus / taus.max()
    A = np.stack([ts**2, ts, np.ones_like(ts)], axis=1) * wgt[:, None]
    sol, *_ = np.linalg.lstsq(A, flat * wgt[:, None], rcond=None)
    resid = np.max(np.abs(A @ sol - flat * wgt[:, None])) if len(taus) > 3 else 0.0
    c = [sol[0] / taus.max() ** 2, sol[1] / taus.max(), sol[2]]
    return [x.reshape(sig.shape[1:]) for x in c], float(resid)


def _fit_difference(taus, D, degree):
    """D(Gamma) = sum_p a_p Gamma^p (Gamma = hbar/tau in eV) -> a_0 and the change of a_0 with degree - 1;
    also the fitted tau^2 and tau^1 coefficients of D with the two extra powers (should vanish)."""
    G = hbar_eVs / taus
    flat = D.reshape(len(taus), -1)
    Gs = G / G.max()

    def fit(deg, extra=False):
        cols = [Gs**p for p in range(deg + 1)]
        if extra:
            cols = [Gs**-2, Gs**-1] + cols
        A = np.stack(cols, axis=1)
        return np.linalg.lstsq(A, flat, rcond=None)[0]

    a = fit(degree)
    b = fit(degree - 1)
    x = fit(degree, extra=len(taus) >= degree + 3)
    shape = D.shape[1:]
    c2 = (x[0] * (G.max() / hbar_eVs) ** 2).reshape(shape) if len(taus) >= degree + 3 else None
    c1 = (x[1] * (G.max() / hbar_eVs)).reshape(shape) if len(taus) >= degree + 3 else None
    return a[0].reshape(shape), np.abs(a[0] - b[0]).reshape(shape), c2, c1


def time_domain_tau_coefficients(model, mu=0.0, T=300.0, *, kgrid=32, taus=None, directions=None, degree=3,
                                 field=None, shift=0.5, method="auto", more_relaxations=(), **kw):
    """tau^2, tau^1, tau^0 coefficients of the dc second-order conductivity from time-domain runs.

    Both relaxation models are integrated at every tau of ``taus`` (s; default hbar/Gamma for
    Gamma / min gap = 0.2 ... 0.05, 6 values) in one run. ``"populations"``: weighted least squares
    of the exact polynomial c2 tau^2 + c1 tau + c0. ``"full"``: the same c2, c1 and
    c0 = c0(populations) + D(0), D(Gamma) = sigma_full - sigma_pop fitted by a polynomial of degree
    ``degree`` in Gamma = hbar/tau. ``field``: E_0 in V/m (fields +-E0, +-2E0; default
    :meth:`TimeDomainSolver.default_field`).

    Returns a dict: ``populations`` and ``full``, each with ``c2, c1, c0`` (SI per power of tau);
    ``full["err0"]`` (change of D(0) with degree - 1), ``full["c2_difference"]``, ``full["c1_difference"]``
    (tau^2 and tau^1 coefficients of D fitted with two extra powers: expected 0, None if too few taus);
    ``populations_residual`` (largest relative residual of the exact polynomial); ``sigma`` (R, tau, ndir, d),
    ``sigma_E0`` (without the Richardson step), ``sigma1`` (linear, S m^(2-d)); ``taus``, ``directions``,
    ``tensor`` (True when ``directions`` is None: the c's are symmetric (d, d, d) tensors; else (ndir, d)
    projections sigma_a(e) = sigma_abc e_b e_c); ``min_gap``, ``max_gap`` and the run information.
    ``more_relaxations``: further models ("dressed", (alpha, "bare" | "dressed"); need the matrix path),
    each integrated in the same run and returned under its own key with ``c0`` and ``err0`` obtained as
    for "full" (their tau^2 and tau^1 terms are those of "populations").
    """
    solver = TimeDomainSolver(model, mu, T, kgrid, shift, method=method)
    gap = solver.min_gap
    if taus is None:
        taus = hbar_eVs / (gap * np.linspace(0.2, 0.05, 6))
    taus = np.sort(np.asarray(taus, float))
    more = list(more_relaxations)
    res = solver.second_order(taus, directions, ["full", "populations"] + more, field=field, **kw)
    sig = res["sigma2"]                                                         # (2, tau, ndir, d)
    tensor = directions is None

    def conv(X):
        if X is None or not tensor:
            return X
        return _tensor_from_directions(np.moveaxis(X, -2, 0), solver.dim)

    (c2, c1, c0), resid = _fit_populations(taus, sig[1])
    d0, err, dc2, dc1 = _fit_difference(taus, sig[0] - sig[1], degree)
    out = {"populations": {"c2": conv(c2), "c1": conv(c1), "c0": conv(c0)},
           "full": {"c2": conv(c2), "c1": conv(c1), "c0": conv(c0 + d0), "err0": conv(err),
                    "c2_difference": conv(dc2), "c1_difference": conv(dc1)},
           "populations_residual": resid, "sigma": sig, "sigma_E0": res["sigma2_E0"], "sigma1": res["sigma1"],
           "taus": taus, "directions": res["directions"], "tensor": tensor, "min_gap": gap,
           "max_gap": solver.max_gap}
    for i, r in enumerate(more):
        dm0, errm, _, _ = _fit_difference(taus, sig[2 + i] - sig[1], degree)
        out[r if isinstance(r, str) else tuple(r)] = {"c0": conv(c0 + dm0), "err0": conv(errm)}
    out.update({k: res[k] for k in ("t_end", "dt", "ramp", "nsteps", "drift", "field")})
    return out
