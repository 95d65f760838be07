"""Magnetic point groups of band models: found from the Hamiltonian, checked, and used to symmetrize responses.

An operation :math:`g = (R, \\theta)` is an orthogonal matrix R (Cartesian, acting on vectors) alone
(:math:`\\theta = 0`, unitary) or combined with time reversal T (:math:`\\theta = 1`, antiunitary:
primed in the names, e.g. ``m'[100]``). On Bloch states it maps k to :math:`s_g R k` with
:math:`s_g = (-1)^\\theta`. A model has the symmetry g when, at every k and for every band n,

.. math::
    \\varepsilon_n(s_g R k) = \\varepsilon_n(k), \\qquad
    Q_n(s_g R k) = p_Q^{\\theta}\\, R^{\\otimes r} Q_n(k)

for every band-geometry tensor Q of rank r: velocity (:math:`p = -1`), inverse mass (+1),
Berry curvature :math:`\\Omega^{ab}` (-1), quantum metric and normalized metric (+1), where
:math:`p_Q` is the sign Q takes under time reversal. :func:`find_symmetry` tests every
operation of the lattice's point group (holohedry, from spglib), alone and with T, at random k
points and reports the violation of each: a model with a slightly broken symmetry (an imperfect
Wannier fit) keeps the operation out of its group, with the size of the breaking in the report.

Response tensors are polar tensors in their Cartesian indices (current, fields, field wave
vector). A band integral :math:`I = \\sum_k w_k X(k)` of a mechanism whose integrand has
time-reversal parity p (:func:`time_reversal_parity`) obeys :math:`I = D(g) I` for every g of
the group, :math:`D(g) = p^{\\theta} R^{\\otimes r}` (times :math:`\\det R` for an axial tensor), so

.. math::
    I = \\frac{1}{|G|}\\sum_{g\\in G} D(g)\\, \\sum_{\\text{orbits } O} |O|\\, X(k_O),

the sum over one representative :math:`k_O` per orbit of the k-grid
(:class:`~qkinetics.integrate.grids.IrreducibleGrid`) weighted by the orbit size. Components the
group forbids have zero rows in the projector :math:`\\frac{1}{|G|}\\sum_g D(g)` and come out
exactly zero.
"""

from __future__ import annotations

import re
import warnings
from dataclasses import dataclass

import numpy as np

from .geometry import DEFAULT_DEGENERACY_TOL, band_geometry
from .models.base import Model, ModelError

#: Projector entries below this are set to exactly zero (they are sums of products of cosines of
#: crystallographic angles, multiples of 1/4 or sqrt(3)/4 divided by |G|, else round-off).
PROJECTOR_ZERO = 1e-12

#: Band-geometry tensors checked by :func:`find_symmetry`: (attribute, sign under time reversal, and the
#: powers (energy, length) of its natural scale E^a L^b, with E the band width and L the longest lattice vector).
CHECKED_QUANTITIES = (("velocity", -1, (1, 1)), ("inverse_mass", +1, (1, 2)), ("berry_curvature", -1, (0, 2)),
                      ("quantum_metric", +1, (0, 2)), ("normalized_metric", +1, (-1, 2)))


# ------------------------------------------------------------------------------------------ operations

def _axis_label(v) -> str:
    """A direction as small integers when it is one (``[1,1,0]``), else 3 decimals."""
    v = np.asarray(v, dtype=float)
    v = v / np.max(np.abs(v))
    v = v if v[np.argmax(np.abs(v) > 1e-8)] > 0 else -v
    for scale in (1, 2, 3, 4, 6):
        w = v * scale
        if np.allclose(w, np.round(w), atol=1e-6):
            return "[" + ",".join(str(int(x)) for x in np.round(w)) + "]"
    v = v / np.min(np.abs(v[np.abs(v) > 1e-8]))
    root3 = v / np.sqrt(3)                                               # hexagonal directions: [1,-sqrt3]
    if all(np.isclose(x, round(x), atol=1e-6) or np.isclose(y, round(y), atol=1e-6) for x, y in zip(v, root3)):
        parts = []
        for x, y in zip(v, root3):
            if np.isclose(x, round(x), atol=1e-6):
                parts.append(str(int(round(x))))
            else:
                k = int(round(y))
                parts.append({1: "sqrt3", -1: "-sqrt3"}.get(k, f"{k}sqrt3"))
        return "[" + ",".join(parts) + "]"
    return "[" + ",".join(f"{x:.6g}" for x in v) + "]"


