"""Multiband Lindhard density response chi(q, omega) with band form factors (no gradient expansion).

.. math::
    \\chi(q,\\omega) = \\int\\frac{d^dk}{(2\\pi)^d}\\sum_{n,m}
        \\big(f_n(k) - f_m(k+q)\\big)\\,
        \\frac{|\\langle u_n(k)|u_m(k+q)\\rangle|^2}{\\hbar\\omega + \\varepsilon_n(k) - \\varepsilon_m(k+q) + i\\eta}

(no spin factor: spin, if any, is part of the model's orbitals). Units 1/(eV Angstrom^d). It is the
retarded density-density response per unit volume to a potential energy :math:`U\\,e^{i(q\\cdot x -
\\omega t)} + c.c.` coupling to the electron density, :math:`\\delta n(q,\\omega) = \\chi(q,\\omega)\\,U`;
for electrons (charge :math:`-e`) in a scalar potential :math:`\\phi`, :math:`U = -e\\phi`. The static
long-wavelength limit of a metal is :math:`-\\nu(\\mu)` (minus the density of states; :math:`\\chi < 0`).

Form factors and the Fourier convention
---------------------------------------
The density operator :math:`e^{-iq\\cdot\\hat x}` between Bloch states of a tight-binding model with the
position operator diagonal in the orbitals (orbital :math:`j` at :math:`R + \\tau_j`) has matrix elements
:math:`\\sum_j \\psi^*_{nk}(j)\\psi_{m,k+q}(j)` with :math:`\\psi_{nk}(R, j) = e^{ik\\cdot(R+\\tau_j)}u_{nj}(k)`,
i.e. exactly :math:`\\langle u_n(k)|u_m(k+q)\\rangle` for the eigenvectors of the ``"positions"``
convention :math:`H_{ij}(k) = \\sum_R t_{R,ij}e^{ik\\cdot(R+\\tau_j-\\tau_i)}`. In the ``"lattice"``
convention the same element is :math:`\\langle u_n(k)|e^{-iq\\cdot\\hat\\tau}|u_m(k+q)\\rangle`; the plain
overlap would place every orbital at the cell origin and give a different (unphysical for
:math:`\\tau_j \\ne 0`) :math:`O(q^2)` term. Tight-binding models are therefore evaluated in the
``"positions"`` convention (converted if needed). Continuum models need no choice.

Models with a position matrix (Wannier90) are refused (``LINDHARD_NEEDS``): beyond O(q) the form factor
needs second and higher moments of r between Wannier functions, which a Wannier run does not give. Pass
``model.tight_binding_approximation()`` to use the diagonal position operator explicitly.

Limits and numerics
-------------------
* k is summed over the grid and :math:`k+q` evaluated exactly (any q, not restricted to the grid). For
  lattice models the sum over the Brillouin zone is exact in q; for continuum models the cutoff
  :math:`|k| < k_{cut}` applies to k.
* Static, undamped pairs with :math:`|\\varepsilon_n(k) - \\varepsilon_m(k+q)| <` ``degeneracy_tol`` at
  :math:`\\omega = 0,\\ \\eta = 0` use :math:`f'` (their :math:`0/0` limit); at T = 0 that is taken as 0.
* One eigendecomposition per k for all q; one per (k, q) for the shifted points.
* ``intraband`` / ``interband`` split the sum by band index (n = m / n != m). The split is
  meaningful for non-degenerate bands only; ``chi`` is gauge invariant in all cases.

Expansion in q (derived in tests/test_lindhard.py; static, non-degenerate bands, any T):

.. math::
    \\chi(q, 0) = \\sum_n\\int f'_n
      + q_aq_b\\sum_n\\int\\Big[f_n\\,G^{ab}_n - f'_n\\,g^{ab}_n - \\tfrac{1}{12}f'''_n\\,v^a_nv^b_n\\Big] + O(q^4),

with :math:`g` the quantum metric, :math:`G = 2\\,\\mathrm{Re}\\sum_m V^aV^b/\\Delta^3` the band-normalized
metric and :math:`v = \\partial\\varepsilon`. A band insulator keeps only :math:`q_aq_b\\sum_n\\int f_nG^{ab}_n`
(= :math:`-2q_aq_b\\sum_{n\\,occ,\\,m\\,empty}\\int g^{ab}_{nm}/(\\varepsilon_m-\\varepsilon_n)`).

Checks (tests/test_lindhard.py): 2D massive Dirac insulator and metal against closed forms of the
:math:`q^2` coefficient; a Haldane lattice model against the geometric formula (positions
convention); continuity with the Kubo conductivity; 3D free electrons against the Lindhard function
:math:`-N(0)[\\tfrac12 + \\tfrac{1-x^2}{4x}\\ln|\\tfrac{1+x}{1-x}|]`, :math:`x = q/2k_F`, for
:math:`0.1 \\le x \\le 2` (to 4e-9 at 300 K against its thermal average by Maldague's identity; the
deviation from the T = 0 form falls as :math:`T^2`).
"""

