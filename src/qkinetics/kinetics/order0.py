"""The order-0 terms: the Liouville flow of the bands ε_n(k) in the potential V(x, t), ẋ = ∂_kε/ħ, k̇ = -∂_xV/ħ.

.. math::
    \\partial_t f_n + \\partial_x(\\dot x_n f_n) + \\partial_{k_x}(\\dot k_x f_n) = C[f],\\qquad
    \\dot x_n = \\frac{1}{\\hbar}\\partial_{k_x}\\varepsilon_n(k),\\quad
    \\dot k_x = -\\frac{1}{\\hbar}\\big[\\partial_x V(x, t) + E(x, t)\\big]

(E the applied field of :mod:`.field`; with model(x) also -∂_xε_n(x, k)/ħ, :mod:`.texture`). Velocities are cell
averages taken exactly from face values: :math:`\\bar v_j = [\\varepsilon(k_{j+1/2}) - \\varepsilon(k_{j-1/2})]/(\\hbar\\,dk)`,
:math:`\\bar F_i = -[V(x_{i+1/2}) - V(x_{i-1/2})]/(\\hbar\\,dx)`. Since v̄ does not depend on x and F̄ not on k, the
discrete divergence of the phase-space velocity is exactly zero (discrete Liouville theorem): a uniform f stays
uniform to round-off.

The flow hook
-------------
:meth:`BandFlow._flow` returns the face velocities of every momentum axis that the flow moves along,
``{axis: u}`` with u at the faces i+1/2 of that axis (index i), broadcastable to (N, nx, nk, nky); the transport
(:meth:`.KineticSolver.transport`) upwinds f through those faces on each axis (periodic in k). A term that adds
a force is a part that overrides ``_flow`` and adds to the entries of ``super()._flow(t)``; see the package
docstring (:mod:`qkinetics.kinetics`) for the magnetic-field term.
"""

import numpy as np

from ..models.base import ModelError

__all__ = ["BandFlow"]


class BandFlow:
    """ε_n(k) and its exact cell-averaged velocities, the potential V(x, t) and the force k̇_x (a part of
    :class:`.KineticSolver`)."""

    def _setup_uniform_bands(self, model, kfaces):
        """Bands of a uniform model at the cell centres and the k_x faces; the x-face velocity is the cell velocity."""
        N = self.nbands
        self.energy = model.bands(self._kgrid(self.k)).T.reshape(N, self.nk, self.nky)        # ε_n(k_j, k_y)
        ef = model.bands(self._kgrid(kfaces)).T.reshape(N, self.nk + 1, self.nky)
        self.velocity = (ef[:, 1:] - ef[:, :-1]) / (self.dk * self.hbar)     # cell-averaged ẋ (Å/s)
        self._E = self.energy[:, None]                                       # (N, 1, nk, nky)
        self._vxf = self._vcell = self.velocity[:, None]                     # x-face = cell velocity

    def V(self, t=None, x=None):
        """Potential (eV) at x (default the cell centres) and time t (default the current time)."""
        t = self.t if t is None else t
        x = self.x if x is None else x
        if self.potential is None:
            return np.zeros_like(x)
        return np.broadcast_to(np.asarray(self.potential(x, t), dtype=float), x.shape)


    def force(self, t=None):
        """Cell-averaged k̇_x = -[∂_xV + E]/ħ (1/(Å s)), shape (nx,): the potential's part exactly from its face
        values, -[V(x_{i+1/2}) - V(x_{i-1/2})]/(ħ dx), and the applied field's -Ē_i/ħ (:meth:`field`; the force on
        charge -e, ħk̇ = -eE with E in V/Å is -E in eV/Å). k-independent, so the discrete divergence of the flow
        stays zero."""
        Vf = self.V(t, self.x_faces)
        F = -(Vf[1:] - Vf[:-1]) / (self.dx * self.hbar)
        if self.field_function is not None:
            F = F - self.field(t) / self.hbar
        return F

    def kdot(self, t=None, faces: bool = False):
        """k̇_x = -[∂_x(ε_n + V) + E]/ħ (1/(Å s)) broadcastable to (N, nx, nk, nky): with a uniform model the
        cell-averaged -(∂_xV + E)/ħ of :meth:`force`; with model(x) also -∂_xε_n/ħ from corner differences, at the
        k-faces k_{j+1/2} (``faces=True``) or averaged over the two k-faces of each cell (default)."""
        F = self.force(t)[None, :, None, None]
        if self._fk_model is None:
            return F
        Fk = self._fk_model + F
        return Fk if faces else 0.5 * (Fk + np.roll(Fk, 1, 2))


    def _vx_right(self):
        """Periodic x: the x-face velocities at the faces x_{i+1/2} (index i); model(x) stores all nx + 1 faces."""
        return self._vxf if self._fk_model is None else self._vxf[:, 1:]

    def _flow(self, t):
        """The momentum-space flow: ``{axis: face velocity}`` (module docstring, "The flow hook"); here
        k̇_x at the k_x faces (axis 2)."""
        return {2: self.kdot(t, faces=True)}

    def _potential_is_static(self) -> bool:
        V0 = self.V(0.0)
        return all(np.max(np.abs(self.V(tt) - V0)) <= 1e-12 * max(1.0, np.abs(V0).max())
                   for tt in (1e-15, 1e-12, 1e-9))

    def _check_static(self):
        if not self._potential_is_static():
            raise ModelError("well_balanced=True needs a static potential V(x) (a well-balanced scheme preserves a "
                             "static equilibrium); pass well_balanced=False for a time-dependent V(x, t).")

