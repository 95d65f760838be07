"""The first hour of a new user (issue 15, items 9, 11, 14, 15): what the README, the docs and `help()` promise.

Each test reproduces one complaint of the issue and fails without its fix."""

import inspect
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import xarray as xr

import qkinetics as qk
from qkinetics import units
from qkinetics.models.base import ModelError

ROOT = Path(__file__).resolve().parent.parent
TE = ROOT / "examples" / "data" / "Te_tb.dat"


# ------------------------------------------------------------------ item 9: a real Wannier90 file ships


def test_shipped_wannier90_file_gives_wannier90s_own_bands():
    """examples/data/Te_tb.dat (written by wannier90.x) read by qk.read_wannier90 reproduces the bands that
    Wannier90 itself interpolated from the same checkpoint (Te_band.dat at the labelled path points).
    Measured agreement 8e-8 eV: the 8 significant digits Wannier90 prints (5e-8 eV at 5 eV)."""
    model = qk.read_wannier90(TE)
    assert (model.dim, model.norb) == (3, 9)
    rows = [line.split() for line in (ROOT / "tests" / "data" / "te_band_points.txt").read_text().splitlines()
            if line and not line.startswith("#")]
    kred = np.array([[float(x) for x in r[1:4]] for r in rows])
    ref = np.array([[float(x) for x in r[4:]] for r in rows])
    assert ref.shape == (6, 9)
    np.testing.assert_allclose(model.bands(model.k_from_reduced(kred)), ref, rtol=0, atol=2e-7)


# ------------------------------------------------------------------ item 11: the total does not hide a mechanism


@pytest.fixture(scope="module")
def second_order():
    model = qk.zoo.massive_dirac(v=1.0, mass=0.1, tilt=0.1, kcut=0.5)
    return qk.conductivity(model, 2, mu=np.linspace(0.12, 0.3, 7), T=300.0, tau=1e-13, kgrid=120)


