"""Continuum (k.p) models: a sympy matrix in ``kx, ky, kz`` with exact derivatives.

A :class:`Continuum` model is defined by an N x N sympy matrix :math:`H(k)` whose free
symbols are the Cartesian momentum components ``kx, ky, kz`` (1/Angstrom) and named
real parameters. All derivatives

.. math::
    \\partial_{a_1}\\cdots\\partial_{a_p} H(k), \\qquad p \\le 3,

are exact (``sympy.diff``), lambdified with numpy once and cached, and evaluated on a
whole batch of k points at a time. Symbols are matched by *name*: ``sympy.Symbol("kx")``
and ``sympy.Symbol("kx", real=True)`` are the same momentum component; every symbol
is treated as real.

Example
-------
>>> import sympy as sp
>>> kx, ky, v, m = sp.symbols("kx ky v m", real=True)
>>> H = sp.Matrix([[m, v * (kx - sp.I * ky)], [v * (kx + sp.I * ky), -m]])
>>> model = Continuum(H, params={"v": 1.0, "m": 0.5}, kcut=5.0, name="dirac")
>>> model.hamiltonian([[0.1, 0.0]], order=1)[1].shape
(1, 2, 2, 2)
"""

from __future__ import annotations

import itertools
import math
import numbers
import threading

import numpy as np
import sympy
from sympy.core.function import AppliedUndef

from .base import Model, ModelError

K_NAMES = ("kx", "ky", "kz")


class _Compiled:
    """The symbolic matrix in canonical (real, name-matched) symbols and its lambdified derivatives.

    Shared by every model built from the same matrix (``with_params`` copies and
    repeated zoo calls), so each derivative order is differentiated and lambdified once.
    """

    def __init__(self, matrix: sympy.ImmutableMatrix, ksyms: tuple, psyms: tuple):
        self.matrix = matrix
        self.ksyms = ksyms
        self.psyms = psyms
        self.dim = len(ksyms)
        self.norb = matrix.shape[0]
        self._orders = {}
        self._lock = threading.Lock()
        self._hermitian_symbolic = None

    def __getstate__(self):
        # lambdified functions do not pickle: rebuild them lazily after unpickling
        return {"matrix": self.matrix, "ksyms": self.ksyms, "psyms": self.psyms,
                "hermitian_symbolic": self._hermitian_symbolic}

    def __setstate__(self, state):
        self.__init__(state["matrix"], state["ksyms"], state["psyms"])
        self._hermitian_symbolic = state["hermitian_symbolic"]

    def hermitian_symbolic(self) -> bool:
        """True if ``H - H^dagger`` expands to zero for all real k and real parameters."""
        if self._hermitian_symbolic is None:
            diff = (self.matrix - self.matrix.H).applyfunc(sympy.expand)
            self._hermitian_symbolic = all(e == 0 for e in diff)
        return self._hermitian_symbolic

    def order(self, p: int):
        """``(full_to_unique, n_unique, slots, func)`` for derivative order ``p``.

        The derivative tensor is symmetric in its indices, so only sorted multi-indices
        are differentiated; ``full_to_unique`` maps every multi-index (row-major over
        ``dim**p``) to its sorted representative. ``func(k_1..k_dim, params...)``
        returns the non-zero entries listed in ``slots`` (flat index into
        ``(n_unique, N, N)``).
        """
        with self._lock:
            if p not in self._orders:
                d, n = self.dim, self.norb
                uniq = list(itertools.combinations_with_replacement(range(d), p))
                pos = {u: i for i, u in enumerate(uniq)}
                full = np.array([pos[tuple(sorted(ix))] for ix in itertools.product(range(d), repeat=p)],
                                dtype=int)
                exprs, slots = [], []
                for i, u in enumerate(uniq):
                    mat = self.matrix
                    for a in u:
                        mat = mat.diff(self.ksyms[a])
                    for r in range(n):
                        for c in range(n):
                            e = mat[r, c]
                            if e != 0:
                                exprs.append(e)
                                slots.append((i * n + r) * n + c)
                func = None
                if exprs:
                    func = sympy.lambdify(self.ksyms + self.psyms, exprs, modules="numpy", cse=True)
                self._orders[p] = (full, len(uniq), np.array(slots, dtype=int), func)
            return self._orders[p]


_COMPILED_CACHE: dict = {}
_CACHE_LOCK = threading.Lock()


