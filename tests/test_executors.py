"""Local executors: single-threaded BLAS in pool workers, grid-only chunking, named executors closed after use."""

from __future__ import annotations

import ctypes
import os

import numpy as np

import qkinetics as qk
from qkinetics.integrate import KGrid, get_executor, integrate_mechanisms
from qkinetics.integrate.executors import executor_scope
from qkinetics.integrate.integrator import MIN_CHUNK, MIN_CHUNKS, default_chunk_size
from qkinetics.responses import mechanisms_by_name


def _worker_threads():
    """(OMP_NUM_THREADS, OpenBLAS threads or None) as seen inside a worker."""
    count = None
    with open("/proc/self/maps") as maps:
        libs = sorted({line.split()[-1] for line in maps if "blas" in line.lower() and ".so" in line})
    for path in libs:
        lib = ctypes.CDLL(path)
        for symbol in ("scipy_openblas_get_num_threads64_", "scipy_openblas_get_num_threads",
                       "openblas_get_num_threads64_", "openblas_get_num_threads"):
            if hasattr(lib, symbol):
                count = getattr(lib, symbol)()
                break
    return os.environ.get("OMP_NUM_THREADS"), count


def test_process_pool_workers_run_one_blas_thread():
    with get_executor("processes", 2) as pool:
        env, count = pool.submit(_worker_threads).result()
    assert env == "1"
    assert count in (None, 1)                          # None: no OpenBLAS in this NumPy build


def test_chunking_depends_on_the_grid_only():
    model = qk.zoo.get("weyl")
    assert default_chunk_size(model, 1, 1) == 20000                          # no grid: the old default
    assert default_chunk_size(model, 1, 1, npoints=80**3) == 80**3 // MIN_CHUNKS
    assert default_chunk_size(model, 1, 1, npoints=10**3) == MIN_CHUNK       # small grids: not below MIN_CHUNK
    # integrate_mechanisms picks the grid-based size: serial and pool agree bit for bit without chunk_size
    mechs = mechanisms_by_name(["anomalous_hall"], 1)
    grid = KGrid(model, 24)
    serial = integrate_mechanisms(model, mechs, grid, [0.1], [300.0], warn=False)
    pooled = integrate_mechanisms(model, mechs, grid, [0.1], [300.0], executor="processes", warn=False)
    assert np.array_equal(serial.values["anomalous_hall"], pooled.values["anomalous_hall"])


def test_named_executors_are_closed_objects_are_left_open():
    with executor_scope("processes", 1) as ex:
        assert ex.submit(abs, -2).result() == 2
    assert ex._shutdown_thread
    with get_executor("processes", 1) as mine:
        with executor_scope(mine) as ex:
            assert ex is mine
        assert mine.submit(abs, -3).result() == 3                           # still usable
