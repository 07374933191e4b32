"""Fold-parallel training: every LOSO fold of a small model in one compiled step (docs/fold_parallel.md).

``train_folds`` trains F folds together with the per-fold loop's semantics
(``me_resnet.training.fold.train_fold``): training-fold channel
standardisation and focal alpha, 4x augmentation if ``config.augment``, Adam
(``learning_rate``), ``batch_size``, ``epochs``, ``EarlyStopping`` per fold on
its own monitor data with best-weight restore, the last epoch when
``early_stop_on == "none"``. Every fold starts from the weights
``keras.utils.set_random_seed(config.seed)`` gives the model, as each
per-fold run does.

Batches are shared: each epoch one seeded permutation of the run's training
rows is cut into ``batch_size`` rows, and fold ``f`` trains on the rows of each
batch that belong to its own training set (``member``, B x F). Its loss, its
gradients and its batch-norm moments are masked means over those rows only
(``me_resnet.parallel.stacked_model``), so a fold's batches hold about
``batch_size * n_fit / n_rows`` of its clips. Every batch is checked against
the fold plan: a row of fold ``f``'s test subject (or, unless the test subject
is the early-stopping monitor, of its validation subjects) raises
``LeakageError``.

After every epoch each fold's held-out subject is predicted (probabilities
kept for ``keep_epochs``), so the last-epoch and best-test-epoch results come
from one run. With ``checkpoint`` the complete state is saved every
``checkpoint_every`` epochs; a rerun resumes from it and gives the same
predictions as an uninterrupted run.

The model math is ``keras.ops``; the step is compiled and differentiated by
the running backend (``me_resnet.parallel.engine_steps``: TensorFlow, PyTorch
or JAX).
"""

from __future__ import annotations

import gc
import json
import logging
import time
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from me_resnet.config import Config
from me_resnet.data.records import CLASS_NAMES, Features
from me_resnet.evaluation.folds import LeakageError
from me_resnet.parallel.engine_state import (
    EngineHistory,
    EvalSet,
    FoldData,
    FoldEarlyStopping,
    FoldSpec,
    check_fold,
    checkpoint_identity,
    epoch_batches,
    prepare_fold_data,
    save_npz_atomic,
)
from me_resnet.parallel.engine_steps import EngineSteps, make_steps
from me_resnet.parallel.stacked_model import StackedModel
from me_resnet.training.determinism import use_deterministic_ops
from me_resnet.training.fold import FoldResult, check_finite, clip_keys, default_build_fn

__all__ = ["FoldParallelOutcome", "FoldSpec", "LeakageError", "train_folds"]

log = logging.getLogger(__name__)

NUM_CLASSES = len(CLASS_NAMES)


@dataclass
class FoldParallelOutcome:
    """What ``train_folds`` produced for its F folds."""

    results: list[FoldResult]
    kept_epochs: np.ndarray  # (E,) 1-based epochs whose test probabilities are kept
    test_probabilities: np.ndarray  # (E, F, max_test, K); rows past a fold's n_test are padding
    test_loss: np.ndarray  # (epochs_run, F)
    weights: dict[str, np.ndarray] = field(repr=False, default_factory=dict)  # final stacked weights by path


@dataclass
class _Run:
    """One ``train_folds`` call: its folds, data, compiled steps, evaluation sets and what it has recorded."""

    features: Features
    specs: list[FoldSpec]
    config: Config
    data: FoldData
    steps: EngineSteps
    tests: EvalSet
    monitor: EvalSet | None
    targets: np.ndarray
    keep: set | None
    rng: np.random.Generator
    stopper: FoldEarlyStopping
    active: np.ndarray
    history: EngineHistory
    started: float

    @property
    def folds(self) -> int:
        return len(self.specs)


def _check_folds(specs: list[FoldSpec], config: Config, checkpoint_every: int) -> None:
    if not specs:
        raise ValueError("train_folds needs at least one fold")
    if int(checkpoint_every) < 1:
        raise ValueError(f"checkpoint_every must be >= 1, got {checkpoint_every!r}")
    if config.precision != "float32":
        raise ValueError(f"the fold-parallel engine trains in float32 only, got precision={config.precision!r}")
    for spec in specs:
        if (spec.monitor_index is None) != (config.early_stop_on == "none"):
            raise ValueError(f"fold {spec.group}: early_stop_on={config.early_stop_on!r} but monitor rows do not match")


def _compiled_steps(data: FoldData, config: Config, folds: int, build_fn, model_name: str, fused_adam: bool):
    """The stacked model's compiled steps, every fold starting from the weights the per-fold loop's seed gives."""
    import keras

    previous_policy = keras.config.dtype_policy()
    keras.config.set_dtype_policy("float32")
    try:
        keras.utils.set_random_seed(config.seed)  # the per-fold loop's initial weights, for every fold
        use_deterministic_ops(config.deterministic)
        model = (build_fn or default_build_fn)(model_name, tuple(data.X.shape[1:]), NUM_CLASSES, config)
        return make_steps(StackedModel(model, folds), data, config, fused_adam)
    finally:
        keras.config.set_dtype_policy(previous_policy)


