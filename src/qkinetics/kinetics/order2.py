"""The order-2 terms: the O(ħ²) Liouville current of H_0(k) + V(x, t) (+ an applied field), its Moyal fluxes,
the Liouville density ρ = 1 - G V'', the time flux, and the SSP-RK2 step of the conserved ρf.

Order 2 (``order=2``; 1D and 2D models, V(x) or V(x, t), relaxation ``"global"``, ``"bare"`` or ``"local"``).
The O(ħ²) current of :func:`qkinetics.moyal.phase_space.phase_space_current` (``convention="liouville"``, derivation in
its module docstring) for H_0(k) + V(x, t) in one dimension:

.. math::
    \\partial_t(\\rho f_n) + \\frac{1}{\\hbar}\\partial_x\\Big[f_n\\big(\\partial_kh_n + \\hbar G_n\\partial_tV'\\big)
    - \\tfrac{1}{24}\\partial_x^2(f_n\\varepsilon_n^{(3)})\\Big]
    + \\frac{1}{\\hbar}\\partial_k\\Big[-f_n\\partial_xh_n + \\tfrac{1}{24}\\partial_k^2(f_nV^{(3)})\\Big]
    = -\\rho\\,\\frac{f_n - f^{loc}_n}{\\tau},

with :math:`h_n = \\varepsilon_n + V - \\tfrac12G_nV'^2 + \\tfrac12g_nV''` (h_1 = 0 here), the Liouville
density :math:`\\rho = 1 - G_nV''` (ħ = 1 in Å, 1/Å; :math:`\\rho\\{\\pi^x, \\pi^k\\} = 1` exactly in 1D, so
the flux is f times the canonical velocity of h) and the Moyal terms; V, V', V'', V''' at the current time.
The time term is the anomalous velocity of the time curvature, :math:`J^x \\ni \\rho f\\,\\Omega_{tk}` with
:math:`\\Omega^{(1)}_{tk} = G\\,\\partial_t\\partial_xV` and :math:`\\Omega^{(1)}_{tx} = 0` (the star engine in
(x, k, t), tested; Ω^(0) = 0 since the Bloch states depend on k only); by the Bianchi identity
:math:`\\partial_t\\rho + \\partial_x(G\\partial_tV') = 0`, so a filled band stays filled. f is the
gauge-invariant band distribution and ρf its conserved phase-space density (:meth:`KineticSolver.density`).
The x-current output (:meth:`KineticSolver.current`, ``jx``) is ∫dk/(2π)^d of the J^x above at the cell centres
(the O(ħ²) velocity ∂_kh/ħ, the time flux and the Moyal term; its sum over x equals that of the scheme's face
fluxes, :meth:`KineticSolver.face_current`, up to the upwind correction, tested), the current of the band
distribution (the star dressing of the current is not built).
Relaxation targets: ``"global"``, the O(ħ²) equilibrium of the instantaneous V,
:math:`f(h)_\\star = f_{FD}(h - \\mu) - [Df^{(2)}/16 + Qf^{(3)}/24]`,
:math:`D = 2V''\\varepsilon''`, :math:`Q = V''\\varepsilon'^2 + \\varepsilon''V'^2` (:mod:`.equilibrium`),
which the O(ħ²) current leaves stationary (tested on general Hamiltonians); ``"local"``, the same with μ
replaced by μ̃(x, t) solved per cell so that :math:`\\sum_n\\int\\rho f^{loc}_n = \\sum_n\\int\\rho f_n` (the
conserved local density; the Wigner-Kirkwood terms keep the derivatives of h only, μ̃ being the collisions'
Lagrange multiplier), so the static f(h)_⋆ at uniform μ is a fixed point; ``"bare"``, f_FD(ε_n - μ), which is
the band-diagonal part of the Lindhard relaxation target f_FD(H_0 - μ) in the frame of H to linear order in V
(its O(ħ²) diagonal correction is ∝ V'², the V'' coefficient vanishes: checked with the star engine; the
O(ħ) off-diagonal part of that target is not represented). The particle density in
real space is the star dressing :math:`\\int dk/2\\pi\\,\\mathrm{tr}\\,U\\star\\tilde f\\star U^\\dagger`
(:meth:`KineticSolver.physical_density`, U of the instantaneous H), which carries the quantum-metric and
band-normalized-metric terms of the density. Checks (tests): against exact supercell diagonalization of a
Rice-Mele chain in V0 cos(qx), the error of the first harmonic falls as q² at order 1 and as q⁴ at order 2
(also with ``"local"``, and after slowly switching V on); the dynamic density response to
V0 cos(qx - ωt) with ``"bare"`` approaches the multiband Lindhard function (η = ħ/τ) as q⁴ at order 2 and q²
at order 1 (ω, 1/τ ∝ q; tests/test_kinetics_order2_lindhard.py); a strong travelling wave with ``"global"``
matches the exact density-matrix evolution with relaxation to f(H(t)) about 20 times better at order 2 than at
order 1 (first and second harmonics; slow test).

Discretization at order 2: h on the cell corners (x_{i+1/2}, k_{j+1/2}); the face velocities are corner
differences, so the discrete divergence of the flow vanishes exactly (discrete Liouville); the Moyal
fluxes are the means of the two neighbouring central second differences. The V-dependent fields are
recomputed whenever V changes (each RK stage of a moving V: FFT x-derivatives of V times k-only band data).
The time flux sits on the x-faces as :math:`G\\,\\partial_tW_{i+1/2}` with W the face values whose differences
are exactly dx V''(x_i) (so it balances the discrete ∂_tρ), ∂_tW the step's mean [W(t_1) - W(t_0)]/dt; the
conserved ρf is stepped, so particle number is conserved to round-off and f = 1 stays exactly 1.
``well_balanced=True`` (the default at order 2 for a static V; a time-dependent V needs ``False``, the
default then, and raises otherwise) subtracts the discrete transport of the static equilibrium, zero in the
continuum to this order, so the equilibrium is an exact discrete steady state. The explicit time step is
limited by the dispersive Moyal terms, dt ∝ min(dx³/|ε'''|, dk³/|V'''|).

Implicit dispersion (``dispersion="imex"``). The two Moyal terms are linear in f with a coefficient constant along
their own axis (ε⁽³⁾(k) along x, V⁽³⁾_eff(x) along k) and antisymmetric stencils, so each is a skew operator L with a
purely imaginary Fourier symbol along that axis. They are stepped by Crank-Nicolson, (ρ - hL/2)δ = hLg, which is
unconditionally stable for a skew L, and the rest (advection, time flux, collisions, well-balancing residual) by
the explicit SSP-RK2 step above; Strang splitting, D_x(dt/2) D_k(dt/2) · explicit(dt) · D_k(dt/2) D_x(dt/2), keeps
second order in dt (measured: error ratio 4.7 and 3.9 per halving). The step is then the advective CFL step. Each
implicit solve is a preconditioned Richardson iteration with P = ρ̄ - hL̂/2 (ρ̄ the mean of ρ = 1 - GV''_eff along
the axis: diagonal by a real FFT), contracting by max|ρ - ρ̄|/ρ̄ per iteration (about 6 iterations to 10⁻¹⁴ for
|1 - ρ| ~ 10⁻²). The discrete identities survive: L maps a constant along its axis to exactly 0, so a filled band
f = 1 gets exactly zero implicit increment and the explicit part is the scheme above (f = 1 stays 1 to round-off);
Σρδ = 0 up to the solve's tolerance (number conserved); with ``well_balanced`` the implicit step acts on f - f_eq and
the explicit part subtracts the equilibrium's advective residual, so f_eq stays a discrete steady state.

2D models at order 2: V = V(x) makes k_y a parameter (k̇_y = 0) and nothing depends on y, so the (y, k_y)
pair drops out of every Moyal term, of Ω (Ω_{y·} = 0) and of the canonical map's effect on f, and every k_y
line is the 1D problem above with the model sliced at k_y: ε and its k_x-derivatives, G = G^{xx}, g = g^{xx}
(vectorized over k_y; tested against the 1D solver on tight-binding slices and exact strip densities). The
transverse current ``jy`` is the order-1 expression (band velocity plus Ω^{xy} anomalous velocity); the O(ħ²)
terms of J^y (∂_{k_y}h_2, G^{yx}V''∂_{k_x}h, its Moyal term) are not built.
"""

