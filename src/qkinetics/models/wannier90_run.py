"""Build a tight-binding model from what a Wannier90 run leaves behind, as postw90 does.

Inputs: ``seedname.win`` (input), ``seedname.eig`` (ab-initio band energies),
``seedname.mmn`` (overlaps ``M_mn(k, b) = <u_mk|u_n,k+b>``) and the checkpoint
``seedname.chk`` (Fortran unformatted) or ``seedname.chk.fmt`` (formatted, as written by
``w90chk2chk.x -export``). Each may be compressed (``.bz2``, ``.gz``); the reader looks for
``name``, ``name.bz2``, ``name.gz`` in this order.

The construction follows postw90 (wannier-developers/wannier90, ``src/postw90``:
``postw90_common.F90`` routines ``wignerseitz``, ``pw90common_wanint_data_dist`` and
``pw90common_fourier_R_to_k_new``; ``get_oper.F90`` routines ``get_HH_R``, ``get_AA_R``,
``fourier_q_to_R``; ``src/ws_distance.F90``; ``src/kmesh.F90`` for the b-vector weights):

1. ``V_k = U^opt_k U_k`` (``num_bands x num_wann``; rows = the ``ndimwin(k)`` bands of the
   outer window, which starts at the first band with ``lwindow``; without
   disentanglement ``V_k = U_k``).
2. ``H_q(k) = V_k^dagger diag(E_k) V_k`` with ``E_k`` from ``.eig`` (eV).
3. Berry connection on the ab-initio mesh (WYSV06 Eq. 44):
   ``A_q(k) = i sum_b w_b b S(k, b)``, ``S(k, b) = V_k^dagger M^(0)(k, b) V_{k+b}``
   with ``M^(0)`` from ``.mmn``, then its Hermitian part ``(A_q + A_q^dagger)/2``.
   The band-diagonal is treated like the off-diagonal (no ``Im log``), postw90's default; with
   ``transl_inv = true`` (.win or argument) the diagonal is postw90's translation-invariant
   ``-sum_b w_b b Im log S_nn(k, b)``, whose k average is Wannier90's centre of each function.
4. ``O(R) = (1/N_k) sum_k e^{-i 2 pi k.R} O_q(k)`` on postw90's Wigner-Seitz vectors
   ``R`` (supercell ``mp_grid``, 125 images, squared-distance tolerance 1e-7 Angstrom^2)
   with degeneracies ``ndegen(R)``.
5. Interpolation ``O(k) = sum_R e^{ik.R} O(R) / ndegen(R)``; with ``use_ws_distance``
   (the "MDRS" correction, default true in Wannier90) each element ``O_ij(R)`` is split
   equally over the ``ndeg_ij(R)`` lattice vectors ``R + T`` that bring the centre of
   Wannier function ``j`` in cell ``R + T`` closest to that of ``i`` in cell 0 (centres
   from the checkpoint; tolerance ``ws_distance_tol``, search ``ws_search_size``).

The b-vectors ``b = k2 + G - k`` (Cartesian, 1/Angstrom) are read from the ``.mmn`` block
headers; their weights ``w_b`` are those of Wannier90's finite-difference shells (one
weight per shell of equal ``|b|``, least-squares/SVD solution of
``sum_b w_b b_a b_c = delta_ac``, the B1 condition, which is checked).

The returned :class:`~qkinetics.models.TightBinding` holds
``t_R = H(R) / (ndegen ndeg)`` (per shifted ``R + T``) and the position matrix
``r_a(R) = A_a(R) / (ndegen ndeg)`` split the same way, so that
``H(k) = sum_R e^{ik.R} t_R`` and ``A^W_a(k) = sum_R e^{ik.R} r_a(R)`` (Angstrom).
"""

from __future__ import annotations

import bz2
import gzip
import hashlib
import io
import itertools
import os
import re
import struct
from pathlib import Path

import numpy as np

from .base import ModelError

__all__ = [
    "BOHR_ANGSTROM",
    "WannierRun",
    "find_run_file",
    "read_win",
    "read_eig",
    "read_chk",
    "iter_mmn",
    "wigner_seitz_postw90",
    "ws_distance_shifts",
    "bvector_weights",
    "wannier_operators_R",
    "split_over_shifts",
    "read_wannier90_run",
]

BOHR_ANGSTROM = 0.52917720859
"""Bohr radius in Angstrom used by Wannier90 (CODATA 2006, its default) for ``bohr`` units."""

COMPRESSED_SUFFIXES = ("", ".bz2", ".gz")
KMESH_TOL = 1e-6
"""Wannier90's default ``kmesh_tol`` (1/Angstrom): b-vectors whose lengths differ by less are one shell."""
_MMN_CHUNK_BLOCKS = 64
_MMN_CHUNK_ELEMENTS = 2_000_000


def _error(msg):
    from .wannier90 import Wannier90FormatError
    return Wannier90FormatError(msg)


# ----------------------------------------------------------------------------- files


def find_run_file(seed, ext, required=True):
    """Path of ``seed + ext`` or its ``.bz2`` / ``.gz`` variant (first found), else None / error."""
    for suf in COMPRESSED_SUFFIXES:
        p = Path(str(seed) + ext + suf)
        if p.exists():
            return p
    if required:
        raise _error(
            f"{seed}{ext}: file not found (also tried {ext}.bz2 and {ext}.gz). A Wannier90 run leaves "
            f"seedname.win, .eig, .mmn and .chk (or .chk.fmt from 'w90chk2chk.x -export') beside each other; "
            "copy the missing file next to the .win file.")
    return None


def _open_binary(path):
    path = Path(path)
    if path.name.endswith(".bz2"):
        return bz2.open(path, "rb")
    if path.name.endswith(".gz"):
        return gzip.open(path, "rb")
    return open(path, "rb")


def _open_text(path):
    return io.TextIOWrapper(_open_binary(path), encoding="utf-8", errors="replace")


def _read_bytes(path):
    try:
        with _open_binary(path) as f:
            return f.read()
    except (OSError, EOFError, ValueError) as exc:  # corrupt compressed stream
        raise _error(f"{path}: cannot be read ({exc}); the file is damaged or not compressed as its "
                     "suffix says.") from None


def _sha256(path):
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def _ffloat(tok):
    return float(tok.replace("D", "E").replace("d", "e"))


# ------------------------------------------------------------------------------ .win

_LOGICAL = {"t": True, "true": True, ".true.": True, "f": False, "false": False, ".false.": False}


