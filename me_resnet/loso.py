"""Leave-one-subject-out runner: leak-checked, resumable, one file per fold (SPEC §6).

Folds come from ``sklearn.model_selection.LeaveOneGroupOut`` on
``Features.groups`` (``dataset/subject``: subject ids repeat across datasets).
A fold is a pure function of (features, fold index, config, run dir) → fold file
(``run_fold``), so an executor other than the plain loop here (e.g. Ray tasks)
can run folds in parallel: ``LosoRun`` lists a run's pending ``FoldJob``s and
``me_resnet.executors`` runs them (in this process, or as Ray tasks).

With a ``run_dir`` each finished fold is written atomically as
``fold_<i>_<group>.csv``; a rerun with the same config and features reads
finished folds back instead of training them again, recomputes a truncated or
corrupt one, and refuses a run dir made with a different config or features.
"""
from __future__ import annotations

import hashlib
import json
import logging
import os
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

from me_resnet.config import Config
from me_resnet.records import Features
from me_resnet.training import BuildFn, FoldResult, check_finite, train_fold, validation_split

log = logging.getLogger(__name__)


PREDICTION_COLUMNS: tuple[str, ...] = (
    "dataset", "subject", "clip", "y_true", "y_pred", "prob_negative", "prob_positive", "prob_surprise",
    "fold", "seed", "epochs_trained", "model", "early_stop_on", "optimistic",
)
_TEXT_COLUMNS = ("dataset", "subject", "clip", "model", "early_stop_on")  # "006" must stay "006"


class LeakageError(RuntimeError):
    """A test-subject clip reached training, validation, normalisation or alpha."""


def fold_plan(features: Features) -> list[tuple[str, np.ndarray, np.ndarray]]:
    """``[(group, train_index, test_index), ...]`` in ``LeaveOneGroupOut`` order."""
    from sklearn.model_selection import LeaveOneGroupOut

    groups = features.groups
    if len(np.unique(groups)) < 2:
        raise ValueError(f"LOSO needs at least 2 subjects, got {sorted(set(groups))}")
    plan = []
    for train_index, test_index in LeaveOneGroupOut().split(np.zeros(len(groups)), groups=groups):
        plan.append((str(groups[test_index[0]]), train_index, test_index))
    return plan


def select_folds(plan, folds) -> list[int]:
    """Fold indices named by ``folds`` (ints and/or group names); all folds if None."""
    if folds is None:
        return list(range(len(plan)))
    by_group = {group: i for i, (group, _, _) in enumerate(plan)}
    chosen = []
    for fold in folds:
        if isinstance(fold, (int, np.integer)) and not isinstance(fold, bool):
            if not 0 <= fold < len(plan):
                raise ValueError(f"fold index {fold} out of range: {len(plan)} folds")
            chosen.append(int(fold))
        elif fold in by_group:
            chosen.append(by_group[fold])
        else:
            raise ValueError(f"unknown fold {fold!r}: give an index < {len(plan)} or a group such as {next(iter(by_group))!r}")
    return sorted(set(chosen))


def split_fold(features: Features, train_index: np.ndarray, config: Config) -> tuple[np.ndarray, np.ndarray | None]:
    """Training rows → (fit rows, early-stopping rows) per ``config.early_stop_on``.

    ``val``: whole training subjects (``validation_split``); ``test``/``none``:
    all training rows are fitted (``test`` then monitors the held-out subject).
    """
    if config.early_stop_on != "val":
        return train_index, None
    fit, val = validation_split(features.groups[train_index], config.val_fraction, config.seed)
    return train_index[fit], train_index[val]


def check_no_leak(features: Features, group: str, fit_index, val_index, test_index, result: FoldResult | None = None,
                  monitor_test: bool = False) -> None:
    """Raise ``LeakageError`` if the test subject touches anything fitted (survives ``python -O``).

    ``monitor_test`` (``early_stop_on == "test"``, the optimistic protocol) allows
    the test subject as early-stopping data, and nothing else.
    """
    fit_set, test_set = set(fit_index.tolist()), set(test_index.tolist())
    val_set = set() if val_index is None else set(val_index.tolist())
    if fit_set & test_set or val_set & test_set or fit_set & val_set:
        raise LeakageError(f"fold {group}: training/validation/test row sets overlap")
    groups = features.groups
    for name, index in (("training", fit_index), ("validation", val_index)):
        if index is not None and np.any(groups[index] == group):
            raise LeakageError(f"fold {group}: test subject present in {name} data")
    if result is not None:
        prefix = group + "/"
        for name in ("fit_keys", "stats_keys", "alpha_keys") + (() if monitor_test else ("val_keys",)):
            if any(key.startswith(prefix) for key in getattr(result, name)):
                raise LeakageError(f"fold {group}: test subject present in {name}")


