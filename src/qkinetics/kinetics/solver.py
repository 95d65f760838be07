"""Finite-volume phase-space kinetic solver for band densities f_n(x, k_x[, k_perp], t).

Equation
--------
For each band n (no interband coherence: band-diagonal densities, the setting of
:mod:`qkinetics.moyal.phase_space`), inhomogeneous along one real-space direction x,

.. math::
    \\partial_t f_n + \\partial_x(\\dot x_n f_n) + \\partial_{k_x}(\\dot k_x f_n) = -\\frac{f_n - f^{loc}_n}{\\tau},
    \\qquad \\dot x_n = \\frac{1}{\\hbar}\\partial_{k_x}\\varepsilon_n(k),\\quad
    \\dot k_x = -\\frac{1}{\\hbar}\\partial_x V(x, t),

i.e. the Liouville flow of :math:`H = H_0(k) + V(x, t)` (separable phase-space Hamiltonian,
:class:`~qkinetics.moyal.phase_space.PhaseSpaceModel` with a band model and a scalar potential).
An applied field ``field=E(x, t)`` adds the force on the electron, ∂_xV → ∂_xV + E in k̇ (and in the anomalous
velocity below; at order 2 in every O(ħ²) term); it need not be a gradient of a periodic V (section "Inhomogeneous inputs").
x is periodic with period ``length`` (Å) (or open, below); k_x runs over the Brillouin zone of a lattice model
(periodic). In 2D models the transverse momentum k_perp = k_y is a parameter grid: V depends on
x only, so :math:`\\dot k_y = 0` and every k_y line evolves independently.

Order 1 (``order=1``). The Liouville-consistent first-order current of
:func:`qkinetics.moyal.phase_space.phase_space_current` (``convention="liouville"``) for this
separable H with V = V(x) has, in the (x, k_x) plane, exactly the order-0 flow: h_1 = 0, the
phase-space density of states is 1 (W = 0 since Ω_{xk} = 0 at order 0) and Ω_{k_xk_x} = 0. The only
O(ħ) term is the anomalous velocity transverse to the inhomogeneity,

.. math:: \\dot y_n = \\frac{1}{\\hbar}\\big[\\partial_{k_y}\\varepsilon_n - \\Omega^{xy}_n\\,\\partial_x V\\big]

(RMP 82, 1959 sign; Ω^{xy} of :func:`qkinetics.geometry.band_geometry`), which changes no density
(the system is uniform in y) and appears in the output current ``jy``. This reduction is checked
against ``phase_space_current`` at sample points in the tests. With an x-dependent model(x) the Bloch
states depend on x and order 1 carries the mixed Berry curvature and h_1 (section "Inhomogeneous inputs").

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

2D models at order 2: V = V(x) makes k_y a parameter (k̇_y = 0) and nothing depends on y, so the (y, k_y)
pair drops out of every Moyal term, of Ω (Ω_{y·} = 0) and of the canonical map's effect on f, and every k_y
line is the 1D problem above with the model sliced at k_y: ε and its k_x-derivatives, G = G^{xx}, g = g^{xx}
(vectorized over k_y; tested against the 1D solver on tight-binding slices and exact strip densities). The
transverse current ``jy`` is the order-1 expression (band velocity plus Ω^{xy} anomalous velocity); the O(ħ²)
terms of J^y (∂_{k_y}h_2, G^{yx}V''∂_{k_x}h, its Moyal term) are not built.

Scheme
------
* Cells: x_i = (i + 1/2) dx, k_j = -b/2 + (j + 1/2) dk (b = 2π/a_x); midpoint grid in k_y.
* Velocities are cell averages taken exactly from face values:
  :math:`\\bar v_j = [\\varepsilon(k_{j+1/2}) - \\varepsilon(k_{j-1/2})]/(\\hbar\\,dk)`,
  :math:`\\bar F_i = -[V(x_{i+1/2}) - V(x_{i-1/2})]/(\\hbar\\,dx)`. Since v̄ does not depend on x and
  F̄ not on k, the discrete divergence of the phase-space velocity is exactly zero (discrete
  Liouville theorem): a uniform f stays uniform to round-off.
* Fluxes through faces: upwind with MUSCL reconstruction (limiters ``"mc"`` (default),
  ``"minmod"``, ``"vanleer"``, ``"none"`` = unlimited central slope (Fromm), ``"upwind"`` = first
  order), unsplit, SSP-RK2 (Heun) in time, dt = cfl / (max|v̄|/dx + max|F̄|/dk), also <= τ/2.
  Periodic faces: the flux sums telescope, so particle number (per band and k_y line, without
  collisions; in total with the number-conserving collision term) is conserved to round-off.
* Collisions (``relaxation``):

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

Inhomogeneous inputs and boundaries (orders 0 and 1; order 2 raises ModelError except for the field)
----------------------------------------------------------------------------------------------------
* ``T`` may be a callable T(x) (K, on arrays of x): every relaxation target and the open-boundary leads use
  the local k_B T(x) ("global": f_FD((ε + V - μ)/k_BT(x)); "local": the local-μ̃ solve at T(x); "bare":
  f_FD((ε - μ)/k_BT(x))). A non-uniform T(x) makes the local equilibrium non-stationary (the thermal drive
  g = τ v f' (ε + V - μ) T'/T to first order in τ), so ``well_balanced=True`` needs a uniform T. In a periodic
  box (a ring of one material) the thermoelectric emf ∮S dT vanishes and no net current flows; with open
  ends at two temperatures the particle current has the sign of -L_1 ∂_xT, L_1 = τ∫v²(-f_0')(ε - μ)/T (tests).
* ``model`` may be a callable model(x) -> Model (same dim, norb and lattice for every x): ε_n(x, k) is taken
  at the cell corners (x_{i-1/2}, k_{j-1/2}); the x-face velocities and the band part of the k-face force
  k̇ = -∂_x(ε_n + V)/ħ are corner differences (as at order 2), so the discrete divergence of the flow is exactly
  zero (a uniform f stays uniform). Local equilibria use ε_n(x_i, k_j). In 2D, Ω^{xy}(x, k) and v_y(x, k)
  carry an x axis. Order 0 stops there (local bands only).

  Order 1 adds the O(ħ) terms of the x-dependence of the Bloch states, in the (x, k_x) plane (per k_y line in
  2D). H(x, k) = model(x).hamiltonian(k) in the positions convention is the Weyl symbol of the lattice
  Hamiltonian whose hoppings are taken at the bond midpoints (:func:`qkinetics.exact.real_space_chain`); a
  lattice-convention model is converted. In d = 1, ρ{π, π} = ε exactly (:mod:`qkinetics.moyal.phase_space`),
  so the Liouville current of the covariant coordinates gives

  .. math::
      \\partial_t(\\rho f_n) + \\frac1\\hbar\\partial_x(f_n\\partial_kh_n)
      - \\frac1\\hbar\\partial_k(f_n\\partial_x(h_n + V)) = -\\rho\\,\\frac{f_n - f^{loc}_n}{\\tau},
      \\qquad h_n = \\varepsilon_n + h_{1,n},\\quad \\rho_n = 1 - \\Omega^n_{xk},

  with the mixed Berry curvature :math:`\\Omega_{xk} = \\partial_xA_k - \\partial_kA_x` (A = i<u|∂u>, the sign of
  :func:`~qkinetics.moyal.phase_space.phase_space_geometry`) and the gauge-invariant O(ħ) band energy
  :math:`h_1 = -\\mathrm{Im}\\sum_{m\\ne n}V^x_{nm}V^k_{mn}/(\\varepsilon_n - \\varepsilon_m)`
  (:func:`~qkinetics.moyal.diagonalize.first_order_band_energy`; ∂_xH by a central difference of model(x ± δ),
  δ = 10⁻⁴ dx). f is the gauge-invariant distribution; ρf is conserved and is the particle density,
  :math:`n(x) = \\int dk/2\\pi\\,\\rho f` (:meth:`KineticSolver.density`). A filled band carries
  :math:`n = 1/a - \\int dk/2\\pi\\,\\Omega_{xk} = 1/a - \\partial_xP`, P the Berry phase / 2π (the bound charge
  of a polarization texture; -ΔP at a domain wall). Discretization: ρ per cell from the plaquette Berry phase of
  the corner eigenvectors (:func:`plaquette_berry_flux`, gauge invariant), so Σ_j ρ_ij dk telescopes exactly into
  the discrete Berry-phase difference of the two x-faces of the column; h_1 at the corners (flow) and centres
  (equilibria). The equilibrium is f_FD(h + V - μ) (stationary in the continuum; ``well_balanced`` makes it
  exact on the grid); ``"local"`` relaxation solves μ̃ from ∫ρ f_loc = ∫ρ f; the time step is divided by min ρ.
  The bands must stay non-degenerate, and ρ > 0.05 everywhere (otherwise the texture is too sharp for the
  gradient expansion; ModelError). In 2D the transverse velocity gains
  :math:`-\\Omega_{xk_x}\\partial_{k_y}\\varepsilon + \\partial_{k_y}h_1 + \\Omega_{xk_y}\\partial_{k_x}\\varepsilon`
  (:meth:`KineticSolver.transverse_velocity`). Tested against the Moyal engine (Ω_{xk}, h_1, ẏ at sample
  points) and against exact supercell diagonalization of textured Rice-Mele chains (insulator: order 0 gives no
  modulation, order 1 the bound charge with an error ∝ q³; metal: first-harmonic error ∝ q at order 0, ∝ q²
  at order 1; domain-wall charges to 10⁻⁵).
* ``boundary="open"``: at x = 0 and x = L the x-flux is upwind, with the inflow taken from a lead in equilibrium,
  f_FD((ε_n + V - μ)/k_BT) of the boundary cell (its ε_n(x, k), V, T; the global μ) and free outflow of the
  reconstructed interior value; k stays periodic and V need not be periodic. Particle number then changes
  exactly by the net boundary flux (:attr:`KineticSolver.boundary_inflow`, :meth:`KineticSolver.number`).
* Applied electric field ``field=E(x, t)`` (V/Å, the x component; all orders): the force on the electron,
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
* Phase-space snapshots: :meth:`KineticSolver.snapshot` (f as DataArray (band, x, k[, k_y])) and
  ``run(..., snapshots=True)`` (variable ``f`` (time, band, x, k[, k_y])). :meth:`KineticSolver.face_current`
  is the scheme's own x-flux through the faces (uniform in a number-conserving steady state).

Units: x in Å, k in 1/Å, energies in eV, time in seconds (``hbar`` = ħ in eV s by default).
Densities per band: :math:`n_n(x) = \\int dk/(2\\pi)^d f_n` (1/Å^d, no spin factor, like
:func:`qkinetics.kubo.lindhard.lindhard`); particle currents :math:`j_n = \\int dk/(2\\pi)^d \\dot x f_n`
(1/(Å^{d-1} s)); electric current is -e times that.
"""

