"""Linear Kubo conductivity sigma_ab(omega): the quantum reference, no gradient expansion.

Model of relaxation
-------------------
The one-body density matrix obeys the relaxation-time equation of motion

.. math::
    i\\hbar\\,\\partial_t\\rho = [H_0 + eE(t)\\cdot\\hat r,\\ \\rho] - i\\,\\eta\\,(\\rho - \\rho_0),
    \\qquad \\eta = \\hbar/\\tau ,

with :math:`\\rho_0` the equilibrium density matrix of :math:`H_0` at the fixed chemical potential
:math:`\\mu` and temperature :math:`T` (no particle-number-conserving Mermin correction; charge
:math:`-e`, so the perturbation is :math:`+eE\\cdot\\hat r`). Every matrix element of the Bloch
density matrix relaxes at the same rate :math:`1/\\tau`. For fields :math:`E\\,e^{-i\\omega t} + c.c.`
and :math:`j = \\sigma(\\omega)E\\,e^{-i\\omega t} + c.c.`, first-order perturbation theory in the
eigenbasis of :math:`H_0(k)` (length gauge; the intraband part of :math:`[\\hat r, \\rho_0]` is
:math:`i\\partial_k f`, the interband part :math:`A_{nm}(f_m - f_n)` with
:math:`A^a_{nm} = iV^a_{nm}/(\\varepsilon_m - \\varepsilon_n)`) and :math:`j = -(e/\\hbar)\\,\\mathrm{tr}(\\partial H\\,\\rho)` give

.. math::
    \\sigma_{ab}(\\omega) = -\\frac{i e^2}{\\hbar}\\sum_{n,m}\\int\\frac{d^dk}{(2\\pi)^d}\\,
        F_{nm}\\,\\frac{V^a_{nm}V^b_{mn}}{\\hbar\\omega + \\varepsilon_n - \\varepsilon_m + i\\eta_{nm}},
    \\qquad F_{nm} = \\frac{f_n - f_m}{\\varepsilon_n - \\varepsilon_m}\\ (\\to f'_n\\ \\text{for } n = m),

:math:`V^a_{nm} = \\langle u_n|\\partial_a H|u_m\\rangle` (eV Angstrom). The pairs split into

* **intraband** (``n = m``, and pairs inside one degenerate group, for which :math:`F_{nm} = f'`):
  :math:`\\sigma^{intra}_{ab} = -\\frac{ie^2}{\\hbar}\\frac{1}{\\hbar\\omega + i\\eta}\\sum\\int f' \\,\\mathrm{tr}_G(V^aV^b)
  = -\\frac{e^2}{\\hbar^2}\\frac{1}{1/\\tau - i\\omega}\\sum_n\\int f'_n v^a_n v^b_n` for non-degenerate bands:
  exactly the relaxation-time Drude term (``qkinetics.responses.linear.drude``);
* **interband** (all other pairs), broadened by :math:`\\eta_{inter}` (default the same
  :math:`\\hbar/\\tau`; ``eta_interband`` sets it separately). In the clean dc limit
  (:math:`\\omega = 0,\\ \\eta \\to 0`) its antisymmetric part is
  :math:`-(e^2/\\hbar)\\sum_n\\int f_n\\Omega^{ab}_n`, the intrinsic anomalous Hall conductivity
  (``anomalous_hall``), with corrections :math:`O(\\eta^2/\\Delta^2)`; its symmetric part is
  :math:`O(\\eta)`.

So :math:`\\sigma = a\\,\\tau + b + O(1/\\tau)` at :math:`\\omega = 0`: Drude (tau^1), anomalous Hall (tau^0).

Units: S in 2D, S/m in 3D, S m in 1D (the prefactor :math:`e^2/\\hbar` times Angstrom^(2-d)).

Numerics: one eigendecomposition per k (``geometry_from_hamiltonian(..., keep_eigenvectors=True)``
supplies the velocity matrices); per k chunk the pair weights :math:`F_{nm}V^aV^b` are contracted
with the denominators of every (omega, tau) in one matrix product, so sweeps over omega, tau, mu and T
cost little more than one point. Degenerate groups: pairs of bands closer than ``degeneracy_tol``
(eV) at the same k are intraband (their :math:`F` is :math:`f'` at the mean energy), so no
0/0 arises; the group sums are gauge invariant. Tight-binding models are evaluated in the
``"positions"`` Fourier convention (converted if given in the ``"lattice"`` one), in which
:math:`\\partial_k H` is the current operator of orbitals at their positions.

Models with a position matrix (Wannier90): in the orbital Bloch basis :math:`r = i\\nabla_k + A^W(k)`, so the
current operator is :math:`\\tilde V^a = \\partial_a H + i[H, A^W_a]` and the length-gauge interband position
:math:`A^a_{nm} = i\\tilde V^a_{nm}/(\\varepsilon_m - \\varepsilon_n)`: the formula above holds with
:math:`V \\to \\tilde V` (``velocity_matrix`` of :func:`qkinetics.geometry.geometry_from_hamiltonian` with the
connection). Intraband and degenerate-group elements are unchanged (:math:`\\tilde V_{nm} = V_{nm}` where
:math:`\\varepsilon_n = \\varepsilon_m`). The components of the projected position operator do not commute when
the Wannier space is incomplete, :math:`[r_b, r_a] = -iF^W_{ab}` (the curvature of :mod:`qkinetics.geometry`), so
in a field the velocity is :math:`\\dot r_a = v_a + (e/\\hbar)E_bF^W_{ab}`; its expectation in equilibrium adds the
frequency-independent :math:`-(e^2/\\hbar)\\sum_n\\int f_n(U^\\dagger F^W_{ab}U)_{nn}` to ``interband``: the dc
response to the bands outside the Wannier space, so that the clean dc Hall conductivity is
:math:`-(e^2/\\hbar)\\sum_n\\int f_n\\Omega_n` with the full Wannier-interpolated curvature. Only first moments
of r enter, which a Wannier run provides.
"""

