"""Checks of user arguments and of the size of a job, shared by the public functions and the run configs.

Every check raises :class:`~qkinetics.models.base.ModelError` with a message that starts with the argument's
name, says what is allowed and what was given, so a bad input is never silently rounded, never turns into
NaN or 0 in a result, and never surfaces as an IndexError from deep inside.

Sizes are checked before anything is allocated. The limits are in :data:`LIMITS`; raise them (e.g.
``qkinetics.checks.LIMITS["k_points"] = 1e10``, or ``[grid] max_points`` in a run config) for a job that
really needs more.
"""

from __future__ import annotations

import contextlib
import numbers

import numpy as np

from .models.base import ModelError

#: Refusal thresholds. ``k_points``: points of one k grid (1e9: about 14 hours on one core for a two-band model,
#: see :data:`K_POINTS_PER_SECOND`); ``memory_bytes``: arrays built at once (result sweeps, Chern grids).
LIMITS = {"k_points": 1e9, "memory_bytes": 8 * 2**30}

#: Throughput of :func:`qkinetics.conductivity` measured for two-band lattice models on one core (2-4e4 points/s
#: for orders 1 and 2, all mechanisms); the work per point grows about as norb^3.
K_POINTS_PER_SECOND = 2e4


def integer(name: str, value, minimum: int) -> int:
    """``value`` as an int >= ``minimum``; a bool, a float (also 40.0 or 2.5), NaN or a string is an error."""
    if isinstance(value, bool) or not isinstance(value, numbers.Integral) or value < minimum:
        raise ModelError(f"{name} must be an integer >= {minimum}; got {value!r}.")
    return int(value)


def values(name: str, value, unit: str, *, minimum=None, positive=False) -> np.ndarray:
    """A sweep argument (a number or a 1D sequence of numbers) as a non-empty 1D float array of finite values,
    ``>= minimum`` or ``> 0`` with ``positive``."""
    what = "positive" if positive else f">= {minimum:g}" if minimum is not None else ""
    allowed = f"{what} and finite ({unit})" if what else f"finite ({unit})"
    try:
        arr = np.asarray(value, dtype=float)
    except (TypeError, ValueError):
        raise ModelError(f"{name} must be a number or a 1D sequence of numbers, {allowed}; got {value!r}.") from None
    flags = value if isinstance(value, (list, tuple)) else ()        # True would pass as 1.0
    if isinstance(value, (str, bytes, bool, np.bool_)) or arr.ndim > 1 or arr.dtype.kind not in "fiu" \
            or any(isinstance(v, (bool, np.bool_)) for v in flags) \
            or (isinstance(value, np.ndarray) and value.dtype.kind == "b"):
        raise ModelError(f"{name} must be a number or a 1D sequence of numbers, {allowed}; got {value!r}.")
    arr = np.atleast_1d(arr)
    if arr.size == 0:
        raise ModelError(f"{name} must have at least one value ({unit}); got an empty sequence.")
    bad = ~np.isfinite(arr)
    if positive:
        bad |= ~(arr > 0)
    elif minimum is not None:
        bad |= ~(arr >= minimum)
    if np.any(bad):
        shown = arr[bad][:5].tolist()
        raise ModelError(f"{name} must be {allowed}; got {name} = {shown}{' ...' if bad.sum() > 5 else ''}.")
    return arr


def finite(name: str, value, unit: str) -> float:
    """A single finite number."""
    if isinstance(value, bool) or not isinstance(value, numbers.Real) or not np.isfinite(value):
        raise ModelError(f"{name} must be finite ({unit}); got {value!r}.")
    return float(value)


def memory(what: str, nbytes: float, advice: str) -> None:
    """Refuse to build arrays of ``nbytes`` in all above ``LIMITS["memory_bytes"]``."""
    if nbytes > LIMITS["memory_bytes"]:
        raise ModelError(f"{what} needs about {nbytes / 2**30:.3g} GiB of memory at once, above the limit of "
                         f"{LIMITS['memory_bytes'] / 2**30:.3g} GiB ({advice}; to go ahead anyway raise "
                         "qkinetics.checks.LIMITS['memory_bytes']).")


def k_points(npoints: float, description: str, norb: int = 2) -> None:
    """Refuse a k grid of more than ``LIMITS["k_points"]`` points, with an estimate of its run time."""
    if npoints > LIMITS["k_points"]:
        hours = npoints / K_POINTS_PER_SECOND * max(norb / 2, 1) ** 3 / 3600
        raise ModelError(f"the k grid {description} has {npoints:.3g} k points, above the limit of "
                         f"{LIMITS['k_points']:.3g}: at about {K_POINTS_PER_SECOND:.0g} points per second per core "
                         f"that is roughly {hours:.3g} hours on one core (and a grid of n points per direction "
                         "converges as 1/n^2 at best). Use fewer points per direction (check convergence with the "
                         "error bars), or, to go ahead anyway, raise qkinetics.checks.LIMITS['k_points'] "
                         "([grid] max_points in a run config).")


def grid_sizes(name: str, n, dim: int) -> np.ndarray:
    """Points per direction of a grid: one integer >= 2 or ``dim`` of them, as an int array of length ``dim``."""
    items = np.asarray(n, dtype=object).ravel().tolist() if isinstance(n, (list, tuple, np.ndarray)) else [n]
    if len(items) not in (1, dim) or any(isinstance(v, (bool, np.bool_)) or not isinstance(v, numbers.Integral)
                                         or v < 2 for v in items):
        raise ModelError(f"{name} must be an integer >= 2 (points per direction) or {dim} of them, one per "
                         f"direction; got {n!r}.")
    return np.broadcast_to(np.array(items, dtype=np.int64), (dim,)).copy()


@contextlib.contextmanager
def limits(**overrides):
    """Context manager applying ``overrides`` of :data:`LIMITS` inside the ``with`` block."""
    old = dict(LIMITS)
    LIMITS.update(overrides)
    try:
        yield LIMITS
    finally:
        LIMITS.clear()
        LIMITS.update(old)
