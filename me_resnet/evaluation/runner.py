"""Leave-one-subject-out runner: leak-checked, resumable, one file per fold (paper §3; docs/method.md).

Folds come from ``sklearn.model_selection.LeaveOneGroupOut`` on
``Features.groups`` (``dataset/subject``: subject ids repeat across datasets).
A fold is a pure function of (features, fold index, config, run dir) → fold file
(``run_fold``), so an executor other than the plain loop here (e.g. Ray tasks)
can run folds in parallel: ``LosoRun`` lists a run's pending ``FoldJob``s and
``me_resnet.parallel.executors`` runs them (in this process, or as Ray tasks).

With a ``run_dir`` each finished fold is written atomically as
``fold_<i>_<group>.csv``; a rerun with the same config and features reads
finished folds back instead of training them again, recomputes a truncated or
corrupt one, and refuses a run dir made with a different config or features.
The run dir is locked from ``LosoRun`` construction to ``finish``/``close``
(``run_dir.RunDirLock``: a second run on it waits), and ``manifest.json`` is
updated on every open, never reset: it lists the folds finished so far, the
number of attempts, the clips pre-processed by a fallback and what the loaders
repaired and dropped.
"""

from __future__ import annotations

import json
import logging
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Sequence

import numpy as np
import pandas as pd

from me_resnet.config import Config
from me_resnet.data.records import Features
from me_resnet.evaluation.folds import FoldSplit, check_no_leak, fold_indices, loso_splits, split_fold
from me_resnet.evaluation.run_dir import (
    PREDICTION_COLUMNS,
    RunDirLock,
    fold_file,
    prepare_run_dir,
    read_fold_file,
    remove_temporary_files,
    resume_fold,
)
from me_resnet.training.augment import augment_features, whole_dataset_augmentation
from me_resnet.training.fold import BuildFn, FoldResult, check_finite, train_fold
from me_resnet.training.model_source import ModelSource
from me_resnet.utils.io import write_csv_atomic, write_json_atomic
from me_resnet.utils.provenance import now_iso, provenance

log = logging.getLogger(__name__)


def fold_table(features: Features, split: FoldSplit, result: FoldResult, *, model_name: str, config: Config):
    """The predictions file of one fold: a row per test clip (``PREDICTION_COLUMNS``)."""
    test_index, probabilities = split.test_index, result.probabilities
    return pd.DataFrame(
        {
            "dataset": features.datasets[test_index].astype(str),
            "subject": features.subjects[test_index].astype(str),
            "clip": features.clips[test_index].astype(str),
            "y_true": features.y[test_index].astype(int),
            "y_pred": np.argmax(probabilities, axis=1).astype(int),
            "prob_negative": probabilities[:, 0],
            "prob_positive": probabilities[:, 1],
            "prob_surprise": probabilities[:, 2],
            "fold": split.fold,
            "seed": config.seed,
            "epochs_trained": result.epochs_trained,
            "model": model_name,
            "early_stop_on": config.early_stop_on,
            "optimistic": config.early_stop_on == "test" or whole_dataset_augmentation(config),
        },
        columns=PREDICTION_COLUMNS,
    )


def fold_info(features: Features, split: FoldSplit, result: FoldResult) -> dict:
    """What the ``.json`` beside a fold's predictions says: its rows, validation subjects, epochs, time."""
    return {
        "fold": split.fold,
        "group": split.group,
        "n_test": int(len(split.test_index)),
        "n_fit": int(len(split.fit_index)),
        "validation_subjects": sorted(set(features.groups[split.val_index])) if split.val_index is not None else [],
        "epochs_trained": result.epochs_trained,
        "best_epoch": result.best_epoch,
        "wall_seconds": round(result.wall_seconds, 3),
        "missing_train_classes": list(result.missing_train_classes),
        "resumed": False,
    }


