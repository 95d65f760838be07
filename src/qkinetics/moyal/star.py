"""Symbolic Moyal star product of (matrix-valued) functions on phase space.

Convention (PHYSICS.md, section 1). Phase-space coordinates
:math:`\\xi = (x_1..x_d, k_1..k_d)`, symplectic (Poisson) tensor
:math:`\\epsilon^{x_i k_j} = \\delta_{ij} = -\\epsilon^{k_j x_i}`, and

.. math::
    A \\star B = A\\,\\exp\\Big[\\tfrac{i\\hbar}{2}\\,\\overleftarrow{\\partial}_\\alpha
        \\epsilon^{\\alpha\\beta}\\overrightarrow{\\partial}_\\beta\\Big]\\,B
      = \\sum_{n\\ge 0}\\hbar^n\\,\\frac{(i/2)^n}{n!}\\,
        \\epsilon^{\\alpha_1\\beta_1}\\cdots\\epsilon^{\\alpha_n\\beta_n}
        (\\partial_{\\alpha_1..\\alpha_n}A)(\\partial_{\\beta_1..\\beta_n}B),

so :math:`x_i \\star k_j - k_j \\star x_i = i\\hbar\\,\\delta_{ij}` and the star commutator starts as
:math:`[A, B]_\\star = i\\hbar\\{A, B\\} + O(\\hbar^3)` for scalars, with the Poisson bracket
:math:`\\{A, B\\} = \\epsilon^{\\alpha\\beta}\\partial_\\alpha A\\,\\partial_\\beta B
= \\sum_i (\\partial_{x_i}A\\,\\partial_{k_i}B - \\partial_{k_i}A\\,\\partial_{x_i}B)`.

For d = 1 the n-th term is the familiar binomial sum

.. math::
    (A\\star B)_n = \\frac{(i/2)^n}{n!}\\sum_{j=0}^n \\binom{n}{j}(-1)^j\\,
        (\\partial_x^{n-j}\\partial_k^{j}A)(\\partial_k^{n-j}\\partial_x^{j}B);

for d > 1 (and for any constant antisymmetric tensor :math:`\\epsilon`, e.g. with a uniform
magnetic field) the code expands :math:`(\\sum_p \\epsilon_p \\overleftarrow{\\partial}_{\\alpha_p}
\\overrightarrow{\\partial}_{\\beta_p})^n/n!` by the multinomial theorem over the non-zero entries
p of :math:`\\epsilon` (:func:`bidifferential_terms`). Each order is exact; the series is truncated
only in :math:`\\hbar`.

Matrix-valued functions are sympy ``Matrix`` objects; products keep their order (A on the left,
B on the right), so non-commuting matrices are handled correctly. A time coordinate t may be
declared (:class:`PhaseSpace` ``time=True``): it is a parameter, not part of the symplectic form.

:math:`\\hbar` is the sympy symbol :data:`HBAR` and counts gradient order. With the library's
units (x in Angstrom, k in 1/Angstrom, energies in eV) :math:`[x, k] = i`, i.e. set
:math:`\\hbar = 1` when evaluating; it stays a symbol to organize the expansion.
"""

from __future__ import annotations

from functools import lru_cache
from itertools import combinations_with_replacement
from math import factorial

import sympy as sp

__all__ = [
    "HBAR", "PhaseSpace", "bidifferential_terms", "star_term", "star_terms", "star_series", "star",
    "star_product", "moyal_bracket", "poisson_bracket", "hbar_coefficients", "from_coefficients",
    "dagger",
]

#: The formal expansion parameter hbar (a positive real sympy symbol).
HBAR = sp.Symbol("hbar", positive=True)


