"""Truncated Taylor polynomials ("jets") of matrix-valued phase-space functions at a batch of points.

A :class:`Jet` holds the Taylor coefficients of a function f(ξ) about points ξ0 (a batch of B
points) in the variables ``ξ = (x_1..x_d, k_1..k_d[, t])``,

.. math::  f(\\xi_0 + \\delta) = \\sum_{|m| \\le D} c_m\\,\\delta^m,\\qquad c_m = \\partial^m f(\\xi_0)/m!,

with coefficient array ``coef`` of shape ``(M, *shape)`` (M monomials of total degree <= D, sorted
by degree; ``shape`` = e.g. ``(B, N, N)`` for a batch of matrices). Products are truncated at the
smaller valid degree of the factors and every derivative lowers the valid degree by one, so a
result never claims more Taylor coefficients than its inputs determine. Arithmetic on jets is
exact (no finite differences): sums, element-wise and matrix products, reciprocals and the
elementary functions :func:`exp`, :func:`sin`, :func:`cos`, :func:`sqrt`, :func:`log`, ... are
composed from the Taylor series of the function.

This is the numeric backbone of the star diagonalization (:mod:`qkinetics.moyal.diagonalize`):
the Moyal star product of jets is exact order by order in ħ, so U_n, h_n and their phase-space
derivatives at a point follow from a finite number of derivatives of H at that point.

Building the jet of a Hamiltonian:

* :func:`jet_from_sympy`: a sympy expression/Matrix in the :class:`~qkinetics.moyal.PhaseSpace`
  symbols, differentiated exactly;
* :meth:`Jet.from_function`: a Python callable H(x_1, .., k_1, ..[, t]) written with jet arithmetic
  (``+ - * / **``, :func:`exp`, :func:`sin`, ..., and :func:`matrix` to assemble matrices);
* :func:`jet_from_derivatives`: arrays of partial derivatives already at hand (e.g. from
  ``Model.hamiltonian(k, order=3)``).
"""

from __future__ import annotations

from functools import lru_cache
from itertools import combinations_with_replacement
from math import factorial

import numpy as np

__all__ = [
    "JetSpace", "Jet", "variables", "matrix", "constant", "jet_from_sympy", "jet_from_derivatives",
    "exp", "sin", "cos", "sinh", "cosh", "sqrt", "log", "power",
]


class JetSpace:
    """Monomials in ``nvar`` variables up to total degree ``degree`` and their bookkeeping."""

    def __init__(self, nvar: int, degree: int):
        if nvar < 1 or degree < 0:
            raise ValueError(f"JetSpace needs nvar >= 1 and degree >= 0; got {nvar}, {degree}.")
        self.nvar, self.degree = nvar, degree
        mons = []
        for d in range(degree + 1):
            block = []
            for combo in combinations_with_replacement(range(nvar), d):
                m = [0] * nvar
                for v in combo:
                    m[v] += 1
                block.append(tuple(m))
            mons.extend(sorted(block, reverse=True))
        self.monomials = tuple(mons)
        self.index = {m: i for i, m in enumerate(mons)}
        self.degrees = np.array([sum(m) for m in mons])
        self.count = [int(np.sum(self.degrees <= d)) for d in range(degree + 1)]   # monomials with deg <= d
        self.factorials = np.array([np.prod([factorial(e) for e in m]) for m in mons], dtype=float)
        self._mul = {}
        self._der = {}

    def __eq__(self, other):
        return isinstance(other, JetSpace) and (self.nvar, self.degree) == (other.nvar, other.degree)

    def __hash__(self):
        return hash((self.nvar, self.degree))

    def __repr__(self):
        return f"JetSpace(nvar={self.nvar}, degree={self.degree})"

    def mul_table(self, deg: int):
        """Index pairs (I, J) with deg(I) + deg(J) <= deg, sorted by their product monomial, and the
        segment starts for ``np.add.reduceat`` (one segment per monomial of degree <= deg)."""
        if deg not in self._mul:
            I, J, K = [], [], []
            n = self.count[deg]
            for i in range(n):
                mi = self.monomials[i]
                for j in range(n):
                    if self.degrees[i] + self.degrees[j] > deg:
                        continue
                    mj = self.monomials[j]
                    I.append(i)
                    J.append(j)
                    K.append(self.index[tuple(a + b for a, b in zip(mi, mj))])
            I, J, K = map(np.array, (I, J, K))
            order = np.argsort(K, kind="stable")
            I, J, K = I[order], J[order], K[order]
            starts = np.flatnonzero(np.r_[True, K[1:] != K[:-1]])
            assert len(starts) == n
            self._mul[deg] = (I, J, starts)
        return self._mul[deg]

    def deriv_table(self, counts, deg: int):
        """For ∂^counts of a jet valid to ``deg``: source indices and factors (m+n)!/m! of the
        result's coefficients (valid to deg - |counts|)."""
        key = (tuple(counts), deg)
        if key not in self._der:
            n = sum(counts)
            out_deg = deg - n
            src, fac = [], []
            for i in range(self.count[out_deg] if out_deg >= 0 else 0):
                m = self.monomials[i]
                mm = tuple(a + b for a, b in zip(m, counts))
                src.append(self.index[mm])
                f = 1.0
                for a, b in zip(m, counts):
                    f *= factorial(a + b) / factorial(a)
                fac.append(f)
            self._der[key] = (np.array(src, dtype=int), np.array(fac))
        return self._der[key]


