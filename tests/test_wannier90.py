"""Wannier90 hr.dat / tb.dat / wsvec.dat reader and writers.

Expected values are computed here independently of the code under test: either from
the original TightBinding model (round trips) or from closed-form Fourier sums written
out by hand for hand-written files.
"""

import re

import numpy as np
import pytest

from qkinetics.models import (
    ModelError,
    TightBinding,
    Wannier90FormatError,
    read_wannier90,
    write_wannier90_hr,
    write_wannier90_tb,
)

RNG = np.random.default_rng(20240611)


def _herm_complete(hop):
    out = dict(hop)
    for R, t in hop.items():
        mR = tuple(-r for r in R)
        if mR != R:
            out[mR] = np.asarray(t).conj().T
    return out


def cubic_two_orbital():
    """Triclinic-ish 3D two-orbital model with complex hoppings, orbital offsets, many R."""
    lattice = np.array([[3.0, 0.0, 0.0], [0.4, 2.5, 0.0], [0.3, -0.2, 4.0]])
    positions = np.array([[0.0, 0.0, 0.0], [0.31, 0.17, 0.43]])
    hop = {(0, 0, 0): np.array([[0.7, 0.2 - 0.35j], [0.2 + 0.35j, -0.4]])}
    # 17 distinct +-R pairs -> > 15 R vectors, so the degeneracy list wraps.
    for i, R in enumerate([(1, 0, 0), (0, 1, 0), (0, 0, 1), (1, 1, 0), (1, -1, 0), (0, 1, 1),
                           (1, 0, -1), (2, 0, 0), (1, 1, 1)]):
        t = RNG.normal(size=(2, 2)) + 1j * RNG.normal(size=(2, 2))
        hop[R] = 0.3 * t / (1 + i)
    hop = _herm_complete(hop)
    return TightBinding(lattice, positions, hop, name="cubic2")


def square_2d():
    lattice = np.array([[2.0, 0.0], [0.7, 1.9]])
    positions = np.array([[0.0, 0.0], [0.5, 0.25]])
    hop = {(0, 0): np.array([[0.1, 0.0], [0.0, -0.1]]),
           (1, 0): np.array([[-0.5, 0.2j], [0.1, -0.3]]),
           (0, 1): np.array([[0.25, 0.05 - 0.1j], [0.3j, 0.4]]),
           (1, -1): np.array([[0.0, 0.07], [0.0, 0.02]])}
    return TightBinding(lattice, positions, _herm_complete(hop), name="sq2d")


def lattice_gauge_H(model, k):
    """Independent convention-I Bloch sum  H(k) = sum_R t_R e^{i k.R}  (k Cartesian)."""
    H = np.zeros((k.shape[0], model.norb, model.norb), dtype=complex)
    for R, t in model.hoppings.items():
        ph = np.exp(1j * (k @ (np.array(R, dtype=float) @ model.lattice)))
        H += ph[:, None, None] * np.asarray(t)[None]
    return H


# ------------------------------------------------------------------ round trips


def test_hr_round_trip_3d(tmp_path):
    model = cubic_two_orbital()
    f = tmp_path / "cub_hr.dat"
    write_wannier90_hr(model, f)
    back = read_wannier90(f, lattice=model.lattice, positions=model.positions)
    k = RNG.uniform(-3, 3, size=(40, 3))
    np.testing.assert_allclose(back.bands(k), np.linalg.eigvalsh(lattice_gauge_H(model, k)), atol=1e-10)
    H_I = back.with_convention("lattice").hamiltonian(k)[0]
    np.testing.assert_allclose(H_I, lattice_gauge_H(model, k), atol=1e-10)
    # positions convention: compare with the original model including derivatives.
    for a, b in zip(back.hamiltonian(k, 2), model.hamiltonian(k, 2)):
        np.testing.assert_allclose(a, b, atol=1e-10)


