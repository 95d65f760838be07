"""Shared helpers of the Kubo reference solvers: k-point sources, Fourier convention, Fermi weights."""

from __future__ import annotations

import numpy as np

from .. import units
from ..integrate.grids import KGrid
from ..models.base import Model, ModelError
from ..models.tight_binding import TightBinding


def physical_model(model: Model) -> Model:
    """The model in the Fourier convention whose k-derivatives and overlaps are the physical ones.

    A :class:`~qkinetics.models.tight_binding.TightBinding` model in the ``"lattice"`` convention is
    converted to the ``"positions"`` convention: there :math:`\\partial_k H` is the current operator
    and :math:`\\langle u_n(k)|u_m(k+q)\\rangle` the density form factor of orbitals at their positions
    (diagonal position operator). A model with a position matrix keeps it: its current operator is
    :math:`\\partial_k H + i[H, A^W]` (:func:`position_connection`). Other models are returned unchanged.
    """
    if isinstance(model, TightBinding) and model.convention != "positions":
        return model.with_convention("positions")
    return model


def position_connection(model: Model, k, order: int = 1):
    """The Wannier-gauge connection ``(A^W, ∂A^W, ...)`` of a model with a position matrix at k, else None.

    In the basis of the orbital Bloch sums the position operator is :math:`r = i\\nabla_k + A^W(k)`
    (:meth:`~qkinetics.models.tight_binding.TightBinding.wannier_connection`), so the velocity operator is
    :math:`\\hbar v = \\partial_k H + i[H, A^W]` and the length-gauge coupling :math:`eE\\cdot r` acts on a
    density matrix as the covariant derivative :math:`\\partial_k - i[A^W, \\cdot]`. None for a model without
    a position matrix (position operator diagonal in the orbitals: the tight-binding form).
    """
    if getattr(model, "position_matrix", None) is None:
        return None
    return model.wannier_connection(k, order=order)


def wannier_curvature_matrix(A, dA):
    """The curvature of the Wannier-gauge states, F^W (B, d, d, N, N), from (A^W, ∂A^W) of :func:`position_connection`.

    .. math:: F^W_{ab} = \\partial_a A^W_b - \\partial_b A^W_a - i[A^W_a, A^W_b] = i[r_b, r_a]

    with ``dA[:, b, a] = ∂_a A_b``. It is the commutator of the components of the projected position operator
    :math:`r = i\\nabla_k + A^W` (zero for a complete basis), so in a field the velocity of the projected model is
    :math:`\\dot r_a = (i/\\hbar)[H + eE\\cdot r, r_a] = v_a + (e/\\hbar)E_bF^W_{ab}`: the field-dependent part
    carries the Berry curvature of the bands outside the Wannier space (the dc interband response to them,
    whose energy denominators cancel at dc), the term of :mod:`qkinetics.geometry` that
    :math:`\\tilde V` alone does not give.
    """
    dAt = np.swapaxes(dA, 1, 2)                                                   # [:, a, b] = ∂_a A_b
    AA = A[:, :, None] @ A[:, None, :]                                            # [:, a, b] = A_a A_b
    return dAt - np.swapaxes(dAt, 1, 2) - 1j * (AA - np.swapaxes(AA, 1, 2))


def k_source(model: Model, kgrid, shift=0.5, kcut=None):
    """Normalise a k-point specification to ``(description, iterator factory over (k, w) chunks)``.

    ``kgrid`` is an int or sequence (points per direction of a :class:`KGrid`), a :class:`KGrid`, or a
    pair ``(k, w)`` of explicit Cartesian points (B, d) in 1/Angstrom and weights (B,) in Angstrom^-d
    with :math:`\\sum_k w_k F(k) \\approx \\int d^dk/(2\\pi)^d F(k)`.
    """
    if isinstance(kgrid, KGrid):
        grid = kgrid
    elif isinstance(kgrid, tuple) and len(kgrid) == 2 and np.ndim(kgrid[0]) == 2:
        k = model.check_k(kgrid[0])
        w = np.asarray(kgrid[1], dtype=float)
        if w.shape != (len(k),):
            raise ModelError(f"explicit weights must have shape ({len(k)},); got {w.shape}.")

        def chunks(chunk_size):
            for i in range(0, len(k), chunk_size):
                yield k[i:i + chunk_size], w[i:i + chunk_size]
        return f"explicit k points ({len(k)})", chunks
    else:
        grid = KGrid(model, kgrid, shift=shift, kcut=kcut)
    return grid.description, grid.chunks


