"""The texture terms: an x-dependent model(x) (orders 0 and 1), its local bands, mixed Berry curvature and h_1.

``model`` may be a callable model(x) -> Model (same dim, norb and lattice for every x): ε_n(x, k) is taken
at the cell corners (x_{i-1/2}, k_{j-1/2}); the x-face velocities and the band part of the k-face force
k̇ = -∂_x(ε_n + V)/ħ are corner differences (as at order 2), so the discrete divergence of the flow is exactly
zero (a uniform f stays uniform). Local equilibria use ε_n(x_i, k_j). In 2D, Ω^{xy}(x, k) and v_y(x, k)
carry an x axis. Order 0 stops there (local bands only).

Order 1 adds the O(ħ) terms of the x-dependence of the Bloch states, in the (x, k_x) plane (per k_y line in
2D). H(x, k) = model(x).hamiltonian(k) in the positions convention is the Weyl symbol of the lattice
Hamiltonian whose hoppings are taken at the bond midpoints (:func:`qkinetics.exact.real_space_chain`); a
lattice-convention model is converted. In d = 1, ρ{π, π} = ε exactly (:mod:`qkinetics.moyal.phase_space`),
so the Liouville current of the covariant coordinates gives

.. math::
    \\partial_t(\\rho f_n) + \\frac1\\hbar\\partial_x(f_n\\partial_kh_n)
    - \\frac1\\hbar\\partial_k(f_n\\partial_x(h_n + V)) = -\\rho\\,\\frac{f_n - f^{loc}_n}{\\tau},
    \\qquad h_n = \\varepsilon_n + h_{1,n},\\quad \\rho_n = 1 - \\Omega^n_{xk},

with the mixed Berry curvature :math:`\\Omega_{xk} = \\partial_xA_k - \\partial_kA_x` (A = i<u|∂u>, the sign of
:func:`~qkinetics.moyal.phase_space.phase_space_geometry`) and the gauge-invariant O(ħ) band energy
:math:`h_1 = -\\mathrm{Im}\\sum_{m\\ne n}V^x_{nm}V^k_{mn}/(\\varepsilon_n - \\varepsilon_m)`
(:func:`~qkinetics.moyal.diagonalize.first_order_band_energy`; ∂_xH by a central difference of model(x ± δ),
δ = 10⁻⁴ dx). f is the gauge-invariant distribution; ρf is conserved and is the particle density,
:math:`n(x) = \\int dk/2\\pi\\,\\rho f` (:meth:`KineticSolver.density`). A filled band carries
:math:`n = 1/a - \\int dk/2\\pi\\,\\Omega_{xk} = 1/a - \\partial_xP`, P the Berry phase / 2π (the bound charge
of a polarization texture; -ΔP at a domain wall). Discretization: ρ per cell from the plaquette Berry phase of
the corner eigenvectors (:func:`plaquette_berry_flux`, gauge invariant), so Σ_j ρ_ij dk telescopes exactly into
the discrete Berry-phase difference of the two x-faces of the column; h_1 at the corners (flow) and centres
(equilibria). The equilibrium is f_FD(h + V - μ) (stationary in the continuum; ``well_balanced`` makes it
exact on the grid); ``"local"`` relaxation solves μ̃ from ∫ρ f_loc = ∫ρ f; the time step is divided by min ρ.
The bands must stay non-degenerate, and ρ > 0.05 everywhere (otherwise the texture is too sharp for the
gradient expansion; ModelError). In 2D the transverse velocity gains
:math:`-\\Omega_{xk_x}\\partial_{k_y}\\varepsilon + \\partial_{k_y}h_1 + \\Omega_{xk_y}\\partial_{k_x}\\varepsilon`
(:meth:`KineticSolver.transverse_velocity`). Tested against the Moyal engine (Ω_{xk}, h_1, ẏ at sample
points) and against exact supercell diagonalization of textured Rice-Mele chains (insulator: order 0 gives no
modulation, order 1 the bound charge with an error ∝ q³; metal: first-harmonic error ∝ q at order 0, ∝ q²
at order 1; domain-wall charges to 10⁻⁵).
"""

import numpy as np

from ..models.base import Model, ModelError

__all__ = ["TextureTerms", "plaquette_berry_flux"]


