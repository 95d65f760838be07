"""Executors: anything with ``map(fn, iterable)`` returning results in order.

``concurrent.futures`` executors satisfy this directly; a ``dask.distributed`` client needs a
two-line adapter whose ``map`` returns ``client.gather(client.map(fn, list(iterable)))``. The
integrator needs nothing else.
"""

from __future__ import annotations

import os
from concurrent.futures import ProcessPoolExecutor


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
