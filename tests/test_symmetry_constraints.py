"""Crystal-symmetry constraints on conductivity tensors (C3 of the honeycomb models).

A threefold rotation maps the Gamma-centred Monkhorst-Pack grid of a hexagonal lattice onto itself,
so the constraints hold to round-off on that grid, for every mechanism. With R the C3 rotation,
sigma_{ab...} = R_aa' R_bb' ... sigma_{a'b'...}; in 2D this forces (derived by hand):
  rank 2: sigma_xx = sigma_yy, sigma_xy = -sigma_yx;
  rank 3: sigma_xxx = -sigma_xyy = -sigma_yxy = -sigma_yyx and sigma_yyy = -sigma_yxx = -sigma_xxy = -sigma_xyx.
The check below applies R directly, so it does not rely on that list.
"""

import numpy as np
import pytest

import qkinetics as qk

R3 = np.array([[np.cos(2 * np.pi / 3), -np.sin(2 * np.pi / 3)], [np.sin(2 * np.pi / 3), np.cos(2 * np.pi / 3)]])


def _rotated(t):
    if t.ndim == 2:
        return np.einsum("ai,bj,ij->ab", R3, R3, t)
    return np.einsum("ai,bj,ck,ijk->abc", R3, R3, R3, t)


@pytest.mark.parametrize("order", [1, 2])
def test_c3_constraints_haldane(order):
    model = qk.zoo.haldane(t2=0.1, phi=0.8, mass=0.15)          # C3 symmetric; T and inversion broken
    ds = qk.conductivity(model, order, mu=[0.6, 1.1], T=2000.0, kgrid=90, shift=0.0, convergence=False)
    names = [v for v in ds.data_vars if ds[v].dims[:1] == ("channel",)]
    for name in names:
        vals = ds[name].isel(channel=0, T=0, tau=0, omega=0).values          # (mu, tensor...)
        scale = np.abs(vals).max()
        if name in ("berry_curvature_dipole", "intrinsic_wang_liu"):         # purely Hall: zero by C3, below
            continue
        assert scale > 0
        for v in vals:
            np.testing.assert_allclose(_rotated(v), v, atol=1e-10 * scale, err_msg=name)
    if order == 1:
        xx = ds["drude"].sel(j="x", E1="x").values
        np.testing.assert_allclose(ds["drude"].sel(j="y", E1="y").values, xx, rtol=1e-10)
    else:
        # Purely Hall second-order terms j = z x E (chi . E) are set by an in-plane vector chi (the Berry
        # curvature dipole; the Wang/Liu metric dipole): C3 forces them to vanish, not the longitudinal variants.
        ref = np.abs(ds["nonlinear_drude"].values).max()
        for name in ("berry_curvature_dipole", "intrinsic_wang_liu"):
            assert np.abs(ds[name].values).max() < 1e-10 * ref, name
        assert np.abs(ds["intrinsic_kaplan_das"].values).max() > 1e-6 * ref
        # and a strained model breaks C3, giving finite values
        strained = qk.conductivity(qk.zoo.haldane(t2=0.1, phi=0.8, mass=0.15, strain=0.3), 2, mu=[0.6],
                                   T=2000.0, kgrid=90, shift=0.0, mechanisms=["berry_curvature_dipole"],
                                   convergence=False)
        assert np.abs(strained["berry_curvature_dipole"].values).max() > 1e-3 * np.abs(
            ds["nonlinear_drude"].values).max()