def _fold_table(features: Features, test_index, result: FoldResult, fold: int, model_name: str, config: Config) -> pd.DataFrame:
    probabilities = result.probabilities
    return pd.DataFrame({
        "dataset": features.datasets[test_index].astype(str),
        "subject": features.subjects[test_index].astype(str),
        "clip": features.clips[test_index].astype(str),
        "y_true": features.y[test_index].astype(int),
        "y_pred": np.argmax(probabilities, axis=1).astype(int),
        "prob_negative": probabilities[:, 0],
        "prob_positive": probabilities[:, 1],
        "prob_surprise": probabilities[:, 2],
        "fold": fold,
        "seed": config.seed,
        "epochs_trained": result.epochs_trained,
        "model": model_name,
        "early_stop_on": config.early_stop_on,
        "optimistic": config.early_stop_on == "test",
    }, columns=PREDICTION_COLUMNS)


def run_fold(
    features: Features, fold: int, config: Config, run_dir: str | Path | None = None, *,
    model_name: str | None = None, build_fn: BuildFn | None = None, verbose: int = 0, plan=None,
) -> tuple[pd.DataFrame, dict]:
    """Train and predict fold ``fold``; write ``fold_<i>_<group>.csv`` into ``run_dir`` if given.

    Returns ``(predictions, fold_info)``; with a run dir the predictions are the
    ones read back from the file, so resumed and fresh runs are identical.
    """
    plan = plan if plan is not None else fold_plan(features)
    group, train_index, test_index = plan[fold]
    model_name = model_name or config.model
    fit_index, val_index = split_fold(features, train_index, config)
    check_no_leak(features, group, fit_index, val_index, test_index)
    val = None
    if config.early_stop_on == "val":
        val = features.subset(val_index)
    elif config.early_stop_on == "test":
        val = features.subset(test_index)  # the optimistic protocol
    result = train_fold(features.subset(fit_index), val, features.subset(test_index), config,
                        build_fn=build_fn, model_name=model_name, verbose=verbose)
    check_no_leak(features, group, fit_index, val_index, test_index, result, monitor_test=config.early_stop_on == "test")
    table = _fold_table(features, test_index, result, fold, model_name, config)
    info = {
        "fold": fold, "group": group, "n_test": int(len(test_index)), "n_fit": int(len(fit_index)),
        "validation_subjects": sorted(set(features.groups[val_index])) if val_index is not None else [],
        "epochs_trained": result.epochs_trained, "best_epoch": result.best_epoch,
        "wall_seconds": round(result.wall_seconds, 3), "missing_train_classes": list(result.missing_train_classes),
        "resumed": False,
    }
    if run_dir is None:
        return table, info
    path = fold_file(run_dir, fold, group)
    write_json_atomic(path.with_suffix(".json"), info)  # before the csv: the csv marks the fold finished
    write_csv_atomic(path, table)
    return read_fold_file(path, features.clips[test_index]), info


def run_loso(
    features: Features, model_name: str, config: Config, run_dir: str | Path | None = None,
    folds=None, verbose: int = 0, build_fn: BuildFn | None = None, progress: bool = True, executor=None,
) -> pd.DataFrame:
    """LOSO predictions, one row per test clip (columns ``PREDICTION_COLUMNS``).

    ``folds`` restricts the run to some fold indices or group names. With
    ``run_dir`` finished folds are reused, and ``config.json``/``manifest.json``
    describe the run; without it nothing is written. ``executor`` runs the
    pending folds (``me_resnet.executors``: ``LocalExecutor``, the default plain
    loop, or ``RayExecutor``); the predictions do not depend on it.
    """
    from me_resnet.executors import run_all

    run = LosoRun(features, model_name, config, run_dir, folds=folds, verbose=verbose, build_fn=build_fn)
    return run_all([run], executor, progress=progress)[0]


@dataclass(frozen=True)
class FoldJob:
    """One pending fold of one LOSO run: what ``run_fold`` needs, the unit an executor runs."""

    features: Features
    fold: int
    config: Config
    run_dir: Path | None
    model_name: str
    build_fn: BuildFn | None = None
    verbose: int = 0
    plan: list | None = field(default=None, repr=False)

    @property
    def group(self) -> str:
        return (self.plan or fold_plan(self.features))[self.fold][0]

    def run(self) -> tuple[pd.DataFrame, dict]:
        return run_fold(self.features, self.fold, self.config, self.run_dir, model_name=self.model_name,
                        build_fn=self.build_fn, verbose=self.verbose, plan=self.plan)


