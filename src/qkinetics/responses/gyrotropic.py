"""Fermi-surface gyrotropic tensors, the way Wannier90's gyrotropic module computes them.

Tsirkin, Puente, Souza, PRB 97, 035158 (2018) ("TAS17") write the low-frequency gyrotropic
responses of a metal through Fermi-surface integrals. With :math:`\\delta_\\eta` a smeared delta
function and :math:`\\Omega_n^c = \\tfrac12\\epsilon_{cab}\\Omega_n^{ab}` the Berry curvature as a
pseudovector (Å², the project's sign convention, ``docs/conventions.md``):

.. math::
    D_{ab} &= \\sum_n \\int\\frac{d^3k}{(2\\pi)^3}\\, \\partial_a\\varepsilon_n\\, \\Omega_n^b\\,
        \\delta_\\eta(\\varepsilon_n - E_F)
    \\quad\\text{(Berry curvature dipole, dimensionless; TAS17 Eq. 2, } D_{ab} =
        \\textstyle\\sum_n\\int f_n\\,\\partial_a\\Omega_n^b,\\ f' = -\\delta_\\eta)\\\\
    C_{ab} &= \\frac{e^2}{2\\pi\\hbar}\\sum_n \\int\\frac{d^3k}{(2\\pi)^3}\\,
        \\frac{\\partial_a\\varepsilon_n\\,\\partial_b\\varepsilon_n}{e}\\,\\delta_\\eta(\\varepsilon_n - E_F)
    \\quad\\text{(TAS17 Eq. B6, A/m; postw90 prints A/cm)}\\\\
    K_{ab} &= \\frac{e^2}{2\\hbar}\\sum_n \\int\\frac{d^3k}{(2\\pi)^3}\\, \\partial_a\\varepsilon_n\\,
        \\mathcal M_n^b\\, \\delta_\\eta(\\varepsilon_n - E_F)
    \\quad\\text{(orbital kinetic magnetoelectric tensor, A; TAS17 Eq. 3, orbital part)}\\\\
    K^{spin}_{ab} &= \\frac{e^2}{\\hbar}\\sum_n \\int\\frac{d^3k}{(2\\pi)^3}\\, \\partial_a\\varepsilon_n\\,
        X^{spin,b}_n\\, \\delta_\\eta(\\varepsilon_n - E_F) = -\\frac{g_s}{2}\\mu_B \\sum_n \\int\\frac{d^3k}{(2\\pi)^3}\\,
        \\partial_a\\varepsilon_n\\,\\sigma^b_n\\,\\delta_\\eta
    \\quad\\text{(spin part, A; TAS17 Eq. 3, postw90's K\\_spin for } g_s = 2)\\\\
    \\mathrm{DOS}(E_F) &= \\sum_n \\int\\frac{d^3k}{(2\\pi)^3}\\, \\delta_\\eta(\\varepsilon_n - E_F)
    \\quad\\text{(1/(eV Å}^3))

(:math:`\\partial_a\\varepsilon` in eV Å). The integration follows postw90: either the whole Brillouin
zone (a Gamma-centred grid) or a box in reduced coordinates, ``center - (b1 + b2 + b3)/2 + (i b1/n1
+ j b2/n2 + l b3/n3)``, ``i = 0..n1-1`` etc., each point weighted by its fraction of the zone
``det(box)/(n1 n2 n3)`` and the sums divided by the cell volume. The delta function is a Gaussian
:math:`\\delta_\\eta(x) = e^{-(x/\\eta)^2}/(\\sqrt\\pi\\,\\eta)` cut at ``|x| > max_arg η`` (postw90's
``gyrotropic_smr_fixed_en_width``, ``gyrotropic_smr_max_arg``). A band whose energy lies within
``degen_thresh`` of a neighbour at a k point is left out there (postw90's
``gyrotropic_degen_thresh``): its curvature is not defined alone. Curvature and velocities come from
:func:`qkinetics.band_geometry` (for K, with the orbital moment, from :func:`wannier_orbital_moment`,
which agrees with it to round-off), so for Wannier models they include the position-block terms of the
full interpolation.
"""

from __future__ import annotations

import numpy as np
import xarray as xr

from .. import units
from ..geometry import band_geometry
from ..integrate.grids import KGrid
from ..models.base import ModelError
from ..spin import G_SPIN, band_spin_moment

