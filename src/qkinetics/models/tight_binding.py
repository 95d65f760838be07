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

from functools import lru_cache
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
        self._weights = {}      # Fourier weights per block layout, a cache (see _block_weights)

    def __getstate__(self):
        # The Fourier weights are a cache of up to hundreds of MB for large models: rebuilt on first use
        # rather than pickled (a process-pool job carries the model).
        state = self.__dict__.copy()
        state["_weights"] = {}
        return state

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
        _check_order(order, self.max_derivative_order)
        return self._split(self._sum_blocks(k, _connection_layout(self.dim, order)), order, leading=(self.dim,))

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

    def interpolate(self, k, order: int = 1, connection=None, orbital_phases: bool = True):
        """H with its derivatives and the Wannier-gauge connection with its own, from one matrix product.

        The same numbers as :meth:`hamiltonian` and :meth:`wannier_connection` (to rounding), computed together:
        every block is a Fourier sum over the same lattice vectors, so one real matrix product per
        cache-sized chunk of k points serves all of them (see :meth:`_block_weights`).

        Parameters
        ----------
        k : (B, dim) Cartesian wave vectors, 1/Å.
        order : int
            Highest derivative order of H (0 .. ``max_derivative_order``).
        connection : None, int or "curl"
            None: no connection. An int p: ``(A, dA, ...)[: p + 1]`` as :meth:`wannier_connection` returns
            it. ``"curl"``: ``(A, curl)`` with ``curl[:, i] = ∂_a A_b - ∂_b A_a`` (B, P, N, N) in Å² for the
            P = dim(dim-1)/2 pairs a < b in the order of ``numpy.triu_indices(dim, 1)``: all the Berry
            curvature needs of the connection's derivatives, a third of the Fourier sums of dA.
        orbital_phases : bool
            False leaves out the factors e^{ik.(tau_j - tau_i)} of the "positions" convention: every block X
            then comes as D X D^dagger with D = diag(e^{ik.tau_j}), a k-dependent unitary change of basis that
            leaves the eigenvalues and every matrix in the eigenbasis (U^dagger X U) unchanged, the
            eigenvectors becoming D U (what :func:`qkinetics.band_geometry` uses when it does not keep them;
            it saves a pass over all blocks). No effect in the "lattice" convention.

        Returns
        -------
        ``(hamiltonian, connection)``: the tuple ``(H, dH, ...)[: order + 1]`` of :meth:`hamiltonian` and the
        connection tuple (None without ``connection``). The arrays are views into one buffer.
        """
        k = self.check_k(k)
        _check_order(order, self.max_derivative_order)
        layout = _hamiltonian_layout(self.dim, order)
        if connection is not None:
            if self.position_matrix is None:
                raise ModelError(f"{self.name} has no position matrix: interpolate(connection=...) needs one; pass "
                                 "connection=None for H alone.")
            if isinstance(connection, str):
                if connection != "curl":
                    raise ModelError(f"connection must be None, an order 0 .. {self.max_derivative_order} or "
                                     f"'curl'; got {connection!r}.")
                extra = _connection_layout(self.dim, 0) + _curl_layout(self.dim)
            else:
                _check_order(connection, self.max_derivative_order)
                extra = _connection_layout(self.dim, connection)
            layout = layout + extra
        allm = self._sum_blocks(k, layout, orbital_phases)
        nh = len(_hamiltonian_layout(self.dim, order))
        ham = self._split(allm[:, :nh], order)
        if connection is None:
            return ham, None
        rest = allm[:, nh:]
        if isinstance(connection, str):
            return ham, (rest[:, :self.dim], rest[:, self.dim:])
        return ham, self._split(rest, connection, leading=(self.dim,))

    def _split(self, allm, order, leading=()):
        """Views of the blocks (B, M, N, N) as the tuple of arrays (B, *leading, dim, ..., N, N) of orders 0..order."""
        B, n, d = allm.shape[0], self.norb, self.dim
        lead = int(np.prod(leading, dtype=int))
        out, start = [], 0
        for p in range(order + 1):
            m = lead * d**p
            out.append(allm[:, start:start + m].reshape((B,) + tuple(leading) + (d,) * p + (n, n)))
            start += m
        return tuple(out)

    #: block layouts whose Fourier weights are kept (the most recently built first out)
    max_cached_layouts = 4

    def _block_weights(self, layout: tuple):
        """Real-split Fourier weights of the blocks of ``layout``; cached per layout.

        ``layout`` lists the output blocks in order, each ``("H", alpha)`` (∂^alpha H, alpha a tuple of
        Cartesian indices), ``("A", a, alpha)`` (∂^alpha A_a) or ``("curl", a, b)`` (∂_a A_b - ∂_b A_a). Each
        block is a sum over lattice vectors, sum_R e^{ik.R} W_R, with W_R = t_R (i d_R)^alpha for H,
        r_a(R) (i d_R)^alpha for A (r_a less the orbital position tau_a on the R = 0 diagonal in the
        "positions" convention, see :meth:`wannier_connection`) and i d_{R,a} r_b(R) - i d_{R,b} r_a(R) for the
        curl; d_{R,ij} = R + tau_j - tau_i ("positions", the phase e^{ik.(tau_j - tau_i)} is applied after the
        sum) or R ("lattice"). Derivatives commute, so only the sorted multi-indices are summed; every other
        block is a copy of its sorted counterpart. The sum is split into cos and sin terms, pairing R with
        -R: e^{ik.R} W_R + e^{-ik.R} W_-R = cos(k.R) (W_R + W_-R) + sin(k.R) i (W_R - W_-R), so that all blocks
        are one real matrix product [1, cos(k.R), sin(k.R)] (B, K) @ weights (K, 2 M N N), read as complex
        (B, M, N, N).

        Returns ``(runs, copies, Rc, has_zero, M)``: ``runs`` a list of ``(start, stop, weights)`` for the
        maximal ranges of consecutive blocks that are summed (weights (K, 2 (stop - start) N N) float),
        ``copies`` a pair of index arrays (dst, src) of the copied blocks and their sources, ``Rc`` (h, dim)
        the Cartesian R of the cos/sin rows, ``has_zero`` whether row 0 is the R = 0 block (coefficient 1).
        """
        cached = self._weights.get(layout)
        if cached is not None:
            return cached
        d, N = self.dim, self.norb
        zero = (0,) * d
        wants_r = any(spec[0] != "H" for spec in layout)
        Rs = list(self.hoppings)
        if wants_r:
            Rs += [R for R in self.position_matrix if R not in self.hoppings]
            if self.convention == "positions" and zero not in Rs:
                Rs.append(zero)
        row = {R: i for i, R in enumerate(Rs)}
        Rcart = np.array(Rs, dtype=float).reshape(len(Rs), d) @ self.lattice
        if self.convention == "positions":
            tau = self.positions @ self.lattice                                  # (N, dim) Cartesian
            disp = Rcart[:, None, None, :] + tau[None, None, :, :] - tau[None, :, None, :]
        else:
            disp = np.broadcast_to(Rcart[:, None, None, :], (len(Rs), N, N, d))
        idisp = 1j * np.moveaxis(disp, -1, 0)                                    # (dim, nR, N, N)
        t = np.array([self.hoppings.get(R, np.zeros((N, N))) for R in Rs], dtype=complex)
        if wants_r:
            r = np.array([self.position_matrix.get(R, np.zeros((d, N, N))) for R in Rs], dtype=complex)
            if self.convention == "positions":
                r[row[zero]] -= np.einsum("na,nm->anm", tau, np.eye(N))
        # pair R with -R (every R has its Hermitian partner; an unpaired one would get c + i s)
        has_zero = zero in row
        pairs, done = [], set()
        for R, i in row.items():
            if R != zero and R not in done:
                j = row.get(tuple(-x for x in R))
                pairs.append((i, j))
                done.add(tuple(-x for x in R))
        Rc = np.array([Rcart[i] for i, _ in pairs], dtype=float).reshape(len(pairs), d)

        def real_weights(Wa):                                                    # Wa (nR, ...) complex
            rows = [Wa[row[zero]]] if has_zero else []
            rows += [Wa[i] + Wa[j] if j is not None else Wa[i] for i, j in pairs]
            rows += [1j * (Wa[i] - Wa[j]) if j is not None else 1j * Wa[i] for i, j in pairs]
            return np.array(rows, dtype=complex).reshape(len(rows), -1)

        monomials = {(): None}                                                   # (i d)^alpha, built once

        def monomial(alpha):
            if alpha not in monomials:
                head = monomial(alpha[:-1])
                monomials[alpha] = idisp[alpha[-1]] if head is None else head * idisp[alpha[-1]]
            return monomials[alpha]

        def block(spec):                                                         # W_R (nR, N, N) of a block
            if spec[0] == "curl":
                a, b = spec[1:]
                return idisp[a] * r[:, b] - idisp[b] * r[:, a]
            base = t if spec[0] == "H" else r[:, spec[1]]
            m = monomial(spec[-1])
            return base if m is None else base * m

        canon = [(s[0], tuple(sorted(s[1]))) if s[0] == "H" else
                 (s[0], s[1], tuple(sorted(s[2]))) if s[0] == "A" else s for s in layout]
        pos = {}
        for m, c in enumerate(canon):
            pos.setdefault(c, m)
        runs, m, M = [], 0, len(layout)
        while m < M:
            if pos[canon[m]] != m:
                m += 1
                continue
            stop = m
            while stop < M and pos[canon[stop]] == stop:
                stop += 1
            Wa = np.stack([block(canon[i]) for i in range(m, stop)], axis=1)
            runs.append((m, stop, np.ascontiguousarray(real_weights(Wa)).view(np.float64)))
            m = stop
        dst = np.array([m for m, c in enumerate(canon) if pos[c] != m], dtype=np.intp)
        src = np.array([pos[canon[m]] for m in dst], dtype=np.intp)
        while len(self._weights) >= self.max_cached_layouts:
            self._weights.pop(next(iter(self._weights)))
        self._weights[layout] = (runs, (dst, src), Rc, has_zero, M)
        return self._weights[layout]

    def _sum_blocks(self, k, layout, orbital_phases=True):
        """The Fourier sums of the blocks of ``layout`` (see :meth:`_block_weights`) at k: (B, M, N, N) complex;
        without the phases e^{ik.(tau_j - tau_i)} of the "positions" convention if not ``orbital_phases``."""
        n, B = self.norb, k.shape[0]
        runs, (dst, src), Rc, has_zero, M = self._block_weights(layout)
        h, z = Rc.shape[0], int(has_zero)
        A = np.empty((B, z + 2 * h))
        if z:
            A[:, 0] = 1.0
        kR = k @ Rc.T                                                            # (B, h)
        np.cos(kR, out=A[:, z:z + h])
        np.sin(kR, out=A[:, z + h:])
        allm = np.empty((B, M, n, n), dtype=np.complex128)
        flat = allm.reshape(B, M * n * n).view(np.float64)                      # (B, 2 M N N)
        phases = self.convention == "positions" and orbital_phases
        if phases:
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
            if phases:
                allm[i:j] *= P[i:j]
        return allm

    def _hamiltonian(self, k, order):
        return self._split(self._sum_blocks(k, _hamiltonian_layout(self.dim, order)), order)


def _check_order(order, highest):
    if isinstance(order, bool) or not isinstance(order, (int, np.integer)) or not 0 <= order <= highest:
        raise ModelError(f"order must be an integer from 0 to {highest}; got {order!r}.")


@lru_cache(maxsize=None)
def _hamiltonian_layout(dim, order):
    """Blocks of H and its derivatives up to ``order``: every multi-index of every order in C order."""
    return tuple(("H", a) for p in range(order + 1) for a in product(range(dim), repeat=p))


@lru_cache(maxsize=None)
def _connection_layout(dim, order):
    """Blocks of A and its derivatives up to ``order``: per order p, [a, c_1 .. c_p] in C order (∂_c... A_a)."""
    return tuple(("A", a, c) for p in range(order + 1) for a in range(dim) for c in product(range(dim), repeat=p))


@lru_cache(maxsize=None)
def _curl_layout(dim):
    """Blocks ∂_a A_b - ∂_b A_a of the pairs a < b (``numpy.triu_indices(dim, 1)`` order)."""
    return tuple(("curl", int(a), int(b)) for a, b in zip(*np.triu_indices(dim, 1)))


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
