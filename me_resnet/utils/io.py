"""Atomic file writes: a reader sees the old file or the new one, never half of one."""

from __future__ import annotations

import json
import os
import tempfile
from pathlib import Path

import pandas as pd

TEMPORARY_SUFFIX = ".tmp"
"""Suffix of the temporary files; a killed write leaves one behind, which run dirs remove when opened."""


def current_umask() -> int:
    """The process's umask, read without changing it where Linux shows it (``/proc/self/status``)."""
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("Umask:"):
                return int(line.split()[1], 8)
    except (OSError, ValueError, IndexError):
        pass
    mask = os.umask(0o022)  # elsewhere: the only portable read is to set it and put it back
    os.umask(mask)
    return mask


def temporary_file(directory: Path, prefix: str, suffix: str = TEMPORARY_SUFFIX) -> tuple[int, str]:
    """``tempfile.mkstemp`` in ``directory`` with the mode an ordinary ``open`` would give (0666 less the umask).

    ``mkstemp`` makes 0600 files, private whatever the umask; a result renamed from one would keep that mode.
    """
    handle, temp = tempfile.mkstemp(dir=directory, prefix=prefix, suffix=suffix)
    try:
        os.fchmod(handle, 0o666 & ~current_umask())
    except BaseException:
        os.close(handle)
        Path(temp).unlink(missing_ok=True)
        raise
    return handle, temp


def write_atomic(path: Path, write) -> None:
    """Write via a temp file in the same directory, flush + fsync, then ``os.replace``.

    Any error (a full disk: ``OSError(ENOSPC)``) leaves the previous file as it was and removes the temp file.
    The file gets the mode ``open`` would give it under the process's umask.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    handle, temp = temporary_file(path.parent, prefix=f".{path.name}.")
    try:
        with os.fdopen(handle, "w", newline="") as stream:
            write(stream)
            stream.flush()
            os.fsync(stream.fileno())
        os.replace(temp, path)
    except BaseException:
        Path(temp).unlink(missing_ok=True)
        raise


def write_json_atomic(path: Path, document: dict) -> None:
    write_atomic(path, lambda stream: stream.write(json.dumps(document, indent=2, sort_keys=True, default=str) + "\n"))


def write_csv_atomic(path: Path, table: pd.DataFrame) -> None:
    write_atomic(path, lambda stream: table.to_csv(stream, index=False))