def _operation_name(R, antiunitary: bool) -> str:
    """Hermann-Mauguin-like symbol: ``1``, ``-1``, ``n[axis]``, ``-n[axis]``, ``m[normal]``; ``'`` for T."""
    d = len(R)
    det = round(float(np.linalg.det(R)))
    prime = "'" if antiunitary else ""
    if d == 2:
        if det > 0:
            angle = np.arctan2(R[1, 0], R[0, 0])
            n = 1 if abs(angle) < 1e-8 else int(round(2 * np.pi / abs(angle)))
            sense = "" if n <= 2 or angle > 0 else "^-1"
            return f"{n}{prime}{sense}"
        w, v = np.linalg.eigh((R + R.T) / 2)
        return f"m{prime}{_axis_label(v[:, np.argmin(w)])}"
    P = det * R                                                          # proper part
    cos = np.clip((np.trace(P) - 1) / 2, -1, 1)
    angle = np.arccos(cos)
    if angle < 1e-8:
        return ("1" if det > 0 else "-1") + prime
    n = int(round(2 * np.pi / angle))
    w, v = np.linalg.eig(P)
    axis = np.real(v[:, np.argmin(np.abs(w - 1))])
    # sense of rotation about the labelled axis (the label's sign convention picks the axis direction)
    lab = _axis_label(axis)
    a = np.array([float(x) for x in lab[1:-1].split(",")])
    anti = np.array([[0, -a[2], a[1]], [a[2], 0, -a[0]], [-a[1], a[0], 0]])
    sense = "^-1" if n > 2 and np.trace(anti.T @ P) < 0 else ""
    if det < 0 and n == 2:
        return f"m{prime}{lab}"
    return f"{'-' if det < 0 else ''}{n}{prime}{sense}{lab}"


class Operation:
    """A point-group operation, unitary or combined with time reversal.

    Parameters
    ----------
    rotation : (d, d) array_like
        Orthogonal Cartesian matrix R acting on vectors (k, velocities, fields).
    antiunitary : bool
        Combined with time reversal T.
    name : str, optional
        Symbol, e.g. ``"2[0,0,1]"``, ``"m'[1,0,0]"``, ``"-1'"`` (= PT), ``"1'"`` (= T); made from R when
        not given.
    """

    __slots__ = ("rotation", "antiunitary", "_name", "_key")

    def __init__(self, rotation, antiunitary, name="", *, _checked=False):
        R = np.asarray(rotation, dtype=float)
        if not _checked:
            if R.ndim != 2 or R.shape[0] != R.shape[1] or R.shape[0] not in (1, 2, 3):
                raise ModelError(f"an operation's rotation must be a d x d matrix (d = 1, 2, 3); got shape {R.shape}.")
            if not np.allclose(R @ R.T, np.eye(len(R)), atol=1e-8):
                raise ModelError("an operation's rotation must be orthogonal (Cartesian coordinates).")
        self.rotation = R
        self.antiunitary = bool(antiunitary)
        self._name = name
        self._key = (tuple(np.round(R, 6).ravel() + 0.0), self.antiunitary)

    @property
    def name(self) -> str:
        if not self._name:
            R = self.rotation
            self._name = (_operation_name(R, self.antiunitary) if len(R) > 1 else
                          ("1" if R[0, 0] > 0 else "-1") + ("'" if self.antiunitary else ""))
        return self._name

    @property
    def dim(self) -> int:
        return len(self.rotation)

    @property
    def k_action(self) -> np.ndarray:
        """The Cartesian matrix taking k to its image: R, or -R with time reversal."""
        return -self.rotation if self.antiunitary else self.rotation

    def tensor_matrix(self, rank: int, parity: int = 1, axial: bool = False) -> np.ndarray:
        """D(g) acting on a flattened rank-``rank`` tensor: ``parity``^θ (det R)^axial R ⊗ ... ⊗ R."""
        D = np.ones((1, 1))
        for _ in range(rank):
            D = np.kron(D, self.rotation)
        sign = (parity if self.antiunitary else 1) * (round(np.linalg.det(self.rotation)) if axial else 1)
        return sign * D

    def __mul__(self, other: "Operation") -> "Operation":
        return Operation(self.rotation @ other.rotation, self.antiunitary != other.antiunitary, _checked=True)

    def key(self) -> tuple:
        return self._key

    def __eq__(self, other):
        return isinstance(other, Operation) and self.key() == other.key()

    def __hash__(self):
        return hash(self.key())

    def __repr__(self):
        return f"Operation({self.name})"


