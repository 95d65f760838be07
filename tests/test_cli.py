"""The command line: `qkinetics demo` on the embedded default model."""

import re

from click.testing import CliRunner

from qkinetics import zoo
from qkinetics.cli import DEMO_MODEL, main

from conftest import solid_angle_chern


def test_demo_prints_table_chern_and_writes_figure(tmp_path):
    result = CliRunner().invoke(main, ["demo", "--output", str(tmp_path / "out")])
    assert result.exit_code == 0, result.output
    assert "Omega_xy" in result.output
    c = int(re.search(r"C = (-?\d+)", result.output).group(1))
    assert c == round(solid_angle_chern(zoo.get(DEMO_MODEL["name"], **DEMO_MODEL["params"])))
    fig = tmp_path / "out" / "bands_geometry.png"
    assert fig.stat().st_size > 10_000
    assert str(fig) in result.output.replace("\n", "")
    assert "sigma_yxx" in result.output and "berry_curvature_dipole" in result.output
    assert (tmp_path / "out" / "nonlinear_hall.png").stat().st_size > 10_000


def test_demo_rejects_bad_nk():
    result = CliRunner().invoke(main, ["demo", "--nk", "2"])
    assert result.exit_code != 0
    assert "nk" in result.output
