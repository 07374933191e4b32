"""Atomic file writes: a reader sees the old file or the new one, never half of one."""

from __future__ import annotations

import json
import os
import tempfile
from pathlib import Path

import pandas as pd

TEMPORARY_SUFFIX = ".tmp"
"""Suffix of the temporary files; a killed write leaves one behind, which run dirs remove when opened."""


def write_atomic(path: Path, write) -> None:
    """Write via a temp file in the same directory, flush + fsync, then ``os.replace``.

    Any error (a full disk: ``OSError(ENOSPC)``) leaves the previous file as it was and removes the temp file.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    handle, temp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=TEMPORARY_SUFFIX)
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