def test_response_plot_draws_the_total_underneath_and_distinguishable(second_order):
    """sigma_yxx of the tilted cone is the Berry curvature dipole alone (the others vanish by symmetry), so
    the total equals it: drawn last with the same style (as before) it painted over that mechanism."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    ds = second_order
    yxx = dict(channel="rectified", j="y", E1="x", E2="x")
    np.testing.assert_allclose(ds["total"].sel(yxx).values, ds["berry_curvature_dipole"].sel(yxx).values)
    fig, ax = plt.subplots()
    qk.plot.response(ds, "yxx", ax=ax)
    lines = {line.get_label(): line for line in ax.get_lines() if not line.get_label().startswith("_")}
    total = next(line for label, line in lines.items() if label.startswith("total"))
    others = [line for label, line in lines.items() if not label.startswith("total")]
    mechanisms = [v for v in ds.data_vars if ds[v].dims[:1] == ("channel",) and v != "total"
                  and not v.startswith("error_")]
    assert len(others) == len(mechanisms) >= 5
    for line in others:
        assert line.get_zorder() > total.get_zorder()             # mechanisms on top of the total
        assert line.get_linewidth() < total.get_linewidth()       # and thinner than its band
    assert total.get_alpha() is not None and total.get_alpha() < 1
    assert ax.get_legend().get_texts()[0].get_text().startswith("total (nonlinear_drude")
    plt.close(fig)


def test_response_plot_rejects_a_bad_component_clearly(second_order):
    with pytest.raises(ValueError, match="3 letters"):
        qk.plot.response(second_order, "xy")
    with pytest.raises(ValueError, match="axes are x, y"):
        qk.plot.response(second_order, "zxx")


def _coarse_nonlinear_hall(tmp_path, extra=""):
    """examples/nonlinear_hall.toml with a coarse grid and sweep (same [output] section)."""
    text = (ROOT / "examples" / "nonlinear_hall.toml").read_text()
    text = text.replace("n = 720 ", "n = 60 ").replace("num = 61", "num = 5").replace("T = [20.0, 40.0]", "T = 600.0")
    text = text.replace("chunk_size = 20000", "chunk_size = 4000") + extra
    path = tmp_path / "nlh.toml"
    path.write_text(text)
    return path


def test_nonlinear_hall_config_draws_the_hall_component(tmp_path, monkeypatch):
    from qkinetics.run import load_config, run

    assert load_config(ROOT / "examples" / "nonlinear_hall.toml")["component"] == "yxx"
    drawn = []
    original = qk.plot.response
    monkeypatch.setattr(qk.plot, "response", lambda ds, component=None, **kw: drawn.append(
        original(ds, component, **kw).get_ylabel()))
    run(_coarse_nonlinear_hall(tmp_path), progress=False)
    assert drawn == ["real sigma_yxx (A m/V^2)"]                  # before: the largest component, sigma_xxx


@pytest.mark.parametrize("component, message", [("xy", "3 letters"), ("yxa", "3 letters x, y, z"), (3, "3 letters")])
def test_output_component_is_validated(tmp_path, component, message):
    from qkinetics.run import ConfigError, load_config

    path = _coarse_nonlinear_hall(tmp_path)
    toml = f'"{component}"' if isinstance(component, str) else str(component)
    path.write_text(path.read_text().replace('component = "yxx"', f"component = {toml}"))
    with pytest.raises(ConfigError, match=r"\[output\] component"):
        load_config(path)


def test_output_component_axis_beyond_the_model_is_refused_before_computing(tmp_path):
    from qkinetics.run import ConfigError, run

    path = _coarse_nonlinear_hall(tmp_path)
    path.write_text(path.read_text().replace('component = "yxx"', 'component = "zxx"'))
    with pytest.raises(ConfigError, match="2D model has the axes xy"):
        run(path, progress=False)
    assert not (tmp_path / "nonlinear_hall-out" / "checkpoint.npz").exists()


# ------------------------------------------------------------------ item 14: netCDF that plain xarray understands


def test_netcdf_plain_xarray_sees_complex_parts_and_cf_attributes(second_order, tmp_path):
    path = tmp_path / "r.nc"
    qk.write_netcdf(second_order, path)
    with xr.open_dataset(path) as plain:                          # no qkinetics code involved
        assert not [v for v in plain.variables if "__" in v]      # before: total__real, total__imag
        assert plain["part"].values.tolist() == ["real", "imag"]
        z = plain["total"].sel(part="real") + 1j * plain["total"].sel(part="imag")
        np.testing.assert_array_equal(z.values, second_order["total"].values)
        for key in ("Conventions", "title", "source", "history", "date_created"):
            assert plain.attrs[key], key
        assert plain.attrs["Conventions"].startswith("CF-")
        for name, var in plain.variables.items():
            if var.dtype.kind == "f" and name != "part":
                assert var.attrs.get("units"), f"{name} has no units"
    back = qk.read_netcdf(path)
    for name in second_order.variables:
        np.testing.assert_array_equal(back[name].values, second_order[name].values)
    assert "part" not in back.dims and back["total"].dtype == complex
    qk.write_netcdf(back, path)                                    # a rewrite keeps the creation date, adds history
    with xr.open_dataset(path) as again:
        assert again.attrs["history"].count("\n") == 1


def test_read_netcdf_reads_files_of_the_old_format(second_order, tmp_path):
    old = second_order.copy()
    for name in [v for v in old.data_vars if np.iscomplexobj(old[v])]:
        old[f"{name}__real"] = old[name].real.assign_attrs(old[name].attrs)
        old[f"{name}__imag"] = old[name].imag.assign_attrs(old[name].attrs)
        old = old.drop_vars(name)
    old.to_netcdf(tmp_path / "old.nc", engine="scipy")
    back = qk.read_netcdf(tmp_path / "old.nc")
    np.testing.assert_array_equal(back["total"].values, second_order["total"].values)


# ------------------------------------------------------------------ item 15: the smaller things


def test_sweep_dimensions_are_stable_and_squeeze_gives_the_plain_value():
    """Chosen: every result has the dims (channel, mu, T, tau, omega, tensor) whatever the sweep (stable
    schema: code and files work for any sweep); ``.squeeze()`` drops the size-1 ones, as documented."""
    model = qk.zoo.qi_wu_zhang(u=-1.2)
    kw = dict(T=1500.0, kgrid=80, convergence=False, mechanisms="drude")
    scalar = qk.conductivity(model, 1, mu=1.0, **kw)
    listed = qk.conductivity(model, 1, mu=[1.0], **kw)
    assert scalar["drude"].dims == listed["drude"].dims == ("channel", "mu", "T", "tau", "omega", "j", "E1")
    xx = scalar["drude"].sel(j="x", E1="x").squeeze()
    assert xx.shape == () and float(xx.real) > 0
    sweep = qk.conductivity(model, 1, mu=[0.9, 1.0, 1.1], **kw)["drude"].sel(j="x", E1="x").squeeze()
    assert sweep.dims == ("mu",)
    assert "squeeze()" in qk.conductivity.__doc__


def test_kpath_is_public_and_the_cli_uses_it():
    from qkinetics import cli, kpath

    assert cli.high_symmetry_path is kpath.high_symmetry_path is qk.kpath.high_symmetry_path
    model = qk.zoo.haldane()
    k, dist, ticks = kpath.high_symmetry_path(model, ["G", "K", "M", "G"], kpath.HONEYCOMB_POINTS, n_per_segment=10)
    assert k.shape == (31, 2) and len(ticks) == 4
    corners = model.k_from_reduced([kpath.HONEYCOMB_POINTS[p] for p in ("G", "K", "M", "G")])
    np.testing.assert_allclose(k[[0, 10, 20, 30]], corners, atol=1e-14)
    np.testing.assert_allclose(ticks[1], np.linalg.norm(corners[1] - corners[0]))
    np.testing.assert_allclose(np.diff(dist), np.linalg.norm(np.diff(k, axis=0), axis=1))
    with pytest.raises(ModelError, match="unknown point label"):
        kpath.high_symmetry_path(model, ["G", "X"], kpath.HONEYCOMB_POINTS)
    with pytest.raises(ModelError, match="needs 2"):
        kpath.high_symmetry_path(model, ["G", "A"], kpath.HEXAGONAL_POINTS)


def test_band_plot_draws_the_model_bands(tmp_path):
    te = qk.read_wannier90(TE)
    labels = ["G", "M", "K", "G", "A"]
    ax = qk.plot.bands(te, labels, qk.kpath.HEXAGONAL_POINTS, n_per_segment=8, mu=5.0)
    k, dist, ticks = qk.kpath.high_symmetry_path(te, labels, qk.kpath.HEXAGONAL_POINTS, 8)
    bands = [line for line in ax.get_lines() if len(line.get_xdata()) == len(k)]
    assert len(bands) == 9
    np.testing.assert_allclose(np.stack([b.get_ydata() for b in bands], 1), te.bands(k))
    assert [t.get_text() for t in ax.get_xticklabels()] == [r"$\Gamma$", "M", "K", r"$\Gamma$", "A"]
    qk.plot.bands(te, labels, qk.kpath.HEXAGONAL_POINTS, n_per_segment=8, path=tmp_path / "te.png")
    assert (tmp_path / "te.png").stat().st_size > 0


def test_conductivity_help_documents_every_parameter_and_mechanism():
    from qkinetics.responses import available_mechanisms

    doc = qk.conductivity.__doc__
    for name in inspect.signature(qk.conductivity).parameters:
        assert f"\n    {name} :" in doc or f", {name} :" in doc, f"parameter {name} undocumented"
    for name in ("chunk_size", "progress", "degeneracy_tol"):
        assert f"\n    {name} :" in doc
    for name in available_mechanisms():
        assert f"``{name}``" in doc, name


def test_lindhard_takes_tau_in_seconds_like_the_rest():
    m = qk.zoo.rice_mele()
    tau, om = 4e-14, 0.025 / units.hbar_eVs
    by_tau = qk.kubo.lindhard(m, [[0.05]], [om], mu=-1.3, T=300.0, tau=tau, kgrid=400)
    by_eta = qk.kubo.lindhard(m, [[0.05]], [om], mu=-1.3, T=300.0, eta=units.hbar_eVs / tau, kgrid=400)
    np.testing.assert_array_equal(by_tau["chi"].values, by_eta["chi"].values)
    assert by_tau["tau"].values.tolist() == [tau]


@pytest.mark.parametrize("call, message", [
    (dict(omega=0.025, eta=0.01), "angular frequency in rad/s"),          # omega given in eV
    (dict(omega=3e13, eta=2.5e13), "looks like a rate"),                  # eta given in 1/s
    (dict(omega=3e13, eta=0.01, tau=1e-13), "only one of tau"),
])
def test_lindhard_and_kubo_refuse_mixed_units(call, message):
    m = qk.zoo.rice_mele()
    with pytest.raises(ModelError, match=message):
        qk.kubo.lindhard(m, [[0.05]], call["omega"], eta=call.get("eta"), tau=call.get("tau"), kgrid=8)
    with pytest.raises(ModelError, match=message):
        qk.kubo.kubo_conductivity(m, call["omega"], eta=call.get("eta"), tau=call.get("tau"), kgrid=8)


def test_default_temperature_is_the_same_everywhere():
    from qkinetics.kubo import density_matrix, time_domain
    from qkinetics.run.config import DEFAULT_SWEEP

    defaults = {f.__qualname__: inspect.signature(f).parameters["T"].default for f in (
        qk.conductivity, qk.kubo.kubo_conductivity, qk.kubo.lindhard, density_matrix.DensityMatrixSolver,
        density_matrix.linear_conductivity, density_matrix.second_order_conductivity, density_matrix.tau_coefficients,
        density_matrix.compare_with_kinetics, time_domain.TimeDomainSolver, time_domain.time_domain_tau_coefficients)}
    defaults["run [sweep] T"] = DEFAULT_SWEEP["T"]
    assert set(defaults.values()) == {300.0}, defaults


def test_zoo_namespace_lists_models_not_modules():
    names = dir(qk.zoo)
    for module in ("np", "sympy", "math", "inspect", "annotations"):
        assert module not in names
    assert set(qk.zoo.MODELS) <= set(names) and "get" in names


def test_examples_do_not_write_into_the_docs(tmp_path):
    """Examples write to ./qkinetics-examples unless told otherwise; only docs/make_figures.py writes docs/figures."""
    for script in (ROOT / "examples").glob("*.py"):
        text = script.read_text()
        assert '"docs" / "figures"' not in text and "docs/figures/" not in text.split('"""', 2)[2], script.name
    figures = {p: p.stat().st_mtime_ns for p in (ROOT / "docs" / "figures").glob("*.png")}
    result = subprocess.run([sys.executable, str(ROOT / "examples" / "wannier_stark.py")], cwd=tmp_path,
                            capture_output=True, text=True, timeout=300,
                            env=dict(os.environ, PYTHONPATH=str(ROOT / "src"), MPLBACKEND="Agg"))
    assert result.returncode == 0, result.stderr
    assert (tmp_path / "qkinetics-examples" / "wannier_stark.png").stat().st_size > 0
    assert figures == {p: p.stat().st_mtime_ns for p in (ROOT / "docs" / "figures").glob("*.png")}
    listed = subprocess.run([sys.executable, str(ROOT / "docs" / "make_figures.py"), "--list"],
                            capture_output=True, text=True, timeout=60)
    assert listed.returncode == 0 and "examples/wannier_stark.py -> docs/figures/wannier_stark.png" in listed.stdout
    shown = {p.name for p in (ROOT / "docs" / "figures").glob("*.png")}
    made = {line.split("docs/figures/")[1].split()[0] for line in listed.stdout.splitlines()}
    assert made <= shown
