"""Tight-binding models: exact Fourier sums of real-space hoppings.

Hoppings are given as ``{R: t_R}`` with ``R`` a tuple of integers (lattice vector in
units of the primitive vectors) and ``t_R[i, j] = <i, 0| H |j, R>`` in eV. Two Fourier
conventions are supported (they give the same bands and the same integrated
invariants, but different Berry connections and different k-local quantum metric
and Berry curvature when orbitals sit away from the cell origin):

``convention="positions"`` (default, "convention II")
    :math:`H_{ij}(k) = \\sum_R t_{R,ij}\\, e^{i k\\cdot(R + \\tau_j - \\tau_i)}`.
    Berry curvature and metric are those of the physical position operator; this is
    the convention in which semiclassical responses are computed.
``convention="lattice"`` ("convention I")
    :math:`H_{ij}(k) = \\sum_R t_{R,ij}\\, e^{i k\\cdot R}`: periodic in k,
    orbital positions ignored.

Both are related by :math:`H_{II}(k) = D(k)^\\dagger H_{I}(k) D(k)` with
:math:`D = \\mathrm{diag}(e^{i k\\cdot\\tau_j})`.

Position matrix (optional, e.g. from Wannier90)
    ``{R: r_R}`` with ``r_R[a, m, n] = <m, 0| r_a |n, R>`` (Cartesian component ``a``, Angstrom).
    Translating the integral by ``R`` and using the orthonormality of the Wannier functions gives
    ``<m, 0| r_a |n, -R> = <m, R| r_a - R_a |n, 0> = conj(<n, 0| r_a |m, R>)``: the same Hermiticity
    as the hoppings, ``r_a(-R) = r_a(R)^dagger`` for each component. The diagonal of ``r_0`` holds
    the Wannier centres. Without it the position operator is taken diagonal, ``tau_n`` on orbital
    ``n`` (the tight-binding approximation); with it :func:`qkinetics.band_geometry` adds the
    position-block terms (see :mod:`qkinetics.geometry`).
"""

from __future__ import annotations

from itertools import product

import numpy as np

from .base import Model, ModelError

CONVENTIONS = ("positions", "lattice")
HERMITICITY_MODES = ("check", "complete")
#: relative tolerance of the Hermiticity check, ``max|t_{-R} - t_R^dagger| <= tol * max(1 eV, max|t_R|)``
HERMITICITY_RTOL = 1e-10


