"""Magnetotransport: the linearized Boltzmann equation in a uniform magnetic field, solved on the k grid.

The semiclassical equations of motion of a Bloch electron (charge :math:`-e`, :math:`e > 0`) in uniform
fields E and B (Xiao, Chang and Niu, Rev. Mod. Phys. 82, 1959 (2010), Sec. VIII) are

.. math::
    \\dot r = \\tilde v - \\dot k\\times\\Omega, \\qquad
    \\hbar\\dot k = -eE - e\\,\\dot r\\times B, \\qquad
    \\tilde v = \\frac{1}{\\hbar}\\frac{\\partial\\tilde\\varepsilon}{\\partial k},\\quad
    \\tilde\\varepsilon = \\varepsilon - m\\cdot B,

with the Berry curvature vector :math:`\\Omega = (\\Omega^{yz}, \\Omega^{zx}, \\Omega^{xy})` (2D: only
:math:`\\Omega^{xy}` and :math:`B = B\\hat z`) and the orbital moment m. Solved for the velocities they give, with
the phase-space density :math:`D = 1 + (e/\\hbar) B\\cdot\\Omega`,

.. math::
    D\\dot r = \\tilde v + \\frac{e}{\\hbar}E\\times\\Omega + \\frac{e}{\\hbar}(\\tilde v\\cdot\\Omega)B,\\qquad
    D\\hbar\\dot k = -eE - e\\tilde v\\times B - \\frac{e^2}{\\hbar}(E\\cdot B)\\,\\Omega .

Writing the occupation as :math:`f = f_0(\\tilde\\varepsilon) + g` (:math:`f_0` is stationary in B because
:math:`(\\tilde v\\times B)\\cdot\\partial_k f_0 = 0`), the steady Boltzmann equation to first order in E is

.. math::
    \\frac{D}{\\tau_n}\\,(g - \\mathcal P g) + \\frac{D}{\\tau_v}(\\mathcal P g - \\bar{\\mathcal P} g)
    - \\frac{e}{\\hbar}(\\tilde v\\times B)\\cdot\\partial_k g
    = e f_0'(\\tilde\\varepsilon)\\Big[E\\cdot\\tilde v + \\frac{e}{\\hbar}(E\\cdot B)(\\Omega\\cdot\\tilde v)\\Big].

The collision term relaxes each band at the rate :math:`1/\\tau_n` towards a local equilibrium of its valley
(:math:`\\mathcal P g = \\sum_v \\chi_v(k)\\,(-f_0')\\,\\delta\\mu_v`, the shift of the valley's chemical potential
that conserves its number of electrons), and the valley chemical potentials towards their common value
(:math:`\\bar{\\mathcal P} g`, conserving the total number) at the intervalley rate :math:`1/\\tau_v` (Son and Spivak,
Phys. Rev. B 88, 104412 (2013)). Without valleys, the whole Brillouin zone is one valley and the collision
term only conserves the number of electrons, which changes nothing without B and for ordinary (Lorentz)
magnetotransport. The last source term pumps electrons between valleys of opposite Berry monopole
(the chiral anomaly); only the intervalley time relaxes that imbalance.

Solution. Because :math:`(\\tilde v\\times B)\\cdot\\partial_k f_0'(\\tilde\\varepsilon) = 0`, the relaxation-time
part is :math:`g_1 = -(-f_0')\\,E\\cdot\\Lambda` with a mean-free-path vector :math:`\\Lambda_{nb}(k)` that does not depend
on mu and T:

.. math::
    \\frac{D}{\\tau_n}\\Lambda_b - \\frac{e}{\\hbar}(\\tilde v\\times B)\\cdot\\partial_k\\Lambda_b
    = \\tilde v_b + \\frac{e}{\\hbar}B_b\\,(\\Omega\\cdot\\tilde v),

a smooth function of k (no Fermi function in it), solved once per band, field and tau on the whole k grid
by a sparse LU factorization (:func:`scipy.sparse.linalg.splu`) shared by the d field directions. The
derivative along the orbit is a periodic central finite difference (``"fd2"``, ``"fd4"``, ``"fd6"``) along each
grid axis, in the skew-symmetric form :math:`\\frac12[W\\cdot\\partial\\Lambda +
\\partial\\cdot(W\\Lambda)]` (equal to :math:`W\\cdot\\partial\\Lambda` since :math:`\\partial\\cdot W = 0`), so that the
discrete operator is :math:`D/\\tau_n` plus an antisymmetric matrix: it is always invertible and GMRES converges.
The valley projections then follow in closed form (:math:`\\chi_v(-f_0')` is invariant along orbits), per
chemical potential and temperature, at no further cost.

The current :math:`j = -e\\sum_n\\int\\frac{d^dk}{(2\\pi)^d} D\\dot r f` gives, linear in E,

.. math::
    \\sigma_{ab} = e^2\\sum_n\\int\\frac{d^dk}{(2\\pi)^d}(-f_0')\\Big[\\tilde v_a + \\frac{e}{\\hbar}(\\tilde v\\cdot\\Omega)B_a\\Big]
    \\Lambda^{\\rm eff}_b \\;-\\; \\frac{e^2}{\\hbar}\\sum_n\\int\\frac{d^dk}{(2\\pi)^d} f_0(\\tilde\\varepsilon)\\,\\Omega_n^{ab},

the Fermi-surface (Boltzmann) part, with the valley corrections in :math:`\\Lambda^{\\rm eff}`, and the intrinsic
anomalous Hall part (anomalous velocity). The chemical potential is held fixed as B changes. Each band is
a separate channel (ascending band index): bands that cross or are degenerate on the Fermi surface are outside
this intraband theory.
"""

