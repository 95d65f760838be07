"""Band quantum geometry from one eigendecomposition per k point.

Conventions (docs/conventions.md): eigenpairs :math:`H|u_n\\rangle = \\varepsilon_n|u_n\\rangle`
ascending; velocity matrix :math:`V^a_{nm} = \\langle u_n|\\partial_a H|u_m\\rangle`;
sums over :math:`m` exclude the degenerate group of :math:`n`.

.. math::
    \\Omega_n^{ab} &= -2\\,\\mathrm{Im}\\sum_{m} \\frac{V^a_{nm}V^b_{mn}}{(\\varepsilon_n-\\varepsilon_m)^2}
    \\quad\\text{(Berry curvature, } \\Omega = \\partial_a A_b - \\partial_b A_a,\\ A = i\\langle u|\\partial u\\rangle)\\\\
    g_n^{ab} &= \\mathrm{Re}\\sum_{m} \\frac{V^a_{nm}V^b_{mn}}{(\\varepsilon_n-\\varepsilon_m)^2}
    \\quad\\text{(quantum metric)}\\\\
    G_n^{ab} &= 2\\,\\mathrm{Re}\\sum_{m} \\frac{V^a_{nm}V^b_{mn}}{(\\varepsilon_n-\\varepsilon_m)^3}
    \\quad\\text{(band-normalized quantum metric)}\\\\
    M_n^{ab} &= \\partial_a\\partial_b\\varepsilon_n = \\mathrm{Re}\\,\\langle u_n|\\partial_a\\partial_b H|u_n\\rangle
        + 2\\,\\mathrm{Re}\\sum_m \\frac{V^a_{nm}V^b_{mn}}{\\varepsilon_n-\\varepsilon_m}
    \\quad\\text{(inverse effective mass times } \\hbar^2)

Units with model input in eV and Angstrom: energies eV, ``velocity`` = dε/dk in eV Å
(the group velocity is velocity / ħ), ``inverse_mass`` eV Å², Berry curvature and metric
Å², normalized metric Å²/eV, their k-derivatives one more power of Å.

Derivatives are analytic (sum over states), from the k-derivative of the velocity matrix
in the eigenbasis, :math:`\\partial_c V^a = U^\\dagger \\partial_a\\partial_c H U + [V^c\\circ R, V^a]`
with :math:`R_{nl} = 1/(\\varepsilon_n - \\varepsilon_l)` outside degenerate groups.

Degenerate groups: bands whose energies differ by less than ``degeneracy_tol`` (eV, default
``DEFAULT_DEGENERACY_TOL`` = 1e-3) form a group. Per-band values inside a group are the group trace
divided by the group size, which is gauge invariant (the trace of the non-Abelian quantity); summing
a per-band quantity over all bands of the group gives the group trace. Derivatives of group
quantities are correct where the group stays degenerate in a neighbourhood (e.g. Kramers pairs of
PT-symmetric models); at an isolated crossing they are not defined.

Why 1 meV: Wannier Hamiltonians are symmetric only up to numerical noise, which splits Kramers pairs
at time-reversal-invariant momenta by 1e-7 to 1e-4 eV (GaAs). A split pair carries an intra-pair
curvature ~ |V_nm|^2/Delta^2 that no grid resolves; weighted by f_n - f_m ~ f' Delta it adds ~ 1/Delta
to a Fermi-sea sum (hundreds of S/cm of anomalous Hall conductivity in a time-reversal-symmetric
model with the former 1e-6 eV; tests/test_degeneracy.py). Grouping drops only intra-group terms at k
points where the splitting is below 1 meV, far below what a k grid resolves (|v| Delta k >~ 10 meV for
|v| ~ 1 eV Å and Delta k ~ 0.01 1/Å), so genuine small gaps are unaffected (measured on a Weyl
semimetal and a magnet, same test file). postw90 uses 1e-4 eV for its degenerate band derivatives and
WannierBerri 1e-4 eV by default, which is below the noise of some Wannier models (GaAs up to 1.2e-4 eV).

Position-block terms (models with a position matrix, e.g. from Wannier90): with the Bloch sums of the
orbitals ("Wannier gauge", H^W, A^W = i<u^W|∂u^W> from :meth:`TightBinding.wannier_connection`) and
the eigenvectors U, the Berry connection in the band basis is A^H = U^dagger A^W U + i U^dagger ∂U
(Wang, Yates, Souza, Vanderbilt, PRB 74, 195118 (2006)). Its interband part (n, m in different
groups) is exactly that of the tight-binding formulas with the velocity matrix replaced by the
physical one,

.. math::
    \\tilde V^a_{nm} = V^a_{nm} + i(\\varepsilon_n-\\varepsilon_m)\\bar A^a_{nm},\\qquad
    \\bar A^a = U^\\dagger A^W_a U,\\qquad
    A^{H,a}_{nm} = \\frac{i\\tilde V^a_{nm}}{\\varepsilon_m-\\varepsilon_n}\\ (n\\neq m),

(:math:`\\tilde V = U^\\dagger(\\partial_a H^W + i[H^W, A^W_a])U`). The quantum metric ``g`` and the
normalized metric ``G`` are then the metric of the interpolated states *within the Wannier space*,
:math:`g_n = \\mathrm{Re}\\sum_{m\\notin G(n)} A^{H,a}_{nm}A^{H,b}_{mn}` over the other Wannier-space bands
(the part leaving the Wannier space would need <r_a r_b>, which a Wannier90 run does not give). The
Berry curvature is the full one of WYSV, including the part leaving the Wannier space:

.. math::
    \\Omega_n^{ab} = -2\\,\\mathrm{Im}\\sum_{m\\notin G(n)} A^{H,a}_{nm}A^{H,b}_{mn}
        + (U^\\dagger F^W_{ab} U)_{nn},\\qquad
    F^W_{ab} = \\partial_a A^W_b - \\partial_b A^W_a - i[A^W_a, A^W_b],

which is WYSV's :math:`\\bar\\Omega - [D_a,\\bar A_b] + [D_b,\\bar A_a] - i[D_a, D_b]` regrouped (F^W, the
non-Abelian curvature of the Wannier-gauge states, vanishes when the Wannier space is complete). Group
traces stay gauge invariant; derivatives follow with ∂_c Ṽ^W_a = ∂_a∂_c H + i[∂_c H, A_a] + i[H, ∂_c A_a]
and ∂_c F^W. ``velocity`` and ``inverse_mass`` depend on H alone and do not change;
``velocity_matrix`` is Ṽ. Without a position matrix (or with
:meth:`TightBinding.tight_binding_approximation`) A^W = 0: the tight-binding approximation.
"""

from __future__ import annotations

from dataclasses import dataclass, fields
from functools import lru_cache
from math import prod

import numpy as np

from .models.base import Model, ModelError

#: eV; see the module docstring ("Why 1 meV") and tests/test_degeneracy.py
DEFAULT_DEGENERACY_TOL = 1e-3
#: Geometry works in sub-batches of about SUBBATCH_ELEMENTS / (d N²) k points (one (B, d, N, N) array of
#: about that many numbers; 4 SUBBATCH_ELEMENTS / (d² N²) with derivatives, whose temporaries are
#: (B, d, d, N, N)), and at least SUBBATCH_MIN (SUBBATCH_MIN / 2 with derivatives). Tuned with
#: benchmarks/geometry.py (Part 3): smaller sub-batches pay per-call overhead, larger ones fall out of cache.
SUBBATCH_ELEMENTS = 2**15
SUBBATCH_MIN = 32
#: band-pair sums by small matrix products per (k, n) once d(d+1)/2 N reaches this, by elementwise
#: products below (see _pair_sums; measured crossover: 2D N = 32 and 3D N = 16 sit on it)
GRAM_PAIR_MIN = 96
#: complex numbers of Gram rows built at a time (cache-sized; benchmarks/geometry.py)
GRAM_CHUNK = 2**16
#: the per-band tensors ``quantities=`` selects (energies, velocity and degeneracy always come)
OPTIONAL_QUANTITIES = ("berry_curvature", "quantum_metric", "normalized_metric", "orbital_moment")


