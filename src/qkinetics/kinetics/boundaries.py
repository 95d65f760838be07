"""Boundaries in x: periodic (a ring) or open, with equilibrium leads at the two ends.

``boundary="open"``: at x = 0 and x = L the x-flux is upwind, with the inflow taken from a lead in equilibrium,
f_FD((ε_n + V - μ)/k_BT) of the boundary cell (its ε_n(x, k), V, T; the global μ) and free outflow of the
reconstructed interior value; k stays periodic and V need not be periodic. Particle number then changes
exactly by the net boundary flux (:attr:`KineticSolver.boundary_inflow`, :meth:`KineticSolver.number`).

Periodic faces: the flux sums telescope, so particle number (per band and k_y line, without collisions; in
total with the number-conserving collision term) is conserved to round-off. The k axes are always periodic
(the Brillouin zone).
"""

import numpy as np

from .fluxes import upwind_flux, upwind_flux_open

__all__ = ["Boundaries"]


class Boundaries:
    """The x-flux through the faces with periodic or open ends, and the leads of open ends (a part of
    :class:`.KineticSolver`)."""

    def _x_flux_divergence(self, f, t):
        """-∂_x(ẋ f) by upwind fluxes through the x faces; with open ends also sets ``_bflux``, the net inflow
        rate through the two ends (1/(Å^{d-1} s))."""
        lim = self._limiter
        if self.boundary == "periodic":
            Fx = upwind_flux(f, self._vx_right(), 1, lim)
            out = -(Fx - np.roll(Fx, 1, 1)) / self.dx
            self._bflux = 0.0
        else:
            gl, gr = self.reservoirs(t)
            Fx = upwind_flux_open(f, self._vxf, gl, gr, lim)                  # faces x_{i-1/2}, i = 0..nx
            out = -(Fx[:, 1:] - Fx[:, :-1]) / self.dx
            self._bflux = self.weight * (Fx[:, 0].sum() - Fx[:, -1].sum())   # net inflow rate (1/(Å^{d-1} s))
        return out

    def _x_face_flux(self, f, t):
        """The scheme's x-flux (orders 0 and 1) through all nx + 1 faces x_{i-1/2} (N, nx+1, nk, nky)."""
        if self.boundary == "open":
            gl, gr = self.reservoirs(t)
            return upwind_flux_open(f, self._vxf, gl, gr, self._limiter)
        Fx = upwind_flux(f, self._vx_right(), 1, self._limiter)
        return np.concatenate([Fx[:, -1:], Fx], axis=1)

    def reservoirs(self, t=None):
        """Open boundaries: the lead distributions f_FD((ε_n + V - μ)/k_B T) at the two boundary cells
        (their ε_n(x, k) (+ h_1 for model(x) at order 1), V, T; global μ), each (N, 1, nk, nky). They fill the
        inflowing half of the end faces."""
        V = self.V(t, self.x[[0, -1]])
        kT = np.broadcast_to(np.asarray(self.kT, dtype=float), self.x.shape)
        E = self._E if self._E.shape[1] > 1 else np.repeat(self._E, 2, axis=1)
        gl = self.fermi(E[:, :1] + V[0] - self.mu, kT[0])
        gr = self.fermi(E[:, -1:] + V[1] - self.mu, kT[-1])
        return gl, gr

