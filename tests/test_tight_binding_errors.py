"""Every ModelError of TightBinding construction names the problem and the fix."""

import numpy as np
import pytest

from qkinetics import ModelError, TightBinding

SQ = np.eye(2)
POS2 = [[0.0, 0.0], [0.5, 0.5]]
T1 = np.array([[0.0, 1.0], [0.2j, 0.0]])


def onsite(n=2):
    return np.diag(np.arange(n, dtype=float))


def test_valid_models_still_build():
    # check mode with explicit partners, complete mode, 1D with int keys and flat positions
    m = TightBinding(SQ, POS2, {(0, 0): onsite(), (1, 0): T1, (-1, 0): T1.conj().T})
    assert set(m.hoppings) == {(0, 0), (1, 0), (-1, 0)}
    m = TightBinding(SQ, POS2, {(0, 0): onsite(), (1, 0): T1}, hermiticity="complete")
    np.testing.assert_array_equal(m.hoppings[(-1, 0)], T1.conj().T)
    m = TightBinding([[2.0]], [0.0, 0.5], {0: onsite(), 1: T1}, hermiticity="complete", convention="lattice")
    assert m.dim == 1 and m.norb == 2 and (-1,) in m.hoppings
    # float keys that are integers are accepted
    m = TightBinding(SQ, POS2, {(0.0, 0.0): onsite(), (1.0, 0.0): T1}, hermiticity="complete")
    assert (1, 0) in m.hoppings


# ------------------------------------------------------------------------------ Hermiticity

def test_non_hermitian_pair_check_mode():
    hop = {(0, 0): onsite(), (1, 0): T1, (-1, 0): T1}          # t_{-R} != t_R^dagger
    with pytest.raises(ModelError, match=r"not Hermitian.*R=\((-)?1, 0\).*max deviation") as exc:
        TightBinding(SQ, POS2, hop)
    msg = str(exc.value)
    assert "^dagger" in msg and "hermiticity='complete'" in msg and "omit t_{(" in msg


def test_non_hermitian_pair_complete_mode_says_complete_checks_given_partners():
    hop = {(0, 0): onsite(), (1, 0): T1, (-1, 0): T1}
    with pytest.raises(ModelError, match=r"not Hermitian.*only adds missing partners.*omit t_\{\((-)?1, 0\)\}"):
        TightBinding(SQ, POS2, hop, hermiticity="complete")


@pytest.mark.parametrize("hermiticity", ["check", "complete"])
def test_non_hermitian_onsite(hermiticity):
    t0 = np.array([[0.0, 1.0], [0.5, 0.0]])
    with pytest.raises(ModelError, match=r"not Hermitian.*on-site block.*R=\(0, 0\).*\(t_0 \+ t_0\^dagger\)/2"
                                         r".*hermiticity='complete' does not change t_0"):
        TightBinding(SQ, POS2, {(0, 0): t0}, hermiticity=hermiticity)


def test_small_non_hermiticity_within_tolerance_is_accepted():
    TightBinding(SQ, POS2, {(0, 0): onsite(), (1, 0): T1, (-1, 0): T1.conj().T + 1e-13})


def test_missing_partner():
    with pytest.raises(ModelError, match=r"R=\(1, 0\) has no Hermitian partner R=\(-1, 0\).*"
                                         r"add t_\{\(-1, 0\)\} = t_\{\(1, 0\)\}\^dagger.*hermiticity='complete'"):
        TightBinding(SQ, POS2, {(0, 0): onsite(), (1, 0): T1})


# --------------------------------------------------------------------------------- hoppings

@pytest.mark.parametrize("shape", [(3, 3), (2, 3), (2,), (1, 2, 2)])
def test_wrong_hopping_shape(shape):
    with pytest.raises(ModelError, match=r"R=\(1, 0\) has shape .*expected \(2, 2\).*positions defines 2 orbital"
                                         r".*Fix the matrix, or add the missing orbitals to positions"):
        TightBinding(SQ, POS2, {(0, 0): onsite(), (1, 0): np.zeros(shape)}, hermiticity="complete")


def test_scalar_hopping_hint():
    with pytest.raises(ModelError, match=r"shape \(\); expected \(1, 1\).*write a scalar hopping t as \[\[t\]\]"):
        TightBinding(SQ, [[0, 0]], {(0, 0): 1.0})


def test_non_numeric_hopping():
    with pytest.raises(ModelError, match=r"R=\(0, 0\) could not be read as a complex array.*give a \(2, 2\) array"):
        TightBinding(SQ, POS2, {(0, 0): "t"})


def test_non_finite_hopping():
    t = onsite()
    t[0, 0] = np.nan
    with pytest.raises(ModelError, match=r"R=\(0, 0\) contains NaN or infinite entries.*finite values"):
        TightBinding(SQ, POS2, {(0, 0): t})