class PhaseSpace:
    """Phase-space coordinates and symplectic form for the star product.

    Parameters
    ----------
    dim : int, 1..3
        Number of position (and momentum) components d.
    time : bool
        Also declare a time symbol ``t`` (a parameter: differentiated, never paired by the
        symplectic form).
    x, k : sequences of sympy Symbols, optional
        Custom coordinate symbols. Defaults: ``x, k`` for d = 1, ``x_1..x_d, k_1..k_d`` otherwise,
        all real.
    t : sympy Symbol, optional
        Custom time symbol (implies ``time=True``).
    poisson : (2d, 2d) matrix, optional
        Constant antisymmetric tensor :math:`\\epsilon^{\\alpha\\beta}` in the coordinate order
        ``(x_1..x_d, k_1..k_d)``. Default: canonical, :math:`\\epsilon^{x_i k_j} = \\delta_{ij}`.

    Attributes
    ----------
    x, k : tuples of Symbols
    t : Symbol or None
    coordinates : tuple ``x + k`` (the symplectic coordinates, in this order)
    variables : ``coordinates`` plus ``(t,)`` when time is declared
    poisson : sympy ImmutableMatrix (2d, 2d)
    pairs : tuple of (alpha, beta, eps) for the non-zero entries of ``poisson``
        (indices into ``coordinates``)
    """

    def __init__(self, dim: int = 1, time: bool = False, x=None, k=None, t=None, poisson=None):
        if dim not in (1, 2, 3):
            raise ValueError(f"PhaseSpace dim must be 1, 2 or 3; got {dim!r}.")
        self.dim = dim
        if x is None:
            names = ["x"] if dim == 1 else [f"x_{i + 1}" for i in range(dim)]
            x = [sp.Symbol(n, real=True) for n in names]
        if k is None:
            names = ["k"] if dim == 1 else [f"k_{i + 1}" for i in range(dim)]
            k = [sp.Symbol(n, real=True) for n in names]
        self.x, self.k = tuple(x), tuple(k)
        if len(self.x) != dim or len(self.k) != dim:
            raise ValueError(f"x and k need {dim} symbols each; got {len(self.x)} and {len(self.k)}.")
        if t is not None:
            time = True
        self.t = (t if t is not None else sp.Symbol("t", real=True)) if time else None
        self.coordinates = self.x + self.k
        self.variables = self.coordinates + ((self.t,) if self.t is not None else ())
        if len(set(self.variables)) != len(self.variables):
            raise ValueError("Phase-space symbols must be distinct.")
        if poisson is None:
            eye = sp.eye(dim)
            poisson = sp.BlockMatrix([[sp.zeros(dim), eye], [-eye, sp.zeros(dim)]]).as_explicit()
        poisson = sp.ImmutableMatrix(poisson)
        if poisson.shape != (2 * dim, 2 * dim) or poisson.T != -poisson:
            raise ValueError(f"poisson must be an antisymmetric ({2 * dim}, {2 * dim}) matrix.")
        if poisson.free_symbols & set(self.variables):
            raise ValueError("poisson must be constant on phase space (no x, k or t dependence).")
        self.poisson = poisson
        self.pairs = tuple((a, b, poisson[a, b]) for a in range(2 * dim) for b in range(2 * dim)
                           if poisson[a, b] != 0)

    @property
    def nvar(self) -> int:
        """Number of variables (2d, plus one with time)."""
        return len(self.variables)

    def index(self, symbol) -> int:
        """Position of a symbol in :attr:`variables`."""
        return self.variables.index(symbol)

    def __repr__(self) -> str:
        return f"PhaseSpace(dim={self.dim}, variables={self.variables})"

    def _key(self):
        return (self.variables, self.poisson)

    def __eq__(self, other):
        return isinstance(other, PhaseSpace) and self._key() == other._key()

    def __hash__(self):
        return hash(self._key())


def bidifferential_terms(n: int, pairs, nvar: int):
    """Terms of :math:`(\\sum_p \\epsilon_p\\overleftarrow{\\partial}_{\\alpha_p}\\overrightarrow{\\partial}_{\\beta_p})^n/n!`.

    Returns a list of ``(coefficient, left_counts, right_counts)``: the operator is
    :math:`\\sum \\mathrm{coefficient}\\,(\\partial^{\\mathrm{left}}A)(\\partial^{\\mathrm{right}}B)`,
    with ``*_counts`` tuples of derivative orders per variable (length ``nvar``). Multinomial
    expansion: a multi-set of n pairs with multiplicities m_p has weight
    :math:`\\prod_p \\epsilon_p^{m_p}/m_p!`. Terms with equal derivative structure are merged.
    """
    return list(_bidifferential_terms(n, tuple((a, b, sp.sympify(e)) for a, b, e in pairs), nvar))


@lru_cache(maxsize=256)
def _bidifferential_terms(n, pairs, nvar):
    acc = {}
    for combo in combinations_with_replacement(range(len(pairs)), n):
        left, right = [0] * nvar, [0] * nvar
        coeff = sp.Integer(1)
        mult = {}
        for p in combo:
            mult[p] = mult.get(p, 0) + 1
        for p, m in mult.items():
            a, b, e = pairs[p]
            left[a] += m
            right[b] += m
            coeff *= e**m / factorial(m)
        key = (tuple(left), tuple(right))
        acc[key] = acc.get(key, 0) + coeff
    return tuple((c, l, r) for (l, r), c in acc.items() if c != 0)