def plaquette_berry_flux(U):
    """Berry flux ∫∫Ω_{xk} dx dk of every plaquette of a corner grid (Fukui-Hatsugai link variables).

    .. math::
        F = -\\arg\\big[U_x(p)\\,U_k(p + \\hat x)\\,U_x(p + \\hat k)^*\\,U_k(p)^*\\big],\\qquad
        U_\\mu(p) = \\langle u_n(p)|u_n(p + \\hat\\mu)\\rangle,

    the Berry phase of the plaquette boundary traversed x, then k (anticlockwise in the (x, k) plane), with
    A = i<u|∂u> (so Ω_{xk} = ∂_xA_k - ∂_kA_x, the sign of :func:`qkinetics.moyal.phase_space_geometry` and
    the orientation of :mod:`qkinetics.topology`). Invariant under any phase change of the eigenvectors at
    the corners; the sum over a column telescopes into the difference of the discrete Berry phases along k
    of its two x-faces (exactly, as long as no plaquette flux reaches ±π).

    Parameters
    ----------
    U : (nxc, nkc, nky, Nb, N) complex, eigenvectors (columns = bands) at the corners (x_a, k_b[, k_y]), the
        closing corners included (for a Brillouin zone: u(k_0 + b) = D^† u(k_0) in the positions convention).

    Returns
    -------
    (N, nxc - 1, nkc - 1, nky) real array (flux in units of Å·(1/Å), i.e. dimensionless).
    """
    Lx = np.einsum("ijyan,ijyan->nijy", U[:-1].conj(), U[1:])            # <u(x, k)|u(x + dx, k)>
    Lk = np.einsum("ijyan,ijyan->nijy", U[:, :-1].conj(), U[:, 1:])      # <u(x, k)|u(x, k + dk)>
    return -np.angle(Lx[:, :, :-1] * Lk[:, 1:] * Lx[:, :, 1:].conj() * Lk[:, :-1].conj())