from __future__ import annotations

import warnings

import numpy as np
import xarray as xr
import scipy.sparse as sp
from scipy.sparse.linalg import LinearOperator, gmres, splu

from .. import checks, units
from ..geometry import DEFAULT_DEGENERACY_TOL, band_geometry
from ..integrate.integrator import GridResolutionWarning
from ..integrate.occupation import fermi_dirac
from ..models.base import ModelError

__all__ = ["magnetoconductivity", "DERIVATIVES"]

#: e/hbar in 1/(T m^2): (e/hbar) B . Omega is dimensionless with Omega in m^2.
E_OVER_HBAR = units.e / units.hbar
#: k-derivative schemes along the grid axes: periodic central differences of order 2, 4, 6.
DERIVATIVES = ("fd2", "fd4", "fd6")
_FD = {"fd2": (1 / 2,), "fd4": (2 / 3, -1 / 12), "fd6": (3 / 4, -3 / 20, 1 / 60)}
#: bands whose largest -f0' (1/eV) is below this are left out of the solve (they carry no current)
WEIGHT_FLOOR = 1e-12
#: GMRES relative residual and restart cycles, for fields off the lattice planes (3D)
GMRES_TOL = 1e-10
GMRES_MAXITER = 40
#: largest -f0' on a valley boundary, relative to its maximum, before a warning
VALLEY_LEAK = 1e-6
AXES = ("x", "y", "z")


class _Grid:
    """The whole k grid as an array of shape (*n, d): periodic Monkhorst-Pack or a continuum cube.

    ``axis_vectors[i]`` (Angstrom) converts the Cartesian derivative to the grid-axis one,
    :math:`W\\cdot\\partial_k = \\sum_i (W\\cdot c_i)\\,\\partial_{u_i}`, with ``step[i]`` the grid step in u_i.
    """

    def __init__(self, model, n, shift, kcut):
        self.dim = model.dim
        self.n = tuple(int(x) for x in checks.grid_sizes("kgrid", n, model.dim))
        self.periodic = model.periodic
        ij = np.stack(np.meshgrid(*[np.arange(m) for m in self.n], indexing="ij"), axis=-1).reshape(-1, self.dim)
        if self.periodic:
            self.k = ((ij + shift) / np.array(self.n)) @ model.reciprocal
            self.axis_vectors = model.lattice / (2 * np.pi)
            self.step = 1.0 / np.array(self.n, dtype=float)
            self.weight = abs(np.linalg.det(model.reciprocal)) / len(ij) / (2 * np.pi) ** self.dim
            self.spacing = float(np.max(np.linalg.norm(model.reciprocal, axis=1) / np.array(self.n)))
            self.description = f"Monkhorst-Pack {'x'.join(map(str, self.n))}, shift {shift}"
        else:
            kcut = model.kcut if kcut is None else kcut
            kcut = checks.finite("kcut", kcut, "1/Angstrom, > 0") if kcut is not None else None
            if kcut is None or kcut <= 0:
                raise ModelError(f"{model.name} is a continuum model: give a momentum cutoff kcut > 0 (1/Angstrom).")
            if len(set(self.n)) != 1:
                raise ModelError("continuum grids use the same kgrid in every direction.")
            h = 2 * kcut / self.n[0]
            self.k = -kcut + (ij + 0.5) * h
            self.axis_vectors = np.eye(self.dim)
            self.step = np.full(self.dim, h)
            self.weight = h ** self.dim / (2 * np.pi) ** self.dim
            self.spacing = h
            self.kcut = kcut
            self.description = f"continuum cube {self.n[0]}^{self.dim} in |k_i| < {kcut:g} 1/A"
        self.npoints = len(ij)

    def derivative(self, x, axis, scheme):
        """d x / d u_axis for x of shape (npoints,) on the periodic grid (central differences)."""
        a = x.reshape(self.n)
        d = 0.0
        for s, c in enumerate(_FD[scheme], start=1):
            d = d + c * (np.roll(a, -s, axis=axis) - np.roll(a, s, axis=axis))
        return (d / self.step[axis]).reshape(-1)


