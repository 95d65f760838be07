"""`qkinetics run`: config validation, resumable output, CLI."""

import numpy as np
import pytest
from click.testing import CliRunner

from qkinetics.cli import main
from qkinetics.conductivity import read_netcdf
from qkinetics.run import ConfigError, load_config, run

CONFIG = """
[model]
zoo = "haldane"
params = {{ t2 = 0.1, mass = 0.2, strain = 0.2 }}

[response]
order = {order}
mechanisms = {mechanisms}

[sweep]
mu = {{ start = -1.5, stop = 1.5, num = 7 }}
T = 3000.0
tau = [1e-14, 1e-13]

[grid]
n = 40
chunk_size = 200

[output]
directory = "out"
"""


def _write(tmp_path, order=1, mechanisms='["anomalous_hall", "drude"]', text=None):
    path = tmp_path / "run.toml"
    path.write_text(text if text is not None else CONFIG.format(order=order, mechanisms=mechanisms))
    return path


def test_interrupted_run_resumes_to_the_same_result(tmp_path):
    ref_dir = tmp_path / "ref"
    ref_dir.mkdir()
    ref = run(_write(ref_dir), progress=False)
    work = tmp_path / "work"
    work.mkdir()
    cfg = _write(work)
    with pytest.raises(KeyboardInterrupt):
        run(cfg, progress=False, stop_after=3)           # 3 of 8 fine chunks, then "interrupted"
    assert (work / "out" / "checkpoint.npz").exists()
    assert not (work / "out" / "result.nc").exists()
    resumed = run(cfg, progress=False)
    np.testing.assert_allclose(resumed["total"].values, ref["total"].values, rtol=1e-12, atol=1e-30)
    for name in ("result.nc", "result.csv", "response.png"):
        assert (work / "out" / name).stat().st_size > 0
    back = read_netcdf(work / "out" / "result.nc")
    np.testing.assert_allclose(back["anomalous_hall"].values, ref["anomalous_hall"].values)
    header = (work / "out" / "result.csv").read_text().splitlines()[0]
    assert header.startswith("channel,mu,T,tau,omega,j,E1") and "drude_real" in header


def test_second_order_run_from_cli(tmp_path):
    cfg = _write(tmp_path, order=2, mechanisms='"all"')
    result = CliRunner().invoke(main, ["run", str(cfg), "--no-progress"])
    assert result.exit_code == 0, result.output
    ds = read_netcdf(tmp_path / "out" / "result.nc")
    assert ds.attrs["order"] == 2 and "berry_curvature_dipole" in ds


@pytest.mark.parametrize("text, match", [
    ("[model]\nzoo = 'haldane'\n[sweep]\nmu = 'a lot'\n", r"\[sweep\] mu must be"),
    ("[model]\nzoo = 'haldane'\n[response]\norder = 3\n", r"order must be 1 or 2"),
    ("[model]\nzoo = 'haldane'\n[response]\nmechanisms = ['warp_drive']\n", r"unknown mechanism 'warp_drive'"),
    ("[model]\nzoo = 'nope'\n", r"unknown model 'nope'"),
    ("[model]\nzoo = 'haldane'\nparams = {t9 = 1.0}\n", r"no parameter"),
    ("[model]\n", r"exactly one of 'zoo'"),
    ("[modle]\nzoo = 'haldane'\n", r"unknown section \[modle\]"),
    ("[model]\nzoo = 'haldane'\n[grid]\nnk = 10\n", r"unknown key\(s\) \['nk'\] in \[grid\]"),
    ("[model]\nzoo = 'haldane'\n[grid]\nn = 1\n", r"\[grid\] n must be"),
    ("[model\n", r"not valid TOML"),
])
def test_malformed_config_names_the_key(tmp_path, text, match):
    path = _write(tmp_path, text=text)
    with pytest.raises(ConfigError, match=match):
        cfg = load_config(path)
        from qkinetics.run import build_model
        build_model(cfg)


