"""What a user sees (issue 15, items 10, 12 and 13): one-line warnings, how to resume after Ctrl-C, progress
toward what the run waits for, and kinetic outputs with a table, per-variable units and a meaningful figure."""

import csv
import re

import numpy as np
import pytest
from click.testing import CliRunner

import qkinetics.run as qrun
from qkinetics.cli import main
from qkinetics.conductivity import read_netcdf

from conftest import rice_mele_run

COARSE = """
[model]
zoo = "qi_wu_zhang"
params = { u = -1.0 }

[response]
mechanisms = ["drude"]

[sweep]
mu = [1.0, 1.5]
T = 300.0

[grid]
n = 16
chunk_size = 40

[output]
directory = "out"
"""

STEADY = rice_mele_run("steady = true\ntol = 1e-6")


def _config(tmp_path, text):
    path = tmp_path / "run.toml"
    path.write_text(text)
    return path


# ---------------------------------------------------------------------------- item 12
def test_cli_prints_warnings_as_one_clean_line(tmp_path):
    result = CliRunner().invoke(main, ["run", str(_config(tmp_path, COARSE)), "--no-progress"])
    assert result.exit_code == 0, result.output
    lines = [line for line in result.output.splitlines() if "GridResolutionWarning" in line]
    assert lines and all(line.startswith("Warning (GridResolutionWarning): k grid too coarse") for line in lines)
    assert ".py:" not in result.output and "results[label]" not in result.output   # no source file or line


@pytest.mark.parametrize("text", [COARSE, STEADY], ids=["response", "kinetic"])
def test_ctrl_c_says_how_to_resume(tmp_path, monkeypatch, text):
    real = qrun.run
    monkeypatch.setattr(qrun, "run", lambda config, **kw: real(config, **kw, stop_after=1))
    cfg = _config(tmp_path, text.replace("tol = 1e-6", "tol = 1e-12"))
    monkeypatch.setattr(qrun.kinetic_job, "STEADY_BLOCK", 20)
    result = CliRunner().invoke(main, ["run", str(cfg), "--no-progress"])
    assert result.exit_code == 130
    assert "Aborted" not in result.output
    assert f"Progress is saved in {tmp_path / 'out' / 'checkpoint.npz'}" in result.output
    assert f"qkinetics run {cfg} --no-progress" in result.output
    monkeypatch.setattr(qrun, "run", real)
    again = CliRunner().invoke(main, ["run", str(cfg), "--no-progress"])      # the printed command resumes
    assert again.exit_code == 0, again.output


# ---------------------------------------------------------------------------- item 10
def test_response_run_shows_one_bar_over_every_grid(tmp_path, capsys):
    qrun.run(_config(tmp_path, COARSE.replace("n = 16", "n = 40")), progress=True)
    err = capsys.readouterr().err
    finals = re.findall(r"(\d+)/(\d+) \[", err)
    totals = {int(total) for _, total in finals}
    assert len(totals) == 1                        # one bar: 40x40 + 20x20 + 10x10 points in chunks of 40
    total = totals.pop()
    assert total == 40 + 10 + 3
    assert int(finals[-1][0]) == total and "1600 + 400 + 100 k points" in err


def test_steady_run_bar_counts_decades_of_the_residual_to_tol(tmp_path, capsys):
    ds = qrun.run(_config(tmp_path, STEADY), progress=True)
    err = capsys.readouterr().err
    assert "decades" in err and "residual" in err and "tol 1e-06" in err
    assert "100%" in err.split("\r")[-1] or "100%" in err.splitlines()[-1]
    assert ds.attrs["converged"] == 1
    assert "/200000" in err                          # steps against max_steps, in the postfix only


# ---------------------------------------------------------------------------- item 13
def test_kinetic_run_writes_a_csv_with_units_per_row(tmp_path):
    ds = qrun.run(_config(tmp_path, STEADY), progress=False)
    rows = list(csv.DictReader((tmp_path / "out" / "result.csv").open()))
    assert set(rows[0]) == {"quantity", "band", "position_A", "value", "units"}
    n = [r for r in rows if r["quantity"] == "n" and r["band"] == "0"]
    np.testing.assert_allclose([float(r["value"]) for r in n], ds["n"].sel(band=0).values, rtol=1e-9)
    np.testing.assert_allclose([float(r["position_A"]) for r in n], ds["x"].values, rtol=1e-9)
    face = [r for r in rows if r["quantity"] == "jx_face"]
    assert len(face) == ds["jx_face"].size and {r["units"] for r in face} == {"1/s"}
    assert {r["units"] for r in rows if r["quantity"] == "V"} == {"eV"}