__all__ = ["gyrotropic_tensors", "box_kpoints", "wannier_orbital_moment"]

GYROTROPIC_TENSORS = ("D", "C", "dos", "K", "K_spin")
#: |e_n - e_m| below which two bands form a degenerate group in the orbital moment (eV)
PAIR_TOL = 1e-7


def wannier_orbital_moment(model, orbital, k):
    r"""Berry curvature and orbital moment of every band, with all terms of the Wannier interpolation.

    :math:`\mathcal M_n = 2X_n`, twice :attr:`BandGeometry.orbital_moment <qkinetics.BandGeometry>`, which
    :func:`qkinetics.band_geometry` computes (``orbital=``; bands closer than ``PAIR_TOL`` form a group). For
    band n, with the
    Hamiltonian-gauge matrices :math:`\mathcal D_{a,nm} = iV_{a,nm}/(\varepsilon_m-\varepsilon_n)`,
    :math:`\bar A = U^\dagger A^W U`, :math:`\bar\Omega = U^\dagger(\partial_\alpha A^W_\beta -
    \partial_\beta A^W_\alpha)U`, :math:`\bar B = U^\dagger B U`,
    :math:`\Lambda = U^\dagger i(C_{\alpha\beta} - C_{\alpha\beta}^\dagger)U` and
    :math:`(\alpha, \beta)` the cyclic partners of the axial component c (LVTS12 Eqs. 51, 56, 66 for a
    single occupied band, as postw90's ``berry_get_imfgh_klist`` with ``occ = δ_n``):

    .. math::
        \Omega_n^c &= \bar\Omega^c_{nn} - 2\,\mathrm{Im}\sum_m\big(\bar A_{\alpha,nm}\mathcal D_{\beta,mn}
            + \mathcal D_{\alpha,nm}\bar A_{\beta,mn} + \mathcal D_{\alpha,nm}\mathcal D_{\beta,mn}\big)\\
        \mathcal M_n^c &= \varepsilon_n\Omega_n^c - \Lambda^c_{nn}
            + 2\,\mathrm{Im}\sum_m\big(\mathcal D_{\alpha,nm}\bar B_{\beta,mn} - \mathcal D_{\beta,nm}\bar B_{\alpha,mn}
            + \varepsilon_m\mathcal D_{\alpha,nm}\mathcal D_{\beta,mn}\big)

    :math:`\mathcal M^c_n = 2\,\mathrm{Im}\langle\partial_\alpha u_n|H-\varepsilon_n|\partial_\beta u_n\rangle` in
    eV Å²; the orbital moment is :math:`m_n = (e/2\hbar)\mathcal M_n` (electron charge -e; sign checked by the
    Streda test, tests/test_streda.py). In the
    tight-binding limit (B = C = 0, no position matrix) :math:`\mathcal M_n^c = -2\,\mathrm{Im}\sum_m
    V_{\alpha,nm}V_{\beta,mn}/(\varepsilon_n-\varepsilon_m)`.

    Parameters
    ----------
    model : TightBinding (3D)
        With a position matrix (a Wannier90 model) the full interpolation is used, in Wannier90's lattice
        convention, and ``orbital`` is required. Without one, the tight-binding approximation in the model's
        own convention (A = B = C = 0).
    orbital : OrbitalOperators or None
        B(R) and C(R) of the run (:func:`qkinetics.models.wannier90_orbital.read_wannier90_orbital`).
    k : (K, 3) Cartesian, 1/Å

    Returns
    -------
    energies (K, N) eV, velocity (K, N, 3) eV Å, curvature (K, N, 3) Å², moment (K, N, 3) eV Å².
    """
    _check_orbital_operators(model, orbital)
    geo = band_geometry(model, k, inverse_mass=False, degeneracy_tol=PAIR_TOL, orbital=orbital)
    Om = geo.berry_curvature
    curvature = np.stack([Om[..., 1, 2], Om[..., 2, 0], Om[..., 0, 1]], axis=-1)
    return geo.energies, geo.velocity, curvature, 2.0 * geo.orbital_moment


