"""The order-1 terms of a uniform model: the anomalous velocity transverse to the inhomogeneity (2D).

Order 1 (``order=1``). The Liouville-consistent first-order current of
:func:`qkinetics.moyal.phase_space.phase_space_current` (``convention="liouville"``) for this
separable H with V = V(x) has, in the (x, k_x) plane, exactly the order-0 flow: h_1 = 0, the
phase-space density of states is 1 (W = 0 since Ω_{xk} = 0 at order 0) and Ω_{k_xk_x} = 0. The only
O(ħ) term is the anomalous velocity transverse to the inhomogeneity,

.. math:: \\dot y_n = \\frac{1}{\\hbar}\\big[\\partial_{k_y}\\varepsilon_n - \\Omega^{xy}_n\\,\\partial_x V\\big]

(RMP 82, 1959 sign; Ω^{xy} of :func:`qkinetics.geometry.band_geometry`), which changes no density
(the system is uniform in y) and appears in the output current ``jy``. This reduction is checked
against ``phase_space_current`` at sample points in the tests. With an x-dependent model(x) the Bloch
states depend on x and order 1 carries the mixed Berry curvature and h_1 (:mod:`.texture`).

The transverse velocity, at the cell centres, is also where the O(ħ) texture terms of model(x) enter ẏ
(:mod:`.texture`); the applied field enters through k̇_x (:meth:`.BandFlow.kdot`).
"""

__all__ = ["AnomalousVelocity"]


class AnomalousVelocity:
    """The band velocity ∂_{k_y}ε/ħ and Berry curvature Ω^{xy} of 2D models, and the transverse velocity and
    current they give (a part of :class:`.KineticSolver`)."""

    def _setup_transverse(self, model):
        """v_y and Ω^{xy} of a uniform 2D model at the cell centres, (N, nk, nky)."""
        from ..geometry import band_geometry
        N = self.nbands
        bg = band_geometry(model, self._kgrid(self.k), inverse_mass=False)
        self.velocity_y = (bg.velocity[:, :, 1].T / self.hbar).reshape(N, self.nk, self.nky)
        self.omega_xy = bg.berry_curvature[:, :, 0, 1].T.reshape(N, self.nk, self.nky)

    def transverse_velocity(self, t=None):
        """ẏ_n on the grid (2D; None in 1D), Å/s, broadcastable to (N, nx, nk, nky): the band velocity
        ∂_{k_y}ε/ħ plus, at order 1, the anomalous velocity Ω^{xy}k̇_x and, with model(x), the texture terms

        .. math:: \\hbar\\dot y = (1 - \\Omega_{xk_x})\\,\\partial_{k_y}\\varepsilon + \\partial_{k_y}h_1
                  - \\Omega^{xy}\\,\\partial_x(\\varepsilon + V) + \\Omega_{xk_y}\\,\\partial_{k_x}\\varepsilon

        (ρ times the y-component of the Liouville current of :func:`qkinetics.moyal.phase_space_current` for
        f = 1, to O(ħ); j_y = ∫ ẏ f, with f the gauge-invariant distribution)."""
        if self.velocity_y is None:
            return None
        xdep = self.velocity_y.ndim == 4
        vy = self.velocity_y if xdep else self.velocity_y[:, None]
        if self.order >= 1 and self._rho is None:
            vy = vy + (self.omega_xy if xdep else self.omega_xy[:, None]) * self.kdot(t)
        elif self.order >= 1:                     # model(x): the O(ħ) terms with the order-0 flow of ε + V
            kdot0 = self.force(t)[None, :, None, None] + self._kdot_band
            vy = (vy + self.omega_xy * kdot0 - self.mixed_berry_curvature * self.velocity_y + self._vy1
                  + self.omega_x_ky * self._vx_band)
        return vy

    def current_y(self, f=None, t=None):
        """Band-resolved transverse particle current j_y = ∫dk/(2π)² ẏ f (2D; None in 1D), 1/(Å s), with ẏ of
        :meth:`transverse_velocity` (band velocity; at order 1 the anomalous velocity Ω^{xy}k̇_x and the
        model(x) texture terms)."""
        vy = self.transverse_velocity(t)
        if vy is None:
            return None
        f = self.f if f is None else f
        return self.weight * (vy * f).sum(axis=(2, 3))