def write_fold(run_dir: str | Path, table: pd.DataFrame, info: dict, clips) -> pd.DataFrame:
    """Write a fold's ``.json`` and then its predictions (the csv marks the fold finished); the table read back."""
    path = fold_file(run_dir, info["fold"], info["group"])
    write_json_atomic(path.with_suffix(".json"), info)
    write_csv_atomic(path, table)
    return read_fold_file(path, clips)


def run_fold(
    features: Features,
    fold: int,
    config: Config,
    run_dir: str | Path | None = None,
    *,
    model_name: str | None = None,
    build_fn: BuildFn | None = None,
    verbose: int = 0,
    splits=None,
    models: ModelSource | None = None,
) -> tuple[pd.DataFrame, dict]:
    """Train and predict fold ``fold``; write ``fold_<i>_<group>.csv`` into ``run_dir`` if given.

    Returns ``(predictions, fold_info)``; with a run dir the predictions are the
    ones read back from the file, so resumed and fresh runs are identical.
    ``splits``: ``loso_splits(features)`` when the caller has them; ``models``: where
    ``train_fold`` gets its compiled model (default: a fresh build).
    """
    splits = splits if splits is not None else loso_splits(features)
    split = split_fold(features, splits, fold, config)
    model_name = model_name or config.model
    check_no_leak(features, split)
    val = None
    if config.early_stop_on == "val":
        val = features.subset(split.val_index)
    elif config.early_stop_on == "test":
        val = features.subset(split.test_index)  # the optimistic protocol
    result = train_fold(
        features.subset(split.fit_index),
        val,
        features.subset(split.test_index),
        config,
        build_fn=build_fn,
        model_name=model_name,
        verbose=verbose,
        models=models,
    )
    check_no_leak(features, split, result, monitor_test=config.early_stop_on == "test")
    table = fold_table(features, split, result, model_name=model_name, config=config)
    info = fold_info(features, split, result) | {"engine": "per-fold"}
    if run_dir is None:
        return table, info
    return write_fold(run_dir, table, info, features.clips[split.test_index]), info


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
    splits: list | None = field(default=None, repr=False)

    @property
    def group(self) -> str:
        return (self.splits or loso_splits(self.features))[self.fold][0]

    def run(self, models: ModelSource | None = None) -> tuple[pd.DataFrame, dict]:
        """Train the fold (``models``: where its compiled model comes from; default a fresh build)."""
        return run_fold(
            self.features,
            self.fold,
            self.config,
            self.run_dir,
            model_name=self.model_name,
            build_fn=self.build_fn,
            verbose=self.verbose,
            splits=self.splits,
            models=models,
        )