def _field_directions(direction, dim):
    """Unit field directions, shape (ndir, 3) (2D: the z axis only)."""
    if dim == 2:
        if direction is not None and not np.allclose(np.asarray(direction, float).reshape(-1)[-1:], 1.0):
            raise ModelError("a 2D model takes B along z only: leave direction=None (B is B_z, signed).")
        return np.array([[0.0, 0.0, 1.0]])
    if dim != 3:
        raise ModelError(f"magnetotransport needs a 2D or 3D model; this one is {dim}D.")
    d = np.asarray((0.0, 0.0, 1.0) if direction is None else direction, dtype=float)
    if d.ndim == 1:
        d = d[None]
    if d.ndim != 2 or d.shape[1] != 3 or not np.all(np.isfinite(d)):
        raise ModelError(f"direction must be a 3-vector or a (n, 3) array of field directions; got shape {d.shape}.")
    norm = np.linalg.norm(d, axis=1)
    if np.any(norm == 0):
        raise ModelError("a field direction is the zero vector: give a nonzero direction for every entry.")
    return d / norm[:, None]


def _valley_labels(model, grid, valleys):
    """Integer valley index of every grid point (all zeros without valleys) and the number of valleys."""
    if valleys is None:
        return np.zeros(grid.npoints, dtype=int), 1
    if callable(valleys):
        lab = np.asarray(valleys(grid.k))
        if lab.shape != (grid.npoints,) or lab.dtype.kind not in "iu":
            raise ModelError("valleys(k) must return one integer label per k point (shape (B,) for k of shape (B, d)).")
        labels, index = np.unique(lab, return_inverse=True)
        return index.reshape(-1), len(labels)
    nodes = np.asarray(valleys, dtype=float)
    if nodes.ndim != 2 or nodes.shape[1] != model.dim or len(nodes) < 2 or not np.all(np.isfinite(nodes)):
        raise ModelError(f"valleys must be a callable or an (n >= 2, {model.dim}) array of valley centres "
                         f"(Cartesian, 1/Angstrom); got {np.shape(valleys)}.")
    dk = grid.k[:, None, :] - nodes[None, :, :]                          # (P, nv, d)
    if model.periodic:                                                  # minimum image in reduced coordinates
        red = dk @ model.lattice.T / (2 * np.pi)
        dk = (red - np.round(red)) @ model.reciprocal
    return np.argmin(np.sum(dk ** 2, axis=-1), axis=1), len(nodes)


def _curvature_vector(omega, dim):
    """(P, N, dOmega): Omega^{xy} in 2D (one component), (Omega^{yz}, Omega^{zx}, Omega^{xy}) in 3D."""
    if dim == 2:
        return omega[..., 0, 1][..., None]
    return np.stack([omega[..., 1, 2], omega[..., 2, 0], omega[..., 0, 1]], axis=-1)


def _geometry_on_grid(model, grid, chunk_size, degeneracy_tol, orbital_moment):
    """Energies (P, N) eV, velocities (P, N, d) eV Å, curvature vectors (P, N, dΩ) Å², and the orbital moments
    X (P, N, 3) in eV Å² (m = (e/ħ) X; 2D: along z), or None."""
    P, N, d = grid.npoints, model.norb, model.dim
    dO = 1 if d == 2 else 3
    eps = np.empty((P, N))
    vel = np.empty((P, N, d))
    omega = np.empty((P, N, dO))
    moment = np.zeros((P, N, 3)) if orbital_moment else None
    for s in range(0, P, chunk_size):
        geo = band_geometry(model, grid.k[s:s + chunk_size], inverse_mass=False, degeneracy_tol=degeneracy_tol)
        eps[s:s + chunk_size] = geo.energies
        vel[s:s + chunk_size] = geo.velocity
        omega[s:s + chunk_size] = _curvature_vector(geo.berry_curvature, d)
        if orbital_moment:
            m = getattr(geo, "orbital_moment", None)
            if m is None or m.shape[-1] == 0:
                raise ModelError("orbital_moment=True needs the orbital moment of a 2D or 3D model.")
            moment[s:s + chunk_size, :, 3 - m.shape[-1]:] = m            # 2D: the moment is along z
    return eps, vel, omega, moment