@dataclass
class BandGeometry:
    """Band geometry at a batch of k points (arrays indexed [k, band, tensor indices...]).

    Attributes
    ----------
    k : (B, d) Cartesian wave vectors, 1/Å.
    energies : (B, N) band energies ε_n, eV, ascending.
    velocity : (B, N, d) ∂_a ε_n, eV Å (group velocity × ħ).
    inverse_mass : (B, N, d, d) ∂_a ∂_b ε_n, eV Å²; None unless second derivatives were given.
    berry_curvature : (B, N, d, d) Ω_n^{ab}, Å², antisymmetric.
    quantum_metric : (B, N, d, d) g_n^{ab}, Å², symmetric positive semidefinite.
    normalized_metric : (B, N, d, d) G_n^{ab}, Å²/eV.
    berry_curvature_derivative, quantum_metric_derivative, normalized_metric_derivative :
        (B, N, d, d, d) with last index c the derivative: ``[..., a, b, c] = ∂_c X^{ab}``.
        None unless computed with ``derivatives=True``.
    orbital_moment : (B, N, P) the orbital magnetic moment as a pseudovector, eV Å²: the moment is
        :math:`m_n = (e/\\hbar)` ``orbital_moment`` (electron charge -e; 1 eV Å² ↔ ``units.orbital_moment_bohr``
        = 0.2625 Bohr magnetons). P = 3 in 3D (components x, y, z), P = 1 in 2D (the z component,
        ``[..., 0]``), P = 0 in 1D. See :func:`geometry_from_hamiltonian` (Notes) for the formula.
    degeneracy : (B, N) int, size of the degenerate group of each band.
    eigenvectors : (B, N, N) columns |u_n>, only with ``keep_eigenvectors=True``.
    velocity_matrix : (B, d, N, N) the physical velocity matrix (× ħ) in the eigenbasis, V^a_{nm} =
        <u_n|∂_a H|u_m>, with the position-block terms Ṽ^a (module docstring); only with
        ``keep_eigenvectors=True``.

    ``berry_curvature``, ``quantum_metric``, ``normalized_metric`` and ``orbital_moment`` are None when
    the geometry was computed with ``quantities=`` not naming them.
    """

    k: np.ndarray
    energies: np.ndarray
    velocity: np.ndarray
    berry_curvature: np.ndarray
    quantum_metric: np.ndarray
    normalized_metric: np.ndarray
    degeneracy: np.ndarray
    orbital_moment: np.ndarray | None = None
    inverse_mass: np.ndarray | None = None
    berry_curvature_derivative: np.ndarray | None = None
    quantum_metric_derivative: np.ndarray | None = None
    normalized_metric_derivative: np.ndarray | None = None
    eigenvectors: np.ndarray | None = None
    velocity_matrix: np.ndarray | None = None

    def __len__(self) -> int:
        return self.energies.shape[0]

    def __getitem__(self, index) -> "BandGeometry":
        """Select k points (a slice, mask or index array)."""
        kw = {}
        for f in fields(self):
            v = getattr(self, f.name)
            kw[f.name] = None if v is None else v[index]
        return BandGeometry(**kw)


def degenerate_groups(energies: np.ndarray, tol: float = DEFAULT_DEGENERACY_TOL) -> np.ndarray:
    """Label degenerate groups of ascending energies (B, N): consecutive bands closer than ``tol``.

    Returns integer labels (B, N); bands with equal labels at a k point form a group.
    """
    gaps = np.diff(energies, axis=-1)
    return np.concatenate(
        [np.zeros(energies.shape[:-1] + (1,), dtype=int), np.cumsum(gaps > tol, axis=-1)], axis=-1
    )


def _group_average(same: np.ndarray | None, size: np.ndarray, x: np.ndarray, out=None) -> np.ndarray:
    """Average a per-band quantity x (B, N, ...) over degenerate groups (``same=None``: none), into ``out``
    when given."""
    if same is None or np.all(size == 1):
        if out is None:
            return x
        np.copyto(out, x)
        return out
    P = same / size[:, :, None]
    return np.einsum("bnm,bm...->bn...", P, x, out=out)


def geometry_from_hamiltonian(H, dH, d2H=None, *, k=None, derivatives: bool = False,
                              degeneracy_tol: float = DEFAULT_DEGENERACY_TOL,
                              keep_eigenvectors: bool = False, connection=None, orbital=None,
                              quantities=None) -> BandGeometry:
    """Band geometry from a batch of Hamiltonians and their k-derivatives.

    Parameters
    ----------
    H : (B, N, N) Hermitian matrices, eV.
    dH : (B, d, N, N) first derivatives ∂_a H, eV Å.
    d2H : (B, d, d, N, N), optional
        Second derivatives; needed for ``inverse_mass`` and for ``derivatives=True``.
    k : (B, d), optional
        Stored in the result for reference.
    derivatives : bool
        Also compute ∂_c Ω, ∂_c g, ∂_c G analytically (requires d2H).
    degeneracy_tol : float
        Energy window (eV) within which bands form a degenerate group.
    keep_eigenvectors : bool
        Keep eigenvectors and the velocity matrix in the result (memory N² per k).
    connection : tuple of arrays, optional
        The Wannier-gauge Berry connection of the basis in which H is given, ``(A, dA)`` or, with
        ``derivatives``, ``(A, dA, d2A)``: A (B, d, N, N) in Å, ``dA[:, a, c] = ∂_c A_a``,
        ``d2A[:, a, c, e] = ∂_e∂_c A_a`` (e.g. :meth:`TightBinding.wannier_connection`). Adds the
        position-block terms (module docstring); None: the tight-binding approximation.
    orbital : tuple of arrays, optional
        ``(B(k), C(k))``, (B, 3, N, N) and (B, 3, 3, N, N), the orbital-moment operators of a Wannier90 run
        in its lattice Fourier convention (:meth:`OrbitalOperators.at
        <qkinetics.models.wannier90_orbital.OrbitalOperators.at>`); 3D and with ``connection`` only.
    quantities : iterable of str, optional
        The per-band tensors to compute among ``OPTIONAL_QUANTITIES`` (``"berry_curvature"``,
        ``"quantum_metric"``, ``"normalized_metric"``, ``"orbital_moment"``); the others are None in the
        result. None (default): all. Energies, velocities and degeneracies always come; the inverse mass
        follows ``d2H``; ``derivatives=True`` computes all (their derivatives share the sums).

    Returns
    -------
    BandGeometry

    Notes
    -----
    Orbital magnetic moment (electron charge -e; Xiao, Chang, Niu, RMP 82, 1959 (2010), Sec. III):

    .. math::
        m_n = -i\\frac{e}{2\\hbar}\\langle\\partial u_n|\\times(H-\\varepsilon_n)|\\partial u_n\\rangle
            = \\frac{e}{\\hbar}X_n,\\qquad
        X^c_n = \\mathrm{Im}\\langle\\partial_a u_n|H-\\varepsilon_n|\\partial_b u_n\\rangle
            = -\\mathrm{Im}\\sum_{m\\notin G(n)}\\frac{V^a_{nm}V^b_{mn}}{\\varepsilon_n-\\varepsilon_m}

    ((a, b, c) cyclic; ``orbital_moment`` is X in eV Å²). A wave packet in a field B has the energy
    :math:`\\varepsilon_n - m_n\\cdot B`. For two bands :math:`X_n = \\tfrac12(\\varepsilon_n-\\varepsilon_m)\\Omega_n`.
    Degenerate groups: group trace / size, gauge invariant because :math:`(H-\\varepsilon_G)` annihilates the
    group. With a position matrix the sum takes the physical Ṽ (module docstring): the moment of the
    interpolated states within the Wannier space, exact when that space is complete. The part leaving the
    space needs :math:`\\langle r H\\rangle` and :math:`\\langle r H r\\rangle`, the operators B and C of a
    Wannier90 run (``orbital``); with them (Lopez, Vanderbilt, Thonhauser, Souza, PRB 85, 014435 (2012),
    Eqs. 51, 56, 66, as postw90),
    :math:`X^c_n = \\tfrac12(\\varepsilon_n\\Omega^c_n - \\Lambda^c_{nn}) + \\mathrm{Im}\\sum_m(\\mathcal D_{a,nm}
    \\bar B_{b,mn} - \\mathcal D_{b,nm}\\bar B_{a,mn} + \\varepsilon_m\\mathcal D_{a,nm}\\mathcal D_{b,mn})`
    (:func:`_lvts_moment`), which equals the Ṽ formula when the space is complete.

    Large batches are processed in sub-batches of about ``SUBBATCH_ELEMENTS / (d N²)`` k points
    (``4 SUBBATCH_ELEMENTS / (d² N²)`` with derivatives), so temporaries stay cache-sized and memory bounded.
    The band-pair sums run as small matrix products per (k, n) once d(d+1)/2 N reaches ``GRAM_PAIR_MIN``
    and as elementwise products below; without ``derivatives`` only the diagonal of U^dagger ∂_a∂_b H U is
    formed, from the d(d+1)/2 distinct components. The methods agree to rounding (tests/test_geometry.py).
    """
    H, dH, d2H = _check_inputs(H, dH, d2H, derivatives, degeneracy_tol)
    k = None if k is None else np.asarray(k)
    B, d, N = dH.shape[:3]
    connection = _check_connection(connection, B, d, N, derivatives)
    orbital = _check_orbital(orbital, connection, B, d, N)
    wanted = _check_quantities(quantities)
    step = _subbatch_size(d, N, derivatives)
    ws = _Workspace()                # bounded, cache-sized temporaries whatever the batch, reused
    geo = _assemble(np.empty((B, 0)) if k is None else k, step, lambda i, out: _geometry(
        H[i:i + step], dH[i:i + step], None if d2H is None else d2H[i:i + step],
        None if k is None else k[i:i + step], derivatives, degeneracy_tol, keep_eigenvectors, ws, out,
        None if connection is None else tuple(x[i:i + step] for x in connection),
        None if orbital is None else tuple(x[i:i + step] for x in orbital), wanted))
    geo.k = k
    return geo


