"""What a response mechanism is: a Fermi-function-weighted band integral times an SI prefactor.

Every mechanism of the library has the form

.. math::
    \\sigma = \\mathrm{prefactor}(d, \\tau, \\omega)\\;
              \\sum_p \\sum_n \\int \\frac{d^dk}{(2\\pi)^d}\\, f^{(p)}(\\varepsilon_{n k})\\, X^{(p)}_{n}(k)

with :math:`f^{(p)} = \\partial^p f / \\partial\\varepsilon^p` the p-th energy derivative of the
Fermi-Dirac function (eV^-p) and :math:`X^{(p)}` a small pure function of the band geometry in the
library's natural units (eV, Angstrom). The integrator evaluates the band geometry once per k chunk,
contracts every :math:`X^{(p)}` with :math:`f^{(p)}` for all chemical potentials and temperatures
at once, and multiplies by the prefactor for every tau and omega: a sweep costs little more than
a single point.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Callable



@dataclass(frozen=True)
class Mechanism:
    """A named response mechanism.

    Attributes
    ----------
    name : str
        Registry name, e.g. ``"drude"``, ``"anomalous_hall"``, ``"berry_curvature_dipole"``.
    order : int
        Power of the electric field (1 linear, 2 second order).
    tau_power : int
        Power of tau in the dc, clean limit (Drude 1, anomalous Hall 0, nonlinear Drude 2, ...).
    integrand : callable
        ``integrand(geo) -> {p: X}`` with ``X`` shaped ``(B, N, *tensor)`` in natural units.
    prefactor : callable
        ``prefactor(dim, tau, omega, channel) -> complex`` converting the band integral
        ``I = sum_k w_k sum_n f^(p) X`` (w_k in Angstrom^-d) to SI: linear conductivity in
        S m^(2-d) (S in 2D, S/m in 3D); second-order conductivity in A m^(3-d)/V^2 (j = sigma E E
        with j in A m^(1-d) and E in V/m); field-gradient tensors carry one more metre. tau in s,
        omega in rad/s. ``channel`` is one of ``channels``.
    tensor_rank : int
        Number of tensor indices (2 for linear, 3 for second order).
    needs_derivatives : bool
        Whether the integrand needs the k-derivatives of Omega, g, G.
    formula, reference, assumptions : str
        Documentation carried into result attributes.
    family : str
        Mechanisms sharing a non-empty family are alternative versions of the same physical term
        (e.g. the published tau^0 variants): a total includes at most one of them.
    in_total : bool
        False for quantities that are not additive parts of the conductivity (e.g. d sigma/d mu);
        they are excluded from totals and from ``mechanisms="all"``.
    needs_eigenvectors : bool
        Whether the integrand needs the velocity matrix (geometry with ``keep_eigenvectors=True``).
    needs_inverse_mass : bool
        Whether the integrand reads ``inverse_mass`` (default True). False spares the integrator the
        second derivatives of H and their sums (about a quarter of the geometry's time); with
        ``needs_derivatives`` the inverse mass comes anyway.
    needs_quantities : tuple of str or None
        The band-geometry tensors the integrand reads among ``qkinetics.geometry.OPTIONAL_QUANTITIES``
        (Berry curvature, quantum metric, normalized metric, orbital moment); the integrator computes only
        those (energies and velocities always come). None (default): all of them.
    units : dict, optional
        ``{dim: unit string}`` overriding the default conductivity units.
    """

    name: str
    order: int
    tau_power: int
    integrand: Callable
    prefactor: Callable
    tensor_rank: int
    needs_derivatives: bool = False
    formula: str = ""
    reference: str = ""
    assumptions: str = ""
    channels: tuple = field(default=("linear",))
    family: str = ""
    in_total: bool = True
    needs_eigenvectors: bool = False
    needs_inverse_mass: bool = True
    needs_quantities: tuple | None = None
    units: dict | None = None

    @property
    def gradient(self) -> bool:
        """True for responses to field gradients (one tensor index for the wave vector q)."""
        return self.tensor_rank == self.order + 2


#: Field and frequency convention. Fields E(t) = E e^{-i omega t} + c.c.
#: Linear: j(t) = sigma(omega) E e^{-i omega t} + c.c.
#: Second order: j(t) = sigma^{rectified}_{abc} E_b E_c^* + sigma^{second_harmonic}_{abc} E_b E_c e^{-2 i omega t} + c.c.;
#: both channels tend to the static sigma_{abc} (j = sigma E E for a static E) as omega -> 0.
LINEAR_CHANNELS = ("linear",)
SECOND_ORDER_CHANNELS = ("rectified", "second_harmonic")
