"""Position-matrix input of TightBinding and the position-block terms of the band geometry."""

import numpy as np
import pytest

from qkinetics.models.base import ModelError
from qkinetics.models.tight_binding import TightBinding


def _chain_with_positions(r1=None):
    """A 1D two-orbital chain with a position matrix; r1 the R = 1 block (1, 2, 2)."""
    hop = {(0,): [[0.5, 0.2], [0.2, -0.5]], (1,): [[0.1, 0.3], [0.0, -0.1]], (-1,): [[0.1, 0.0], [0.3, -0.1]]}
    r0 = np.array([[[0.0, 0.05j], [-0.05j, 0.5]]])
    r1 = np.array([[[0.02, 0.01 + 0.03j], [0.0, -0.01]]]) if r1 is None else r1
    return hop, {(0,): r0, (1,): r1, (-1,): r1.conj().swapaxes(-1, -2)}


def test_position_matrix_is_stored_and_kept_through_with_convention():
    hop, pos = _chain_with_positions()
    m = TightBinding([[2.0]], [[0.0], [0.25]], hop, position_matrix=pos)
    assert set(m.position_matrix) == {(0,), (1,), (-1,)}
    assert m.position_matrix[(1,)].shape == (1, 2, 2)
    other = m.with_convention("lattice")
    assert other.convention == "lattice"
    for R, r in m.position_matrix.items():
        np.testing.assert_array_equal(other.position_matrix[R], r)
    assert TightBinding([[2.0]], [[0.0], [0.25]], hop).position_matrix is None


def test_position_matrix_hermiticity_and_completion():
    hop, pos = _chain_with_positions()
    bad = dict(pos)
    bad[(-1,)] = pos[(1,)]                       # r(-R) = r(R) instead of r(R)^dagger
    with pytest.raises(ModelError, match="position matrix is not Hermitian"):
        TightBinding([[2.0]], [[0.0], [0.25]], hop, position_matrix=bad)
    half = {R: r for R, r in pos.items() if R != (-1,)}
    with pytest.raises(ModelError, match="no partner"):
        TightBinding([[2.0]], [[0.0], [0.25]], hop, position_matrix=half)
    m = TightBinding([[2.0]], [[0.0], [0.25]], hop, position_matrix=half, hermiticity="complete")
    np.testing.assert_array_equal(m.position_matrix[(-1,)], pos[(-1,)])
    complex_centre = dict(pos)
    complex_centre[(0,)] = pos[(0,)] + np.diag([0.1j, 0.0])[None]
    with pytest.raises(ModelError, match="R=\\(0,\\) block is not Hermitian"):
        TightBinding([[2.0]], [[0.0], [0.25]], hop, position_matrix=complex_centre)


@pytest.mark.parametrize("bad, match", [
    ([1, 2], "must be a dict"),
    ({}, "is empty"),
    ({(0,): np.zeros((2, 2))}, "has shape \\(2, 2\\); expected \\(1, 2, 2\\)"),
    ({(0,): np.full((1, 2, 2), np.nan)}, "NaN"),
    ({(0.5,): np.zeros((1, 2, 2))}, "not integer"),
])
def test_position_matrix_bad_input(bad, match):
    hop, _ = _chain_with_positions()
    with pytest.raises(ModelError, match=match):
        TightBinding([[2.0]], [[0.0], [0.25]], hop, position_matrix=bad)
