"""Train and evaluate one LOSO fold (paper §3; docs/method.md).

``train_fold`` receives the three parts of a fold as ``Features`` that the caller
has already separated (``me_resnet.evaluation.loso`` checks they share no subject). Every
statistic that the model sees is computed from the ``train`` part only:

- 4x mirror/flip augmentation (``me_resnet.training.augment``), training clips only;
- per-channel mean/std standardisation, computed over the augmented training
  clips and applied to validation and test (over the augmented set the mean of
  ``u`` and ``v`` is 0, so standardising commutes with the flips);
- the focal loss' per-class alpha (eq. 15), from the training labels.

Speed: the augmented clips stay in the caller's dtype (float16 features
halve their memory) and are standardised batch by batch
(``me_resnet.training.batches.StandardisedBatches``); ``config.precision`` sets the Keras
dtype policy while the model is built and trained (restored afterwards) and
``config.jit_compile`` is passed to ``model.compile``.

Early stopping (``config.early_stop_on``): ``val`` monitors a split of whole
training subjects (``validation_split``), ``test`` monitors the held-out subject
(optimistic; labelled so everywhere), ``none`` trains ``config.epochs`` epochs.
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass, field
from typing import Callable

import numpy as np

from me_resnet.config import Config
from me_resnet.data.records import CLASS_NAMES, Features
from me_resnet.models.registry import build_model
from me_resnet.training.augment import augment_4x, whole_dataset_augmentation
from me_resnet.training.batches import StandardisedBatches, as_feature_dtype, standardise
from me_resnet.training.determinism import use_deterministic_ops
from me_resnet.training.losses import FoldFocalLoss, class_alpha, focal_loss
from me_resnet.training.model_source import FRESH_MODELS, ModelRequest, ModelSource
from me_resnet.training.precision import check_finite_loss, check_precision_kernels

log = logging.getLogger(__name__)

NUM_CLASSES = len(CLASS_NAMES)

BuildFn = Callable[[str, tuple, int, Config], "object"]


@dataclass
class FoldResult:
    """What one fold produced, plus the exact clips behind every fitted statistic.

    ``*_keys`` are ``dataset/subject/clip`` ids; the runner checks them against
    the test subject (leakage guard). ``best_epoch`` is 1-based (None when
    ``early_stop_on == "none"``).
    """

    probabilities: np.ndarray  # (n_test, NUM_CLASSES)
    epochs_trained: int
    best_epoch: int | None
    fit_keys: tuple[str, ...]
    val_keys: tuple[str, ...]
    stats_keys: tuple[str, ...]
    alpha_keys: tuple[str, ...]
    mean: np.ndarray
    std: np.ndarray
    alpha: np.ndarray | None
    missing_train_classes: tuple[str, ...] = ()
    history: dict = field(default_factory=dict)
    wall_seconds: float = 0.0

    @property
    def predictions(self) -> np.ndarray:
        return np.argmax(self.probabilities, axis=1)


def clip_keys(features: Features) -> tuple[str, ...]:
    return tuple(f"{d}/{s}/{c}" for d, s, c in zip(features.datasets, features.subjects, features.clips))


def check_finite(features: Features, what: str) -> None:
    """Raise ``ValueError`` naming the clips whose features hold NaN or inf."""
    axes = tuple(range(1, features.X.ndim))
    bad = ~np.isfinite(features.X).all(axis=axes)
    if bad.any():
        names = [key for key, is_bad in zip(clip_keys(features), bad) if is_bad]
        raise ValueError(f"{what} features hold NaN/inf in {int(bad.sum())} clip(s): {names[:10]}")


def validation_split(groups: np.ndarray, fraction: float, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """Split training rows into (fit, val) by whole subjects (``GroupShuffleSplit``).

    ``round(fraction * subjects)`` subjects, at least 1, go to validation; at least
    one subject must remain for fitting.
    """
    from sklearn.model_selection import GroupShuffleSplit

    if not 0 < fraction < 1:
        raise ValueError(f"val_fraction must be in (0, 1), got {fraction}")
    unique = np.unique(groups)
    if len(unique) < 2:
        raise ValueError(f"early_stop_on='val' needs at least 2 training subjects, got {list(unique)}")
    n_val = min(max(1, int(round(fraction * len(unique)))), len(unique) - 1)
    splitter = GroupShuffleSplit(n_splits=1, test_size=n_val, random_state=seed)
    fit_index, val_index = next(splitter.split(np.zeros(len(groups)), groups=groups))
    return np.sort(fit_index), np.sort(val_index)


def channel_stats(X: np.ndarray, chunk: int = 16) -> tuple[np.ndarray, np.ndarray]:
    """Per-channel mean and std over every axis but the last (float64 sums).

    Two passes over ``chunk`` clips at a time, so the float64 temporaries are a
    chunk, not the whole augmented set (which would be 4x its float16 size).
    """
    channels = X.shape[-1]
    count = X.size // channels if X.size else 0
    if count == 0:
        raise ValueError(f"channel_stats needs at least one clip, got shape {X.shape}")
    total = np.zeros(channels)
    for start in range(0, len(X), chunk):
        total += X[start : start + chunk].reshape(-1, channels).sum(axis=0, dtype=np.float64)
    mean = total / count
    squares = np.zeros(channels)
    for start in range(0, len(X), chunk):
        squares += np.square(X[start : start + chunk].reshape(-1, channels) - mean).sum(axis=0)
    std = np.sqrt(squares / count)
    std = np.where(std > 1e-8, std, 1.0)  # a constant channel is centred, not blown up
    return mean.astype(np.float32), std.astype(np.float32)


def _loss(config: Config, alpha: np.ndarray | None):
    import keras

    if config.loss == "crossentropy":
        return keras.losses.CategoricalCrossentropy()
    checked = focal_loss(alpha, config.focal_gamma)  # validates alpha and gamma
    return FoldFocalLoss(checked.alpha, checked.gamma)


def fold_alpha(y: np.ndarray, config: Config) -> np.ndarray | None:
    """The focal loss' per-class alpha (eq. (15)) from a fold's training labels ``y``; None without one."""
    if config.loss != "focal" or config.focal_alpha == "none":
        return None
    counts = np.bincount(np.asarray(y, int), minlength=NUM_CLASSES)
    if np.any(counts == 0):  # inverse frequency of an absent class is undefined: refuse, do not guess
        absent = [CLASS_NAMES[k] for k in np.flatnonzero(counts == 0)]
        raise ValueError(
            f"training fold has no clip of class(es) {absent} (counts {counts.tolist()}): inverse-frequency focal "
            f"alpha is undefined; use focal_alpha='none' or loss='crossentropy' for such data"
        )

    return np.asarray(class_alpha(y, NUM_CLASSES), dtype=np.float32)


def default_build_fn(name: str, input_shape: tuple, num_classes: int, config: Config):
    return build_model(name, input_shape, num_classes, config)


def model_key(model_name: str, input_shape: tuple, config: Config, has_alpha: bool) -> tuple:
    """What makes two folds' models interchangeable: the model, its input, every setting and the dtype policy."""
    import keras

    return (model_name, tuple(input_shape), config, has_alpha, keras.config.dtype_policy().name)


