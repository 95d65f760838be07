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


def test_compare_command_tables_quantum_and_kinetic(tmp_path):
    out = tmp_path / "cmp.nc"
    result = CliRunner().invoke(main, ["compare", "--model", "haldane", "--param", "strain=0.3",
                                       "--param", "phi=0.0", "--param", "mass=0.3", "--mu", "1.0",
                                       "--T", "2000", "--nk", "40", "-o", str(out)])
    assert result.exit_code == 0, result.output
    rows = [line.split() for line in result.output.splitlines() if line.strip().startswith(("full", "populations"))]
    assert len(rows) == 10
    bcd = [r for r in rows if r[1] == "berry_curvature_dipole"]
    # time-reversal-symmetric strained Haldane: finite dipole, quantum tau^1 equals the kinetic one
    assert all(abs(float(r[-1])) < 2e-2 for r in bcd)
    assert out.stat().st_size > 0
    bad = CliRunner().invoke(main, ["compare", "--param", "nonsense"])
    assert bad.exit_code != 0 and "NAME=VALUE" in bad.output


def test_python_m_qkinetics_is_the_cli():
    """``python -m qkinetics`` runs the same click group (help lists the subcommands)."""
    import os
    import subprocess
    import sys
    from pathlib import Path

    src = str(Path(__file__).resolve().parents[1] / "src")
    env = dict(os.environ, PYTHONPATH=src + os.pathsep + os.environ.get("PYTHONPATH", ""))
    out = subprocess.run([sys.executable, "-m", "qkinetics", "--help"], capture_output=True, text=True,
                         env=env, timeout=120)
    assert out.returncode == 0, out.stderr
    assert "Usage: qkinetics" in out.stdout and "demo" in out.stdout