class _Derivatives:
    """Cached partial derivatives of one expression (scalar or Matrix)."""

    def __init__(self, expr, variables):
        self.expr = sp.sympify(expr) if not isinstance(expr, sp.MatrixBase) else expr
        self.variables = variables
        self.cache = {}

    def __call__(self, counts):
        if counts not in self.cache:
            if not any(counts):
                self.cache[counts] = self.expr
            else:
                # differentiate one order at a time from a cached lower derivative
                v = max(i for i, c in enumerate(counts) if c)
                lower = list(counts)
                lower[v] -= 1
                base, var = self(tuple(lower)), self.variables[v]
                if isinstance(base, sp.MatrixBase):
                    self.cache[counts] = base.applyfunc(lambda e: e.diff(var))
                else:
                    self.cache[counts] = base.diff(var)
        return self.cache[counts]

    def shifted(self, var_index: int) -> "_Shifted":
        """Derivatives of ∂_var expr, sharing this cache."""
        return _Shifted(self, var_index)


class _Shifted(_Derivatives):
    """Cached derivatives of ∂_v f, served from the cache of f."""

    def __init__(self, parent: _Derivatives, v: int):
        self.parent, self.v = parent, v
        self.variables = parent.variables
        c = [0] * len(parent.variables)
        c[v] = 1
        self.expr = parent(tuple(c))

    def __call__(self, counts):
        c = list(counts)
        c[self.v] += 1
        return self.parent(tuple(c))


def _is_zero(expr) -> bool:
    if isinstance(expr, sp.MatrixBase):
        return all(e == 0 for e in expr)
    return expr == 0


def _zero_like(A, B):
    if isinstance(A, sp.MatrixBase) and isinstance(B, sp.MatrixBase):
        return sp.zeros(A.shape[0], B.shape[1])
    if isinstance(A, sp.MatrixBase):
        return sp.zeros(*A.shape)
    if isinstance(B, sp.MatrixBase):
        return sp.zeros(*B.shape)
    return sp.Integer(0)


def _check_shapes(A, B):
    if isinstance(A, sp.MatrixBase) and isinstance(B, sp.MatrixBase) and A.shape[1] != B.shape[0]:
        raise ValueError(f"Cannot star-multiply matrices of shapes {A.shape} and {B.shape}.")


def star_term(A, B, n: int, coords: PhaseSpace | None = None, *, _dA=None, _dB=None):
    """The coefficient of :math:`\\hbar^n` in :math:`A\\star B` for hbar-independent A, B.

    .. math::
        (A\\star B)_n = \\frac{(i/2)^n}{n!}\\,\\epsilon^{\\alpha_1\\beta_1}\\cdots\\epsilon^{\\alpha_n\\beta_n}
            (\\partial_{\\alpha_1..\\alpha_n}A)(\\partial_{\\beta_1..\\beta_n}B)

    A and B may be scalars or sympy Matrices (matrix product in the order A, B).
    """
    coords = coords or PhaseSpace(1)
    A = A if isinstance(A, sp.MatrixBase) else sp.sympify(A)
    B = B if isinstance(B, sp.MatrixBase) else sp.sympify(B)
    _check_shapes(A, B)
    if n == 0:
        return A * B
    dA = _dA or _Derivatives(A, coords.variables)
    dB = _dB or _Derivatives(B, coords.variables)
    nv = coords.nvar
    total = _zero_like(A, B)
    pref = (sp.I / 2) ** n
    for c, left, right in _bidifferential_terms(n, coords.pairs, nv):
        a = dA(left)
        if _is_zero(a):
            continue
        b = dB(right)
        if _is_zero(b):
            continue
        total = total + (pref * c) * (a * b)
    return total


def star_terms(A, B, order: int = 2, coords: PhaseSpace | None = None):
    """List ``[c_0, ..., c_order]`` with :math:`A\\star B = \\sum_n \\hbar^n c_n` (A, B hbar-free)."""
    coords = coords or PhaseSpace(1)
    dA = _Derivatives(A, coords.variables)
    dB = _Derivatives(B, coords.variables)
    return [star_term(dA.expr, dB.expr, n, coords, _dA=dA, _dB=dB) for n in range(order + 1)]


def star_series(A_coeffs, B_coeffs, order: int = 2, coords: PhaseSpace | None = None):
    """Star product of two hbar series given by coefficient lists.

    ``A = sum_b hbar^b A_coeffs[b]`` and likewise B (coefficients hbar-free). Returns
    ``[C_0, ..., C_order]`` with :math:`C_n = \\sum_{a+b+c=n} (A_b\\star B_c)_a`.
    """
    coords = coords or PhaseSpace(1)
    dAs = [_Derivatives(a, coords.variables) for a in A_coeffs]
    dBs = [_Derivatives(b, coords.variables) for b in B_coeffs]
    out = []
    for n in range(order + 1):
        total = None
        for b in range(min(n, len(dAs) - 1) + 1):
            for c in range(min(n - b, len(dBs) - 1) + 1):
                a = n - b - c
                term = star_term(dAs[b].expr, dBs[c].expr, a, coords, _dA=dAs[b], _dB=dBs[c])
                total = term if total is None else total + term
        out.append(total if total is not None else _zero_like(dAs[0].expr, dBs[0].expr))
    return out


