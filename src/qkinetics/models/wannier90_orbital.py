"""The Wannier matrix elements of the orbital magnetic moment, built as postw90 builds them.

The orbital moment of Bloch states needs, besides H(R) and the position matrix r(R), two more operators
in the Wannier basis (Lopez, Vanderbilt, Thonhauser, Souza, PRB 85, 014435 (2012), "LVTS12"; postw90's
``get_BB_R`` and ``get_CC_R``):

.. math::
    B_{a,mn}(\\mathbf R) = \\langle m,0|H(r_a - R_a)|n,\\mathbf R\\rangle, \\qquad
    C_{ab,mn}(\\mathbf R) = \\langle m,0|r_a H (r_b - R_b)|n,\\mathbf R\\rangle .

On the ab-initio mesh they come from finite differences over the b-vectors of the ``.mmn`` file,

.. math::
    B_a(\\mathbf q) &= i\\sum_{\\mathbf b} w_b b_a\\, V_{\\mathbf q}^\\dagger\\, \\mathrm{diag}(E_{\\mathbf q})\\,
        M(\\mathbf q, \\mathbf b)\\, V_{\\mathbf q+\\mathbf b},\\\\
    C_{ab}(\\mathbf q) &= \\sum_{\\mathbf b_1\\mathbf b_2} w_{b_1} b_{1,a}\\, w_{b_2} b_{2,b}\\,
        V_{\\mathbf q+\\mathbf b_1}^\\dagger\\, \\langle u_{\\mathbf q+\\mathbf b_1}|H_{\\mathbf q}|
        u_{\\mathbf q+\\mathbf b_2}\\rangle\\, V_{\\mathbf q+\\mathbf b_2}

(the second from ``seedname.uHu``), with :math:`C_{ba} = C_{ab}^\\dagger` for :math:`a < b` as postw90 sets
it, then Fourier transformed to the Wigner-Seitz vectors and split over the MDRS shifts exactly like H and r
(:func:`qkinetics.models.wannier90_run.wannier_operators_R`, :func:`split_over_shifts`). The result is kept
in Wannier90's Fourier convention, :math:`O(\\mathbf k) = \\sum_R e^{i\\mathbf k\\cdot\\mathbf R} O(\\mathbf R)`.
"""

from __future__ import annotations

import numpy as np

from .wannier90_run import (WannierRun, _error, _open_text, bvector_weights, find_run_file, iter_mmn,
                            split_over_shifts, wannier_operators_R)

__all__ = ["OrbitalOperators", "read_wannier90_orbital"]


class OrbitalOperators:
    """B(R) and C(R) of a Wannier90 run, Fourier-summed on demand (Wannier90's lattice convention).

    Attributes
    ----------
    R : (nR, 3) int lattice vectors (reduced), after the MDRS split.
    B : (nR, 3, N, N) complex, eV Å.
    C : (nR, 3, 3, N, N) complex, eV Å².
    lattice : (3, 3) Å.
    """

    def __init__(self, R, B, C, lattice):
        self.R = np.asarray(R, dtype=float)
        self.B = B
        self.C = C
        self.lattice = np.asarray(lattice, dtype=float)
        self._Rcart = self.R @ self.lattice

    def at(self, k):
        """``B(k)`` (K, 3, N, N) and ``C(k)`` (K, 3, 3, N, N) at Cartesian k (K, 3), 1/Å."""
        phase = np.exp(1j * (np.asarray(k, dtype=float) @ self._Rcart.T))          # (K, nR)
        return (np.einsum("kr,ramn->kamn", phase, self.B), np.einsum("kr,rabmn->kabmn", phase, self.C))


def _read_uhu(path, nb, nk, nntot):
    """Yield, for each k point, the (nntot, nntot, nb, nb) array ``<u_{k+b1}|H_k|u_{k+b2}>[b2, b1]``."""
    with _open_text(path) as f:
        f.readline()
        line2 = f.readline()
        try:
            hb, hk, hn = (int(x) for x in line2.split())
        except ValueError:
            raise _error(f"{path}, line 2: expected 'num_bands num_kpts nntot'; got {line2.strip()!r}.") from None
        if (hb, hk, hn) != (nb, nk, nntot):
            raise _error(f"{path}, line 2: num_bands, num_kpts, nntot = {hb}, {hk}, {hn} but the run has {nb}, {nk}, "
                         f"{nntot}: the .uHu file belongs to another run.")
        per_k = nntot * nntot * nb * nb
        for ik in range(nk):
            lines = [f.readline() for _ in range(per_k)]
            if not lines[-1]:
                raise _error(f"{path}: end of file in the block of k point {ik + 1}; the file is truncated.")
            try:
                vals = np.array(" ".join(lines).replace("D", "E").replace("d", "e").split(), dtype=float)
            except ValueError:
                raise _error(f"{path}: non-numeric value in the block of k point {ik + 1}.") from None
            if vals.size != 2 * per_k:
                raise _error(f"{path}: the block of k point {ik + 1} should hold {per_k} lines 'Re Im'.")
            # file order: nn2 (outer), nn1, then m (outer), n (inner) of Ho(m, n) = <u_m,k+b1|H_k|u_n,k+b2>
            yield (vals[0::2] + 1j * vals[1::2]).reshape(nntot, nntot, nb, nb)


