"""Models from a Wannier90 run (.win, .eig, .mmn, .chk / .chk.fmt), checked against Wannier90 itself.

References (tests/data/wannier90/README.md says how each was made):

* ``reference/*_postw90_HH_AA_R.dat.bz2``: postw90's own H(R) and A(R) = <0m|r|Rn> arrays (and
  its MDRS vectors), dumped in full precision by a postw90.x build (Wannier90 git 7806b3fb) at
  the point where ``berry_task = ahc`` has built them;
* ``reference/*_tb.dat.bz2`` etc.: wannier90.x ``restart = plot`` output of the same runs;
* the Fe anomalous Hall conductivity printed by postw90 (Wannier90 test suite, Fe.wpout).
"""

from __future__ import annotations

import bz2
import itertools
import shutil
from pathlib import Path

import numpy as np
import pytest

import qkinetics as qk
from qkinetics.models import Wannier90FormatError, read_wannier90, write_wannier90_tb
from qkinetics.models import wannier90_run as wr

DATA = Path(__file__).parent / "data" / "wannier90"
FE = DATA / "fe" / "Fe.win"
TE = DATA / "te" / "Te.win"
SI = DATA / "si" / "silicon.win"
REF = DATA / "reference"


def read_postw90_dump(path):
    """Parse the reference dump: nrpts, num_wann, ...; irvec + ndegen; H, A per (R, m, n); MDRS data."""
    lines = bz2.open(path, "rt").read().split("\n")
    nr, nw = (int(x) for x in lines[0].split()[:2])
    head = np.array([[int(x) for x in lines[1 + i].split()] for i in range(nr)])
    body = np.loadtxt(lines[1 + nr: 1 + nr + nr * nw * nw]).reshape(nr, nw * nw, 10)
    H = np.zeros((nr, nw, nw), complex)
    A = np.zeros((nr, 3, nw, nw), complex)
    m = body[0, :, 0].astype(int) - 1
    n = body[0, :, 1].astype(int) - 1
    H[:, m, n] = body[:, :, 2] + 1j * body[:, :, 3]
    for a in range(3):
        A[:, a, m, n] = body[:, :, 4 + 2 * a] + 1j * body[:, :, 5 + 2 * a]
    rest = [l for l in lines[1 + nr + nr * nw * nw:] if l.strip()]
    ndeg, vecs, p = np.zeros((nr, nw, nw), int), {}, 0
    while p < len(rest):
        r, i, j, d = (int(x) for x in rest[p].split())
        ndeg[r - 1, i - 1, j - 1] = d
        vecs[(r - 1, i - 1, j - 1)] = sorted(tuple(int(x) for x in rest[p + 1 + q].split()) for q in range(d))
        p += 1 + d
    return head[:, :3], head[:, 3], H, A, (ndeg, vecs) if rest else None


# ------------------------------------------------------------------ H(R), A(R) = postw90's


@pytest.mark.parametrize("win, ref", [(TE, "Te"), (SI, "silicon")])
def test_operators_equal_postw90(win, ref):
    """Te (disentangled, two b-vector shells, no MDRS) and Si (MDRS): equal to round-off."""
    ops = wr.wannier_operators_R(win)
    irvec, ndegen, H, A, ws = read_postw90_dump(REF / f"{ref}_postw90_HH_AA_R.dat.bz2")
    assert np.array_equal(ops["irvec"], irvec)
    assert np.array_equal(ops["ndegen"], ndegen)
    # the dump prints 17 significant digits; the sums differ in order only: a few ulp of max |H| ~ 7 eV
    assert np.max(np.abs(ops["HH_R"] - H)) < 1e-13
    assert np.max(np.abs(ops["AA_R"] - A)) < 1e-13
    assert np.max(np.abs(A)) > 0.1                       # a real position matrix, not zeros
    if ws is None:
        assert not ops["use_ws_distance"]
    else:
        ndeg, vecs = ws
        assert ops["use_ws_distance"] and ndeg.max() > 1
        assert np.array_equal(ops["ndeg"], ndeg)
        for (r, i, j), v in vecs.items():
            got = sorted(tuple(int(x) for x in ops["irdist"][r, i, j, q]) for q in range(ndeg[r, i, j]))
            assert got == v