def read_win(path):
    """Parse the keywords of ``seedname.win`` that the model construction needs.

    Follows Wannier90's input rules: case-insensitive, ``!`` and ``#`` start comments,
    ``key = value``, ``key : value`` or ``key value``, ``begin name`` ... ``end name``
    blocks, Fortran ``d`` exponents, logicals ``t/true/.true.`` and ``f/false/.false.``.

    Returns
    -------
    dict
        ``lattice`` (3, 3) Angstrom (rows a_1..a_3, from ``unit_cell_cart``, ``bohr`` units
        converted with :data:`BOHR_ANGSTROM`), ``mp_grid`` (3,), ``kpoints`` (nk, 3) reduced,
        ``num_wann``, ``num_bands`` (default ``num_wann``), ``exclude_bands`` (sorted 1-based
        list), ``use_ws_distance`` (default True), ``ws_distance_tol`` (default 1e-5),
        ``ws_search_size`` (3,) (default 2), ``fermi_energy`` (or None), ``transl_inv``,
        ``gamma_only``, ``berry_kmesh`` (or None), and ``keywords``/``blocks`` (raw, lower case).
    """
    path = Path(path)
    text = _read_bytes(path).decode("utf-8", errors="replace")
    keywords, blocks, klines = {}, {}, {}
    block, block_lines, block_start = None, None, None
    for lineno, raw in enumerate(text.splitlines(), 1):
        line = re.split(r"[!#]", raw, maxsplit=1)[0].strip().lower()
        if not line:
            continue
        tok = line.split()
        if tok[0] == "begin":
            if block is not None:
                raise _error(f"{path}, line {lineno}: 'begin' inside block '{block}' (opened on line "
                             f"{block_start}); close it with 'end {block}' first.")
            if len(tok) < 2:
                raise _error(f"{path}, line {lineno}: 'begin' needs a block name, e.g. 'begin unit_cell_cart'.")
            block, block_lines, block_start = tok[1], [], lineno
            continue
        if tok[0] == "end":
            if block is None:
                raise _error(f"{path}, line {lineno}: 'end' without a matching 'begin'.")
            if len(tok) < 2 or tok[1] != block:
                raise _error(f"{path}, line {lineno}: expected 'end {block}' (block opened on line "
                             f"{block_start}); got {line!r}.")
            if block in blocks:
                raise _error(f"{path}, line {lineno}: block '{block}' appears twice; keep one.")
            blocks[block] = block_lines
            block = None
            continue
        if block is not None:
            block_lines.append((lineno, line))
            continue
        kv = re.split(r"\s*[=:]\s*|\s+", line, maxsplit=1)
        key = kv[0]
        val = kv[1].strip() if len(kv) > 1 else ""
        if key in keywords:
            raise _error(f"{path}, line {lineno}: keyword '{key}' appears twice (also line {klines[key]}); "
                         "Wannier90 refuses this too: keep one.")
        keywords[key], klines[key] = val, lineno
    if block is not None:
        raise _error(f"{path}, line {block_start}: block '{block}' is never closed; add 'end {block}'.")

    def where(key):
        return f"{path}, line {klines[key]}"

    def get(key, conv, default=None, n=None):
        if key not in keywords:
            return default
        toks = keywords[key].replace(",", " ").split()
        try:
            vals = [conv(t) for t in toks]
        except (ValueError, KeyError):
            raise _error(f"{where(key)}: cannot read the value of '{key}': {keywords[key]!r}.") from None
        if n is not None and len(vals) not in (n if isinstance(n, tuple) else (n,)):
            raise _error(f"{where(key)}: '{key}' needs {n} value(s); got {keywords[key]!r}.")
        return vals

    def logical(t):
        return _LOGICAL[t]

    out = {"path": str(path), "keywords": keywords, "blocks": blocks}
    nw = get("num_wann", int, n=1)
    if nw is None or nw[0] <= 0:
        raise _error(f"{path}: 'num_wann' is missing or not positive; it is required in seedname.win.")
    out["num_wann"] = nw[0]
    nb = get("num_bands", int, default=[nw[0]], n=1)[0]
    if nb < nw[0]:
        raise _error(f"{where('num_bands')}: num_bands={nb} < num_wann={nw[0]}.")
    out["num_bands"] = nb
    mp = get("mp_grid", int, n=3)
    if mp is None or min(mp) <= 0:
        raise _error(f"{path}: 'mp_grid' (three positive integers) is missing; it is required.")
    out["mp_grid"] = np.array(mp, dtype=int)
    out["use_ws_distance"] = get("use_ws_distance", logical, default=[True], n=1)[0]
    out["ws_distance_tol"] = get("ws_distance_tol", _ffloat, default=[1e-5], n=1)[0]
    wss = get("ws_search_size", int, default=[2], n=(1, 3))
    if min(wss) <= 0:
        raise _error(f"{where('ws_search_size')}: ws_search_size elements must be positive.")
    out["ws_search_size"] = np.array(wss * 3 if len(wss) == 1 else wss, dtype=int)
    fe = get("fermi_energy", _ffloat, n=1)
    out["fermi_energy"] = fe[0] if fe else None
    out["transl_inv"] = get("transl_inv", logical, default=[False], n=1)[0]
    out["gamma_only"] = get("gamma_only", logical, default=[False], n=1)[0]
    bk = get("berry_kmesh", int, n=(1, 3))
    out["berry_kmesh"] = None if bk is None else np.array(bk * 3 if len(bk) == 1 else bk, dtype=int)
    out["spinors"] = get("spinors", logical, default=[False], n=1)[0]
    out["spn_formatted"] = get("spn_formatted", logical, n=1)[0] if "spn_formatted" in keywords else None
    for key in ("dis_win_min", "dis_win_max", "dis_froz_min", "dis_froz_max"):
        v = get(key, _ffloat, n=1)
        out[key] = v[0] if v else None

    # exclude_bands: comma/space separated integers and ranges a-b
    excl = []
    if "exclude_bands" in keywords:
        for part in re.split(r"[,\s]+", keywords["exclude_bands"].strip()):
            if not part:
                continue
            m = re.fullmatch(r"(\d+)(?:-(\d+))?", part)
            if not m:
                raise _error(f"{where('exclude_bands')}: cannot read {part!r} in exclude_bands (use e.g. "
                             "'1-4, 9').")
            a, b = int(m.group(1)), int(m.group(2) or m.group(1))
            if b < a or a <= 0:
                raise _error(f"{where('exclude_bands')}: bad range {part!r}.")
            excl.extend(range(a, b + 1))
    out["exclude_bands"] = sorted(set(excl))

    # unit cell
    if "unit_cell_cart" not in blocks:
        raise _error(f"{path}: block 'unit_cell_cart' (lattice vectors) is missing; it is required.")
    lines = blocks["unit_cell_cart"]
    scale = 1.0
    if lines and lines[0][1].split()[0] in ("bohr", "ang"):
        scale = BOHR_ANGSTROM if lines[0][1].split()[0] == "bohr" else 1.0
        lines = lines[1:]
    if len(lines) != 3:
        raise _error(f"{path}: block 'unit_cell_cart' needs three lines a_1, a_2, a_3 (after an optional "
                     f"'bohr'/'ang' line); got {len(lines)}.")
    lat = np.zeros((3, 3))
    for i, (ln, l) in enumerate(lines):
        t = l.split()
        try:
            if len(t) != 3:
                raise ValueError
            lat[i] = [_ffloat(x) for x in t]
        except ValueError:
            raise _error(f"{path}, line {ln}: expected three reals (lattice vector a_{i + 1}); got {l!r}.") from None
    lat *= scale
    if not np.all(np.isfinite(lat)) or abs(np.linalg.det(lat)) < 1e-12:
        raise _error(f"{path}: the unit_cell_cart vectors {lat.tolist()} do not span a cell (zero volume).")
    out["lattice"] = lat

    # kpoints
    nk = int(np.prod(out["mp_grid"]))
    if "kpoints" not in blocks:
        raise _error(f"{path}: block 'kpoints' (the ab-initio k points) is missing; it is required.")
    kl = blocks["kpoints"]
    if len(kl) != nk:
        raise _error(f"{path}, lines {kl[0][0] if kl else '?'}-{kl[-1][0] if kl else '?'}: block 'kpoints' "
                     f"holds {len(kl)} k points but mp_grid = {mp} needs {nk}.")
    kp = np.zeros((nk, 3))
    for i, (ln, l) in enumerate(kl):
        t = l.split()
        try:
            if len(t) < 3:
                raise ValueError
            kp[i] = [_ffloat(x) for x in t[:3]]
        except ValueError:
            raise _error(f"{path}, line {ln}: expected three reals (a k point in reduced coordinates); "
                         f"got {l!r}.") from None
    out["kpoints"] = kp
    return out