import numpy as np

from ..models.base import ModelError
from .fluxes import upwind_flux

__all__ = ["Order2Terms"]


class _KyLine:
    """A 2D band model on the line of fixed k_y, as a 1D model in k_x (H_0(k_x, k_y) and its k_x-derivatives),
    for :func:`~qkinetics.moyal.diagonalize.separable_hamiltonian_jet` (order 2 in 2D, V = V(x))."""

    dim = 1

    def __init__(self, model, ky):
        self.model, self.ky = model, float(ky)
        self.norb, self.max_derivative_order = model.norb, model.max_derivative_order

    def hamiltonian(self, k, order=0):
        k = np.atleast_2d(np.asarray(k, dtype=float))
        ders = self.model.hamiltonian(np.column_stack([k[:, 0], np.full(len(k), self.ky)]), order=order)
        return tuple(dn[(slice(None),) + (slice(0, 1),) * n] for n, dn in enumerate(ders))



class Order2Terms:
    """The O(ħ²) flow, Moyal fluxes, ρ and time flux of a uniform model in V(x, t) (+ E(x, t)) on a periodic x
    grid (a part of :class:`.KineticSolver`; module docstring). The k-only band data are set once
    (:meth:`_setup_order2`); the V- and E-dependent fields are cached per time (:meth:`_order2_fields`)."""

    def _setup_order2(self, kfaces):
        """k-only O(ħ²) band data (module docstring), computed once; the V-dependent fields (h on the
        cell corners, face velocities, ρ, V^(3), h_2) follow from it at any time (:meth:`_order2_fields`)."""
        from ..geometry import band_geometry
        from ..moyal.diagonalize import eigen_jet
        from ..moyal.jet import jet_from_derivatives
        m = np.fft.fftfreq(self.nx, d=1.0 / self.nx)
        if self.nx % 2 == 0:
            m[self.nx // 2] = 0.0
        self._ikx = 2j * np.pi * m / self.length
        # x-faces x_{i+1/2} from spectral face values W_i with (W_i - W_{i-1})/dx = V''(x_i) exactly (FV-consistent
        # antiderivative of the cell-centre V''); the time flux G ∂_tW then balances ∂_tρ to round-off
        with np.errstate(divide="ignore", invalid="ignore"):
            self._face_antiderivative = np.where(m != 0, self.dx / (1.0 - np.exp(-2j * np.pi * m / self.nx)), 0.0)
        d, N, nky = self.model.dim, self.nbands, self.nky
        grid = self._kgrid

        def col(a, nkx):                                # (nkx nky, N) -> (N, 1, nkx, nky)
            return np.moveaxis(np.asarray(a).reshape(nkx, nky, N), -1, 0)[:, None]
        bgf = band_geometry(self.model, grid(kfaces))
        bgc = band_geometry(self.model, grid(self.k))
        # band data on the k_x faces (corners) and the cell centres; in 2D per k_y line, with the xx components
        # of G and g (V depends on x only)
        nf, nc = len(kfaces), self.nk
        self._o2k = dict(eps_f=col(bgf.energies, nf), G_f=col(bgf.normalized_metric[:, :, 0, 0], nf),
                         g_f=col(bgf.quantum_metric[:, :, 0, 0], nf), G_c=col(bgc.normalized_metric[:, :, 0, 0], nc),
                         g_c=col(bgc.quantum_metric[:, :, 0, 0], nc))
        Hk = self.model.hamiltonian(grid(self.k), order=3)
        eps, _ = eigen_jet(jet_from_derivatives(list(Hk), 3))
        self._e1, self._e2, self._e3 = (col(np.real(eps.derivative((n,) + (0,) * (d - 1))), nc) for n in (1, 2, 3))
        self._o2_cache = []
        self._star = self._star_V = None

    def _spectral_derivatives(self, values, orders):
        """∂_x^n of a periodic grid function (FFT, Nyquist dropped), for each n in ``orders``."""
        F = np.fft.fft(values)
        return [np.real(np.fft.ifft(self._ikx ** n * F)) for n in orders]

    def _order2_fields(self, t):
        """The V(t)- and E(t)-dependent O(ħ²) fields at time t (cached while V and E do not change).

        The flow sees the effective gradient V'_eff = V' + E (an applied field enters like the gradient of a
        potential; E need not have zero mean, so V + ∫E is not periodic and is never formed): h = ε + V
        + h_2(V'_eff, V''_eff) on the corners (x_{i+1/2}, k_{j+1/2}), h_2 = -GV'_eff²/2 + gV''_eff/2, the k-face
        force -∂_xh/ħ from corner differences of h plus the field's -Ē_i/ħ (cell average, as at orders 0 and 1),
        ρ = 1 - GV''_eff, the Moyal coefficient V⁽³⁾_eff and the face values W of V'_eff; V^(n) spectral from V at
        the centres (faces for the corners), E^(n) spectral from the point values of E (periodic in x, any mean:
        the mean drops out of the derivatives).

        Returns a dict: ``vx`` ∂_kh/ħ at the x-faces, ``fk`` -∂_xh/ħ - Ē/ħ at the k-faces, ``rho`` = 1 - G V''_eff
        at the cell centres, ``V3`` (V⁽³⁾_eff at the centres, shape (1, nx, 1, 1)), ``W`` (face values of V'_eff
        whose differences are dx V''_eff(x_i) exactly, plus the mean of E, shape (1, nx, 1, 1), for the time flux
        G ∂_tW), ``V1``, ``V2``, ``h2`` (V', V'' and h_2 = -GV'²/2 + gV''/2 of V alone at the centres: the
        relaxation targets, which do not see the field) and ``key`` (V at the centres and E at the sample
        points, the cache key). With ``well_balanced`` a change raises (the subtracted residual is that of the
        static equilibrium)."""
        Vc = self.V(t)
        xf = self.x_faces[1:]                                                   # faces x_{i+1/2}
        if self.field_function is not None:
            Ef, Ec, Ebar = self.field_at(xf, t), self.field_at(self.x, t), self.field(t)
            key = np.concatenate([Vc, Ef, Ec, Ebar])
        else:
            key = Vc
        for c in self._o2_cache:                        # the two latest (an RK step alternates t_0 and t_1)
            if np.array_equal(c["key"], key):
                return c
        if self._o2_cache and self.well_balanced:
            raise ModelError(f"V(x, t) changed at t = {t:.3e} s but well_balanced=True assumes a static potential; "
                             "pass well_balanced=False for a time-dependent V.")
        k = self._o2k
        Vf = self.V(t, xf)
        Vf1, Vf2 = self._spectral_derivatives(Vf, (1, 2))
        V1, V2, V3 = self._spectral_derivatives(Vc, (1, 2, 3))
        grid = lambda a: a[None, :, None, None]                                 # noqa: E731
        if self.field_function is not None:             # V^(n)_eff = V^(n) + E^(n-1)
            Ef1 = self._spectral_derivatives(Ef, (1,))[0]
            E1, E2 = self._spectral_derivatives(Ec, (1, 2))
            Vf1e, Vf2e, V2e, V3e, Wmean = Vf1 + Ef, Vf2 + Ef1, V2 + E1, V3 + E2, Ef.mean()
        else:
            Vf1e, Vf2e, V2e, V3e, Wmean = Vf1, Vf2, V2, V3, 0.0
        hcorner = k["eps_f"] + grid(Vf) + self._h2(k["G_f"], k["g_f"], Vf1e, Vf2e)  # (N, nx, nk+1, nky)
        hk = hcorner[:, :, 1:]                                                  # corners at k_{j+1/2}
        fk = -(hk - np.roll(hk, 1, axis=1)) / (self.dx * self.hbar)
        if self.field_function is not None:
            fk = fk - grid(Ebar) / self.hbar
        W = self._face_values(V2e, Wmean)
        c = dict(
            key=key.copy(), V1=grid(V1), V2=grid(V2), V3=grid(V3e), W=grid(W),
            vx=(hcorner[:, :, 1:] - hcorner[:, :, :-1]) / (self.dk * self.hbar), fk=fk,
            rho=1.0 - k["G_c"] * grid(V2e),                                     # ρ = 1 - ħ² G V''_eff
            h2=self._h2(k["G_c"], k["g_c"], V1, V2))
        self._o2_cache = self._o2_cache[-1:] + [c]
        return c

    def _order2_W(self, t):
        """The face values W of V'_eff = V' + E at time t (those of :meth:`_order2_fields`, not cached), (nx,)."""
        V2e = self._spectral_derivatives(self.V(t), (2,))[0]
        Wmean = 0.0
        if self.field_function is not None:
            V2e = V2e + self._spectral_derivatives(self.field_at(self.x, t), (1,))[0]
            Wmean = self.field_at(self.x_faces[1:], t).mean()
        return self._face_values(V2e, Wmean)

    def _face_values(self, V2e, Wmean):
        """Face values W_i (x_{i+1/2}) with (W_i - W_{i-1})/dx = V''_eff(x_i) exactly, plus ``Wmean`` (the mean of E)."""
        return np.real(np.fft.ifft(self._face_antiderivative * np.fft.fft(V2e))) + Wmean

    @staticmethod
    def _h2(G, g, V1, V2):
        """h_2 = -G V'²/2 + g V''/2 (:func:`~qkinetics.moyal.diagonalize.separable_band_energy`) for k-only G, g
        (N, 1, nk, nky) (the xx components) and V', V'' (nx,): (N, nx, nk, nky)."""
        from ..moyal.diagonalize import separable_band_energy
        N, nk, nky, nx = G.shape[0], G.shape[2], G.shape[3], len(V1)
        m = nk * nky

        def rep(a):                                     # (N, 1, nk, nky) -> (nx nk nky, N, 1, 1), x major
            return np.broadcast_to(np.moveaxis(a[:, 0], 0, -1)[None], (nx, nk, nky, N)).reshape(-1, N, 1, 1)
        h2 = separable_band_energy(rep(G), rep(g), np.repeat(V1, m)[:, None], np.repeat(V2, m)[:, None, None])
        return np.moveaxis(h2.reshape(nx, nk, nky, N), -1, 0)


    def _order2_xflux(self, f, F, wdot=None, moyal=True):
        """The scheme's x-flux of the O(ħ²) current through the faces x_{i+1/2} (index i), (N, nx, nk, nky):
        upwind-reconstructed f times (∂_kh + ħG∂_tW)/ħ minus the Moyal flux ∂_x²(f ε^(3))/(24ħ) (the mean of the
        two neighbouring central second differences). ``wdot`` is ∂_tW (1, nx, 1, 1) or None (frozen V, E)."""
        vx = F["vx"] if wdot is None else F["vx"] + self._o2k["G_c"] * wdot
        Fx = upwind_flux(f, vx, 1, self._limiter)
        if not moyal:
            return Fx
        d2x = self._moyal_d2x(f)
        return Fx - (d2x + np.roll(d2x, -1, 1)) / (48 * self.hbar)

    def _moyal_d2x(self, f):
        """Central second difference ∂_x²(f ε^(3)) at the cell centres (periodic x), the Moyal x-term."""
        qx = f * self._e3
        return (np.roll(qx, -1, 1) - 2 * qx + np.roll(qx, 1, 1)) / self.dx ** 2

    def _order2_divergence(self, f, F, wdot=None, moyal=True):
        """∂_xJ^x + ∂_kJ^k of the O(ħ²) current (module docstring) for the fields F of :meth:`_order2_fields`:
        J^x = f (∂_kh + ħ G ∂_tV'_eff)/ħ - ∂_x²(f ε^(3))/(24ħ), J^k = -f (∂_xh + E)/ħ + ∂_k²(f V_eff^(3))/(24ħ).
        ``wdot`` is ∂_tW (1, nx, 1, 1) at the x-faces (the time flux of Ω_{tk} = G ∂_tV'_eff; None for a frozen
        V and E). ``moyal=False`` leaves out the two Moyal fluxes (the dispersive part, stepped implicitly by
        :meth:`_disperse` with ``dispersion="imex"``)."""
        Fx = self._order2_xflux(f, F, wdot, moyal)
        Fk = upwind_flux(f, F["fk"], 2, self._limiter)
        if not moyal:
            return (Fx - np.roll(Fx, 1, 1)) / self.dx + (Fk - np.roll(Fk, 1, 2)) / self.dk
        # Moyal flux K^k = (1/24) ∂_k²(f V_eff^(3)) at the k-faces (mean of the two neighbouring central second
        # differences), divided by ħ like the velocities
        qk = f * F["V3"]
        d2k = (np.roll(qk, -1, 2) - 2 * qk + np.roll(qk, 1, 2)) / self.dk ** 2
        Fk = Fk + (d2k + np.roll(d2k, -1, 2)) / (48 * self.hbar)
        return (Fx - np.roll(Fx, 1, 1)) / self.dx + (Fk - np.roll(Fk, 1, 2)) / self.dk

    def _order2_wdot(self, t):
        """Instantaneous ∂_tW at time t (1, nx, 1, 1) (central difference, step δ = 10⁻³ of the transport CFL
        step: truncation (ωδ)² and round-off 10⁻¹⁶/(ωδ) relative, both negligible), or None when V and E are
        static there (the difference is then exactly zero)."""
        F = self._order2_fields(t)
        rate = self._order2_rate(F)
        delta = 1e-3 * self.cfl / rate if rate > 0 else 1e-18
        dW = self._order2_W(t + delta) - self._order2_W(t - delta)
        if not np.any(dW):
            return None
        return (dW / (2 * delta))[None, :, None, None]

    def _order2_rate(self, F):
        """The advective CFL rate max|∂_kh|/(ħ dx) + max|k̇|/dk of the order-2 fields F (1/s)."""
        return np.abs(F["vx"]).max() / self.dx + np.abs(F["fk"]).max() / self.dk

    def _transport_order2(self, f, t=None):
        """∂_tf = -(∂_xJ^x + ∂_kJ^k)/ρ with V frozen at t (no time flux, ∂_tρ = 0)."""
        F = self._order2_fields(self.t if t is None else t)
        return -self._order2_divergence(f, F) / F["rho"]

    def _step_order2(self, dt, t_fixed=None):
        """SSP-RK2 (Heun) step of the conserved ρf (order 2), the fields recomputed at the stage times.

        The time flux uses the step's mean ∂_tW = [W(t_1) - W(t_0)]/dt in both stages, so for f = 1 the update of
        ρf is exactly ρ(t_1) - ρ(t_0) (discrete Liouville: a filled band stays filled to round-off), and Σρf
        changes only through the collisions (the face fluxes telescope)."""
        t0 = self.t if t_fixed is None else t_fixed
        t1 = self.t + dt if t_fixed is None else t_fixed
        F0, F1 = self._order2_fields(t0), self._order2_fields(t1)       # F1 is the cache now; F0 stays valid
        wdot = None if t_fixed is not None or F1 is F0 else (F1["W"] - F0["W"]) / dt
        imex = self.dispersion == "imex"
        residual = self._residual_advective if imex else self._residual

        def rate(f, F, t):                                              # ∂_t(ρf)
            out = -self._order2_divergence(f, F, wdot, moyal=not imex)
            if residual is not None:
                out -= F["rho"] * residual
            if np.isfinite(self.tau):
                out -= F["rho"] * (f - self.f_local(f, t)) / self.tau
            return out
        if imex:                                                        # Strang: D(dt/2) [x, k], explicit, D(dt/2) [k, x]
            self.f = self._disperse(self.f, F0, 0.5 * dt, (1, 2))
        f0 = self.f
        u0 = F0["rho"] * f0
        u1 = u0 + dt * rate(f0, F0, t0)
        f1 = u1 / F1["rho"]
        self.f = 0.5 * (u0 + u1 + dt * rate(f1, F1, t1)) / F1["rho"]
        if imex:
            self.f = self._disperse(self.f, F1, 0.5 * dt, (2, 1))
        if t_fixed is None:
            self.t += dt
        self.steps += 1


    def _order2_max_dt(self, t=None):
        """The explicit step at order 2: the advective CFL rate plus the dispersive Moyal rate
        max|ε'''|/(3ħ dx³) + max|V'''|/(3ħ dk³), and the time-flux velocity G ∂_tW of a moving V; <= τ/2."""
        t = self.t if t is None else t
        F = self._order2_fields(t)
        rate = self._order2_rate(F)
        if self.dispersion == "explicit":
            rate = rate + (np.abs(self._e3).max() / self.dx ** 3 + np.abs(F["V3"]).max() / self.dk ** 3) / (3 * self.hbar)
        dt = self.cfl / rate
        if not self.well_balanced:                  # the time-flux velocity G ∂_tW, from a probe step
            wdot = np.abs(self._order2_W(t + dt) - F["W"][0, :, 0, 0]).max() / dt
            if wdot > 0:
                dt = self.cfl / (rate + np.abs(self._o2k["G_c"]).max() * wdot / self.dx)
        return min(dt, 0.5 * self.tau) if np.isfinite(self.tau) else dt

    # ------------------------------------------------------------------ implicit dispersion (dispersion="imex")
    def _moyal_rate(self, g, F, axis):
        """The Moyal part of ∂_t(ρf) along one axis for the distribution g: axis 1 (x), -∂_xK^x with
        K^x = -∂_x²(g ε^(3))/(24ħ); axis 2 (k), -∂_kK^k with K^k = ∂_k²(g V_eff^(3))/(24ħ) (the fluxes of
        :meth:`_order2_divergence`, the same stencils)."""
        if axis == 1:
            d2 = self._moyal_d2x(g)
            K = -(d2 + np.roll(d2, -1, 1)) / (48 * self.hbar)
            return -(K - np.roll(K, 1, 1)) / self.dx
        q = g * F["V3"]
        d2 = (np.roll(q, -1, 2) - 2 * q + np.roll(q, 1, 2)) / self.dk ** 2
        K = (d2 + np.roll(d2, -1, 2)) / (48 * self.hbar)
        return -(K - np.roll(K, 1, 2)) / self.dk

    def _moyal_symbol(self, F, axis):
        """Fourier symbol of :meth:`_moyal_rate` along ``axis`` (modes 0..n/2 of a real FFT) (its coefficient ε^(3) or V^(3) is constant along the
        axis): e^{iθm} ↦ c · 2i sinθ (2cosθ - 2)/(48ħ h³), c = ε^(3) (x) or -V^(3) (k), h = dx or dk. Purely
        imaginary: the dispersive operator is skew, so the Crank-Nicolson step is unconditionally stable."""
        n = self.shape[axis]
        th = 2 * np.pi * np.fft.rfftfreq(n)                         # real FFT: the modes m = 0..n/2
        base = 2j * np.sin(th) * (2 * np.cos(th) - 2) / (48 * self.hbar)
        shape = [1, 1, 1, 1]
        shape[axis] = len(th)
        base = base.reshape(shape)
        if axis == 1:
            return self._e3 * base / self.dx ** 3
        return -F["V3"] * base / self.dk ** 3

    def _crank_nicolson(self, g, F, axis, h, tol=1e-14, maxiter=200):
        """One Crank-Nicolson step over h of ρ ∂_tg = L g, L the Moyal operator along ``axis`` (ρ frozen):

        .. math:: (\\rho - \\tfrac{h}{2}L)\\,\\delta = hLg,\\qquad g \\to g + \\delta,

        solved by preconditioned Richardson iteration with P = ρ̄ - (h/2)L̂ (ρ̄ the mean of ρ along the axis, L̂
        the Fourier symbol: diagonal by FFT along the axis, since L's coefficient is constant there); the error
        contracts by max|ρ - ρ̄|/ρ̄ per iteration (|P| >= ρ̄, L̂ imaginary). Σρδ = (h/2)Σ L(δ + 2g) = 0: the number
        is conserved (to the solve's tolerance, 10⁻¹⁴ of max|g|); g = 0 (or any g that L maps to 0, e.g. a filled
        band f = 1) gives δ = 0 exactly."""
        r = h * self._moyal_rate(g, F, axis)
        scale = np.abs(g).max()
        if not np.any(r):
            return g
        rho = np.broadcast_to(F["rho"], g.shape)
        P = rho.mean(axis=axis, keepdims=True) - 0.5 * h * self._moyal_symbol(F, axis)
        delta = np.zeros_like(g)
        res = r
        for _ in range(maxiter):
            upd = np.fft.irfft(np.fft.rfft(res, axis=axis) / P, n=g.shape[axis], axis=axis)
            delta += upd
            if np.abs(upd).max() <= tol * scale:
                break
            res = r - (rho * delta - 0.5 * h * self._moyal_rate(delta, F, axis))
        else:
            raise ModelError(f"dispersion='imex': the implicit Moyal step did not converge in {maxiter} iterations "
                             f"(rho varies too much along the axis: max |1 - rho| = {np.abs(1 - rho).max():.2f}); "
                             "use dispersion='explicit'.")
        return g + delta

    def _disperse(self, f, F, h, axes):
        """The dispersive Moyal terms over h: Crank-Nicolson along each axis in ``axes`` in turn (x then k, or k then
        x: Strang-symmetric around the explicit step). With ``well_balanced`` the operator acts on f - f_eq (the
        equilibrium's own Moyal transport is subtracted, as the explicit scheme subtracts its residual)."""
        base = self._f_balanced if self.well_balanced else None
        g = f - base if base is not None else f
        for axis in axes:
            g = self._crank_nicolson(g, F, axis, h)
        return g + base if base is not None else g
