"""A LOSO run directory: its identity (``config.json``), fold files and their checks.

Each finished fold is written atomically as ``fold_<i>_<group>.csv`` (with a
``.json`` sidecar); a rerun with the same config and features reads finished
folds back, recomputes a truncated or corrupt one, and refuses a run dir made
with a different config or features.
"""

from __future__ import annotations

import hashlib
import json
import logging
from pathlib import Path

import numpy as np
import pandas as pd

from me_resnet.config import Config
from me_resnet.data.records import Features
from me_resnet.utils.io import write_json_atomic

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


# --- run directory: identity, atomic files, fold files -------------------------------------------


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

    Raises ``ValueError`` naming every differing key (``config.<field>``,
    ``features.<item>``, ``model``) when the run dir belongs to another run.
    """
    identity = json.loads(
        json.dumps({"model": model_name, "config": config.to_dict(), "features": features_fingerprint(features)})
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
            raise ValueError(f"run dir {run_dir} was made by a different run; differing keys {differing} ({details})")
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