def _component(text: str, symbol: str) -> float:
    """An axis component: a number, or a multiple of sqrt3 (``sqrt3``, ``-2sqrt3``)."""
    m = re.fullmatch(r"([+-]?\d*\.?\d*)\*?(sqrt3|√3)", text)
    try:
        if m:
            k = m.group(1)
            return (float(k) if k not in ("", "+", "-") else float(k + "1")) * np.sqrt(3)
        return float(text)
    except ValueError:
        raise ModelError(f"operation {symbol!r}: cannot read the axis component {text!r}.") from None


_SYMBOL = re.compile(r"^\s*(-?)(\d|m)('?)(\^-1)?\s*(?:\[([^\]]*)\])?\s*$")


def operation(symbol: str, dim: int = 3) -> Operation:
    """An operation from its symbol: ``"1"``, ``"-1"``, ``"n[axis]"``, ``"-n[axis]"``, ``"m[normal]"``,
    with ``'`` after the n or m for time reversal (``"1'"`` is T, ``"-1'"`` is PT, ``"m'[1,0,0]"``).

    ``axis`` is a Cartesian direction, comma or space separated (default ``[0,0,1]``); a rotation
    by 2 pi / n is anticlockwise about it (``^-1`` for the inverse). In 2D, ``n`` rotates about z
    and ``m[a,b]`` is the mirror with normal (a, b).
    """
    m = _SYMBOL.match(str(symbol))
    if not m:
        raise ModelError(f"cannot read the operation {symbol!r}: write e.g. '3[0,0,1]', 'm[1,0,0]', \"2'[0,0,1]\", "
                         "'-1' (inversion), \"1'\" (time reversal).")
    minus, n, prime, inverse, axis = m.groups()
    if dim not in (2, 3):
        raise ModelError(f"operations by symbol need dim 2 or 3; got {dim}.")
    if axis:
        a = np.array([_component(x, symbol) for x in re.split(r"[,\s]+", axis.strip())])
    else:
        a = np.eye(dim)[-1] if dim == 3 else np.array([1.0, 0.0])
    if len(a) != dim or not np.any(a):
        raise ModelError(f"operation {symbol!r}: the axis needs {dim} components, not all zero.")
    a = a / np.linalg.norm(a)
    if n == "m":
        if minus:
            raise ModelError(f"operation {symbol!r}: write a mirror as m[normal].")
        R = np.eye(dim) - 2 * np.outer(a, a)
    else:
        n = int(n)
        if n not in (1, 2, 3, 4, 6):
            raise ModelError(f"operation {symbol!r}: crystallographic rotations are 1, 2, 3, 4, 6-fold.")
        th = 2 * np.pi / n * (-1 if inverse else 1)
        if dim == 2:
            R = np.array([[np.cos(th), -np.sin(th)], [np.sin(th), np.cos(th)]])
        else:
            K = np.array([[0, -a[2], a[1]], [a[2], 0, -a[0]], [-a[1], a[0], 0]])
            R = np.eye(3) + np.sin(th) * K + (1 - np.cos(th)) * K @ K
        if minus:
            R = -R
    R[np.abs(R) < 1e-15] = 0.0
    return Operation(R, bool(prime))


# --------------------------------------------------------------------------------------- the group

