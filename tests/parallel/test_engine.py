"""The fold-parallel engine against the per-fold Keras loop: weights, early stopping, leakage, resume."""

import dataclasses

import keras
import numpy as np
import pytest

from me_resnet.config import DEMO
from me_resnet.data.records import Features
from me_resnet.evaluation.folds import LeakageError, loso_splits, split_fold
from me_resnet.models.baselines import build_off_apexnet, build_ststnet
from me_resnet.parallel.engine import train_folds
from me_resnet.parallel.engine_state import FoldSpec, epoch_batches, prepare_fold_data
from me_resnet.training.batches import standardise

CONFIG = dataclasses.replace(
    DEMO,
    model="ststnet",
    epochs=2,
    batch_size=8,
    learning_rate=1e-2,
    loss="crossentropy",
    augment=False,
    early_stop_on="none",
    seed=5,
)


def flow_features(subjects=4, clips=6, size=8, seed=0) -> Features:
    rng = np.random.default_rng(seed)
    n = subjects * clips
    y = np.tile(np.arange(3), n // 3 + 1)[:n]
    X = rng.normal(0.2, 1.0, size=(n, size, size, 3)).astype(np.float32)
    X[..., 2] += (y - 1)[:, None, None]
    return Features(
        X=X,
        y=y,
        subjects=np.repeat([f"s{k}" for k in range(subjects)], clips),
        datasets=np.full(n, "casme2"),
        clips=np.array([f"c{i}" for i in range(n)]),
        channels=("u", "v", "strain"),
    )


def ststnet_no_dropout(name, input_shape, num_classes, config):
    return build_ststnet(input_shape, num_classes, dropout=0.0)


def off_apexnet_small(name, input_shape, num_classes, config):
    return build_off_apexnet(input_shape, num_classes, dense_units=8, dropout=0.0)


def specs_for(features, config, folds=2) -> list[FoldSpec]:
    specs = []
    splits = loso_splits(features)
    for fold in range(folds):
        split = split_fold(features, splits, fold, config)
        monitor = {"val": split.val_index, "test": split.test_index, "none": None}[config.early_stop_on]
        specs.append(FoldSpec(split.group, split.fit_index, monitor, split.test_index))
    return specs


def keras_reference(features, specs, config, build_fn):
    """The per-fold Keras loop on the engine's batches: (weights, epochs_trained, best_epoch) of every fold."""
    data = prepare_fold_data(features, specs, config)
    return [_keras_fold(features, specs, config, build_fn, data, fold) for fold in range(len(specs))]


def _keras_fold(features, specs, config, build_fn, data, fold):
    mean, std = data.mean[fold], data.std[fold]
    keras.utils.set_random_seed(config.seed)
    model = build_fn(config.model, features.X.shape[1:], 3, config)
    if config.loss == "focal":
        loss = keras.losses.CategoricalFocalCrossentropy(alpha=list(data.alpha[fold]), gamma=config.focal_gamma)
    else:
        loss = keras.losses.CategoricalCrossentropy()
    model.compile(optimizer=keras.optimizers.Adam(config.learning_rate), loss=loss, jit_compile=False)
    stopper = None
    if config.early_stop_on != "none":
        stopper = keras.callbacks.EarlyStopping(monitor="val_loss", patience=config.patience, restore_best_weights=True)
        stopper.set_model(model)
        stopper.on_train_begin()
        monitor = specs[fold].monitor_index
        X_monitor = standardise(features.X[monitor], mean, std)
        y_monitor = keras.utils.to_categorical(features.y[monitor], 3)
    rng = np.random.default_rng(config.seed)
    epochs = 0
    for epoch in range(config.epochs):
        for rows in epoch_batches(rng, len(data.X), config.batch_size):
            own = rows[data.member[rows, fold]]
            if len(own):
                model.train_on_batch(standardise(data.X[own], mean, std), keras.utils.to_categorical(data.y[own], 3))
        epochs += 1
        if stopper is not None:
            val_loss = model.evaluate(X_monitor, y_monitor, batch_size=config.batch_size, verbose=0)
            stopper.on_epoch_end(epoch, {"val_loss": val_loss})
            if model.stop_training:
                break
    if stopper is None:
        return model.get_weights(), epochs, None
    stopper.on_train_end()
    return model.get_weights(), epochs, stopper.best_epoch + 1


def engine_weights(outcome, model, fold):
    return [outcome.weights[variable.path][fold] for variable in model.weights]


@pytest.mark.parametrize(
    "build_fn, loss, augment",
    [(ststnet_no_dropout, "crossentropy", False), (off_apexnet_small, "focal", True)],
    ids=["ststnet", "off_apexnet"],
)
@pytest.mark.slow
def test_engine_weights_equal_the_per_fold_keras_loop(build_fn, loss, augment):
    features = flow_features()
    config = dataclasses.replace(CONFIG, loss=loss, augment=augment)
    specs = specs_for(features, config)
    outcome = train_folds(features, specs, config, build_fn=build_fn, progress=False)
    model = build_fn(config.model, features.X.shape[1:], 3, config)
    for fold, (weights, epochs, _) in enumerate(keras_reference(features, specs, config, build_fn)):
        assert outcome.results[fold].epochs_trained == epochs
        for got, want in zip(engine_weights(outcome, model, fold), weights):
            np.testing.assert_allclose(got, want, rtol=2e-4, atol=2e-5)


def test_xla_fused_adam_equals_adam_as_separate_ops():
    """The default update (one XLA computation) and the plain TensorFlow ops train the same weights."""
    features = flow_features()
    config = dataclasses.replace(CONFIG, loss="focal", augment=True)
    specs = specs_for(features, config)
    fused, separate = (
        train_folds(features, specs, config, build_fn=off_apexnet_small, progress=False, fused_adam=fused)
        for fused in (True, False)
    )
    for path, weights in separate.weights.items():
        np.testing.assert_allclose(fused.weights[path], weights, rtol=1e-5, atol=1e-6, err_msg=path)
    np.testing.assert_allclose(fused.test_probabilities, separate.test_probabilities, atol=1e-5)


@pytest.mark.slow
def test_early_stopping_restores_each_folds_best_weights():
    features = flow_features(subjects=6, clips=5)
    config = dataclasses.replace(
        CONFIG, early_stop_on="val", val_fraction=0.3, patience=1, epochs=6, learning_rate=0.02
    )
    specs = specs_for(features, config)
    outcome = train_folds(features, specs, config, build_fn=ststnet_no_dropout, progress=False)
    model = ststnet_no_dropout("ststnet", features.X.shape[1:], 3, config)
    reference = keras_reference(features, specs, config, ststnet_no_dropout)
    for fold, (result, (weights, epochs, best_epoch)) in enumerate(zip(outcome.results, reference)):
        assert (result.epochs_trained, result.best_epoch) == (epochs, best_epoch)
        assert result.best_epoch == int(np.argmin(result.history["val_loss"])) + 1
        for got, want in zip(engine_weights(outcome, model, fold), weights):
            np.testing.assert_allclose(got, want, rtol=1e-3, atol=1e-4)  # more Adam steps: more rounding drift
        at_best = list(outcome.kept_epochs).index(result.best_epoch)
        np.testing.assert_array_equal(
            result.probabilities, outcome.test_probabilities[at_best, fold, : len(specs[fold].test_index)]
        )


def test_leakage_check_fires_when_a_test_clip_is_injected():
    features = flow_features()
    specs = specs_for(features, CONFIG)
    data = prepare_fold_data(features, specs, CONFIG)
    test_rows = np.flatnonzero(np.isin(data.source, specs[0].test_index))  # training rows of the other folds
    assert len(test_rows)
    data.member[test_rows[0], 0] = True
    with pytest.raises(LeakageError, match=specs[0].group):
        train_folds(features, specs, CONFIG, build_fn=ststnet_no_dropout, progress=False, data=data)


def test_a_pass_leaves_no_compiled_state_behind():
    """Each pass's variables sit in reference cycles; freed at return, the next pass does not stack on them."""
    import gc

    from me_resnet.parallel.engine_steps import EngineSteps

    features = flow_features()
    enabled = gc.isenabled()
    gc.collect()
    gc.disable()  # only train_folds' own collection may free the cycles
    try:
        train_folds(features, specs_for(features, CONFIG), dataclasses.replace(CONFIG, epochs=1), progress=False)
        alive = [thing for thing in gc.get_objects() if isinstance(thing, EngineSteps)]
    finally:
        if enabled:
            gc.enable()
    assert not alive


class Killed(Exception):
    pass


def test_resume_from_checkpoint_after_a_kill_gives_identical_predictions(tmp_path):
    features = flow_features()
    config = dataclasses.replace(CONFIG, epochs=4)
    specs = specs_for(features, config)
    build = lambda *args: build_ststnet(args[1], args[2])  # noqa: E731  (dropout 0.5: the seed state must resume)
    whole = train_folds(features, specs, config, build_fn=build, progress=False)

    def kill(epoch, logs):
        if epoch == 3:
            raise Killed

    checkpoint = tmp_path / "state.npz"
    with pytest.raises(Killed):
        train_folds(
            features,
            specs,
            config,
            build_fn=build,
            progress=False,
            checkpoint=checkpoint,
            checkpoint_every=2,
            on_epoch_end=kill,
        )
    seen = []
    resumed = train_folds(
        features,
        specs,
        config,
        build_fn=build,
        progress=False,
        checkpoint=checkpoint,
        on_epoch_end=lambda e, _: seen.append(e),
    )
    assert seen == [3, 4]  # restarted after the last checkpoint (epoch 2), not from zero
    for a, b in zip(whole.results, resumed.results):
        np.testing.assert_array_equal(a.probabilities, b.probabilities)
        assert a.history["loss"] == b.history["loss"]


OTHER_BACKEND_PROGRAM = """
import sys
import keras
import pytest
assert keras.backend.backend() == BACKEND, keras.backend.backend()
from me_resnet.parallel.engine_choice import choose_engine
from tests.parallel.test_engine import CONFIG
assert choose_engine("ststnet", CONFIG) == {"torch": "per-fold", "jax": "fold-parallel"}[BACKEND]
assert choose_engine("ststnet", CONFIG, engine="fold-parallel") == "fold-parallel"
sys.exit(pytest.main(["-q", "-p", "no:cacheprovider", *TESTS]))
"""


@pytest.mark.parametrize("backend", ["torch", "jax"])
@pytest.mark.slow
def test_engine_equals_the_per_fold_loop_on_other_backends(backend):
    """This module's equivalence, early-stopping, resume, clean-up and fold-file tests, run by pytest on another
    backend."""
    import importlib.util
    import os
    import subprocess
    import sys

    from me_resnet.utils.paths import REPO_ROOT

    if importlib.util.find_spec(backend) is None:
        pytest.skip(f"{backend} not installed")
    names = [
        "test_engine_weights_equal_the_per_fold_keras_loop",
        "test_early_stopping_restores_each_folds_best_weights",
        "test_resume_from_checkpoint_after_a_kill_gives_identical_predictions",
        "test_a_pass_leaves_no_compiled_state_behind",
        "test_run_loso_writes_ordinary_fold_files_that_say_which_engine_ran",
    ]
    tests = [f"tests/parallel/test_engine.py::{name}" for name in names]
    program = f"BACKEND = {backend!r}\nTESTS = {tests!r}\n" + OTHER_BACKEND_PROGRAM
    environment = dict(os.environ, KERAS_BACKEND=backend, CUDA_VISIBLE_DEVICES="")
    result = subprocess.run(
        [sys.executable, "-c", program], cwd=REPO_ROOT, env=environment, capture_output=True, text=True, timeout=900
    )
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    assert "6 passed" in result.stdout, result.stdout[-3000:]


def test_run_loso_writes_ordinary_fold_files_that_say_which_engine_ran(tmp_path):
    import json

    from me_resnet.evaluation.loso import run_loso
    from me_resnet.parallel.engine_executor import FoldParallelExecutor

    features = flow_features(subjects=3, clips=6)
    config = dataclasses.replace(CONFIG, epochs=2)
    executor = FoldParallelExecutor(engine="fold-parallel", max_folds=2)  # two passes: folds 0-1, then 2
    first = run_loso(
        features, "ststnet", config, run_dir=tmp_path, build_fn=ststnet_no_dropout, executor=executor, progress=False
    )
    sidecars = sorted(tmp_path.glob("fold_*.json"))
    assert len(sidecars) == 3
    infos = [json.loads(path.read_text()) for path in sidecars]
    assert {info["engine"] for info in infos} == {"fold-parallel"}
    assert [info["folds_trained_together"] for info in infos] == [2, 2, 1]
    manifest = json.loads((tmp_path / "manifest.json").read_text())
    assert {fold["engine"] for fold in manifest["folds"].values()} == {"fold-parallel"}
    assert sorted(path.name for path in tmp_path.glob("fold_parallel_*")) == [
        "fold_parallel_epochs_000.npz",
        "fold_parallel_epochs_002.npz",
    ]  # checkpoints are removed once the fold files are written
    with np.load(tmp_path / "fold_parallel_epochs_000.npz") as epochs:
        assert epochs["test_probabilities"].shape[:2] == (2, 2)  # every epoch kept, two folds
    again = run_loso(
        features, "ststnet", config, run_dir=tmp_path, build_fn=ststnet_no_dropout, executor=executor, progress=False
    )
    np.testing.assert_array_equal(first[["prob_negative", "prob_positive"]], again[["prob_negative", "prob_positive"]])
