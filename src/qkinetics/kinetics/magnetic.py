"""The magnetic-field term: a uniform perpendicular field B_z in 2D models (orders 0 and 1).

Equations of motion
-------------------
The semiclassical dynamics of a band electron (charge -e) in the fields E, B (Xiao, Chang, Niu, RMP 82, 1959
(2010), Sec. VIII; Ω the Berry curvature Ω^{xy} of :func:`qkinetics.geometry.band_geometry`, v = ∂_kε/ħ):

.. math::
    \\dot{\\mathbf r} = \\mathbf v - \\dot{\\mathbf k}\\times\\boldsymbol\\Omega,\\qquad
    \\hbar\\dot{\\mathbf k} = \\mathbf F - e\\,\\dot{\\mathbf r}\\times\\mathbf B,

with F = (F_x, 0) the force -∂_xV - eE_x of the potential and the applied field (:meth:`.BandFlow.force`;
eV/Å). For B = B ẑ in the plane of a 2D model, with :math:`b = eB/\\hbar` (1/Å², the inverse square of the
magnetic length; B in tesla, b = 1.519·10⁻⁵ Å⁻² at 1 T), the solution is

.. math::
    D\\,\\dot x = v_x,\\qquad D\\,\\dot y = v_y + \\Omega F_x/\\hbar,\\qquad
    D\\,\\dot k_x = F_x/\\hbar - b\\,v_y,\\qquad D\\,\\dot k_y = b\\,v_x,\\qquad
    D = 1 + b\\,\\Omega,

and D is the phase-space density of states: ∂_t(Df) + ∇·(D ṙ f) + ∇_k·(D k̇ f) = -D(f - f_loc)/τ, the flow
(Dẋ, Dk̇_x, Dk̇_y) being divergence free. Order 0 keeps ħk̇ = F - e ẋ×B with D = 1 and ẏ = v_y; order 1
(``order=1``) adds D (``self._rho``, the transport divides by it, densities weight by it) and the anomalous
velocity, i.e. the transverse current :math:`j_y = \\int D\\dot y f = \\int (v_y + \\Omega F_x/\\hbar) f`
(:meth:`MagneticField.transverse_velocity`); j_x = ∫Dẋf = ∫v_x f is unchanged. The density ∫D f of a filled
band of Chern number C changes by C b/2π = C eB/h (Streda). Order 1 also replaces the band energy by the
wave-packet energy in B,

.. math:: \\tilde\\varepsilon_n = \\varepsilon_n - m_n B = \\varepsilon_n - b\\,X_n,\\qquad m_n = (e/\\hbar)X_n,

X the ``orbital_moment`` of :func:`qkinetics.geometry.band_geometry` (eV Å², z component; electron charge -e),
everywhere ε enters: the velocities v = ∂_kε̃/ħ, the stream function bε̃/ħ, the equilibrium and the relaxation
targets f_FD(ε̃ + V - μ) (RMP Sec. VIII: ṽ in the equations above). With D and ε̃ the equilibrium density at
fixed μ has the Streda slope ∂n/∂B = (e/ħ)∫[Ω f + X ∂f/∂ε]/(2π)² (tested against exact Hofstadter densities).

Discretization
--------------
The momentum flow of B is a curl, (-∂_{k_y}ψ, ∂_{k_x}ψ) with the stream function ψ = bε/ħ. Its face velocities
are corner differences of ψ at the corners (k_{x,j+1/2}, k_{y,l+1/2}):

.. math::
    u^{k_x}_{j+1/2,l} = -\\frac{b}{\\hbar}\\frac{\\varepsilon_{j+1/2,l+1/2} - \\varepsilon_{j+1/2,l-1/2}}{dk_y},\\qquad
    u^{k_y}_{j,l+1/2} = \\frac{b}{\\hbar}\\frac{\\varepsilon_{j+1/2,l+1/2} - \\varepsilon_{j-1/2,l+1/2}}{dk_x},

so the discrete divergence of the magnetic flow is exactly zero (the four corner values cancel), as is that
of the rest (ẋ independent of x, F independent of k): a uniform f (the filled band) stays uniform to
round-off, and the particle number is conserved (periodic k_y faces; the fluxes telescope). The k_x entry of
the flow hook (:meth:`.BandFlow._flow`) gains u^{k_x}; the k_y entry (axis 3) is created, which couples the k_y
lines. A function of the energy f(ε) is stationary in the continuum (the flow follows the energy contours) but
not exactly on the grid (the upwind face values are reconstructed from cell values): its discrete transport is
a truncation error O(dk²) where f is smooth; ``well_balanced=True`` subtracts it (static V, no applied E), so the
equilibrium f_FD(ε + V - μ) in B is then an exact discrete steady state.

On a periodic ring the k_y flux runs through its own compiled kernel (:func:`.kernels.transport_ky`, bit-identical
to the numpy form); measured 1.55-1.65·10⁷ cell-updates/s per core in B against 2.0-2.1·10⁷ without (QWZ,
32 x 64 x 24 cells).
"""