def test_cli_reports_config_errors(tmp_path):
    path = _write(tmp_path, text="[response]\norder = 5\n[model]\nzoo = 'haldane'\n")
    result = CliRunner().invoke(main, ["run", str(path)])
    assert result.exit_code != 0 and "order must be 1 or 2" in result.output


@pytest.mark.parametrize("text, match", [
    ("[model]\nzoo = 'haldane'\n[sweep]\ntau = 0.0\n", r"\[sweep\] tau must be positive and finite \(s\)"),
    ("[model]\nzoo = 'haldane'\n[sweep]\nT = -1.0\n", r"T must be >= 0"),
    ("[model]\nzoo = 'haldane'\n[grid]\nkcut = 'big'\n", r"kcut must be a positive number"),
    ("[model]\nzoo = 'haldane'\n[output]\ndirectory = 5\n", r"directory must be a string"),
    ("[model]\nwannier90 = 'missing_tb.dat'\n", r"not found"),
])
def test_config_value_errors(tmp_path, text, match):
    path = _write(tmp_path, text=text)
    with pytest.raises(ConfigError, match=match):
        from qkinetics.run import build_model
        build_model(load_config(path))


def test_cli_reports_bad_grid_shape_and_t0_fermi_surface(tmp_path):
    path = _write(tmp_path, text="[model]\nzoo = 'haldane'\n[grid]\nn = [10, 10, 10]\n")
    result = CliRunner().invoke(main, ["run", str(path), "--no-progress"])
    assert result.exit_code != 0 and "[grid] n must be an integer >= 2 (points per direction) or 2 of them" in result.output
    path = _write(tmp_path, text="[model]\nzoo = 'haldane'\n[response]\norder = 2\n[sweep]\nT = 0.0\nmu = 1.0\n"
                                 "[grid]\nn = 10\n")
    result = CliRunner().invoke(main, ["run", str(path), "--no-progress"])
    assert result.exit_code != 0 and "T > 0" in result.output


def test_wannier90_checkpoint_key_follows_file_content(tmp_path):
    import qkinetics as qk
    from qkinetics.models import write_wannier90_tb
    write_wannier90_tb(qk.zoo.qi_wu_zhang(u=1.0), tmp_path / "m_tb.dat")
    text = "[model]\nwannier90 = 'm_tb.dat'\n"
    path = _write(tmp_path, text=text + "[grid]\nn = 30\nconvergence = false\n[sweep]\nT = 3000.0\nmu = 0.5\n")
    a = run(path, progress=False)
    write_wannier90_tb(qk.zoo.qi_wu_zhang(u=1.5), tmp_path / "m_tb.dat")
    b = run(path, progress=False)
    assert not np.allclose(a["total"].values, b["total"].values)
    assert "sha256" in b.attrs["model_provenance"]


def test_run_error_bars_are_the_three_level_bars_of_the_api(tmp_path):
    # the run integrates n, n/2 and n/4 like qkinetics.conductivity(convergence=True); with only two levels
    # it would give the weaker one-level bar 2|fine - coarse| (different numbers), so this can fail
    from qkinetics import conductivity
    from qkinetics.models import zoo
    ds = run(_write(tmp_path), progress=False)
    api = conductivity(zoo.get("haldane", t2=0.1, mass=0.2, strain=0.2), order=1,
                       mechanisms=["anomalous_hall", "drude"], mu=np.linspace(-1.5, 1.5, 7), T=3000.0,
                       tau=[1e-14, 1e-13], kgrid=40, chunk_size=200, convergence=True)
    for name in ("anomalous_hall", "drude"):
        assert "1/2 and 1/4" in ds[f"error_{name}"].attrs["description"]
        np.testing.assert_allclose(ds[f"error_{name}"].values, api[f"error_{name}"].values, rtol=1e-10, atol=0)
