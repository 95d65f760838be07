"""Finite-volume phase-space kinetic solver for band densities f_n(x, k_x[, k_perp], t): the time stepping.

Equation
--------
For each band n (no interband coherence: band-diagonal densities, the setting of
:mod:`qkinetics.moyal.phase_space`), inhomogeneous along one real-space direction x,

.. math::
    \\partial_t (\\rho f_n) + \\partial_x J^x_n + \\partial_{k_x} J^k_n = -\\rho\\,\\frac{f_n - f^{loc}_n}{\\tau},

the Liouville current of :math:`H = H_0(k) + V(x, t)` (separable phase-space Hamiltonian,
:class:`~qkinetics.moyal.phase_space.PhaseSpaceModel`) to the chosen order in ħ: at order 0,
:math:`J^x = \\dot x f`, :math:`J^k = \\dot k f`, ẋ = ∂_kε/ħ, k̇ = -∂_xV/ħ, ρ = 1 (:mod:`.order0`); order 1 adds
the anomalous velocity transverse to x (:mod:`.order1`) and, for an x-dependent model(x), the mixed Berry
curvature ρ = 1 - Ω_xk and h_1 (:mod:`.texture`); order 2 the O(ħ²) current of :mod:`.order2`. An applied field
E(x, t) adds its force (:mod:`.field`). x is periodic with period ``length`` (Å) or open (:mod:`.boundaries`);
k_x runs over the Brillouin zone of a lattice model (periodic). In 2D models the transverse momentum k_y is a
parameter grid: V depends on x only, so k̇_y = 0 and every k_y line evolves independently, unless a magnetic field
B_z couples them (:mod:`.magnetic`: the Lorentz force, and at order 1 ρ = 1 + (e/ħ)BΩ).

The parts
---------
:class:`KineticSolver` is assembled from parts, one module each (PyClaw's separation of state, solver, Riemann
solvers and boundary conditions):

=====================  =====================================================================================
:mod:`.grid`           the phase-space grid (cells, faces, measures) and the shape of the state f
:mod:`.order0`         ε_n(k) in V(x, t): exact cell-averaged velocities, the force, the momentum flow hook
:mod:`.order1`         the anomalous velocity Ω^{xy}k̇ of 2D models (transverse velocity and current)
:mod:`.order2`         the O(ħ²) current: h_2, ρ = 1 - GV'', Moyal fluxes, time flux, the ρf step
:mod:`.texture`        model(x): local bands at the corners, and at order 1 Ω_xk (plaquette Berry flux), h_1
:mod:`.field`          the applied field E(x, t): cell averages and point values
:mod:`.magnetic`       a uniform B_z in 2D: Lorentz force (stream function), D = 1 + bΩ, anomalous velocity
:mod:`.fluxes`         MUSCL reconstruction, slope limiters, upwind face fluxes
:mod:`.relaxation`     the collision targets (local, global, bare), the local μ̃ solve, T or T(x)
:mod:`.boundaries`     periodic or open x with equilibrium leads
:mod:`.observables`    densities, currents, face fluxes, moments, snapshots
:mod:`.heat`           energy and heat currents, local μ̃, transverse transport currents
:mod:`.kernels`        compiled (numba) kernels of the order-0/1 step: transport, local relaxation, RK2 stages
:mod:`.solver`         this module: the constructor, ∂_t f, SSP-RK2 steps, CFL, run, steady state
=====================  =====================================================================================

Models with a position matrix (Wannier90)
-----------------------------------------
In the Wannier basis the position operator is :math:`r = i\\partial_k + A^W(k)`, so the potential acts as
:math:`V(x + A^W(k))`. To O(ħ) the band dynamics needs only ε_n(k) and the Berry curvature of the Bloch states
(the wave-packet equations of motion), which :func:`qkinetics.geometry.band_geometry` gives with the position
block (the full Wannier interpolation): orders 0 and 1 of a uniform model accept such a model and use it.
Order 2 needs the second moments of r (``ORDER2_NEEDS``) and an x-dependent model(x) the overlaps of Wannier
functions at different x (``TEXTURE_NEEDS``): both refuse a position matrix with that reason.

Adding a term (e.g. a magnetic field B_z in 2D)
-----------------------------------------------
At orders 0 and 1 the transport is the upwind divergence of f times the face velocities of the phase-space
flow: the x faces (:mod:`.boundaries`) and every momentum axis in ``self._flow(t)``, a dict
``{axis: u}`` with u at the faces i+1/2 of that axis (axis 2 = k_x, 3 = k_y; periodic), broadcastable to
(N, nx, nk, nky); the CFL rate sums max|u|/spacing over the same entries. A new term is one more part: a class
in its own module, listed in :class:`KineticSolver`'s bases before :class:`.BandFlow`, whose ``_flow`` adds its
force to ``super()._flow(t)``. The magnetic field B_z (charge -e, ħk̇ ∋ -e ẋ × B) is built
this way in :mod:`.magnetic`: it adds -(e/ħ)B v_y to the k_x entry (k-dependent, at the k_x faces) and creates
the k_y entry +(e/ħ)B v_x (at the k_y faces), so the k_y lines couple; those face velocities are corner
differences of one stream function, so the discrete divergence of the flow stays zero, as it does for the terms
here. If the
term changes the phase-space density of states it also sets ``self._rho`` (the transport divides by ρ, the
densities weight by it, as for the texture). Observables that see the term (the transverse velocity) are
overridden the same way.

Scheme
------
Unsplit, SSP-RK2 (Heun) in time, dt = cfl / (max|ẋ|/dx + Σ_axes max|u|/spacing) (order 1 with model(x): also
divided by min ρ), also <= τ/2; order 2 adds the dispersive Moyal rate (:meth:`.Order2Terms._order2_max_dt`).
``well_balanced=True`` (the default at order 2 for a static V) subtracts the discrete transport of the static
equilibrium, zero in the continuum to the working order, so that equilibrium is an exact discrete steady state
(particle number is still conserved: that residual sums to zero). At orders 0 and 1 on a periodic x grid the
transport, the ``"local"`` relaxation and the RK2 stages run through the compiled kernels of :mod:`.kernels` when
numba is available (``compiled``; the same arithmetic, tested against this numpy form), about five times faster;
a k_y flow (the magnetic field) has its own kernel.
At order 2 ``dispersion="imex"`` steps the dispersive Moyal terms implicitly (:mod:`.order2`), so the step is the
advective CFL step.
"""

