"""Shared test helpers: random models and independent reference routes."""

import numpy as np
import pytest

from qkinetics import TightBinding

PAULI = (
    np.eye(2, dtype=complex),
    np.array([[0, 1], [1, 0]], dtype=complex),
    np.array([[0, -1j], [1j, 0]], dtype=complex),
    np.array([[1, 0], [0, -1]], dtype=complex),
)


def random_hoppings(rng, dim, norb, nR=2, scale=1.0):
    """A random Hermitian on-site block and ``nR`` random hopping matrices (R and -R paired: hermiticity
    "complete"), {R: matrix}, for random test models."""
    hop = {}
    A = rng.normal(size=(norb, norb)) + 1j * rng.normal(size=(norb, norb))
    hop[(0,) * dim] = np.diag(np.linspace(-1, 1, norb) * 2) + 0.3 * (A + A.conj().T)
    vecs = set()
    while len(vecs) < nR:
        R = tuple(int(x) for x in rng.integers(-2, 3, size=dim))
        if any(R) and tuple(-r for r in R) not in vecs:
            vecs.add(R)
    for R in vecs:
        hop[R] = scale * 0.5 * (rng.normal(size=(norb, norb)) + 1j * rng.normal(size=(norb, norb)))
    return hop


def random_tight_binding(dim, norb, seed=0, nR=2, convention="positions", scale=1.0):
    """A random Hermitian tight-binding model with random orbital positions."""
    rng = np.random.default_rng(seed)
    lattice = np.eye(dim) * 2.0 + 0.3 * rng.normal(size=(dim, dim))
    positions = rng.random((norb, dim))
    hop = random_hoppings(rng, dim, norb, nR, scale)
    return TightBinding(lattice, positions, hop, hermiticity="complete", convention=convention, name="random")


def pair_scrambled_eigh(rng, eigh=np.linalg.eigh):
    """``eigh`` with a random U(2) applied inside every consecutive pair of eigenvectors: monkeypatched over
    np.linalg.eigh, it changes the gauge inside doubly degenerate groups (gauge-invariance tests)."""
    def scrambled(H):
        eps, U = eigh(H)
        for p in range(0, eps.shape[-1], 2):
            X = rng.normal(size=eps.shape[:-1] + (2, 2)) + 1j * rng.normal(size=eps.shape[:-1] + (2, 2))
            U[..., p:p + 2] = U[..., p:p + 2] @ np.linalg.qr(X)[0]
        return eps, U
    return scrambled


def pauli_vector(H):
    """d-vector of traceless 2x2 Hermitian matrices H (..., 2, 2): H = d0 + d . sigma."""
    return np.stack([np.real(np.einsum("...ij,ji->...", H, s)) / 2 for s in PAULI[1:]], axis=-1)


def solid_angle_chern(model, nk=120):
    """Chern number of the lower band of a 2-band 2D lattice model as the degree of d/|d|.

    Sums signed solid angles of the spherical triangles spanned by d^ on a grid of the BZ
    (Van Oosterom-Strackee formula). Uses no eigenvectors: independent of the library's
    Berry-curvature and link-variable code. With A = i<u|du>, the lower band of d.sigma has
    Omega = +(1/2) d^ . (d_x d^ x d_y d^), so C_lower = +degree.
    """
    s = np.arange(nk + 1) / nk
    kr = np.stack(np.meshgrid(s, s, indexing="ij"), axis=-1).reshape(-1, 2)
    H = model.with_convention("lattice").hamiltonian(model.k_from_reduced(kr), 0)[0]
    d = pauli_vector(H).reshape(nk + 1, nk + 1, 3)
    n = d / np.linalg.norm(d, axis=-1, keepdims=True)

    def tri(a, b, c):
        num = np.einsum("...i,...i->...", a, np.cross(b, c))
        den = 1 + np.einsum("...i,...i->...", a, b) + np.einsum("...i,...i->...", b, c) \
            + np.einsum("...i,...i->...", c, a)
        return 2 * np.arctan2(num, den)

    a, b, c, e = n[:-1, :-1], n[1:, :-1], n[1:, 1:], n[:-1, 1:]
    total = (tri(a, b, c) + tri(a, c, e)).sum() / (4 * np.pi)
    total *= np.sign(np.linalg.det(model.reciprocal))
    return total


@pytest.fixture
def rng():
    return np.random.default_rng(12345)


def bounded(fn, seconds=2.0, megabytes=64):
    """Run ``fn`` under a hard time limit (SIGALRM, TimeoutError) and a bound on the memory it allocates
    (tracemalloc peak); return its value or raise its error. For fuzz and hostile-input tests."""
    import signal
    import tracemalloc

    def alarm(*_):
        raise TimeoutError(f"took longer than {seconds} s")
    old = signal.signal(signal.SIGALRM, alarm)
    signal.setitimer(signal.ITIMER_REAL, seconds)
    tracemalloc.start()
    try:
        return fn()
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, old)
        peak = tracemalloc.get_traced_memory()[1]
        tracemalloc.stop()
        assert peak < megabytes * 2**20, f"{peak / 2**20:.0f} MB"


STEP_POTENTIAL = 'kind = "step"\nV0 = 0.1\nwidth = 3.0'


def rice_mele_run(run_keys, *, nx=16, nk=32, potential=STEP_POTENTIAL, output=""):
    """The text of a small kinetic run config (Rice-Mele ring, 40 Angstrom, mu = -1 eV, 1000 K, tau = 10 fs) with
    the [kinetics] keys ``run_keys`` (steady or time run), the [potential] lines and extra [output] lines."""
    return (f'[model]\nzoo = "rice_mele"\n\n[kinetics]\nlength = 40.0\nnx = {nx}\nnk = {nk}\nmu = -1.0\n'
            f'T = 1000.0\ntau = 1e-14\n{run_keys}\n\n[potential]\n{potential}\n\n'
            f'[output]\ndirectory = "out"\n{output}')