def _check_orbital_operators(model, orbital):
    """The orbital moment of a model with a position matrix needs B and C; without one they make no sense."""
    full = getattr(model, "position_matrix", None) is not None
    if full and orbital is None:
        raise ModelError(
            f"{model.name} carries a position matrix (full Wannier interpolation): its orbital moment also needs "
            "B(R) = <0|H(r-R)|R> and C(R) = <0|r H (r-R)|R>; read them with "
            "qkinetics.models.wannier90_orbital.read_wannier90_orbital(seed) (needs seedname.uHu) and pass "
            "orbital=, or use model.tight_binding_approximation().")
    if orbital is not None and not full:
        raise ModelError("orbital= (B and C of a Wannier90 run) needs the model of the same run, with its position "
                         "matrix (qk.read_wannier90_run).")


def box_kpoints(center, vectors, mesh):
    """Reduced k points of a postw90 gyrotropic box and the zone fraction each one carries.

    Parameters
    ----------
    center : (3,) reduced coordinates of the box centre.
    vectors : (3, 3) box edges b1, b2, b3 as rows, reduced coordinates.
    mesh : int or (3,) points along each edge.

    Returns
    -------
    kred : (n1 n2 n3, 3) reduced coordinates, the first index slowest (postw90's loop order).
    weight : float, ``|det(vectors)| / (n1 n2 n3)``.
    """
    center = np.asarray(center, dtype=float)
    vectors = np.asarray(vectors, dtype=float)
    mesh = np.broadcast_to(np.asarray(mesh, dtype=int), (3,))
    if center.shape != (3,) or vectors.shape != (3, 3) or np.any(mesh < 1):
        raise ModelError("a k box needs center (3,), vectors (3, 3) as rows and mesh >= 1 per edge.")
    ijk = np.stack(np.meshgrid(*[np.arange(n) / n for n in mesh], indexing="ij"), -1).reshape(-1, 3)
    corner = center - 0.5 * vectors.sum(axis=0)
    return corner + ijk @ vectors, abs(np.linalg.det(vectors)) / int(np.prod(mesh))