def test_formatted_and_unformatted_checkpoints_agree():
    """Te ships both Te.chk (unformatted, from w90chk2chk.x -import) and Te.chk.fmt."""
    a = wr.read_chk(DATA / "te" / "Te.chk.bz2")
    b = wr.read_chk(DATA / "te" / "Te.chk.fmt.bz2")
    assert not a["formatted"] and b["formatted"]
    for key in ("lattice", "kpoints", "u_matrix", "u_matrix_opt", "m_matrix", "centres", "spreads", "ndimwin",
                "lwindow"):
        assert np.array_equal(a[key], b[key]), key
    m1 = wr.read_wannier90_run(TE, chk="unformatted")
    m2 = wr.read_wannier90_run(TE, chk="formatted")
    for R in m1.hoppings:
        assert np.array_equal(m1.hoppings[R], m2.hoppings[R])
        assert np.array_equal(m1.position_matrix[R], m2.position_matrix[R])


def test_bvector_weights_satisfy_b1_and_match_wannier90():
    """Te: two shells (2 + 6 vectors); weights as printed in Te.wout (Ang^2)."""
    ops = wr.wannier_operators_R(TE)
    wb = ops["wb"]
    assert np.allclose(sorted(set(np.round(wb, 6))), [0.503183, 1.798409], atol=1e-6)


def test_bands_at_ab_initio_k_equal_eig_in_frozen_window():
    """Exact property of disentanglement: inside the frozen window the interpolated bands at the
    ab-initio k points are the ab-initio energies (with and without MDRS)."""
    for win in (FE, SI, TE):
        run = wr.WannierRun(win)
        model = wr.read_wannier90_run(run)
        lo = run.win["dis_froz_min"] if run.win["dis_froz_min"] is not None else -np.inf
        hi = run.win["dis_froz_max"]
        bands = model.bands(model.k_from_reduced(run.win["kpoints"]))
        checked = 0
        for k in range(run.num_kpts):
            e = run.eig[k]
            frozen = e[(e > lo + 1e-6) & (e < hi - 1e-6)]
            dev = np.min(np.abs(bands[k][:, None] - frozen[None, :]), axis=0)
            assert np.max(dev) < 1e-10, (win.name, k, np.max(dev))
            checked += frozen.size
        assert checked >= run.num_kpts * 4


def test_hamiltonian_equals_wannier90_tb_file(tmp_path):
    """wannier90.x's own _tb.dat (E15.8; Si with its _wsvec.dat) gives the same H(k) to print precision."""
    rng = np.random.default_rng(1)
    for win, stem in ((FE, "Fe"), (SI, "silicon")):
        for p in REF.glob(f"{stem}_*.dat.bz2"):
            (tmp_path / p.name[:-4]).write_bytes(bz2.open(p).read())
        model = wr.read_wannier90_run(win, convention="lattice")
        ref = read_wannier90(tmp_path / f"{stem}_tb.dat", convention="lattice")
        k = model.k_from_reduced(rng.uniform(0, 1, (20, 3)))
        # E15.8 keeps 8 significant digits: 5e-8 eV absolute for the largest (~20 eV) elements, summed over R
        assert np.max(np.abs(model.hamiltonian(k)[0] - ref.hamiltonian(k)[0])) < 2e-6


def test_hr_r_wsvec_equal_tb_wsvec(tmp_path):
    """_hr.dat + _r.dat + _wsvec.dat give the same model as _tb.dat + _wsvec.dat (wannier90.x Si, MDRS)."""
    for p in REF.glob("silicon_*.dat.bz2"):
        (tmp_path / p.name[:-4]).write_bytes(bz2.open(p).read())
    tb = read_wannier90(tmp_path / "silicon_tb.dat", convention="lattice")
    hr = read_wannier90(tmp_path / "silicon_hr.dat", lattice=tb.lattice, convention="lattice")
    assert hr.provenance["use_ws_distance"] and hr.provenance["position_file"].endswith("silicon_r.dat")
    assert set(tb.hoppings) == set(hr.hoppings)
    # the two files print H with E15.8 and F12.6, r with E15.8 and F12.6
    assert max(np.max(np.abs(tb.hoppings[R] - hr.hoppings[R])) for R in tb.hoppings) < 1e-6
    assert max(np.max(np.abs(tb.position_matrix[R] - hr.position_matrix[R])) for R in tb.hoppings) < 1e-6
    assert np.allclose(tb.positions, hr.positions, atol=1e-6)