@pytest.mark.parametrize("key, problem", [
    ((1, 0, 0), r"has 3 component\(s\) but the lattice is 2D"),
    ((1,), r"has 1 component\(s\) but the lattice is 2D"),
    ((0.5, 0), r"is not integer.*Orbital offsets inside the cell belong in positions"),
    ("x", r"is not a lattice vector"),
    ((np.inf, 0), r"is not integer"),
])
def test_bad_hopping_key(key, problem):
    with pytest.raises(ModelError, match=r"hopping key .*" + problem):
        TightBinding(SQ, POS2, {(0, 0): onsite(), key: T1}, hermiticity="complete")
    with pytest.raises(ModelError, match=r"keys of hoppings must be tuples of 2 integers.*e\.g\. \(1, 0\)"):
        TightBinding(SQ, POS2, {(0, 0): onsite(), key: T1}, hermiticity="complete")


def test_empty_hoppings():
    with pytest.raises(ModelError, match=r"hoppings is empty: give at least the on-site block \{\(0, 0\): t_0\}"):
        TightBinding(SQ, POS2, {})


def test_hoppings_not_a_dict():
    with pytest.raises(ModelError, match=r"hoppings must be a dict \{R: t_R\}.*got list"):
        TightBinding(SQ, POS2, [((0, 0), onsite())])


# ------------------------------------------------------------------------ lattice, positions

@pytest.mark.parametrize("lattice", [np.ones((2, 3)), np.eye(4), np.ones(2), np.zeros((2, 2, 2))])
def test_bad_lattice_shape(lattice):
    with pytest.raises(ModelError, match=r"lattice has shape .*square \(dim, dim\) array with dim = 1, 2 or 3"
                                         r".*primitive vectors \(Angstrom\) as rows, e\.g\."):
        TightBinding(lattice, [[0.0, 0.0]], {(0, 0): [[1.0]]})


def test_degenerate_lattice():
    with pytest.raises(ModelError, match=r"linearly dependent \(zero cell volume\): give 2 linearly independent"):
        TightBinding([[1.0, 0.0], [2.0, 0.0]], [[0.0, 0.0]], {(0, 0): [[1.0]]})


def test_non_numeric_and_non_finite_lattice():
    with pytest.raises(ModelError, match=r"lattice could not be read as a real array.*rows of a \(dim, dim\) array"):
        TightBinding("square", [[0.0, 0.0]], {(0, 0): [[1.0]]})
    with pytest.raises(ModelError, match=r"lattice contains NaN or infinite entries.*finite vectors"):
        TightBinding([[np.nan, 0.0], [0.0, 1.0]], [[0.0, 0.0]], {(0, 0): [[1.0]]})


@pytest.mark.parametrize("positions, got", [
    ([0.0, 0.0], r"\(2,\)"),                       # one orbital written without the outer brackets
    ([[0.0, 0.0, 0.0]], r"\(1, 3\)"),             # 3D coordinates for a 2D lattice
    (np.zeros((2, 2, 2)), r"\(2, 2, 2\)"),
])
def test_bad_positions_shape(positions, got):
    with pytest.raises(ModelError, match=r"positions has shape " + got + r"; for this 2D lattice it must be \(N, 2\)"
                                         r".*per orbital, e\.g\. .*np\.zeros\(\(N, 2\)\)"):
        TightBinding(SQ, positions, {(0, 0): [[1.0]]})


def test_empty_non_numeric_and_non_finite_positions():
    with pytest.raises(ModelError, match=r"positions is empty: give at least one orbital"):
        TightBinding(SQ, np.zeros((0, 2)), {(0, 0): np.zeros((0, 0))})
    with pytest.raises(ModelError, match=r"positions could not be read as a real array.*shape \(N, 2\)"):
        TightBinding(SQ, [["a", 0.0]], {(0, 0): [[1.0]]})
    with pytest.raises(ModelError, match=r"positions contains NaN or infinite entries"):
        TightBinding(SQ, [[np.inf, 0.0]], {(0, 0): [[1.0]]})


# ------------------------------------------------------------------------------------ options

@pytest.mark.parametrize("convention", ["position", "II", None, 2])
def test_unknown_convention(convention):
    with pytest.raises(ModelError, match=r"unknown Fourier convention .*convention='positions'.*convention='lattice'"):
        TightBinding(SQ, POS2, {(0, 0): onsite()}, convention=convention)


@pytest.mark.parametrize("hermiticity", ["yes", "completed", True, None])
def test_unknown_hermiticity_mode(hermiticity):
    with pytest.raises(ModelError, match=r"unknown hermiticity mode .*hermiticity='check'.*hermiticity='complete'"):
        TightBinding(SQ, POS2, {(0, 0): onsite()}, hermiticity=hermiticity)


def test_every_error_is_a_value_error():
    # ModelError subclasses ValueError, so generic callers can catch bad input uniformly
    with pytest.raises(ValueError):
        TightBinding(SQ, POS2, {(0, 0): onsite(), (1, 0): T1})
