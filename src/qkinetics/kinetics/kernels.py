"""Compiled kernels of the order-0/1 step: the fused MUSCL transport and the local chemical potential solve.

Why: the numpy form of one right-hand side makes some 40 passes over the grid (rolls, differences, the limiter's
``where`` chains, a Newton iteration of ``expit`` per cell for the local μ̃) and ran at about 3·10⁶
cell-updates/s. These kernels make one pass per stage for the transport and one per Newton iteration for the
local μ̃, with the same arithmetic in the same order as :mod:`.fluxes` and :meth:`.Relaxation.local_mu` (the
transport is identical to the last bit; the μ̃ sums run in a different order, so μ̃ agrees to round-off).

* :func:`transport` = -[F^x_{i+1/2} - F^x_{i-1/2}]/dx - [F^k_{j+1/2} - F^k_{j-1/2}]/dk (divided by ρ with
  model(x) at order 1) on a periodic (x, k_x) grid, F the upwind MUSCL fluxes of :func:`.fluxes.upwind_flux`.
* :func:`transport_ky` subtracts the k_y flux divergence of a flow with a k_y axis (the magnetic field).
* :func:`local_equilibrium` = f_FD((h - μ̃(x))/k_BT(x)) with μ̃(x) the safeguarded-Newton root of
  Σ w f_FD = n(x), n(x) = Σ w f the local density of f (w = dk dk_y/(2π)^d, times ρ with model(x)).

Each kernel has a serial and a threaded (``prange`` over x) build, compiled on first use; :func:`kernel` picks the
threaded one for grids of at least :data:`PARALLEL_MIN_CELLS` cells (below that the threads' start-up costs more
than they save, and on a machine busy with other work a threaded kernel waits for its slowest thread).
They run when numba is installed (a dependency of the package); without it, or with ``KineticSolver.compiled =
False``, the solver uses its numpy form (tested against these kernels).
"""

import math

import numpy as np

import importlib.util

__all__ = ["AVAILABLE", "LIMITER_CODES", "PARALLEL_MIN_CELLS", "kernel", "threads"]

#: numba is importable (it is imported, and the kernels compiled, on first use: ``import qkinetics`` stays fast)
try:
    AVAILABLE = importlib.util.find_spec("numba") is not None
except (ImportError, ValueError):                    # pragma: no cover - a broken or blocked numba
    AVAILABLE = False
LIMITER_CODES = {"upwind": 0, "mc": 1, "minmod": 2, "vanleer": 3, "none": 4}
prange = range                                       # numba.prange once compiled

def _slope(a, b, lim):
    """The limited slope of the differences a = Δ_{i-1/2}, b = Δ_{i+1/2} (the limiters of :mod:`.fluxes`)."""
    if lim == 1:                                     # mc
        if a * b > 0:
            c = 0.5 * (a + b)
            m = min(min(2 * abs(a), 2 * abs(b)), abs(c))
            return m if c > 0 else (-m if c < 0 else 0.0 * m)
        return 0.0
    if lim == 2:                                     # minmod
        if a * b > 0:
            return a if abs(a) < abs(b) else b
        return 0.0
    if lim == 3:                                     # vanleer
        ab = a * b
        if ab > 0:
            return 2 * ab / (a + b)
        return 0.0
    return 0.5 * (a + b)                             # none (Fromm)


def _face(fm, f0, fp, fpp, u, lim):
    """Upwind flux u f through the face between the cells of f0 and fp (neighbours fm, fpp), MUSCL-reconstructed."""
    if lim == 0:
        return u * f0 if u > 0 else u * fp
    if u > 0:
        return u * (f0 + 0.5 * _slope(f0 - fm, fp - f0, lim))
    return u * (fp - 0.5 * _slope(fp - f0, fpp - fp, lim))


def _wrap(n, shift):
    """Indices (j + shift) mod n for j = 0..n-1 (periodic neighbours without a modulo in the inner loops)."""
    out = np.empty(n, np.int64)
    for j in range(n):
        out[j] = (j + shift) % n
    return out


