"""Numerical fluxes of the finite-volume scheme: MUSCL reconstruction, slope limiters, upwinding.

The flux through the face i+1/2 along an axis with face velocity u is the upwind value of the
reconstructed distribution,

.. math::
    F_{i+1/2} = u\\,f^L_{i+1/2}\\ (u > 0),\\qquad u\\,f^R_{i+1/2}\\ (u \\le 0),\\qquad
    f^L_{i+1/2} = f_i + \\tfrac12 s_i,\\quad f^R_{i+1/2} = f_{i+1} - \\tfrac12 s_{i+1},

with the limited slope :math:`s_i = \\phi(\\Delta_{i-1/2}, \\Delta_{i+1/2})` of the neighbouring differences
:math:`\\Delta_{i+1/2} = f_{i+1} - f_i` (:data:`LIMITERS`: ``"mc"`` monotonized central, ``"minmod"``,
``"vanleer"``, ``"none"`` the unlimited central slope (Fromm), ``"upwind"`` zero slope, first order).
The flux is a function of the face only, so the divergence (F_{i+1/2} - F_{i-1/2})/dx telescopes: the
scheme conserves the number to round-off on a periodic axis. These are the "Riemann solvers" of the scheme
(in PyClaw's terms); the velocity fields they transport come from the term modules.
"""

import numpy as np

__all__ = ["LIMITERS", "upwind_flux", "upwind_flux_open"]


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


def upwind_flux(f, vel, axis, limiter):
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


def upwind_flux_open(f, vel, gl, gr, limiter):
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