class LosoRun:
    """One ``run_loso`` call in two halves, so that one executor can run the folds of many runs.

    Construction checks the input, plans the folds, claims (or checks) the run
    dir, reads finished folds back and lists the rest as ``jobs``; ``finish``
    takes their ``(predictions, info)`` in ``jobs`` order and, with a run dir,
    writes ``manifest.json``. Only the driver writes the manifest: fold workers
    write just their own fold file and its ``.json`` sidecar.
    """

    def __init__(self, features: Features, model_name: str, config: Config, run_dir: str | Path | None = None, *,
                 folds=None, verbose: int = 0, build_fn: BuildFn | None = None):
        from me_resnet.provenance import now_iso, provenance

        check_finite(features, "LOSO input")
        self.features, self.model_name, self.config = features, model_name, config
        self.run_dir = None if run_dir is None else Path(run_dir)
        self.plan = fold_plan(features)
        self.chosen = select_folds(self.plan, folds)
        self.started_iso, self.started = now_iso(), time.perf_counter()
        self.manifest = None
        if self.run_dir is not None:
            prepare_run_dir(self.run_dir, config, model_name, features)
            self.manifest = {"model": model_name, "config": config.to_dict(), "optimistic": config.early_stop_on == "test",
                             "provenance": provenance(), "start_time": self.started_iso, "folds": {}}
            write_json_atomic(self.run_dir / "manifest.json", self.manifest | {"status": "running"})
        self.finished: dict[int, tuple[pd.DataFrame, dict]] = {}
        for fold in self.chosen:
            if self.run_dir is not None:
                group, _, test_index = self.plan[fold]
                table, info = _resume(self.run_dir, fold, group, features.clips[test_index])
                if table is not None:
                    self.finished[fold] = (table, info)
        self.jobs = [FoldJob(features, fold, config, self.run_dir, model_name, build_fn, verbose, self.plan)
                     for fold in self.chosen if fold not in self.finished]

    def finish(self, outcomes) -> pd.DataFrame:
        """Predictions of every chosen fold in fold order; ``outcomes`` are the jobs' ``(table, info)``."""
        from me_resnet.provenance import now_iso

        outcomes = list(outcomes)
        if len(outcomes) != len(self.jobs):
            raise ValueError(f"{len(outcomes)} fold outcomes for {len(self.jobs)} pending folds of {self.run_dir}")
        done = dict(self.finished) | {job.fold: outcome for job, outcome in zip(self.jobs, outcomes)}
        predictions = pd.concat([done[fold][0] for fold in self.chosen], ignore_index=True)
        if self.manifest is not None:
            self.manifest["folds"] = {self.plan[fold][0]: done[fold][1] for fold in self.chosen}
            self.manifest |= {"status": "finished", "end_time": now_iso(),
                              "wall_seconds": round(time.perf_counter() - self.started, 3),
                              "n_folds": len(self.chosen), "n_predictions": len(predictions)}
            write_json_atomic(self.run_dir / "manifest.json", self.manifest)
        return predictions


def _resume(run_dir: Path, fold: int, group: str, expected_clips) -> tuple[pd.DataFrame | None, dict | None]:
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
        "shape": list(features.X.shape), "dtype": str(features.X.dtype), "channels": list(features.channels),
        "clips_hash": hashlib.blake2b(keys.encode(), digest_size=16).hexdigest(),
        "x_hash": x_hash, "y_hash": hashlib.blake2b(np.asarray(features.y, np.int64).tobytes(), digest_size=16).hexdigest(),
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
    identity = json.loads(json.dumps({"model": model_name, "config": config.to_dict(),
                                      "features": features_fingerprint(features)}))
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


def _write_atomic(path: Path, write) -> None:
    """Write via a temp file in the same directory, flush + fsync, then ``os.replace``."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    handle, temp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
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
    _write_atomic(path, lambda stream: stream.write(json.dumps(document, indent=2, sort_keys=True, default=str) + "\n"))


def write_csv_atomic(path: Path, table: pd.DataFrame) -> None:
    _write_atomic(path, lambda stream: table.to_csv(stream, index=False))


def fold_file(run_dir: str | Path, fold: int, group: str) -> Path:
    safe = "".join(ch if ch.isalnum() or ch in "-_." else "-" for ch in group)
    return Path(run_dir) / f"fold_{fold:03d}_{safe}.csv"


def read_fold_file(path: Path, expected_clips) -> pd.DataFrame:
    """Read a fold file back; ``ValueError`` if truncated or corrupt (columns, rows, clip ids, NaN)."""
    try:
        table = pd.read_csv(path, dtype={name: str for name in _TEXT_COLUMNS}, keep_default_na=False,
                            na_values={name: [""] for name in PREDICTION_COLUMNS if name not in _TEXT_COLUMNS})
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
    return table.astype({"y_true": int, "y_pred": int, "fold": int, "seed": int, "epochs_trained": int, "optimistic": bool})
