"""A LOSO run directory: its lock, its identity (``config.json``), fold files and their checks.

Each finished fold is written atomically as ``fold_<i>_<group>.csv`` (with a
``.json`` sidecar); a rerun with the same config, features, pretrained weights
(by content hash) and library stack reads finished folds back, recomputes a
truncated or corrupt one, and refuses (``RunDirMismatch``) a run dir made by a
different run. ``me_resnet.evaluation.identity`` names run dirs by all of these,
so a LOSO planned by ``experiment.plan_runs`` meets that refusal only in a
directory it did not name itself.

A run holds ``RunDirLock`` (a ``filelock`` lock on ``<run_dir>/.lock``) from
opening the directory to writing its manifest: a second run on the same
directory waits for the first to finish (logging who holds it), then reads
its folds back instead of training them again. Opening a directory removes
the temporary files that killed writes left behind.
"""

from __future__ import annotations

import functools
import hashlib
import json
import logging
import os
import socket
import weakref
from pathlib import Path

import filelock
import numpy as np
import pandas as pd

from me_resnet.config import Config
from me_resnet.data.records import Features
from me_resnet.utils.fingerprint import stack_versions
from me_resnet.utils.io import TEMPORARY_SUFFIX, write_json_atomic
from me_resnet.utils.provenance import now_iso

log = logging.getLogger(__name__)

PREDICTION_COLUMNS: tuple[str, ...] = (
    "dataset",
    "subject",
    "clip",
    "y_true",
    "y_pred",
    "prob_negative",
    "prob_positive",
    "prob_surprise",
    "fold",
    "seed",
    "epochs_trained",
    "model",
    "early_stop_on",
    "optimistic",
)
_TEXT_COLUMNS = ("dataset", "subject", "clip", "model", "early_stop_on")  # "006" must stay "006"


def resume_fold(run_dir: Path, fold: int, group: str, expected_clips) -> tuple[pd.DataFrame | None, dict | None]:
    """A finished fold's (predictions, info) from disk, or (None, None) if missing or corrupt."""
    path = fold_file(run_dir, fold, group)
    if not path.exists():
        return None, None
    try:
        table = read_fold_file(path, expected_clips)
    except ValueError as error:
        log.warning("recomputing fold %d (%s): %s", fold, group, error)
        return None, None
    try:
        info = json.loads(path.with_suffix(".json").read_text())
    except (OSError, ValueError):
        info = {"fold": fold, "group": group, "epochs_trained": int(table["epochs_trained"].iloc[0])}
    return table, dict(info, resumed=True)


# --- run directory: lock, identity, atomic files, fold files -------------------------------------

LOCK_NAME = ".lock"
OWNER_NAME = ".lock.owner.json"
_HELD: weakref.WeakValueDictionary = weakref.WeakValueDictionary()  # run dir -> its RunDirLock in this process


class RunDirLock:
    """Exclusive use of a run directory by one run (``filelock.FileLock`` on ``<run_dir>/.lock``).

    ``acquire`` waits while another process holds the directory, logging the
    holder (pid, host, start time from ``.lock.owner.json``) once; the OS drops
    the lock when its holder dies, so a killed run never leaves it stuck.
    Opening the same directory twice in one process is a ``RuntimeError``.
    """

    def __init__(self, run_dir: str | Path):
        self.run_dir = Path(run_dir)
        self._lock = filelock.FileLock(self.run_dir / LOCK_NAME, thread_local=False)

    def acquire(self, timeout: float | None = None) -> "RunDirLock":
        """Take the lock (``timeout`` seconds at most; None waits as long as needed)."""
        key = self.run_dir.resolve()
        holder = _HELD.get(key)
        if holder is not None and holder.is_locked:  # a second lock here would wait for ever
            raise RuntimeError(f"run dir {self.run_dir} is already open in this process; finish that run first")
        self.run_dir.mkdir(parents=True, exist_ok=True)
        try:
            self._lock.acquire(timeout=0)
        except filelock.Timeout:
            log.warning(
                "run dir %s is in use by another run (%s); waiting for it to finish", self.run_dir, self._owner()
            )
            try:
                self._lock.acquire(timeout=-1 if timeout is None else timeout)
            except filelock.Timeout:
                raise TimeoutError(
                    f"run dir {self.run_dir} is still in use by another run ({self._owner()}) after {timeout} s"
                ) from None
        _HELD[key] = self
        try:
            write_json_atomic(
                self.run_dir / OWNER_NAME, {"pid": os.getpid(), "host": socket.gethostname(), "since": now_iso()}
            )
        except BaseException:  # e.g. a full disk: never keep a lock that no run will release
            self.release()
            raise
        return self

    def release(self) -> None:
        if self._lock.is_locked:
            _HELD.pop(self.run_dir.resolve(), None)
            self._lock.release()

    @property
    def is_locked(self) -> bool:
        return self._lock.is_locked

    def _owner(self) -> str:
        try:
            owner = json.loads((self.run_dir / OWNER_NAME).read_text())
            return f"pid {owner['pid']} on {owner['host']} since {owner['since']}"
        except (OSError, ValueError, KeyError, TypeError):
            return "holder unknown"


def remove_temporary_files(run_dir: str | Path) -> list[Path]:
    """Delete the temporary files of interrupted atomic writes in ``run_dir``; call only while holding its lock."""
    removed = sorted(Path(run_dir).glob(f"*{TEMPORARY_SUFFIX}"))
    for path in removed:
        path.unlink(missing_ok=True)
    if removed:
        log.info("removed %d temporary file(s) of interrupted writes from %s", len(removed), run_dir)
    return removed