from __future__ import annotations

import warnings

import numpy as np
import xarray as xr

from .. import units
from ..geometry import DEFAULT_DEGENERACY_TOL, degenerate_groups, geometry_from_hamiltonian
from ..models.base import Model, ModelError
from ._grid import (broadening, check_omega, fermi_and_derivative, k_source, physical_model, position_connection,
                    wannier_curvature_matrix)

__all__ = ["kubo_conductivity", "kubo_prefactor", "KUBO_FORMULA", "RELAXATION_MODEL"]

AXES = ("x", "y", "z")

RELAXATION_MODEL = (
    "i hbar d_t rho = [H0 + eE.r, rho] - i eta (rho - rho0), eta = hbar/tau, rho0 the equilibrium of H0 at "
    "fixed mu and T (no Mermin correction); the same rate for all matrix elements unless eta_interband is given "
    "(then intraband pairs use hbar/tau and interband pairs eta_interband)."
)
KUBO_FORMULA = (
    "sigma_ab(omega) = -(i e^2/hbar) sum_nm int d^dk/(2pi)^d F_nm V^a_nm V^b_mn / (hbar omega + eps_n - eps_m "
    "+ i eta_nm), F_nm = (f_n - f_m)/(eps_n - eps_m) (f' within a degenerate group); fields E e^{-i omega t} + c.c."
)


def kubo_prefactor(dim: int) -> float:
    """:math:`e^2/\\hbar` times Angstrom^(2-d) in SI (S m^(2-d)); sigma = -i * this * (band sum in eV^-1)."""
    if dim not in (1, 2, 3):
        raise ModelError(f"dim must be 1, 2 or 3; got {dim!r}.")
    return units.e ** 2 / units.hbar * units.angstrom ** (2 - dim)


