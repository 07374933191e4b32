"""The fold-parallel engine's data and state: training rows and masks, per-fold early stopping, the
per-epoch history, and what a checkpoint must match.

``prepare_fold_data`` builds the training rows of all folds (augmented copies
when ``config.augment``), each fold's membership mask, the rows it must never
see (``forbidden``: its test subject and monitored clips, derived from the fold
plan alone) and its own standardisation statistics and focal alpha. The compiled steps that
train on them are in ``me_resnet.parallel.engine_steps``.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from me_resnet.config import Config
from me_resnet.data.records import CLASS_NAMES, Features
from me_resnet.evaluation.folds import LeakageError
from me_resnet.training.augment import augment_4x, source_index
from me_resnet.training.fold import channel_stats, fold_alpha

NUM_CLASSES = len(CLASS_NAMES)


@dataclass(frozen=True)
class FoldSpec:
    """One fold: its test group and row indices into the run's ``Features``.

    ``monitor_index``: the early-stopping rows (validation subjects, or the test
    rows when ``early_stop_on == "test"``); None when ``early_stop_on == "none"``.
    """

    group: str
    fit_index: np.ndarray
    monitor_index: np.ndarray | None
    test_index: np.ndarray


@dataclass
class FoldData:
    """The arrays the engine trains from, and the membership matrices the leakage checks read.

    ``rows`` are the training rows (augmented copies when ``config.augment``):
    ``X`` (R, ...), ``y`` (R,), ``source`` (R,) = index of the clip in the run's
    features. ``member`` (R, F): row r is in fold f's training set.
    ``forbidden`` (R, F): row r comes from fold f's test subject or from a clip
    it monitors; computed from the fold plan alone, independently of ``member``.
    """

    X: np.ndarray
    y: np.ndarray
    source: np.ndarray
    member: np.ndarray
    forbidden: np.ndarray
    mean: np.ndarray  # (F, C)
    std: np.ndarray  # (F, C)
    alpha: np.ndarray | None  # (F, K)


def prepare_fold_data(features: Features, specs: list[FoldSpec], config: Config) -> FoldData:
    """Training rows of all folds, per-fold statistics from each fold's own training rows."""
    n = len(features)
    candidates = np.unique(np.concatenate([spec.fit_index for spec in specs]))
    X = np.asarray(features.X[candidates], np.float32)
    y = np.asarray(features.y[candidates], int)
    source = candidates
    if config.augment:
        X, y = augment_4x(X, y, features.channels)
        source = candidates[source_index(len(candidates))]
    member = np.zeros((len(X), len(specs)), bool)
    forbidden = np.zeros((len(X), len(specs)), bool)
    mean, std, alphas = [], [], []
    for f, spec in enumerate(specs):
        in_fit = np.zeros(n, bool)
        in_fit[spec.fit_index] = True
        member[:, f] = in_fit[source]
        off_limits = features.groups == spec.group
        if spec.monitor_index is not None:
            off_limits[spec.monitor_index] = True
        forbidden[:, f] = off_limits[source]
        check_fold(f, spec, member[:, f], forbidden[:, f])
        fold_mean, fold_std = channel_stats(X[member[:, f]])  # the fold's own (augmented) training rows
        mean.append(fold_mean)
        std.append(fold_std)
        alphas.append(fold_alpha(features.y[spec.fit_index], config))
    alpha = None if alphas[0] is None else np.stack(alphas).astype(np.float32)
    return FoldData(X, y, source, member, forbidden, np.stack(mean), np.stack(std), alpha)


def check_fold(f: int, spec: FoldSpec, member: np.ndarray, forbidden: np.ndarray) -> None:
    """``LeakageError`` if fold ``f``'s training rows include its test subject or monitor clips."""
    if np.any(member & forbidden):
        raise LeakageError(f"fold {spec.group}: {int(np.sum(member & forbidden))} test/monitor row(s) in training")
    if not np.any(member):
        raise ValueError(f"fold {spec.group}: no training rows")


def epoch_batches(rng: np.random.Generator, rows: int, batch_size: int) -> list[np.ndarray]:
    """One epoch's shared batches: a permutation of ``range(rows)`` cut into ``batch_size`` (sorted inside)."""
    order = rng.permutation(rows)
    return [np.sort(order[start : start + batch_size]) for start in range(0, rows, batch_size)]


def pad_rows(indices: list[np.ndarray]) -> tuple[np.ndarray, np.ndarray]:
    width = max(1, max(len(index) for index in indices))
    rows = np.zeros((len(indices), width), int)
    valid = np.zeros((len(indices), width), bool)
    for f, index in enumerate(indices):
        rows[f, : len(index)] = index
        valid[f, : len(index)] = True
    return rows, valid