class LosoRun:
    """One ``run_loso`` call in two halves, so that one executor can run the folds of many runs.

    Construction checks the input, splits the folds (``groups``: the folds that run,
    ``FoldPlan.groups``; None: all), locks and claims (or checks) the run dir, reads
    finished folds back and lists the rest as ``jobs``;
    ``finish`` takes their ``(predictions, info)`` in ``jobs`` order and, with a
    run dir, writes ``manifest.json`` and releases the lock (``close`` releases
    it without finishing, e.g. after a failed executor). Only the driver writes
    the manifest: fold workers write just their own fold file and its ``.json``
    sidecar.
    """

    def __init__(
        self,
        features: Features,
        model_name: str,
        config: Config,
        run_dir: str | Path | None = None,
        *,
        groups: Sequence[str] | None = None,
        verbose: int = 0,
        build_fn: BuildFn | None = None,
        lock_timeout: float | None = None,
    ):
        check_finite(features, "LOSO input")
        if whole_dataset_augmentation(config):  # Table 2's reading: test copies too (optimistic/leaky)
            features = augment_features(features)
        self.features, self.model_name, self.config = features, model_name, config
        self.run_dir = None if run_dir is None else Path(run_dir)
        self.splits = loso_splits(features)
        self.chosen = fold_indices(self.splits, groups)
        self.started_iso, self.started = now_iso(), time.perf_counter()
        self.manifest = None
        self.lock = None
        self.finished: dict[int, tuple[pd.DataFrame, dict]] = {}
        if self.run_dir is not None:
            self.lock = RunDirLock(self.run_dir).acquire(lock_timeout)
            try:
                self._open_run_dir()
            except BaseException:
                self.close()
                raise
        self.jobs = [
            FoldJob(features, fold, config, self.run_dir, model_name, build_fn, verbose, self.splits)
            for fold in self.chosen
            if fold not in self.finished
        ]

    def _open_run_dir(self) -> None:
        """Check the identity, clean up interrupted writes, read finished folds back, update the manifest."""
        prepare_run_dir(self.run_dir, self.config, self.model_name, self.features)
        remove_temporary_files(self.run_dir)
        on_disk = {}  # every finished fold of the run dir, also those outside this run's selection
        for fold, (group, _, test_index) in enumerate(self.splits):
            table, info = resume_fold(self.run_dir, fold, group, self.features.clips[test_index])
            if table is not None:
                on_disk[group] = info
                if fold in self.chosen:
                    self.finished[fold] = (table, info)
        previous = _read_manifest(self.run_dir / "manifest.json")
        self.manifest = {
            "model": self.model_name,
            "config": self.config.to_dict(),
            "optimistic": self.config.early_stop_on == "test" or whole_dataset_augmentation(self.config),
            "provenance": provenance(),
            "start_time": previous.get("start_time", self.started_iso),
            "last_start_time": self.started_iso,
            "attempts": int(previous.get("attempts", 0)) + 1,
            "fallbacks": {
                kind: {"count": len(keys), "clips": list(keys)} for kind, keys in self.features.fallbacks.items()
            },
            "loader": loader_notes(self.features),
            "folds": on_disk,
        }
        write_json_atomic(self.run_dir / "manifest.json", self.manifest | {"status": "running"})

    def close(self) -> None:
        """Release the run dir's lock (idempotent); ``finish`` calls it."""
        if self.lock is not None:
            self.lock.release()

    def finish(self, outcomes) -> pd.DataFrame:
        """Predictions of every chosen fold in fold order; ``outcomes`` are the jobs' ``(table, info)``."""

        outcomes = list(outcomes)
        if len(outcomes) != len(self.jobs):
            raise ValueError(f"{len(outcomes)} fold outcomes for {len(self.jobs)} pending folds of {self.run_dir}")
        done = dict(self.finished) | {job.fold: outcome for job, outcome in zip(self.jobs, outcomes)}
        predictions = pd.concat([done[fold][0] for fold in self.chosen], ignore_index=True)
        if self.manifest is not None:
            try:
                self.manifest["folds"] |= {self.splits[fold][0]: done[fold][1] for fold in self.chosen}
                self.manifest |= {
                    "status": "finished",
                    "end_time": now_iso(),
                    "wall_seconds": round(time.perf_counter() - self.started, 3),
                    "n_folds": len(self.chosen),
                    "n_predictions": len(predictions),
                }
                write_json_atomic(self.run_dir / "manifest.json", self.manifest)
            finally:
                self.close()
        return predictions


def loader_notes(features: Features) -> dict:
    """What the loaders repaired and dropped (``Features.info["loader"]``) in the datasets of ``features``."""
    datasets = set(features.datasets.tolist())
    return {name: notes for name, notes in features.info.get("loader", {}).items() if name in datasets}


def _read_manifest(path: Path) -> dict:
    """An earlier ``manifest.json`` of this run dir, or {} when there is none or it is unreadable."""
    try:
        manifest = json.loads(path.read_text())
    except FileNotFoundError:
        return {}
    except (OSError, ValueError) as error:
        log.warning("ignoring unreadable %s (%s); it is rewritten", path, error)
        return {}
    return manifest if isinstance(manifest, dict) else {}
