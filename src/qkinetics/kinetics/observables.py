"""Observables of the distribution: densities, currents, face fluxes, moments and phase-space snapshots.

Units: x in Å, k in 1/Å, energies in eV, time in seconds (``hbar`` = ħ in eV s by default).
Densities per band: :math:`n_n(x) = \\int dk/(2\\pi)^d f_n` (1/Å^d, no spin factor, like
:func:`qkinetics.kubo.lindhard.lindhard`); particle currents :math:`j_n = \\int dk/(2\\pi)^d \\dot x f_n`
(1/(Å^{d-1} s)); electric current is -e times that. At order 1 with model(x) and at order 2 the conserved
density is ρf (ρ the phase-space density of states); at order 2 the particle density in real space is the star
dressing of f (:meth:`Observables.physical_density`). The transverse current ``jy`` of 2D models is in
:mod:`.order1`. Phase-space snapshots: :meth:`Observables.snapshot` (f as DataArray (band, x, k[, k_y])) and
``run(..., snapshots=True)``. :meth:`Observables.face_current` is the scheme's own x-flux through the faces
(uniform in a number-conserving steady state).
"""

import numpy as np
import xarray as xr

from .order2 import _KyLine

__all__ = ["Observables"]


class Observables:
    """Moments and snapshots of f (a part of :class:`.KineticSolver`)."""

    def number(self, f=None):
        """Total particle number in the box, ∫dx Σ_n n_n (1/Å^{d-1}: per unit transverse length in 2D)."""
        return float(self.density(f).sum() * self.dx)

    def density(self, f=None):
        """Band-resolved density n_n(x) (N, nx), 1/Å^d: ∫ f (model(x) at order 1: ∫ ρf with ρ = 1 - Ω_xk, the
        particle density; order 2: ∫ ρf, the conserved phase-space density; the particle density in real
        space is :meth:`physical_density`)."""
        f = self.f if f is None else f
        if self.order == 2:
            f = self._order2_fields(self.t)["rho"] * f
        elif self._rho is not None:
            f = self._rho * f
        return self.weight * f.sum(axis=(2, 3))

    def physical_density(self, f=None, t=None):
        """Band-resolved particle density (N, nx) in 1/Å: n_n(x) = ∫dk/2π tr[U ⋆ P_n f̃ ⋆ U^†] at order 2.

        f̃ = f∘π is the canonical symbol of the gauge-invariant f (:func:`.equilibrium.canonical_distribution`),
        f's derivatives taken spectrally on the periodic grid; U from the star diagonalization of H_0(k) + V(x, t)
        at every cell centre, V at time ``t`` (default: the current time; V on jets through its Fourier series on
        the x grid; recomputed only when V changed). The dressing is instantaneous: the interband coherence that a
        moving V drives (∝ ħ∂_tV' / gap) is off-diagonal and enters the density at O(ħ³). An applied field enters
        through V'_eff = V' + E (its antiderivative added on the jets; E(t) at the centres). At orders 0 and 1 this
        is :meth:`density` (the O(ħ) dressing vanishes for a separable H)."""
        from ..moyal import PhaseSpace
        from ..moyal import jet as J
        from ..moyal.diagonalize import separable_hamiltonian_jet, star_diagonalize_jet
        from .equilibrium import canonical_distribution, spectral_jet, wigner_trace
        f = self.f if f is None else f
        if self.order < 2:
            return self.density(f)
        Vc = self.V(t)
        Ec = self.field_at(self.x, t)
        key = np.concatenate([Vc, Ec])
        if self._star is None or not np.array_equal(self._star_V, key):
            pts = np.stack(np.broadcast_arrays(self.x[:, None], self.k[None, :]), -1).reshape(-1, 2)

            def series(values):
                c = np.fft.rfft(values) / self.nx
                c[1:] *= 2.0
                if self.nx % 2 == 0:
                    c[-1] *= 0.5
                return c
            # the grid samples x_i = (i + 1/2) dx: V(x) = sum_n Re[c_n exp(i q_n (x - dx/2))]; a field adds the
            # antiderivative of its series, V_eff = V + E_0 x + sum_n Re[e_n exp(i q_n (x - dx/2)) / (i q_n)] (not
            # periodic for E_0 != 0, but U is local: only the derivatives V'_eff = V' + E, ... enter)
            Vh, Eh = series(Vc), series(Ec)
            q = 2 * np.pi * np.arange(len(Vh)) / self.length
            scale = 1e-14 * max(1.0, abs(Vh).max(), abs(Eh).max() * self.length)

            def Vjet(xj):
                out = xj * 0.0 + float(Vh[0].real) + xj * float(Eh[0].real)
                for n in range(1, len(Vh)):
                    arg = (xj - 0.5 * self.dx) * q[n]
                    if abs(Vh[n]) > scale:
                        out = out + J.cos(arg) * float(Vh[n].real) - J.sin(arg) * float(Vh[n].imag)
                    if abs(Eh[n]) / q[n] > scale:
                        out = out + (J.sin(arg) * float(Eh[n].real) + J.cos(arg) * float(Eh[n].imag)) / q[n]
                return out
            # 2D: V = V(x) leaves k_y a parameter and nothing depends on y, so the (y, k_y) pair drops out of every
            # star product and of the canonical map (a^{k_y} = -A_y = 0): each k_y line is the 1D problem of the
            # model sliced at k_y
            lines = [self.model] if self.model.dim == 1 else [_KyLine(self.model, ky) for ky in self.ky]
            self._star = [star_diagonalize_jet(separable_hamiltonian_jet(m, pts, Vjet, degree=3), 2, PhaseSpace(1))
                          for m in lines]
            self._star_V = key.copy()
        n = 0.0
        for j, star in enumerate(self._star):
            fj = spectral_jet(f[..., j], self.length, self.model.reciprocal[0, 0], 3)
            w = wigner_trace(star, canonical_distribution(star, fj, 2), 2).sum(axis=0)
            n = n + np.moveaxis(w.reshape(self.nx, self.nk, -1), -1, 0).sum(axis=2)
        return n * self.weight

    def current(self, f=None, t=None):
        """Band-resolved particle current along x (N, nx), 1/(Å^{d-1} s): the cell-centre moment ∫dk/(2π)^d J^x.

        Orders 0 and 1: J^x = ẋ f with the cell-averaged band velocity (model(x): the mean of the two x-face
        velocities). Order 2: the x-current of the O(ħ²) conservation law of the conserved density ρf,

        .. math:: J^x_n = \\frac{1}{\\hbar}\\Big[f_n\\big(\\partial_kh_n + \\hbar G_n\\,\\partial_tV'_{eff}\\big)
                  - \\tfrac{1}{24}\\partial_x^2(f_n\\varepsilon_n^{(3)})\\Big],\\qquad V'_{eff} = V' + E,

        at the cell centres: f_ij times the mean of the corner-difference velocities ∂_kh/ħ of the two x-faces
        (h = ε + V + h_2 with V'_eff, V''_eff), the instantaneous ∂_tW (:meth:`_order2_wdot`) averaged over the
        two faces, and the central second difference of f ε^(3) (its sum over x vanishes). Summed over x it equals
        the sum of the scheme's face fluxes (:meth:`face_current`) up to the upwind correction of the
        reconstruction (O(dx²) where f is smooth; zero for an x-independent f). With a uniform field this contains
        the O(E²) velocity -∂_k(GE²)/2ħ of h_2. It is the current of the band distribution, not the star-dressed
        particle current of :meth:`physical_density` (whose O(ħ²) dressing is not built for the current)."""
        f = self.f if f is None else f
        if self.order < 2:
            return self.weight * (self._vcell * f).sum(axis=(2, 3))
        t = self.t if t is None else t
        F = self._order2_fields(t)
        v = 0.5 * (F["vx"] + np.roll(F["vx"], 1, 1))                            # centre: mean of the x-faces
        wdot = self._order2_wdot(t)
        if wdot is not None:
            v = v + self._o2k["G_c"] * 0.5 * (wdot + np.roll(wdot, 1, 1))
        return self.weight * (v * f - self._moyal_d2x(f) / (24 * self.hbar)).sum(axis=(2, 3))

    def face_current(self, f=None, t=None):
        """Band-resolved particle flux through the x-faces x_{i-1/2}, i = 0..nx (N, nx+1), 1/(Å^{d-1} s): the
        scheme's own (upwind, reconstructed) flux, whose differences change the density, so in a steady state
        with number-conserving collisions Σ_n of it is uniform in x. (:meth:`current` is the cell-centre moment
        ∫ ẋ f, which differs from it by the upwind correction ~ |ẋ| dx ∂_x f, large where f varies quickly, e.g.
        at a sharp domain wall.) Order 2: the face flux of the O(ħ²) current (:meth:`current`; the time flux with
        the instantaneous ∂_tW). With ``well_balanced`` the flux of the balanced equilibrium is subtracted, as
        the scheme subtracts its transport: the flux that changes the density."""
        f = self.f if f is None else f
        t = self.t if t is None else t
        raw = self._raw_face_flux(f, t)
        if self._f_balanced is not None:
            raw = raw - self._raw_face_flux(self._f_balanced, t)
        return raw

    def _raw_face_flux(self, f, t):
        if self.order == 2:                        # the x-flux of the O(ħ²) current (instantaneous ∂_tW)
            Fx = self._order2_xflux(f, self._order2_fields(t), self._order2_wdot(t))
            Fx = np.concatenate([Fx[:, -1:], Fx], axis=1)
        else:
            Fx = self._x_face_flux(f, t)
        return self.weight * Fx.sum(axis=(2, 3))

    def moments(self) -> xr.Dataset:
        """Current n, jx (and jy in 2D) as an xarray Dataset with dims (band, x); at orders 0 and 1 also the local
        chemical potential ``mu_local`` (x, eV), the energy and heat currents ``jE``, ``jQ`` (eV/(Å^{d-1} s)) and in
        2D the transverse transport currents ``jy_transport``, ``jQy`` (:mod:`.heat`)."""
        data = {"n": (("band", "x"), self.density()), "jx": (("band", "x"), self.current())}
        if self.velocity_y is not None:
            data["jy"] = (("band", "x"), self.current_y())
        data.update(self.heat_moments())
        ds = xr.Dataset(data, coords={"band": np.arange(self.nbands), "x": self.x})
        ds.attrs.update(time=self.t)
        return ds

    def snapshot(self, f=None) -> xr.DataArray:
        """The phase-space distribution f_n(x, k_x[, k_y]) as an xarray DataArray with dims
        (band, x, k[, k_y]) and coordinates (Å, 1/Å), attrs ``time`` (s): for phase-space portraits."""
        f = self.f if f is None else f
        coords = {"band": np.arange(self.nbands), "x": self.x, "k": self.k}
        if self.model.dim == 2:
            dims, data = ("band", "x", "k", "k_y"), f.copy()
            coords["k_y"] = self.ky
        else:
            dims, data = ("band", "x", "k"), f[..., 0].copy()
        da = xr.DataArray(data, dims=dims, coords=coords, name="f")
        da.attrs.update(time=self.t, units="occupation (dimensionless); x: A, k, k_y: 1/A")
        return da