def gyrotropic_tensors(model, fermi_energy, *, kgrid=None, box=None, smearing=0.1, max_arg=5.0,
                       degen_thresh=0.001, tensors=("D", "C", "dos"), orbital=None, g_factor=G_SPIN,
                       chunk_size=20000) -> xr.Dataset:
    """Gyrotropic Fermi-surface tensors D, C, K (orbital and spin) and the density of states (TAS17, postw90's method).

    Parameters
    ----------
    model : TightBinding (3D)
    fermi_energy : float or array_like, eV
    kgrid : int or (3,) ints, optional
        Gamma-centred grid over the whole zone. Exactly one of ``kgrid`` and ``box``.
    box : dict, optional
        ``{"center": (3,), "vectors": (3, 3), "mesh": n or (3,)}`` in reduced coordinates (see
        :func:`box_kpoints`), as postw90's ``gyrotropic_box_center``, ``gyrotropic_box_b1..3`` and
        ``gyrotropic_kmesh``.
    smearing : float
        Gaussian width η (eV) of the delta function.
    max_arg : float
        Cut of the Gaussian in units of η.
    degen_thresh : float
        Bands closer than this (eV) to a neighbour are left out at that k point.
    tensors : sequence of {"D", "C", "dos", "K"}
        ``"K"``: the orbital part of the kinetic magnetoelectric (gyrotropic magnetic) tensor,
        :math:`K_{ab} = \\frac{e^2}{2\\hbar}\\sum_n\\int\\frac{d^3k}{(2\\pi)^3}\\partial_a\\varepsilon_n\\,
        \\mathcal M_n^b\\,\\delta_\\eta(\\varepsilon_n - E_F)` in A (TAS17 Eq. 3, postw90's ``-K``), with the
        orbital moment :math:`\\mathcal M_n` of :func:`wannier_orbital_moment`.
        ``"K_spin"``: its spin part (module docstring), from the spin moment
        :math:`m^{spin}_n = -(g_s\\mu_B/\\hbar)\\langle\\mathbf S\\rangle_n = (e/\\hbar)X^{spin}_n`
        (:func:`qkinetics.spin.band_spin_moment`); needs a model with a spin operator (a Wannier90 run read with
        its ``.spn``). With both, the result also holds ``K_total = K + K_spin``.
    orbital : OrbitalOperators, optional
        B(R) and C(R) of the Wannier90 run, needed for ``"K"`` when the model carries a position matrix.
    g_factor : float
        g_s of the spin moment (default :data:`qkinetics.spin.G_SPIN` = 2.0023; postw90 uses 2).

    Returns
    -------
    xarray.Dataset
        ``D`` (E_F, a, b) dimensionless, ``C`` (E_F, a, b) in A/m (postw90 prints A/cm: 100 times
        smaller numbers), ``K``, ``K_spin``, ``K_total`` (E_F, a, b) in A, ``dos`` (E_F) in 1/(eV Å³).
    """
    if model.dim != 3 or not model.periodic:
        raise ModelError("gyrotropic tensors are defined for 3D lattice models.")
    if (kgrid is None) == (box is None):
        raise ModelError("give exactly one of kgrid= (whole zone) and box= (a postw90 gyrotropic box).")
    unknown = set(tensors) - set(GYROTROPIC_TENSORS)
    if unknown or not tensors:
        raise ModelError(f"unknown gyrotropic tensors {sorted(unknown)}; choose from {GYROTROPIC_TENSORS}.")
    if not (np.isfinite(smearing) and smearing > 0):
        raise ModelError(f"smearing must be a Gaussian width > 0 eV; got {smearing!r}.")
    if not (np.isfinite(max_arg) and max_arg > 0):
        raise ModelError(f"max_arg must be > 0; got {max_arg!r}.")
    if not (np.isfinite(degen_thresh) and degen_thresh >= 0):
        raise ModelError(f"degen_thresh must be >= 0 eV; got {degen_thresh!r}.")
    want_spin = "K_spin" in tensors
    if want_spin and getattr(model, "spin_matrix", None) is None:
        raise ModelError(
            f"K_spin needs the spin operator of {model.name}: read the Wannier90 run with its seedname.spn "
            "(qk.read_wannier90_run(seed, spin=True)) or build the TightBinding with spin_matrix=...; or ask for the "
            "orbital K alone (tensors=('K',)).")
    if want_spin and not np.isfinite(g_factor):
        raise ModelError(f"g_factor must be a finite number; got {g_factor!r}.")
    EF = np.atleast_1d(np.asarray(fermi_energy, dtype=float))
    if EF.ndim != 1 or not EF.size or not np.all(np.isfinite(EF)):
        raise ModelError(f"fermi_energy must be finite numbers (eV); got {fermi_energy!r}.")

    if box is not None:
        try:
            kred, weight = box_kpoints(box["center"], box["vectors"], box["mesh"])
        except (KeyError, TypeError) as exc:
            raise ModelError("box must be a dict with keys 'center', 'vectors' and 'mesh'.") from exc
        batches = ((model.k_from_reduced(kred[i:i + chunk_size]), weight) for i in range(0, len(kred), chunk_size))
        description = f"box centre {np.asarray(box['center']).tolist()}, mesh {box['mesh']}"
    else:
        grid = KGrid(model, kgrid, shift=0.0)
        batches = ((k, 1.0 / grid.npoints) for k, _ in grid.chunks(chunk_size))
        description = grid.description

    D = np.zeros((len(EF), 3, 3))
    C = np.zeros((len(EF), 3, 3))
    K = np.zeros((len(EF), 3, 3))
    K_spin = np.zeros((len(EF), 3, 3))
    dos = np.zeros(len(EF))
    need_curvature = "D" in tensors
    # the spin operator in the Fourier convention of the geometry (band_geometry takes the lattice one with orbital=)
    if want_spin and "K" in tensors:
        _check_orbital_operators(model, orbital)
    spin_model = model.with_convention("lattice") if (want_spin and "K" in tensors and orbital is not None) else model
    for k, weight in batches:
        if want_spin:                     # one eigendecomposition for the spin and the orbital quantities
            geo = band_geometry(model, k, inverse_mass=False, degeneracy_tol=PAIR_TOL, keep_eigenvectors=True,
                                orbital=orbital if "K" in tensors else None)
            e, v = geo.energies, geo.velocity
            Om = geo.berry_curvature
            omega = np.stack([Om[..., 1, 2], Om[..., 2, 0], Om[..., 0, 1]], axis=-1)
            moment = 2.0 * geo.orbital_moment
            spin = band_spin_moment(spin_model, geo, g_factor=g_factor)                 # X^spin, eV Å²
        elif "K" in tensors:
            e, v, omega, moment = wannier_orbital_moment(model, orbital, k)
        else:
            geo = band_geometry(model, k, inverse_mass=False, degeneracy_tol=0.0)
            e, v = geo.energies, geo.velocity                                 # (B, N), (B, N, 3)
            if need_curvature:
                Om = geo.berry_curvature
                omega = np.stack([Om[..., 1, 2], Om[..., 2, 0], Om[..., 0, 1]], axis=-1)   # pseudovector
        gaps = np.diff(e, axis=1)
        alone = np.ones(e.shape, dtype=bool)
        alone[:, 1:] &= gaps > degen_thresh
        alone[:, :-1] &= gaps > degen_thresh
        x = (e[None] - EF[:, None, None]) / smearing                          # (F, B, N)
        delta = np.where((np.abs(x) <= max_arg) & alone[None], np.exp(-x**2), 0.0)
        delta *= weight / (np.sqrt(np.pi) * smearing)
        if need_curvature:
            D += np.einsum("fbn,bna,bnc->fac", delta, v, omega)
        if "K" in tensors:
            K += np.einsum("fbn,bna,bnc->fac", delta, v, moment)
        if want_spin:
            K_spin += np.einsum("fbn,bna,bnc->fac", delta, v, spin)
        if "C" in tensors:
            C += np.einsum("fbn,bna,bnc->fac", delta, v, v)
        dos += delta.sum(axis=(1, 2))
    volume = abs(np.linalg.det(model.lattice))                                 # Å^3
    D /= volume
    dos /= volume
    # C: e^2/(2 pi hbar) (S) times sum v v delta / V in eV/Å, which divided by e is V/Å = 1e10 V/m
    C *= units.e**2 / (2 * np.pi * units.hbar) / (volume * units.angstrom)
    # K: e^2/(2 hbar) (S) times sum v M delta / V in eV Å^3/Å^3 = eV, which divided by e is V
    K *= units.e**2 / (2 * units.hbar) / volume
    # K_spin: the same with M = 2 X^spin, e^2/hbar times sum v X^spin delta / V (eV, divided by e V)
    K_spin *= units.e**2 / units.hbar / volume
    coords = {"fermi_energy": ("fermi_energy", EF, {"units": "eV"}), "a": list("xyz"), "b": list("xyz")}
    data = {}
    if "D" in tensors:
        data["D"] = (("fermi_energy", "a", "b"), D,
                     {"units": "1", "long_name": "Berry curvature dipole D_ab = sum int v_a Omega^b delta"})
    if "C" in tensors:
        data["C"] = (("fermi_energy", "a", "b"), C,
                     {"units": "A/m", "long_name": "C_ab = e^2/(2 pi hbar) sum int v_a v_b/e delta"})
    if "K" in tensors:
        data["K"] = (("fermi_energy", "a", "b"), K,
                     {"units": "A", "long_name": "orbital K_ab = e^2/(2 hbar) sum int v_a M^b delta"})
    if want_spin:
        data["K_spin"] = (("fermi_energy", "a", "b"), K_spin,
                          {"units": "A", "g_factor": float(g_factor),
                           "long_name": ("spin K_ab = e^2/hbar sum int v_a X_spin^b delta "
                                         "= -(g/2) mu_B sum int v_a sigma^b delta")})
        if "K" in tensors:
            data["K_total"] = (("fermi_energy", "a", "b"), K + K_spin,
                               {"units": "A", "long_name": "K_total = K (orbital) + K_spin"})
    if "dos" in tensors:
        data["dos"] = (("fermi_energy",), dos, {"units": "1/(eV Angstrom^3)", "long_name": "density of states"})
    ds = xr.Dataset(data, coords=coords)
    ds.attrs.update(method="Fermi-surface sums with a Gaussian delta (Tsirkin, Puente, Souza, PRB 97, 035158 (2018); "
                           "Wannier90 gyrotropic module)", integration=description, smearing=float(smearing),
                    max_arg=float(max_arg), degen_thresh=float(degen_thresh),
                    model=getattr(model, "name", type(model).__name__))
    return ds