def test_use_ws_distance_both_settings():
    """Si with and without MDRS: same H at the ab-initio k points (shifts are supercell vectors),
    different in between; the .win setting is the default."""
    on = wr.read_wannier90_run(SI)
    off = wr.read_wannier90_run(SI, use_ws_distance=False)
    assert on.provenance["use_ws_distance"] and not off.provenance["use_ws_distance"]
    run = wr.WannierRun(SI)
    kq = on.k_from_reduced(run.win["kpoints"])
    assert np.allclose(on.bands(kq), off.bands(kq), atol=1e-10)
    kmid = on.k_from_reduced(np.array([[0.13, 0.27, 0.41]]))
    assert np.max(np.abs(on.bands(kmid) - off.bands(kmid))) > 1e-3


def test_provenance_records_the_run():
    m = wr.read_wannier90_run(FE)
    p = m.provenance
    assert p["num_wann"] == 18 and p["num_bands"] == 28 and p["mp_grid"] == [2, 2, 2]
    assert p["use_ws_distance"] is False and p["have_disentangled"] is True
    assert set(p["files"]) == {"win", "chk", "eig", "mmn"}
    assert all(len(f["sha256"]) == 64 for f in p["files"].values())
    assert p["fermi_energy"] == pytest.approx(12.6279)


def test_read_wannier90_dispatches_on_win():
    a = read_wannier90(TE)
    b = wr.read_wannier90_run(TE)
    assert a.provenance["source"] == "wannier90 run"
    for R in b.hoppings:
        assert np.array_equal(a.hoppings[R], b.hoppings[R])


# ------------------------------------------------------------------------ Fe AHC benchmark

FE_AHC = (0.0334, 0.0572, 1222.1510)       # postw90 (Fe.wpout): sigma_yz, sigma_zx, sigma_xy in S/cm
FE_EF = 12.6279


def _ahc_from_geometry(model):
    """Sharp Fermi step on the 10x10x10 Gamma-centred grid, -(e^2/hbar) sum f Omega / (N V), S/cm."""
    kred = np.array(list(itertools.product(range(10), repeat=3)), float) / 10
    geo = qk.band_geometry(model, model.k_from_reduced(kred), inverse_mass=False)
    occ = (geo.energies < FE_EF).astype(float)
    e, hbar = 1.602176634e-19, 1.054571817e-34                   # SI 2019 (exact e; CODATA 2018 hbar)
    s = np.einsum("kn,knab->ab", occ, geo.berry_curvature) / len(kred)
    sig = -(e ** 2 / hbar) * s / abs(np.linalg.det(model.lattice)) * 1e8
    return np.array([sig[1, 2], sig[2, 0], sig[0, 1]])


def test_fe_ahc_from_raw_files():
    """postw90's Fe benchmark through the public conductivity() at T = 0 (sharp step)."""
    model = qk.read_wannier90(FE)
    ds = qk.conductivity(model, mu=FE_EF, T=0.0, mechanisms="anomalous_hall", kgrid=10, shift=0.0,
                         convergence=False)
    s = ds["anomalous_hall"].sel(channel="linear").values.reshape(3, 3).real / 100.0     # S/m -> S/cm
    got = np.array([s[1, 2], s[2, 0], s[0, 1]])
    assert np.all(np.abs(got - FE_AHC) <= 0.5e-4), got      # equal in every printed digit


def test_fe_ahc_from_written_tb(tmp_path):
    """Raw run -> write_wannier90_tb -> read_wannier90: the same model bit for bit, the same AHC."""
    model = qk.read_wannier90(FE)
    write_wannier90_tb(model, tmp_path / "Fe_tb.dat")
    back = read_wannier90(tmp_path / "Fe_tb.dat")
    assert set(back.hoppings) == set(model.hoppings)
    for R in model.hoppings:
        assert np.array_equal(back.hoppings[R], model.hoppings[R])
        assert np.array_equal(back.position_matrix[R], model.position_matrix[R])
    assert np.array_equal(back.positions, model.positions)
    got = _ahc_from_geometry(back)
    assert np.all(np.abs(got - FE_AHC) <= 0.5e-4), got


