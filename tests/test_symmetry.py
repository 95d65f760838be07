"""Magnetic point groups, the irreducible wedge and symmetrized tensors (qkinetics.symmetry).

The wedge results are checked against full-zone integrals, which never use the symmetry code:
they must agree to round-off, with the components the group forbids exactly zero.
"""

from __future__ import annotations

import numpy as np
import pytest

import qkinetics as qk
from qkinetics.geometry import band_geometry
from qkinetics.integrate import KGrid, integrate_mechanisms
from qkinetics.integrate.grids import IrreducibleGrid
from qkinetics.models.base import ModelError
from qkinetics.models.tight_binding import TightBinding
from qkinetics.responses import available_mechanisms, mechanisms_by_name
from qkinetics.symmetry import (MagneticPointGroup, SymmetryWarning, check_symmetry, find_symmetry,
                                irreducible_grid, operation, reduced_k_action, time_reversal_parity)

pytestmark = pytest.mark.filterwarnings("ignore::qkinetics.integrate.GridResolutionWarning")

S0, SX = np.eye(2), np.array([[0, 1], [1, 0]], complex)
SY, SZ = np.array([[0, -1j], [1j, 0]]), np.diag([1.0, -1.0]).astype(complex)


def rashba_tetragonal(t=1.0, tz=0.5, alpha=0.3, gamma=0.2, zeeman=0.0, a=3.0, c=4.0):
    """Spin-1/2 tetragonal model, time-reversal symmetric without ``zeeman``, no inversion:
    H = -t (cos kx a + cos ky a) - tz cos kz c + alpha (sin ky a sx - sin kx a sy) + gamma sin kz c sz + zeeman sz."""
    hop = {}

    def add(R, M):
        hop[R] = hop.get(R, np.zeros((2, 2), complex)) + M

    def cos(R, M):
        add(R, M / 2)
        add(tuple(-r for r in R), M / 2)

    def sin(R, M):
        add(R, M / 2j)
        add(tuple(-r for r in R), -M / 2j)

    cos((1, 0, 0), -t * S0)
    cos((0, 1, 0), -t * S0)
    cos((0, 0, 1), -tz * S0)
    sin((0, 1, 0), alpha * SX)
    sin((1, 0, 0), -alpha * SY)
    sin((0, 0, 1), gamma * SZ)
    add((0, 0, 0), zeeman * SZ)
    return TightBinding(np.diag([a, a, c]), [[0, 0, 0], [0, 0, 0]], hop, name="rashba_tetragonal")


def simple_cubic(a=2.0):
    """One s orbital, nearest-neighbour hopping: the full cubic group with time reversal (96 operations)."""
    hop = {(0, 0, 0): np.zeros((1, 1))}
    for R in [(1, 0, 0), (0, 1, 0), (0, 0, 1)]:
        hop[R] = -np.ones((1, 1))
        hop[tuple(-r for r in R)] = -np.ones((1, 1))
    return TightBinding(a * np.eye(3), [[0, 0, 0]], hop, name="simple_cubic")


# ----------------------------------------------------------------------------- operations and groups

def test_operation_symbols_build_the_right_matrices():
    c3 = operation("3[1,1,1]")
    assert np.allclose(c3.rotation @ [1, 0, 0], [0, 1, 0])                # x -> y -> z about [111]
    assert np.allclose(np.linalg.matrix_power(c3.rotation, 3), np.eye(3))
    assert np.allclose(operation("m[1,0,0]").rotation, np.diag([-1, 1, 1]))
    assert np.allclose(operation("-1").rotation, -np.eye(3))
    t = operation("1'")
    assert t.antiunitary and np.allclose(t.k_action, -np.eye(3))
    assert np.allclose(operation("4", dim=2).rotation, [[0, -1], [1, 0]])
    assert operation("2'[0,0,1]").name == "2'[0,0,1]"
    # every name of a found group reads back as the same operation (hexagonal normals in sqrt3)
    for model in (qk.zoo.get("haldane", phi=0.0), qk.zoo.get("weyl"), simple_cubic()):
        group = find_symmetry(model).group
        assert all(operation(name, model.dim) in group.operations for name in group.names)
    assert "m'[1,sqrt3]" in find_symmetry(qk.zoo.get("haldane", mass=0.1)).group.names
    with pytest.raises(ModelError, match="cannot read"):
        operation("C5z")
    with pytest.raises(ModelError, match="1, 2, 3, 4, 6"):
        operation("5[0,0,1]")


