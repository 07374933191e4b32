"""A result folder written as one unit: every file of a result is staged, then moved in together.

``result_folder(out)`` yields a staging folder inside ``out``
(``.me_resnet_staging-<host>-<pid>-<random>``); the caller writes every file of
the result there (predictions, metrics, the markdown table, the plot). Leaving
the block commits:

1. the result's file list (``.me_resnet_result.json``) is staged beside its files
   (each staged file is already fsynced by ``me_resnet.utils.io``);
2. the commit record ``.commit`` (what to move in, what to remove) is written
   atomically into the staging folder: from here on the new result wins;
3. each staged file is moved into ``out`` (``os.replace``, no new data on disk),
   and the files that the previous result listed and the new one does not write
   are removed;
4. the staging folder is removed.

An error before step 2 (a full disk: ``OSError(ENOSPC)``) removes the staging
folder and leaves ``out`` as it was. A process killed during step 3 leaves the
commit record; the next ``result_folder`` or ``recover`` on ``out`` finishes the
move, so ``out`` is again wholly the new result. A staging folder without a
commit record whose process is gone is deleted. Files of ``out`` that no result
listed (the user's own files, the ``partial-*`` result folders inside it) are
never touched; a result written before file lists existed replaces only the
files of the same name.
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
import shutil
import socket
import tempfile
from pathlib import Path

from me_resnet.utils.io import write_json_atomic

log = logging.getLogger(__name__)

STAGING_PREFIX = ".me_resnet_staging-"
FILE_LIST = ".me_resnet_result.json"
COMMIT = ".commit"
_ACTIVE: set[Path] = set()  # staging folders this process is writing


@contextlib.contextmanager
def result_folder(out: str | os.PathLike):
    """Yield a staging folder; on leaving the block move its files into ``out`` as one result (module doc)."""
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    recover(out)
    prefix = f"{STAGING_PREFIX}{socket.gethostname()}-{os.getpid()}-"
    stage = Path(tempfile.mkdtemp(dir=out, prefix=prefix)).resolve()
    _ACTIVE.add(stage)
    try:
        yield stage
        _commit(out, stage)
    except BaseException:
        if not (stage / COMMIT).exists():  # not committed: the previous result stays whole
            shutil.rmtree(stage, ignore_errors=True)
        raise
    finally:
        _ACTIVE.discard(stage)


def is_staging(folder: str | os.PathLike) -> bool:
    """Whether ``folder`` is a staging folder this process is writing a result into."""
    return Path(folder).resolve() in _ACTIVE


def final_paths(paths: dict[str, Path], out: str | os.PathLike) -> dict[str, Path]:
    """Where the files ``paths`` staged for ``out`` are once committed."""
    return {kind: Path(out) / Path(path).name for kind, path in paths.items()}


def listed_files(out: str | os.PathLike) -> set[str]:
    """Names of the files the result in ``out`` consists of (empty: none, or written before file lists)."""
    try:
        names = json.loads((Path(out) / FILE_LIST).read_text())["files"]
    except (OSError, ValueError, KeyError, TypeError):
        return set()
    return {name for name in names if _plain_name(name)}


def recover(out: str | os.PathLike) -> None:
    """Finish a commit that a killed process left half done in ``out``; delete abandoned staging folders."""
    out = Path(out)
    if not out.is_dir():
        return
    for stage in sorted(out.glob(f"{STAGING_PREFIX}*")):
        if stage.resolve() in _ACTIVE or not stage.is_dir():
            continue
        try:
            record = json.loads((stage / COMMIT).read_text())
        except (OSError, ValueError):
            record = None
        if isinstance(record, dict):
            log.warning("finishing the interrupted write of a result into %s", out)
            _finish(out, stage, record)
        elif not _owner_alive(stage):
            shutil.rmtree(stage, ignore_errors=True)


def _commit(out: Path, stage: Path) -> None:
    entries = sorted(stage.iterdir())
    folders = [entry.name for entry in entries if not entry.is_file()]
    if folders:
        raise ValueError(f"a result folder holds files only; {stage} has folders {folders}")
    names = [entry.name for entry in entries]
    write_json_atomic(stage / FILE_LIST, {"files": names})
    record = {"files": [*names, FILE_LIST], "remove": sorted(listed_files(out) - set(names))}
    write_json_atomic(stage / COMMIT, record)
    _finish(out, stage, record)


def _finish(out: Path, stage: Path, record: dict) -> None:
    """Move the committed files in and remove the previous result's leftovers; repeatable after a kill."""
    for name in filter(_plain_name, record.get("files", [])):
        if (stage / name).is_file():
            os.replace(stage / name, out / name)
    for name in filter(_plain_name, record.get("remove", [])):
        (out / name).unlink(missing_ok=True)
    (stage / COMMIT).unlink(missing_ok=True)
    shutil.rmtree(stage, ignore_errors=True)
    _fsync_folder(out)


def _plain_name(name) -> bool:
    """A file name inside the folder: no path, nothing hidden but the file list."""
    return isinstance(name, str) and name == Path(name).name and (not name.startswith(".") or name == FILE_LIST)


def _owner_alive(stage: Path) -> bool:
    """Whether the process named in a staging folder's name may still be writing it."""
    host, _, rest = stage.name[len(STAGING_PREFIX) :].rpartition("-")[0].rpartition("-")
    try:
        pid = int(rest)
    except ValueError:
        return False
    if host != socket.gethostname():
        return True  # another machine's process: not ours to judge
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return pid != os.getpid()


def _fsync_folder(folder: Path) -> None:
    """Make the renames durable; some file systems cannot fsync a folder, and the result is in place anyway."""
    try:
        descriptor = os.open(folder, os.O_RDONLY)
        try:
            os.fsync(descriptor)
        finally:
            os.close(descriptor)
    except OSError as error:
        log.warning("could not fsync %s (%s); its files are written", folder, error)