from __future__ import annotations

import time as _time

import numpy as np
import xarray as xr

from .. import units
from ..models.base import Model, ModelError
from ..models.tight_binding import check_diagonal_positions
from . import kernels
from .boundaries import Boundaries
from .field import AppliedField
from .fluxes import LIMITERS, upwind_flux
from .grid import PhaseSpaceGrid
from .heat import HeatCurrents
from .magnetic import MagneticField
from .observables import Observables
from .order0 import BandFlow
from .order1 import AnomalousVelocity
from .order2 import Order2Terms
from .relaxation import Relaxation
from .texture import TextureTerms, plaquette_berry_flux

__all__ = ["KineticSolver", "LIMITERS", "benchmark_cell_updates", "plaquette_berry_flux"]

#: why a model(x) with a position matrix is refused (module docstring, "Models with a position matrix")
TEXTURE_NEEDS = (
    "the mixed Berry curvature Omega_xk of a texture needs the overlaps <w_m(x)|w_n(x + dx)> of the Wannier "
    "functions at neighbouring x (the x-derivative of the basis), which Wannier runs made separately at each x "
    "do not give: their gauges are unrelated.")
#: why order 2 refuses a model with a position matrix
ORDER2_NEEDS = (
    "in the Wannier basis the potential acts as V(x + A^W(k)) (r = i d_k + A^W), whose O(hbar^2) part "
    "(1/2) V''(x) <r_x r_x> needs the second moments <m,0|r_x r_x|n,R> between Wannier functions (the part "
    "<m|r_x Q r_x|n> through states outside the Wannier space), which a Wannier run does not give; the O(hbar^2) "
    "terms G V'' and h_2 of this order are built on them. Orders 0 and 1 need only the band energies and the "
    "Berry curvature of band_geometry, which carries the position block.")