def _compiled_for(matrix, ksyms, psyms) -> _Compiled:
    key = (matrix, ksyms, psyms)
    with _CACHE_LOCK:
        comp = _COMPILED_CACHE.get(key)
        if comp is None:
            if len(_COMPILED_CACHE) > 256:
                _COMPILED_CACHE.clear()
            comp = _COMPILED_CACHE[key] = _Compiled(matrix, ksyms, psyms)
        return comp


def _real_value(name: str, value) -> float:
    if isinstance(value, sympy.Basic):
        if not value.is_number:
            raise ModelError(f"parameter {name!r} must be a number; got the expression {value}.")
        value = complex(value)
    if not isinstance(value, numbers.Number) and not (isinstance(value, np.ndarray) and value.ndim == 0):
        raise ModelError(f"parameter {name!r} must be a real number; got {value!r}.")
    z = complex(value)
    if z.imag != 0:
        raise ModelError(
            f"parameter {name!r} = {value!r} is complex; parameters are real. "
            "Write complex couplings in the matrix, e.g. t*exp(I*phi) with real t and phi."
        )
    if not math.isfinite(z.real):
        raise ModelError(f"parameter {name!r} = {value!r} is not finite.")
    return float(z.real)


def _check_kcut(kcut):
    if kcut is None:
        return None
    try:
        kc = float(kcut)
    except (TypeError, ValueError):
        raise ModelError(f"kcut must be a positive number (1/Angstrom) or None; got {kcut!r}.") from None
    if not (math.isfinite(kc) and kc > 0):
        raise ModelError(f"kcut must be a positive, finite momentum cutoff in 1/Angstrom; got {kcut!r}.")
    return kc


def _check_spin_matrix(spin_matrix, norb):
    """The (3, N, N) complex spin matrix of a Continuum model, checked Hermitian, or None."""
    if spin_matrix is None:
        return None
    try:
        S = np.array(spin_matrix, dtype=complex)
    except (TypeError, ValueError) as exc:
        raise ModelError(
            f"spin_matrix must be three {norb} x {norb} matrices (sigma_x, sigma_y, sigma_z): {exc}") from None
    if S.shape != (3, norb, norb) or not np.all(np.isfinite(S)):
        raise ModelError(f"spin_matrix must be three finite {norb} x {norb} matrices (sigma_x, sigma_y, sigma_z in the "
                         f"basis of the Hamiltonian), shape (3, {norb}, {norb}); got shape {S.shape}.")
    dev = np.abs(S - S.conj().swapaxes(-1, -2)).max()
    if dev > 1e-10 * max(1.0, np.abs(S).max()):
        raise ModelError(f"spin_matrix must be Hermitian (max |S - S^dagger| = {dev:.3g}).")
    S.setflags(write=False)
    return S