def transport(f, vx, kd, rho, dx, dk, lim, with_k, with_rho, nchunks, out):
    """Fill ``out`` with the periodic flux divergence of f (N, nx, nk, nky) (module docstring).

    vx: x-face velocities at x_{i+1/2} (index i), kd: k̇ at k_{j+1/2}, rho: ρ; all broadcast to f's shape
    (read-only views are fine). ``with_k``: the k-flux is taken (False when k̇ = 0 everywhere, as the numpy
    form skips it); ``with_rho``: divide by ρ. The x rows are swept in ``nchunks`` blocks per band (the threads'
    work items); along a block each face flux is computed once (the right face of a row is the left face of the
    next), each k-face flux once per row (a buffer of nk)."""
    N, nx, nk, ny = f.shape
    xm1, xp1, xp2 = _wrap(nx, -1), _wrap(nx, 1), _wrap(nx, 2)
    km1, kp1, kp2 = _wrap(nk, -1), _wrap(nk, 1), _wrap(nk, 2)
    for c in prange(N * nchunks):
        n = c // nchunks
        b = c - n * nchunks
        i0, i1 = (b * nx) // nchunks, ((b + 1) * nx) // nchunks
        left = np.empty((nk, ny))                    # flux through x_{i-1/2}
        fk = np.zeros(nk)
        im = xm1[i0]
        for j in range(nk):
            for y in range(ny):
                left[j, y] = _face(f[n, xm1[im], j, y], f[n, im, j, y], f[n, i0, j, y], f[n, xp1[i0], j, y],
                                   vx[n, im, j, y], lim)
        for i in range(i0, i1):
            im, ip, ipp = xm1[i], xp1[i], xp2[i]
            for y in range(ny):
                if with_k:
                    for j in range(nk):
                        fk[j] = _face(f[n, i, km1[j], y], f[n, i, j, y], f[n, i, kp1[j], y], f[n, i, kp2[j], y],
                                      kd[n, i, j, y], lim)
                for j in range(nk):
                    right = _face(f[n, im, j, y], f[n, i, j, y], f[n, ip, j, y], f[n, ipp, j, y], vx[n, i, j, y], lim)
                    o = -(right - left[j, y]) / dx
                    left[j, y] = right
                    if with_k:
                        o = o - (fk[j] - fk[km1[j]]) / dk
                    if with_rho:
                        o = o / rho[n, i, j, y]
                    out[n, i, j, y] = o


def transport_ky(f, uy, rho, dky, lim, with_rho, nchunks, out):
    """Subtract the periodic k_y flux divergence of f from ``out`` in place, then divide by ρ (``with_rho``):
    out <- (out - [F^y_{l+1/2} - F^y_{l-1/2}]/dk_y)/ρ, F^y the upwind MUSCL flux with the face velocities ``uy``
    at k_{y,l+1/2} (index l; broadcast to f's shape). With :func:`transport` (``with_rho`` False) first, the same
    operations in the same order as the numpy form of a flow with a k_y axis (the magnetic field,
    :mod:`.magnetic`)."""
    N, nx, nk, ny = f.shape
    ym1, yp1, yp2 = _wrap(ny, -1), _wrap(ny, 1), _wrap(ny, 2)
    for c in prange(N * nchunks):
        n = c // nchunks
        b = c - n * nchunks
        i0, i1 = (b * nx) // nchunks, ((b + 1) * nx) // nchunks
        fy = np.empty(ny)
        for i in range(i0, i1):
            for j in range(nk):
                for y in range(ny):
                    fy[y] = _face(f[n, i, j, ym1[y]], f[n, i, j, y], f[n, i, j, yp1[y]], f[n, i, j, yp2[y]],
                                  uy[n, i, j, y], lim)
                for y in range(ny):
                    o = out[n, i, j, y] - (fy[y] - fy[ym1[y]]) / dky
                    if with_rho:
                        o = o / rho[n, i, j, y]
                    out[n, i, j, y] = o