def kubo_conductivity(model: Model, omega=0.0, *, tau=None, eta=None, eta_interband=None, mu=0.0, T=300.0,
                      kgrid=100, shift=0.5, kcut=None, chunk_size=None,
                      degeneracy_tol: float = DEFAULT_DEGENERACY_TOL) -> xr.Dataset:
    """Linear Kubo conductivity tensor sigma_ab(omega) with a relaxation time, split into intra- and interband.

    Parameters
    ----------
    model : Model
        Any model (lattice or continuum, 1D/2D/3D). Tight-binding models are used in the
        ``"positions"`` convention.
    omega : float or array, rad/s
        Angular frequencies (fields :math:`E e^{-i\\omega t} + c.c.`); :math:`\\hbar\\omega` =
        ``units.hbar_eVs * omega`` eV. A photon energy E (eV) is ``omega = E / units.hbar_eVs``; nonzero
        values below 1e6 rad/s (:math:`\\hbar\\omega` < 1e-9 eV) are refused as energies given in eV by mistake.
    tau : float or array, s
        Relaxation times (``numpy.inf``: clean). Give exactly one of ``tau`` (time units, as in
        :func:`qkinetics.conductivity`) or ``eta`` (energy units).
    eta : float or array, eV
        Broadenings :math:`\\eta = \\hbar/\\tau` (0: clean). Values above 1e3 eV are refused as rates
        (1/s) given in place of an energy.
    eta_interband : float, eV, optional
        Broadening of the interband pairs if different from :math:`\\hbar/\\tau`.
    mu : float or array, eV
    T : float or array, K
        Default 300 K, as in every solver of the package. At T = 0 the Fermi-surface (intraband) term is set to zero with a warning (a grid cannot hold
        a delta function): use T > 0 for metals.
    kgrid : int, sequence, KGrid, or (k, w)
        Points per direction of a :class:`~qkinetics.integrate.KGrid` (Monkhorst-Pack for lattice models,
        cell centres inside ``kcut`` for continuum ones), a KGrid, or explicit points and weights.
    shift, kcut : as for KGrid.
    chunk_size : int, optional
        k points per chunk (default keeps temporaries near 64 MB).
    degeneracy_tol : float, eV
        Pairs closer than this at the same k are treated as intraband.

    Returns
    -------
    xarray.Dataset
        Complex variables ``intraband``, ``interband``, ``total`` with dims
        ``(mu, T, tau, omega, j, E1)`` (SI: S in 2D, S/m in 3D, S m in 1D); the ``tau`` dimension also
        carries ``eta`` (eV) and ``eta_interband`` (eV) coordinates.
    """
    model = physical_model(model)
    dim = model.dim
    omega = check_omega(omega)
    mu = np.atleast_1d(np.asarray(mu, dtype=float))
    T = np.atleast_1d(np.asarray(T, dtype=float))
    if omega.ndim != 1 or mu.ndim != 1 or T.ndim != 1:
        raise ModelError("omega, mu and T must be scalars or 1D arrays.")
    if np.any(T < 0):
        raise ModelError(f"T must be >= 0 K; got {T.tolist()}.")
    tau, eta_intra = broadening(tau, eta)
    if eta_interband is None:
        eta_inter = eta_intra.copy()
    else:
        eta_inter = np.broadcast_to(np.asarray(eta_interband, dtype=float), eta_intra.shape).copy()
        if np.any(~(eta_inter >= 0)):
            raise ModelError(f"eta_interband must be >= 0 (eV); got {eta_interband!r}.")
    hw = units.hbar_eVs * omega                                                   # eV
    nM, nT, nE, nW = len(mu), len(T), len(eta_intra), len(omega)
    N = model.norb
    if chunk_size is None:
        per_k = N * N * max(nE * nW, nM * nT * dim * dim)
        chunk_size = int(np.clip(4e6 / per_k, 16, 20000))
    description, chunks = k_source(model, kgrid, shift=shift, kcut=kcut)

    drude_w = np.zeros((nM, nT, dim, dim))                                        # sum f' tr(V^a V^b), eV A^2 A^-d
    inter = np.zeros((nE * nW, nM * nT * dim * dim), complex)
    # denominators hbar omega + i eta for every (tau, omega) pair, flattened as (tau, omega)
    zden = (hw[None, :] + 1j * eta_inter[:, None]).reshape(-1)                    # (E*W,)
    npts = 0
    outside = np.zeros((nM, nT, dim, dim))                                        # sum f_n (U^dagger F^W U)_nn
    for k, w in chunks(chunk_size):
        npts += len(k)
        H, dH = model.hamiltonian(k, 1)
        conn = position_connection(model, k)
        geo = geometry_from_hamiltonian(H, dH, k=k, keep_eigenvectors=True, degeneracy_tol=degeneracy_tol,
                                        connection=conn)
        if conn is not None:
            U = geo.eigenvectors
            Fd = np.einsum("kin,kabij,kjn->knab", U.conj(), wannier_curvature_matrix(*conn), U).real
            f, _ = fermi_and_derivative(geo.energies, mu, T)                    # (M, T, B, N)
            outside += np.einsum("k,mtkn,knab->mtab", w, f, Fd)
        eps, V = geo.energies, geo.velocity_matrix                               # (B, N), (B, d, N, N)
        labels = degenerate_groups(eps, degeneracy_tol)
        same = labels[:, :, None] == labels[:, None, :]                          # (B, N, N)
        VV = np.einsum("kanm,kbnm->knmab", V, V.conj())                          # V^a_nm V^b_mn
        # intraband: f' at the mean energy of the pair (n = m or same degenerate group)
        emean = 0.5 * (eps[:, :, None] + eps[:, None, :])
        bi, ni, mi = np.nonzero(same)
        _, fp = fermi_and_derivative(emean[bi, ni, mi], mu, T)                  # (M, T, P0)
        drude_w += np.einsum("p,mtp,pab->mtab", w[bi], fp, VV[bi, ni, mi]).real
        # interband pairs
        bi, ni, mi = np.nonzero(~same)
        if len(bi):
            f, _ = fermi_and_derivative(eps, mu, T)                              # (M, T, B, N)
            de = eps[bi, ni] - eps[bi, mi]                                       # (P,)
            F = (f[:, :, bi, ni] - f[:, :, bi, mi]) / de                        # (M, T, P)
            weight = (w[bi] * F)[..., None, None] * VV[bi, ni, mi]              # (M, T, P, d, d)
            weight = weight.transpose(2, 0, 1, 3, 4).reshape(len(bi), -1)
            with np.errstate(divide="ignore", invalid="ignore"):
                D = 1.0 / (zden[:, None] + de[None, :])                          # (E*W, P)
            inter += D @ weight
    if npts == 0:
        raise ModelError("the k grid holds no points.")

    pref = -1j * kubo_prefactor(dim)
    inter = pref * inter.reshape(nE, nW, nM, nT, dim, dim).transpose(2, 3, 0, 1, 4, 5)
    # field-dependent velocity (e/hbar) E_b F^W_ab of the projected position operator (position matrix only)
    inter = inter - kubo_prefactor(dim) * outside[:, :, None, None]
    if np.any(T == 0):
        warnings.warn("T = 0: the intraband (Fermi-surface) term needs T > 0 and is set to zero at T = 0.",
                      RuntimeWarning, stacklevel=2)
    zintra = hw[None, :] + 1j * eta_intra[:, None]                                # (E, W)
    with np.errstate(divide="ignore", invalid="ignore"):
        inv = np.where(zintra != 0, 1.0 / np.where(zintra != 0, zintra, 1.0), np.inf)
    Dw = drude_w[:, :, None, None]                                                # (M, T, 1, 1, d, d)
    with np.errstate(invalid="ignore"):
        intra = pref * np.where(Dw == 0, 0.0, Dw * inv[None, None, :, :, None, None])

    dims = ("mu", "T", "tau", "omega", "j", "E1")
    coords = {"mu": mu, "T": T, "tau": tau, "omega": omega, "j": list(AXES[:dim]), "E1": list(AXES[:dim]),
              "eta": ("tau", eta_intra), "eta_interband": ("tau", eta_inter)}
    unit = {1: "S m", 2: "S", 3: "S/m"}[dim]
    ds = xr.Dataset({"intraband": (dims, intra), "interband": (dims, inter), "total": (dims, intra + inter)},
                    coords=coords)
    for name in ("intraband", "interband", "total"):
        ds[name].attrs["units"] = unit
    ds["intraband"].attrs["description"] = "n = m and degenerate-group pairs: relaxation-time Drude term"
    ds["interband"].attrs["description"] = "pairs of different energies: anomalous Hall (clean dc) + optical"
    ds["mu"].attrs["units"] = "eV"
    ds["T"].attrs["units"] = "K"
    ds["tau"].attrs["units"] = "s"
    ds["omega"].attrs["units"] = "rad/s"
    ds["eta"].attrs["units"] = "eV"
    ds["eta_interband"].attrs["units"] = "eV"
    ds.attrs.update(formula=KUBO_FORMULA, relaxation_model=RELAXATION_MODEL, model=model.name,
                    grid=description, npoints=npts, dimension=dim,
                    conventions="electron charge -e; E(t) = E exp(-i omega t) + c.c.; j_a = sigma_ab E_b")
    return ds