def fermi_and_derivative(energies, mu, T):
    """f and f' (eV^-1) of shape (n_mu, n_T, *energies.shape); f' is 0 where T = 0 (no delta functions on a grid)."""
    from ..integrate.occupation import fermi_dirac

    f = fermi_dirac(energies, mu, T, 0)
    Tpos = np.where(T > 0, T, 1.0)
    fp = fermi_dirac(energies, mu, Tpos, 1)
    fp = np.where((T > 0).reshape((1, -1) + (1,) * np.ndim(energies)), fp, 0.0)
    return f, fp


#: Smallest nonzero |omega| (rad/s) accepted: hbar omega = 6.6e-10 eV, far below any band energy scale, so a
#: smaller value is almost surely an energy in eV passed where an angular frequency belongs.
SMALLEST_OMEGA = 1e6

#: Largest broadening eta (eV) accepted: a larger value is almost surely a rate (1/s or rad/s) passed as eta.
LARGEST_ETA = 1e3


def check_omega(omega):
    """Frequencies as a 1D float array (rad/s), refusing values that are energies in eV by mistake."""
    omega = np.atleast_1d(np.asarray(omega, dtype=float))
    if not np.all(np.isfinite(omega)):
        raise ModelError(f"omega must be finite (angular frequency, rad/s); got {omega.tolist()}.")
    small = (omega != 0) & (np.abs(omega) < SMALLEST_OMEGA)
    if np.any(small):
        bad = float(omega[small][0])
        raise ModelError(
            f"omega is an angular frequency in rad/s; got {bad:g} rad/s (hbar omega = {units.hbar_eVs * bad:.2g} eV). "
            f"For a photon energy E in eV pass omega = E / qkinetics.units.hbar_eVs "
            f"({bad:g} eV -> {bad / units.hbar_eVs:.4g} rad/s); for the dc limit pass 0.")
    return omega


def broadening(tau, eta, *, default_eta=None):
    """Relaxation times tau (s) and broadenings eta = hbar/tau (eV) from one of ``tau`` or ``eta``.

    Exactly one of the two must be given, unless ``default_eta`` (eV) is set, which is used when neither is.
    ``tau = numpy.inf`` and ``eta = 0`` are the clean limit. Returns two 1D arrays (tau, eta).
    """
    if tau is not None and eta is not None:
        raise ModelError("give only one of tau (relaxation time, s) or eta (broadening hbar/tau, eV).")
    if tau is None and eta is None:
        if default_eta is None:
            raise ModelError("give one of tau (relaxation time, s) or eta (broadening hbar/tau, eV).")
        eta = default_eta
    if tau is not None:
        tau = np.atleast_1d(np.asarray(tau, dtype=float))
        if tau.ndim != 1 or np.any(~(tau > 0)):
            raise ModelError(f"tau must be positive (seconds; numpy.inf for the clean limit); got {tau.tolist()}.")
        with np.errstate(divide="ignore"):
            eta = units.hbar_eVs / tau
        return tau, eta
    eta = np.atleast_1d(np.asarray(eta, dtype=float))
    if eta.ndim != 1 or np.any(~(eta >= 0)) or np.any(~np.isfinite(eta)):
        raise ModelError(f"eta must be finite and >= 0 (eV); got {eta.tolist()}.")
    if np.any(eta > LARGEST_ETA):
        bad = float(eta[eta > LARGEST_ETA][0])
        raise ModelError(
            f"eta is a broadening hbar/tau in eV; got {bad:g} eV, which looks like a rate in 1/s. Pass the "
            f"relaxation time instead, tau = 1/rate in seconds (here tau = {1 / bad:.3g} s), or "
            f"eta = qkinetics.units.hbar_eVs * rate.")
    with np.errstate(divide="ignore"):
        tau = np.where(eta > 0, units.hbar_eVs / np.where(eta > 0, eta, 1.0), np.inf)
    return tau, eta
