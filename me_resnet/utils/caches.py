"""What the kit keeps under its cache root (``paths.cache_root()``), and removing it.

Four kinds of entries:

- ``features``: one ``.npz`` per clip and feature kind (``paths.feature_cache_dir()``);
- ``runs``: LOSO run directories (a folder holding ``config.json``) under ``paths.runs_dir()``;
- ``pretrained``: pretrained 2D models and their sidecars under ``<cache root>/pretrained``;
- ``demo``: the synthetic demo datasets (``paths.demo_data_dir()``).

Everything here can be recomputed; a run directory that another run holds
(``RunDirLock``) is never removed.
"""

from __future__ import annotations

import json
import shutil
import time
from dataclasses import dataclass
from pathlib import Path

import filelock

from me_resnet.utils import paths

KINDS = ("features", "runs", "pretrained", "demo")
RUN_LOCK_NAME = ".lock"  # evaluation.run_dir.LOCK_NAME (utils does not import evaluation)


@dataclass(frozen=True)
class CacheEntry:
    kind: str
    path: Path
    size: int  # bytes
    modified: float  # newest modification time of its files (epoch seconds)
    status: str = ""  # runs: the manifest's status


def kind_root(kind: str) -> Path:
    if kind == "features":
        return paths.feature_cache_dir()
    if kind == "runs":
        return paths.runs_dir()
    if kind == "pretrained":
        return paths.cache_root() / "pretrained"
    if kind == "demo":
        return paths.demo_data_dir()
    raise ValueError(f"unknown cache kind {kind!r}; choose from {list(KINDS)}")


def _size_and_time(path: Path) -> tuple[int, float]:
    files = [path] if path.is_file() else [p for p in path.rglob("*") if p.is_file()]
    stats = [p.stat() for p in files]
    return sum(s.st_size for s in stats), max((s.st_mtime for s in stats), default=path.stat().st_mtime)


def _run_status(run_dir: Path) -> str:
    try:
        return str(json.loads((run_dir / "manifest.json").read_text()).get("status", "?"))
    except (OSError, ValueError, AttributeError):
        return "no manifest"


def entries(kind: str) -> list[CacheEntry]:
    """The entries of ``kind``, sorted by path (none when its root does not exist)."""
    root = kind_root(kind)
    if not root.is_dir():
        return []
    if kind == "features":
        items = sorted(root.rglob("*.npz"))
    elif kind == "runs":
        items = sorted(config.parent for config in root.rglob("config.json"))
    elif kind == "pretrained":
        items = sorted(root.iterdir())
    else:
        items = [root]
    found = []
    for item in items:
        size, modified = _size_and_time(item)
        found.append(CacheEntry(kind, item, size, modified, _run_status(item) if kind == "runs" else ""))
    return found


def _remove(path: Path) -> None:
    if path.is_dir():
        shutil.rmtree(path)
    else:
        path.unlink(missing_ok=True)


def prune(kinds, older_than_days: float | None = None, dry_run: bool = False) -> tuple[list[CacheEntry], list[str]]:
    """Remove the entries of ``kinds`` (only those not modified for ``older_than_days`` if given).

    Returns ``(removed, skipped)``; a run dir is removed while holding its lock,
    and skipped (with the reason) when another run holds it. ``dry_run``
    removes nothing and returns what would be removed.
    """
    for kind in kinds:
        kind_root(kind)  # unknown kinds fail before anything is removed
    cutoff = None if older_than_days is None else time.time() - older_than_days * 86400
    removed, skipped = [], []
    for kind in kinds:
        for entry in entries(kind):
            if cutoff is not None and entry.modified > cutoff:
                continue
            if kind != "runs":
                if not dry_run:
                    _remove(entry.path)
                removed.append(entry)
                continue
            lock = filelock.FileLock(entry.path / RUN_LOCK_NAME, thread_local=False)
            try:
                lock.acquire(timeout=0)
            except filelock.Timeout:
                skipped.append(f"{entry.path}: in use by a running LOSO run")
                continue
            try:
                if not dry_run:
                    _remove(entry.path)
                removed.append(entry)
            finally:
                lock.release()
    return removed, skipped


def human_size(size: float) -> str:
    for unit in ("B", "KiB", "MiB", "GiB"):
        if size < 1024 or unit == "GiB":
            return f"{size:.0f} {unit}" if unit == "B" else f"{size:.1f} {unit}"
        size /= 1024
    raise AssertionError("unreachable")