# ----------------------------------------------------------------------------- bad input


def _te_copy(tmp_path, chk="Te.chk.bz2"):
    d = tmp_path / "te"
    d.mkdir()
    for name in ("Te.win", "Te.eig.bz2", "Te.mmn.bz2", chk):
        shutil.copy(DATA / "te" / name, d / name)
    return d


def _edit(path, old, new):
    text = path.read_text()
    assert old in text
    path.write_text(text.replace(old, new, 1))


def _unpack(path):
    """Decompress path (.bz2) beside itself and remove the compressed file; return the new path."""
    out = path.with_name(path.name[:-4])
    out.write_bytes(bz2.open(path).read())
    path.unlink()
    return out


@pytest.mark.parametrize("old, new, pattern", [
    ("num_wann=9", "num_wann=8", r"Te\.chk\.bz2: num_wann = 9 in the checkpoint but 8 in .*Te\.win"),
    ("num_bands=12", "num_bands=13", r"num_bands = 12 in the checkpoint but 13"),
    ("mp_grid =     2 2 2", "mp_grid = 2 2 2\nexclude_bands = 13", r"exclude_bands = \[\] in the checkpoint but \[13\]"),
    ("0.00000000  0.00000000  0.50000000  1.25", "0.00000000  0.00000000  0.25000000  1.25", r"k point 2 = .* in the checkpoint"),
    ("-2.2285000     3.8598752", "-2.2285000     3.8608752", r"the lattice \(Angstrom\) = .* in the checkpoint"),
])
def test_checkpoint_from_another_run(tmp_path, old, new, pattern):
    d = _te_copy(tmp_path)
    _edit(d / "Te.win", old, new)
    with pytest.raises(Wannier90FormatError, match=pattern):
        wr.read_wannier90_run(d / "Te.win")


def test_checkpoint_of_another_material(tmp_path):
    d = _te_copy(tmp_path)
    shutil.copy(DATA / "fe" / "Fe.chk.fmt.bz2", d / "Te.chk.fmt.bz2")
    (d / "Te.chk.bz2").unlink()
    with pytest.raises(Wannier90FormatError, match=r"Te\.chk\.fmt\.bz2: num_wann = 18 in the checkpoint but 9"):
        wr.read_wannier90_run(d / "Te.win")


def test_eig_mismatch_and_truncation(tmp_path):
    d = _te_copy(tmp_path)
    eig = _unpack(d / "Te.eig.bz2")
    lines = eig.read_text().splitlines()
    eig.write_text("\n".join(lines[:-1]) + "\n")
    with pytest.raises(Wannier90FormatError, match=r"Te\.eig: expected num_bands \* num_kpts = 12 \* 8 = 96 lines.*got 95"):
        wr.WannierRun(d / "Te.win")
    lines[20] = lines[20].replace("    9    2", "    9    3", 1)
    eig.write_text("\n".join(lines) + "\n")
    with pytest.raises(Wannier90FormatError, match=r"Te\.eig, line 21: expected band 9 of k point 2"):
        wr.WannierRun(d / "Te.win")


def test_mmn_mismatch_and_truncation(tmp_path):
    d = _te_copy(tmp_path)
    mmn = _unpack(d / "Te.mmn.bz2")
    lines = mmn.read_text().splitlines()
    head = lines[1]
    mmn.write_text("\n".join([lines[0], head.replace("8", "6", 1)] + lines[2:]) + "\n")
    with pytest.raises(Wannier90FormatError, match=r"Te\.mmn, line 2: num_bands, num_kpts, nntot = .* but the checkpoint"):
        wr.wannier_operators_R(d / "Te.win")
    mmn.write_text("\n".join(lines[:-100]) + "\n")
    with pytest.raises(Wannier90FormatError, match=r"Te\.mmn, line \d+: end of file.*truncated"):
        wr.wannier_operators_R(d / "Te.win")
    bad = list(lines)
    bad[2 + 145] = "    2    1    0    0    0"             # second block of k point 1 claims k point 2
    mmn.write_text("\n".join(bad) + "\n")
    with pytest.raises(Wannier90FormatError, match=r"Te\.mmn, line 148: block header .* should be for k point 1"):
        wr.wannier_operators_R(d / "Te.win")