def test_time_run_csv_has_a_time_column(tmp_path):
    text = STEADY.replace("steady = true\ntol = 1e-6", "t_end = 2e-14\nn_save = 2")
    ds = qrun.run(_config(tmp_path, text), progress=False)
    rows = list(csv.DictReader((tmp_path / "out" / "result.csv").open()))
    n = [r for r in rows if r["quantity"] == "n"]
    assert len(n) == ds["n"].size
    assert sorted({float(r["time_s"]) for r in n}) == pytest.approx(ds["time"].values.tolist())


@pytest.mark.parametrize("model, dim", [("rice_mele", 1), ("qi_wu_zhang", 2)])
def test_kinetic_variables_carry_their_own_units(tmp_path, model, dim):
    text = STEADY.replace('zoo = "rice_mele"', f'zoo = "{model}"').replace("nk = 32", "nk = 16" + (
        "\nnk_perp = 4" if dim == 2 else ""))
    qrun.run(_config(tmp_path, text), progress=False)
    back = read_netcdf(tmp_path / "out" / "result.nc")
    assert "units" not in back.attrs                # no global string with a literal d
    expected = {1: {"n": "1/A", "jx": "1/s", "jx_face": "1/s"}, 2: {"n": "1/A^2", "jx": "1/(A s)", "jx_face": "1/(A s)",
                                                                     "jy": "1/(A s)"}}[dim]
    expected.update({"V": "eV", "T": "K", "x": "A", "x_face": "A"})
    for name, unit in expected.items():
        assert back[name].attrs["units"] == unit, name
        assert "d" not in unit.replace("^2", "")
    assert back.attrs["particle_number_units"] == {1: "1", 2: "1/A"}[dim]


def test_kinetic_figure_draws_the_face_flux_not_the_cell_centre_current(tmp_path, monkeypatch):
    import matplotlib.axes

    drawn = []
    real_plot = matplotlib.axes.Axes.plot

    def spy(self, *args, **kwargs):
        drawn.append((self, np.asarray(args[0]).size, np.asarray(args[1])))
        return real_plot(self, *args, **kwargs)

    monkeypatch.setattr(matplotlib.axes.Axes, "plot", spy)
    ds = qrun.run(_config(tmp_path, STEADY), progress=False)
    jx_panels = [d for d in drawn if "j_x" in d[0].get_ylabel()]
    assert len(jx_panels) == 1
    face = ds["jx_face"].sum("band").values
    for _, size, y in jx_panels:
        assert size == ds.sizes["x_face"]            # drawn on the faces
        np.testing.assert_allclose(y, face)
    centre = ds["jx"].sum("band").values
    print(np.ptp(face), np.ptp(centre), np.abs(centre).max())
    assert np.ptp(face) < 1e-3 * np.ptp(centre)      # uniform (conserved) where the cell-centre moment spikes


def test_kinetic_figure_labels_do_not_overlap(tmp_path):
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    ds = qrun.run(_config(tmp_path, STEADY), progress=False)
    captured = {}
    real_save = qrun.kinetic_job.save_figure

    def keep(fig, path, **kwargs):
        fig.canvas.draw()
        renderer = fig.canvas.get_renderer()
        captured["boxes"] = [ax.yaxis.label.get_window_extent(renderer) for ax in fig.axes]
        captured["titles"] = [ax.title.get_window_extent(renderer) for ax in fig.axes if ax.get_title(loc="left")]
        real_save(fig, path, **kwargs)

    qrun.kinetic_job.save_figure = keep
    try:
        qrun.plot_kinetics(ds, tmp_path / "fig.png")
    finally:
        qrun.kinetic_job.save_figure = real_save
    boxes = captured["boxes"]
    for a, b in zip(boxes, boxes[1:]):
        assert not a.overlaps(b)
    plt.close("all")
