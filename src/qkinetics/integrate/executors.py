"""Executors: where the k chunks of a band integral run.

An executor is anything with ``map(fn, iterable)`` returning results in order; executors with
``submit(fn, *args)`` returning a future (``.result()``, ``.cancel()``) get a sliding window of
jobs instead. :func:`get_executor` builds the three the library knows by name:

``"serial"``
    this process, one chunk after another;
``"processes"``
    a local pool of worker processes (``concurrent.futures``), each with a single BLAS thread;
``"dask"`` / ``"dask://ADDRESS"``
    a ``dask.distributed`` cluster: a ``LocalCluster`` of worker processes started for the run, or
    the running scheduler at ADDRESS (``"dask://host:8786"``, ``"dask://tls://host:8786"``), e.g.
    one started by ``dask-jobqueue`` on a SLURM or PBS machine.

Memory stays bounded whatever the grid: the integrator never hands an executor the whole grid
at once. :func:`bounded_map` keeps at most ``max_in_flight`` jobs submitted and not yet consumed.
The inputs common to every job (the model, the integrands, the (mu, T) sweep) are sent once per
worker where the executor can (:meth:`DaskExecutor.share`), not once per chunk; process pools get them
pickled once and unpickled once per worker (:class:`CachedCommon`), so that the caches a model builds
in a worker (its Fourier weights) serve all the chunks that worker runs.

Results never depend on the executor: every chunk is computed by the same function on the same
k points, and the integrator adds the chunk results in chunk order, so serial, process-pool and
Dask runs agree bit for bit (given the same BLAS thread count, which can change the last bit of
a matrix product: pools and Dask workers use one thread each, as a serial run under
``OMP_NUM_THREADS=1`` does).
"""

from __future__ import annotations

import ctypes
import logging
import os
import pickle
import time
from collections import deque
from concurrent.futures import ProcessPoolExecutor
from contextlib import contextmanager
from functools import partial
from itertools import islice

import numpy as np

from ..models.base import ModelError

#: Executor names accepted by :func:`get_executor` (besides ``"dask://ADDRESS"``).
EXECUTOR_NAMES = ("serial", "processes", "dask")


class SerialExecutor:
    """Run jobs one after another in this process."""

    def map(self, fn, iterable):
        return map(fn, iterable)

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        return False


def set_blas_threads(n: int) -> bool:
    """Limit the threads of the BLAS loaded in this process to ``n``; True if a BLAS was found.

    Worker processes call this at start: with one BLAS thread per worker, ``w`` workers on ``w``
    cores do not oversubscribe them (two OpenBLAS threads per process on two cores made the small
    batched ``eigh`` of band geometry several times slower). Uses threadpoolctl when installed,
    else OpenBLAS's own ``*_set_num_threads`` found among the libraries this process has mapped.
    """
    try:
        from threadpoolctl import threadpool_limits
    except ImportError:
        pass
    else:
        threadpool_limits(limits=n)
        return True
    try:
        with open("/proc/self/maps") as maps:
            libs = sorted({line.split()[-1] for line in maps if "blas" in line.lower() and ".so" in line})
    except OSError:                                                     # not Linux: rely on the env variables
        return False
    found = False
    for path in libs:
        try:
            lib = ctypes.CDLL(path)
        except OSError:
            continue
        for symbol in ("scipy_openblas_set_num_threads64_", "scipy_openblas_set_num_threads",
                       "openblas_set_num_threads64_", "openblas_set_num_threads"):
            setter = getattr(lib, symbol, None)
            if setter is not None:
                setter(ctypes.c_int(n))
                found = True
                break
    return found


def _single_threaded_worker():
    """Initializer of pool workers: one BLAS/OpenMP thread each (see :func:`set_blas_threads`)."""
    for var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
        os.environ[var] = "1"
    set_blas_threads(1)


