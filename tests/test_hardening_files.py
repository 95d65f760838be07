"""Outputs of `qkinetics run` survive kills, full disks, damaged checkpoints and a second run in the same
directory (issue 15, items 4, 5 and 6)."""

import csv
import errno
import json
import os
import socket

import numpy as np
import pytest
import xarray as xr
from click.testing import CliRunner

from qkinetics.cli import main
from qkinetics.conductivity import read_netcdf
from qkinetics.run import ConfigError, run
from qkinetics.run.lock import LOCK_NAME
from qkinetics.run.writer import atomic_path

from conftest import rice_mele_run

RESPONSE = """
[model]
zoo = "qi_wu_zhang"
params = { u = -1.0 }

[response]
mechanisms = ["drude", "anomalous_hall"]

[sweep]
mu = [0.0, 0.5, 1.0]
T = 3000.0

[grid]
n = 32
chunk_size = 150
convergence = false

[output]
directory = "out"
"""

KINETIC = rice_mele_run("t_end = 2e-14\nn_save = 2", nx=8, nk=16)


def _config(tmp_path, text=RESPONSE):
    path = tmp_path / "run.toml"
    path.write_text(text)
    return path


def _disk_full(*args, **kwargs):
    raise OSError(errno.ENOSPC, "No space left on device")


# ---------------------------------------------------------------------------- item 4: atomic outputs
def test_atomic_path_leaves_the_old_file_and_no_temporary_on_failure(tmp_path):
    target = tmp_path / "result.csv"
    target.write_text("old\n")
    with pytest.raises(OSError):
        with atomic_path(target) as tmp:
            assert tmp.parent == tmp_path and tmp.suffix == ".csv" and tmp != target
            tmp.write_text("half a ta")
            _disk_full()
    assert target.read_text() == "old\n"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["result.csv"]
    with atomic_path(target) as tmp:
        tmp.write_text("new\n")
    assert target.read_text() == "new\n"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["result.csv"]


def test_a_csv_cut_short_by_a_full_disk_leaves_no_partial_table(tmp_path, monkeypatch):
    cfg = _config(tmp_path)
    real_writer = csv.writer

    class FailingWriter:
        def __init__(self, fh, *args, **kwargs):
            self.inner, self.rows = real_writer(fh, *args, **kwargs), 0

        def writerow(self, row):
            self.rows += 1
            if self.rows > 5:
                _disk_full()
            self.inner.writerow(row)

        def writerows(self, rows):
            for row in rows:
                self.writerow(row)

    monkeypatch.setattr(csv, "writer", FailingWriter)
    with pytest.raises(OSError, match="No space"):
        run(cfg, progress=False)
    out = tmp_path / "out"
    assert not (out / "result.csv").exists()          # never a table with half its rows
    monkeypatch.undo()
    ds = run(cfg, progress=False)                     # resumes from the checkpoint, writes everything
    rows = list(csv.reader((out / "result.csv").open()))
    assert len(rows) == 1 + ds["total"].size
    assert not [p.name for p in out.iterdir() if "tmp" in p.name]


def test_a_netcdf_cut_short_leaves_the_previous_result_readable(tmp_path, monkeypatch):
    cfg = _config(tmp_path)
    first = run(cfg, progress=False)
    out = tmp_path / "out"
    cfg.write_text(RESPONSE.replace("T = 3000.0", "T = 2000.0"))   # another config: recomputed and rewritten
    real = xr.Dataset.to_netcdf

    def truncated(self, path, *args, **kwargs):
        real(self, path, *args, **kwargs)
        with open(path, "r+b") as fh:
            fh.truncate(100)
        _disk_full()

    monkeypatch.setattr(xr.Dataset, "to_netcdf", truncated)
    with pytest.raises(OSError):
        run(cfg, progress=False)
    back = read_netcdf(out / "result.nc")             # the earlier result, whole
    np.testing.assert_array_equal(back["total"].values, first["total"].values)
    assert not [p.name for p in out.iterdir() if "tmp" in p.name]


def test_finished_kinetic_run_redraws_a_missing_or_truncated_figure(tmp_path):
    cfg = _config(tmp_path, KINETIC)
    run(cfg, progress=False)
    fig = tmp_path / "out" / "kinetics.png"
    size = fig.stat().st_size
    with open(fig, "r+b") as fh:
        fh.truncate(200)                               # what a kill during savefig leaves
    run(cfg, progress=False)
    assert fig.stat().st_size == size
    fig.unlink()
    run(cfg, progress=False)
    assert fig.stat().st_size == size
    for name in ("result.csv", "kinetics.png"):        # the other outputs come back too
        (tmp_path / "out" / name).unlink()
    run(cfg, progress=False)
    assert (tmp_path / "out" / "result.csv").stat().st_size > 0 and fig.stat().st_size == size