@dataclass
class FoldInputs:
    """What a fold trains and predicts on, every statistic computed from its training clips only."""

    batches: StandardisedBatches  # the augmented training clips, standardised batch by batch
    validation_data: tuple | None  # (standardised clips, one-hot labels) of the early-stopping data
    X_test: np.ndarray  # standardised test clips
    input_shape: tuple
    mean: np.ndarray
    std: np.ndarray
    alpha: np.ndarray | None


def fold_inputs(train: Features, val: Features | None, test: Features, config: Config) -> FoldInputs:
    """Augment the training clips, compute the channel statistics and alpha from them, standardise every part."""
    import keras

    if config.augment and not whole_dataset_augmentation(config):  # whole_dataset: copied before the split
        X_fit, y_fit = augment_4x(as_feature_dtype(train.X, config.feature_dtype), train.y, train.channels)
    else:
        X_fit, y_fit = as_feature_dtype(train.X, config.feature_dtype), train.y
    mean, std = channel_stats(X_fit)  # training clips only
    alpha = fold_alpha(train.y, config)  # training labels only
    validation_data = None
    if val is not None:
        validation_data = (standardise(val.X, mean, std), keras.utils.to_categorical(val.y, NUM_CLASSES))
    return FoldInputs(
        batches=StandardisedBatches(
            X_fit,
            y_fit,
            mean,
            std,
            batch_size=config.batch_size,
            num_classes=NUM_CLASSES,
            shuffle=True,
            seed=config.seed,
        ),
        validation_data=validation_data,
        X_test=standardise(test.X, mean, std),
        input_shape=tuple(X_fit.shape[1:]),
        mean=mean,
        std=std,
        alpha=alpha,
    )


def _check_parts(train: Features, val: Features | None, test: Features, config: Config) -> None:
    if (val is None) != (config.early_stop_on == "none"):
        raise ValueError(f"early_stop_on={config.early_stop_on!r} but val is {'missing' if val is None else 'given'}")
    if len(train) == 0 or len(test) == 0:
        raise ValueError(f"train_fold needs training and test clips, got {len(train)} and {len(test)}")
    for part, what in ((train, "training"), (val, "validation"), (test, "test")):
        if part is not None:
            check_finite(part, what)