from __future__ import annotations

import numpy as np
import xarray as xr

from .. import units
from ..models.base import Model, ModelError
from ..models.tight_binding import check_diagonal_positions
from ._grid import broadening, check_omega, fermi_and_derivative, k_source, physical_model

#: why a position-matrix model is refused (module docstring, "Models with a position matrix")
LINDHARD_NEEDS = (
    "the density form factor <psi_nk|e^{-iq.r}|psi_m,k+q> needs the matrix elements <m,0|e^{-iq.r}|n,R> of the "
    "density operator between Wannier functions, i.e. every moment of r; a Wannier run gives only the first, "
    "<m,0|r|n,R>, which fixes the form factor to O(q) but not its O(q^2) part (the quantum metric term of chi), "
    "which needs <m,0|r_a r_b|n,R>.")

__all__ = ["lindhard", "LINDHARD_FORMULA"]

LINDHARD_FORMULA = (
    "chi(q, omega) = int d^dk/(2pi)^d sum_nm (f_n(k) - f_m(k+q)) |<u_n(k)|u_m(k+q)>|^2 / "
    "(hbar omega + eps_n(k) - eps_m(k+q) + i eta); 'positions' convention form factors; 1/(eV A^d)"
)

#: eV: |eps_n(k) - eps_m(k+q)| below which a static pair takes its 0/0 limit f'. Not the band-geometry
#: degeneracy tolerance (qkinetics.geometry.DEFAULT_DEGENERACY_TOL, 1e-3 eV for noisy Wannier data): here
#: the pair is split by v.q at small q, and a larger window would replace a resolved difference quotient.
STATIC_PAIR_TOL = 1e-6