class DaskExecutor:
    """Jobs on a ``dask.distributed`` cluster, through a ``Client``.

    Parameters
    ----------
    address : str, optional
        Scheduler address (``"tcp://host:8786"``; ``"host:8786"`` means tcp). Default: start a
        ``LocalCluster`` of ``workers`` processes with ``threads_per_worker`` threads each, closed
        with the executor.
    workers : int, optional
        Local worker processes (default: the CPUs). Ignored with ``address``.
    threads_per_worker : int
        Threads per local worker (default 1: a chunk's NumPy work holds the GIL for long stretches,
        so processes, not threads, give parallelism). Dask workers run with ``OMP_NUM_THREADS=1``
        and friends set (dask's ``distributed.nanny.pre-spawn-environ`` default); a local cluster's
        workers do not get that setting's ``MALLOC_TRIM_THRESHOLD_`` (it makes every large NumPy
        temporary a fresh ``mmap``, about 1.5x the CPU of a chunk). Start the workers of a cluster
        given by ``address`` without it too (dask config
        ``distributed.nanny.pre-spawn-environ.MALLOC_TRIM_THRESHOLD_: null``, docs/performance.md).
    client : distributed.Client, optional
        Use this client (not closed by the executor).

    Jobs are submitted with ``pure=False`` (no hashing of their arguments, no deduplication);
    :meth:`share` scatters an object to every worker once.
    """

    def __init__(self, address=None, workers=None, threads_per_worker=1, client=None):
        try:
            from distributed import Client, LocalCluster
        except ImportError as err:                                     # pragma: no cover - a dependency
            raise ModelError("executor 'dask' needs dask.distributed: pip install 'dask[distributed]'.") from err
        self._cluster = None
        self._own_client = client is None
        self._threads, self._threads_checked = 1, -np.inf
        if client is not None:
            self.client = client
        elif address:
            if "://" not in address:
                address = f"tcp://{address}"
            try:
                self.client = Client(address, timeout="30s")
            except OSError as err:
                raise ModelError(f"cannot reach the dask scheduler at {address}: {err}. Start one (dask scheduler, "
                                 "or dask-jobqueue on a cluster) or use executor='dask' for a local cluster.") from err
        else:
            workers = int(workers or os.cpu_count() or 1)
            if workers < 1 or int(threads_per_worker) < 1:
                raise ModelError(f"dask workers and threads_per_worker must be >= 1; got {workers}, {threads_per_worker}.")
            import dask

            # Dask's nanny starts its workers with MALLOC_TRIM_THRESHOLD_=65536 (pre-spawn-environ). Setting
            # any malloc threshold switches off glibc's dynamic mmap threshold, so every NumPy temporary over
            # 128 kB is a fresh mmap: page faults and zeroed pages cost a band-geometry chunk ~50 % more CPU
            # (measured, docs/performance.md). Workers of this cluster keep glibc's defaults instead.
            with dask.config.set({"distributed.nanny.pre-spawn-environ.MALLOC_TRIM_THRESHOLD_": None}):
                self._cluster = LocalCluster(n_workers=workers, threads_per_worker=int(threads_per_worker),
                                             processes=True, dashboard_address=None,
                                             silence_logs=logging.ERROR)  # no shutdown chatter on a loaded machine
            self.client = Client(self._cluster)

    @property
    def _max_workers(self) -> int:
        """Worker threads of the cluster now (sets the default number of jobs in flight; asked of the
        scheduler at most once a second, so a cluster that grows, e.g. under dask-jobqueue, gets more jobs)."""
        now = time.monotonic()
        if now - self._threads_checked > 1.0:
            self._threads = max(1, sum(self.client.nthreads().values()))
            self._threads_checked = now
        return self._threads

    def submit(self, fn, *args):
        return self.client.submit(fn, *args, pure=False)

    def share(self, obj):
        """Send ``obj`` to every worker once; returns a future to pass to :meth:`submit` in its place."""
        return self.client.scatter([obj], broadcast=True, hash=False)[0]

    def map(self, fn, iterable):
        return self.client.gather(self.client.map(fn, list(iterable), pure=False))

    def close(self):
        if self._own_client:
            self.client.close()
        if self._cluster is not None:
            self._cluster.close()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()
        return False


def get_executor(kind="serial", workers=None, *, threads_per_worker=1):
    """An executor by name.

    Parameters
    ----------
    kind : str
        ``"serial"``; ``"processes"`` (local process pool, one BLAS thread per worker); ``"dask"``
        (a local ``dask.distributed`` cluster of ``workers`` processes); ``"dask://ADDRESS"`` (the
        dask scheduler at ADDRESS, e.g. ``"dask://10.0.0.5:8786"``; ``workers`` is then ignored).
    workers : int, optional
        Local worker processes, default the number of CPUs.
    threads_per_worker : int
        Threads per local Dask worker (default 1).

    Use it as a context manager, so that pools and local clusters are shut down::

        with get_executor("dask", workers=2) as ex:
            integrate_mechanisms(..., executor=ex)

    Any object with a ``map`` method (or ``submit``) may be passed to the integrator instead.
    """
    if workers is not None and int(workers) < 1:
        raise ModelError(f"workers must be >= 1; got {workers}.")
    if kind == "serial":
        return SerialExecutor()
    if kind == "processes":
        return ProcessPoolExecutor(max_workers=workers or os.cpu_count(), initializer=_single_threaded_worker)
    if kind == "dask":
        return DaskExecutor(workers=workers, threads_per_worker=threads_per_worker)
    if isinstance(kind, str) and kind.startswith("dask://"):
        address = kind[len("dask://"):]
        if not address:
            raise ModelError("executor 'dask://' needs a scheduler address, e.g. 'dask://10.0.0.5:8786'.")
        return DaskExecutor(address=address)
    raise ModelError(f"unknown executor {kind!r}; choose 'serial', 'processes', 'dask' or 'dask://HOST:PORT', "
                     "or pass an object with .map().")