def _check_inputs(H, dH, d2H, derivatives, degeneracy_tol):
    """Validated arrays H (B, N, N), dH (B, d, N, N), d2H (B, d, d, N, N) or None."""
    H = np.asarray(H)
    dH = np.asarray(dH)
    if H.ndim != 3 or H.shape[1] != H.shape[2]:
        raise ModelError(f"H must have shape (B, N, N); got {H.shape}.")
    B, N = H.shape[:2]
    if dH.ndim != 4 or dH.shape[0] != B or dH.shape[2:] != (N, N):
        raise ModelError(f"dH must have shape (B, d, N, N) = ({B}, d, {N}, {N}); got {dH.shape}.")
    d = dH.shape[1]
    if derivatives and d2H is None:
        raise ModelError("derivatives=True needs the second derivatives d2H of the Hamiltonian.")
    if d2H is not None and np.shape(d2H) != (B, d, d, N, N):
        raise ModelError(f"d2H must have shape (B, d, d, N, N) = ({B}, {d}, {d}, {N}, {N}); got {np.shape(d2H)}.")
    if degeneracy_tol < 0:
        raise ModelError(f"degeneracy_tol must be >= 0 (eV); got {degeneracy_tol}.")
    return H, dH, None if d2H is None else np.asarray(d2H)


def _check_connection(connection, B, d, N, derivatives):
    """Validated Wannier-gauge connection (A, dA[, d2A]) or None."""
    if connection is None:
        return None
    need = 3 if derivatives else 2
    shapes = [(B, d, N, N), (B, d, d, N, N), (B, d, d, d, N, N)][:need]
    connection = tuple(np.asarray(x) for x in connection)
    if len(connection) < need or any(x.shape != s for x, s in zip(connection, shapes)):
        raise ModelError(
            f"connection must be (A, dA{', d2A' if derivatives else ''}) with shapes {shapes[:need]} "
            f"(A_a, ∂_c A_a{', ∂_e∂_c A_a' if derivatives else ''}); got shapes {[x.shape for x in connection]}.")
    return connection[:need]


def _check_orbital(orbital, connection, B, d, N):
    """Validated orbital-moment operators (B(k), C(k)) or None."""
    if orbital is None:
        return None
    if connection is None or d != 3:
        raise ModelError("orbital= (the B and C operators of a Wannier90 run) needs a 3D model with its position "
                         "matrix (connection=).")
    orbital = tuple(np.asarray(x) for x in orbital)
    shapes = [(B, 3, N, N), (B, 3, 3, N, N)]
    if len(orbital) != 2 or any(x.shape != s for x, s in zip(orbital, shapes)):
        raise ModelError(f"orbital must be (B(k), C(k)) with shapes {shapes}; got {[x.shape for x in orbital]}.")
    return orbital


def _check_quantities(quantities) -> frozenset:
    """The set of ``OPTIONAL_QUANTITIES`` to compute (None: all)."""
    if quantities is None:
        return frozenset(OPTIONAL_QUANTITIES)
    names = (quantities,) if isinstance(quantities, str) else tuple(quantities)
    unknown = [q for q in names if q not in OPTIONAL_QUANTITIES]
    if unknown:
        raise ModelError(f"quantities must name some of {OPTIONAL_QUANTITIES} (energies, velocity and degeneracy "
                         f"always come); got {unknown}.")
    return frozenset(names)