class TightBinding(Model):
    """A tight-binding model in 1, 2 or 3 dimensions.

    Parameters
    ----------
    lattice : array_like, shape (dim, dim)
        Primitive lattice vectors as rows, in Angstrom.
    positions : array_like, shape (N, dim)
        Orbital positions in reduced coordinates (fractions of the lattice vectors).
    hoppings : dict
        ``{R: t_R}`` with ``R`` a tuple of ``dim`` integers and ``t_R`` an (N, N) array in
        eV, ``t_R[i, j] = <i, 0|H|j, R>``. Hermiticity requires ``t_{-R} = t_R^dagger``.
    hermiticity : {"check", "complete"}
        ``"check"`` (default) raises :class:`ModelError` unless every ``t_{-R}`` equals
        ``t_R^dagger``. ``"complete"`` adds the missing partner ``t_{-R} = t_R^dagger`` of
        every ``R != 0`` that lacks one (an ``R`` whose partner is present must still
        match), and requires ``t_0`` Hermitian.
    convention : {"positions", "lattice"}
        Fourier convention, see the module docstring.
    name : str
        Label used in output and provenance.
    position_matrix : dict, optional
        ``{R: r_R}`` with ``r_R`` a complex (dim, N, N) array in Angstrom,
        ``r_R[a, m, n] = <m, 0| r_a |n, R>`` (Cartesian components; for Wannier90 data already
        divided by ``ndegen`` and split over the Wigner-Seitz shifts like the hoppings). Hermiticity
        requires ``r_a(-R) = r_a(R)^dagger`` for every component (module docstring); ``hermiticity``
        applies to it as to the hoppings. ``None`` (default): the position operator is diagonal in
        the orbital basis, ``tau_n`` on orbital ``n`` (tight-binding approximation).
    spin_matrix : dict, optional
        ``{R: s_R}`` with ``s_R`` a complex (3, N, N) array, ``s_R[a, m, n] = <m, 0| sigma_a |n, R>``: the Pauli
        matrices (dimensionless; spin = hbar sigma / 2) between the orbitals, e.g. from Wannier90's ``.spn``
        (:func:`qkinetics.models.wannier90_spin.spin_operator_R`). Always three Cartesian components, whatever
        ``dim``. Hermiticity ``s_a(-R) = s_a(R)^dagger`` as for the position matrix. :meth:`spin_operator`
        interpolates it, :func:`qkinetics.spin.band_spin` gives the band expectation values.
    """

    def __init__(self, lattice, positions, hoppings, *, hermiticity="check",
                 convention="positions", name="tight-binding", position_matrix=None, spin_matrix=None):
        lattice = _check_lattice(lattice)
        dim = lattice.shape[0]
        positions = _check_positions(positions, dim)
        norb = positions.shape[0]
        if not isinstance(convention, str) or convention not in CONVENTIONS:
            raise ModelError(
                f"unknown Fourier convention {convention!r}: pass convention='positions' (H_ij(k) = "
                "sum_R t_R,ij e^{ik.(R + tau_j - tau_i)}, the default, in which semiclassical responses are "
                "computed) or convention='lattice' (H_ij(k) = sum_R t_R,ij e^{ik.R}, periodic in k)."
            )
        if not isinstance(hermiticity, str) or hermiticity not in HERMITICITY_MODES:
            raise ModelError(
                f"unknown hermiticity mode {hermiticity!r}: pass hermiticity='check' (the default: every "
                "t_{-R} must be given and equal t_R^dagger) or hermiticity='complete' (each R != 0 whose "
                "partner -R is missing gets t_{-R} = t_R^dagger added)."
            )
        hop = _collect_hoppings(hoppings, dim, norb)
        zero = (0,) * dim
        if hermiticity == "complete":
            for R in list(hop):
                mR = tuple(-r for r in R)
                if R != zero and mR not in hop:
                    hop[mR] = hop[R].conj().T
        _check_hermitian(hop, zero, hermiticity)
        pos_matrix = None
        if position_matrix is not None:
            pos_matrix = _collect_position_matrix(position_matrix, dim, norb)
            if hermiticity == "complete":
                for R in list(pos_matrix):
                    mR = tuple(-r for r in R)
                    if R != zero and mR not in pos_matrix:
                        pos_matrix[mR] = pos_matrix[R].conj().swapaxes(-1, -2)
            _check_position_hermitian(pos_matrix, zero, hermiticity)
        spin = None
        if spin_matrix is not None:
            spin = _collect_position_matrix(spin_matrix, dim, norb, components=3, what="spin matrix",
                                            unit="(dimensionless Pauli matrices)")
            if hermiticity == "complete":
                for R in list(spin):
                    mR = tuple(-r for r in R)
                    if R != zero and mR not in spin:
                        spin[mR] = spin[R].conj().swapaxes(-1, -2)
            _check_position_hermitian(spin, zero, hermiticity, what="spin matrix", unit="")

        self.dim, self.norb = dim, norb
        self.lattice = lattice
        self.positions = positions
        self.hoppings = hop
        self.convention = convention
        self.name = name
        self.position_matrix = pos_matrix
        self.spin_matrix = spin
        self._R = np.array(list(hop), dtype=float).reshape(len(hop), dim)      # reduced
        self._t = np.array([hop[R] for R in hop])                              # (nR, N, N)
        # Cartesian hopping displacement d_{R,ij} = R + tau_j - tau_i (convention II) or R.
        Rcart = self._R @ lattice
        if convention == "positions":
            tau = positions @ lattice
            self._disp = Rcart[:, None, None, :] + tau[None, None, :, :] - tau[None, :, None, :]
        else:
            self._disp = np.broadcast_to(Rcart[:, None, None, :], (len(hop), norb, norb, dim))
        self._weights = {}

    #: exact Fourier-sum derivatives: any order is cheap; 6 bounds the memory of the weights
    max_derivative_order = 6

    def with_convention(self, convention: str) -> "TightBinding":
        """The same model in the given Fourier convention ("lattice" gives H(k) periodic over the BZ)."""
        other = TightBinding(self.lattice, self.positions, self.hoppings, convention=convention, name=self.name,
                             position_matrix=self.position_matrix, spin_matrix=self.spin_matrix)
        if hasattr(self, "provenance"):
            other.provenance = self.provenance
        return other

    def tight_binding_approximation(self) -> "TightBinding":
        """The same model without its position matrix: position operator diagonal in the orbital basis.

        :func:`qkinetics.band_geometry` (and every response built on it) then uses H(k) alone, in this
        model's Fourier convention. The bands are unchanged; a spin matrix is kept.
        """
        other = TightBinding(self.lattice, self.positions, self.hoppings, convention=self.convention,
                             name=self.name, spin_matrix=self.spin_matrix)
        if hasattr(self, "provenance"):
            other.provenance = self.provenance
        return other

    def wannier_connection(self, k, order: int = 0):
        """Berry connection of the Bloch sums of the orbitals ("Wannier gauge") and its k-derivatives.

        .. math::
            A^W_{a,mn}(k) = i\\langle u^W_m|\\partial_a u^W_n\\rangle
                = \\sum_R e^{ik\\cdot R}\\, r_{a,mn}(R)                      \\quad\\text{("lattice")}

        with :math:`r_{a,mn}(R) = \\langle m,0|r_a|n,R\\rangle` (``position_matrix``) and Bloch sums
        :math:`|\\psi^W_{nk}\\rangle = \\sum_R e^{ik\\cdot R}|n,R\\rangle` (Wannier90's phase convention). The
        "positions" convention uses :math:`|\\psi^{II}_{nk}\\rangle = e^{ik\\cdot\\tau_n}|\\psi^W_{nk}\\rangle`, a
        diagonal gauge change :math:`D = \\mathrm{diag}(e^{ik\\cdot\\tau_n})` with
        :math:`iD^\\dagger\\partial_a D = -\\mathrm{diag}(\\tau_{n,a})`, so that :math:`H^{II} = D^\\dagger H D` (the
        Hamiltonian of this class) and

        .. math::
            A^{II}_{a,mn}(k) = \\sum_R e^{ik\\cdot(R + \\tau_n - \\tau_m)}
                \\left[r_{a,mn}(R) - \\tau_{n,a}\\,\\delta_{mn}\\delta_{R0}\\right],

        with :math:`\\tau_n` the Cartesian orbital positions (``positions``). When they are the Wannier
        centres (the diagonal of :math:`r(0)`) only the off-diagonal position matrix remains. Every
        gauge-invariant quantity (Berry curvature, quantum metric with the position terms) is the same in
        both conventions.

        Parameters
        ----------
        k : (B, dim) Cartesian wave vectors, 1/Å.
        order : int
            Highest derivative order (0 .. ``max_derivative_order``).

        Returns
        -------
        tuple ``(A, dA, d2A, ...)[: order + 1]``: A (B, dim, N, N) in Å, ``dA[:, a, c] = ∂_c A_a``
        (B, dim, dim, N, N) in Å², ``d2A[:, a, c, e] = ∂_e∂_c A_a`` in Å³, and so on.
        """
        if self.position_matrix is None:
            raise ModelError(
                f"{self.name} has no position matrix: the Wannier-gauge connection needs position_matrix "
                "(<m,0|r_a|n,R>); without it the position operator is diagonal and band_geometry uses H(k) alone.")
        k = self.check_k(k)
        if not isinstance(order, (int, np.integer)) or not 0 <= order <= self.max_derivative_order:
            raise ModelError(f"order must be an integer from 0 to {self.max_derivative_order}; got {order!r}.")
        if getattr(self, "_connection_parts", None) is None:
            # each Cartesian component is a Hermitian "hopping" set with the Fourier sums of the Hamiltonian
            zero = (0,) * self.dim
            tau = self.positions @ self.lattice                                     # (N, dim) Cartesian
            parts = []
            for a in range(self.dim):
                blocks = {R: r[a] for R, r in self.position_matrix.items()}
                if self.convention == "positions":
                    blocks[zero] = blocks.get(zero, 0) - np.diag(tau[:, a])
                parts.append(TightBinding(self.lattice, self.positions, blocks, convention=self.convention,
                                          name=f"{self.name} r_{a}"))
            self._connection_parts = parts
        comps = [part._hamiltonian(k, order) for part in self._connection_parts]
        return tuple(np.stack([c[p] for c in comps], axis=1) for p in range(order + 1))

    def spin_operator(self, k):
        """The spin (Pauli) operator in the orbital Bloch basis, S^W_a(k) (B, 3, N, N), dimensionless.

        .. math::
            S^W_{a,mn}(k) = \\sum_R e^{ik\\cdot R}\\, s_{a,mn}(R)\\quad\\text{("lattice")},\\qquad
            \\sum_R e^{ik\\cdot(R + \\tau_n - \\tau_m)}\\, s_{a,mn}(R)\\quad\\text{("positions")},

        with :math:`s_{a,mn}(R) = \\langle m,0|\\sigma_a|n,R\\rangle` (``spin_matrix``): the same Fourier sums as
        the Hamiltonian, so that :math:`U^\\dagger S^W U` in the eigenbasis U of :meth:`hamiltonian` is gauge
        covariant in either convention. Spin is :math:`\\hbar\\sigma/2`.
        """
        if self.spin_matrix is None:
            raise ModelError(
                f"{self.name} has no spin matrix: pass spin_matrix={{R: <m,0|sigma_a|n,R>}} to TightBinding, or read "
                "a Wannier90 run whose seedname.spn lies beside the .win (read_wannier90_run(..., spin=True)).")
        k = self.check_k(k)
        if getattr(self, "_spin_parts", None) is None:
            self._spin_parts = [TightBinding(self.lattice, self.positions, {R: s[a] for R, s in self.spin_matrix.items()},
                                             convention=self.convention, name=f"{self.name} sigma_{a}")
                                for a in range(3)]
        return np.stack([part._hamiltonian(k, 0)[0] for part in self._spin_parts], axis=1)

    def _derivative_weights(self, order: int):
        """Real-split weights of the distinct derivative multi-indices up to ``order``; cached per order.

        The output of :meth:`_hamiltonian` holds every multi-index alpha = (a_1, ..., a_p) of every order
        p <= ``order`` in C order, M = 1 + dim + dim^2 + ... blocks of (N, N). d^alpha H is symmetric in
        its indices, so only the sorted tuples are computed; each other block is a copy of its sorted
        counterpart. The hopping sum sum_R e^{ik.R} W_R (W_R = t_R (i d_R)^alpha) is split into cos and
        sin terms, pairing R with -R: e^{ik.R} W_R + e^{-ik.R} W_-R = cos(k.R) (W_R + W_-R) +
        sin(k.R) i (W_R - W_-R), so that it is a real matrix product [1, cos(k.R), sin(k.R)] (B, K) @
        weights (K, 2 n N N), read as complex (B, n, N, N).

        Returns ``(runs, copies, Rc, has_zero, M)``: ``runs`` a list of ``(start, stop, weights)`` for
        the maximal ranges of consecutive sorted blocks (weights (K, 2 (stop - start) N N) float),
        ``copies`` a pair of index arrays (dst, src) of the unsorted blocks and their sorted
        counterparts, ``Rc`` (h, dim) the Cartesian R of the cos/sin rows, ``has_zero`` whether row 0
        is the R = 0 block (coefficient 1).
        """
        if order not in self._weights:
            d = self.dim
            idisp = 1j * np.moveaxis(self._disp, -1, 0)                         # (dim, nR, N, N)
            # pair R with -R (every R has its Hermitian partner; an unpaired one would get c + i s)
            row = {R: i for i, R in enumerate(self.hoppings)}                 # the rows of self._R, self._t
            zero = (0,) * d
            has_zero = zero in row
            pairs, done = [], set()
            for R, i in row.items():
                if R != zero and R not in done:
                    j = row.get(tuple(-x for x in R))
                    pairs.append((i, j))
                    done.add(tuple(-x for x in R))
            Rc = np.array([self._R[i] for i, _ in pairs], dtype=float).reshape(len(pairs), d) @ self.lattice

            def real_weights(Wa):                                                # Wa (nR, ...) complex
                rows = [Wa[row[zero]]] if has_zero else []
                rows += [Wa[i] + Wa[j] if j is not None else Wa[i] for i, j in pairs]
                rows += [1j * (Wa[i] - Wa[j]) if j is not None else 1j * Wa[i] for i, j in pairs]
                return np.array(rows, dtype=complex).reshape(len(rows), -1)

            # every block in output order: its sorted multi-index; weights of the sorted ones
            blocks, level, weight = [], {(): self._t}, {}
            for p in range(order + 1):
                if p:
                    level = {a + (b,): level[a] * idisp[b] for a in level for b in range(a[-1] if a else 0, d)}
                weight.update(level)
                blocks += [tuple(sorted(a)) for a in product(range(d), repeat=p)]
            pos = {}
            for m, a in enumerate(blocks):
                pos.setdefault(a, m)
            runs, m, M = [], 0, len(blocks)
            while m < M:
                if pos[blocks[m]] != m:
                    m += 1
                    continue
                stop = m
                while stop < M and pos[blocks[stop]] == stop:
                    stop += 1
                Wa = np.stack([weight[blocks[i]] for i in range(m, stop)], axis=1)
                runs.append((m, stop, np.ascontiguousarray(real_weights(Wa)).view(np.float64)))
                m = stop
            dst = np.array([m for m, a in enumerate(blocks) if pos[a] != m], dtype=np.intp)
            src = np.array([pos[blocks[m]] for m in dst], dtype=np.intp)
            self._weights[order] = (runs, (dst, src), Rc, has_zero, M)
        return self._weights[order]

    def _hamiltonian(self, k, order):
        n, d, B = self.norb, self.dim, k.shape[0]
        runs, (dst, src), Rc, has_zero, M = self._derivative_weights(order)
        h, z = Rc.shape[0], int(has_zero)
        A = np.empty((B, z + 2 * h))
        if z:
            A[:, 0] = 1.0
        kR = k @ Rc.T                                                            # (B, h)
        np.cos(kR, out=A[:, z:z + h])
        np.sin(kR, out=A[:, z + h:])
        allm = np.empty((B, M, n, n), dtype=np.complex128)
        flat = allm.reshape(B, M * n * n).view(np.float64)                      # (B, 2 M N N)
        if self.convention == "positions":
            # e^{ik.(R + tau_j - tau_i)} = e^{-ik.tau_i} e^{ik.R} e^{ik.tau_j}
            ph_tau = np.exp(1j * (k @ (self.positions @ self.lattice).T))       # (B, N)
            P = (ph_tau.conj()[:, :, None] * ph_tau[:, None, :])[:, None]       # (B, 1, N, N)
        # cache-sized chunks of k: the product, the copies and the phases act on cache-resident data
        step = max(32, 2**16 // (M * n * n))
        for i in range(0, B, step):
            j = min(B, i + step)
            for start, stop, W in runs:
                np.matmul(A[i:j], W, out=flat[i:j, 2 * n * n * start:2 * n * n * stop])
            for a, b in zip(dst, src):                                          # d_a d_b H = d_b d_a H
                allm[i:j, a] = allm[i:j, b]
            if self.convention == "positions":
                allm[i:j] *= P[i:j]
        out, start = [], 0
        for p in range(order + 1):
            m = d**p
            out.append(allm[:, start:start + m].reshape((B,) + (d,) * p + (n, n)))
            start += m
        return tuple(out)


# ---------------------------------------------------------------------------------- input checks
# Every ModelError names the problem and how to fix it.

def check_diagonal_positions(model, what: str, why: str = "it is built on the tight-binding position operator "
                             "(diagonal in the orbitals, velocity dH/dk) and would drop the off-diagonal terms "
                             "silently.") -> None:
    """Refuse a model with a Wannier position matrix in a layer that cannot use it, saying why.

    The band geometry, the responses, the Kubo / density-matrix / time-domain references and the kinetic solver
    at orders 0 and 1 use the position matrix (``r = i∇_k + A^W``). A layer that would need more than the first
    moments ``<m,0|r|n,R>`` that a Wannier run provides (e.g. ``<m,0|r_a r_b|n,R>``), or that is not built for
    the covariant form, refuses such a model here rather than drop its terms silently; ``why`` states which
    matrix elements or which part is missing. The caller may accept the tight-binding approximation explicitly
    with ``model.tight_binding_approximation()``.
    """
    if getattr(model, "position_matrix", None) is not None:
        raise ModelError(
            f"{what} cannot use the Wannier position matrix of {model.name}: {why} Pass "
            "model.tight_binding_approximation() to accept the tight-binding approximation (position operator "
            "diagonal in the orbitals) explicitly; band_geometry, conductivity, thermoelectric, "
            "gyrotropic_tensors, kubo_conductivity, the density-matrix and time-domain solvers and the kinetic "
            "solver at orders 0 and 1 use the full interpolation.")


def _check_lattice(lattice) -> np.ndarray:
    """Lattice vectors as a float (dim, dim) array, dim in 1..3, finite and linearly independent."""
    try:
        lat = np.atleast_2d(np.asarray(lattice, dtype=float))
    except (TypeError, ValueError) as exc:
        raise ModelError(
            f"lattice could not be read as a real array ({exc}): give the primitive vectors as the rows of a "
            "(dim, dim) array in Angstrom, e.g. [[a, 0], [0, a]] in 2D or [[a]] in 1D."
        ) from None
    if lat.ndim != 2 or lat.shape[0] != lat.shape[1] or lat.shape[0] not in (1, 2, 3):
        raise ModelError(
            f"lattice has shape {lat.shape}; it must be a square (dim, dim) array with dim = 1, 2 or 3 and "
            "the primitive vectors (Angstrom) as rows, e.g. [[a, 0], [0, a]] in 2D or [[a]] in 1D."
        )
    if not np.all(np.isfinite(lat)):
        raise ModelError(f"lattice contains NaN or infinite entries: {lat.tolist()}; give finite vectors in Angstrom.")
    if abs(np.linalg.det(lat)) < 1e-12:
        raise ModelError(
            f"lattice vectors {lat.tolist()} are linearly dependent (zero cell volume): give {lat.shape[0]} "
            "linearly independent primitive vectors as rows."
        )
    return lat


def _check_positions(positions, dim: int) -> np.ndarray:
    """Orbital positions as a float (N, dim) array of finite reduced coordinates, N >= 1."""
    example = {1: "[[0.0], [0.5]]", 2: "[[0, 0], [0.5, 0.5]]", 3: "[[0, 0, 0], [0.5, 0.5, 0.5]]"}[dim]
    try:
        pos = np.asarray(positions, dtype=float)
    except (TypeError, ValueError) as exc:
        raise ModelError(
            f"positions could not be read as a real array ({exc}): give one row of {dim} reduced coordinates "
            f"per orbital, shape (N, {dim}), e.g. {example}."
        ) from None
    if pos.ndim == 1 and dim == 1:
        pos = pos[:, None]
    if pos.ndim != 2 or pos.shape[1] != dim:
        raise ModelError(
            f"positions has shape {pos.shape}; for this {dim}D lattice it must be (N, {dim}): one row of {dim} "
            f"reduced coordinates (fractions of the lattice vectors) per orbital, e.g. {example} "
            f"(use np.zeros((N, {dim})) for orbitals at the cell origin)."
        )
    if pos.shape[0] == 0:
        raise ModelError(f"positions is empty: give at least one orbital, shape (N, {dim}) with N >= 1.")
    if not np.all(np.isfinite(pos)):
        raise ModelError("positions contains NaN or infinite entries: give finite reduced coordinates.")
    return pos


def _hopping_key(R, dim: int) -> tuple:
    """A hopping key as a tuple of ``dim`` ints, or a ModelError saying what a key must be."""
    fix = (f"keys of hoppings must be tuples of {dim} integers, the lattice vector R in units of the "
           f"primitive vectors, e.g. {(1,) + (0,) * (dim - 1)}")
    try:
        Rf = np.atleast_1d(np.asarray(R, dtype=float))
    except (TypeError, ValueError):
        raise ModelError(f"hopping key {R!r} is not a lattice vector: {fix}.") from None
    if Rf.ndim != 1 or Rf.size != dim:
        raise ModelError(f"hopping key {R!r} has {Rf.size} component(s) but the lattice is {dim}D: {fix}.")
    if not np.all(np.isfinite(Rf)) or not np.allclose(Rf, np.rint(Rf), rtol=0, atol=1e-9):
        raise ModelError(
            f"hopping key {R!r} is not integer: {fix}. Orbital offsets inside the cell belong in positions, "
            "not in R."
        )
    return tuple(int(r) for r in np.rint(Rf))


def _collect_hoppings(hoppings, dim: int, norb: int) -> dict:
    """``{R: t_R}`` with tuple keys and complex (N, N) values; equal keys are summed."""
    zero = (0,) * dim
    if not hasattr(hoppings, "items"):
        raise ModelError(
            f"hoppings must be a dict {{R: t_R}} (R a tuple of {dim} integers, t_R a ({norb}, {norb}) "
            f"array in eV); got {type(hoppings).__name__}."
        )
    if not hoppings:
        raise ModelError(f"hoppings is empty: give at least the on-site block {{{zero}: t_0}} with t_0 an "
                         f"({norb}, {norb}) Hermitian array in eV.")
    hop = {}
    for R, t in hoppings.items():
        Rt = _hopping_key(R, dim)
        try:
            t = np.asarray(t, dtype=complex)
        except (TypeError, ValueError) as exc:
            raise ModelError(f"hopping t_R for R={Rt} could not be read as a complex array ({exc}): give a "
                             f"({norb}, {norb}) array in eV.") from None
        if t.shape != (norb, norb):
            hint = " (for a 1-orbital model write a scalar hopping t as [[t]])" if t.ndim == 0 else ""
            raise ModelError(
                f"hopping t_R for R={Rt} has shape {t.shape}; expected ({norb}, {norb}), one row and column per "
                f"orbital, since positions defines {norb} orbital(s). Fix the matrix, or add the missing "
                f"orbitals to positions{hint}."
            )
        if not np.all(np.isfinite(t)):
            raise ModelError(f"hopping t_R for R={Rt} contains NaN or infinite entries: give finite values in eV.")
        hop[Rt] = hop.get(Rt, 0) + t
    return hop


def _check_hermitian(hop: dict, zero: tuple, hermiticity: str) -> None:
    """Every R must have a partner -R with t_{-R} = t_R^dagger (t_0 Hermitian)."""
    for R, t in hop.items():
        mR = tuple(-r for r in R)
        partner = hop.get(mR)
        if partner is None:                                  # only reachable with hermiticity="check"
            raise ModelError(
                f"hopping R={R} has no Hermitian partner R={mR}, so H(k) is not Hermitian: add "
                f"t_{{{mR}}} = t_{{{R}}}^dagger to hoppings, or pass hermiticity='complete' to have every "
                "missing partner added."
            )
        dev = np.max(np.abs(partner - t.conj().T))
        if dev > HERMITICITY_RTOL * max(1.0, np.max(np.abs(t))):
            if R == zero:
                raise ModelError(
                    f"hoppings are not Hermitian: the on-site block t_R for R={R} is not a Hermitian matrix "
                    f"(max |t_0 - t_0^dagger| = {dev:.3g} eV). Make t_0 Hermitian, e.g. replace it by "
                    "(t_0 + t_0^dagger)/2; hermiticity='complete' does not change t_0."
                )
            fix = (f"set t_{{{mR}}} = t_{{{R}}}^dagger, or omit t_{{{mR}}} and pass hermiticity='complete' "
                   f"(which adds it as t_{{{R}}}^dagger)"
                   if hermiticity == "check" else
                   f"hermiticity='complete' only adds missing partners and checks given ones: set "
                   f"t_{{{mR}}} = t_{{{R}}}^dagger, or omit t_{{{mR}}} so that it is added")
            raise ModelError(
                f"hoppings are not Hermitian: t_{{-R}} != t_R^dagger for R={R}, -R={mR} "
                f"(max deviation {dev:.3g} eV). Fix: {fix}."
            )


def _collect_position_matrix(position_matrix, dim: int, norb: int, components=None, what="position matrix",
                             unit="in Angstrom") -> dict:
    """``{R: r_R}`` with tuple keys and complex (dim, N, N) values in Angstrom; equal keys are summed.

    The spin matrix uses it with ``components=3`` (always three Cartesian components) and its own names."""
    if components is not None:
        shape = (components, norb, norb)
        out = {}
        if not hasattr(position_matrix, "items") or not position_matrix:
            raise ModelError(f"{what} must be a non-empty dict {{R: s_R}} (R a tuple of {dim} integers, s_R a {shape} "
                             f"array {unit}, s_R[a, m, n] = <m,0|sigma_a|n,R>); got {position_matrix!r:.80}.")
        for R, r in position_matrix.items():
            Rt = _hopping_key(R, dim)
            try:
                r = np.asarray(r, dtype=complex)
            except (TypeError, ValueError) as exc:
                raise ModelError(f"{what} block for R={Rt} could not be read as a complex array ({exc}).") from None
            if r.shape != shape:
                raise ModelError(f"{what} block for R={Rt} has shape {r.shape}; expected {shape}: the three "
                                 f"components x, y, z, then one row and column per orbital ({norb}).")
            if not np.all(np.isfinite(r)):
                raise ModelError(f"{what} block for R={Rt} contains NaN or infinite entries.")
            out[Rt] = out.get(Rt, 0) + r
        return out
    shape = (dim, norb, norb)
    if not hasattr(position_matrix, "items"):
        raise ModelError(
            f"position_matrix must be a dict {{R: r_R}} (R a tuple of {dim} integers, r_R a {shape} array in "
            f"Angstrom, r_R[a, m, n] = <m,0|r_a|n,R>); got {type(position_matrix).__name__}."
        )
    if not position_matrix:
        raise ModelError(f"position_matrix is empty: give at least the R = {(0,) * dim} block (its diagonal holds "
                         "the Wannier centres), or pass position_matrix=None for the tight-binding approximation.")
    out = {}
    for R, r in position_matrix.items():
        Rt = _hopping_key(R, dim)
        try:
            r = np.asarray(r, dtype=complex)
        except (TypeError, ValueError) as exc:
            raise ModelError(f"position matrix r_R for R={Rt} could not be read as a complex array ({exc}): give "
                             f"a {shape} array in Angstrom.") from None
        if r.shape != shape:
            raise ModelError(
                f"position matrix r_R for R={Rt} has shape {r.shape}; expected {shape}: one Cartesian component "
                f"r_a per lattice dimension ({dim}), then one row and column per orbital ({norb}). For a model "
                "cut from a 3D Wannier90 file keep only the in-plane components."
            )
        if not np.all(np.isfinite(r)):
            raise ModelError(f"position matrix r_R for R={Rt} contains NaN or infinite entries: give finite "
                             "values in Angstrom.")
        out[Rt] = out.get(Rt, 0) + r
    return out


def _check_position_hermitian(pos: dict, zero: tuple, hermiticity: str, what="position matrix",
                              unit=" Angstrom") -> None:
    """Every R must have a partner -R with r_a(-R) = r_a(R)^dagger for each component a."""
    for R, r in pos.items():
        mR = tuple(-x for x in R)
        partner = pos.get(mR)
        if partner is None:                                  # only reachable with hermiticity="check"
            raise ModelError(
                f"{what} block R={R} has no partner R={mR}, so the operator is not Hermitian: "
                f"add r_{{{mR}}} with r_a({mR}) = r_a({R})^dagger for each component a, or pass "
                "hermiticity='complete' to have every missing partner added."
            )
        dev = np.max(np.abs(partner - r.conj().swapaxes(-1, -2)))
        if dev > HERMITICITY_RTOL * max(1.0, np.max(np.abs(r))):
            which = (f"the R={R} block is not Hermitian (its diagonal must be real)"
                     if R == zero else f"X_a(-R) != X_a(R)^dagger for R={R}, -R={mR}")
            raise ModelError(
                f"{what} is not Hermitian: {which} (max deviation {dev:.3g}{unit}). "
                "<m,0|X_a|n,-R> = conj(<n,0|X_a|m,R>) holds for any Hermitian operator X between orthonormal Wannier "
                "functions; symmetrize the input, e.g. X_a(R) -> (X_a(R) + X_a(-R)^dagger)/2."
            )
