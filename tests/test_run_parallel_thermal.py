"""`qkinetics run` with [thermal], [grid] symmetry and [parallel]: the same numbers as the library calls."""

import numpy as np
import pytest
from click.testing import CliRunner

import qkinetics as qk
from qkinetics.cli import main
from qkinetics.run import ConfigError, load_config, run

pytestmark = pytest.mark.filterwarnings("ignore::qkinetics.integrate.integrator.GridResolutionWarning")

MODEL = """
[model]
zoo = "haldane"
params = { t2 = 0.1, mass = 0.2 }
"""


def _config(tmp_path, body, name="run.toml", directory="out"):
    path = tmp_path / name
    path.write_text(MODEL + body + f'\n[output]\ndirectory = "{directory}"\n')
    return path


def test_thermal_run_equals_thermoelectric(tmp_path):
    path = _config(tmp_path, """
[thermal]
mechanisms = "all"
quantity = "seebeck"
component = "xx"

[sweep]
mu = [0.5, 0.8, 1.1]
T = [300.0, 600.0]
tau = 1e-14

[grid]
n = 36
""")
    ds = run(path, progress=False)
    ref = qk.thermoelectric(qk.zoo.haldane(t2=0.1, mass=0.2), [0.5, 0.8, 1.1], [300.0, 600.0], 1e-14, kgrid=36)
    for name in ("seebeck", "kappa", "anomalous_nernst", "error_seebeck"):
        np.testing.assert_allclose(ds[name].values, ref[name].values, rtol=1e-12, atol=0, err_msg=name)
    out = tmp_path / "out"
    assert (out / "thermoelectric.png").stat().st_size > 0
    header = (out / "result.csv").read_text().splitlines()[0].split(",")
    assert header[:5] == ["mu", "T", "tau", "a", "b"] and "seebeck" in header


@pytest.mark.parametrize("body, match", [
    ("[thermal]\nmechanisms = \"drude\"\n", "mechanisms"),
    ("[thermal]\ncomponent = \"xyz\"\n", "component"),
    ("[thermal]\n[sweep]\nomega = 1e12\n", "dc only"),
    ("[thermal]\n[sweep]\nT = 0.0\n", "T must be > 0"),
    ("[thermal]\n[response]\norder = 1\n", "two kinds"),
    ("[parallel]\nexecutor = \"mpi\"\n", "executor"),
    ("[parallel]\nworkers = 0\n", "workers"),
    ("[grid]\nsymmetry = \"yes\"\n", "symmetry"),
])
def test_bad_config(tmp_path, body, match):
    with pytest.raises(ConfigError, match=match):
        load_config(_config(tmp_path, body))


def test_symmetry_and_processes_give_the_library_result(tmp_path):
    """[grid] symmetry = "auto" equals conductivity(symmetry="auto") bit for bit, on a process pool too."""
    body = """
[response]
order = 1
mechanisms = ["anomalous_hall", "drude"]

[sweep]
mu = [0.4, 0.9]
T = 600.0
tau = 1e-14

[grid]
n = 30
shift = 0.0
symmetry = "auto"
"""
    serial = run(_config(tmp_path, body, "a.toml", "a"), progress=False)
    ref = qk.conductivity(qk.zoo.haldane(t2=0.1, mass=0.2), 1, mu=[0.4, 0.9], T=600.0, tau=1e-14, kgrid=30, shift=0.0,
                          mechanisms=["anomalous_hall", "drude"], symmetry="auto")
    assert serial.attrs["symmetry"] == ref.attrs["symmetry"] and serial.attrs["npoints_irreducible"] < 30 * 30
    for name in ("anomalous_hall", "drude", "total"):
        np.testing.assert_allclose(serial[name].values, ref[name].values, rtol=1e-13, atol=0)
    pooled = run(_config(tmp_path, body + '\n[parallel]\nexecutor = "processes"\nworkers = 2\n', "b.toml", "b"),
                 progress=False)
    for name in ("anomalous_hall", "drude", "total"):
        assert np.array_equal(pooled[name].values, serial[name].values)


def test_cli_executor_option(tmp_path):
    body = """
[response]
order = 1
mechanisms = "drude"

[sweep]
mu = 0.8
T = 600.0

[grid]
n = 24
"""
    path = _config(tmp_path, body)
    result = CliRunner().invoke(main, ["run", str(path), "--executor", "processes", "--workers", "2",
                                       "--no-progress"])
    assert result.exit_code == 0, result.output
    result = CliRunner().invoke(main, ["run", str(path), "--executor", "nonsense"])
    assert result.exit_code != 0 and "nonsense" in result.output