# ------------------------------------------------------------------------------ .eig


def read_eig(path, num_bands, num_kpts):
    """Band energies ``E[k, n]`` (eV) from ``seedname.eig`` (lines ``n k E``, n fastest)."""
    path = Path(path)
    text = _read_bytes(path).decode("utf-8", errors="replace")
    lines = [l for l in text.splitlines() if l.strip()]
    if len(lines) != num_bands * num_kpts:
        raise _error(f"{path}: expected num_bands * num_kpts = {num_bands} * {num_kpts} = "
                     f"{num_bands * num_kpts} lines 'n k E'; got {len(lines)}. The .eig file does not belong "
                     "to this run (num_bands / k points differ) or is truncated.")
    try:
        arr = np.loadtxt(lines, dtype=float, ndmin=2, converters=None)
    except ValueError:
        arr = None
    if arr is None or arr.shape != (len(lines), 3):
        for i, l in enumerate(lines):
            t = l.split()
            try:
                if len(t) != 3:
                    raise ValueError
                int(t[0]), int(t[1]), _ffloat(t[2])
            except ValueError:
                raise _error(f"{path}, line {i + 1}: expected 'band k-point energy'; got {l.strip()!r}.") from None
        arr = np.array([[_ffloat(x) for x in l.split()] for l in lines])
    n = np.tile(np.arange(1, num_bands + 1), num_kpts)
    k = np.repeat(np.arange(1, num_kpts + 1), num_bands)
    bad = np.nonzero((arr[:, 0] != n) | (arr[:, 1] != k))[0]
    if bad.size:
        i = int(bad[0])
        raise _error(f"{path}, line {i + 1}: expected band {n[i]} of k point {k[i]}; got "
                     f"{lines[i].strip()!r}. The file is not ordered as Wannier90 expects or belongs to a run "
                     f"with a different num_bands.")
    if not np.all(np.isfinite(arr[:, 2])):
        raise _error(f"{path}: non-finite band energies.")
    return arr[:, 2].reshape(num_kpts, num_bands)


# ------------------------------------------------------------------------------ .chk


class _Tokens:
    """Cursor over whitespace tokens of a formatted checkpoint (list-directed reads)."""

    def __init__(self, path, toks):
        self.path, self.toks, self.pos = path, toks, 0

    def take(self, n, what):
        if n < 0 or self.pos + n > len(self.toks):
            raise _error(f"{self.path}: truncated while reading {what} (needs {n} values at token "
                         f"{self.pos + 1}, the file has {len(self.toks)} tokens). Regenerate the .chk.fmt with "
                         "'w90chk2chk.x -export'.")
        out = self.toks[self.pos:self.pos + n]
        self.pos += n
        return out

    def ints(self, n, what):
        try:
            return np.array([int(t) for t in self.take(n, what)], dtype=np.int64)
        except ValueError:
            raise _error(f"{self.path}: non-integer value in {what}.") from None

    def reals(self, n, what):
        t = self.take(n, what)
        try:
            return np.array(t, dtype=float)
        except ValueError:
            try:
                return np.array([_ffloat(x) for x in t])
            except ValueError:
                raise _error(f"{self.path}: non-numeric value in {what}.") from None


class _Records:
    """Fortran unformatted sequential records (4-byte markers; gfortran subrecords for > 2 GiB)."""

    def __init__(self, path, data):
        self.path, self.data, self.pos, self.nrec = path, data, 0, 0
        first = struct.unpack("<i", data[:4])[0] if len(data) >= 4 else -1
        self.endian = "<" if 0 < first <= len(data) - 8 else ">"
        if self.endian == ">":
            fb = struct.unpack(">i", data[:4])[0] if len(data) >= 4 else -1
            if not 0 < fb <= len(data) - 8:
                raise _error(f"{path}: not a Fortran unformatted sequential file (first record marker "
                             f"{first} does not fit the {len(data)}-byte file). Is it a .chk.fmt (formatted)? "
                             "Then name it seedname.chk.fmt.")

    def record(self, what):
        self.nrec += 1
        out = []
        while True:
            if self.pos + 4 > len(self.data):
                raise _error(f"{self.path}, record {self.nrec}: truncated before {what} (end of file).")
            n = struct.unpack(self.endian + "i", self.data[self.pos:self.pos + 4])[0]
            size = abs(n)
            if self.pos + 8 + size > len(self.data):
                raise _error(f"{self.path}, record {self.nrec}: truncated in {what} (record of {size} bytes, "
                             f"{len(self.data) - self.pos - 8} left).")
            out.append(self.data[self.pos + 4:self.pos + 4 + size])
            tail = struct.unpack(self.endian + "i", self.data[self.pos + 4 + size:self.pos + 8 + size])[0]
            if abs(tail) != size:
                raise _error(f"{self.path}, record {self.nrec}: corrupt record markers in {what} ({n} / {tail}).")
            self.pos += 8 + size
            if n >= 0:
                return b"".join(out)

    def array(self, dtype, n, what):
        rec = self.record(what)
        dt = np.dtype(dtype).newbyteorder(self.endian)
        if len(rec) != n * dt.itemsize:
            raise _error(f"{self.path}, record {self.nrec}: {what} should hold {n} values "
                         f"({n * dt.itemsize} bytes); the record has {len(rec)} bytes. The checkpoint does not "
                         "match the sizes in its own header (truncated or from another Wannier90 version).")
        return np.frombuffer(rec, dtype=dt).astype(dt.newbyteorder("="))


def read_chk(path):
    """Read a Wannier90 checkpoint, ``seedname.chk`` (unformatted) or ``seedname.chk.fmt``.

    Layout (Wannier90 ``w90_readwrite_write_chkpt`` / ``w90chk2chk.x``): header, num_bands,
    num_exclude_bands, exclude_bands, real_lattice, recip_lattice, num_kpts, mp_grid,
    kpt_latt, nntot, num_wann, checkpoint, have_disentangled, [omega_invariant, lwindow,
    ndimwin, u_matrix_opt], u_matrix, m_matrix, wannier_centres, wannier_spreads; Fortran
    column order throughout.

    Returns
    -------
    dict
        ``lattice`` (3, 3) rows a_i (Angstrom), ``recip_lattice``, ``kpoints`` (nk, 3),
        ``mp_grid``, ``nntot``, ``num_wann``, ``num_bands``, ``exclude_bands``,
        ``checkpoint``, ``have_disentangled``, ``lwindow`` (nk, nb) bool, ``ndimwin`` (nk,),
        ``u_matrix_opt`` (nk, nb, nw), ``u_matrix`` (nk, nw, nw), ``m_matrix``
        (nk, nntot, nw, nw), ``centres`` (nw, 3) Angstrom, ``spreads`` (nw,).
    """
    path = Path(path)
    data = _read_bytes(path)
    return _read_chk_fmt(path, data) if ".chk.fmt" in path.name else _read_chk_unf(path, data)


def _check_sizes(path, nb, nex, nk, nntot, nw, available, unit):
    for name, v in (("num_bands", nb), ("num_kpts", nk), ("nntot", nntot), ("num_wann", nw)):
        if v <= 0:
            raise _error(f"{path}: header value {name}={v} is not positive.")
    if nex < 0 or nw > nb:
        raise _error(f"{path}: header values num_exclude_bands={nex}, num_wann={nw} > num_bands={nb} are "
                     "inconsistent.")
    need = 2 * nk * nw * nw * (1 + nntot) + 2 * nk * nb * nw
    if need > available:
        raise _error(f"{path}: the header declares num_bands={nb}, num_kpts={nk}, nntot={nntot}, num_wann={nw}, "
                     f"which need at least {need} {unit} of matrices; the file holds only {available}. The file is "
                     "truncated or its header is corrupt.")