def _fd_matrix(shape, axis, step, scheme):
    """Sparse periodic central-difference matrix of d/du_axis on a flattened (row-major) grid of ``shape``."""
    m = shape[axis]
    if m < 2 * len(_FD[scheme]) + 1:
        raise ModelError(f"kgrid {m} along axis {axis} is too small for the {scheme} stencil.")
    one = sp.csr_matrix((m, m))
    for s, c in enumerate(_FD[scheme], start=1):
        shift = sp.eye(m, k=s, format="csr") + sp.eye(m, k=s - m, format="csr")      # x_{i+s} (periodic)
        one = one + c * (shift - shift.T)
    before, after = int(np.prod(shape[:axis])), int(np.prod(shape[axis + 1:]))
    return sp.kron(sp.kron(sp.eye(before), one / step), sp.eye(after), format="csr")


class _OrbitOperator:
    """L = diag(rate) - (1/2) Σ_i [W_i ∂_i + ∂_i W_i], the left side of the mean-free-path equation.

    A sparse matrix of the periodic central differences, factorized once (sparse LU) for the d right-hand
    sides. Grid axes along which the orbits do not move (W_i = 0 everywhere, e.g. the lattice axis along B)
    decouple the grid into slabs, factorized one at a time (the cost of a 3D grid is then that of its 2D
    slabs). (A Fourier derivative inverted by GMRES, preconditioned with this LU, stagnated on lattice bands:
    relative residual 3e-3 after 150 iterations at omega_c tau = 0.35 on a 64^2 grid; see docs.)
    """

    def __init__(self, grid, rate, W, scheme, fd_cache):
        self.rate = rate
        self.axes = [i for i in range(grid.dim) if np.any(W[i] != 0)]
        if not self.axes:
            return
        if len(self.axes) == 3:
            # orbits not confined to grid planes: the 3D LU fills in (32^3: 5 minutes), so GMRES, preconditioned
            # by 1/rate, with the sparse matrix applied (converges while omega_c tau is small on the grid scale)
            mat = sp.diags(rate)
            for i in self.axes:
                key = (grid.n, i, grid.step[i], scheme)
                if key not in fd_cache:
                    fd_cache[key] = _fd_matrix(grid.n, i, grid.step[i], scheme)
                Wd = sp.diags(W[i])
                mat = mat - 0.5 * (Wd @ fd_cache[key] + fd_cache[key] @ Wd)
            self.matrix = mat.tocsr()
            self.lu = None
            return
        free = [i for i in range(grid.dim) if i not in self.axes]
        self.order = free + self.axes                          # slab axes first: each slab is one block
        self.shape = tuple(grid.n[i] for i in self.order)
        nslab = int(np.prod([grid.n[i] for i in free])) if free else 1
        block = grid.npoints // nslab
        inner = tuple(grid.n[i] for i in self.axes)

        def reorder(x):
            return np.transpose(x.reshape(grid.n), self.order).reshape(nslab, block)

        r, Ws = reorder(rate), [reorder(W[i]) for i in self.axes]
        self.reorder, self.nslab, self.block, self.grid = reorder, nslab, block, grid
        mats = []
        for j, i in enumerate(self.axes):
            key = (inner, j, grid.step[i], scheme)
            if key not in fd_cache:
                fd_cache[key] = _fd_matrix(inner, j, grid.step[i], scheme)
            mats.append(fd_cache[key])
        self.lu = []
        for b in range(nslab):
            mat = sp.diags(r[b])
            for Di, Wi in zip(mats, Ws):
                Wd = sp.diags(Wi[b])
                mat = mat - 0.5 * (Wd @ Di + Di @ Wd)
            self.lu.append(splu(mat.tocsc()))

    def solve(self, rhs):
        if not self.axes:
            return rhs / self.rate
        if self.lu is None:
            scale = np.linalg.norm(rhs)
            if scale == 0:
                return np.zeros_like(rhs)
            M = LinearOperator(self.matrix.shape, matvec=lambda y: np.asarray(y).reshape(-1) / self.rate)
            x, info = gmres(self.matrix, rhs, x0=rhs / self.rate, rtol=GMRES_TOL, atol=0.0, restart=50,
                            maxiter=GMRES_MAXITER, M=M)
            residual = np.linalg.norm(self.matrix @ x - rhs) / scale
            if residual > 10 * GMRES_TOL:
                raise ModelError(f"the magnetotransport solve for a field off the lattice planes did not converge "
                                 f"(relative residual {residual:.1e}): omega_c tau is too large for the iterative "
                                 "solver; use a field along a lattice axis (solved directly at any B) or a smaller "
                                 "B or tau.")
            return x
        y = self.reorder(rhs)
        x = np.stack([lu.solve(y[b]) for b, lu in enumerate(self.lu)])
        inverse = np.argsort(self.order)
        return np.transpose(x.reshape(self.shape), inverse).reshape(-1)


