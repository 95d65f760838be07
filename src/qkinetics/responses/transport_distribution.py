"""Boltzmann transport from the transport distribution function, the way BoltzWann computes it.

The constant-relaxation-time Boltzmann theory gives every linear transport coefficient from one
function of energy, the transport distribution function (TDF)

.. math::
    \\Sigma_{ab}(E) = \\frac{e^2\\tau}{\\hbar^2}\\, \\frac{g_s}{V N_k}\\sum_{n,k}
        \\partial_a\\varepsilon_{nk}\\, \\partial_b\\varepsilon_{nk}\\; \\delta(E - \\varepsilon_{nk})

(S/m in 3D, the conductivity at T = 0 and chemical potential E; :math:`V` the cell volume, :math:`N_k` the number of k points, :math:`g_s` the spin
degeneracy, :math:`\\partial_a\\varepsilon` in eV Å). With :math:`-f'(E) = -\\partial f/\\partial E`
of the Fermi-Dirac distribution at chemical potential :math:`\\mu` and temperature :math:`T`, the
Onsager integrals

.. math::
    L^{(n)}_{ab}(\\mu, T) = \\int dE\\, (-f'(E))\\, (E-\\mu)^n\\, \\Sigma_{ab}(E)

give (electron charge :math:`-e`; with :math:`E - \\mu` in eV, :math:`L^{(n)}` is in S/m eV^n)

* the conductivity :math:`\\sigma = L^{(0)}`;
* :math:`(\\sigma S) = -L^{(1)} / (e T)` in A/(m K) with :math:`E-\\mu` converted to joules, so the
  Seebeck tensor :math:`S = -\\sigma^{-1} L^{(1)} / (eT)` (V/K; positive for holes);
* the Peltier tensor :math:`\\Pi = T S` (V);
* the coefficient BoltzWann prints as ``Kappa``, :math:`K = L^{(2)}/(e^2 T)` (W/(m K)), and the
  electronic thermal conductivity at zero electric current
  :math:`\\kappa = K - T\\, (\\sigma S)^T \\sigma^{-1} (\\sigma S)` (W/(m K)).

The method (Pizzi et al., Comput. Phys. Commun. 185, 422 (2014); Wannier90 ``boltzwann.F90``): band
energies and velocities on a Gamma-centred ``n^3`` grid of the whole Brillouin zone; the delta
function is either a histogram (each state adds ``1/dE`` to the bin whose centre is nearest to its
energy) or a Gaussian of fixed width evaluated at the bin centres (``smearing``); the energy grid
runs from ``energy_min - margin`` to ``energy_max + margin`` in steps ``energy_step`` with
``margin = max(3 smearing, 0.2 eV)``; the integrals over E are plain sums times ``energy_step``
with :math:`-f'` evaluated at the bin centres. Velocities are the diagonal elements
:math:`\\langle u_n|\\partial_a H|u_n\\rangle` of each eigenvector (``degeneracy_tol=0``: no
averaging over degenerate groups, as BoltzWann does; pass a tolerance to average
:math:`\\partial_a\\varepsilon\\,\\partial_b\\varepsilon` over degenerate groups instead, which is
basis independent). With the default settings this reproduces BoltzWann's numbers; see
docs/thermoelectric.md for the comparison on silicon.
"""

from __future__ import annotations

import numpy as np
import xarray as xr

from .. import units
from ..geometry import band_geometry
from ..integrate.grids import KGrid
from ..models.base import ModelError

__all__ = ["transport_distribution", "boltzmann_transport"]

#: number of smearing widths beyond which a Gaussian is cut (Wannier90's ``smearing_cutoff``)
GAUSSIAN_CUTOFF = 10.0
#: smearing narrower than this fraction of the bin width means "unsmeared" (Wannier90's
#: ``min_smearing_binwidth_ratio``)
MIN_SMEARING_BINWIDTH_RATIO = 2.0
#: energy margin (eV) added below and above the band window at least (BoltzWann: 0.2 eV)
MIN_MARGIN = 0.2