class MagneticPointGroup:
    """A finite group of :class:`Operation` (closed under products; the identity included).

    Parameters
    ----------
    operations : iterable of Operation or symbols
        Generators or elements; the group they generate is formed.
    dim : int
        Spatial dimension (for symbols).
    """

    MAX_ORDER = 96

    def __init__(self, operations, dim: int = 3):
        ops = [op if isinstance(op, Operation) else operation(op, dim) for op in operations]
        if not ops:
            ops = [Operation(np.eye(dim), False)]
        dims = {op.dim for op in ops}
        if len(dims) != 1:
            raise ModelError(f"operations of different dimensions {sorted(dims)} cannot form one group.")
        self.dim = dims.pop()
        elements = {Operation(np.eye(self.dim), False): None}
        for op in ops:
            elements.setdefault(op, None)
        frontier = list(elements)
        while frontier:                                          # close under products
            new = []
            for a in frontier:
                for b in ops:
                    c = a * b
                    if c not in elements:
                        elements[c] = None
                        new.append(c)
            if len(elements) > self.MAX_ORDER:
                raise ModelError("these operations generate more than 96 elements: not a crystallographic "
                                 "magnetic point group (check the axes and angles).")
            frontier = new
        identity = Operation(np.eye(self.dim), False)
        self.operations = tuple([identity] + sorted((e for e in elements if e != identity),
                                                    key=lambda e: (e.antiunitary, e.name)))

    def __len__(self) -> int:
        return len(self.operations)

    def __iter__(self):
        return iter(self.operations)

    @property
    def names(self) -> list:
        return [op.name for op in self.operations]

    @property
    def has_time_reversal(self) -> bool:
        """True when T itself (``1'``) is an element."""
        return any(op.antiunitary and np.allclose(op.rotation, np.eye(self.dim)) for op in self.operations)

    def k_actions(self) -> list:
        """Distinct Cartesian matrices k -> s_g R k of the group's operations."""
        seen = {}
        for op in self.operations:
            seen.setdefault(tuple(np.round(op.k_action, 6).ravel() + 0.0), op.k_action)
        return list(seen.values())

    def projector(self, rank: int, parity: int = 1, axial: bool = False) -> np.ndarray:
        """(1/|G|) sum_g D(g) on flattened rank-``rank`` tensors, entries below ``PROJECTOR_ZERO`` exactly 0."""
        return _projector(self, rank, int(parity), bool(axial))

    def symmetrize(self, values, rank: int, parity: int = 1, axial: bool = False) -> np.ndarray:
        """Project ``values`` (..., d, ..., d) with ``rank`` trailing tensor indices onto the invariant subspace."""
        values = np.asarray(values)
        d = self.dim
        if values.shape[values.ndim - rank:] != (d,) * rank:
            raise ModelError(f"tensor with trailing shape {values.shape[values.ndim - rank:]} is not of rank {rank} "
                             f"in {d} dimensions.")
        P = self.projector(rank, parity, axial)
        flat = values.reshape(values.shape[:values.ndim - rank] + (d**rank,))
        return (flat @ P.T).reshape(values.shape)

    def forbidden(self, rank: int, parity: int = 1, axial: bool = False) -> np.ndarray:
        """Boolean mask (d,)*rank of the components the group forces to zero."""
        P = self.projector(rank, parity, axial)
        return np.all(P == 0, axis=1).reshape((self.dim,) * rank)

    def __repr__(self):
        return f"MagneticPointGroup({', '.join(self.names)})"


def _projector(group, rank, parity, axial):
    key = (id(group), rank, parity, axial)
    cache = group.__dict__.setdefault("_projectors", {})
    if key not in cache:
        P = sum(op.tensor_matrix(rank, parity, axial) for op in group.operations) / len(group)
        P[np.abs(P) < PROJECTOR_ZERO] = 0.0
        cache[key] = P
    return cache[key]


def time_reversal_parity(mechanism) -> int:
    """Sign p with X(-k) = p X(k) for the band integrand X of ``mechanism`` in a time-reversal-symmetric crystal.

    A mechanism may declare it (attribute ``time_reversal_parity``); otherwise it follows from the
    power of tau: integrands are built of energies and metrics (T-even), velocities, k-derivatives
    and Berry curvatures (T-odd), and the dissipative responses (odd powers of tau: Drude, Berry
    curvature dipole) are T-even while the reactive ones (even powers: anomalous Hall, nonlinear
    Drude, the intrinsic second-order terms) are T-odd, so :math:`p = (-1)^{n_\\tau + 1}`
    (checked for every registered mechanism in tests/test_symmetry.py).
    """
    declared = getattr(mechanism, "time_reversal_parity", None)
    if declared is not None:
        return int(declared)
    return -1 if mechanism.tau_power % 2 == 0 else 1


