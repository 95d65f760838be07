"""Dask executor: a 2-worker LocalCluster gives the serial result bit for bit, and a run whose client
is killed (SIGKILL) resumes from its checkpoint to the same answer."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest

import qkinetics as qk
from qkinetics.integrate import KGrid, get_executor, integrate_mechanisms
from qkinetics.models.base import ModelError
from qkinetics.responses import mechanisms_by_name

pytest.importorskip("distributed")
pytestmark = pytest.mark.filterwarnings("ignore::qkinetics.integrate.GridResolutionWarning")

SRC = Path(__file__).resolve().parents[1] / "src"


def _model():
    return qk.zoo.get("weyl", tilt_y=0.2, tilt_z=0.1)


def test_import_qkinetics_does_not_import_dask():
    code = "import sys, qkinetics, qkinetics.integrate; print('distributed' in sys.modules, 'dask' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True,
                         env={**os.environ, "PYTHONPATH": str(SRC)})
    assert out.stdout.split() == ["False", "False"]


def _worker_env():
    return os.environ.get("MALLOC_TRIM_THRESHOLD_"), os.environ.get("OMP_NUM_THREADS")


def test_dask_local_cluster_equals_serial_bit_for_bit():
    model = _model()
    kw = dict(order=1, mu=[-0.3, 0.0, 0.4], T=[50.0, 300.0], kgrid=16, mechanisms=["drude", "anomalous_hall"],
              chunk_size=600)
    serial = qk.conductivity(model, **kw)
    with get_executor("dask", workers=2) as ex:
        assert ex._max_workers == 2
        # one BLAS thread each, and glibc's own malloc thresholds (Dask's MALLOC_TRIM_THRESHOLD_ made a
        # chunk cost ~1.5x the CPU of a serial run: page faults on every large temporary)
        assert list(ex.client.run(_worker_env).values()) == [(None, "1")] * 2
        dask = qk.conductivity(model, executor=ex, **kw)
        # second order too, through the same cluster (the scattered inputs differ per call)
        kw2 = dict(kw, order=2, mechanisms=["berry_curvature_dipole", "nonlinear_drude"], convergence=False)
        serial2, dask2 = qk.conductivity(model, **kw2), qk.conductivity(model, executor=ex, **kw2)
    for a, b in ((serial, dask), (serial2, dask2)):
        for name in a.data_vars:
            assert np.array_equal(a[name].values, b[name].values), name
    assert np.abs(serial["anomalous_hall"]).max() > 0 and np.abs(serial2["berry_curvature_dipole"]).max() > 0


_CLIENT = """
import os, sys, time
import numpy as np
import qkinetics as qk
from qkinetics.integrate import KGrid, integrate_mechanisms
from qkinetics.responses import mechanisms_by_name

address, path = sys.argv[1], sys.argv[2]
model = qk.zoo.get("weyl", tilt_y=0.2, tilt_z=0.1)
mechs = mechanisms_by_name(["drude", "anomalous_hall"], 1)

def checkpoint(done, totals, resolution):            # atomic: temp file, then rename
    np.savez(path + ".tmp.npz", done=done, resolution=resolution, **totals)
    os.replace(path + ".tmp.npz", path)
    time.sleep(0.15)                                  # give the test time to kill us mid-run

integrate_mechanisms(model, mechs, KGrid(model, 16), [-0.3, 0.4], [80.0], chunk_size=200,
                     executor="dask://" + address, on_chunk=checkpoint, warn=False)
"""


def test_killed_dask_run_resumes_to_the_same_answer(tmp_path):
    from distributed import LocalCluster

    model = _model()
    mechs = mechanisms_by_name(["drude", "anomalous_hall"], 1)
    grid = KGrid(model, 16)
    args = ([-0.3, 0.4], [80.0])
    serial = integrate_mechanisms(model, mechs, grid, *args, chunk_size=200, warn=False)
    path = tmp_path / "checkpoint.npz"
    with LocalCluster(n_workers=2, threads_per_worker=1, dashboard_address=None) as cluster:
        client = subprocess.Popen([sys.executable, "-c", _CLIENT, cluster.scheduler_address, str(path)],
                                  env={**os.environ, "PYTHONPATH": str(SRC)}, stderr=subprocess.PIPE)
        try:
            deadline = time.time() + 120
            while time.time() < deadline and client.poll() is None:
                if path.exists():
                    with np.load(path) as f:
                        if int(f["done"]) >= 3:
                            break
                time.sleep(0.05)
            assert client.poll() is None, client.stderr.read().decode()
            os.kill(client.pid, signal.SIGKILL)                           # the driver dies mid-run
            client.wait()
        finally:
            if client.poll() is None:
                client.kill()
                client.wait()
        with np.load(path) as f:
            done, resolution = int(f["done"]), f["resolution"]
            totals = {name: f[name] for name in ("drude", "anomalous_hall")}
        assert 3 <= done < grid.nchunks(200)
        with get_executor("dask://" + cluster.scheduler_address) as ex:
            resumed = integrate_mechanisms(model, mechs, grid, *args, chunk_size=200, executor=ex,
                                           resume=(done, totals, resolution), warn=False)
    for name in serial.values:
        assert np.array_equal(serial.values[name], resumed.values[name]), name
    assert np.array_equal(serial.resolution, resumed.resolution)


def test_executor_names_and_errors():
    with pytest.raises(ModelError, match="unknown executor"):
        get_executor("mpi")
    with pytest.raises(ModelError, match="scheduler address"):
        get_executor("dask://")
    with pytest.raises(ModelError, match="workers"):
        get_executor("processes", 0)
    with pytest.raises(ModelError, match="executor must be"):
        qk.conductivity(_model(), kgrid=4, executor=42, convergence=False)
