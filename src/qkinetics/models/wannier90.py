"""Read and write Wannier90 tight-binding files (``seedname_hr.dat``, ``seedname_tb.dat``).

Formats (checked against the Wannier90 sources, ``src/hamiltonian.F90`` routines
``hamiltonian_write_hr`` / ``hamiltonian_write_tb`` and ``src/ws_distance.F90`` routine
``ws_write_vec``, wannier-developers/wannier90 on GitHub; and against two independent
readers: WannierBerri ``system/system_tb.py`` and WannierIO.jl ``src/w90/tb_dat.jl``,
``src/w90/wsvec_dat.jl``):

``seedname_hr.dat``
    line 1 comment (date); line 2 ``num_wann``; line 3 ``nrpts``; then the ``nrpts``
    Wigner-Seitz degeneracies ``ndegen(R)``, 15 per line (``'(15I5)'``); then
    ``nrpts * num_wann**2`` lines ``R1 R2 R3 m n Re Im`` (``'(5I5,2F12.6)'``), grouped by
    R, with the row index ``m`` running fastest (``do i; do j; write ... j, i,
    ham_r(j, i, irpt)``). ``m, n`` are 1-based, the value is ``<m,0|H|n,R>`` in eV and
    is **not** divided by ``ndegen``: the interpolated Hamiltonian is
    ``H_mn(k) = sum_R e^{ik.R} H_mn(R) / ndegen(R)``.
    The lattice is *not* in this file.
``seedname_tb.dat``
    line 1 comment; lines 2-4 the lattice vectors ``a_1, a_2, a_3`` (Angstrom, one per
    line); ``num_wann``; ``nrpts``; degeneracies 15 per line; then for each R a blank
    line, a line ``R1 R2 R3`` and ``num_wann**2`` lines ``m n Re(H) Im(H)``
    (``'(2I5,3x,2(E15.8,1x))'``, m fastest); then the position matrix: for each R a blank
    line, ``R1 R2 R3`` and ``num_wann**2`` lines ``m n Re(x) Im(x) Re(y) Im(y) Re(z)
    Im(z)`` = ``<m,0|r|n,R>`` (Cartesian, Angstrom). Both blocks are printed undivided by
    ``ndegen``; WannierBerri's ``System_tb`` divides both by ``Ndegen[ir]`` on reading,
    and so do we. The Wannier centres are the diagonal of the R = 0 position block.
``seedname_wsvec.dat`` (``use_ws_distance``, "MDRS")
    one header line, then for every R (in the order of the hr/tb file) and every pair
    ``m`` (outer loop), ``n`` (inner loop): a line ``R1 R2 R3 m n``, a line with the number
    ``ndeg`` of equivalent shifts, and ``ndeg`` lines of three integers ``T`` (written as
    ``irdist_ws - irvec``, i.e. the shift to be *added* to R). Postw90
    (``pw90common_fourier_R_to_k``) then uses
    ``H_mn(k) = sum_R sum_T e^{ik.(R+T)} H_mn(R) / (ndegen(R) ndeg_mn(R))``, i.e. the
    hopping ``H_mn(R)/ndegen(R)`` is split equally over the vectors ``R + T``. A file
    written with ``use_ws_distance=.false.`` has ``ndeg = 1, T = 0`` everywhere and is
    then a no-op.

``seedname_r.dat`` (``write_rmn``)
    comment; ``num_wann``; ``nrpts``; then ``nrpts * num_wann**2`` lines ``R1 R2 R3 n m
    Re(x) Im(x) Re(y) Im(y) Re(z) Im(z)`` = ``<n,0|r|m,R>`` (row n fastest, undivided);
    read beside ``seedname_hr.dat`` (same R order), it gives the same position matrix as
    the second block of ``_tb.dat``.

wannier90.x computes its position blocks with ``-sum_b w_b b Im ln M_nn`` on the diagonal
and without a Hermitian part, so ``r(-R) != r(R)^dagger`` (by ~0.1 Angstrom in practice);
the reader takes ``(r(R) + r(-R)^dagger)/2``, the step postw90 applies to ``A(q)``
(``get_AA_R``), splits it over the wsvec shifts like the hoppings and passes it to
:class:`TightBinding` as ``position_matrix``. The Wannier centres (default positions) are
its real R = 0 diagonal. A ``seedname.win`` path is read as a whole Wannier90 run by
:func:`qkinetics.models.wannier90_run.read_wannier90_run` (postw90's own construction).

In every case Wannier90's Fourier sum uses ``e^{ik.R}`` (the "lattice" convention of
:class:`~qkinetics.models.TightBinding`); the hopping matrices themselves,
``t_R[m, n] = <m,0|H|n,R>``, do not depend on the convention, so the model returned here
has the same bands in both conventions. All files may be ``.bz2`` / ``.gz`` compressed.
Header counts are checked against the file length before anything is allocated.
"""

from __future__ import annotations

import math
import os
from pathlib import Path

import numpy as np

from .base import ModelError
from .tight_binding import TightBinding

__all__ = [
    "Wannier90FormatError",
    "read_wannier90",
    "write_wannier90_hr",
    "write_wannier90_tb",
    "HERMITICITY_TOL",
    "PAD_LENGTH",
]

HERMITICITY_TOL = 1e-4
"""Largest accepted ``max |t_{-R} - t_R^dagger|`` in eV when reading a file (print
precision of Wannier90 is 1e-6 eV); smaller deviations are averaged away."""

PAD_LENGTH = 100.0
"""Length (Angstrom) of the orthogonal lattice vectors added when a 1D or 2D model is
written in the 3D Wannier90 formats."""

_DEGEN_PER_LINE = 15


class Wannier90FormatError(ModelError):
    """A Wannier90 file is malformed or inconsistent with the arguments given.

    The message names the file, the line number (1-based) and what was expected there.
    """


# --------------------------------------------------------------------------- parsing


