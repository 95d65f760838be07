"""Executors: anything with ``map(fn, iterable)`` returning results in order.

``concurrent.futures`` executors satisfy this directly; a ``dask.distributed`` client needs a
two-line adapter whose ``map`` returns ``client.gather(client.map(fn, list(iterable)))``. The
integrator needs nothing else.

Memory stays bounded whatever the grid: the integrator never hands an executor the whole grid
at once. :func:`bounded_map` keeps at most ``max_in_flight`` jobs submitted and not yet consumed
(a sliding window of futures for executors with ``submit``, such as ``concurrent.futures`` pools;
successive batches of ``max_in_flight`` jobs for objects with only ``map``). Plain
``Executor.map`` would submit every chunk of the grid immediately, holding all their inputs and
results in memory.
"""

from __future__ import annotations

import os
from collections import deque
from concurrent.futures import ProcessPoolExecutor
from itertools import islice


class SerialExecutor:
    """Run jobs one after another in this process."""

    def map(self, fn, iterable):
        return map(fn, iterable)

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        return False


def get_executor(kind="serial", workers=None):
    """An executor by name: ``"serial"`` or ``"processes"`` (local process pool).

    ``workers`` defaults to the number of CPUs. Any object with a ``map`` method may be passed to
    the integrator instead (e.g. a ``dask.distributed`` client wrapper).
    """
    if kind == "serial":
        return SerialExecutor()
    if kind == "processes":
        return ProcessPoolExecutor(max_workers=workers or os.cpu_count())
    raise ValueError(f"unknown executor {kind!r}; choose 'serial' or 'processes', or pass an object with .map().")


def default_in_flight(executor) -> int:
    """Twice the executor's workers (``_max_workers`` of ``concurrent.futures`` pools), else twice the CPUs."""
    workers = getattr(executor, "_max_workers", None) or os.cpu_count() or 1
    return 2 * int(workers)


def bounded_map(executor, fn, iterable, max_in_flight=None):
    """``fn`` over ``iterable`` on ``executor``, results in order, at most ``max_in_flight`` jobs pending.

    A job is pending from its submission until its result has been taken from this generator.
    ``SerialExecutor`` runs lazily (one job at a time). Executors with ``submit`` (``concurrent.futures``
    pools, ``dask.distributed.Client``) get a sliding window: the oldest future is awaited while the
    others run, and one new job is submitted for each result handed out. Other objects with ``map``
    get batches of ``max_in_flight`` jobs. If the consumer stops early (an exception, an interrupt),
    the jobs not yet started are cancelled.

    Parameters
    ----------
    max_in_flight : int, optional
        Default :func:`default_in_flight` (twice the workers): enough to keep every worker busy.
    """
    if isinstance(executor, SerialExecutor):
        yield from map(fn, iterable)
        return
    n = max(1, int(max_in_flight or default_in_flight(executor)))
    jobs = iter(iterable)
    if not hasattr(executor, "submit"):
        while batch := list(islice(jobs, n)):
            yield from executor.map(fn, batch)
        return
    window = deque(executor.submit(fn, job) for job in islice(jobs, n))
    try:
        while window:
            result = window.popleft().result()
            for job in islice(jobs, 1):
                window.append(executor.submit(fn, job))
            yield result
    finally:
        for future in window:
            future.cancel()
