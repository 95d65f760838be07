"""Relaxation models: the collision term -(f - f_loc)/τ, its targets f_loc, and the temperature T or T(x).

Collisions (``relaxation``):

- ``"local"`` (default): :math:`f^{loc}_n = f_{FD}(\\varepsilon_n(k) - \\tilde\\mu(x, t))` with the local
  (electro)chemical potential :math:`\\tilde\\mu(x)` solved (safeguarded Newton, per cell, each RK
  stage) so that :math:`\\sum_n\\int f^{loc}_n = \\sum_n\\int f_n` at every x: conserves the local
  total density (Mermin-type relaxation; bands relax into one common local μ, temperature fixed).
  Since :math:`\\varepsilon + V - \\mu = \\varepsilon - (\\mu - V)`, this is the equilibrium of the
  local Hamiltonian with μ − V absorbed into μ̃.
- ``"global"``: :math:`f^{loc}_n = f_{FD}(\\varepsilon_n(k) + V(x, t) - \\mu)` with fixed μ: relaxes to
  the instantaneous global equilibrium; does NOT conserve local or total number.
- ``"bare"``: :math:`f^{loc}_n = f_{FD}(\\varepsilon_n(k) - \\mu)`: relaxes to the unperturbed equilibrium
  (ignores V); does NOT conserve number. It is the kinetic counterpart of the Lindhard function
  with broadening :math:`\\eta = \\hbar/\\tau`. Linearizing with :math:`f = f_0 + g`,
  :math:`V = U e^{i(qx-\\omega t)} + c.c.`, :math:`\\dot k\\,\\partial_k f_0 = -\\partial_x V\\,v f_0'`:

  .. math::
      (-i\\omega + iqv + 1/\\tau)\\,g = iqv f_0' U\\ \\Rightarrow\\
      \\delta n = U\\sum_n\\int\\frac{dk}{2\\pi}\\,f_0'(\\varepsilon_n)\\,\\frac{qv_n}{qv_n - \\omega - i/\\tau},

  which is the intraband, O(q) (semiclassical) limit of :func:`qkinetics.kubo.lindhard.lindhard`
  (:math:`\\varepsilon_n(k) - \\varepsilon_n(k+q) \\to -\\hbar qv`, :math:`f_n(k) - f_n(k+q) \\to -\\hbar qv f_0'`,
  :math:`\\eta = \\hbar/\\tau`). ``"global"`` adds the source :math:`f_0' U/\\tau` (numerator
  :math:`qv - i/\\tau`: exact static limit, different dynamics) and ``"local"`` a self-consistent
  :math:`-f_0'\\,\\delta\\tilde\\mu/\\tau` (Mermin's number-conserving form); see docs/kinetics.md.
- τ = inf: collisionless.

``T`` may be a callable T(x) (K, on arrays of x): every relaxation target and the open-boundary leads use
the local k_B T(x) ("global": f_FD((ε + V - μ)/k_BT(x)); "local": the local-μ̃ solve at T(x); "bare":
f_FD((ε - μ)/k_BT(x))). A non-uniform T(x) makes the local equilibrium non-stationary (the thermal drive
g = τ v f' (ε + V - μ) T'/T to first order in τ), so ``well_balanced=True`` needs a uniform T. In a periodic
box (a ring of one material) the thermoelectric emf ∮S dT vanishes and no net current flows; with open
ends at two temperatures the particle current has the sign of -L_1 ∂_xT, L_1 = τ∫v²(-f_0')(ε - μ)/T (tests).

At order 1 with model(x) the targets use h = ε + h_1 and the local solve keeps ∫ρf (ρ = 1 - Ω_xk, :mod:`.texture`);
at order 2 the targets are the O(ħ²) equilibrium f(h)_⋆ of :mod:`.equilibrium` (:mod:`.order2`).
"""

import numpy as np
from scipy.special import expit

from .. import units
from ..models.base import ModelError

__all__ = ["Relaxation"]