@pytest.mark.parametrize("chk", ["Te.chk.bz2", "Te.chk.fmt.bz2"])
def test_truncated_checkpoint(tmp_path, chk):
    d = _te_copy(tmp_path, chk)
    plain = _unpack(d / chk)
    data = plain.read_bytes()
    plain.write_bytes(data[: len(data) // 2])
    with pytest.raises(Wannier90FormatError, match=rf"{plain.name}.*(truncated|holds only)"):
        wr.read_chk(plain)


def test_corrupt_unformatted_header_is_refused_before_allocating(tmp_path):
    d = _te_copy(tmp_path)
    plain = _unpack(d / "Te.chk.bz2")
    data = bytearray(plain.read_bytes())
    # record 2 (num_bands) starts after the 33-byte header record: 4 + 33 + 4 bytes, then a 4-byte marker
    data[45:49] = (10**9).to_bytes(4, "little")
    plain.write_bytes(bytes(data))
    with pytest.raises(Wannier90FormatError, match=r"num_bands=1000000000.*holds only"):
        wr.read_chk(plain)


@pytest.mark.parametrize("text, pattern", [
    ("num_wann = 2\nnum_wann = 3\n", r"line 2: keyword 'num_wann' appears twice"),
    ("begin unit_cell_cart\n1 0 0\n", r"block 'unit_cell_cart' is never closed"),
    ("num_wann = 2\n", r"'mp_grid' .* is missing"),
    ("num_wann = x\n", r"line 1: cannot read the value of 'num_wann'"),
])
def test_win_errors(tmp_path, text, pattern):
    p = tmp_path / "x.win"
    p.write_text(text)
    with pytest.raises(Wannier90FormatError, match=pattern):
        wr.read_win(p)


def test_win_syntax_variants(tmp_path):
    """Case, comments, '=' / ':' / blank separators, bohr units, ranges in exclude_bands."""
    p = tmp_path / "x.win"
    p.write_text("NUM_WANN : 2   ! two\nnum_bands 4\nExclude_Bands = 1-2, 5\nmp_grid=1 1 2 # grid\n"
                 "use_ws_distance = F\nws_search_size = 3\nfermi_energy = 1.5d0\n"
                 "Begin Unit_Cell_Cart\n Bohr\n 1 0 0\n 0 1 0\n 0 0 2\nEND unit_cell_cart\n"
                 "begin kpoints\n0 0 0\n0 0 0.5\nend kpoints\n")
    w = wr.read_win(p)
    assert w["num_wann"] == 2 and w["num_bands"] == 4 and w["exclude_bands"] == [1, 2, 5]
    assert w["mp_grid"].tolist() == [1, 1, 2] and w["use_ws_distance"] is False
    assert w["ws_search_size"].tolist() == [3, 3, 3] and w["fermi_energy"] == 1.5
    assert np.allclose(w["lattice"], np.diag([1, 1, 2]) * wr.BOHR_ANGSTROM)


# ------------------------------------------------- declared sizes checked before allocation

_HR = """ hand
           {nw}
           {nr}
    1
    0    0    0    1    1    1.000000    0.000000
"""


@pytest.mark.parametrize("nw, nr, pattern", [
    ("30000", "1", r"line 3: expected a header count the file can hold"),
    ("1e9", "1", r"line 2: expected an integer for num_wann"),
    ("1", "400000000", r"line 5: expected positive degeneracies"),
])
def test_huge_hr_header_refused(tmp_path, nw, nr, pattern):
    p = tmp_path / "x_hr.dat"
    p.write_text(_HR.format(nw=nw, nr=nr))
    with pytest.raises(Wannier90FormatError, match=pattern):
        read_wannier90(p, lattice=np.eye(3))


def test_huge_tb_header_refused(tmp_path):
    p = tmp_path / "x_tb.dat"
    p.write_text(" hand\n1 0 0\n0 1 0\n0 0 1\n 30000\n 1\n 1\n\n 0 0 0\n 1 1 1.0 0.0\n")
    with pytest.raises(Wannier90FormatError, match=r"line 6: expected a header count the file can hold"):
        read_wannier90(p)


def test_huge_lattice_vector_and_ndeg_refused(tmp_path):
    p = tmp_path / "x_hr.dat"
    p.write_text(_HR.format(nw=1, nr=1).replace("    0    0    0    1    1", " 12345678901234567890 0 0 1 1"))
    with pytest.raises(Wannier90FormatError, match=r"line 5: expected an integer below 2\^31"):
        read_wannier90(p, lattice=np.eye(3))
    p.write_text(_HR.format(nw=1, nr=1))
    ws = tmp_path / "x_wsvec.dat"
    ws.write_text("## ws\n    0    0    0    1    1\n1000000000000\n    0    0    0\n")
    with pytest.raises(Wannier90FormatError, match=r"x_wsvec\.dat, line 3: expected an integer below 2\^31"):
        read_wannier90(p, lattice=np.eye(3))
    ws.write_text("## ws\n    0    0    0    1    1\n1000000000\n    0    0    0\n")
    with pytest.raises(Wannier90FormatError, match=r"x_wsvec\.dat, line 3: expected a header count the file can hold"):
        read_wannier90(p, lattice=np.eye(3))


def test_r_dat_of_another_run_refused(tmp_path):
    p = tmp_path / "x_hr.dat"
    p.write_text(_HR.format(nw=1, nr=1))
    (tmp_path / "x_r.dat").write_text(" r\n 2\n 1\n")
    with pytest.raises(Wannier90FormatError, match=r"x_r\.dat, line 2: expected num_wann = 1 as in the Hamiltonian"):
        read_wannier90(p, lattice=np.eye(3))


def _write_chk_records(c, endian):
    """Serialize a checkpoint dict as Fortran sequential records (the layout of w90chk2chk.x -import)."""
    import struct

    def rec(payload):
        n = struct.pack(endian + "i", len(payload))
        return n + payload + n

    def arr(x, dt):
        return np.ascontiguousarray(x).astype(np.dtype(dt).newbyteorder(endian)).tobytes()

    hdr = c["header"].encode().ljust(33)
    out = [rec(hdr), rec(arr([c["num_bands"]], "i4")), rec(arr([len(c["exclude_bands"])], "i4")),
           rec(arr(c["exclude_bands"], "i4")), rec(arr(c["lattice"].T.ravel(), "f8")),
           rec(arr(c["recip_lattice"].T.ravel(), "f8")), rec(arr([c["num_kpts"]], "i4")),
           rec(arr(c["mp_grid"], "i4")), rec(arr(c["kpoints"].ravel(), "f8")), rec(arr([c["nntot"]], "i4")),
           rec(arr([c["num_wann"]], "i4")), rec(c["checkpoint"].encode().ljust(20)),
           rec(arr([int(c["have_disentangled"])], "i4"))]
    if c["have_disentangled"]:
        out += [rec(arr([c["omega_invariant"]], "f8")), rec(arr(c["lwindow"].astype(int).ravel(), "i4")),
                rec(arr(c["ndimwin"], "i4")), rec(arr(c["u_matrix_opt"].transpose(0, 2, 1).ravel(), "c16"))]
    out += [rec(arr(c["u_matrix"].transpose(0, 2, 1).ravel(), "c16")),
            rec(arr(c["m_matrix"].transpose(0, 1, 3, 2).ravel(), "c16")),
            rec(arr(c["centres"].ravel(), "f8")), rec(arr(c["spreads"], "f8"))]
    return b"".join(out)


def test_unformatted_layout_and_byte_order(tmp_path):
    """Re-serializing what the reader understood gives w90chk2chk.x's file byte for byte (so the
    record layout is understood), and the big-endian version reads the same."""
    raw = bz2.open(DATA / "te" / "Te.chk.bz2").read()
    c = wr.read_chk(DATA / "te" / "Te.chk.bz2")
    assert _write_chk_records(c, "<") == raw
    big = tmp_path / "Te.chk"
    big.write_bytes(_write_chk_records(c, ">"))
    b = wr.read_chk(big)
    for key in ("lattice", "kpoints", "u_matrix", "u_matrix_opt", "m_matrix", "centres", "spreads", "lwindow"):
        assert np.array_equal(b[key], c[key])