class TextureTerms:
    """The local bands of model(x) at the cell corners and centres, and at order 1 the mixed Berry curvature
    Ω_xk (ρ = 1 - Ω_xk) and the O(ħ) band energy h_1 (a part of :class:`.KineticSolver`). Sets the x-face
    velocities ``_vxf`` and the band force ``_fk_model`` that :meth:`.BandFlow.kdot` adds to the potential's."""

    def _setup_x_dependent(self, model0, kfaces):
        """Bands of model(x): ε_n at the cell centres (x_i, k_j) for the local equilibria and at the cell corners
        (x_{i-1/2}, k_{j-1/2}) for the flow. The x-face velocities and the model part of the k-face force are
        corner differences, so the discrete divergence of the phase-space flow vanishes exactly. At order 1 the
        band energy is h = ε + h_1 (corners and centres) and ρ = 1 - Ω_{xk} per cell from plaquette Berry phases
        (:meth:`_first_order_texture`)."""
        from ..geometry import band_geometry
        N, nk, nky, d = self.nbands, self.nk, self.nky, model0.dim
        grid = self._kgrid

        def model_at(xv):
            m = self.model_function(float(xv))
            if not isinstance(m, Model):
                raise ModelError(f"model(x) must return a Model; got {type(m).__name__} at x = {xv}.")
            if (m.dim != d or m.norb != N or m.lattice is None
                    or not np.allclose(m.lattice, model0.lattice, rtol=0, atol=1e-12)):
                raise ModelError(f"model(x) at x = {xv} differs in dim, norb or lattice from model(x_0); all x need "
                                 "the same lattice and orbitals.")
            return m

        def bands(xs, kx):
            out = np.empty((N, len(xs), len(kx), nky))
            K = grid(kx)
            for i, xv in enumerate(xs):
                out[:, i] = model_at(xv).bands(K).T.reshape(N, len(kx), nky)
            return out
        self.energy = self._E = bands(self.x, self.k)                          # ε_n(x_i, k_j[, k_y]) (N, nx, nk, nky)
        Ec = bands(self.x_faces, kfaces)                                        # corners (N, nx+1, nk+1, nky)
        if self.order >= 1:
            h1c = self._first_order_texture(model_at, kfaces)
            if d == 2:                            # the order-0 flow (ε at the corners) for the O(ħ) terms of ẏ
                e0 = Ec.copy()
                e0[:, :, 0] = e0[:, :, -1]
                if self.boundary == "periodic":
                    e0[:, 0] = e0[:, -1]
                vx0 = (e0[:, :, 1:] - e0[:, :, :-1]) / (self.dk * self.hbar)
                self._vx_band = 0.5 * (vx0[:, 1:] + vx0[:, :-1])                       # ∂_{k_x}ε/ħ (cells)
                fk0 = -(e0[:, 1:, 1:] - e0[:, :-1, 1:]) / (self.dx * self.hbar)
                self._kdot_band = 0.5 * (fk0 + np.roll(fk0, 1, 2))                     # -∂_xε/ħ (cells)
            Ec = Ec + h1c
        Ec[:, :, 0] = Ec[:, :, -1]                                              # k periodic: one corner value
        if self.boundary == "periodic":
            Ec[:, 0] = Ec[:, -1]                                                # x periodic: x_{-1/2} = x_{nx-1/2}
        self._vxf = (Ec[:, :, 1:] - Ec[:, :, :-1]) / (self.dk * self.hbar)      # ẋ at the x-faces (N, nx+1, nk, nky)
        self._fk_model = -(Ec[:, 1:, 1:] - Ec[:, :-1, 1:]) / (self.dx * self.hbar)   # -∂_xh/ħ at k-faces k_{j+1/2}
        self.velocity = self._vcell = 0.5 * (self._vxf[:, 1:] + self._vxf[:, :-1])  # cell-centre ẋ (N, nx, nk, nky)
        if d == 2:
            Kc = grid(self.k)
            self.velocity_y = np.empty((N, self.nx, nk, nky))
            self.omega_xy = np.empty((N, self.nx, nk, nky))
            for i, xv in enumerate(self.x):
                bg = band_geometry(model_at(xv), Kc, inverse_mass=False)
                self.velocity_y[:, i] = (bg.velocity[:, :, 1].T / self.hbar).reshape(N, nk, nky)
                self.omega_xy[:, i] = bg.berry_curvature[:, :, 0, 1].T.reshape(N, nk, nky)

    def _texture_bloch(self, model_at, xs, kx, ky_shift=0.0, vectors=True, transverse=False):
        """Eigenpairs and h_1 of model(x) (positions convention) at the points xs × kx (× k_y + ``ky_shift``).

        h_1 is the sum-over-states form of :func:`qkinetics.moyal.diagonalize.first_order_band_energy` in the
        (x, k_x) plane, with ∂_kH exact and ∂_xH a central difference of model(x ± δ), δ = 10⁻⁴ dx (error
        ~δ² ∂³_xH, round-off ~10⁻¹⁶/δ: far below the O(dx²) discretization).
        Returns ε (N, nxs, nkx, nky), h_1 (same), U (nxs, nkx, nky, N, N) (columns = bands; None without
        ``vectors``) and, with ``transverse`` (2D), the mixed curvature
        Ω_{xk_y} = -2 Im Σ_m V^x_nm V^{k_y}_mn/(ε_n - ε_m)² (N, nxs, nkx, nky) (else None)."""
        from ..moyal.diagonalize import first_order_band_energy
        N, nky, nkx = self.nbands, self.nky, len(kx)
        K = self._kgrid(kx)
        if ky_shift:
            K = K + np.array([0.0, ky_shift])
        delta = 1e-4 * self.dx

        def positions(m):                         # the Weyl symbol of the lattice Hamiltonian: positions convention
            return m.with_convention("positions") if getattr(m, "convention", "positions") == "lattice" else m
        eps = np.empty((N, len(xs), nkx, nky))
        h1 = np.empty_like(eps)
        U = np.empty((len(xs), nkx, nky, N, N), complex) if vectors else None
        omega_x_ky = np.empty_like(eps) if transverse else None
        for i, xv in enumerate(xs):
            H, dHk = positions(model_at(xv)).hamiltonian(K, order=1)
            dHx = (positions(model_at(xv + delta)).hamiltonian(K)[0]
                   - positions(model_at(xv - delta)).hamiltonian(K)[0]) / (2 * delta)
            e, u = np.linalg.eigh(H)
            gap = np.diff(e, axis=1).min() if N > 1 else np.inf
            if gap < 1e-8:
                raise ModelError(f"Bands of model(x) touch at x = {xv:.4g} A (gap {gap:.1e} eV): the O(hbar) texture "
                                 "terms (Omega_xk, h_1) need non-degenerate bands; use order=0 or open the gap.")
            eps[:, i] = e.T.reshape(N, nkx, nky)
            h1[:, i] = first_order_band_energy(H, np.stack([dHx, dHk[:, 0]], 1)).T.reshape(N, nkx, nky)
            if transverse:
                uh = np.conj(np.swapaxes(u, -1, -2))
                Vx, Vy = uh @ dHx @ u, uh @ dHk[:, 1] @ u
                with np.errstate(divide="ignore"):
                    R = 1.0 / (e[:, :, None] - e[:, None, :]) ** 2
                R[:, np.arange(N), np.arange(N)] = 0.0
                om = -2 * np.imag(np.einsum("bnm,bmn,bnm->bn", Vx, Vy, R))
                omega_x_ky[:, i] = om.T.reshape(N, nkx, nky)
            if vectors:
                U[i] = u.reshape(nkx, nky, N, N)
        return eps, h1, U, omega_x_ky

    def _first_order_texture(self, model_at, kfaces):
        """O(ħ) terms of model(x) in the (x, k_x) plane (per k_y line in 2D); returns h_1 at the cell corners.

        Sets ``self.first_order_energy`` (h_1 at the cell centres; ``self._E`` = ε + h_1 there),
        ``self.mixed_berry_curvature`` (cell average of Ω_{xk} = ∂_xA_k - ∂_kA_x, A = i<u|∂u>) and ``self._rho``
        = 1 - Ω_{xk}. The cell integral of Ω_{xk} is the plaquette Berry phase of the corner eigenvectors
        (:func:`plaquette_berry_flux`); the Bloch states close over the zone as u(k + b) = D^† u(k),
        D = diag(e^{2πiτ_j}) (positions convention), so Σ_j F over a column is exactly the difference of the
        Berry phases (2π P) of its two x-faces. In 2D also the transverse-velocity terms at the cell centres:
        Ω_{xk_y} and ∂_{k_y}h_1 (central difference, step 10⁻⁴ dk_y)."""
        N = self.nbands
        _, h1c, Uc, _ = self._texture_bloch(model_at, self.x_faces, kfaces[:-1])
        m0 = self.model if getattr(self.model, "convention", "positions") != "lattice" \
            else self.model.with_convention("positions")
        pos = getattr(m0, "positions", None)
        D = np.exp(2j * np.pi * np.asarray(pos, dtype=float)[:, 0]) if pos is not None else np.ones(N)
        K0, Kb = self._kgrid(kfaces[:1]), self._kgrid(kfaces[-1:])
        H0, Hb = m0.hamiltonian(K0)[0], m0.hamiltonian(Kb)[0]
        if np.abs(Hb - D.conj()[:, None] * H0 * D[None, :]).max() > 1e-8 * max(1.0, np.abs(H0).max()):
            raise ModelError("The O(hbar) texture terms need H(k + b) = D^dagger H(k) D (positions convention, D = "
                             "diag(exp(2 pi i tau_j))): give model(x) as a TightBinding (or a Model periodic in k).")
        Uc = np.concatenate([Uc, (D.conj()[:, None] * Uc[:, :1])], axis=1)     # corner k_{nk} = k_0 + b
        if self.boundary == "periodic":
            Uc[-1] = Uc[0]                                                      # x_{nx-1/2} is x_{-1/2}
            h1c[:, -1] = h1c[:, 0]
        h1c = np.concatenate([h1c, h1c[:, :, :1]], axis=2)
        self.mixed_berry_curvature = plaquette_berry_flux(Uc) / (self.dx * self.dk)
        self._rho = 1.0 - self.mixed_berry_curvature
        if self._rho.min() <= 0.05:
            i = np.unravel_index(np.argmin(self._rho), self._rho.shape)[1]
            raise ModelError(f"1 - Omega_xk = {self._rho.min():.2f} near x = {self.x[i]:.3g} A: the texture varies "
                             "too fast for the O(hbar) gradient expansion (the mixed Berry curvature is not small); "
                             "make it smoother or use order=0.")
        _, self.first_order_energy, _, om = self._texture_bloch(model_at, self.x, self.k, vectors=False,
                                                                transverse=self.model.dim == 2)
        self._E = self.energy + self.first_order_energy
        if self.model.dim == 2:
            dky = 1e-4 * self.dky
            hp = self._texture_bloch(model_at, self.x, self.k, ky_shift=dky, vectors=False)[1]
            hm = self._texture_bloch(model_at, self.x, self.k, ky_shift=-dky, vectors=False)[1]
            self.omega_x_ky = om
            self._vy1 = (hp - hm) / (2 * dky * self.hbar)                      # ∂_{k_y}h_1/ħ
        return h1c