def _subbatch_size(d: int, N: int, derivatives: bool) -> int:
    """k points per sub-batch (see SUBBATCH_ELEMENTS)."""
    if derivatives:
        return max(SUBBATCH_MIN // 2, 4 * SUBBATCH_ELEMENTS // (d * d * N * N))
    return max(SUBBATCH_MIN, SUBBATCH_ELEMENTS // (d * N * N))


class _Workspace:
    """Scratch arrays reused by successive sub-batches.

    Fresh temporaries of a few MB per sub-batch are returned to the operating system when freed
    (glibc trims the heap) and page-fault again on the next sub-batch, which cost about a third of
    the geometry time beyond ``eigh``; reusing them avoids that. Only for intermediates that no
    result refers to.
    """

    def __init__(self):
        self._flat = {}
        self._children = {}

    def child(self, name: str) -> "_Workspace":
        """A separate workspace (for a second use of a routine whose scratch names would collide)."""
        return self._children.setdefault(name, _Workspace())

    def get(self, name: str, shape: tuple, dtype=complex) -> np.ndarray:
        n = prod(shape)                                                    # math.prod: no numpy call overhead
        buf = self._flat.get(name)
        if buf is None or buf.dtype != np.dtype(dtype) or buf.size < n:
            buf = self._flat[name] = np.empty(n, dtype=dtype)
        return buf[:n].reshape(shape)


def _geometry(H, dH, d2H, k, derivatives, degeneracy_tol, keep_eigenvectors, ws, out=None,
              connection=None, orbital=None, wanted=frozenset(OPTIONAL_QUANTITIES)) -> BandGeometry:
    """geometry_from_hamiltonian on one sub-batch (inputs already validated); ``ws`` a _Workspace.

    ``out``: optional dict of destination arrays (slices of a full-batch result) for the fields in
    ``_DIRECT``; those results are written there directly instead of into fresh arrays.
    ``connection``: None (tight-binding approximation) or the Wannier-gauge Berry connection
    ``(A, dA[, d2A])``, (B, d, N, N), (B, d, d, N, N) [a, c] = ∂_c A_a, (B, d, d, d, N, N) [a, c, e] =
    ∂_e ∂_c A_a, for the position-block terms (module docstring).
    ``orbital``: None or ``(B(k), C(k))`` (B, 3, N, N), (B, 3, 3, N, N) of a Wannier90 run (needs ``connection``).
    ``wanted``: the ``OPTIONAL_QUANTITIES`` to compute (all with ``derivatives``).
    """
    B, d, N = dH.shape[0], dH.shape[1], dH.shape[2]
    out = out or {}
    eps, U = np.linalg.eigh(H)
    Uh = np.conj(U, out=ws.get("Uc", (B, N, N))).swapaxes(-1, -2)           # U^dagger as a view: BLAS transposes
    V = to_eigenbasis(U, Uh, dH, ws)                                        # (B, d, N, N)

    gap = np.subtract(eps[:, :, None], eps[:, None, :], out=ws.get("gap", (B, N, N), float))  # ε_n - ε_m
    R = ws.get("R", (B, N, N), float)
    with np.errstate(divide="ignore"):
        np.divide(1.0, gap, out=R)                                           # 1/(ε_n - ε_m)
    if N == 1 or np.all(np.diff(eps, axis=-1) > degeneracy_tol):
        same, size = None, np.ones((B, N), dtype=int)                        # no degenerate pair anywhere
        R.reshape(B, N * N)[:, ::N + 1] = 0.0
    else:
        lab = degenerate_groups(eps, degeneracy_tol)
        same = lab[:, :, None] == lab[:, None, :]                            # (B, N, N)
        size = same.sum(axis=-1)
        R[same] = 0.0                                                        # no sums inside a group

    def result(name, shape, produce):
        """A result field: produce(dst) writes it into dst, then the group average (in place where possible)."""
        dst = out.get(name)
        if same is None:
            return produce(np.empty(shape) if dst is None else dst)
        return _group_average(same, size, produce(np.empty(shape)), out=dst)

    vel = result("velocity", (B, N, d),
                 lambda o: _copy_into(o, np.real(np.diagonal(V, axis1=-2, axis2=-1)).transpose(0, 2, 1)))
    want_mass = d2H is not None
    if derivatives:
        wanted = frozenset(OPTIONAL_QUANTITIES)
    want_metric, want_norm = "quantum_metric" in wanted, "normalized_metric" in wanted
    want_moment = "orbital_moment" in wanted
    want_omega = "berry_curvature" in wanted or (want_moment and orbital is not None)
    # With a position matrix and no derivatives, Ω comes from its own sums (_wannier_berry_curvature), which
    # need V and Ā but not Ṽ; Ṽ serves the metrics, the moment and the kept velocity matrix.
    own_omega = connection is not None and not derivatives
    Vh, Vtrue, pws = V, V, None                   # Vh: the physical velocity matrix (V without position terms)
    if connection is not None:
        pws = ws.child("position")
        Abar = to_eigenbasis(U, Uh, connection[0], pws)                    # Ā_a = U^dagger A^W_a U (scratch view)
        if derivatives or want_metric or want_norm or (want_moment and orbital is None) or keep_eigenvectors:
            Vh = V + 1j * gap[:, None] * Abar                               # Ṽ_nm = V_nm + i(ε_n - ε_m) Ā_nm
        if derivatives:
            Abar = Abar.copy()                                             # read again below, after more rotations
            Ftilde, Fdiag = _wannier_curvature(U, Uh, connection, pws)
    # Σ_m X^a_nm conj(X^c_nm) w_nm with X = V R: w = 1 gives Σ V^a V^c/Δ² (Q2), w = R gives Σ V^a V^c/Δ³
    # (Q3), w = Δ gives Σ V^a V^c/Δ (Q1, inverse mass), w = R² gives Σ V^a V^c/Δ⁴ (Q4, derivatives only).
    # w = Δ (index 2) serves the orbital moment (Im) and, in the tight-binding case, the inverse mass (Re).
    # Entries (w, Im wanted, Re wanted): only the parts some requested quantity reads are summed.
    weights = [(None, want_omega and not own_omega, want_metric), (R, derivatives, want_norm),
               (gap, want_moment and orbital is None, want_mass and connection is None)]
    if derivatives:
        R2 = R * R
        weights.append((R2, True, True))
    sums = _pair_sums(Vh, R, weights, ws) if any(w[1] or w[2] for w in weights) else None
    omega_raw = None
    if want_omega:
        omega_raw = ws.get("omega", (B, N, d, d), float)
        if own_omega:                             # in-space part and U^dagger F^W U together
            _wannier_berry_curvature(V, Abar, R, gap, _diagonal_of_transformed(U, _curl(connection)), pws, omega_raw)
        elif connection is None:
            sums.imag(0, omega_raw, -2.0)
        else:                                     # in-space part + U^dagger F^W U (out-of-space part)
            np.add(sums.imag(0, omega_raw, -2.0), Fdiag, out=omega_raw)
    omega = metric = norm_metric = moment = None
    if "berry_curvature" in wanted:
        omega = result("berry_curvature", (B, N, d, d), lambda o: _copy_into(o, omega_raw))
    if want_metric:
        metric = result("quantum_metric", (B, N, d, d), lambda o: sums.real(0, o))
    if want_norm:
        norm_metric = result("normalized_metric", (B, N, d, d), lambda o: sums.real(1, o, 2.0))
    if want_moment and orbital is None:           # -Im Σ_m Ṽ^a_nm Ṽ^b_mn/(ε_n - ε_m), as a pseudovector
        moment = result("orbital_moment", (B, N, d * (d - 1) // 2),
                        lambda o: _copy_into(o, _axial(sums.imag(2, np.empty((B, N, d, d)), -1.0))))
    elif want_moment:
        moment = result("orbital_moment", (B, N, 3), lambda o: _copy_into(o, _lvts_moment(
            eps, U, Uh, Vtrue, R, omega_raw, orbital, pws)))
    if "energies" in out:
        eps, size = _copy_into(out["energies"], eps), _copy_into(out["degeneracy"], size)

    geo = BandGeometry(k=k, energies=eps, velocity=vel, berry_curvature=omega, quantum_metric=metric,
                       normalized_metric=norm_metric, degeneracy=size, orbital_moment=moment)
    if keep_eigenvectors:
        geo.eigenvectors, geo.velocity_matrix = U, Vh.copy()                 # V is a view of ws
    if not want_mass:
        return geo

    if connection is None:
        twice_Q1 = sums.real(2, ws.get("Q1", (B, N, d, d), float), 2.0)
    else:                                         # ∂_a∂_b ε_n depends on H alone: the true V, not Ṽ
        twice_Q1 = _pair_sums(Vtrue, R, [(None, False, False), (gap, False, True)], ws.child("mass")).real(
            1, ws.get("Q1", (B, N, d, d), float), 2.0)
    if not derivatives:
        Wdiag = _diagonal_in_eigenbasis(U, d2H, ws)                         # <u_n|∂_a∂_b H|u_n>
        geo.inverse_mass = result("inverse_mass", (B, N, d, d), lambda o: np.add(Wdiag, twice_Q1, out=o))
        return geo
    W = to_eigenbasis(U, Uh, d2H.reshape(B, d * d, N, N)).reshape(B, d, d, N, N)
    Wdiag = np.real(np.diagonal(W, axis1=-2, axis2=-1)).transpose(0, 3, 1, 2)
    geo.inverse_mass = result("inverse_mass", (B, N, d, d), lambda o: np.add(Wdiag, twice_Q1, out=o))

    def complex_sum(i):                                                      # S_i as one complex array
        return sums.real(i, np.empty((B, N, d, d))) + 1j * sums.imag(i, np.empty((B, N, d, d)))

    R3 = R2 * R
    # ∂_c V^a = W^{ac} + [V^c ∘ R, V^a] (parallel-transport gauge; intra-group terms drop out of
    # group traces). V^c ∘ R is anti-Hermitian, so V^a (V^c ∘ R) = -((V^c ∘ R) V^a)^dagger and a
    # single product per (a, c) suffices: all of them in one matrix product per k.
    VR = V * R[:, None]
    if connection is None:
        A = (VR.reshape(B, d * N, N) @ V.transpose(0, 2, 1, 3).reshape(B, N, d * N))
        A = A.reshape(B, d, N, d, N).transpose(0, 3, 1, 2, 4)               # A[b, a, c] = (V^c∘R) V^a
        dV = W + A + np.conj(np.swapaxes(A, -1, -2))                        # dV[b, a, c] = ∂_c V^a
    else:
        # Ṽ^W_a = ∂_a H + i[H, A_a]: ∂_c Ṽ^W_a = ∂_a∂_c H + i[∂_c H, A_a] + i[H, ∂_c A_a], in the eigenbasis
        # W^{ac} + i[V^c, Ā_a] + i(ε_n - ε_m)(U^dagger ∂_c A_a U)_nm, plus the rotation [V^c∘R, Ṽ^a]. Both
        # commutators are Y + Y^dagger with Y = (V^c∘R) Ṽ^a + i V^c Ā_a: one product [V∘R | iV] @ [Ṽ; Ā].
        left = np.concatenate([VR, 1j * V], axis=-1)                        # (B, d, N, 2N)
        right = np.concatenate([Vh, Abar], axis=-2)                         # (B, d, 2N, N)
        Y = left.reshape(B, d * N, 2 * N) @ right.transpose(0, 2, 1, 3).reshape(B, 2 * N, d * N)
        Y = Y.reshape(B, d, N, d, N).transpose(0, 3, 1, 2, 4)               # Y[b, a, c]
        dAbar = to_eigenbasis(U, Uh, connection[1].reshape(B, d * d, N, N), pws).reshape(B, d, d, N, N)
        dV = W + Y + np.conj(np.swapaxes(Y, -1, -2)) + 1j * gap[:, None, None] * dAbar
    V = Vh                                        # the pair sums below are those of the physical velocity
    Vv = V[:, None] * vel.transpose(0, 2, 1)[:, :, None, None, :]            # Vv[b, c, e, n, m] = V^e_nm v_m^c

    def dQ(Rp, Qp1, Rp1, p):
        # ∂_c Σ_m R^p V^a_nm V^e_mn = S^{ace} + conj(S^{eca}) - p Σ_m R^{p+1} V^a_nm V^e_mn (v_n^c - v_m^c),
        # S^{ace}_n = Σ_m R^p_nm (∂_c V^a)_nm conj(V^e_nm)   (∂_c V^e is Hermitian).
        S = np.vecdot(V[:, None, None, :], (dV * Rp[:, None, None])[:, :, :, None]).transpose(0, 4, 1, 2, 3)
        T = np.vecdot(Vv[:, None], (V * Rp1[:, None])[:, :, None, None]).transpose(0, 4, 1, 3, 2)
        return (S.transpose(0, 1, 2, 4, 3) + np.conj(S.transpose(0, 1, 4, 2, 3))
                - p * (Qp1[..., None] * vel[:, :, None, None, :] - T))

    dQ2 = dQ(R2, complex_sum(1), R3, 2)
    dQ3 = dQ(R3, complex_sum(3), R2 * R2, 3)
    dOmega = -2.0 * dQ2.imag
    if connection is not None:
        # ∂_c (U^dagger F U)_nn = (U^dagger ∂_c F U)_nn + 2 Re Σ_{m∉G(n)} F̃_nm V^c_mn/(ε_n - ε_m)
        dOmega += _wannier_curvature_derivative(U, connection, Ftilde, Vtrue, R)
    geo.berry_curvature_derivative = _group_average(same, size, dOmega)
    geo.quantum_metric_derivative = _group_average(same, size, dQ2.real)
    geo.normalized_metric_derivative = _group_average(same, size, 2.0 * dQ3.real)
    return geo


#: (a, b) of the pseudovector components X^c = X^{ab}: x, y, z in 3D, z in 2D
_AXIAL_PAIRS = {1: ((), ()), 2: ((0,), (1,)), 3: ((1, 2, 0), (2, 0, 1))}


def _axial(T):
    """Antisymmetric (..., d, d) tensors as pseudovectors (..., d(d-1)/2): (yz, zx, xy) in 3D, (xy,) in 2D."""
    a, b = _AXIAL_PAIRS[T.shape[-1]]
    return T[..., list(a), list(b)]


def _lvts_moment(eps, U, Uh, V, R, omega, orbital, ws):
    """Orbital moment (B, N, 3) with the operators B and C of a Wannier90 run (LVTS12), per band.

    ``V`` the velocity matrix of H alone (no position terms), ``omega`` (B, N, 3, 3) the full per-band
    curvature, ``orbital`` = (B(k), C(k)) in Wannier90's lattice convention. With
    :math:`\\mathcal D_{a,nm} = iV^a_{nm}/(\\varepsilon_m-\\varepsilon_n)` (zero inside groups),
    :math:`\\bar B = U^\\dagger B U` and :math:`\\Lambda^c = U^\\dagger i(C_{ab} - C_{ab}^\\dagger)U`, (a, b, c) cyclic:
    :math:`X^c_n = \\tfrac12(\\varepsilon_n\\Omega^c_n - \\Lambda^c_{nn}) + \\mathrm{Im}\\sum_m(\\mathcal D_{a,nm}\\bar B_{b,mn}
    - \\mathcal D_{b,nm}\\bar B_{a,mn} + \\varepsilon_m\\mathcal D_{a,nm}\\mathcal D_{b,mn})`.
    """
    Bk, Ck = orbital
    D = -1j * V * R[:, None]                                              # i V_nm/(ε_m - ε_n)
    Bbar = to_eigenbasis(U, Uh, Bk, ws)
    DB = np.einsum("kanm,kbmn->knab", D, Bbar)
    eDD = np.einsum("kanm,km,kbmn->knab", D, eps, D, optimize=True)
    a, b = _AXIAL_PAIRS[3]
    Cab = Ck[:, list(a), list(b)]                                         # (B, 3, N, N)
    Lam = _diagonal_of_transformed(U, 1j * (Cab - np.conj(Cab.swapaxes(-1, -2))))     # (B, N, 3)
    inter = _axial((DB - DB.swapaxes(-1, -2) + eDD).imag)
    return 0.5 * (eps[:, :, None] * _axial(omega) - Lam) + inter


def _wannier_curvature(U, Uh, connection, ws):
    """The Wannier-gauge curvature F^W in the eigenbasis: (F̃, diag) with diag (B, N, d, d) (for derivatives).

    :math:`F^W_{ab} = \\partial_a A^W_b - \\partial_b A^W_a - i[A^W_a, A^W_b]` (Hermitian, antisymmetric in
    (a, b), zero when the Wannier space is complete). ``diag[b, n, a, c] = (U^dagger F^W_{ac} U)_nn``;
    ``F̃`` (B, P, N, N), U^dagger F U for the P = d(d-1)/2 pairs a < b (:func:`_pairs`), which the derivatives
    need. Only the pairs a < b are formed; the rest follows from the antisymmetry. Without derivatives the
    Berry curvature takes :func:`_wannier_berry_curvature` instead.
    """
    A = connection[0]
    B, d, N = A.shape[:3]
    ia, ib = _pairs(d)
    AA = np.matmul(A[:, ia], A[:, ib])                                     # [p] = A_a A_b
    F = _curl(connection) - 1j * (AA - np.conj(AA.swapaxes(-1, -2)))
    Ft = to_eigenbasis(U, Uh, F)
    pair_diag = np.real(np.diagonal(Ft, axis1=-2, axis2=-1))                # (B, P, N)
    diag = np.zeros((B, N, d, d))
    diag[:, :, ia, ib] = pair_diag.transpose(0, 2, 1)
    diag[:, :, ib, ia] = -pair_diag.transpose(0, 2, 1)
    return Ft, diag


def _curl(connection):
    """∂_a A_b - ∂_b A_a (B, P, N, N) for the pairs a < b, from ``connection[1]``: dA (B, d, d, N, N)
    (``dA[:, b, a] = ∂_a A_b``) or already that curl (B, P, N, N)
    (``TightBinding.interpolate(connection="curl")``)."""
    dA = connection[1]
    if dA.ndim == 4:
        return dA
    ia, ib = _pairs(dA.shape[1])
    return dA[:, ib, ia] - dA[:, ia, ib]


def _wannier_berry_curvature(V, Abar, R, gap, curl_diag, ws, out):
    """Berry curvature with the position-block terms, without derivatives: ``out`` (B, N, d, d), per band.

    With X = Ṽ R = V R + i Ā (ε_n - ε_m) R (zero inside degenerate groups, R = 1/(ε_n - ε_m) outside),

    .. math::
        \\Omega^{ab}_n = -2\\sum_m P^{ab}_{nm} + \\mathrm{Re}\\,(U^\\dagger(\\partial_a A_b - \\partial_b A_a)U)_{nn},
        \\qquad P^{ab}_{nm} = \\mathrm{Im}\\bigl(X^a_{nm}\\overline{X^b_{nm}}
            - \\bar A^a_{nm}\\overline{\\bar A^b_{nm}}\\bigr)

    (module docstring): the X terms are the in-space part -2 Im Σ_m A^H_a A^H_b, the Ā terms the commutator
    -i[A_a, A_b] of F^W in the eigenbasis, (U^dagger[A_a, A_b]U)_nn = [Ā_a, Ā_b]_nn = 2i Im Σ_m Ā^a_nm
    conj(Ā^b_nm) (U is unitary on the whole Wannier space), so F^W needs no N^3 product beyond the
    rotation of the curl. Ṽ and Ā are Hermitian and R antisymmetric, so X_mn = -conj(X_nm) and P is
    antisymmetric in (n, m), P_nn = 0: P is formed on the N(N-1)/2 pairs n < m only (real arithmetic), and
    the sums Σ_m P_nm = Σ_{m>n} P_nm - Σ_{m<n} P_mn are one real matrix product with the ±1 incidence
    matrix of the pairs. ``V``, ``Abar`` (B, d, N, N) in the eigenbasis; ``curl_diag`` (B, N, P) =
    Re(U^dagger(∂_a A_b - ∂_b A_a)U)_nn for the d(d-1)/2 pairs a < b.
    """
    B, d, N = V.shape[:3]
    ia, ib = _pairs(d)
    upper, incidence = _upper_pairs(N)                                     # flat (Re) indices, (L, N)
    L = len(upper)
    Vf = V.reshape(B, d, N * N).view(np.float64)                           # (B, d, 2N²): Re, Im interleaved
    Af = Abar.reshape(B, d, N * N).view(np.float64)
    Vr, Vi, Ar, Ai = (ws.get(name, (B, d, L), float) for name in ("bcVr", "bcVi", "bcAr", "bcAi"))
    np.take(Vf, 2 * upper, axis=2, out=Vr, mode="clip")
    np.take(Vf, 2 * upper + 1, axis=2, out=Vi, mode="clip")
    np.take(Af, 2 * upper, axis=2, out=Ar, mode="clip")
    np.take(Af, 2 * upper + 1, axis=2, out=Ai, mode="clip")
    Rp = np.take(R.reshape(B, N * N), upper, axis=1, out=ws.get("bcR", (B, L), float), mode="clip")[:, None]
    Gp = np.take(gap.reshape(B, N * N), upper, axis=1, out=ws.get("bcG", (B, L), float), mode="clip")[:, None]
    Gp *= Rp                                                                # (ε_n - ε_m) R: 1 outside groups, else 0
    tmp = ws.get("bcT", (B, d, L), float)
    Xr = np.multiply(Vr, Rp, out=ws.get("bcXr", (B, d, L), float))          # Re X = Re V R - Im Ā (Δ R)
    Xr -= np.multiply(Ai, Gp, out=tmp)
    Xi = np.multiply(Vi, Rp, out=ws.get("bcXi", (B, d, L), float))          # Im X = Im V R + Re Ā (Δ R)
    Xi += np.multiply(Ar, Gp, out=tmp)
    P = ws.get("bcP", (B, len(ia), L), float)
    t = ws.get("bct", (B, L), float)
    for p, (a, b) in enumerate(zip(ia, ib)):
        Pp = P[:, p]
        np.multiply(Xi[:, a], Xr[:, b], out=Pp)                             # Im X^a conj(X^b)
        Pp -= np.multiply(Xr[:, a], Xi[:, b], out=t)
        Pp -= np.multiply(Ai[:, a], Ar[:, b], out=t)                        # - Im Ā^a conj(Ā^b)
        Pp += np.multiply(Ar[:, a], Ai[:, b], out=t)
    sums = np.matmul(P.reshape(B * len(ia), L), incidence,                 # Σ_m P_nm, (B, pairs, N)
                     out=ws.get("bcS", (B * len(ia), N), float)).reshape(B, len(ia), N)
    pair = np.multiply(sums.transpose(0, 2, 1), -2.0, out=ws.get("bcpair", (B, N, len(ia)), float))
    pair += curl_diag
    out[:, :, np.arange(d), np.arange(d)] = 0.0
    out[:, :, ia, ib] = pair
    np.negative(pair, out=pair)
    out[:, :, ib, ia] = pair
    return out


@lru_cache(maxsize=None)
def _pairs(d):
    """Index arrays (a, b) of the d(d-1)/2 pairs a < b."""
    return np.triu_indices(d, 1)


@lru_cache(maxsize=None)
def _upper_pairs(N):
    """The band pairs n < m as flat indices n N + m (L = N(N-1)/2,) and their incidence matrix (L, N):
    +1 at column n, -1 at column m (Σ_m P_nm of an antisymmetric P from its upper triangle)."""
    n, m = np.triu_indices(N, 1)
    incidence = np.zeros((len(n), N))
    incidence[np.arange(len(n)), n] = 1.0
    incidence[np.arange(len(n)), m] = -1.0
    return n * N + m, incidence


def _diagonal_of_transformed(U, X):
    """Re (U^dagger X_i U)_nn for Hermitian X (B, M, N, N): (B, N, M), without the off-diagonal elements.

    One product X_i U per component, then Re Σ_j conj(U_jn) (X_i U)_jn as a real contraction over the
    (Re, Im) pairs (no conjugated copy of U, no complex products whose imaginary part is dropped)."""
    B, M, N = X.shape[:3]
    U = np.ascontiguousarray(U, dtype=np.complex128)
    XU = np.matmul(X.reshape(B, M * N, N), U).reshape(B, M, N, N)          # (B, M, N, N)
    T = np.einsum("bjx,bmjx->bxm", U.view(np.float64), XU.view(np.float64))  # (B, 2N, M): [n Re | n Im] pairs
    return np.add(T[:, 0::2], T[:, 1::2])                                   # Re·Re + Im·Im


def _wannier_curvature_derivative(U, connection, Ft, V, R):
    """∂_c of the group-trace diagonal of U^dagger F^W U: (B, N, d, d, d), last index c.

    ∂_c F^W_{ab} = ∂_c∂_a A_b - ∂_c∂_b A_a - i[∂_c A_a, A_b] - i[A_a, ∂_c A_b]; the eigenvector rotation
    adds 2 Re Σ_{m∉G(n)} F̃_nm V^c_mn R_nm with R_nm = 1/(ε_n - ε_m) (zero inside groups). Formed for the
    pairs a < b only (``Ft`` (B, P, N, N) from :func:`_wannier_curvature`).
    """
    A, dA, d2A = connection
    B, d, N = A.shape[:3]
    ia, ib = _pairs(d)
    P = len(ia)
    # d2A[:, b, a, c] = ∂_c∂_a A_b: (B, P, d, N, N) [p, c]
    dF = d2A[:, ib, ia] - d2A[:, ia, ib]
    X = np.matmul(dA[:, ia], A[:, ib, None])                               # [p, c] = ∂_c A_a A_b
    Y = np.matmul(A[:, ia, None], dA[:, ib])                               # [p, c] = A_a ∂_c A_b
    # -i([∂_c A_a, A_b] + [A_a, ∂_c A_b]) with (∂_c A_a A_b)^dagger = A_b ∂_c A_a
    S = X + Y
    dF -= 1j * (S - np.conj(S.swapaxes(-1, -2)))
    pair = _diagonal_of_transformed(U, dF.reshape(B, P * d, N, N)).reshape(B, N, P, d)
    pair += 2.0 * np.einsum("kpnm,kcmn,knm->knpc", Ft, V, R, optimize=True).real
    out = np.zeros((B, N, d, d, d))
    out[:, :, ia, ib] = pair
    out[:, :, ib, ia] = -pair
    return out


def _copy_into(dst, x):
    np.copyto(dst, x)
    return dst


#: BandGeometry fields that _geometry can write straight into a full-batch result
_DIRECT = ("energies", "velocity", "berry_curvature", "quantum_metric", "normalized_metric", "degeneracy",
           "inverse_mass", "orbital_moment")


def _assemble(k, step, compute) -> BandGeometry:
    """One BandGeometry for all of k from sub-batches ``compute(i, out)`` (rows i:i+step).

    The first sub-batch fixes the fields and shapes; the full-batch arrays are then allocated and the
    later sub-batches write the ``_DIRECT`` fields into them directly (the rest are copied).
    """
    B = len(k)
    first = compute(0, None)
    if B <= step:
        return first
    full = {}
    for f in fields(BandGeometry):
        v = getattr(first, f.name)
        if v is not None and f.name != "k":
            full[f.name] = np.empty((B,) + v.shape[1:], dtype=v.dtype)
            full[f.name][:step] = v
    for i in range(step, B, step):
        sl = slice(i, i + step)
        part = compute(i, {name: full[name][sl] for name in _DIRECT if name in full})
        for name, arr in full.items():
            if name not in _DIRECT:
                arr[sl] = getattr(part, name)
    return BandGeometry(k=k, **{f.name: full.get(f.name) for f in fields(BandGeometry) if f.name != "k"})


def _pair_sums(V, R, weights, ws):
    """Weighted band-pair sums :math:`S^{ac}_{n,i} = \\sum_m X^a_{nm}\\,\\overline{X^c_{nm}}\\,w_{i,nm}`, X = V R.

    Parameters
    ----------
    V : (B, d, N, N) velocity matrices.
    R : (B, N, N) 1/(ε_n - ε_m), zero inside degenerate groups.
    weights : list of ``(w, imag)`` or ``(w, imag, real)``: w None (w = 1, the first entry) or a real (B, N, N)
        array; ``imag`` whether Im S is wanted, ``real`` (default True) whether Re S is. A part not wanted
        may be skipped (reading it is then an error).
    ws : _Workspace holding the storage.

    Returns
    -------
    An object whose ``real(i, out, scale)`` and ``imag(i, out, scale)`` write scale * Re S_i and
    scale * Im S_i, (B, N, d, d), into ``out``; Re S is symmetric and Im S antisymmetric in (a, c).

    Notes
    -----
    Elementwise products over k-last planes (:class:`_PlanePairSums`) cost about d(d+1)/2 N² passes per
    k; small matrix products per (k, n) (:class:`_GramPairSums`) cost a BLAS call per (k, n) but far
    fewer passes. The second wins once d(d+1)/2 N reaches ``GRAM_PAIR_MIN`` (measured crossover).
    """
    B, d, N = V.shape[:3]
    return (_GramPairSums if d * (d + 1) // 2 * N >= GRAM_PAIR_MIN else _PlanePairSums)(V, R, weights, ws)


class _PlanePairSums:
    """Pair sums by elementwise products in "k-last" layout (..., N, N, B).

    The sums over m then run over contiguous length-B rows instead of B N d d separate length-N dot
    products, whose per-call cost dominates for small N. Real and imaginary parts are kept apart (real
    arithmetic only); each of the d(d+1)/2 products X^a conj(X^c) is formed once and serves every weight.
    """

    def __init__(self, V, R, weights, ws):
        B, d, N = V.shape[:3]
        RT = ws.get("RT", (N, N, B), float)
        np.copyto(RT, R.transpose(1, 2, 0))
        VT = ws.get("VT", (d, N, N, B))
        np.copyto(VT, V.transpose(1, 2, 3, 0))
        XrT = np.multiply(VT.real, RT, out=ws.get("XrT", (d, N, N, B), float))
        XiT = np.multiply(VT.imag, RT, out=ws.get("XiT", (d, N, N, B), float))
        weights = [(w[0], w[1], w[2] if len(w) > 2 else True) for w in weights]
        wT = []
        for j, (w, _, _) in enumerate(weights):
            if w is None or w is R:
                wT.append(None if w is None else RT)
            else:
                wT.append(ws.get(f"wT{j}", (N, N, B), float))
                np.copyto(wT[-1], w.transpose(1, 2, 0))
        res = [ws.get(f"re{j}", (d, d, N, B), float) if real else None for j, (_, _, real) in enumerate(weights)]
        ims = [ws.get(f"im{j}", (d, d, N, B), float) if imag else None for j, (_, imag, _) in enumerate(weights)]
        for im in ims:
            if im is not None:
                im[np.arange(d), np.arange(d)] = 0.0
        any_imag = any(imag for _, imag, _ in weights)
        any_real = any(real for _, _, real in weights)
        Pr, Pi, P2, tmp = (ws.get(name, (N, N, B), float) for name in ("Pr", "Pi", "P2", "tmp"))
        for a in range(d):
            for c in range(a, d):
                if any_real:
                    np.multiply(XrT[a], XrT[c], out=Pr)                      # Re X^a conj(X^c): (n, m, k)
                    Pr += np.multiply(XiT[a], XiT[c], out=P2)
                if c != a and any_imag:
                    np.multiply(XiT[a], XrT[c], out=Pi)                      # Im X^a conj(X^c)
                    Pi -= np.multiply(XrT[a], XiT[c], out=P2)
                for w, (_, imag, real), re, im in zip(wT, weights, res, ims):
                    if real:
                        np.sum(Pr if w is None else np.multiply(Pr, w, out=tmp), axis=1, out=re[a, c])
                    if c != a:
                        if real:
                            re[c, a] = re[a, c]
                        if imag:
                            np.sum(Pi if w is None else np.multiply(Pi, w, out=tmp), axis=1, out=im[a, c])
                            np.negative(im[a, c], out=im[c, a])
        self.re = [None if re is None else re.transpose(3, 2, 0, 1) for re in res]   # (B, N, d, d) views
        self.im = [None if im is None else im.transpose(3, 2, 0, 1) for im in ims]

    def real(self, i, out, scale=1.0):
        return np.multiply(self.re[i], scale, out=out)

    def imag(self, i, out, scale=1.0):
        return np.multiply(self.im[i], scale, out=out)


class _GramPairSums:
    """Pair sums as entries of small real Gram matrices, one matrix product per (k, n).

    Reading a complex row as (Re, Im) pairs, the real dot product of X^a w and X^c over the 2N numbers of
    row n is Re S^{ac}, and that of i X^a w and X^c is -Im S^{ac}. The rows X w (and i X w) of every
    weight are built by contiguous complex products, in chunks of about GRAM_CHUNK numbers that stay in
    cache, and all go into one product per (k, n) against the d rows of X (a batched gemm instead of
    d(d+1)/2 elementwise passes per weight). The results are symmetrized, (G + G^T)/2 for Re S and
    (G^T - G)/2 for Im S, to keep the exact (anti)symmetry in (a, c); sums over m differ from a
    sequential sum only by rounding.
    """

    def __init__(self, V, R, weights, ws):
        B, d, N = V.shape[:3]
        kinds, self.kind = [], {}                          # row blocks (w, imag); block 0 is X itself
        for i, (w, imag, *real) in enumerate(weights):
            real = (real or [True])[0] or i == 0         # block 0 (X) is the right-hand side of every product
            for part in (False, True):
                if (imag, real)[not part]:
                    self.kind[i, part] = len(kinds)
                    kinds.append((w, part))
        nk = len(kinds)
        Rc = ws.get("Rc", (B, N, N))                                         # R as complex: X = V R
        np.copyto(Rc, R)
        factors = []                                                         # row block j = X * factor
        for j, (w, imag) in enumerate(kinds[1:], 1):
            if w is None:
                factors.append(1j)
            elif w is R and not imag:
                factors.append(Rc)
            else:
                factors.append(ws.get(f"factor{j}", (B, N, N)))
                np.multiply(w, 1j, out=factors[-1]) if imag else np.copyto(factors[-1], w)
        G = ws.get("G", (B, N, nk * d, d), float)
        step = max(1, GRAM_CHUNK // (nk * d * N * N))                         # rows of a chunk stay in cache
        for i in range(0, B, step):
            j = min(B, i + step)
            rows = ws.get("rows", (j - i, nk, d, N, N))
            X = np.multiply(V[i:j], Rc[i:j, None], out=rows[:, 0])
            for block, f in enumerate(factors, 1):
                np.multiply(X, f if isinstance(f, complex) else f[i:j, None], out=rows[:, block])
            rf = rows.view(np.float64).reshape(j - i, nk * d, N, 2 * N)      # (Re, Im) pairs along m
            np.matmul(rf.transpose(0, 2, 1, 3), rf[:, :d].transpose(0, 2, 3, 1), out=G[i:j])
        self.G = G.reshape(B, N, nk, d, d)                                    # [k, n, row block, a, c]

    def real(self, i, out, scale=1.0):
        G = self.G[:, :, self.kind[i, False]]
        np.add(G, G.swapaxes(-1, -2), out=out)
        if scale != 2.0:
            out *= 0.5 * scale
        return out

    def imag(self, i, out, scale=1.0):
        G = self.G[:, :, self.kind[i, True]]
        if scale == -2.0:
            return np.subtract(G, G.swapaxes(-1, -2), out=out)
        np.subtract(G.swapaxes(-1, -2), G, out=out)
        if scale != 2.0:
            out *= 0.5 * scale
        return out


def _diagonal_in_eigenbasis(U, X, ws):
    """Diagonal of symmetric-indexed Hermitian matrices in the eigenbasis, Re <u_n|X^{ab}|u_n> (B, N, d, d).

    X (B, d, d, N, N) with X^{ab} = X^{ba} (second derivatives). One product X^{ab} U per component and
    k, then Σ_i Re(conj(U_in) (X U)_in) as a real contraction over (Re, Im) pairs. From N = 8 only the
    d(d+1)/2 distinct components are transformed (d products per k) and mirrored; below, where the cost
    per product call dominates, all d² in one product.
    """
    B, d, _, N, _ = X.shape
    U = np.ascontiguousarray(U, dtype=np.complex128)                         # real or single-precision input too
    Uf = U.view(np.float64)                                                  # (B, N, 2N): [i, (n, Re/Im)]

    def diagonal(Xc):                                                        # (B, nc, N, N) -> (B, nc, N)
        nc = Xc.shape[1]
        Y = np.matmul(Xc.reshape(B, nc * N, N), U, out=ws.get("Y2", (B, nc * N, N)))
        T = np.einsum("bix,bcix->bcx", Uf, Y.view(np.float64).reshape(B, nc, N, 2 * N))
        return np.add(T[:, :, 0::2], T[:, :, 1::2])                          # Re·Re + Im·Im

    if N < 8:
        return diagonal(X.reshape(B, d * d, N, N)).reshape(B, d, d, N).transpose(0, 3, 1, 2)
    diag = np.empty((B, N, d, d))
    for a in range(d):
        Ta = diagonal(X[:, a, a:]).transpose(0, 2, 1)                        # (B, N, d - a): b = a..d-1
        diag[:, :, a, a:] = Ta
        diag[:, :, a + 1:, a] = Ta[:, :, 1:]
    return diag


def to_eigenbasis(U, Uh, X, ws=None):
    """Matrices X (B, M, N, N) in the eigenbasis, U^dagger X U (B, M, N, N), given Uh = U^dagger.

    The M components are stacked along rows for one product (M N x N) @ (N x N) per k. Then, for N > 8,
    one product U^dagger (X U) per component; for small N, where the cost per product call dominates,
    a single product U^dagger [X^1 U, ..., X^M U] per k on a transposed copy (the result is then a view
    of (B, N, M, N) storage). With a workspace ``ws`` the result is a view of its scratch memory
    (overwritten by the next call).
    """
    B, M, N, _ = X.shape
    get = (lambda name, shape: None) if ws is None else ws.get
    Y = np.matmul(X.reshape(B, M * N, N), U, out=get("te1", (B, M * N, N)))
    if N > 8:
        return np.matmul(Uh[:, None], Y.reshape(B, M, N, N), out=get("te2", (B, M, N, N)))
    Yt = np.empty((B, N, M * N), dtype=Y.dtype) if ws is None else ws.get("te3", (B, N, M * N), Y.dtype)
    np.copyto(Yt.reshape(B, N, M, N), Y.reshape(B, M, N, N).transpose(0, 2, 1, 3))
    return np.matmul(Uh, Yt, out=get("te4", (B, N, M * N))).reshape(B, N, M, N).transpose(0, 2, 1, 3)


def band_geometry(model: Model, k, *, derivatives: bool = False, inverse_mass: bool = True,
                  degeneracy_tol: float = DEFAULT_DEGENERACY_TOL,
                  keep_eigenvectors: bool = False, orbital=None, quantities=None) -> BandGeometry:
    """Band energies, velocities, inverse mass, Berry curvature, quantum metric, normalized metric, orbital moment.

    One eigendecomposition per k point serves every quantity. See the module docstring for
    the formulas, units and the treatment of degenerate bands. A model with a position matrix
    (``TightBinding(..., position_matrix=...)``, e.g. from Wannier90) gets the position-block terms
    (full Wannier interpolation, module docstring); ``model.tight_binding_approximation()`` is the same
    model with a diagonal position operator.

    Parameters
    ----------
    model : Model
    k : (B, d) or (d,) Cartesian wave vectors, 1/Å (``model.k_from_reduced`` converts).
    derivatives : bool
        Also return ∂_c Ω, ∂_c g and ∂_c G (analytic, from ∂²H).
    inverse_mass : bool
        Compute ∂_a∂_b ε_n (needs ∂²H; implied by ``derivatives``).
    degeneracy_tol : float
        Bands closer than this (eV, default 1e-3) are treated as one degenerate group.
    keep_eigenvectors : bool
        Keep eigenvectors and velocity matrices.
    orbital : OrbitalOperators, optional
        B(R) and C(R) of the Wannier90 run the model comes from
        (:func:`qkinetics.models.wannier90_orbital.read_wannier90_orbital`, needs ``seedname.uHu``): the orbital
        moment then includes the part leaving the Wannier space (:func:`geometry_from_hamiltonian`, Notes).
        The model must carry its position matrix; it is evaluated in Wannier90's lattice convention.
    quantities : iterable of str, optional
        Compute only these of ``"berry_curvature"``, ``"quantum_metric"``, ``"normalized_metric"``,
        ``"orbital_moment"`` (the others are None in the result): an integral that needs the Berry curvature
        alone skips the sums the others take. None (default): all. Energies, velocities and degeneracies
        always come; ``derivatives=True`` computes all.

    Returns
    -------
    BandGeometry

    Examples
    --------
    >>> import qkinetics as qk
    >>> m = qk.zoo.massive_dirac(v=1.0, mass=0.5)
    >>> geo = qk.band_geometry(m, [[0.0, 0.0]])
    >>> geo.berry_curvature[0, 0, 0, 1]   # lower band at k = 0: v²/(2 m²) = 2 Å²
    2.0
    """
    k = model.check_k(k)
    wanted = _check_quantities(quantities)
    if orbital is not None:
        if getattr(model, "position_matrix", None) is None or model.dim != 3:
            raise ModelError(
                "orbital= (B and C of a Wannier90 run) needs the 3D model of the same run, with its position matrix "
                "(qk.read_wannier90_run).")
        model = model.with_convention("lattice")          # B(k), C(k) are Fourier sums in that convention
    order = 2 if (derivatives or inverse_mass) else 1
    # Cache-sized sub-batches (see SUBBATCH_ELEMENTS) sharing one scratch workspace: faster and bounded.
    step = _subbatch_size(model.dim, model.norb, derivatives)
    ws = _Workspace()
    positions = getattr(model, "position_matrix", None) is not None
    # one Fourier product for everything (TightBinding.interpolate); without a position matrix only where it
    # gives what model.hamiltonian does (a subclass may override the Hamiltonian)
    fused = hasattr(model, "interpolate") and (positions or _plain_tight_binding(model))

    def compute(i, out):
        kb = k[i:i + step]
        if fused:                                 # one Fourier product for H, its derivatives and the connection
            # without the orbital-position phases unless the eigenvectors are kept: the same eigenbasis matrices
            (H, dH, *d2H), conn = model.interpolate(
                kb, order, connection=(2 if derivatives else "curl") if positions else None,
                orbital_phases=keep_eigenvectors)
        else:
            H, dH, *d2H = model.hamiltonian(kb, order=order)
            conn = model.wannier_connection(kb, order=2 if derivatives else 1) if positions else None
        H, dH, d2H = _check_inputs(H, dH, d2H[0] if d2H else None, derivatives, degeneracy_tol)
        orb = None if orbital is None else orbital.at(kb)
        return _geometry(H, dH, d2H, kb, derivatives, degeneracy_tol, keep_eigenvectors, ws, out, conn, orb, wanted)

    return _assemble(k, step, compute)


def _plain_tight_binding(model) -> bool:
    """Whether the model's Hamiltonian is TightBinding's own Fourier sum (no subclass override)."""
    from .models.tight_binding import TightBinding

    cls = type(model)
    return cls.hamiltonian is TightBinding.hamiltonian and cls._hamiltonian is TightBinding._hamiltonian


def iter_band_geometry(model: Model, k_chunks, **options):
    """Band geometry chunk by chunk, for grids too large to hold at once.

    ``k_chunks`` is a single (B, d) array, split into chunks of ``options.pop("chunk_size", 20000)``
    points, or an iterable of (B_i, d) arrays or of ``(k, w)`` pairs such as
    :meth:`qkinetics.integrate.KGrid.chunks` yields. Yields :class:`BandGeometry` per chunk;
    memory is bounded by the chunk size.
    """
    chunk_size = options.pop("chunk_size", 20000)
    if isinstance(k_chunks, (list, tuple)) and k_chunks and np.ndim(k_chunks[0]) == 1:
        k_chunks = np.asarray(k_chunks, dtype=float)      # a nested list of k points, not of chunks
    if isinstance(k_chunks, np.ndarray):
        k_all = k_chunks
        k_chunks = (k_all[i:i + chunk_size] for i in range(0, len(k_all), chunk_size))
    for kc in k_chunks:
        if isinstance(kc, tuple):                           # (k, w) from KGrid.chunks
            kc = kc[0]
        yield band_geometry(model, kc, **options)