@lru_cache(maxsize=32)
def jet_space(nvar: int, degree: int) -> JetSpace:
    """Shared :class:`JetSpace` instances (their tables are cached)."""
    return JetSpace(nvar, degree)


class Jet:
    """Taylor jet of an array-valued function (see module docstring).

    Parameters
    ----------
    space : JetSpace
    coef : array, shape ``(space.count[deg], *shape)``
        Taylor coefficients c_m in the monomial order of ``space``.
    deg : int, optional
        Valid degree (default: ``space.degree``).
    """

    __array_priority__ = 1000

    def __init__(self, space: JetSpace, coef, deg: int | None = None):
        self.space = space
        self.deg = space.degree if deg is None else deg
        coef = np.asarray(coef)
        if coef.shape[0] != space.count[self.deg]:
            raise ValueError(f"coef has {coef.shape[0]} rows; degree {self.deg} in {space.nvar} variables "
                             f"needs {space.count[self.deg]}.")
        self.coef = coef

    # ------------------------------------------------------------------ basic access
    @property
    def shape(self):
        return self.coef.shape[1:]

    @property
    def value(self):
        """f(ξ0)."""
        return self.coef[0]

    def derivative(self, counts):
        """The partial derivative :math:`\\partial^{m}f(\\xi_0)` for the multi-index ``counts``."""
        counts = tuple(counts)
        if sum(counts) > self.deg:
            raise ValueError(f"Derivative of order {sum(counts)} not available from a jet of degree {self.deg}.")
        i = self.space.index[counts]
        return self.coef[i] * self.space.factorials[i]

    def derivative_tensor(self, order: int):
        """All partial derivatives of the given order, shape ``(nvar,)*order + shape``."""
        nv = self.space.nvar
        out = np.empty((nv,) * order + self.shape, dtype=self.coef.dtype)
        for idx in np.ndindex(*((nv,) * order)):
            counts = [0] * nv
            for v in idx:
                counts[v] += 1
            out[idx] = self.derivative(counts)
        return out

    def truncate(self, deg: int) -> "Jet":
        if deg > self.deg:
            raise ValueError(f"Cannot raise the valid degree of a jet from {self.deg} to {deg}.")
        return Jet(self.space, self.coef[: self.space.count[deg]], deg)

    def copy(self) -> "Jet":
        return Jet(self.space, self.coef.copy(), self.deg)

    def __getitem__(self, key) -> "Jet":
        if not isinstance(key, tuple):
            key = (key,)
        return Jet(self.space, self.coef[(slice(None),) + key], self.deg)

    def reshape(self, *shape) -> "Jet":
        return Jet(self.space, self.coef.reshape((self.coef.shape[0],) + tuple(shape)), self.deg)

    def __repr__(self):
        return f"<Jet nvar={self.space.nvar} deg={self.deg} shape={self.shape}>"

    # ------------------------------------------------------------------ linear structure
    def _coerce(self, other):
        if isinstance(other, Jet):
            if other.space != self.space:
                raise ValueError("Jets live in different JetSpaces.")
            return other
        return None

    def __add__(self, other):
        o = self._coerce(other)
        if o is None:
            other = np.asarray(other)
            c = self.coef.astype(np.result_type(self.coef, other), copy=True)
            c0 = c[0] + other
            if c0.shape != c.shape[1:]:
                c = np.broadcast_to(c, (c.shape[0],) + c0.shape).copy()
            c[0] = c0
            return Jet(self.space, c, self.deg)
        d = min(self.deg, o.deg)
        n = self.space.count[d]
        return Jet(self.space, self.coef[:n] + o.coef[:n], d)

    __radd__ = __add__

    def __neg__(self):
        return Jet(self.space, -self.coef, self.deg)

    def __sub__(self, other):
        return self + (-other)

    def __rsub__(self, other):
        return (-self) + other

    # ------------------------------------------------------------------ products
    def _product(self, other: "Jet", op) -> "Jet":
        d = min(self.deg, other.deg)
        I, J, starts = self.space.mul_table(d)
        P = op(self.coef[I], other.coef[J])
        return Jet(self.space, np.add.reduceat(P, starts, axis=0), d)

    def __mul__(self, other):
        o = self._coerce(other)
        if o is None:
            other = np.asarray(other)
            return Jet(self.space, self.coef * other[None], self.deg)
        return self._product(o, np.multiply)

    __rmul__ = __mul__

    def __matmul__(self, other):
        o = self._coerce(other)
        if o is None:
            other = np.asarray(other)
            return Jet(self.space, self.coef @ other, self.deg)
        return self._product(o, np.matmul)

    def __rmatmul__(self, other):
        other = np.asarray(other)
        return Jet(self.space, other @ self.coef, self.deg)

    def __truediv__(self, other):
        o = self._coerce(other)
        if o is None:
            return Jet(self.space, self.coef / np.asarray(other)[None], self.deg)
        return self * o.reciprocal()

    def __rtruediv__(self, other):
        return self.reciprocal() * other

    def __pow__(self, p):
        if isinstance(p, (int, np.integer)) and p >= 0:
            out = constant(self.space, np.ones(self.shape, dtype=self.coef.dtype), self.deg)
            base, e = self, int(p)
            while e:
                if e & 1:
                    out = out * base
                e >>= 1
                if e:
                    base = base * base
            return out
        return power(self, p)

    # ------------------------------------------------------------------ matrix helpers
    def conj(self) -> "Jet":
        return Jet(self.space, np.conj(self.coef), self.deg)

    @property
    def real(self) -> "Jet":
        return Jet(self.space, self.coef.real, self.deg)

    @property
    def imag(self) -> "Jet":
        return Jet(self.space, self.coef.imag, self.deg)

    @property
    def T(self) -> "Jet":
        """Transpose of the last two axes."""
        return Jet(self.space, np.swapaxes(self.coef, -1, -2), self.deg)

    @property
    def H(self) -> "Jet":
        """Conjugate transpose of the last two axes."""
        return Jet(self.space, np.conj(np.swapaxes(self.coef, -1, -2)), self.deg)

    def diagonal(self) -> "Jet":
        """Diagonal of the last two axes: shape ``(..., N)``."""
        return Jet(self.space, np.diagonal(self.coef, axis1=-2, axis2=-1).copy(), self.deg)

    def diag_matrix(self) -> "Jet":
        """Vector (..., N) to diagonal matrix (..., N, N)."""
        N = self.shape[-1]
        c = np.zeros(self.coef.shape + (N,), dtype=self.coef.dtype)
        idx = np.arange(N)
        c[..., idx, idx] = self.coef
        return Jet(self.space, c, self.deg)

    # ------------------------------------------------------------------ calculus
    def deriv(self, counts) -> "Jet":
        """:math:`\\partial^{counts} f` as a jet of degree ``deg - |counts|``."""
        counts = tuple(counts)
        n = sum(counts)
        if n == 0:
            return self
        if n > self.deg:
            raise ValueError(f"A jet of degree {self.deg} has no derivative of order {n}.")
        src, fac = self.space.deriv_table(counts, self.deg)
        c = self.coef[src] * fac.reshape((-1,) + (1,) * len(self.shape))
        return Jet(self.space, c, self.deg - n)

    def diff(self, var: int, n: int = 1) -> "Jet":
        """:math:`\\partial^n f/\\partial \\xi_{var}^n`."""
        counts = [0] * self.space.nvar
        counts[var] = n
        return self.deriv(counts)

    def compose(self, derivs) -> "Jet":
        """f(self) element-wise, given ``derivs[j] = f^{(j)}(self.value)`` for j = 0..deg."""
        delta = Jet(self.space, self.coef.copy(), self.deg)
        delta.coef[0] = 0
        out = constant(self.space, derivs[0], self.deg)
        term = None
        for j in range(1, self.deg + 1):
            term = delta if term is None else term * delta
            out = out + term * (derivs[j] / factorial(j))
        return out

    def reciprocal(self) -> "Jet":
        """Element-wise 1/f (requires f(ξ0) != 0 element-wise)."""
        v = self.value
        if np.any(v == 0):
            raise ZeroDivisionError("Jet reciprocal: the function vanishes at an expansion point.")
        return self.compose([(-1) ** j * factorial(j) / v ** (j + 1) for j in range(self.deg + 1)])