# ---------------------------------------------------------------------------- item 5: damaged checkpoints
def _damage(path, how):
    if how == "truncated":
        data = path.read_bytes()
        path.write_bytes(data[: len(data) // 2])
    elif how == "garbage":
        path.write_bytes(b"this is not a zip file at all" * 10)
    elif how == "empty":
        path.write_bytes(b"")
    elif how == "pickled":
        np.savez(path, key=np.array([{"a": 1}], dtype=object))
    elif how == "wrong_keys":
        np.savez(path, something=np.zeros(3))


@pytest.mark.parametrize("text", [RESPONSE, KINETIC], ids=["response", "kinetic"])
@pytest.mark.parametrize("how", ["truncated", "garbage", "empty", "pickled", "wrong_keys"])
def test_damaged_checkpoint_is_moved_aside_and_the_run_recomputes(tmp_path, how, text):
    ref_dir = tmp_path / "ref"
    ref_dir.mkdir()
    ref = run(_config(ref_dir, text), progress=False)
    cfg = _config(tmp_path, text)
    with pytest.raises(KeyboardInterrupt):
        run(cfg, progress=False, stop_after=1)
    ckpt = tmp_path / "out" / "checkpoint.npz"
    assert ckpt.exists()
    _damage(ckpt, how)
    with pytest.warns(UserWarning, match=r"checkpoint .*checkpoint\.npz is damaged .*moved to .*recomputing"):
        ds = run(cfg, progress=False)
    name = "total" if "total" in ref else "n"
    np.testing.assert_allclose(ds[name].values, ref[name].values, rtol=1e-12, atol=0)
    aside = [p.name for p in (tmp_path / "out").iterdir() if p.name.startswith("checkpoint.damaged")]
    assert len(aside) == 1


def test_damaged_checkpoint_through_the_cli_is_one_line_not_aborted(tmp_path):
    cfg = _config(tmp_path)
    with pytest.raises(KeyboardInterrupt):
        run(cfg, progress=False, stop_after=1)
    _damage(tmp_path / "out" / "checkpoint.npz", "truncated")
    result = CliRunner().invoke(main, ["run", str(cfg), "--no-progress"])
    assert result.exit_code == 0, result.output
    assert "Aborted" not in result.output
    assert "damaged" in result.output and "Traceback" not in result.output


# ---------------------------------------------------------------------------- item 6: one run per directory
def test_a_second_run_in_a_locked_directory_is_refused(tmp_path):
    cfg = _config(tmp_path)
    out = tmp_path / "out"
    out.mkdir()
    (out / LOCK_NAME).write_text(json.dumps({"pid": os.getpid(), "host": socket.gethostname(),
                                             "started": "now", "config": "other.toml"}))
    with pytest.raises(ConfigError, match=r"in use by another run \(pid \d+ on .*\).*delete .*lock"):
        run(cfg, progress=False)
    assert not (out / "result.nc").exists()
    (out / LOCK_NAME).unlink()
    run(cfg, progress=False)
    assert not (out / LOCK_NAME).exists()           # released after the run


def test_a_stale_lock_of_a_dead_process_is_taken_over(tmp_path):
    cfg = _config(tmp_path)
    out = tmp_path / "out"
    out.mkdir()
    dead = 2**22 + 12345                             # above the default pid_max: no such process
    (out / LOCK_NAME).write_text(json.dumps({"pid": dead, "host": socket.gethostname(), "started": "then"}))
    with pytest.warns(UserWarning, match="stale lock"):
        run(cfg, progress=False)
    assert (out / "result.nc").exists() and not (out / LOCK_NAME).exists()


def test_lock_is_released_after_an_interruption(tmp_path):
    cfg = _config(tmp_path)
    with pytest.raises(KeyboardInterrupt):
        run(cfg, progress=False, stop_after=1)
    assert not (tmp_path / "out" / LOCK_NAME).exists()
    with pytest.raises(KeyboardInterrupt):
        run(_config(tmp_path, KINETIC), progress=False, stop_after=1)
    assert not (tmp_path / "out" / LOCK_NAME).exists()


def test_concurrent_runs_share_no_temporary_names(tmp_path):
    from qkinetics.run.writer import atomic_path as ap

    target = tmp_path / "checkpoint.npz"
    with ap(target) as a, ap(target) as b:
        assert a != b and a.suffix == b.suffix == ".npz"
        np.savez(a, x=np.zeros(1))
        np.savez(b, x=np.ones(1))
    with np.load(target) as f:
        assert f["x"][0] == 0.0                      # the last rename wins, whole
    assert [p.name for p in tmp_path.iterdir()] == ["checkpoint.npz"]

