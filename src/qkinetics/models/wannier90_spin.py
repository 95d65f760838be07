"""The spin operator of a Wannier90 run: ``seedname.spn`` read into S(R) = <0m|sigma|Rn>, as postw90 does.

``seedname.spn`` (written by the ab-initio interface, e.g. ``pw2wannier90.x`` with ``write_spn``) holds, for every
ab-initio k point, the Pauli matrices between the Bloch states, :math:`\\langle\\psi_{mk}|\\sigma_a|\\psi_{nk}\\rangle`
(a = x, y, z), for the ``num_bands`` bands of the run. Two layouts (Wannier90 documentation, "seedname.spn";
postw90 ``get_oper.F90``, ``get_SS_R``):

formatted (``spn_formatted = true``)
    line 1 a header; line 2 ``num_bands num_kpts``; then for each k point, for m = 1..num_bands and n = 1..m,
    three lines ``Re Im`` for the x, y, z components of the element (n, m) (the upper triangle, column by
    column); the lower triangle is its complex conjugate.
unformatted (the default; Fortran sequential records)
    a 60-character header record, a record ``num_bands num_kpts`` (two 4-byte integers), then one record per
    k point of 3 num_bands (num_bands + 1) / 2 complex numbers (8-byte reals), component fastest, then the
    element (n, m) in the same upper-triangle order.

``w90spn2spn.x`` converts between them. Either may be compressed (``.bz2``, ``.gz``); the layout is recognized
from the content (the ``spn_formatted`` of the .win, when given, must agree).

Construction (postw90): with :math:`V_k` the gauge matrices of the checkpoint on the outer-window bands
(:meth:`~qkinetics.models.wannier90_run.WannierRun.v_matrix`),
:math:`S_q(k) = V_k^\\dagger\\,\\sigma^{(0)}(k)\\,V_k` on the window rows, then
:math:`S(R) = N_k^{-1}\\sum_k e^{-2\\pi i k\\cdot R} S_q(k)` on the Wigner-Seitz vectors of the Hamiltonian, divided
by ``ndegen`` and split over the MDRS vectors exactly like the hoppings. :math:`S_q(k)` is made exactly Hermitian
(postw90 keeps the conjugate of the read diagonal, whose imaginary part is round-off; only the Hermitian part
enters an expectation value).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from .wannier90_run import _Records, _error, _read_bytes, _sha256, find_run_file

__all__ = ["read_spn", "spin_operator_R"]


def _upper_triangle(nb):
    """Row and column indices (n, m), n <= m, in the .spn order: m = 1..nb outer, n = 1..m inner (0-based)."""
    m = np.concatenate([np.full(j + 1, j) for j in range(nb)])
    n = np.concatenate([np.arange(j + 1) for j in range(nb)])
    return n, m


def _is_formatted(data):
    """True if the first line is text (formatted); False for a Fortran record marker (unformatted)."""
    head = data[:64]
    if len(head) >= 4 and int.from_bytes(head[:4], "little") in (60, 60 << 24):
        return False
    return all(32 <= b < 127 or b in (9, 10, 13) for b in head)


def read_spn(path, num_bands, num_kpts, formatted=None):
    """Spin matrices of a ``.spn`` file: ``(header, spn, formatted)``, ``spn`` (num_kpts, 3, num_bands, num_bands).

    ``spn[k, a, m, n] = <psi_mk|sigma_a|psi_nk>`` (Hermitian in m, n). ``formatted``: None (recognized from the
    content), or the .win's ``spn_formatted``, which must then match the content. Raises
    :class:`~qkinetics.models.wannier90.Wannier90FormatError` naming the file, the line or record and the mismatch.
    """
    path = Path(path)
    data = _read_bytes(path)
    is_fmt = _is_formatted(data)
    if formatted is not None and bool(formatted) != is_fmt:
        raise _error(f"{path}: the .win says spn_formatted = {'true' if formatted else 'false'} but the file is "
                     f"{'formatted (text)' if is_fmt else 'unformatted (Fortran records)'}. Set spn_formatted to "
                     "match, or convert the file with w90spn2spn.x.")
    ntri = num_bands * (num_bands + 1) // 2
    n, m = _upper_triangle(num_bands)
    if is_fmt:
        lines = data.decode("utf-8", errors="replace").splitlines()
        if len(lines) < 2:
            raise _error(f"{path}: truncated: a formatted .spn starts with a header line and 'num_bands num_kpts'.")
        header = lines[0].strip()
        try:
            nb, nk = (int(x) for x in lines[1].split()[:2])
        except ValueError:
            raise _error(f"{path}, line 2: expected 'num_bands num_kpts'; got {lines[1].strip()!r}.") from None
        _check_counts(path, "line 2", nb, nk, num_bands, num_kpts)
        body = lines[2:]
        need = num_kpts * ntri * 3
        if len(body) < need:
            raise _error(f"{path}: truncated: {num_kpts} k points x {ntri} elements x 3 components need {need} "
                         f"lines 'Re Im' after line 2; the file has {len(body)}.")
        try:
            vals = np.array(" ".join(body[:need]).replace("D", "E").replace("d", "e").split(), dtype=float)
        except ValueError:
            vals = None
        if vals is None or vals.size != 2 * need:
            for i, line in enumerate(body[:need]):
                try:
                    re_, im_ = (float(x.replace("D", "E").replace("d", "e")) for x in line.split())
                except ValueError:
                    raise _error(f"{path}, line {i + 3}: expected two reals 'Re Im'; got {line.strip()!r}.") from None
        if any(line.strip() for line in body[need:]):
            raise _error(f"{path}: {len([l for l in body[need:] if l.strip()])} extra non-empty lines after the "
                         f"{num_kpts} k points; the file does not belong to a run with num_bands = {num_bands}.")
        upper = (vals[0::2] + 1j * vals[1::2]).reshape(num_kpts, ntri, 3)
    else:
        rec = _Records(path, data)
        head = rec.record("the header")
        header = head.decode("ascii", errors="replace").strip()
        sizes = rec.array(np.int32, 2, "num_bands, num_kpts")
        _check_counts(path, f"record {rec.nrec}", int(sizes[0]), int(sizes[1]), num_bands, num_kpts)
        upper = np.empty((num_kpts, ntri, 3), dtype=complex)
        for k in range(num_kpts):
            upper[k] = rec.array(np.complex128, 3 * ntri, f"the spin matrices of k point {k + 1}").reshape(ntri, 3)
        if rec.pos != len(data):
            raise _error(f"{path}: {len(data) - rec.pos} bytes left after the {num_kpts} k-point records; the file "
                         "does not belong to this run.")
    if not np.all(np.isfinite(upper)):
        raise _error(f"{path}: non-finite spin matrix elements.")
    spn = np.empty((num_kpts, 3, num_bands, num_bands), dtype=complex)
    up = upper.transpose(0, 2, 1)                                                      # (nk, 3, ntri)
    spn[:, :, m, n] = up.conj()
    spn[:, :, n, m] = up
    return header, spn, is_fmt


def _check_counts(path, where, nb, nk, num_bands, num_kpts):
    if nb != num_bands:
        raise _error(f"{path}, {where}: num_bands = {nb} but the run has {num_bands} (checkpoint and .win). The "
                     ".spn file belongs to another run.")
    if nk != num_kpts:
        raise _error(f"{path}, {where}: num_kpts = {nk} but the run has {num_kpts} k points (mp_grid). The .spn "
                     "file belongs to another run.")


def spin_operator_R(run, irvec):
    """``S(R)`` (nR, 3, nw, nw), not divided by ``ndegen`` (postw90's ``SS_R``), and the provenance entry.

    Parameters
    ----------
    run : WannierRun
    irvec : (nR, 3) int
        The Wigner-Seitz vectors of the run (:func:`~qkinetics.models.wannier90_run.wannier_operators_R`).
    """
    path = find_run_file(run.seed, ".spn")
    nb, nk = run.chk["num_bands"], run.num_kpts
    header, spn, formatted = read_spn(path, nb, nk, formatted=run.win.get("spn_formatted"))
    V, _, nd = run.v_matrix()
    idx = run.window_bands()[0]
    sw = np.take_along_axis(np.take_along_axis(spn, idx[:, None, :, None], axis=2), idx[:, None, None, :], axis=3)
    rows = np.arange(nb)[None, :] < nd[:, None]
    Vw = np.where(rows[:, :, None], V, 0)
    SS_q = np.einsum("kim,kaij,kjn->kamn", Vw.conj(), sw, Vw)
    SS_q = 0.5 * (SS_q + SS_q.conj().swapaxes(-1, -2))
    phase = np.exp(-2j * np.pi * (irvec @ run.win["kpoints"].T)) / nk                # (nR, nk)
    SS_R = np.einsum("rk,kamn->ramn", phase, SS_q)
    return SS_R, {"path": str(path), "sha256": _sha256(path), "header": header, "formatted": bool(formatted),
                  "construction": "postw90 get_SS_R: V^dagger spn V on the window bands, Hermitian part, "
                                  "fourier_q_to_R, split over the MDRS vectors like H(R)"}