def test_groups_generated_by_named_operations_have_the_crystallographic_orders():
    assert len(MagneticPointGroup(["4[0,0,1]", "-1"])) == 8                                   # 4/m
    assert len(MagneticPointGroup(["4[0,0,1]", "-1", "m[1,0,0]"])) == 16                      # 4/mmm
    oh = MagneticPointGroup(["4[0,0,1]", "3[1,1,1]", "-1"])
    assert len(oh) == 48                                                                      # m-3m
    assert len(MagneticPointGroup(list(oh) + ["1'"])) == 96                                   # m-3m1'
    assert len(MagneticPointGroup(["3", "m'[0,1]"], dim=2)) == 6                              # 3m'


def test_projector_forbids_what_the_group_forbids():
    # time reversal kills every T-odd tensor (anomalous Hall) and no T-even one (Drude)
    trs = MagneticPointGroup(["1'"])
    assert trs.forbidden(2, parity=-1).all() and not trs.forbidden(2, parity=+1).any()
    # cubic: an isotropic rank-2 tensor, every rank-3 polar tensor zero (inversion)
    oh = MagneticPointGroup(["4[0,0,1]", "3[1,1,1]", "-1"])
    P = oh.projector(2)
    assert np.array_equal(P.reshape(3, 3, 3, 3)[0, 0], np.eye(3) / 3) and oh.forbidden(3).all()
    # a magnetic axis along z (4/mm'm'): only sigma_xy = -sigma_yx of the anomalous Hall tensor survives
    g = MagneticPointGroup(["4[0,0,1]", "-1", "m'[1,0,0]"])
    allowed = ~g.forbidden(2, parity=-1)
    assert allowed.sum() == 2 and allowed[0, 1] and allowed[1, 0]
    x = np.arange(9.0).reshape(3, 3)
    sym = g.symmetrize(x, 2, parity=-1)
    assert sym[0, 1] == -sym[1, 0] == (x[0, 1] - x[1, 0]) / 2 and np.count_nonzero(sym) == 2


def test_time_reversal_parity_of_every_mechanism_matches_its_integrand():
    """X(-k) = p X(k) on time-reversal-symmetric models (2D Kane-Mele with Rashba and staggering, the 3D
    tetragonal Rashba model): the parity rule of the registry, checked on the integrands themselves."""
    rng = np.random.default_rng(3)
    for model in (qk.zoo.get("kane_mele", lambda_r=0.05, lambda_v=0.1), rashba_tetragonal()):
        k = rng.random((16, model.dim)) @ model.reciprocal
        geo = [band_geometry(model, s * k, derivatives=True, keep_eigenvectors=True) for s in (1, -1)]
        for mech in available_mechanisms().values():
            p = time_reversal_parity(mech)
            for order, X in mech.integrand(geo[0]).items():
                X, Y = np.asarray(X), np.asarray(mech.integrand(geo[1])[order])
                scale = np.max(np.abs(X))
                assert scale > 0, mech.name
                assert np.max(np.abs(Y - p * X)) < 1e-9 * scale, (mech.name, model.name)


# ------------------------------------------------------------------------------- finding the group

def test_find_symmetry_gives_the_known_magnetic_groups():
    # Haldane with phi = pi/2: 6-fold rotations, mirrors only with time reversal (6m'm')
    g = find_symmetry(qk.zoo.get("haldane")).group
    assert len(g) == 12 and not g.has_time_reversal
    assert all(("'" in name) == name.startswith("m") for name in g.names[1:])
    # a staggered mass breaks the 2-fold rotation: 3m'
    assert len(find_symmetry(qk.zoo.get("haldane", mass=0.1)).group) == 6
    # no flux (real hoppings): graphene's 6mm with time reversal
    g0 = find_symmetry(qk.zoo.get("haldane", phi=0.0)).group
    assert len(g0) == 24 and g0.has_time_reversal
    # simple cubic s band: m-3m1'
    assert len(find_symmetry(simple_cubic()).group) == 96
    # tetragonal Rashba: 4221' with time reversal; a Zeeman field along z removes T and the 2-fold
    # axes in the plane alone, keeping them combined with T (42'2')
    g = find_symmetry(rashba_tetragonal()).group
    assert len(g) == 16 and g.has_time_reversal
    gz = find_symmetry(rashba_tetragonal(zeeman=0.1)).group
    assert len(gz) == 8 and not gz.has_time_reversal
    assert {"4[0,0,1]", "2[0,0,1]", "2'[1,0,0]", "2'[1,1,0]"} <= set(gz.names)