# -------------------------------------------------------------------------- lattice and model checks

def lattice_operations(model: Model, symprec: float = 1e-5) -> list:
    """Point group (holohedry) of the model's Bravais lattice, as unitary :class:`Operation` objects.

    From spglib (one site per cell); a 2D lattice is embedded in 3D with a long perpendicular axis
    and only the in-plane parts are kept. Rotations are made exactly orthogonal (nearest orthogonal
    matrix) so that they act on Cartesian tensors without distortion.
    """
    import spglib

    if not model.periodic:
        raise ModelError(f"{model.name} is a continuum model: symmetry reduction needs a lattice model.")
    d = model.dim
    A = np.asarray(model.lattice, dtype=float)
    if d == 1:
        return [Operation(np.eye(1), False), Operation(-np.eye(1), False)]
    if d == 2:
        L = np.zeros((3, 3))
        L[:2, :2] = A
        L[2, 2] = 10 * np.max(np.linalg.norm(A, axis=1))
    else:
        L = A
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)           # spglib 2.x: old-style error handling
        try:
            sym = spglib.get_symmetry((L, [[0.0, 0.0, 0.0]], [1]), symprec=symprec)
        except Exception:                                              # spglib's new-style errors
            sym = None
    if sym is None:
        raise ModelError(f"spglib could not find the lattice symmetry of {model.name}.")
    ops = {}
    for W in sym["rotations"]:
        if d == 2:
            if W[2, 2] != 1 or np.any(W[2, :2]) or np.any(W[:2, 2]):
                continue
            W = W[:2, :2]
        R = A.T @ W @ np.linalg.inv(A.T)                                 # Cartesian action on vectors
        U, _, Vt = np.linalg.svd(R)
        R = U @ Vt                                                      # nearest orthogonal matrix
        R[np.abs(R) < 1e-12] = 0.0
        op = Operation(R, False)
        ops.setdefault(op, op)
    return list(ops)


def reduced_k_action(model: Model, op: Operation) -> np.ndarray:
    """Integer matrix M with kappa' = kappa M for reduced k coordinates (rows), k -> s_g R k."""
    B = model.reciprocal
    M = B @ op.k_action.T @ np.linalg.inv(B)
    Mi = np.round(M)
    if not np.allclose(M, Mi, atol=1e-6):
        raise ModelError(f"operation {op.name} does not map the reciprocal lattice of {model.name} onto itself: "
                         "it is not a symmetry of the lattice.")
    return Mi.astype(int)


@dataclass
class OperationCheck:
    """How well a model obeys one operation, at random k points.

    Attributes
    ----------
    operation : Operation
    energy_violation : float
        max |ε_n(g k) - ε_n(k)| (eV).
    geometry_violation : float
        max over the checked tensors Q of max |Q(g k) - D(g) Q(k)| / max |Q| (relative; the
        denominator is at least the natural scale of Q, e.g. L^2 for the Berry curvature with L the
        longest lattice vector, so that a tensor that vanishes by symmetry is not measured by its round-off).
    worst_quantity : str
    accepted : bool
        Both violations within the tolerance (the energy one relative to the band width).
    """

    operation: Operation
    energy_violation: float
    geometry_violation: float
    worst_quantity: str
    accepted: bool


@dataclass
class SymmetryReport:
    """Result of a symmetry search or check.

    Attributes
    ----------
    group : MagneticPointGroup
        The accepted operations (a group).
    checks : list of OperationCheck
        Every candidate with its violation.
    tol : float
    energy_scale : float
        Band width over the sample (eV) that energy violations are compared with.
    """

    group: MagneticPointGroup
    checks: list
    tol: float
    energy_scale: float

    @property
    def rejected(self) -> list:
        """Candidates the model breaks, the nearly-obeyed ones first."""
        return sorted((c for c in self.checks if not c.accepted),
                      key=lambda c: max(c.energy_violation / self.energy_scale, c.geometry_violation))

    def violation(self, name: str) -> OperationCheck:
        """The check of the operation called ``name``."""
        for c in self.checks:
            if c.operation.name == name:
                return c
        raise KeyError(f"no operation {name!r} among {[c.operation.name for c in self.checks]}")

    def summary(self) -> str:
        lines = [f"magnetic point group: {len(self.group)} operations: {', '.join(self.group.names)}"]
        lines.append(f"tolerance {self.tol:g} (energies relative to the band width {self.energy_scale:.4g} eV)")
        for c in self.checks:
            lines.append(f"  {c.operation.name:<16} {'kept    ' if c.accepted else 'REJECTED'} "
                         f"energy {c.energy_violation:.2e} eV, geometry {c.geometry_violation:.2e} "
                         f"(worst: {c.worst_quantity})")
        return "\n".join(lines)

    def __str__(self):
        return self.summary()


