"""The applied electric field term: the force -E(x, t) of a field that need not be the gradient of a periodic V.

Applied electric field ``field=E(x, t)`` (V/Å, the x component; all orders): the force on the electron,
charge -e, ħk̇_x ∋ -eE, is -E in eV/Å, so k̇_x = -[∂_x(ε_n + V) + E]/ħ. In a periodic box V must be periodic,
so a uniform field (any field of non-zero mean: an emf ∮E dx around the ring, e.g. from a threading flux
changing in time) can only enter this way. Per cell the force is the cell average Ē_i = (1/dx)∫E dx
(4-point Gauss-Legendre), the same finite-volume quantity as the potential's -[V(x_{i+1/2}) - V(x_{i-1/2})]/dx:
a zero-mean field E = ∂_xV then gives the potential's discrete solution (to quadrature round-off; tested),
whereas the centre value E(x_i) would differ from it by dx²E''/24. The force is k-independent, so the
discrete divergence of the flow stays zero (with model(x) too: it adds to the corner-difference band force).
At order 1 it enters everything through :meth:`KineticSolver.kdot`, including the anomalous velocity
Ω^{xy}k̇_x of ``jy`` in 2D (the Hall current of a uniform field, tested against
:func:`qkinetics.conductivity`). The field is a drive: no relaxation target sees it ("global" relaxes to
f_FD(ε + V - μ), "bare" to f_FD(ε - μ), "local" to the local μ̃ of the conserved density), as in the
relaxation-time Boltzmann equation -(e/ħ)E·∂_kf = -(f - f_0)/τ; so a uniform field on a ring drives a
steady current (tested against -(τE/ħ²)∫dk/2π f_0ε'' per band) and ``well_balanced=True`` is refused (the
equilibrium is not a steady state; the default is False with a field). Order 2: the field enters like the
gradient of a potential, every O(ħ²) term with V'_eff = V' + E (V''_eff = V'' + E', V'''_eff = V''' + E''):
h = ε + V - GV'_eff²/2 + gV''_eff/2 on the corners, ρ = 1 - GV''_eff, the Moyal k-term with V'''_eff and the
time flux G∂_tV'_eff (W the face values of V'_eff, the mean of E included). E may have a non-zero mean, so
V + ∫E is never formed: h comes from the periodic V plus h_2(V'_eff, V''_eff) and the field's -Ē_i/ħ is added
to the k-face force; E', E'' are spectral derivatives of the point values of E. The targets see V alone:
"global" relaxes to f(h)_⋆ of V (the O(ħ²) equilibrium of H_0 + V), "bare" to f_FD(ε - μ), "local" to f(h)_⋆
of V at the μ̃ that keeps ∫ρf (ρ with the field). Tested (tests/test_kinetics_order2_field.py): a zero-mean
E = ∂_xV_1 gives the solution of the potential V_1 to round-off (1D, 2D, static, moving); f = 1 stays 1 and
the number is conserved with a moving field of changing mean; a uniform field's O(E²) steady current agrees
with σ_xxx (τ², τ¹, τ⁰) of :func:`qkinetics.moyal.uniform_field.kinetic_conductivities` (order 2, relaxation
to f_0(ε)) to 1.9·10⁻³ at nk = 512. With open boundaries the leads stay f_FD(ε + V - μ) at one μ (the
field's voltage drop is not applied to them).
"""

import numpy as np

from ..models.base import ModelError

__all__ = ["AppliedField"]


class AppliedField:
    """The applied field E(x, t) (V/Å, x component): its cell averages and point values (a part of
    :class:`.KineticSolver`; the force enters the flow through :meth:`.BandFlow.force`, and every O(ħ²) term at
    order 2 through :meth:`.Order2Terms._order2_fields`)."""

    def _init_field(self, field):
        """Store the callable ``field`` (or None) and the 4-point Gauss-Legendre nodes of the cell averages."""
        self.field_function = field
        if field is not None:                 # 4-point Gauss-Legendre nodes per cell for the cell-averaged E
            gx, gw = np.polynomial.legendre.leggauss(4)
            self._field_nodes = (self.x[:, None] + 0.5 * self.dx * gx[None, :]).ravel()
            self._field_weights = 0.5 * gw
            self.field(0.0)                   # validate the shape and finiteness now

    def field(self, t=None):
        """Cell average of the applied field, Ē_i = (1/dx)∫_{cell i} E(x, t) dx (V/Å), shape (nx,); zeros without
        a field. 4-point Gauss-Legendre per cell (exact for quintic E; for E ∝ cos qx the relative error is
        6·10⁻¹⁰(q dx)⁸, measured: 4·10⁻¹⁴ at q dx = 0.3, round-off for a field resolved by the grid), so a field
        E = ∂_xV gives the same discrete force as the potential V, whose cell average is exact from its face
        values."""
        if self.field_function is None:
            return np.zeros(self.nx)
        return self.field_at(self._field_nodes, t).reshape(self.nx, -1) @ self._field_weights

    def field_at(self, x, t=None):
        """Point values E(x, t) of the applied field (V/Å) at the positions x (Å; shape kept), checked for shape and
        finiteness; zeros without a field."""
        x = np.asarray(x, dtype=float)
        if self.field_function is None:
            return np.zeros(x.shape)
        t = self.t if t is None else t
        E = np.asarray(self.field_function(x.copy(), t), dtype=float)
        try:
            E = np.broadcast_to(E, x.shape).copy()
        except ValueError:
            raise ModelError(f"field(x, t) must return an array of the shape of x (or a scalar); got shape "
                             f"{E.shape} for x of shape {x.shape}.") from None
        if not np.all(np.isfinite(E)):
            raise ModelError(f"field(x, t) is not finite at t = {t:.3e} s (V/Angstrom expected).")
        return E