class _Reader:
    """Line cursor over a text file with 1-based line numbers for error messages."""

    def __init__(self, path: Path):
        self.path = path
        from .wannier90_run import _read_bytes
        self.lines = _read_bytes(path).decode("utf-8", errors="replace").splitlines()
        self.pos = 0  # index of the next line to read

    def error(self, lineno, expected, got=None, fix=None) -> Wannier90FormatError:
        where = f"{self.path}, line {lineno}" if lineno is not None else f"{self.path}"
        msg = f"{where}: expected {expected}"
        if got is not None:
            msg += f"; got {got!r}"
        msg += "."
        if fix:
            msg += " " + fix
        return Wannier90FormatError(msg)

    def next_line(self, expected, skip_blank=False):
        """Return ``(lineno, text)`` of the next (optionally non-blank) line, or raise."""
        while self.pos < len(self.lines):
            text = self.lines[self.pos]
            self.pos += 1
            if skip_blank and not text.strip():
                continue
            return self.pos, text
        raise self.error(
            len(self.lines) + 1, expected, got="end of file",
            fix="The file is truncated or a count in its header (num_wann, nrpts) is wrong; "
                "regenerate it with Wannier90 or fix the header.",
        )

    def peek_nonblank(self):
        """Index of the next non-blank line or None at end of file (does not consume)."""
        i = self.pos
        while i < len(self.lines) and not self.lines[i].strip():
            i += 1
        return i if i < len(self.lines) else None

    def tokens(self, lineno, text, n, expected):
        tok = text.split()
        if len(tok) != n:
            raise self.error(lineno, f"{expected} ({n} field{'s' if n != 1 else ''})",
                             got=text.strip(),
                             fix="Check that the file is a complete, unedited Wannier90 file "
                                 "and that num_wann / nrpts in its header are right.")
        return tok

    def to_int(self, lineno, tok, expected):
        try:
            val = int(tok)
        except ValueError:
            raise self.error(lineno, f"an integer for {expected}", got=tok,
                             fix="The field is not numeric: the file is corrupted or not in "
                                 "Wannier90 format.") from None
        if abs(val) >= 2**31:
            raise self.error(lineno, f"an integer below 2^31 in magnitude for {expected}", got=tok,
                             fix="No Wannier90 file holds such a value: the file is corrupted.")
        return val

    def to_float(self, lineno, tok, expected):
        try:
            val = float(tok.replace("D", "E").replace("d", "e"))
        except ValueError:
            raise self.error(lineno, f"a real number for {expected}", got=tok,
                             fix="The field is not numeric: the file is corrupted or not in "
                                 "Wannier90 format.") from None
        if not math.isfinite(val):
            raise self.error(lineno, f"a finite real number for {expected}", got=tok,
                             fix="Remove NaN/Inf entries (a failed Wannierisation?).")
        return val

    def positive_int_line(self, what):
        lineno, text = self.next_line(what)
        (tok,) = self.tokens(lineno, text, 1, what)
        val = self.to_int(lineno, tok, what)
        if val <= 0:
            raise self.error(lineno, f"a positive integer for {what}", got=text.strip())
        return lineno, val

    def check_declared(self, lineno, count, needed, what):
        """Refuse header counts the rest of the file cannot hold, before anything is allocated.

        A file short by a few lines is left to the parser, which names the line where it ends;
        a count beyond twice the remaining lines (a corrupt header, e.g. num_wann = 1e9) is
        refused here, so that no allocation exceeds a small multiple of the file size.
        """
        left = len(self.lines) - self.pos
        if needed > 2 * left + 16:
            raise self.error(
                lineno, f"a header count the file can hold: {what} = {needed} lines are needed but only "
                        f"{left} lines follow", got=str(count),
                fix="The header (num_wann, nrpts) is corrupt or the file is truncated; regenerate it.")

    def degeneracies(self, nrpts):
        """Read ``nrpts`` positive integers spread over lines (15 per line in Wannier90)."""
        out = []
        while len(out) < nrpts:
            lineno, text = self.next_line(
                f"Wigner-Seitz degeneracy {len(out) + 1} of nrpts={nrpts}", skip_blank=True)
            for tok in text.split():
                if len(out) == nrpts:
                    raise self.error(
                        lineno, f"only {nrpts} degeneracies (nrpts in the header)",
                        got=text.strip(),
                        fix="nrpts does not match the number of degeneracies: fix nrpts.")
                d = self.to_int(lineno, tok, f"Wigner-Seitz degeneracy {len(out) + 1}")
                if d <= 0:
                    raise self.error(lineno, "positive degeneracies", got=tok)
                out.append(d)
        return np.array(out, dtype=int)


def _check_block_index(rd, lineno, m, n, nw, seen, R):
    if not (1 <= m <= nw and 1 <= n <= nw):
        raise rd.error(lineno, f"orbital indices m, n between 1 and num_wann={nw}",
                       got=f"m={m}, n={n}",
                       fix="num_wann in the header does not match the data.")
    if (m, n) in seen:
        raise rd.error(lineno, f"each pair (m, n) once per R vector; (m, n)=({m}, {n}) repeats for R={R}",
                       fix="num_wann or nrpts in the header does not match the data.")
    seen.add((m, n))


def _fast_table(lines, ncol):
    """Vectorised parse of lines holding exactly ``ncol`` finite numbers each, else None."""
    if not lines:
        return None
    try:
        arr = np.loadtxt(lines, dtype=float, comments=None, ndmin=2)
    except ValueError:
        return None
    if arr.shape != (len(lines), ncol) or not np.all(np.isfinite(arr)):
        return None
    return arr


def _as_int(arr):
    if np.any(arr != np.round(arr)) or np.any(np.abs(arr) > 2**31):
        return None
    return arr.astype(int)


def _fast_blocks(R, m, n, nrpts, nw):
    """Validate block structure: R (nrpts, 3) distinct, (m, n) a permutation per block.

    Returns flat indices (nrpts, nw*nw) into an (nw, nw) matrix, or None.
    """
    if len(np.unique(R, axis=0)) != nrpts:
        return None
    if m.min() < 1 or m.max() > nw or n.min() < 1 or n.max() > nw:
        return None
    idx = (m - 1) * nw + (n - 1)
    if np.any(np.sort(idx, axis=1) != np.arange(nw * nw)):
        return None
    return idx