def check_operations(model: Model, operations, *, tol: float = 1e-6, npoints: int = 24, seed: int = 0,
                     degeneracy_tol: float = DEFAULT_DEGENERACY_TOL) -> tuple:
    """Check each operation at ``npoints`` random k points; returns (list of OperationCheck, energy scale).

    Energies are compared band by band (ascending); tensors after averaging over degenerate bands
    (as :func:`qkinetics.band_geometry` returns them), which makes them independent of the gauge.
    """
    operations = list(operations)
    rng = np.random.default_rng(seed)
    kappa = rng.random((npoints, model.dim))
    B = model.reciprocal
    k0 = kappa @ B
    geo0 = band_geometry(model, k0, inverse_mass=True, degeneracy_tol=degeneracy_tol)
    scale = float(np.ptp(geo0.energies)) or 1.0
    length = float(np.max(np.linalg.norm(model.lattice, axis=1)))
    images = np.concatenate([(kappa @ reduced_k_action(model, op)) @ B for op in operations])
    geo1 = band_geometry(model, images, inverse_mass=True, degeneracy_tol=degeneracy_tol)
    checks = []
    for i, op in enumerate(operations):
        sl = slice(i * npoints, (i + 1) * npoints)
        e_viol = float(np.max(np.abs(geo1.energies[sl] - geo0.energies)))
        viol = {}
        R = op.rotation
        for attr, parity, (pe, pl) in CHECKED_QUANTITIES:
            Q0, Q1 = getattr(geo0, attr), getattr(geo1, attr)[sl]
            rank = Q0.ndim - 2
            sign = parity if op.antiunitary else 1
            Q0t = Q0
            for axis in range(rank):                                     # R acting on each index
                Q0t = np.moveaxis(np.tensordot(Q0t, R, axes=([2 + axis], [1])), -1, 2 + axis)
            # relative to the largest value, or to the natural scale where the tensor vanishes (a Berry
            # curvature zero by symmetry is round-off that must not count as a violation)
            size = max(float(np.max(np.abs(Q0))), scale**pe * length**pl)
            viol[attr] = float(np.max(np.abs(Q1 - sign * Q0t))) / size
        worst = max(viol, key=viol.get)
        g_viol = viol[worst]
        checks.append(OperationCheck(op, e_viol, g_viol, worst, e_viol <= tol * scale and g_viol <= tol))
    return checks, scale


def find_symmetry(model: Model, *, tol: float = 1e-6, npoints: int = 24, seed: int = 0,
                  symprec: float = 1e-5) -> SymmetryReport:
    """The magnetic point group of ``model``, found from its Hamiltonian.

    Candidates: every operation of the lattice point group (:func:`lattice_operations`), alone
    and combined with time reversal. Each is checked at ``npoints`` random k points
    (:func:`check_operations`) and kept when its violation is at most ``tol`` (relative). The
    kept operations form a group when the model is exactly symmetric; if round-off near the
    tolerance leaves them short of closure, the largest violations are dropped until they do.

    Returns
    -------
    SymmetryReport
        ``report.group`` and every candidate's violation (``print(report)`` for the table).
    """
    candidates = []
    for op in lattice_operations(model, symprec):
        candidates += [op, Operation(op.rotation, True)]
    checks, scale = check_operations(model, candidates, tol=tol, npoints=npoints, seed=seed)
    accepted = [c for c in checks if c.accepted]
    while True:
        kept = {c.operation for c in accepted}
        if all(a * b in kept for a in kept for b in kept):
            break
        worst = max(accepted, key=lambda c: max(c.energy_violation / scale, c.geometry_violation))
        worst.accepted = False
        accepted.remove(worst)
    return SymmetryReport(MagneticPointGroup([c.operation for c in accepted], model.dim), checks, tol, scale)


