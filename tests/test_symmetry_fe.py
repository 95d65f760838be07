"""Symmetry of a real Wannier model: bcc Fe with the magnetization along z (tests/data/wannier90, from the
w90read branch). The Wannier fit obeys 4/mm'm' only approximately: the report gives the size of each
violation, the default tolerance refuses the operations, a tolerance chosen above the violation accepts
them, and the wedge result then differs from the full zone by about the violation, not more."""

from __future__ import annotations

import bz2
from pathlib import Path

import pytest

import qkinetics as qk
from qkinetics.models.wannier90 import read_wannier90
from qkinetics.symmetry import find_symmetry

FE_TB = Path(__file__).parent / "data" / "wannier90" / "reference" / "Fe_tb.dat.bz2"
FERMI_ENERGY = 12.6279                                       # eV, Fe.win
POSTW90_AHC_Z = 1222.1510                                    # S/cm, postw90 berry_kmesh 10^3, Gamma-centred


@pytest.fixture(scope="module")
def fe(tmp_path_factory):
    if not FE_TB.exists():
        pytest.skip("tests/data/wannier90/reference/Fe_tb.dat.bz2 comes with the w90read branch")
    path = tmp_path_factory.mktemp("fe") / "Fe_tb.dat"
    path.write_bytes(bz2.decompress(FE_TB.read_bytes()))
    return read_wannier90(path)


@pytest.fixture(scope="module")
def loose(fe):
    return find_symmetry(fe, tol=1e-3)


def test_fe_magnetic_group_and_its_violations_are_reported(fe, loose):
    strict = find_symmetry(fe)                                 # default tol 1e-6: only inversion survives
    assert sorted(strict.group.names) == ["-1", "1"]
    c4, c4t = strict.violation("4[0,0,1]"), strict.violation("4'[0,0,1]")
    # M along z: 4[001] is broken only by the imperfect fit (1e-5 eV, 1e-4 to 1e-3 relative) ...
    assert 1e-7 < c4.energy_violation < 1e-4 and 1e-5 < c4.geometry_violation < 1e-3
    # ... while 4'[001] and T itself reverse the magnetization: broken at order one
    assert c4t.geometry_violation > 0.5 and strict.violation("1'").geometry_violation > 0.5
    assert len(loose.group) == 16 and not loose.group.has_time_reversal
    assert {"4[0,0,1]", "m[0,0,1]", "2'[1,0,0]", "m'[1,1,0]", "-1"} <= set(loose.group.names)


def test_fe_anomalous_hall_wedge_against_full_zone(fe, loose):
    report = loose
    kw = dict(order=1, mechanisms=["anomalous_hall"], kgrid=10, shift=0, mu=FERMI_ENERGY, T=0.0, convergence=False)
    full = qk.conductivity(fe, **kw)["anomalous_hall"].values[0, 0, 0, 0, 0].real / 100       # S/cm
    wedge_ds = qk.conductivity(fe, symmetry=report, **kw)
    wedge = wedge_ds["anomalous_hall"].values[0, 0, 0, 0, 0].real / 100
    assert wedge_ds.attrs["npoints_irreducible"] < 1000 / 8
    # the full zone reproduces postw90 (no symmetry used there either)
    assert abs(full[0, 1] - POSTW90_AHC_Z) < 1e-5 * POSTW90_AHC_Z
    # the group keeps sigma_xy only: the fit's spurious sigma_yz, sigma_zx (~0.05 S/cm) are exactly zero
    assert abs(full[1, 2]) > 0.01 and wedge[1, 2] == wedge[0, 2] == wedge[2, 0] == 0 and wedge[0, 1] == -wedge[1, 0]
    # and the wedge differs from the full zone by the size of the fit's symmetry breaking
    assert abs(wedge[0, 1] - full[0, 1]) < 3e-4 * abs(full[0, 1])