def constant(space: JetSpace, value, deg: int | None = None) -> Jet:
    """A jet constant in ξ."""
    deg = space.degree if deg is None else deg
    value = np.asarray(value)
    c = np.zeros((space.count[deg],) + value.shape, dtype=np.result_type(value, float))
    c[0] = value
    return Jet(space, c, deg)


def variables(points, degree: int):
    """Jets of the coordinate functions ξ_v about a batch of points (B, nvar): a list of nvar
    scalar jets of shape (B,)."""
    points = np.atleast_2d(np.asarray(points, dtype=float))
    B, nv = points.shape
    space = jet_space(nv, degree)
    out = []
    for v in range(nv):
        c = np.zeros((space.count[degree], B))
        c[0] = points[:, v]
        if degree >= 1:
            m = [0] * nv
            m[v] = 1
            c[space.index[tuple(m)]] = 1.0
        out.append(Jet(space, c, degree))
    return out


def matrix(rows) -> Jet:
    """Assemble a matrix jet (B, N, M) from nested lists of scalar jets (B,) and numbers."""
    flat = [e for r in rows for e in r]
    jets = [e for e in flat if isinstance(e, Jet)]
    if not jets:
        raise ValueError("matrix() needs at least one Jet entry (use numpy for constant matrices).")
    space = jets[0].space
    deg = min(j.deg for j in jets)
    B = jets[0].shape
    n = space.count[deg]
    dtype = np.result_type(*[j.coef.dtype for j in jets],
                           *[np.asarray(e).dtype for e in flat if not isinstance(e, Jet)])
    c = np.zeros((n,) + B + (len(rows), len(rows[0])), dtype=dtype)
    for i, r in enumerate(rows):
        if len(r) != len(rows[0]):
            raise ValueError("matrix(): rows of unequal length.")
        for j, e in enumerate(r):
            if isinstance(e, Jet):
                c[..., i, j] = e.coef[:n]
            else:
                c[0, ..., i, j] = e
    return Jet(space, c, deg)