def magnetoconductivity(model, B, *, direction=None, mu=0.0, T=300.0, tau=1e-13, tau_valley=None, valleys=None,
                        band_tau=None, kgrid=64, shift=0.5, kcut=None, derivative="fd2", orbital_moment=False,
                        chunk_size=20000,
                        degeneracy_tol=DEFAULT_DEGENERACY_TOL) -> xr.Dataset:
    """Linear conductivity in a uniform magnetic field, nonperturbative in B (module docstring for the equations).

    Parameters
    ----------
    model : Model
        A 2D (B along z) or 3D lattice or continuum model. Continuum models are solved on the cube
        ``|k_i| < kcut`` (treated as periodic: the Fermi surfaces must lie well inside it).
    B : float or 1D sequence, tesla
        Field strengths (signed) along ``direction``; a sweep.
    direction : 3-vector or (n, 3) array, optional
        Field directions (3D only; normalized; default z). Several directions give a ``direction`` dimension
        (e.g. for the planar Hall effect).
    mu : float or array, eV
        Chemical potentials (the mean-free-path solve is shared by all of them).
    T : float or array, kelvin (> 0)
        Temperatures.
    tau : float or array, seconds
        Intravalley relaxation times (a sweep).
    tau_valley : float or array, seconds, optional
        Intervalley relaxation times (a sweep; needs ``valleys``). Default: equal to tau, which is the plain
        relaxation-time approximation for the valley densities.
    valleys : callable or (n, d) array, optional
        The valleys of the intervalley relaxation: valley centres (Cartesian, 1/Angstrom; each k point belongs to
        the nearest, minimum image on a lattice), or a function ``valleys(k) -> int labels``. Every Fermi
        surface must lie in one valley.
    band_tau : sequence of float, optional
        Relative relaxation times of the bands (length ``model.norb``): :math:`\\tau_n = \\tau\\,` band_tau[n].
    kgrid : int or sequence of int
        Points per direction of the k grid (the whole grid is held in memory: about
        ``100 * N * npoints`` bytes).
    shift : float
        Monkhorst-Pack shift of a lattice grid (units of the step).
    kcut : float, optional
        Half the side of a continuum grid's cube (1/Angstrom), default ``model.kcut``.
    derivative : {"fd2", "fd4", "fd6"}
        The k derivative along orbits: periodic central differences of order 2, 4 or 6 (convergence and cost
        in docs/magnetotransport.md).
    orbital_moment : bool
        Include the orbital-moment energy :math:`-m\\cdot B` (needs ``band_geometry(...).orbital_moment``).
    chunk_size : int
        k points per band-geometry call (bounds the memory of the eigendecompositions).
    degeneracy_tol : float, eV
        Passed to :func:`~qkinetics.band_geometry`.

    Returns
    -------
    xarray.Dataset
        ``total``, ``boltzmann`` (Fermi-surface part, with the valley corrections) and ``anomalous_hall``
        (Fermi-sea part), dims ``(direction, B, mu, T, tau, tau_valley, j, E)``, in S (2D) or S/m (3D), j_a =
        sigma_ab E_b; ``valley_pumping`` (direction, B, mu, T, valley, E): the rate of change of each valley's
        electron density per unit field, :math:`\\int_v e f_0'[\\tilde v_b + (e/\\hbar)B_b\\Omega\\cdot\\tilde v]`
        in 1/(m^d s) per V/m (the chiral anomaly: :math:`-(e^2/h^2) C_v B_b` for a Weyl node of Chern number
        :math:`C_v`); ``density_of_states`` (direction, B, mu, T, valley) in 1/(eV m^d);
        ``thermal_resolution`` (T). Conventions and the grid in attrs.

    Examples
    --------
    One parabolic band (ħ²k²/2m with m = m_e): the Drude tensor in a field, sigma_xx = sigma_0/(1 + (ω_c τ)²),
    sigma_xy = -sigma_0 ω_c τ/(1 + (ω_c τ)²):

    >>> import sympy as sp, qkinetics as qk
    >>> kx, ky = sp.symbols("kx ky", real=True)
    >>> band = qk.Continuum(sp.Matrix([[3.81 * (kx**2 + ky**2)]]), kcut=1.0)
    >>> res = qk.magnetoconductivity(band, B=[0.0, 5.0], mu=0.2, T=100.0, tau=1e-13, kgrid=64)
    >>> res["total"].sel(j="x", E="x").squeeze().shape
    (2,)
    """
    if model.dim not in (2, 3):
        raise ModelError(f"magnetotransport needs a 2D or 3D model; {model.name} is {model.dim}D.")
    Bs = checks.values("B", B, "tesla")
    dirs = _field_directions(direction, model.dim)
    mu = checks.values("mu", mu, "eV")
    T = checks.values("T", T, "K", positive=True)
    tau = checks.values("tau", tau, "s", positive=True)
    if tau_valley is not None and valleys is None:
        raise ModelError("tau_valley needs valleys (valley centres or a labelling function).")
    tau_v = None if tau_valley is None else checks.values("tau_valley", tau_valley, "s", positive=True)
    if derivative not in DERIVATIVES:
        raise ModelError(f"derivative must be one of {DERIVATIVES}; got {derivative!r}.")
    ratio = np.ones(model.norb) if band_tau is None else np.asarray(band_tau, dtype=float)
    if ratio.shape != (model.norb,) or not np.all(np.isfinite(ratio)) or np.any(ratio <= 0):
        raise ModelError(f"band_tau must be {model.norb} positive numbers (one relative relaxation time per band); "
                         f"got {band_tau!r}.")
    checks.integer("chunk_size", chunk_size, 1)
    grid = _Grid(model, kgrid, shift, kcut)
    checks.memory(f"the magnetotransport arrays on {grid.npoints} k points",
                  8.0 * grid.npoints * (model.norb * (30 + len(np.atleast_1d(mu)) * len(np.atleast_1d(T))) + 24),
                  "use a smaller kgrid, or sweep fewer mu and T values per call")
    labels, nval = _valley_labels(model, grid, valleys)
    boundary = _valley_boundary(grid, labels) if nval > 1 else None
    leak = 0.0
    if tau_v is None:
        tau_v = np.array([np.nan])                                     # "equal to tau"
    eps0, vel, omega_A, moment = _geometry_on_grid(model, grid, chunk_size, degeneracy_tol, orbital_moment)
    d, N, P = model.dim, model.norb, grid.npoints
    w_si = grid.weight * 1e10 ** d                                      # m^-d per k point
    v_per_nat = 1e-10 / units.hbar_eVs                                 # (eV Å) -> m/s
    omega = omega_A * 1e-20                                            # m^2
    kT = units.kB_eV * T
    nd, nB, nmu, nT, nt, ntv = len(dirs), len(Bs), len(mu), len(T), len(tau), len(tau_v)
    shape = (nd, nB, nmu, nT, nt, ntv, d, d)
    boltz = np.zeros(shape)
    ahe = np.zeros((nd, nB, nmu, nT, d, d))
    pumping = np.zeros((nd, nB, nmu, nT, nval, d))
    dos = np.zeros((nd, nB, nmu, nT, nval))
    resolution = np.zeros(nT)
    speed = np.linalg.norm(vel, axis=-1)                                   # eV Å
    fd_cache = {}
    weights = [[None] * nT for _ in range(nmu)]
    for idir, nhat in enumerate(dirs):
        for iB, Bval in enumerate(Bs):
            Bvec = Bval * nhat if d == 3 else np.array([Bval * nhat[2]])           # 2D: (B_z,)
            eps = eps0
            tv = vel * v_per_nat                                                   # (P, N, d) m/s
            if orbital_moment and Bval != 0:
                mB = units.orbital_moment_eV_per_T * (moment @ (Bval * nhat))      # m·B (P, N) eV
                eps = eps0 - mB
                for n in range(N):
                    grad = np.stack([grid.derivative(mB[:, n], i, derivative) for i in range(d)], -1)
                    tv[:, n] -= (grad @ grid.axis_vectors) * v_per_nat             # ∇_k = Σ_i c_i ∂_{u_i}
            D = 1.0 + E_OVER_HBAR * (omega @ Bvec)                                 # (P, N)
            vO = np.einsum("pna,pna->pn", tv, omega) if d == 3 else np.zeros((P, N))
            for im in range(nmu):
                for iT in range(nT):
                    fw = -fermi_dirac(eps, mu[im], T[iT], order=1)[0, 0]           # (P, N) 1/eV
                    weights[im][iT] = fw
                    if np.any((D <= 0) & (fw > 1e-8)):
                        raise ModelError(f"1 + (e/hbar) B.Omega <= 0 on the Fermi surface at |B| = {abs(Bval):g} T: "
                                         "the field is beyond the semiclassical theory (Landau quantization); lower B.")
                    if boundary is not None and fw.max() > 0:
                        leak = max(leak, float(fw[boundary].max() / fw.max()))
                    fs = fw > 1e-3 * fw.max()
                    if np.any(fs):
                        resolution[iT] = max(resolution[iT], float(np.max(speed[fs]) * grid.spacing / kT[iT]))
                    # what does not depend on tau: intrinsic Hall part, valley pumping, density of states
                    f0 = fermi_dirac(eps, mu[im], T[iT], order=0)[0, 0]
                    u = tv + E_OVER_HBAR * vO[..., None] * (Bvec if d == 3 else 0.0)
                    pumping[idir, iB, im, iT] = w_si * _valley_sum(-fw[..., None] * u, labels, nval)
                    dos[idir, iB, im, iT] = w_si * _valley_sum(fw * D, labels, nval)
                    s = np.einsum("pn,pnc->c", f0, omega)
                    if d == 2:
                        mat = np.array([[0.0, s[0]], [-s[0], 0.0]])
                    else:                                                          # Ω^{ab} = ε_abc Ω_c
                        mat = np.array([[0, s[2], -s[1]], [-s[2], 0, s[0]], [s[1], -s[0], 0]])
                    ahe[idir, iB, im, iT] = -(units.e ** 2 / units.hbar) * w_si * mat
            active = [n for n in range(N) if max(weights[im][iT][:, n].max()
                                                 for im in range(nmu) for iT in range(nT)) > WEIGHT_FLOOR]
            # Lorentz-force coefficients along the grid axes, W_i = (e/ħ)(ṽ×B)·c_i  (1/s)
            if d == 3:
                cross = np.cross(tv, Bvec)                                         # (P, N, 3)
            else:
                cross = np.stack([tv[..., 1] * Bvec[0], -tv[..., 0] * Bvec[0]], axis=-1)
            W = E_OVER_HBAR * np.einsum("pna,ia->ipn", cross, grid.axis_vectors * 1e-10)
            # current vertex u_a = ṽ_a + (e/ħ)(ṽ·Ω) B_a: also the source of Λ_b
            u = tv + E_OVER_HBAR * vO[..., None] * (Bvec if d == 3 else 0.0)
            for it, t in enumerate(tau):
                taun = t * ratio                                                   # (N,)
                lam = np.zeros((P, N, d))
                for n in active:
                    op = _OrbitOperator(grid, D[:, n] / taun[n], W[:, :, n], derivative, fd_cache)
                    for b in range(d):
                        lam[:, n, b] = op.solve(u[:, n, b])
                for im in range(nmu):
                    for iT in range(nT):
                        fw = weights[im][iT]
                        wgt = fw * D                                               # D (-f0')  (P, N)
                        nu = _valley_sum(wgt, labels, nval)                        # Σ D(-f0')
                        B_v = _valley_sum(wgt / taun, labels, nval)                # Σ D(-f0')/τ_n
                        T_v = _valley_sum(wgt * taun, labels, nval)                # Σ D(-f0') τ_n
                        A_v = _valley_sum(wgt[..., None] / taun[:, None] * lam, labels, nval)   # (nval, d)
                        Abar = _valley_sum(wgt[..., None] * lam, labels, nval)
                        fu = fw[..., None] * u
                        for itv, tvv in enumerate(tau_v):
                            c_v, d_v = _valley_shifts(nu, B_v, T_v, A_v, Abar, t if np.isnan(tvv) else tvv, nval)
                            leff = lam - c_v[labels][:, None, :] - d_v[labels][:, None, :] * taun[None, :, None]
                            boltz[idir, iB, im, iT, it, itv] = units.e * w_si * np.einsum("pna,pnb->ab", fu, leff)
    if leak > VALLEY_LEAK:
        warnings.warn(f"occupied states reach the valley boundaries (-f0' there up to {leak:.1e} of its maximum): "
                      "the Fermi surfaces are not closed inside their valleys, and the intervalley relaxation "
                      "acts on currents through the boundaries; lower T or mu, or choose other valleys.",
                      stacklevel=2)
    if np.any(resolution > 1):
        warnings.warn(f"the k grid does not resolve k_B T on the Fermi surface (|v| dk / k_B T up to "
                      f"{resolution.max():.2g} > 1): raise kgrid or T.", GridResolutionWarning, stacklevel=2)
    return _dataset(model, grid, dirs, Bs, mu, T, tau, tau_valley, tau_v, boltz, ahe, pumping, dos,
                    resolution, derivative, valleys is not None, orbital_moment, ratio)