def _train_epoch(run: _Run, epoch: int) -> None:
    """One pass over the shared batches; every batch checked against the fold plan first."""
    data, folds = run.data, run.folds
    sums, counts = np.zeros(folds), np.zeros(folds)
    for rows in epoch_batches(run.rng, len(data.X), run.config.batch_size):
        member = data.member[rows] & run.active
        leaked = (member & data.forbidden[rows]).any(axis=0)
        if leaked.any():
            names = [run.specs[f].group for f in np.flatnonzero(leaked)]
            raise LeakageError(f"epoch {epoch + 1}: a batch puts test/monitor rows into the training of {names}")
        weight = member.sum(0)
        update = (weight > 0).astype(np.float32)
        losses = run.steps.train_step(data.X[rows], run.targets[rows], member.astype(np.float32), update)
        sums += losses * weight
        counts += weight
    run.history.train_loss.append(np.where(counts > 0, sums / np.maximum(counts, 1), np.nan))


def _evaluate_epoch(run: _Run, epoch: int) -> None:
    """Predict every fold's test subject; keep what ``keep_epochs`` asks for; per-fold early stopping."""
    history, config, steps = run.history, run.config, run.steps
    probabilities, losses = steps.evaluate(run.tests.X, run.tests.targets, run.tests.mask)
    history.test_loss.append(losses)
    if run.keep is None or epoch + 1 in run.keep or epoch + 1 == config.epochs:
        history.kept.append(np.swapaxes(probabilities, 0, 1))  # (F, Q, K)
        history.kept_epochs.append(epoch + 1)
    if config.early_stop_on == "none":
        return
    monitor = run.monitor
    current = history.test_loss[-1] if monitor is None else steps.evaluate(monitor.X, monitor.targets, monitor.mask)[1]
    history.monitor_loss.append(current)
    snapshot, stop = run.stopper.update(epoch, current, run.active)
    if snapshot.any():
        steps.snapshot(snapshot.astype(np.float32))
    if (epoch + 1 not in history.kept_epochs) and snapshot.any():  # the best epoch's predictions are needed
        history.kept.append(np.swapaxes(probabilities, 0, 1))
        history.kept_epochs.append(epoch + 1)
    run.active &= ~stop


def _save_checkpoint(run: _Run, path: Path, identity: str, epoch: int) -> None:
    state = run.steps.state() | run.stopper.state()
    state |= {
        "identity": np.array(identity),
        "epoch": np.array(epoch + 1),
        "active": run.active,
        "rng": np.array(json.dumps(run.rng.bit_generator.state)),
    }
    save_npz_atomic(path, state | run.history.arrays(run.folds, run.tests.rows.shape[1:]))


def _start(run: _Run, checkpoint: Path | None, identity: str) -> int:
    """The epoch to start from: 0, or the checkpoint's when it exists and was made for these folds and data."""
    if checkpoint is None or not checkpoint.exists():
        return 0
    with np.load(checkpoint, allow_pickle=False) as arrays:
        if str(arrays["identity"]) != identity:
            log.warning("ignoring checkpoint %s: made for other folds, config or data", checkpoint)
            return 0
        run.steps.load(arrays)
        run.stopper.load(arrays)
        run.rng.bit_generator.state = json.loads(str(arrays["rng"]))
        run.history.load(arrays)
        run.active = arrays["active"].copy()
        epoch = int(arrays["epoch"])
    log.info("fold-parallel: resumed %s at epoch %d", checkpoint, epoch)
    return epoch


def _prepare(
    features: Features, specs: list[FoldSpec], config: Config, data: FoldData, steps: EngineSteps, keep_epochs
) -> _Run:
    monitor = None
    if config.early_stop_on == "val":
        monitor = EvalSet(features, [spec.monitor_index for spec in specs], data)
    return _Run(
        features=features,
        specs=specs,
        config=config,
        data=data,
        steps=steps,
        tests=EvalSet(features, [spec.test_index for spec in specs], data),
        monitor=monitor,
        targets=np.eye(NUM_CLASSES, dtype=np.float32)[data.y],
        keep=None if keep_epochs is None else {int(epoch) for epoch in keep_epochs},
        rng=np.random.default_rng(config.seed),
        stopper=FoldEarlyStopping(len(specs), config.patience),
        active=np.ones(len(specs), bool),
        history=EngineHistory(),
        started=time.perf_counter(),
    )