def test_hr_written_layout(tmp_path):
    """The written file follows the Wannier90 layout (checked without the reader)."""
    model = cubic_two_orbital()
    f = tmp_path / "cub_hr.dat"
    write_wannier90_hr(model, f)
    lines = f.read_text().splitlines()
    nR = len(model.hoppings)
    assert nR > 15
    assert int(lines[1]) == 2 and int(lines[2]) == nR
    assert lines[3].split() == ["1"] * 15
    ndeg_lines = -(-nR // 15)
    data = lines[3 + ndeg_lines:]
    assert len(data) == nR * 4
    # first block: row index m runs fastest
    assert [tuple(map(int, ln.split()[3:5])) for ln in data[:4]] == [(1, 1), (2, 1), (1, 2), (2, 2)]
    # full precision: one value read directly equals the model's hopping
    R = tuple(int(x) for x in data[2].split()[:3])
    re_, im_ = map(float, data[2].split()[5:7])
    assert complex(re_, im_) == model.hoppings[R][0, 1]


def test_tb_round_trip_3d_positions_from_file(tmp_path):
    model = cubic_two_orbital()
    f = tmp_path / "cub_tb.dat"
    write_wannier90_tb(model, f)
    back = read_wannier90(f)  # lattice and Wannier centres from the file
    np.testing.assert_allclose(back.lattice, model.lattice, atol=1e-14)
    np.testing.assert_allclose(back.positions, model.positions, atol=1e-13)
    k = RNG.uniform(-3, 3, size=(40, 3))
    np.testing.assert_allclose(back.bands(k), np.linalg.eigvalsh(lattice_gauge_H(model, k)), atol=1e-10)
    np.testing.assert_allclose(back.with_convention("lattice").hamiltonian(k)[0],
                               lattice_gauge_H(model, k), atol=1e-10)
    for a, b in zip(back.hamiltonian(k, 1), model.hamiltonian(k, 1)):
        np.testing.assert_allclose(a, b, atol=1e-10)
    # the centres in the file are Cartesian Angstrom: check one directly
    lines = f.read_text().splitlines()
    tau2 = model.positions[1] @ model.lattice
    pos_lines = [ln for ln in lines if len(ln.split()) == 8 and ln.split()[:2] == ["2", "2"]
                 and float(ln.split()[2]) != 0.0]
    assert len(pos_lines) == 1
    np.testing.assert_allclose([float(x) for x in pos_lines[0].split()[2::2]], tau2, atol=1e-14)


def test_tb_explicit_positions_override(tmp_path):
    model = cubic_two_orbital()
    f = tmp_path / "x_tb.dat"
    write_wannier90_tb(model, f)
    back = read_wannier90(f, positions=np.zeros((2, 3)))
    np.testing.assert_array_equal(back.positions, 0.0)
    k = RNG.uniform(-2, 2, size=(10, 3))
    np.testing.assert_allclose(back.hamiltonian(k)[0], lattice_gauge_H(model, k), atol=1e-10)


@pytest.mark.parametrize("kind", ["hr", "tb"])
def test_2d_model_padded(tmp_path, kind):
    model = square_2d()
    f = tmp_path / f"sq_{kind}.dat"
    if kind == "hr":
        write_wannier90_hr(model, f)
        lat3 = np.eye(3) * 100.0
        lat3[:2, :2] = model.lattice
        back3 = read_wannier90(f, lattice=lat3, positions=np.c_[model.positions, np.zeros(2)])
        back2 = read_wannier90(f, lattice=model.lattice, positions=model.positions, dim=2)
    else:
        write_wannier90_tb(model, f)
        back3 = read_wannier90(f)
        back2 = read_wannier90(f, dim=2)
        np.testing.assert_allclose(back3.lattice[2], [0, 0, 100.0])
    assert back3.dim == 3 and back2.dim == 2
    k2 = RNG.uniform(-3, 3, size=(30, 2))
    k3 = np.c_[k2, RNG.uniform(-1, 1, size=30)]  # kz irrelevant: no hopping along z
    np.testing.assert_allclose(back2.hamiltonian(k2, 1)[0], model.hamiltonian(k2, 1)[0], atol=1e-10)
    np.testing.assert_allclose(back3.bands(k3), model.bands(k2), atol=1e-10)
    np.testing.assert_allclose(back3.hamiltonian(k3)[0], model.hamiltonian(k2)[0], atol=1e-10)


def test_1d_model_round_trip(tmp_path):
    model = TightBinding([[1.5]], [[0.0], [0.4]],
                         {(0,): np.array([[0.0, 0.3], [0.3, 1.0]]),
                          (1,): np.array([[-0.2, 0.1j], [0.05, 0.3]]),
                          (-1,): np.array([[-0.2, 0.05], [-0.1j, 0.3]])})
    f = tmp_path / "chain_tb.dat"
    write_wannier90_tb(model, f)
    back = read_wannier90(f, dim=1)
    k = RNG.uniform(-3, 3, size=(20, 1))
    np.testing.assert_allclose(back.hamiltonian(k, 1)[1], model.hamiltonian(k, 1)[1], atol=1e-10)


def test_trivial_wsvec_written_is_noop(tmp_path):
    model = cubic_two_orbital()
    f = tmp_path / "w_hr.dat"
    write_wannier90_hr(model, f, wsvec=True)
    assert (tmp_path / "w_wsvec.dat").exists()
    back = read_wannier90(f, lattice=model.lattice, positions=model.positions, use_ws_distance=True)
    k = RNG.uniform(-3, 3, size=(10, 3))
    np.testing.assert_allclose(back.hamiltonian(k)[0], model.hamiltonian(k)[0], atol=1e-10)


# --------------------------------------------------------------- hand-written files

A = 2.0  # cubic lattice constant, Angstrom
CUBIC = np.eye(3) * A

# Two orbitals, R in {0, +x, -x, +y, -y}; ndegen 1 for R=0, 2 for +-x, 4 for +-y.
# Raw (undivided) values:  H(0) = [[1, 0.5i], [-0.5i, -1]]
#   H(+x) = [[0.6, 0.3+0.4j], [0.2, 0.8]],   H(-x) = H(+x)^dagger
#   H(+y) = [[0.4, 0], [0, -0.4]],           H(-y) = H(+y)
HAND_HR = """ written by hand
           2
           5
    1    2    2    4    4
    0    0    0    1    1    1.000000    0.000000
    0    0    0    2    1    0.000000   -0.500000
    0    0    0    1    2    0.000000    0.500000
    0    0    0    2    2   -1.000000    0.000000
    1    0    0    1    1    0.600000    0.000000
    1    0    0    2    1    0.200000    0.000000
    1    0    0    1    2    0.300000    0.400000
    1    0    0    2    2    0.800000    0.000000
   -1    0    0    1    1    0.600000    0.000000
   -1    0    0    2    1    0.300000   -0.400000
   -1    0    0    1    2    0.200000    0.000000
   -1    0    0    2    2    0.800000    0.000000
    0    1    0    1    1    0.400000    0.000000
    0    1    0    2    1    0.000000    0.000000
    0    1    0    1    2    0.000000    0.000000
    0    1    0    2    2   -0.400000    0.000000
    0   -1    0    1    1    0.400000    0.000000
    0   -1    0    2    1    0.000000    0.000000
    0   -1    0    1    2    0.000000    0.000000
    0   -1    0    2    2   -0.400000    0.000000
"""


def hand_H(k):
    """H(k) of HAND_HR computed by hand: H_mn(k) = sum_R e^{ik.R} H_mn(R)/ndegen(R)."""
    cx = np.cos(k[:, 0] * A)
    ex = np.exp(1j * k[:, 0] * A)
    cy = np.cos(k[:, 1] * A)
    H = np.zeros((len(k), 2, 2), dtype=complex)
    # diagonal: onsite + 2 * (raw/2) cos(kx a) + 2 * (raw/4) cos(ky a)
    H[:, 0, 0] = 1.0 + 0.6 * cx + 0.2 * cy
    H[:, 1, 1] = -1.0 + 0.8 * cx - 0.2 * cy
    # H_12 = 0.5i + (0.3+0.4i)/2 e^{ikx a} + 0.2/2 e^{-ikx a}
    H[:, 0, 1] = 0.5j + 0.5 * (0.3 + 0.4j) * ex + 0.1 * ex.conj()
    H[:, 1, 0] = H[:, 0, 1].conj()
    return H


def test_hand_written_hr_with_ndegen(tmp_path):
    f = tmp_path / "hand_hr.dat"
    f.write_text(HAND_HR)
    m = read_wannier90(f, lattice=CUBIC)
    assert m.norb == 2 and m.dim == 3
    np.testing.assert_array_equal(m.positions, 0.0)
    k = RNG.uniform(-3, 3, size=(25, 3))
    np.testing.assert_allclose(m.hamiltonian(k)[0], hand_H(k), atol=1e-12)
    np.testing.assert_allclose(m.hoppings[(0, 1, 0)], [[0.1, 0], [0, -0.1]], atol=1e-15)


def test_hand_written_tb_with_ndegen(tmp_path):
    """Same model in tb.dat layout (blocks with blank separators), plus centres."""
    blocks = {}
    for ln in HAND_HR.splitlines()[4:]:
        t = ln.split()
        blocks.setdefault(tuple(map(int, t[:3])), []).append(f"{t[3]:>5} {t[4]:>5}   {t[5]} {t[6]}")
    centres = np.array([[0.2, 0.4, 0.6], [1.0, 0.5, -0.3]])  # Cartesian Angstrom
    txt = [" tb by hand", "2.0 0.0 0.0", "0.0 2.0 0.0", "0.0 0.0 2.0", "2", "5", "    1    2    2    4    4"]
    for R, rows in blocks.items():
        txt += ["", "%5d %5d %5d" % R] + rows
    for R in blocks:
        txt += ["", "%5d %5d %5d" % R]
        for n in (1, 2):
            for m in (1, 2):
                c = centres[m - 1] if (m == n and R == (0, 0, 0)) else np.zeros(3)
                txt.append(f"{m:5d} {n:5d}   " + " ".join(f"{x:.8E} 0.00000000E+00" for x in c))
    f = tmp_path / "hand_tb.dat"
    f.write_text("\n".join(txt) + "\n")
    m = read_wannier90(f)
    np.testing.assert_allclose(m.positions, centres / A, atol=1e-14)
    k = RNG.uniform(-3, 3, size=(25, 3))
    np.testing.assert_allclose(m.with_convention("lattice").hamiltonian(k)[0], hand_H(k), atol=1e-12)
    # positions convention: H_mn -> H_mn e^{ik.(tau_n - tau_m)}
    D = np.exp(1j * k @ centres.T)
    expect = D.conj()[:, :, None] * hand_H(k) * D[:, None, :]
    np.testing.assert_allclose(m.hamiltonian(k)[0], expect, atol=1e-12)


# Two orbitals, ndegen 1 except R=+-x (2). wsvec:
#   (R=+x, m=1, n=1): two shifts {0, (+2,0,0)}  -> half of H_11(+x) moves to R=+3x
#   (R=-x, m=1, n=1): two shifts {0, (-2,0,0)}
#   (R=+x, m=1, n=2): one shift (+1,0,0)        -> H_12(+x) moves entirely to R=+2x
#   (R=-x, m=2, n=1): one shift (-1,0,0)        -> H_21(-x) moves to R=-2x
# everything else: one zero shift.
WS_HR = """ hr for wsvec test
 2
 3
 1 2 2
 0 0 0 1 1 0.0 0.0
 0 0 0 2 1 0.0 0.0
 0 0 0 1 2 0.0 0.0
 0 0 0 2 2 0.5 0.0
 1 0 0 1 1 1.0 0.0
 1 0 0 2 1 0.0 0.0
 1 0 0 1 2 0.4 0.6
 1 0 0 2 2 0.0 0.0
 -1 0 0 1 1 1.0 0.0
 -1 0 0 2 1 0.4 -0.6
 -1 0 0 1 2 0.0 0.0
 -1 0 0 2 2 0.0 0.0
"""

SPECIAL_T = {((1, 0, 0), 1, 1): [(0, 0, 0), (2, 0, 0)],
             ((-1, 0, 0), 1, 1): [(0, 0, 0), (-2, 0, 0)],
             ((1, 0, 0), 1, 2): [(1, 0, 0)],
             ((-1, 0, 0), 2, 1): [(-1, 0, 0)]}


def ws_text(skip=None):
    out = ["## written on hand with use_ws_distance=.true."]
    for R in [(0, 0, 0), (1, 0, 0), (-1, 0, 0)]:
        for m in (1, 2):          # Wannier90: iw outer, jw inner
            for n in (1, 2):
                if skip == (R, m, n):
                    continue
                Ts = SPECIAL_T.get((R, m, n), [(0, 0, 0)])
                out.append("%5d%5d%5d%5d%5d" % (R + (m, n)))
                out.append("%5d" % len(Ts))
                out += ["%5d%5d%5d" % T for T in Ts]
    return "\n".join(out) + "\n"


def ws_expected(k):
    """Hand Fourier sum with the MDRS shifts: sum_R sum_T e^{ik(R+T)} H(R)/(ndegen ndeg)."""
    x = k[:, 0] * A
    H = np.zeros((len(k), 2, 2), dtype=complex)
    # H_11: raw 1.0 at +-x, ndegen 2, split in two: 0.25 at +-x and +-3x
    H[:, 0, 0] = 0.5 * np.cos(x) + 0.5 * np.cos(3 * x)
    H[:, 1, 1] = 0.5
    # H_12(+x) raw (0.4+0.6i)/2 moved to +2x; H_21(-x) = conj moved to -2x
    H[:, 0, 1] = 0.5 * (0.4 + 0.6j) * np.exp(2j * x)
    H[:, 1, 0] = H[:, 0, 1].conj()
    return H


def test_wsvec_shifts_hoppings(tmp_path):
    f = tmp_path / "ws_hr.dat"
    f.write_text(WS_HR)
    (tmp_path / "ws_wsvec.dat").write_text(ws_text())
    m = read_wannier90(f, lattice=CUBIC)
    k = RNG.uniform(-3, 3, size=(30, 3))
    np.testing.assert_allclose(m.hamiltonian(k)[0], ws_expected(k), atol=1e-12)
    np.testing.assert_allclose(m.bands(k), np.linalg.eigvalsh(ws_expected(k)), atol=1e-12)
    assert (3, 0, 0) in m.hoppings and (-2, 0, 0) in m.hoppings
    # without the correction the bands differ (H_11 = cos x, H_12 ~ e^{ix})
    plain = read_wannier90(f, lattice=CUBIC, use_ws_distance=False)
    x = k[:, 0] * A
    np.testing.assert_allclose(plain.hamiltonian(k)[0][:, 0, 0], np.cos(x), atol=1e-12)
    assert np.max(np.abs(plain.bands(k) - m.bands(k))) > 0.1


def test_wsvec_same_for_tb(tmp_path):
    # tb.dat of the same Hamiltonian, sharing the seedname with a wsvec file.
    rows = [ln.split() for ln in WS_HR.splitlines()[4:]]
    txt = [" tb", "2 0 0", "0 2 0", "0 0 2", "2", "3", "1 2 2"]
    for b in range(3):
        blk = rows[4 * b:4 * b + 4]
        txt += ["", " ".join(blk[0][:3])] + [" ".join(r[3:]) for r in blk]
    for b in range(3):
        blk = rows[4 * b:4 * b + 4]
        txt += ["", " ".join(blk[0][:3])] + [" ".join(r[3:5]) + " 0 0 0 0 0 0" for r in blk]
    (tmp_path / "ws_tb.dat").write_text("\n".join(txt) + "\n")
    (tmp_path / "ws_wsvec.dat").write_text(ws_text())
    m = read_wannier90(tmp_path / "ws_tb.dat")
    k = RNG.uniform(-3, 3, size=(10, 3))
    np.testing.assert_allclose(m.hamiltonian(k)[0], ws_expected(k), atol=1e-12)


def test_wsvec_inconsistent_raises(tmp_path):
    f = tmp_path / "ws_hr.dat"
    f.write_text(WS_HR)
    (tmp_path / "ws_wsvec.dat").write_text(ws_text(skip=((1, 0, 0), 1, 2)))
    with pytest.raises(Wannier90FormatError, match=r"ws_wsvec\.dat.*R=\(1, 0, 0\), m=1, n=2"):
        read_wannier90(f, lattice=CUBIC)
    bad = ws_text().replace("    2\n    0    0    0\n    2    0    0", "    2\n    0    0    0\n    2    x    0", 1)
    (tmp_path / "ws_wsvec.dat").write_text(bad)
    with pytest.raises(Wannier90FormatError, match=r"ws_wsvec\.dat, line \d+: expected an integer"):
        read_wannier90(f, lattice=CUBIC)
    (tmp_path / "ws_wsvec.dat").unlink()
    with pytest.raises(Wannier90FormatError, match="use_ws_distance=True"):
        read_wannier90(f, lattice=CUBIC, use_ws_distance=True)


# ---------------------------------------------------------------- hermiticity


def test_small_asymmetry_is_symmetrized(tmp_path):
    txt = HAND_HR.replace("   -1    0    0    2    1    0.300000   -0.400000",
                          "   -1    0    0    2    1    0.300002   -0.399999")
    f = tmp_path / "asym_hr.dat"
    f.write_text(txt)
    m = read_wannier90(f, lattice=CUBIC)
    # t_{+x}[0,1] = 0.5*((0.3+0.4i) + conj(0.300002-0.399999i)) / ndegen 2
    np.testing.assert_allclose(m.hoppings[(1, 0, 0)][0, 1], 0.5 * (0.600002 + 0.799999j) / 2, atol=1e-15)
    np.testing.assert_allclose(m.hoppings[(-1, 0, 0)], m.hoppings[(1, 0, 0)].conj().T, atol=0)


def test_non_hermitian_beyond_tolerance_raises(tmp_path):
    txt = HAND_HR.replace("   -1    0    0    2    1    0.300000   -0.400000",
                          "   -1    0    0    2    1    0.300000    0.400000")
    f = tmp_path / "nh_hr.dat"
    f.write_text(txt)
    with pytest.raises(Wannier90FormatError, match=r"nh_hr\.dat.*not Hermitian.*R=\((-)?1, 0, 0\)"):
        read_wannier90(f, lattice=CUBIC)
    # a generous tolerance accepts it
    read_wannier90(f, lattice=CUBIC, hermiticity_tol=1.0)


def test_non_hermitian_onsite_raises(tmp_path):
    txt = HAND_HR.replace("    0    0    0    2    1    0.000000   -0.500000",
                          "    0    0    0    2    1    0.000000   -0.400000")
    f = tmp_path / "nh0_hr.dat"
    f.write_text(txt)
    with pytest.raises(Wannier90FormatError, match="not Hermitian"):
        read_wannier90(f, lattice=CUBIC)


# ---------------------------------------------------------------- error paths


def _write(tmp_path, name, text):
    f = tmp_path / name
    f.write_text(text)
    return f


HR_LINES = HAND_HR.splitlines()


@pytest.mark.parametrize(
    "text, pattern",
    [
        # truncated: last hopping line missing
        ("\n".join(HR_LINES[:-1]) + "\n", r"line 24: expected a hopping line .*R vector 5 of 5.*got 'end of file'"),
        # truncated inside the degeneracies
        ("\n".join(HR_LINES[:3]) + "\n", r"line 4: expected Wigner-Seitz degeneracy 1 of nrpts=5.*end of file"),
        # empty file
        ("", r"line 1: expected a comment line"),
        # wrong num_wann: 3 instead of 2 -> block of 9 lines mixes R vectors
        ("\n".join([HR_LINES[0], "  3"] + HR_LINES[2:]) + "\n", r"line 9: expected R=\(0, 0, 0\)"),
        # num_wann 1 instead of 2 -> index 2 out of range
        ("\n".join([HR_LINES[0], "  1"] + HR_LINES[2:]) + "\n", r"line 6: expected a new R vector for block 2; R=\(0, 0, 0\) was already listed"),
        # orbital index out of range
        (HAND_HR.replace("    1    0    0    2    2    0.800000", "    1    0    0    3    2    0.800000"),
         r"line 12: expected orbital indices m, n between 1 and num_wann=2; got 'm=3, n=2'"),
        # nrpts too small: degeneracy line has too many entries
        ("\n".join(HR_LINES[:2] + ["  4"] + HR_LINES[3:]) + "\n", r"line 4: expected only 4 degeneracies"),
        # nrpts too small but degeneracies consistent: extra data at the end
        ("\n".join(HR_LINES[:2] + ["  4", "    1    2    2    4"] + HR_LINES[4:]) + "\n",
         r"line 21: expected end of file after nrpts\*num_wann\^2 = 16 hopping lines"),
        # non-numeric value
        (HAND_HR.replace("0.800000", "0.8OOOOO", 1), r"line 12: expected a real number for Re H_mn\(R\); got '0\.8OOOOO'"),
        # non-numeric num_wann
        (HAND_HR.replace("           2\n", "         two\n", 1), r"line 2: expected an integer for num_wann"),
        # NaN
        (HAND_HR.replace("0.600000    0.000000", "nan    0.000000", 1), r"line 9: expected a finite real number"),
        # missing field
        (HAND_HR.replace("    0    0    0    2    2   -1.000000    0.000000", "    0    0    0    2    2   -1.000000"),
         r"line 8: expected a hopping line .*\(7 fields\)"),
        # duplicated (m, n)
        (HAND_HR.replace("    0    0    0    2    1    0.000000   -0.500000", "    0    0    0    1    1    0.000000   -0.500000"),
         r"line 6: expected each pair \(m, n\) once"),
        # zero degeneracy
        (HAND_HR.replace("    1    2    2    4    4", "    1    0    2    4    4"), r"line 4: expected positive degeneracies"),
    ],
)
def test_hr_malformed(tmp_path, text, pattern):
    f = _write(tmp_path, "bad_hr.dat", text)
    with pytest.raises(Wannier90FormatError) as exc:
        read_wannier90(f, lattice=CUBIC)
    msg = str(exc.value)
    assert "bad_hr.dat" in msg
    assert re.search(pattern, msg), msg


def test_missing_lattice_for_hr(tmp_path):
    f = _write(tmp_path, "hand_hr.dat", HAND_HR)
    with pytest.raises(Wannier90FormatError, match=r"hand_hr\.dat.*pass lattice=.*_tb\.dat"):
        read_wannier90(f)
    with pytest.raises(Wannier90FormatError, match=r"lattice must be a finite \(3, 3\)"):
        read_wannier90(f, lattice=np.eye(2))


def test_positions_num_wann_mismatch(tmp_path):
    f = _write(tmp_path, "hand_hr.dat", HAND_HR)
    with pytest.raises(Wannier90FormatError, match=r"hand_hr\.dat, line 2: the file has num_wann=2.*shape \(2, 3\).*\(3, 3\)"):
        read_wannier90(f, lattice=CUBIC, positions=np.zeros((3, 3)))
    assert issubclass(Wannier90FormatError, ModelError)


def _tb_text():
    return (
        " tb\n 2.0 0.0 0.0\n 0.0 2.0 0.0\n 0.0 0.0 2.0\n 1\n 3\n 1 1 1\n"
        "\n 0 0 0\n 1 1 0.5 0.0\n"
        "\n 1 0 0\n 1 1 -0.25 0.0\n"
        "\n -1 0 0\n 1 1 -0.25 0.0\n"
        "\n 0 0 0\n 1 1 0.2 0.0 0.4 0.0 0.6 0.0\n"
        "\n 1 0 0\n 1 1 0.0 0.0 0.0 0.0 0.0 0.0\n"
        "\n -1 0 0\n 1 1 0.0 0.0 0.0 0.0 0.0 0.0\n"
    )


def test_tb_minimal_hand(tmp_path):
    f = _write(tmp_path, "m_tb.dat", _tb_text())
    m = read_wannier90(f)
    np.testing.assert_allclose(m.positions, [[0.1, 0.2, 0.3]])
    k = RNG.uniform(-3, 3, size=(5, 3))
    np.testing.assert_allclose(m.bands(k)[:, 0], 0.5 - 0.5 * np.cos(2 * k[:, 0]), atol=1e-14)


@pytest.mark.parametrize(
    "mutate, pattern",
    [
        (lambda s: s.replace(" 0.0 2.0 0.0\n", " 0.0 2.0\n", 1), r"line 3: expected lattice vector a_2"),
        (lambda s: s.replace(" 0.0 2.0 0.0\n", " 0.0 b 0.0\n", 1), r"line 3: expected a real number for a component of a_2"),
        (lambda s: s.replace(" 0.0 0.0 2.0\n", " 0.0 0.0 0.0\n", 1), r"line 2: expected three linearly independent"),
        (lambda s: s[: s.index("\n -1 0 0\n 1 1 -0.25")], r"expected an R-vector line .*Hamiltonian block, R vector 3 of 3.*end of file"),
        (lambda s: s.rstrip("\n").rsplit("\n", 1)[0] + "\n", r"expected a matrix-element line .*position block.*end of file"),
        (lambda s: s.replace(" 1 1 -0.25 0.0\n", " 1 1 -0.25\n", 1), r"line 13: expected a matrix-element line 'm n Re Im'"),
        (lambda s: s.replace("\n 1 0 0\n 1 1 0.0 0.0", "\n 2 0 0\n 1 1 0.0 0.0", 1), r"line 21: expected R=\(1, 0, 0\) \(position blocks"),
        (lambda s: s.replace(" 1\n 3\n", " 2\n 3\n", 1), r"line 12: expected a matrix-element line .*got '1 0 0'"),
        (lambda s: s + " 7 7 7\n", r"line 26: expected end of file after the position blocks"),
        (lambda s: s.replace(" 1 1 0.2 0.0 0.4", " 1 1 0.2 0.0 zz", 1), r"line 19: expected a real number for a position matrix element; got 'zz'"),
    ],
)
def test_tb_malformed(tmp_path, mutate, pattern):
    f = _write(tmp_path, "bad_tb.dat", mutate(_tb_text()))
    with pytest.raises(Wannier90FormatError) as exc:
        read_wannier90(f)
    msg = str(exc.value)
    assert "bad_tb.dat" in msg
    assert re.search(pattern, msg), msg


def test_tb_without_position_blocks(tmp_path):
    text = _tb_text()
    text = text[: text.index("\n 0 0 0\n 1 1 0.2")] + "\n"
    f = _write(tmp_path, "np_tb.dat", text)
    with pytest.raises(Wannier90FormatError, match=r"np_tb\.dat, line \d+: expected the position-matrix blocks.*positions="):
        read_wannier90(f)
    m = read_wannier90(f, positions=[[0.0, 0.0, 0.0]])
    assert m.norb == 1


def test_tb_lattice_argument_must_agree(tmp_path):
    f = _write(tmp_path, "m_tb.dat", _tb_text())
    read_wannier90(f, lattice=np.eye(3) * 2.0)
    with pytest.raises(Wannier90FormatError, match=r"m_tb\.dat, lines 2-4"):
        read_wannier90(f, lattice=np.eye(3) * 3.0)


def test_dim_reduction_refused_for_3d_hopping(tmp_path):
    model = cubic_two_orbital()
    f = tmp_path / "c_tb.dat"
    write_wannier90_tb(model, f)
    with pytest.raises(Wannier90FormatError, match="dim=2 requested"):
        read_wannier90(f, dim=2)


def test_unknown_suffix_sniffed(tmp_path):
    f = _write(tmp_path, "model.txt", _tb_text())
    assert read_wannier90(f).norb == 1
    g = _write(tmp_path, "other.txt", HAND_HR)
    assert read_wannier90(g, lattice=CUBIC).norb == 2
    h = _write(tmp_path, "junk.txt", "x\n1 2\n")
    with pytest.raises(Wannier90FormatError, match=r"junk\.txt, line 2"):
        read_wannier90(h)


def test_writer_rejects_non_tight_binding(tmp_path):
    with pytest.raises(ModelError):
        write_wannier90_hr(object(), tmp_path / "x_hr.dat")


# ------------------------------------------------------- fast and checked parsers agree


@pytest.mark.parametrize("kind", ["hr", "tb"])
def test_fast_and_checked_parsers_agree(tmp_path, monkeypatch, kind):
    import qkinetics.models.wannier90 as w90

    model = cubic_two_orbital()
    f = tmp_path / f"c_{kind}.dat"
    (write_wannier90_hr if kind == "hr" else write_wannier90_tb)(model, f)
    kw = dict(lattice=model.lattice, positions=model.positions) if kind == "hr" else {}
    fast = read_wannier90(f, **kw)
    # Fortran double-precision exponents 'D' are valid Wannier90 output; they defeat the
    # vectorised parser, so this goes through the checked line-by-line one.
    g = tmp_path / f"d_{kind}.dat"
    g.write_text(f.read_text().replace("e+", "D+").replace("e-", "D-"))
    assert "D+" in g.read_text()
    viaD = read_wannier90(g, **kw)
    monkeypatch.setattr(w90, "_fast_hr", lambda *a: None)
    monkeypatch.setattr(w90, "_fast_tb_section", lambda *a: None)
    slow = read_wannier90(f, **kw)
    for other in (viaD, slow):
        assert set(other.hoppings) == set(fast.hoppings)
        for R in fast.hoppings:
            np.testing.assert_array_equal(other.hoppings[R], fast.hoppings[R])
        np.testing.assert_array_equal(other.positions, fast.positions)