@contextmanager
def executor_scope(executor, workers=None):
    """``executor`` ready to use: a name (see :func:`get_executor`) is built here and shut down on exit;
    None gives :class:`SerialExecutor`; an object is used as it is and left open (it belongs to the caller)."""
    if executor is None:
        yield SerialExecutor()
    elif isinstance(executor, str):
        with get_executor(executor, workers) as ex:
            yield ex
    else:
        if not (hasattr(executor, "map") or hasattr(executor, "submit")):
            raise ModelError(f"executor must be a name ({', '.join(EXECUTOR_NAMES)}, 'dask://HOST:PORT') or an "
                             f"object with map() or submit(); got {type(executor).__name__}.")
        yield executor


class CachedCommon:
    """The inputs every job shares, pickled once, with a token that names them in worker processes.

    A process pool pickles a job's arguments for every job: this object pickles as its token and bytes
    (a copy, no new pickling of the objects), and :func:`_with_cached_common` unpickles the bytes once per
    worker process.
    """

    def __init__(self, common):
        self.token = f"{os.getpid()}-{id(self)}-{time.monotonic_ns()}"
        self.blob = pickle.dumps(common, protocol=pickle.HIGHEST_PROTOCOL)

    def __reduce__(self):
        return (_CachedBlob, (self.token, self.blob))


class _CachedBlob:
    """What a :class:`CachedCommon` becomes in a worker: the token and the bytes."""

    def __init__(self, token, blob):
        self.token, self.blob = token, blob


#: In a worker process: the token and unpickled objects of the last CachedCommon seen (one run at a time)
_WORKER_COMMON = {}


def _with_cached_common(fn, cached, job):
    """``fn(common, job)`` with ``common`` unpickled once per worker process and kept for the next jobs."""
    if isinstance(cached, CachedCommon):                                 # an executor that did not pickle
        cached = _CachedBlob(cached.token, cached.blob)
    if _WORKER_COMMON.get("token") != cached.token:
        _WORKER_COMMON.clear()
        _WORKER_COMMON.update(token=cached.token, common=pickle.loads(cached.blob))
    return fn(_WORKER_COMMON["common"], job)


def default_in_flight(executor) -> int:
    """Twice the executor's workers (``_max_workers`` of pools and :class:`DaskExecutor`), else twice the CPUs."""
    workers = getattr(executor, "_max_workers", None) or os.cpu_count() or 1
    return 2 * int(workers)


def bounded_map(executor, fn, iterable, max_in_flight=None, common=None):
    """``fn`` over ``iterable`` on ``executor``, results in order, at most ``max_in_flight`` jobs pending.

    With ``common`` given, each job runs ``fn(common, job)``: ``common`` holds the inputs every job
    shares, sent to each worker once where the executor has ``share`` (Dask); else pickled once here, its
    bytes sent with each job and unpickled once per worker process (:class:`CachedCommon`).

    A job is pending from its submission until its result has been taken from this generator.
    ``SerialExecutor`` runs lazily (one job at a time). Executors with ``submit`` (``concurrent.futures``
    pools, :class:`DaskExecutor`) get a sliding window: the oldest future is awaited while the
    others run, and one new job is submitted for each result handed out. Other objects with ``map``
    get batches of ``max_in_flight`` jobs. If the consumer stops early (an exception, an interrupt),
    the jobs not yet started are cancelled.

    Parameters
    ----------
    max_in_flight : int, optional
        Default :func:`default_in_flight` (twice the workers): enough to keep every worker busy;
        re-evaluated as results come in, so workers that join a Dask cluster during the run get jobs.
    """
    if isinstance(executor, SerialExecutor):
        yield from (fn(job) if common is None else fn(common, job) for job in iterable)
        return
    prefix = ()
    if common is not None and hasattr(executor, "share"):
        prefix = (executor.share(common),)
    elif common is not None:
        # Pickled once here; each job carries the bytes, and a worker unpickles them once
        # (_with_cached_common), so that what the shared objects cache in the worker (a model's Fourier
        # weights) serves every later job there.
        fn, prefix = partial(_with_cached_common, fn), (CachedCommon(common),)
    args = lambda job: prefix + (job,)                                 # noqa: E731
    n = max(1, int(max_in_flight or default_in_flight(executor)))
    jobs = iter(iterable)
    if not hasattr(executor, "submit"):
        task = partial(fn, *prefix)
        while batch := list(islice(jobs, n)):
            yield from executor.map(task, batch)
        return
    def room():                                   # re-read: a Dask cluster may grow (or shrink) during the run
        return n if max_in_flight else max(1, default_in_flight(executor))

    window = deque(executor.submit(fn, *args(job)) for job in islice(jobs, n))
    try:
        while window:
            result = window.popleft().result()
            for job in islice(jobs, max(room() - len(window), 1)):
                window.append(executor.submit(fn, *args(job)))
            yield result
    finally:
        for future in window:
            future.cancel()