from __future__ import annotations

import time as _time

import numpy as np
import xarray as xr
from scipy.special import expit

from .. import units
from ..models.base import Model, ModelError

__all__ = ["KineticSolver", "LIMITERS", "benchmark_cell_updates", "plaquette_berry_flux"]


def _minmod(a, b):
    return np.where(a * b > 0, np.where(np.abs(a) < np.abs(b), a, b), 0.0)


def _mc(a, b):
    c = 0.5 * (a + b)
    s = np.sign(c)
    m = np.minimum(np.minimum(2 * np.abs(a), 2 * np.abs(b)), np.abs(c))
    return np.where(a * b > 0, s * m, 0.0)


def _vanleer(a, b):
    ab = a * b
    with np.errstate(divide="ignore", invalid="ignore"):
        r = 2 * ab / (a + b)
    return np.where(ab > 0, r, 0.0)


LIMITERS = {"mc": _mc, "minmod": _minmod, "vanleer": _vanleer,
            "none": lambda a, b: 0.5 * (a + b), "upwind": None}


def _face_flux(f, vel, axis, limiter):
    """Upwind flux through the faces i+1/2 along ``axis`` (periodic), MUSCL-reconstructed.

    ``vel`` broadcasts against f (velocity constant along ``axis``). Returns F_{i+1/2} at index i."""
    fp = np.roll(f, -1, axis)
    if limiter is None:
        fL, fR = f, fp
    else:
        d = fp - f                                  # Δ_{i+1/2}
        s = limiter(np.roll(d, 1, axis), d)         # slope in cell i
        fL = f + 0.5 * s
        fR = fp - 0.5 * np.roll(s, -1, axis)
    return np.where(vel > 0, vel * fL, vel * fR)