def _read_chk_fmt(path, data):
    text = data.decode("utf-8", errors="replace")
    first_nl = text.find("\n")
    header = text[:first_nl].strip() if first_nl >= 0 else text.strip()
    tk = _Tokens(path, text[first_nl + 1:].split() if first_nl >= 0 else [])
    nb = int(tk.ints(1, "num_bands")[0])
    nex = int(tk.ints(1, "num_exclude_bands")[0])
    if nex < 0 or nex > len(tk.toks):
        raise _error(f"{path}: num_exclude_bands={nex} is impossible.")
    excl = tk.ints(nex, "exclude_bands")
    lat = tk.reals(9, "real_lattice").reshape(3, 3).T
    rec = tk.reals(9, "recip_lattice").reshape(3, 3).T
    nk = int(tk.ints(1, "num_kpts")[0])
    mp = tk.ints(3, "mp_grid")
    if nk <= 0 or 3 * nk > len(tk.toks):
        raise _error(f"{path}: num_kpts={nk} does not fit the file ({len(tk.toks)} tokens); truncated or corrupt.")
    kpt = tk.reals(3 * nk, "kpt_latt").reshape(nk, 3)
    nntot = int(tk.ints(1, "nntot")[0])
    nw = int(tk.ints(1, "num_wann")[0])
    checkpoint = tk.take(1, "checkpoint")[0]
    _check_sizes(path, nb, nex, nk, nntot, nw, len(tk.toks) - tk.pos, "numbers")
    hd = int(tk.ints(1, "have_disentangled")[0])
    if hd not in (0, 1):
        raise _error(f"{path}: have_disentangled must be 0 or 1; got {hd}.")
    out = dict(header=header, num_bands=nb, exclude_bands=[int(x) for x in excl], lattice=lat, recip_lattice=rec,
               num_kpts=nk, mp_grid=mp.astype(int), kpoints=kpt, nntot=nntot, num_wann=nw, checkpoint=checkpoint,
               have_disentangled=bool(hd), path=str(path), formatted=True)
    if hd:
        out["omega_invariant"] = float(tk.reals(1, "omega_invariant")[0])
        lw = tk.ints(nb * nk, "lwindow")
        if np.any((lw != 0) & (lw != 1)):
            raise _error(f"{path}: lwindow entries must be 0 or 1.")
        out["lwindow"] = lw.reshape(nk, nb).astype(bool)
        out["ndimwin"] = tk.ints(nk, "ndimwin").astype(int)
        u = tk.reals(2 * nb * nw * nk, "u_matrix_opt").reshape(nk, nw, nb, 2)
        out["u_matrix_opt"] = (u[..., 0] + 1j * u[..., 1]).transpose(0, 2, 1)
    u = tk.reals(2 * nw * nw * nk, "u_matrix").reshape(nk, nw, nw, 2)
    out["u_matrix"] = (u[..., 0] + 1j * u[..., 1]).transpose(0, 2, 1)
    m = tk.reals(2 * nw * nw * nntot * nk, "m_matrix").reshape(nk, nntot, nw, nw, 2)
    out["m_matrix"] = (m[..., 0] + 1j * m[..., 1]).transpose(0, 1, 3, 2)
    out["centres"] = tk.reals(3 * nw, "wannier_centres").reshape(nw, 3)
    out["spreads"] = tk.reals(nw, "wannier_spreads")
    if tk.pos != len(tk.toks):
        raise _error(f"{path}: {len(tk.toks) - tk.pos} unexpected values after the Wannier spreads; the file is "
                     "not a Wannier90 formatted checkpoint of the sizes in its header.")
    return _finish_chk(path, out)