def test_a_broken_symmetry_is_reported_with_its_size_and_never_imposed():
    """Strained Haldane: the 3-fold rotation is broken by an amount linear in the strain; the report
    gives it, "auto" drops it, and a user group containing it is refused."""
    sizes = []
    for strain in (1e-3, 1e-4):
        model = qk.zoo.get("haldane", mass=0.1, strain=strain)
        report = find_symmetry(model)
        c3 = report.violation("3")
        assert not c3.accepted and "3" not in report.group.names
        sizes.append(max(c3.energy_violation, c3.geometry_violation))
        assert "REJECTED" in report.summary()
        with pytest.raises(ModelError, match=r"3 violated by"):
            check_symmetry(model, ["3"])
        with pytest.raises(ModelError, match="does not have the symmetry"):
            qk.conductivity(model, kgrid=12, shift=0, symmetry=["3", "m'[1,0]"], convergence=False)
    assert 8 < sizes[0] / sizes[1] < 12                                 # linear in the breaking
    # the unstrained model passes the same check
    assert len(check_symmetry(qk.zoo.get("haldane", mass=0.1), ["3", "m'[1,0]"]).group) == 6


# ------------------------------------------------------------------------------------- the wedge

def test_irreducible_points_of_cubic_grids_and_their_weights():
    """Gamma-centred n^3 grids of the simple cubic lattice under m-3m: |k_i| in {0, 1/n, ..., 1/2}, so the
    orbits are the multisets of 3 such values: C(n/2 + 3, 3) of them (10 for n = 4, 20 for n = 6)."""
    model = simple_cubic()
    group = find_symmetry(model).group
    for n, expected in ((4, 10), (6, 20), (8, 35)):
        wedge = irreducible_grid(model, KGrid(model, n, shift=0), group)
        assert wedge.count() == expected
        w = np.concatenate([w for _, w in wedge.chunks(7)])
        assert len(w) == expected and wedge.nchunks(7) == -(-expected // 7)
        assert np.isclose(w.sum(), abs(np.linalg.det(model.reciprocal)) / (2 * np.pi) ** 3, rtol=1e-14)
        assert all(48 % s == 0 for s in np.round(w / wedge.weight).astype(int))      # orbit sizes divide |G|
    # shifted grids are invariant under the cubic group, grids with a different n along z only under 4/mmm:
    # the operations mixing z with x, y are dropped, with a warning
    assert not irreducible_grid(model, KGrid(model, 5, shift=0.5), group).dropped
    with pytest.warns(SymmetryWarning, match="not invariant"):
        wedge = irreducible_grid(model, KGrid(model, [4, 4, 6], shift=0), group)
    assert len(wedge.actions) == 16 and len(wedge.dropped) == 32
    # a shifted hexagonal grid is not invariant under the 3-fold rotation
    haldane = qk.zoo.get("haldane")
    with pytest.warns(SymmetryWarning, match="3"):
        wedge = irreducible_grid(haldane, KGrid(haldane, 6, shift=0.5), find_symmetry(haldane).group)
    assert "3" in wedge.dropped


def _full_and_wedge(model, order, mechanisms, n, **kw):
    common = dict(order=order, mechanisms=mechanisms, kgrid=n, shift=0, convergence=False, **kw)
    return qk.conductivity(model, **common), qk.conductivity(model, symmetry="auto", **common)


def _assert_same(full, wedge, names, min_allowed=1):
    for name in names:
        a, b = full[name].values, wedge[name].values
        scale = np.abs(a).max()
        assert scale > 0, name
        assert np.abs(a - b).max() < 1e-12 * scale, name
        zero = b == 0                                                    # forbidden: exactly zero ...
        assert np.abs(a[zero]).max(initial=0) < 1e-12 * scale, name      # ... and round-off in the full zone
        assert np.count_nonzero(~zero) >= min_allowed, name


def test_wedge_equals_full_zone_time_reversal_symmetric_3d():
    model = rashba_tetragonal()
    full, wedge = _full_and_wedge(model, 2, ["berry_curvature_dipole", "nonlinear_drude"], 16,
                                  mu=[-1.0, 0.2], T=[300.0], tau=1e-13)
    assert len(wedge.attrs["symmetry"].split(", ")) == 16 and wedge.attrs["npoints_irreducible"] < 16**3 / 6
    _assert_same(full, wedge, ["berry_curvature_dipole"])
    # nonlinear Drude is T-odd: forbidden entirely by time reversal (round-off in the full zone, against
    # its size once a Zeeman field breaks T)
    broken = qk.conductivity(rashba_tetragonal(zeeman=0.1), order=2, mechanisms=["nonlinear_drude"], kgrid=16,
                             shift=0, convergence=False, mu=[-1.0, 0.2], T=[300.0], tau=1e-13)
    assert np.abs(full["nonlinear_drude"].values).max() < 1e-12 * np.abs(broken["nonlinear_drude"].values).max()
    assert np.all(wedge["nonlinear_drude"].values == 0)
    full1, wedge1 = _full_and_wedge(model, 1, ["drude", "anomalous_hall"], 16, mu=[-1.0, 0.2], T=[300.0])
    _assert_same(full1, wedge1, ["drude"])
    assert np.all(wedge1["anomalous_hall"].values == 0)


def test_wedge_equals_full_zone_2d_threefold_haldane():
    model = qk.zoo.get("haldane", mass=0.1)                              # 3m'
    full, wedge = _full_and_wedge(model, 1, ["anomalous_hall", "drude"], 48, mu=[-0.5, 0.0, 1.2], T=[300.0])
    assert wedge.attrs["npoints_irreducible"] < 48**2 / 5
    _assert_same(full, wedge, ["anomalous_hall", "drude"])
    # C3: Drude isotropic (xx = yy, xy = 0); anomalous Hall antisymmetric
    d = wedge["drude"].values
    assert np.all(d[..., 0, 1] == 0) and np.allclose(d[..., 0, 0], d[..., 1, 1], rtol=1e-14)
    full2, wedge2 = _full_and_wedge(model, 2, ["berry_curvature_dipole", "nonlinear_drude"], 48,
                                    mu=[-1.2, 1.2], T=[300.0])
    _assert_same(full2, wedge2, ["nonlinear_drude"])


def test_wedge_equals_full_zone_magnetic_3d_weyl():
    model = qk.zoo.get("weyl", tilt_y=0.2)
    full, wedge = _full_and_wedge(model, 1, ["anomalous_hall", "drude"], 20, mu=[-0.3, 0.4], T=[300.0])
    assert not any(name == "1'" for name in wedge.attrs["symmetry"].split(", "))
    _assert_same(full, wedge, ["anomalous_hall", "drude"])
    full2, wedge2 = _full_and_wedge(model, 2, ["berry_curvature_dipole", "nonlinear_drude"], 20,
                                    mu=[-0.3, 0.4], T=[300.0])
    _assert_same(full2, wedge2, ["berry_curvature_dipole", "nonlinear_drude"])


def test_wedge_grid_through_the_integrator_resumes_like_a_full_grid():
    model = qk.zoo.get("haldane", mass=0.1)
    report = find_symmetry(model)
    wedge = irreducible_grid(model, KGrid(model, 30, shift=0), report.group)
    mechs = mechanisms_by_name(["anomalous_hall"], 1)
    whole = integrate_mechanisms(model, mechs, wedge, [0.0, 1.0], [100.0], chunk_size=40, warn=False)
    saved = {}
    with pytest.raises(KeyboardInterrupt):
        def stop(done, totals, resolution):
            saved.update(state=(done, dict(totals), resolution))
            if done == 3:
                raise KeyboardInterrupt
        integrate_mechanisms(model, mechs, wedge, [0.0, 1.0], [100.0], chunk_size=40, on_chunk=stop, warn=False)
    resumed = integrate_mechanisms(model, mechs, wedge, [0.0, 1.0], [100.0], chunk_size=40, warn=False,
                                   resume=saved["state"])
    assert np.array_equal(whole.values["anomalous_hall"], resumed.values["anomalous_hall"])


def test_symmetry_input_errors():
    with pytest.raises(ModelError, match="continuum"):
        qk.conductivity(qk.zoo.get("dirac"), kgrid=8, symmetry="auto", convergence=False)
    with pytest.raises(ModelError, match="2D"):
        check_symmetry(qk.zoo.get("haldane"), MagneticPointGroup(["2[0,0,1]"]))
    with pytest.raises(ModelError, match="not a symmetry of the lattice"):
        reduced_k_action(qk.zoo.get("weyl"), operation("3[0,0,1]"))
    with pytest.raises(ModelError, match="shift of 0 or 0.5"):
        IrreducibleGrid(KGrid(qk.zoo.get("haldane"), 6, shift=0.25), [np.eye(2, dtype=int)])


def test_wedge_equals_full_zone_for_every_registered_mechanism():
    """Every mechanism (linear, second order, field gradient) on the tilted magnetic Weyl model, whose group
    (1, m[1,0,0], 2'[0,0,1], m'[0,1,0]) mixes unitary and antiunitary operations: all are nonzero here."""
    model = qk.zoo.get("weyl", tilt_y=0.2)
    report = find_symmetry(model)
    assert sorted(report.group.names) == sorted(["1", "m[1,0,0]", "2'[0,0,1]", "m'[0,1,0]"])
    for mech in available_mechanisms().values():
        if mech.name == "field_gradient_clean":          # refuses the Weyl model's degenerate bands (by design)
            continue
        c = dict(order=mech.order, gradient=mech.gradient, mechanisms=[mech], kgrid=12, shift=0, mu=[-0.4, 0.5],
                 T=[600.0], convergence=False)
        full = qk.conductivity(model, **c)[mech.name].values
        wedge = qk.conductivity(model, symmetry=report, **c)[mech.name].values
        scale = np.abs(full).max()
        assert scale > 0 and np.abs(full - wedge).max() < 1e-12 * scale, mech.name