def _face_flux_open(f, vel, gl, gr, limiter):
    """Upwind flux through the nx + 1 faces x_{i-1/2} (i = 0..nx) along axis 1 with open ends.

    Two ghost cells per side hold the reservoir distributions ``gl``, ``gr`` (shape (N, 1, ...)) with zero
    slope, so an inflowing end face carries exactly the reservoir value and an outflowing one the
    (MUSCL-reconstructed) interior value (free outflow). ``vel[:, i]`` is the velocity at face x_{i-1/2}
    (or broadcasts)."""
    nx = f.shape[1]
    fp = np.concatenate([gl, gl, f, gr, gr], axis=1)                  # cells -2 .. nx+1
    fc = fp[:, 1:nx + 3]                                              # cells -1 .. nx
    if limiter is None:
        fL, fR = fc[:, :-1], fc[:, 1:]
    else:
        d = fp[:, 1:] - fp[:, :-1]                                    # Δ between padded cells m, m+1
        s = limiter(d[:, :-1], d[:, 1:])                              # slopes in cells -1 .. nx
        s[:, 0] = 0.0
        s[:, -1] = 0.0                                                # reservoirs: no slope
        fL = fc[:, :-1] + 0.5 * s[:, :-1]
        fR = fc[:, 1:] - 0.5 * s[:, 1:]
    return np.where(vel > 0, vel * fL, vel * fR)


def plaquette_berry_flux(U):
    """Berry flux ∫∫Ω_{xk} dx dk of every plaquette of a corner grid (Fukui-Hatsugai link variables).

    .. math::
        F = -\\arg\\big[U_x(p)\\,U_k(p + \\hat x)\\,U_x(p + \\hat k)^*\\,U_k(p)^*\\big],\\qquad
        U_\\mu(p) = \\langle u_n(p)|u_n(p + \\hat\\mu)\\rangle,

    the Berry phase of the plaquette boundary traversed x, then k (anticlockwise in the (x, k) plane), with
    A = i<u|∂u> (so Ω_{xk} = ∂_xA_k - ∂_kA_x, the sign of :func:`qkinetics.moyal.phase_space_geometry` and
    the orientation of :mod:`qkinetics.topology`). Invariant under any phase change of the eigenvectors at
    the corners; the sum over a column telescopes into the difference of the discrete Berry phases along k
    of its two x-faces (exactly, as long as no plaquette flux reaches ±π).

    Parameters
    ----------
    U : (nxc, nkc, nky, Nb, N) complex, eigenvectors (columns = bands) at the corners (x_a, k_b[, k_y]), the
        closing corners included (for a Brillouin zone: u(k_0 + b) = D^† u(k_0) in the positions convention).

    Returns
    -------
    (N, nxc - 1, nkc - 1, nky) real array (flux in units of Å·(1/Å), i.e. dimensionless).
    """
    Lx = np.einsum("ijyan,ijyan->nijy", U[:-1].conj(), U[1:])            # <u(x, k)|u(x + dx, k)>
    Lk = np.einsum("ijyan,ijyan->nijy", U[:, :-1].conj(), U[:, 1:])      # <u(x, k)|u(x, k + dk)>
    return -np.angle(Lx[:, :, :-1] * Lk[:, 1:] * Lx[:, :, 1:].conj() * Lk[:, :-1].conj())


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