_PAIRS = ((0, 0), (0, 1), (1, 1), (0, 2), (1, 2), (2, 2))


def _tensor_dims(dim):
    return [(a, b) for a, b in _PAIRS if a < dim and b < dim]


def transport_distribution(model, kgrid, *, tau, energy_step=0.001, energy_min=None, energy_max=None,
                           smearing=0.0, spin_degeneracy=None, degeneracy_tol=0.0,
                           chunk_size=20000) -> xr.Dataset:
    """Transport distribution function Σ_ab(E) of the constant-τ Boltzmann theory.

    Parameters
    ----------
    model : TightBinding
        A lattice model (any dimension; 3D gives S/m, 2D S, 1D S m).
    kgrid : int or sequence of int
        Gamma-centred grid ``n`` (or ``(n1, n2, n3)``) over the whole Brillouin zone.
    tau : float
        Relaxation time in seconds (> 0).
    energy_step : float
        Bin width dE of the energy grid, eV (BoltzWann's ``boltz_tdf_energy_step``, default 1 meV).
    energy_min, energy_max : float, optional
        Energy window (eV) the grid covers before the margin. Default: for a model read from a Wannier90
        run, its outer window ``dis_win_min``, ``dis_win_max`` (``model.provenance``; Wannier90's defaults
        are the lowest and highest ``.eig`` energies), as BoltzWann; otherwise the band minimum and maximum
        on the grid.
    smearing : float
        Gaussian width (eV) of the delta function; 0 (default, as BoltzWann's default) bins each state
        into the nearest bin. Widths below twice the bin width count as 0, as in BoltzWann.
    spin_degeneracy : {1, 2}, optional
        States per band and k (BoltzWann's ``num_elec_per_state``). Default: 1 for spinor models
        (``model.provenance["spinors"]`` true), 2 for spinless Wannier models, 1 otherwise.
    degeneracy_tol : float
        0 (default): per-band velocities of each eigenvector, as BoltzWann. > 0: average the products
        ∂_aε ∂_bε over degenerate groups closer than this (eV), independent of the eigenbasis.
    chunk_size : int
        k points per batch (bounded memory).

    Returns
    -------
    xarray.Dataset
        ``tdf`` (E, a, b) in SI (S/m in 3D), with coordinates ``E`` (bin centres, eV) and
        attrs recording the method and parameters.
    """
    if not getattr(model, "periodic", False):
        raise ModelError("transport_distribution needs a lattice model (a Brillouin zone to sample).")
    if not (np.isfinite(tau) and tau > 0):
        raise ModelError(f"tau must be a finite relaxation time > 0 in seconds; got {tau!r}.")
    if not (np.isfinite(energy_step) and energy_step > 0):
        raise ModelError(f"energy_step must be > 0 eV; got {energy_step!r}.")
    if not (np.isfinite(smearing) and smearing >= 0):
        raise ModelError(f"smearing must be a width >= 0 eV; got {smearing!r}.")
    prov = getattr(model, "provenance", None) or {}
    if spin_degeneracy is None:
        if "spinors" in prov:
            spin_degeneracy = 1 if prov["spinors"] else 2
        else:
            spin_degeneracy = 1
    if spin_degeneracy not in (1, 2):
        raise ModelError(f"spin_degeneracy must be 1 or 2; got {spin_degeneracy!r}.")
    if getattr(model, "position_matrix", None) is not None:
        model = model.tight_binding_approximation()      # energies and velocities need H(k) only
    grid = KGrid(model, kgrid, shift=0.0)
    dim = model.dim
    comps = _tensor_dims(dim)

    # one pass over the grid: energies and velocity products (bounded memory: per chunk)
    bands = []
    for k, _ in grid.chunks(chunk_size):
        geo = band_geometry(model, k, inverse_mass=False, degeneracy_tol=degeneracy_tol)
        v = geo.velocity                                                       # (B, N, d) eV Å
        prod = np.stack([v[..., a] * v[..., b] for a, b in comps], axis=-1)    # (B, N, ncomp)
        if degeneracy_tol > 0:
            prod = _group_mean(geo.energies, prod, degeneracy_tol)
        bands.append((geo.energies, prod))
    prov = getattr(model, "provenance", None) or {}
    if energy_min is None:
        energy_min = prov.get("dis_win_min", min(e.min() for e, _ in bands))
    if energy_max is None:
        energy_max = prov.get("dis_win_max", max(e.max() for e, _ in bands))
    emin, emax = float(energy_min), float(energy_max)
    if not emax > emin:
        raise ModelError(f"energy_max ({emax}) must exceed energy_min ({emin}).")
    smeared = smearing / energy_step >= MIN_SMEARING_BINWIDTH_RATIO
    margin = max(3 * smearing, MIN_MARGIN)
    nE = max(int(np.floor((emax - emin + 2 * margin) / energy_step)) + 1, 2)
    E = emin - margin + np.arange(nE) * energy_step

    tdf = np.zeros((len(comps), nE))
    for energies, prod in bands:
        e = energies.ravel()
        w = prod.reshape(-1, len(comps))
        # nearest bin centre (BoltzWann rounds (e - E_1)/(E_n - E_1) (n - 1))
        centre = np.rint((e - E[0]) / (E[-1] - E[0]) * (nE - 1)).astype(np.int64)
        if not smeared:
            inside = (centre >= 0) & (centre < nE)
            for c in range(len(comps)):
                tdf[c] += np.bincount(centre[inside], weights=w[inside, c], minlength=nE) / energy_step
            continue
        half = int(np.ceil(GAUSSIAN_CUTOFF * smearing / energy_step)) + 1
        for off in range(-half, half + 1):
            j = centre + off
            inside = (j >= 0) & (j < nE)
            x = (E[j[inside]] - e[inside]) / smearing
            keep = np.abs(x) <= GAUSSIAN_CUTOFF
            g = np.exp(-x[keep] ** 2) / (np.sqrt(np.pi) * smearing)
            jj = j[inside][keep]
            for c in range(len(comps)):
                tdf[c] += np.bincount(jj, weights=g * w[inside, c][keep], minlength=nE)

    # Σ = e²τ/ħ² g_s/(V N_k) Σ v v δ in SI: v in eV Å -> J m, V in Å^d -> m^d, δ in 1/eV -> 1/J
    volume = abs(np.linalg.det(model.lattice)) * units.angstrom**dim
    scale = (units.e**2 * tau / units.hbar**2) * spin_degeneracy / (volume * grid.npoints)
    scale *= (units.e * units.angstrom) ** 2 / units.e
    full = np.zeros((nE, dim, dim))
    for c, (a, b) in enumerate(comps):
        full[:, a, b] = full[:, b, a] = tdf[c] * scale
    axes = "xyz"[:dim]
    ds = xr.Dataset(
        {"tdf": (("E", "a", "b"), full,
                 {"units": {3: "S/m", 2: "S", 1: "S m"}[dim],
                  "long_name": "transport distribution function Sigma_ab(E)"})},
        coords={"E": ("E", E, {"units": "eV"}), "a": list(axes), "b": list(axes)},
    )
    ds.attrs.update(
        method="BoltzWann (histogram of band velocities on a Gamma-centred grid)" if not smeared
        else f"BoltzWann with Gaussian smearing {smearing} eV",
        kgrid="x".join(map(str, grid.n)), tau=float(tau), energy_step=float(energy_step),
        smearing=float(smearing if smeared else 0.0), spin_degeneracy=int(spin_degeneracy),
        degeneracy_tol=float(degeneracy_tol), model=getattr(model, "name", type(model).__name__),
    )
    return ds