def train_folds(
    features: Features,
    specs: list[FoldSpec],
    config: Config,
    *,
    build_fn=None,
    model_name: str | None = None,
    checkpoint: str | Path | None = None,
    checkpoint_every: int = 50,
    keep_epochs=None,
    progress: bool = True,
    on_epoch_end=None,
    data: FoldData | None = None,
    fused_adam: bool = True,
) -> FoldParallelOutcome:
    """Train the folds ``specs`` of ``features`` together; one ``FoldResult`` per fold, in ``specs`` order.

    ``checkpoint``: a ``.npz`` path for the full training state, written every
    ``checkpoint_every`` epochs (and resumed from when it exists and matches).
    ``keep_epochs``: 1-based epochs whose test probabilities are kept (None:
    all). ``on_epoch_end(epoch, logs)`` is called after each epoch (1-based)
    with the per-fold losses. ``data`` replaces ``prepare_fold_data``'s arrays
    (tests use it to inject a leak). ``fused_adam=False``: Adam as separate
    TensorFlow ops instead of one XLA-fused update (same math; benchmarks compare them).
    """
    from tqdm.auto import tqdm

    _check_folds(specs, config, checkpoint_every)
    check_finite(features, "fold-parallel input")
    started = time.perf_counter()
    data = data if data is not None else prepare_fold_data(features, specs, config)
    for f, spec in enumerate(specs):
        check_fold(f, spec, data.member[:, f], data.forbidden[:, f])
    steps = _compiled_steps(data, config, len(specs), build_fn, model_name or config.model, fused_adam)
    run = _prepare(features, specs, config, data, steps, keep_epochs)
    run.started = started
    identity = checkpoint_identity(specs, config, data)
    checkpoint = None if checkpoint is None else Path(checkpoint)
    start_epoch = _start(run, checkpoint, identity)
    bar = tqdm(total=config.epochs, initial=start_epoch, disable=not progress, unit="epoch", desc=f"{run.folds} folds")
    for epoch in range(start_epoch, config.epochs):
        if not run.active.any():
            break
        _train_epoch(run, epoch)
        _evaluate_epoch(run, epoch)
        bar.update()
        bar.set_postfix(loss=f"{np.nanmean(run.history.train_loss[-1]):.4f}", active=int(run.active.sum()))
        if on_epoch_end is not None:
            on_epoch_end(epoch + 1, {"loss": run.history.train_loss[-1], "test_loss": run.history.test_loss[-1]})
        if checkpoint is not None and ((epoch + 1) % int(checkpoint_every) == 0 or not run.active.any()):
            _save_checkpoint(run, checkpoint, identity, epoch)
    bar.close()
    outcome = _outcome(run)
    # the compiled steps and their variables sit in reference cycles (tf.function <-> bound method): free
    # them now, or the next pass of a run allocates its state next to this one's
    del run, steps
    gc.collect()
    return outcome


def _outcome(run: _Run) -> FoldParallelOutcome:
    """Per-fold ``FoldResult``s: the last epoch, or the best monitored epoch's weights and predictions."""
    features, config, data, stopper, history = run.features, run.config, run.data, run.stopper, run.history
    folds, epochs_run = run.folds, len(history.test_loss)
    kept = np.array(history.kept).reshape((len(history.kept), folds) + run.tests.rows.shape[1:] + (NUM_CLASSES,))
    position = {epoch: index for index, epoch in enumerate(history.kept_epochs)}
    early_stopping = config.early_stop_on != "none"
    weights = run.steps.arrays(best=early_stopping)
    wall = (time.perf_counter() - run.started) / folds
    results = []
    for f, spec in enumerate(run.specs):
        best_epoch = int(stopper.best_epoch[f]) + 1 if early_stopping else None
        trained = int(stopper.stopped_epoch[f]) + 1 if early_stopping and stopper.stopped_epoch[f] > 0 else epochs_run
        chosen = best_epoch if early_stopping else epochs_run
        keys = clip_keys(features.subset(spec.fit_index))
        history_f = {"loss": [float(v) for v in np.asarray(history.train_loss)[:trained, f]]}
        history_f["test_loss"] = [float(v) for v in np.asarray(history.test_loss)[:trained, f]]
        if early_stopping:
            history_f["val_loss"] = [float(v) for v in np.asarray(history.monitor_loss)[:trained, f]]
        results.append(
            FoldResult(
                probabilities=kept[position[chosen], f, : len(spec.test_index)].astype(np.float64),
                epochs_trained=trained,
                best_epoch=best_epoch,
                fit_keys=keys,
                val_keys=() if spec.monitor_index is None else clip_keys(features.subset(spec.monitor_index)),
                stats_keys=clip_keys(features.subset(np.unique(data.source[data.member[:, f]]))),
                alpha_keys=keys if data.alpha is not None else (),
                mean=data.mean[f],
                std=data.std[f],
                alpha=None if data.alpha is None else data.alpha[f],
                missing_train_classes=tuple(
                    CLASS_NAMES[k] for k in range(NUM_CLASSES) if not np.any(features.y[spec.fit_index] == k)
                ),
                history=history_f,
                wall_seconds=wall,
            )
        )
    return FoldParallelOutcome(results, np.array(history.kept_epochs, int), kept, np.array(history.test_loss), weights)