class KineticSolver:
    """Phase-space kinetic equation of band densities on an (x, k_x[, k_y]) grid (x periodic or open).

    Parameters
    ----------
    model : Model or callable
        Lattice band model, 1D or 2D; in 2D the reciprocal cell must be rectangular (x ⟂ y). Or a callable
        ``model(x) -> Model`` (x in Å; same dim, norb and lattice for all x) for x-dependent parameters
        (orders 0 and 1; order 1 adds the mixed Berry curvature Ω_xk and h_1, module docstring); ``self.model``
        is then model(x_0).
    potential : callable, optional
        ``V(x, t)`` in eV for arrays x (Å) and a float t (s); periodic in x with period ``length`` for
        periodic boundaries (any V with open ones). Default 0.
    field : callable, optional
        ``E(x, t)``, the x component of an applied electric field in V/Å, for arrays x (Å) and a float t (s)
        (all orders). It adds the force on the electron (charge -e), ħk̇_x ∋ -eE, i.e. -E(x, t) in eV/Å:
        k̇_x = -[∂_xV + E]/ħ per cell (cell average, module docstring "Applied electric field"). A drive, not
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
        Gradient order of the phase-space current (see the module docstring; order 2: 1D and 2D models, uniform
        model and T, periodic x).
    relaxation : "local", "global" or "bare"
        Collision target (module docstring): number-conserving local equilibrium, f_FD(eps + V - mu),
        or the unperturbed f_FD(eps - mu) (the relaxation behind the Lindhard function with eta = hbar/tau).
    limiter : key of :data:`LIMITERS`
    cfl : float
    hbar : float
        ħ in eV s (default ``units.hbar_eVs``).
    well_balanced : bool, optional
        Subtract the discrete transport of the static equilibrium f_eq (that of V(x), at this order) so that
        f_eq is an exact discrete steady state (static potentials, uniform T only). Default: True at order 2
        when V does not depend on time, else False.
    boundary : "periodic" or "open"
        x boundaries; "open": upwind with inflow from equilibrium leads at the two boundary cells and free
        outflow (orders 0 and 1).
    """

    def __init__(self, model, potential=None, *, length: float, nx: int, nk: int, nk_perp: int | None = None,
                 mu: float = 0.0, T=300.0, tau: float = np.inf, order: int = 0,
                 relaxation: str = "local", limiter: str = "mc", cfl: float = 0.4, hbar: float = units.hbar_eVs,
                 well_balanced: bool | None = None, boundary: str = "periodic", field=None):
        from ..geometry import band_geometry
        self.length, self.nx, self.nk = float(length), int(nx), int(nk)
        self.dx = self.length / self.nx
        self.x = (np.arange(self.nx) + 0.5) * self.dx
        self.x_faces = np.arange(self.nx + 1) * self.dx                     # x_{i-1/2}, i = 0..nx
        self.model_function = None if isinstance(model, Model) else model
        self.x_dependent = self.model_function is not None
        if self.x_dependent:
            if not callable(model):
                raise ModelError("model must be a Model or a callable model(x) -> Model (x in Angstrom).")
            model = model(float(self.x[0]))
            if not isinstance(model, Model):
                raise ModelError(f"model(x) must return a Model; got {type(model).__name__}.")
        if not model.periodic:
            raise ModelError("KineticSolver needs a lattice model (periodic k); continuum models are not supported yet.")
        if model.dim not in (1, 2):
            raise ModelError(f"KineticSolver supports 1D and 2D models; got dim={model.dim}.")
        rec = model.reciprocal
        if model.dim == 2 and (abs(rec[0, 1]) > 1e-12 or abs(rec[1, 0]) > 1e-12):
            raise ModelError("2D models need a rectangular reciprocal cell (x along b1, y along b2).")
        if model.dim == 2 and not nk_perp:
            raise ModelError("Give nk_perp (k_y points) for a 2D model.")
        if order not in (0, 1, 2):
            raise ModelError(f"order must be 0, 1 or 2; got {order!r}.")
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
        if relaxation not in ("local", "global", "bare"):
            raise ModelError(f"relaxation must be 'local', 'global' or 'bare'; got {relaxation!r}.")
        if limiter not in LIMITERS:
            raise ModelError(f"limiter must be one of {sorted(LIMITERS)}.")
        if tau <= 0:
            raise ModelError("tau must be > 0 (np.inf for collisionless).")
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
        self.boundary = boundary
        self.model, self.potential = model, potential
        self.field_function = field
        if field is not None:                 # 4-point Gauss-Legendre nodes per cell for the cell-averaged E
            gx, gw = np.polynomial.legendre.leggauss(4)
            self._field_nodes = (self.x[:, None] + 0.5 * self.dx * gx[None, :]).ravel()
            self._field_weights = 0.5 * gw
            self.field(0.0)                   # validate the shape and finiteness now
        self.nky = int(nk_perp) if model.dim == 2 else 1
        self.mu, self.tau, self.order = float(mu), float(tau), order
        self.relaxation, self.cfl, self.hbar = relaxation, float(cfl), float(hbar)
        self._limiter = LIMITERS[limiter]
        self.limiter_name = limiter
        N = self.nbands = model.norb
        bx = rec[0, 0]
        self.dk = bx / self.nk
        self.k = -bx / 2 + (np.arange(self.nk) + 0.5) * self.dk
        kfaces = -bx / 2 + np.arange(self.nk + 1) * self.dk
        if model.dim == 2:
            by = rec[1, 1]
            self.dky = by / self.nky
            self.ky = -by / 2 + (np.arange(self.nky) + 0.5) * self.dky
        else:
            self.dky, self.ky = 1.0, np.zeros(1)
        d = model.dim
        self.weight = self.dk * self.dky / (2 * np.pi) ** d                 # dk/(2π)^d per cell

        grid = self._kgrid
        Kc = grid(self.k)
        self.velocity_y = self.omega_xy = None
        self._fk_model = None
        self._rho = None                      # phase-space density of states ρ (None: 1)
        if not self.x_dependent:
            self.energy = model.bands(Kc).T.reshape(N, self.nk, self.nky)        # ε_n(k_j, k_y)
            ef = model.bands(grid(kfaces)).T.reshape(N, self.nk + 1, self.nky)
            self.velocity = (ef[:, 1:] - ef[:, :-1]) / (self.dk * self.hbar)     # cell-averaged ẋ (Å/s)
            self._E = self.energy[:, None]                                       # (N, 1, nk, nky)
            self._vxf = self._vcell = self.velocity[:, None]                     # x-face = cell velocity
            if d == 2:
                bg = band_geometry(model, Kc, inverse_mass=False)
                self.velocity_y = (bg.velocity[:, :, 1].T / self.hbar).reshape(N, self.nk, self.nky)
                self.omega_xy = bg.berry_curvature[:, :, 0, 1].T.reshape(N, self.nk, self.nky)
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
        self._residual = None
        self._f_balanced = None
        if self.well_balanced:
            self._residual = self.transport(self.f, 0.0)
            self._bres = self._bflux
            self._f_balanced = self.f.copy()          # its face flux is subtracted in face_current
        self.steps = 0

    def _kgrid(self, kx):
        """The (k_x[, k_y]) points of the k_x values ``kx`` times the k_y grid, k_x major: (len(kx) nky, dim)."""
        return np.stack(np.broadcast_arrays(kx[:, None], self.ky[None, :]), -1).reshape(-1, 2)[:, :self.model.dim]

    def _setup_x_dependent(self, model0, kfaces):
        """Bands of model(x): ε_n at the cell centres (x_i, k_j) for the local equilibria and at the cell corners
        (x_{i-1/2}, k_{j-1/2}) for the flow. The x-face velocities and the model part of the k-face force are
        corner differences, so the discrete divergence of the phase-space flow vanishes exactly. At order 1 the
        band energy is h = ε + h_1 (corners and centres) and ρ = 1 - Ω_{xk} per cell from plaquette Berry phases
        (:meth:`_first_order_texture`)."""
        from ..geometry import band_geometry
        N, nk, nky, d = self.nbands, self.nk, self.nky, model0.dim
        grid = self._kgrid

        def model_at(xv):
            m = self.model_function(float(xv))
            if not isinstance(m, Model):
                raise ModelError(f"model(x) must return a Model; got {type(m).__name__} at x = {xv}.")
            if (m.dim != d or m.norb != N or m.lattice is None
                    or not np.allclose(m.lattice, model0.lattice, rtol=0, atol=1e-12)):
                raise ModelError(f"model(x) at x = {xv} differs in dim, norb or lattice from model(x_0); all x need "
                                 "the same lattice and orbitals.")
            return m

        def bands(xs, kx):
            out = np.empty((N, len(xs), len(kx), nky))
            K = grid(kx)
            for i, xv in enumerate(xs):
                out[:, i] = model_at(xv).bands(K).T.reshape(N, len(kx), nky)
            return out
        self.energy = self._E = bands(self.x, self.k)                          # ε_n(x_i, k_j[, k_y]) (N, nx, nk, nky)
        Ec = bands(self.x_faces, kfaces)                                        # corners (N, nx+1, nk+1, nky)
        if self.order >= 1:
            h1c = self._first_order_texture(model_at, kfaces)
            if d == 2:                            # the order-0 flow (ε at the corners) for the O(ħ) terms of ẏ
                e0 = Ec.copy()
                e0[:, :, 0] = e0[:, :, -1]
                if self.boundary == "periodic":
                    e0[:, 0] = e0[:, -1]
                vx0 = (e0[:, :, 1:] - e0[:, :, :-1]) / (self.dk * self.hbar)
                self._vx_band = 0.5 * (vx0[:, 1:] + vx0[:, :-1])                       # ∂_{k_x}ε/ħ (cells)
                fk0 = -(e0[:, 1:, 1:] - e0[:, :-1, 1:]) / (self.dx * self.hbar)
                self._kdot_band = 0.5 * (fk0 + np.roll(fk0, 1, 2))                     # -∂_xε/ħ (cells)
            Ec = Ec + h1c
        Ec[:, :, 0] = Ec[:, :, -1]                                              # k periodic: one corner value
        if self.boundary == "periodic":
            Ec[:, 0] = Ec[:, -1]                                                # x periodic: x_{-1/2} = x_{nx-1/2}
        self._vxf = (Ec[:, :, 1:] - Ec[:, :, :-1]) / (self.dk * self.hbar)      # ẋ at the x-faces (N, nx+1, nk, nky)
        self._fk_model = -(Ec[:, 1:, 1:] - Ec[:, :-1, 1:]) / (self.dx * self.hbar)   # -∂_xh/ħ at k-faces k_{j+1/2}
        self.velocity = self._vcell = 0.5 * (self._vxf[:, 1:] + self._vxf[:, :-1])  # cell-centre ẋ (N, nx, nk, nky)
        if d == 2:
            Kc = grid(self.k)
            self.velocity_y = np.empty((N, self.nx, nk, nky))
            self.omega_xy = np.empty((N, self.nx, nk, nky))
            for i, xv in enumerate(self.x):
                bg = band_geometry(model_at(xv), Kc, inverse_mass=False)
                self.velocity_y[:, i] = (bg.velocity[:, :, 1].T / self.hbar).reshape(N, nk, nky)
                self.omega_xy[:, i] = bg.berry_curvature[:, :, 0, 1].T.reshape(N, nk, nky)

    def _texture_bloch(self, model_at, xs, kx, ky_shift=0.0, vectors=True, transverse=False):
        """Eigenpairs and h_1 of model(x) (positions convention) at the points xs × kx (× k_y + ``ky_shift``).

        h_1 is the sum-over-states form of :func:`qkinetics.moyal.diagonalize.first_order_band_energy` in the
        (x, k_x) plane, with ∂_kH exact and ∂_xH a central difference of model(x ± δ), δ = 10⁻⁴ dx (error
        ~δ² ∂³_xH, round-off ~10⁻¹⁶/δ: far below the O(dx²) discretization).
        Returns ε (N, nxs, nkx, nky), h_1 (same), U (nxs, nkx, nky, N, N) (columns = bands; None without
        ``vectors``) and, with ``transverse`` (2D), the mixed curvature
        Ω_{xk_y} = -2 Im Σ_m V^x_nm V^{k_y}_mn/(ε_n - ε_m)² (N, nxs, nkx, nky) (else None)."""
        from ..moyal.diagonalize import first_order_band_energy
        N, nky, nkx = self.nbands, self.nky, len(kx)
        K = self._kgrid(kx)
        if ky_shift:
            K = K + np.array([0.0, ky_shift])
        delta = 1e-4 * self.dx

        def positions(m):                         # the Weyl symbol of the lattice Hamiltonian: positions convention
            return m.with_convention("positions") if getattr(m, "convention", "positions") == "lattice" else m
        eps = np.empty((N, len(xs), nkx, nky))
        h1 = np.empty_like(eps)
        U = np.empty((len(xs), nkx, nky, N, N), complex) if vectors else None
        omega_x_ky = np.empty_like(eps) if transverse else None
        for i, xv in enumerate(xs):
            H, dHk = positions(model_at(xv)).hamiltonian(K, order=1)
            dHx = (positions(model_at(xv + delta)).hamiltonian(K)[0]
                   - positions(model_at(xv - delta)).hamiltonian(K)[0]) / (2 * delta)
            e, u = np.linalg.eigh(H)
            gap = np.diff(e, axis=1).min() if N > 1 else np.inf
            if gap < 1e-8:
                raise ModelError(f"Bands of model(x) touch at x = {xv:.4g} A (gap {gap:.1e} eV): the O(hbar) texture "
                                 "terms (Omega_xk, h_1) need non-degenerate bands; use order=0 or open the gap.")
            eps[:, i] = e.T.reshape(N, nkx, nky)
            h1[:, i] = first_order_band_energy(H, np.stack([dHx, dHk[:, 0]], 1)).T.reshape(N, nkx, nky)
            if transverse:
                uh = np.conj(np.swapaxes(u, -1, -2))
                Vx, Vy = uh @ dHx @ u, uh @ dHk[:, 1] @ u
                with np.errstate(divide="ignore"):
                    R = 1.0 / (e[:, :, None] - e[:, None, :]) ** 2
                R[:, np.arange(N), np.arange(N)] = 0.0
                om = -2 * np.imag(np.einsum("bnm,bmn,bnm->bn", Vx, Vy, R))
                omega_x_ky[:, i] = om.T.reshape(N, nkx, nky)
            if vectors:
                U[i] = u.reshape(nkx, nky, N, N)
        return eps, h1, U, omega_x_ky

    def _first_order_texture(self, model_at, kfaces):
        """O(ħ) terms of model(x) in the (x, k_x) plane (per k_y line in 2D); returns h_1 at the cell corners.

        Sets ``self.first_order_energy`` (h_1 at the cell centres; ``self._E`` = ε + h_1 there),
        ``self.mixed_berry_curvature`` (cell average of Ω_{xk} = ∂_xA_k - ∂_kA_x, A = i<u|∂u>) and ``self._rho``
        = 1 - Ω_{xk}. The cell integral of Ω_{xk} is the plaquette Berry phase of the corner eigenvectors
        (:func:`plaquette_berry_flux`); the Bloch states close over the zone as u(k + b) = D^† u(k),
        D = diag(e^{2πiτ_j}) (positions convention), so Σ_j F over a column is exactly the difference of the
        Berry phases (2π P) of its two x-faces. In 2D also the transverse-velocity terms at the cell centres:
        Ω_{xk_y} and ∂_{k_y}h_1 (central difference, step 10⁻⁴ dk_y)."""
        N = self.nbands
        _, h1c, Uc, _ = self._texture_bloch(model_at, self.x_faces, kfaces[:-1])
        m0 = self.model if getattr(self.model, "convention", "positions") != "lattice" \
            else self.model.with_convention("positions")
        pos = getattr(m0, "positions", None)
        D = np.exp(2j * np.pi * np.asarray(pos, dtype=float)[:, 0]) if pos is not None else np.ones(N)
        K0, Kb = self._kgrid(kfaces[:1]), self._kgrid(kfaces[-1:])
        H0, Hb = m0.hamiltonian(K0)[0], m0.hamiltonian(Kb)[0]
        if np.abs(Hb - D.conj()[:, None] * H0 * D[None, :]).max() > 1e-8 * max(1.0, np.abs(H0).max()):
            raise ModelError("The O(hbar) texture terms need H(k + b) = D^dagger H(k) D (positions convention, D = "
                             "diag(exp(2 pi i tau_j))): give model(x) as a TightBinding (or a Model periodic in k).")
        Uc = np.concatenate([Uc, (D.conj()[:, None] * Uc[:, :1])], axis=1)     # corner k_{nk} = k_0 + b
        if self.boundary == "periodic":
            Uc[-1] = Uc[0]                                                      # x_{nx-1/2} is x_{-1/2}
            h1c[:, -1] = h1c[:, 0]
        h1c = np.concatenate([h1c, h1c[:, :, :1]], axis=2)
        self.mixed_berry_curvature = plaquette_berry_flux(Uc) / (self.dx * self.dk)
        self._rho = 1.0 - self.mixed_berry_curvature
        if self._rho.min() <= 0.05:
            i = np.unravel_index(np.argmin(self._rho), self._rho.shape)[1]
            raise ModelError(f"1 - Omega_xk = {self._rho.min():.2f} near x = {self.x[i]:.3g} A: the texture varies "
                             "too fast for the O(hbar) gradient expansion (the mixed Berry curvature is not small); "
                             "make it smoother or use order=0.")
        _, self.first_order_energy, _, om = self._texture_bloch(model_at, self.x, self.k, vectors=False,
                                                                transverse=self.model.dim == 2)
        self._E = self.energy + self.first_order_energy
        if self.model.dim == 2:
            dky = 1e-4 * self.dky
            hp = self._texture_bloch(model_at, self.x, self.k, ky_shift=dky, vectors=False)[1]
            hm = self._texture_bloch(model_at, self.x, self.k, ky_shift=-dky, vectors=False)[1]
            self.omega_x_ky = om
            self._vy1 = (hp - hm) / (2 * dky * self.hbar)                      # ∂_{k_y}h_1/ħ
        return h1c

    def _potential_is_static(self) -> bool:
        V0 = self.V(0.0)
        return all(np.max(np.abs(self.V(tt) - V0)) <= 1e-12 * max(1.0, np.abs(V0).max())
                   for tt in (1e-15, 1e-12, 1e-9))

    def _check_static(self):
        if not self._potential_is_static():
            raise ModelError("well_balanced=True needs a static potential V(x) (a well-balanced scheme preserves a "
                             "static equilibrium); pass well_balanced=False for a time-dependent V(x, t).")

    def _setup_order2(self, kfaces):
        """k-only O(ħ²) band data (module docstring, order 2), computed once; the V-dependent fields (h on the
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

    # ------------------------------------------------------------------ fields
    @property
    def shape(self):
        return (self.nbands, self.nx, self.nk, self.nky)

    @property
    def ncells(self) -> int:
        return int(np.prod(self.shape))

    def V(self, t=None, x=None):
        """Potential (eV) at x (default the cell centres) and time t (default the current time)."""
        t = self.t if t is None else t
        x = self.x if x is None else x
        if self.potential is None:
            return np.zeros_like(x)
        return np.broadcast_to(np.asarray(self.potential(x, t), dtype=float), x.shape)

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

    def f_local(self, f, t):
        if self.relaxation == "global":
            return self.equilibrium(t=t)
        if self.relaxation == "bare":
            return self.equilibrium(potential=False)
        if self.order == 2:
            return self._f_local_order2(f, t)
        n_tot = self.density(f).sum(axis=0)
        mu = self.local_mu(n_tot)
        return self.fermi(self._E - mu[None, :, None, None])

    # ------------------------------------------------------------------ scheme
    def rhs(self, f, t):
        """∂_t f = -∂_x(ẋ f) - ∂_k(k̇ f) + C[f] (order 2: (1/ρ) times the divergence of the O(ħ²) current).

        Well balanced (``well_balanced``): the discrete transport of the static equilibrium, which is zero
        in the continuum to the working order, is subtracted, so the equilibrium is an exact discrete
        steady state (particle number is still conserved: that residual sums to zero)."""
        out = self.transport(f, t)
        self._inflow = self._bflux - self._bres
        if self._residual is not None:
            out = out - self._residual
        if np.isfinite(self.tau):
            out -= (f - self.f_local(f, t)) / self.tau
        return out

    def transport(self, f, t):
        """The flux-divergence part of ∂_t f (no collisions, no well-balancing)."""
        if self.order == 2:
            return self._transport_order2(f, t)
        lim = self._limiter
        if self.boundary == "periodic":
            Fx = _face_flux(f, self._vx_right(), 1, lim)
            out = -(Fx - np.roll(Fx, 1, 1)) / self.dx
            self._bflux = 0.0
        else:
            gl, gr = self.reservoirs(t)
            Fx = _face_flux_open(f, self._vxf, gl, gr, lim)                  # faces x_{i-1/2}, i = 0..nx
            out = -(Fx[:, 1:] - Fx[:, :-1]) / self.dx
            self._bflux = self.weight * (Fx[:, 0].sum() - Fx[:, -1].sum())   # net inflow rate (1/(Å^{d-1} s))
        F = self.kdot(t, faces=True)
        if np.any(F != 0):
            Fk = _face_flux(f, F, 2, lim)
            out -= (Fk - np.roll(Fk, 1, 2)) / self.dk
        if self._rho is not None:                  # model(x), order 1: the divergence changes ρf
            out /= self._rho
        return out

    def _vx_right(self):
        """Periodic x: the x-face velocities at the faces x_{i+1/2} (index i); model(x) stores all nx + 1 faces."""
        return self._vxf if self._fk_model is None else self._vxf[:, 1:]

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

    def number(self, f=None):
        """Total particle number in the box, ∫dx Σ_n n_n (1/Å^{d-1}: per unit transverse length in 2D)."""
        return float(self.density(f).sum() * self.dx)

    def _order2_xflux(self, f, F, wdot=None):
        """The scheme's x-flux of the O(ħ²) current through the faces x_{i+1/2} (index i), (N, nx, nk, nky):
        upwind-reconstructed f times (∂_kh + ħG∂_tW)/ħ minus the Moyal flux ∂_x²(f ε^(3))/(24ħ) (the mean of the
        two neighbouring central second differences). ``wdot`` is ∂_tW (1, nx, 1, 1) or None (frozen V, E)."""
        vx = F["vx"] if wdot is None else F["vx"] + self._o2k["G_c"] * wdot
        Fx = _face_flux(f, vx, 1, self._limiter)
        d2x = self._moyal_d2x(f)
        return Fx - (d2x + np.roll(d2x, -1, 1)) / (48 * self.hbar)

    def _moyal_d2x(self, f):
        """Central second difference ∂_x²(f ε^(3)) at the cell centres (periodic x), the Moyal x-term."""
        qx = f * self._e3
        return (np.roll(qx, -1, 1) - 2 * qx + np.roll(qx, 1, 1)) / self.dx ** 2

    def _order2_divergence(self, f, F, wdot=None):
        """∂_xJ^x + ∂_kJ^k of the O(ħ²) current (module docstring) for the fields F of :meth:`_order2_fields`:
        J^x = f (∂_kh + ħ G ∂_tV'_eff)/ħ - ∂_x²(f ε^(3))/(24ħ), J^k = -f (∂_xh + E)/ħ + ∂_k²(f V_eff^(3))/(24ħ).
        ``wdot`` is ∂_tW (1, nx, 1, 1) at the x-faces (the time flux of Ω_{tk} = G ∂_tV'_eff; None for a frozen
        V and E)."""
        Fx = self._order2_xflux(f, F, wdot)
        Fk = _face_flux(f, F["fk"], 2, self._limiter)
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

        def rate(f, F, t):                                              # ∂_t(ρf)
            out = -self._order2_divergence(f, F, wdot)
            if self._residual is not None:
                out -= F["rho"] * self._residual
            if np.isfinite(self.tau):
                out -= F["rho"] * (f - self.f_local(f, t)) / self.tau
            return out
        f0 = self.f
        u0 = F0["rho"] * f0
        u1 = u0 + dt * rate(f0, F0, t0)
        f1 = u1 / F1["rho"]
        self.f = 0.5 * (u0 + u1 + dt * rate(f1, F1, t1)) / F1["rho"]
        if t_fixed is None:
            self.t += dt
        self.steps += 1

    def max_dt(self, t=None):
        if self.order == 2:
            t = self.t if t is None else t
            F = self._order2_fields(t)
            rate = self._order2_rate(F) \
                + (np.abs(self._e3).max() / self.dx ** 3 + np.abs(F["V3"]).max() / self.dk ** 3) / (3 * self.hbar)
            dt = self.cfl / rate
            if not self.well_balanced:                  # the time-flux velocity G ∂_tW, from a probe step
                wdot = np.abs(self._order2_W(t + dt) - F["W"][0, :, 0, 0]).max() / dt
                if wdot > 0:
                    dt = self.cfl / (rate + np.abs(self._o2k["G_c"]).max() * wdot / self.dx)
            return min(dt, 0.5 * self.tau) if np.isfinite(self.tau) else dt
        rate = np.abs(self._vxf).max() / self.dx + np.abs(self.kdot(t, faces=True)).max() / self.dk
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
        f1 = f0 + dt * self.rhs(f0, t0)
        b0 = self._inflow
        self.f = 0.5 * (f0 + f1 + dt * self.rhs(f1, t1))
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
        elif self.boundary == "open":
            gl, gr = self.reservoirs(t)
            Fx = _face_flux_open(f, self._vxf, gl, gr, self._limiter)
        else:
            Fx = _face_flux(f, self._vx_right(), 1, self._limiter)
            Fx = np.concatenate([Fx[:, -1:], Fx], axis=1)
        return self.weight * Fx.sum(axis=(2, 3))

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

    def moments(self) -> xr.Dataset:
        """Current n, jx (and jy in 2D) as an xarray Dataset with dims (band, x)."""
        data = {"n": (("band", "x"), self.density()), "jx": (("band", "x"), self.current())}
        if self.velocity_y is not None:
            data["jy"] = (("band", "x"), self.current_y())
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