def _read_chk_unf(path, data):
    rd = _Records(path, data)
    header = rd.record("the header").decode("ascii", errors="replace").strip()
    nb = int(rd.array("i4", 1, "num_bands")[0])
    nex = int(rd.array("i4", 1, "num_exclude_bands")[0])
    if nex < 0 or 4 * nex > len(data):
        raise _error(f"{path}: num_exclude_bands={nex} is impossible.")
    excl = rd.array("i4", nex, "exclude_bands")
    lat = rd.array("f8", 9, "real_lattice").reshape(3, 3).T
    rec = rd.array("f8", 9, "recip_lattice").reshape(3, 3).T
    nk = int(rd.array("i4", 1, "num_kpts")[0])
    mp = rd.array("i4", 3, "mp_grid")
    if nk <= 0 or 24 * nk > len(data):
        raise _error(f"{path}: num_kpts={nk} does not fit the file; truncated or corrupt.")
    kpt = rd.array("f8", 3 * nk, "kpt_latt").reshape(nk, 3)
    nntot = int(rd.array("i4", 1, "nntot")[0])
    nw = int(rd.array("i4", 1, "num_wann")[0])
    checkpoint = rd.record("checkpoint").decode("ascii", errors="replace").strip()
    _check_sizes(path, nb, nex, nk, nntot, nw, (len(data) - rd.pos) // 8, "8-byte reals")
    hd = bool(rd.array("i4", 1, "have_disentangled")[0])
    out = dict(header=header, num_bands=nb, exclude_bands=[int(x) for x in excl], lattice=lat, recip_lattice=rec,
               num_kpts=nk, mp_grid=mp.astype(int), kpoints=kpt, nntot=nntot, num_wann=nw, checkpoint=checkpoint,
               have_disentangled=hd, path=str(path), formatted=False)
    if hd:
        out["omega_invariant"] = float(rd.array("f8", 1, "omega_invariant")[0])
        out["lwindow"] = rd.array("i4", nb * nk, "lwindow").reshape(nk, nb) != 0
        out["ndimwin"] = rd.array("i4", nk, "ndimwin").astype(int)
        out["u_matrix_opt"] = rd.array("c16", nb * nw * nk, "u_matrix_opt").reshape(nk, nw, nb).transpose(0, 2, 1)
    out["u_matrix"] = rd.array("c16", nw * nw * nk, "u_matrix").reshape(nk, nw, nw).transpose(0, 2, 1)
    out["m_matrix"] = rd.array("c16", nw * nw * nntot * nk, "m_matrix").reshape(nk, nntot, nw, nw).transpose(0, 1, 3, 2)
    out["centres"] = rd.array("f8", 3 * nw, "wannier_centres").reshape(nw, 3)
    out["spreads"] = rd.array("f8", nw, "wannier_spreads")
    if rd.pos != len(data):
        raise _error(f"{path}: {len(data) - rd.pos} unexpected bytes after the Wannier spreads (record "
                     f"{rd.nrec}); not a checkpoint of the sizes in its header.")
    return _finish_chk(path, out)


def _finish_chk(path, out):
    nk, nb, nw = out["num_kpts"], out["num_bands"], out["num_wann"]
    if int(np.prod(out["mp_grid"])) != nk:
        raise _error(f"{path}: mp_grid {out['mp_grid'].tolist()} does not hold num_kpts={nk} points.")
    if out["have_disentangled"]:
        nd = out["ndimwin"]
        if np.any(nd < nw) or np.any(nd > nb) or np.any(out["lwindow"].sum(axis=1) != nd):
            raise _error(f"{path}: ndimwin must lie between num_wann={nw} and num_bands={nb} and equal the number "
                         "of bands in the window (lwindow) at every k point; the checkpoint is corrupt.")
    for key in ("lattice", "kpoints", "centres"):
        if not np.all(np.isfinite(out[key])):
            raise _error(f"{path}: non-finite values in {key}.")
    return out


# ------------------------------------------------------------------------------ .mmn


def iter_mmn(path, chunk_blocks=_MMN_CHUNK_BLOCKS):
    """Stream ``seedname.mmn``: yield ``(nb, nk, nntot)`` first, then chunks ``(heads, S)``.

    ``heads`` is an int array (n, 5) of block headers ``k, k2, G1, G2, G3`` (1-based k) and
    ``S`` the overlaps (n, nb, nb) with ``S[i, m, n] = <u_m,k|u_n,k2+G>`` (file order: m
    fastest). Memory is bounded by ``chunk_blocks`` blocks.
    """
    path = Path(path)
    with _open_text(path) as f:
        f.readline()
        line2 = f.readline()
        lineno = 2
        try:
            nb, nk, nntot = (int(x) for x in line2.split())
        except ValueError:
            raise _error(f"{path}, line 2: expected 'num_bands num_kpts nntot'; got {line2.strip()!r}.") from None
        if min(nb, nk, nntot) <= 0:
            raise _error(f"{path}, line 2: num_bands, num_kpts, nntot must be positive; got {line2.strip()!r}.")
        yield nb, nk, nntot
        per = 1 + nb * nb
        left = nk * nntot
        while left:
            nblk = min(chunk_blocks, left)
            lines = list(itertools.islice(f, nblk * per))
            start = lineno + 1
            if len(lines) != nblk * per:
                raise _error(f"{path}, line {start + len(lines)}: end of file; the header promises num_kpts * "
                             f"nntot = {nk * nntot} blocks of 1 + num_bands^2 = {per} lines. The file is truncated.")
            toks = " ".join(lines).split()
            arr = None
            if len(toks) == nblk * (5 + 2 * nb * nb):
                try:
                    arr = np.array(toks, dtype=float).reshape(nblk, 5 + 2 * nb * nb)
                except ValueError:
                    arr = None
            if arr is None:
                for i, l in enumerate(lines):
                    want = 5 if i % per == 0 else 2
                    t = l.split()
                    ok = len(t) == want
                    if ok:
                        try:
                            [int(x) for x in t] if want == 5 else [_ffloat(x) for x in t]
                        except ValueError:
                            ok = False
                    if not ok:
                        what = "a block header 'k k2 G1 G2 G3'" if want == 5 else "an overlap 'Re Im'"
                        raise _error(f"{path}, line {start + i}: expected {what}; got {l.strip()!r}. The header "
                                     f"(num_bands={nb}) does not match the data or the file is corrupt.")
                raise _error(f"{path}, lines {start}-{start + len(lines) - 1}: malformed overlap blocks.")
            heads = arr[:, :5]
            if np.any(heads != np.round(heads)):
                raise _error(f"{path}, line {start}: non-integer block header.")
            S = arr[:, 5::2] + 1j * arr[:, 6::2]
            yield heads.astype(np.int64), S.reshape(nblk, nb, nb).transpose(0, 2, 1)
            lineno += nblk * per
            left -= nblk


# ------------------------------------------------------------------- real-space vectors


def wigner_seitz_postw90(lattice, mp_grid):
    """Wigner-Seitz supercell vectors and degeneracies as postw90's ``wignerseitz``.

    The points ``R = (n1, n2, n3)``, ``|n_i| <= mp_grid_i``, no farther (to 1e-7 in squared
    Angstrom) from the origin than from any of the 124 nearest supercell images
    ``(i1 m1, i2 m2, i3 m3)``, ``|i_j| <= 2``; ``ndegen`` counts the equidistant images.
    Order: n1 slowest, n3 fastest (Wannier90's loop order).

    Returns
    -------
    irvec : ndarray, shape (nrpts, 3), int
    ndegen : ndarray, shape (nrpts,), int
    """
    mp = np.asarray(mp_grid, dtype=int)
    lat = np.asarray(lattice, dtype=float)
    metric = lat @ lat.T
    n = np.array(list(itertools.product(*(range(-m, m + 1) for m in mp))), dtype=int)  # (P, 3)
    img = np.array(list(itertools.product(range(-2, 3), repeat=3)), dtype=int) * mp    # (125, 3), index 62 = 0
    d = n[:, None, :] - img[None, :, :]
    dist = np.einsum("pci,ij,pcj->pc", d.astype(float), metric, d.astype(float))
    dmin = dist.min(axis=1)
    keep = np.abs(dist[:, 62] - dmin) < 1e-7
    ndegen = (np.abs(dist - dmin[:, None]) < 1e-7).sum(axis=1)
    irvec, ndegen = n[keep], ndegen[keep]
    if abs(np.sum(1.0 / ndegen) - np.prod(mp)) > 1e-8:
        raise ModelError("Wigner-Seitz construction failed the sum rule sum 1/ndegen = N_k (a very skewed cell?).")
    return irvec, ndegen


def ws_distance_shifts(lattice, mp_grid, irvec, centres, tol=1e-5, search_size=(2, 2, 2)):
    """MDRS shifts of Wannier90 ``ws_translate_dist`` (``use_ws_distance = true``).

    For each ``R`` and pair ``(i, j)`` the vectors ``R + T`` (``T`` a supercell vector
    ``(t1 m1, t2 m2, t3 m3)``) that minimise ``|R + T + tau_j - tau_i|`` (to ``tol`` Angstrom).

    Returns
    -------
    ndeg : ndarray, shape (nrpts, nw, nw), int
    irdist : ndarray, shape (nrpts, nw, nw, 8, 3), int
        ``irdist[r, i, j, :ndeg]`` are the shifted vectors ``R + T`` (reduced); unused slots 0.
    """
    lat = np.asarray(lattice, dtype=float)
    mp = np.asarray(mp_grid, dtype=int)
    tau = np.asarray(centres, dtype=float)
    nw = tau.shape[0]
    irvec = np.asarray(irvec, dtype=int)
    s = np.asarray(search_size, dtype=int)
    win = np.array(list(itertools.product(*(range(-x - 1, x + 2) for x in s))), dtype=int) * mp  # (W, 3) reduced
    zero = int(np.nonzero(~win.any(axis=1))[0][0])
    wcart = win @ lat
    nr = len(irvec)
    ndeg = np.zeros((nr, nw, nw), dtype=int)
    irdist = np.zeros((nr, nw, nw, 8, 3), dtype=int)
    for r in range(nr):
        rin = irvec[r] @ lat + tau[None, :, :] - tau[:, None, :]                   # (nw, nw, 3) [i, j]
        d2 = np.sum((rin[:, :, None, :] + wcart) ** 2, axis=-1)                      # (nw, nw, W)
        first = np.argmin(d2, axis=-1)
        keep0 = d2[..., zero] <= d2.min(axis=-1)
        best = np.where(keep0, zero, first)
        bshift = win[best]                                                            # (nw, nw, 3)
        dbest = np.take_along_axis(d2, best[..., None], axis=-1)[..., 0]
        rbz = rin + bshift @ lat
        cand = rbz[:, :, None, :] + wcart                                             # around the best image
        dist = np.sqrt(np.sum(cand ** 2, axis=-1))
        inwin = np.abs(dist - np.sqrt(dbest)[..., None]) < tol
        small = dbest < tol ** 2
        inwin[small] = False
        inwin[small, zero] = True
        cnt = inwin.sum(axis=-1)
        if cnt.max() > 8:
            raise ModelError("ws_distance: more than 8 equidistant images (Wannier90 refuses this too); "
                             "check the centres or ws_distance_tol.")
        ndeg[r] = cnt
        ii, jj, ww = np.nonzero(inwin)                                                # grouped by (i, j)
        start = (np.cumsum(cnt.ravel()) - cnt.ravel())[ii * nw + jj]
        slot = np.arange(len(ii)) - start
        irdist[r, ii, jj, slot] = irvec[r] + bshift[ii, jj] + win[ww]
    return ndeg, irdist


def bvector_weights(bvecs, tol=KMESH_TOL):
    """Finite-difference weights of the b-vectors (Wannier90 ``kmesh``, B1 condition).

    Parameters
    ----------
    bvecs : ndarray, shape (nntot, 3)
        Cartesian b-vectors (1/Angstrom) of one k point.

    Returns
    -------
    ndarray, shape (nntot,)
        ``w_b``, equal within a shell of equal ``|b|``, with ``sum_b w_b b_a b_c = delta_ac``.
    """
    b = np.asarray(bvecs, dtype=float)
    lens = np.linalg.norm(b, axis=1)
    order = np.argsort(lens, kind="stable")
    shell = np.zeros(len(b), dtype=int)
    cur, ref = 0, lens[order[0]]
    for idx in order:
        if lens[idx] - ref > tol:
            cur, ref = cur + 1, lens[idx]
        shell[idx] = cur
    nsh = cur + 1
    pairs = [(0, 0), (1, 1), (2, 2), (0, 1), (1, 2), (2, 0)]
    A = np.zeros((6, nsh))
    for s in range(nsh):
        bs = b[shell == s]
        for row, (a, c) in enumerate(pairs):
            A[row, s] = np.sum(bs[:, a] * bs[:, c])
    q = np.array([1.0, 1.0, 1.0, 0.0, 0.0, 0.0])
    w, *_ = np.linalg.lstsq(A, q, rcond=None)
    wb = w[shell]
    check = np.einsum("b,ba,bc->ac", wb, b, b)
    if not np.allclose(check, np.eye(3), atol=1e-6):
        raise ModelError(f"the b-vectors of the .mmn file do not satisfy the B1 completeness condition with one "
                         f"weight per shell (max deviation {np.max(np.abs(check - np.eye(3))):.2e}); Wannier90 would "
                         "not have produced them.")
    return wb


# ------------------------------------------------------------------------ construction


class WannierRun:
    """The files of one Wannier90 run, read and cross-checked (no model built yet).

    Parameters
    ----------
    seed : str or path-like
        ``path/seedname``, ``path/seedname.win`` (or ``.win.bz2`` / ``.win.gz``).
    chk : {"auto", "unformatted", "formatted"}
        Which checkpoint to read; ``"auto"`` prefers ``seedname.chk`` and falls back to
        ``seedname.chk.fmt``.
    """

    def __init__(self, seed, chk="auto"):
        seed = str(os.fspath(seed))
        for suf in (".win.bz2", ".win.gz", ".win"):
            if seed.endswith(suf):
                seed = seed[: -len(suf)]
                break
        self.seed = seed
        if chk not in ("auto", "unformatted", "formatted"):
            raise ModelError(f"chk must be 'auto', 'unformatted' or 'formatted'; got {chk!r}.")
        self.files = {"win": find_run_file(seed, ".win")}
        self.win = read_win(self.files["win"])
        if chk == "formatted":
            cpath = find_run_file(seed, ".chk.fmt")
        elif chk == "unformatted":
            cpath = find_run_file(seed, ".chk")
        else:
            cpath = find_run_file(seed, ".chk", required=False) or find_run_file(seed, ".chk.fmt", required=False)
            if cpath is None:
                raise _error(f"{seed}.chk: no checkpoint found (tried .chk and .chk.fmt, also .bz2/.gz). Run "
                             "wannier90.x first, or convert with 'w90chk2chk.x -export'.")
        self.files["chk"] = cpath
        self.chk = read_chk(cpath)
        self._check_chk()
        self.files["eig"] = find_run_file(seed, ".eig")
        self.eig = read_eig(self.files["eig"], self.win["num_bands"], self.num_kpts)
        self.files["mmn"] = find_run_file(seed, ".mmn")

    # -- consistency (what postw90's w90_readwrite_read_chkpt checks, plus the .win sizes)
    def _check_chk(self):
        w, c, cp = self.win, self.chk, self.files["chk"]
        wp = self.files["win"]
        if w["gamma_only"]:
            raise ModelError(f"{wp}: gamma_only = true (half the b-vectors) is not supported; rerun Wannier90 "
                             "without gamma_only.")

        def bad(what, a, b, fix="The checkpoint belongs to another run: use the .chk written by the same "
                                 "wannier90.x run as this .win."):
            return _error(f"{cp}: {what} = {a} in the checkpoint but {b} in {wp}. {fix}")

        if c["num_wann"] != w["num_wann"]:
            raise bad("num_wann", c["num_wann"], w["num_wann"])
        if c["num_bands"] != w["num_bands"]:
            raise bad("num_bands", c["num_bands"], w["num_bands"])
        if list(c["exclude_bands"]) != list(w["exclude_bands"]):
            raise bad("exclude_bands", c["exclude_bands"], w["exclude_bands"])
        if not np.array_equal(c["mp_grid"], w["mp_grid"]):
            raise bad("mp_grid", c["mp_grid"].tolist(), w["mp_grid"].tolist())
        if np.max(np.abs(c["lattice"] - w["lattice"])) > 1e-6:
            raise bad("the lattice (Angstrom)", c["lattice"].tolist(), w["lattice"].tolist())
        if c["kpoints"].shape != w["kpoints"].shape or np.max(np.abs(c["kpoints"] - w["kpoints"])) > 1e-6:
            i = int(np.argmax(np.max(np.abs(c["kpoints"] - w["kpoints"]), axis=1))) if \
                c["kpoints"].shape == w["kpoints"].shape else 0
            raise bad(f"k point {i + 1}", c["kpoints"][i].tolist(), w["kpoints"][i].tolist())

    @property
    def num_kpts(self):
        return int(np.prod(self.win["mp_grid"]))

    @property
    def lattice(self):
        return self.win["lattice"]

    @property
    def recip_lattice(self):
        return 2 * np.pi * np.linalg.inv(self.win["lattice"]).T

    def v_matrix(self):
        """``V_k`` (nk, nb, nw), rows = window bands from the first one; and the window start (nk,)."""
        c = self.chk
        nk, nb, nw = self.num_kpts, c["num_bands"], c["num_wann"]
        if not c["have_disentangled"]:
            V = np.zeros((nk, nb, nw), dtype=complex)
            V[:, :nw, :] = c["u_matrix"]
            return V, np.zeros(nk, dtype=int), np.full(nk, nw)
        nd = c["ndimwin"]
        rows = np.arange(nb)[None, :, None] < nd[:, None, None]
        V = np.einsum("kbi,kij->kbj", np.where(rows, c["u_matrix_opt"], 0), c["u_matrix"])
        winmin = np.argmax(c["lwindow"], axis=1)
        return V, winmin, nd

    def window_bands(self):
        """The band index of each row of ``V_k``, (nk, num_bands): row i of k point k is band ``winmin_k + i``,
        clipped to the last band (rows at or past ``ndimwin_k`` are zero in ``V_k``, so what they index is
        never used); and the .eig energies of those rows, zero past ``ndimwin_k``. Every operator built from the
        ab-initio matrices (H, A from the .mmn, B and C from the .uHu, S from the .spn) takes its window rows and
        columns with these indices, as postw90's ``S_o(winmin:, winmin:)``."""
        V, winmin, nd = self.v_matrix()
        nb = self.chk["num_bands"]
        bands = np.minimum(winmin[:, None] + np.arange(nb)[None, :], nb - 1)
        energies = np.where(np.arange(nb)[None, :] < nd[:, None], np.take_along_axis(self.eig, bands, axis=1), 0.0)
        return bands, energies

    def provenance(self):
        files = {k: {"path": str(p), "sha256": _sha256(p)} for k, p in self.files.items()}
        c, w = self.chk, self.win
        return {
            "source": "wannier90 run",
            "construction": "postw90 (get_HH_R, get_AA_R with transl_inv as recorded, wignerseitz, ws_translate_dist)",
            "files": files,
            "seedname": Path(self.seed).name,
            "num_wann": c["num_wann"], "num_bands": c["num_bands"], "num_kpts": self.num_kpts,
            "mp_grid": w["mp_grid"].tolist(), "nntot": c["nntot"],
            "exclude_bands": list(w["exclude_bands"]),
            "have_disentangled": bool(c["have_disentangled"]),
            "fermi_energy": w["fermi_energy"],
            "spinors": bool(w["spinors"]),
            # Wannier90's defaults: the outer window spans all .eig energies
            "dis_win_min": float(self.eig.min()) if w["dis_win_min"] is None else w["dis_win_min"],
            "dis_win_max": float(self.eig.max()) if w["dis_win_max"] is None else w["dis_win_max"],
            "lattice": w["lattice"].tolist(),
            "chk_header": c["header"], "chk_checkpoint": c["checkpoint"],
            "wannier_centres": c["centres"].tolist(), "wannier_spreads": c["spreads"].tolist(),
        }


def wannier_operators_R(run, use_ws_distance=None, transl_inv=None):
    """``H(R)`` and ``A(R) = <0m|r|Rn>`` of a Wannier90 run, exactly as postw90 builds them.

    Parameters
    ----------
    run : WannierRun or str
        The run (or its seedname / .win path). The checkpoint stage is not checked (postw90
        does not either); it is recorded in ``provenance["chk_checkpoint"]``.
    use_ws_distance : bool or None
        MDRS shifts; default the ``use_ws_distance`` of the .win file (Wannier90 default true).
    transl_inv : bool or None
        postw90's translation-invariant band-diagonal connection: the diagonal of ``A_q(k)`` becomes
        ``-sum_b w_b b Im log S_nn(k, b)`` (so that its k average is the Wannier centre of Wannier90's
        spread functional, invariant under a translation of the Wannier function); default the
        ``transl_inv`` of the .win file (default false).

    Returns
    -------
    dict
        ``irvec`` (nR, 3), ``ndegen`` (nR,), ``HH_R`` (nR, nw, nw) eV and ``AA_R``
        (nR, 3, nw, nw) Angstrom, both *not* divided by ``ndegen`` (postw90's arrays);
        ``ndeg`` (nR, nw, nw) and ``irdist`` (nR, nw, nw, 8, 3) (the MDRS vectors R + T;
        ``ndeg = 1``, ``irdist = R`` when the correction is off); ``use_ws_distance``;
        ``wb`` (nntot,) b-vector weights (Angstrom^2) of k point 1.
    """
    if not isinstance(run, WannierRun):
        run = WannierRun(run)
    c, w = run.chk, run.win
    nk, nb, nw, nntot = run.num_kpts, c["num_bands"], c["num_wann"], c["nntot"]
    kpt = w["kpoints"]
    recip = run.recip_lattice
    V = run.v_matrix()[0]
    bands, Ewin = run.window_bands()

    # H(q) = V^dagger diag(E) V on the window bands
    HH_q = np.einsum("kim,ki,kin->kmn", V.conj(), Ewin, V)
    HH_q = 0.5 * (HH_q + HH_q.conj().transpose(0, 2, 1))

    # A(q) = i sum_b w_b b V_k^dagger M(k, b) V_{k+b}, then its Hermitian part
    mpath = run.files["mmn"]
    # whole k points per chunk (the weights need all b of a k point), about 2e6 overlaps per chunk
    per_chunk = max(1, min(_MMN_CHUNK_BLOCKS, _MMN_CHUNK_ELEMENTS // (nb * nb)) // nntot)
    it = iter_mmn(mpath, chunk_blocks=nntot * per_chunk)
    mb, mk, mn = next(it)
    if (mb, mk, mn) != (nb, nk, nntot):
        raise _error(f"{mpath}, line 2: num_bands, num_kpts, nntot = {mb}, {mk}, {mn} but the checkpoint "
                     f"{run.files['chk']} has {nb}, {nk}, {nntot}. The .mmn file belongs to another run.")
    if transl_inv is None:
        transl_inv = bool(w["transl_inv"])
    AA_q = np.zeros((nk, 3, nw, nw), dtype=complex)
    AA_log = np.zeros((nk, 3, nw)) if transl_inv else None                       # -sum_b w_b b Im log S_nn
    wb_first = None
    done = 0
    for heads, S_o in it:
        nblk = len(heads)
        ik = heads[:, 0] - 1
        ik2 = heads[:, 1] - 1
        expect_k = (done + np.arange(nblk)) // nntot
        if np.any(ik != expect_k) or np.any(ik2 < 0) or np.any(ik2 >= nk):
            i = int(np.nonzero((ik != expect_k) | (ik2 < 0) | (ik2 >= nk))[0][0])
            line = 3 + (done + i) * (1 + nb * nb)
            raise _error(f"{mpath}, line {line}: block header {heads[i].tolist()} should be for k point "
                         f"{expect_k[i] + 1} (nntot = {nntot} blocks per k point, in order) with a neighbour index "
                         f"between 1 and {nk}.")
        bk = (kpt[ik2] + heads[:, 2:5] - kpt[ik]) @ recip                      # (nblk, 3) 1/Angstrom
        wb = np.concatenate([bvector_weights(bk[g:g + nntot]) for g in range(0, nblk, nntot)])
        if wb_first is None:
            wb_first = wb[:nntot].copy()
        ri, ci = bands[ik], bands[ik2]
        S_sh = np.take_along_axis(np.take_along_axis(S_o, ri[:, :, None], axis=1), ci[:, None, :], axis=2)
        S = np.einsum("bim,bij,bjn->bmn", V[ik].conj(), S_sh, V[ik2])
        contrib = 1j * (wb[:, None] * bk)[:, :, None, None] * S[:, None, :, :]  # (nblk, 3, nw, nw)
        np.add.at(AA_q, ik, contrib)
        if transl_inv:
            Snn = np.diagonal(S, axis1=1, axis2=2)                                 # (nblk, nw)
            np.add.at(AA_log, ik, -(wb[:, None] * bk)[:, :, None] * np.angle(Snn)[:, None, :])
        done += nblk
    if transl_inv:
        diag = np.arange(nw)
        AA_q[:, :, diag, diag] = AA_log
    AA_q = 0.5 * (AA_q + AA_q.conj().transpose(0, 1, 3, 2))

    # Fourier transform onto postw90's Wigner-Seitz vectors
    irvec, ndegen = wigner_seitz_postw90(w["lattice"], w["mp_grid"])
    phase = np.exp(-2j * np.pi * (irvec @ kpt.T)) / nk                            # (nR, nk)
    HH_R = np.einsum("rk,kmn->rmn", phase, HH_q)
    AA_R = np.einsum("rk,kamn->ramn", phase, AA_q)

    if use_ws_distance is None:
        use_ws_distance = bool(w["use_ws_distance"])
    if use_ws_distance:
        ndeg, irdist = ws_distance_shifts(w["lattice"], w["mp_grid"], irvec, c["centres"],
                                          tol=w["ws_distance_tol"], search_size=w["ws_search_size"])
    else:
        ndeg = np.ones((len(irvec), nw, nw), dtype=int)
        irdist = np.zeros((len(irvec), nw, nw, 8, 3), dtype=int)
        irdist[:, :, :, 0, :] = irvec[:, None, None, :]
    return dict(irvec=irvec, ndegen=ndegen, HH_R=HH_R, AA_R=AA_R, ndeg=ndeg, irdist=irdist,
                use_ws_distance=bool(use_ws_distance), transl_inv=bool(transl_inv), wb=wb_first, HH_q=HH_q,
                AA_q=AA_q)


def split_over_shifts(ops, ndegen, ndeg, irdist):
    """``{R + T: O(R) / (ndegen(R) ndeg_ij(R))}`` summed over the MDRS vectors, for each operator.

    Parameters
    ----------
    ops : sequence of ndarray, each (nR, ..., nw, nw)
    ndegen, ndeg, irdist : as returned by :func:`wannier_operators_R`

    Returns
    -------
    keys : list of tuple
        The distinct lattice vectors ``R + T``, sorted.
    blocks : list of ndarray
        For each operator, shape (nkeys, ..., nw, nw).
    """
    nr, nw, _ = ndeg.shape
    r, i, j, d = np.nonzero(np.arange(8)[None, None, None, :] < ndeg[..., None])
    vec = irdist[r, i, j, d]                                                       # (M, 3)
    keys, inv = np.unique(vec, axis=0, return_inverse=True)
    inv = inv.reshape(-1)
    scale = 1.0 / (ndegen[r] * ndeg[r, i, j])
    out = []
    for op in ops:
        extra = op.shape[1:-2]
        flat = op.reshape((nr, -1, nw, nw))
        vals = flat[r, :, i, j] * scale[:, None]                                       # (M, E)
        acc = np.zeros((len(keys), flat.shape[1], nw, nw), dtype=complex)
        for e in range(flat.shape[1]):
            np.add.at(acc[:, e], (inv, i, j), vals[:, e])
        out.append(acc.reshape((len(keys),) + extra + (nw, nw)))
    return [tuple(int(x) for x in k) for k in keys], out


def read_wannier90_run(seed, convention="positions", *, use_ws_distance=None, chk="auto", name=None, spin=None,
                       transl_inv=None):
    """Build a :class:`~qkinetics.models.TightBinding` from a Wannier90 run, as postw90 does.

    Parameters
    ----------
    seed : str, path-like or WannierRun
        ``path/seedname`` or ``path/seedname.win``; beside it ``seedname.eig``,
        ``seedname.mmn`` and ``seedname.chk`` or ``seedname.chk.fmt`` (each possibly
        ``.bz2`` / ``.gz``).
    convention : {"positions", "lattice"}
        Fourier convention of the returned model (see :class:`TightBinding`).
    use_ws_distance : bool or None
        MDRS correction; default the ``use_ws_distance`` of the .win file (Wannier90's
        default is true).
    chk : {"auto", "unformatted", "formatted"}
        Which checkpoint file to read (``"auto"``: ``.chk``, else ``.chk.fmt``).
    name : str, optional
        Model name; default the seedname.
    spin : bool or None
        Read ``seedname.spn`` (formatted or not, possibly compressed) into the model's ``spin_matrix``
        (:mod:`qkinetics.models.wannier90_spin`): True requires it, None (default) reads it when present,
        False skips it.
    transl_inv : bool or None
        postw90's translation-invariant (``Im log``) band-diagonal Berry connection
        (:func:`wannier_operators_R`); default the ``transl_inv`` of the .win file (Wannier90's default false).

    Returns
    -------
    TightBinding
        Hoppings ``t_R[m, n] = <m,0|H|n,R>`` (eV) and ``position_matrix``
        ``r_R[a, m, n] = <m,0|r_a|n,R>`` (Angstrom), each divided by ``ndegen(R)`` and
        split over the MDRS vectors as postw90's Fourier sums do, so that
        ``H(k) = sum_R e^{ik.R} t_R`` and ``A^W_a(k) = sum_R e^{ik.R} r_a(R)``. The orbital
        positions are the Wannier centres ``Re r_nn(R=0)`` in reduced coordinates (the
        finite-difference centres of postw90's ``A(R)``, not the ``Im log`` centres of the
        checkpoint, which are in ``provenance["wannier_centres"]``; reading the
        ``_tb.dat`` written from this model gives the same positions).
        ``model.provenance`` records the files (path, sha256), sizes, ``mp_grid``,
        ``use_ws_distance`` and the other settings used.

    Raises
    ------
    Wannier90FormatError
        A file is missing, malformed, truncated or belongs to another run (the message
        names the file, the line or record, and the mismatch).
    """
    from .tight_binding import TightBinding

    run = seed if isinstance(seed, WannierRun) else WannierRun(seed, chk=chk)
    if spin:
        find_run_file(run.seed, ".spn")                     # a missing .spn is reported before the long reads
    ops = wannier_operators_R(run, use_ws_distance=use_ws_distance, transl_inv=transl_inv)
    spin_prov = None
    raw = [ops["HH_R"], ops["AA_R"]]
    if spin or (spin is None and find_run_file(run.seed, ".spn", required=False) is not None):
        from .wannier90_spin import spin_operator_R
        SS_R, spin_prov = spin_operator_R(run, ops["irvec"])
        raw.append(SS_R)
    keys, (hop, pos, *spn) = split_over_shifts(raw, ops["ndegen"], ops["ndeg"], ops["irdist"])
    # O(-R) = O(R)^dagger holds to round-off; make it exact (an average of two equal numbers up to
    # round-off), so that write_wannier90_tb -> read_wannier90 reproduces the model bit for bit.
    index = {R: n for n, R in enumerate(keys)}
    partner = [index.get(tuple(-x for x in R)) for R in keys]
    if None not in partner:               # else TightBinding reports the missing partner below
        hop = 0.5 * (hop + hop[partner].conj().swapaxes(-1, -2))
        pos = 0.5 * (pos + pos[partner].conj().swapaxes(-1, -2))
        spn = [0.5 * (x + x[partner].conj().swapaxes(-1, -2)) for x in spn]
    lat = run.lattice
    i0 = keys.index((0, 0, 0))
    centres = np.real(np.diagonal(pos[i0], axis1=1, axis2=2)).T                 # (nw, 3) Angstrom
    positions = centres @ np.linalg.inv(lat)
    prov = run.provenance()
    prov.update({
        "use_ws_distance": ops["use_ws_distance"],
        "ws_distance_tol": float(run.win["ws_distance_tol"]),
        "ws_search_size": run.win["ws_search_size"].tolist(),
        "nrpts": int(len(ops["irvec"])), "n_hopping_vectors": len(keys),
        "bvector_weights": ops["wb"].tolist(),
        "transl_inv": ops["transl_inv"],
        "spin": spin_prov,
    })
    if spin_prov is not None:
        prov["files"]["spn"] = {"path": spin_prov["path"], "sha256": spin_prov["sha256"]}
    try:
        model = TightBinding(lat, positions, dict(zip(keys, hop)), convention=convention,
                             name=name if name is not None else Path(run.seed).name,
                             position_matrix=dict(zip(keys, pos)),
                             spin_matrix=dict(zip(keys, spn[0])) if spn else None)
    except ModelError as exc:
        raise _error(f"{run.files['win']}: the model built from this run is invalid: {exc}") from exc
    model.provenance = prov
    return model