def _fast_hr(lines, nrpts, nw):
    """Fast path for a well-formed hr.dat body; None means 'use the checked slow parser'."""
    nw2 = nw * nw
    if len(lines) != nrpts * nw2:
        return None
    arr = _fast_table(lines, 7)
    if arr is None:
        return None
    ints = _as_int(arr[:, :5])
    if ints is None:
        return None
    b = ints.reshape(nrpts, nw2, 5)
    R = b[:, 0, :3]
    if np.any(b[:, :, :3] != R[:, None, :]):
        return None
    idx = _fast_blocks(R, b[:, :, 3], b[:, :, 4], nrpts, nw)
    if idx is None:
        return None
    H = np.zeros((nrpts, nw2), dtype=complex)
    H[np.arange(nrpts)[:, None], idx] = (arr[:, 5] + 1j * arr[:, 6]).reshape(nrpts, nw2)
    return R, H.reshape(nrpts, nw, nw)


def _fast_tb_section(lines, nrpts, nw, ncol):
    """Fast path for nrpts blocks of an 'R1 R2 R3' line plus nw^2 lines 'm n' + ncol reals."""
    nw2 = nw * nw
    per = 1 + nw2
    if len(lines) != nrpts * per:
        return None
    Rarr = _fast_table(lines[0::per], 3)
    mat = list(lines)
    del mat[0::per]
    marr = _fast_table(mat, 2 + ncol)
    if Rarr is None or marr is None:
        return None
    R = _as_int(Rarr)
    mn = _as_int(marr[:, :2])
    if R is None or mn is None:
        return None
    mn = mn.reshape(nrpts, nw2, 2)
    idx = _fast_blocks(R, mn[:, :, 0], mn[:, :, 1], nrpts, nw)
    if idx is None:
        return None
    vals = (marr[:, 2::2] + 1j * marr[:, 3::2]).reshape(nrpts, nw2, ncol // 2)
    out = np.zeros((nrpts, nw2, ncol // 2), dtype=complex)
    out[np.arange(nrpts)[:, None], idx] = vals
    return R, out.reshape(nrpts, nw, nw, ncol // 2)


def _parse_hr(path: Path):
    rd = _Reader(path)
    rd.next_line("a comment line (line 1)")
    nw_line, nw = rd.positive_int_line("num_wann (number of Wannier functions)")
    nr_line, nrpts = rd.positive_int_line("nrpts (number of R vectors)")
    ndegen = rd.degeneracies(nrpts)
    rd.check_declared(nr_line, nrpts, nrpts * nw * nw, "nrpts * num_wann^2 hopping lines")
    fast = _fast_hr([ln for ln in rd.lines[rd.pos:] if ln.strip()], nrpts, nw)
    if fast is not None:
        return dict(num_wann=nw, num_wann_line=nw_line, R=fast[0], ndegen=ndegen, H=fast[1], r=None,
                    lattice=None)
    Rs = np.zeros((nrpts, 3), dtype=int)
    H = np.zeros((nrpts, nw, nw), dtype=complex)
    Rindex = {}
    for ir in range(nrpts):
        seen = set()
        for _ in range(nw * nw):
            what = f"a hopping line 'R1 R2 R3 m n Re(H) Im(H)' (R vector {ir + 1} of {nrpts})"
            lineno, text = rd.next_line(what, skip_blank=True)
            tok = rd.tokens(lineno, text, 7, what)
            R = tuple(rd.to_int(lineno, t, "the lattice vector R") for t in tok[:3])
            m = rd.to_int(lineno, tok[3], "the orbital index m")
            n = rd.to_int(lineno, tok[4], "the orbital index n")
            re = rd.to_float(lineno, tok[5], "Re H_mn(R)")
            im = rd.to_float(lineno, tok[6], "Im H_mn(R)")
            if not seen:
                if R in Rindex:
                    raise rd.error(lineno, f"a new R vector for block {ir + 1}; R={R} was already listed",
                                   fix="num_wann or nrpts in the header does not match the data.")
                Rindex[R] = ir
                Rs[ir] = R
            elif R != tuple(Rs[ir]):
                raise rd.error(lineno, f"R={tuple(int(r) for r in Rs[ir])} (all {nw * nw} lines of a block share R)",
                               got=text.strip(),
                               fix="num_wann in the header does not match the data.")
            _check_block_index(rd, lineno, m, n, nw, seen, R)
            H[ir, m - 1, n - 1] = complex(re, im)
    extra = rd.peek_nonblank()
    if extra is not None:
        raise rd.error(extra + 1, f"end of file after nrpts*num_wann^2 = {nrpts * nw * nw} hopping lines",
                       got=rd.lines[extra].strip(),
                       fix="nrpts or num_wann in the header is too small for the data.")
    return dict(num_wann=nw, num_wann_line=nw_line, R=Rs, ndegen=ndegen, H=H, r=None, lattice=None)


def _parse_tb(path: Path):
    rd = _Reader(path)
    rd.next_line("a comment line (line 1)")
    lattice = np.zeros((3, 3))
    for i in range(3):
        what = f"lattice vector a_{i + 1} (three reals, Angstrom)"
        lineno, text = rd.next_line(what)
        tok = rd.tokens(lineno, text, 3, what)
        lattice[i] = [rd.to_float(lineno, t, f"a component of a_{i + 1}") for t in tok]
    if abs(np.linalg.det(lattice)) < 1e-12:
        raise rd.error(2, "three linearly independent lattice vectors on lines 2-4",
                       got=f"zero cell volume: {lattice.tolist()}")
    nw_line, nw = rd.positive_int_line("num_wann (number of Wannier functions)")
    nr_line, nrpts = rd.positive_int_line("nrpts (number of R vectors)")
    ndegen = rd.degeneracies(nrpts)
    rd.check_declared(nr_line, nrpts, nrpts * (1 + nw * nw), "nrpts * (1 + num_wann^2) Hamiltonian lines")

    def block(ir, ncol, label):
        what = f"an R-vector line 'R1 R2 R3' ({label} block, R vector {ir + 1} of {nrpts})"
        lineno, text = rd.next_line(what, skip_blank=True)
        tok = rd.tokens(lineno, text, 3, what)
        R = tuple(rd.to_int(lineno, t, "the lattice vector R") for t in tok)
        vals = np.zeros((nw, nw, ncol // 2), dtype=complex)
        seen = set()
        for _ in range(nw * nw):
            fields = "m n Re Im" if ncol == 2 else "m n Re(x) Im(x) Re(y) Im(y) Re(z) Im(z)"
            what = f"a matrix-element line '{fields}' ({label} block, R={R})"
            ln, text = rd.next_line(what, skip_blank=True)
            tok = rd.tokens(ln, text, 2 + ncol, what)
            m = rd.to_int(ln, tok[0], "the orbital index m")
            n = rd.to_int(ln, tok[1], "the orbital index n")
            _check_block_index(rd, ln, m, n, nw, seen, R)
            x = [rd.to_float(ln, t, f"a {label} matrix element") for t in tok[2:]]
            vals[m - 1, n - 1] = np.array(x[0::2]) + 1j * np.array(x[1::2])
        return lineno, R, vals

    body = [ln for ln in rd.lines[rd.pos:] if ln.strip()]
    nsec = nrpts * (1 + nw * nw)
    fastH = _fast_tb_section(body[:nsec], nrpts, nw, 2)
    if fastH is not None and len(body) in (nsec, 2 * nsec):
        r = None
        if len(body) == 2 * nsec:
            fastr = _fast_tb_section(body[nsec:], nrpts, nw, 6)
            if fastr is not None and np.array_equal(fastr[0], fastH[0]):
                r = fastr[1]
        if len(body) == nsec or r is not None:
            return dict(num_wann=nw, num_wann_line=nw_line, R=fastH[0], ndegen=ndegen, H=fastH[1][..., 0],
                        r=r, lattice=lattice, path=path, nlines=len(rd.lines))
    Rs = np.zeros((nrpts, 3), dtype=int)
    H = np.zeros((nrpts, nw, nw), dtype=complex)
    seenR = set()
    for ir in range(nrpts):
        lineno, R, vals = block(ir, 2, "Hamiltonian")
        if R in seenR:
            raise rd.error(lineno, f"a new R vector for block {ir + 1}; R={R} was already listed",
                           fix="num_wann or nrpts in the header does not match the data.")
        seenR.add(R)
        Rs[ir] = R
        H[ir] = vals[..., 0]
    r = None
    if rd.peek_nonblank() is not None:
        r = np.zeros((nrpts, nw, nw, 3), dtype=complex)
        for ir in range(nrpts):
            lineno, R, vals = block(ir, 6, "position")
            if R != tuple(Rs[ir]):
                raise rd.error(lineno, f"R={tuple(int(x) for x in Rs[ir])} (position blocks follow the "
                                       "order of the Hamiltonian blocks)", got=str(R))
            r[ir] = vals
        extra = rd.peek_nonblank()
        if extra is not None:
            raise rd.error(extra + 1, "end of file after the position blocks",
                           got=rd.lines[extra].strip(),
                           fix="nrpts or num_wann in the header is too small for the data.")
    return dict(num_wann=nw, num_wann_line=nw_line, R=Rs, ndegen=ndegen, H=H, r=r,
                lattice=lattice, path=path, nlines=len(rd.lines))


def _parse_wsvec(path: Path, nw: int):
    """``{(R, m, n): T array (ndeg, 3)}`` with 0-based m, n."""
    rd = _Reader(path)
    rd.next_line("a header line (line 1)")
    out = {}
    while rd.peek_nonblank() is not None:
        what = "a line 'R1 R2 R3 m n'"
        lineno, text = rd.next_line(what, skip_blank=True)
        tok = rd.tokens(lineno, text, 5, what)
        vals = [rd.to_int(lineno, t, "R or an orbital index") for t in tok]
        R, m, n = tuple(vals[:3]), vals[3], vals[4]
        if not (1 <= m <= nw and 1 <= n <= nw):
            raise rd.error(lineno, f"orbital indices between 1 and num_wann={nw}", got=text.strip(),
                           fix="This wsvec file belongs to a different model: regenerate or delete it.")
        if (R, m - 1, n - 1) in out:
            raise rd.error(lineno, f"each (R, m, n) once; {R, m, n} repeats")
        ln, t2 = rd.next_line("the number of shift vectors ndeg", skip_blank=True)
        (tk,) = rd.tokens(ln, t2, 1, "the number of shift vectors ndeg")
        ndeg = rd.to_int(ln, tk, "ndeg")
        if ndeg <= 0:
            raise rd.error(ln, "a positive ndeg", got=t2.strip())
        rd.check_declared(ln, ndeg, ndeg, "ndeg shift-vector")
        T = np.zeros((ndeg, 3), dtype=int)
        for i in range(ndeg):
            ln, t3 = rd.next_line(f"shift vector {i + 1} of {ndeg} 'T1 T2 T3' for R={R}, m={m}, n={n}",
                                  skip_blank=True)
            tk = rd.tokens(ln, t3, 3, "a shift vector 'T1 T2 T3'")
            T[i] = [rd.to_int(ln, t, "a shift vector component") for t in tk]
        out[(R, m - 1, n - 1)] = T
    return out


# -------------------------------------------------------------------------- building


def _plain_name(path: Path) -> str:
    """File name without a .bz2 / .gz suffix."""
    name = path.name
    for suf in (".bz2", ".gz"):
        if name.endswith(suf):
            return name[: -len(suf)]
    return name


def _sibling(path: Path, suffix: str, new: str):
    """``seedname + new`` (or its .bz2 / .gz) beside ``path`` named ``seedname + suffix``; None if absent."""
    from .wannier90_run import find_run_file
    name = _plain_name(path)
    if not name.endswith(suffix):
        return None
    return find_run_file(path.with_name(name[: -len(suffix)]), new, required=False)


def _parse_r(path: Path, nw: int, Rs):
    """``seedname_r.dat``: position blocks ``(nrpts, nw, nw, 3)`` in the R order of the hr file.

    Layout (``hamiltonian_write_rmn``): comment; num_wann; nrpts; then for each R and each
    pair (row n fastest) a line ``R1 R2 R3 n m Re(x) Im(x) Re(y) Im(y) Re(z) Im(z)`` holding
    ``<n,0|r|m,R>`` in Angstrom, not divided by ndegen.
    """
    rd = _Reader(path)
    rd.next_line("a comment line (line 1)")
    ln, nw_r = rd.positive_int_line("num_wann (number of Wannier functions)")
    if nw_r != nw:
        raise rd.error(ln, f"num_wann = {nw} as in the Hamiltonian file", got=str(nw_r),
                       fix="The _r.dat file belongs to another run: regenerate it or remove it.")
    ln, nrpts = rd.positive_int_line("nrpts (number of R vectors)")
    if nrpts != len(Rs):
        raise rd.error(ln, f"nrpts = {len(Rs)} as in the Hamiltonian file", got=str(nrpts),
                       fix="The _r.dat file belongs to another run: regenerate it or remove it.")
    rd.check_declared(ln, nrpts, nrpts * nw * nw, "nrpts * num_wann^2 position lines")
    body = [l for l in rd.lines[rd.pos:] if l.strip()]
    index = {tuple(int(x) for x in R): i for i, R in enumerate(Rs)}
    if len(body) != nrpts * nw * nw:
        raise rd.error(len(rd.lines), f"nrpts * num_wann^2 = {nrpts * nw * nw} position lines", got=f"{len(body)} lines",
                       fix="The file is truncated or belongs to another run.")
    arr = _fast_table(body, 11)
    ints = None if arr is None else _as_int(arr[:, :5])
    if ints is None:
        for i, text in enumerate(body):
            tok = rd.tokens(rd.pos + i + 1, text, 11, "a line 'R1 R2 R3 n m' and six reals")
            [rd.to_int(rd.pos + i + 1, t, "an integer field") for t in tok[:5]]
            [rd.to_float(rd.pos + i + 1, t, "a position matrix element") for t in tok[5:]]
        raise rd.error(rd.pos + 1, "a well-formed position table")
    r = np.zeros((nrpts, nw, nw, 3), dtype=complex)
    seen = np.zeros((nrpts, nw, nw), dtype=bool)
    for line, (R1, R2, R3, n, m) in enumerate(ints):
        i = index.get((R1, R2, R3))
        if i is None or not (1 <= n <= nw and 1 <= m <= nw) or seen[i, n - 1, m - 1]:
            raise rd.error(rd.pos + line + 1, "an R vector of the Hamiltonian file and each pair (n, m) once per R",
                           got=body[line].strip(), fix="The _r.dat file belongs to another run.")
        seen[i, n - 1, m - 1] = True
    ridx = np.array([index[tuple(x)] for x in ints[:, :3]])
    r[ridx, ints[:, 3] - 1, ints[:, 4] - 1] = arr[:, 5::2] + 1j * arr[:, 6::2]
    return r


def _detect_kind(path: Path) -> str:
    name = _plain_name(path)
    if name.endswith("_hr.dat"):
        return "hr"
    if name.endswith("_tb.dat"):
        return "tb"
    # Sniff: tb.dat has three reals on line 2 (a_1), hr.dat one integer (num_wann).
    from .wannier90_run import _open_text
    with _open_text(path) as f:
        f.readline()
        second = f.readline().split()
    if len(second) == 3:
        return "tb"
    if len(second) == 1:
        return "hr"
    raise Wannier90FormatError(
        f"{path}, line 2: cannot tell whether this is a seedname_hr.dat (line 2 = num_wann) or a "
        f"seedname_tb.dat (line 2 = lattice vector a_1) file; got {' '.join(second)!r}. "
        "Rename it to end in _hr.dat or _tb.dat."
    )


def _apply_wsvec(path, wsvec, Rs, H, nw):
    """Split each ``H_mn(R)`` over ``R + T`` for the shifts T of ``wsvec``; return dict."""
    hop = {}
    Rs = [tuple(int(x) for x in R) for R in Rs]
    for ir, R in enumerate(Rs):
        for m in range(nw):
            for n in range(nw):
                T = wsvec.get((R, m, n))
                if T is None:
                    raise Wannier90FormatError(
                        f"{path}: no entry for R={R}, m={m + 1}, n={n + 1}, which the Hamiltonian file "
                        "contains. The wsvec file does not belong to this Hamiltonian: regenerate it "
                        "with the same Wannier90 run, delete it, or pass use_ws_distance=False.")
                val = H[ir, m, n] / len(T)
                for t in T:
                    key = (R[0] + int(t[0]), R[1] + int(t[1]), R[2] + int(t[2]))
                    blk = hop.get(key)
                    if blk is None:
                        blk = hop[key] = np.zeros((nw, nw), dtype=complex)
                    blk[m, n] += val
    known = set(Rs)
    for (R, m, n) in wsvec:
        if R not in known:
            raise Wannier90FormatError(
                f"{path}: entry for R={R}, m={m + 1}, n={n + 1} has no counterpart in the Hamiltonian "
                "file. The wsvec file does not belong to this Hamiltonian: regenerate or delete it, "
                "or pass use_ws_distance=False.")
    return hop


def _symmetrize(path, hop, nw, tol, what="hoppings", unit="eV"):
    """Average ``t_R`` with ``t_{-R}^dagger``; raise if they differ by more than ``tol`` (eV or Angstrom)."""
    out = {}
    zero = np.zeros((nw, nw), dtype=complex)
    worst, worstR = 0.0, None
    for R in set(hop) | {tuple(-r for r in R) for R in hop}:
        mR = tuple(-r for r in R)
        a = hop.get(R, zero)
        b = hop.get(mR, zero)
        dev = float(np.max(np.abs(a - b.conj().T))) if nw else 0.0
        if dev > worst:
            worst, worstR = dev, R
        out[R] = 0.5 * (a + b.conj().T)
    if worst > tol:
        R = worstR
        mR = tuple(-r for r in R)
        raise Wannier90FormatError(
            f"{path}: the {what} are not Hermitian: max |O(-R) - O(R)^dagger| = {worst:.3g} {unit} at "
            f"R={R} / {mR} exceeds the tolerance hermiticity_tol={tol:g} (Wannier90 files are "
            "Hermitian to print precision, ~1e-6). The file is corrupted or hand-edited; fix the "
            "entries for these R (or raise hermiticity_tol if the asymmetry is expected).")
    return out, worst


def _pad_lattice(lat, dim):
    full = np.eye(3) * PAD_LENGTH
    full[:dim, :dim] = lat
    return full


def read_wannier90(path, lattice=None, positions=None, convention="positions", *,
                   use_ws_distance=None, hermiticity_tol=HERMITICITY_TOL, dim=None, name=None):
    """Read a Wannier90 ``seedname_hr.dat``, ``seedname_tb.dat`` or a whole run (``seedname.win``).

    Parameters
    ----------
    path : str or path-like
        The file. ``*_hr.dat`` and ``*_tb.dat`` are recognised by name (otherwise by content);
        ``*.win`` reads the run (``.win``, ``.chk``/``.chk.fmt``, ``.eig``, ``.mmn``) with
        :func:`~qkinetics.models.wannier90_run.read_wannier90_run`, which takes
        ``convention``, ``use_ws_distance`` and ``name`` only. A ``seedname_r.dat`` beside a
        ``_hr.dat`` file supplies its position matrix. Compressed files (``.bz2``, ``.gz``)
        are read transparently.
    lattice : array_like, shape (3, 3), optional
        Primitive vectors as rows, Angstrom. **Required** for ``_hr.dat`` (which does not
        contain the lattice). For ``_tb.dat`` the lattice is read from the file; if given it
        must agree with it to 1e-6 Angstrom. With ``dim < 3`` a ``(dim, dim)`` lattice is
        accepted and padded with orthogonal ``PAD_LENGTH`` vectors.
    positions : array_like, shape (num_wann, 3) or (num_wann, dim), optional
        Orbital (Wannier-centre) positions in reduced coordinates. Default: for ``_tb.dat``
        the Wannier centres, i.e. the real diagonal of the R = 0 position block converted
        from Cartesian to reduced coordinates; for ``_hr.dat`` all zeros, in which case the
        ``"positions"`` convention coincides with the ``"lattice"`` one and k-local Berry
        curvature / quantum metric follow the lattice convention (bands and integrated
        invariants are unaffected).
    convention : {"positions", "lattice"}
        Fourier convention of the returned :class:`TightBinding`.
    use_ws_distance : bool or None
        Apply the ``seedname_wsvec.dat`` correction (Wannier90 ``use_ws_distance``):
        ``None`` (default) applies it when that file exists beside ``path``; ``True``
        requires it; ``False`` ignores it.
    hermiticity_tol : float
        Largest accepted ``max |H(-R) - H(R)^dagger|`` in eV (default 1e-4). Below it the
        rounding asymmetry is removed by averaging ``t_R`` and ``t_{-R}^dagger``; above it
        :class:`Wannier90FormatError` is raised.
    dim : {None, 1, 2, 3}
        Return a lower-dimensional model: requires every R (after the wsvec shifts) to
        vanish beyond the first ``dim`` components and the first ``dim`` lattice vectors to
        have no Cartesian components beyond ``dim``. Reduced positions beyond ``dim`` are
        dropped. Default: 3.
    name : str, optional
        Model name; default the file name.

    Returns
    -------
    TightBinding
        ``t_R[m, n] = H_mn(R) / ndegen(R)`` in eV (split over ``R + T`` with the wsvec
        shifts), Hermitian by construction; ``position_matrix`` (Angstrom, the Hermitian
        part of the file's, divided and split the same way) when the file has one;
        ``provenance`` (files with sha256, num_wann, nrpts, use_ws_distance, the largest
        asymmetries removed).

    Raises
    ------
    Wannier90FormatError
        Malformed or truncated file, wrong counts, non-numeric fields, inconsistent wsvec
        file, missing lattice for ``_hr.dat``, ``positions`` of the wrong shape, or a
        non-Hermiticity above ``hermiticity_tol``. The message names the file and line.
    """
    path = Path(os.fspath(path))
    if _plain_name(path).endswith(".win"):
        from .wannier90_run import read_wannier90_run
        if lattice is not None or positions is not None or dim not in (None, 3):
            raise Wannier90FormatError(
                f"{path}: a Wannier90 run (.win) carries its own lattice and Wannier centres in 3D; "
                "lattice=, positions= and dim= apply only to _hr.dat / _tb.dat files.")
        return read_wannier90_run(path, convention=convention, use_ws_distance=use_ws_distance, name=name)
    kind = _detect_kind(path)
    data = _parse_hr(path) if kind == "hr" else _parse_tb(path)
    nw = data["num_wann"]
    files = {kind: path}
    if dim is None:
        dim = 3
    if dim not in (1, 2, 3):
        raise Wannier90FormatError(f"dim must be 1, 2 or 3; got {dim!r}.")

    # ---- position matrix: the second block of _tb.dat, or _r.dat beside _hr.dat
    if kind == "hr":
        rfile = _sibling(path, "_hr.dat", "_r.dat")
        if rfile is not None:
            data["r"] = _parse_r(rfile, nw, data["R"])
            files["r"] = rfile

    # ---- lattice
    if lattice is not None:
        lat = np.asarray(lattice, dtype=float)
        if lat.shape == (dim, dim) and dim < 3:
            lat = _pad_lattice(lat, dim)
        if lat.shape != (3, 3) or not np.all(np.isfinite(lat)):
            raise Wannier90FormatError(
                f"{path}: lattice must be a finite (3, 3) array of primitive vectors as rows in Angstrom"
                f"{f' (or ({dim}, {dim}) with dim={dim})' if dim < 3 else ''}; got shape {lat.shape}.")
    else:
        lat = None
    if kind == "hr":
        if lat is None:
            raise Wannier90FormatError(
                f"{path}, lines 1-3: a seedname_hr.dat file holds no lattice vectors (line 1 comment, "
                "line 2 num_wann, line 3 nrpts): pass lattice= (3x3, rows a_1, a_2, a_3 in Angstrom, "
                "e.g. from the unit_cell_cart block of seedname.win) or read seedname_tb.dat instead.")
    else:
        if lat is not None and not np.allclose(lat, data["lattice"], atol=1e-6, rtol=0):
            raise Wannier90FormatError(
                f"{path}, lines 2-4: the lattice in the file {data['lattice'].tolist()} differs from the "
                f"lattice= argument {lat.tolist()}; omit lattice= for a _tb.dat file.")
        lat = data["lattice"]

    # ---- positions
    if positions is not None:
        pos = np.asarray(positions, dtype=float)
        if pos.ndim == 2 and pos.shape == (nw, dim) and dim < 3:
            pos = np.concatenate([pos, np.zeros((nw, 3 - dim))], axis=1)
        if pos.shape != (nw, 3) or not np.all(np.isfinite(pos)):
            raise Wannier90FormatError(
                f"{path}, line {data['num_wann_line']}: the file has num_wann={nw} Wannier functions, "
                f"so positions must have shape ({nw}, 3) (reduced coordinates); got shape {pos.shape}. "
                "Pass one position per Wannier function, in the file's orbital order.")
    elif data["r"] is not None:
        iR0 = [i for i, R in enumerate(data["R"]) if not np.any(R)]
        if not iR0:
            raise Wannier90FormatError(
                f"{path}: no R = (0, 0, 0) block, so the Wannier centres (diagonal of <m,0|r|m,0>) "
                "cannot be read; pass positions= explicitly.")
        i0 = iR0[0]
        centres = np.real(np.diagonal(data["r"][i0], axis1=0, axis2=1)).T / data["ndegen"][i0]  # (nw, 3) Angstrom
        pos = centres @ np.linalg.inv(lat)
    elif kind == "tb":
        raise Wannier90FormatError(
            f"{path}, line {data['nlines'] + 1}: expected the position-matrix blocks after the "
            "Hamiltonian blocks (to take the Wannier centres from); got end of file. Pass "
            "positions= explicitly or use a complete _tb.dat file.")
    else:
        pos = np.zeros((nw, 3))

    # ---- hoppings and positions: divide by ndegen, split over the MDRS shifts, symmetrize
    Hd = data["H"] / data["ndegen"][:, None, None]
    rdiv = None if data["r"] is None else data["r"] / data["ndegen"][:, None, None, None]
    wsfile = _sibling(path, f"_{kind}.dat", "_wsvec.dat")
    if use_ws_distance is None:
        use_ws_distance = wsfile is not None
    if use_ws_distance:
        if wsfile is None:
            raise Wannier90FormatError(
                f"{path}: use_ws_distance=True but the file seedname_wsvec.dat does not exist beside it; "
                "copy it from the Wannier90 run or pass use_ws_distance=False.")
        files["wsvec"] = wsfile
        wsvec = _parse_wsvec(wsfile, nw)
        hop = _apply_wsvec(wsfile, wsvec, data["R"], Hd, nw)
        rsplit = None if rdiv is None else [_apply_wsvec(wsfile, wsvec, data["R"], rdiv[..., a], nw)
                                             for a in range(3)]
    else:
        hop = {tuple(int(x) for x in R): Hd[i] for i, R in enumerate(data["R"])}
        rsplit = None if rdiv is None else [{tuple(int(x) for x in R): rdiv[i, :, :, a]
                                             for i, R in enumerate(data["R"])} for a in range(3)]
    hop, herm_dev = _symmetrize(path, hop, nw, float(hermiticity_tol))
    pmat, pos_dev = None, 0.0
    if rsplit is not None:
        # wannier90.x prints its finite-difference r(R) without taking the Hermitian part; postw90
        # (get_AA_R) takes the Hermitian part of A(q), i.e. (r(R) + r(-R)^dagger)/2: do the same.
        comps = [_symmetrize(files.get("r", path), rs, nw, np.inf, what="position matrix", unit="Angstrom")
                 for rs in rsplit]
        pos_dev = max(c[1] for c in comps)
        pmat = {R: np.stack([c[0][R] for c in comps]) for R in comps[0][0]}

    # ---- optional reduction to 1D / 2D
    if dim < 3:
        bad = [R for R, t in hop.items() if any(R[dim:]) and np.any(t != 0)]
        if pmat is not None:
            bad += [R for R, r in pmat.items() if any(R[dim:]) and np.any(r[:dim] != 0)]
        if bad:
            raise Wannier90FormatError(
                f"{path}: dim={dim} requested but hoppings or position matrix elements with R={bad[0]} leave "
                f"the first {dim} lattice directions; read with dim=None (3D) instead.")
        if np.any(np.abs(lat[:dim, dim:]) > 1e-9):
            raise Wannier90FormatError(
                f"{path}: dim={dim} requested but the first {dim} lattice vectors {lat[:dim].tolist()} have "
                f"Cartesian components beyond the first {dim}; read with dim=None (3D) instead.")
        hop = {R[:dim]: t for R, t in hop.items() if not any(R[dim:])}
        if pmat is not None:
            pmat = {R[:dim]: r[:dim] for R, r in pmat.items() if not any(R[dim:])}
        lat = lat[:dim, :dim]
        pos = pos[:, :dim]

    from .wannier90_run import _sha256
    provenance = {
        "source": f"wannier90 _{kind}.dat",
        "files": {k: {"path": str(p), "sha256": _sha256(p)} for k, p in files.items()},
        "num_wann": nw, "nrpts": int(len(data["R"])), "ndegen_max": int(np.max(data["ndegen"])),
        "use_ws_distance": bool(use_ws_distance), "position_matrix": pmat is not None,
        "position_file": str(files.get("r", files[kind])) if pmat is not None else None,
        "positions": "given" if positions is not None else ("Re <n,0|r|n,0>" if pmat is not None else "zeros"),
        "hermiticity_tol": float(hermiticity_tol), "dim": dim,
        "max_hopping_asymmetry_eV": float(herm_dev),
        "max_position_asymmetry_angstrom": float(pos_dev),
    }
    try:
        model = TightBinding(lat, pos, hop, hermiticity="check", convention=convention,
                             name=name if name is not None else _plain_name(path), position_matrix=pmat)
    except Wannier90FormatError:
        raise
    except ModelError as exc:
        raise Wannier90FormatError(f"{path}: {exc}") from exc
    model.provenance = provenance
    return model


# --------------------------------------------------------------------------- writing


def _as_3d(model):
    if not isinstance(model, TightBinding):
        raise ModelError(f"only TightBinding models can be written in Wannier90 format; got {type(model).__name__}.")
    d = model.dim
    lat = _pad_lattice(model.lattice, d) if d < 3 else np.array(model.lattice, dtype=float)
    pos = np.zeros((model.norb, 3))
    pos[:, :d] = model.positions
    hop = {}
    for R, t in model.hoppings.items():
        hop[tuple(R) + (0,) * (3 - d)] = np.asarray(t, dtype=complex)
    Rs = sorted(hop)
    return lat, pos, Rs, hop


def _degen_lines(nrpts):
    vals = ["%5d" % 1] * nrpts
    return ["".join(vals[i:i + _DEGEN_PER_LINE]) for i in range(0, nrpts, _DEGEN_PER_LINE)]


def _header(model, kind):
    return (f" {kind} written by qkinetics for model {model.name!r}; ndegen = 1 for every R"
            + (f"; dims {model.dim + 1}..3 padded with {PAD_LENGTH:g} Angstrom vectors" if model.dim < 3 else ""))


def _write_wsvec(path: Path, suffix: str, Rs, nw):
    if not path.name.endswith(suffix):
        raise ModelError(f"wsvec=True needs a file name ending in {suffix} (to name seedname_wsvec.dat); got {path.name}.")
    ws = path.with_name(path.name[: -len(suffix)] + "_wsvec.dat")
    lines = ["## written by qkinetics with use_ws_distance=.false."]
    for R in Rs:
        for m in range(1, nw + 1):
            for n in range(1, nw + 1):
                lines.append("%5d %5d %5d %5d %5d" % (R[0], R[1], R[2], m, n))
                lines.append("%5d" % 1)
                lines.append("%5d %5d %5d" % (0, 0, 0))
    _write_atomic(ws, "\n".join(lines) + "\n")


def write_wannier90_hr(model, path, *, wsvec=False):
    """Write a :class:`TightBinding` as a Wannier90 ``seedname_hr.dat`` file.

    Parameters
    ----------
    model : TightBinding
        Any dimension. 1D/2D models are written as 3D: R is padded with zeros (the lattice
        is not part of this format; read back with ``lattice=`` and, if wanted, ``dim=``).
    path : str or path-like
        Output file, normally ``seedname_hr.dat``.
    wsvec : bool
        Also write a trivial ``seedname_wsvec.dat`` (``ndeg = 1``, ``T = 0``).

    Notes
    -----
    Every ``ndegen(R)`` is 1, values are ``t_R[m, n] = <m,0|H|n,R>`` in eV printed with
    ``%.16e`` (full double precision), lines ordered as Wannier90 does (R lexicographic,
    row index m fastest). Orbital positions are not stored in this format.
    """
    path = Path(os.fspath(path))
    _, _, Rs, hop = _as_3d(model)
    nw = model.norb
    lines = [_header(model, "hr.dat"), "%12d" % nw, "%12d" % len(Rs)] + _degen_lines(len(Rs))
    for R in Rs:
        t = hop[R]
        for n in range(nw):
            for m in range(nw):
                v = t[m, n]
                lines.append("%5d %5d %5d %5d %5d %24.16e %24.16e" % (R[0], R[1], R[2], m + 1, n + 1, v.real, v.imag))
    _write_atomic(path, "\n".join(lines) + "\n")
    if wsvec:
        _write_wsvec(path, "_hr.dat", Rs, nw)


def write_wannier90_tb(model, path, *, wsvec=False):
    """Write a :class:`TightBinding` as a Wannier90 ``seedname_tb.dat`` file.

    Parameters
    ----------
    model : TightBinding
        Any dimension. For 1D/2D models the lattice is padded to 3x3 with orthogonal
        vectors of length ``PAD_LENGTH`` (100 Angstrom) and R, positions and position
        matrix components with zeros.
    path : str or path-like
        Output file, normally ``seedname_tb.dat``.
    wsvec : bool
        Also write a trivial ``seedname_wsvec.dat`` (``ndeg = 1``, ``T = 0``).

    Notes
    -----
    Lattice rows in Angstrom, every ``ndegen(R)`` 1 (the hoppings are written already
    divided by ``ndegen`` and split over the MDRS vectors, so no wsvec file is needed),
    Hamiltonian blocks ``t_R`` in eV, position blocks ``r_R = <m,0|r|n,R>`` (Angstrom)
    from ``model.position_matrix``; without one, the orbital centres on the diagonal of
    R = 0 and zeros elsewhere. The R list is the union of both. Every real is printed with
    ``%.16e`` (17 significant digits) instead of Wannier90's ``E15.8``, so that
    :func:`read_wannier90` gives back the same doubles: a read -> write -> read cycle is
    exact. Wannier90, postw90 and WannierBerri read the file with list-directed input and
    accept the longer fields.
    """
    path = Path(os.fspath(path))
    lat, pos, Rs, hop = _as_3d(model)
    nw = model.norb
    d = model.dim
    pm = {}
    if getattr(model, "position_matrix", None) is not None:
        for R, r in model.position_matrix.items():
            full = np.zeros((3, nw, nw), dtype=complex)
            full[:d] = r
            pm[tuple(R) + (0,) * (3 - d)] = full
    else:
        centres = pos @ lat
        full = np.zeros((3, nw, nw), dtype=complex)
        full[:, np.arange(nw), np.arange(nw)] = centres.T
        pm[(0, 0, 0)] = full
    Rs = sorted(set(Rs) | set(pm))
    zero = np.zeros((nw, nw), dtype=complex)
    zero3 = np.zeros((3, nw, nw), dtype=complex)
    mm, nn = np.meshgrid(np.arange(nw), np.arange(nw), indexing="ij")
    m_f, n_f = mm.T.ravel(), nn.T.ravel()                    # n outer, m fastest (Wannier90's order)
    lines = [_header(model, "tb.dat")]
    lines += ["%24.16e %24.16e %24.16e" % tuple(row) for row in lat]
    lines += ["%12d" % nw, "%12d" % len(Rs)] + _degen_lines(len(Rs))
    for R in Rs:
        lines += ["", "%5d %5d %5d" % R]
        t = hop.get(R, zero)[m_f, n_f]
        lines += ["%5d %5d   %24.16e %24.16e" % row for row in zip(m_f + 1, n_f + 1, t.real, t.imag)]
    for R in Rs:
        lines += ["", "%5d %5d %5d" % R]
        r = pm.get(R, zero3)[:, m_f, n_f]
        lines += ["%5d %5d   %24.16e %24.16e %24.16e %24.16e %24.16e %24.16e" % row
                  for row in zip(m_f + 1, n_f + 1, r[0].real, r[0].imag, r[1].real, r[1].imag, r[2].real, r[2].imag)]
    _write_atomic(path, "\n".join(lines) + "\n")
    if wsvec:
        _write_wsvec(path, "_tb.dat", Rs, nw)


def _write_atomic(path: Path, text: str):
    """Write to a temporary file beside ``path`` and rename it (no half-written file on failure)."""
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    try:
        tmp.write_text(text)
        os.replace(tmp, path)
    finally:
        if tmp.exists():
            tmp.unlink()