# ---------------------------------------------------------------------- elementary functions
def _elementary(name, fn, derivs):
    def f(u):
        if isinstance(u, Jet):
            return u.compose(derivs(u.value, u.deg))
        return fn(u)
    f.__name__ = name
    f.__doc__ = f"Element-wise {name} of a Jet (or of a number/array, via numpy)."
    return f


exp = _elementary("exp", np.exp, lambda v, D: [np.exp(v)] * (D + 1))
sin = _elementary("sin", np.sin, lambda v, D: [(np.sin, np.cos, lambda z: -np.sin(z), lambda z: -np.cos(z))[j % 4](v)
                                              for j in range(D + 1)])
cos = _elementary("cos", np.cos, lambda v, D: [(np.cos, lambda z: -np.sin(z), lambda z: -np.cos(z), np.sin)[j % 4](v)
                                              for j in range(D + 1)])
sinh = _elementary("sinh", np.sinh, lambda v, D: [(np.sinh, np.cosh)[j % 2](v) for j in range(D + 1)])
cosh = _elementary("cosh", np.cosh, lambda v, D: [(np.cosh, np.sinh)[j % 2](v) for j in range(D + 1)])
log = _elementary("log", np.log, lambda v, D: [np.log(v)] + [(-1) ** (j - 1) * factorial(j - 1) / v ** j
                                                             for j in range(1, D + 1)])