class EvalSet:
    """Per-fold clips (e.g. each fold's test subject), standardised with that fold's statistics."""

    def __init__(self, features: Features, indices: list[np.ndarray], data: FoldData):
        self.rows, self.valid = pad_rows(indices)  # (F, Q)
        X = np.asarray(features.X[self.rows], np.float32)  # (F, Q, ...)
        shape = (len(indices), 1) + (1,) * (X.ndim - 3) + (X.shape[-1],)
        X = (X - data.mean.reshape(shape)) / data.std.reshape(shape)
        self.X = np.ascontiguousarray(np.moveaxis(X, 0, -2))  # (Q, ..., F, C)
        targets = np.eye(NUM_CLASSES, dtype=np.float32)[np.asarray(features.y, int)[self.rows]]  # (F, Q, K)
        self.targets = np.ascontiguousarray(np.swapaxes(targets, 0, 1))  # (Q, F, K)
        self.mask = np.ascontiguousarray(self.valid.T.astype(np.float32))  # (Q, F)


class FoldEarlyStopping:
    """``keras.callbacks.EarlyStopping(monitor="val_loss", patience, restore_best_weights=True)``, per fold."""

    def __init__(self, folds: int, patience: int):
        self.patience = patience
        self.best = np.full(folds, np.inf)
        self.wait = np.zeros(folds, int)
        self.best_epoch = np.full(folds, -1)
        self.stopped_epoch = np.zeros(folds, int)

    def update(self, epoch: int, losses: np.ndarray, active: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """(snapshot, stop): folds whose weights become the best ones, folds that stop after this epoch."""
        first = active & (self.best_epoch < 0)
        self.best_epoch[first] = epoch
        self.wait[active] += 1
        improved = active & (losses < self.best)
        self.best[improved] = losses[improved]
        self.best_epoch[improved] = epoch
        self.wait[improved] = 0
        stop = active & ~improved & (self.wait >= self.patience) & (epoch > 0)
        self.stopped_epoch[stop] = epoch
        return first | improved, stop

    def state(self) -> dict:
        return {
            "best": self.best,
            "wait": self.wait,
            "best_epoch": self.best_epoch,
            "stopped_epoch": self.stopped_epoch,
        }

    def load(self, state: dict) -> None:
        for name in ("best", "wait", "best_epoch", "stopped_epoch"):
            setattr(self, name, np.array(state[name]))


@dataclass
class EngineHistory:
    """Per-epoch records of a ``train_folds`` call, (epochs, F) each; ``kept``: the kept test probabilities."""

    train_loss: list = field(default_factory=list)
    monitor_loss: list = field(default_factory=list)
    test_loss: list = field(default_factory=list)
    kept: list = field(default_factory=list)  # (F, Q, K) per kept epoch
    kept_epochs: list = field(default_factory=list)

    def load(self, arrays) -> None:
        self.train_loss.extend(arrays["train_loss"])
        self.monitor_loss.extend(arrays["monitor_loss"])
        self.test_loss.extend(arrays["test_loss"])
        self.kept.extend(arrays["kept"])
        self.kept_epochs.extend(int(e) for e in arrays["kept_epochs"])

    def arrays(self, folds: int, test_rows: tuple) -> dict:
        return {
            "train_loss": np.array(self.train_loss),
            "monitor_loss": np.array(self.monitor_loss).reshape(len(self.monitor_loss), folds),
            "test_loss": np.array(self.test_loss),
            "kept": np.array(self.kept).reshape((len(self.kept), folds) + test_rows + (NUM_CLASSES,)),
            "kept_epochs": np.array(self.kept_epochs, int),
        }


def checkpoint_identity(specs: list[FoldSpec], config: Config, data: FoldData) -> str:
    """What a checkpoint must match to be resumed: config, fold plan, training rows."""
    import hashlib

    digest = hashlib.blake2b(digest_size=16)
    for array in (data.X, data.member, data.mean, data.std):
        digest.update(np.ascontiguousarray(array).tobytes())
    for spec in specs:
        digest.update(spec.group.encode())
        for index in (spec.fit_index, spec.monitor_index, spec.test_index):
            digest.update(b"-" if index is None else np.asarray(index, np.int64).tobytes())
    return json.dumps({"config": config.to_dict(), "data": digest.hexdigest()}, sort_keys=True, default=str)


def save_npz_atomic(path: Path, arrays: dict) -> None:
    """``np.savez`` via a temporary file and ``os.replace``: a reader sees the old file or the new one."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    temporary = path.with_name(f".{path.name}.tmp")  # run dirs remove *.tmp left by a killed write
    with open(temporary, "wb") as stream:
        np.savez(stream, **arrays)
        stream.flush()
        os.fsync(stream.fileno())
    os.replace(temporary, path)