def read_wannier90_orbital(seed, *, use_ws_distance=None) -> OrbitalOperators:
    """B(R) and C(R) of a Wannier90 run (``seedname.win``, ``.chk``/``.chk.fmt``, ``.eig``, ``.mmn``, ``.uHu``).

    Parameters
    ----------
    seed : str or path-like
        ``path/seedname`` or ``path/seedname.win``; the files may be ``.bz2``/``.gz`` compressed. Only the
        formatted ``.uHu`` (``uHu_formatted = true``) is read.
    use_ws_distance : bool or None
        As in :func:`qkinetics.read_wannier90_run` (default: the .win value).

    Returns
    -------
    OrbitalOperators
    """
    run = WannierRun(seed)
    c, w = run.chk, run.win
    nk, nb, nw, nntot = run.num_kpts, c["num_bands"], c["num_wann"], c["nntot"]
    kpt = w["kpoints"]
    recip = run.recip_lattice
    V = run.v_matrix()[0]
    bands, Ewin = run.window_bands()
    uhu_path = find_run_file(run.seed, ".uHu")

    def window(S, ka, kb):
        """Rows of the window of ka, columns of the window of kb (postw90's S_o(wm_a:, wm_b:))."""
        return S[np.ix_(bands[ka], bands[kb])]

    # B(q) from the overlaps; the b-vectors of each k in file order (= Wannier90's nnlist order, which the
    # .uHu blocks follow)
    it = iter_mmn(run.files["mmn"], chunk_blocks=nntot)
    if next(it) != (nb, nk, nntot):
        raise _error(f"{run.files['mmn']}: its sizes differ from the checkpoint {run.files['chk']}.")
    BB_q = np.zeros((nk, 3, nw, nw), dtype=complex)
    neighbours = np.zeros((nk, nntot), dtype=int)
    bvec = np.zeros((nk, nntot, 3))
    weights = np.zeros((nk, nntot))
    for ik, (heads, S_o) in enumerate(it):
        if np.any(heads[:, 0] - 1 != ik):
            raise _error(f"{run.files['mmn']}: the blocks of k point {ik + 1} are not together in order.")
        ik2 = heads[:, 1] - 1
        bk = (kpt[ik2] + heads[:, 2:5] - kpt[ik]) @ recip
        wb = bvector_weights(bk)
        neighbours[ik], bvec[ik], weights[ik] = ik2, bk, wb
        for j in range(nntot):
            Sw = window(S_o[j], ik, ik2[j])
            H_q_qb = V[ik].conj().T @ (Ewin[ik][:, None] * Sw) @ V[ik2[j]]
            BB_q[ik] += 1j * wb[j] * bk[j][:, None, None] * H_q_qb[None]

    # C(q) from <u_{q+b1}|H_q|u_{q+b2}>
    CC_q = np.zeros((nk, 3, 3, nw, nw), dtype=complex)
    upper = [(a, b) for b in range(3) for a in range(b + 1)]
    for ik, Ho in enumerate(_read_uhu(uhu_path, nb, nk, nntot)):
        for n2 in range(nntot):
            q2 = neighbours[ik, n2]
            for n1 in range(nntot):
                q1 = neighbours[ik, n1]
                H12 = V[q1].conj().T @ window(Ho[n2, n1], q1, q2) @ V[q2]
                w12 = weights[ik, n1] * weights[ik, n2]
                for a, b in upper:
                    CC_q[ik, a, b] += w12 * bvec[ik, n1, a] * bvec[ik, n2, b] * H12
        for a, b in upper:
            CC_q[ik, b, a] = CC_q[ik, a, b].conj().T

    ops = wannier_operators_R(run, use_ws_distance=use_ws_distance)
    phase = np.exp(-2j * np.pi * (ops["irvec"] @ kpt.T)) / nk
    BB_R = np.einsum("rk,kamn->ramn", phase, BB_q)
    CC_R = np.einsum("rk,kabmn->rabmn", phase, CC_q)
    keys, (B, C) = split_over_shifts([BB_R, CC_R], ops["ndegen"], ops["ndeg"], ops["irdist"])
    return OrbitalOperators(keys, B, C, run.lattice)
