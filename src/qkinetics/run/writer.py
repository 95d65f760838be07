"""The one writer of every output file of a run: a unique temporary file next to the target, flushed to disk,
then renamed onto it.

A rename within one directory is atomic (POSIX ``rename``, Windows ``MoveFileEx`` via :func:`os.replace`), so a
reader, a kill or a full disk sees either the previous file whole or the new one whole, never a truncated
netCDF, a CSV with half its rows or a partial PNG. The temporary name is unique per call
(:func:`tempfile.mkstemp`), so two writers never share one, and it keeps the target's suffix (numpy, matplotlib
and xarray choose the format from it).
"""

from __future__ import annotations

import contextlib
import os
import tempfile
from pathlib import Path


@contextlib.contextmanager
def atomic_path(path):
    """Context manager yielding a temporary path to write ``path`` through.

    Write the complete file to the yielded path inside the ``with`` block; on normal exit it is synced and
    renamed onto ``path``, on an exception it is deleted and ``path`` is left as it was.

    Examples
    --------
    >>> with atomic_path(directory / "result.csv") as tmp:      # doctest: +SKIP
    ...     tmp.write_text(table)
    """
    path = Path(path)
    fd, name = tempfile.mkstemp(prefix=f".{path.stem}.", suffix=f".tmp{path.suffix}", dir=path.parent)
    os.close(fd)
    tmp = Path(name)
    try:
        yield tmp
        with open(tmp, "rb") as fh:            # the data reach the disk before the name points at them
            os.fsync(fh.fileno())
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(OSError):
            tmp.unlink()
        raise


def write_text(path, text: str) -> None:
    """Write ``text`` to ``path`` atomically."""
    with atomic_path(path) as tmp:
        tmp.write_text(text)


def save_figure(fig, path, **kwargs) -> None:
    """``fig.savefig(path, **kwargs)``, atomically."""
    with atomic_path(path) as tmp:
        fig.savefig(tmp, **kwargs)