def _compiled_model(
    inputs: FoldInputs, config: Config, model_name: str, build_fn: BuildFn | None, models: ModelSource | None
):
    """The fold's model, seeded, built and compiled, from ``models`` (default: a fresh build)."""
    import keras

    builder = build_fn or default_build_fn

    def build():
        model = builder(model_name, inputs.input_shape, NUM_CLASSES, config)
        check_precision_kernels(model, config.precision)
        return model

    def compile_model(model):
        # mixed_float16: compile wraps Adam in a LossScaleOptimizer (Keras 3, auto_scale_loss=True)
        loss = _loss(config, inputs.alpha)
        model.compile(
            optimizer=keras.optimizers.Adam(learning_rate=config.learning_rate),
            loss=loss,
            jit_compile=config.jit_compile,
        )
        return loss

    # a caller's own builder is not known to build the same model from the same key: never handed a kept one
    own_builder = builder is not default_build_fn
    key = None if own_builder else model_key(model_name, inputs.input_shape, config, inputs.alpha is not None)
    request = ModelRequest(key=key, seed=config.seed, build=build, compile=compile_model, alpha=inputs.alpha)
    return (models or FRESH_MODELS).compiled_model(request)


def _fit(model, inputs: FoldInputs, config: Config, callbacks: list | None, verbose: int):
    """``model.fit`` with early stopping on the validation data when there is some: (history, stopper or None)."""
    import keras

    callbacks = list(callbacks or [])
    stopper = None
    if inputs.validation_data is not None:
        stopper = keras.callbacks.EarlyStopping(monitor="val_loss", patience=config.patience, restore_best_weights=True)
        callbacks.append(stopper)
    history = model.fit(
        inputs.batches,
        epochs=config.epochs,
        validation_data=inputs.validation_data,
        callbacks=callbacks,
        verbose=verbose,
    )
    return history.history, stopper


def train_fold(
    train: Features,
    val: Features | None,
    test: Features,
    config: Config,
    *,
    build_fn: BuildFn | None = None,
    model_name: str | None = None,
    verbose: int = 0,
    callbacks: list | None = None,
    models: ModelSource | None = None,
) -> FoldResult:
    """Fit a fresh model on ``train`` and return class probabilities for ``test``.

    ``val`` is the early-stopping data (``None`` iff ``config.early_stop_on ==
    "none"``). Adam(``learning_rate``), ``batch_size``, ``epochs``, focal loss
    (eq. 15) with alpha from the training labels or plain cross-entropy,
    ``EarlyStopping(monitor="val_loss", patience, restore_best_weights=True)``.
    The model is seeded with ``config.seed`` before it is built, so a fold is
    reproducible; ``config.deterministic`` also selects the backend's deterministic
    ops (``me_resnet.training.determinism``). ``models`` hands out the compiled
    model (``me_resnet.training.model_source``; default: built fresh); any source
    gives the same predictions. ``callbacks`` are extra Keras callbacks for ``fit``
    (e.g. benchmark timers). Training clips are augmented and stored as
    ``config.feature_dtype``; the statistics are computed from the stored values.
    """
    import keras

    _check_parts(train, val, test, config)
    started = time.perf_counter()
    missing = tuple(CLASS_NAMES[k] for k in range(NUM_CLASSES) if not np.any(train.y == k))
    if missing:
        log.warning("training fold has no clip of class(es) %s; the model cannot learn them", missing)
    inputs = fold_inputs(train, val, test, config)
    previous_policy = keras.config.dtype_policy()
    keras.config.set_dtype_policy(config.precision)
    try:
        use_deterministic_ops(config.deterministic)
        model = _compiled_model(inputs, config, model_name or config.model, build_fn, models)
        history, stopper = _fit(model, inputs, config, callbacks, verbose)
        probabilities = model.predict(inputs.X_test, batch_size=config.batch_size, verbose=0)
    finally:
        keras.config.set_dtype_policy(previous_policy)
    check_finite_loss(history.get("loss", []), config.precision)
    keys = clip_keys(train)
    return FoldResult(
        probabilities=np.asarray(probabilities, dtype=np.float64),
        epochs_trained=len(history.get("loss", [])),
        best_epoch=None if stopper is None else int(stopper.best_epoch) + 1,
        fit_keys=keys,
        val_keys=() if val is None else clip_keys(val),
        stats_keys=keys,
        alpha_keys=keys if inputs.alpha is not None else (),
        mean=inputs.mean,
        std=inputs.std,
        alpha=inputs.alpha,
        missing_train_classes=missing,
        history={name: [float(v) for v in values] for name, values in history.items()},
        wall_seconds=time.perf_counter() - started,
    )