class KineticSolver(HeatCurrents, Observables, Relaxation, Boundaries, Order2Terms, MagneticField, AnomalousVelocity,
                    TextureTerms, AppliedField, BandFlow, PhaseSpaceGrid):
    """Phase-space kinetic equation of band densities on an (x, k_x[, k_y]) grid (x periodic or open).

    Parameters
    ----------
    model : Model or callable
        Lattice band model, 1D or 2D; in 2D the reciprocal cell must be rectangular (x ⟂ y). Or a callable
        ``model(x) -> Model`` (x in Å; same dim, norb and lattice for all x) for x-dependent parameters
        (orders 0 and 1; order 1 adds the mixed Berry curvature Ω_xk and h_1, :mod:`.texture`); ``self.model``
        is then model(x_0).
    potential : callable, optional
        ``V(x, t)`` in eV for arrays x (Å) and a float t (s); periodic in x with period ``length`` for
        periodic boundaries (any V with open ones). Default 0.
    field : callable, optional
        ``E(x, t)``, the x component of an applied electric field in V/Å, for arrays x (Å) and a float t (s)
        (all orders). It adds the force on the electron (charge -e), ħk̇_x ∋ -eE, i.e. -E(x, t) in eV/Å:
        k̇_x = -[∂_xV + E]/ħ per cell (cell average, :mod:`.field`). A drive, not
        part of the equilibrium: the relaxation targets do not see it. Unlike V it may have a non-zero mean on
        a periodic ring (a uniform field). At order 2 every O(ħ²) term uses V'_eff = V' + E. Default: none.
    length : float
        Period of the x box, Å.
    nx, nk : int
        Cells in x and in k_x (over the Brillouin zone).
    nk_perp : int, optional
        k_y points (2D models; midpoint grid over the zone). Required for 2D.
    mu : float
        Initial / reference chemical potential (eV); the leads' μ with open boundaries.
    T : float or callable
        Temperature (K, > 0 with relaxation), or a profile ``T(x)`` (K, > 0, on arrays of x in Å; orders 0
        and 1); ``self.T`` is then T at the cell centres.
    tau : float
        Relaxation time (s); ``np.inf`` for collisionless.
    order : 0, 1 or 2
        Gradient order of the phase-space current (:mod:`.order0`, :mod:`.order1`, :mod:`.order2`; order 2: 1D and 2D models, uniform
        model and T, periodic x).
    relaxation : "local", "global" or "bare"
        Collision target (:mod:`.relaxation`): number-conserving local equilibrium, f_FD(eps + V - mu),
        or the unperturbed f_FD(eps - mu) (the relaxation behind the Lindhard function with eta = hbar/tau).
    limiter : key of :data:`LIMITERS`
    cfl : float
    hbar : float
        ħ in eV s (default ``units.hbar_eVs``).
    well_balanced : bool, optional
        Subtract the discrete transport of the static equilibrium f_eq (that of V(x), at this order) so that
        f_eq is an exact discrete steady state (static potentials, uniform T only). Default: True at order 2
        when V does not depend on time, else False.
    dispersion : "explicit" or "imex"
        Order 2: the dispersive Moyal terms (∂_x²(f ε⁽³⁾)/24, ∂_k²(f V⁽³⁾)/24, whose explicit step is limited by
        dx³ and dk³) stepped with the rest ("explicit", the default), or implicitly by Crank-Nicolson around the
        explicit SSP-RK2 step of the other terms (Strang splitting, second order; "imex"), so the step is the
        advective CFL step (:mod:`.order2`, "Implicit dispersion").
    boundary : "periodic" or "open"
        x boundaries; "open": upwind with inflow from equilibrium leads at the two boundary cells and free
        outflow (orders 0 and 1).
    B : float, optional
        A uniform magnetic field B_z in tesla (2D models, uniform model, orders 0 and 1; :mod:`.magnetic`): the
        Lorentz force couples the k_y lines, and at order 1 the phase-space density 1 + (e/ħ)BΩ and the
        anomalous velocity enter. Default: none.
    """

    #: Use the compiled kernels of :mod:`.kernels` (orders 0 and 1, periodic x) when numba is available; set
    #: False on an instance (or the class) for the numpy form.
    compiled = kernels.AVAILABLE
    _ones = np.ones((1, 1, 1, 1))

    def __init__(self, model, potential=None, *, length: float, nx: int, nk: int, nk_perp: int | None = None,
                 mu: float = 0.0, T=300.0, tau: float = np.inf, order: int = 0,
                 relaxation: str = "local", limiter: str = "mc", cfl: float = 0.4, hbar: float = units.hbar_eVs,
                 well_balanced: bool | None = None, boundary: str = "periodic", field=None,
                 dispersion: str = "explicit", B: float | None = None):
        self._init_x_grid(length, nx)
        self.model_function = None if isinstance(model, Model) else model
        self.x_dependent = self.model_function is not None
        if self.x_dependent:
            if not callable(model):
                raise ModelError("model must be a Model or a callable model(x) -> Model (x in Angstrom).")
            model = model(float(self.x[0]))
            if not isinstance(model, Model):
                raise ModelError(f"model(x) must return a Model; got {type(model).__name__}.")
        self._check_lattice(model, nk_perp)
        if order not in (0, 1, 2):
            raise ModelError(f"order must be 0, 1 or 2; got {order!r}.")
        if self.x_dependent:
            check_diagonal_positions(model, "the kinetic solver with an x-dependent model(x)", TEXTURE_NEEDS)
        if order == 2:
            check_diagonal_positions(model, "the kinetic solver at order 2", ORDER2_NEEDS)
        if boundary not in ("periodic", "open"):
            raise ModelError(f"boundary must be 'periodic' or 'open'; got {boundary!r}.")
        T_profile = T if callable(T) else None
        if order == 2:
            extra = [name for name, on in (("an x-dependent model(x)", self.x_dependent),
                                           ("a temperature profile T(x)", T_profile is not None),
                                           ("open boundaries", boundary == "open")) if on]
            if extra:
                raise ModelError(f"{' and '.join(extra)}: available at orders 0 and 1 (the order-2 current is built "
                                 "for a uniform model, uniform T and periodic x).")
        if field is not None:
            if not callable(field):
                raise ModelError(f"field must be a callable E(x, t) (V/Angstrom, x in Angstrom, t in s), e.g. "
                                 f"lambda x, t: 1e-4 + 0 * x for a uniform field; got {type(field).__name__}.")
            if well_balanced:
                raise ModelError("well_balanced=True with a field: the field drives a current, so the equilibrium "
                                 "is not a steady state and well-balancing would subtract the drive. Pass "
                                 "well_balanced=False (the default with a field).")
        if dispersion not in ("explicit", "imex"):
            raise ModelError(f"dispersion must be 'explicit' or 'imex'; got {dispersion!r}.")
        if dispersion == "imex" and order != 2:
            raise ModelError("dispersion='imex' treats the dispersive Moyal terms of order 2 implicitly; orders 0 and 1 "
                             "have none (leave dispersion='explicit').")
        self.dispersion = dispersion
        self._init_magnetic(B, model, order)
        if relaxation not in ("local", "global", "bare"):
            raise ModelError(f"relaxation must be 'local', 'global' or 'bare'; got {relaxation!r}.")
        if limiter not in LIMITERS:
            raise ModelError(f"limiter must be one of {sorted(LIMITERS)}.")
        if tau <= 0:
            raise ModelError("tau must be > 0 (np.inf for collisionless).")
        self._init_temperature(T, tau, boundary)
        self.boundary = boundary
        self.model, self.potential = model, potential
        self._init_field(field)
        self.mu, self.tau, self.order = float(mu), float(tau), order
        self.relaxation, self.cfl, self.hbar = relaxation, float(cfl), float(hbar)
        self._limiter = LIMITERS[limiter]
        self.limiter_name = limiter
        self.nbands = model.norb
        kfaces = self._init_k_grid(model, nk, nk_perp)

        self.velocity_y = self.omega_xy = None
        self._fk_model = None
        self._rho = None                      # phase-space density of states ρ (None: 1)
        if not self.x_dependent:
            self._setup_uniform_bands(model, kfaces)
            if model.dim == 2:
                self._setup_transverse(model)
                self._setup_magnetic(model, kfaces)
        else:
            self._setup_x_dependent(model, kfaces)
        self.t = 0.0
        self.boundary_inflow = 0.0            # particles that entered through the open ends (∫ dt net inflow)
        self._bflux = self._bres = self._inflow = 0.0
        explicit_wb = well_balanced is not None
        if not explicit_wb:                           # default: on at order 2 unless V depends on time or a field
            well_balanced = order == 2 and field is None and self._potential_is_static()
        self.well_balanced = bool(well_balanced)
        if self.well_balanced and T_profile is not None and np.ptp(self.T) > 0:
            raise ModelError("well_balanced=True needs a uniform T: the local equilibrium at T(x) is not a stationary "
                             "state of the flow (the temperature gradient drives the thermoelectric deviation "
                             "-tau v d_x f_leq), so well-balancing would remove a physical drive.")
        if self.well_balanced and explicit_wb:        # (the default already checked it)
            self._check_static()
        if order == 2:
            self._setup_order2(kfaces)
        self.f = self.equilibrium()
        self._residual = self._residual_advective = None
        self._f_balanced = None
        if self.well_balanced:
            self._residual = self.transport(self.f, 0.0)
            self._bres = self._bflux
            self._f_balanced = self.f.copy()          # its face flux is subtracted in face_current
            if self.dispersion == "imex":             # the explicit part's residual (the Moyal part acts on f - f_eq)
                F = self._order2_fields(0.0)
                self._residual_advective = -self._order2_divergence(self.f, F, moyal=False) / F["rho"]
        self.steps = 0

    # ------------------------------------------------------------------ scheme
    def _axis_spacing(self, axis):
        """Cell width along a momentum axis of the state (2: k_x, 3: k_y)."""
        return {2: self.dk, 3: self.dky}[axis]

    def rhs(self, f, t):
        """∂_t f = -∂_x(ẋ f) - ∂_k(k̇ f) + C[f] (order 2: (1/ρ) times the divergence of the O(ħ²) current).

        Well balanced (``well_balanced``): the discrete transport of the static equilibrium, which is zero
        in the continuum to the working order, is subtracted, so the equilibrium is an exact discrete
        steady state (particle number is still conserved: that residual sums to zero)."""
        out = self.transport(f, t)
        self._inflow = self._bflux - self._bres
        if self._residual is not None:
            out -= self._residual
        if np.isfinite(self.tau):
            if self.compiled and self.relaxation == "local" and self.order < 2 and out.flags.c_contiguous:
                self._f_local_compiled(f, rate=out)                  # out -= (f - f_loc)/τ, fused
            else:
                out -= (f - self.f_local(f, t)) / self.tau
        return out

    def transport(self, f, t):
        """The flux-divergence part of ∂_t f (no collisions, no well-balancing): the x faces (:mod:`.boundaries`)
        and every momentum axis of the flow hook ``_flow`` (module docstring, "Adding a term")."""
        if self.order == 2:
            return self._transport_order2(f, t)
        flow = self._flow(t)
        if self.compiled and self.boundary == "periodic" and set(flow) in ({2}, {2, 3}):
            return self._transport_compiled(f, flow[2], flow.get(3))
        out = self._x_flux_divergence(f, t)
        for axis, u in flow.items():
            if np.any(u != 0):
                Fk = upwind_flux(f, u, axis, self._limiter)
                out -= (Fk - np.roll(Fk, 1, axis)) / self._axis_spacing(axis)
        if self._rho is not None:                  # model(x), order 1: the divergence changes ρf
            out /= self._rho
        return out

    def _transport_compiled(self, f, kdot, kydot=None):
        """The periodic (x, k_x[, k_y]) transport of :meth:`transport` by the fused kernels (:mod:`.kernels`);
        ``kydot``: the face velocities of a k_y flow (the magnetic field), or None."""
        f = np.ascontiguousarray(f, dtype=float)
        shape = f.shape
        out = np.empty(shape)
        rho = np.broadcast_to(self._rho if self._rho is not None else self._ones, shape)
        lim, chunks = kernels.LIMITER_CODES[self.limiter_name], min(self.nx, kernels.threads(f.size))
        with_ky = kydot is not None and bool(np.any(kydot != 0))
        kernels.kernel("transport", f.size)(
            f, np.broadcast_to(self._vx_right(), shape), np.broadcast_to(kdot, shape), rho,
            self.dx, self.dk, lim, bool(np.any(kdot != 0)), self._rho is not None and not with_ky, chunks, out)
        if with_ky:
            kernels.kernel("transport_ky", f.size)(f, np.broadcast_to(kydot, shape), rho, self.dky, lim,
                                                   self._rho is not None, chunks, out)
        self._bflux = 0.0
        return out

    def max_dt(self, t=None):
        """The explicit CFL step (s) at time t (module docstring, "Scheme")."""
        if self.order == 2:
            return self._order2_max_dt(t)
        rate = np.abs(self._vxf).max() / self.dx
        for axis, u in self._flow(t).items():
            rate += np.abs(u).max() / self._axis_spacing(axis)
        if self._rho is not None:
            rate /= self._rho.min()
        dt = self.cfl / rate if rate > 0 else np.inf
        if np.isfinite(self.tau):
            dt = min(dt, 0.5 * self.tau)
        return dt

    def step(self, dt, t_fixed=None):
        """One SSP-RK2 (Heun) step; ``t_fixed`` freezes the potential's time (steady-state solves)."""
        if self.order == 2:
            return self._step_order2(dt, t_fixed)
        t0 = self.t if t_fixed is None else t_fixed
        t1 = self.t + dt if t_fixed is None else t_fixed
        f0 = self.f
        f1 = self.rhs(f0, t0)
        fused = self.compiled and f1.flags.c_contiguous and f0.flags.c_contiguous and f0.dtype == float
        if fused:                                 # f1 = f0 + dt rhs(f0), in place (the same operations)
            kernels.kernel("rk2_stage", f0.size)(f0, f1, dt)
        else:
            f1 = f0 + dt * f1
        b0 = self._inflow
        r1 = self.rhs(f1, t1)
        if fused and r1.flags.c_contiguous:       # f = (f0 + f1 + dt rhs(f1))/2, in place
            kernels.kernel("rk2_final", f0.size)(f0, f1, r1, dt)
            self.f = r1
        else:
            self.f = 0.5 * (f0 + f1 + dt * r1)
        self.boundary_inflow += 0.5 * dt * (b0 + self._inflow)
        if t_fixed is None:
            self.t += dt
        self.steps += 1

    def advance(self, t_end, callback=None):
        """Step (CFL-limited, landing exactly on t_end) from the current time to ``t_end``."""
        while self.t < t_end * (1 - 1e-14):
            dt = self.max_dt(self.t)
            n = int(np.ceil((t_end - self.t) / dt - 1e-12))
            dt = (t_end - self.t) / max(n, 1)
            self.step(dt)
            if callback is not None:
                callback(self)
        return self

    # ------------------------------------------------------------------ outputs

    def run(self, t_end, n_save: int = 10, snapshots: bool = False) -> xr.Dataset:
        """Evolve to ``t_end`` (s), saving moments at ``n_save`` equally spaced times (plus t0).

        Returns an xarray Dataset with ``n`` (time, band, x) [1/Å^d], ``jx`` (and ``jy`` in 2D)
        [1/(Å^{d-1} s)], ``V`` (time, x) [eV] and attrs (steps, cell_updates_per_s); with ``snapshots=True``
        also the distribution ``f`` (time, band, x, k[, k_y]) (:meth:`snapshot` at every saved time)."""
        t0 = self.t
        times = np.linspace(t0, t_end, n_save + 1)
        frames = [self.moments()]
        Vs = [self.V()]
        snaps = [self.snapshot()] if snapshots else None
        s0, w0 = self.steps, _time.perf_counter()
        for tt in times[1:]:
            self.advance(tt)
            frames.append(self.moments())
            Vs.append(self.V())
            if snapshots:
                snaps.append(self.snapshot())
        wall = _time.perf_counter() - w0
        ds = xr.concat(frames, dim="time").assign_coords(time=times)
        ds["V"] = (("time", "x"), np.array(Vs))
        if snapshots:
            fs = xr.concat(snaps, dim="time").assign_coords(time=times)
            fs.attrs = {"units": snaps[0].attrs["units"]}
            ds["f"] = fs
        steps = self.steps - s0
        ds.attrs = {"steps": steps, "wall_s": wall, "order": self.order, "relaxation": self.relaxation,
                    "tau_s": self.tau, "limiter": self.limiter_name,
                    "cell_updates_per_s": steps * self.ncells / wall if wall > 0 else np.nan,
                    "units": "x: A, time: s, n: 1/A^d, jx/jy: particle current 1/(A^(d-1) s), V: eV"}
        return ds

    def steady_state(self, tol: float = 1e-10, max_steps: int = 200000, check_every: int = 50) -> xr.Dataset:
        """Relax to the stationary state of the static problem (potential frozen at the current t).

        Pseudo-time stepping of the full equation (collision term included; needs finite τ) until
        max|∂_t f|·τ < ``tol``. Returns :meth:`moments` with attrs ``residual`` and ``steps``."""
        if not np.isfinite(self.tau):
            raise ModelError("steady_state needs a finite tau (the collisionless flow has no unique steady state).")
        t = self.t
        dt = self.max_dt(t)
        res = np.inf
        for it in range(1, max_steps + 1):
            self.step(dt, t_fixed=t)
            if it % check_every == 0:
                res = np.abs(self.rhs(self.f, t)).max() * self.tau
                if res < tol:
                    break
        ds = self.moments()
        ds.attrs.update(residual=res, steps=it, converged=bool(res < tol))
        return ds


def benchmark_cell_updates(model=None, *, nx=128, nk=256, steps=20, tau=1e-13) -> dict:
    """Phase-space cell-updates per second (band x cell x RK2 step) on a 1D Rice-Mele problem."""
    from ..models import zoo
    model = zoo.rice_mele() if model is None else model
    L = 100.0
    s = KineticSolver(model, lambda x, t: 0.05 * np.cos(2 * np.pi * x / L - 1e14 * t), length=L, nx=nx, nk=nk,
                      mu=-0.5, T=1000.0, tau=tau)
    dt = s.max_dt()
    s.step(dt)
    w0 = _time.perf_counter()
    for _ in range(steps):
        s.step(dt)
    wall = _time.perf_counter() - w0
    return {"cells": s.ncells, "steps": steps, "wall_s": wall, "cell_updates_per_s": s.ncells * steps / wall}