class Relaxation:
    """The relaxation targets (``"local"``, ``"global"``, ``"bare"``), the local chemical potential solve and the
    Fermi function at the local temperature (a part of :class:`.KineticSolver`)."""

    def _init_temperature(self, T, tau, boundary):
        """T (K) uniform, or a profile T(x) evaluated at the cell centres; ``kT`` in eV and its grid broadcast."""
        T_profile = T if callable(T) else None
        if T_profile is not None:
            Tx = np.broadcast_to(np.asarray(T_profile(self.x.copy()), dtype=float), self.x.shape).copy()
            if not np.all(np.isfinite(Tx)) or np.any(Tx <= 0):
                raise ModelError("T(x) must be finite and > 0 on the grid (K).")
            self.T = Tx                                                     # K at the cell centres, (nx,)
            self.kT = units.kB_eV * Tx
            self._kTg = self.kT[None, :, None, None]
        else:
            if np.isfinite(tau) and T <= 0:
                raise ModelError("Relaxation needs T > 0 (smooth Fermi function).")
            if boundary == "open" and T <= 0:
                raise ModelError("Open boundaries need T > 0 (the reservoirs are Fermi seas).")
            self.T = float(T)
            self.kT = units.kB_eV * self.T
            self._kTg = self.kT
        self.T_profile = T_profile

    def fermi(self, e, kT=None):
        """f_FD(e / k_B T) with the local temperature (T(x): broadcast over the x axis of the grid)."""
        kT = self._kTg if kT is None else kT
        if np.ndim(kT) == 0 and kT == 0:
            return np.where(e < 0, 1.0, np.where(e > 0, 0.0, 0.5))
        return expit(-e / kT)

    def equilibrium(self, mu=None, t=None, potential: bool = True):
        """f_n = f_FD((ε_n(x, k) + V(x, t) - μ) / k_B T(x)) on the grid (V omitted with ``potential=False``).

        At order 2 (with the potential) the O(ħ²) equilibrium f(h)_⋆ = f_FD(h - μ) - ħ²[D f^(2)/16 + Q f^(3)/24]
        with h = ε + V + h_2, D = 2V''ε'', Q = V''ε'² + ε''V'² (:mod:`.equilibrium`)."""
        mu = self.mu if mu is None else mu
        V = self.V(t) if potential else np.zeros(self.nx)
        e0 = self._E + V[None, :, None, None] - mu
        if self.order < 2 or not potential:
            return self.fermi(e0)
        from .equilibrium import fermi_derivatives
        F = self._order2_fields(self.t if t is None else t)
        f2, f3 = fermi_derivatives(e0, 0.0, self.kT)[2:]
        D = 2 * F["V2"] * self._e2
        Q = F["V2"] * self._e1 ** 2 + self._e2 * F["V1"] ** 2
        return self.fermi(e0 + F["h2"]) - (D * f2 / 16 + Q * f3 / 24)

    def _f_local_order2(self, f, t, tol: float = 1e-15, maxiter: int = 100):
        """Order-2 "local" target: f(h)_⋆ of :meth:`equilibrium` with μ → μ̃(x), solved so that the conserved
        local density is kept, Σ_n∫ρ f_loc = Σ_n∫ρ f at every x (vectorized safeguarded Newton; the Newton slope
        uses the leading -∂f_FD/∂ε, the bracket guarantees convergence). The Wigner-Kirkwood terms keep the
        derivatives of h only: μ̃ is the collisions' Lagrange multiplier, not part of the Hamiltonian. With f the
        static equilibrium at uniform μ the root is μ̃ = μ, so that equilibrium is a fixed point."""
        rho = self._order2_fields(t)["rho"]
        w = self.weight
        target = w * (rho * f).sum(axis=(0, 2, 3))                               # (nx,)
        Vt = self.V(t)
        ehi = self._E.max() + np.abs(Vt).max() + 50 * self.kT
        lo = np.full(self.nx, self._E.min() - np.abs(Vt).max() - 50 * self.kT)
        hi = np.full(self.nx, ehi)
        mu = np.clip(getattr(self, "_mu_loc2", np.full(self.nx, self.mu)), lo, hi)
        for _ in range(maxiter):
            f_loc = self.equilibrium(mu=mu[None, :, None, None], t=t)
            g = w * (rho * f_loc).sum(axis=(0, 2, 3)) - target
            s0 = self.fermi(self._E + Vt[None, :, None, None] - mu[None, :, None, None])
            dg = w * (rho * s0 * (1 - s0)).sum(axis=(0, 2, 3)) / self.kT
            done = np.abs(g) <= tol * np.maximum(np.abs(target), w)
            if np.all(done):
                break
            lo = np.where(g < 0, mu, lo)
            hi = np.where(g > 0, mu, hi)
            with np.errstate(divide="ignore", invalid="ignore"):
                new = mu - g / dg
            bad = ~np.isfinite(new) | (new <= lo) | (new >= hi)
            mu = np.where(done, mu, np.where(bad, 0.5 * (lo + hi), new))
        else:
            raise ModelError(f"local relaxation at order 2: the local chemical potential did not converge in "
                             f"{maxiter} Newton steps (residual {np.abs(g).max():.2e}); refine nk or raise T.")
        self._mu_loc2 = mu
        return f_loc

    def local_mu(self, n_tot, tol: float = 1e-15, maxiter: int = 200):
        """μ̃(x) with Σ_n∫ρ f_FD((h_n(x, k) - μ̃)/k_B T(x)) = n_tot(x) (vectorized safeguarded Newton; h = ε and
        ρ = 1 except for model(x) at order 1, where h = ε + h_1 and ρ = 1 - Ω_xk)."""
        E = np.moveaxis(self._E, 1, 0).reshape(self._E.shape[1], -1)        # (1 or nx, N nk nky)
        w = self.weight
        if self._rho is not None and self.order < 2:                        # ∫ρ f_loc = ∫ρ f (model(x), order 1)
            w = w * np.moveaxis(self._rho, 1, 0).reshape(E.shape)
        kT = np.broadcast_to(np.asarray(self.kT, dtype=float), n_tot.shape)
        nmax = (w * np.ones_like(E)).sum(1)
        target = np.clip(n_tot, 1e-300, nmax * (1 - 1e-16))
        lo = E.min(1) - 50 * kT
        hi = E.max(1) + 50 * kT
        mu = np.full(n_tot.shape, self.mu) if not hasattr(self, "_mu_loc") else self._mu_loc.copy()
        mu = np.clip(mu, lo, hi)
        for _ in range(maxiter):
            f = expit((mu[:, None] - E) / kT[:, None])
            g = (w * f).sum(1) - target
            dg = (w * f * (1 - f)).sum(1) / kT
            lo = np.where(g < 0, mu, lo)
            hi = np.where(g > 0, mu, hi)
            with np.errstate(divide="ignore", invalid="ignore"):
                new = mu - g / dg
            bad = ~np.isfinite(new) | (new <= lo) | (new >= hi)
            new = np.where(bad, 0.5 * (lo + hi), new)
            done = np.abs(g) <= tol * np.maximum(target, self.weight)
            if np.all(done):
                break
            mu = np.where(done, mu, new)
        self._mu_loc = mu
        return mu

    def _f_local_compiled(self, f, rate=None, tol: float = 1e-15, maxiter: int = 200):
        """The ``"local"`` target of orders 0 and 1 by the fused kernel (:func:`.kernels.local_equilibrium`): the
        same Newton as :meth:`local_mu`, then f_FD((h - μ̃)/k_BT) at the root. With ``rate`` (an array of f's
        shape) the collision term (f - f_loc)/τ is subtracted from it in place instead (returns ``rate``)."""
        from . import kernels
        f = np.ascontiguousarray(f, dtype=float)
        w = self.weight * (self._rho if self._rho is not None else np.ones((1, 1, 1, 1)))
        w = np.broadcast_to(w, (f.shape[0], w.shape[1]) + f.shape[2:])
        kT = np.ascontiguousarray(np.broadcast_to(np.asarray(self.kT, dtype=float), (self.nx,)))
        mu = np.full(self.nx, self.mu) if not hasattr(self, "_mu_loc") else self._mu_loc.copy()
        out = np.empty(f.shape) if rate is None else rate
        E = np.broadcast_to(self._E, (f.shape[0], self._E.shape[1]) + f.shape[2:])
        emin, emax = self._E.min(axis=(0, 2, 3)), self._E.max(axis=(0, 2, 3))
        kernels.kernel("local_equilibrium", f.size)(f, E, emin, emax, w, self.weight, kT, mu, tol, maxiter, -1.0 if rate is None else self.tau, out)
        self._mu_loc = mu
        return out

    def f_local(self, f, t):
        if self.relaxation == "global":
            return self.equilibrium(t=t)
        if self.relaxation == "bare":
            return self.equilibrium(potential=False)
        if self.order == 2:
            return self._f_local_order2(f, t)
        if self.compiled:
            return self._f_local_compiled(f)
        n_tot = self.density(f).sum(axis=0)
        mu = self.local_mu(n_tot)
        return self.fermi(self._E - mu[None, :, None, None])