import numpy as np

from .. import units
from ..models.base import ModelError

__all__ = ["MagneticField", "magnetic_wavenumber"]


def magnetic_wavenumber(B, hbar=units.hbar_eVs):
    """b = eB/ħ in 1/Å² for B in tesla: ħk̇ = -e ẋ × B gives k̇ = -b ẋ × ẑ (1/Å² times Å/s).

    e B in eV s/Å² per unit charge is B·10⁻²⁰ (1 T = 1 V s/m²); b = 1/l_B², l_B = 256.6 Å at 1 T. B may be an
    array (same shape returned)."""
    b = np.asarray(B, dtype=float) * 1e-20 / hbar
    return float(b) if b.ndim == 0 else b


class MagneticField:
    """A uniform B_z (tesla) for 2D models: the Lorentz force through a stream function, the phase-space
    density D = 1 + bΩ and the anomalous velocity at order 1 (a part of :class:`.KineticSolver`; module
    docstring)."""

    magnetic_field = None               # B_z in tesla (None: no field)
    orbital_moment = None               # X = (ħ/e) m_z (N, nk, nky), eV Å², at order 1 in B

    def _init_magnetic(self, B, model, order):
        """Validate ``B`` (tesla, a real scalar: B_z); 0 or None is no field."""
        if B is None:
            return
        try:
            B = float(B)
        except (TypeError, ValueError):
            raise ModelError(f"B must be a real number (B_z in tesla); got {B!r}.") from None
        if not np.isfinite(B):
            raise ModelError(f"B must be finite (tesla); got {B!r}.")
        if B == 0:
            return
        if model.dim != 2:
            raise ModelError(f"A magnetic field B_z needs a 2D model (the Lorentz force couples k_x and k_y); this model "
                             f"is {model.dim}D.")
        if order == 2:
            raise ModelError("A magnetic field is available at orders 0 and 1 (the O(hbar^2) current in B is not built); "
                             "use order=0 or 1.")
        if self.x_dependent:
            raise ModelError("A magnetic field with an x-dependent model(x) is not supported (the stream function would "
                             "need eps(x, k) on the (x, k_x, k_y) corners); use a uniform model with a potential V(x).")
        self.magnetic_field = B

    def _setup_magnetic(self, model, kfaces):
        """The face velocities of the magnetic flow from ε at the corners (k_{x,j+1/2}, k_{y,l+1/2}); at order 1
        ε̃ = ε - bX there and everywhere (:meth:`_orbital_energy`) and D = 1 + bΩ (``self._rho``)."""
        if self.magnetic_field is None:
            return
        N, nk, nky = self.nbands, self.nk, self.nky
        b = magnetic_wavenumber(self.magnetic_field, self.hbar)
        self.magnetic_b = b
        kyf = self.ky + 0.5 * self.dky                                         # k_{y,l+1/2}, l = 0..nky-1
        kc = np.stack(np.broadcast_arrays(kfaces[1:, None], kyf[None, :]), -1).reshape(-1, 2)
        ec = model.bands(kc).T.reshape(N, nk, nky)                              # ε at the corners (j+1/2, l+1/2)
        self.orbital_moment = None
        if self.order >= 1:
            ec = ec - b * self._orbital_moment_at(model, kc)
            self._orbital_energy(model, kfaces, b)
        self._u_kx_magnetic = (-b / (self.hbar * self.dky) * (ec - np.roll(ec, 1, 2)))[:, None]
        self._u_ky_magnetic = (b / (self.hbar * self.dk) * (ec - np.roll(ec, 1, 1)))[:, None]
        if self.order >= 1:
            D = 1.0 + b * self.omega_xy[:, None]
            if D.min() <= 0.05:
                raise ModelError(f"1 + (e/hbar) B Omega = {D.min():.3f}: B = {self.magnetic_field:g} T is too strong "
                                 "for the semiclassical expansion where the Berry curvature is large (the phase-space "
                                 "density would vanish); lower B or use order=0.")
            self._rho = D

    def _orbital_moment_at(self, model, k):
        """X_n = (ħ/e) m_n (eV Å², z component) at the points k (P, 2) of the grid's k_x-major layout, as
        (N, P/nky, nky); zeros when ``band_geometry`` has no orbital moment."""
        from ..geometry import band_geometry
        X = getattr(band_geometry(model, k, inverse_mass=False), "orbital_moment", None)
        if X is None:
            return np.zeros((self.nbands, len(k) // self.nky, self.nky))
        return X[..., 0].T.reshape(self.nbands, -1, self.nky)

    def _orbital_energy(self, model, kfaces, b):
        """Order 1: ε̃ = ε - bX at the cell centres (``energy``, the equilibria) and at the k_x faces (the cell
        velocities v_x, exact cell averages as for ε); v_y gains -b∂_{k_y}X/ħ (the difference over the k_y faces
        of the cell)."""
        K = self._kgrid(self.k)
        X = self._orbital_moment_at(model, K)
        self.orbital_moment = X                                                   # (N, nk, nky), eV Å²
        Xf = self._orbital_moment_at(model, self._kgrid(kfaces))
        self.energy = self.energy - b * X
        self._E = self.energy[:, None]
        self.velocity = self.velocity - b * (Xf[:, 1:] - Xf[:, :-1]) / (self.dk * self.hbar)
        self._vxf = self._vcell = self.velocity[:, None]
        shift = np.array([0.0, 0.5 * self.dky])
        dX = self._orbital_moment_at(model, K + shift) - self._orbital_moment_at(model, K - shift)
        self.velocity_y = self.velocity_y - b * dX / (self.dky * self.hbar)

    def _flow(self, t):
        """Adds the Lorentz force: -bv_y to k̇_x at the k_x faces and the k_y flow +bv_x (axis 3), both as
        corner differences of the stream function bε/ħ (bε̃/ħ at order 1; module docstring)."""
        flow = super()._flow(t)
        if self.magnetic_field is not None:
            flow[2] = flow[2] + self._u_kx_magnetic
            flow[3] = flow.get(3, 0.0) + self._u_ky_magnetic
        return flow

    def transverse_velocity(self, t=None):
        """With B: D ẏ = v_y (order 0: ẏ = v_y) or v_y + Ω F_x/ħ (order 1), Å/s, broadcastable to
        (N, nx, nk, nky), so that j_y = ∫dk/(2π)² Dẏ f (module docstring); without B that of
        :class:`.AnomalousVelocity`."""
        if self.magnetic_field is None:
            return super().transverse_velocity(t)
        vy = self.velocity_y[:, None]
        if self.order >= 1:
            vy = vy + self.omega_xy[:, None] * self.force(t)[None, :, None, None]
        return vy
