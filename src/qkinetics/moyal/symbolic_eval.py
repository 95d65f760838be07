"""Fast numeric evaluation of large sympy expressions with generic (undefined) functions.

Symbolic star products grow to expression trees of 10^5..10^6 operations that share most of their
sub-trees. ``lambdify`` and ``evalf`` walk the tree (and ``lambdify`` first generates code for it);
:func:`evaluate` walks the shared DAG once with memoization, in complex floating point.

Generic functions f(x, k) and their derivatives are treated as independent numbers: an identity
that holds for every smooth f (associativity, U*U^dagger = 1, ...) is a polynomial identity in
the values of f and its derivatives at a point, so it must hold for arbitrary values of these.
:func:`random_values` draws them.
"""

from __future__ import annotations

import cmath
import math

import numpy as np
import sympy as sp
from sympy.core.function import AppliedUndef

__all__ = ["evaluate", "random_values", "generic_atoms"]

_FUNCTIONS = {sp.exp: cmath.exp, sp.sin: cmath.sin, sp.cos: cmath.cos, sp.tan: cmath.tan, sp.log: cmath.log,
              sp.sinh: cmath.sinh, sp.cosh: cmath.cosh, sp.tanh: cmath.tanh, sp.atan: cmath.atan}


def _elements(exprs):
    if isinstance(exprs, (sp.Basic, sp.MatrixBase)) or not hasattr(exprs, "__iter__"):
        exprs = [exprs]
    for e in exprs:
        if isinstance(e, sp.MatrixBase):
            yield from e
        elif isinstance(e, (list, tuple)):
            yield from _elements(e)
        else:
            yield sp.sympify(e)


def generic_atoms(exprs):
    """Undefined-function applications and their derivatives occurring in the expressions."""
    out = set()
    for e in _elements(exprs):
        out |= e.atoms(sp.Derivative) | e.atoms(AppliedUndef)
    return out


def random_values(exprs, rng, coords=None, shift=None, values=None):
    """Random numbers for the coordinates and for every generic-function atom in ``exprs``.

    Parameters
    ----------
    exprs : expression, Matrix, or (nested) list of them
    rng : numpy Generator
    coords : PhaseSpace, optional; its variables get values too.
    shift : dict atom -> number added to the random value (e.g. to keep a gap function positive).
    values : dict, optional; extended in place (keeps earlier values: consistent across calls).
    """
    values = {} if values is None else values
    shift = shift or {}
    if coords is not None:
        for v in coords.variables:
            values.setdefault(v, float(rng.normal()))
    for a in sorted(generic_atoms(exprs), key=sp.default_sort_key):
        if a not in values:
            values[a] = float(rng.normal()) + shift.get(a, 0.0)
    return values


def evaluate(expr, values, memo=None):
    """Numeric value of a sympy expression or Matrix (complex; ndarray for a Matrix).

    ``values`` maps symbols, undefined-function applications and derivatives to numbers. ``memo``
    may be shared between calls with the same ``values`` to reuse common sub-expressions.
    """
    memo = {} if memo is None else memo

    def ev(e):
        r = memo.get(e)
        if r is not None:
            return r
        if e in values:
            r = complex(values[e])
        elif e.is_Number:
            r = complex(e)
        elif e is sp.I:
            r = 1j
        elif e is sp.pi:
            r = complex(math.pi)
        elif e is sp.E:
            r = complex(math.e)
        elif e.is_Add:
            r = 0j
            for a in e.args:
                r += ev(a)
        elif e.is_Mul:
            r = 1 + 0j
            for a in e.args:
                r *= ev(a)
        elif e.is_Pow:
            b, p = e.args
            r = ev(b) ** (int(p) if p.is_Integer else ev(p))
        elif isinstance(e, sp.conjugate):
            r = ev(e.args[0]).conjugate()
        elif isinstance(e, sp.re):
            r = complex(ev(e.args[0]).real)
        elif isinstance(e, sp.im):
            r = complex(ev(e.args[0]).imag)
        elif isinstance(e, sp.Abs):
            r = complex(abs(ev(e.args[0])))
        elif e.func in _FUNCTIONS:
            r = _FUNCTIONS[e.func](ev(e.args[0]))
        else:
            raise KeyError(f"evaluate: no value for {e!r} (give it in `values`).")
        memo[e] = r
        return r

    if isinstance(expr, sp.MatrixBase):
        return np.array([[ev(expr[i, j]) for j in range(expr.cols)] for i in range(expr.rows)])
    return ev(sp.sympify(expr))