def _valley_boundary(grid, labels):
    """Grid points with a neighbour in another valley."""
    lab = labels.reshape(grid.n)
    out = np.zeros(grid.n, dtype=bool)
    for i in range(grid.dim):
        for s in (1, -1):
            out |= lab != np.roll(lab, s, axis=i)
    return out.reshape(-1)


def _valley_sum(x, labels, nval):
    """Σ over k and bands of x (P, N, ...) within each valley -> (nval, ...)."""
    x = x.sum(axis=1)
    out = np.zeros((nval,) + x.shape[1:])
    np.add.at(out, labels, x)
    return out


def _valley_shifts(nu, B_v, T_v, A_v, Abar, tau_v, nval):
    """Constants (c_v, d_v), each (nval, d), with Λ_eff = Λ - c_v - d_v τ_n on valley v.

    With g = -(-f0')Λ_eff: intravalley number conservation fixes each valley's chemical-potential shift
    δμ_v = μ̄ + δ_v, δ_v = -τ_v λ_v / τ̄_v with λ_v = A_v/B_v and τ̄_v = ν_v/B_v; the total number fixes μ̄.
    """
    tot = nu.sum()
    if tot <= 0:
        z = np.zeros((nval,) + A_v.shape[1:])
        return z, z
    if nval == 1:
        return Abar / tot, np.zeros_like(Abar)
    safe_B = np.where(B_v > 0, B_v, 1.0)[:, None]
    lam_v = np.where(B_v[:, None] > 0, A_v / safe_B, 0.0)
    taubar = np.where(B_v > 0, nu / np.where(B_v > 0, B_v, 1.0), 0.0)[:, None]
    delta = np.where(taubar > 0, -tau_v * lam_v / np.where(taubar > 0, taubar, 1.0), 0.0)   # (nval, d)
    mubar = (Abar.sum(axis=0) - np.sum(delta * (nu[:, None] - T_v[:, None] / tau_v), axis=0)) / tot
    # g = g1 + (-f0')[μ̄ + δ_v (1 - τ_n/τ_v)]  =>  Λ_eff = Λ - μ̄ - δ_v + δ_v τ_n / τ_v
    return mubar[None, :] + delta, -delta / tau_v