class RunDirMismatch(ValueError):
    """A run directory holds the folds of another run (another config, features, weights, model or stack)."""


def file_sha256(path: str | Path) -> str:
    """Hex sha256 of a file's bytes, read in 1 MiB blocks; a file unchanged since the last call is not read again."""
    path = Path(path).resolve()
    status = path.stat()
    return _file_sha256(path, status.st_size, status.st_mtime_ns, status.st_ino)


@functools.lru_cache(maxsize=64)
def _file_sha256(path: Path, size: int, mtime_ns: int, inode: int) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as stream:
        for block in iter(lambda: stream.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def pretrained_sha256(config: Config) -> str | None:
    """Content hash of ``config.pretrained`` (None without pretraining): weights are identified by content."""
    if not config.pretrained:
        return None
    path = Path(config.pretrained).expanduser()
    if not path.is_file():
        raise FileNotFoundError(f"pretrained weights {str(path)!r} (config.pretrained) do not exist")
    return file_sha256(path)


def features_fingerprint(features: Features) -> dict:
    """Shape, channels, clip ids and a hash of X and y: what makes two feature sets the same."""
    keys = "\n".join(f"{d}/{s}/{c}" for d, s, c in zip(features.datasets, features.subjects, features.clips))
    x_hash = hashlib.blake2b(np.ascontiguousarray(features.X).view(np.uint8), digest_size=16).hexdigest()
    return {
        "shape": list(features.X.shape),
        "dtype": str(features.X.dtype),
        "channels": list(features.channels),
        "clips_hash": hashlib.blake2b(keys.encode(), digest_size=16).hexdigest(),
        "x_hash": x_hash,
        "y_hash": hashlib.blake2b(np.asarray(features.y, np.int64).tobytes(), digest_size=16).hexdigest(),
    }


def _flatten(tree: dict, prefix: str = "") -> dict:
    flat = {}
    for key, value in tree.items():
        if isinstance(value, dict):
            flat.update(_flatten(value, f"{prefix}{key}."))
        else:
            flat[f"{prefix}{key}"] = value
    return flat


def prepare_run_dir(run_dir: Path, config: Config, model_name: str, features: Features) -> None:
    """Create ``run_dir/config.json`` or check that the existing one describes this very run.

    The identity is the model, the config, the features' fingerprint, the
    sha256 of the pretrained weights file and the library stack
    (``fingerprint.stack_versions``). Raises ``RunDirMismatch``, one line naming
    every differing key (``config.<field>``, ``features.<item>``, ``model``,
    ``pretrained_sha256``, ``stack.<library>``) and what to do, when the run dir
    belongs to another run.
    """
    identity = json.loads(
        json.dumps(
            {
                "model": model_name,
                "config": config.to_dict(),
                "features": features_fingerprint(features),
                "pretrained_sha256": pretrained_sha256(config),
                "stack": stack_versions(),
            }
        )
    )
    path = run_dir / "config.json"
    if path.exists():
        try:
            stored = json.loads(path.read_text())
        except ValueError as error:
            raise ValueError(f"{path} is not valid JSON ({error}); delete the run dir or choose another") from None
        old, new = _flatten(stored), _flatten(identity)
        differing = sorted(key for key in old.keys() | new.keys() if old.get(key) != new.get(key))
        if differing:
            details = ", ".join(f"{key}: {old.get(key)!r} -> {new.get(key)!r}" for key in differing[:8])
            raise RunDirMismatch(
                f"run dir {run_dir} holds the folds of a different run (differing keys {differing}: {details}); "
                "delete that directory to train afresh there, or use another run root"
            )
        return
    run_dir.mkdir(parents=True, exist_ok=True)
    write_json_atomic(path, identity)


def fold_file(run_dir: str | Path, fold: int, group: str) -> Path:
    safe = "".join(ch if ch.isalnum() or ch in "-_." else "-" for ch in group)
    return Path(run_dir) / f"fold_{fold:03d}_{safe}.csv"


def read_fold_file(path: Path, expected_clips) -> pd.DataFrame:
    """Read a fold file back; ``ValueError`` if truncated or corrupt (columns, rows, clip ids, NaN)."""
    try:
        table = pd.read_csv(
            path,
            dtype={name: str for name in _TEXT_COLUMNS},
            keep_default_na=False,
            na_values={name: [""] for name in PREDICTION_COLUMNS if name not in _TEXT_COLUMNS},
        )
    except (pd.errors.ParserError, pd.errors.EmptyDataError, UnicodeDecodeError) as error:
        raise ValueError(f"{path}: unreadable ({error})") from None
    if tuple(table.columns) != PREDICTION_COLUMNS:
        raise ValueError(f"{path}: columns {list(table.columns)} != {list(PREDICTION_COLUMNS)}")
    expected = [str(clip) for clip in expected_clips]
    if table["clip"].tolist() != expected:
        raise ValueError(f"{path}: {len(table)} rows / clips do not match the {len(expected)} expected test clips")
    numeric = table.drop(columns=list(_TEXT_COLUMNS))
    if numeric.isna().any().any():
        raise ValueError(f"{path}: missing values in {list(numeric.columns[numeric.isna().any()])}")
    return table.astype(
        {"y_true": int, "y_pred": int, "fold": int, "seed": int, "epochs_trained": int, "optimistic": bool}
    )
