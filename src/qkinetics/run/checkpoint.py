"""Checkpoints of a run: ``checkpoint.npz`` with a ``key`` (the hash of the config and model input) and the
job's arrays, written through :func:`qkinetics.run.writer.atomic_path` and read back with damage detection.

A checkpoint that cannot be read whole (truncated, not a zip archive, pickled objects, missing arrays: a disk
fault, a copy cut short or a foreign file) is never trusted and never blocks a run: it is renamed to
``checkpoint.damaged-<time>.npz`` (kept for inspection), a warning says so, and the job starts afresh.
"""

from __future__ import annotations

import datetime
import warnings
import zipfile
from pathlib import Path

import numpy as np

from .writer import atomic_path


def write_checkpoint(path, key: str, arrays: dict) -> None:
    """Save ``arrays`` (name -> array) and ``key`` to ``path`` atomically."""
    with atomic_path(path) as tmp:
        np.savez(tmp, key=np.array(key), **arrays)


def read_checkpoint(path, key: str, required=()):
    """The arrays of the checkpoint at ``path`` as a dict, or None.

    None if there is no checkpoint, if it belongs to another key (another config: the job starts afresh and
    overwrites it), or if it is damaged or lacks one of the ``required`` arrays (it is then moved aside with a
    warning)."""
    path = Path(path)
    if not path.exists():
        return None
    try:
        with np.load(path, allow_pickle=False) as f:
            arrays = {name: f[name] for name in f.files}      # reads every member: a truncated one fails here
    except (OSError, ValueError, EOFError, KeyError, zipfile.BadZipFile, zipfile.LargeZipFile) as err:
        _move_aside(path, _reason(err))
        return None
    if "key" not in arrays or arrays["key"].shape != () or arrays["key"].dtype.kind != "U":
        _move_aside(path, "it has no key identifying its config")
        return None
    if str(arrays["key"]) != key:
        return None                        # another config's: the job starts afresh and replaces it
    missing = [name for name in required if name not in arrays]
    if missing:
        _move_aside(path, f"arrays {missing} are missing")
        return None
    return arrays


def _reason(err) -> str:
    if isinstance(err, ValueError) and "pickle" in str(err):
        return "it holds pickled Python objects, which a checkpoint never does (they are not loaded)"
    if isinstance(err, (zipfile.BadZipFile, EOFError)):
        return f"not a complete npz archive ({type(err).__name__}: {err})"
    return f"{type(err).__name__}: {err}"


def _move_aside(path: Path, reason: str) -> None:
    stamp = datetime.datetime.now().strftime("%Y%m%dT%H%M%S%f")
    aside = path.with_name(f"{path.stem}.damaged-{stamp}{path.suffix}")
    try:
        path.replace(aside)
        where = f"moved to {aside.name}"
    except OSError:
        path.unlink(missing_ok=True)
        where = "deleted (it could not be renamed)"
    warnings.warn(f"checkpoint {path} is damaged ({reason}); {where}; recomputing from the start.", stacklevel=3)