def _dataset(model, grid, dirs, Bs, mu, T, tau, tau_valley, tau_v, boltz, ahe, pumping, dos, resolution,
             derivative, has_valleys, orbital_moment, ratio):
    from ..conductivity import provenance_attrs

    d = model.dim
    ax = list(AXES[:d])
    unit = "S" if d == 2 else "S/m"
    coords = {"direction": np.arange(len(dirs)), "B": Bs, "mu": mu, "T": T, "tau": tau, "tau_valley": tau_v,
              "j": ax, "E": ax, "valley": np.arange(pumping.shape[4])}
    ds = xr.Dataset(coords=coords)
    ds = ds.assign_coords(field_direction=(("direction", "xyz"), dirs), xyz=["x", "y", "z"])
    dims = ("direction", "B", "mu", "T", "tau", "tau_valley", "j", "E")
    ds["boltzmann"] = (dims, boltz)
    ds["boltzmann"].attrs.update(units=unit, description=(
        "Fermi-surface part: e^2 sum_n int (-f0') [v_a + (e/hbar)(v.Omega) B_a] Lambda_eff_b, Lorentz force to all "
        "orders, with the valley (chiral-anomaly) corrections"))
    ds["anomalous_hall"] = (("direction", "B", "mu", "T", "j", "E"), ahe)
    ds["anomalous_hall"].attrs.update(units=unit, description="Fermi-sea part: -(e^2/hbar) sum_n int f0 Omega_n^{ab}")
    ds["total"] = ds["boltzmann"] + ds["anomalous_hall"]
    ds["total"].attrs.update(units=unit, description="boltzmann + anomalous_hall; j_a = sigma_ab E_b")
    ds["valley_pumping"] = (("direction", "B", "mu", "T", "valley", "E"), pumping)
    ds["valley_pumping"].attrs.update(units=f"1/(m^{d} s) per V/m", description=(
        "rate of change of each valley's electron density per unit field E_b (without relaxation): "
        "sum_n int_v e f0' [v_b + (e/hbar) B_b Omega.v]; -(e^2/h^2) C B_b for a Weyl node of Chern number C"))
    ds["density_of_states"] = (("direction", "B", "mu", "T", "valley"), dos)
    ds["density_of_states"].attrs.update(units=f"1/(eV m^{d})",
                                         description="sum_n int_v D (-f0'): thermally broadened density of states")
    ds["thermal_resolution"] = (("T",), resolution)
    ds["thermal_resolution"].attrs["description"] = "largest |v| dk / (kB T) on the Fermi surface; above 1 the grid is too coarse"
    for name, unit_ in (("B", "T"), ("mu", "eV"), ("T", "K"), ("tau", "s"), ("tau_valley", "s")):
        ds[name].attrs["units"] = unit_
    ds["tau_valley"].attrs["description"] = ("intervalley relaxation time; NaN: equal to tau (no separate "
                                             "intervalley relaxation)")
    ds.attrs.update(
        dimension=d,
        conventions=("electron charge -e; j_a = sigma_ab E_b; B = B * field_direction (tesla; 2D: B along z); "
                     "D = 1 + (e/hbar) B.Omega; energy eps - m.B; chemical potential fixed as B changes; "
                     f"{d}D units"),
        derivative=derivative, valleys="given" if has_valleys else "none (one valley)",
        orbital_moment=str(bool(orbital_moment)), band_tau=str(ratio.tolist()),
        **provenance_attrs(model, grid))
    return ds