def check_symmetry(model: Model, group, *, tol: float = 1e-6, npoints: int = 24, seed: int = 0) -> SymmetryReport:
    """Check a user-given group (a :class:`MagneticPointGroup` or its generators) against ``model``.

    Raises ModelError, with the violation of each broken operation, when the model does not have
    the whole group within ``tol``: a symmetry is never imposed on a model that lacks it.
    """
    if not isinstance(group, MagneticPointGroup):
        group = MagneticPointGroup(group, model.dim)
    if group.dim != model.dim:
        raise ModelError(f"the group acts in {group.dim}D but {model.name} is {model.dim}D.")
    checks, scale = check_operations(model, group.operations, tol=tol, npoints=npoints, seed=seed)
    report = SymmetryReport(group, checks, tol, scale)
    broken = [c for c in checks if not c.accepted]
    if broken:
        raise ModelError(
            f"{model.name} does not have the symmetry it was given (tolerance {tol:g}): "
            + "; ".join(f"{c.operation.name} violated by {c.energy_violation:.2e} eV in the energies and "
                        f"{c.geometry_violation:.2e} (relative) in the {c.worst_quantity}" for c in broken)
            + ". Use symmetry='auto' to keep only the operations the model has, or a larger tol to accept "
              "the breaking knowingly.")
    return report


def resolve_symmetry(model: Model, symmetry, tol: float = 1e-6) -> SymmetryReport | None:
    """``symmetry`` argument of :func:`qkinetics.conductivity`: None, "auto", a group, generators, or a report."""
    if symmetry is None or symmetry is False:
        return None
    if isinstance(symmetry, SymmetryReport):
        return symmetry
    if isinstance(symmetry, str) and symmetry == "auto":
        return find_symmetry(model, tol=tol)
    if isinstance(symmetry, str):
        symmetry = [symmetry]
    return check_symmetry(model, symmetry, tol=tol)


# ------------------------------------------------------------------------- integration on the wedge

class SymmetryWarning(UserWarning):
    """The k grid is not invariant under every operation of the group (less reduction than possible)."""


def irreducible_grid(model: Model, grid, group: MagneticPointGroup):
    """The representatives of ``grid`` (a lattice :class:`~qkinetics.integrate.KGrid`) under ``group``.

    Warns (:class:`SymmetryWarning`) when some operations do not leave the grid invariant; they are
    then used only to symmetrize the result, not to reduce the grid.
    """
    from .integrate.grids import IrreducibleGrid

    actions, names, seen = [], [], set()
    for op in group.operations:
        M = reduced_k_action(model, op)
        key = tuple(M.ravel())
        if key not in seen:
            seen.add(key)
            actions.append(M)
            names.append(op.name)
    wedge = IrreducibleGrid(grid, actions, names)
    if wedge.dropped:
        warnings.warn(f"the grid ({grid.description}) is not invariant under {', '.join(wedge.dropped)}: these "
                      "operations only symmetrize the result. A Gamma-centred grid (shift=0) with the same n "
                      "along symmetry-related directions is invariant under the whole group.",
                      SymmetryWarning, stacklevel=3)
    return wedge


def symmetrize_integrals(group: MagneticPointGroup, mechanisms, integrals):
    """Band integrals with every mechanism's tensor projected onto the group's invariant subspace.

    ``integrals`` is a :class:`~qkinetics.integrate.BandIntegrals` whose values are (n_mu, n_T, *tensor);
    each mechanism's tensor (rank ``tensor_rank``, polar) is symmetrized with the sign
    :func:`time_reversal_parity` for the antiunitary operations. Returns a new BandIntegrals.
    """
    from dataclasses import replace

    values = dict(integrals.values)
    for m in mechanisms:
        if m.name in values:
            values[m.name] = group.symmetrize(values[m.name], m.tensor_rank, time_reversal_parity(m))
    return replace(integrals, values=values)