def local_equilibrium(f, E, emin, emax, w, weight, kT, mu, tol, maxiter, tau, out):
    """The local equilibrium of the number-conserving relaxation (module docstring), written to ``out``.

    f (N, nx, nk, nky); E (N, nxE, nk, nky) the band energies h (nxE = 1: the same at every x), emin and emax
    (nxE,) their extremes per x; w (N, nxw, nk,
    nky) the k weights (nxw = 1: uniform); weight = dk dk_y/(2π)^d (the tolerance floor); kT (nx,); mu (nx,)
    the starting μ̃, overwritten with the root. The safeguarded Newton of :meth:`.Relaxation.local_mu`: bracket
    [min h - 50kT, max h + 50kT], bisection when the Newton step leaves it, |residual| <= tol max(n, weight).
    One exponential per cell: z = exp((h - μ_0)/k_BT) at the start, and at a trial μ = μ_0 + δ the occupation is
    f_FD = 1/(1 + z e^{-δ/k_BT}) (z is refreshed when |δ|/k_BT > 30, so the product neither overflows nor loses
    the cells that z rounded to 0 or inf). ``tau`` > 0: subtract the collision term (f - f_loc)/τ from ``out``
    (a rate) instead of writing f_loc to it."""
    N, nx, nk, ny = f.shape
    se = np.int64(1) if E.shape[1] > 1 else np.int64(0)      # x stride of E and w (0: the same at every x)
    sw = np.int64(1) if w.shape[1] > 1 else np.int64(0)
    for i in prange(nx):
        ie = np.int64(i) * se
        iw = np.int64(i) * sw
        t = kT[i]
        lo, hi = emin[ie] - 50 * t, emax[ie] + 50 * t
        m = min(max(mu[i], lo), hi)
        m0 = m
        z = np.empty((N, nk, ny))
        p = np.empty((N, nk, ny))                    # f_loc of this row at the trial μ̃
        target = 0.0
        nmax = 0.0
        for n in range(N):
            for j in range(nk):
                for y in range(ny):
                    target += w[n, iw, j, y] * f[n, i, j, y]
                    nmax += w[n, iw, j, y]
                    z[n, j, y] = math.exp((E[n, ie, j, y] - m0) / t)
        target = min(max(target, 1e-300), nmax * (1 - 1e-16))
        converged = False
        for _ in range(maxiter):
            if abs(m - m0) > 30 * t:
                m0 = m
                for n in range(N):
                    for j in range(nk):
                        for y in range(ny):
                            z[n, j, y] = math.exp((E[n, ie, j, y] - m0) / t)
            c = math.exp(-(m - m0) / t)
            g = -target
            dg = 0.0
            for n in range(N):
                for j in range(nk):
                    for y in range(ny):
                        q = 1.0 / (1.0 + z[n, j, y] * c)
                        p[n, j, y] = q
                        g += w[n, iw, j, y] * q
                        dg += w[n, iw, j, y] * q * (1 - q)
            dg /= t
            if abs(g) <= tol * max(target, weight):
                converged = True
                break
            if g < 0:
                lo = m
            if g > 0:
                hi = m
            new = m - g / dg
            if not np.isfinite(new) or new <= lo or new >= hi:
                new = 0.5 * (lo + hi)
            m = new
        if not converged:                            # the distribution at the last μ̃
            c = math.exp(-(m - m0) / t)
            for n in range(N):
                for j in range(nk):
                    for y in range(ny):
                        p[n, j, y] = 1.0 / (1.0 + z[n, j, y] * c)
        mu[i] = m
        for n in range(N):
            for j in range(nk):
                for y in range(ny):
                    if tau > 0:
                        out[n, i, j, y] -= (f[n, i, j, y] - p[n, j, y]) / tau
                    else:
                        out[n, i, j, y] = p[n, j, y]


def rk2_stage(f0, r, dt):
    """First SSP-RK2 stage in place: r <- f0 + dt r (the predictor f1)."""
    a, b = f0.reshape(-1), r.reshape(-1)
    for m in prange(a.size):
        b[m] = a[m] + dt * b[m]


def rk2_final(f0, f1, r1, dt):
    """Second SSP-RK2 stage in place: r1 <- (f0 + f1 + dt r1)/2 (the same operations as the numpy form)."""
    a, b, c = f0.reshape(-1), f1.reshape(-1), r1.reshape(-1)
    for m in prange(a.size):
        c[m] = 0.5 * (a[m] + b[m] + dt * c[m])


#: Grids with at least this many cells use the threaded builds (numba's thread count, ``NUMBA_NUM_THREADS``).
PARALLEL_MIN_CELLS = 1 << 17

_PYTHON = {"transport": transport, "transport_ky": transport_ky, "local_equilibrium": local_equilibrium, "rk2_stage": rk2_stage,
           "rk2_final": rk2_final}
_HELPERS = ("_slope", "_face", "_wrap")
_BUILDS = {}


def _compile():
    """Import numba and make the dispatchers (compiled on their first call): the helpers replace their Python
    versions in this module (the kernels call them by name), each kernel gets a serial build (cached on disk) and a
    threaded one (not cached: numba's cache is keyed by the function, so a cached threaded build would be mixed up
    with the serial build of the same source)."""
    global numba, prange
    import numba
    prange = numba.prange
    jit = numba.njit(cache=True, fastmath=False, error_model="numpy")
    pjit = numba.njit(cache=False, fastmath=False, error_model="numpy", parallel=True)
    for name in _HELPERS:
        globals()[name] = jit(globals()[name])
    _BUILDS["serial"] = {name: jit(fn) for name, fn in _PYTHON.items()}
    _BUILDS["threaded"] = {name: pjit(fn) for name, fn in _PYTHON.items()}


def threads(ncells):
    """The number of threads the kernels use on a grid of ``ncells`` cells (1: the serial builds)."""
    if not AVAILABLE or ncells < PARALLEL_MIN_CELLS:
        return 1
    if not _BUILDS:
        _compile()
    return numba.get_num_threads()


def kernel(name, ncells):
    """The compiled kernel ``name`` for a grid of ``ncells`` cells (threaded from :data:`PARALLEL_MIN_CELLS` on,
    when numba has more than one thread)."""
    if not _BUILDS:
        _compile()
    return _BUILDS["threaded" if threads(ncells) > 1 else "serial"][name]