def lindhard(model: Model, q, omega=0.0, *, mu=0.0, T=300.0, tau=None, eta=None, kgrid=100, shift=0.5, kcut=None,
             chunk_size=None, degeneracy_tol: float = STATIC_PAIR_TOL) -> xr.Dataset:
    """Multiband Lindhard function chi(q, omega) of any model.

    Parameters
    ----------
    model : Model
    q : (nq, d) or (d,) array
        Cartesian wave vectors of the perturbation, 1/Angstrom.
    omega : float or array, rad/s
        Angular frequencies; :math:`\\hbar\\omega` = ``units.hbar_eVs * omega`` eV (a photon energy E in eV
        is ``omega = E / units.hbar_eVs``). Nonzero values below 1e6 rad/s (:math:`\\hbar\\omega` < 1e-9 eV)
        are refused as energies given in eV by mistake.
    mu : float or array, eV
    T : float or array, K
        Default 300 K, as in every solver of the package.
    tau : float or array, s, optional
        Relaxation time; the broadening is :math:`\\eta = \\hbar/\\tau` (``numpy.inf``: none). Time
        units, as ``tau`` of :func:`qkinetics.conductivity` and of the kinetic solver.
    eta : float or array, eV, optional
        The broadening itself (retarded: + i eta), in energy units; 0 allowed (static or off-resonance).
        Give at most one of ``tau`` and ``eta``; neither means eta = 0. Values above 1e3 eV are refused
        as rates (1/s) given in place of an energy.
    kgrid : int, sequence, KGrid or (k, w)
        As in :func:`qkinetics.kubo.linear.kubo_conductivity`.
    shift, kcut : as for :class:`~qkinetics.integrate.KGrid`.
    chunk_size : int, optional
    degeneracy_tol : float, eV

    Returns
    -------
    xarray.Dataset
        Complex ``chi``, ``intraband`` (n = m), ``interband`` (n != m) with dims
        ``(q, mu, T, eta, omega)`` in 1/(eV Angstrom^d); coordinates ``q_vector`` (q, d) and ``tau``
        (along ``eta``, s).
    """
    check_diagonal_positions(model, "the Lindhard function", LINDHARD_NEEDS)
    model = physical_model(model)
    dim, N = model.dim, model.norb
    q = model.check_k(q)
    omega = check_omega(omega)
    mu = np.atleast_1d(np.asarray(mu, dtype=float))
    T = np.atleast_1d(np.asarray(T, dtype=float))
    for name, x in (("omega", omega), ("mu", mu), ("T", T)):
        if x.ndim != 1:
            raise ModelError(f"{name} must be a scalar or a 1D array.")
    if np.any(T < 0):
        raise ModelError(f"T must be >= 0 K; got {T.tolist()}.")
    tau, eta = broadening(tau, eta, default_eta=0.0)
    hw = units.hbar_eVs * omega
    nM, nT, nE, nW = len(mu), len(T), len(eta), len(omega)
    z = (1j * eta[:, None] + hw[None, :]).reshape(-1)                             # (E*W,)
    static = z == 0
    if chunk_size is None:
        chunk_size = int(np.clip(4e6 / (N * N * max(nE * nW, nM * nT)), 16, 20000))
    description, chunks = k_source(model, kgrid, shift=shift, kcut=kcut)
    diag = np.eye(N, dtype=bool)
    out = np.zeros((len(q), 2, nM * nT, nE * nW), complex)                        # [., intra/inter, ...]
    npts = 0
    for k, w in chunks(chunk_size):
        npts += len(k)
        e1, U1 = np.linalg.eigh(model.hamiltonian(k, 0)[0])
        f1, _ = fermi_and_derivative(e1, mu, T)                                   # (M, T, B, N)
        for iq, qv in enumerate(q):
            e2, U2 = np.linalg.eigh(model.hamiltonian(k + qv, 0)[0])
            f2, _ = fermi_and_derivative(e2, mu, T)
            O2 = np.abs(np.einsum("kin,kim->knm", U1.conj(), U2)) ** 2            # |<u_n(k)|u_m(k+q)>|^2
            de = e1[:, :, None] - e2[:, None, :]                                  # (B, N, N)
            num = (f1[..., :, None] - f2[..., None, :]) * (w[:, None, None] * O2)  # (M, T, B, N, N)
            with np.errstate(divide="ignore", invalid="ignore"):
                D = 1.0 / (z[:, None, None, None] + de[None])                     # (E*W, B, N, N)
            if np.any(static):
                near = np.abs(de) < degeneracy_tol
                if np.any(near):
                    # 0/0 pairs of the static undamped limit: (f1 - f2)/(e1 - e2) -> f'(mean energy)
                    b, n, m = np.nonzero(near)
                    _, fp = fermi_and_derivative(0.5 * (e1[b, n] + e2[b, m]), mu, T)    # (M, T, P)
                    fix = (fp * (w[b] * O2[b, n, m])).reshape(nM * nT, -1)              # (M*T, P)
                    sub = D[:, b, n, m]
                    sub[static] = 0.0
                    D[:, b, n, m] = sub
                    same_band = n == m
                    out[iq, 0] += fix[:, same_band].sum(1)[:, None] * static[None, :]
                    out[iq, 1] += fix[:, ~same_band].sum(1)[:, None] * static[None, :]
            numf = num.reshape(nM * nT, -1)
            Df = D.reshape(nE * nW, -1)
            dmask = np.broadcast_to(diag, de.shape).reshape(-1)
            out[iq, 0] += numf[:, dmask] @ Df[:, dmask].T
            out[iq, 1] += numf[:, ~dmask] @ Df[:, ~dmask].T
    if npts == 0:
        raise ModelError("the k grid holds no points.")
    out = out.reshape(len(q), 2, nM, nT, nE, nW)
    dims = ("q", "mu", "T", "eta", "omega")
    unit = f"1/(eV A^{dim})"
    ds = xr.Dataset({"chi": (dims, out[:, 0] + out[:, 1]), "intraband": (dims, out[:, 0]),
                     "interband": (dims, out[:, 1])},
                    coords={"q": np.arange(len(q)), "mu": mu, "T": T, "eta": eta, "omega": omega,
                            "tau": ("eta", tau), "q_vector": (("q", "axis"), q), "axis": list("xyz"[:dim])})
    for name in ("chi", "intraband", "interband"):
        ds[name].attrs["units"] = unit
    ds["mu"].attrs["units"] = "eV"
    ds["T"].attrs["units"] = "K"
    ds["eta"].attrs["units"] = "eV"
    ds["tau"].attrs["units"] = "s"
    ds["omega"].attrs["units"] = "rad/s"
    ds["q_vector"].attrs["units"] = "1/A"
    ds.attrs.update(formula=LINDHARD_FORMULA, model=model.name, grid=description, npoints=npts, dimension=dim,
                    conventions="delta n = chi U for a potential energy U e^{i(q.x - omega t)}; no spin factor")
    return ds