def power(u, p):
    """Element-wise u**p for real p (u(ξ0) > 0 unless p is a non-negative integer)."""
    if not isinstance(u, Jet):
        return np.power(u, p)
    v = u.value
    derivs, c = [], 1.0
    for j in range(u.deg + 1):
        derivs.append(c * v ** (p - j))
        c *= (p - j)
    return u.compose(derivs)


def sqrt(u):
    """Element-wise square root."""
    return power(u, 0.5) if isinstance(u, Jet) else np.sqrt(u)


def _jet_from_function(fn, points, degree):
    """Evaluate ``fn(*variables)`` on coordinate jets; the result must be a Jet."""
    out = fn(*variables(points, degree))
    if not isinstance(out, Jet):
        raise TypeError("The function must return a Jet (build matrices with qkinetics.moyal.jet.matrix).")
    return out


Jet.from_function = staticmethod(_jet_from_function)
Jet.from_function.__doc__ = """Jet of ``fn(ξ_1, ..., ξ_nvar)`` about a batch of points (B, nvar), to ``degree``.

``fn`` must use jet arithmetic (``+ - * / **``, ``qkinetics.moyal.jet.exp/sin/cos/...``) and return
a Jet, e.g. ``lambda x, k: matrix([[cos(x) + k**2, k], [k, -cos(x)]])``.
"""


def jet_from_sympy(expr, coords, points, degree: int) -> Jet:
    """Exact jet of a sympy expression or Matrix in ``coords.variables`` about points (B, nvar).

    All partial derivatives up to ``degree`` are taken symbolically and evaluated with
    ``sympy.lambdify``. Returns a Jet of shape (B,) for a scalar or (B, N, M) for a Matrix.
    """
    import sympy as sp

    points = np.atleast_2d(np.asarray(points, dtype=float))
    nv = coords.nvar
    if points.shape[1] != nv:
        raise ValueError(f"points must have shape (B, {nv}) (variables {coords.variables}); got {points.shape}.")
    space = jet_space(nv, degree)
    is_matrix = isinstance(expr, sp.MatrixBase)
    expr = sp.Matrix(expr) if is_matrix else sp.Matrix([[sp.sympify(expr)]])
    derivs = {}
    for m in space.monomials:
        if not any(m):
            derivs[m] = expr
            continue
        v = max(i for i, c in enumerate(m) if c)
        lower = list(m)
        lower[v] -= 1
        derivs[m] = derivs[tuple(lower)].diff(coords.variables[v])
    flat = [derivs[m][i, j] / int(space.factorials[space.index[m]])
            for m in space.monomials for i in range(expr.rows) for j in range(expr.cols)]
    f = sp.lambdify(coords.variables, flat, modules="numpy", cse=True)
    B = points.shape[0]
    vals = f(*points.T)
    coef = np.empty((len(space.monomials), expr.rows, expr.cols, B), dtype=complex)
    for idx, val in enumerate(vals):
        mi, rest = divmod(idx, expr.rows * expr.cols)
        i, j = divmod(rest, expr.cols)
        coef[mi, i, j] = np.broadcast_to(np.asarray(val, dtype=complex), (B,))
    coef = np.moveaxis(coef, -1, 1)                                      # (M, B, N, M')
    if not is_matrix:
        coef = coef[..., 0, 0]
    return Jet(space, coef, degree)


def jet_from_derivatives(derivatives, degree: int | None = None) -> Jet:
    """Jet from partial-derivative arrays at a batch of points.

    ``derivatives[j]`` holds all j-th derivatives with shape ``(B, nvar, ..., nvar, *shape)`` (j
    derivative axes after the batch axis; ``derivatives[0]`` is the value, shape (B, *shape)), the
    layout of ``Model.hamiltonian`` (``H, dH, d2H, d3H``). Degree = ``len(derivatives) - 1``.
    """
    degree = len(derivatives) - 1 if degree is None else degree
    d0 = np.asarray(derivatives[0])
    nv = np.asarray(derivatives[1]).shape[1] if degree >= 1 else 1
    space = jet_space(nv, degree)
    coef = np.zeros((space.count[degree],) + d0.shape, dtype=np.result_type(*[np.asarray(d) for d in derivatives]))
    for i, m in enumerate(space.monomials):
        j = sum(m)
        idx = tuple(v for v in range(nv) for _ in range(m[v]))
        arr = np.asarray(derivatives[j])
        coef[i] = arr[(slice(None),) + idx] / space.factorials[i]
    return Jet(space, coef, degree)
