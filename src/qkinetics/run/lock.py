"""One run per output directory: a lock file holding the owner's pid and host.

Two runs writing to one directory would overwrite each other's checkpoint and results. :func:`directory_lock`
creates ``<directory>/.qkinetics.lock`` exclusively (``O_CREAT | O_EXCL``, atomic on local file systems) for
the duration of a run. A lock left by a process that no longer exists on this host (a killed run) is stale:
it is taken over with a warning. A lock of a live process, or of another host (which cannot be checked from
here), is refused with a message naming its owner and how to proceed.
"""

from __future__ import annotations

import contextlib
import datetime
import json
import os
import socket
import warnings
from pathlib import Path

from .errors import ConfigError

#: file name of the lock inside the output directory
LOCK_NAME = ".qkinetics.lock"


def _alive(pid: int) -> bool:
    """Whether a process ``pid`` exists on this host."""
    if pid <= 0:
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:             # exists, owned by someone else
        return True
    except OverflowError:
        return False
    return True


def _owner(path: Path):
    """The lock's content as a dict, or None if it cannot be read (being written, or garbage)."""
    try:
        owner = json.loads(path.read_text())
    except (OSError, ValueError):
        return None
    return owner if isinstance(owner, dict) else None


@contextlib.contextmanager
def directory_lock(directory, config=None):
    """Hold the lock of an output ``directory`` inside the ``with`` block (see the module docstring).

    Raises
    ------
    ConfigError
        If another live run holds the directory.
    """
    path = Path(directory) / LOCK_NAME
    host = socket.gethostname()
    me = {"pid": os.getpid(), "host": host, "config": None if config is None else str(config),
          "started": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds")}
    for _ in range(3):
        try:
            fd = os.open(path, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o644)
        except FileExistsError:
            owner = _owner(path)
            pid = owner.get("pid") if owner else None
            same_host = owner is not None and owner.get("host") == host
            if same_host and isinstance(pid, int) and not _alive(pid):
                warnings.warn(f"output directory {directory}: removing the stale lock {path} of process {pid} "
                              "(no longer running, probably killed); its checkpoint is resumed.", stacklevel=3)
                with contextlib.suppress(FileNotFoundError):
                    path.unlink()
                continue
            who = (f"pid {pid} on {owner.get('host')}, started {owner.get('started')}"
                   + (f", config {owner['config']}" if owner.get("config") else "")) if owner else "unreadable lock"
            raise ConfigError(f"output directory {directory} is in use by another run ({who}). Wait for it, give "
                              "this config another [output] directory, or, if no run is active there (a machine "
                              f"crashed), delete the lock file {path}.") from None
        with os.fdopen(fd, "w") as fh:
            json.dump(me, fh)
        break
    else:
        raise ConfigError(f"output directory {directory}: could not take the lock {path} (another run keeps "
                          "taking it); retry.")
    try:
        yield path
    finally:
        if (_owner(path) or {}).get("pid") == me["pid"]:
            with contextlib.suppress(FileNotFoundError):
                path.unlink()