class Continuum(Model):
    """A k.p model from a sympy matrix with exact analytic derivatives.

    Parameters
    ----------
    matrix : sympy.Matrix (or anything ``sympy.Matrix`` accepts)
        The N x N Bloch Hamiltonian in eV, a function of the symbols ``kx, ky, kz``
        (Cartesian, 1/Angstrom) and of the named parameters. All symbols are real.
    params : dict, optional
        ``{name: value}`` for every non-momentum symbol of ``matrix`` (real numbers,
        in the units the matrix implies, e.g. eV Angstrom for a velocity ``v`` in
        ``v*kx``). A symbol that is neither a momentum nor a parameter, or a parameter
        that does not occur in the matrix, raises :class:`ModelError`.
    dim : {1, 2, 3}, optional
        Number of momentum components. Inferred from the highest of ``kx, ky, kz`` that
        occurs (``kx`` only: 1; ``ky``: 2; ``kz``: 3); give it to embed e.g. a
        ky-independent matrix in 2D.
    kcut : float, optional
        Momentum cutoff in 1/Angstrom for integrations over the (infinite) k space;
        positive if given.
    name : str
        Label used in output and provenance.
    spin_matrix : (3, N, N) array_like, optional
        The Pauli matrices sigma_x, sigma_y, sigma_z in the basis of ``matrix`` (dimensionless, spin
        :math:`\\hbar\\sigma/2`), k independent, e.g. ``[sx, sy, sz]`` for a two-band spin model or
        ``kron(sigma_a, 1)`` for spin times orbitals. :meth:`spin_operator` returns it at every k; it gives the
        spin magnetic moment (:func:`qkinetics.spin.band_spin_moment`). Always three Cartesian components.

    Notes
    -----
    Hermiticity is checked at construction: symbolically (``H - H^dagger`` expands to
    zero for real symbols) or, failing that, numerically at random k for the given
    parameter values. Evaluation is vectorized over the batch of k points: one call
    of a lambdified function per derivative order, no Python loop over k.
    """

    lattice = None

    def __init__(self, matrix, params=None, *, dim=None, kcut=None, name="continuum", spin_matrix=None):
        if isinstance(matrix, str):
            try:
                matrix = sympy.sympify(matrix)
            except (sympy.SympifyError, SyntaxError, TypeError) as exc:
                raise ModelError(f"could not parse the matrix string: {exc}") from None
        try:
            mat = sympy.Matrix(matrix)
        except Exception as exc:  # sympy raises a variety of types here
            raise ModelError(f"matrix must be a sympy Matrix or convertible to one: {exc}") from None
        if mat.shape[0] != mat.shape[1] or mat.shape[0] == 0:
            raise ModelError(f"the Hamiltonian matrix must be square and non-empty; got shape {mat.shape}.")
        undef = mat.atoms(AppliedUndef)
        if undef:
            raise ModelError(
                f"the matrix contains undefined functions {sorted(map(str, undef))}; "
                "write them out explicitly in terms of kx, ky, kz and parameters."
            )

        params = {} if params is None else dict(params)
        pvals = {}
        for key, value in params.items():
            pname = key.name if isinstance(key, sympy.Symbol) else str(key)
            if pname in K_NAMES:
                raise ModelError(f"{pname!r} is a momentum component, not a parameter; remove it from params.")
            pvals[pname] = _real_value(pname, value)

        free = mat.free_symbols
        names = {s.name for s in free}
        unknown = sorted(names - set(K_NAMES) - set(pvals))
        if unknown:
            raise ModelError(
                f"unknown symbol(s) {unknown} in the matrix: they are neither momentum components "
                f"{K_NAMES} nor given in params. Give their values with params={{{unknown[0]!r}: ...}}."
            )
        unused = sorted(set(pvals) - names)
        if unused:
            raise ModelError(
                f"param(s) {unused} do not occur in the matrix (its symbols: {sorted(names)}); "
                "remove them or check the spelling."
            )

        used_k = [i for i, kn in enumerate(K_NAMES) if kn in names]
        if dim is None:
            if not used_k:
                raise ModelError("the matrix does not depend on kx, ky or kz; give the dimension with dim=1, 2 or 3.")
            dim = max(used_k) + 1
        if dim not in (1, 2, 3) or isinstance(dim, bool):
            raise ModelError(f"dim must be 1, 2 or 3; got {dim!r}.")
        dim = int(dim)
        beyond = [K_NAMES[i] for i in used_k if i >= dim]
        if beyond:
            raise ModelError(
                f"the matrix depends on {beyond} but dim={dim} allows only {list(K_NAMES[:dim])}; "
                "raise dim or remove those symbols."
            )

        ksyms = tuple(sympy.Symbol(kn, real=True) for kn in K_NAMES[:dim])
        pnames = tuple(sorted(pvals))
        psyms = tuple(sympy.Symbol(pn, real=True) for pn in pnames)
        canon = {s.name: s for s in ksyms + psyms}
        canon.update({kn: sympy.Symbol(kn, real=True) for kn in K_NAMES})
        mat = mat.xreplace({s: canon[s.name] for s in free})
        comp = _compiled_for(sympy.ImmutableMatrix(mat), ksyms, psyms)

        self._setup(comp, pvals, _check_kcut(kcut), str(name), _check_spin_matrix(spin_matrix, comp.norb))
        self._check_hermitian()

    @classmethod
    def _from_compiled(cls, comp, pvals, kcut, name, spin_matrix=None):
        obj = cls.__new__(cls)
        obj._setup(comp, pvals, kcut, name, spin_matrix)
        return obj

    def _setup(self, comp, pvals, kcut, name, spin_matrix=None):
        self.spin_matrix = spin_matrix
        self._compiled = comp
        self._params = dict(pvals)
        self._pvalues = tuple(self._params[s.name] for s in comp.psyms)
        self.dim = comp.dim
        self.norb = comp.norb
        self.kcut = kcut
        self.name = name

    # ------------------------------------------------------------------ properties
    @property
    def params(self) -> dict:
        """Parameter values ``{name: value}`` (a copy)."""
        return dict(self._params)

    @property
    def matrix(self) -> sympy.ImmutableMatrix:
        """The symbolic Hamiltonian (symbols real, momenta named kx, ky, kz)."""
        return self._compiled.matrix

    @property
    def symbols(self) -> tuple:
        """The momentum symbols ``(kx, ...)[:dim]`` used in :attr:`matrix`."""
        return self._compiled.ksyms

    def with_params(self, **new) -> "Continuum":
        """A copy with some parameter values replaced (same matrix, cached derivatives shared).

        Raises :class:`ModelError` for a name that is not a parameter of this model.
        """
        unknown = sorted(set(new) - set(self._params))
        if unknown:
            raise ModelError(
                f"{self.name} has no parameter(s) {unknown}; its parameters are {sorted(self._params)}."
            )
        pvals = dict(self._params)
        pvals.update({k: _real_value(k, v) for k, v in new.items()})
        model = self._from_compiled(self._compiled, pvals, self.kcut, self.name, self.spin_matrix)
        model._check_hermitian()
        return model

    def spin_operator(self, k):
        """The spin (Pauli) operator at each k, (B, 3, N, N), dimensionless: ``spin_matrix`` (k independent)."""
        if self.spin_matrix is None:
            raise ModelError(f"{self.name} has no spin matrix: pass spin_matrix=[sigma_x, sigma_y, sigma_z] (N x N "
                             "each, in the basis of the Hamiltonian) to Continuum.")
        k = self.check_k(k)
        return np.broadcast_to(self.spin_matrix, (k.shape[0],) + self.spin_matrix.shape)

    # ------------------------------------------------------------------ checks
    def _check_hermitian(self) -> None:
        comp = self._compiled
        if comp.hermitian_symbolic():
            return
        rng = np.random.default_rng(12345)
        scale = self.kcut if self.kcut is not None else 1.0
        k = rng.uniform(-1.0, 1.0, size=(6, self.dim)) * scale
        try:
            with np.errstate(all="ignore"):
                H = self._hamiltonian(k, 0)[0]
        except Exception as exc:
            raise ModelError(f"could not evaluate the matrix numerically: {exc}") from None
        dev = np.abs(H - np.conj(np.swapaxes(H, -1, -2)))
        dev = np.where(np.isfinite(dev), dev, 0.0)
        scale_h = max(1.0, float(np.max(np.abs(np.where(np.isfinite(H), H, 0.0)))))
        if np.max(dev) > 1e-10 * scale_h:
            _, i, j = np.unravel_index(np.argmax(dev), dev.shape)
            M = comp.matrix
            if i == j:
                detail = f"diagonal entry ({i},{i}) = {M[i, i]} is not real"
                fix = "make the diagonal entries real"
            else:
                detail = f"entry ({i},{j}) = {M[i, j]} but entry ({j},{i}) = {M[j, i]}"
                fix = f"set entry ({j},{i}) to the complex conjugate of entry ({i},{j})"
            raise ModelError(
                f"the Hamiltonian of {self.name!r} is not Hermitian (max |H - H^dagger| = {np.max(dev):.3g} eV "
                f"at random k): {detail}. Fix: {fix} (kx, ky, kz and all parameters are real)."
            )

    # ------------------------------------------------------------------ evaluation
    def _hamiltonian(self, k, order):
        B = k.shape[0]
        n, d = self.norb, self.dim
        args = [k[:, a] for a in range(d)] + list(self._pvalues)
        out = []
        for p in range(order + 1):
            full, nu, slots, func = self._compiled.order(p)
            flat = np.zeros((B, nu * n * n), dtype=complex)
            if func is not None:
                vals = func(*args)
                for s, v in zip(slots, vals):
                    flat[:, s] = v
            arr = flat.reshape(B, nu, n, n)
            if p > 1:
                arr = arr[:, full]
            out.append(arr.reshape((B,) + (d,) * p + (n, n)))
        return tuple(out)

    def __repr__(self) -> str:
        ps = ", ".join(f"{k}={v:g}" for k, v in sorted(self._params.items()))
        kc = f", kcut={self.kcut:g}" if self.kcut is not None else ""
        return f"<Continuum {self.name!r}: dim={self.dim}, N={self.norb}, {ps}{kc}>"
