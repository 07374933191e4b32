"""Training input pipeline: whole-batch slicing of contiguous arrays.

A standardised float32 copy of the 4x augmented training set would be large at
the paper profile (CASME II: ~556 x (10,112,112,3) float32 = 836 MB, plus
TensorFlow's own copy of it). ``StandardisedBatches`` instead keeps
the augmented clips in the caller's dtype (float16 halves them again) and
standardises one batch at a time: one fancy-index gather, one subtract, one
divide per batch, no Python work per sample. It is a ``keras.utils.PyDataset``,
so it stays backend-neutral (no ``tf.data`` in the package); under TensorFlow
Keras wraps it in ``tf.data.Dataset.from_generator(...).prefetch(AUTOTUNE)``, so
the next batch is built while the current step runs.

``InputWaitTimer`` measures how long the pipeline costs relative to training:
the time spent building batches and the gaps between consecutive train steps.
"""

from __future__ import annotations

import time

import keras
import numpy as np

from me_resnet.config import field_choices


def standardise(X: np.ndarray, mean: np.ndarray, std: np.ndarray) -> np.ndarray:
    """``(X - mean) / std`` per channel, in float32 (any input dtype)."""
    return ((X.astype(np.float32, copy=False) - mean) / std).astype(np.float32, copy=False)


def as_feature_dtype(X: np.ndarray, dtype: str) -> np.ndarray:
    """``X`` in the storage dtype ``dtype`` (``float32`` or ``float16``), no copy when it already is."""
    if dtype not in field_choices("feature_dtype"):
        raise ValueError(f"feature dtype must be one of {field_choices('feature_dtype')}, got {dtype!r}")
    X = np.asarray(X)
    if dtype == "float16":
        limit = float(np.finfo(np.float16).max)
        peak = float(np.max(np.abs(X))) if X.size else 0.0
        if peak > limit:
            raise ValueError(f"features reach |x| = {peak:g}, beyond float16's {limit:g}: use feature_dtype='float32'")
    return X.astype(dtype, copy=False)


class StandardisedBatches(keras.utils.PyDataset):
    """Batches ``((X[i] - mean) / std, one_hot(y[i]))`` of contiguous arrays, shuffled per epoch.

    Args:
        X: (n, ...) clips, channels last, any float dtype (float16 to save memory).
        y: (n,) integer labels.
        mean, std: per-channel statistics (``training.channel_stats``).
        batch_size: clips per batch; the last batch may be smaller.
        num_classes: width of the one-hot targets.
        shuffle: reshuffle the order at the start of every epoch.
        seed: seed of the shuffling generator (reproducible folds).

    ``load_seconds`` accumulates the time spent building batches.
    """

    def __init__(self, X, y, mean, std, *, batch_size: int, num_classes: int, shuffle: bool = True, seed: int = 0):
        super().__init__(workers=1, use_multiprocessing=False)
        if len(X) != len(y) or len(X) == 0:
            raise ValueError(
                f"StandardisedBatches needs as many labels as clips (> 0), got {len(X)} clips, {len(y)} labels"
            )
        if int(batch_size) < 1:
            raise ValueError(f"batch_size must be >= 1, got {batch_size!r}")
        self.X = X
        self.targets = np.eye(int(num_classes), dtype=np.float32)[np.asarray(y, int)]
        self.mean = np.asarray(mean, np.float32)
        self.std = np.asarray(std, np.float32)
        self.batch_size = int(batch_size)
        self.shuffle = bool(shuffle)
        self.rng = np.random.default_rng(seed)
        self.order = self.rng.permutation(len(X)) if self.shuffle else np.arange(len(X))
        self.load_seconds = 0.0

    def __len__(self) -> int:
        return -(-len(self.X) // self.batch_size)

    def __getitem__(self, index: int):
        if not 0 <= index < len(self):
            raise IndexError(f"batch {index} out of range 0..{len(self) - 1}")
        started = time.perf_counter()
        rows = np.sort(self.order[index * self.batch_size : (index + 1) * self.batch_size])  # sorted: faster gather
        batch = standardise(self.X[rows], self.mean, self.std), self.targets[rows]
        self.load_seconds += time.perf_counter() - started
        return batch

    def on_epoch_end(self):
        if self.shuffle:
            self.order = self.rng.permutation(len(self.X))


class InputWaitTimer(keras.callbacks.Callback):
    """Wall time of train steps and of the gaps between them (``on_train_batch_begin/end``).

    Under TensorFlow the iterator's ``next()`` runs inside the train step, so a
    batch that is not ready shows up in ``step_seconds``; ``gap_seconds`` holds
    the host time between steps (callbacks, Python). Use with the pipeline's
    ``load_seconds`` (work done while building batches, overlapped by prefetch).
    """

    def __init__(self):
        super().__init__()
        self.step_seconds: list[float] = []
        self.gap_seconds: list[float] = []
        self._begin = None
        self._end = None

    def on_train_batch_begin(self, batch, logs=None):
        self._begin = time.perf_counter()
        if self._end is not None:
            self.gap_seconds.append(self._begin - self._end)

    def on_train_batch_end(self, batch, logs=None):
        self._end = time.perf_counter()
        self.step_seconds.append(self._end - self._begin)

    def on_epoch_end(self, epoch, logs=None):
        self._end = None  # the validation pass is not an input gap

    def summary(self, load_seconds: float | None = None) -> dict:
        steps, gaps = float(np.sum(self.step_seconds)), float(np.sum(self.gap_seconds))
        total = steps + gaps
        out = {
            "steps": len(self.step_seconds),
            "step_seconds_total": round(steps, 4),
            "gap_seconds_total": round(gaps, 4),
            "gap_fraction": round(gaps / total, 5) if total else None,
        }
        if load_seconds is not None:
            out["batch_build_seconds_total"] = round(load_seconds, 4)
            out["batch_build_fraction_of_steps"] = round(load_seconds / total, 5) if total else None
        return out