def hbar_coefficients(expr, order: int, hbar=HBAR):
    """Taylor coefficients ``[e_0, ..., e_order]`` of ``expr`` in ``hbar`` (exact, by differentiation)."""
    expr = expr if isinstance(expr, sp.MatrixBase) else sp.sympify(expr)
    if not expr.has(hbar):
        zero = sp.zeros(*expr.shape) if isinstance(expr, sp.MatrixBase) else sp.Integer(0)
        return [expr] + [zero] * order
    out, d = [], expr
    for n in range(order + 1):
        c = d.subs(hbar, 0) / factorial(n)
        out.append(c)
        d = sp.diff(d, hbar)
    return out


def from_coefficients(coeffs, hbar=HBAR):
    """:math:`\\sum_n \\hbar^n` ``coeffs[n]``."""
    total = coeffs[0]
    for n, c in enumerate(coeffs[1:], start=1):
        total = total + hbar**n * c
    return total


def star(A, B, order: int = 2, coords: PhaseSpace | None = None, hbar=HBAR, *, coefficients: bool = False):
    """Moyal star product :math:`A\\star B` truncated after :math:`\\hbar^{\\mathrm{order}}`.

    Parameters
    ----------
    A, B : sympy expressions or Matrices
        Functions of ``coords.variables``; they may contain ``hbar`` (expanded in it, and the total
        power of hbar is truncated at ``order``).
    order : int
        Highest power of hbar kept.
    coords : PhaseSpace, default ``PhaseSpace(1)``
    coefficients : bool
        Return the list ``[c_0, ..., c_order]`` instead of :math:`\\sum_n \\hbar^n c_n`.

    Examples
    --------
    >>> from qkinetics.moyal import star, PhaseSpace, HBAR
    >>> ps = PhaseSpace(1); x, k = ps.x[0], ps.k[0]
    >>> star(x, k, coords=ps) - star(k, x, coords=ps)
    I*hbar
    """
    coords = coords or PhaseSpace(1)
    cs = star_series(hbar_coefficients(A, order, hbar), hbar_coefficients(B, order, hbar), order, coords)
    return cs if coefficients else from_coefficients(cs, hbar)


def star_product(*factors, order: int = 2, coords: PhaseSpace | None = None, hbar=HBAR,
                 coefficients: bool = False):
    """:math:`F_1\\star F_2\\star\\cdots` (associative; evaluated left to right), truncated at hbar^order."""
    if not factors:
        raise ValueError("star_product needs at least one factor.")
    coords = coords or PhaseSpace(1)
    acc = hbar_coefficients(factors[0], order, hbar)
    for f in factors[1:]:
        acc = star_series(acc, hbar_coefficients(f, order, hbar), order, coords)
    return acc if coefficients else from_coefficients(acc, hbar)


def moyal_bracket(A, B, order: int = 2, coords: PhaseSpace | None = None, hbar=HBAR, *,
                  coefficients: bool = False):
    """Star commutator :math:`[A, B]_\\star = A\\star B - B\\star A`, truncated at hbar^order.

    For scalars :math:`[A, B]_\\star = 2i\\sin(\\hbar P/2)(A, B) = i\\hbar\\{A, B\\}
    - \\tfrac{i\\hbar^3}{24}P^3(A, B) + \\dots` (odd orders only); for matrices the
    :math:`\\hbar^0` term is the matrix commutator.
    """
    coords = coords or PhaseSpace(1)
    ab = star(A, B, order, coords, hbar, coefficients=True)
    ba = star(B, A, order, coords, hbar, coefficients=True)
    cs = [p - q for p, q in zip(ab, ba)]
    return cs if coefficients else from_coefficients(cs, hbar)


def poisson_bracket(A, B, coords: PhaseSpace | None = None):
    """:math:`\\{A, B\\} = \\epsilon^{\\alpha\\beta}\\,\\partial_\\alpha A\\,\\partial_\\beta B` (matrix order A, B)."""
    coords = coords or PhaseSpace(1)
    A = A if isinstance(A, sp.MatrixBase) else sp.sympify(A)
    B = B if isinstance(B, sp.MatrixBase) else sp.sympify(B)
    total = _zero_like(A, B)
    for a, b, e in coords.pairs:
        total = total + e * (sp.diff(A, coords.coordinates[a]) * sp.diff(B, coords.coordinates[b]))
    return total


def dagger(A):
    """Hermitian conjugate: conjugate transpose of a Matrix, complex conjugate of a scalar."""
    if isinstance(A, sp.MatrixBase):
        return A.H
    return sp.conjugate(sp.sympify(A))