def _group_mean(energies, x, tol):
    """Average x (B, N, c) over groups of consecutive bands closer than tol (eV)."""
    from ..geometry import degenerate_groups

    labels = degenerate_groups(energies, tol)
    same = labels[:, :, None] == labels[:, None, :]
    return np.einsum("bnm,bmc->bnc", same / same.sum(-1, keepdims=True), x)


def _minus_fermi_derivative(E, mu, kT):
    """-df/dE in 1/eV, overflow-free."""
    x = np.abs((E - mu) / kT)
    ex = np.exp(-x)
    return ex / (kT * (1.0 + ex) ** 2)


def boltzmann_transport(tdf: xr.Dataset, mu, T) -> xr.Dataset:
    """Conductivity, Seebeck, Peltier and thermal tensors from a transport distribution function.

    Parameters
    ----------
    tdf : xarray.Dataset
        Output of :func:`transport_distribution`.
    mu : float or array_like
        Chemical potentials, eV.
    T : float or array_like
        Temperatures, K (> 0).

    Returns
    -------
    xarray.Dataset
        Over ``(mu, T, a, b)``: ``sigma`` (S/m in 3D), ``sigma_seebeck`` = σS (A/(m K)), ``seebeck`` S
        (V/K), ``peltier`` Π = T S (V), ``K`` = L2/(e²T) (W/(m K), BoltzWann's ``Kappa``) and
        ``kappa`` = K - T (σS)ᵀσ⁻¹(σS), the electronic thermal conductivity at zero current (W/(m K)).
        The integrals are the sums over the TDF's energy bins (module docstring).
    """
    mu = np.atleast_1d(np.asarray(mu, dtype=float))
    T = np.atleast_1d(np.asarray(T, dtype=float))
    if mu.ndim != 1 or T.ndim != 1 or not mu.size or not T.size:
        raise ModelError("mu and T must be numbers or non-empty 1D sequences.")
    if not np.all(np.isfinite(mu)):
        raise ModelError(f"mu must be finite (eV); got {mu.tolist()}.")
    if not np.all(np.isfinite(T)) or np.any(T <= 0):
        raise ModelError(f"T must be finite and > 0 K for Boltzmann transport; got {T.tolist()}.")
    E = tdf["E"].values
    dE = E[1] - E[0]
    S_E = tdf["tdf"].values                                                   # (nE, d, d)
    d = S_E.shape[-1]
    kT = units.kB_eV * T
    w = _minus_fermi_derivative(E[None, None, :], mu[:, None, None], kT[None, :, None])   # (mu, T, E)
    dev = E[None, None, :] - mu[:, None, None]                                # eV
    L = [np.einsum("mte,eab->mtab", w * dev**n, S_E) * dE for n in range(3)]  # S/m eV^n
    sigma = L[0]
    # (E - mu)/e in volts is the same number as E - mu in eV: -L1/(eT) -> -L1/T in A/(m K),
    # L2/(e^2 T) -> L2/T in W/(m K)
    sigma_S = -L[1] / T[None, :, None, None]
    K = L[2] / T[None, :, None, None]
    seebeck = np.linalg.solve(sigma, sigma_S)                                 # V/K
    kappa = K - T[None, :, None, None] * np.einsum("mtca,mtcb->mtab", sigma_S, seebeck)
    dims = ("mu", "T", "a", "b")
    unit = {3: "S/m", 2: "S", 1: "S m"}[d]
    heat = {3: "W/(m K)", 2: "W/K", 1: "W m/K"}[d]
    out = xr.Dataset(
        {
            "sigma": (dims, sigma, {"units": unit, "long_name": "electrical conductivity"}),
            "sigma_seebeck": (dims, sigma_S, {"units": f"{unit} V/K", "long_name": "sigma S"}),
            "seebeck": (dims, seebeck, {"units": "V/K", "long_name": "Seebeck tensor S = sigma^-1 (sigma S)"}),
            "peltier": (dims, T[None, :, None, None] * seebeck, {"units": "V", "long_name": "Peltier tensor T S"}),
            "K": (dims, K, {"units": heat, "long_name": "L2/(e^2 T) (BoltzWann's Kappa)"}),
            "kappa": (dims, kappa, {"units": heat,
                                    "long_name": "electronic thermal conductivity at zero current"}),
        },
        coords={"mu": ("mu", mu, {"units": "eV"}), "T": ("T", T, {"units": "K"}),
                "a": tdf["a"].values, "b": tdf["b"].values},
    )
    out.attrs.update(tdf.attrs)
    return out
